//! The only module with `unsafe`: thin syscall wrappers that turn `-1`/errno into `io::Result` and raw
//! fds into `OwnedFd`s the moment they exist (`CLOEXEC|NONBLOCK`). No policy lives here.
//!
//! Registers nothing; callers register the fds it returns.

pub mod creds;
pub mod fs;
pub mod mem;
pub mod out;
pub mod pidfd;
pub mod process;
pub mod pty;
pub mod spawn;
pub mod thread;

use std::io;

/// Turns a libc return value into `io::Result`: `-1` becomes the thread's `errno`.
pub(crate) fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// [`cvt`] for a syscall that returns a C `int` (a pid, an fd, a signal number).
pub(crate) fn cvt_int(ret: libc::c_long) -> io::Result<i32> {
    i32::try_from(cvt(ret)?).map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))
}

/// `kill(pid, sig)` with a raw signal number, so realtime signals (SIGRTMIN..SIGRTMAX), which nix's
/// `Signal` enum cannot name, can be sent too. `pid < 0` signals the process group `-pid` (kill(2)).
///
/// # Errors
/// ESRCH (no such process or group), EPERM, EINVAL (not a signal number).
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill(2) takes two integers and touches no memory of ours.
    cvt(unsafe { libc::kill(pid, sig) }.into())?;
    Ok(())
}

/// `tgkill(getpid(), gettid(), sig)`: raises `sig` for the calling thread only (tests of the loop's
/// signal paths, which must not disturb other test threads).
///
/// # Errors
/// EINVAL for a bad signal number.
#[cfg(test)]
pub(crate) fn raise_in_thread(sig: i32) -> io::Result<()> {
    // SAFETY: getpid/gettid/tgkill take and return integers and touch no memory of ours.
    cvt(unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), libc::gettid(), sig) })?;
    Ok(())
}

/// Closes fds the kernel installed in dock along with a received message (`SCM_RIGHTS`, unix(7)),
/// which dock does not keep: a sd_notify sender may pass some (`FDSTORE=1`, `BARRIER=1`).
pub fn close_received(fds: &[std::os::fd::RawFd]) {
    use std::os::fd::{FromRawFd, OwnedFd};
    for &fd in fds {
        // SAFETY: recvmsg just installed `fd` in dock's fd table for this message; nothing else
        // knows of it, so owning it (and closing it on drop) is sound.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }
}

/// Whether fd `fd` is open in dock: `Some(cloexec)` with its close-on-exec flag, `None` when it is
/// not open (`fcntl(F_GETFD)`, fcntl(2)).
pub fn fd_cloexec(fd: std::os::fd::RawFd) -> Option<bool> {
    // SAFETY: F_GETFD takes an integer and touches no memory of ours; a closed fd is EBADF.
    let r = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    (r != -1).then_some(r & libc::FD_CLOEXEC != 0)
}

/// dock's soft `RLIMIT_NOFILE` (getrlimit(2)): fd numbers from it on cannot be opened or dup'd to;
/// `u64::MAX` for no limit (or if it cannot be read, which getrlimit only does on a bad resource).
pub fn open_file_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `struct rlimit` into `lim`, a live local.
    match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } {
        0 if lim.rlim_cur != libc::RLIM_INFINITY => lim.rlim_cur,
        _ => u64::MAX,
    }
}

/// How a reaped child ended, decoded from the raw wait status (wait(2) macros).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaped {
    /// `exit(code)`, code 0–255.
    Exited(i32, i32),
    /// Killed by signal `sig` (any 1–64: realtime ones included), and whether it dumped core.
    Signaled(i32, i32, bool),
}

/// `waitpid(-1, &status, WNOHANG)`: reaps one exited child. `Ok(None)` when children exist but none
/// has exited. Raw rather than nix's `waitpid`, whose status decoding knows only the signals of its
/// `Signal` enum: a child killed by a realtime signal came back as EINVAL, already reaped, its
/// status lost.
///
/// # Errors
/// ECHILD when dock has no child at all; EINTR.
pub fn wait_any() -> io::Result<Option<Reaped>> {
    let mut status = 0;
    // SAFETY: waitpid writes one int into `status`, a live local.
    let pid = cvt_int(unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) }.into())?;
    Ok(if pid == 0 {
        None
    } else if libc::WIFSIGNALED(status) {
        let core = libc::WCOREDUMP(status);
        Some(Reaped::Signaled(pid, libc::WTERMSIG(status), core))
    } else {
        // Without WUNTRACED/WCONTINUED only exits and deaths by signal are reported.
        Some(Reaped::Exited(pid, libc::WEXITSTATUS(status)))
    })
}

/// The kernel's `struct sigaction` for x86_64 (arch/x86/include/uapi/asm/signal.h): what the raw
/// `rt_sigaction` syscall takes, so that every signal can be reset, those libc reserves (32–34)
/// included.
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Sets dock's own SIGCHLD disposition to the default (no handler, no `SA_NOCLDWAIT`). An ignored
/// SIGCHLD survives exec (execve(2)), and with it the kernel reaps dock's children by itself
/// (waitpid(2), NOTES): their exit status, the main child's included, would be lost.
///
/// # Errors
/// None in practice (EINVAL only for a bad signal number).
pub fn default_sigchld() -> io::Result<()> {
    default_disposition(libc::SIGCHLD)
}

/// Sets `sig`'s disposition to the default with the raw `rt_sigaction(2)` (no handler, no flags), so
/// libc's reserved signals (32–34) can be reset too. A plain syscall on a local: safe in the vfork
/// child of `spawn`.
///
/// # Errors
/// EINVAL for SIGKILL, SIGSTOP or a number outside 1–64.
pub(crate) fn default_disposition(sig: i32) -> io::Result<()> {
    let dfl = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: the kernel reads one `struct sigaction` (x86_64 layout, `KernelSigaction`) from `&dfl`,
    // a live local, and writes nothing (oldact is NULL).
    cvt(unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &dfl as *const KernelSigaction,
            std::ptr::null_mut::<KernelSigaction>(),
            KERNEL_SIGSET_SIZE,
        )
    })?;
    Ok(())
}

/// Size of the kernel's signal set (`_NSIG / 8` on Linux: 64 signals), as `rt_sigprocmask(2)` and
/// `signalfd4` want it. libc's `sigset_t` is 128 bytes, of which the kernel reads only these 8.
const KERNEL_SIGSET_SIZE: usize = 8;

/// Adds the signals of `bits` (bit S-1 for signal S) to the calling thread's blocked mask with the raw
/// `rt_sigprocmask(2)`: glibc's wrapper silently drops the signals it reserves (32, 33).
///
/// # Errors
/// EINVAL for a bad size (not on Linux with 64 signals).
pub fn block_signals(bits: u64) -> io::Result<()> {
    // SAFETY: the kernel reads KERNEL_SIGSET_SIZE (8) bytes from `&bits`, a live u64; oldset is NULL,
    // so nothing is written.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_BLOCK,
            &bits as *const u64,
            std::ptr::null_mut::<u64>(),
            KERNEL_SIGSET_SIZE,
        )
    })?;
    Ok(())
}

/// A new signalfd (`signalfd4(-1, bits, 8, SFD_NONBLOCK|SFD_CLOEXEC)`, signalfd(2)) for the signals of
/// `bits`, reserved ones included (see [`block_signals`]).
///
/// # Errors
/// EMFILE, ENOMEM.
pub fn signalfd(bits: u64) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: the kernel reads 8 bytes from `&bits`, a live u64, and returns a new fd or -1.
    let fd = cvt_int(unsafe {
        libc::syscall(
            libc::SYS_signalfd4,
            -1,
            &bits as *const u64,
            KERNEL_SIGSET_SIZE,
            libc::SFD_NONBLOCK | libc::SFD_CLOEXEC,
        )
    })?;
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sleeps until one of the (blocked) signals of `bits` is pending and takes it: the raw
/// `rt_sigtimedwait(2)`, for at most `timeout` (`None`: no limit), reserved signals included (see [`block_signals`]). Returns
/// the signal number and the sender's pid (`si_pid`, offset 16 of the x86_64 `siginfo_t`: kill(2),
/// the kernel's own SIGPIPE and SIGCHLD all fill it in).
///
/// # Errors
/// EAGAIN when `timeout` passed; EINTR when a stop/continue of dock itself interrupts the wait.
pub fn wait_signal(bits: u64, timeout: Option<std::time::Duration>) -> io::Result<(i32, u32)> {
    let mut info = [0u8; 128];
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().try_into().unwrap_or(i64::MAX as _),
        tv_nsec: t.subsec_nanos().into(),
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: the kernel reads 8 bytes of mask from `&bits` and at most one timespec from `ts_ptr`
    // (NULL: no limit), and writes one 128-byte siginfo_t into `info`; all are live locals.
    let sig = cvt_int(unsafe {
        libc::syscall(
            libc::SYS_rt_sigtimedwait,
            &bits as *const u64,
            info.as_mut_ptr(),
            ts_ptr,
            KERNEL_SIGSET_SIZE,
        )
    })?;
    let pid = u32::from_ne_bytes([info[16], info[17], info[18], info[19]]);
    Ok((sig, pid))
}
