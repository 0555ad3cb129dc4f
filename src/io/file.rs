//! The `--io` file sink: opened `O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC`, mode 0600; dock owns the fd,
//! which rotation (`rotate.rs`) renames and reopens.
//!
//! Registers nothing (regular files are always "ready").

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The open log file.
#[derive(Debug)]
pub struct FileSink {
    file: File,
    path: PathBuf,
}

impl FileSink {
    /// Opens (creating, mode 0600) `path` for appending.
    ///
    /// # Errors
    /// `open(2)` failing: ENOENT for a missing directory, EACCES, EISDIR...
    pub fn open(path: &Path) -> io::Result<FileSink> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)?;
        Ok(FileSink {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Writes `buf`, returning how much was written.
    ///
    /// # Errors
    /// `write(2)` failing (ENOSPC, EIO).
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    /// Whether the relay must pass every byte through [`FileSink::write`] (rotation watches for line
    /// boundaries): when false it may `splice(2)` the pipe into [`FileSink::file`] instead.
    /// (Stub until rotation lands: `rotate.rs` owns the real answer.)
    pub fn needs_bytes(&self) -> bool {
        false
    }

    /// The path the file was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file, e.g. as a `splice(2)` target.
    pub fn file(&self) -> &File {
        &self.file
    }
}
