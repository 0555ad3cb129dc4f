//! `--log-rotate`'s schedule on the wall clock: the next rotation as Unix seconds
//! ([`crate::rotate::clock::next_rotation`]: UTC boundaries for periods that divide a day, counted
//! from dock's start otherwise), turned into a loop deadline. When the deadline passes, the wall
//! clock has the last word: a deadline reached before the boundary (the clock was set back) waits
//! for the rest. `-d` says when each next rotation is due.
//!
//! Registers nothing.

use std::time::{Duration, Instant};

use crate::rotate::clock::{next_rotation, unix_now as now};

/// When the next timed rotation is due.
#[derive(Debug)]
pub struct Schedule {
    /// The period, whole seconds (≥ 1).
    period: u64,
    /// dock's start, Unix seconds: periods that do not divide a day count from it.
    start: u64,
    /// The next boundary (Unix seconds) and the loop deadline for it.
    due: Option<(u64, Instant)>,
}

impl Schedule {
    /// A schedule for `period` starting now.
    pub fn new(period: Duration) -> Schedule {
        Schedule {
            period: period.as_secs().max(1),
            start: now().as_secs(),
            due: None,
        }
    }

    /// The deadline of the next rotation (the first call computes it from now).
    pub fn next(&mut self) -> Instant {
        match self.due {
            Some((_, at)) => at,
            None => self.set(now().as_secs()),
        }
    }

    /// The deadline passed (`_at`: the loop's time): true when the wall clock has reached the
    /// boundary, and the schedule moves to the one after it; false when the boundary is still
    /// ahead (the deadline is moved to it).
    pub fn due(&mut self, _at: Instant) -> bool {
        let Some((due, _)) = self.due else {
            self.set(now().as_secs());
            return false;
        };
        let wall = now();
        let boundary = Duration::from_secs(due);
        if wall < boundary {
            self.due = Some((due, Instant::now() + (boundary - wall)));
            return false;
        }
        // From the later of the clock and the boundary just served (clock.rs: a deadline may be
        // served a little early), so the same boundary never comes twice.
        self.set(wall.as_secs().max(due));
        true
    }

    /// Computes the next boundary after `from` (Unix seconds) and its deadline.
    fn set(&mut self, from: u64) -> Instant {
        let next = next_rotation(self.start, from, self.period);
        let left = Duration::from_secs(next).saturating_sub(now());
        let at = Instant::now()
            .checked_add(left)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 86_400));
        self.due = Some((next, at));
        if crate::log::debug_enabled() {
            crate::debug!(
                "--log-rotate: next rotation at {} (in {})",
                utc(next),
                crate::log::seconds(left)
            );
        }
        at
    }
}

/// `secs` (Unix) as `2026-12-02T16:00:00Z`.
fn utc(secs: u64) -> String {
    let s = crate::rotate::name::stamp(secs);
    let d = |div: u64, m: u64| s / div % m;
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        s / 10_000_000_000,
        d(100_000_000, 100),
        d(1_000_000, 100),
        d(10_000, 100),
        d(100, 100),
        s % 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_that_divides_a_day_is_due_on_its_boundary() {
        let mut s = Schedule::new(Duration::from_secs(3600));
        let at = s.next();
        let (due, _) = s.due.unwrap();
        assert_eq!(due % 3600, 0, "on the hour");
        assert!(due > now().as_secs() && due <= now().as_secs() + 3600);
        assert!(at > Instant::now());
        // The deadline is served before the boundary (a clock set back): nothing due yet.
        assert!(!s.due(Instant::now()));
        assert_eq!(s.due.unwrap().0, due);
    }

    #[test]
    fn times_for_the_debug_line() {
        assert_eq!(utc(1_796_227_200), "2026-12-02T16:00:00Z");
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn other_periods_count_from_the_start() {
        let mut s = Schedule::new(Duration::from_secs(7 * 60));
        s.next();
        assert_eq!(s.due.unwrap().0, s.start + 7 * 60);
    }
}
