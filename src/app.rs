//! The event loop: builds every handler from the [`Config`], spawns the main child, then routes each
//! event to the handler that owns its token and each [`Notice`] to the handlers that subscribe to it.
//! Only the supervisor decides when dock exits; after the spawn, errors are logged and the loop goes on.
//!
//! Registers: the signalfd (`Source::Signals`) and the exit timer (`Source::ExitTimer`); handlers
//! register their own fds.

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::Interest;

use crate::cli::{Config, IoTarget};
use crate::error::Error;
use crate::hook::{Hook, Status};
use crate::io::Stdio;
use crate::ports::Readiness;
use crate::reactor::{Notice, Reactor, Ready, Source};
use crate::rotate::Rotator;
use crate::signals::{OrigMask, Signals};
use crate::status::{signal_name, ChildExit};
use crate::supervisor::{Phase, Supervisor};
use crate::sys::timer::Timer;
use crate::{debug, warn};

/// Runs `config` to completion and returns the main child's exit. `mask` is the signal mask dock had
/// before [`crate::signals::block_all`]; the child gets it back.
///
/// # Errors
/// Anything that fails before the child runs ([`Error::exit_code`] maps it: 2, or 126/127 for exec).
pub fn run(config: Config, mask: OrigMask) -> Result<ChildExit, Error> {
    crate::log::set_debug(config.debug);
    let pid1 = std::process::id() == 1;
    if !pid1 {
        // Orphans of the child re-parent to the nearest subreaper: us, so they are reaped and torn
        // down (prctl(2) PR_SET_CHILD_SUBREAPER).
        nix::sys::prctl::set_child_subreaper(true)
            .map_err(|e| Error::sys("becoming a child subreaper")(e.into()))?;
    }
    let mut r = Reactor::new().map_err(Error::sys("creating the epoll instance"))?;
    let mut signals = Signals::new().map_err(Error::sys("creating the signalfd"))?;
    let signals_token = r
        .add_fd(signals.as_raw_fd(), Source::Signals, Interest::READABLE)
        .map_err(Error::sys("registering the signalfd"))?;
    let exit_timer = Timer::new().map_err(Error::sys("creating the exit timer"))?;
    r.add_fd(
        exit_timer.as_raw_fd(),
        Source::ExitTimer,
        Interest::READABLE,
    )
    .map_err(Error::sys("registering the exit timer"))?;

    // Everything that can fail on bad configuration fails here, before anything is started.
    let (mut stdio, child_stdio) = Stdio::setup(&config)?;
    let mut rotator = match (&config.io, config.rotate) {
        (Some(IoTarget::File(path)), Some(period)) => {
            Some(Rotator::new(path.clone(), period, config.keep))
        }
        _ => None,
    };
    if let Some(rot) = &mut rotator {
        // Before any output: from now on every byte reaches the sink's write(), which rotates at
        // line boundaries.
        rot.attach(&mut stdio);
    }
    let mut ports = config
        .bind_port
        .map(|p| Readiness::new(p, config.strict_port))
        .transpose()?;
    let mut hook = config
        .hook
        .clone()
        .map(|url| {
            // `crashed` (and anything still queued) gets at most a grace period once the child exited,
            // and at least EXIT_FLOOR: `--grace-period 0` means "no time for leftovers", not "drop
            // the last status".
            Hook::new(
                url,
                config.ca_file.as_deref(),
                config.insecure,
                config.grace.max(EXIT_FLOOR),
            )
        })
        .transpose()?;

    let mut sup = Supervisor::spawn(
        &config.command,
        child_stdio,
        mask,
        config.grace,
        config.process_group,
        config.thug,
    )?;
    let pid = sup.pid();
    let started = Instant::now();
    // From here on nothing is fatal: a dying PID 1 takes the whole container with it.
    let log_err = |what: &str, e: std::io::Error| warn!("{what}: {e}");
    if let Err(e) = sup.register(&mut r) {
        log_err("registering the child's pidfd", e);
    }
    if let Err(e) = stdio.start(&mut r) {
        log_err("starting the stdio relay", e);
    }
    if let Some(rot) = &mut rotator {
        if let Err(e) = rot.start(&mut r) {
            log_err("starting log rotation", e);
        }
    }
    if let Some(p) = &mut ports {
        if let Err(e) = p.start(&mut r, started) {
            log_err("starting --bind-port polling", e);
        }
    }
    if let Some(h) = &mut hook {
        h.send(&mut r, Status::Starting, Some(pid));
        if ports.is_none() {
            h.send(&mut r, Status::Running, Some(pid));
        }
    }

    // Without a relay, rotation, readiness or hook, only a signal can need dock while the main child
    // runs: its exit raises SIGCHLD too, and the teardown and exit timers are not armed yet. dock
    // then sleeps in rt_sigtimedwait, so a forwarded signal costs one system call less.
    let mut signals_only =
        stdio.is_inherited() && rotator.is_none() && ports.is_none() && hook.is_none();
    // Meanwhile the signalfd is out of epoll (taken out before the startup code is handed back,
    // whose pages this would fault in again): in epoll, each signal for dock would first run
    // epoll's wakeup callback in the sender's kill(2) (signalfd_notify), 0.3 µs before dock
    // itself is woken (README: Core). The poll loop puts it back, with whatever is pending.
    let mut signals_watched = true;
    if signals_only {
        match r.pause_fd(signals.as_raw_fd()) {
            Ok(()) => signals_watched = false,
            Err(e) => debug!("taking the signalfd out of epoll: {e}"),
        }
    }
    let mut resume_warned = false;

    // Startup is over: its code is never run again (sys::mem).
    let released = crate::sys::mem::release_readonly_segments();
    debug!(
        "released {} kB of startup code and read-only data",
        released / 1000
    );

    let mut notices = Vec::new();
    let mut exit_deadline_armed = false;
    let mut exit_deadline_passed = false;
    let mut ready = Vec::with_capacity(crate::reactor::EVENTS_CAPACITY);
    // An exit storm (many orphans dying at once): after a pass that reaped STORM_REAPED or more, or
    // two passes with exits less than STORM_GATHER apart, SIGCHLD waits until `storm` (the end of a
    // window of `window`, STORM_GATHER at first) so the next pass finds a batch. Every waitpid scans dock's children up to the first zombie, and the last one
    // of a pass, which finds none, scans them all (kernel/exit.c do_wait): reacting to each exit
    // alone costs a scan of thousands per zombie, and each window costs one. So the window doubles
    // (up to STORM_GATHER_MAX) while passes still find zombies. Other signals are forwarded
    // meanwhile; `reap_due`: a SIGCHLD was held.
    let mut storm: Option<Instant> = None;
    let mut window = STORM_GATHER;
    let mut last_exit: Option<Instant> = None;
    let mut reap_due = false;
    loop {
        // The next deadline of the loop itself: the storm's window, a --thug re-check.
        let due = match (storm, sup.thug_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = due.map(|end| end.saturating_duration_since(Instant::now()));
        if signals_only && sup.phase() == Phase::Running {
            ready.clear();
            match signals.wait(timeout, storm.is_some()) {
                Ok(Some(sig)) => {
                    let n = on_signal(sig, &mut sup, &mut stdio, &mut r, &mut hook, &mut ports);
                    storm = storm.or(after_storm(n, &mut last_exit));
                }
                Ok(None) => {}
                Err(e) => {
                    log_err("waiting for a signal (using the poll loop instead)", e);
                    signals_only = false;
                }
            }
        } else {
            if !signals_watched {
                match r.resume_fd(signals.as_raw_fd(), signals_token, Interest::READABLE) {
                    Ok(()) => signals_watched = true,
                    Err(e) if !resume_warned => {
                        resume_warned = true;
                        warn!("putting the signalfd back into epoll: {e} (reading it every 10 ms)");
                    }
                    Err(_) => {}
                }
            }
            // Not back in epoll (ENOMEM): read the signalfd after every poll, at least every 10 ms.
            let timeout = if signals_watched {
                timeout
            } else {
                Some(timeout.map_or(SIGNALFD_RETRY, |t| t.min(SIGNALFD_RETRY)))
            };
            if let Err(e) = r.poll_into(timeout, &mut ready) {
                // epoll_wait only fails like this on a bug; keep the container alive, but do not spin.
                warn!("epoll_wait: {e}");
                std::thread::yield_now();
                continue;
            }
            if !signals_watched {
                ready.push(Ready {
                    token: signals_token,
                    readable: true,
                    writable: false,
                    closed: false,
                });
            }
        }
        for &ev in &ready {
            let Some(source) = r.source(ev.token) else {
                continue;
            };
            match source {
                Source::Signals => {
                    for sig in signals.drain() {
                        if sig == libc::SIGCHLD && storm.is_some() {
                            reap_due = true;
                            continue;
                        }
                        let n = on_signal(sig, &mut sup, &mut stdio, &mut r, &mut hook, &mut ports);
                        storm = storm.or(after_storm(n, &mut last_exit));
                    }
                }
                Source::MainPidfd => {
                    let n = reap(&mut sup, &mut r, &mut hook, &mut ports);
                    storm = storm.or(after_storm(n, &mut last_exit));
                }
                Source::TeardownTimer => sup.on_timer(&mut r),
                Source::ExitTimer => {
                    if exit_timer.drain() {
                        exit_deadline_passed = true;
                    }
                }
                Source::Stdio(i) => stdio.on_event(&mut r, i, ev, &mut notices),
                Source::RotateTimer => {
                    if let Some(rot) = &mut rotator {
                        rot.on_timer(&mut r, &mut stdio);
                    }
                }
                Source::ArchiveDone => {
                    if let Some(rot) = &mut rotator {
                        rot.on_archive_done(&mut r);
                    }
                }
                Source::PortTimer => {
                    if let Some(p) = &mut ports {
                        p.on_timer(&mut r, &mut notices);
                    }
                }
                Source::HookConn | Source::HookTimer | Source::HookResolved => {
                    if let Some(h) = &mut hook {
                        h.on_event(&mut r, source, ev);
                    }
                }
            }
        }
        if storm.is_some_and(|end| Instant::now() >= end) {
            // The storm lasts while windows bring exits at all: ending it on a quieter window
            // would answer the next exits one by one again, each with a full scan.
            let n = if std::mem::take(&mut reap_due) {
                reap(&mut sup, &mut r, &mut hook, &mut ports)
            } else {
                0
            };
            if n > 0 {
                window = (window * 2).min(STORM_GATHER_MAX);
                storm = Some(Instant::now() + window);
            } else {
                window = STORM_GATHER;
                storm = None;
            }
        }
        if sup.thug_due().is_some_and(|at| Instant::now() >= at) {
            sup.on_thug_recheck();
        }
        r.flush_removals();
        for notice in notices.drain(..) {
            match notice {
                // ports::Readiness logged the port, the listener's owner and the time.
                Notice::PortReady { .. } => {
                    if sup.phase() == Phase::Running {
                        if let Some(h) = &mut hook {
                            h.send(&mut r, Status::Running, Some(pid));
                        }
                    }
                }
                Notice::PeerHangup => debug!("--io peer closed the connection: terminal hang-up"),
            }
        }

        if sup.phase() != Phase::Done {
            continue;
        }
        let flushed = stdio.drained()
            && hook.as_ref().is_none_or(Hook::idle)
            && rotator.as_ref().is_none_or(Rotator::idle);
        if flushed || exit_deadline_passed {
            break;
        }
        if !exit_deadline_armed {
            // Every process is gone; give output and the `crashed` delivery at most a grace period.
            exit_deadline_armed = true;
            let bound = config.grace.max(EXIT_FLOOR);
            if let Err(e) = exit_timer.arm(bound) {
                warn!("arming the exit timer: {e}");
                break;
            }
        }
    }
    // One bound for both: a sink that stopped taking output, and an archive still being written.
    let finish_by = Instant::now() + crate::io::FINISH_TIMEOUT;
    stdio.finish(finish_by);
    if let Some(rot) = &mut rotator {
        rot.finish(finish_by);
    }
    if let Some(h) = &hook {
        if !h.idle() {
            warn!("--web-hook: exiting before the last status was delivered");
        }
    }
    crate::sys::spawn::restore_foreground(pid);
    let exit = sup.exit().unwrap_or(ChildExit::exited(0));
    debug!("exiting with status {}", exit.code);
    Ok(exit)
}

/// The least time output and the last web hook status get once every process is gone, even with
/// `--grace-period 0` (ms): a loopback delivery takes well under 1 ms.
pub const EXIT_FLOOR: Duration = Duration::from_millis(100);
/// How often the poll loop reads the signalfd itself if it could not be put back into epoll.
const SIGNALFD_RETRY: Duration = Duration::from_millis(10);
/// Processes reaped in one pass from which dock treats the exits as a storm (see the loop).
const STORM_REAPED: usize = 16;
/// How long SIGCHLD waits during an exit storm, so zombies gather for one pass (ms).
const STORM_GATHER: Duration = Duration::from_millis(2);
/// The longest window: how late, at most, dock notices the main child's exit during a storm when
/// it waits in rt_sigtimedwait (ms).
const STORM_GATHER_MAX: Duration = Duration::from_millis(32);

/// When a pass reaped `n`: the end of the first gathering window if exits come as a storm: this
/// pass reaped STORM_REAPED or more, or it reaped any within STORM_GATHER of the last pass that
/// did (`last_exit`, updated here).
fn after_storm(n: usize, last_exit: &mut Option<Instant>) -> Option<Instant> {
    if n == 0 {
        return None;
    }
    let now = Instant::now();
    // dock may answer each SIGCHLD within µs (on an idle CPU), so a storm can also show as passes
    // of one or two exits each, in quick succession.
    let close = last_exit
        .replace(now)
        .is_some_and(|t| now.duration_since(t) < STORM_GATHER);
    (n >= STORM_REAPED || close).then(|| now + STORM_GATHER)
}

/// One reaping pass; returns how many processes it reaped.
fn reap(
    sup: &mut Supervisor,
    r: &mut Reactor,
    hook: &mut Option<Hook>,
    ports: &mut Option<Readiness>,
) -> usize {
    let reaped = sup.reap(r);
    if let Some(exit) = reaped.main_exit {
        if let Some(p) = ports {
            p.stop(r);
        }
        if let Some(h) = hook {
            h.send(r, Status::Crashed(exit), Some(sup.pid()));
        }
    }
    reaped.count
}

/// Handles one signal; returns how many processes it reaped (SIGCHLD), else 0.
fn on_signal(
    sig: i32,
    sup: &mut Supervisor,
    stdio: &mut Stdio,
    r: &mut Reactor,
    hook: &mut Option<Hook>,
    ports: &mut Option<Readiness>,
) -> usize {
    match sig {
        // SIGCHLD is ours: it means "reap", never forwarded (tini, catatonit).
        libc::SIGCHLD => return reap(sup, r, hook, ports),
        libc::SIGWINCH if stdio.on_winch() => debug!("SIGWINCH: resized the child's pty"),
        _ => {
            debug!("received {}", signal_name(sig));
            sup.forward(sig);
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storm_is_a_big_pass_or_passes_close_together() {
        let mut last = None;
        assert_eq!(after_storm(0, &mut last), None, "a pass without exits");
        assert_eq!(last, None);
        assert_eq!(after_storm(1, &mut last), None, "one exit alone");
        // A second exit at once (well within 2 ms) makes a storm.
        assert!(after_storm(1, &mut last).is_some());
        // An exit long after the last one does not.
        let mut old = Some(Instant::now() - STORM_GATHER * 10);
        assert_eq!(after_storm(2, &mut old), None);
        assert!(after_storm(STORM_REAPED, &mut None).is_some());
    }
}
