//! Signals as an event source: every signal but the fault signals is blocked from dock's first
//! instruction on and read from a signalfd (signalfd(2)), so a signal is never lost between two waits
//! and never interrupts a handler; or, when only a signal can need dock, taken with
//! `rt_sigtimedwait(2)` (the loop's fast path). The child gets the original mask back (`sys::spawn`).
//!
//! Owns the signalfd; the loop registers it (or not, on the fast path).

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
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
pub(super) struct SignalFd(OwnedFd);

/// `sizeof(struct signalfd_siginfo)` (include/uapi/linux/signalfd.h): fixed at 128 bytes.
const SIGINFO_SIZE: usize = 128;

/// Records per read: more pending signals than this just take another read.
const BATCH: usize = 16;

impl SignalFd {
    /// Opens the signalfd. Signals that arrived since [`block_all`] are pending and will be read.
    ///
    /// # Errors
    /// `signalfd` failing (EMFILE, ENOMEM).
    pub(super) fn new() -> io::Result<SignalFd> {
        Ok(SignalFd(crate::sys::signalfd(blocked_bits())?))
    }

    /// Sleeps until a signal of the blocked set but `held` is pending and takes it
    /// (`rt_sigtimedwait(2)`): one system call per forwarded signal instead of `epoll_wait` plus
    /// `read`, as tini and dumb-init wait. The kernel dequeues in the same order as from the
    /// signalfd. `None`: `timeout` passed (`None`: no limit), interrupted (EINTR, a stop/continue of
    /// dock itself), or dock's own SIGPIPE (see [`keep_signal`]). A held signal stays pending for a
    /// later wait or read.
    ///
    /// # Errors
    /// Any other `rt_sigtimedwait` failure; the loop then polls instead.
    pub(super) fn wait(&self, timeout: Option<Duration>, held: u64) -> io::Result<Option<i32>> {
        match crate::sys::wait_signal(blocked_bits() & !held, timeout) {
            Ok((sig, pid)) => Ok(keep_signal(sig, pid)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads every pending signal into `out`, in the order the kernel dequeues them: standard signals
    /// pending at once come lowest number first and coalesce (signal(7)).
    ///
    /// One `read(2)` takes up to [`BATCH`] `signalfd_siginfo` records (signalfd(2)); a short read
    /// means the queue is empty, which is what edge-triggered epoll needs, without a second read that
    /// only returns EAGAIN.
    pub(super) fn drain(&self, out: &mut Vec<i32>) {
        let mut buf = [0u8; SIGINFO_SIZE * BATCH];
        loop {
            match nix::unistd::read(self.0.as_fd(), &mut buf) {
                Ok(n) => {
                    out.extend(buf[..n].chunks_exact(SIGINFO_SIZE).filter_map(keep));
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
    }
}

impl AsRawFd for SignalFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// The signal number of one `signalfd_siginfo` record (`ssi_signo` at offset 0, `ssi_pid` at 12,
/// native byte order), or `None` as [`keep_signal`] says.
fn keep(rec: &[u8]) -> Option<i32> {
    let field = |at: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(rec.get(at..at + 4)?);
        Some(u32::from_ne_bytes(b))
    };
    keep_signal(i32::try_from(field(0)?).ok()?, field(12)?)
}

/// `signo` unless it is a SIGPIPE that dock raised in itself: a write to a closed pipe raises SIGPIPE
/// in the writer (pipe(7)), here dock's relay, which handles EPIPE itself. Dropped silently: logging
/// it would write to the same dead pipe and raise the next one, a loop that never sleeps.
fn keep_signal(signo: i32, pid: u32) -> Option<i32> {
    if signo == libc::SIGPIPE && pid == std::process::id() {
        return None;
    }
    Some(signo)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_blocked_set_leaves_the_faults_out() {
        let bits = blocked_bits();
        assert_eq!(bits & 1 << (libc::SIGSEGV - 1), 0);
        assert_ne!(bits & 1 << (libc::SIGTERM - 1), 0);
        assert_ne!(
            bits & 1 << (32 - 1),
            0,
            "libc's reserved signals are ours too"
        );
        assert_ne!(bits & 1 << 63, 0);
    }
}
