//! The loop's deadlines: at most one per (handler, key), kept in one small list; the loop sleeps until
//! the nearest. No timerfd: `epoll_wait`'s (or `rt_sigtimedwait`'s) own timeout is the timer, so an
//! armed deadline costs no fd and no syscall, and none armed means the loop sleeps without limit.
//!
//! Registers nothing.

use std::time::Instant;

use super::Key;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Deadline {
    at: Instant,
    owner: usize,
    key: Key,
}

/// The armed deadlines, in no particular order (a handful at most).
#[derive(Debug, Default)]
pub(super) struct Deadlines(Vec<Deadline>);

impl Deadlines {
    /// Arms (or moves) `owner`'s deadline `key` to `at`.
    pub(super) fn arm(&mut self, owner: usize, key: Key, at: Instant) {
        match self.0.iter_mut().find(|d| d.owner == owner && d.key == key) {
            Some(d) => d.at = at,
            None => self.0.push(Deadline { at, owner, key }),
        }
    }

    /// Disarms `owner`'s deadline `key`, if armed.
    pub(super) fn disarm(&mut self, owner: usize, key: Key) {
        self.0.retain(|d| !(d.owner == owner && d.key == key));
    }

    /// When `owner`'s deadline `key` is due, if armed.
    #[cfg(test)]
    pub(super) fn get(&self, owner: usize, key: Key) -> Option<Instant> {
        self.0
            .iter()
            .find(|d| d.owner == owner && d.key == key)
            .map(|d| d.at)
    }

    /// The nearest deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.0.iter().map(|d| d.at).min()
    }

    /// Takes the earliest deadline at or before `now`: `(owner, key)`. One at a time, so a handler
    /// that disarms another of its deadlines while handling this one is obeyed.
    pub(super) fn take_due(&mut self, now: Instant) -> Option<(usize, Key)> {
        let (i, d) = self
            .0
            .iter()
            .enumerate()
            .filter(|(_, d)| d.at <= now)
            .min_by_key(|(_, d)| d.at)?;
        let due = (d.owner, d.key);
        self.0.swap_remove(i);
        Some(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn earliest_first_one_per_key_and_rearming_moves() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut d = Deadlines::default();
        assert_eq!(d.next(), None);
        d.arm(0, 1, t0 + ms(30));
        d.arm(1, 1, t0 + ms(10));
        d.arm(0, 2, t0 + ms(20));
        d.arm(0, 1, t0 + ms(5)); // moved, not added
        assert_eq!(d.next(), Some(t0 + ms(5)));
        assert_eq!(d.take_due(t0), None);
        let now = t0 + ms(25);
        assert_eq!(d.take_due(now), Some((0, 1)));
        assert_eq!(d.take_due(now), Some((1, 1)));
        d.disarm(0, 2);
        assert_eq!(d.take_due(now), None);
        assert_eq!(d.next(), None);
    }
}
