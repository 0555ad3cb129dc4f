//! pidfds (Linux ≥ 5.3): a file descriptor that refers to one process, readable once it has exited, and
//! a signal target that cannot be a recycled pid (`pidfd_open(2)`, `pidfd_send_signal(2)`).
//! nix has no wrapper for either, so these are raw `syscall(2)`s.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::cvt;

/// An owned pidfd, opened `PIDFD_NONBLOCK` (so `waitid(P_PIDFD)` never blocks) and close-on-exec.
#[derive(Debug)]
pub struct PidFd(OwnedFd);

impl PidFd {
    /// `pidfd_open(pid, PIDFD_NONBLOCK)`.
    ///
    /// # Errors
    /// ESRCH if `pid` does not exist (already reaped), ENOSYS before Linux 5.3, EMFILE.
    pub fn open(pid: i32) -> io::Result<PidFd> {
        // PIDFD_NONBLOCK is O_NONBLOCK (include/uapi/linux/pidfd.h); pidfds are always CLOEXEC.
        // SAFETY: pidfd_open takes two integer arguments and touches no memory of ours.
        let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, libc::O_NONBLOCK) })?;
        // SAFETY: the kernel just returned this fd to us; nobody else owns it.
        Ok(PidFd(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
    }

    /// `pidfd_send_signal(fd, sig, NULL, 0)`: signal exactly the process this fd refers to.
    ///
    /// # Errors
    /// ESRCH once the process has exited (even while it is a zombie not yet reaped), EPERM.
    pub fn send_signal(&self, sig: i32) -> io::Result<()> {
        // SAFETY: the fd is owned by `self` and open; a NULL siginfo is allowed (the kernel fills it in
        // as for kill(2)); flags must be 0.
        cvt(unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        })?;
        Ok(())
    }
}

impl From<OwnedFd> for PidFd {
    /// Wraps a pidfd obtained otherwise (`clone(CLONE_PIDFD)`, see `sys::spawn`).
    fn from(fd: OwnedFd) -> PidFd {
        PidFd(fd)
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for PidFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_a_child_through_its_pidfd() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let fd = PidFd::open(child.id() as i32).unwrap();
        fd.send_signal(libc::SIGKILL).unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        // Reaped: the pidfd still refers to the dead process, never to a recycled pid.
        assert_eq!(
            fd.send_signal(0).unwrap_err().raw_os_error(),
            Some(libc::ESRCH)
        );
    }
}
