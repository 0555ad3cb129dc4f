//! `--ready-file PATH`: the readiness as a file, for a Kubernetes `exec` probe (`test -f PATH`) or a
//! script. A file left by an earlier run is removed before the child starts; PATH is created (empty,
//! mode 0644, not through a symlink) at [`Notice::Ready`] and removed when teardown starts
//! (`ChildExited` or `Stop`), or at dock's exit at the latest.
//!
//! Registers nothing. Reads `Ready`, `ChildExited`, `Stop`.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::ReadyError;
use crate::event::{Ctx, Handler};
use crate::notice::Notice;
use crate::{debug, warn};

/// The file's mode: readable by every user a probe may run as.
pub const MODE: u32 = 0o644;

/// The file's keeper.
pub struct ReadyFile {
    path: PathBuf,
    /// dock created it and has not removed it yet.
    created: bool,
    /// Teardown started: never create it again.
    over: bool,
}

impl ReadyFile {
    /// Checks that PATH's directory exists and removes a file left at PATH by an earlier run (a
    /// stale one would say "ready" before the child is).
    ///
    /// # Errors
    /// [`ReadyError::File`]: the directory is missing or not one, or the stale file cannot be
    /// removed (EACCES, EROFS, EISDIR).
    pub fn new(path: PathBuf) -> Result<ReadyFile, ReadyError> {
        let fail = |what, source| ReadyError::File {
            path: path.display().to_string(),
            what,
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(fail(
                    "its directory",
                    io::Error::from_raw_os_error(libc::ENOTDIR),
                ))
            }
            Err(e) => return Err(fail("its directory", e)),
        }
        match std::fs::remove_file(&path) {
            Ok(()) => debug!(
                "--ready-file: removed {} left by an earlier run",
                path.display()
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(fail("removing a stale file", e)),
        }
        Ok(ReadyFile {
            path,
            created: false,
            over: false,
        })
    }

    fn create(&mut self) {
        if self.over || self.created {
            return;
        }
        let made = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(MODE)
            .open(&self.path)
            // The umask may have taken bits off: the mode is exact.
            .and_then(|f| f.set_permissions(std::fs::Permissions::from_mode(MODE)));
        match made {
            Ok(()) => {
                self.created = true;
                debug!("--ready-file: created {}", self.path.display());
            }
            Err(e) => warn!(
                "--ready-file {}: creating it: {}",
                self.path.display(),
                crate::log::reason(&e)
            ),
        }
    }

    /// What a notice means for the file (no loop needed).
    fn note(&mut self, notice: &Notice) {
        match notice {
            Notice::Ready { .. } => self.create(),
            Notice::ChildExited(_) | Notice::Stop { .. } => self.remove(),
            _ => {}
        }
    }

    fn remove(&mut self) {
        self.over = true;
        if !std::mem::take(&mut self.created) {
            return;
        }
        match std::fs::remove_file(&self.path) {
            Ok(()) => debug!("--ready-file: removed {}", self.path.display()),
            Err(e) => warn!(
                "--ready-file {}: removing it: {}",
                self.path.display(),
                crate::log::reason(&e)
            ),
        }
    }
}

impl Handler for ReadyFile {
    fn start(&mut self, _cx: &mut Ctx<'_>) {}

    fn on_notice(&mut self, _cx: &mut Ctx<'_>, notice: &Notice) {
        self.note(notice);
    }

    fn finish(&mut self, _deadline: Instant) {
        self.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::time::Duration;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dock-ready-file-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn made_at_ready_removed_at_teardown_and_a_stale_one_first() {
        let d = dir("cycle");
        let p = d.join("ready");
        std::fs::write(&p, "stale").unwrap();
        let mut f = ReadyFile::new(p.clone()).unwrap();
        assert!(
            !p.exists(),
            "the stale file is removed before the child starts"
        );
        f.note(&Notice::Ready {
            after: Duration::from_millis(3),
        });
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert_eq!((m.len(), m.mode() & 0o7777), (0, MODE));
        f.note(&Notice::Stop {
            reason: "x".into(),
            code: 124,
        });
        assert!(!p.exists());
        // Never again, even if a late Ready came.
        f.note(&Notice::Ready {
            after: Duration::ZERO,
        });
        assert!(!p.exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_symlink_is_not_followed_and_a_missing_directory_is_refused() {
        let d = dir("link");
        let target = d.join("target");
        let p = d.join("ready");
        let mut f = ReadyFile::new(p.clone()).unwrap();
        std::os::unix::fs::symlink(&target, &p).unwrap();
        f.create();
        assert!(!target.exists() && !f.created);
        let e = ReadyFile::new(d.join("no/such/dir/ready")).err().unwrap();
        assert!(e.to_string().starts_with("--ready-file "), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
