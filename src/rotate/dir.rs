//! The `--io` file's directory, opened once: every later open, rename, unlink, stat and listing of
//! the log, its rotated-out files and its archives is relative to this fd, and never follows a
//! symbolic link (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`; a rename or unlink acts on a link itself).
//! So a user who can write to the directory cannot make a root dock write, read, archive or delete
//! another file through a link planted there, nor redirect it by swapping the directory for a link
//! after the start (CWE-59; README, issue 16.1). A file with more than one hard link is refused as
//! well: it may be another file's second name.
//!
//! Registers nothing.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};
use thiserror::Error;

/// Why the `--io` file could not be opened.
#[derive(Debug, Error)]
pub enum OpenError {
    /// The path is a symbolic link: refused, wherever it points.
    #[error("--io {path} is a symbolic link; dock writes only to a file itself, never through a link (give the real path)")]
    Symlink {
        /// The `--io` path.
        path: PathBuf,
    },
    /// A regular file with more than one name.
    #[error("--io {path} has {links} hard links; dock does not append to a file that also has other names")]
    HardLinks {
        /// The `--io` path.
        path: PathBuf,
        /// Its link count.
        links: u64,
    },
    /// `--io` names a directory, or ends in `/`, `..`.
    #[error("--io {path} is not a file path")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// Opening the directory or the file failed.
    #[error("--io {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// The log's directory (an open fd) and the log's name in it.
#[derive(Debug)]
pub struct LogDir {
    fd: OwnedFd,
    /// The absolute directory, for messages only.
    path: PathBuf,
    base: OsString,
}

/// An open log file and what dock knows about it.
#[derive(Debug)]
pub struct Opened {
    /// The file, `O_APPEND`.
    pub file: File,
    /// Opened with read access too (a regular file), so its last byte can be read back.
    pub readable: bool,
    /// Its `fstat` after opening.
    pub stat: FileStat,
    /// dock created it.
    pub created: bool,
}

impl LogDir {
    /// Opens the directory of `path` (made absolute first, so a later `chdir` changes nothing).
    /// Links in the directory's own path are followed: the operator chose it, and from here on the
    /// fd is what counts.
    ///
    /// # Errors
    /// [`OpenError::NotAFile`] for a path without a file name; [`OpenError::Io`] when the directory
    /// cannot be opened.
    pub fn open(path: &Path) -> Result<LogDir, OpenError> {
        let (dir, base) =
            super::split_path(path).map_err(|_| OpenError::NotAFile { path: path.into() })?;
        let fd = nix::fcntl::open(
            &dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| OpenError::Io {
            path: path.into(),
            source: e.into(),
        })?;
        Ok(LogDir {
            fd,
            path: dir,
            base,
        })
    }

    /// The log's file name.
    pub fn base(&self) -> &OsStr {
        &self.base
    }

    /// `name` in this directory, for messages.
    pub fn display(&self, name: &OsStr) -> PathBuf {
        self.path.join(name)
    }

    /// The directory's fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens the log for appending, creating it with `mode` (exactly: umask does not apply) if it
    /// does not exist. With `read`, a regular file gets read access too (dock reads its last byte);
    /// anything else (a FIFO, a terminal) is opened write-only, without becoming dock's controlling
    /// terminal.
    ///
    /// # Errors
    /// [`OpenError::Symlink`], [`OpenError::HardLinks`], or the open failing.
    pub fn open_log(&self, mode: u32, read: bool) -> Result<Opened, OpenError> {
        let path = || self.display(&self.base);
        let io_err = |source: io::Error| OpenError::Io {
            path: path(),
            source,
        };
        for _ in 0..8 {
            let access = if read { OFlag::O_RDWR } else { OFlag::O_WRONLY };
            let created = match self.create(&self.base, mode, access | OFlag::O_APPEND) {
                Ok(file) => Some(file),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => None,
                Err(e) => return Err(io_err(e)),
            };
            if let Some(file) = created {
                let stat = fstat(&file).map_err(|e| io_err(e.into()))?;
                return Ok(Opened {
                    file,
                    readable: read,
                    stat,
                    created: true,
                });
            }
            match self.open_existing(read) {
                // Deleted between the two opens: create it again.
                Err(OpenError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
                other => return other,
            }
        }
        Err(io_err(io::Error::from_raw_os_error(libc::ENOENT)))
    }

    /// Opens the existing log: read access too for a regular file (to check its last byte),
    /// write-only for anything else.
    fn open_existing(&self, read: bool) -> Result<Opened, OpenError> {
        let path = || self.display(&self.base);
        let io_err = |source: io::Error| OpenError::Io {
            path: path(),
            source,
        };
        let st = self.stat(&self.base).map_err(io_err)?;
        let regular = file_type(&st) == SFlag::S_IFREG;
        if file_type(&st) == SFlag::S_IFLNK {
            return Err(OpenError::Symlink { path: path() });
        }
        let flags = OFlag::O_APPEND | OFlag::O_NOFOLLOW | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
        let open = |access| {
            nix::fcntl::openat(
                self.fd(),
                self.base.as_os_str(),
                access | flags,
                Mode::empty(),
            )
        };
        let fd = match open(if regular && read {
            OFlag::O_RDWR
        } else {
            OFlag::O_WRONLY
        }) {
            Ok(fd) => Ok((fd, regular && read)),
            // An existing file may be write-only for us (mode 0200): append anyway.
            Err(Errno::EACCES) if regular && read => open(OFlag::O_WRONLY).map(|fd| (fd, false)),
            Err(e) => Err(e),
        };
        let (fd, readable) = match fd {
            Ok(x) => x,
            Err(Errno::ELOOP) => return Err(OpenError::Symlink { path: path() }),
            Err(e) => return Err(io_err(e.into())),
        };
        let stat = fstat(&fd).map_err(|e| io_err(e.into()))?;
        if file_type(&stat) == SFlag::S_IFREG && stat.st_nlink > 1 {
            return Err(OpenError::HardLinks {
                path: path(),
                links: stat.st_nlink,
            });
        }
        Ok(Opened {
            file: File::from(fd),
            readable,
            stat,
            created: false,
        })
    }

    /// Creates `name` (it must not exist: `O_EXCL`, never through a link) with `access` flags and
    /// exactly `mode`.
    ///
    /// # Errors
    /// EEXIST when something is there; as `openat(2)` and `fchmod(2)`.
    pub fn create(&self, name: &OsStr, mode: u32, access: OFlag) -> io::Result<File> {
        let flags = access | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let m = Mode::from_bits_truncate(mode & 0o7777);
        let fd = nix::fcntl::openat(self.fd(), name, flags, m)?;
        // The umask took bits away: give the file exactly the mode asked for.
        nix::sys::stat::fchmod(&fd, m)?;
        Ok(File::from(fd))
    }

    /// Opens `name` read-only, refusing a link, anything but a regular file, and a file with other
    /// names. Returns it with its `fstat`.
    ///
    /// # Errors
    /// ELOOP for a link, EINVAL for a non-regular file, EMLINK for several hard links; as
    /// `openat(2)`.
    pub fn open_read(&self, name: &OsStr) -> io::Result<(File, FileStat)> {
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::openat(self.fd(), name, flags, Mode::empty())?;
        let st = fstat(&fd)?;
        if file_type(&st) != SFlag::S_IFREG {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        if st.st_nlink > 1 {
            return Err(io::Error::from_raw_os_error(libc::EMLINK));
        }
        Ok((File::from(fd), st))
    }

    /// `fstatat(name, AT_SYMLINK_NOFOLLOW)`: a link is described, not followed.
    ///
    /// # Errors
    /// ENOENT and the like.
    pub fn stat(&self, name: &OsStr) -> io::Result<FileStat> {
        Ok(fstatat(self.fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW)?)
    }

    /// Renames `from` to `to` in this directory, never replacing anything.
    ///
    /// # Errors
    /// EEXIST when `to` exists; as `renameat2(2)`.
    pub fn rename_noreplace(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        crate::sys::fs::renameat_noreplace(self.fd(), from, to)
    }

    /// Removes `name` (a link is removed itself).
    ///
    /// # Errors
    /// As `unlinkat(2)`.
    pub fn unlink(&self, name: &OsStr) -> io::Result<()> {
        Ok(nix::unistd::unlinkat(
            self.fd(),
            name,
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        )?)
    }

    /// The names in the directory (without `.` and `..`).
    ///
    /// # Errors
    /// Opening or reading the directory failing.
    pub fn list(&self) -> io::Result<Vec<Vec<u8>>> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let mut dir = nix::dir::Dir::openat(self.fd(), ".", flags, Mode::empty())?;
        let mut names = Vec::new();
        for entry in dir.iter() {
            let name = entry?.file_name().to_bytes().to_vec();
            if name != b"." && name != b".." {
                names.push(name);
            }
        }
        Ok(names)
    }

    /// `fsync` on the directory: renames and unlinks in it become durable (fsync(2), "NOTES").
    ///
    /// # Errors
    /// EIO and the like.
    pub fn sync(&self) -> io::Result<()> {
        Ok(nix::unistd::fsync(self.fd())?)
    }
}

/// The file type bits of `st`.
pub fn file_type(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// `name` as an `OsStr`.
pub fn os(name: &[u8]) -> &OsStr {
    OsStr::from_bytes(name)
}
