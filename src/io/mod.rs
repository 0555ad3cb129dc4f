//! stdio wiring (`--io`, `--stdout-prefix`, `--timestamps`, `--log-format`, `--no-pty`): pipes or a
//! pty for the child, sinks (dock's own stdio, a file, a TCP/TLS/Unix connection), the line framer and
//! the relay with back-pressure.
//!
//! | `--io`        | framed¹ | child fd 0 | child fds 1, 2                          | dock relays               |
//! |---------------|---------|------------|-----------------------------------------|---------------------------|
//! | none          | no      | dock's     | dock's                                  | nothing                   |
//! | none          | yes     | dock's     | two pipes                               | 1 → dock's 1, 2 → dock's 2 |
//! | file          | no, no rotation | dock's | the file itself                       | nothing                   |
//! | file          | else    | dock's     | one pipe (merged, ordered as written); two with json | pipe(s) → file sink |
//! | tcp/tls/unix  | any     | pty slave  | pty slave                               | peer ⇄ pty master         |
//! | … `--no-pty`  | any     | /dev/null  | one pipe (merged); two with json        | pipe(s) → shipper → peer  |
//!
//! ¹ `--stdout-prefix`, `--timestamps` or `--log-format json`.
//!
//! The file sink is rotate's ([`crate::rotate::FileSink`]): every byte for it goes through its
//! `write`. The spawn closes dock's copies of the child's ends (pipe write ends, pty slave) once the
//! child has them: EOF on a pipe (EIO on the master) only comes once every copy is closed.
//!
//! Registers: the child's output pipe(s) (and dock's stdout/stderr when they can be polled), or the
//! pty master and the peer socket; key `i` is pump `i`, 0 for the pty; the shipper's socket and
//! resolver pipe (keys [`ship::SOCK`], [`ship::RESOLVE`]). Deadlines: the file sink's rotation
//! schedule, the next slice of a flood's work ([`CONTINUE`]), the shipper's retry and attempt
//! timeout. Reads `WindowSize`; posts `HangUp`.

pub mod backlog;
mod config;
pub mod frame;
pub mod link;
pub mod net;
pub mod pty;
pub mod relay;
mod setup;
pub mod ship;
pub mod stamp;

use std::io;
use std::time::Instant;

use thiserror::Error;

use crate::event::{Ctx, Event, Handler, Key};
use crate::notice::Notice;
pub use config::{Color, IoConfig, IoTarget, Prefix};
use relay::{Blocked, Pump, Sink};

/// At exit, how long a sink that stopped taking output may hold dock (with an archive still being
/// written: one bound for both): a stop must not wait on them without bound.
pub const FINISH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Why stdio could not be set up (before the child starts: exit 2).
#[derive(Debug, Error)]
pub enum IoError {
    /// Opening the `--io` file failed or was refused (a symbolic link).
    #[error(transparent)]
    Open(#[from] crate::rotate::OpenError),
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
    /// No relay: the child has dock's stdio, or its `--io` file (nothing framed, no rotation).
    Inherit,
    /// Output pipe(s), each relayed by a pump (key `i` is `pumps[i]`) to one of the sinks (two pumps
    /// may share one: the file or the shipper with json).
    Pumps { pumps: Vec<Pump>, sinks: Vec<Sink> },
    /// pty ⇄ peer; key 0.
    Pty(Box<pty::PtyRelay>),
}

/// The rotation schedule's deadline.
const ROTATE: Key = 0;
/// The next slice of work of a relay that stopped at its budget (a zero deadline: the next turn,
/// after the signals that came meanwhile).
const CONTINUE: Key = 1;

/// dock's side of the child's stdio.
pub struct Stdio {
    relay: Relay,
    /// The pty relay's read buffer (empty otherwise).
    scratch: Vec<u8>,
}

impl Stdio {
    /// Prepares the sinks and the child's fds for `cfg`: the file sink the relay writes to (`file`,
    /// from [`crate::rotate::open`], for a file `--io` with framing or rotation), or opens the
    /// `--io` file for the child itself, or connects to the peer (at most 5 s, TLS handshake
    /// included) and opens a pty, or prepares the shipper (`--no-pty`: connected later, on the
    /// loop), or makes the output pipes.
    ///
    /// # Errors
    /// [`IoError`] naming the `--io` target (or `--ca-file`).
    pub fn setup(
        cfg: &IoConfig,
        file: Option<crate::rotate::FileSink>,
    ) -> Result<(Stdio, crate::sys::spawn::ChildStdio), IoError> {
        let (relay, child) = setup::relay(cfg, file)?;
        let scratch = match &relay {
            Relay::Pty(_) => vec![0; relay::CHUNK],
            _ => Vec::new(),
        };
        Ok((Stdio { relay, scratch }, child))
    }

    /// All child output has been read to EOF and written to its sink (or the sink is gone).
    pub fn drained(&self) -> bool {
        match &self.relay {
            Relay::Inherit => true,
            Relay::Pumps { pumps, sinks } => {
                pumps.iter().all(Pump::drained)
                    && sinks.iter().all(|s| match s {
                        Sink::Ship(s) => s.flushed(),
                        _ => true,
                    })
            }
            Relay::Pty(p) => p.drained(),
        }
    }

    /// The `--io` file sink, if the relay writes one.
    fn file_sink(&mut self) -> Option<&mut crate::rotate::FileSink> {
        match &mut self.relay {
            Relay::Pumps { sinks, .. } => sinks.iter_mut().find_map(|s| match s {
                Sink::File(f) => Some(f),
                _ => None,
            }),
            _ => None,
        }
    }

    /// Arms the rotation deadline for the file sink's next rotation, if it rotates on a period.
    fn arm_rotation(&mut self, cx: &mut Ctx<'_>) {
        if let Some(at) = self.file_sink().and_then(|f| f.next_due()) {
            cx.arm(ROTATE, at);
        }
    }

    /// Runs pump `i` (all of them for `None`); arms [`CONTINUE`] when one stopped at its budget.
    fn run_pumps(&mut self, cx: &mut Ctx<'_>, only: Option<usize>) {
        let Relay::Pumps { pumps, sinks } = &mut self.relay else {
            return;
        };
        let mut more = false;
        for (i, p) in pumps.iter_mut().enumerate() {
            if only.is_some_and(|o| o != i) {
                continue;
            }
            let Some(sink) = sinks.get_mut(p.sink()) else {
                continue;
            };
            let blocked = p.run(Some(cx), sink);
            more |= blocked == Blocked::Budget;
            if let Sink::Ship(s) = sink {
                s.send(Some(cx));
                // Sent without filling the socket: no writable event will come; come back.
                more |= blocked == Blocked::Sink && s.accepts();
            }
        }
        if more {
            cx.arm(CONTINUE, Instant::now());
        }
    }

    /// The shipper, if the relay has one.
    fn shipper(&mut self) -> Option<&mut ship::Shipper> {
        match &mut self.relay {
            Relay::Pumps { sinks, .. } => sinks.iter_mut().find_map(|s| match s {
                Sink::Ship(s) => Some(&mut **s),
                _ => None,
            }),
            _ => None,
        }
    }
}

impl Handler for Stdio {
    /// Registers the relay fds; they may already hold output, which the first events move.
    fn start(&mut self, cx: &mut Ctx<'_>) {
        let registered = match &mut self.relay {
            Relay::Inherit => Ok(()),
            Relay::Pumps { pumps, sinks } => {
                pumps
                    .iter_mut()
                    .zip(0..)
                    .try_for_each(|(p, key)| match sinks.get_mut(p.sink()) {
                        Some(sink) => p.register(cx, key, sink),
                        None => Ok(()),
                    })
            }
            Relay::Pty(p) => p.register(cx, 0),
        };
        if let Err(e) = registered {
            crate::warn!("starting the stdio relay: {e}");
        }
        if let Some(s) = self.shipper() {
            s.start(cx);
        }
        self.arm_rotation(cx);
    }

    /// Moves bytes until each fd of the relay `ev.key` would block or its budget is spent.
    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) {
        if ev.key >= ship::SOCK {
            if let Some(s) = self.shipper() {
                s.on_event(cx, ev);
            }
            // The peer may take output again: the pumps blocked on it go on.
            return self.run_pumps(cx, None);
        }
        match &mut self.relay {
            Relay::Inherit => {}
            Relay::Pumps { .. } => self.run_pumps(cx, usize::try_from(ev.key).ok()),
            Relay::Pty(p) => {
                if p.on_event(Some(cx), ev, &mut self.scratch) {
                    cx.arm(CONTINUE, Instant::now());
                }
            }
        }
    }

    fn on_deadline(&mut self, cx: &mut Ctx<'_>, key: Key) {
        match key {
            ROTATE => {
                if let Some(sink) = self.file_sink() {
                    sink.on_due(Instant::now());
                }
                self.arm_rotation(cx);
            }
            CONTINUE => match &mut self.relay {
                Relay::Pty(p) => {
                    if p.run(Some(cx), &mut self.scratch) {
                        cx.arm(CONTINUE, Instant::now());
                    }
                }
                _ => self.run_pumps(cx, None),
            },
            _ => {
                if let Some(s) = self.shipper() {
                    s.on_deadline(cx, key);
                }
                self.run_pumps(cx, None);
            }
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
    /// for a slow sink at most until `deadline`; reports output lost to failed writes; closes the
    /// connection (TLS `close_notify`).
    fn finish(&mut self, deadline: Instant) {
        match &mut self.relay {
            Relay::Inherit => {}
            Relay::Pumps { pumps, sinks } => {
                for p in pumps.iter_mut() {
                    if let Some(sink) = sinks.get_mut(p.sink()) {
                        p.finish(sink, deadline);
                    }
                }
                for s in sinks {
                    match s {
                        Sink::File(f) => f.finish(),
                        Sink::Ship(s) => s.finish(deadline),
                        Sink::Out(_) => {}
                    }
                }
            }
            Relay::Pty(p) => p.finish(&mut self.scratch, deadline),
        }
    }
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
