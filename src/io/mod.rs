//! stdio wiring (`--io`, `--stdout-prefix`): pipes or a pty for the child, sinks (dock's own stdio, a
//! file, a TCP/TLS/Unix connection), the line prefixer and the relay with back-pressure.
//!
//! | `--io`        | prefix | child fd 0     | child fds 1, 2                        | dock relays                |
//! |---------------|--------|----------------|---------------------------------------|----------------------------|
//! | none          | no     | dock's         | dock's                                | nothing                    |
//! | none          | yes    | dock's         | two pipes                             | 1 → dock's 1, 2 → dock's 2 |
//! | file          | no, no rotation | dock's | the file itself                       | nothing                    |
//! | file          | else   | dock's         | one pipe (merged, ordered as written) | pipe → file sink           |
//! | tcp/tls/unix  | any    | pty slave      | pty slave                             | peer ⇄ pty master          |
//!
//! The file sink is rotate's ([`crate::rotate::FileSink`]): every byte for it goes through its
//! `write` unless it does not need the bytes, in which case the pipe may be spliced into its file.
//! The spawn closes dock's copies of the child's ends (pipe write ends, pty slave) once the child has
//! them: EOF on a pipe (EIO on the master) only comes once every copy is closed.
//!
//! Registers: the child's output pipe(s) (and dock's stdout/stderr when they can be polled), or the
//! pty master and the peer socket; key `i` is pump `i`, 0 for the pty. Deadline: the file sink's
//! rotation schedule. Reads `WindowSize`; posts `HangUp`.

mod config;
pub mod net;
pub mod prefix;
pub mod pty;
pub mod relay;
// Not called yet: the option it serves is being added (its issue removes this allow).
#[allow(dead_code)]
pub mod stamp;

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Instant;

use thiserror::Error;

use crate::event::{Ctx, Event, Handler, Key};
use crate::notice::Notice;
use crate::rotate::FileSink;
use crate::sys::out::OutFd;
use crate::sys::spawn::ChildStdio;
pub use config::{Color, IoConfig, IoTarget, Prefix};
use relay::{Pump, Sink, CHUNK, PIPE_SIZE};

/// At exit, how long a sink that stopped taking output may hold dock (with an archive still being
/// written: one bound for both): a stop must not wait on them without bound.
pub const FINISH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Why stdio could not be set up (before the child starts: exit 2).
#[derive(Debug, Error)]
pub enum IoError {
    /// Opening the `--io` file failed.
    #[error("--io {path}")]
    Open {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Connecting to the `--io` peer (or the TLS handshake) failed or timed out.
    #[error("--io {url}")]
    Connect {
        /// The target, e.g. `tls://example.com:443`.
        url: String,
        /// The cause (`TimedOut` after 5 s; `InvalidData` for a TLS error).
        #[source]
        source: io::Error,
    },
    /// The TLS client configuration (`--ca-file`) is unusable.
    #[cfg(feature = "tls")]
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// Creating pipes or a pty failed.
    #[error("stdio setup")]
    Setup(#[source] io::Error),
}

enum Relay {
    /// No relay: the child has dock's stdio, or its `--io` file (no prefix, no rotation).
    Inherit,
    /// Output pipe(s) to a file or to dock's stdout/stderr; key `i` is `pumps[i]`.
    Pumps(Vec<Pump>),
    /// pty ⇄ peer; key 0.
    Pty(Box<pty::PtyRelay>),
}

/// The rotation schedule's deadline.
const ROTATE: Key = 0;

/// dock's side of the child's stdio.
pub struct Stdio {
    relay: Relay,
    /// The read buffer, shared by the pumps (the largest [`Pump::chunk`]; empty without a relay).
    scratch: Vec<u8>,
}

impl Stdio {
    /// Prepares the sinks and the child's fds for `cfg`: the file sink the relay writes to (`file`,
    /// from [`crate::rotate::open`], for a file `--io` with a prefix or rotation), or opens the
    /// `--io` file for the child itself, or connects to the peer (at most 5 s, TLS handshake
    /// included) and opens a pty, or makes the output pipes.
    ///
    /// # Errors
    /// [`IoError`] naming the `--io` target (or `--ca-file`).
    pub fn setup(cfg: &IoConfig, file: Option<FileSink>) -> Result<(Stdio, ChildStdio), IoError> {
        let prefix = cfg.prefix.as_ref().map(Prefix::bytes);
        let (relay, child) = match (&cfg.target, file) {
            (_, Some(sink)) => {
                let (r, w) = output_pipe().map_err(IoError::Setup)?;
                let w2 = w.try_clone().map_err(IoError::Setup)?;
                let pump =
                    Pump::new("output", r, prefix, Sink::File(sink)).map_err(IoError::Setup)?;
                let child = ChildStdio {
                    stdout: Some(w),
                    stderr: Some(w2),
                    ..ChildStdio::default()
                };
                (Relay::Pumps(vec![pump]), child)
            }
            (None, None) if prefix.is_none() => (Relay::Inherit, ChildStdio::default()),
            (None, None) => own_stdio(prefix)?,
            (Some(IoTarget::File(path)), None) => {
                // Nothing to transform or rotate: the child appends to the file itself, at the
                // speed of its own writes (a relay, even by splice, copies every byte twice).
                let out = open_for_child(path).map_err(|source| IoError::Open {
                    path: path.display().to_string(),
                    source,
                })?;
                let err = out.try_clone().map_err(IoError::Setup)?;
                let child = ChildStdio {
                    stdout: Some(out.into()),
                    stderr: Some(err.into()),
                    ..ChildStdio::default()
                };
                (Relay::Inherit, child)
            }
            (Some(target), None) => connect(cfg, target, prefix)?,
        };
        let scratch = match &relay {
            Relay::Inherit => Vec::new(),
            Relay::Pumps(pumps) => vec![0; pumps.iter().map(Pump::chunk).max().unwrap_or(CHUNK)],
            Relay::Pty(_) => vec![0; CHUNK],
        };
        Ok((Stdio { relay, scratch }, child))
    }

    /// All child output has been read to EOF and written to its sink (or the sink is gone).
    pub fn drained(&self) -> bool {
        match &self.relay {
            Relay::Inherit => true,
            Relay::Pumps(pumps) => pumps.iter().all(Pump::drained),
            Relay::Pty(p) => p.drained(),
        }
    }

    /// The `--io` file sink, if the relay writes one.
    fn file_sink(&mut self) -> Option<&mut FileSink> {
        match &mut self.relay {
            Relay::Pumps(pumps) => pumps.iter_mut().find_map(Pump::file_sink),
            _ => None,
        }
    }

    /// Arms the rotation deadline for the file sink's next rotation, if it rotates.
    fn arm_rotation(&mut self, cx: &mut Ctx<'_>) {
        if let Some(at) = self.file_sink().and_then(FileSink::next_due) {
            cx.arm(ROTATE, at);
        }
    }
}

impl Handler for Stdio {
    /// Registers the relay fds; they may already hold output, which the first events move.
    fn start(&mut self, cx: &mut Ctx<'_>) {
        let registered = match &mut self.relay {
            Relay::Inherit => Ok(()),
            Relay::Pumps(pumps) => pumps
                .iter_mut()
                .zip(0..)
                .try_for_each(|(p, key)| p.register(cx, key)),
            Relay::Pty(p) => p.register(cx, 0),
        };
        if let Err(e) = registered {
            crate::warn!("starting the stdio relay: {e}");
        }
        self.arm_rotation(cx);
    }

    /// Moves bytes until each fd of the relay `ev.key` would block.
    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) {
        match &mut self.relay {
            Relay::Inherit => {}
            Relay::Pumps(pumps) => {
                if let Some(p) = usize::try_from(ev.key).ok().and_then(|i| pumps.get_mut(i)) {
                    p.run(Some(cx), &mut self.scratch);
                }
            }
            Relay::Pty(p) => p.on_event(Some(cx), ev, &mut self.scratch),
        }
    }

    fn on_deadline(&mut self, cx: &mut Ctx<'_>, key: Key) {
        if key == ROTATE {
            if let Some(sink) = self.file_sink() {
                sink.on_due(Instant::now());
            }
            self.arm_rotation(cx);
        }
    }

    /// SIGWINCH: resize the child's pty from dock's terminal.
    fn on_notice(&mut self, _cx: &mut Ctx<'_>, notice: &Notice) {
        if let (Notice::WindowSize, Relay::Pty(p)) = (notice, &mut self.relay) {
            if p.on_winch() {
                crate::debug!("SIGWINCH: resized the child's pty");
            }
        }
    }

    fn flushed(&self) -> bool {
        self.drained()
    }

    /// At exit: relays what is buffered or already in the pipes (without waiting for EOF), waiting
    /// for a slow sink at most until `deadline`; closes the connection (TLS `close_notify`).
    fn finish(&mut self, deadline: Instant) {
        match &mut self.relay {
            Relay::Inherit => {}
            Relay::Pumps(pumps) => {
                for p in pumps {
                    p.finish(&mut self.scratch, deadline);
                }
            }
            Relay::Pty(p) => p.finish(&mut self.scratch, deadline),
        }
    }
}

/// Two pipes to dock's own stdout and stderr, for `--stdout-prefix` without `--io`.
fn own_stdio(prefix: Option<Vec<u8>>) -> Result<(Relay, ChildStdio), IoError> {
    let (r1, w1) = output_pipe().map_err(IoError::Setup)?;
    let (r2, w2) = output_pipe().map_err(IoError::Setup)?;
    let out = OutFd::new(io::stdout().as_fd()).map_err(IoError::Setup)?;
    let err = OutFd::new(io::stderr().as_fd()).map_err(IoError::Setup)?;
    let pumps = [
        Pump::new("stdout", r1, prefix.clone(), Sink::Out(out)),
        Pump::new("stderr", r2, prefix, Sink::Out(err)),
    ];
    let pumps = pumps.into_iter().collect::<io::Result<_>>();
    let child = ChildStdio {
        stdout: Some(w1),
        stderr: Some(w2),
        ..ChildStdio::default()
    };
    Ok((Relay::Pumps(pumps.map_err(IoError::Setup)?), child))
}

/// Connects to a network `--io` target and opens the pty the child gets.
fn connect(
    cfg: &IoConfig,
    target: &IoTarget,
    prefix: Option<Vec<u8>>,
) -> Result<(Relay, ChildStdio), IoError> {
    let url = net::target_url(target);
    #[cfg(feature = "tls")]
    let tls = match target {
        IoTarget::Net { tls: true, .. } => {
            let c = crate::tls::client_config(cfg.tls.ca_file.as_deref(), cfg.tls.insecure)?;
            if cfg.tls.insecure {
                crate::warn!("--insecure: the certificate of {url} is not verified");
            }
            Some(c)
        }
        _ => None,
    };
    #[cfg(not(feature = "tls"))]
    let _ = cfg;
    let peer = net::connect(
        target,
        #[cfg(feature = "tls")]
        tls,
    )
    .map_err(|source| IoError::Connect {
        url: url.clone(),
        source,
    })?;
    crate::debug!("--io {url}: connected");
    let (master, slave) = pty::open().map_err(IoError::Setup)?;
    let dup = |fd: &OwnedFd| fd.try_clone().map_err(IoError::Setup);
    let child = ChildStdio {
        stdin: Some(dup(&slave)?),
        stdout: Some(dup(&slave)?),
        stderr: Some(slave),
        session: true,
        ..ChildStdio::default()
    };
    let relay = pty::PtyRelay::new(master, peer, prefix);
    Ok((Relay::Pty(Box::new(relay)), child))
}

/// Opens (creating, mode 0600) `path` write-only for appending, for the child to write itself when
/// nothing needs dock in between (no prefix, no rotation). Close-on-exec: the spawn gives the child
/// its own copies as fds 1 and 2.
///
/// # Errors
/// `open(2)` failing: ENOENT for a missing directory, EACCES, EISDIR...
fn open_for_child(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

/// A pipe for the child's output: `(read end for dock, write end for the child)`, both close-on-exec
/// (the child's copy is dup2'ed onto fd 1/2, which clears the flag). The capacity is raised to
/// [`PIPE_SIZE`] when allowed (EPERM above `/proc/sys/fs/pipe-max-size` is fine: the default stays).
fn output_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let _ = fcntl(&r, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE));
    Ok((r, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_reasons_read_like_dock() {
        let e = IoError::Connect {
            url: "tcp://127.0.0.1:1".into(),
            source: io::Error::from_raw_os_error(libc::ECONNREFUSED),
        };
        assert_eq!(
            crate::log::chain(&e),
            "--io tcp://127.0.0.1:1: connection refused"
        );
    }
}
