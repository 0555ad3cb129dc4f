//! `--no-pty` with a network `--io`: the child's output shipped to a collector (Fluent Bit's or
//! Vector's `tcp`/`socket` input, a `unix://` socket) that may come and go. Nothing here blocks the
//! loop: names are resolved on a helper thread (`http::resolve`), connects are non-blocking and
//! registered on the loop, TLS is driven by readiness ([`super::link`]).
//!
//! - Unreachable at start, or gone later: dock keeps the child running, holds its output in a
//!   [`Backlog`] (whole lines, at most [`BACKLOG_CAP`] bytes; lines beyond are dropped and counted)
//!   and reconnects with backoff: [`FIRST_RETRY`], doubling up to [`MAX_RETRY`]. Each attempt
//!   (resolution, connect, TLS handshake) gets [`CONNECT_TIMEOUT`].
//! - Back: the held lines go first; what was dropped is reported in one line.
//! - Connected: a slow collector slows the child (the relay stops reading once the backlog is full),
//!   as any sink does; nothing is dropped.
//!
//! Registers: the socket (key [`SOCK`]) while connecting or connected, the resolver's pipe (key
//! [`RESOLVE`]) while resolving. Deadlines: [`RETRY`] (next attempt), [`TIMEOUT`] (attempt's end).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use nix::poll::PollFlags;

use super::backlog::{Backlog, BACKLOG_CAP};
use super::config::IoTarget;
use super::link::Link;
use super::net::{target_url, CONNECT_TIMEOUT};
use crate::event::{Ctx, Event, Key};
use crate::http::resolve::Resolving;

/// Event key of the socket.
pub const SOCK: Key = 1000;
/// Event key of the resolver's pipe.
pub const RESOLVE: Key = 1001;
/// Deadline key of the next attempt.
pub const RETRY: Key = 1000;
/// Deadline key of the current attempt's end.
pub const TIMEOUT: Key = 1001;

/// The first retry after a failure or a lost connection.
pub const FIRST_RETRY: Duration = Duration::from_millis(100);
/// The longest wait between attempts ("at most every 5 s").
pub const MAX_RETRY: Duration = Duration::from_secs(5);

enum State {
    /// Waiting for [`RETRY`].
    Waiting,
    Resolving(Resolving),
    Connecting(Link, Token),
    Up(Link, Token),
}

/// The shipping sink: a backlog and the connection it drains into.
pub struct Shipper {
    target: IoTarget,
    url: String,
    #[cfg(feature = "tls")]
    tls: Option<super::link::TlsParams>,
    backlog: Backlog,
    state: State,
    /// Addresses of the current attempt not tried yet.
    addrs: Vec<SocketAddr>,
    backoff: Duration,
    /// A failure was reported and no connection has been made since.
    failing: bool,
    /// rustls still holds records to send.
    tls_pending: bool,
}

impl std::fmt::Debug for Shipper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shipper").field("url", &self.url).finish()
    }
}

impl Shipper {
    /// A shipper for `target` (TLS with `tls`: the client configuration and server name); nothing
    /// happens until [`Shipper::start`].
    pub fn new(
        target: IoTarget,
        #[cfg(feature = "tls")] tls: Option<super::link::TlsParams>,
    ) -> Shipper {
        Shipper {
            url: target_url(&target),
            target,
            #[cfg(feature = "tls")]
            tls,
            backlog: Backlog::new(BACKLOG_CAP),
            state: State::Waiting,
            addrs: Vec::new(),
            backoff: FIRST_RETRY,
            failing: false,
            tls_pending: false,
        }
    }

    /// The first attempt.
    pub fn start(&mut self, cx: &mut Ctx<'_>) {
        self.attempt(cx);
    }

    /// Takes framed output: kept for the peer, or, while it is away, kept or dropped in whole lines.
    /// Never fails.
    ///
    /// # Errors
    /// `WouldBlock` while connected with a full backlog (the relay waits for [`Shipper::send`]).
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.state {
            State::Up(..) if self.backlog.full() => Err(io::ErrorKind::WouldBlock.into()),
            State::Up(..) => {
                self.backlog.push(buf);
                Ok(buf.len())
            }
            _ => {
                self.backlog.push_bounded(buf);
                Ok(buf.len())
            }
        }
    }

    /// Whether the relay may write again (it waits while this is false).
    pub fn accepts(&self) -> bool {
        !matches!(self.state, State::Up(..)) || !self.backlog.full()
    }

    /// Nothing waits for the peer.
    pub fn flushed(&self) -> bool {
        self.backlog.is_empty() && !self.tls_pending
    }

    /// Sends what the peer can take now. On a failure the connection is dropped and retried.
    pub fn send(&mut self, cx: Option<&mut Ctx<'_>>) {
        let State::Up(link, _) = &mut self.state else {
            return;
        };
        let why = loop {
            if self.backlog.is_empty() {
                match link.flush() {
                    Ok(done) => self.tls_pending = !done,
                    Err(e) => break e,
                }
                return;
            }
            match link.write(self.backlog.unsent()) {
                Ok(0) => break io::ErrorKind::WriteZero.into(),
                Ok(n) => self.backlog.consume(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.tls_pending = true;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break e,
            }
        };
        self.lost(cx, Some(why));
    }

    /// An event on the socket or the resolver's pipe.
    pub fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) {
        match (ev.key, &mut self.state) {
            (RESOLVE, State::Resolving(r)) => {
                let Some(res) = r.poll() else { return };
                if let State::Resolving(r) = std::mem::replace(&mut self.state, State::Waiting) {
                    r.close(cx);
                }
                match res {
                    Ok(addrs) => {
                        self.addrs = addrs;
                        self.addrs.reverse();
                        self.next_addr(cx, None);
                    }
                    Err(e) => self.failed(cx, &e),
                }
            }
            (SOCK, State::Connecting(link, _)) => match link.establish() {
                Ok(super::link::Wait::Ready) => self.up(cx),
                Ok(_) => {}
                Err(e) => {
                    self.drop_link(cx);
                    self.next_addr(cx, Some(e));
                }
            },
            (SOCK, State::Up(link, _)) => {
                if ev.readable {
                    match link.discard_input() {
                        Ok(false) => {}
                        Ok(true) => return self.lost(Some(cx), None),
                        Err(e) => return self.lost(Some(cx), Some(e)),
                    }
                }
                self.send(Some(cx));
            }
            _ => {}
        }
    }

    /// [`RETRY`] or [`TIMEOUT`].
    pub fn on_deadline(&mut self, cx: &mut Ctx<'_>, key: Key) {
        match key {
            RETRY if matches!(self.state, State::Waiting) => self.attempt(cx),
            TIMEOUT if !matches!(self.state, State::Up(..) | State::Waiting) => {
                self.drop_link(cx);
                if let State::Resolving(r) = std::mem::replace(&mut self.state, State::Waiting) {
                    r.close(cx);
                }
                self.addrs.clear();
                let e = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()),
                );
                self.failed(cx, &e);
            }
            _ => {}
        }
    }

    /// At exit, when the relay would block: waits until the peer took some output, at most until
    /// `deadline`; false then (or when there is no connection to wait for).
    pub fn push(&mut self, deadline: Instant) -> bool {
        loop {
            if self.accepts() {
                return true;
            }
            let ready = match self.fd() {
                Some(fd) => super::relay::wait_for(fd, PollFlags::POLLOUT, deadline),
                None => false,
            };
            if !ready {
                return false;
            }
            self.send(None);
        }
    }

    /// At exit: sends what is held, waiting for a slow peer at most until `deadline`; what is left
    /// then (or with no connection) is dropped with one log line; closes the connection.
    pub fn finish(&mut self, deadline: Instant) {
        while !self.flushed() {
            let ready = match self.fd() {
                Some(fd) => super::relay::wait_for(fd, PollFlags::POLLOUT, deadline),
                None => false,
            };
            if !ready {
                break;
            }
            self.send(None);
        }
        if let Some((lines, bytes)) = self.backlog.take_dropped() {
            crate::warn!("--io {}: {lines} lines ({bytes} bytes) of the child's output were dropped while it was unreachable", self.url);
        }
        let held = self.backlog.unsent().len();
        if held > 0 {
            let why = match self.state {
                State::Up(..) => format!(
                    "the --io peer did not take them within {}",
                    crate::log::seconds(super::FINISH_TIMEOUT)
                ),
                _ => format!("--io {} was not connected", self.url),
            };
            crate::warn!("exiting with {held} bytes of the child's output not delivered: {why}");
        }
        if let State::Up(link, _) = &mut self.state {
            link.close();
        }
    }

    fn fd(&mut self) -> Option<BorrowedFd<'_>> {
        match &mut self.state {
            State::Up(link, _) => Some(link.fd()),
            _ => None,
        }
    }

    /// Starts an attempt: connect to a Unix socket or an IP address at once, resolve a name first.
    fn attempt(&mut self, cx: &mut Ctx<'_>) {
        cx.arm_in(TIMEOUT, CONNECT_TIMEOUT);
        match self.target.clone() {
            IoTarget::Unix(path) => match Link::unix(&path) {
                Ok(link) => self.connecting(cx, link),
                Err(e) => self.failed(cx, &e),
            },
            IoTarget::Net { host, port, .. } => match host.parse::<IpAddr>() {
                Ok(ip) => {
                    self.addrs = vec![SocketAddr::new(ip, port)];
                    self.next_addr(cx, None);
                }
                Err(_) => match Resolving::start(cx, RESOLVE, &host, port) {
                    Ok(r) => self.state = State::Resolving(r),
                    Err(e) => self.failed(cx, &e),
                },
            },
            IoTarget::File(_) => {}
        }
    }

    /// Tries the next address of the attempt; when none is left, the attempt failed with `last`.
    fn next_addr(&mut self, cx: &mut Ctx<'_>, last: Option<io::Error>) {
        let Some(addr) = self.addrs.pop() else {
            let e = last.unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, "no address for the host")
            });
            return self.failed(cx, &e);
        };
        let link = Link::tcp(
            addr,
            #[cfg(feature = "tls")]
            self.tls.as_ref(),
        );
        match link {
            Ok(link) => self.connecting(cx, link),
            Err(e) => self.next_addr(cx, Some(e)),
        }
    }

    fn connecting(&mut self, cx: &mut Ctx<'_>, mut link: Link) {
        match cx.register(link.source(), Interest::READABLE | Interest::WRITABLE, SOCK) {
            Ok(token) => {
                self.state = State::Connecting(link, token);
                // A Unix connect is complete at once; TCP waits for its writable event.
                if matches!(self.target, IoTarget::Unix(_)) {
                    self.up(cx);
                }
            }
            Err(e) => self.failed(cx, &e),
        }
    }

    fn up(&mut self, cx: &mut Ctx<'_>) {
        cx.disarm(TIMEOUT);
        self.addrs.clear();
        if let State::Connecting(link, token) = std::mem::replace(&mut self.state, State::Waiting) {
            self.state = State::Up(link, token);
        }
        self.backoff = FIRST_RETRY;
        let dropped = self.backlog.take_dropped();
        match (self.failing, dropped) {
            (_, Some((lines, bytes))) => crate::warn!(
                "--io {}: connected; {lines} lines ({bytes} bytes) of the child's output were dropped while it was unreachable",
                self.url
            ),
            (true, None) => crate::warn!("--io {}: connected; no output was lost", self.url),
            (false, None) => crate::debug!("--io {}: connected", self.url),
        }
        self.failing = false;
        self.send(Some(cx));
    }

    /// The connection ended (`why`: an error; `None`: the peer closed it): drop the rest of a line
    /// it got part of, and reconnect.
    fn lost(&mut self, cx: Option<&mut Ctx<'_>>, why: Option<io::Error>) {
        let what = match &why {
            Some(e) => crate::log::reason(e),
            None => "the peer closed the connection".to_string(),
        };
        let Some(cx) = cx else {
            // At exit: nothing to reconnect; the rest is counted as not delivered.
            if let State::Up(link, _) = &mut self.state {
                link.close();
            }
            self.state = State::Waiting;
            self.backlog.disconnected();
            return;
        };
        self.drop_link(cx);
        self.backlog.disconnected();
        crate::warn!(
            "--io {}: {what}; reconnecting (holding up to {} MiB of output meanwhile)",
            self.url,
            BACKLOG_CAP >> 20
        );
        self.failing = true;
        self.tls_pending = false;
        self.retry_later(cx);
    }

    /// The attempt failed: report the first failure of a run, wait, try again.
    fn failed(&mut self, cx: &mut Ctx<'_>, e: &io::Error) {
        cx.disarm(TIMEOUT);
        if self.failing {
            crate::debug!(
                "--io {}: {}; retrying in {}",
                self.url,
                crate::log::reason(e),
                crate::log::seconds(self.backoff)
            );
        } else {
            crate::warn!(
                "--io {}: {}; retrying (holding up to {} MiB of output meanwhile)",
                self.url,
                crate::log::reason(e),
                BACKLOG_CAP >> 20
            );
            self.failing = true;
        }
        self.retry_later(cx);
    }

    fn retry_later(&mut self, cx: &mut Ctx<'_>) {
        self.state = State::Waiting;
        cx.arm_in(RETRY, self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_RETRY);
    }

    /// Deregisters and closes the socket of the current attempt or connection.
    fn drop_link(&mut self, cx: &mut Ctx<'_>) {
        if let State::Connecting(mut link, token) | State::Up(mut link, token) =
            std::mem::replace(&mut self.state, State::Waiting)
        {
            link.close();
            cx.deregister(link.source(), token);
        }
    }
}
