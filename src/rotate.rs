//! `--log-rotate` / `--log-keep`: the rotation schedule (a periodic timerfd), archive naming and
//! retention (pure), rename + reopen of the `--io` file at a line boundary, gzip on a helper thread.
//!
//! Registers: `Source::RotateTimer` (the period) and `Source::ArchiveDone` (a pipe the gzip thread
//! writes to when an archive is complete).
//!
//! Integration contract used by `app.rs`: [`Rotator::new`] before the spawn, [`Rotator::start`] after,
//! [`Rotator::on_timer`] / [`Rotator::on_archive_done`] on their events, [`Rotator::idle`] and
//! [`Rotator::finish`] at exit (a rotation in progress completes).

use std::path::PathBuf;
use std::time::Duration;

use crate::io::Stdio;
use crate::reactor::Reactor;

/// The rotation schedule and the archives in flight.
pub struct Rotator {
    #[allow(dead_code)]
    path: PathBuf,
    #[allow(dead_code)]
    period: Duration,
    #[allow(dead_code)]
    keep: usize,
}

impl Rotator {
    /// Rotation of `path` every `period`, keeping the newest `keep` archives.
    pub fn new(path: PathBuf, period: Duration, keep: usize) -> Rotator {
        Rotator { path, period, keep }
    }

    /// Registers and arms the period timer.
    ///
    /// # Errors
    /// timerfd creation or registration failing.
    pub fn start(&mut self, _r: &mut Reactor) -> std::io::Result<()> {
        Ok(())
    }

    /// The period elapsed: rotate the file `stdio` writes to.
    pub fn on_timer(&mut self, _r: &mut Reactor, _stdio: &mut Stdio) {}

    /// The gzip thread finished an archive: apply retention.
    pub fn on_archive_done(&mut self, _r: &mut Reactor) {}

    /// No archive is being written.
    pub fn idle(&self) -> bool {
        true
    }

    /// At exit: wait for the archive in progress to complete.
    pub fn finish(&mut self) {}
}
