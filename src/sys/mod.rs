//! The only module with `unsafe`: thin syscall wrappers that turn `-1`/errno into `io::Result` and raw
//! fds into `OwnedFd`s the moment they exist (`CLOEXEC|NONBLOCK`). No policy lives here.
//!
//! Registers nothing; callers register the fds it returns.

pub mod fs;
pub mod pidfd;
pub mod pty;
pub mod spawn;
pub mod thread;
pub mod timer;

use std::io;

/// Turns a libc return value into `io::Result`: `-1` becomes the thread's `errno`.
pub(crate) fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `kill(pid, sig)` with a raw signal number, so realtime signals (SIGRTMIN..SIGRTMAX), which nix's
/// `Signal` enum cannot name, can be sent too. `pid < 0` signals the process group `-pid` (kill(2)).
///
/// # Errors
/// ESRCH (no such process or group), EPERM, EINVAL (not a signal number).
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    cvt(unsafe { libc::kill(pid, sig) } as libc::c_long)?;
    Ok(())
}
