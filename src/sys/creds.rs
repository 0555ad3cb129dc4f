//! `--ready-notify`'s socket: a Unix datagram socket that learns each sender's pid
//! (`SO_PASSCRED`, `SCM_CREDENTIALS`, unix(7)). Raw calls: a `sockaddr_un` from the bytes
//! `NOTIFY_SOCKET` names, and `recvmsg(2)` with the `CMSG_*` walk (cmsg(3)) for the only two kinds
//! of control message that can arrive (credentials, passed fds), a fraction of nix's generic
//! address and every-kind decoder code.
//!
//! Registers nothing; the caller registers the socket.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Where `sun_path` starts in `sockaddr_un` (after the 2-byte family).
const PATH_AT: usize = std::mem::size_of::<libc::sa_family_t>();

/// A datagram socket (`SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK`, `SO_PASSCRED` on) bound to `name`:
/// `sun_path`'s bytes (unix(7)): a path, a NUL then an abstract name, or nothing for a name the
/// kernel picks (autobind: a NUL and five hex digits). Returns the socket and the name it is bound
/// to, in the same form (a path without its NUL).
///
/// # Errors
/// socket/setsockopt/bind/getsockname's (EMFILE, EADDRINUSE, ENOENT, EACCES, EROFS...);
/// ENAMETOOLONG for a name that does not fit `sun_path` (107 bytes and a NUL).
pub fn bind_passcred(name: &[u8]) -> io::Result<(OwnedFd, Vec<u8>)> {
    let kind = libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: socket takes integers; a new fd or -1 comes back.
    let fd = unsafe { libc::socket(libc::AF_UNIX, kind, 0) };
    let fd = super::cvt_int(fd.into())?;
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let on: libc::c_int = 1;
    let on_ptr = (&on as *const libc::c_int).cast();
    // SAFETY: SO_PASSCRED reads one int from `on`, a live local of that size.
    let r = unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_PASSCRED, on_ptr, 4) };
    super::cvt(r.into())?;
    // SAFETY: an all-zero sockaddr_un is valid (family set below).
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    // AF_UNIX is 1.
    #[allow(clippy::cast_possible_truncation)]
    {
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    }
    let path_nul = usize::from(name.first().is_some_and(|&b| b != 0));
    if name.len() + path_nul > addr.sun_path.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    for (d, &s) in addr.sun_path.iter_mut().zip(name) {
        *d = libc::c_char::from_ne_bytes([s]);
    }
    // At most 110 bytes: fits socklen_t.
    #[allow(clippy::cast_possible_truncation)]
    let len = (PATH_AT + name.len() + path_nul) as libc::socklen_t;
    // SAFETY: `addr` is a live sockaddr_un and `len` does not exceed its size.
    super::cvt(unsafe { libc::bind(fd, (&addr as *const libc::sockaddr_un).cast(), len) }.into())?;
    let mut bound: libc::sockaddr_un = addr;
    // Its size, 110: fits socklen_t.
    #[allow(clippy::cast_possible_truncation)]
    let mut blen = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    let bound_ptr = (&mut bound as *mut libc::sockaddr_un).cast();
    // SAFETY: the kernel writes at most `blen` bytes into `bound`, a live sockaddr_un of that size.
    let r = unsafe { libc::getsockname(sock.as_raw_fd(), bound_ptr, &mut blen) };
    super::cvt(r.into())?;
    let n = usize::try_from(blen)
        .unwrap_or(0)
        .saturating_sub(PATH_AT)
        .min(bound.sun_path.len());
    let mut out: Vec<u8> = bound.sun_path[..n]
        .iter()
        .map(|c| u8::from_ne_bytes(c.to_ne_bytes()))
        .collect();
    if out.first().is_some_and(|&b| b != 0) {
        // A path: up to its NUL.
        let end = out.iter().position(|&b| b == 0).unwrap_or(out.len());
        out.truncate(end);
    }
    Ok((sock, out))
}

/// Most fds one message can carry (`SCM_MAX_FD`, include/net/scm.h).
const MAX_FDS: usize = 253;

/// Control buffer, in u64s so it is aligned for `cmsghdr`: room for `CMSG_SPACE(ucred)` (32 bytes)
/// and `CMSG_SPACE(253 fds)` (1032), so the control data is never cut (`MSG_CTRUNC`).
const CONTROL_WORDS: usize = 136;

/// Receives one datagram into `buf` (`MSG_TRUNC`: the length returned is the datagram's own, even
/// when longer than `buf`; `MSG_DONTWAIT`). Returns its length and the sender's pid from
/// `SCM_CREDENTIALS` (0 for a sender outside dock's PID namespace; `None` without credentials);
/// `Ok(None)` when nothing is waiting. fds that came with it are closed (see
/// [`super::close_received`]).
///
/// # Errors
/// recvmsg's (EBADF, ENOTSOCK...); EINTR is retried.
pub fn recv_with_pid(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<(usize, Option<i32>)>> {
    let mut control = [0u64; CONTROL_WORDS];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is valid (no name, no iov, no control).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    // size_t on glibc, socklen_t on musl: 1088 fits both.
    #[allow(clippy::cast_possible_truncation)]
    {
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
    }
    let flags = libc::MSG_TRUNC | libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC;
    let len = loop {
        // SAFETY: `msg` points at `iov` (which covers `buf`) and at `control`, all alive for the
        // call; the kernel writes at most their lengths.
        match super::cvt(unsafe { libc::recvmsg(fd, &mut msg, flags) } as libc::c_long) {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        }
    };
    let mut pid = None;
    // SAFETY: the kernel filled `msg.msg_control` with `msg_controllen` bytes of well-formed
    // cmsghdrs inside `control`; CMSG_FIRSTHDR/NXTHDR stay within them and return NULL at the end.
    // Each payload is read unaligned, within the header's `cmsg_len`.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let h = std::ptr::read_unaligned(c);
            let data = libc::CMSG_DATA(c);
            // size_t on glibc, socklen_t on musl: either fits usize.
            #[allow(clippy::unnecessary_cast)]
            let payload = (h.cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
            match (h.cmsg_level, h.cmsg_type) {
                (libc::SOL_SOCKET, libc::SCM_CREDENTIALS)
                    if payload >= std::mem::size_of::<libc::ucred>() =>
                {
                    pid = Some(std::ptr::read_unaligned(data.cast::<libc::ucred>()).pid);
                }
                (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                    let n = (payload / std::mem::size_of::<RawFd>()).min(MAX_FDS);
                    let mut fds = [0 as RawFd; MAX_FDS];
                    for (i, slot) in fds.iter_mut().enumerate().take(n) {
                        *slot = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                    }
                    super::close_received(&fds[..n]);
                }
                _ => {}
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    // A byte count of at most isize::MAX (the datagram's length): fits usize.
    Ok(Some((usize::try_from(len).unwrap_or(usize::MAX), pid)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn names_as_bound() {
        let (_s, auto) = bind_passcred(b"").unwrap();
        assert_eq!(auto.len(), 6, "{auto:?}");
        assert_eq!(auto[0], 0);
        assert!(auto[1..].iter().all(u8::is_ascii_hexdigit), "{auto:?}");
        let name = format!("\0dock-creds-{}", std::process::id()).into_bytes();
        let (_a, got) = bind_passcred(&name).unwrap();
        assert_eq!(got, name);
        assert_eq!(
            bind_passcred(&name).unwrap_err().raw_os_error(),
            Some(libc::EADDRINUSE)
        );
        let path = std::env::temp_dir().join(format!("dock-creds-{}", std::process::id()));
        let path = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).to_vec();
        let (_p, got) = bind_passcred(&path).unwrap();
        assert_eq!(got, path);
        std::fs::remove_file(std::ffi::OsStr::from_bytes(&path)).unwrap();
        assert_eq!(
            bind_passcred(&[b'/'; 108]).unwrap_err().raw_os_error(),
            Some(libc::ENAMETOOLONG)
        );
    }

    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn length_pid_and_passed_fds() {
        let (rx, tx) = UnixDatagram::pair().unwrap();
        nix::sys::socket::setsockopt(&rx, nix::sys::socket::sockopt::PassCred, &true).unwrap();
        let mut buf = [0u8; 4];
        assert!(recv_with_pid(rx.as_raw_fd(), &mut buf).unwrap().is_none());
        tx.send(b"READY=1").unwrap();
        let me = nix::unistd::getpid().as_raw();
        // Longer than the buffer: the whole length, the first bytes.
        assert_eq!(
            recv_with_pid(rx.as_raw_fd(), &mut buf).unwrap(),
            Some((7, Some(me)))
        );
        assert_eq!(&buf, b"READ");
        let (r, w) = nix::unistd::pipe().unwrap();
        let fds = [w.as_raw_fd()];
        let iov = [std::io::IoSlice::new(b"x")];
        let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&fds)];
        nix::sys::socket::sendmsg::<()>(
            tx.as_raw_fd(),
            &iov,
            &cmsg,
            nix::sys::socket::MsgFlags::empty(),
            None,
        )
        .unwrap();
        drop(w);
        assert_eq!(
            recv_with_pid(rx.as_raw_fd(), &mut buf).unwrap(),
            Some((1, Some(me)))
        );
        // dock's copy was closed: the pipe has no writer left.
        let mut b = [0u8; 1];
        assert_eq!(nix::unistd::read(&r, &mut b).unwrap(), 0);
    }
}
