//! The scheduler's time slice for dock itself (`sched_setattr(2)`).

use std::io;

/// `struct sched_attr` as of `SCHED_ATTR_SIZE_VER0` (48 bytes, include/uapi/linux/sched/types.h);
/// the kernel accepts this size and leaves the later utilisation-clamp fields alone.
#[repr(C)]
#[derive(Debug, Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// `SCHED_OTHER` and `SCHED_BATCH` (include/uapi/linux/sched.h): the fair-class policies that a
/// custom slice applies to. `SCHED_IDLE` is left alone: a user who asked for it wants dock last.
const FAIR_POLICIES: [u32; 2] = [0, 3];

/// Asks the fair scheduler for a time slice of `slice_ns` nanoseconds for the calling thread and
/// any thread it creates later (not for processes spawned before the call: the main child keeps
/// its own). Since Linux 6.12 (EEVDF, kernel/sched/syscalls.c `__setscheduler_params`),
/// `sched_runtime` of a `SCHED_OTHER`/`SCHED_BATCH` task is its requested slice, clamped to
/// 0.1–100 ms; a shorter slice gives an earlier virtual deadline, so a waking task preempts the
/// running one sooner. It changes no weight: the CPU share stays what the nice value gives.
/// Older kernels ignore the field. `slice_ns` 0 goes back to the default slice
/// (`base_slice_ns` in /sys/kernel/debug/sched).
///
/// Keeps the policy, nice value and flags read back with `sched_getattr(2)`. Returns `false`
/// without a change when the thread runs a non-fair policy (SCHED_FIFO, SCHED_RR, SCHED_DEADLINE,
/// SCHED_IDLE): the user chose that.
///
/// # Errors
/// `sched_getattr`/`sched_setattr` failing: ENOSYS (before Linux 3.14, or a seccomp filter),
/// EPERM, EINVAL.
pub fn request_slice(slice_ns: u64) -> io::Result<bool> {
    let mut attr = SchedAttr::default();
    let size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: the kernel writes at most `size` bytes (the last argument) into `attr`, a live,
    // properly aligned `repr(C)` struct of exactly that size; pid 0 is the calling thread.
    super::cvt(unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &mut attr as *mut SchedAttr,
            size,
            0,
        )
    })?;
    if !FAIR_POLICIES.contains(&attr.policy) {
        return Ok(false);
    }
    attr.size = size;
    attr.runtime = slice_ns;
    // SAFETY: the kernel reads `attr.size` bytes from `attr`, which is that size and live for the
    // call; pid 0 is the calling thread.
    super::cvt(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) })?;
    Ok(true)
}

/// Whether the running kernel honours [`request_slice`]: Linux 6.12 or later, from
/// `/proc/sys/kernel/osrelease` (`false` when unreadable). For tests and diagnostics; dock itself
/// asks either way, since older kernels ignore the request.
pub fn kernel_honours_slices() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|release| {
            let mut nums = release.split(|c: char| !c.is_ascii_digit());
            let major: u32 = nums.next()?.parse().ok()?;
            let minor: u32 = nums.next()?.parse().ok()?;
            Some((major, minor) >= (6, 12))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_struct_is_the_kernels_first_version() {
        assert_eq!(std::mem::size_of::<SchedAttr>(), 48);
    }

    /// On a thread of its own: the slice is per thread and the test harness reuses threads.
    #[test]
    fn a_fair_thread_gets_the_slice_it_asks_for_where_the_kernel_shows_it() {
        let got = std::thread::spawn(|| {
            let changed = request_slice(100_000).expect("sched_setattr on our own thread");
            let tid = nix::unistd::gettid();
            let sched = std::fs::read_to_string(format!("/proc/self/task/{tid}/sched"));
            (changed, sched)
        })
        .join()
        .expect("thread");
        assert!(got.0, "a test thread runs SCHED_OTHER");
        // /proc/<pid>/sched shows `se.slice` (CONFIG_SCHED_DEBUG); kernels before 6.12 ignore the
        // request, so only there is the value checked.
        let honoured = kernel_honours_slices();
        let slice = got.1.ok().and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("se.slice"))?.to_owned();
            line.rsplit(':').next()?.trim().parse::<u64>().ok()
        });
        if let (true, Some(ns)) = (honoured, slice) {
            assert_eq!(ns, 100_000, "se.slice of the thread that asked for 0.1 ms");
        }
    }
}
