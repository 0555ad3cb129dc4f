//! One non-blocking connection of the `--no-pty` shipper: a TCP, Unix or TLS stream driven by
//! readiness events, never blocking the loop. TCP connects as mio documents it (a writable event,
//! then `take_error` and `peer_addr`); TLS is rustls over the mio stream, as in
//! `src/http/conn.rs` (rustls' `tlsclient-mio` example: read_tls until WouldBlock,
//! process_new_packets, write_tls while it wants to).
//!
//! Registers nothing itself: the shipper registers [`Link::source`].

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

/// A connection in progress or established.
#[derive(Debug)]
pub enum Link {
    /// `tcp://`.
    Tcp(mio::net::TcpStream),
    /// `unix://`.
    Unix(mio::net::UnixStream),
    /// `tls://`: rustls over TCP.
    #[cfg(feature = "tls")]
    Tls(Box<TlsLink>),
}

/// A rustls client session over a non-blocking TCP stream.
#[cfg(feature = "tls")]
#[derive(Debug)]
pub struct TlsLink {
    conn: rustls::ClientConnection,
    sock: mio::net::TcpStream,
}

/// TLS parameters: the shared client configuration and the server name (SNI, certificate check).
#[cfg(feature = "tls")]
pub type TlsParams = (
    std::sync::Arc<rustls::ClientConfig>,
    rustls::pki_types::ServerName<'static>,
);

/// What a connection in progress waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Connected (and the TLS handshake done): ready for data.
    Ready,
    /// The TCP connect, or TLS records to send.
    Writable,
    /// The server's next handshake message.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Readable,
}

/// Bytes read per call when discarding what the peer sends.
const DISCARD: usize = 4096;

impl Link {
    /// Starts a non-blocking TCP connect to `addr` (TLS on top when `tls` is given).
    ///
    /// # Errors
    /// Socket creation or an immediate connect failure; a bad TLS configuration.
    pub fn tcp(
        addr: SocketAddr,
        #[cfg(feature = "tls")] tls: Option<&TlsParams>,
    ) -> io::Result<Link> {
        let sock = mio::net::TcpStream::connect(addr)?;
        #[cfg(feature = "tls")]
        if let Some((config, name)) = tls {
            let conn = rustls::ClientConnection::new(config.clone(), name.clone())
                .map_err(io::Error::other)?;
            return Ok(Link::Tls(Box::new(TlsLink { conn, sock })));
        }
        Ok(Link::Tcp(sock))
    }

    /// Connects to the Unix stream socket at `path` (non-blocking: a full backlog is `WouldBlock`,
    /// an error like any other here).
    ///
    /// # Errors
    /// ENOENT, ECONNREFUSED, EAGAIN...
    pub fn unix(path: &Path) -> io::Result<Link> {
        mio::net::UnixStream::connect(path).map(Link::Unix)
    }

    /// The socket, to (de)register.
    pub fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Link::Tcp(s) => s,
            Link::Unix(s) => s,
            #[cfg(feature = "tls")]
            Link::Tls(t) => &mut t.sock,
        }
    }

    /// The socket's fd, for `poll(2)` at exit.
    pub fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Link::Tcp(s) => s.as_fd(),
            Link::Unix(s) => s.as_fd(),
            #[cfg(feature = "tls")]
            Link::Tls(t) => t.sock.as_fd(),
        }
    }

    /// Drives the connect (and TLS handshake) as far as the socket allows: what it waits for next.
    ///
    /// # Errors
    /// The connect failed (refused, unreachable), the handshake failed (certificate refused,
    /// alert: `InvalidData`), or the peer closed the connection.
    pub fn establish(&mut self) -> io::Result<Wait> {
        let tcp = match self {
            Link::Unix(_) => return Ok(Wait::Ready),
            Link::Tcp(s) => s,
            #[cfg(feature = "tls")]
            Link::Tls(t) => &mut t.sock,
        };
        // mio's TcpStream::connect docs: on the first writable event, take_error() then
        // peer_addr(); ENOTCONN means "still connecting".
        if let Some(e) = tcp.take_error()? {
            return Err(e);
        }
        match tcp.peer_addr() {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(Wait::Writable),
            Err(e) => return Err(e),
        }
        #[cfg(feature = "tls")]
        if let Link::Tls(t) = self {
            return t.handshake();
        }
        Ok(Wait::Ready)
    }

    /// Reads what the peer sent (plaintext). `Ok(0)`: the peer closed the connection.
    ///
    /// # Errors
    /// `WouldBlock` when nothing is there; a reset; a TLS error (`InvalidData`).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Link::Tcp(s) => s.read(buf),
            Link::Unix(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Link::Tls(t) => t.read(buf),
        }
    }

    /// Sends (part of) `buf`.
    ///
    /// # Errors
    /// `WouldBlock` when the socket (or rustls' buffer) is full; EPIPE, ECONNRESET.
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            // mio sends with MSG_NOSIGNAL on Linux: a closed peer is EPIPE, not a SIGPIPE.
            Link::Tcp(s) => s.write(buf),
            Link::Unix(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Link::Tls(t) => {
                if !t.flush()? {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                let n = t.conn.writer().write(buf)?;
                t.flush()?;
                Ok(n)
            }
        }
    }

    /// Sends what rustls still holds; true when nothing is left.
    ///
    /// # Errors
    /// As [`Link::write`], except `WouldBlock`.
    pub fn flush(&mut self) -> io::Result<bool> {
        match self {
            Link::Tcp(_) | Link::Unix(_) => Ok(true),
            #[cfg(feature = "tls")]
            Link::Tls(t) => t.flush(),
        }
    }

    /// Reads and discards what the peer sent (the child's stdin is /dev/null in this mode); true
    /// when the peer closed the connection.
    ///
    /// # Errors
    /// A reset, a TLS error.
    pub fn discard_input(&mut self) -> io::Result<bool> {
        let mut buf = [0u8; DISCARD];
        loop {
            match self.read(&mut buf) {
                Ok(0) => return Ok(true),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Ends the session politely (TLS `close_notify`), best effort, without blocking.
    pub fn close(&mut self) {
        #[cfg(feature = "tls")]
        if let Link::Tls(t) = self {
            t.conn.send_close_notify();
            let _ = t.flush();
        }
    }
}

#[cfg(feature = "tls")]
impl TlsLink {
    /// Drives the handshake as far as the socket allows.
    fn handshake(&mut self) -> io::Result<Wait> {
        loop {
            if !self.flush()? {
                return Ok(Wait::Writable);
            }
            if !self.conn.is_handshaking() {
                return Ok(Wait::Ready);
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "tls handshake: the server closed the connection",
                    ))
                }
                Ok(_) => self.process()?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Wait::Readable),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn process(&mut self) -> io::Result<()> {
        if let Err(e) = self.conn.process_new_packets() {
            // Tell the server why (the alert rustls queued), best effort.
            let _ = self.conn.write_tls(&mut self.sock);
            let why = crate::tls::describe(&e);
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("tls: {why}"),
            ));
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // TCP EOF without close_notify: the collector went away all the same.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if self.conn.read_tls(&mut self.sock)? == 0 {
                return Ok(0);
            }
            self.process()?;
            // Post-handshake messages (TLS 1.3 key updates) may want an answer.
            self.flush()?;
        }
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
