//! The `--io` file sink the relay writes to: opened `O_RDWR|O_APPEND|O_CREAT|O_CLOEXEC`, mode 0600
//! (read access only to look at the last byte); dock owns the fd. With `--log-rotate`, the sink also
//! keeps the schedule and does the switch: it is the only code that sees the bytes, so it is the only
//! place that can rotate exactly at a line boundary. When a rotation is due, the next `write` that
//! completes a line finishes it in the old file, renames that file to a temporary name in the same
//! directory, reopens the path and writes the rest of the chunk to the new file, and the renamed file
//! goes to the gzip thread ([`super::Handoff`]). No copy, no truncate: no line is lost and none is
//! split between two files.
//!
//! Registers nothing (regular files are always "ready"); the relay arms the schedule's deadline
//! ([`FileSink::next_due`], [`FileSink::on_due`]).
//!
//! Contract with the relay: call [`FileSink::write`] for every chunk and never bypass the sink (no
//! `splice(2)`) while [`FileSink::needs_bytes`] is true.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{log_error, Handoff, RotateError};

/// How the file ends, for deciding when to rotate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// Nothing in it.
    Empty,
    /// The last byte is `\n`.
    Boundary,
    /// A line is being written.
    MidLine,
}

impl Tail {
    fn from_nl(nl: bool) -> Tail {
        if nl {
            Tail::Boundary
        } else {
            Tail::MidLine
        }
    }
}

/// What is at the `--io` path when a rotation is due.
enum AtPath {
    /// The file dock writes: rename it.
    Ours,
    /// Nothing, or another file: reopen the path.
    Gone,
    /// Something dock must not touch (logged): no rotation.
    Refused,
}

/// Rotation state, present once rotation is enabled.
#[derive(Debug)]
struct Rotation {
    handoff: Handoff,
    /// The period (`--log-rotate`).
    period: Duration,
    /// When the next rotation is due; set when the relay starts the schedule.
    next: Option<Instant>,
    /// A rotation was asked for and waits for the end of the current line.
    pending: bool,
    /// Tells apart temporary names made within one second.
    counter: u64,
}

/// The open log file.
#[derive(Debug)]
pub struct FileSink {
    file: File,
    path: PathBuf,
    /// The fd was opened with read access, so the file's last byte can be read back.
    readable: bool,
    /// The last byte written through [`FileSink::write`] was `\n`, or nothing was written. Only used
    /// when the fd is write-only (the file's mode denied read access).
    last_nl: bool,
    rotation: Option<Rotation>,
}

/// Opens the log: read access too for a regular file (to check its last byte), write-only for
/// anything else (a tty, a FIFO: reading them has side effects, and they are never rotated).
fn open_file(path: &Path) -> io::Result<(File, bool)> {
    let regular = std::fs::metadata(path).map_or(true, |m| m.is_file());
    let open = |read| {
        OpenOptions::new()
            .read(read)
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
    };
    if !regular {
        return open(false).map(|f| (f, false));
    }
    match open(true) {
        Ok(f) => Ok((f, true)),
        // An existing file may be write-only for us (mode 0200): append anyway.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => open(false).map(|f| (f, false)),
        Err(e) => Err(e),
    }
}

impl FileSink {
    /// Opens (creating, mode 0600) `path` for appending. A relative path is made absolute first, so a
    /// later `chdir` does not move rotation elsewhere.
    ///
    /// # Errors
    /// `open(2)` failing: ENOENT for a missing directory, EACCES, EISDIR...
    pub fn open(path: &Path) -> io::Result<FileSink> {
        let path = std::path::absolute(path)?;
        let (file, readable) = open_file(&path)?;
        Ok(FileSink {
            file,
            path,
            readable,
            last_nl: true,
            rotation: None,
        })
    }

    /// Writes `buf`, returning how much was written. When a rotation is pending and `buf` holds a
    /// `\n`, the bytes up to and including it go to the old file, then the switch happens and the rest
    /// goes to the new file. Rotation problems are logged, never returned: output goes on regardless.
    ///
    /// # Errors
    /// `write(2)` failing (ENOSPC, EIO).
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.rotation.as_ref().is_some_and(|r| r.pending) {
            if let Some(i) = buf.iter().position(|&b| b == b'\n') {
                let n = self.write_raw(&buf[..=i])?;
                if n <= i {
                    return Ok(n); // short write: the line is not complete yet
                }
                self.switch();
                if n == buf.len() {
                    return Ok(n);
                }
                // The first part is written: report it even if the rest fails now; the caller's
                // next call gets the error.
                return Ok(n + self.write_raw(&buf[n..]).unwrap_or(0));
            }
        }
        self.write_raw(buf)
    }

    fn write_raw(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        if n > 0 {
            self.last_nl = buf[n - 1] == b'\n';
        }
        Ok(n)
    }

    /// The relay must hand every byte to [`FileSink::write`] (no `splice`): true once rotation is
    /// enabled.
    pub fn needs_bytes(&self) -> bool {
        self.rotation.is_some()
    }

    /// Turns rotation on, every `period`: rotated-out files go to `handoff`.
    pub fn enable_rotation(&mut self, handoff: Handoff, period: Duration) {
        self.rotation = Some(Rotation {
            handoff,
            period,
            next: None,
            pending: false,
            counter: 0,
        });
    }

    /// When the next rotation is due (`None` without rotation). The first call starts the schedule:
    /// a period from now, then every period from there, as a periodic timer would.
    pub fn next_due(&mut self) -> Option<Instant> {
        let rot = self.rotation.as_mut()?;
        Some(*rot.next.get_or_insert_with(|| Instant::now() + rot.period))
    }

    /// The deadline of [`FileSink::next_due`] passed: rotate (now or at the next line boundary) and
    /// retry archives that failed before; the schedule moves to the next period after `now` (periods
    /// missed while dock was stopped count once, as a timerfd's expirations do).
    pub fn on_due(&mut self, now: Instant) {
        let Some(rot) = &mut self.rotation else {
            return;
        };
        if let Some(next) = &mut rot.next {
            while *next <= now {
                *next += rot.period;
            }
        }
        rot.handoff.retry_failed();
        self.request_rotation();
    }

    /// Asks for a rotation: done now if the file ends at a line boundary (its last byte is `\n`), else
    /// by the `write` that completes the current line. An empty file is not rotated (an idle child
    /// would otherwise push real archives out with empty ones). Without rotation enabled, nothing.
    pub fn request_rotation(&mut self) {
        let tail = self.tail();
        let Some(rot) = &mut self.rotation else {
            return;
        };
        match tail {
            Tail::Empty => rot.pending = false,
            Tail::Boundary => self.switch(),
            Tail::MidLine => rot.pending = true,
        }
    }

    /// A rotation waits for the end of a line.
    pub fn rotation_pending(&self) -> bool {
        self.rotation.as_ref().is_some_and(|r| r.pending)
    }

    /// How the file ends. Reads its last byte when it can, so bytes that reached the file without
    /// [`FileSink::write`] (a `splice` before rotation was enabled) count too.
    fn tail(&self) -> Tail {
        let len = match self.file.metadata() {
            Ok(m) => m.len(),
            Err(_) => return Tail::from_nl(self.last_nl),
        };
        if len == 0 {
            return Tail::Empty;
        }
        let mut b = [0u8; 1];
        match self.readable.then(|| self.file.read_at(&mut b, len - 1)) {
            Some(Ok(1)) => Tail::from_nl(b[0] == b'\n'),
            _ => Tail::from_nl(self.last_nl),
        }
    }

    /// Rename + reopen + hand-off. Any failure is logged and leaves output going to a file: the old one
    /// (the next period retries) or, if the rename worked but the reopen did not, the old one moved back.
    fn switch(&mut self) {
        let Some(rot) = &mut self.rotation else {
            return;
        };
        rot.pending = false;
        let (dir, base) = match super::split_path(&self.path) {
            Ok(x) => x,
            Err(e) => return log_error(&e),
        };
        match self.at_path() {
            AtPath::Ours => {}
            AtPath::Gone => return self.reopen_in_place(),
            AtPath::Refused => return,
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if let Some(temp) = self.rename_out(&dir, &base, now) {
            self.reopen_after(temp, now);
        }
    }

    /// Is the file at the path still ours? Someone may have deleted or moved it (then reopening is
    /// all there is to do), or put a symlink there (renaming would move the link, not the log).
    fn at_path(&self) -> AtPath {
        let ours = match self.file.metadata() {
            // Never rename a device node or a FIFO (`--io /dev/console`).
            Ok(m) if !m.is_file() => {
                crate::warn!(
                    "--log-rotate: {} is not a regular file; not rotated",
                    self.path.display()
                );
                return AtPath::Refused;
            }
            Ok(m) => (m.dev(), m.ino()),
            Err(e) => {
                crate::warn!("--log-rotate: fstat {}: {e}", self.path.display());
                return AtPath::Refused;
            }
        };
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.file_type().is_symlink() => {
                crate::warn!(
                    "--log-rotate: {} is a symbolic link; not rotated",
                    self.path.display()
                );
                AtPath::Refused
            }
            Ok(m) if (m.dev(), m.ino()) == ours => AtPath::Ours,
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                crate::warn!("--log-rotate: stat {}: {e}", self.path.display());
                AtPath::Refused
            }
            Ok(_) | Err(_) => {
                crate::warn!(
                    "--log-rotate: {} was moved or deleted from under dock; reopening it",
                    self.path.display()
                );
                AtPath::Gone
            }
        }
    }

    /// Renames the live file to a free temporary name in `dir` (never replacing anything).
    fn rename_out(&mut self, dir: &Path, base: &std::ffi::OsStr, now: u64) -> Option<PathBuf> {
        let rot = self.rotation.as_mut()?;
        let mut attempt = 0;
        loop {
            let temp = dir.join(std::ffi::OsStr::from_bytes(&super::name::temp_name(
                base.as_bytes(),
                now,
                rot.counter,
            )));
            rot.counter += 1;
            match crate::sys::fs::rename_noreplace(&self.path, &temp) {
                Ok(()) => return Some(temp),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) && attempt < 64 => attempt += 1,
                Err(source) => {
                    log_error(&RotateError::Rename {
                        from: self.path.clone(),
                        to: temp,
                        source,
                    });
                    return None;
                }
            }
        }
    }

    /// After the rename: a new file at the path, and the renamed one to the gzip thread; if the path
    /// cannot be reopened, the renamed file is moved back so output goes on into it.
    fn reopen_after(&mut self, temp: PathBuf, now: u64) {
        match open_file(&self.path) {
            Ok((f, readable)) => {
                // The old fd closes here; every byte written to it is in the renamed file.
                self.file = f;
                self.readable = readable;
                self.last_nl = true;
                if let Some(rot) = &self.rotation {
                    rot.handoff.send(temp, now);
                }
            }
            Err(source) => {
                log_error(&RotateError::Reopen {
                    path: self.path.clone(),
                    source,
                });
                if let Err(source) = crate::sys::fs::rename_noreplace(&temp, &self.path) {
                    log_error(&RotateError::Rename {
                        from: temp.clone(),
                        to: self.path.clone(),
                        source,
                    });
                    crate::warn!(
                        "--log-rotate: output goes on into {}; the next run archives it",
                        temp.display()
                    );
                }
            }
        }
    }

    fn reopen_in_place(&mut self) {
        match open_file(&self.path) {
            Ok((f, readable)) => {
                self.file = f;
                self.readable = readable;
                self.last_nl = true;
            }
            Err(source) => log_error(&RotateError::Reopen {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// The path the file was opened at (absolute).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file, e.g. as a `splice(2)` target while [`FileSink::needs_bytes`] is false.
    pub fn file(&self) -> &File {
        &self.file
    }
}

#[cfg(test)]
mod tests;
