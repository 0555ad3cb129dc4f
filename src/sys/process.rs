//! dock's own process, for the options of issue 18: the parent-death signal (`prctl(2)`
//! `PR_SET_PDEATHSIG`, which nix wraps only for the signals of its `Signal` enum: no realtime
//! ones), and closing the fds dock inherited and handed to the child.
//!
//! Registers nothing.

use std::io;
use std::os::fd::RawFd;

use super::cvt;

/// Asks the kernel for `sig` when the thread that created dock exits (`PR_SET_PDEATHSIG`). Not
/// inherited by dock's children (cleared on fork and clone), kept across dock's own exec.
///
/// # Errors
/// EINVAL for a number that is not a signal (1–64).
pub fn set_pdeathsig(sig: i32) -> io::Result<()> {
    let sig =
        libc::c_ulong::try_from(sig).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: prctl(PR_SET_PDEATHSIG, sig) takes integers and touches no memory of ours.
    cvt(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig, 0, 0, 0) }.into())?;
    Ok(())
}

/// `getppid(2)`: dock's parent, 0 when it is outside dock's PID namespace (dock is PID 1 there).
pub fn parent_pid() -> i32 {
    // SAFETY: getppid takes nothing and cannot fail.
    unsafe { libc::getppid() }
}

/// The kernel's default `fs.nr_open`, the most fds a process can have (fs/file.c `sysctl_nr_open`).
const NR_OPEN: libc::rlim_t = 1 << 20;

/// Whether `fd` is open without `FD_CLOEXEC`: a descriptor dock inherited (every one dock makes
/// itself is close-on-exec), which the child got through its exec.
fn inherited(fd: RawFd) -> bool {
    // SAFETY: F_GETFD on any integer: EBADF for a closed one, no memory touched.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    flags != -1 && flags & libc::FD_CLOEXEC == 0
}

/// Closes every fd ≥ 3 that lacks `FD_CLOEXEC`, and returns how many it closed: after the spawn,
/// these are the fds dock inherited and the child got through its exec (catatonit#12: while dock
/// holds a copy, the child closing its own never shows EOF at the other end). dock's own fds are all
/// close-on-exec, so none of them is touched; the caller must not hold an `OwnedFd` on an fd without
/// the flag. Lists `/proc/self/fd`; without /proc, tries every fd below the soft `RLIMIT_NOFILE`
/// (at most 2^20 `fcntl` calls, some 0.1 s, once).
///
/// # Errors
/// None in practice: only `close(2)` failing on an fd it just saw (EINTR, EIO), reported after
/// the others are closed.
pub fn close_inherited_fds() -> io::Result<usize> {
    let fds: Vec<RawFd> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd > 2 && inherited(fd))
            .collect(),
        Err(_) => {
            let mut lim = libc::rlimit {
                rlim_cur: 1024,
                rlim_max: 1024,
            };
            // SAFETY: getrlimit writes one struct rlimit into `lim`, a live local.
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
            // No fd is at or above the soft limit's value when it was set (open(2) EMFILE), nor
            // above fs.nr_open (default 1048576): the bound for an unlimited one.
            let limit = RawFd::try_from(lim.rlim_cur.min(NR_OPEN)).unwrap_or(RawFd::MAX);
            (3..limit).filter(|&fd| inherited(fd)).collect()
        }
    };
    let mut first_err = None;
    for &fd in &fds {
        // SAFETY: `fd` is open, has no FD_CLOEXEC, and so is none of dock's own (all of which are
        // close-on-exec, and none of which is owned by anything that would close it again).
        if let Err(e) = cvt(unsafe { libc::close(fd) }.into()) {
            first_err.get_or_insert(e);
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(fds.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    #[test]
    fn pdeathsig_takes_realtime_signals_and_refuses_non_signals() {
        set_pdeathsig(40).unwrap();
        set_pdeathsig(0).unwrap();
        assert!(set_pdeathsig(65).is_err());
        assert!(set_pdeathsig(-1).is_err());
        assert!(parent_pid() > 0);
    }

    #[test]
    fn only_fds_without_cloexec_are_inherited() {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        assert!(!inherited(r.as_raw_fd()));
        // SAFETY: (test) clearing FD_CLOEXEC on our own pipe end.
        assert_eq!(unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETFD, 0) }, 0);
        assert!(inherited(w.as_raw_fd()));
        // SAFETY: (test) an fd number that is surely closed.
        let closed = unsafe { OwnedFd::from_raw_fd(libc::dup(r.as_raw_fd())) };
        let n = closed.as_raw_fd();
        drop(closed);
        assert!(!inherited(n));
    }
}
