//! The `--io tcp://`, `tls://` (`ssl://`) and `unix://` connection of the pty mode: made before the
//! child starts, bounded by [`CONNECT_TIMEOUT`] (name resolution on a helper thread, then a
//! non-blocking connect and TLS handshake waited on with `poll(2)`), then the same non-blocking
//! stream as `--no-pty`'s ([`Link`]).
//!
//! Registers nothing itself; `pty.rs` registers [`Link::fd`].

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use nix::poll::PollFlags;

use super::config::IoTarget;
use super::link::{Link, Wait};

/// How long dock waits for the connection (name resolution, TCP connect and TLS handshake together)
/// before giving up with exit 2 (docs/io.md).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connected peer, non-blocking.
pub type Peer = Link;

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

/// Connects to `target` (a network `--io`), doing the TLS handshake for `tls://`, all within
/// [`CONNECT_TIMEOUT`]. `tls` is the client configuration for `tls://` targets. Every address of
/// the name is tried in turn.
///
/// # Errors
/// Resolution, connection or handshake failing or timing out (`TimedOut`); a rustls error is an
/// `InvalidData` error whose text names it (e.g. "invalid peer certificate: UnknownIssuer").
pub fn connect(
    target: &IoTarget,
    #[cfg(feature = "tls")] tls: Option<std::sync::Arc<rustls::ClientConfig>>,
) -> io::Result<Peer> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let (host, port, want_tls) = match target {
        IoTarget::Unix(path) => return established(Link::unix(path)?, deadline),
        IoTarget::Net { host, port, tls } => (host, *port, *tls),
        IoTarget::File(p) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a network target", p.display()),
            ))
        }
    };
    #[cfg(feature = "tls")]
    let params = match (want_tls, tls) {
        (true, Some(config)) => {
            let name = crate::tls::server_name(host).map_err(io::Error::other)?;
            Some((config, name))
        }
        (true, None) => return Err(io::Error::other("no TLS configuration")),
        (false, _) => None,
    };
    #[cfg(not(feature = "tls"))]
    let _ = want_tls;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address for the host");
    for addr in resolve(host, port, deadline)? {
        let link = Link::tcp(
            addr,
            #[cfg(feature = "tls")]
            params.as_ref(),
        );
        match link.and_then(|l| established(l, deadline)) {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()),
    )
}

/// Drives `link`'s connect and handshake, waiting in `poll(2)` for what it needs, until `deadline`.
fn established(mut link: Link, deadline: Instant) -> io::Result<Link> {
    loop {
        let events = match link.establish()? {
            Wait::Ready => return Ok(link),
            Wait::Writable => PollFlags::POLLOUT,
            Wait::Readable => PollFlags::POLLIN,
        };
        if !super::relay::wait_for(link.fd(), events, deadline) {
            return Err(timed_out());
        }
    }
}

/// The addresses of `host` (an IP literal as is): `getaddrinfo(3)` has no timeout of its own, so it
/// runs on a helper thread waited for until `deadline`. On timeout the thread is left behind; dock
/// exits 2 right after.
fn resolve(host: &str, port: u16, deadline: Instant) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let rx = crate::http::resolve::lookup(host, port, None)?;
    // The thread ends right after its answer; a vfork-style clone (`sys::spawn`) with it still
    // returning is fine, as with posix_spawn(3) in a threaded program.
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(r) => r,
        Err(_) => Err(timed_out()),
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
        use std::io::Read;
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
