//! `--web-hook`: status PUTs (`starting` when the child is spawned, `running` when it is ready,
//! `crashed` when it exited) delivered strictly in order, one at a time, over dock's HTTP client on
//! the loop; the rules (each try's deadline, retries, what `crashed` drops) are [`queue`]'s. Never
//! blocks the loop; failures are logged, never fatal, and a status given up is always logged. Once
//! `crashed` is queued, everything left gets at most the flush time (`--grace-period`, at least
//! 0.1 s), so the exit wait is bounded without anything else to call. With `DOCK_WEB_HOOK_SECRET`,
//! every request is signed ([`sign`]).
//!
//! Registers: the connection (one at a time, a new one per request) and the resolver's pipe (only
//! while a host name is being resolved). Deadline: the try's timeout, the backoff and the flush
//! bound, whichever is nearest. Reads `Spawned`, `Ready` (`running`, with `ready_ms`), `Status`
//! (`status_text` from then on), `Stop` (`crashed` at once, with its `reason` and code),
//! `ChildExited` (`crashed`, unless a stop sent it already).

pub mod netif;
pub mod payload;
pub mod queue;
pub mod sign;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::event::{Ctx, Event, Handler, Key};
use crate::http::exchange::Exchange;
use crate::http::Url;
use crate::notice::Notice;
use crate::tls::TlsOptions;
use crate::{debug, warn};
use queue::{Failed, Item, Queue, Status, Why};

/// What the hook needs from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookConfig {
    /// `--web-hook`.
    pub url: Url,
    /// `--ca-file`, `--insecure`.
    pub tls: TlsOptions,
    /// How long what is queued may still take once `crashed` is (a grace period, at least 0.1 s).
    pub flush: Duration,
    /// `DOCK_WEB_HOOK_SECRET` (environment only): the HMAC-SHA256 key that signs each request.
    pub secret: Option<sign::Secret>,
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
    #[error("--web-hook {url}")]
    Tls {
        /// The URL, without its userinfo.
        url: String,
        /// The cause.
        #[source]
        source: crate::tls::TlsError,
    },
}

/// The one deadline.
const TIMER: Key = 0;

/// What the front item is waiting for.
enum Phase {
    /// Nothing queued.
    Idle,
    /// A try is on its way (looking up the host, connecting, or waiting for the response).
    Exchanging(Box<Exchange>),
    /// Waiting to retry.
    Backoff,
}

/// The hook client.
pub struct Hook {
    url: Url,
    /// The URL without userinfo: what log lines show (no password in logs).
    label: String,
    #[cfg(feature = "tls")]
    tls: Option<crate::http::conn::TlsParams>,
    flush: Duration,
    /// The HMAC key signing each request (`DOCK_WEB_HOOK_SECRET`).
    secret: Option<sign::Secret>,
    queue: Queue,
    phase: Phase,
    /// When the current phase ends (attempt timeout or backoff end).
    phase_deadline: Option<Instant>,
    /// When the current try started.
    try_started: Option<Instant>,
    /// When the hook gives up on everything: `flush` after `Crashed` was queued.
    exit_deadline: Option<Instant>,
    /// The main child's pid, once spawned.
    pid: Option<i32>,
    /// Addresses from the last lookup, reused until an attempt fails.
    addrs: Option<Vec<SocketAddr>>,
    /// `ready_ms`, the stop's `reason`, the latest `status_text`.
    extra: payload::Extra,
}

impl Hook {
    /// A client for `cfg`. For an https URL the rustls configuration is built here (webpki roots
    /// plus `--ca-file`, or no verification with `--insecure`); a plain http hook never builds one.
    ///
    /// # Errors
    /// [`HookError`]: a bad `--ca-file`, an unusable TLS server name, TLS not built in.
    pub fn new(cfg: HookConfig) -> Result<Hook, HookError> {
        let label = cfg.url.label();
        #[cfg(feature = "tls")]
        let tls = if cfg.url.tls {
            let config = crate::tls::client_config(cfg.tls.ca_file.as_deref(), cfg.tls.insecure)
                .map_err(|source| HookError::Tls {
                    url: label.clone(),
                    source,
                })?;
            let name =
                crate::tls::server_name(&cfg.url.host).map_err(|reason| HookError::Setup {
                    url: label.clone(),
                    reason,
                })?;
            if cfg.tls.insecure {
                warn!("--web-hook {label}: --insecure: the server's certificate is not verified");
            }
            Some((config, name))
        } else {
            None
        };
        #[cfg(not(feature = "tls"))]
        if cfg.url.tls {
            return Err(HookError::Setup {
                url: label,
                reason: "this dock was built without TLS".into(),
            });
        }
        Ok(Hook {
            url: cfg.url,
            label,
            #[cfg(feature = "tls")]
            tls,
            flush: cfg.flush,
            secret: cfg.secret,
            queue: Queue::default(),
            phase: Phase::Idle,
            phase_deadline: None,
            try_started: None,
            exit_deadline: None,
            pid: None,
            addrs: None,
            extra: payload::Extra::default(),
        })
    }

    /// Queues `status` and starts delivery if idle. `crashed` drops what waits before it (each
    /// logged) and cuts short a try still in flight ([`queue::cut_short`]).
    fn send(&mut self, cx: &mut Ctx<'_>, status: Status) {
        let in_flight = !matches!(self.phase, Phase::Idle | Phase::Backoff);
        let Some(dropped) = self.queue.push(status, self.pid, in_flight) else {
            return;
        };
        for item in &dropped {
            self.log_given_up(item, Why::ChildExited);
        }
        if let Status::Crashed(_) = status {
            let now = Instant::now();
            self.exit_deadline = Some(now + self.flush);
            if in_flight {
                self.phase_deadline = self
                    .phase_deadline
                    .map(|d| queue::cut_short(d, now, self.flush));
            } else {
                // What was backing off is gone: `crashed` goes out now.
                self.cleanup_phase(cx);
            }
        }
        match self.phase {
            Phase::Idle => self.start_attempt(cx),
            _ => self.rearm(cx),
        }
    }

    /// The one line for a status that will never be delivered (never silent: the receiver cannot
    /// tell a lost status from one that did not happen, the log can).
    fn log_given_up(&self, item: &Item, why: Why) {
        let last = item
            .last_error
            .as_deref()
            .map(|e| format!(" (last try: {e})"))
            .unwrap_or_default();
        let name = item.status.name();
        let label = &self.label;
        match why {
            Why::ChildExited if item.tries == 0 && item.first_try.is_none() => {
                warn!("web hook {label}: {name} not sent, the child exited first");
            }
            Why::ChildExited => {
                warn!(
                    "web hook {label}: {name} given up, the child exited: crashed goes next{last}"
                );
            }
            Why::TimeUp => warn!(
                "web hook {label}: {name} not delivered after {} tries in {}{last}",
                item.tries,
                crate::log::seconds(queue::RETRY_FOR)
            ),
        }
    }

    /// Starts a try of the front item: resolve (unless an IP literal or cached), then connect.
    fn start_attempt(&mut self, cx: &mut Ctx<'_>) {
        let Some(item) = self.queue.front().cloned() else {
            self.phase = Phase::Idle;
            self.phase_deadline = None;
            self.rearm(cx);
            return;
        };
        let now = Instant::now();
        self.try_started = Some(now);
        self.phase_deadline = Some(self.queue.started(now));
        self.rearm(cx);
        let body = payload::body(item.status, item.pid, &netif::interfaces(), &self.extra);
        let signature = self.secret.as_ref().map(|k| k.signature(&body));
        let request = crate::http::put_json(&self.url, &body, signature.as_deref());
        debug!(
            "web hook {}: PUT {} (try {})",
            self.label,
            String::from_utf8_lossy(&body),
            item.tries + 1
        );
        #[cfg(feature = "tls")]
        let started = Exchange::start(cx, &self.url, &self.addrs, request, self.tls.as_ref());
        #[cfg(not(feature = "tls"))]
        let started = Exchange::start(cx, &self.url, &self.addrs, request);
        match started {
            Ok(x) => self.phase = Phase::Exchanging(Box::new(x)),
            Err(reason) => self.attempt_failed(cx, reason),
        }
    }

    /// An event of the try on its way: its outcome, once there is one.
    fn on_exchange(&mut self, cx: &mut Ctx<'_>, ev: Event) {
        let Phase::Exchanging(x) = &mut self.phase else {
            return;
        };
        let Some(outcome) = x.on_event(cx, ev, &self.url, &mut self.addrs) else {
            return;
        };
        // Its fds are closed.
        self.phase = Phase::Idle;
        match outcome {
            Ok(resp) if resp.success() => self.delivered(cx, resp.code),
            Ok(resp) => self.attempt_failed(cx, format!("HTTP {} {}", resp.code, resp.reason)),
            Err(reason) => self.attempt_failed(cx, reason),
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_>) {
        let now = Instant::now();
        if self.exit_deadline.is_some_and(|d| now >= d) {
            self.abandon(cx);
        } else if self.phase_deadline.is_some_and(|d| now >= d) {
            match self.phase {
                Phase::Idle => self.phase_deadline = None,
                Phase::Backoff => self.start_attempt(cx),
                _ => {
                    let took = self
                        .phase_deadline
                        .zip(self.try_started)
                        .map(|(d, t)| d - t);
                    let took = took.map(crate::log::seconds).unwrap_or_default();
                    self.attempt_failed(cx, format!("no response within {took}"));
                }
            }
        }
        self.rearm(cx);
    }

    /// The front item got a 2xx.
    fn delivered(&mut self, cx: &mut Ctx<'_>, code: u16) {
        if let Some(item) = self.queue.delivered() {
            debug!(
                "web hook {}: {} delivered ({code})",
                self.label,
                item.status.name()
            );
        }
        self.start_attempt(cx);
    }

    /// The front item's try failed: retry after a backoff, or drop it.
    fn attempt_failed(&mut self, cx: &mut Ctx<'_>, reason: String) {
        self.cleanup_phase(cx);
        // A new lookup next time: the failure may be a stale address.
        self.addrs = None;
        let tries = self.queue.front().map_or(0, |i| i.tries + 1);
        match self.queue.failed(reason.clone(), Instant::now()) {
            None => self.start_attempt(cx),
            Some(Failed::GiveUp(item, why)) => {
                self.log_given_up(&item, why);
                self.start_attempt(cx);
            }
            Some(Failed::Retry(backoff)) => {
                if let Some(item) = self.queue.front() {
                    debug!(
                        "web hook {}: {} try {tries} failed: {reason}",
                        self.label,
                        item.status.name()
                    );
                }
                self.phase = Phase::Backoff;
                self.phase_deadline = Some(Instant::now() + backoff);
                self.rearm(cx);
            }
        }
    }

    /// The exit deadline passed: give up on everything queued.
    fn abandon(&mut self, cx: &mut Ctx<'_>) {
        self.cleanup_phase(cx);
        for item in self.queue.abandon() {
            let why = item
                .last_error
                .map(|e| format!(" (last try: {e})"))
                .unwrap_or_default();
            warn!(
                "web hook {}: {} not delivered within the grace period ({}){why}",
                self.label,
                item.status.name(),
                crate::log::seconds(self.flush)
            );
        }
        self.phase_deadline = None;
        self.rearm(cx);
    }

    /// Closes the connection or resolver of the current phase, if any; the phase becomes Idle.
    fn cleanup_phase(&mut self, cx: &mut Ctx<'_>) {
        if let Phase::Exchanging(x) = std::mem::replace(&mut self.phase, Phase::Idle) {
            x.close(cx);
        }
    }

    /// Arms the deadline for the nearest of the phase and exit deadlines, or disarms it when idle.
    fn rearm(&mut self, cx: &mut Ctx<'_>) {
        let mut next = self.phase_deadline;
        if !self.queue.is_empty() {
            next = match (next, self.exit_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        match next {
            Some(at) => cx.arm(TIMER, at),
            None => cx.disarm(TIMER),
        }
    }
}

impl Handler for Hook {
    fn start(&mut self, _cx: &mut Ctx<'_>) {}

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) {
        self.on_exchange(cx, ev);
    }

    fn on_deadline(&mut self, cx: &mut Ctx<'_>, _key: Key) {
        self.on_timer(cx);
    }

    fn on_notice(&mut self, cx: &mut Ctx<'_>, notice: &Notice) {
        match notice {
            Notice::Spawned { pid, .. } => {
                self.pid = Some(*pid);
                self.send(cx, Status::Starting);
            }
            Notice::Ready { after } => {
                self.extra.ready_ms = Some(u64::try_from(after.as_millis()).unwrap_or(u64::MAX));
                self.send(cx, Status::Running);
            }
            Notice::Status(text) => self.extra.status_text = Some(text.clone()),
            Notice::Stop { reason, code } if self.extra.reason.is_none() => {
                // The child's own status after the teardown is not known yet; `crashed` goes now,
                // with the code dock will exit with.
                self.extra.reason = Some(reason.clone());
                self.send(cx, Status::Crashed(crate::notice::ChildExit::exited(*code)));
            }
            Notice::ChildExited(exit) if self.extra.reason.is_none() => {
                self.send(cx, Status::Crashed(*exit))
            }
            Notice::ChildExited(exit) => debug!(
                "web hook: crashed was sent at the stop; the child then exited with status {}",
                exit.code
            ),
            _ => {}
        }
    }

    fn flushed(&self) -> bool {
        self.queue.is_empty()
    }

    fn finish(&mut self, _deadline: Instant) {
        for item in self.queue.abandon() {
            warn!(
                "web hook {}: {} not delivered: dock is exiting",
                self.label,
                item.status.name()
            );
        }
    }
}
