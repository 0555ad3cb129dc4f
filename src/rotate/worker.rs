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

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Instant;

use flate2::Compression;
use nix::fcntl::OFlag;
use nix::sys::stat::SFlag;

use super::dir::{file_type, os, LogDir};
use super::name::{self, ArchiveKey};
use super::{log_error, RotateError};

/// A file renamed out of the way by the sink, waiting to be archived.
#[derive(Debug)]
pub struct Rotated {
    /// Its temporary name, in the log's directory.
    pub temp: OsString,
    /// Its fd (the sink's, from before the rename), when it was opened readable; else the worker
    /// opens the name and checks it is still the same file (`id`).
    pub file: Option<File>,
    /// Its device and inode.
    pub id: (u64, u64),
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
    dir: Arc<LogDir>,
    keep: usize,
    mode: u32,
    queue: VecDeque<Rotated>,
    shared: Arc<Shared>,
    done: OwnedFd,
}

impl Worker {
    /// Archives of the log in `dir`, keeping `keep`, each created with `mode`, starting with the
    /// `leftovers` of an earlier run ([`leftovers`]); `done` is the write end of the notification
    /// pipe.
    pub fn new(
        dir: Arc<LogDir>,
        keep: usize,
        mode: u32,
        leftovers: Vec<Rotated>,
        shared: Arc<Shared>,
        done: OwnedFd,
    ) -> Self {
        Worker {
            dir,
            keep,
            mode,
            queue: leftovers.into(),
            shared,
            done,
        }
    }

    /// The thread body: archive the leftovers, then handle jobs until [`Job::Quit`] or the loop is
    /// gone.
    ///
    /// `shared.outstanding` must count one job for the leftovers this starts with, and one for every
    /// [`Job::Archive`] and [`Job::Retry`] sent; each is taken off once handled.
    pub fn run(mut self, rx: Receiver<Job>) {
        if let Err(e) = crate::sys::thread::lower_priority(NICE) {
            crate::debug!("--log-rotate: lowering the gzip thread's priority: {e}");
        }
        self.work();
        self.done_one();
        while let Ok(job) = rx.recv() {
            match job {
                Job::Archive(r) => {
                    self.queue.push_back(r);
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

    fn path(&self, name: &OsStr) -> PathBuf {
        self.dir.display(name)
    }

    /// Archives the queue in order; stops at the first failure (kept for the next period, so later
    /// archives never get names older than an earlier rotation's).
    fn work(&mut self) {
        while let Some(mut r) = self.queue.pop_front() {
            match archive(&self.dir, self.mode, &mut r) {
                Ok(()) => self.retain(),
                Err(RotateError::Vanished { .. }) => crate::warn!(
                    "--log-rotate: {} disappeared before it was archived",
                    self.path(&r.temp).display()
                ),
                Err(e) => {
                    log_error(&e);
                    crate::warn!(
                        "--log-rotate: {} is kept; archiving is retried at the next period",
                        self.path(&r.temp).display()
                    );
                    self.queue.push_front(r);
                    break;
                }
            }
        }
        self.shared
            .failed
            .store(self.queue.len(), Ordering::Release);
    }

    fn list(&self) -> Result<Vec<Vec<u8>>, RotateError> {
        self.dir.list().map_err(|source| RotateError::List {
            dir: self.path(OsStr::new("")),
            source,
        })
    }

    /// Deletes the oldest of dock's own archives of this log beyond `keep`.
    fn retain(&self) {
        let names = match self.list() {
            Ok(n) => n,
            Err(e) => return log_error(&e),
        };
        let own = own_archives(&self.dir, &names);
        for n in name::to_delete(self.dir.base().as_bytes(), own, self.keep) {
            match self.dir.unlink(os(n)) {
                Ok(()) => crate::debug!(
                    "--log-rotate: deleted old archive {}",
                    self.path(os(n)).display()
                ),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => log_error(&RotateError::Delete {
                    path: self.path(os(n)),
                    source: e,
                }),
            }
        }
    }
}

/// Leftovers of a previous run (dock killed mid-rotation), found at start before anything is
/// rotated: the rotated-out files, oldest first, for the worker to archive first; half-written
/// `.part` archives are deleted. A leftover name that is a link, not a regular file, or a file with
/// other names is left alone (someone else put it there).
pub fn leftovers(dir: &LogDir) -> Vec<Rotated> {
    let names = match dir.list() {
        Ok(n) => n,
        Err(source) => {
            log_error(&RotateError::List {
                dir: dir.display(OsStr::new("")),
                source,
            });
            return Vec::new();
        }
    };
    let base = dir.base().as_bytes().to_vec();
    let mut temps: Vec<((u64, u64), OsString)> = Vec::new();
    for n in names {
        if let Some(k) = name::parse_temp_name(&base, &n) {
            temps.push((k, OsString::from_vec(n)));
        } else if name::is_part_name(&base, &n) {
            if let Err(e) = dir.unlink(os(&n)) {
                log_error(&RotateError::Delete {
                    path: dir.display(os(&n)),
                    source: e,
                });
            }
        }
    }
    temps.sort();
    let mut found = Vec::new();
    for ((secs, _), temp) in temps {
        let (file, st) = match dir.open_read(&temp) {
            Ok(x) => x,
            Err(e) => {
                crate::warn!(
                    "--log-rotate: {} is not a file dock rotated out ({}); left alone",
                    dir.display(&temp).display(),
                    crate::log::reason(&e)
                );
                continue;
            }
        };
        crate::warn!(
            "--log-rotate: archiving {} (rotated out, not yet archived)",
            dir.display(&temp).display()
        );
        found.push(Rotated {
            temp,
            file: Some(file),
            id: (st.st_dev, st.st_ino),
            unix_secs: secs,
        });
    }
    found
}

/// The archive-named entries of `names` that are dock's own: regular files owned by dock's
/// effective user (dock creates its archives as itself). A name someone else planted is neither
/// counted, nor deleted, nor does it decide the next archive's name (issue 16.5).
pub fn own_archives<'a>(dir: &LogDir, names: &'a [Vec<u8>]) -> Vec<&'a [u8]> {
    let base = dir.base().as_bytes();
    let me = nix::unistd::geteuid().as_raw();
    names
        .iter()
        .map(Vec::as_slice)
        .filter(|n| name::parse_archive_name(base, n).is_some())
        .filter(|n| {
            dir.stat(os(n))
                .is_ok_and(|st| file_type(&st) == SFlag::S_IFREG && st.st_uid == me)
        })
        .collect()
}

/// The key for a new archive rotated out at `unix_secs`: after dock's newest own archive (so it
/// sorts last even if the clock went back), on a name nothing in `names` holds (a taken name is
/// skipped: the next `-N`, or from the rotation time's own second when the suffixes run out).
pub fn free_key(dir: &LogDir, names: &[Vec<u8>], unix_secs: u64) -> ArchiveKey {
    let base = dir.base().as_bytes();
    let is_free = |k: ArchiveKey| {
        let want = name::archive_name(base, k);
        !names.contains(&want)
    };
    let stamp = name::stamp(unix_secs);
    let mut key = name::next_key(name::newest(base, own_archives(dir, names)), stamp);
    for _ in 0..names.len() + 1 {
        if is_free(key) {
            return key;
        }
        key = match key.seq.checked_add(1) {
            Some(seq) => ArchiveKey { seq, ..key },
            None => ArchiveKey { stamp, seq: 0 },
        };
    }
    key
}

/// One rotated file → `<base>_<stamp>[-N].gz` (mode `mode`, dock's, the log's group), complete and
/// synced, then the rotated file removed. On failure the job keeps its fd for the retry.
fn archive(dir: &LogDir, mode: u32, r: &mut Rotated) -> Result<(), RotateError> {
    let started = Instant::now();
    let mut input = match r.file.take() {
        Some(f) => f,
        None => match open_rotated(dir, r) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RotateError::Vanished {
                    path: dir.display(&r.temp),
                })
            }
            Err(e) => return Err(archive_err(dir, r, &r.temp, e)),
        },
    };
    let written = write_archive(dir, mode, r, &mut input);
    let (archive, bytes_in, bytes_out) = match written {
        Ok(x) => x,
        Err(e) => {
            r.file = Some(input);
            return Err(e);
        }
    };
    // The archive is durable: only now may the rotated-out lines go, and only if the name still
    // holds the file read. If they cannot, the archive still counts as done (archiving again
    // would duplicate every line); the file is left over.
    match dir.stat(&r.temp) {
        Ok(st) if (st.st_dev, st.st_ino) == r.id => {
            if let Err(source) = dir.unlink(&r.temp) {
                log_error(&RotateError::Delete {
                    path: dir.display(&r.temp),
                    source,
                });
            }
        }
        _ => crate::warn!(
            "--log-rotate: {} no longer names the file archived; left alone",
            dir.display(&r.temp).display()
        ),
    }
    let _ = dir.sync();
    let us = started.elapsed().as_micros().max(1);
    crate::debug!(
        "--log-rotate: {} written: {} bytes → {} bytes in {} ({} MB/s)",
        dir.display(&archive).display(),
        bytes_in,
        bytes_out,
        crate::log::seconds(started.elapsed()),
        // bytes per µs is MB/s; in tenths.
        crate::log::decimal(u128::from(bytes_in) * 10 / us, 1)
    );
    Ok(())
}

/// Compresses `input` into a `.part` file and renames it to a free archive name, synced: the
/// archive's name and (bytes read, bytes written).
fn write_archive(
    dir: &LogDir,
    mode: u32,
    r: &Rotated,
    input: &mut File,
) -> Result<(OsString, u64, u64), RotateError> {
    let base = dir.base().as_bytes();
    let gid = nix::sys::stat::fstat(&*input).map(|st| st.st_gid).ok();
    let names = dir.list().map_err(|source| RotateError::List {
        dir: dir.display(OsStr::new("")),
        source,
    })?;
    let mut key = free_key(dir, &names, r.unix_secs);
    let part = OsString::from_vec(name::part_name(base, key));
    let compressed = dir.create(&part, mode, OFlag::O_WRONLY).and_then(|out| {
        if let Some(g) = gid {
            // The log's group, so a sidecar in it reads archives with --log-mode 0640.
            let _ = nix::unistd::fchown(&out, None, Some(nix::unistd::Gid::from_raw(g)));
        }
        compress(input, out, r.unix_secs)
    });
    let (bytes_in, bytes_out) = match compressed {
        Ok(x) => x,
        Err(e) => {
            let _ = dir.unlink(&part);
            return Err(archive_err(dir, r, &part, e));
        }
    };
    let mut attempts = 0;
    let archive = loop {
        let archive = OsString::from_vec(name::archive_name(base, key));
        match dir.rename_noreplace(&part, &archive) {
            Ok(()) => break archive,
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && attempts < NAME_ATTEMPTS => {
                attempts += 1;
                key = ArchiveKey {
                    seq: key.seq.saturating_add(1),
                    ..key
                };
            }
            Err(e) => {
                let _ = dir.unlink(&part);
                return Err(archive_err(dir, r, &archive, e));
            }
        }
    };
    dir.sync()
        .map_err(|e| archive_err(dir, r, OsStr::new(""), e))?;
    Ok((archive, bytes_in, bytes_out))
}

fn archive_err(dir: &LogDir, r: &Rotated, at: &OsStr, source: io::Error) -> RotateError {
    RotateError::Archive {
        from: dir.display(&r.temp),
        at: dir.display(at),
        source,
    }
}

/// Opens a rotated-out file by name (the sink could not read its own fd): never through a link,
/// and only if it is still the file rotated out.
fn open_rotated(dir: &LogDir, r: &Rotated) -> io::Result<File> {
    let (f, st) = dir.open_read(&r.temp)?;
    if (st.st_dev, st.st_ino) != r.id {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the name no longer holds the file rotated out",
        ));
    }
    Ok(f)
}

/// Deflates `input` (from its start, when it can seek) into `out`, a new gzip file (gzip MTIME = `mtime`), synced.
/// Returns (bytes read, bytes written).
///
/// # Errors
/// Reading, writing (ENOSPC), or `fsync` failing.
pub fn compress(input: &mut File, out: File, mtime: u64) -> io::Result<(u64, u64)> {
    match input.seek(SeekFrom::Start(0)) {
        // A pipe cannot seek: it is read from where it is.
        Ok(_) => {}
        Err(e) if e.raw_os_error() == Some(libc::ESPIPE) => {}
        Err(e) => return Err(e),
    }
    // RFC 1952: MTIME is 32-bit seconds; 0 means "not available".
    let mtime = u32::try_from(mtime).unwrap_or(0);
    let mut enc = super::gzip::GzWriter::new(out, mtime, LEVEL)?;
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
