//! Readiness: when the child counts as `running`. The gate ([`Gate`]) knows which conditions the
//! command line asked for and posts [`Notice::Ready`] exactly once, when all hold (at the spawn
//! when none is given), never after the main child exited; with `--ready-timeout` it posts
//! [`Notice::Stop`] instead if they do not hold in time. Each source is its own handler reporting
//! only its own [`Condition`]: `--bind-port` (`crate::ports`), [`notify`] (sd_notify),
//! [`fd`] (s6's notification fd), [`http`] (GET until a 2xx). [`file`] shows the outcome as a file.
//!
//! The gate registers nothing. Deadline: the `--ready-timeout` deadline. Reads `Spawned`,
//! `Condition`, `ChildExited`; posts `Ready`, `Stop`.

pub mod fd;
pub mod file;
pub mod http;
pub mod notify;
pub mod notify_msg;

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::event::{Ctx, Handler, Key};
use crate::notice::{Condition, Notice};
use crate::{debug, warn};

/// dock's exit code when the child was not ready within `--ready-timeout`: 124, as timeout(1).
pub const NOT_READY_EXIT: i32 = 124;

/// The readiness options of the command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadyConfig {
    /// `--bind-port` must listen (the port itself is `crate::ports::PortConfig`).
    pub port: bool,
    /// `--ready-notify`: where the sd_notify socket is bound.
    pub notify: Option<notify::NotifyAddr>,
    /// `--ready-fd N`: the fd number (≥ 3) the child gets the pipe's write end as.
    pub fd: Option<i32>,
    /// `--ready-http URL`, with the TLS options for `https://`.
    pub http: Option<http::HttpCheckConfig>,
    /// `--ready-timeout`: from the spawn; `None` waits as long as the child runs.
    pub timeout: Option<Duration>,
    /// `--ready-file PATH`.
    pub file: Option<PathBuf>,
}

/// Why a readiness source could not be set up (exit 2, nothing started).
#[derive(Debug, Error)]
pub enum ReadyError {
    /// The sd_notify socket could not be made or bound.
    #[error("--ready-notify {addr}: {what}")]
    Notify {
        /// The address (`@name` or a path).
        addr: String,
        /// The step that failed.
        what: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The fd number cannot be handed to the child.
    #[error("--ready-fd {fd}: {reason}")]
    Fd {
        /// N.
        fd: i32,
        /// What is wrong.
        reason: String,
    },
    /// The pipe could not be made.
    #[error("--ready-fd {fd}: creating the pipe")]
    Pipe {
        /// N.
        fd: i32,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The URL cannot be used (https in a dock built without TLS, a bad TLS server name).
    #[error("--ready-http {url}: {reason}")]
    Http {
        /// The URL, without its userinfo.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The TLS configuration could not be built (`--ca-file`).
    #[cfg(feature = "tls")]
    #[error("--ready-http {url}")]
    Tls {
        /// The URL, without its userinfo.
        url: String,
        /// The cause.
        #[source]
        source: crate::tls::TlsError,
    },
    /// The file's place is unusable, or a stale file there cannot be removed.
    #[error("--ready-file {path}: {what}")]
    File {
        /// PATH.
        path: String,
        /// What failed.
        what: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Conditions still waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Waiting {
    port: bool,
    notify: bool,
    fd: bool,
    http: bool,
}

impl Waiting {
    fn names(self) -> String {
        let mut s = String::new();
        for (waiting, name) in [
            (self.port, "--bind-port"),
            (self.notify, "--ready-notify"),
            (self.fd, "--ready-fd"),
            (self.http, "--ready-http"),
        ] {
            if waiting {
                if !s.is_empty() {
                    s.push_str(", ");
                }
                s.push_str(name);
            }
        }
        s
    }
}

/// The `--ready-timeout` deadline.
const TIMEOUT: Key = 0;

/// The gate.
#[derive(Debug)]
pub struct Gate {
    /// Conditions still waited for.
    waiting: Waiting,
    timeout: Option<Duration>,
    /// When the child was spawned, once it was.
    spawned: Option<Instant>,
    /// Ready or Stop was posted, or the child exited first: nothing more to say.
    over: bool,
}

impl Gate {
    /// A gate waiting for the conditions of `cfg`.
    pub fn new(cfg: &ReadyConfig) -> Gate {
        Gate {
            waiting: Waiting {
                port: cfg.port,
                notify: cfg.notify.is_some(),
                fd: cfg.fd.is_some(),
                http: cfg.http.is_some(),
            },
            timeout: cfg.timeout,
            spawned: None,
            over: false,
        }
    }

    fn met(&mut self, c: Condition) {
        match c {
            Condition::Port { .. } => self.waiting.port = false,
            Condition::Notify => self.waiting.notify = false,
            Condition::Fd => self.waiting.fd = false,
            Condition::Http => self.waiting.http = false,
        }
    }

    /// Posts `Ready` if the child runs and nothing is waited for any more.
    fn check(&mut self, cx: &mut Ctx<'_>) {
        let Some(at) = self.spawned else { return };
        if self.over || self.waiting != Waiting::default() {
            return;
        }
        self.over = true;
        cx.disarm(TIMEOUT);
        let after = at.elapsed();
        debug!(
            "ready after {} ms",
            crate::log::decimal(after.as_micros() / 100, 1)
        );
        cx.post(Notice::Ready { after });
    }

    /// The deadline passed with conditions still unmet: stop the child.
    fn expired(&mut self, cx: &mut Ctx<'_>) {
        let Some(timeout) = self.timeout.filter(|_| !self.over) else {
            return;
        };
        self.over = true;
        let reason = format!("not ready within {}", crate::log::seconds(timeout));
        warn!(
            "{reason} (still waiting for {}): stopping the child, exit code {NOT_READY_EXIT}",
            self.waiting.names()
        );
        cx.post(Notice::Stop {
            reason,
            code: NOT_READY_EXIT,
        });
    }
}

impl Handler for Gate {
    fn start(&mut self, _cx: &mut Ctx<'_>) {}

    fn on_deadline(&mut self, cx: &mut Ctx<'_>, key: Key) {
        if key == TIMEOUT {
            self.expired(cx);
        }
    }

    fn on_notice(&mut self, cx: &mut Ctx<'_>, notice: &Notice) {
        match notice {
            Notice::Spawned { at, .. } => {
                self.spawned = Some(*at);
                // A deadline past what Instant holds (never, with the 100-year cap) is no deadline.
                if let Some(by) = self.timeout.and_then(|t| at.checked_add(t)) {
                    cx.arm(TIMEOUT, by);
                }
                self.check(cx);
            }
            Notice::Condition(c) => {
                self.met(*c);
                self.check(cx);
            }
            Notice::ChildExited(_) => {
                self.over = true;
                cx.disarm(TIMEOUT);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
