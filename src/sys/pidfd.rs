//! pidfds (Linux ≥ 5.3): a file descriptor that refers to one process and is readable once it has
//! exited (`pidfd_open(2)`). nix has no wrapper, so this is a raw `syscall(2)`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::cvt_int;

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
        let fd = cvt_int(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, libc::O_NONBLOCK) })?;
        // SAFETY: the kernel just returned this fd to us; nobody else owns it.
        Ok(PidFd(unsafe { OwnedFd::from_raw_fd(fd) }))
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
    fn a_pidfd_turns_readable_when_its_process_exits() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let fd = PidFd::open(i32::try_from(child.id()).unwrap()).unwrap();
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: (test) poll reads and writes one pollfd, a live local.
        assert_eq!(unsafe { libc::poll(&mut p, 1, 0) }, 0, "still running");
        child.kill().unwrap();
        child.wait().unwrap();
        // Reaped: the pidfd still refers to the dead process, never to a recycled pid.
        // SAFETY: (test) as above.
        assert_eq!(unsafe { libc::poll(&mut p, 1, 0) }, 1);
        assert_ne!(p.revents & libc::POLLIN, 0);
    }
}
