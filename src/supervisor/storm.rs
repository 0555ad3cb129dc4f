//! Exit-storm batching, pure: when many orphans die at once, SIGCHLD waits for the end of a short
//! window so the next reaping pass finds a batch.
//!
//! Why: every `waitpid` scans dock's children up to the first zombie, and the last one of a pass,
//! which finds none, scans them all (kernel/exit.c `do_wait`). Answering each exit alone costs a scan
//! of thousands per zombie; each window costs one. A storm starts after a pass that reaped
//! [`STORM_REAPED`] or more, or two passes with exits less than [`STORM_GATHER`] apart (dock may
//! answer each SIGCHLD within µs on an idle CPU, so a storm can also show as quick passes of one or
//! two); the window doubles (up to [`STORM_GATHER_MAX`]) while passes still find zombies. Other
//! signals are forwarded meanwhile.
//!
//! Registers nothing.

use std::time::{Duration, Instant};

/// Processes reaped in one pass from which dock treats the exits as a storm.
pub const STORM_REAPED: usize = 16;
/// How long SIGCHLD waits at first during an exit storm, so zombies gather for one pass (ms).
pub const STORM_GATHER: Duration = Duration::from_millis(2);
/// The longest window: how late, at most, dock notices the main child's exit during a storm when
/// it waits in rt_sigtimedwait (ms).
pub const STORM_GATHER_MAX: Duration = Duration::from_millis(32);

/// The storm state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Storm {
    /// The end of the current window, while a storm lasts.
    end: Option<Instant>,
    window: Duration,
    /// The last pass that reaped anything.
    last_exit: Option<Instant>,
    /// A SIGCHLD was held back during the window.
    reap_due: bool,
}

impl Default for Storm {
    fn default() -> Self {
        Storm {
            end: None,
            window: STORM_GATHER,
            last_exit: None,
            reap_due: false,
        }
    }
}

impl Storm {
    /// A storm lasts: SIGCHLD is held until the window's end.
    pub fn active(&self) -> bool {
        self.end.is_some()
    }

    /// A SIGCHLD arrived: true to reap now, false when it waits for the window's end.
    pub fn on_sigchld(&mut self) -> bool {
        if self.active() {
            self.reap_due = true;
            return false;
        }
        true
    }

    /// A pass outside a window reaped `n` at `now`: the end of the first window when this makes a
    /// storm, and the storm starts.
    pub fn after_pass(&mut self, n: usize, now: Instant) -> Option<Instant> {
        if n == 0 {
            return None;
        }
        let close = self
            .last_exit
            .replace(now)
            .is_some_and(|t| now.saturating_duration_since(t) < STORM_GATHER);
        if self.active() {
            return None;
        }
        if n >= STORM_REAPED || close {
            self.end = Some(now + STORM_GATHER);
        }
        self.end
    }

    /// The window ended: whether a SIGCHLD was held (reap now, then [`Storm::after_window`]).
    pub fn window_ended(&mut self) -> bool {
        std::mem::take(&mut self.reap_due)
    }

    /// The pass at a window's end reaped `n` (0 when none was due): the next window's end while
    /// windows still bring exits (each twice as long), or `None`: the storm is over. Ending on a
    /// quieter window would answer the next exits one by one again, each with a full scan.
    pub fn after_window(&mut self, n: usize, now: Instant) -> Option<Instant> {
        if n > 0 {
            self.window = (self.window * 2).min(STORM_GATHER_MAX);
            self.end = Some(now + self.window);
        } else {
            self.window = STORM_GATHER;
            self.end = None;
        }
        self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storm_is_a_big_pass_or_passes_close_together() {
        let now = Instant::now();
        let mut s = Storm::default();
        assert_eq!(s.after_pass(0, now), None, "a pass without exits");
        assert_eq!(s.after_pass(1, now), None, "one exit alone");
        // A second exit at once (well within 2 ms) makes a storm.
        assert_eq!(s.after_pass(1, now), Some(now + STORM_GATHER));
        let mut s = Storm {
            last_exit: Some(now - STORM_GATHER * 10),
            ..Storm::default()
        };
        assert_eq!(s.after_pass(2, now), None, "long after the last exit");
        assert!(Storm::default().after_pass(STORM_REAPED, now).is_some());
    }

    #[test]
    fn sigchld_waits_for_the_window_and_windows_double_while_exits_come() {
        let t0 = Instant::now();
        let mut s = Storm::default();
        assert!(s.on_sigchld(), "no storm: reap at once");
        assert!(s.after_pass(STORM_REAPED, t0).is_some());
        assert!(!s.on_sigchld(), "held during the window");
        assert!(!s.on_sigchld());
        assert!(s.window_ended(), "one held SIGCHLD for the window");
        let mut ends = vec![];
        let mut now = t0;
        for _ in 0..6 {
            now = s.after_window(5, now).unwrap();
            ends.push(now - t0);
        }
        let ms: Vec<u128> = ends.iter().map(Duration::as_millis).collect();
        assert_eq!(
            ms,
            [4, 12, 28, 60, 92, 124],
            "4, 8, 16, 32, 32, 32 ms windows"
        );
        assert!(!s.window_ended(), "nothing held");
        assert_eq!(
            s.after_window(0, now),
            None,
            "a quiet window ends the storm"
        );
        assert!(!s.active());
        assert!(s.on_sigchld());
        // The next storm starts from the smallest window again.
        assert_eq!(s.after_pass(STORM_REAPED, now), Some(now + STORM_GATHER));
    }
}
