//! The sock_diag wire format, pure: the `inet_diag_req_v2` dump request dock sends and a parser of the
//! kernel's reply. No I/O, so the parser can be fuzzed (`fuzz/fuzz_targets/sock_diag.rs`) and tested on
//! captured replies.
//!
//! Layouts are from `include/uapi/linux/netlink.h`, `sock_diag.h` and `inet_diag.h`; byte orders follow
//! those headers: netlink headers and `idiag_uid`/`idiag_inode` are host order, the ports and addresses
//! inside `inet_diag_sockid` are network order (`__be16`/`__be32`).
//!
//! Registers nothing.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

/// `nlmsghdr` length (netlink.h `NLMSG_HDRLEN`), bytes.
const NLMSG_HDRLEN: usize = 16;
/// Netlink messages start on 4-byte boundaries (`NLMSG_ALIGNTO`).
const NLMSG_ALIGNTO: usize = 4;
/// netlink.h: no-op, error (or ack), end of a dump, data lost.
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
/// netlink.h request flags: a request, and `NLM_F_ROOT | NLM_F_MATCH` (= `NLM_F_DUMP`).
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
/// sock_diag.h: the message type of `inet_diag_req_v2` requests and `inet_diag_msg` replies.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `sizeof(struct inet_diag_req_v2)`: family, protocol, ext, pad, states (u32), `inet_diag_sockid` (48).
const REQ_V2_LEN: usize = 56;
/// `sizeof(struct inet_diag_msg)`: 4 bytes of family/state/timer/retrans, the 48-byte sockid, then
/// expires, rqueue, wqueue, uid, inode (u32 each).
const DIAG_MSG_LEN: usize = 72;
/// inet_diag.h: the request attribute carrying a filter program.
const INET_DIAG_REQ_BYTECODE: u16 = 1;
/// inet_diag.h: "source port equals", whose operand is the next op's `no` field (host order).
const INET_DIAG_BC_S_EQ: u8 = 11;
/// `struct inet_diag_bc_op` is 4 bytes; `S_EQ` takes one more op as its operand.
const BC_LEN: usize = 8;
/// `struct nlattr` header, bytes.
const NLA_HDRLEN: usize = 4;
/// include/net/tcp_states.h.
pub const TCP_LISTEN: u8 = 10;

/// Length of the request [`request`] builds, bytes.
pub const REQUEST_LEN: usize = NLMSG_HDRLEN + REQ_V2_LEN + NLA_HDRLEN + BC_LEN;

/// An address family sock_diag is asked about: one dump per family, since `AF_UNSPEC` has no
/// sock_diag handler, and a dual-stack `[::]` listener is an `AF_INET6` socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `AF_INET`.
    V4,
    /// `AF_INET6`.
    V6,
}

impl Family {
    /// The `AF_*` number.
    // AF_INET and AF_INET6 are 2 and 10 (include/linux/socket.h).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn af(self) -> u8 {
        match self {
            Family::V4 => libc::AF_INET as u8,
            Family::V6 => libc::AF_INET6 as u8,
        }
    }

    fn from_af(af: u8) -> Option<Family> {
        match i32::from(af) {
            libc::AF_INET => Some(Family::V4),
            libc::AF_INET6 => Some(Family::V6),
            _ => None,
        }
    }
}

/// One socket from a dump (`struct inet_diag_msg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagSocket {
    /// Its address family.
    pub family: Family,
    /// TCP state (`TCP_LISTEN` = 10, include/net/tcp_states.h).
    pub state: u8,
    /// Local address (`0.0.0.0`/`::` for a wildcard listener).
    pub addr: IpAddr,
    /// Local port, host order.
    pub port: u16,
    /// The socket's inode: `socket:[INODE]` in `/proc/<pid>/fd`.
    pub inode: u64,
    /// The owner's uid as seen in dock's user namespace.
    pub uid: u32,
}

impl DiagSocket {
    /// A TCP listener on `port`: what `--bind-port` waits for. Checked in userspace as well, so a
    /// kernel that ignored part of the request could not make a wrong socket count.
    pub fn listens_on(&self, port: u16) -> bool {
        self.state == TCP_LISTEN && self.port == port
    }
}

/// A reply dock cannot use.
#[derive(Debug, Error)]
pub enum DiagError {
    /// The datagram ends inside a message: the receive buffer was too small, or the bytes are bad.
    #[error("sock_diag reply truncated at byte {offset}")]
    Truncated {
        /// Offset of the message that does not fit, bytes.
        offset: usize,
    },
    /// A header's `nlmsg_len` is smaller than the header itself.
    #[error("sock_diag reply has a bad message length {len} at byte {offset}")]
    BadLength {
        /// Offset of the message, bytes.
        offset: usize,
        /// Its `nlmsg_len`.
        len: usize,
    },
    /// The kernel answered with an error (`NLMSG_ERROR`, or a negative code in `NLMSG_DONE`).
    #[error("sock_diag request refused")]
    Kernel(#[source] io::Error),
    /// `NLMSG_OVERRUN`: the kernel dropped messages.
    #[error("sock_diag reply overran: messages were lost")]
    Overrun,
}

/// The dump request: TCP sockets of `family` in state LISTEN whose local port is `port`, with
/// sequence number `seq`.
///
/// The port is matched in the kernel by an `INET_DIAG_REQ_BYTECODE` program (one
/// `INET_DIAG_BC_S_EQ` op) run on every listener (`inet_diag_bc_run`, net/ipv4/inet_diag.c), the
/// filter `ss sport = :N` uses. `id.idiag_sport` is left zero: sock_diag(7) documents the id only
/// for single-socket requests (current kernels also skip dump entries by it, checked on 6.18, but
/// that is not a promise). With states = LISTEN only, the kernel walks just the listening hash, never
/// the established one, so a probe costs the same on a busy host. Replies are still checked with
/// [`DiagSocket::listens_on`].
// Every cast is of a constant far inside its field's type (lengths under 100, IPPROTO_TCP is 6).
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]
pub fn request(family: Family, port: u16, seq: u32) -> [u8; REQUEST_LEN] {
    let mut b = [0u8; REQUEST_LEN];
    // struct nlmsghdr
    b[0..4].copy_from_slice(&(REQUEST_LEN as u32).to_ne_bytes());
    b[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    b[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    // nlmsg_pid 0: the kernel fills in our port id.
    // struct inet_diag_req_v2
    let r = NLMSG_HDRLEN;
    b[r] = family.af();
    b[r + 1] = libc::IPPROTO_TCP as u8;
    // idiag_ext 0: no extensions, the base message has all dock needs.
    b[r + 4..r + 8].copy_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    // id: all zero (no address, port, interface or cookie: dumps ignore the cookie).
    // struct nlattr + bytecode
    let a = r + REQ_V2_LEN;
    b[a..a + 2].copy_from_slice(&((NLA_HDRLEN + BC_LEN) as u16).to_ne_bytes());
    b[a + 2..a + 4].copy_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
    let c = a + NLA_HDRLEN;
    // op 1: S_EQ; "yes" jumps over both ops to the end (accept: len reaches 0), "no" jumps 4 bytes
    // past the end (reject: len goes negative). inet_diag_bc_audit allows exactly len + 4 for "no".
    b[c] = INET_DIAG_BC_S_EQ;
    b[c + 1] = BC_LEN as u8;
    b[c + 2..c + 4].copy_from_slice(&((BC_LEN + 4) as u16).to_ne_bytes());
    // op 2: the operand; the port sits in `no`, in host order (entry->sport is inet_num).
    b[c + 6..c + 8].copy_from_slice(&port.to_ne_bytes());
    b
}

/// Walks one received datagram of a dump reply for request `seq`, appending its sockets to `out`.
/// Returns `true` once the dump is complete (`NLMSG_DONE`, or an `NLMSG_ERROR` ack of 0); a dump
/// may span several datagrams, so `false` means "receive more".
///
/// Messages of another sequence number are stale (left over from an abandoned probe) and skipped, as
/// are unknown message types, sockets of unknown families and the attributes after `inet_diag_msg`.
///
/// # Errors
/// [`DiagError::Truncated`] or [`DiagError::BadLength`] for malformed bytes; [`DiagError::Kernel`]
/// for an error reply of this request; [`DiagError::Overrun`].
pub fn parse(buf: &[u8], seq: u32, out: &mut Vec<DiagSocket>) -> Result<bool, DiagError> {
    let mut off = 0;
    while off < buf.len() {
        let rest = &buf[off..];
        if rest.len() < NLMSG_HDRLEN {
            return Err(DiagError::Truncated { offset: off });
        }
        let len = u32_ne(rest, 0) as usize;
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        let mseq = u32_ne(rest, 8);
        if len < NLMSG_HDRLEN {
            return Err(DiagError::BadLength { offset: off, len });
        }
        if len > rest.len() {
            return Err(DiagError::Truncated { offset: off });
        }
        let payload = &rest[NLMSG_HDRLEN..len];
        if mseq == seq {
            match kind {
                NLMSG_DONE => return done_status(payload),
                NLMSG_ERROR => {
                    // struct nlmsgerr: int error, then the offending request's header.
                    let code = i32_ne(payload, 0).ok_or(DiagError::Truncated { offset: off })?;
                    return match code {
                        0 => Ok(true),
                        c => Err(DiagError::Kernel(io::Error::from_raw_os_error(
                            c.saturating_neg(),
                        ))),
                    };
                }
                NLMSG_OVERRUN => return Err(DiagError::Overrun),
                NLMSG_NOOP => {}
                SOCK_DIAG_BY_FAMILY => {
                    if payload.len() < DIAG_MSG_LEN {
                        return Err(DiagError::Truncated { offset: off });
                    }
                    if let Some(s) = diag_msg(payload) {
                        out.push(s);
                    }
                }
                _ => {}
            }
        }
        // The last message of a datagram may lack its alignment padding.
        off += align(len).min(rest.len());
    }
    Ok(false)
}

/// `NLMSG_DONE` carries the dump's final status as an int (netlink_dump: `dump_done_errno`); very old
/// kernels sent none, which means success.
fn done_status(payload: &[u8]) -> Result<bool, DiagError> {
    match i32_ne(payload, 0) {
        Some(c) if c < 0 => Err(DiagError::Kernel(io::Error::from_raw_os_error(
            c.saturating_neg(),
        ))),
        _ => Ok(true),
    }
}

/// Decodes `struct inet_diag_msg` from a payload of at least [`DIAG_MSG_LEN`] bytes.
fn diag_msg(p: &[u8]) -> Option<DiagSocket> {
    let family = Family::from_af(p[0])?;
    // id starts at 4: sport (be16) at 4, dport at 6, src[4] at 8, dst[4] at 24, if at 40, cookie 44.
    let port = u16::from_be_bytes([p[4], p[5]]);
    let addr = match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::new(p[8], p[9], p[10], p[11])),
        Family::V6 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&p[8..24]);
            IpAddr::V6(Ipv6Addr::from(a))
        }
    };
    // After the 48-byte id (ending at 52): expires 52, rqueue 56, wqueue 60, uid 64, inode 68.
    Some(DiagSocket {
        family,
        state: p[1],
        addr,
        port,
        uid: u32_ne(p, 64),
        inode: u64::from(u32_ne(p, 68)),
    })
}

fn align(len: usize) -> usize {
    (len + NLMSG_ALIGNTO - 1) & !(NLMSG_ALIGNTO - 1)
}

/// A host-order u32 at `at`; callers have checked the length.
fn u32_ne(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn i32_ne(b: &[u8], at: usize) -> Option<i32> {
    let s = b.get(at..at + 4)?;
    Some(i32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let r = request(Family::V6, 0x1f90, 7);
        assert_eq!(r.len(), 84);
        assert_eq!(u32::from_ne_bytes(r[0..4].try_into().unwrap()), 84);
        assert_eq!(u16::from_ne_bytes([r[4], r[5]]), 20);
        assert_eq!(u16::from_ne_bytes([r[6], r[7]]), 0x301);
        assert_eq!(u32::from_ne_bytes(r[8..12].try_into().unwrap()), 7);
        assert_eq!((r[16], r[17]), (10, 6), "AF_INET6, IPPROTO_TCP");
        assert_eq!(u32::from_ne_bytes(r[20..24].try_into().unwrap()), 1 << 10);
        assert!(r[24..72].iter().all(|&b| b == 0), "sockid left zero");
        assert_eq!(u16::from_ne_bytes([r[72], r[73]]), 12, "nla_len");
        assert_eq!(
            u16::from_ne_bytes([r[74], r[75]]),
            1,
            "INET_DIAG_REQ_BYTECODE"
        );
        assert_eq!((r[76], r[77]), (11, 8), "S_EQ, yes = 8");
        assert_eq!(u16::from_ne_bytes([r[78], r[79]]), 12, "no = len + 4");
        assert_eq!(u16::from_ne_bytes([r[82], r[83]]), 0x1f90);
        assert_eq!(request(Family::V4, 1, 0)[16], 2);
    }

    #[test]
    fn bad_length_never_loops() {
        let mut m = [0u8; 16];
        m[0..4].copy_from_slice(&3u32.to_ne_bytes());
        let r = parse(&m, 0, &mut Vec::new());
        assert!(
            matches!(r, Err(DiagError::BadLength { len: 3, .. })),
            "{r:?}"
        );
    }

    #[test]
    fn done_and_error_codes() {
        let msg = |kind: u16, code: i32, seq: u32| {
            let mut m = vec![0u8; 20];
            m[0..4].copy_from_slice(&20u32.to_ne_bytes());
            m[4..6].copy_from_slice(&kind.to_ne_bytes());
            m[8..12].copy_from_slice(&seq.to_ne_bytes());
            m[16..20].copy_from_slice(&code.to_ne_bytes());
            m
        };
        assert!(parse(&msg(NLMSG_DONE, 0, 1), 1, &mut Vec::new()).unwrap());
        assert!(parse(&msg(NLMSG_ERROR, 0, 1), 1, &mut Vec::new()).unwrap());
        let e = parse(&msg(NLMSG_DONE, -libc::ENOBUFS, 1), 1, &mut Vec::new()).unwrap_err();
        assert!(matches!(e, DiagError::Kernel(ref e) if e.raw_os_error() == Some(libc::ENOBUFS)));
        let e = parse(&msg(NLMSG_ERROR, i32::MIN, 1), 1, &mut Vec::new()).unwrap_err();
        assert!(matches!(e, DiagError::Kernel(_)));
        let e = parse(&msg(NLMSG_OVERRUN, 0, 1), 1, &mut Vec::new()).unwrap_err();
        assert!(matches!(e, DiagError::Overrun));
        // An error reply too short for its code.
        let mut short = msg(NLMSG_ERROR, 0, 1);
        short.truncate(16);
        short[0..4].copy_from_slice(&16u32.to_ne_bytes());
        assert!(parse(&short, 1, &mut Vec::new()).is_err());
        // NOOP and unknown types are skipped.
        assert!(!parse(&msg(NLMSG_NOOP, 0, 1), 1, &mut Vec::new()).unwrap());
        assert!(!parse(&msg(99, 0, 1), 1, &mut Vec::new()).unwrap());
    }
}

/// Tests on replies captured from a real kernel (little-endian host order, see `fixtures.rs`).
#[cfg(all(test, target_endian = "little"))]
#[path = "fixtures.rs"]
mod fixtures;

#[cfg(all(test, target_endian = "little"))]
mod captured {
    use super::fixtures::*;
    use super::*;

    fn parse_all(datagrams: &[&[u8]], seq: u32) -> Result<(Vec<DiagSocket>, bool), DiagError> {
        let mut out = Vec::new();
        let mut done = false;
        for d in datagrams {
            assert!(!done, "data after the end of the dump");
            done = parse(d, seq, &mut out)?;
        }
        Ok((out, done))
    }

    #[test]
    fn captured_ipv4_listener() {
        let (socks, done) = parse_all(V4_LISTENER, V4_LISTENER_SEQ).unwrap();
        assert!(done);
        assert_eq!(socks.len(), 1);
        let s = &socks[0];
        assert_eq!(s.family, Family::V4);
        assert_eq!(s.addr, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(s.port, V4_LISTENER_PORT);
        assert_eq!(s.inode, V4_LISTENER_INODE);
        assert_eq!(s.uid, 0);
        assert!(s.listens_on(V4_LISTENER_PORT));
        assert!(!s.listens_on(V4_LISTENER_PORT.wrapping_add(1)));
    }

    #[test]
    fn captured_ipv6_listeners_v6only_and_dual_stack() {
        let (socks, done) = parse_all(V6_LISTENERS, V6_LISTENERS_SEQ).unwrap();
        assert!(done);
        let mut addrs: Vec<String> = socks.iter().map(|s| s.addr.to_string()).collect();
        addrs.sort();
        assert_eq!(addrs, ["::", "::1"]);
        for s in &socks {
            assert_eq!(s.family, Family::V6);
            assert!(s.listens_on(V6_LISTENERS_PORT), "{s:?}");
            assert_ne!(s.inode, 0);
        }
    }

    #[test]
    fn captured_empty_dump() {
        let (socks, done) = parse_all(EMPTY, EMPTY_SEQ).unwrap();
        assert!(done);
        assert!(socks.is_empty());
    }

    #[test]
    fn captured_multi_part_dump() {
        assert!(MULTI.len() >= 3, "the capture spans several datagrams");
        let (socks, done) = parse_all(MULTI, MULTI_SEQ).unwrap();
        assert!(done);
        assert_eq!(socks.len(), MULTI_COUNT);
        assert!(socks.iter().all(|s| s.state == TCP_LISTEN));
        // Without the last datagram the dump is incomplete, not an error.
        let (_, done) = parse_all(&MULTI[..MULTI.len() - 1], MULTI_SEQ).unwrap();
        assert!(!done);
    }

    #[test]
    fn captured_error_reply() {
        match parse_all(BAD_BYTECODE, BAD_BYTECODE_SEQ) {
            Err(DiagError::Kernel(e)) => assert_eq!(e.raw_os_error(), Some(libc::EINVAL)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stale_sequence_numbers_are_skipped() {
        let (socks, done) = parse_all(V4_LISTENER, V4_LISTENER_SEQ.wrapping_add(1)).unwrap();
        assert!(socks.is_empty());
        assert!(!done, "another request's DONE does not end ours");
    }

    #[test]
    fn truncated_replies_are_errors() {
        let d = V4_LISTENER[0];
        for cut in [1, 15, 16, 40, d.len() - 1] {
            let r = parse(&d[..cut], V4_LISTENER_SEQ, &mut Vec::new());
            assert!(
                matches!(r, Err(DiagError::Truncated { offset: 0 })),
                "{cut}: {r:?}"
            );
        }
    }

    #[test]
    fn short_diag_payload_is_truncated_not_misread() {
        let mut m = V4_LISTENER[0][..16 + 40].to_vec();
        m[0..4].copy_from_slice(&56u32.to_ne_bytes());
        let r = parse(&m, V4_LISTENER_SEQ, &mut Vec::new());
        assert!(matches!(r, Err(DiagError::Truncated { .. })), "{r:?}");
    }

    /// A little in-tree fuzzing (the real target is `fuzz/fuzz_targets/sock_diag.rs`): mutated and
    /// cut captures never panic, and what parses is bounded by the input.
    // A xorshift's bits cut to indices and bytes: truncation is the point.
    #[allow(clippy::cast_possible_truncation)]
    #[test]
    fn mutated_captures_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let all: Vec<&[u8]> = [V4_LISTENER, V6_LISTENERS, EMPTY, MULTI, BAD_BYTECODE].concat();
        for _ in 0..20_000 {
            let mut g = all[rnd() as usize % all.len()].to_vec();
            // The capture's own sequence number, so mutations reach the message decoders.
            let seq = u32::from_ne_bytes([g[8], g[9], g[10], g[11]]);
            for _ in 0..1 + rnd() % 4 {
                let i = rnd() as usize % g.len();
                g[i] = rnd() as u8;
            }
            g.truncate(rnd() as usize % (g.len() + 1));
            let mut out = Vec::new();
            let _ = parse(&g, seq, &mut out);
            assert!(out.len() <= g.len() / 88);
        }
    }
}
