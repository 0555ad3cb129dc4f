//! The child's pty for a network `--io`, and the two-way relay between its master and the peer.
//!
//! The child gets the slave as stdin, stdout and stderr, in a new session with the slave as its
//! controlling terminal (`sys::spawn` does `setsid` + `TIOCSCTTY`). dock keeps only the master:
//! - peer → master: what arrives on the connection is typed on the terminal;
//! - master → peer: what the child writes to the terminal goes back (prefixed if asked).
//!
//! Each direction holds at most one chunk and stops reading its source while that chunk waits, so a
//! slow peer blocks the child's writes (the pty's output buffer fills) and a child that does not read
//! stops dock from reading the socket.
//!
//! Kernel behaviour relied on (drivers/tty/pty.c, n_tty.c): reading the master gives `EIO` once every
//! slave fd is closed (the child and its descendants are gone): that is the end of the output, after
//! the buffered bytes. Closing the master hangs the slave up: SIGHUP (and SIGCONT) to the session's
//! foreground group and leader, as a modem hangup; that is what a closed connection becomes.
//!
//! Registers: the master and the peer socket, both readable + writable, as `Source::Stdio(0)`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Instant;

use mio::{Interest, Token};
use nix::fcntl::OFlag;
use nix::sys::termios::{self, LocalFlags, SetArg};

use super::net::Peer;
use super::prefix::Prefixer;
use super::relay::{set_nonblocking, wait_writable};
use crate::reactor::{Notice, Reactor, Source};
use crate::sys::pty::{set_window_size, window_size};

/// A new pty: `(master, slave)`, both close-on-exec (the child gets the slave through dup2, which
/// clears the flag on its copies), the master non-blocking. Echo is off on the slave, as in the
/// original dock: the peer is a program or a terminal that echoes for itself. The window size is
/// dock's terminal's when stdin is one (otherwise 0x0, which programs take as "unknown").
///
/// # Errors
/// `posix_openpt`, `grantpt`, `unlockpt`, opening the slave, or `tcsetattr` failing.
pub fn open() -> io::Result<(File, OwnedFd)> {
    // O_NOCTTY: dock may be a session leader without a terminal (PID 1); the pty is the child's.
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    nix::pty::grantpt(&master)?;
    nix::pty::unlockpt(&master)?;
    let name = nix::pty::ptsname_r(&master)?;
    // std opens with O_CLOEXEC.
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&name)?;
    let mut t = termios::tcgetattr(&slave)?;
    t.local_flags.remove(LocalFlags::ECHO);
    termios::tcsetattr(&slave, SetArg::TCSANOW, &t)?;
    let master = File::from(OwnedFd::from(master));
    if let Ok(ws) = window_size(io::stdin().as_fd()) {
        let _ = set_window_size(master.as_fd(), &ws);
    }
    set_nonblocking(master.as_fd())?;
    Ok((master, OwnedFd::from(slave)))
}

/// One direction's chunk in flight: `buf[done..]` is still to be written.
#[derive(Debug, Default)]
struct Chunk {
    buf: Vec<u8>,
    done: usize,
}

impl Chunk {
    fn is_empty(&self) -> bool {
        self.done == self.buf.len()
    }
    fn rest(&self) -> &[u8] {
        &self.buf[self.done..]
    }
    fn clear(&mut self) {
        self.buf.clear();
        self.done = 0;
    }
}

/// The pty master ⇄ peer relay.
#[derive(Debug)]
pub struct PtyRelay {
    master: Option<File>,
    master_token: Option<Token>,
    peer: Option<Peer>,
    peer_token: Option<Token>,
    to_child: Chunk,
    to_peer: Chunk,
    prefixer: Option<Prefixer>,
    /// The peer still holds TLS records we could not send yet.
    peer_backlog: bool,
    /// The peer closed the connection (or it failed): the session was hung up.
    hung_up: bool,
}

impl PtyRelay {
    /// A relay between `master` and `peer`, prefixing the child's output lines with `prefix`.
    pub fn new(master: File, peer: Peer, prefix: Option<Vec<u8>>) -> PtyRelay {
        PtyRelay {
            master: Some(master),
            master_token: None,
            peer: Some(peer),
            peer_token: None,
            to_child: Chunk::default(),
            to_peer: Chunk::default(),
            prefixer: prefix.map(Prefixer::new),
            peer_backlog: false,
            hung_up: false,
        }
    }

    /// Registers the master and the peer as `Source::Stdio(idx)`.
    ///
    /// # Errors
    /// `epoll_ctl` failing.
    pub fn register(&mut self, r: &mut Reactor, idx: usize) -> io::Result<()> {
        let both = Interest::READABLE | Interest::WRITABLE;
        if let Some(m) = &self.master {
            self.master_token = Some(r.add_fd(m.as_raw_fd(), Source::Stdio(idx), both)?);
        }
        if let Some(p) = &self.peer {
            self.peer_token = Some(r.add_fd(p.fd().as_raw_fd(), Source::Stdio(idx), both)?);
        }
        Ok(())
    }

    /// The child's output has ended (EIO on the master) and all of it reached the peer, or the peer
    /// is gone.
    pub fn drained(&self) -> bool {
        self.hung_up || (self.master.is_none() && self.to_peer.is_empty() && !self.peer_backlog)
    }

    /// SIGWINCH: copies dock's terminal size (stdin) to the pty; the kernel signals the child's
    /// foreground group. False when there is no terminal to copy from or no pty any more.
    pub fn on_winch(&mut self) -> bool {
        let Some(m) = &self.master else {
            return false;
        };
        match window_size(io::stdin().as_fd()) {
            Ok(ws) => set_window_size(m.as_fd(), &ws).is_ok(),
            Err(_) => false,
        }
    }

    /// Moves bytes both ways until every fd would block (edge-triggered readiness). `out` gets
    /// [`Notice::PeerHangup`] when the peer closes. `r` is `None` at exit (nothing to deregister).
    pub fn run(&mut self, mut r: Option<&mut Reactor>, scratch: &mut [u8], out: &mut Vec<Notice>) {
        let mut progress = true;
        while progress && !self.hung_up {
            progress = false;
            // peer → to_child
            if let (Some(peer), true) = (&mut self.peer, self.to_child.is_empty()) {
                match peer.read(scratch) {
                    Ok(0) => {
                        crate::debug!("--io peer closed the connection: hanging up the pty");
                        self.hang_up(r.as_deref_mut(), out);
                        return;
                    }
                    Ok(n) => {
                        self.to_child.clear();
                        self.to_child.buf.extend_from_slice(&scratch[..n]);
                        progress = true;
                    }
                    Err(e) if would_block(&e) => {}
                    Err(e) => {
                        crate::warn!("--io connection: {e}; hanging up the pty");
                        self.hang_up(r.as_deref_mut(), out);
                        return;
                    }
                }
            }
            // to_child → master
            if let (Some(m), false) = (&mut self.master, self.to_child.is_empty()) {
                match m.write(self.to_child.rest()) {
                    Ok(n) => {
                        self.to_child.done += n;
                        progress = true;
                    }
                    Err(e) if would_block(&e) => {}
                    // EIO: no slave open any more, nobody will read it.
                    Err(_) => {
                        self.to_child.clear();
                        progress = true;
                    }
                }
            }
            // master → to_peer
            if let (Some(m), true) = (&mut self.master, self.to_peer.is_empty()) {
                match m.read(scratch) {
                    Ok(n) if n > 0 => {
                        self.to_peer.clear();
                        match &mut self.prefixer {
                            Some(p) => p.feed(&scratch[..n], &mut self.to_peer.buf),
                            None => self.to_peer.buf.extend_from_slice(&scratch[..n]),
                        }
                        progress = true;
                    }
                    Err(e) if would_block(&e) => {}
                    // EIO (or 0): every slave fd is closed; the child's output is complete.
                    _ => {
                        self.close_master(r.as_deref_mut());
                        progress = true;
                    }
                }
            }
            // to_peer → peer
            if let Some(peer) = &mut self.peer {
                let sent = if self.to_peer.is_empty() {
                    peer.flush().map(|all| {
                        self.peer_backlog = !all;
                        false
                    })
                } else {
                    match peer.write(self.to_peer.rest()) {
                        Ok(n) => {
                            self.to_peer.done += n;
                            Ok(true)
                        }
                        Err(e) if would_block(&e) => Ok(false),
                        Err(e) => Err(e),
                    }
                };
                match sent {
                    Ok(p) => progress |= p,
                    Err(e) => {
                        crate::warn!("--io connection: {e}; hanging up the pty");
                        self.hang_up(r.as_deref_mut(), out);
                        return;
                    }
                }
            }
        }
    }

    /// At exit: sends what the child wrote and dock still holds, waiting for a slow peer at most until
    /// `deadline` (what is left then is dropped with a log line), then closes the connection (TLS
    /// `close_notify`).
    pub fn finish(&mut self, scratch: &mut [u8], deadline: Instant) {
        let mut notices = Vec::new();
        loop {
            self.run(None, scratch, &mut notices);
            let waiting = !self.to_peer.is_empty() || self.peer_backlog;
            let Some(peer) = &self.peer else { return };
            if !waiting {
                break;
            }
            if !wait_writable(peer.fd(), deadline) {
                // What dock holds, plus what the child wrote that is still in the pty.
                let held = self.to_peer.rest().len();
                let n = match &mut self.master {
                    Some(m) => super::relay::count_rest(m, scratch, held),
                    None => held,
                };
                // Only TLS records may be left (rustls holds them, already counted as sent).
                let what = match n {
                    0 => "the last TLS records".to_string(),
                    n => format!("{n} bytes of the child's output"),
                };
                crate::warn!(
                    "exiting with {what} not delivered: the --io peer did not take them within {}",
                    crate::log::seconds(super::FINISH_TIMEOUT)
                );
                break;
            }
        }
        if let Some(peer) = &mut self.peer {
            peer.close();
        }
    }

    fn close_master(&mut self, r: Option<&mut Reactor>) {
        if let (Some(m), Some(t), Some(r)) = (&self.master, self.master_token.take(), r) {
            r.remove_fd(m, t);
        }
        self.master = None;
        self.to_child.clear();
    }

    /// The peer is gone: close the master (the kernel hangs up the child's session), drop the output
    /// nobody can receive, and tell the loop.
    fn hang_up(&mut self, mut r: Option<&mut Reactor>, out: &mut Vec<Notice>) {
        self.close_master(r.as_deref_mut());
        if let (Some(p), Some(t), Some(r)) = (&self.peer, self.peer_token.take(), r) {
            r.remove_fd(&p.fd(), t);
        }
        self.peer = None;
        self.to_peer.clear();
        self.peer_backlog = false;
        self.hung_up = true;
        out.push(Notice::PeerHangup);
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;
    use std::process::{Command, Stdio};

    /// A shell on the pty, driven through a socket pair, as `--io unix://` would.
    #[test]
    fn shell_round_trip_then_eio_is_the_end() {
        let (master, slave) = open().unwrap();
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let mut relay = PtyRelay::new(master, Peer::Unix(ours), Some(b"> ".to_vec()));
        let mut r = Reactor::new().unwrap();
        relay.register(&mut r, 0).unwrap();
        let script = "read -r l; echo \"got $l\"; test -t 0 && echo tty; exit 3";
        let mut child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .spawn()
            .unwrap();
        theirs.write_all(b"hello\n").unwrap();
        let mut scratch = vec![0u8; 4096];
        let mut notices = Vec::new();
        while !relay.drained() {
            for _ in r.poll(None).unwrap() {}
            relay.run(Some(&mut r), &mut scratch, &mut notices);
            r.flush_removals();
        }
        assert!(notices.is_empty());
        assert_eq!(child.wait().unwrap().code(), Some(3));
        drop(relay);
        let mut got = Vec::new();
        theirs.read_to_end(&mut got).unwrap();
        // Echo is off: only the output, with the pty's \r\n line ends, one prefix per line.
        assert_eq!(got, b"> got hello\r\n> tty\r\n");
    }

    #[test]
    fn peer_closing_hangs_the_session_up() {
        let (master, slave) = open().unwrap();
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let mut relay = PtyRelay::new(master, Peer::Unix(ours), None);
        let mut r = Reactor::new().unwrap();
        relay.register(&mut r, 0).unwrap();
        // Its own session with the slave as controlling terminal, as dock spawns it.
        let setup = crate::sys::spawn::ChildSetup {
            mask: crate::sys::spawn::current_mask().unwrap(),
            session: true,
        };
        let sleep = std::ffi::OsStr::new("sleep");
        let fds = [Some(slave), None, None];
        let child = crate::sys::spawn::spawn(sleep, &["60".into()], fds, setup).unwrap();
        drop(theirs);
        let mut scratch = vec![0u8; 4096];
        let mut notices = Vec::new();
        while notices.is_empty() {
            for _ in r.poll(None).unwrap() {}
            relay.run(Some(&mut r), &mut scratch, &mut notices);
        }
        assert_eq!(notices, [Notice::PeerHangup]);
        assert!(relay.drained());
        use nix::sys::wait::{waitpid, WaitStatus};
        let pid = nix::unistd::Pid::from_raw(child.pid);
        assert!(matches!(
            waitpid(pid, None).unwrap(),
            WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGHUP, _)
        ));
    }
}
