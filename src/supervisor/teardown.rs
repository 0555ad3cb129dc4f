//! The teardown phases as a pure transition function (no processes, no clock of its own): the
//! supervisor feeds it what happened and carries out the [`Action`]s it returns.
//!
//! `Running` (main child alive) → `Draining` (main child reaped: SIGTERM to every remaining process,
//! waiting up to the grace period) → `Killed` (grace period over: SIGKILL, again every
//! [`KILL_RECHECK`], waiting up to [`KILL_BOUND`]) → `Done` (nothing left, nothing reachable, or the
//! bound passed). Only the main child's death, or a stop asked for while it runs ([`Input::Stop`]:
//! `--ready-timeout`), leaves `Running`; an orphan's death is just reaped. A stop sends SIGTERM to
//! the main child and the rest at once and starts the grace period; the main child's death during it
//! changes nothing (the rest got its SIGTERM already).
//!
//! Registers nothing.

use std::time::{Duration, Instant};

/// After SIGKILL, how long dock waits for the last processes to be reaped before it exits anyway (a
/// process stuck in uninterruptible sleep cannot die; as PID 1 our exit makes the kernel kill it).
pub const KILL_BOUND: Duration = Duration::from_secs(2);

/// While processes are left after SIGKILL, how often dock looks for more and sends SIGKILL again
/// (ms): outside PID 1 the processes are found by walking `/proc`, and one that a parent forked
/// after the walk reached it, or that was re-parented to dock since, got no SIGKILL yet.
pub const KILL_RECHECK: Duration = Duration::from_millis(20);

/// Where teardown is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The main child runs.
    Running,
    /// The main child exited (or a stop was asked for); SIGTERM goes (or went) to the rest; waiting
    /// up to the grace period.
    Draining,
    /// SIGKILL sent to the rest at `since`, and again every [`KILL_RECHECK`].
    Killed {
        /// When the grace period's SIGKILL went out.
        since: Instant,
    },
    /// Nothing is left (or the bound passed): dock may exit once output and hook are flushed.
    Done,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The main child was reaped (during a pass).
    MainExited,
    /// Stop everything although the main child runs (`Notice::Stop`).
    Stop,
    /// A reaping pass ended: `waitpid` said 0 (`children_left`) or ECHILD (none at all).
    PassEnded {
        /// Children remain, none has exited.
        children_left: bool,
    },
    /// The deadline of the last [`Action::Arm`] passed.
    Deadline(Instant),
    /// The last [`Action::Signal`] was carried out: `reached` is false when nothing could be
    /// reached any more (another namespace's `/proc` and the main child's process group gone).
    Signalled {
        /// Something was (or may have been) signalled.
        reached: bool,
        /// When.
        now: Instant,
    },
}

/// What the supervisor must do, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send this signal (SIGTERM or SIGKILL) to every remaining process, then report
    /// [`Input::Signalled`].
    Signal(i32),
    /// Arm the teardown deadline this long from now.
    Arm(Duration),
    /// Disarm the teardown deadline.
    Disarm,
    /// Teardown is over, for this reason.
    Finished(End),
}

/// Why teardown ended (each is logged differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Every process is reaped.
    NoneLeft,
    /// Nothing more can be reached (the main child's process group is gone and `/proc` is another
    /// namespace's).
    Unreachable,
    /// Processes were still not reaped [`KILL_BOUND`] after SIGKILL.
    KillBound,
}

/// The teardown state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Teardown {
    phase: Phase,
    grace: Duration,
    /// The main child was reaped in the current pass: the rest gets SIGTERM at the pass's end, and
    /// only if processes remain.
    term_due: bool,
}

impl Teardown {
    /// A machine in `Running`; `grace` is the time between SIGTERM and SIGKILL.
    pub fn new(grace: Duration) -> Teardown {
        Teardown {
            phase: Phase::Running,
            grace,
            term_due: false,
        }
    }

    /// The time between SIGTERM and SIGKILL.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The transition: the new phase is kept, the actions returned.
    pub fn step(&mut self, input: Input) -> Vec<Action> {
        use Action::*;
        match (self.phase, input) {
            (Phase::Done, _) => vec![],
            (Phase::Running, Input::MainExited) => {
                self.phase = Phase::Draining;
                self.term_due = true;
                vec![]
            }
            // The main child is among the processes signalled; its reaping later is just a pass.
            (Phase::Running, Input::Stop) => {
                self.phase = Phase::Draining;
                vec![Signal(libc::SIGTERM)]
            }
            (
                _,
                Input::PassEnded {
                    children_left: true,
                },
            ) if self.term_due => {
                self.term_due = false;
                vec![Signal(libc::SIGTERM)]
            }
            // ECHILD with no child left: nothing to signal or wait for; a deadline was armed only if
            // SIGTERM went out in an earlier pass.
            (
                Phase::Draining | Phase::Killed { .. },
                Input::PassEnded {
                    children_left: false,
                },
            ) => {
                let armed = !std::mem::take(&mut self.term_due);
                self.phase = Phase::Done;
                match armed {
                    true => vec![Disarm, Finished(End::NoneLeft)],
                    false => vec![Finished(End::NoneLeft)],
                }
            }
            (_, Input::Signalled { reached: false, .. }) => {
                self.phase = Phase::Done;
                vec![Finished(End::Unreachable)]
            }
            (Phase::Draining, Input::Signalled { reached: true, .. }) => vec![Arm(self.grace)],
            (Phase::Killed { since }, Input::Signalled { reached: true, now }) => {
                let left = KILL_BOUND.saturating_sub(now.saturating_duration_since(since));
                vec![Arm(KILL_RECHECK.min(left).max(Duration::from_millis(1)))]
            }
            (Phase::Draining, Input::Deadline(now)) => {
                self.phase = Phase::Killed { since: now };
                vec![Signal(libc::SIGKILL)]
            }
            (Phase::Killed { since }, Input::Deadline(now)) => {
                if now.saturating_duration_since(since) < KILL_BOUND {
                    vec![Signal(libc::SIGKILL)]
                } else {
                    self.phase = Phase::Done;
                    vec![Finished(End::KillBound)]
                }
            }
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Action::*;
    use super::*;

    const GRACE: Duration = Duration::from_secs(5);

    fn ended(children_left: bool) -> Input {
        Input::PassEnded { children_left }
    }

    fn signalled(reached: bool, now: Instant) -> Input {
        Input::Signalled { reached, now }
    }

    /// Runs `inputs` from `Running`; each row: the input, the actions, the phase after.
    fn table(rows: &[(Input, Vec<Action>, Phase)]) {
        let mut t = Teardown::new(GRACE);
        for (i, (input, actions, phase)) in rows.iter().enumerate() {
            assert_eq!(&t.step(*input), actions, "row {i}: {input:?}");
            assert_eq!(t.phase(), *phase, "row {i}: {input:?}");
        }
    }

    #[test]
    fn orphans_alone_change_nothing() {
        table(&[
            (ended(true), vec![], Phase::Running),
            (ended(false), vec![], Phase::Running),
        ]);
    }

    #[test]
    fn the_main_child_alone_ends_it_with_no_signal_or_deadline() {
        table(&[
            (Input::MainExited, vec![], Phase::Draining),
            (ended(false), vec![Finished(End::NoneLeft)], Phase::Done),
        ]);
    }

    #[test]
    fn leftovers_get_sigterm_then_the_grace_period_then_sigkill_rounds() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        table(&[
            (Input::MainExited, vec![], Phase::Draining),
            (ended(true), vec![Signal(libc::SIGTERM)], Phase::Draining),
            (signalled(true, t0), vec![Arm(GRACE)], Phase::Draining),
            // Orphans reaped meanwhile: no second SIGTERM.
            (ended(true), vec![], Phase::Draining),
            (
                Input::Deadline(at(5000)),
                vec![Signal(libc::SIGKILL)],
                Phase::Killed { since: at(5000) },
            ),
            (
                signalled(true, at(5000)),
                vec![Arm(KILL_RECHECK)],
                Phase::Killed { since: at(5000) },
            ),
            (
                Input::Deadline(at(5020)),
                vec![Signal(libc::SIGKILL)],
                Phase::Killed { since: at(5000) },
            ),
            // Near the bound the recheck shrinks to what is left, never below 1 ms.
            (
                signalled(true, at(6990)),
                vec![Arm(Duration::from_millis(10))],
                Phase::Killed { since: at(5000) },
            ),
            (
                signalled(true, at(7000)),
                vec![Arm(Duration::from_millis(1))],
                Phase::Killed { since: at(5000) },
            ),
            (
                Input::Deadline(at(7000)),
                vec![Finished(End::KillBound)],
                Phase::Done,
            ),
            (Input::Deadline(at(9000)), vec![], Phase::Done),
        ]);
    }

    #[test]
    fn everything_reaped_during_the_grace_period_disarms_and_ends() {
        let t0 = Instant::now();
        table(&[
            (Input::MainExited, vec![], Phase::Draining),
            (ended(true), vec![Signal(libc::SIGTERM)], Phase::Draining),
            (signalled(true, t0), vec![Arm(GRACE)], Phase::Draining),
            (
                ended(false),
                vec![Disarm, Finished(End::NoneLeft)],
                Phase::Done,
            ),
        ]);
    }

    #[test]
    fn nothing_reachable_ends_at_once() {
        let t0 = Instant::now();
        table(&[
            (Input::MainExited, vec![], Phase::Draining),
            (ended(true), vec![Signal(libc::SIGTERM)], Phase::Draining),
            (
                signalled(false, t0),
                vec![Finished(End::Unreachable)],
                Phase::Done,
            ),
        ]);
    }

    #[test]
    fn a_stop_signals_everything_at_once_and_the_main_childs_death_changes_nothing() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        table(&[
            // Orphans reaped before: still running.
            (ended(true), vec![], Phase::Running),
            (Input::Stop, vec![Signal(libc::SIGTERM)], Phase::Draining),
            (signalled(true, t0), vec![Arm(GRACE)], Phase::Draining),
            // A second stop, the main child's death and the pass after it: no second SIGTERM, the
            // grace period runs on.
            (Input::Stop, vec![], Phase::Draining),
            (Input::MainExited, vec![], Phase::Draining),
            (ended(true), vec![], Phase::Draining),
            (
                Input::Deadline(at(5000)),
                vec![Signal(libc::SIGKILL)],
                Phase::Killed { since: at(5000) },
            ),
            (
                signalled(true, at(5000)),
                vec![Arm(KILL_RECHECK)],
                Phase::Killed { since: at(5000) },
            ),
            (
                ended(false),
                vec![Disarm, Finished(End::NoneLeft)],
                Phase::Done,
            ),
        ]);
    }

    #[test]
    fn a_stop_whose_processes_all_end_in_the_grace_period_disarms_and_ends() {
        let t0 = Instant::now();
        table(&[
            (Input::Stop, vec![Signal(libc::SIGTERM)], Phase::Draining),
            (signalled(true, t0), vec![Arm(GRACE)], Phase::Draining),
            (Input::MainExited, vec![], Phase::Draining),
            (
                ended(false),
                vec![Disarm, Finished(End::NoneLeft)],
                Phase::Done,
            ),
        ]);
        // After the main child's own death a stop is too late: nothing happens.
        table(&[
            (Input::MainExited, vec![], Phase::Draining),
            (Input::Stop, vec![], Phase::Draining),
            (ended(true), vec![Signal(libc::SIGTERM)], Phase::Draining),
        ]);
    }

    #[test]
    fn a_sigkill_round_that_reaches_nothing_ends_too() {
        let t0 = Instant::now();
        let mut t = Teardown::new(Duration::ZERO);
        t.step(Input::MainExited);
        assert_eq!(t.step(ended(true)), [Signal(libc::SIGTERM)]);
        assert_eq!(t.step(signalled(true, t0)), [Arm(Duration::ZERO)]);
        assert_eq!(t.step(Input::Deadline(t0)), [Signal(libc::SIGKILL)]);
        assert_eq!(t.step(signalled(false, t0)), [Finished(End::Unreachable)]);
        assert_eq!(t.phase(), Phase::Done);
    }
}
