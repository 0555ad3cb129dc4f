//! The `--io` file sink: opened `O_RDWR|O_APPEND|O_CREAT|O_CLOEXEC`, mode 0600 (read access only to
//! look at the last byte); dock owns the fd. With `--log-rotate`, the sink also does the switch: it is
//! the only code that sees the bytes, so it is the only place that can rotate exactly at a line
//! boundary. [`crate::rotate::Rotator`] asks for a rotation; the next `write` that completes a line
//! finishes it in the old file, renames that file to a temporary name in the same directory, reopens
//! the path and writes the rest of the chunk to the new file. No copy, no truncate: no line is lost
//! and none is split between two files.
//!
//! Registers nothing (regular files are always "ready").
//!
//! Contract with the relay: call [`FileSink::write`] for every chunk and never bypass the sink (no
//! `splice(2)`) while [`FileSink::needs_bytes`] is true; check it per chunk, rotation is turned on
//! after the sink is opened.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::rotate::{self, log_error, Handoff, RotateError};

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

/// Rotation state, present once rotation is enabled.
#[derive(Debug)]
struct Rotation {
    handoff: Handoff,
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

/// Opens (creating, mode 0600) `path` write-only for appending, for the child to write itself when
/// nothing needs dock in between (no prefix, no rotation). Close-on-exec: the spawn gives the child
/// its own copies as fds 1 and 2.
///
/// # Errors
/// `open(2)` failing: ENOENT for a missing directory, EACCES, EISDIR...
pub fn open_for_child(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
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

    /// Turns rotation on: rotated-out files go to `handoff`.
    pub fn enable_rotation(&mut self, handoff: Handoff) {
        self.rotation = Some(Rotation {
            handoff,
            pending: false,
            counter: 0,
        });
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
        let (dir, base) = match rotate::split_path(&self.path) {
            Ok(x) => x,
            Err(e) => return log_error(&e),
        };
        // Is the file at the path still ours? Someone may have deleted or moved it (then reopening
        // is all there is to do), or put a symlink there (renaming would move the link, not the log).
        let ours = match self.file.metadata() {
            // Never rename a device node or a FIFO (`--io /dev/console`).
            Ok(m) if !m.is_file() => {
                return crate::warn!(
                    "--log-rotate: {} is not a regular file; not rotated",
                    self.path.display()
                );
            }
            Ok(m) => (m.dev(), m.ino()),
            Err(e) => return crate::warn!("--log-rotate: fstat {}: {e}", self.path.display()),
        };
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.file_type().is_symlink() => {
                return crate::warn!(
                    "--log-rotate: {} is a symbolic link; not rotated",
                    self.path.display()
                );
            }
            Ok(m) if (m.dev(), m.ino()) == ours => {}
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return crate::warn!("--log-rotate: stat {}: {e}", self.path.display());
            }
            Ok(_) | Err(_) => {
                crate::warn!(
                    "--log-rotate: {} was moved or deleted from under dock; reopening it",
                    self.path.display()
                );
                return self.reopen_in_place();
            }
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut attempt = 0;
        let temp = loop {
            let temp = dir.join(std::ffi::OsStr::from_bytes(&rotate::name::temp_name(
                base.as_bytes(),
                now,
                rot.counter,
            )));
            rot.counter += 1;
            match crate::sys::fs::rename_noreplace(&self.path, &temp) {
                Ok(()) => break temp,
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) && attempt < 64 => attempt += 1,
                Err(source) => {
                    return log_error(&RotateError::Rename {
                        from: self.path.clone(),
                        to: temp,
                        source,
                    })
                }
            }
        };
        match open_file(&self.path) {
            Ok((f, readable)) => {
                // The old fd closes here; every byte written to it is in the renamed file.
                self.file = f;
                self.readable = readable;
                self.last_nl = true;
                rot.handoff.send(temp, now);
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
mod tests {
    use super::*;
    use crate::rotate::worker::Job;
    use std::sync::mpsc::Receiver;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dock-file-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn rotated(rx: &Receiver<Job>) -> Vec<PathBuf> {
        rx.try_iter()
            .map(|j| match j {
                Job::Archive(r) => r.temp,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    fn sink(dir: &Path) -> (FileSink, Receiver<Job>) {
        let mut s = FileSink::open(&dir.join("app.log")).unwrap();
        assert!(!s.needs_bytes());
        let (h, rx) = Handoff::for_test();
        s.enable_rotation(h);
        assert!(s.needs_bytes());
        (s, rx)
    }

    #[test]
    fn opens_0600_appending() {
        use std::os::unix::fs::PermissionsExt;
        let d = tmpdir("mode");
        let p = d.join("app.log");
        std::fs::write(&p, "old\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut s = FileSink::open(&p).unwrap();
        s.write(b"new\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"old\nnew\n");
        let _ = std::fs::remove_file(&p);
        let mut s = FileSink::open(&p).unwrap();
        s.write(b"x").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_partial_line_is_finished_in_the_old_file() {
        let d = tmpdir("partial");
        let (mut s, rx) = sink(&d);
        assert_eq!(s.write(b"one\ntw").unwrap(), 6);
        s.request_rotation();
        assert!(s.rotation_pending());
        assert!(rotated(&rx).is_empty());
        // No newline yet: still the old file.
        assert_eq!(s.write(b"o-and").unwrap(), 5);
        assert!(s.rotation_pending());
        assert_eq!(s.write(b"-more\nthree\nfo").unwrap(), 14);
        assert!(!s.rotation_pending());
        let temps = rotated(&rx);
        assert_eq!(temps.len(), 1);
        assert_eq!(
            std::fs::read(&temps[0]).unwrap(),
            b"one\ntwo-and-more\n".to_vec()
        );
        assert_eq!(std::fs::read(d.join("app.log")).unwrap(), b"three\nfo");
        let name = temps[0].file_name().unwrap().as_bytes().to_vec();
        assert!(crate::rotate::name::parse_temp_name(b"app.log", &name).is_some());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn at_a_line_boundary_the_switch_is_immediate() {
        let d = tmpdir("boundary");
        let (mut s, rx) = sink(&d);
        s.write(b"a\n").unwrap();
        s.request_rotation();
        assert!(!s.rotation_pending());
        let temps = rotated(&rx);
        assert_eq!(std::fs::read(&temps[0]).unwrap(), b"a\n");
        assert_eq!(std::fs::read(d.join("app.log")).unwrap(), b"");
        // A newline at the very end of a chunk switches with nothing left for the new file.
        s.write(b"b").unwrap();
        s.request_rotation();
        s.write(b"c\n").unwrap();
        let temps = rotated(&rx);
        assert_eq!(std::fs::read(&temps[0]).unwrap(), b"bc\n");
        assert_eq!(std::fs::read(d.join("app.log")).unwrap(), b"");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_empty_file_is_not_rotated() {
        let d = tmpdir("empty");
        let (mut s, rx) = sink(&d);
        s.request_rotation();
        assert!(!s.rotation_pending());
        assert!(rotated(&rx).is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn bytes_written_behind_the_sinks_back_count() {
        // As after a splice before rotation was on: the sink looks at the file, not its memory.
        let d = tmpdir("behind");
        let (mut s, rx) = sink(&d);
        s.write(b"x\n").unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(d.join("app.log"))
            .unwrap()
            .write_all(b"partial")
            .unwrap();
        s.request_rotation();
        assert!(s.rotation_pending());
        s.write(b"\nnext\n").unwrap();
        let temps = rotated(&rx);
        assert_eq!(std::fs::read(&temps[0]).unwrap(), b"x\npartial\n");
        assert_eq!(std::fs::read(d.join("app.log")).unwrap(), b"next\n");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_deleted_file_is_reopened_not_archived() {
        let d = tmpdir("deleted");
        let (mut s, rx) = sink(&d);
        s.write(b"gone\n").unwrap();
        std::fs::remove_file(d.join("app.log")).unwrap();
        s.request_rotation();
        assert!(rotated(&rx).is_empty());
        s.write(b"after\n").unwrap();
        assert_eq!(std::fs::read(d.join("app.log")).unwrap(), b"after\n");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn failures_keep_output_flowing_into_the_current_file() {
        let d = tmpdir("nodir");
        let (mut s, rx) = sink(&d);
        s.write(b"a\n").unwrap();
        // The whole directory vanishes: rename and reopen both fail; writes still land in the fd.
        let keep = std::fs::File::open(d.join("app.log")).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
        s.request_rotation();
        assert!(rotated(&rx).is_empty());
        assert_eq!(s.write(b"b\n").unwrap(), 2);
        let mut all = String::new();
        std::io::Read::read_to_string(&mut &keep, &mut all).unwrap();
        assert_eq!(all, "a\nb\n");
    }

    #[test]
    fn a_device_is_never_renamed() {
        let mut s = FileSink::open(Path::new("/dev/null")).unwrap();
        let (h, rx) = Handoff::for_test();
        s.enable_rotation(h);
        s.write(b"partial").unwrap();
        s.request_rotation();
        s.write(b"\n").unwrap();
        s.switch();
        assert!(rotated(&rx).is_empty());
        assert!(Path::new("/dev/null").exists());
    }

    #[test]
    fn many_rotations_in_one_second_get_distinct_temp_names() {
        let d = tmpdir("many");
        let (mut s, rx) = sink(&d);
        for i in 0..20 {
            s.write(format!("{i}\n").as_bytes()).unwrap();
            s.request_rotation();
        }
        let temps = rotated(&rx);
        assert_eq!(temps.len(), 20);
        for (i, t) in temps.iter().enumerate() {
            assert_eq!(std::fs::read(t).unwrap(), format!("{i}\n").as_bytes());
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
