//! Per-thread scheduling: on Linux a nice value belongs to a thread, and `setpriority(PRIO_PROCESS,
//! tid, n)` changes that thread only (setpriority(2), "BUGS": NPTL threads do not share it). nix has no
//! wrapper.
//!
//! Registers nothing.

use std::io;

/// Adds `by` to the calling thread's nice value (capped at 19, the lowest priority), like nice(1) for
/// one thread, and returns the new value. Used by background work (gzip of rotated logs) so it yields
/// the CPU to the event loop. Relative on purpose: an absolute value could raise the priority of a
/// thread in a dock that was started niced.
///
/// # Errors
/// `getpriority`/`setpriority` failing (ESRCH cannot happen for the calling thread).
pub fn lower_priority(by: i32) -> io::Result<i32> {
    // A tid is a positive pid_t.
    let tid = libc::id_t::try_from(nix::unistd::gettid().as_raw()).unwrap_or(0);
    // getpriority returns the nice value itself, so -1 is ambiguous: clear errno first and check it.
    nix::errno::Errno::clear();
    // SAFETY: getpriority takes two integers and touches no memory of ours.
    let cur = unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) };
    if cur == -1 && nix::errno::Errno::last_raw() != 0 {
        return Err(io::Error::last_os_error());
    }
    let new = cur.saturating_add(by.max(0)).min(19);
    // SAFETY: setpriority takes three integers and touches no memory of ours.
    super::cvt(unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, new) }.into())?;
    Ok(new)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_calling_thread_changes() {
        let before = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let nice_of = |stat: &str| -> i64 {
            // Field 19 (nice); fields start after the ")" closing the command name (proc(5)).
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            rest.split(' ').nth(16).unwrap().parse().unwrap()
        };
        let main_nice = nice_of(&before);
        let t = std::thread::spawn(move || {
            let want = (main_nice + 5).min(19);
            assert_eq!(i64::from(super::lower_priority(5).unwrap()), want);
            assert_eq!(super::lower_priority(100).unwrap(), 19);
            nice_of(&std::fs::read_to_string("/proc/thread-self/stat").unwrap())
        });
        assert_eq!(t.join().unwrap(), 19);
        let after = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        assert_eq!(nice_of(&after), main_nice);
    }
}
