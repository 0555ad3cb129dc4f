//! The `--io tcp://`, `tls://` (`ssl://`) and `unix://` connection: connecting before the child starts
//! (bounded by [`CONNECT_TIMEOUT`], name resolution included), the TLS handshake, and afterwards a
//! non-blocking byte stream ([`Peer`]) for the pty relay.
//!
//! Registers nothing itself; `pty.rs` registers [`Peer::fd`].

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::config::IoTarget;

/// How long dock waits for the connection (name resolution, TCP connect and TLS handshake together)
/// before giving up with exit 2 (docs/io.md).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The URL of a network `--io` target, for messages: `tcp://host:port`, `tls://[::1]:443`, `unix:///p`.
pub fn target_url(t: &IoTarget) -> String {
    match t {
        IoTarget::File(p) => p.display().to_string(),
        IoTarget::Unix(p) => format!("unix://{}", p.display()),
        IoTarget::Net { host, port, tls } => {
            let scheme = if *tls { "tls" } else { "tcp" };
            if host.contains(':') {
                format!("{scheme}://[{host}]:{port}")
            } else {
                format!("{scheme}://{host}:{port}")
            }
        }
    }
}

/// A connected peer, non-blocking.
#[derive(Debug)]
pub enum Peer {
    /// `tcp://`.
    Tcp(TcpStream),
    /// `unix://`.
    Unix(UnixStream),
    /// `tls://` / `ssl://`.
    #[cfg(feature = "tls")]
    Tls(Box<TlsPeer>),
}

/// A rustls client session over a non-blocking TCP stream, driven as in rustls' `tlsclient-mio`
/// example: read_tls to `WouldBlock`, process_new_packets, drain plaintext; write_tls while it wants to.
#[cfg(feature = "tls")]
#[derive(Debug)]
pub struct TlsPeer {
    conn: rustls::ClientConnection,
    sock: TcpStream,
}

/// Connects to `target` (a network `--io`), doing the TLS handshake for `tls://`, all within
/// [`CONNECT_TIMEOUT`]. `tls` is the client configuration for `tls://` targets.
///
/// # Errors
/// Resolution, connection or handshake failing or timing out (`TimedOut`); a rustls error is an
/// `InvalidData` error whose text names it (e.g. "invalid peer certificate: UnknownIssuer").
pub fn connect(
    target: &IoTarget,
    #[cfg(feature = "tls")] tls: Option<std::sync::Arc<rustls::ClientConfig>>,
) -> io::Result<Peer> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let stream = with_deadline(target.clone(), deadline)?;
    match (stream, target) {
        (Stream::Unix(s), _) => {
            s.set_nonblocking(true)?;
            Ok(Peer::Unix(s))
        }
        #[cfg(feature = "tls")]
        (
            Stream::Tcp(s),
            IoTarget::Net {
                host, tls: true, ..
            },
        ) => {
            let config = tls.ok_or_else(|| io::Error::other("no TLS configuration"))?;
            Ok(Peer::Tls(Box::new(handshake(s, host, config, deadline)?)))
        }
        (Stream::Tcp(s), _) => {
            s.set_nonblocking(true)?;
            // An interactive session: each keystroke and prompt is its own small segment.
            s.set_nodelay(true)?;
            Ok(Peer::Tcp(s))
        }
    }
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()),
    )
}

/// Runs the blocking resolve + connect on a helper thread and waits for it until `deadline`:
/// `getaddrinfo(3)` has no timeout of its own, and a Unix socket whose backlog is full blocks
/// `connect(2)` indefinitely. On timeout the thread is left behind; dock exits 2 right after.
fn with_deadline(target: IoTarget, deadline: Instant) -> io::Result<Stream> {
    let (tx, rx) = mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("dock-connect".into())
        .spawn(move || {
            let _ = tx.send(connect_blocking(&target, deadline));
        })?;
    let left = deadline.saturating_duration_since(Instant::now());
    match rx.recv_timeout(left) {
        Ok(r) => {
            // It has sent its one message and is returning: joining cannot wait long, and no thread
            // should be alive at the clone that follows (`sys::spawn`).
            let _ = thread.join();
            r
        }
        Err(_) => Err(timed_out()),
    }
}

fn connect_blocking(target: &IoTarget, deadline: Instant) -> io::Result<Stream> {
    match target {
        IoTarget::Unix(path) => UnixStream::connect(path).map(Stream::Unix),
        IoTarget::Net { host, port, .. } => {
            let addrs: Vec<SocketAddr> = (host.as_str(), *port).to_socket_addrs()?.collect();
            let mut last = io::Error::new(io::ErrorKind::NotFound, "no address for the host");
            for addr in addrs {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(timed_out());
                }
                match TcpStream::connect_timeout(&addr, left) {
                    Ok(s) => return Ok(Stream::Tcp(s)),
                    // std's own timeout fires at the same deadline as `with_deadline`'s wait and can
                    // win that race: it is the same 5 s, so it gets the same message.
                    Err(e) if e.kind() == io::ErrorKind::TimedOut && Instant::now() >= deadline => {
                        return Err(timed_out())
                    }
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
        IoTarget::File(p) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a network target", p.display()),
        )),
    }
}

/// The TLS handshake, blocking with socket timeouts set to what is left until `deadline`.
#[cfg(feature = "tls")]
fn handshake(
    sock: TcpStream,
    host: &str,
    config: std::sync::Arc<rustls::ClientConfig>,
    deadline: Instant,
) -> io::Result<TlsPeer> {
    let name = crate::tls::server_name(host).map_err(io::Error::other)?;
    let mut conn = rustls::ClientConnection::new(config, name).map_err(io::Error::other)?;
    let mut sock = sock;
    while conn.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out());
        }
        sock.set_read_timeout(Some(left))?;
        sock.set_write_timeout(Some(left))?;
        match conn.complete_io(&mut sock) {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(io::Error::new(
                    e.kind(),
                    "tls handshake: the server closed the connection",
                ))
            }
            Err(e) => {
                let why = crate::tls::describe_io(&e);
                return Err(io::Error::new(e.kind(), format!("tls handshake: {why}")));
            }
        }
    }
    sock.set_read_timeout(None)?;
    sock.set_write_timeout(None)?;
    sock.set_nonblocking(true)?;
    sock.set_nodelay(true)?;
    Ok(TlsPeer { conn, sock })
}

#[cfg(feature = "tls")]
impl TlsPeer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // TCP EOF without close_notify: for a terminal session, a hangup like any other.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            // After EOF (Ok(0)) the reader reports Ok(0) or UnexpectedEof on the next turn.
            self.conn.read_tls(&mut self.sock)?;
            if let Err(e) = self.conn.process_new_packets() {
                // Send the alert describing the error, best effort.
                let _ = self.flush();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            // Handshake messages after the handshake (TLS 1.3 key updates) may want an answer.
            self.flush()?;
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Hold at most one chunk in rustls: back-pressure reaches the pty only if rustls does not
        // buffer everything we hand it.
        if !self.flush()? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.conn.writer().write(buf)?;
        self.flush()?;
        Ok(n)
    }

    /// Writes queued TLS records; true when none is left.
    fn flush(&mut self) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

impl Peer {
    /// The socket, to register for readiness.
    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Peer::Tcp(s) => s.as_fd(),
            Peer::Unix(s) => s.as_fd(),
            #[cfg(feature = "tls")]
            Peer::Tls(t) => t.sock.as_fd(),
        }
    }

    /// Reads what the peer sent (plaintext). `Ok(0)`: the peer closed the connection.
    ///
    /// # Errors
    /// `WouldBlock` when nothing is there; a reset; a TLS error (`InvalidData`).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Peer::Tcp(s) => s.read(buf),
            Peer::Unix(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Peer::Tls(t) => t.read(buf),
        }
    }

    /// Sends (part of) `buf`.
    ///
    /// # Errors
    /// `WouldBlock` when the socket (or rustls' one-chunk buffer) is full; EPIPE/ECONNRESET.
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            // std sends with MSG_NOSIGNAL on Linux: a closed peer is EPIPE, not a SIGPIPE.
            Peer::Tcp(s) => s.write(buf),
            Peer::Unix(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Peer::Tls(t) => t.write(buf),
        }
    }

    /// Sends what is queued inside the peer (TLS records); true when nothing is left.
    ///
    /// # Errors
    /// As [`Peer::write`], except `WouldBlock` (that is `Ok(false)`).
    pub fn flush(&mut self) -> io::Result<bool> {
        match self {
            Peer::Tcp(_) | Peer::Unix(_) => Ok(true),
            #[cfg(feature = "tls")]
            Peer::Tls(t) => t.flush(),
        }
    }

    /// Ends the session politely (TLS `close_notify`), best effort, without blocking.
    pub fn close(&mut self) {
        #[cfg(feature = "tls")]
        if let Peer::Tls(t) = self {
            t.conn.send_close_notify();
            let _ = t.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn urls_for_messages() {
        let t = IoTarget::Net {
            host: "::1".into(),
            port: 443,
            tls: true,
        };
        assert_eq!(target_url(&t), "tls://[::1]:443");
        assert_eq!(
            target_url(&IoTarget::Unix("/run/s".into())),
            "unix:///run/s"
        );
    }

    fn connect_plain(t: &IoTarget) -> io::Result<Peer> {
        connect(
            t,
            #[cfg(feature = "tls")]
            None,
        )
    }

    #[test]
    fn tcp_round_trip_and_refused() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = IoTarget::Net {
            host: "127.0.0.1".into(),
            port,
            tls: false,
        };
        let mut p = connect_plain(&t).unwrap();
        let (mut s, _) = l.accept().unwrap();
        assert_eq!(p.write(b"hi").unwrap(), 2);
        let mut b = [0u8; 2];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"hi");
        let e = p.read(&mut b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        drop(s);
        drop(l);
        let e = connect_plain(&t).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    }
}
