//! `--log-rotate` / `--log-max-size` / `--log-keep` / `--log-mode`: the rotating file sink the relay
//! writes to ([`sink`]: schedule, size, rename + new file at a line boundary), the log's directory fd
//! every file operation goes through ([`dir`]: no symbolic link is ever followed), archive naming and
//! retention (pure, [`name`]), and gzip on a helper thread ([`worker`]) with its handler on the loop
//! ([`Archiver`]). Rotation is set up in one place: [`open`].
//!
//! How a rotation flows: the period passes (or the next line would take the file past
//! `--log-max-size`) → at the next line boundary (at once if the file ends with `\n`; an empty file
//! is not rotated) the sink renames the file to `.<base>.rotated-<secs>-<n>`, creates a new `<path>`
//! with the old one's owner and mode, goes on writing, and hands the renamed file's fd to the worker
//! through a channel ([`Handoff`]) → the worker writes `<path>_<YYYYMMDDhhmmss>[-N].gz` (mode
//! `--log-mode`), syncs it, removes the renamed file, deletes dock's archives beyond `--log-keep`,
//! and wakes the loop through the archiver's pipe.
//!
//! Registers: the archive pipe (the gzip thread writes one byte to it whenever it finished a job).

pub mod clock;
pub mod dir;
pub mod gzip;
pub mod name;
pub mod sink;
#[cfg(test)]
mod tests;
pub mod worker;

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use nix::fcntl::OFlag;
use thiserror::Error;

use crate::event::{Ctx, Event, Handler};
pub use dir::{LogDir, OpenError};
pub use sink::FileSink;
use worker::{Job, Rotated, Shared, Worker};

/// What rotation needs from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotateConfig {
    /// `--log-rotate`: the period.
    pub period: Option<Duration>,
    /// `--log-max-size`: bytes.
    pub max_size: Option<u64>,
    /// `--log-keep`: archives kept, the newest (default 5, at least 1).
    pub keep: usize,
}

/// `--log-mode`'s default: the file and its archives readable and writable by their owner only.
pub const DEFAULT_MODE: u32 = 0o600;

/// Opens the `--io` file for the relay at `path` (created with exactly `mode`), with rotation when
/// `rotation` is given: the sink and the archiver that goes on the loop with it (archives get
/// `mode` too). The one place rotation is set up.
///
/// # Errors
/// [`OpenError`]: a symbolic link, a file with other hard links, `open(2)` failing (ENOENT for a
/// missing directory, EACCES, EISDIR...).
pub fn open(
    path: &Path,
    mode: u32,
    rotation: Option<RotateConfig>,
) -> Result<(FileSink, Option<Archiver>), OpenError> {
    let mut sink = FileSink::open(path, mode)?;
    let Some(cfg) = rotation else {
        return Ok((sink, None));
    };
    let archiver = Archiver::new(sink.dir(), cfg.keep, mode);
    sink.enable_rotation(archiver.handoff(), cfg.period, cfg.max_size);
    Ok((sink, Some(archiver)))
}

/// What went wrong while rotating. All are logged and retried at the next period; none stops dock.
#[derive(Debug, Error)]
pub enum RotateError {
    /// The `--io` path has no file name (`/`, `..`).
    #[error("--log-rotate: --io {path} is not a file path")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// Renaming the live file out of the way failed (directory not writable, read-only fs).
    #[error("--log-rotate: rename {from} to {to}")]
    Rename {
        /// The live file.
        from: PathBuf,
        /// The temporary name.
        to: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Opening the fresh file after the rename failed (EMFILE, ENOSPC for inodes).
    #[error("--log-rotate: reopen {path}")]
    Reopen {
        /// The `--io` path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Writing the archive of a rotated-out file failed (disk full, directory not writable).
    #[error("--log-rotate: archive {from} ({at})")]
    Archive {
        /// The rotated-out file.
        from: PathBuf,
        /// The file or directory the failing step was working on.
        at: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A rotated-out file disappeared before it could be archived (someone deleted it).
    #[error("--log-rotate: {path} disappeared before it was archived")]
    Vanished {
        /// The rotated-out file.
        path: PathBuf,
    },
    /// Listing the log's directory failed.
    #[error("--log-rotate: list {dir}")]
    List {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Deleting a file failed (an old archive, or a rotated-out file once archived).
    #[error("--log-rotate: delete {path}")]
    Delete {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Logs `e` with its causes: `--log-rotate: rename a to b: permission denied`.
pub(crate) fn log_error(e: &RotateError) {
    crate::warn!("{}", crate::log::chain(e));
}

/// What the sink needs to hand a rotated-out file to the gzip thread. Cloned from the [`Archiver`].
#[derive(Debug, Clone)]
pub struct Handoff {
    tx: Sender<Job>,
    shared: Arc<Shared>,
}

impl Handoff {
    /// Queues the file renamed to `temp` (in the log's directory; `file`: its fd, when readable;
    /// `id`: its device and inode) at `unix_secs` for archiving. On failure (the gzip thread is gone,
    /// only at exit) the file stays on disk under its temporary name and the next run archives it.
    pub fn send(&self, temp: OsString, file: Option<File>, id: (u64, u64), unix_secs: u64) {
        self.shared.outstanding.fetch_add(1, Ordering::AcqRel);
        let job = Job::Archive(Rotated {
            temp,
            file,
            id,
            unix_secs,
        });
        if let Err(e) = self.tx.send(job) {
            self.shared.outstanding.fetch_sub(1, Ordering::AcqRel);
            if let Job::Archive(r) = e.0 {
                crate::warn!(
                    "--log-rotate: no archiving thread; {} is kept for the next run",
                    r.temp.to_string_lossy()
                );
            }
        }
    }

    /// Asks the worker to retry archives that failed before (disk full, directory not writable), if
    /// any did.
    pub fn retry_failed(&self) {
        if self.shared.failed.load(Ordering::Acquire) > 0 {
            self.shared.outstanding.fetch_add(1, Ordering::AcqRel);
            if self.tx.send(Job::Retry).is_err() {
                self.shared.outstanding.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

#[cfg(test)]
impl Handoff {
    /// A handoff whose jobs land in the returned receiver (tests of the sink alone).
    pub(crate) fn for_test() -> (Handoff, Receiver<Job>) {
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared::default());
        (Handoff { tx, shared }, rx)
    }
}

/// Splits `path` into its absolute directory and file name (so a later `chdir` changes nothing).
///
/// # Errors
/// [`RotateError::NotAFile`] when the path ends in `/`, `..` or is empty.
pub fn split_path(path: &Path) -> Result<(PathBuf, OsString), RotateError> {
    let not_a_file = || RotateError::NotAFile {
        path: path.to_path_buf(),
    };
    let abs = std::path::absolute(path).map_err(|_| not_a_file())?;
    let base = abs.file_name().ok_or_else(not_a_file)?.to_os_string();
    let dir = abs.parent().ok_or_else(not_a_file)?.to_path_buf();
    Ok((dir, base))
}

/// How long dropping an [`Archiver`] that was never finished waits for its thread (tests, panics).
const DROP_WAIT: Duration = Duration::from_secs(2);

/// The archive pipe's key.
const DONE: crate::event::Key = 0;

/// The archives in flight: the gzip thread and its wake-up pipe, as a handler.
pub struct Archiver {
    dir: Arc<LogDir>,
    keep: usize,
    mode: u32,
    /// What an earlier run left rotated out, for the worker to archive first.
    leftovers: Vec<Rotated>,
    tx: Sender<Job>,
    rx: Option<Receiver<Job>>,
    shared: Arc<Shared>,
    done: Option<(OwnedFd, Option<Token>)>,
    /// The gzip thread, and a channel that disconnects when it ends (its sender drops with it).
    thread: Option<(JoinHandle<()>, Receiver<()>)>,
}

impl Archiver {
    /// Archiving for the log in `dir`, keeping the newest `keep` archives (≥ 1; 0 is taken as 1),
    /// each with `mode`. Looks for what an earlier run left half-rotated now, before anything is
    /// rotated (a listing of the directory); nothing else runs until [`Handler::start`].
    pub fn new(dir: Arc<LogDir>, keep: usize, mode: u32) -> Archiver {
        let (tx, rx) = mpsc::channel();
        Archiver {
            leftovers: worker::leftovers(&dir),
            dir,
            keep: keep.max(1),
            mode,
            tx,
            rx: Some(rx),
            shared: Arc::new(Shared::default()),
            done: None,
            thread: None,
        }
    }

    /// A handle for the sink to hand rotated-out files over.
    pub fn handoff(&self) -> Handoff {
        Handoff {
            tx: self.tx.clone(),
            shared: self.shared.clone(),
        }
    }

    /// Makes the archive pipe and starts the gzip thread (which first archives the files an earlier
    /// run left half-rotated). The thread sleeps in `recv` until a rotation: no wakeups while idle.
    ///
    /// # Errors
    /// Pipe creation or the thread failing to spawn.
    fn begin(&mut self) -> io::Result<OwnedFd> {
        let (rd, wr) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        let Some(rx) = self.rx.take() else {
            return Ok(rd); // started before
        };
        // One job for the leftovers the thread begins with.
        self.shared.outstanding.fetch_add(1, Ordering::AcqRel);
        let w = Worker::new(
            self.dir.clone(),
            self.keep,
            self.mode,
            std::mem::take(&mut self.leftovers),
            self.shared.clone(),
            wr,
        );
        let (gone_tx, gone_rx) = mpsc::channel::<()>();
        match std::thread::Builder::new()
            .name("dock-gzip".into())
            .spawn(move || {
                let _gone = gone_tx;
                w.run(rx)
            }) {
            Ok(h) => {
                self.thread = Some((h, gone_rx));
                Ok(rd)
            }
            Err(e) => {
                self.shared.outstanding.fetch_sub(1, Ordering::AcqRel);
                Err(e)
            }
        }
    }

    /// The gzip thread finished a job (archive written and old ones deleted, or a failure logged):
    /// drain the pipe. What changes is [`Archiver::idle`].
    fn drain(&mut self) {
        let Some((fd, _)) = &self.done else { return };
        let mut buf = [0u8; 64];
        // Edge-triggered: read until EAGAIN (or EOF once the thread ended).
        while let Ok(n) = nix::unistd::read(fd, &mut buf) {
            if n == 0 {
                break;
            }
        }
    }

    /// No archive is being written or waiting to be (or there is no gzip thread to wait for).
    pub fn idle(&self) -> bool {
        self.shared.outstanding.load(Ordering::Acquire) == 0
            || self.thread.as_ref().is_none_or(|(h, _)| h.is_finished())
    }

    /// At exit: let the gzip thread finish every archive handed to it, until `deadline`, then join
    /// it. An archive still being written then is abandoned: dock exits anyway (a stop must not wait
    /// on gzip), and the thread dies with the process. Nothing is lost: the archive is a `.part` file
    /// until complete, and files not archived stay on disk under their temporary names; the next run
    /// deletes the `.part` and archives them (see [`worker`]).
    pub fn finish_by(&mut self, deadline: Instant) {
        let _ = self.tx.send(Job::Quit);
        let Some((h, gone)) = self.thread.take() else {
            return;
        };
        // The thread's end (or panic) drops its sender: `Disconnected` at once, `Timeout` at the deadline.
        let left = deadline.saturating_duration_since(Instant::now());
        if let Err(mpsc::RecvTimeoutError::Timeout) = gone.recv_timeout(left) {
            crate::warn!(
                "--log-rotate: exiting while a rotated-out part of {} is still being archived: \
                 the next start archives it",
                self.dir.display(self.dir.base()).display()
            );
            return;
        }
        if h.join().is_err() {
            crate::warn!("--log-rotate: the archiving thread panicked");
        }
    }
}

impl Handler for Archiver {
    fn start(&mut self, cx: &mut Ctx<'_>) {
        let fd = match self.begin() {
            Ok(fd) => fd,
            Err(e) => return crate::warn!("starting log rotation: {e}"),
        };
        let token = match cx.register_fd(fd.as_raw_fd(), Interest::READABLE, DONE) {
            Ok(t) => Some(t),
            Err(e) => {
                crate::warn!("starting log rotation: {e}");
                None
            }
        };
        self.done = Some((fd, token));
    }

    fn on_event(&mut self, _cx: &mut Ctx<'_>, _ev: Event) {
        self.drain();
    }

    fn flushed(&self) -> bool {
        self.idle()
    }

    fn finish(&mut self, deadline: Instant) {
        self.finish_by(deadline);
    }
}

impl Drop for Archiver {
    fn drop(&mut self) {
        self.finish_by(Instant::now() + DROP_WAIT);
    }
}
