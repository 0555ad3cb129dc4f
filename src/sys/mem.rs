//! Handing back the pages of dock's own code once it is idle.
//!
//! Everything dock runs before its loop (argument parsing, validation, TLS setup, the spawn) is never
//! run again, yet its pages stay mapped: the kernel maps file pages around each fault, 64 kB at a
//! time (fault-around, mm/memory.c), so a static binary that no other process maps ends up counted
//! almost whole in its private memory (USS). [`release_readonly_segments`] unmaps dock's read-only
//! segments (code, read-only data) with `madvise(MADV_DONTNEED)`, as the kernel frees its `__init`
//! sections after boot; whatever dock runs afterwards faults back from the page cache. The writable
//! segment (data, bss, relocated pointers) is never touched: dropping it would lose its contents.

/// Unmaps the read-only `PT_LOAD` segments of dock's own executable (`madvise(2)` `MADV_DONTNEED`,
/// whole pages inside each segment). Returns the bytes released, 0 if none could be.
pub fn release_readonly_segments() -> usize {
    let mut released: usize = 0;
    // SAFETY: dl_iterate_phdr calls `segments` with a valid `dl_phdr_info` for each loaded object,
    // the main program first, and passes our `&mut usize` through `data`; it holds no lock we take.
    unsafe {
        libc::dl_iterate_phdr(
            Some(segments),
            &mut released as *mut usize as *mut libc::c_void,
        );
    }
    released
}

/// The `dl_iterate_phdr` callback: releases the main program's read-only segments, then stops (1).
// Addresses and sizes of this process's own mappings: u64 fields of the x86_64 ELF headers that fit
// in usize there (sys is x86_64-only: see `KernelSigaction`).
#[allow(clippy::cast_possible_truncation)]
unsafe extern "C" fn segments(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: `info` is valid for this call (dl_iterate_phdr(3)); its `dlpi_phdr` points at
    // `dlpi_phnum` program headers of the main program, mapped for the process's lifetime.
    let (info, released) = unsafe { (&*info, &mut *(data as *mut usize)) };
    // SAFETY: as above: `dlpi_phnum` headers start at `dlpi_phdr`.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let page = 4096usize;
    // Pages that would fault right back, each pulling in the 64 kB around it (fault-around,
    // mm/memory.c do_fault_around), for code the idle loop may never need: this very function's,
    // which runs again as soon as madvise returns; libc's madvise and dl_iterate_phdr, which this
    // returns into; libc's syscall(), through which the idle loop sleeps (rt_sigtimedwait). In a
    // static binary libc's functions sit together, yet a 64 kB boundary may fall between them: kept,
    // they fault nothing whatever the layout. (In a dynamic build they are not in these segments.)
    let keep_from = |f: usize| f / page * page..f / page * page + KEEP_PAGES * page;
    let keep = [
        keep_from(segments as *const () as usize),
        keep_from(libc::madvise as *const () as usize),
        keep_from(libc::dl_iterate_phdr as *const () as usize),
        keep_from(libc::syscall as *const () as usize),
    ];
    let kept = |p: usize| keep.iter().any(|k| k.contains(&p));
    for ph in phdrs {
        if ph.p_type != libc::PT_LOAD || ph.p_flags & libc::PF_W != 0 {
            continue;
        }
        let start = (info.dlpi_addr as usize + ph.p_vaddr as usize).next_multiple_of(page);
        let end = (info.dlpi_addr as usize + (ph.p_vaddr + ph.p_filesz) as usize) / page * page;
        // Runs of pages between the kept ones.
        let mut from = start;
        while from < end {
            if kept(from) {
                from += page;
                continue;
            }
            let mut to = from;
            while to < end && !kept(to) {
                to += page;
            }
            // SAFETY: [from, to) is whole pages of a read-only, file-backed mapping of our own
            // executable: its contents are the file's, so MADV_DONTNEED only drops page-table
            // entries and the next access maps the same bytes back from the page cache.
            if unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_DONTNEED) }
                == 0
            {
                *released += to - from;
            }
            from = to;
        }
    }
    1
}

/// Pages kept from the page of each function [`segments`] keeps on: each is a few hundred bytes at
/// most, so two pages cover it wherever it starts.
const KEEP_PAGES: usize = 2;

#[cfg(test)]
mod tests {
    #[test]
    fn code_still_runs_after_its_pages_are_released() {
        let released = super::release_readonly_segments();
        assert!(released > 0);
        // The code and read-only data come back on demand.
        let v: Vec<String> = (0..100).map(|i| format!("{i:04}")).collect();
        assert_eq!(v[42], "0042");
        assert!(super::release_readonly_segments() > 0);
    }
}
