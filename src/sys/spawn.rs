//! Starting the child with `clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD)`, the way musl's and glibc's
//! `posix_spawn` do (clone(2)):
//! - the child borrows dock's memory until its exec: nothing is copied, whereas a fork copies dock's
//!   page tables and turns each of dock's next writes into a copy-on-write fault (on the test machine
//!   fork + exit costs 190 µs, this 65 µs);
//! - dock sleeps until the child has called execve or exited, so when [`spawn`] returns the exec has
//!   succeeded or its errno is known (no close-on-exec error pipe);
//! - the pidfd comes with the pid (`CLONE_PIDFD`, Linux ≥ 5.2): no window in which the pid could be
//!   reaped and recycled before dock holds it.
//!
//! Between clone and exec the child shares dock's memory, so it only makes raw syscalls on values
//! prepared beforehand (async-signal-safe only, signal-safety(7)): no allocation, no lock. It writes
//! only its errno slot, its own pid into a `LISTEN_PID=` buffer ([`ChildSetup::own_pid_var`]) and, to
//! run a script without `#!` through `/bin/sh`, one slot of the shell's argv, all in [`Args`]. With
//! [`ChildSetup::creds`] it switches to another user with the raw `setgroups`/`setgid`/`setuid`
//! syscalls, which change this process only: libc's wrappers would broadcast the change to every
//! thread of dock (the set*id signal, which dock blocks), whose memory the child shares.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use super::pidfd::PidFd;

/// The error [`spawn`] returns when no child could be made at all (clone(2) failed: EAGAIN at
/// RLIMIT_NPROC, ENOMEM...), as opposed to a child whose exec failed. Inside the `io::Error`;
/// [`is_clone_failure`] tells.
#[derive(Debug)]
pub struct CloneFailed(pub io::Error);

impl std::fmt::Display for CloneFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for CloneFailed {}

/// Whether `e` (from [`spawn`]) means no child was made, rather than that the command could not be
/// executed.
pub fn is_clone_failure(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<CloneFailed>())
}

/// The error [`spawn`] returns when the child could not switch to [`ChildSetup::creds`] (EPERM
/// when dock lacks CAP_SETUID/CAP_SETGID, EINVAL for an id the user namespace does not map), as
/// opposed to a failed exec. Inside the `io::Error`; [`is_creds_failure`] tells.
#[derive(Debug)]
pub struct CredsFailed(pub io::Error);

impl std::fmt::Display for CredsFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for CredsFailed {}

/// Whether `e` (from [`spawn`]) means the child could not take its user's ids and groups.
pub fn is_creds_failure(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<CredsFailed>())
}

/// The user the child becomes before its exec (`--user`), in su-exec's order: `setgroups(groups)`,
/// `setgid(gid)`, `setuid(uid)` (real, effective and saved ids, as root's setuid(2) sets them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildCreds<'a> {
    /// The uid.
    pub uid: u32,
    /// The primary gid.
    pub gid: u32,
    /// The supplementary groups (at most NGROUPS_MAX, 65536).
    pub groups: &'a [u32],
}

/// What the child needs between clone and exec.
#[derive(Clone, Copy)]
pub struct ChildSetup<'a> {
    /// dock's signal mask as it was before dock blocked everything; the child gets it back.
    pub mask: libc::sigset_t,
    /// Start a new session and take the child's stdin (a pty slave) as controlling terminal
    /// (`setsid` + `TIOCSCTTY`); otherwise only a new process group (`setpgid(0, 0)`).
    pub session: bool,
    /// Switch to this user before the exec; `None`: dock's own (root).
    pub creds: Option<ChildCreds<'a>>,
    /// Index in the environment of a `LISTEN_PID=` entry whose value the child replaces with its own
    /// pid (sd_listen_fds(3) checks it against getpid(); only the child knows its pid before exec).
    pub own_pid_var: Option<usize>,
}

/// What the child gets as fds 0, 1, 2 (`None`: dock's own), and whether it runs in a new session on
/// a pty (the stdio feature builds it); plus fds at numbers of a feature's choosing (`--ready-fd`).
#[derive(Debug, Default)]
pub struct ChildStdio {
    /// fd 0.
    pub stdin: Option<OwnedFd>,
    /// fd 1.
    pub stdout: Option<OwnedFd>,
    /// fd 2.
    pub stderr: Option<OwnedFd>,
    /// New session with stdin as controlling terminal (the pty case).
    pub session: bool,
    /// Each fd, installed in the child as the number beside it (≥ 3), without close-on-exec; dock's
    /// copy is closed when the spawn returns.
    pub extra: Vec<(OwnedFd, RawFd)>,
}

/// The started child: its pid and a pidfd for it (close-on-exec).
#[derive(Debug)]
pub struct Spawned {
    /// The child's pid; also its process group id (and session id with [`ChildSetup::session`]).
    pub pid: i32,
    /// A pidfd referring to the child.
    pub pidfd: PidFd,
}

/// The shell that runs a file the kernel cannot execute (a script without `#!`), as execvp(3) does in
/// glibc (musl's does not): POSIX `execvp` ("the file shall be executed as a shell script").
const SH: &std::ffi::CStr = c"/bin/sh";

/// Bytes of stack for the child, besides room for a copy of argv (glibc's `execvp` builds a new argv
/// on the stack to retry a script without `#!` through /bin/sh). musl's `execvp` needs about
/// PATH_MAX + NAME_MAX (4.4 kB) for the path it tries.
const CHILD_STACK: usize = 32 * 1024;

/// What the child reads (and writes: `err`, and `sh_argv[1]` for a script without `#!`), on dock's stack during the clone.
struct Args<'a> {
    program: &'a CString,
    argv: &'a [*const libc::c_char],
    /// The child's environment, NULL-terminated.
    envp: &'a [*const libc::c_char],
    /// fds to install as 0, 1, 2; -1 keeps dock's.
    stdio: [RawFd; 3],
    /// (fd, number) pairs installed after the stdio ones; every fd is above every number.
    extra: &'a [(RawFd, RawFd)],
    setup: &'a ChildSetup<'a>,
    /// `LISTEN_PID=` and room for the child's pid and a NUL ([`ChildSetup::own_pid_var`]): the
    /// child writes the digits, `envp` points here.
    pid_var: *mut u8,
    /// `/bin/sh`, a slot for the script's path, then `argv[1..]`: the shell's argv for a file the
    /// kernel cannot execute (ENOEXEC), filled in by the child.
    sh_argv: *mut *const libc::c_char,
    /// The errno of the step that failed, 0 while none has.
    err: AtomicI32,
    /// Set with `err` when the step that failed was [`ChildSetup::creds`].
    creds_failed: AtomicBool,
}

/// `LISTEN_PID=`, the variable [`ChildSetup::own_pid_var`] points at.
const LISTEN_PID: &[u8] = b"LISTEN_PID=";

/// Starts `program` (looked up in dock's `PATH` unless it contains a `/`, as execvp(3) does) with
/// `args`, the environment `env` (`KEY=VALUE` strings), `stdio` as fds 0, 1, 2 (`None`: dock's
/// own) and each of `extra` as the number beside it (≥ 3), in its own process group (or session)
/// with default signal dispositions and the original mask of `setup`. Returns once the exec
/// succeeded. The `stdio` and `extra` fds are closed in dock when this returns.
///
/// # Errors
/// The errno of the failed step, as `io::Error`: the exec's (ENOENT when not found in `PATH`, EACCES,
/// ENOEXEC...), setsid/setpgid/TIOCSCTTY/dup2's, or clone's (EAGAIN, ENOMEM; EINVAL before Linux
/// 5.2, wrapped in [`CloneFailed`]), or the user switch's (EPERM, EINVAL, wrapped in
/// [`CredsFailed`]); `InvalidInput` for an argument that contains a NUL byte or an `extra` number
/// below 3; `fcntl(F_DUPFD_CLOEXEC)`'s (EMFILE).
pub fn spawn(
    program: &OsStr,
    args: &[OsString],
    stdio: [Option<OwnedFd>; 3],
    extra: Vec<(OwnedFd, RawFd)>,
    setup: ChildSetup,
    env: &[CString],
) -> io::Result<Spawned> {
    let cstr = |s: &OsStr| {
        CString::new(s.as_bytes()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "an argument contains a NUL byte",
            )
        })
    };
    let program = cstr(program)?;
    let rest = args
        .iter()
        .map(|a| cstr(a))
        .collect::<io::Result<Vec<_>>>()?;
    let mut argv: Vec<*const libc::c_char> = Vec::with_capacity(rest.len() + 2);
    argv.push(program.as_ptr());
    argv.extend(rest.iter().map(|a| a.as_ptr()));
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // "LISTEN_PID=" + up to 10 digits (pid_t) + NUL.
    let mut pid_buf = [0u8; 24];
    pid_buf[..LISTEN_PID.len()].copy_from_slice(LISTEN_PID);
    let pid_var = pid_buf.as_mut_ptr();
    let own_pid_slot = setup.own_pid_var.filter(|&i| i < env.len());
    if let Some(slot) = own_pid_slot.and_then(|i| envp.get_mut(i)) {
        *slot = pid_var.cast_const().cast();
    }
    let raw = |fd: &Option<OwnedFd>| fd.as_ref().map_or(-1, |f| f.as_raw_fd());
    let extra = above_targets(extra)?;
    let extra_raw: Vec<(RawFd, RawFd)> = extra.iter().map(|(f, n)| (f.as_raw_fd(), *n)).collect();
    let mut sh_argv: Vec<*const libc::c_char> = Vec::with_capacity(argv.len() + 1);
    sh_argv.extend([SH.as_ptr(), std::ptr::null()]);
    sh_argv.extend_from_slice(&argv[1..]);
    let a = Args {
        program: &program,
        argv: &argv,
        envp: &envp,
        stdio: [raw(&stdio[0]), raw(&stdio[1]), raw(&stdio[2])],
        extra: &extra_raw,
        setup: &setup,
        pid_var,
        sh_argv: sh_argv.as_mut_ptr(),
        err: AtomicI32::new(0),
        creds_failed: AtomicBool::new(false),
    };
    // 16-byte words, uninitialised: the child touches only the top pages it uses.
    let words = (CHILD_STACK + argv.len() * std::mem::size_of::<usize>()) / 16 + 1;
    let mut stack: Vec<u128> = Vec::with_capacity(words);
    let top = stack.spare_capacity_mut().as_mut_ptr_range().end;
    let mut pidfd: libc::c_int = -1;
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD;
    // SAFETY: `top` is the 16-byte-aligned end of `words` writable u128s that outlive the call: with
    // CLONE_VFORK, clone returns only after the child has exec'd or exited, so `stack`, `a` (passed as
    // `arg`, read-only but for its atomics and the buffers it points to), `pid_var` and `pidfd` (where
    // CLONE_PIDFD stores the fd, the `ptid` argument) are all alive while the child runs. `child`
    // never returns into the caller's frames.
    let pid = unsafe {
        libc::clone(
            child,
            top.cast(),
            flags,
            &a as *const Args as *mut libc::c_void,
            &mut pidfd as *mut libc::c_int,
        )
    };
    drop(stdio);
    drop(extra);
    if pid == -1 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), CloneFailed(e)));
    }
    // SAFETY: with CLONE_PIDFD the kernel stored a new pidfd (close-on-exec) here; nobody else owns it.
    let pidfd = PidFd::from(unsafe { OwnedFd::from_raw_fd(pidfd) });
    match a.err.load(Ordering::Acquire) {
        0 => Ok(Spawned { pid, pidfd }),
        err => {
            // The child has exited (127) before its exec: reap it here, it was never started.
            // SAFETY: waitpid on our own child's pid, with a NULL status pointer.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
            let e = io::Error::from_raw_os_error(err);
            if a.creds_failed.load(Ordering::Acquire) {
                return Err(io::Error::new(e.kind(), CredsFailed(e)));
            }
            Err(e)
        }
    }
}

/// The child, between clone and exec: raw syscalls only, on memory prepared by [`spawn`].
extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `Args` that `spawn` keeps alive until this child has exec'd or exited.
    let a = unsafe { &*(arg as *const Args) };
    // SAFETY: (the whole block) each call is a plain syscall on integers or on memory of `a`/this frame.
    // All of dock's signals stay blocked until the last step, so no handler runs in this child and a
    // tcsetpgrp from a background group does not stop it with SIGTTOU (tcsetpgrp(3)).
    unsafe {
        install_fds(a);
        if a.setup.session {
            // The pty slave is now our stdin: make it the new session's controlling terminal.
            if libc::setsid() == -1 || libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                fail(a);
            }
        } else {
            // dock's group holds the terminal (a foreground job), so the child's group may take it
            // over; a background `dock ... &` must leave it to the shell. Not a terminal: -1.
            let foreground = libc::tcgetpgrp(0) == libc::getpgrp();
            if libc::setpgid(0, 0) == -1 {
                fail(a);
            }
            // The child's group becomes the foreground group so it gets ^C and may read.
            if foreground {
                let pgid: libc::pid_t = libc::getpid();
                libc::ioctl(0, libc::TIOCSPGRP, &pgid);
            }
        }
        if let Some(creds) = &a.setup.creds {
            become_user(a, creds);
        }
        if a.setup.own_pid_var.is_some() {
            write_own_pid(a);
        }
        // Default dispositions: dock installs no handler of its own, but it may have inherited ignored
        // signals (a shell starts `&` jobs with SIGINT and SIGQUIT ignored, std ignores SIGPIPE), and
        // ignored signals stay ignored across exec (execve(2)). Raw, so libc's reserved ones reset too.
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                let _ = super::default_disposition(sig);
            }
        }
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &a.setup.mask as *const libc::sigset_t,
            std::ptr::null_mut::<libc::sigset_t>(),
            8usize,
        );
        libc::execvpe(a.program.as_ptr(), a.argv.as_ptr(), a.envp.as_ptr());
        if io::Error::last_os_error().raw_os_error() == Some(libc::ENOEXEC) {
            let mut buf = [0u8; 4352];
            let path = if a.program.as_bytes().contains(&b'/') {
                a.program.as_ptr()
            } else {
                find_in_path(a.program.as_bytes(), &mut buf)
            };
            if !path.is_null() {
                // `sh_argv` has at least two slots (the shell, this one) and the parent, which owns
                // it, is suspended until this child execs or exits.
                *a.sh_argv.add(1) = path;
                libc::execve(SH.as_ptr(), a.sh_argv, a.envp.as_ptr());
            }
            // No shell either: the file's own error is the one to report.
            *libc::__errno_location() = libc::ENOEXEC;
        }
    }
    fail(a)
}

/// In the child: the stdio fds as 0, 1, 2, then the extra ones at their numbers (after stdio, whose
/// sources are copied by then; no extra source sits at a number: [`above_targets`]). dup2 leaves
/// each copy without close-on-exec.
fn install_fds(a: &Args) {
    // SAFETY: fcntl and dup2 on integers: plain syscalls, async-signal-safe.
    unsafe {
        for (target, &fd) in (0..).zip(a.stdio.iter()) {
            if fd == target {
                // Already in place (dock's own fd): only make sure exec keeps it.
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    fail(a);
                }
            } else if fd >= 0 && libc::dup2(fd, target) == -1 {
                fail(a);
            }
        }
        for &(fd, target) in a.extra {
            if libc::dup2(fd, target) == -1 {
                fail(a);
            }
        }
    }
}

/// Moves each extra fd above every extra number (`fcntl(F_DUPFD_CLOEXEC)`, fcntl(2)), so that in
/// the child installing one never overwrites another's source, and none sits at 0–2, where the
/// stdio ones go first.
fn above_targets(extra: Vec<(OwnedFd, RawFd)>) -> io::Result<Vec<(OwnedFd, RawFd)>> {
    let floor = extra.iter().map(|&(_, n)| n).max().unwrap_or(2).max(2) + 1;
    extra
        .into_iter()
        .map(|(fd, n)| {
            if n < 3 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "an extra fd must be numbered 3 or more",
                ));
            }
            // SAFETY: F_DUPFD_CLOEXEC takes an open fd (owned by `fd`) and an integer; the new fd
            // it returns is ours alone.
            let high = super::cvt_int(
                unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, floor) }.into(),
            )?;
            // SAFETY: `high` was just returned by fcntl and nothing else owns it.
            Ok((unsafe { OwnedFd::from_raw_fd(high) }, n))
        })
        .collect()
}

/// In the child: `setgroups`, `setgid`, `setuid` as raw syscalls (module header), or [`fail`] marked
/// as a credentials failure.
fn become_user(a: &Args, creds: &ChildCreds) {
    // SAFETY: plain syscalls on integers and on `creds.groups`, a live slice of gid_t (u32 on Linux)
    // of `groups.len()` elements, which the kernel only reads.
    let failed = unsafe {
        libc::syscall(
            libc::SYS_setgroups,
            creds.groups.len(),
            creds.groups.as_ptr(),
        ) == -1
            || libc::syscall(libc::SYS_setgid, creds.gid) == -1
            || libc::syscall(libc::SYS_setuid, creds.uid) == -1
    };
    if failed {
        a.creds_failed.store(true, Ordering::Release);
        fail(a);
    }
}

/// In the child: its own pid after `LISTEN_PID=` in [`Args::pid_var`], NUL-terminated.
fn write_own_pid(a: &Args) {
    // SAFETY: `pid_var` points to spawn's 24-byte buffer, alive and written by no one else while
    // this child runs (the parent is suspended): the prefix (11 bytes), at most 10 digits and the
    // NUL fit. getpid is a plain syscall (the raw one: no libc cache of the parent's pid).
    unsafe {
        let digits = a.pid_var.add(LISTEN_PID.len());
        let n = pid_digits(
            libc::syscall(libc::SYS_getpid),
            &mut *digits.cast::<[u8; 10]>(),
        );
        *digits.add(n) = 0;
    }
}

/// Writes `pid` in decimal into `out` (no allocation: the vfork child does it) and returns how many
/// digits it wrote; a negative or absurd value writes `0`.
fn pid_digits(pid: libc::c_long, out: &mut [u8; 10]) -> usize {
    let mut n = u32::try_from(pid).unwrap_or(0);
    let mut len = 0;
    loop {
        // n % 10 < 10: the cast keeps it whole.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (n % 10) as u8;
        out[len] = b'0' + digit;
        len += 1;
        n /= 10;
        if n == 0 || len == out.len() {
            break;
        }
    }
    out[..len].reverse();
    len
}

/// In the child: the first `PATH` entry (default `/usr/local/bin:/bin:/usr/bin`, musl's) where
/// `prog` is executable, written into `buf` (NUL-terminated); NULL if none. No allocation.
fn find_in_path(prog: &[u8], buf: &mut [u8]) -> *const libc::c_char {
    // SAFETY: getenv returns NULL or a NUL-terminated string of the environment, which nothing
    // changes while the child runs (dock is suspended in clone).
    let path = unsafe { libc::getenv(c"PATH".as_ptr()) };
    let path: &[u8] = if path.is_null() {
        b"/usr/local/bin:/bin:/usr/bin"
    } else {
        // SAFETY: as above, a valid C string.
        unsafe { std::ffi::CStr::from_ptr(path) }.to_bytes()
    };
    for dir in path.split(|&b| b == b':') {
        let slash = usize::from(!dir.is_empty());
        let end = dir.len() + slash + prog.len();
        if end + 1 > buf.len() {
            continue;
        }
        buf[..dir.len()].copy_from_slice(dir);
        buf[dir.len()] = b'/';
        buf[dir.len() + slash..end].copy_from_slice(prog);
        buf[end] = 0;
        // SAFETY: `buf` holds a NUL-terminated path; access reads it and writes nothing.
        if unsafe { libc::access(buf.as_ptr().cast(), libc::X_OK) } == 0 {
            return buf.as_ptr().cast();
        }
    }
    std::ptr::null()
}

/// Stores the child's errno for [`spawn`] and ends the child with 127.
fn fail(a: &Args) -> ! {
    let errno = io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO);
    a.err.store(
        if errno == 0 { libc::EIO } else { errno },
        Ordering::Release,
    );
    // SAFETY: _exit ends only this child (it is its own process: no CLONE_THREAD).
    unsafe { libc::_exit(127) }
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

#[cfg(test)]
mod tests;
