//! stdio wiring (`--io`, `--stdout-prefix`): pipes or a pty for the child, sinks (dock's own stdio, a
//! file, a TCP/TLS/Unix connection), the line prefixer and the relay with back-pressure.
//!
//! Registers: the child's output pipe(s) or pty master, and the peer socket, as `Source::Stdio(i)`.
//!
//! Integration contract used by `app.rs`:
//! - [`Stdio::setup`] before the spawn (may block, bounded: connect + TLS handshake, 5 s);
//! - the returned [`ChildStdio`] goes into the `Command`;
//! - [`Stdio::start`] right after the spawn (closes the child's ends, registers fds);
//! - [`Stdio::on_event`] for every `Source::Stdio(i)` event;
//! - [`Stdio::on_winch`] when dock gets SIGWINCH (true: handled by resizing the pty);
//! - [`Stdio::drained`] / [`Stdio::finish`] at exit.

pub mod file;

use std::process::Stdio as StdStdio;

use thiserror::Error;

use crate::cli::Config;
use crate::reactor::{Notice, Reactor, Ready};

/// Why stdio could not be set up (before the child starts: exit 2).
#[derive(Debug, Error)]
pub enum IoError {
    /// Opening the `--io` file failed.
    #[error("--io {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Creating pipes or a pty failed.
    #[error("stdio setup: {0}")]
    Setup(#[source] std::io::Error),
}

/// What the child gets as fds 0, 1, 2, and whether it runs in a new session on a pty.
pub struct ChildStdio {
    /// fd 0.
    pub stdin: StdStdio,
    /// fd 1.
    pub stdout: StdStdio,
    /// fd 2.
    pub stderr: StdStdio,
    /// New session with stdin as controlling terminal (the pty case).
    pub session: bool,
}

/// dock's side of the child's stdio.
pub struct Stdio {}

impl Stdio {
    /// Prepares the sinks and the child's fds for `cfg`.
    ///
    /// # Errors
    /// [`IoError`] naming the `--io` target.
    pub fn setup(_cfg: &Config) -> Result<(Stdio, ChildStdio), IoError> {
        Ok((
            Stdio {},
            ChildStdio {
                stdin: StdStdio::inherit(),
                stdout: StdStdio::inherit(),
                stderr: StdStdio::inherit(),
                session: false,
            },
        ))
    }

    /// After the spawn: registers the relay fds.
    ///
    /// # Errors
    /// Registration failing.
    pub fn start(&mut self, _r: &mut Reactor) -> std::io::Result<()> {
        Ok(())
    }

    /// Handles readiness of relay fd `idx`.
    pub fn on_event(&mut self, _r: &mut Reactor, _idx: usize, _ev: Ready, _out: &mut Vec<Notice>) {}

    /// SIGWINCH: resize the child's pty from dock's terminal. Returns true when handled that way.
    pub fn on_winch(&mut self) -> bool {
        false
    }

    /// All child output has been read to EOF and written to its sink (or the sink is gone).
    pub fn drained(&self) -> bool {
        true
    }

    /// At exit: write what is still buffered, best effort, bounded.
    pub fn finish(&mut self) {}

    /// The `--io` file sink, when the output goes to a file (for `--log-rotate`).
    pub fn file_sink(&mut self) -> Option<&mut file::FileSink> {
        None
    }
}
