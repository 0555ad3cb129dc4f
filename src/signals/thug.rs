//! The `--thug` rule, pure: what a stop signal becomes given the main child's signal masks (read from
//! `/proc/<pid>/status` by [`crate::procfs`]).
//!
//! Registers nothing.

use std::time::Duration;

use crate::procfs::{parse_status_masks, parse_status_pending};

/// The stop signals `--thug` escalates: what `docker stop`, ^C and ^\ send.
pub const STOP_SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGQUIT];

/// How long a blocked stop signal may stay pending before `--thug` sends SIGKILL (ms).
pub const THUG_RECHECK: Duration = Duration::from_millis(100);

/// What `--thug` does with a signal, from the main child's masks at the moment it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thug {
    /// Not a stop signal, or the child neither blocks nor ignores it: forward it.
    Forward,
    /// A stop signal the child ignores (`SigIgn`): it would never act on it, so SIGKILL instead.
    Kill,
    /// A stop signal the child blocks but does not ignore: forward it, and send SIGKILL only if it is
    /// still blocked and pending [`THUG_RECHECK`] later ([`still_refused`]). Programs block signals
    /// for a moment all the time (a shell's `wait` does, between `sigprocmask` and `sigsuspend`).
    Recheck,
}

/// `--thug`'s verdict for `sig` given the child's `(SigBlk, SigIgn)` masks.
pub fn thug_verdict(sig: i32, masks: (u64, u64)) -> Thug {
    if !STOP_SIGNALS.contains(&sig) || !(1..=64).contains(&sig) {
        return Thug::Forward;
    }
    let bit = 1u64 << (sig - 1);
    if masks.1 & bit != 0 {
        Thug::Kill
    } else if masks.0 & bit != 0 {
        Thug::Recheck
    } else {
        Thug::Forward
    }
}

/// Whether a `/proc/<pid>/status` text shows stop signal `sig` still blocked and pending: the
/// [`Thug::Recheck`] case that becomes SIGKILL.
pub fn still_refused(sig: i32, status: &str) -> bool {
    if !(1..=64).contains(&sig) {
        return false;
    }
    let bit = 1u64 << (sig - 1);
    parse_status_masks(status).is_some_and(|(blk, _)| blk & bit != 0)
        && parse_status_pending(status) & bit != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tsleep\nSigQ:\t0/63388\nSigPnd:\t0000000000000000\n\
        ShdPnd:\t0000000000000000\nSigBlk:\t0000000000000002\nSigIgn:\t0000000000004000\n\
        SigCgt:\t0000000000000000\n";

    #[test]
    fn thug_kills_for_ignored_and_rechecks_blocked_stop_signals() {
        let (blk, ign) = parse_status_masks(STATUS).unwrap();
        // SIGINT (2) is blocked: bit 1.
        assert_eq!(thug_verdict(libc::SIGINT, (blk, ign)), Thug::Recheck);
        // SIGTERM (15) is ignored: bit 14.
        assert_eq!(thug_verdict(libc::SIGTERM, (blk, ign)), Thug::Kill);
        assert_eq!(thug_verdict(libc::SIGQUIT, (blk, ign)), Thug::Forward);
        // Ignored and blocked: ignored wins, it can never act on it.
        assert_eq!(
            thug_verdict(libc::SIGTERM, (u64::MAX, u64::MAX)),
            Thug::Kill
        );
        // Not a stop signal, even if blocked.
        assert_eq!(thug_verdict(libc::SIGHUP, (u64::MAX, 0)), Thug::Forward);
        assert_eq!(thug_verdict(0, (u64::MAX, u64::MAX)), Thug::Forward);
    }

    #[test]
    fn a_blocked_stop_signal_is_refused_only_while_it_stays_pending() {
        let pending = STATUS.replace("SigPnd:\t0000000000000000", "SigPnd:\t0000000000000002");
        assert!(still_refused(libc::SIGINT, &pending));
        let shared = STATUS.replace("ShdPnd:\t0000000000000000", "ShdPnd:\t0000000000000002");
        assert!(still_refused(libc::SIGINT, &shared));
        // Taken meanwhile (nothing pending), or unblocked meanwhile.
        assert!(!still_refused(libc::SIGINT, STATUS));
        let unblocked = pending.replace("SigBlk:\t0000000000000002", "SigBlk:\t0000000000000000");
        assert!(!still_refused(libc::SIGINT, &unblocked));
        assert!(!still_refused(0, &pending));
    }
}
