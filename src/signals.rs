//! Signal mask setup, the signalfd, the forwarding policy and the `--thug` rule.
//!
//! dock blocks every signal except the fault signals (a fault in dock itself must still kill it with a
//! core, as in tini) and reads them from a signalfd (signalfd(2)), so a signal is never lost between
//! two poll calls and never interrupts a handler. The child gets the original mask back (`sys::spawn`).
//!
//! Registers: the signalfd as `Source::Signals`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
use std::os::fd::OwnedFd;

use nix::sys::signal::Signal;

/// The mask dock had before blocking, handed back to the child (`sigset_t`).
pub type OrigMask = libc::sigset_t;

/// Signals left unblocked: synchronous faults, which a blocked mask would turn into an instant kill
/// without a core anyway (signal(7): blocking SIGSEGV & co. while they are raised is undefined).
pub const FAULT_SIGNALS: [Signal; 7] = [
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGFPE,
    Signal::SIGILL,
    Signal::SIGABRT,
    Signal::SIGTRAP,
    Signal::SIGSYS,
];

/// The stop signals `--thug` escalates: what `docker stop`, ^C and ^\ send.
pub const STOP_SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGQUIT];

/// The kernel mask dock blocks and reads: every signal 1–64 but [`FAULT_SIGNALS`] (bit S-1 for
/// signal S). Built by hand, not with `sigfillset(3)`: glibc (and musl) leave out the signals they
/// reserve for themselves (32, 33; musl also 34), so a `kill -32` would kill dock instead of
/// reaching the child. dock never uses thread cancellation or set*id, which is what those are for.
/// SIGKILL and SIGSTOP are in the set; the kernel ignores them there.
pub fn blocked_bits() -> u64 {
    let mut bits = u64::MAX;
    for s in FAULT_SIGNALS {
        bits &= !(1u64 << (s as i32 - 1));
    }
    bits
}

/// Blocks every signal but [`FAULT_SIGNALS`] and returns the previous mask (for the child); makes
/// sure SIGCHLD is not ignored (see [`crate::sys::default_sigchld`]).
///
/// # Errors
/// `rt_sigprocmask` or `rt_sigaction` failing (they do not, for valid arguments).
pub fn block_all() -> io::Result<OrigMask> {
    let old = crate::sys::spawn::current_mask()?;
    crate::sys::block_signals(blocked_bits())?;
    crate::sys::default_sigchld()?;
    Ok(old)
}

/// The signalfd over the blocked set, non-blocking and close-on-exec.
#[derive(Debug)]
pub struct Signals(OwnedFd);

impl Signals {
    /// Opens the signalfd. Signals that arrived since [`block_all`] are pending and will be read.
    ///
    /// # Errors
    /// `signalfd` failing (EMFILE, ENOMEM).
    pub fn new() -> io::Result<Signals> {
        Ok(Signals(crate::sys::signalfd(blocked_bits())?))
    }

    /// Sleeps until a signal is pending and takes it (`rt_sigtimedwait(2)`), for when only a signal
    /// can need dock: one system call per forwarded signal instead of `epoll_wait` plus `read`, as
    /// tini and dumb-init wait. The kernel dequeues in the same order as from the signalfd. `None`:
    /// `timeout` passed (`None`: no limit), interrupted (EINTR, a stop/continue of dock itself), or
    /// dock's own SIGPIPE (see `keep`).
    ///
    /// # Errors
    /// Any other `rt_sigtimedwait` failure; the caller then uses the poll loop.
    ///
    /// `hold_sigchld`: leave SIGCHLD pending (a later call without it takes it): how dock lets an
    /// exit storm's zombies gather (see `app`).
    pub fn wait(
        &mut self,
        timeout: Option<Duration>,
        hold_sigchld: bool,
    ) -> io::Result<Option<i32>> {
        let bits = if hold_sigchld {
            blocked_bits() & !(1 << (libc::SIGCHLD - 1))
        } else {
            blocked_bits()
        };
        match crate::sys::wait_signal(bits, timeout) {
            Ok((sig, pid)) => Ok(keep_signal(sig, pid)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads every pending signal, in the order the kernel dequeues them: standard signals pending at
    /// once come lowest number first and coalesce (signal(7)).
    ///
    /// One `read(2)` takes up to [`BATCH`] `signalfd_siginfo` records (signalfd(2)); a short read means
    /// the queue is empty, which is what edge-triggered epoll needs, without a second read that
    /// only returns EAGAIN.
    pub fn drain(&mut self) -> Vec<i32> {
        let mut out = Vec::new();
        let mut buf = [0u8; SIGINFO_SIZE * BATCH];
        loop {
            match nix::unistd::read(self.0.as_fd(), &mut buf) {
                Ok(n) => {
                    for rec in buf[..n].chunks_exact(SIGINFO_SIZE) {
                        if let Some(sig) = keep(rec) {
                            out.push(sig);
                        }
                    }
                    if n < buf.len() {
                        break;
                    }
                }
                Err(Errno::EAGAIN) => break,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    crate::warn!("reading signalfd: {e}");
                    break;
                }
            }
        }
        out
    }
}

/// `sizeof(struct signalfd_siginfo)` (include/uapi/linux/signalfd.h): fixed at 128 bytes.
const SIGINFO_SIZE: usize = 128;

/// Records per read: more pending signals than this just take another read.
pub const BATCH: usize = 16;

/// The signal number of one `signalfd_siginfo` record (`ssi_signo` at offset 0, `ssi_pid` at 12,
/// native byte order), or `None` for a SIGPIPE that dock raised in itself: a write to a closed pipe
/// raises SIGPIPE in the writer (pipe(7)), here dock's relay, which handles EPIPE itself. Dropped
/// silently: logging it would write to the same dead pipe and raise the next one, a loop that never
/// sleeps.
fn keep(rec: &[u8]) -> Option<i32> {
    let field = |at: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(rec.get(at..at + 4)?);
        Some(u32::from_ne_bytes(b))
    };
    keep_signal(field(0)? as i32, field(12)?)
}

/// [`keep`] on a signal number and its sender's pid.
fn keep_signal(signo: i32, pid: u32) -> Option<i32> {
    if signo == libc::SIGPIPE && pid == std::process::id() {
        return None;
    }
    Some(signo)
}

impl AsRawFd for Signals {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// The `SigBlk` and `SigIgn` masks of a `/proc/<pid>/status` text (proc(5)): 64 bits each, bit S-1 for
/// signal S. `None` if either line is missing or not hex.
pub fn parse_status_masks(status: &str) -> Option<(u64, u64)> {
    let mut blk = None;
    let mut ign = None;
    for line in status.lines() {
        if let Some(v) = line.strip_prefix("SigBlk:") {
            blk = u64::from_str_radix(v.trim(), 16).ok();
        } else if let Some(v) = line.strip_prefix("SigIgn:") {
            ign = u64::from_str_radix(v.trim(), 16).ok();
        }
    }
    Some((blk?, ign?))
}

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

/// How long a blocked stop signal may stay pending before `--thug` sends SIGKILL (ms).
pub const THUG_RECHECK: std::time::Duration = std::time::Duration::from_millis(100);

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

/// The signals pending for a `/proc/<pid>/status` text: `SigPnd | ShdPnd` (proc(5); a missing or
/// malformed line counts as none pending).
pub fn parse_status_pending(status: &str) -> u64 {
    status
        .lines()
        .filter_map(|l| {
            l.strip_prefix("SigPnd:")
                .or_else(|| l.strip_prefix("ShdPnd:"))
        })
        .filter_map(|v| u64::from_str_radix(v.trim(), 16).ok())
        .fold(0, |acc, m| acc | m)
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

/// Reads the masks of `pid`; `None` if it vanished or the file is unreadable.
pub fn read_masks(pid: i32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_masks(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tsleep\nSigQ:\t0/63388\nSigPnd:\t0000000000000000\n\
        ShdPnd:\t0000000000000000\nSigBlk:\t0000000000000002\nSigIgn:\t0000000000004000\n\
        SigCgt:\t0000000000000000\n";

    #[test]
    fn siginfo_records() {
        assert_eq!(std::mem::size_of::<libc::signalfd_siginfo>(), SIGINFO_SIZE);
        let mut rec = [0u8; SIGINFO_SIZE];
        rec[..4].copy_from_slice(&(libc::SIGPIPE as u32).to_ne_bytes());
        rec[12..16].copy_from_slice(&std::process::id().to_ne_bytes());
        assert_eq!(keep(&rec), None, "dock's own SIGPIPE");
        rec[12..16].copy_from_slice(&(std::process::id() + 1).to_ne_bytes());
        assert_eq!(
            keep(&rec),
            Some(libc::SIGPIPE),
            "someone else's SIGPIPE is forwarded"
        );
        assert_eq!(keep(&rec[..8]), None);
    }

    #[test]
    fn masks_from_proc_status() {
        assert_eq!(parse_status_masks(STATUS), Some((0x2, 0x4000)));
        assert_eq!(parse_status_masks("SigBlk:\tzz\nSigIgn:\t0\n"), None);
        assert_eq!(parse_status_masks(""), None);
        // Realtime signal 64 is the top bit.
        assert_eq!(
            parse_status_masks("SigBlk: ffffffffffffffff\nSigIgn: 0\n"),
            Some((u64::MAX, 0))
        );
    }

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
        assert_eq!(parse_status_pending("SigPnd:\tzz\nShdPnd: 4\n"), 4);
        assert!(!still_refused(0, &pending));
    }
}
