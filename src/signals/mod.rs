//! Signals for the child: every signal dock gets is forwarded to the main child (its process group
//! with `-g`), but SIGCHLD, which means "reap" ([`Notice::Reap`]; never forwarded, as tini and
//! catatonit), and SIGWINCH when the child has a pty ([`Notice::WindowSize`]: resizing the pty signals
//! the child's foreground group itself). `--thug` turns a stop signal the child ignores, or keeps
//! blocked, into SIGKILL ([`thug`]). `--rewrite` first turns a signal into the one the child gets
//! (or drops it), so `--thug` judges what is actually sent ([`spec::Rewrites`]); teardown's own
//! SIGTERM and SIGKILL are the supervisor's and never rewritten. After the main child exited,
//! signals are dropped: teardown already signals the rest.
//!
//! Registers nothing: it watches the loop's signals. Deadline: the `--thug` re-check. Reads
//! `Spawned`, `ChildExited`; posts `Reap`, `WindowSize`.

pub mod spec;
pub mod thug;

use std::time::Instant;

use crate::event::{Ctx, Handler, Key};
use crate::notice::{signal_name, Notice};
use crate::{debug, warn};
use spec::Rewrites;
use thug::{Thug, STOP_SIGNALS, THUG_RECHECK};

/// What forwarding needs from the command line (and from io: whether there is a pty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignalsConfig {
    /// `-g`: forward to the child's process group.
    pub process_group: bool,
    /// `--thug`.
    pub thug: bool,
    /// `--rewrite`: what each forwarded signal is sent as.
    pub rewrite: Rewrites,
    /// The child has a pty sized from dock's terminal: SIGWINCH resizes it instead of being
    /// forwarded.
    pub winch_resizes_pty: bool,
}

/// The `--thug` re-check deadline.
const THUG: Key = 0;

/// The forwarding handler.
pub struct Forwarder {
    cfg: SignalsConfig,
    /// The main child, while it runs.
    pid: Option<i32>,
    /// `--thug`: the stop signals forwarded while the child blocked them (bit S-1 for signal S), and
    /// when to look again whether one is still blocked and pending ([`Thug::Recheck`]). Set by the
    /// first such signal; later ones join it without moving the deadline.
    thug_recheck: Option<(u64, Instant)>,
}

impl Forwarder {
    /// A forwarder for `cfg`; it learns the child's pid from [`Notice::Spawned`].
    pub fn new(cfg: SignalsConfig) -> Forwarder {
        Forwarder {
            cfg,
            pid: None,
            thug_recheck: None,
        }
    }

    /// Forwards `sig` to the main child. Under `--thug`, a stop signal the child ignores becomes
    /// SIGKILL; one it blocks is forwarded and looked at again after [`THUG_RECHECK`].
    fn forward(&mut self, cx: &mut Ctx<'_>, pid: i32, sig: i32) {
        let mut sig = sig;
        if self.cfg.thug && STOP_SIGNALS.contains(&sig) && crate::procfs::is_own() {
            let masks =
                crate::procfs::read_status(pid).and_then(|s| crate::procfs::parse_status_masks(&s));
            match masks.map(|m| thug::thug_verdict(sig, m)) {
                Some(Thug::Kill) => {
                    debug!(
                        "--thug: pid {pid} ignores {}: sending SIGKILL",
                        signal_name(sig)
                    );
                    sig = libc::SIGKILL;
                }
                Some(Thug::Recheck) => {
                    // A signal repeated (Ctrl-C pressed again) must not push the SIGKILL back.
                    let (bits, at) = self
                        .thug_recheck
                        .unwrap_or((0, Instant::now() + THUG_RECHECK));
                    self.thug_recheck = Some((bits | 1 << (sig - 1), at));
                    cx.arm(THUG, at);
                    debug!(
                        "--thug: pid {pid} blocks {}: SIGKILL if it is still pending in {} ms",
                        signal_name(sig),
                        at.saturating_duration_since(Instant::now()).as_millis()
                    );
                }
                Some(Thug::Forward) | None => {}
            }
        }
        self.send(pid, sig);
    }

    /// At the re-check: SIGKILL for the main child if one of the stop signals forwarded while
    /// blocked is still blocked and pending (`SigBlk` and `SigPnd`/`ShdPnd`); nothing otherwise.
    fn recheck(&mut self) {
        let (Some((bits, _)), Some(pid)) = (self.thug_recheck.take(), self.pid) else {
            return;
        };
        let Some(status) = crate::procfs::read_status(pid) else {
            return;
        };
        let refused = STOP_SIGNALS
            .into_iter()
            .find(|&s| bits & 1 << (s - 1) != 0 && thug::still_refused(s, &status));
        if let Some(sig) = refused {
            debug!(
                "--thug: pid {pid} still blocks {}: sending SIGKILL",
                signal_name(sig)
            );
            self.send(pid, libc::SIGKILL);
        }
    }

    /// Sends `sig` to the main child, or its process group with `-g`.
    fn send(&self, pid: i32, sig: i32) {
        // kill(2), not pidfd_send_signal(2), and still never a recycled pid: signals are only sent
        // until the supervisor reports the main child's exit, so dock has not reaped it, and a pid
        // stays taken until its parent reaps it (wait(2)). pidfd_send_signal cost up to 0.5 µs more
        // per signal on the test machine (docs/core.md).
        let group = self.cfg.process_group;
        let result = crate::sys::kill(if group { -pid } else { pid }, sig);
        let target = if group { "process group" } else { "pid" };
        match result {
            Ok(()) => debug!("forwarded {} to {target} {pid}", signal_name(sig)),
            Err(e) => warn!("forwarding {} to {target} {pid}: {e}", signal_name(sig)),
        }
    }
}

impl Handler for Forwarder {
    fn start(&mut self, cx: &mut Ctx<'_>) {
        cx.watch_signals();
    }

    fn on_signal(&mut self, cx: &mut Ctx<'_>, sig: i32) {
        match sig {
            // SIGCHLD is ours: it means "reap", never forwarded (tini, catatonit).
            libc::SIGCHLD => cx.post(Notice::Reap),
            libc::SIGWINCH if self.cfg.winch_resizes_pty => cx.post(Notice::WindowSize),
            _ => {
                debug!("received {}", signal_name(sig));
                let Some(pid) = self.pid else {
                    debug!("signal {} ignored: teardown in progress", signal_name(sig));
                    return;
                };
                match self.cfg.rewrite.get(sig) {
                    0 => debug!("--rewrite: {} dropped", signal_name(sig)),
                    // The "forwarded" line names what was sent.
                    to => self.forward(cx, pid, to),
                }
            }
        }
    }

    fn on_deadline(&mut self, _cx: &mut Ctx<'_>, key: Key) {
        if key == THUG {
            self.recheck();
        }
    }

    fn on_notice(&mut self, cx: &mut Ctx<'_>, notice: &Notice) {
        match notice {
            Notice::Spawned { pid, .. } => self.pid = Some(*pid),
            Notice::ChildExited(_) => {
                self.pid = None;
                self.thug_recheck = None;
                cx.disarm(THUG);
            }
            _ => {}
        }
    }
}
