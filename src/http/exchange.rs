//! One request on the loop, start to end: the host looked up off the loop ([`Resolving`]; not for an
//! IP literal, nor when the caller kept the addresses of an earlier lookup), each address tried in
//! turn until one accepts the connection, the request sent and the response read ([`Conn`]). The web
//! hook's PUTs and `--ready-http`'s GETs both go through it; their rules (deadlines, retries,
//! backoff) stay theirs.
//!
//! Registers: the resolver's pipe under [`RESOLVED`] while looking up, then the connection under
//! [`CONN`], both under the caller's handler; closed when the exchange ends or is closed.

use std::net::{IpAddr, SocketAddr};

use super::conn::{Conn, ConnError};
use super::resolve::Resolving;
use super::response::Response;
use super::Url;
use crate::event::{Ctx, Event, Key};

/// The key of the connection, and of the resolver's pipe: the caller's other keys must differ.
pub const CONN: Key = 0;
/// See [`CONN`].
pub const RESOLVED: Key = 1;

/// Where the exchange is.
enum Phase {
    /// The resolver thread is looking up the host.
    Resolving(Resolving),
    /// A connection is open; `addrs[next..]` remain to try if it fails to connect.
    Sending {
        conn: Conn,
        addrs: Vec<SocketAddr>,
        next: usize,
    },
    /// Over: nothing registered.
    Over,
}

/// A request in flight.
pub struct Exchange {
    phase: Phase,
    request: Vec<u8>,
    #[cfg(feature = "tls")]
    tls: Option<super::conn::TlsParams>,
}

/// How an exchange ended: the complete response, or why there is none (for a log line).
pub type Outcome = Result<Response, String>;

impl Exchange {
    /// Starts `request` to `url` (through TLS when `tls` is given), with the addresses of an earlier
    /// lookup if `cache` holds them.
    ///
    /// # Errors
    /// Why it ended at once: no resolver thread, no address accepting a connect right away.
    pub fn start(
        cx: &mut Ctx<'_>,
        url: &Url,
        cache: &Option<Vec<SocketAddr>>,
        request: Vec<u8>,
        #[cfg(feature = "tls")] tls: Option<&super::conn::TlsParams>,
    ) -> Result<Exchange, String> {
        let mut x = Exchange {
            phase: Phase::Over,
            request,
            #[cfg(feature = "tls")]
            tls: tls.cloned(),
        };
        let addrs = if let Ok(ip) = url.host.parse::<IpAddr>() {
            vec![SocketAddr::new(ip, url.port)]
        } else if let Some(a) = cache {
            a.clone()
        } else {
            let res = Resolving::start(cx, RESOLVED, &url.host, url.port)
                .map_err(|e| format!("resolving {}: {e}", url.host))?;
            x.phase = Phase::Resolving(res);
            return Ok(x);
        };
        x.connect(cx, addrs, 0, None)?;
        Ok(x)
    }

    /// Connects to the first of `addrs[next..]` that accepts a connect; `last` is the previous
    /// address's failure, the reason when none is left.
    fn connect(
        &mut self,
        cx: &mut Ctx<'_>,
        addrs: Vec<SocketAddr>,
        mut next: usize,
        mut last: Option<ConnError>,
    ) -> Result<(), String> {
        while let Some(&addr) = addrs.get(next) {
            next += 1;
            #[cfg(feature = "tls")]
            let opened = Conn::open(cx, CONN, addr, self.request.clone(), self.tls.as_ref());
            #[cfg(not(feature = "tls"))]
            let opened = Conn::open(cx, CONN, addr, self.request.clone());
            match opened {
                Ok(conn) => {
                    self.phase = Phase::Sending { conn, addrs, next };
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.map_or_else(|| "no address".to_string(), |e| crate::log::chain(&e)))
    }

    /// Progress on one of the caller's events: `None` to wait for more, the outcome once over (its
    /// fds closed by then). A lookup's addresses are kept in `cache`.
    pub fn on_event(
        &mut self,
        cx: &mut Ctx<'_>,
        ev: Event,
        url: &Url,
        cache: &mut Option<Vec<SocketAddr>>,
    ) -> Option<Outcome> {
        match &mut self.phase {
            Phase::Resolving(res) if res.token() == ev.token => {
                let answer = res.poll()?;
                self.close_phase(cx);
                let ended = match answer {
                    Ok(addrs) if !addrs.is_empty() => {
                        *cache = Some(addrs.clone());
                        self.connect(cx, addrs, 0, None).err()
                    }
                    Ok(_) => Some(format!("{}: no address", url.host)),
                    Err(e) => Some(format!("resolving {}: {e}", url.host)),
                };
                ended.map(Err)
            }
            Phase::Sending { conn, .. } if conn.token() == ev.token => {
                let result = conn.on_ready();
                if let Ok(None) = result {
                    return None;
                }
                let Phase::Sending { conn, addrs, next } =
                    std::mem::replace(&mut self.phase, Phase::Over)
                else {
                    return None;
                };
                conn.close(cx);
                match result {
                    Ok(Some(resp)) => Some(Ok(resp)),
                    Err(e @ ConnError::Connect { .. }) => {
                        self.connect(cx, addrs, next, Some(e)).err().map(Err)
                    }
                    Err(e) => Some(Err(crate::log::chain(&e))),
                    Ok(None) => None,
                }
            }
            _ => None,
        }
    }

    fn close_phase(&mut self, cx: &mut Ctx<'_>) {
        match std::mem::replace(&mut self.phase, Phase::Over) {
            Phase::Sending { conn, .. } => conn.close(cx),
            Phase::Resolving(res) => res.close(cx),
            Phase::Over => {}
        }
    }

    /// Ends the exchange early: the connection or resolver pipe is deregistered and closed (a
    /// running lookup finishes on its own).
    pub fn close(mut self, cx: &mut Ctx<'_>) {
        self.close_phase(cx);
    }
}
