//! When `--log-rotate` rotates: periods that divide a day (`1h`, `30m`, `90m`, `24`, …) on UTC
//! wall-clock boundaries, as logrotate's `daily` run from cron at a fixed time does: a `24` rotates at
//! 00:00 UTC, a `1h` on the hour, whenever dock started. Other periods (`7m`, `48`, `7d`) count from
//! dock's start. Pure arithmetic on Unix seconds; reading the clock and arming the timer are the
//! caller's.
//!
//! Unix time has exactly 86400 seconds a day (leap seconds are not counted, POSIX "Seconds Since the
//! Epoch"), and the epoch is a UTC midnight, so a multiple of a day-dividing period since the epoch
//! is the same multiple since that day's midnight.
//!
//! Registers nothing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The wall-clock time now, since the Unix epoch (0 before it).
pub fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

/// Seconds in a UTC day of Unix time.
pub const DAY_SECS: u64 = 86_400;

/// Whether `period_secs` divides a day (1 s to 86400 s, `86400 % period == 0`), so that its
/// rotations fall on the same wall-clock times every day.
pub fn divides_day(period_secs: u64) -> bool {
    period_secs != 0 && DAY_SECS % period_secs == 0
}

/// The first multiple of `period_secs` since 1970-01-01T00:00:00Z strictly after `now_unix_secs`:
/// the next wall-clock boundary when the period [`divides_day`]. `now` is whole seconds (the
/// fraction cannot change the answer: boundaries are whole seconds). `u64::MAX` for a period of 0
/// (never) or past the end of u64.
///
/// A timer may fire a little early: to re-arm after a rotation, pass the later of the clock and the
/// boundary just served, or the same boundary comes again.
pub fn next_boundary(now_unix_secs: u64, period_secs: u64) -> u64 {
    if period_secs == 0 {
        return u64::MAX;
    }
    (now_unix_secs / period_secs)
        .saturating_add(1)
        .saturating_mul(period_secs)
}

/// The first `start + k·period` (k ≥ 1) strictly after `now`: the schedule of a period that does not
/// divide a day, counted from dock's start. A clock that went back before `start` gets the first
/// one, `start + period`. `u64::MAX` for a period of 0 or past the end of u64.
pub fn next_due(start_unix_secs: u64, now_unix_secs: u64, period_secs: u64) -> u64 {
    if period_secs == 0 {
        return u64::MAX;
    }
    let k = match now_unix_secs.checked_sub(start_unix_secs) {
        Some(elapsed) => elapsed / period_secs + 1,
        None => 1,
    };
    start_unix_secs.saturating_add(k.saturating_mul(period_secs))
}

/// The next rotation for `--log-rotate period_secs` in a dock started at `start_unix_secs`:
/// [`next_boundary`] when the period [`divides_day`], else [`next_due`].
pub fn next_rotation(start_unix_secs: u64, now_unix_secs: u64, period_secs: u64) -> u64 {
    if divides_day(period_secs) {
        next_boundary(now_unix_secs, period_secs)
    } else {
        next_due(start_unix_secs, now_unix_secs, period_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-02T15:04:05Z and the instants around it (from Python's `datetime`).
    const NOW: u64 = 1_796_223_845;
    const MIDNIGHT: u64 = 1_796_169_600; // 2026-12-02T00:00:00Z
    const H: u64 = 3600;
    const M: u64 = 60;

    #[test]
    fn periods_that_divide_a_day() {
        for p in [
            1,
            2,
            5,
            30,
            M,
            15 * M,
            45 * M,
            90 * M,
            H,
            2 * H,
            8 * H,
            12 * H,
            DAY_SECS,
        ] {
            assert!(divides_day(p), "{p}");
        }
        for p in [
            0,
            7,
            7 * M,
            7 * H,
            86_401,
            2 * DAY_SECS,
            7 * DAY_SECS,
            u64::MAX,
        ] {
            assert!(!divides_day(p), "{p}");
        }
        assert_eq!((1..=DAY_SECS).filter(|&p| divides_day(p)).count(), 96);
    }

    #[test]
    fn wall_clock_boundaries() {
        let table: &[(u64, u64, u64)] = &[
            (NOW, H, 1_796_227_200),        // 16:00
            (NOW, 30 * M, 1_796_225_400),   // 15:30
            (NOW, 45 * M, 1_796_226_300),   // 15:45
            (NOW, 90 * M, 1_796_229_000),   // 16:30: 00:00, 01:30, … 15:00, 16:30
            (NOW, DAY_SECS, 1_796_256_000), // 2026-12-03T00:00
            (NOW, 1, NOW + 1),
            // Exactly on a boundary: the next one, never now.
            (MIDNIGHT, DAY_SECS, MIDNIGHT + DAY_SECS),
            (MIDNIGHT, H, MIDNIGHT + H),
            (MIDNIGHT - 1, DAY_SECS, MIDNIGHT),
            (0, H, H),
            (0, 0, u64::MAX),
            (u64::MAX, H, u64::MAX),
            (u64::MAX - 1, 1, u64::MAX),
        ];
        for &(now, p, want) in table {
            assert_eq!(next_boundary(now, p), want, "now {now} period {p}");
        }
    }

    #[test]
    fn other_periods_count_from_the_start() {
        let start = NOW - 100;
        let table: &[(u64, u64, u64, u64)] = &[
            (start, start, 7 * M, start + 7 * M),
            (start, NOW, 7 * M, start + 7 * M),
            (start, start + 7 * M - 1, 7 * M, start + 7 * M),
            (start, start + 7 * M, 7 * M, start + 14 * M),
            (
                start,
                start + 10 * DAY_SECS,
                2 * DAY_SECS,
                start + 12 * DAY_SECS,
            ),
            // The clock went back before the start.
            (start, start - 5000, 7 * H, start + 7 * H),
            (start, NOW, 0, u64::MAX),
            (u64::MAX - 5, u64::MAX, 7, u64::MAX),
        ];
        for &(s, now, p, want) in table {
            assert_eq!(next_due(s, now, p), want, "start {s} now {now} period {p}");
        }
    }

    #[test]
    fn the_schedule_picks_by_period() {
        let start = NOW - 100;
        // A day from the start would be 15:02:45 tomorrow; a dividing period goes to midnight.
        assert_eq!(next_rotation(start, NOW, DAY_SECS), MIDNIGHT + DAY_SECS);
        assert_eq!(next_rotation(start, NOW, H), 1_796_227_200);
        assert_eq!(next_rotation(start, NOW, 7 * M), start + 7 * M);
        assert_eq!(
            next_rotation(start, NOW, 2 * DAY_SECS),
            start + 2 * DAY_SECS
        );
        assert_eq!(next_rotation(start, NOW, 0), u64::MAX);
        // Re-arming from the boundary just served when the timer fired 1 ms early (whole second
        // before it): the later of the two gives the following boundary.
        let served = 1_796_227_200;
        assert_eq!(
            next_rotation(start, (served - 1).max(served), H),
            served + H
        );
    }
}
