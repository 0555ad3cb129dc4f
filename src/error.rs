//! The top-level error and the one place errors become exit codes (as firecracker's `FcExitCode`).
//!
//! Registers nothing.

use std::ffi::OsString;
use std::io;

use thiserror::Error;

use crate::cli::UsageError;

/// Everything that stops dock before the main child runs. After the spawn, handlers log and go on.
#[derive(Debug, Error)]
pub enum Error {
    /// Bad flags or values: exit 2.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// `--io` setup (open, connect, TLS): exit 2.
    #[error(transparent)]
    Io(#[from] crate::io::IoError),
    /// `--bind-port` setup: exit 2.
    #[error(transparent)]
    Ports(#[from] crate::ports::PortsError),
    /// `--web-hook` setup: exit 2.
    #[error(transparent)]
    Hook(#[from] crate::hook::HookError),
    /// The command could not be executed: 127 (not found) or 126 (not executable).
    #[error("{}: {}", .command.to_string_lossy(), reason(.source))]
    Exec {
        /// argv\[0\].
        command: OsString,
        /// The exec error.
        #[source]
        source: io::Error,
    },
    /// A setup syscall failed (signalfd, epoll, pidfd): exit 2.
    #[error("{what}: {source}")]
    Sys {
        /// What dock was doing.
        what: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// An io::Error's message without the " (os error N)" suffix, lower-cased like the rest of dock's.
pub fn os_reason(e: &io::Error) -> String {
    reason(e)
}

fn reason(e: &io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

impl Error {
    /// The exit code for this error: 127 command not found, 126 not executable, 2 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Exec { source, .. } => match source.kind() {
                io::ErrorKind::NotFound => 127,
                _ => 126,
            },
            _ => 2,
        }
    }

    /// Shorthand for [`Error::Sys`].
    pub fn sys(what: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Sys { what, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_errors_map_like_a_shell() {
        let nf = Error::Exec {
            command: "nope".into(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(nf.exit_code(), 127);
        assert_eq!(nf.to_string(), "nope: no such file or directory");
        let na = Error::Exec {
            command: "x".into(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        };
        assert_eq!(na.exit_code(), 126);
        assert_eq!(Error::Usage(UsageError::NoCommand).exit_code(), 2);
    }
}
