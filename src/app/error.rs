//! The top-level error, and the one place a run's outcome becomes dock's exit code (as firecracker's
//! `FcExitCode`).
//!
//! Registers nothing.

use std::io;

use thiserror::Error;

use crate::cli::UsageError;
use crate::hook::HookError;
use crate::io::IoError;
use crate::notice::ChildExit;
use crate::ports::PortsError;
use crate::ready::ReadyError;
use crate::supervisor::SpawnError;

/// Exit code for a usage or setup error: nothing was started (the shell's "misuse", as tini).
pub const USAGE: u8 = 2;
/// Exit code when the command was not found (as a shell and docker).
pub const NOT_FOUND: u8 = 127;
/// Exit code when the command was found but could not be executed.
pub const NOT_EXECUTABLE: u8 = 126;

/// Everything that stops dock before the main child runs. After the spawn, handlers log and go on.
#[derive(Debug, Error)]
pub enum Error {
    /// Bad flags or values.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// `--io` setup (open, connect, TLS).
    #[error(transparent)]
    Io(#[from] IoError),
    /// `--bind-port` setup.
    #[error(transparent)]
    Ports(#[from] PortsError),
    /// `--web-hook` setup.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// `--ready-notify`, `--ready-fd`, `--ready-http`, `--ready-file` setup.
    #[error(transparent)]
    Ready(#[from] ReadyError),
    /// The command could not be started.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// `--user`: `/etc/passwd` or `/etc/group` exists but cannot be read.
    #[error("--user: reading {path}")]
    UserDb {
        /// The file.
        path: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A setup syscall failed (signal mask, epoll, signalfd, subreaper, parent-death signal).
    #[error("{what}")]
    Sys {
        /// What dock was doing.
        what: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Shorthand for [`Error::Sys`].
    pub fn sys(what: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Sys { what, source }
    }
}

/// How a run of dock ended, short of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The main child ran and ended so.
    Exited(ChildExit),
    /// `--help` or `--version` was printed.
    Printed,
    /// No command: the help was printed on stderr.
    Help,
}

/// dock's exit code: the main child's (its code N, or 128+S for signal S), or the code of the stop
/// dock carried out instead of waiting for it (124, `crate::ready::NOT_READY_EXIT`, when the child
/// was not ready within `--ready-timeout`, as timeout(1)), after `--remap-exit`, which `app::run`
/// applies; 0 after printing help or the version, 2 for no command or any error before the child
/// ran, but 127 for a command not found and 126 for one that cannot be executed (bash(1) "EXIT
/// STATUS"). `--remap-exit` never applies to these three: they are dock's own, nothing ran (tini's
/// `-e` too remaps only the child's status).
pub fn exit_code(result: &Result<Outcome, Error>) -> u8 {
    match result {
        Ok(Outcome::Exited(exit)) => u8::try_from(exit.code.clamp(0, 255)).unwrap_or(u8::MAX),
        Ok(Outcome::Printed) => 0,
        Ok(Outcome::Help) => USAGE,
        Err(Error::Spawn(e)) => match e.not_found() {
            Some(true) => NOT_FOUND,
            Some(false) => NOT_EXECUTABLE,
            None => USAGE,
        },
        Err(_) => USAGE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_errors_map_like_a_shell() {
        let nf: Result<Outcome, Error> = Err(SpawnError::Exec {
            command: "nope".into(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        }
        .into());
        assert_eq!(exit_code(&nf), 127);
        if let Err(e) = &nf {
            assert_eq!(crate::log::chain(e), "nope: no such file or directory");
        }
        let na = Err(SpawnError::Exec {
            command: "x".into(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        }
        .into());
        assert_eq!(exit_code(&na), 126);
        let clone = Err(SpawnError::Clone(io::Error::from_raw_os_error(libc::EAGAIN)).into());
        assert_eq!(exit_code(&clone), 2);
        assert_eq!(exit_code(&Err(UsageError::NoCommand.into())), 2);
    }

    #[test]
    fn the_childs_status_passes_through() {
        for (exit, code) in [
            (ChildExit::exited(0), 0),
            (ChildExit::exited(255), 255),
            (ChildExit::signaled(15), 143),
        ] {
            assert_eq!(exit_code(&Ok(Outcome::Exited(exit))), code);
        }
        assert_eq!(exit_code(&Ok(Outcome::Printed)), 0);
        assert_eq!(exit_code(&Ok(Outcome::Help)), 2);
    }
}
