//! The main child and everything under dock: spawn, signal forwarding, reaping and teardown.
//!
//! States: `Running` (main child alive) → `Draining` (main child exited: SIGTERM sent to every remaining
//! process, waiting for them, grace timer armed) → `Killed` (grace period over: SIGKILL sent, waiting a
//! short bound) → `Done` (nothing left to reap, or the bound passed). Only the main child's death leaves
//! `Running`; a stopped child or an orphan's death is just reaped.
//!
//! Registers: the main child's pidfd (`Source::MainPidfd`) and the teardown timerfd
//! (`Source::TeardownTimer`).

use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::error::Error;
use crate::io::ChildStdio;
use crate::reactor::{Reactor, Source};
use crate::signals::{self, OrigMask};
use crate::status::{signal_name, ChildExit};
use crate::sys::spawn::{self, ChildSetup};
use crate::sys::timer::Timer;
use crate::sys::{self, pidfd::PidFd};
use crate::{debug, warn};

/// After SIGKILL, how long dock waits for the last processes to be reaped before it exits anyway (a
/// process stuck in uninterruptible sleep cannot die; as PID 1 our exit makes the kernel kill it).
pub const KILL_BOUND: Duration = Duration::from_secs(2);

/// While processes are left after SIGKILL, how often dock looks for more and sends SIGKILL again
/// (ms): outside PID 1 the processes are found by walking `/proc`, and one that a parent forked
/// after the walk reached it, or that was re-parented to dock since, got no SIGKILL yet.
pub const KILL_RECHECK: Duration = Duration::from_millis(20);

/// How many times one round of signals walks the tree again for processes the previous walks did
/// not list (forked meanwhile); a parent that forks without end is left to the next round.
const WALKS: usize = 8;

/// Where the supervisor is in the main child's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The main child runs.
    Running,
    /// The main child exited; SIGTERM sent to the rest; waiting up to the grace period.
    Draining,
    /// SIGKILL sent to the rest, and again every [`KILL_RECHECK`]; waiting up to [`KILL_BOUND`].
    Killed,
    /// Nothing is left (or the bound passed): dock may exit once output and hook are flushed.
    Done,
}

/// What one reaping pass found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reaped {
    /// The main child exited during this pass.
    pub main_exit: Option<ChildExit>,
    /// Processes reaped in this pass.
    pub count: usize,
}

/// The main child and teardown.
pub struct Supervisor {
    pid: i32,
    pidfd: Option<(PidFd, Token)>,
    timer: Timer,
    timer_token: Option<Token>,
    phase: Phase,
    exit: Option<ChildExit>,
    grace: Duration,
    group: bool,
    thug: bool,
    pid1: bool,
    started: Instant,
    /// When the grace period's SIGKILL went out (meaningful in [`Phase::Killed`]).
    killed_at: Instant,
    /// The main child was reaped and the rest has not had its SIGTERM yet: it goes out at the end of
    /// the reap loop, and only if processes remain.
    term_due: bool,
    /// `--thug`: the stop signals forwarded while the child blocked them (bit S-1 for signal S), and
    /// when to look again whether one is still blocked and pending ([`signals::Thug::Recheck`]).
    /// Set by the first such signal; later ones join it without moving the deadline.
    thug_recheck: Option<(u64, Instant)>,
}

impl Supervisor {
    /// Spawns `command` with `stdio`, in its own process group (or session, for a pty), with the
    /// original signal `mask` restored in the child.
    ///
    /// # Errors
    /// [`Error::Exec`] when the command cannot be executed (127 not found, 126 not executable);
    /// [`Error::Sys`] when the pidfd or timer cannot be created.
    pub fn spawn(
        command: &[OsString],
        stdio: ChildStdio,
        mask: OrigMask,
        grace: Duration,
        group: bool,
        thug: bool,
    ) -> Result<Supervisor, Error> {
        let Some((prog, args)) = command.split_first() else {
            return Err(Error::Usage(crate::cli::UsageError::NoCommand));
        };
        let timer = Timer::new().map_err(Error::sys("creating the teardown timer"))?;
        let setup = ChildSetup {
            mask,
            session: stdio.session,
        };
        let fds = [stdio.stdin, stdio.stdout, stdio.stderr];
        let child = spawn::spawn(prog, args, fds, setup).map_err(|source| {
            if spawn::is_clone_failure(&source) {
                // No child at all: a resource limit, not the command's fault (exit 2, not 126).
                Error::Sys {
                    what: "starting the child (clone)",
                    source,
                }
            } else {
                Error::Exec {
                    command: prog.clone(),
                    source,
                }
            }
        })?;
        let (pid, pidfd) = (child.pid, child.pidfd);
        debug!("started pid {pid}: {}", command_line(command));
        Ok(Supervisor {
            pid,
            pidfd: Some((pidfd, Token(usize::MAX))),
            timer,
            timer_token: None,
            phase: Phase::Running,
            exit: None,
            grace,
            group,
            thug,
            pid1: std::process::id() == 1,
            started: Instant::now(),
            killed_at: Instant::now(),
            term_due: false,
            thug_recheck: None,
        })
    }

    /// Registers the pidfd and the teardown timer.
    ///
    /// # Errors
    /// `epoll_ctl` failing.
    pub fn register(&mut self, r: &mut Reactor) -> std::io::Result<()> {
        if let Some((fd, tok)) = &mut self.pidfd {
            *tok = r.add_fd(fd.as_raw_fd(), Source::MainPidfd, Interest::READABLE)?;
        }
        self.timer_token = Some(r.add_fd(
            self.timer.as_raw_fd(),
            Source::TeardownTimer,
            Interest::READABLE,
        )?);
        Ok(())
    }

    /// The main child's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The main child's exit, once it exited.
    pub fn exit(&self) -> Option<ChildExit> {
        self.exit
    }

    /// Forwards `sig` to the main child (its process group with `-g`). Under `--thug`, a stop signal
    /// the child ignores becomes SIGKILL; one it blocks is forwarded and looked at again after
    /// [`signals::THUG_RECHECK`] ([`Supervisor::thug_due`]). After the main child exited, signals
    /// are dropped: teardown already signals the rest. ESRCH is logged, not fatal.
    pub fn forward(&mut self, sig: i32) {
        if self.phase != Phase::Running {
            debug!("signal {} ignored: teardown in progress", signal_name(sig));
            return;
        }
        let mut sig = sig;
        if self.thug && signals::STOP_SIGNALS.contains(&sig) && crate::procfs::is_own() {
            match signals::read_masks(self.pid).map(|m| signals::thug_verdict(sig, m)) {
                Some(signals::Thug::Kill) => {
                    debug!(
                        "--thug: pid {} ignores {}: sending SIGKILL",
                        self.pid,
                        signal_name(sig)
                    );
                    sig = libc::SIGKILL;
                }
                Some(signals::Thug::Recheck) => {
                    // A signal repeated (Ctrl-C pressed again) must not push the SIGKILL back.
                    let (bits, at) = self
                        .thug_recheck
                        .unwrap_or((0, Instant::now() + signals::THUG_RECHECK));
                    self.thug_recheck = Some((bits | 1 << (sig - 1), at));
                    debug!(
                        "--thug: pid {} blocks {}: SIGKILL if it is still pending in {} ms",
                        self.pid,
                        signal_name(sig),
                        at.saturating_duration_since(Instant::now()).as_millis()
                    );
                }
                Some(signals::Thug::Forward) | None => {}
            }
        }
        self.send(sig);
    }

    /// When `--thug` wants to look at a blocked stop signal again, if it does.
    pub fn thug_due(&self) -> Option<Instant> {
        self.thug_recheck.map(|(_, at)| at)
    }

    /// At [`Supervisor::thug_due`]: SIGKILL for the main child if one of the stop signals forwarded
    /// while blocked is still blocked and pending (`SigBlk` and `SigPnd`/`ShdPnd` of
    /// `/proc/<pid>/status`); nothing otherwise.
    pub fn on_thug_recheck(&mut self) {
        let Some((bits, _)) = self.thug_recheck.take() else {
            return;
        };
        if self.phase != Phase::Running {
            return;
        }
        let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", self.pid)) else {
            return;
        };
        let refused = signals::STOP_SIGNALS
            .into_iter()
            .find(|&s| bits & 1 << (s - 1) != 0 && signals::still_refused(s, &status));
        if let Some(sig) = refused {
            debug!(
                "--thug: pid {} still blocks {}: sending SIGKILL",
                self.pid,
                signal_name(sig)
            );
            self.send(libc::SIGKILL);
        }
    }

    /// Sends `sig` to the main child, or its process group with `-g`.
    fn send(&self, sig: i32) {
        // kill(2), not pidfd_send_signal(2), and still never a recycled pid: signals are only sent
        // while the phase is Running, so dock has not reaped the main child, and a pid stays taken
        // until its parent reaps it (wait(2)). pidfd_send_signal cost up to 0.5 µs more per signal
        // on the test machine (README: Core, Signals).
        let result = crate::sys::kill(if self.group { -self.pid } else { self.pid }, sig);
        let target = if self.group { "process group" } else { "pid" };
        match result {
            Ok(()) => debug!("forwarded {} to {target} {}", signal_name(sig), self.pid),
            Err(e) => warn!(
                "forwarding {} to {target} {}: {e}",
                signal_name(sig),
                self.pid
            ),
        }
    }

    /// Reaps every exited child: `waitpid(-1, WNOHANG)` until 0 or ECHILD (SIGCHLD coalesces, so one
    /// notification may stand for many exits). Moves to `Done` when nothing is left while tearing down.
    /// When the main child is among them, the rest gets SIGTERM and the grace period starts, unless
    /// waitpid already says ECHILD: with no child left there is no descendant left either (every
    /// orphan is re-parented to dock), so dock is done at once, with no signal, walk or timer.
    pub fn reap(&mut self, r: &mut Reactor) -> Reaped {
        let mut out = Reaped::default();
        if self.phase == Phase::Done {
            return out;
        }
        loop {
            match sys::wait_any() {
                Ok(None) => {
                    if std::mem::take(&mut self.term_due) {
                        if !self.signal_rest(Signal::SIGTERM) {
                            self.give_up_unseen(r);
                            break;
                        }
                        if let Err(e) = self.timer.arm(self.grace) {
                            warn!("arming the grace timer: {e}");
                        }
                    }
                    break;
                }
                Ok(Some(sys::Reaped::Exited(pid, code))) => {
                    out.count += 1;
                    debug!("reaped pid {pid}: exit code {code}");
                    if pid == self.pid {
                        out.main_exit = Some(self.main_exited(r, ChildExit::exited(code)));
                    }
                }
                Ok(Some(sys::Reaped::Signaled(pid, sig, core))) => {
                    out.count += 1;
                    let core = if core { " (core dumped)" } else { "" };
                    debug!("reaped pid {pid}: killed by {}{core}", signal_name(sig));
                    if pid == self.pid {
                        out.main_exit = Some(self.main_exited(r, ChildExit::signaled(sig)));
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
                    // The timer runs unless the main child's exit was the last one (no SIGTERM sent).
                    let timer_armed = !std::mem::take(&mut self.term_due);
                    if matches!(self.phase, Phase::Draining | Phase::Killed) {
                        debug!("no process left");
                        self.finish(r, timer_armed);
                    }
                    break;
                }
                Err(e) => {
                    warn!("waitpid: {e}");
                    break;
                }
            }
        }
        out
    }

    fn main_exited(&mut self, r: &mut Reactor, exit: ChildExit) -> ChildExit {
        self.exit = Some(exit);
        if let Some((fd, tok)) = self.pidfd.take() {
            r.remove_fd(&fd, tok);
        }
        debug!(
            "main child {} exited with status {} after {} ms",
            self.pid,
            exit.code,
            self.started.elapsed().as_millis()
        );
        self.phase = Phase::Draining;
        self.term_due = true;
        exit
    }

    /// The teardown timer fired: SIGKILL what is left after the grace period, or give up waiting after
    /// [`KILL_BOUND`].
    pub fn on_timer(&mut self, r: &mut Reactor) {
        if !self.timer.drain() {
            return;
        }
        match self.phase {
            Phase::Draining => {
                debug!(
                    "grace period of {} ms over: SIGKILL to what is left",
                    self.grace.as_millis()
                );
                self.phase = Phase::Killed;
                self.killed_at = Instant::now();
                self.kill_round(r);
            }
            // Still not all reaped: newcomers may have missed the SIGKILL (see KILL_RECHECK).
            Phase::Killed if self.killed_at.elapsed() < KILL_BOUND => self.kill_round(r),
            Phase::Killed => {
                warn!(
                    "processes still not reaped {} ms after SIGKILL: exiting anyway",
                    KILL_BOUND.as_millis()
                );
                // The (one-shot) timer just fired: nothing to disarm.
                self.finish(r, false);
            }
            _ => {}
        }
    }

    /// SIGKILL to what is left, then the timer for the next round: [`KILL_RECHECK`] later, or at
    /// [`KILL_BOUND`] after the first round, whichever comes first.
    fn kill_round(&mut self, r: &mut Reactor) {
        if !self.signal_rest(Signal::SIGKILL) {
            self.give_up_unseen(r);
            return;
        }
        let left = KILL_BOUND.saturating_sub(self.killed_at.elapsed());
        if let Err(e) = self
            .timer
            .arm(KILL_RECHECK.min(left).max(Duration::from_millis(1)))
        {
            warn!("arming the kill timer: {e}");
        }
    }

    /// Without this namespace's /proc, the main child's process group is all dock can signal; once it
    /// is gone, waiting longer for processes outside it (never signalled, never found) gains nothing.
    fn give_up_unseen(&mut self, r: &mut Reactor) {
        warn!(
            "process group {} is gone; processes outside it cannot be found without this PID \
             namespace's /proc: exiting without them",
            self.pid
        );
        self.finish(r, false);
    }

    fn finish(&mut self, r: &mut Reactor, timer_armed: bool) {
        if timer_armed {
            let _ = self.timer.disarm();
        }
        self.phase = Phase::Done;
        if let Some(tok) = self.timer_token.take() {
            r.remove_fd(&self.timer, tok);
        }
    }

    /// Sends `sig` to every remaining process: as PID 1 of a PID namespace, `kill(-1, sig)` (everything
    /// but ourselves, kill(2)); otherwise every descendant found through /proc (a child subreaper
    /// keeps orphans under it). A process vanishing mid-walk is skipped, never an error. False only
    /// when nothing more can be reached: /proc is another namespace's and the main child's process
    /// group is gone (ESRCH).
    fn signal_rest(&self, sig: Signal) -> bool {
        // A stopped process cannot act on its SIGTERM: SIGCONT follows it, as systemd does.
        let wake = (sig == Signal::SIGTERM).then_some(Signal::SIGCONT);
        if self.pid1 {
            match kill(Pid::from_raw(-1), sig) {
                Ok(()) => debug!("sent {} to every process", sig.as_str()),
                Err(Errno::ESRCH) => debug!("no process left to send {}", sig.as_str()),
                Err(e) => warn!("kill(-1, {}): {e}", sig.as_str()),
            }
            if let Some(cont) = wake {
                let _ = kill(Pid::from_raw(-1), cont);
            }
            return true;
        }
        if !crate::procfs::is_own() {
            // No tree to walk: at least the main child's process group, where its `&` jobs are.
            match kill(Pid::from_raw(-self.pid), sig) {
                Ok(()) => debug!("sent {} to process group {}", sig.as_str(), self.pid),
                Err(Errno::ESRCH) => return false,
                Err(e) => warn!("kill(-{}, {}): {e}", self.pid, sig.as_str()),
            }
            if let Some(cont) = wake {
                let _ = kill(Pid::from_raw(-self.pid), cont);
            }
            return true;
        }
        // A walk is a snapshot: a process may fork between the walk and its own signal. Walk again
        // until a walk finds nobody new (kill(-1) as PID 1 has no such gap: fork fails or restarts
        // once the parent has a signal pending, kernel/fork.c).
        let mut sent = std::collections::HashSet::new();
        for _ in 0..WALKS {
            let mut new = descendants(std::process::id() as i32);
            new.retain(|p| !sent.contains(p));
            if new.is_empty() {
                break;
            }
            for pid in &new {
                match kill(Pid::from_raw(*pid), sig) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(e) => warn!("kill({pid}, {}): {e}", sig.as_str()),
                }
                if let Some(cont) = wake {
                    let _ = kill(Pid::from_raw(*pid), cont);
                }
            }
            sent.extend(new);
        }
        debug!("sent {} to {} descendant(s)", sig.as_str(), sent.len());
        true
    }
}

/// Every descendant of `root` (not `root`), walking `/proc/<pid>/task/*/children` down from it (or the
/// parent pids in `/proc/*/stat` without CONFIG_PROC_CHILDREN). Processes that vanish or cannot be
/// read during the walk are left out; no limit: teardown must reach every one.
pub fn descendants(root: i32) -> Vec<i32> {
    let mut all =
        crate::procfs::descendants_at_most(std::path::Path::new("/proc"), root, usize::MAX);
    all.retain(|&p| p != root);
    all
}

fn command_line(command: &[OsString]) -> String {
    command
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_grandchild() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & echo $!; wait"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let grandchild: i32 = line.trim().parse().unwrap();
        let found = descendants(std::process::id() as i32);
        assert!(found.contains(&(child.id() as i32)));
        assert!(found.contains(&grandchild));
        kill(Pid::from_raw(grandchild), Signal::SIGKILL).unwrap();
        child.wait().unwrap();
    }
}
