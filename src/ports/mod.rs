//! `--bind-port` readiness: is a TCP socket LISTENing on the port in dock's network namespace, asked of
//! the kernel through NETLINK_SOCK_DIAG (sock_diag(7)); with `--strict-port-binding`, is its inode an fd
//! of dock or a descendant. The kernel has no bind/listen notification, so this polls on a timerfd
//! while not ready ([`next_delay`]: 1 ms doubling to 5 ms, slowing to 50 ms as the wait grows) and
//! stops for good once the port is found: reported once.
//!
//! Registers: `Source::PortTimer`. The netlink socket is not registered: each probe is a bounded,
//! non-blocking request/reply on it (see [`probe`]).
//!
//! Integration contract used by `app.rs`: [`Readiness::new`] before the spawn (errors exit 2),
//! [`Readiness::start`] after it, [`Readiness::on_timer`] on `PortTimer` events (pushes
//! `Notice::PortReady` once), [`Readiness::stop`] when the main child exits.
//!
//! Submodules: [`diag`] (the pure wire format: request and reply parser), [`probe`] (the socket),
//! [`crate::procfs`] (inode → pid among dock's descendants).

pub mod diag;
pub mod probe;

use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use thiserror::Error;

use crate::debug;
use crate::reactor::{Notice, Reactor, Source};
use crate::sys::timer::Timer;
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
/// the kernel's whole listening hash, 50–150 µs of CPU (README, `benches/ports.rs`). So servers
/// that start fast are polled fast, one that takes seconds is seen at most 1% of its start time
/// late (≤ 50 ms), and a port that never comes costs 20 polls a second.
pub fn next_delay(prev: Duration, waited: Duration) -> Duration {
    let cap = (waited / 100).clamp(FAST_CAP, MAX_DELAY);
    prev.saturating_mul(2).clamp(FIRST_DELAY, cap)
}

/// Why readiness checking could not start.
#[derive(Debug, Error)]
pub enum PortsError {
    /// The sock_diag socket or the timer could not be created.
    #[error("--bind-port {port}: {what}: {source}")]
    Setup {
        /// The port.
        port: u16,
        /// What dock was creating.
        what: &'static str,
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

/// The readiness poller.
#[derive(Debug)]
pub struct Readiness {
    port: u16,
    strict: bool,
    prober: Prober,
    timer: Timer,
    /// Set while the timer is registered.
    token: Option<Token>,
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
    /// Readiness of `port`; `strict`: only a listener owned by dock's process tree counts.
    ///
    /// # Errors
    /// [`PortsError::Setup`]: no sock_diag socket (EMFILE, a kernel without `NETLINK_SOCK_DIAG`), no
    /// timerfd. [`PortsError::ForeignProc`]: `strict` with another PID namespace's `/proc`.
    pub fn new(port: u16, strict: bool) -> Result<Readiness, PortsError> {
        if strict && !crate::procfs::looks_own() {
            return Err(PortsError::ForeignProc { port });
        }
        let setup = |what| move |source| PortsError::Setup { port, what, source };
        Ok(Readiness {
            port,
            strict,
            prober: Prober::new().map_err(setup("opening a NETLINK_SOCK_DIAG socket"))?,
            timer: Timer::new().map_err(setup("creating the poll timer"))?,
            token: None,
            delay: FIRST_DELAY,
            started: Instant::now(),
            finished: false,
            found: Vec::new(),
            last_problem: None,
            last_foreign: Vec::new(),
            proc: PathBuf::from("/proc"),
            root: std::process::id() as i32,
        })
    }

    /// Registers the timer and arms the first poll ([`FIRST_DELAY`]). `started` is when the child was
    /// spawned: the `-d` line gives the time from it to readiness.
    ///
    /// # Errors
    /// Registration or arming failing.
    pub fn start(&mut self, r: &mut Reactor, started: Instant) -> io::Result<()> {
        self.started = started;
        self.delay = FIRST_DELAY;
        let token = r.add_fd(
            self.timer.as_raw_fd(),
            Source::PortTimer,
            Interest::READABLE,
        )?;
        self.token = Some(token);
        if let Err(e) = self.timer.arm(self.delay) {
            self.stop(r);
            return Err(e);
        }
        Ok(())
    }

    /// The poll timer fired: probe, and push [`Notice::PortReady`] once when listening; otherwise
    /// re-arm with [`next_delay`]. Probe failures are logged (with `-d`, once per distinct failure)
    /// and retried.
    pub fn on_timer(&mut self, r: &mut Reactor, out: &mut Vec<Notice>) {
        if !self.timer.drain() || self.finished {
            return;
        }
        if let Some(pid) = self.probe() {
            let ms = self.started.elapsed().as_secs_f64() * 1e3;
            let on = self.found.first().map(|s| s.addr).map(|a| match a {
                std::net::IpAddr::V4(a) => a.to_string(),
                std::net::IpAddr::V6(a) => format!("[{a}]"),
            });
            let on = on.unwrap_or_default();
            match pid {
                Some(pid) => debug!(
                    "port {} listening on {on} (pid {pid}) after {ms:.1} ms",
                    self.port
                ),
                None => debug!("port {} listening on {on} after {ms:.1} ms", self.port),
            }
            out.push(Notice::PortReady { pid });
            self.stop(r);
            return;
        }
        self.delay = next_delay(self.delay, self.started.elapsed());
        if let Err(e) = self.timer.arm(self.delay) {
            // EINVAL only for an out-of-range value, which next_delay never gives; nothing to retry.
            crate::warn!("--bind-port {}: arming the poll timer: {e}", self.port);
        }
    }

    /// Stop polling (the main child exited, or the port was found). Idempotent.
    pub fn stop(&mut self, r: &mut Reactor) {
        self.finished = true;
        let _ = self.timer.disarm();
        if let Some(token) = self.token.take() {
            r.remove_fd(&self.timer, token);
        }
    }

    /// One poll: `Some(owner)` when the port listens (the owner's pid only in strict mode), `None`
    /// to try again later. Leaves the listeners that counted in `self.found`.
    fn probe(&mut self) -> Option<Option<i32>> {
        self.found.clear();
        let mut problems = Vec::new();
        // Both families every time: a failing one (no IPv6) must not hide a listener on the other.
        for family in [Family::V4, Family::V6] {
            if let Err(e) = self.prober.listeners(family, self.port, &mut self.found) {
                problems.push(chain(&e));
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

/// An error and its sources, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

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

    /// Runs the reactor until a notice arrives or `polls` timer events have been handled.
    fn run(rd: &mut Readiness, r: &mut Reactor, polls: usize) -> Vec<Notice> {
        let mut out = Vec::new();
        for _ in 0..polls {
            for ev in r.poll(Some(Duration::from_secs(5))).unwrap() {
                assert_eq!(r.source(ev.token), Some(Source::PortTimer));
                rd.on_timer(r, &mut out);
            }
            r.flush_removals();
            if !out.is_empty() {
                break;
            }
        }
        out
    }

    #[test]
    fn reports_a_listener_once_and_stops() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut r = Reactor::new().unwrap();
        let mut rd = Readiness::new(port, false).unwrap();
        rd.start(&mut r, Instant::now()).unwrap();
        assert_eq!(run(&mut rd, &mut r, 10), [Notice::PortReady { pid: None }]);
        // Stopped: no timer registered, nothing more arrives.
        assert!(rd.token.is_none());
        assert!(r.poll(Some(Duration::from_millis(20))).unwrap().is_empty());
        rd.stop(&mut r);
    }

    #[test]
    fn strict_names_the_owner() {
        let l = TcpListener::bind("[::1]:0")
            .or_else(|_| TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = l.local_addr().unwrap().port();
        let mut r = Reactor::new().unwrap();
        let mut rd = Readiness::new(port, true).unwrap();
        rd.start(&mut r, Instant::now()).unwrap();
        let me = std::process::id() as i32;
        assert_eq!(
            run(&mut rd, &mut r, 10),
            [Notice::PortReady { pid: Some(me) }]
        );
    }

    #[test]
    fn strict_ignores_a_listener_outside_the_tree() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut r = Reactor::new().unwrap();
        let mut rd = Readiness::new(port, true).unwrap();
        // Pretend dock is a process that has no descendants and does not hold the socket: pid 1's
        // tree would include us, so use a pid that cannot exist.
        rd.root = i32::MAX;
        rd.start(&mut r, Instant::now()).unwrap();
        assert!(run(&mut rd, &mut r, 4).is_empty());
        assert_eq!(rd.last_foreign.len(), 1, "the foreign listener was seen");
        rd.stop(&mut r);
    }

    #[test]
    fn stop_before_found_disarms() {
        let mut r = Reactor::new().unwrap();
        // Port 1 (tcpmux) is not listening on a test machine; if it were, this test would only
        // report it, which is fine too.
        let mut rd = Readiness::new(1, false).unwrap();
        rd.start(&mut r, Instant::now()).unwrap();
        rd.stop(&mut r);
        r.flush_removals();
        assert!(r.poll(Some(Duration::from_millis(20))).unwrap().is_empty());
        let mut out = Vec::new();
        rd.on_timer(&mut r, &mut out);
        assert!(out.is_empty());
    }
}
