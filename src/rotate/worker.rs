//! The gzip helper thread: turns rotated-out files into archives, one at a time in rotation order, and
//! applies retention after each. It owns all disk work of unbounded length (reading the rotated file,
//! deflate, fsync, listing the directory), so the event loop never waits on it.
//!
//! Registers nothing: it writes one byte to the archive pipe (owned by [`super::Archiver`])
//! after each job, so the loop learns that [`super::Archiver::idle`] may have changed.
//!
//! Crash safety: an archive is written as `.<name>.part`, fsynced, renamed into place without replacing
//! anything, the directory fsynced, and only then the rotated-out file is removed. After a crash, a
//! leftover rotated-out file is archived at the next start and a leftover `.part` deleted, so at worst a
//! crash between the rename and the removal archives those lines twice; it never loses them.

use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Instant;

use flate2::{Compression, GzBuilder};

use super::name::{self, ArchiveKey};
use super::{log_error, RotateError};

/// A file renamed out of the way by the sink, waiting to be archived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// Its temporary path, in the log's directory.
    pub temp: PathBuf,
    /// When it was rotated out, in seconds since the Unix epoch (names the archive).
    pub unix_secs: u64,
}

/// What the loop tells the worker.
#[derive(Debug)]
pub enum Job {
    /// Archive this file (and, first, any earlier one that failed).
    Archive(Rotated),
    /// A new period: retry archives that failed (disk full, directory not writable).
    Retry,
    /// Finish what is queued, then end the thread.
    Quit,
}

/// Counters shared by the loop (sink and rotator) and the worker.
#[derive(Debug, Default)]
pub struct Shared {
    /// Jobs sent and not yet handled: 0 means no gzip is running or waiting.
    pub outstanding: AtomicUsize,
    /// Rotated files whose archiving failed and waits for a retry.
    pub failed: AtomicUsize,
}

/// Buffer for reading the rotated file: large reads keep syscalls far below deflate's cost.
const READ_CHUNK: usize = 256 * 1024;

/// How hard to compress. Level 1 (flate2's `fast`): measured on varied log lines (benches/rotate.rs)
/// 150+ MB/s per CPU second and 3.5× smaller, against ~20 MB/s and 4.4× at the default level 6 — the
/// archive is done in a fraction of the time for a few percent of size.
pub const LEVEL: Compression = Compression::fast();

/// The deflate implementation flate2 is built with (Cargo.toml), for the benchmark's report.
pub const BACKEND: &str = "miniz_oxide (flate2's default backend), level 1";

/// Added to the helper thread's nice value: under CPU contention the loop gets ~10× the gzip thread's
/// share (sched(7): each nice step is ~1.25× weight), so compression does not slow the relay; with a CPU
/// to spare it runs at full speed anyway.
const NICE: i32 = 10;

/// Attempts at a free archive name before giving up (someone else racing on the same names).
const NAME_ATTEMPTS: u32 = 64;

/// The thread's state.
pub struct Worker {
    dir: PathBuf,
    base: OsString,
    keep: usize,
    queue: VecDeque<Rotated>,
    recovered: HashSet<PathBuf>,
    shared: Arc<Shared>,
    done: OwnedFd,
}

impl Worker {
    /// Archives of `dir/base`, keeping `keep`; `done` is the write end of the notification pipe.
    pub fn new(
        dir: PathBuf,
        base: OsString,
        keep: usize,
        shared: Arc<Shared>,
        done: OwnedFd,
    ) -> Self {
        Worker {
            dir,
            base,
            keep,
            queue: VecDeque::new(),
            recovered: HashSet::new(),
            shared,
            done,
        }
    }

    /// The thread body: recover leftovers, then handle jobs until [`Job::Quit`] or the loop is gone.
    ///
    /// `shared.outstanding` must count one job for the recovery this starts with, and one for every
    /// [`Job::Archive`] and [`Job::Retry`] sent; each is taken off once handled.
    pub fn run(mut self, rx: Receiver<Job>) {
        if let Err(e) = crate::sys::thread::lower_priority(NICE) {
            crate::debug!("--log-rotate: lowering the gzip thread's priority: {e}");
        }
        self.recover();
        self.work();
        self.done_one();
        while let Ok(job) = rx.recv() {
            match job {
                Job::Archive(r) => {
                    // Recovery may have listed a file the sink had just rotated out: queue it once.
                    if !self.recovered.remove(&r.temp) {
                        self.queue.push_back(r);
                    }
                    self.work();
                }
                Job::Retry => self.work(),
                Job::Quit => break,
            }
            self.done_one();
        }
    }

    fn done_one(&self) {
        self.shared.outstanding.fetch_sub(1, Ordering::AcqRel);
        // Non-blocking: a full pipe already wakes the loop, so EAGAIN loses nothing.
        let _ = nix::unistd::write(&self.done, &[1u8]);
    }

    /// Leftovers of a previous run (dock killed mid-rotation): rotated-out files go first in the queue,
    /// oldest first; half-written `.part` archives are deleted.
    fn recover(&mut self) {
        let names = match self.list() {
            Ok(n) => n,
            Err(e) => return log_error(&e),
        };
        let base = self.base.as_bytes();
        let mut temps: Vec<((u64, u64), PathBuf)> = Vec::new();
        for n in &names {
            if let Some(k) = name::parse_temp_name(base, n) {
                temps.push((k, self.dir.join(OsString::from_vec(n.clone()))));
            } else if name::is_part_name(base, n) {
                let p = self.dir.join(OsString::from_vec(n.clone()));
                if let Err(e) = fs::remove_file(&p) {
                    log_error(&RotateError::Delete { path: p, source: e });
                }
            }
        }
        temps.sort();
        for ((secs, _), temp) in temps {
            crate::warn!(
                "--log-rotate: archiving {} (rotated out, not yet archived)",
                temp.display()
            );
            self.recovered.insert(temp.clone());
            self.queue.push_back(Rotated {
                temp,
                unix_secs: secs,
            });
        }
    }

    /// Archives the queue in order; stops at the first failure (kept for the next period, so later
    /// archives never get names older than an earlier rotation's).
    fn work(&mut self) {
        while let Some(r) = self.queue.front().cloned() {
            match self.archive(&r) {
                Ok(()) => {
                    self.queue.pop_front();
                    self.retain();
                }
                Err(RotateError::Vanished { .. }) => {
                    crate::warn!(
                        "--log-rotate: {} disappeared before it was archived",
                        r.temp.display()
                    );
                    self.queue.pop_front();
                }
                Err(e) => {
                    log_error(&e);
                    crate::warn!(
                        "--log-rotate: {} is kept; archiving is retried at the next period",
                        r.temp.display()
                    );
                    break;
                }
            }
        }
        self.shared
            .failed
            .store(self.queue.len(), Ordering::Release);
    }

    fn list(&self) -> Result<Vec<Vec<u8>>, RotateError> {
        let err = |source| RotateError::List {
            dir: self.dir.clone(),
            source,
        };
        let mut names = Vec::new();
        for e in fs::read_dir(&self.dir).map_err(err)? {
            names.push(e.map_err(err)?.file_name().into_vec());
        }
        Ok(names)
    }

    /// One rotated file → `<base>_<stamp>[-N].gz`, complete and synced, then the file removed.
    fn archive(&self, r: &Rotated) -> Result<(), RotateError> {
        let started = Instant::now();
        let base = self.base.as_bytes();
        let mut input = match File::open(&r.temp) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RotateError::Vanished {
                    path: r.temp.clone(),
                })
            }
            Err(e) => return Err(self.archive_err(r, &r.temp, e)),
        };
        let names = self.list()?;
        let mut key = name::next_key(
            name::newest(base, names.iter().map(Vec::as_slice)),
            name::stamp(r.unix_secs),
        );
        let part = self
            .dir
            .join(OsString::from_vec(name::part_name(base, key)));
        let (bytes_in, bytes_out) = compress(&mut input, &part, r.unix_secs).map_err(|e| {
            let _ = fs::remove_file(&part);
            self.archive_err(r, &part, e)
        })?;
        let mut attempts = 0;
        let archive = loop {
            let archive = self
                .dir
                .join(OsString::from_vec(name::archive_name(base, key)));
            match crate::sys::fs::rename_noreplace(&part, &archive) {
                Ok(()) => break archive,
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) && attempts < NAME_ATTEMPTS => {
                    attempts += 1;
                    key = ArchiveKey {
                        seq: key.seq.saturating_add(1),
                        ..key
                    };
                }
                Err(e) => {
                    let _ = fs::remove_file(&part);
                    return Err(self.archive_err(r, &archive, e));
                }
            }
        };
        sync_dir(&self.dir).map_err(|e| self.archive_err(r, &self.dir, e))?;
        // The archive is durable: only now may the rotated-out lines go. If they cannot, the archive
        // still counts as done (archiving again would duplicate every line); the file is left over.
        if let Err(source) = fs::remove_file(&r.temp) {
            log_error(&RotateError::Delete {
                path: r.temp.clone(),
                source,
            });
        }
        let _ = sync_dir(&self.dir);
        let us = started.elapsed().as_micros().max(1);
        crate::debug!(
            "--log-rotate: {} written: {} bytes → {} bytes in {} ({} MB/s)",
            archive.display(),
            bytes_in,
            bytes_out,
            crate::log::seconds(started.elapsed()),
            // bytes per µs is MB/s; in tenths.
            crate::log::decimal(u128::from(bytes_in) * 10 / us, 1)
        );
        Ok(())
    }

    fn archive_err(&self, r: &Rotated, at: &Path, source: io::Error) -> RotateError {
        RotateError::Archive {
            from: r.temp.clone(),
            at: at.to_path_buf(),
            source,
        }
    }

    /// Deletes the oldest of dock's archives of this path beyond `keep`.
    fn retain(&self) {
        let names = match self.list() {
            Ok(n) => n,
            Err(e) => return log_error(&e),
        };
        for n in name::to_delete(
            self.base.as_bytes(),
            names.iter().map(Vec::as_slice),
            self.keep,
        ) {
            let p = self.dir.join(std::ffi::OsStr::from_bytes(n));
            match fs::remove_file(&p) {
                Ok(()) => crate::debug!("--log-rotate: deleted old archive {}", p.display()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => log_error(&RotateError::Delete { path: p, source: e }),
            }
        }
    }
}

/// Deflates `input` into a new gzip file `part` (mode 0600, gzip MTIME = `mtime`), synced. Returns
/// (bytes read, bytes written).
///
/// # Errors
/// Reading, writing (ENOSPC), or `fsync` failing.
pub fn compress(input: &mut File, part: &Path, mtime: u64) -> io::Result<(u64, u64)> {
    let out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(part)?;
    // RFC 1952: MTIME is 32-bit seconds; 0 means "not available".
    let mtime = u32::try_from(mtime).unwrap_or(0);
    let mut enc = GzBuilder::new().mtime(mtime).write(out, LEVEL);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        enc.write_all(&buf[..n])?;
        total += n as u64;
    }
    let out = enc.finish()?;
    out.sync_all()?;
    let written = out.metadata()?.len();
    Ok((total, written))
}

/// `fsync` on a directory makes renames and unlinks in it durable (fsync(2), "NOTES").
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
