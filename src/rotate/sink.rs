//! The `--io` file sink the relay writes to: opened through the log's directory fd ([`LogDir`]),
//! `O_RDWR|O_APPEND|O_NOFOLLOW` (read access only to look at the last byte); dock owns the fd.
//! With rotation the sink also does the switch: it is the only code that sees the bytes, so it is
//! the only place that can rotate exactly at a line boundary.
//!
//! - `--log-rotate`: when the period is due ([`FileSink::on_due`]; periods that divide a day fall on
//!   UTC wall-clock boundaries, `rotate::clock`), the switch happens at once if the file ends at a
//!   line boundary, else right after the `\n` that ends the line being written.
//! - `--log-max-size`: before the line that would take the file past SIZE (judged on the bytes of it
//!   at hand: a line arriving in pieces can take the file past SIZE by its later pieces), and after
//!   a single line longer than SIZE, which is written whole.
//! - The switch renames the file to a temporary name in the same directory, creates a new file at
//!   the path with the old one's owner and mode, and hands the old fd to the gzip thread
//!   ([`super::Handoff`]). No copy, no truncate: no line lost, none split between files.
//! - Write failures (disk full, EIO) never reach the relay: the bytes are dropped and counted, the
//!   rest of a line cut by a failure is dropped with it, and when writes work again a `\n` first
//!   ends the cut line (a reader sees one short line, never two glued) and one line reports what
//!   was lost. A due rotation does not wait for the end of a cut line.
//!
//! Registers nothing (regular files are always "ready"); the relay arms the schedule's deadline
//! ([`FileSink::next_due`], [`FileSink::on_due`]).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::stat::{FileStat, SFlag};

use super::dir::{file_type, LogDir, OpenError, Opened};
use super::{log_error, Handoff, RotateError};

mod schedule;
mod write;
use schedule::Schedule;

/// Output lost to failed writes since the first failure of a run.
#[derive(Debug)]
struct Loss {
    bytes: u64,
    lines: u64,
}

/// Rotation state, present once rotation is enabled.
#[derive(Debug)]
struct Rotation {
    handoff: Handoff,
    /// `--log-rotate`'s schedule.
    schedule: Option<Schedule>,
    /// `--log-max-size`, bytes.
    max_size: Option<u64>,
    /// After a failed size rotation, the size at which to try again (not at every line).
    size_retry_at: u64,
    /// A rotation was asked for and waits for the end of the current line.
    pending: bool,
    /// Tells apart temporary names made within one second.
    counter: u64,
}

/// The open log file.
#[derive(Debug)]
pub struct FileSink {
    dir: Arc<LogDir>,
    path: PathBuf,
    file: File,
    /// The fd was opened with read access, so the file's last byte can be read back.
    readable: bool,
    /// (device, inode) of the open file.
    id: (u64, u64),
    /// Mode of files dock creates (`--log-mode`).
    mode: u32,
    /// Bytes in the file: its size when opened plus what dock wrote.
    size: u64,
    /// What the relay handed over so far ends at a line boundary.
    at_line_start: bool,
    /// The file's last byte (written) is `\n`, or the file is empty.
    file_at_line_start: bool,
    /// Dropping input until the end of the line a failed write cut.
    skipping: bool,
    /// Writes are failing: what was dropped since they started to.
    loss: Option<Loss>,
    rotation: Option<Rotation>,
}

impl FileSink {
    /// Opens (creating it with exactly `mode`) `path` for appending, refusing a symbolic link and a
    /// file with other hard links.
    ///
    /// # Errors
    /// [`OpenError`]: a link, hard links, or `open(2)` failing (ENOENT for a missing directory...).
    pub fn open(path: &Path, mode: u32) -> Result<FileSink, OpenError> {
        let dir = Arc::new(LogDir::open(path)?);
        let opened = dir.open_log(mode, true)?;
        let path = dir.display(dir.base());
        let mut sink = FileSink {
            dir,
            path,
            file: opened.file,
            readable: opened.readable,
            id: (0, 0),
            mode,
            size: 0,
            at_line_start: true,
            file_at_line_start: true,
            skipping: false,
            loss: None,
            rotation: None,
        };
        sink.measure(&opened.stat);
        Ok(sink)
    }

    /// Makes `o` the file written from now on; returns the one written until now.
    fn adopt(&mut self, o: Opened) -> File {
        let old = std::mem::replace(&mut self.file, o.file);
        self.readable = o.readable;
        self.measure(&o.stat);
        old
    }

    /// Size, identity and tail of the file just opened (`st`: its fstat).
    fn measure(&mut self, st: &FileStat) {
        self.id = (st.st_dev, st.st_ino);
        self.size = u64::try_from(st.st_size).unwrap_or(0);
        self.file_at_line_start = true;
        if self.size > 0 && self.readable {
            let mut b = [0u8; 1];
            if let Ok(1) = self.file.read_at(&mut b, self.size - 1) {
                self.file_at_line_start = b[0] == b'\n';
            }
        }
    }

    /// The log's directory (shared with the gzip thread).
    pub fn dir(&self) -> Arc<LogDir> {
        self.dir.clone()
    }

    /// Turns rotation on: every `period` (wall-clock aligned when it divides a day) and/or before the
    /// file passes `max_size` bytes; rotated-out files go to `handoff`.
    pub fn enable_rotation(
        &mut self,
        handoff: Handoff,
        period: Option<Duration>,
        max_size: Option<u64>,
    ) {
        self.rotation = Some(Rotation {
            handoff,
            schedule: period.map(Schedule::new),
            max_size,
            size_retry_at: 0,
            pending: false,
            counter: 0,
        });
    }

    /// When the next timed rotation is due (`None` without `--log-rotate`).
    pub fn next_due(&mut self) -> Option<Instant> {
        self.rotation
            .as_mut()?
            .schedule
            .as_mut()
            .map(Schedule::next)
    }

    /// The deadline of [`FileSink::next_due`] passed: rotate (now or at the next line boundary) and
    /// retry archives that failed before, unless the wall clock says the boundary is not there yet.
    pub fn on_due(&mut self, now: Instant) {
        let Some(rot) = &mut self.rotation else {
            return;
        };
        let Some(s) = &mut rot.schedule else { return };
        if !s.due(now) {
            return;
        }
        rot.handoff.retry_failed();
        self.request_rotation();
    }

    /// Asks for a rotation: done now if the file ends at a line boundary (its last byte is `\n`) or
    /// a failed write cut its last line, else by the `write` that completes the current line. An
    /// empty file is not rotated (an idle child would otherwise push real archives out with empty
    /// ones). Without rotation enabled, nothing.
    pub fn request_rotation(&mut self) {
        let (empty, boundary) = self.tail();
        let cut = self.loss.is_some() || self.skipping;
        let Some(rot) = &mut self.rotation else {
            return;
        };
        if empty {
            rot.pending = false;
        } else if boundary || cut {
            self.switch();
        } else {
            rot.pending = true;
        }
    }

    /// A rotation waits for the end of a line.
    pub fn rotation_pending(&self) -> bool {
        self.rotation.as_ref().is_some_and(|r| r.pending)
    }

    /// (empty, ends with `\n`). Reads the file's last byte when it can, so bytes that reached the
    /// file without [`FileSink::write`] (another writer) count too.
    fn tail(&self) -> (bool, bool) {
        let len = match self.file.metadata() {
            Ok(m) => m.len(),
            Err(_) => return (self.size == 0, self.file_at_line_start),
        };
        if len == 0 {
            return (true, true);
        }
        let mut b = [0u8; 1];
        match self.readable.then(|| self.file.read_at(&mut b, len - 1)) {
            Some(Ok(1)) => (false, b[0] == b'\n'),
            _ => (false, self.file_at_line_start),
        }
    }

    /// Rename + new file + hand-off. Any failure is logged and leaves output going to a file: the
    /// old one (the next period retries) or, if the rename worked but no new file could be made,
    /// the old one moved back.
    fn switch(&mut self) {
        let Some(rot) = &mut self.rotation else {
            return;
        };
        rot.pending = false;
        let Some(old) = self.at_path() else {
            return self.defer_size_rotation();
        };
        if !self.file_at_line_start && self.loss.is_some() {
            // A failed write cut the last line: end it, if there is room now.
            let _ = self.write_all(b"\n");
        }
        let now = super::clock::unix_now().as_secs();
        let Some(temp) = self.rename_out(now) else {
            return self.defer_size_rotation();
        };
        self.reopen_after(temp, now, &old);
    }

    /// No rotation happened (the path is not the file, not a regular file, or the rename was
    /// refused): the size rule asks again once the file has grown by another SIZE, not at every
    /// line, so the reason is not logged line after line.
    fn defer_size_rotation(&mut self) {
        if let Some(rot) = &mut self.rotation {
            rot.size_retry_at = self.size + rot.max_size.unwrap_or(0);
        }
    }

    /// The open file's `fstat` if the file at the path is still it; otherwise `None`, after
    /// reopening the path if the file was moved or deleted from under dock.
    fn at_path(&mut self) -> Option<FileStat> {
        let ours = match nix::sys::stat::fstat(&self.file) {
            // Never rename a device node or a FIFO (`--io /dev/console`).
            Ok(st) if file_type(&st) != SFlag::S_IFREG => {
                crate::warn!(
                    "--log-rotate: {} is not a regular file; not rotated",
                    self.path.display()
                );
                return None;
            }
            Ok(st) => st,
            Err(e) => {
                crate::warn!("--log-rotate: fstat {}: {e}", self.path.display());
                return None;
            }
        };
        match self.dir.stat(self.dir.base()) {
            Ok(st) if file_type(&st) == SFlag::S_IFLNK => {
                crate::warn!(
                    "--log-rotate: {} is now a symbolic link; not rotated, not followed",
                    self.path.display()
                );
                None
            }
            Ok(st) if (st.st_dev, st.st_ino) == self.id => Some(ours),
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                crate::warn!("--log-rotate: stat {}: {e}", self.path.display());
                None
            }
            Ok(_) | Err(_) => {
                crate::warn!(
                    "--log-rotate: {} was moved or deleted from under dock; reopening it",
                    self.path.display()
                );
                self.reopen_in_place();
                None
            }
        }
    }

    /// Renames the live file to a free temporary name (never replacing anything).
    fn rename_out(&mut self, now: u64) -> Option<std::ffi::OsString> {
        let rot = self.rotation.as_mut()?;
        let base = self.dir.base().as_encoded_bytes();
        let mut attempt = 0;
        loop {
            let temp = super::dir::os(&super::name::temp_name(base, now, rot.counter)).to_owned();
            rot.counter += 1;
            match self.dir.rename_noreplace(self.dir.base(), &temp) {
                Ok(()) => return Some(temp),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) && attempt < 64 => attempt += 1,
                Err(source) => {
                    log_error(&RotateError::Rename {
                        from: self.path.clone(),
                        to: self.dir.display(&temp),
                        source,
                    });
                    return None;
                }
            }
        }
    }

    /// After the rename: a new file at the path with the old one's owner and mode, and the old fd
    /// to the gzip thread. If the path cannot be created (something appeared there meanwhile: it is
    /// not opened), the renamed file is moved back, or output goes on into it.
    fn reopen_after(&mut self, temp: std::ffi::OsString, now: u64, old: &FileStat) {
        let mode = old.st_mode & 0o7777;
        let created = self
            .dir
            .create(self.dir.base(), mode, OFlag::O_RDWR | OFlag::O_APPEND)
            .and_then(|f| {
                keep_owner(&f, old);
                let stat = nix::sys::stat::fstat(&f)?;
                Ok(Opened {
                    file: f,
                    readable: true,
                    stat,
                    created: true,
                })
            });
        match created {
            Ok(o) => {
                // Every byte written to the old fd is in the renamed file: it goes to the gzip
                // thread, which reads it from that fd (no path to swap for a link meanwhile).
                let old_id = self.id;
                let old_readable = self.readable;
                let old_file = self.adopt(o);
                if let Some(rot) = &self.rotation {
                    rot.handoff
                        .send(temp, old_readable.then_some(old_file), old_id, now);
                }
            }
            Err(source) => {
                log_error(&RotateError::Reopen {
                    path: self.path.clone(),
                    source,
                });
                if let Err(source) = self.dir.rename_noreplace(&temp, self.dir.base()) {
                    log_error(&RotateError::Rename {
                        from: self.dir.display(&temp),
                        to: self.path.clone(),
                        source,
                    });
                    crate::warn!(
                        "--log-rotate: output goes on into {}; the next run archives it",
                        self.dir.display(&temp).display()
                    );
                }
            }
        }
    }

    fn reopen_in_place(&mut self) {
        match self.dir.open_log(self.mode, true) {
            Ok(o) => {
                self.adopt(o);
            }
            Err(e) => crate::warn!("--log-rotate: reopen: {}", crate::log::chain(&e)),
        }
    }

    /// The path the file was opened at (absolute).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }
}

/// The new file gets the old one's owner and group (dock created it as itself). Only root may
/// give a file away (EPERM otherwise): then it stays dock's, as before.
fn keep_owner(f: &File, old: &FileStat) {
    use nix::unistd::{Gid, Uid};
    let _ = nix::unistd::fchown(
        f,
        Some(Uid::from_raw(old.st_uid)),
        Some(Gid::from_raw(old.st_gid)),
    );
}

#[cfg(test)]
mod tests;
