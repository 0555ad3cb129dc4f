//! File-system calls nix lacks on every libc: `renameat2(RENAME_NOREPLACE)` (nix wraps it for glibc
//! only; dock also builds against musl), so a raw `syscall(2)`, by path or relative to a directory fd.
//!
//! Registers nothing.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
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

/// Renames `from` to `to`, both names in the directory `dir` (an open directory fd), unless `to`
/// exists: `renameat2(2)` with `RENAME_NOREPLACE`. Neither name is resolved through a path, so a
/// directory swapped for a link after it was opened cannot redirect the rename, and a symbolic link
/// at `from` is renamed itself, never followed (rename(2)). Falls back as [`rename_noreplace`]
/// (`fstatat(AT_SYMLINK_NOFOLLOW)` + `renameat(2)`).
///
/// # Errors
/// EEXIST when `to` exists; otherwise as `renameat(2)`; EINVAL for a name with a NUL byte.
pub fn renameat_noreplace(dir: BorrowedFd<'_>, from: &OsStr, to: &OsStr) -> io::Result<()> {
    let (f, t) = (cstr(Path::new(from))?, cstr(Path::new(to))?);
    let fd = dir.as_raw_fd();
    // SAFETY: `fd` is an open fd borrowed for the call; both pointers are NUL-terminated strings
    // owned by `f` and `t`, alive for the call.
    let r = cvt(unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            fd,
            f.as_ptr(),
            fd,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    });
    match r {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) => {
            use nix::sys::stat::fstatat;
            match fstatat(dir, to, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(_) => Err(io::Error::from_raw_os_error(libc::EEXIST)),
                Err(nix::errno::Errno::ENOENT) => {
                    nix::fcntl::renameat(dir, from, dir, to).map_err(io::Error::from)
                }
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

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
        // Relative to a directory fd.
        let d = std::fs::File::open(&dir).unwrap();
        std::fs::write(&a, "a2").unwrap();
        let e = renameat_noreplace(d.as_fd(), OsStr::new("a"), OsStr::new("b")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        renameat_noreplace(d.as_fd(), OsStr::new("a"), OsStr::new("c")).unwrap();
        assert_eq!(std::fs::read(dir.join("c")).unwrap(), b"a2");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
