//! `--bind-port` readiness: is a TCP socket LISTENing on the port in dock's network namespace, asked of
//! the kernel through NETLINK_SOCK_DIAG (sock_diag(7)); with `--strict-port-binding`, is its inode an fd
//! of dock or a descendant. The kernel has no bind/listen notification, so this polls on a timerfd
//! while not ready ([`next_delay`]: 1 ms doubling to 5 ms, slowing to 50 ms as the wait grows) and
//! stops for good once the port is found: reported once, as [`Notice::Condition`].
//!
//! Registers nothing: the netlink socket is not registered, each probe is a bounded, non-blocking
//! request/reply on it (see [`probe`]). Deadline: the next poll. Reads `Spawned` (polling starts),
//! `ChildExited` and `Stop` (polling stops); posts `Condition(Port)`.
//!
//! Submodules: [`diag`] (the pure wire format: request and reply parser), [`probe`] (the socket),
//! [`crate::procfs`] (inode → pid among dock's descendants).

pub mod diag;
pub mod probe;

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::debug;
use crate::event::{Ctx, Handler, Key};
use crate::notice::{Condition, Notice};
use diag::{DiagSocket, Family};
use probe::Prober;

/// The first poll, this long after [`Readiness::start`].
pub const FIRST_DELAY: Duration = Duration::from_millis(1);
/// The longest gap between polls while the child is young (its first 0.5 s).
pub const FAST_CAP: Duration = Duration::from_millis(5);
/// The longest gap between polls ever: the worst-case latency of a late listener.
pub const MAX_DELAY: Duration = Duration::from_millis(50);

/// The gap after a poll that found nothing, given the previous gap and the time since the child was
/// spawned: doubling from [`FIRST_DELAY`], capped at 1% of `waited`, but at least [`FAST_CAP`] and at
/// most [`MAX_DELAY`]. So 1, 2, 4, 5, 5, ... ms for the first 0.5 s, then the cap grows with the
/// wait (10 ms at 1 s, 50 ms from 5 s on).
///
/// Why not plain doubling to 50 ms: a server listening 40 ms after its start would then be seen
/// ~23 ms late (issue 5 asks for a median ≤ 5 ms), while a poll is not free: two dumps that each walk
/// the kernel's whole listening hash, 50–150 µs of CPU (docs/ports.md, `benches/ports.rs`). So servers
/// that start fast are polled fast, one that takes seconds is seen at most 1% of its start time
/// late (≤ 50 ms), and a port that never comes costs 20 polls a second.
pub fn next_delay(prev: Duration, waited: Duration) -> Duration {
    let cap = (waited / 100).clamp(FAST_CAP, MAX_DELAY);
    prev.saturating_mul(2).clamp(FIRST_DELAY, cap)
}

/// What `--bind-port` needs from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortConfig {
    /// `--bind-port`.
    pub port: u16,
    /// `--strict-port-binding`: only a listener owned by dock's process tree counts.
    pub strict: bool,
}

/// Why readiness checking could not start.
#[derive(Debug, Error)]
pub enum PortsError {
    /// The sock_diag socket could not be created.
    #[error("--bind-port {port}: opening a NETLINK_SOCK_DIAG socket")]
    Setup {
        /// The port.
        port: u16,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// `--strict-port-binding` where `/proc` belongs to another PID namespace (`unshare --pid`
    /// without `--mount-proc`): the listener's owner cannot be looked up there.
    #[error(
        "--strict-port-binding: /proc is not this PID namespace's, so the owner of port {port} \
         cannot be checked (mount it, e.g. unshare --mount-proc)"
    )]
    ForeignProc {
        /// The port.
        port: u16,
    },
}

/// The poll deadline.
const POLL: Key = 0;

/// The readiness poller.
#[derive(Debug)]
pub struct Readiness {
    port: u16,
    strict: bool,
    prober: Prober,
    delay: Duration,
    started: Instant,
    /// The port was found (or polling was stopped): never poll or report again.
    finished: bool,
    found: Vec<DiagSocket>,
    /// The last problem logged, so a failure repeating every poll is logged once.
    last_problem: Option<String>,
    /// The foreign listeners last logged in strict mode (inodes), likewise.
    last_foreign: Vec<u64>,
    proc: PathBuf,
    root: i32,
}

impl Readiness {
    /// Readiness of `cfg.port`.
    ///
    /// # Errors
    /// [`PortsError::Setup`]: no sock_diag socket (EMFILE, a kernel without `NETLINK_SOCK_DIAG`).
    /// [`PortsError::ForeignProc`]: `strict` with another PID namespace's `/proc`.
    pub fn new(cfg: PortConfig) -> Result<Readiness, PortsError> {
        let PortConfig { port, strict } = cfg;
        if strict && !crate::procfs::looks_own() {
            return Err(PortsError::ForeignProc { port });
        }
        Ok(Readiness {
            port,
            strict,
            prober: Prober::new().map_err(|source| PortsError::Setup { port, source })?,
            delay: FIRST_DELAY,
            started: Instant::now(),
            finished: false,
            found: Vec::new(),
            last_problem: None,
            last_foreign: Vec::new(),
            proc: PathBuf::from("/proc"),
            root: nix::unistd::getpid().as_raw(),
        })
    }

    /// The child was spawned at `at`: the first poll in [`FIRST_DELAY`]. `at` also starts the clock
    /// the `-d` line gives the time to readiness from.
    fn begin(&mut self, cx: &mut Ctx<'_>, at: Instant) {
        self.started = at;
        self.delay = FIRST_DELAY;
        cx.arm_in(POLL, self.delay);
    }

    /// A poll: report [`Condition::Port`] once when listening; otherwise poll again after
    /// [`next_delay`]. Probe failures are logged (with `-d`, once per distinct failure) and retried.
    fn poll(&mut self, cx: &mut Ctx<'_>) {
        if self.finished {
            return;
        }
        if let Some(pid) = self.probe() {
            let ms = crate::log::decimal(self.started.elapsed().as_micros() / 100, 1);
            let on = self.found.first().map(|s| s.addr).map(|a| match a {
                std::net::IpAddr::V4(a) => a.to_string(),
                std::net::IpAddr::V6(a) => format!("[{a}]"),
            });
            let on = on.unwrap_or_default();
            match pid {
                Some(pid) => debug!(
                    "port {} listening on {on} (pid {pid}) after {ms} ms",
                    self.port
                ),
                None => debug!("port {} listening on {on} after {ms} ms", self.port),
            }
            cx.post(Notice::Condition(Condition::Port { pid }));
            self.stop(cx);
            return;
        }
        self.delay = next_delay(self.delay, self.started.elapsed());
        cx.arm_in(POLL, self.delay);
    }

    /// Stop polling (the main child exited, or the port was found). Idempotent.
    fn stop(&mut self, cx: &mut Ctx<'_>) {
        self.finished = true;
        cx.disarm(POLL);
    }

    /// One poll: `Some(owner)` when the port listens (the owner's pid only in strict mode), `None`
    /// to try again later. Leaves the listeners that counted in `self.found`.
    fn probe(&mut self) -> Option<Option<i32>> {
        self.found.clear();
        let mut problems = Vec::new();
        // Both families every time: a failing one (no IPv6) must not hide a listener on the other.
        for family in [Family::V4, Family::V6] {
            if let Err(e) = self.prober.listeners(family, self.port, &mut self.found) {
                problems.push(crate::log::chain(&e));
            }
        }
        let port = self.port;
        self.found.retain(|s| s.listens_on(port));
        self.note_problem(problems.join("; "));
        if self.found.is_empty() {
            return None;
        }
        if !self.strict {
            return Some(None);
        }
        let inodes: Vec<u64> = self.found.iter().map(|s| s.inode).collect();
        let scan = crate::procfs::find_owner(&self.proc, self.root, &inodes);
        if let Some(pid) = scan.pid {
            self.found.retain(|s| Some(s.inode) == scan.inode);
            return Some(Some(pid));
        }
        if self.last_foreign != inodes {
            let list: Vec<String> = self
                .found
                .iter()
                .map(|s| format!("inode {} uid {}", s.inode, s.uid))
                .collect();
            debug!(
                "port {port}: listener ({}) is not dock's or a descendant's; waiting \
                 ({} processes scanned, {} unreadable)",
                list.join(", "),
                scan.visited,
                scan.unreadable
            );
            self.last_foreign = inodes;
        }
        None
    }

    /// Logs a probe failure with `-d` when it differs from the last one (an empty text clears it).
    fn note_problem(&mut self, text: String) {
        if text.is_empty() {
            self.last_problem = None;
            return;
        }
        if self.last_problem.as_deref() != Some(text.as_str()) {
            debug!("port {}: {text}; retrying", self.port);
            self.last_problem = Some(text);
        }
    }
}

impl Handler for Readiness {
    fn start(&mut self, _cx: &mut Ctx<'_>) {}

    fn on_deadline(&mut self, cx: &mut Ctx<'_>, key: Key) {
        if key == POLL {
            self.poll(cx);
        }
    }

    fn on_notice(&mut self, cx: &mut Ctx<'_>, notice: &Notice) {
        match notice {
            Notice::Spawned { at, .. } => self.begin(cx, *at),
            Notice::ChildExited(_) | Notice::Stop { .. } => self.stop(cx),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::testing::Recorder;
    use crate::event::Loop;
    use std::cell::RefCell;
    use std::net::TcpListener;
    use std::rc::Rc;

    #[test]
    fn backoff_doubles_to_a_cap_that_grows_with_the_wait() {
        let ms = Duration::from_millis;
        let mut d = FIRST_DELAY;
        let mut seq = vec![d];
        for _ in 0..6 {
            d = next_delay(d, ms(100));
            seq.push(d);
        }
        let got: Vec<u128> = seq.iter().map(Duration::as_millis).collect();
        assert_eq!(got, [1, 2, 4, 5, 5, 5, 5]);
        assert_eq!(next_delay(ms(5), ms(600)), ms(6));
        assert_eq!(next_delay(ms(8), ms(1000)), ms(10));
        assert_eq!(next_delay(ms(10), ms(2000)), ms(20));
        assert_eq!(next_delay(ms(20), ms(2500)), ms(25));
        assert_eq!(next_delay(ms(50), ms(5000)), MAX_DELAY);
        assert_eq!(next_delay(ms(50), Duration::MAX), MAX_DELAY);
        assert_eq!(next_delay(Duration::MAX, Duration::MAX), MAX_DELAY);
        assert_eq!(next_delay(Duration::ZERO, Duration::ZERO), FIRST_DELAY);
    }

    fn ready_notices(rec: &Recorder) -> Vec<Notice> {
        rec.seen()
            .into_iter()
            .filter(|n| matches!(n, Notice::Condition(_)))
            .collect()
    }

    /// A loop with the poller, spawned "now", turned until a condition is posted or `polls` polls.
    fn run(rd: Readiness, polls: usize) -> (Loop, Rc<RefCell<Readiness>>, Vec<Notice>) {
        let mut lp = Loop::new().unwrap();
        let (rd, _) = lp.add_shared(rd);
        let rec = lp.recorder();
        lp.start();
        lp.inject(Notice::Spawned {
            pid: 0,
            at: Instant::now(),
        });
        for _ in 0..polls {
            lp.turn_within(Duration::from_secs(5));
            if !ready_notices(&rec).is_empty() {
                break;
            }
        }
        (lp, rd, ready_notices(&rec))
    }

    fn port_ready(pid: Option<i32>) -> Notice {
        Notice::Condition(Condition::Port { pid })
    }

    #[test]
    fn reports_a_listener_once_and_stops() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let rd = Readiness::new(PortConfig {
            port,
            strict: false,
        })
        .unwrap();
        let (lp, rd, seen) = run(rd, 10);
        assert_eq!(seen, [port_ready(None)]);
        // Stopped: no deadline armed, nothing more arrives.
        assert!(rd.borrow().finished);
        assert!(lp.deadline_of(0, POLL).is_none());
    }

    #[test]
    fn strict_names_the_owner() {
        let l = TcpListener::bind("[::1]:0")
            .or_else(|_| TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = l.local_addr().unwrap().port();
        let rd = Readiness::new(PortConfig { port, strict: true }).unwrap();
        let me = nix::unistd::getpid().as_raw();
        assert_eq!(run(rd, 10).2, [port_ready(Some(me))]);
    }

    #[test]
    fn strict_ignores_a_listener_outside_the_tree() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut rd = Readiness::new(PortConfig { port, strict: true }).unwrap();
        // Pretend dock is a process that has no descendants and does not hold the socket: pid 1's
        // tree would include us, so use a pid that cannot exist.
        rd.root = i32::MAX;
        let (_, rd, seen) = run(rd, 4);
        assert!(seen.is_empty());
        assert_eq!(
            rd.borrow().last_foreign.len(),
            1,
            "the foreign listener was seen"
        );
    }

    #[test]
    fn the_childs_exit_before_found_disarms() {
        // Port 1 (tcpmux) is not listening on a test machine; if it were, this test would only
        // report it, which is fine too.
        let rd = Readiness::new(PortConfig {
            port: 1,
            strict: false,
        })
        .unwrap();
        let (mut lp, rd, _) = run(rd, 1);
        lp.inject(Notice::ChildExited(crate::notice::ChildExit::exited(0)));
        assert!(rd.borrow().finished);
        assert!(lp.deadline_of(0, POLL).is_none());
    }
}
