//! `--log-rotate` / `--log-keep`: the rotation schedule (a periodic timerfd), archive naming and
//! retention (pure, [`name`]), rename + reopen of the `--io` file at a line boundary (done inside
//! [`crate::io::file::FileSink::write`], the only place that sees the bytes), gzip on a helper thread
//! ([`worker`]).
//!
//! Registers: `Source::RotateTimer` (the period, from dock's start) and `Source::ArchiveDone` (a pipe the
//! gzip thread writes one byte to whenever it finished a job).
//!
//! How a rotation flows: the timer fires → [`Rotator::on_timer`] asks the sink to rotate → at the next
//! line boundary (at once if the file ends with `\n` or is empty) the sink renames the file to
//! `.<base>.rotated-<secs>-<n>`, reopens `<path>`, goes on writing, and hands the renamed path to the
//! worker through a channel ([`Handoff`]) → the worker writes `<path>_<YYYYMMDDhhmmss>[-N].gz`, syncs it,
//! removes the renamed file, deletes archives beyond `--log-keep`, and wakes the loop through the pipe.
//!
//! Integration contract used by `app.rs`: [`Rotator::new`] before the spawn, [`Rotator::start`] after,
//! [`Rotator::attach`] once the `Stdio` exists (optional: [`Rotator::on_timer`] attaches too),
//! [`Rotator::on_timer`] / [`Rotator::on_archive_done`] on their events, [`Rotator::idle`] and
//! [`Rotator::finish`] at exit (a rotation in progress completes).

pub mod name;
#[cfg(test)]
mod tests;
pub mod worker;

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mio::Interest;
use nix::fcntl::OFlag;
use thiserror::Error;

use crate::io::file::FileSink;
use crate::io::Stdio;
use crate::reactor::{Reactor, Source};
use crate::sys::timer::Timer;
use worker::{Job, Rotated, Shared, Worker};

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

/// Logs `e` with its causes, lower-cased as the rest of dock's messages:
/// `--log-rotate: rename a to b: permission denied`.
pub(crate) fn log_error(e: &(dyn std::error::Error + 'static)) {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        let s = s.split(" (os error").next().unwrap_or(&s);
        let mut chars = s.chars();
        text.push_str(": ");
        if let Some(first) = chars.next() {
            text.extend(first.to_lowercase());
            text.push_str(chars.as_str());
        }
        cause = c.source();
    }
    crate::warn!("{text}");
}

/// What the sink needs to hand a rotated-out file to the gzip thread. Cloned from the [`Rotator`].
#[derive(Debug, Clone)]
pub struct Handoff {
    tx: Sender<Job>,
    shared: Arc<Shared>,
}

impl Handoff {
    /// Queues `temp` (rotated out at `unix_secs`) for archiving. On failure (the gzip thread is gone,
    /// only at exit) the file stays on disk under its temporary name and the next run archives it.
    pub fn send(&self, temp: PathBuf, unix_secs: u64) {
        self.shared.outstanding.fetch_add(1, Ordering::AcqRel);
        if let Err(e) = self.tx.send(Job::Archive(Rotated { temp, unix_secs })) {
            self.shared.outstanding.fetch_sub(1, Ordering::AcqRel);
            if let Job::Archive(r) = e.0 {
                crate::warn!(
                    "--log-rotate: no archiving thread; {} is kept for the next run",
                    r.temp.display()
                );
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

/// The rotation schedule and the archives in flight.
pub struct Rotator {
    path: PathBuf,
    period: Duration,
    keep: usize,
    tx: Sender<Job>,
    rx: Option<Receiver<Job>>,
    shared: Arc<Shared>,
    timer: Option<Timer>,
    done: Option<OwnedFd>,
    /// The gzip thread, and a channel that disconnects when it ends (its sender drops with it).
    thread: Option<(JoinHandle<()>, Receiver<()>)>,
    warned_no_sink: bool,
}

impl Rotator {
    /// Rotation of `path` every `period`, keeping the newest `keep` archives (≥ 1; 0 is taken as 1).
    pub fn new(path: PathBuf, period: Duration, keep: usize) -> Rotator {
        let (tx, rx) = mpsc::channel();
        Rotator {
            path,
            period,
            keep: keep.max(1),
            tx,
            rx: Some(rx),
            shared: Arc::new(Shared::default()),
            timer: None,
            done: None,
            thread: None,
            warned_no_sink: false,
        }
    }

    /// Registers and arms the period timer, registers the archive pipe and starts the gzip thread
    /// (which first archives files an earlier run left half-rotated). The thread sleeps in `recv` until
    /// a rotation: no wakeups while idle.
    ///
    /// # Errors
    /// timerfd or pipe creation, registration, the thread failing to spawn, or an `--io` path without a
    /// file name (`InvalidInput`).
    pub fn start(&mut self, r: &mut Reactor) -> io::Result<()> {
        let (dir, base) = split_path(&self.path)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let timer = Timer::new()?;
        timer.arm_periodic(self.period)?;
        r.add_fd(timer.as_raw_fd(), Source::RotateTimer, Interest::READABLE)?;
        self.timer = Some(timer);
        let (rd, wr) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        r.add_fd(rd.as_raw_fd(), Source::ArchiveDone, Interest::READABLE)?;
        self.done = Some(rd);
        let Some(rx) = self.rx.take() else {
            return Ok(()); // started before
        };
        // One job for the recovery the thread begins with.
        self.shared.outstanding.fetch_add(1, Ordering::AcqRel);
        let w = Worker::new(dir, base, self.keep, self.shared.clone(), wr);
        let (gone_tx, gone_rx) = mpsc::channel::<()>();
        match std::thread::Builder::new()
            .name("dock-gzip".into())
            .spawn(move || {
                let _gone = gone_tx;
                w.run(rx)
            }) {
            Ok(h) => {
                self.thread = Some((h, gone_rx));
                Ok(())
            }
            Err(e) => {
                self.shared.outstanding.fetch_sub(1, Ordering::AcqRel);
                Err(e)
            }
        }
    }

    /// A handle for the sink to hand rotated-out files over.
    pub fn handoff(&self) -> Handoff {
        Handoff {
            tx: self.tx.clone(),
            shared: self.shared.clone(),
        }
    }

    /// Turns rotation on in `stdio`'s file sink, so every byte goes through [`FileSink::write`] from now
    /// on (no `splice`). Idempotent; without a file sink, does nothing.
    pub fn attach(&mut self, stdio: &mut Stdio) {
        if let Some(sink) = stdio.file_sink() {
            self.attach_sink(sink);
        }
    }

    /// As [`Rotator::attach`], given the sink.
    pub fn attach_sink(&mut self, sink: &mut FileSink) {
        if !sink.needs_bytes() {
            sink.enable_rotation(self.handoff());
        }
    }

    /// The period elapsed: rotate the file `stdio` writes to.
    pub fn on_timer(&mut self, _r: &mut Reactor, stdio: &mut Stdio) {
        if let Some(t) = &self.timer {
            t.drain();
        }
        match stdio.file_sink() {
            Some(sink) => self.rotate(sink),
            None if !self.warned_no_sink => {
                self.warned_no_sink = true;
                crate::warn!("--log-rotate: the --io file is not open; nothing to rotate");
            }
            None => {}
        }
    }

    /// Rotates `sink` now or at its next line boundary, and retries archives that failed before.
    pub fn rotate(&mut self, sink: &mut FileSink) {
        self.attach_sink(sink);
        if self.shared.failed.load(Ordering::Acquire) > 0 {
            self.shared.outstanding.fetch_add(1, Ordering::AcqRel);
            if self.tx.send(Job::Retry).is_err() {
                self.shared.outstanding.fetch_sub(1, Ordering::AcqRel);
            }
        }
        sink.request_rotation();
    }

    /// The gzip thread finished a job (archive written and old ones deleted, or a failure logged):
    /// drain the pipe. What changes is [`Rotator::idle`].
    pub fn on_archive_done(&mut self, _r: &mut Reactor) {
        let Some(fd) = &self.done else { return };
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
    pub fn finish(&mut self, deadline: std::time::Instant) {
        let _ = self.tx.send(Job::Quit);
        if let Some(t) = &self.timer {
            let _ = t.disarm();
        }
        let Some((h, gone)) = self.thread.take() else {
            return;
        };
        // The thread's end (or panic) drops its sender: `Disconnected` at once, `Timeout` at the deadline.
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if let Err(mpsc::RecvTimeoutError::Timeout) = gone.recv_timeout(left) {
            crate::warn!(
                "--log-rotate: exiting while a rotated-out part of {} is still being archived: \
                 the next start archives it",
                self.path.display()
            );
            return;
        }
        if h.join().is_err() {
            crate::warn!("--log-rotate: the archiving thread panicked");
        }
    }
}

impl Drop for Rotator {
    fn drop(&mut self) {
        self.finish(std::time::Instant::now() + crate::io::FINISH_TIMEOUT);
    }
}
