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
