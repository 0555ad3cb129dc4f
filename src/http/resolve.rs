//! Name resolution off the loop: getaddrinfo(3) blocks for as long as the resolver configuration
//! says, so it runs on a helper thread, which wakes the loop through a pipe.
//!
//! Registers: the wake-up pipe's read end, under the caller's key, while a lookup runs.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc;

use mio::{Interest, Token};

use crate::event::{Ctx, Key};

/// Addresses the resolver thread found (or why it found none).
pub type Resolved = io::Result<Vec<SocketAddr>>;

/// Starts `getaddrinfo(3)` for `host`:`port` on a helper thread (it has no timeout of its own and
/// must never run on the loop): the answer arrives on the returned channel, and `wake`, if given, is
/// closed right after it, which makes its read end readable (EOF) in the loop. The one lookup dock
/// has: the loop's [`Resolving`] and the bounded connect before the child starts both use it.
///
/// # Errors
/// The thread failing to start.
pub fn lookup(
    host: &str,
    port: u16,
    wake: Option<mio::unix::pipe::Sender>,
) -> io::Result<mpsc::Receiver<Resolved>> {
    let (tx, rx) = mpsc::channel();
    let host = host.to_string();
    std::thread::Builder::new()
        .name("dock-resolve".into())
        .spawn(move || {
            let res = (host.as_str(), port)
                .to_socket_addrs()
                .map(|a| a.collect::<Vec<_>>());
            let _ = tx.send(res);
            drop(wake);
        })?;
    Ok(rx)
}

/// A name lookup running on a helper thread; the thread closes its end of a pipe when the
/// answer is in the channel, which makes the read end readable (EOF) in the loop. Dropping this
/// abandons the lookup: the thread's send and close then go nowhere (no write, so no SIGPIPE).
pub struct Resolving {
    rx: mpsc::Receiver<Resolved>,
    pipe: mio::unix::pipe::Receiver,
    token: Token,
}

impl Resolving {
    /// Starts resolving `host`:`port` and registers the wake-up pipe under `key`.
    ///
    /// # Errors
    /// Pipe creation, registration or thread creation failing.
    pub fn start(cx: &mut Ctx<'_>, key: Key, host: &str, port: u16) -> io::Result<Resolving> {
        let (wake, mut pipe) = mio::unix::pipe::new()?;
        let token = cx.register(&mut pipe, Interest::READABLE, key)?;
        match lookup(host, port, Some(wake)) {
            Ok(rx) => Ok(Resolving { rx, pipe, token }),
            Err(e) => {
                cx.deregister(&mut pipe, token);
                Err(e)
            }
        }
    }

    /// The pipe's token.
    pub fn token(&self) -> Token {
        self.token
    }

    /// The answer, once the thread is done (`None`: not yet, wait for the next event).
    pub fn poll(&mut self) -> Option<Resolved> {
        match self.rx.try_recv() {
            Ok(res) => Some(res),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(Err(io::Error::other(
                "resolver thread ended without an answer",
            ))),
        }
    }

    /// Deregisters the pipe; the thread, if still running, finishes on its own.
    pub fn close(mut self, cx: &mut Ctx<'_>) {
        cx.deregister(&mut self.pipe, self.token);
    }
}
