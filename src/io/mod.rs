//! stdio wiring (`--io`, `--stdout-prefix`): pipes or a pty for the child, sinks (dock's own stdio, a
//! file, a TCP/TLS/Unix connection), the line prefixer and the relay with back-pressure.
//!
//! | `--io`        | prefix | child fd 0     | child fds 1, 2                      | dock relays                 |
//! |---------------|--------|----------------|-------------------------------------|-----------------------------|
//! | none          | no     | dock's         | dock's                              | nothing                     |
//! | none          | yes    | dock's         | two pipes                           | 1 → dock's 1, 2 → dock's 2  |
//! | file          | any    | dock's         | one pipe (merged, ordered as written) | pipe → file               |
//! | tcp/tls/unix  | any    | pty slave      | pty slave                           | peer ⇄ pty master           |
//!
//! Registers: the child's output pipe(s) (and dock's stdout/stderr when they can be polled), or the pty
//! master and the peer socket, as `Source::Stdio(i)`: `i` is the pump index, 0 for the pty.
//!
//! Integration contract used by `app.rs`:
//! - [`Stdio::setup`] before the spawn (may block, bounded: connect + TLS handshake, 5 s);
//! - the returned [`ChildStdio`] goes into `sys::spawn::spawn`, which closes dock's copies of the
//!   child's ends (pipe write ends, pty slave) once the child has them: EOF on a pipe (EIO on the
//!   master) only comes once every copy is closed;
//! - [`Stdio::start`] right after the spawn (registers fds);
//! - [`Stdio::on_event`] for every `Source::Stdio(i)` event; it may push [`Notice::PeerHangup`];
//! - [`Stdio::on_winch`] when dock gets SIGWINCH (true: handled by resizing the pty);
//! - [`Stdio::drained`] / [`Stdio::finish`] at exit.
//!
//! The file sink belongs to `file.rs`/`rotate.rs`: every byte for it goes through `FileSink::write`
//! unless `FileSink::needs_bytes` is false, in which case the pipe may be spliced into its file.

pub mod file;
pub mod net;
pub mod prefix;
pub mod pty;
pub mod relay;

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::cli::{Config, IoTarget};
use crate::reactor::{Notice, Reactor, Ready};
use file::FileSink;
use relay::{OutFd, Pump, Sink, CHUNK, PIPE_SIZE};

/// How long [`Stdio::finish`] waits for a slow sink (a peer, a pipe on dock's stdout) at exit.
pub const FINISH_TIMEOUT: Duration = Duration::from_secs(2);

/// Why stdio could not be set up (before the child starts: exit 2).
#[derive(Debug, Error)]
pub enum IoError {
    /// Opening the `--io` file failed.
    #[error("--io {path}: {}", os_reason(.source))]
    Open {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Connecting to the `--io` peer (or the TLS handshake) failed or timed out.
    #[error("--io {url}: {}", os_reason(.source))]
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
    #[error("stdio setup: {}", os_reason(.0))]
    Setup(#[source] io::Error),
}

/// An io::Error's text without std's " (os error N)" suffix, starting lower-case like dock's others.
fn os_reason(e: &io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s);
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// What the child gets as fds 0, 1, 2 (`None`: dock's own), and whether it runs in a new session on a pty.
pub struct ChildStdio {
    /// fd 0.
    pub stdin: Option<OwnedFd>,
    /// fd 1.
    pub stdout: Option<OwnedFd>,
    /// fd 2.
    pub stderr: Option<OwnedFd>,
    /// New session with stdin as controlling terminal (the pty case).
    pub session: bool,
}

impl ChildStdio {
    fn inherit() -> ChildStdio {
        ChildStdio {
            stdin: None,
            stdout: None,
            stderr: None,
            session: false,
        }
    }
}

enum Relay {
    /// No relay: the child has dock's stdio, or its `--io` file (no prefix, no rotation).
    Inherit,
    /// Output pipe(s) to a file or to dock's stdout/stderr; `Source::Stdio(i)` is `pumps[i]`.
    Pumps(Vec<Pump>),
    /// pty ⇄ peer; `Source::Stdio(0)`.
    Pty(Box<pty::PtyRelay>),
}

/// dock's side of the child's stdio.
pub struct Stdio {
    relay: Relay,
    /// The read buffer, shared by the pumps (the largest [`Pump::chunk`]; empty without a relay).
    scratch: Vec<u8>,
}

impl Stdio {
    /// Prepares the sinks and the child's fds for `cfg`: opens the `--io` file, or connects to the
    /// peer (at most 5 s, TLS handshake included) and opens a pty, or makes the output pipes.
    ///
    /// # Errors
    /// [`IoError`] naming the `--io` target (or `--ca-file`).
    pub fn setup(cfg: &Config) -> Result<(Stdio, ChildStdio), IoError> {
        let prefix = cfg.prefix.as_ref().map(|p| p.bytes());
        let (relay, child) = match &cfg.io {
            None if prefix.is_none() => (Relay::Inherit, ChildStdio::inherit()),
            None => {
                let (r1, w1) = output_pipe().map_err(IoError::Setup)?;
                let (r2, w2) = output_pipe().map_err(IoError::Setup)?;
                let out = OutFd::new(io::stdout().as_fd()).map_err(IoError::Setup)?;
                let err = OutFd::new(io::stderr().as_fd()).map_err(IoError::Setup)?;
                let pumps = vec![
                    Pump::new("stdout", r1, prefix.clone(), Sink::Out(out)),
                    Pump::new("stderr", r2, prefix, Sink::Out(err)),
                ];
                let pumps = pumps.into_iter().collect::<io::Result<_>>();
                let child = ChildStdio {
                    stdin: None,
                    stdout: Some(w1),
                    stderr: Some(w2),
                    session: false,
                };
                (Relay::Pumps(pumps.map_err(IoError::Setup)?), child)
            }
            Some(IoTarget::File(path)) if prefix.is_none() && cfg.rotate.is_none() => {
                // Nothing to transform or rotate: the child appends to the file itself, at the
                // speed of its own writes (a relay, even by splice, copies every byte twice).
                let open_err = |source| IoError::Open {
                    path: path.display().to_string(),
                    source,
                };
                let out = file::open_for_child(path).map_err(open_err)?;
                let err = out.try_clone().map_err(IoError::Setup)?;
                let child = ChildStdio {
                    stdin: None,
                    stdout: Some(out.into()),
                    stderr: Some(err.into()),
                    session: false,
                };
                (Relay::Inherit, child)
            }
            Some(IoTarget::File(path)) => {
                let sink = FileSink::open(path).map_err(|source| IoError::Open {
                    path: path.display().to_string(),
                    source,
                })?;
                let (r, w) = output_pipe().map_err(IoError::Setup)?;
                let w2 = w.try_clone().map_err(IoError::Setup)?;
                let pump =
                    Pump::new("output", r, prefix, Sink::File(sink)).map_err(IoError::Setup)?;
                let child = ChildStdio {
                    stdin: None,
                    stdout: Some(w),
                    stderr: Some(w2),
                    session: false,
                };
                (Relay::Pumps(vec![pump]), child)
            }
            Some(target) => {
                let url = net::target_url(target);
                #[cfg(feature = "tls")]
                let tls = match target {
                    IoTarget::Net { tls: true, .. } => {
                        let c = crate::tls::client_config(cfg.ca_file.as_deref(), cfg.insecure)?;
                        if cfg.insecure {
                            crate::warn!("--insecure: the certificate of {url} is not verified");
                        }
                        Some(c)
                    }
                    _ => None,
                };
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
                };
                let relay = pty::PtyRelay::new(master, peer, prefix);
                (Relay::Pty(Box::new(relay)), child)
            }
        };
        let scratch = match &relay {
            Relay::Inherit => Vec::new(),
            Relay::Pumps(pumps) => vec![0; pumps.iter().map(Pump::chunk).max().unwrap_or(CHUNK)],
            Relay::Pty(_) => vec![0; CHUNK],
        };
        Ok((Stdio { relay, scratch }, child))
    }

    /// After the spawn: registers the relay fds and moves what is already there.
    ///
    /// # Errors
    /// Registration failing.
    pub fn start(&mut self, r: &mut Reactor) -> io::Result<()> {
        match &mut self.relay {
            Relay::Inherit => {}
            Relay::Pumps(pumps) => {
                for (i, p) in pumps.iter_mut().enumerate() {
                    p.register(r, i)?;
                }
            }
            Relay::Pty(p) => p.register(r, 0)?,
        }
        Ok(())
    }

    /// Handles readiness of relay fd `idx`: moves bytes until each fd would block.
    pub fn on_event(&mut self, r: &mut Reactor, idx: usize, _ev: Ready, out: &mut Vec<Notice>) {
        match &mut self.relay {
            Relay::Inherit => {}
            Relay::Pumps(pumps) => {
                if let Some(p) = pumps.get_mut(idx) {
                    p.run(Some(r), &mut self.scratch);
                }
            }
            Relay::Pty(p) => p.run(Some(r), &mut self.scratch, out),
        }
    }

    /// SIGWINCH: resize the child's pty from dock's terminal. Returns true when handled that way.
    pub fn on_winch(&mut self) -> bool {
        match &mut self.relay {
            Relay::Pty(p) => p.on_winch(),
            _ => false,
        }
    }

    /// Whether no relay runs: the child has dock's stdio, or writes its `--io` file itself; no fd is
    /// registered.
    pub fn is_inherited(&self) -> bool {
        matches!(self.relay, Relay::Inherit)
    }

    /// All child output has been read to EOF and written to its sink (or the sink is gone).
    pub fn drained(&self) -> bool {
        match &self.relay {
            Relay::Inherit => true,
            Relay::Pumps(pumps) => pumps.iter().all(Pump::drained),
            Relay::Pty(p) => p.drained(),
        }
    }

    /// The `--io` file, for rotation (`None` without a file `--io`).
    pub fn file_sink(&mut self) -> Option<&mut FileSink> {
        match &mut self.relay {
            Relay::Pumps(pumps) => pumps.iter_mut().find_map(Pump::file_sink),
            _ => None,
        }
    }

    /// At exit: relays what is buffered or already in the pipes (without waiting for EOF), waiting
    /// for a slow sink at most until `deadline` ([`FINISH_TIMEOUT`] from the call, in app.rs);
    /// closes the connection (TLS `close_notify`).
    pub fn finish(&mut self, deadline: Instant) {
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
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(os_reason(&e), "no such file or directory");
        let e = IoError::Connect {
            url: "tcp://127.0.0.1:1".into(),
            source: io::Error::from_raw_os_error(libc::ECONNREFUSED),
        };
        assert_eq!(e.to_string(), "--io tcp://127.0.0.1:1: connection refused");
    }
}
