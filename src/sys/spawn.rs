//! Starting the child: `std::process::Command` plus a `pre_exec` hook that does, between fork and exec,
//! only async-signal-safe work (signal-safety(7)): its own process group or session, the terminal's
//! foreground, the original signal mask.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// What the child needs between fork and exec.
#[derive(Clone, Copy)]
pub struct ChildSetup {
    /// dock's signal mask as it was before dock blocked everything; the child gets it back.
    pub mask: libc::sigset_t,
    /// Start a new session and take the child's stdin (a pty slave) as controlling terminal
    /// (`setsid` + `TIOCSCTTY`); otherwise only a new process group (`setpgid(0, 0)`).
    pub session: bool,
}

/// Spawns `cmd` with `setup` applied in the child. Returns once the exec succeeded (std waits on a
/// close-on-exec pipe), so by then the child is in its own process group.
///
/// # Errors
/// The exec error (ENOENT, EACCES, ENOEXEC...) as std reports it, or fork failing.
pub fn spawn(cmd: &mut Command, setup: ChildSetup) -> io::Result<Child> {
    // SAFETY: the closure only calls async-signal-safe functions (sigprocmask, setsid, setpgid, ioctl,
    // tcsetpgrp, getpid, signal) on values copied into it; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            // std has already emptied the mask before running this hook. A child in a background
            // process group that calls tcsetpgrp gets SIGTTOU (tcsetpgrp(3)), so block everything
            // while we change groups, and restore dock's original mask last.
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
            if setup.session {
                if libc::setsid() == -1 {
                    return Err(io::Error::last_os_error());
                }
                // The pty slave is our stdin: make it the session's controlling terminal.
                if libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::setpgid(0, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            // On a terminal, the child's group becomes the foreground group so it gets ^C and may
            // read. ENOTTY/EBADF/ENXIO (no terminal, closed stdin) are fine: there is nothing to take.
            libc::tcsetpgrp(0, libc::getpid());
            // Default dispositions: dock installs no handler, but it may have inherited ignored
            // signals (a shell starts `&` jobs with SIGINT and SIGQUIT ignored); a forwarded
            // SIGINT must not vanish in the child. Handlers are reset by exec anyway (execve(2)).
            for sig in 1..=libc::SIGRTMAX() {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
            libc::sigprocmask(libc::SIG_SETMASK, &setup.mask, std::ptr::null_mut());
            Ok(())
        });
    }
    cmd.spawn()
}

/// dock's current signal mask (`sigprocmask(SIG_BLOCK, NULL, &old)`), to hand back to the child.
///
/// # Errors
/// Never in practice; `sigprocmask` only fails on a bad `how`.
pub fn current_mask() -> io::Result<libc::sigset_t> {
    // SAFETY: a zeroed sigset_t is a valid (empty) set; sigprocmask writes the old mask into it and
    // reads nothing when `set` is NULL.
    unsafe {
        let mut old: libc::sigset_t = std::mem::zeroed();
        if libc::sigprocmask(libc::SIG_BLOCK, std::ptr::null(), &mut old) == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(old)
    }
}

/// Gives the terminal on stdin back to dock's own process group if the child's group `pgid` holds it,
/// so the shell that started dock can use its terminal again (as dumb-init does). Not a terminal, or
/// not the child's: nothing to do. dock blocks SIGTTOU, so tcsetpgrp from the background succeeds.
pub fn restore_foreground(pgid: i32) {
    // SAFETY: tcgetpgrp/tcsetpgrp/getpgrp take integers and touch no memory of ours.
    unsafe {
        if libc::tcgetpgrp(0) == pgid {
            libc::tcsetpgrp(0, libc::getpgrp());
        }
    }
}
