//! `--web-hook`: a queue of status PUTs (`starting`, `running`, `crashed`), delivered strictly in order,
//! one at a time, over a non-blocking TCP or rustls connection driven by the reactor. Never blocks the
//! loop; failures are logged, never fatal.
//!
//! Registers: `Source::HookConn` (the connection, one at a time, a new one per request),
//! `Source::HookTimer` (request timeout, retry backoff, the exit deadline; registered at the first
//! [`Hook::send`], armed only while something is queued), `Source::HookResolved` (the resolver
//! thread's pipe, only while a host name is being resolved).
//!
//! Integration contract used by `app.rs`:
//! - [`Hook::new`] before the spawn (errors exit 2);
//! - [`Hook::send`] on each state change: `Starting` when spawning, `Running` after it (or on
//!   `Notice::PortReady`), `Crashed` when the main child has exited;
//! - [`Hook::on_event`] for `HookConn`, `HookTimer` and `HookResolved` events;
//! - at exit, keep the loop running until [`Hook::idle`]: from the moment `Crashed` is queued, the hook
//!   gives up by itself after the `flush` duration given to [`Hook::new`] (`--grace-period`), so the wait
//!   is bounded without anything else to call.

pub mod conn;
pub mod http;
pub mod payload;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use thiserror::Error;

use crate::cli::HookUrl;
use crate::reactor::{Reactor, Ready, Source};
use crate::status::ChildExit;
use crate::sys::timer::Timer;
use crate::{debug, warn};
use conn::{Conn, ConnError, Resolving};

/// Deadline of one request attempt, from its start (resolution, connect, TLS, request, response).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Tries per status, the first included; then it is dropped with a log line.
pub const MAX_TRIES: u32 = 3;

/// Wait before the second try; doubled before each later one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);

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
    /// The URL cannot be used (an https URL in a dock built without TLS, a bad TLS server name).
    #[error("--web-hook {url}: {reason}")]
    Setup {
        /// The URL, without its userinfo.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The TLS configuration could not be built (`--ca-file`).
    #[cfg(feature = "tls")]
    #[error("--web-hook {url}: {source}")]
    Tls {
        /// The URL, without its userinfo.
        url: String,
        /// The cause.
        #[source]
        source: crate::tls::TlsError,
    },
    /// The timerfd could not be created.
    #[error("--web-hook {url}: timer: {source}")]
    Timer {
        /// The URL, without its userinfo.
        url: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A queued status, how often it was tried and why the last try failed.
#[derive(Debug, Clone)]
struct Item {
    status: Status,
    pid: Option<i32>,
    tries: u32,
    last_error: Option<String>,
}

/// What the front item is waiting for.
enum Phase {
    /// Nothing queued.
    Idle,
    /// The resolver thread is looking up the host.
    Resolving(Resolving),
    /// A connection is open; `addrs[next..]` remain to try if it fails to connect.
    Sending {
        conn: Conn,
        addrs: Vec<SocketAddr>,
        next: usize,
    },
    /// Waiting to retry.
    Backoff,
}

/// The hook client.
pub struct Hook {
    url: HookUrl,
    /// `scheme://host[:port]/path` without userinfo: what log lines show (no password in logs).
    label: String,
    #[cfg(feature = "tls")]
    tls: Option<conn::TlsParams>,
    flush: Duration,
    queue: VecDeque<Item>,
    phase: Phase,
    /// When the current phase ends (attempt timeout or backoff end).
    phase_deadline: Option<Instant>,
    /// When the hook gives up on everything: `flush` after `Crashed` was queued.
    exit_deadline: Option<Instant>,
    crashed: bool,
    timer: Timer,
    timer_token: Option<Token>,
    /// Addresses from the last lookup, reused until an attempt fails.
    addrs: Option<Vec<SocketAddr>>,
    /// The current request's bytes (kept for the next address or try).
    request: Vec<u8>,
}

impl Hook {
    /// A client for `url`. For an https URL the rustls configuration is built here (webpki roots plus
    /// `ca_file`, or no verification with `insecure`); a plain http hook never builds one. `flush` bounds
    /// the delivery of what is queued once `Crashed` is (`--grace-period`, seconds on the command line).
    ///
    /// # Errors
    /// [`HookError`]: a bad `--ca-file`, an unusable TLS server name, no timerfd.
    pub fn new(
        url: HookUrl,
        ca_file: Option<&Path>,
        insecure: bool,
        flush: Duration,
    ) -> Result<Hook, HookError> {
        let label = label(&url);
        #[cfg(feature = "tls")]
        let tls = if url.tls {
            let config =
                crate::tls::client_config(ca_file, insecure).map_err(|source| HookError::Tls {
                    url: label.clone(),
                    source,
                })?;
            let name = crate::tls::server_name(&url.host).map_err(|reason| HookError::Setup {
                url: label.clone(),
                reason,
            })?;
            if insecure {
                warn!("--web-hook {label}: --insecure: the server's certificate is not verified");
            }
            Some((config, name))
        } else {
            None
        };
        #[cfg(not(feature = "tls"))]
        {
            let _ = (ca_file, insecure);
            if url.tls {
                return Err(HookError::Setup {
                    url: label,
                    reason: "this dock was built without TLS".into(),
                });
            }
        }
        let timer = Timer::new().map_err(|source| HookError::Timer {
            url: label.clone(),
            source,
        })?;
        Ok(Hook {
            url,
            label,
            #[cfg(feature = "tls")]
            tls,
            flush,
            queue: VecDeque::new(),
            phase: Phase::Idle,
            phase_deadline: None,
            exit_deadline: None,
            crashed: false,
            timer,
            timer_token: None,
            addrs: None,
            request: Vec::new(),
        })
    }

    /// Queues `status` for the child `pid` and starts delivery if idle. `Running` after `Crashed` is
    /// ignored; `Crashed` drops a `Running` that is still waiting (the child died first) and starts the
    /// `flush` deadline.
    pub fn send(&mut self, r: &mut Reactor, status: Status, pid: Option<i32>) {
        if self.timer_token.is_none() {
            match r.add_fd(
                self.timer.as_raw_fd(),
                Source::HookTimer,
                Interest::READABLE,
            ) {
                Ok(t) => self.timer_token = Some(t),
                Err(e) => {
                    warn!("web hook {}: registering its timer: {e}", self.label);
                    return;
                }
            }
        }
        match status {
            Status::Running if self.crashed => return,
            Status::Crashed(_) => {
                self.crashed = true;
                self.exit_deadline = Some(Instant::now() + self.flush);
                let in_flight = !matches!(self.phase, Phase::Idle | Phase::Backoff);
                let mut i = 0;
                self.queue.retain(|item| {
                    let keep = item.status != Status::Running || (i == 0 && in_flight);
                    i += 1;
                    if !keep {
                        debug!("web hook: running not sent, the child exited first");
                    }
                    keep
                });
                if self.queue.is_empty() {
                    self.cleanup_phase(r);
                }
            }
            _ => {}
        }
        self.queue.push_back(Item {
            status,
            pid,
            tries: 0,
            last_error: None,
        });
        if matches!(self.phase, Phase::Idle) {
            self.start_attempt(r);
        } else {
            self.rearm();
        }
    }

    /// Handles an event on one of the hook's sources.
    pub fn on_event(&mut self, r: &mut Reactor, source: Source, ev: Ready) {
        match source {
            Source::HookTimer => {
                self.timer.drain();
                self.on_timer(r);
            }
            Source::HookResolved => {
                let Phase::Resolving(res) = &mut self.phase else {
                    return;
                };
                if res.token() != ev.token {
                    return;
                }
                let Some(answer) = res.poll() else { return };
                self.cleanup_phase(r);
                match answer {
                    Ok(addrs) if !addrs.is_empty() => {
                        self.addrs = Some(addrs.clone());
                        self.connect(r, addrs, 0, None);
                    }
                    Ok(_) => self.attempt_failed(r, format!("{}: no address", self.url.host)),
                    Err(e) => self.attempt_failed(r, format!("resolving {}: {e}", self.url.host)),
                }
            }
            Source::HookConn => {
                let Phase::Sending { conn, .. } = &mut self.phase else {
                    return;
                };
                if conn.token() != ev.token {
                    return;
                }
                let result = conn.on_ready();
                if let Ok(None) = result {
                    return;
                }
                let Phase::Sending { conn, addrs, next } =
                    std::mem::replace(&mut self.phase, Phase::Idle)
                else {
                    return;
                };
                conn.close(r);
                match result {
                    Ok(Some(resp)) if resp.success() => self.delivered(r, resp.code),
                    Ok(Some(resp)) => {
                        self.attempt_failed(r, format!("HTTP {} {}", resp.code, resp.reason))
                    }
                    Err(e @ ConnError::Connect { .. }) => self.connect(r, addrs, next, Some(e)),
                    Err(e) => self.attempt_failed(r, e.to_string()),
                    Ok(None) => {}
                }
            }
            _ => {}
        }
    }

    /// Nothing queued or in flight: dock may exit as far as the hook is concerned.
    pub fn idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Starts a try of the front item: resolve (unless an IP literal or cached), then connect.
    fn start_attempt(&mut self, r: &mut Reactor) {
        let Some(item) = self.queue.front().cloned() else {
            self.phase = Phase::Idle;
            self.phase_deadline = None;
            self.rearm();
            return;
        };
        self.phase_deadline = Some(Instant::now() + REQUEST_TIMEOUT);
        self.rearm();
        let body = payload::body(item.status, item.pid, &crate::netif::interfaces());
        self.request = http::request(&self.url, &body);
        debug!(
            "web hook {}: PUT {} (try {})",
            self.label,
            String::from_utf8_lossy(&body),
            item.tries + 1
        );
        let addrs = if let Ok(ip) = self.url.host.parse::<IpAddr>() {
            vec![SocketAddr::new(ip, self.url.port)]
        } else if let Some(a) = &self.addrs {
            a.clone()
        } else {
            match Resolving::start(r, &self.url.host, self.url.port) {
                Ok(res) => self.phase = Phase::Resolving(res),
                Err(e) => self.attempt_failed(r, format!("resolving {}: {e}", self.url.host)),
            }
            return;
        };
        self.connect(r, addrs, 0, None);
    }

    /// Connects to the first of `addrs[next..]` that accepts a connect; `last` is the previous
    /// address's failure, reported when none is left.
    fn connect(
        &mut self,
        r: &mut Reactor,
        addrs: Vec<SocketAddr>,
        mut next: usize,
        mut last: Option<ConnError>,
    ) {
        while let Some(&addr) = addrs.get(next) {
            next += 1;
            #[cfg(feature = "tls")]
            let opened = Conn::open(r, addr, self.request.clone(), self.tls.as_ref());
            #[cfg(not(feature = "tls"))]
            let opened = Conn::open(r, addr, self.request.clone());
            match opened {
                Ok(conn) => {
                    self.phase = Phase::Sending { conn, addrs, next };
                    return;
                }
                Err(e) => last = Some(e),
            }
        }
        let reason = last.map_or_else(|| "no address".to_string(), |e| e.to_string());
        self.attempt_failed(r, reason);
    }

    fn on_timer(&mut self, r: &mut Reactor) {
        let now = Instant::now();
        if self.exit_deadline.is_some_and(|d| now >= d) {
            self.abandon(r);
        } else if self.phase_deadline.is_some_and(|d| now >= d) {
            match self.phase {
                Phase::Idle => self.phase_deadline = None,
                Phase::Backoff => self.start_attempt(r),
                _ => self.attempt_failed(
                    r,
                    format!("no response within {} s", REQUEST_TIMEOUT.as_secs()),
                ),
            }
        }
        self.rearm();
    }

    /// The front item got a 2xx.
    fn delivered(&mut self, r: &mut Reactor, code: u16) {
        if let Some(item) = self.queue.pop_front() {
            debug!(
                "web hook {}: {} delivered ({code})",
                self.label,
                payload::status_name(item.status)
            );
        }
        self.start_attempt(r);
    }

    /// The front item's try failed: retry after a backoff, or drop it after [`MAX_TRIES`] (or at once
    /// for a `running` that `crashed` follows: it must not arrive after it).
    fn attempt_failed(&mut self, r: &mut Reactor, reason: String) {
        self.cleanup_phase(r);
        // A new lookup next time: the failure may be a stale address.
        self.addrs = None;
        let Some(item) = self.queue.front_mut() else {
            self.start_attempt(r);
            return;
        };
        item.tries += 1;
        let name = payload::status_name(item.status);
        if item.tries >= MAX_TRIES || (item.status == Status::Running && self.crashed) {
            warn!(
                "web hook {}: {name} not delivered after {} tries: {reason}",
                self.label, item.tries
            );
            self.queue.pop_front();
            self.start_attempt(r);
        } else {
            debug!(
                "web hook {}: {name} try {} failed: {reason}",
                self.label, item.tries
            );
            item.last_error = Some(reason);
            let backoff = FIRST_BACKOFF * 2u32.pow(item.tries - 1);
            self.phase = Phase::Backoff;
            self.phase_deadline = Some(Instant::now() + backoff);
            self.rearm();
        }
    }

    /// The exit deadline passed: give up on everything queued.
    fn abandon(&mut self, r: &mut Reactor) {
        self.cleanup_phase(r);
        for item in self.queue.drain(..) {
            let why = item
                .last_error
                .map(|e| format!(" (last try: {e})"))
                .unwrap_or_default();
            warn!(
                "web hook {}: {} not delivered within the grace period ({}){why}",
                self.label,
                payload::status_name(item.status),
                crate::log::seconds(self.flush)
            );
        }
        self.phase_deadline = None;
        self.rearm();
    }

    /// Closes the connection or resolver of the current phase, if any; the phase becomes Idle.
    fn cleanup_phase(&mut self, r: &mut Reactor) {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Sending { conn, .. } => conn.close(r),
            Phase::Resolving(res) => res.close(r),
            Phase::Idle | Phase::Backoff => {}
        }
    }

    /// Arms the timer for the nearest of the phase and exit deadlines, or disarms it when idle.
    fn rearm(&mut self) {
        let mut next = self.phase_deadline;
        if !self.queue.is_empty() {
            next = match (next, self.exit_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let res = match next {
            Some(at) => self.timer.arm(at.saturating_duration_since(Instant::now())),
            None => self.timer.disarm(),
        };
        if let Err(e) = res {
            warn!("web hook {}: timer: {e}", self.label);
        }
    }
}

/// `scheme://host[:port]/path` for log lines: the URL without userinfo.
fn label(url: &HookUrl) -> String {
    let scheme = if url.tls { "https" } else { "http" };
    let host = if url.host.contains(':') {
        format!("[{}]", url.host)
    } else {
        url.host.clone()
    };
    format!("{scheme}://{host}:{}{}", url.port, url.path)
}
