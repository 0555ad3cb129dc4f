//! `--ready-http URL`: `GET` the URL until a 2xx answers ([`Condition::Http`], once), on the loop
//! with dock's HTTP/1.1 client (the web hook's: [`Conn`], [`Resolving`], the same TLS verification
//! rules). A refused connection, a try without a complete response within [`TRY_TIMEOUT`], any other
//! status: "not yet", tried again after [`next_delay`] (a few ms at first, backing off to 1 s); `-d`
//! shows each distinct failure once, not each try. Kubernetes' httpGet probe also takes 3xx; dock
//! wants a 2xx, the status a health endpoint answers when healthy.
//!
//! Registers: one connection at a time (a new one per try), the resolver's pipe while a host name
//! is resolved. Deadline: the next try, or the current try's timeout. Reads `Spawned`,
//! `ChildExited`, `Stop`; posts `Condition(Http)`.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::ReadyError;
use crate::debug;
use crate::event::{Ctx, Event, Handler, Key};
use crate::http::conn::{Conn, ConnError};
use crate::http::resolve::Resolving;
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

/// The connection's and the resolver pipe's keys; the one deadline.
const CONN: Key = 0;
const RESOLVED: Key = 1;
const TIMER: Key = 0;

/// Where the check is.
enum Phase {
    /// Waiting for the next try (or not started, or over).
    Idle,
    /// The resolver thread is looking up the host.
    Resolving(Resolving),
    /// A connection is open; `addrs[next..]` remain to try if it fails to connect.
    Sending {
        conn: Conn,
        addrs: Vec<SocketAddr>,
        next: usize,
    },
}

/// The check.
pub struct HttpCheck {
    url: Url,
    /// The URL without userinfo, for log lines.
    label: String,
    #[cfg(feature = "tls")]
    tls: Option<crate::http::conn::TlsParams>,
    request: Vec<u8>,
    phase: Phase,
    /// Addresses from the last lookup, kept while the server answers.
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
            phase: Phase::Idle,
            addrs: None,
            spawned: None,
            tries: 0,
            over: false,
            last_failure: None,
        })
    }

    /// A try: resolve (unless an IP literal or cached), then connect.
    fn start_try(&mut self, cx: &mut Ctx<'_>) {
        self.tries += 1;
        cx.arm_in(TIMER, TRY_TIMEOUT);
        let addrs = if let Ok(ip) = self.url.host.parse::<IpAddr>() {
            vec![SocketAddr::new(ip, self.url.port)]
        } else if let Some(a) = &self.addrs {
            a.clone()
        } else {
            match Resolving::start(cx, RESOLVED, &self.url.host, self.url.port) {
                Ok(res) => self.phase = Phase::Resolving(res),
                Err(e) => self.failed(cx, format!("resolving {}: {e}", self.url.host)),
            }
            return;
        };
        self.connect(cx, addrs, 0, None);
    }

    /// Connects to the first of `addrs[next..]` that accepts a connect; `last` is the previous
    /// address's failure, reported when none is left.
    fn connect(
        &mut self,
        cx: &mut Ctx<'_>,
        addrs: Vec<SocketAddr>,
        mut next: usize,
        mut last: Option<ConnError>,
    ) {
        while let Some(&addr) = addrs.get(next) {
            next += 1;
            #[cfg(feature = "tls")]
            let opened = Conn::open(cx, CONN, addr, self.request.clone(), self.tls.as_ref());
            #[cfg(not(feature = "tls"))]
            let opened = Conn::open(cx, CONN, addr, self.request.clone());
            match opened {
                Ok(conn) => {
                    self.phase = Phase::Sending { conn, addrs, next };
                    return;
                }
                Err(e) => last = Some(e),
            }
        }
        // A connect that fails may mean a stale address: look the name up again next time.
        self.addrs = None;
        let reason = last.map_or_else(|| "no address".to_string(), |e| crate::log::chain(&e));
        self.failed(cx, reason);
    }

    fn on_resolved(&mut self, cx: &mut Ctx<'_>, ev: Event) {
        let Phase::Resolving(res) = &mut self.phase else {
            return;
        };
        if res.token() != ev.token {
            return;
        }
        let Some(answer) = res.poll() else { return };
        self.cleanup(cx);
        match answer {
            Ok(addrs) if !addrs.is_empty() => {
                self.addrs = Some(addrs.clone());
                self.connect(cx, addrs, 0, None);
            }
            Ok(_) => self.failed(cx, format!("{}: no address", self.url.host)),
            Err(e) => self.failed(cx, format!("resolving {}: {e}", self.url.host)),
        }
    }

    fn on_conn(&mut self, cx: &mut Ctx<'_>, ev: Event) {
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
        let Phase::Sending { conn, addrs, next } = std::mem::replace(&mut self.phase, Phase::Idle)
        else {
            return;
        };
        conn.close(cx);
        match result {
            Ok(Some(resp)) if resp.success() => self.answered(cx, resp.code),
            Ok(Some(resp)) => self.failed(cx, format!("HTTP {} {}", resp.code, resp.reason)),
            Err(e @ ConnError::Connect { .. }) => self.connect(cx, addrs, next, Some(e)),
            Err(e) => self.failed(cx, crate::log::chain(&e)),
            Ok(None) => {}
        }
    }

    /// A 2xx: the condition holds.
    fn answered(&mut self, cx: &mut Ctx<'_>, code: u16) {
        let ms = self
            .spawned
            .map_or(0.0, |at| at.elapsed().as_secs_f64() * 1e3);
        debug!(
            "--ready-http {}: HTTP {code} after {ms:.1} ms (try {})",
            self.label, self.tries
        );
        self.stop(cx);
        cx.post(Notice::Condition(Condition::Http));
    }

    /// The try failed: log it if it fails differently from the last, try again later.
    fn failed(&mut self, cx: &mut Ctx<'_>, reason: String) {
        self.cleanup(cx);
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
        match self.phase {
            Phase::Idle => self.start_try(cx),
            _ => self.failed(
                cx,
                format!("no response within {}", crate::log::seconds(TRY_TIMEOUT)),
            ),
        }
    }

    /// Closes the connection or resolver of the current phase, if any.
    fn cleanup(&mut self, cx: &mut Ctx<'_>) {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Sending { conn, .. } => conn.close(cx),
            Phase::Resolving(res) => res.close(cx),
            Phase::Idle => {}
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
        match ev.key {
            CONN => self.on_conn(cx, ev),
            RESOLVED => self.on_resolved(cx, ev),
            _ => {}
        }
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
