//! A one-shot monotonic timerfd (`timerfd_create(2)`), armed for a relative deadline and drained when it
//! fires. Every deadline dock has (kill escalation, rotation, hook timeout, port polling) is one of these,
//! registered with the reactor; an unarmed timer never wakes the loop.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

/// An owned timerfd on `CLOCK_MONOTONIC`, `TFD_NONBLOCK|TFD_CLOEXEC`.
#[derive(Debug)]
pub struct Timer(TimerFd);

impl Timer {
    /// A new, unarmed timer.
    ///
    /// # Errors
    /// `timerfd_create` failing (EMFILE, ENOMEM).
    pub fn new() -> io::Result<Timer> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        Ok(Timer(fd))
    }

    /// Arms the timer to fire once, `after` from now. A zero duration is rounded up to 1 ns: a zero
    /// `it_value` would disarm the timer instead (timerfd_settime(2)).
    ///
    /// # Errors
    /// `timerfd_settime` failing (EINVAL for an out-of-range value).
    pub fn arm(&self, after: Duration) -> io::Result<()> {
        let after = after.max(Duration::from_nanos(1));
        self.0.set(
            Expiration::OneShot(TimeSpec::from_duration(after)),
            TimerSetTimeFlags::empty(),
        )?;
        Ok(())
    }

    /// Arms the timer to fire every `period`, first after one `period`.
    ///
    /// # Errors
    /// As [`Timer::arm`].
    pub fn arm_periodic(&self, period: Duration) -> io::Result<()> {
        let period = period.max(Duration::from_nanos(1));
        self.0.set(
            Expiration::Interval(TimeSpec::from_duration(period)),
            TimerSetTimeFlags::empty(),
        )?;
        Ok(())
    }

    /// Disarms the timer; a pending expiry stays readable until [`Timer::drain`].
    ///
    /// # Errors
    /// `timerfd_settime` failing.
    pub fn disarm(&self) -> io::Result<()> {
        self.0.unset()?;
        Ok(())
    }

    /// Reads the expiry count, returning whether the timer fired since the last drain.
    pub fn drain(&self) -> bool {
        let mut buf = [0u8; 8];
        matches!(nix::unistd::read(self.0.as_fd(), &mut buf), Ok(8))
    }
}

impl AsFd for Timer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for Timer {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reactor::{Reactor, Source};
    use mio::Interest;

    #[test]
    fn fires_once_through_the_reactor() {
        let mut r = Reactor::new().unwrap();
        let t = Timer::new().unwrap();
        let tok = r
            .add_fd(t.as_raw_fd(), Source::TeardownTimer, Interest::READABLE)
            .unwrap();
        assert!(!t.drain(), "an unarmed timer has nothing to read");
        t.arm(Duration::from_millis(5)).unwrap();
        let evs = r.poll(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].token, tok);
        assert!(t.drain());
        assert!(!t.drain());
        // One-shot: nothing more arrives.
        assert!(r.poll(Some(Duration::from_millis(30))).unwrap().is_empty());
    }
}
