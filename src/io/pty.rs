//! The child's pty for a network `--io`, and the two-way relay between its master and the peer.
//!
//! The child gets the slave as stdin, stdout and stderr, in a new session with the slave as its
//! controlling terminal (`sys::spawn` does `setsid` + `TIOCSCTTY`). dock keeps only the master:
//! - peer → master: what arrives on the connection is typed on the terminal;
//! - master → peer: what the child writes to the terminal goes back (framed if asked: prefix,
//!   stamps, JSON with `"stream":"stdout"`, the terminal's one stream).
//!
//! Each direction holds at most one chunk and stops reading its source while that chunk waits, so a
//! slow peer blocks the child's writes (the pty's output buffer fills) and a child that does not read
//! stops dock from reading the socket.
//!
//! The peer's close is watched apart from the input (EPOLLRDHUP, reported even while unread input
//! waits in front of it), and told from a half-close by the socket's own state (`poll(2)`):
//! - a half-close (the peer's `shutdown(SHUT_WR)`, or a TCP FIN: on TCP a close looks the same until
//!   dock sends something) is the end of the input only: once the input is written, the child gets
//!   the terminal's end-of-file (`VEOF`, ^D, twice after a partial line), and its output still flows;
//! - a hang-up (POLLHUP or POLLERR: a Unix peer's close, a TCP reset, which is also what a closed TCP
//!   peer answers to the next output; or a failed write) closes the master (logged with `-d`).
//!
//! Kernel behaviour relied on (drivers/tty/pty.c, n_tty.c): reading the master gives `EIO` once every
//! slave fd is closed: that is the end of the output, after the buffered bytes. It is not the end of
//! the child: a process may close its terminal and go on (coreutils close stdin, stdout and stderr
//! just before `exit`), so dock then stops watching the master but keeps it open. Closing the master
//! hangs the slave up: SIGHUP (and SIGCONT) to the session's foreground group and leader, as a modem
//! hangup; that is what a closed connection becomes, and only that.
//!
//! Registers: the master and the peer socket, both readable + writable, under the relay's key.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Instant;

use mio::{Interest, Token};
use nix::fcntl::OFlag;
use nix::sys::termios::{self, LocalFlags, SetArg};

use super::frame::{Frame, Framer};
use super::net::Peer;
use super::relay::{set_nonblocking, wait_writable, CHUNK, OUT_LIMIT, READ_BUDGET};
use crate::event::{Ctx, Key};
use crate::notice::Notice;
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
    framer: Option<Framer>,
    /// Read from the master (at `read_at`) and not framed yet: `from_child[start..end]`.
    from_child: Vec<u8>,
    start: usize,
    end: usize,
    read_at: std::time::Duration,
    /// The peer still holds TLS records we could not send yet.
    peer_backlog: bool,
    /// The peer closed the connection (or it failed): the session was hung up.
    hung_up: bool,
    /// The master read EIO: every slave fd is closed, the child's output is complete. The master
    /// stays open (but unwatched) until the session really hangs up or dock exits: closing it now
    /// would hang the terminal up and SIGHUP a child that closed its stdio and is about to exit
    /// (coreutils close stdin, stdout and stderr before `exit`), turning its 0 into 129.
    output_ended: bool,
    /// The peer will send nothing more (it half-closed): no more reads from it.
    input_ended: bool,
    /// The end-of-file characters are queued for the child (after the last input).
    eof_sent: bool,
    /// The last byte queued for the child ended a line (or none was): one `VEOF` is an end of file;
    /// after a partial line the first only hands the line over, a second ends the file.
    at_line_start: bool,
}

impl PtyRelay {
    /// A relay between `master` and `peer`, framing the child's output lines as `frame` says.
    pub fn new(master: File, peer: Peer, frame: Frame) -> PtyRelay {
        PtyRelay {
            master: Some(master),
            master_token: None,
            peer: Some(peer),
            peer_token: None,
            to_child: Chunk::default(),
            to_peer: Chunk::default(),
            framer: (!frame.is_raw()).then(|| Framer::new(frame)),
            from_child: Vec::new(),
            start: 0,
            end: 0,
            read_at: std::time::Duration::ZERO,
            peer_backlog: false,
            hung_up: false,
            output_ended: false,
            input_ended: false,
            eof_sent: false,
            at_line_start: true,
        }
    }

    /// An event on one of the relay's fds: a closed side of the peer's socket (`closed`:
    /// EPOLLRDHUP, EPOLLHUP, EPOLLERR) is looked at first, however much input still waits before it,
    /// and a hang-up ends the session at once; then bytes move as [`PtyRelay::run`]. A half-close
    /// needs nothing here: the input before it is still read, and its end is the read's EOF.
    /// Returns what [`PtyRelay::run`] returns: whether work is left for the next turn.
    pub fn on_event(
        &mut self,
        cx: Option<&mut Ctx<'_>>,
        ev: crate::event::Event,
        scratch: &mut [u8],
    ) -> bool {
        // Also after the end of the input: a closed TCP peer answers the next output with a reset.
        if ev.closed && Some(ev.token) == self.peer_token {
            if let Err(gone) = self.peer_gone() {
                self.hang_up(cx, gone);
                return false;
            }
        }
        self.run(cx, scratch)
    }

    /// Whether the whole connection is gone, not just the peer's sending side: `Err` on POLLHUP or
    /// POLLERR (poll(2): both directions shut down, a reset, an error).
    fn peer_gone(&self) -> Result<(), Option<io::Error>> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let Some(peer) = &self.peer else {
            return Ok(());
        };
        let mut fds = [PollFd::new(peer.fd(), PollFlags::POLLOUT)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(_) => match fds[0].revents() {
                Some(r) if r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) => Err(None),
                _ => Ok(()),
            },
            Err(e) => Err(Some(e.into())),
        }
    }

    /// Registers the master and the peer under `key`.
    ///
    /// # Errors
    /// `epoll_ctl` failing.
    pub fn register(&mut self, cx: &mut Ctx<'_>, key: Key) -> io::Result<()> {
        let both = Interest::READABLE | Interest::WRITABLE;
        if let Some(m) = &self.master {
            self.master_token = Some(cx.register_fd(m.as_raw_fd(), both, key)?);
        }
        if let Some(p) = &self.peer {
            self.peer_token = Some(cx.register_fd(p.fd().as_raw_fd(), both, key)?);
        }
        Ok(())
    }

    /// The child's output has ended (EIO on the master) and all of it reached the peer, or the peer
    /// is gone.
    pub fn drained(&self) -> bool {
        self.hung_up
            || (self.output_ended
                && self.to_peer.is_empty()
                && self.start == self.end
                && !self.peer_backlog)
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

    /// Moves bytes both ways until every fd would block (edge-triggered readiness) or
    /// [`READ_BUDGET`] bytes came from the child; true in that case: more is waiting, call again on
    /// the next turn. Posts [`Notice::HangUp`] when the peer closes. `cx` is `None` at exit
    /// (nothing to deregister, no one to tell).
    pub fn run(&mut self, mut cx: Option<&mut Ctx<'_>>, scratch: &mut [u8]) -> bool {
        let mut progress = true;
        // A pty gives at most a few KiB per read: a quarter of a pipe's budget keeps a slice as
        // short (each read is followed by a write to the peer).
        let mut budget = READ_BUDGET / 4;
        while progress && !self.hung_up {
            if budget == 0 {
                return true;
            }
            progress = false;
            match self.peer_to_child(scratch) {
                Ok(p) => progress |= p,
                Err(gone) => {
                    self.hang_up(cx, gone);
                    return false;
                }
            }
            let n = self.read_from_child(cx.as_deref_mut(), scratch);
            progress |= n > 0;
            budget = budget.saturating_sub(n);
            match self.write_to_peer() {
                Ok(p) => progress |= p,
                Err(e) => {
                    self.hang_up(cx, Some(e));
                    return false;
                }
            }
        }
        false
    }

    /// peer → `to_child` → master. `Err(None)`: the peer closed the connection; `Err(Some(e))`: it
    /// failed.
    fn peer_to_child(&mut self, scratch: &mut [u8]) -> Result<bool, Option<io::Error>> {
        let mut progress = false;
        let reading = !self.input_ended && self.to_child.is_empty();
        if let (Some(peer), true) = (&mut self.peer, reading) {
            match peer.read(scratch) {
                Ok(0) => {
                    // Every byte before the peer's FIN is read: a half-close, unless it is gone.
                    self.peer_gone()?;
                    crate::debug!(
                        "--io peer closed its side: end of input, the child gets end-of-file"
                    );
                    self.input_ended = true;
                    progress = true;
                }
                Ok(n) => {
                    self.to_child.clear();
                    self.to_child.buf.extend_from_slice(&scratch[..n]);
                    self.at_line_start = scratch[n - 1] == b'\n';
                    progress = true;
                }
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(Some(e)),
            }
        }
        if self.input_ended && !self.eof_sent && self.to_child.is_empty() {
            self.queue_eof();
            progress = true;
        }
        if self.output_ended {
            // No slave fd is open: nobody will read it.
            self.to_child.clear();
        }
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
        Ok(progress)
    }

    /// master → `to_peer` (framed if asked), when `to_peer` is empty: frames more of what was read,
    /// or reads. Returns the bytes read from the master (1 for the end of the output: progress).
    fn read_from_child(&mut self, cx: Option<&mut Ctx<'_>>, scratch: &mut [u8]) -> usize {
        if !self.to_peer.is_empty() {
            return 0;
        }
        if let (Some(f), true) = (&mut self.framer, self.start < self.end) {
            self.to_peer.clear();
            let input = &self.from_child[self.start..self.end];
            self.start += f.feed(input, self.read_at, &mut self.to_peer.buf, OUT_LIMIT);
            return 1;
        }
        if self.output_ended {
            return 0;
        }
        let Some(m) = &mut self.master else {
            return 0;
        };
        let buf = match &mut self.framer {
            Some(_) => {
                if self.from_child.is_empty() {
                    self.from_child = vec![0; CHUNK];
                }
                &mut self.from_child[..]
            }
            None => scratch,
        };
        match m.read(buf) {
            Ok(n) if n > 0 => {
                self.to_peer.clear();
                match &mut self.framer {
                    Some(f) => {
                        if f.needs_time(&self.from_child[..n]) {
                            self.read_at = super::relay::now();
                        }
                        (self.start, self.end) = (0, n);
                        let input = &self.from_child[..n];
                        self.start += f.feed(input, self.read_at, &mut self.to_peer.buf, OUT_LIMIT);
                    }
                    None => self.to_peer.buf.extend_from_slice(&scratch[..n]),
                }
                n
            }
            Err(e) if would_block(&e) => 0,
            // EIO (or 0): every slave fd is closed; the child's output is complete.
            _ => {
                self.end_output(cx);
                if let Some(f) = &mut self.framer {
                    self.to_peer.clear();
                    f.finish(&mut self.to_peer.buf);
                }
                1
            }
        }
    }

    /// Queues the terminal's end-of-file character (`VEOF` of the pty's termios, ^D unless the child
    /// changed it) for the child: twice after a partial line (n_tty: the first hands the line over,
    /// the second reads as end of file), none if the child disabled it.
    fn queue_eof(&mut self) {
        self.eof_sent = true;
        let Some(m) = &self.master else { return };
        let veof = termios::tcgetattr(m)
            .map(|t| t.control_chars[termios::SpecialCharacterIndices::VEOF as usize])
            .unwrap_or(4);
        // _POSIX_VDISABLE is 0 on Linux.
        if veof == 0 {
            return;
        }
        self.to_child.clear();
        self.to_child.buf.push(veof);
        if !self.at_line_start {
            self.to_child.buf.push(veof);
        }
    }

    /// `to_peer` → peer (or the TLS records rustls still holds).
    fn write_to_peer(&mut self) -> io::Result<bool> {
        let Some(peer) = &mut self.peer else {
            return Ok(false);
        };
        if self.to_peer.is_empty() {
            self.peer_backlog = !peer.flush()?;
            return Ok(false);
        }
        match peer.write(self.to_peer.rest()) {
            Ok(n) => {
                self.to_peer.done += n;
                Ok(true)
            }
            Err(e) if would_block(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// At exit: sends what the child wrote and dock still holds, waiting for a slow peer at most until
    /// `deadline` (what is left then is dropped with a log line), then closes the connection (TLS
    /// `close_notify`).
    pub fn finish(&mut self, scratch: &mut [u8], deadline: Instant) {
        loop {
            while self.run(None, scratch) {}
            let waiting = !self.to_peer.is_empty() || self.start < self.end || self.peer_backlog;
            let Some(peer) = &self.peer else { return };
            if !waiting {
                break;
            }
            if !wait_writable(peer.fd(), deadline) {
                // What dock holds, plus what the child wrote that is still in the pty.
                let held = self.to_peer.rest().len() + (self.end - self.start);
                let n = match &mut self.master {
                    Some(m) => super::relay::count_rest(m, &mut scratch.to_vec(), held),
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

    /// The child's output is complete (EIO): stop watching the master, keep it open (see
    /// `output_ended`); nobody reads input any more.
    fn end_output(&mut self, cx: Option<&mut Ctx<'_>>) {
        if let (Some(m), Some(t), Some(cx)) = (&self.master, self.master_token.take(), cx) {
            cx.deregister_fd(m, t);
        }
        self.output_ended = true;
        self.to_child.clear();
    }

    /// Closes the master: the kernel hangs the child's terminal up (SIGHUP to its session).
    fn close_master(&mut self, cx: Option<&mut Ctx<'_>>) {
        if let (Some(m), Some(t), Some(cx)) = (&self.master, self.master_token.take(), cx) {
            cx.deregister_fd(m, t);
        }
        self.master = None;
        self.to_child.clear();
    }

    /// The peer is gone (`why`: the connection failed; `None`: the peer closed it): close the master
    /// (the kernel hangs up the child's session), drop the output nobody can receive, and tell the
    /// other handlers.
    fn hang_up(&mut self, mut cx: Option<&mut Ctx<'_>>, why: Option<io::Error>) {
        // A reset or a broken pipe is how a closed TCP peer answers dock's next output: the peer
        // hung up, not a failure.
        let closed = |e: &io::Error| {
            matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            )
        };
        match why {
            None => crate::debug!("--io peer closed the connection: hanging up the pty"),
            Some(e) if closed(&e) => {
                crate::debug!("--io peer closed the connection ({e}): hanging up the pty")
            }
            Some(e) => crate::warn!("--io connection: {e}; hanging up the pty"),
        }
        self.close_master(cx.as_deref_mut());
        if let (Some(p), Some(t), Some(cx)) =
            (&self.peer, self.peer_token.take(), cx.as_deref_mut())
        {
            cx.deregister_fd(&p.fd(), t);
        }
        self.peer = None;
        self.to_peer.clear();
        self.peer_backlog = false;
        self.hung_up = true;
        if let Some(cx) = cx {
            cx.post(Notice::HangUp);
        }
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests;
