//! File-system calls nix lacks on every libc: `renameat2(RENAME_NOREPLACE)` (nix wraps it for glibc
//! only; dock also builds against musl), so a raw `syscall(2)`.
//!
//! Registers nothing.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::cvt;

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Renames `from` to `to` unless `to` exists: `renameat2(2)` with `RENAME_NOREPLACE` (Linux ≥ 3.15).
/// Where the file system does not support the flag (EINVAL, e.g. some FUSE and NFS) or the kernel
/// lacks the call (ENOSYS), falls back to checking `to` with `lstat` and a plain `rename(2)`; that
/// check races with other renamers, which is acceptable for names only dock makes.
///
/// # Errors
/// EEXIST when `to` exists; otherwise as `rename(2)` (ENOENT, EACCES, EXDEV, ENOSPC...).
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    let (f, t) = (cstr(from)?, cstr(to)?);
    // SAFETY: both pointers are NUL-terminated strings owned by `f` and `t`, alive for the call;
    // AT_FDCWD is valid for the whole process life.
    let r = cvt(unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    });
    match r {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) => {
            match std::fs::symlink_metadata(to) {
                Ok(_) => Err(io::Error::from_raw_os_error(libc::EEXIST)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::rename(from, to),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_replace() {
        let dir = std::env::temp_dir().join(format!("dock-sysfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        let e = rename_noreplace(&a, &b).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        assert_eq!(std::fs::read(&b).unwrap(), b"b");
        std::fs::remove_file(&b).unwrap();
        rename_noreplace(&a, &b).unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"a");
        assert!(!a.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
