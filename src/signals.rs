//! Signal mask setup, the signalfd, the forwarding policy and the `--thug` rule.
//!
//! dock blocks every signal except the fault signals (a fault in dock itself must still kill it with a
//! core, as in tini) and reads them from a signalfd (signalfd(2)), so a signal is never lost between
//! two poll calls and never interrupts a handler. The child gets the original mask back (`sys::spawn`).
//!
//! Registers: the signalfd as `Source::Signals`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

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

fn blocked_set() -> SigSet {
    let mut set = SigSet::all();
    for s in FAULT_SIGNALS {
        set.remove(s);
    }
    set
}

/// Blocks every signal but [`FAULT_SIGNALS`] and returns the previous mask (for the child).
///
/// # Errors
/// `sigprocmask` failing (it does not, for a valid `how`).
pub fn block_all() -> io::Result<OrigMask> {
    let old = crate::sys::spawn::current_mask()?;
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&blocked_set()), None)?;
    Ok(old)
}

/// The signalfd over the blocked set, non-blocking and close-on-exec.
#[derive(Debug)]
pub struct Signals(SignalFd);

impl Signals {
    /// Opens the signalfd. Signals that arrived since [`block_all`] are pending and will be read.
    ///
    /// # Errors
    /// `signalfd` failing (EMFILE, ENOMEM).
    pub fn new() -> io::Result<Signals> {
        let fd = SignalFd::with_flags(
            &blocked_set(),
            SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC,
        )?;
        Ok(Signals(fd))
    }

    /// Reads every pending signal (edge-triggered: until EAGAIN), in the order the kernel dequeues
    /// them: standard signals pending at once come lowest number first and coalesce (signal(7)).
    pub fn drain(&mut self) -> Vec<i32> {
        let mut out = Vec::new();
        loop {
            match self.0.read_signal() {
                Ok(Some(info)) => {
                    // A write to a closed pipe raises SIGPIPE in the writer (pipe(7)): dock's own
                    // relay, which handles EPIPE itself. That one is not the child's to receive.
                    let own = info.ssi_pid == std::process::id();
                    // Dropped silently: logging it would write to the same dead pipe and raise
                    // the next SIGPIPE, a loop that never sleeps.
                    if info.ssi_signo as i32 == libc::SIGPIPE && own {
                        continue;
                    }
                    out.push(info.ssi_signo as i32)
                }
                Ok(None) => break,
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

/// `--thug`: whether stop signal `sig` should become SIGKILL for a process with these masks, i.e. it
/// is a stop signal and the process blocks or ignores it (so it would never act on it).
pub fn thug_escalates(sig: i32, masks: (u64, u64)) -> bool {
    if !STOP_SIGNALS.contains(&sig) || !(1..=64).contains(&sig) {
        return false;
    }
    let bit = 1u64 << (sig - 1);
    (masks.0 | masks.1) & bit != 0
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
    fn thug_only_for_blocked_or_ignored_stop_signals() {
        let (blk, ign) = parse_status_masks(STATUS).unwrap();
        // SIGINT (2) is blocked: bit 1.
        assert!(thug_escalates(libc::SIGINT, (blk, ign)));
        // SIGTERM (15) is ignored: bit 14.
        assert!(thug_escalates(libc::SIGTERM, (blk, ign)));
        assert!(!thug_escalates(libc::SIGQUIT, (blk, ign)));
        // Not a stop signal, even if blocked.
        assert!(!thug_escalates(libc::SIGHUP, (u64::MAX, 0)));
        assert!(!thug_escalates(0, (u64::MAX, u64::MAX)));
    }
}
