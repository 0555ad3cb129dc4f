//! Building the relay for an [`IoConfig`]: which pipes or pty the child gets, which sinks dock
//! writes, and how lines are framed on each (see the table in the module above).
//!
//! Registers nothing: the handler registers what this returns.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use super::relay::{Pump, Sink, PIPE_SIZE};
use super::stamp::Stream;
use super::{net, pty, ship, IoConfig, IoError, IoTarget, Relay};
use crate::rotate::FileSink;
use crate::sys::out::OutFd;
use crate::sys::spawn::ChildStdio;

/// The relay and the child's fds for `cfg` (`file`: the sink of a relayed `--io` file).
pub(super) fn relay(
    cfg: &IoConfig,
    file: Option<FileSink>,
) -> Result<(Relay, ChildStdio), IoError> {
    match (&cfg.target, file) {
        (_, Some(sink)) => pipes(cfg, Sink::File(sink), None),
        (None, None) if !cfg.framed() => Ok((Relay::Inherit, ChildStdio::default())),
        (None, None) => own_stdio(cfg),
        (Some(IoTarget::File(path)), None) => {
            // Nothing to frame or rotate: the child appends to the file itself, at the speed of
            // its own writes (a relay copies every byte twice).
            let out = open_for_child(path, cfg.mode)?;
            let err = out.try_clone().map_err(IoError::Setup)?;
            let child = ChildStdio {
                stdout: Some(out.into()),
                stderr: Some(err.into()),
                ..ChildStdio::default()
            };
            Ok((Relay::Inherit, child))
        }
        (Some(target), None) if cfg.no_pty => {
            let shipper = shipper(cfg, target)?;
            let null = File::open("/dev/null").map_err(IoError::Setup)?;
            pipes(cfg, Sink::Ship(Box::new(shipper)), Some(null.into()))
        }
        (Some(target), None) => connect(cfg, target),
    }
}

/// The child's stdout and stderr into one sink: one pipe, both streams merged in the order the child
/// wrote them; two with json (each object names its stream), each line whole.
fn pipes(
    cfg: &IoConfig,
    sink: Sink,
    stdin: Option<OwnedFd>,
) -> Result<(Relay, ChildStdio), IoError> {
    let file = matches!(sink, Sink::File(_));
    let pump =
        |name, fd, stream| Pump::new(name, fd, cfg.frame(stream), 0, file).map_err(IoError::Setup);
    let (pumps, stdout, stderr) = if cfg.json {
        let (r1, w1) = output_pipe().map_err(IoError::Setup)?;
        let (r2, w2) = output_pipe().map_err(IoError::Setup)?;
        let pumps = vec![
            pump("stdout", r1, Stream::Stdout)?,
            pump("stderr", r2, Stream::Stderr)?,
        ];
        (pumps, w1, w2)
    } else {
        let (r, w) = output_pipe().map_err(IoError::Setup)?;
        let w2 = w.try_clone().map_err(IoError::Setup)?;
        (vec![pump("output", r, Stream::Stdout)?], w, w2)
    };
    let child = ChildStdio {
        stdin,
        stdout: Some(stdout),
        stderr: Some(stderr),
        session: false,
        extra: Vec::new(),
    };
    Ok((
        Relay::Pumps {
            pumps,
            sinks: vec![sink],
        },
        child,
    ))
}

/// Two pipes to dock's own stdout and stderr, for framed output without `--io`.
fn own_stdio(cfg: &IoConfig) -> Result<(Relay, ChildStdio), IoError> {
    let (r1, w1) = output_pipe().map_err(IoError::Setup)?;
    let (r2, w2) = output_pipe().map_err(IoError::Setup)?;
    let out = OutFd::new(io::stdout().as_fd()).map_err(IoError::Setup)?;
    let err = OutFd::new(io::stderr().as_fd()).map_err(IoError::Setup)?;
    let pumps = [
        Pump::new("stdout", r1, cfg.frame(Stream::Stdout), 0, false),
        Pump::new("stderr", r2, cfg.frame(Stream::Stderr), 1, false),
    ];
    let pumps = pumps
        .into_iter()
        .collect::<io::Result<_>>()
        .map_err(IoError::Setup)?;
    let child = ChildStdio {
        stdout: Some(w1),
        stderr: Some(w2),
        ..ChildStdio::default()
    };
    let sinks = vec![Sink::Out(out), Sink::Out(err)];
    Ok((Relay::Pumps { pumps, sinks }, child))
}

/// The TLS client configuration for a `tls://` target (and the `--insecure` warning).
#[cfg(feature = "tls")]
fn tls_config(
    cfg: &IoConfig,
    target: &IoTarget,
) -> Result<Option<std::sync::Arc<rustls::ClientConfig>>, IoError> {
    match target {
        IoTarget::Net { tls: true, .. } => {
            let c = crate::tls::client_config(cfg.tls.ca_file.as_deref(), cfg.tls.insecure)?;
            if cfg.tls.insecure {
                crate::warn!(
                    "--insecure: the certificate of {} is not verified",
                    net::target_url(target)
                );
            }
            Ok(Some(c))
        }
        _ => Ok(None),
    }
}

/// The `--no-pty` sink: connected on the loop, later.
fn shipper(cfg: &IoConfig, target: &IoTarget) -> Result<ship::Shipper, IoError> {
    #[cfg(feature = "tls")]
    let tls = match (tls_config(cfg, target)?, target) {
        (Some(config), IoTarget::Net { host, .. }) => {
            let name = crate::tls::server_name(host).map_err(|e| IoError::Connect {
                url: net::target_url(target),
                source: io::Error::new(io::ErrorKind::InvalidInput, e),
            })?;
            Some((config, name))
        }
        _ => None,
    };
    #[cfg(not(feature = "tls"))]
    let _ = cfg;
    Ok(ship::Shipper::new(
        target.clone(),
        #[cfg(feature = "tls")]
        tls,
    ))
}

/// Connects to a network `--io` target and opens the pty the child gets.
fn connect(cfg: &IoConfig, target: &IoTarget) -> Result<(Relay, ChildStdio), IoError> {
    let url = net::target_url(target);
    #[cfg(feature = "tls")]
    let tls = tls_config(cfg, target)?;
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
        extra: Vec::new(),
    };
    let relay = pty::PtyRelay::new(master, peer, cfg.frame(Stream::Stdout));
    Ok((Relay::Pty(Box::new(relay)), child))
}

/// Opens (creating it with exactly `mode`) `path` write-only for appending, for the child to write
/// itself when nothing needs dock in between (no framing, no rotation). A symbolic link, or a file
/// with other hard links, is refused. Close-on-exec: the spawn gives the child its own copies as
/// fds 1 and 2.
///
/// # Errors
/// [`IoError::Open`].
fn open_for_child(path: &std::path::Path, mode: u32) -> Result<File, IoError> {
    let dir = crate::rotate::LogDir::open(path)?;
    Ok(dir.open_log(mode, false)?.file)
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
