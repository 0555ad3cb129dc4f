//! One request on one non-blocking connection: TCP connect, optional rustls session, request out,
//! response in, all driven by readiness events (rustls `examples/tlsclient-mio.rs` shape: read_tls
//! until WouldBlock, process_new_packets, drain plaintext, write_tls while it wants to write).
//!
//! Registers: the socket, under the caller's key (readable and writable for its whole life:
//! edge-triggered, so a writable socket wakes the loop once, not continuously).

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::TcpStream;
use mio::{Interest, Token};
use thiserror::Error;

use super::response::{HttpError, Response, ResponseParser};
use crate::event::{Ctx, Key};

/// What ended an attempt on one connection.
#[derive(Debug, Error)]
pub enum ConnError {
    /// The TCP connection could not be established (the next address may do better).
    #[error("connect to {addr}")]
    Connect {
        /// The address tried.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Reading or writing the established connection failed.
    #[error(transparent)]
    Io(io::Error),
    /// The TLS handshake or session failed (certificate refused, alert).
    #[cfg(feature = "tls")]
    #[error("tls: {}", crate::tls::describe(.0))]
    Tls(rustls::Error),
    /// The response could not be parsed.
    #[error(transparent)]
    Http(HttpError),
}

/// TLS parameters for a connection: the shared client configuration and the server name (SNI).
#[cfg(feature = "tls")]
pub type TlsParams = (
    std::sync::Arc<rustls::ClientConfig>,
    rustls::pki_types::ServerName<'static>,
);

/// Read buffer size, bytes: responses are tiny and the body is discarded anyway.
const READ_BUF: usize = 4096;

/// A request in flight on its own connection (`Connection: close`: one request per connection).
pub struct Conn {
    sock: TcpStream,
    token: Token,
    addr: SocketAddr,
    #[cfg(feature = "tls")]
    tls: Option<Box<rustls::ClientConnection>>,
    connected: bool,
    out: Vec<u8>,
    written: usize,
    parser: ResponseParser,
}

impl Conn {
    /// Starts a non-blocking connect to `addr` and registers the socket under `key`; `request` is
    /// sent once connected (through TLS when `tls` is given).
    ///
    /// # Errors
    /// [`ConnError::Connect`]: socket creation, an immediate connect failure, registration.
    pub fn open(
        cx: &mut Ctx<'_>,
        key: Key,
        addr: SocketAddr,
        request: Vec<u8>,
        #[cfg(feature = "tls")] tls: Option<&TlsParams>,
    ) -> Result<Conn, ConnError> {
        let connect_err = |source| ConnError::Connect { addr, source };
        #[cfg(feature = "tls")]
        let tls = match tls {
            Some((config, name)) => Some(Box::new(
                rustls::ClientConnection::new(config.clone(), name.clone())
                    .map_err(|e| connect_err(io::Error::other(e)))?,
            )),
            None => None,
        };
        let mut sock = TcpStream::connect(addr).map_err(connect_err)?;
        let token = cx
            .register(&mut sock, Interest::READABLE | Interest::WRITABLE, key)
            .map_err(connect_err)?;
        Ok(Conn {
            sock,
            token,
            addr,
            #[cfg(feature = "tls")]
            tls,
            connected: false,
            out: request,
            written: 0,
            parser: ResponseParser::new(),
        })
    }

    /// The socket's token.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Deregisters and closes the connection.
    pub fn close(mut self, cx: &mut Ctx<'_>) {
        cx.deregister(&mut self.sock, self.token);
    }

    /// Makes all the progress readiness allows: `Ok(Some(_))` once the whole response is in,
    /// `Ok(None)` to wait for the next event.
    ///
    /// # Errors
    /// [`ConnError`]: the attempt on this connection is over.
    pub fn on_ready(&mut self) -> Result<Option<Response>, ConnError> {
        if !self.connected {
            // mio's TcpStream::connect docs: on the first writable event, take_error() then peer_addr();
            // ENOTCONN means "still connecting" (a spurious wakeup).
            if let Some(e) = self.sock.take_error().map_err(ConnError::Io)? {
                return Err(ConnError::Connect {
                    addr: self.addr,
                    source: e,
                });
            }
            match self.sock.peer_addr() {
                Ok(_) => self.connected = true,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(None),
                Err(e) => {
                    return Err(ConnError::Connect {
                        addr: self.addr,
                        source: e,
                    })
                }
            }
        }
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return self.drive_tls();
        }
        self.drive_plain()
    }

    fn drive_plain(&mut self) -> Result<Option<Response>, ConnError> {
        while self.written < self.out.len() {
            match self.sock.write(&self.out[self.written..]) {
                Ok(0) => return Err(ConnError::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ConnError::Io(e)),
            }
        }
        let mut buf = [0u8; READ_BUF];
        loop {
            match self.sock.read(&mut buf) {
                Ok(0) => return self.parser.eof().map(Some).map_err(ConnError::Http),
                Ok(n) => {
                    if let Some(resp) = self.parser.feed(&buf[..n]).map_err(ConnError::Http)? {
                        return Ok(Some(resp));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ConnError::Io(e)),
            }
        }
    }

    #[cfg(feature = "tls")]
    fn drive_tls(&mut self) -> Result<Option<Response>, ConnError> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(None);
        };
        let mut buf = [0u8; READ_BUF];
        loop {
            // rustls buffers plaintext written before the handshake completes (up to its 64 KiB
            // default limit; a hook request is far smaller) and sends it right after.
            if self.written < self.out.len() {
                self.written += tls
                    .writer()
                    .write(&self.out[self.written..])
                    .map_err(ConnError::Io)?;
            }
            while tls.wants_write() {
                match tls.write_tls(&mut self.sock) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(ConnError::Io(e)),
                }
            }
            let eof = match tls.read_tls(&mut self.sock) {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ConnError::Io(e)),
            };
            if let Err(e) = tls.process_new_packets() {
                // Tell the server why (the alert rustls queued), best effort.
                let _ = tls.write_tls(&mut self.sock);
                return Err(ConnError::Tls(e));
            }
            loop {
                match tls.reader().read(&mut buf) {
                    // Ok(0): close_notify. UnexpectedEof: TCP closed without one, which many servers
                    // do after a close-delimited body; the parser decides whether the body is complete.
                    Ok(0) => return self.parser.eof().map(Some).map_err(ConnError::Http),
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        return self.parser.eof().map(Some).map_err(ConnError::Http)
                    }
                    Ok(n) => {
                        if let Some(resp) = self.parser.feed(&buf[..n]).map_err(ConnError::Http)? {
                            return Ok(Some(resp));
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(ConnError::Io(e)),
                }
            }
            if eof {
                return self.parser.eof().map(Some).map_err(ConnError::Http);
            }
        }
    }
}
