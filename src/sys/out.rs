//! dock's own stdout or stderr as a non-blocking writer: for the relay (`--stdout-prefix` without
//! `--io`) and for dock's log lines, neither of which may stall the loop behind a reader that stopped
//! reading.
//!
//! Registers nothing; the relay registers [`OutFd::fd`] when [`OutFd::pollable`].

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};

use nix::sys::socket::{send, MsgFlags};

/// dock's own stdout or stderr as a write target.
#[derive(Debug)]
pub struct OutFd {
    file: File,
    kind: OutKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutKind {
    /// A new non-blocking open file description of a pipe or terminal (`/proc/self/fd/N`): setting
    /// `O_NONBLOCK` on the inherited one would also change it for whoever shares it (the shell).
    Pollable,
    /// A socket: `send(MSG_DONTWAIT)` is non-blocking per call, without touching the shared flags.
    Socket,
    /// A regular file or `/dev/null`: never "not ready", epoll refuses them (EPERM); plain writes.
    Blocking,
}

impl OutFd {
    /// A write target for `fd` (dock's stdout or stderr).
    ///
    /// # Errors
    /// `dup(2)` or `fstat(2)` failing (EBADF: dock was started with that fd closed).
    pub fn new(fd: BorrowedFd<'_>) -> io::Result<OutFd> {
        let dup = File::from(fd.try_clone_to_owned()?);
        let ft = dup.metadata()?.file_type();
        if ft.is_socket() {
            return Ok(OutFd {
                file: dup,
                kind: OutKind::Socket,
            });
        }
        if ft.is_fifo() || ft.is_char_device() {
            // O_NOCTTY: dock may be a session leader without a terminal (PID 1), and opening a tty
            // would make it dock's controlling terminal.
            let reopened = OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
                .open(format!("/proc/self/fd/{}", fd.as_raw_fd()));
            if let Ok(file) = reopened {
                return Ok(OutFd {
                    file,
                    kind: OutKind::Pollable,
                });
            }
        }
        Ok(OutFd {
            file: dup,
            kind: OutKind::Blocking,
        })
    }

    /// Whether writes can return `WouldBlock`, so a writable event is worth waiting for.
    pub fn pollable(&self) -> bool {
        self.kind != OutKind::Blocking
    }

    /// The target cannot be polled after all (epoll refused it, EPERM: a character device without
    /// poll support): it never blocks either, so it is written plainly from now on.
    pub fn set_unpollable(&mut self) {
        self.kind = OutKind::Blocking;
    }

    /// The fd, for registering and for `poll(2)` at exit.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Writes `buf` without blocking on a pipe, terminal or socket (EAGAIN instead); regular files
    /// and `/dev/null` are written plainly.
    ///
    /// # Errors
    /// `write(2)`/`send(2)` failing, WouldBlock included.
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.kind {
            OutKind::Socket => send(
                self.file.as_raw_fd(),
                buf,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
            )
            .map_err(io::Error::from),
            OutKind::Pollable | OutKind::Blocking => self.file.write(buf),
        }
    }

    /// A target over an already open socket or pipe end (tests of the relay).
    #[cfg(test)]
    pub(crate) fn for_test(file: File, socket: bool) -> OutFd {
        let kind = if socket {
            OutKind::Socket
        } else {
            OutKind::Pollable
        };
        OutFd { file, kind }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        // /dev/null is a character device: pollable as far as its type says (epoll then refuses
        // it, see the relay's tests); a regular file never is.
        let null = File::options().write(true).open("/dev/null").unwrap();
        assert!(OutFd::new(null.as_fd()).unwrap().pollable());
        let file = File::open("/proc/self/exe").unwrap();
        assert!(!OutFd::new(file.as_fd()).unwrap().pollable());
        let (_r, w) = std::io::pipe().unwrap();
        assert_eq!(OutFd::new(w.as_fd()).unwrap().kind, OutKind::Pollable);
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(OutFd::new(a.as_fd()).unwrap().kind, OutKind::Socket);
    }
}
