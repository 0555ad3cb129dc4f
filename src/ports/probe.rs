//! One sock_diag probe: send the dump request for each family on a `NETLINK_SOCK_DIAG` socket and
//! receive the reply, without ever blocking.
//!
//! Why a bounded, non-blocking probe and not an fd in the loop: a sock_diag dump is produced
//! synchronously in the caller's context. `sendto` runs the first part of the dump
//! (`netlink_dump_start`), and each `recvmsg` that drains a part runs the next (`netlink_recvmsg` →
//! `netlink_dump`), so when the request has been sent the reply is already queued. The socket is
//! `SOCK_NONBLOCK` and every receive also passes `MSG_DONTWAIT`; a probe receives at most
//! [`MAX_RECVS`] datagrams per family. `EAGAIN` before `NLMSG_DONE` (possible only when the kernel
//! failed to allocate a part) abandons the probe: the next one, a poll tick later, drains what is left
//! and skips it by sequence number.
//!
//! Registers nothing: the socket is used only from the port timer's handler.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};

use super::diag::{self, DiagError, DiagSocket, Family};

/// Receive buffer, bytes. The kernel sizes dump parts to the largest buffer a reader has used, up to
/// 32 KiB (`netlink_recvmsg`: `max_recvmsg_len`); netlink(7) asks for at least 8 KiB.
pub const RECV_BUF: usize = 32 * 1024;
/// Datagrams received per family per probe. A port has a handful of listeners (one per address, or a
/// few `SO_REUSEPORT` ones), a few dozen bytes each; 64 parts of 32 KiB is far more than any port has.
pub const MAX_RECVS: usize = 64;
/// Datagrams discarded before a probe when the last one was abandoned.
const MAX_DRAIN: usize = 2 * MAX_RECVS;

/// Why one family's dump did not complete. Never fatal: the probe is retried at the next tick.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// `sendto`/`recv` on the netlink socket failed (ENOBUFS, EBUSY, ...).
    #[error("sock_diag {family:?} dump")]
    Io {
        /// The family asked about.
        family: Family,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The reply was bad or an error (ENOENT: no sock_diag handler for the family, e.g. no IPv6).
    #[error("sock_diag {family:?} reply")]
    Reply {
        /// The family asked about.
        family: Family,
        /// The cause.
        #[source]
        source: DiagError,
    },
    /// No `NLMSG_DONE` within [`MAX_RECVS`] datagrams, or `EAGAIN` before it.
    #[error("sock_diag {family:?} dump incomplete")]
    Incomplete {
        /// The family asked about.
        family: Family,
    },
}

/// A `NETLINK_SOCK_DIAG` socket and its receive buffer.
#[derive(Debug)]
pub struct Prober {
    fd: OwnedFd,
    buf: Vec<u8>,
    seq: u32,
    /// A previous probe stopped before `NLMSG_DONE`: drain before the next request.
    dirty: bool,
}

impl Prober {
    /// Opens the socket (`SOCK_CLOEXEC|SOCK_NONBLOCK`) in dock's network namespace.
    ///
    /// # Errors
    /// `socket(2)` failing: EMFILE, or EPROTONOSUPPORT on a kernel without sock_diag.
    pub fn new() -> io::Result<Prober> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            SockProtocol::NetlinkSockDiag,
        )?;
        Ok(Prober {
            fd,
            buf: vec![0; RECV_BUF],
            seq: 0,
            dirty: false,
        })
    }

    /// The TCP listeners on `port` of `family`, appended to `out`.
    ///
    /// # Errors
    /// [`ProbeError`]; `out` may hold part of the dump then.
    pub fn listeners(
        &mut self,
        family: Family,
        port: u16,
        out: &mut Vec<DiagSocket>,
    ) -> Result<(), ProbeError> {
        if self.dirty {
            self.drain();
        }
        self.seq = self.seq.wrapping_add(1);
        let req = diag::request(family, port, self.seq);
        let kernel = NetlinkAddr::new(0, 0);
        let io = |e: Errno| ProbeError::Io {
            family,
            source: e.into(),
        };
        sendto(self.fd.as_raw_fd(), &req, &kernel, MsgFlags::empty()).map_err(io)?;
        self.dirty = true;
        for _ in 0..MAX_RECVS {
            // MSG_TRUNC makes netlink return the datagram's full length, so a part larger than the
            // buffer shows as such instead of as a clean-looking prefix.
            let n = match recv(
                self.fd.as_raw_fd(),
                &mut self.buf,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC,
            ) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return Err(ProbeError::Incomplete { family }),
                Err(e) => return Err(io(e)),
            };
            if n > self.buf.len() {
                return Err(ProbeError::Reply {
                    family,
                    source: DiagError::Truncated {
                        offset: self.buf.len(),
                    },
                });
            }
            let done = diag::parse(&self.buf[..n], self.seq, out)
                .map_err(|source| ProbeError::Reply { family, source })?;
            if done {
                self.dirty = false;
                return Ok(());
            }
        }
        Err(ProbeError::Incomplete { family })
    }

    /// Discards what an abandoned probe left queued (receiving also lets the kernel finish that dump,
    /// which would otherwise make the next request fail with EBUSY).
    fn drain(&mut self) {
        for _ in 0..MAX_DRAIN {
            match recv(
                self.fd.as_raw_fd(),
                &mut self.buf,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC,
            ) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        self.dirty = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, UdpSocket};
    use std::os::unix::fs::MetadataExt;

    fn inode_of(fd: &impl AsRawFd) -> u64 {
        std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .unwrap()
            .ino()
    }

    fn probe(port: u16) -> Vec<DiagSocket> {
        let mut p = Prober::new().unwrap();
        let mut out = Vec::new();
        p.listeners(Family::V4, port, &mut out).unwrap();
        // IPv6 may be missing from a test machine: tolerated like in production.
        let _ = p.listeners(Family::V6, port, &mut out);
        out
    }

    #[test]
    fn finds_a_live_listener_by_inode_and_only_on_its_port() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let found = probe(port);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].listens_on(port));
        assert_eq!(found[0].inode, inode_of(&l));
        assert_eq!(found[0].uid, nix::unistd::geteuid().as_raw());
        drop(other);
    }

    #[test]
    fn udp_and_connected_sockets_do_not_show() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(server.local_addr().unwrap()).unwrap();
        let cport = client.local_addr().unwrap().port();
        let _udp = UdpSocket::bind(("127.0.0.1", cport)).unwrap();
        let (_accepted, _) = server.accept().unwrap();
        assert!(probe(cport).is_empty());
    }

    #[test]
    fn many_probes_on_one_socket() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut p = Prober::new().unwrap();
        for _ in 0..100 {
            let mut out = Vec::new();
            p.listeners(Family::V4, port, &mut out).unwrap();
            assert_eq!(out.len(), 1);
        }
    }
}

/// Regenerates `src/ports/fixtures.rs` from this machine's kernel:
/// `cargo test --lib capture_fixtures -- --ignored`.
#[cfg(test)]
mod capture {
    use super::*;
    use nix::sys::socket::{bind, listen, setsockopt, sockopt, Backlog, SockaddrIn, SockaddrIn6};
    use std::fmt::Write as _;
    use std::net::{SocketAddrV4, SocketAddrV6};
    use std::os::unix::fs::MetadataExt;

    fn reuseport_listener(v6: Option<bool>, addr: &str, port: u16) -> OwnedFd {
        let af = if v6.is_some() {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        let fd = socket(af, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).unwrap();
        setsockopt(&fd, sockopt::ReusePort, &true).unwrap();
        match v6 {
            Some(only) => {
                setsockopt(&fd, sockopt::Ipv6V6Only, &only).unwrap();
                let a: SocketAddrV6 = format!("[{addr}]:{port}").parse().unwrap();
                bind(fd.as_raw_fd(), &SockaddrIn6::from(a)).unwrap();
            }
            None => {
                let a: SocketAddrV4 = format!("{addr}:{port}").parse().unwrap();
                bind(fd.as_raw_fd(), &SockaddrIn::from(a)).unwrap();
            }
        }
        listen(&fd, Backlog::new(8).unwrap()).unwrap();
        fd
    }

    fn inode(fd: &OwnedFd) -> u64 {
        std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .unwrap()
            .ino()
    }

    /// Sends `req` on a fresh socket and returns every datagram up to and including the last.
    fn exchange(req: &[u8]) -> Vec<Vec<u8>> {
        let p = Prober::new().unwrap();
        sendto(
            p.fd.as_raw_fd(),
            req,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )
        .unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0u8; RECV_BUF];
        loop {
            let n = match recv(p.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(n) => n,
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("{e}"),
            };
            out.push(buf[..n].to_vec());
        }
        out
    }

    fn emit(src: &mut String, name: &str, seq: u32, grams: &[Vec<u8>]) {
        writeln!(src, "pub const {name}_SEQ: u32 = {seq};").unwrap();
        writeln!(src, "pub const {name}: &[&[u8]] = &[").unwrap();
        for g in grams {
            src.push_str("    b\"");
            for (i, b) in g.iter().enumerate() {
                if i > 0 && i % 24 == 0 {
                    src.push_str("\\\n      ");
                }
                write!(src, "\\x{b:02x}").unwrap();
            }
            src.push_str("\",\n");
        }
        src.push_str("];\n");
    }

    fn free_port() -> u16 {
        let l = std::net::TcpListener::bind("[::]:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[test]
    #[ignore = "regenerates src/ports/fixtures.rs"]
    fn capture_fixtures() {
        let mut src = String::from(
            "//! sock_diag replies captured from a real kernel by `probe::capture::capture_fixtures`\n\
             //! (`cargo test --lib capture_fixtures -- --ignored`), one byte string per datagram.\n\
             //! Host byte order: these are little-endian (x86-64) captures.\n\n",
        );
        writeln!(
            src,
            "// Kernel: {}",
            std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap()
                .trim()
        )
        .unwrap();

        let port = free_port();
        let l = reuseport_listener(None, "127.0.0.1", port);
        let grams = exchange(&diag::request(Family::V4, port, 101));
        writeln!(src, "\n/// One listener on 127.0.0.1; an AF_INET dump.").unwrap();
        writeln!(src, "pub const V4_LISTENER_PORT: u16 = {port};").unwrap();
        writeln!(src, "pub const V4_LISTENER_INODE: u64 = {};", inode(&l)).unwrap();
        emit(&mut src, "V4_LISTENER", 101, &grams);
        drop(l);

        let port = free_port();
        let a = reuseport_listener(Some(true), "::1", port);
        let b = reuseport_listener(Some(false), "::", port);
        let grams = exchange(&diag::request(Family::V6, port, 202));
        writeln!(src, "\n/// An IPv6-only listener on ::1 and a dual-stack one on ::, same port; an AF_INET6 dump.").unwrap();
        writeln!(src, "pub const V6_LISTENERS_PORT: u16 = {port};").unwrap();
        emit(&mut src, "V6_LISTENERS", 202, &grams);
        drop((a, b));

        let port = free_port();
        let grams = exchange(&diag::request(Family::V4, port, 303));
        writeln!(src, "\n/// Nothing listening on the port.").unwrap();
        emit(&mut src, "EMPTY", 303, &grams);

        let port = free_port();
        let many: Vec<OwnedFd> = (0..48)
            .map(|_| reuseport_listener(None, "127.0.0.1", port))
            .collect();
        let grams = exchange(&diag::request(Family::V4, port, 404));
        writeln!(
            src,
            "\n/// {} SO_REUSEPORT listeners on one port: a dump in several parts.",
            many.len()
        )
        .unwrap();
        writeln!(src, "pub const MULTI_COUNT: usize = {};", many.len()).unwrap();
        emit(&mut src, "MULTI", 404, &grams);
        drop(many);

        let mut bad = diag::request(Family::V4, 1, 505);
        // "no" jumping 8 bytes past the program's end: inet_diag_bc_audit refuses it.
        bad[78] = 16;
        let grams = exchange(&bad);
        writeln!(
            src,
            "\n/// A request with invalid bytecode: NLMSG_ERROR EINVAL."
        )
        .unwrap();
        emit(&mut src, "BAD_BYTECODE", 505, &grams);

        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ports/fixtures.rs");
        std::fs::write(path, src).unwrap();
    }
}
