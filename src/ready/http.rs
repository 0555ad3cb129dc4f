//! `--ready-http URL`: `GET` the URL until a 2xx answers ([`Condition::Http`], once), on the loop
//! with dock's HTTP/1.1 client (the web hook's [`Exchange`], the same TLS verification rules). A
//! refused connection, a try without a complete response within [`TRY_TIMEOUT`], any other
//! status: "not yet", tried again after [`next_delay`] (a few ms at first, backing off to 1 s); `-d`
//! shows each distinct failure once, not each try. Kubernetes' httpGet probe also takes 3xx; dock
//! wants a 2xx, the status a health endpoint answers when healthy.
//!
//! Registers: one connection at a time (a new one per try), the resolver's pipe while a host name
//! is resolved. Deadline: the next try, or the current try's timeout. Reads `Spawned`,
//! `ChildExited`, `Stop`; posts `Condition(Http)`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::ReadyError;
use crate::debug;
use crate::event::{Ctx, Event, Handler, Key};
use crate::http::exchange::Exchange;
use crate::http::Url;
use crate::notice::{Condition, Notice};
use crate::tls::TlsOptions;

/// The first try, this long after the spawn.
pub const FIRST_DELAY: Duration = Duration::from_millis(5);
/// The longest gap between tries.
pub const MAX_DELAY: Duration = Duration::from_secs(1);
/// How long one try (resolution, connect, TLS, request, response) may take.
pub const TRY_TIMEOUT: Duration = Duration::from_secs(2);

/// The gap before the next try, `waited` after the spawn: a quarter of the time waited, from
/// [`FIRST_DELAY`] up to [`MAX_DELAY`]. A server is seen at most a quarter of its start-up time
/// late (plus a response): 5 ms gaps for the first 20 ms, 25 ms at 100 ms, 1 s from 4 s on. About
/// four tries per doubling of the wait, then one a second.
pub fn next_delay(waited: Duration) -> Duration {
    (waited / 4).clamp(FIRST_DELAY, MAX_DELAY)
}

/// What `--ready-http` needs from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheckConfig {
    /// The URL (parsed as `--web-hook`'s).
    pub url: Url,
    /// `--ca-file`, `--insecure`.
    pub tls: TlsOptions,
}

/// The one deadline: the next try, or the current one's timeout.
const TIMER: Key = 0;

/// The check.
pub struct HttpCheck {
    url: Url,
    /// The URL without userinfo, for log lines.
    label: String,
    #[cfg(feature = "tls")]
    tls: Option<crate::http::conn::TlsParams>,
    request: Vec<u8>,
    /// The try on its way; none while waiting for the next.
    try_: Option<Exchange>,
    /// Addresses from the last lookup, kept until a try fails.
    addrs: Option<Vec<SocketAddr>>,
    spawned: Option<Instant>,
    tries: u32,
    /// A 2xx came, or the child is gone: no more tries.
    over: bool,
    last_failure: Option<String>,
}

impl HttpCheck {
    /// A check of `cfg.url`; for https the rustls configuration is built here, as the hook's
    /// (webpki roots plus `--ca-file`, or no verification with `--insecure`).
    ///
    /// # Errors
    /// [`ReadyError`]: a bad `--ca-file`, an unusable TLS server name, TLS not built in.
    pub fn new(cfg: HttpCheckConfig) -> Result<HttpCheck, ReadyError> {
        let label = cfg.url.label();
        #[cfg(feature = "tls")]
        let tls = if cfg.url.tls {
            let config = crate::tls::client_config(cfg.tls.ca_file.as_deref(), cfg.tls.insecure)
                .map_err(|source| ReadyError::Tls {
                    url: label.clone(),
                    source,
                })?;
            let name =
                crate::tls::server_name(&cfg.url.host).map_err(|reason| ReadyError::Http {
                    url: label.clone(),
                    reason,
                })?;
            if cfg.tls.insecure {
                crate::warn!(
                    "--ready-http {label}: --insecure: the server's certificate is not verified"
                );
            }
            Some((config, name))
        } else {
            None
        };
        #[cfg(not(feature = "tls"))]
        if cfg.url.tls {
            return Err(ReadyError::Http {
                url: label,
                reason: "this dock was built without TLS".into(),
            });
        }
        Ok(HttpCheck {
            request: crate::http::get(&cfg.url),
            url: cfg.url,
            label,
            #[cfg(feature = "tls")]
            tls,
            try_: None,
            addrs: None,
            spawned: None,
            tries: 0,
            over: false,
            last_failure: None,
        })
    }

    /// A try: resolve (unless an IP literal or cached), connect, GET.
    fn start_try(&mut self, cx: &mut Ctx<'_>) {
        self.tries += 1;
        cx.arm_in(TIMER, TRY_TIMEOUT);
        let request = self.request.clone();
        #[cfg(feature = "tls")]
        let started = Exchange::start(cx, &self.url, &self.addrs, request, self.tls.as_ref());
        #[cfg(not(feature = "tls"))]
        let started = Exchange::start(cx, &self.url, &self.addrs, request);
        match started {
            Ok(x) => self.try_ = Some(x),
            Err(reason) => self.failed(cx, reason),
        }
    }

    /// An event of the try on its way: its outcome, once there is one.
    fn on_exchange(&mut self, cx: &mut Ctx<'_>, ev: Event) {
        let Some(x) = &mut self.try_ else { return };
        let Some(outcome) = x.on_event(cx, ev, &self.url, &mut self.addrs) else {
            return;
        };
        // Its fds are closed.
        self.try_ = None;
        match outcome {
            Ok(resp) if resp.success() => self.answered(cx, resp.code),
            Ok(resp) => self.failed(cx, format!("HTTP {} {}", resp.code, resp.reason)),
            Err(reason) => self.failed(cx, reason),
        }
    }

    /// A 2xx: the condition holds.
    fn answered(&mut self, cx: &mut Ctx<'_>, code: u16) {
        let ms = crate::log::decimal(
            self.spawned
                .map_or_else(Default::default, |at| at.elapsed())
                .as_micros()
                / 100,
            1,
        );
        debug!(
            "--ready-http {}: HTTP {code} after {ms} ms (try {})",
            self.label, self.tries
        );
        self.stop(cx);
        cx.post(Notice::Condition(Condition::Http));
    }

    /// The try failed: log it if it fails differently from the last, try again later (with a new
    /// lookup: the failure may be a stale address).
    fn failed(&mut self, cx: &mut Ctx<'_>, reason: String) {
        self.cleanup(cx);
        self.addrs = None;
        if self.last_failure.as_deref() != Some(reason.as_str()) {
            debug!(
                "--ready-http {}: not yet (try {}): {reason}",
                self.label, self.tries
            );
            self.last_failure = Some(reason);
        }
        let waited = self.spawned.map_or(Duration::ZERO, |at| at.elapsed());
        cx.arm_in(TIMER, next_delay(waited));
    }

    fn on_timer(&mut self, cx: &mut Ctx<'_>) {
        if self.over {
            return;
        }
        match self.try_ {
            None => self.start_try(cx),
            Some(_) => self.failed(
                cx,
                format!("no response within {}", crate::log::seconds(TRY_TIMEOUT)),
            ),
        }
    }

    /// Ends the try on its way, if any.
    fn cleanup(&mut self, cx: &mut Ctx<'_>) {
        if let Some(x) = self.try_.take() {
            x.close(cx);
        }
    }

    /// No more tries.
    fn stop(&mut self, cx: &mut Ctx<'_>) {
        self.over = true;
        self.cleanup(cx);
        cx.disarm(TIMER);
    }
}

impl Handler for HttpCheck {
    fn start(&mut self, _cx: &mut Ctx<'_>) {}

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) {
        self.on_exchange(cx, ev);
    }

    fn on_deadline(&mut self, cx: &mut Ctx<'_>, _key: Key) {
        self.on_timer(cx);
    }

    fn on_notice(&mut self, cx: &mut Ctx<'_>, notice: &Notice) {
        match notice {
            Notice::Spawned { at, .. } if !self.over => {
                self.spawned = Some(*at);
                cx.arm(TIMER, *at + FIRST_DELAY);
            }
            Notice::ChildExited(_) | Notice::Stop { .. } => self.stop(cx),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
