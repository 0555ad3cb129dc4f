//! The one `mio::Poll` loop's bookkeeping: the token scheme, the `Slab` of sources and deferred removal.
//!
//! Every file descriptor dock waits on is registered here and gets a [`Token`] that is a key of
//! `Slab<Source>`. [`Source`] is a closed enum that only says *which handler* owns the token; the handler
//! keeps its own state and fds. Removal is deferred to the end of an event batch ([`Reactor::remove`] +
//! [`Reactor::flush_removals`]) so that a token is never reused while stale events for it are pending
//! (the bug behind rust-vmm/event-manager issue #41).
//!
//! Registers nothing itself. Handlers talk back to the loop through [`Notice`]s.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

/// Which handler owns a token. Closed on purpose: adding a source means adding a variant and a match arm
/// in the dispatcher (`app.rs`), nothing is looked up dynamically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The signalfd (all signals but the fault signals are blocked).
    Signals,
    /// The main child's pidfd: readable once it has exited.
    MainPidfd,
    /// The teardown timerfd (grace period, then the post-SIGKILL bound).
    TeardownTimer,
    /// The exit timerfd: how long dock waits for output and the hook once every process is gone.
    ExitTimer,
    /// A stdio relay fd (child output pipe, pty master, peer socket); the index is the relay's own.
    Stdio(usize),
    /// The log rotation timerfd.
    RotateTimer,
    /// The pipe the gzip helper thread writes to when an archive is complete.
    ArchiveDone,
    /// The port readiness polling timerfd.
    PortTimer,
    /// The web hook's connection socket.
    HookConn,
    /// The web hook's timerfd (request timeout, retry backoff).
    HookTimer,
    /// The pipe the hook's resolver thread writes to when name resolution is done.
    HookResolved,
}

/// Something a handler tells the rest of dock about; the dispatcher routes it after the event batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// `--bind-port` is listening (by `pid` when strict binding found it). Reported once.
    PortReady { pid: Option<i32> },
    /// The `--io` peer closed the connection: the child's terminal hung up.
    PeerHangup,
}

/// Poll, events buffer and the token slab.
pub struct Reactor {
    poll: Poll,
    events: Events,
    sources: Slab<Source>,
    removals: Vec<Token>,
}

/// Capacity of the events buffer: events per `poll` call. More simply wait for the next call.
pub const EVENTS_CAPACITY: usize = 64;

impl Reactor {
    /// A new epoll instance (`CLOEXEC`).
    ///
    /// # Errors
    /// `epoll_create1` failing (EMFILE, ENOMEM).
    pub fn new() -> io::Result<Self> {
        Ok(Reactor {
            poll: Poll::new()?,
            events: Events::with_capacity(EVENTS_CAPACITY),
            sources: Slab::new(),
            removals: Vec::new(),
        })
    }

    /// The registry, for re-registering interest on a token a handler already owns.
    pub fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// Registers `src` (any mio source) for `source` and returns its new token.
    ///
    /// # Errors
    /// `epoll_ctl(ADD)` failing; the slab entry is released again then.
    pub fn add<S: mio::event::Source + ?Sized>(
        &mut self,
        src: &mut S,
        source: Source,
        interest: Interest,
    ) -> io::Result<Token> {
        let entry = self.sources.vacant_entry();
        let token = Token(entry.key());
        self.poll.registry().register(src, token, interest)?;
        entry.insert(source);
        Ok(token)
    }

    /// Registers a raw fd (timerfd, signalfd, pidfd, pipe) for `source`.
    ///
    /// # Errors
    /// As [`Reactor::add`].
    pub fn add_fd(&mut self, fd: RawFd, source: Source, interest: Interest) -> io::Result<Token> {
        self.add(&mut SourceFd(&fd), source, interest)
    }

    /// Deregisters `src` now and frees `token` at the end of the batch ([`Reactor::flush_removals`]).
    /// Deregistration errors are ignored: the fd may already be closed, which removed it from epoll.
    pub fn remove<S: mio::event::Source + ?Sized>(&mut self, src: &mut S, token: Token) {
        let _ = self.poll.registry().deregister(src);
        self.removals.push(token);
    }

    /// As [`Reactor::remove`] for a raw fd.
    pub fn remove_fd(&mut self, fd: &impl AsRawFd, token: Token) {
        self.remove(&mut SourceFd(&fd.as_raw_fd()), token);
    }

    /// Takes a registered fd out of epoll but keeps its token, for [`Reactor::resume_fd`]: while
    /// paused, whatever makes the fd ready wakes no epoll instance (epoll_ctl(2) EPOLL_CTL_DEL).
    ///
    /// # Errors
    /// As `epoll_ctl` (EBADF, ENOENT when not registered).
    pub fn pause_fd(&mut self, fd: RawFd) -> io::Result<()> {
        self.poll.registry().deregister(&mut SourceFd(&fd))
    }

    /// Puts a fd paused by [`Reactor::pause_fd`] back under `token` with `interest`. Already ready
    /// at that moment, it is reported at the next poll (edge-triggered registrations start with
    /// the fd's current state).
    ///
    /// # Errors
    /// As `epoll_ctl` EPOLL_CTL_ADD (ENOMEM, ENOSPC at `max_user_watches`).
    pub fn resume_fd(&mut self, fd: RawFd, token: Token, interest: Interest) -> io::Result<()> {
        self.poll
            .registry()
            .register(&mut SourceFd(&fd), token, interest)
    }

    /// Which handler owns `token`, or `None` for a token removed earlier in this batch.
    pub fn source(&self, token: Token) -> Option<Source> {
        if self.removals.contains(&token) {
            return None;
        }
        self.sources.get(token.0).copied()
    }

    /// Frees the tokens removed during the batch. Call after the last event of a batch is handled.
    pub fn flush_removals(&mut self) {
        for token in self.removals.drain(..) {
            if self.sources.contains(token.0) {
                self.sources.remove(token.0);
            }
        }
    }

    /// Waits for events, at most `timeout` (`None`: until something happens; idle means zero wakeups),
    /// and returns `(token, readable, writable, closed)` per event. A convenience over
    /// [`Reactor::poll_into`] that allocates; the event loop uses `poll_into`.
    ///
    /// # Errors
    /// As [`Reactor::poll_into`].
    pub fn poll(&mut self, timeout: Option<Duration>) -> io::Result<Vec<Ready>> {
        let mut out = Vec::new();
        self.poll_into(timeout, &mut out)?;
        Ok(out)
    }

    /// As [`Reactor::poll`], into `out` (cleared first), so the loop reuses one buffer and a wakeup
    /// allocates nothing.
    ///
    /// `EINTR` is "no events": dock blocks its signals, but a debugger or `SIGSTOP`/`SIGCONT` can still
    /// interrupt `epoll_wait`.
    ///
    /// # Errors
    /// `epoll_wait` failing for another reason (EBADF, EFAULT: a bug).
    pub fn poll_into(&mut self, timeout: Option<Duration>, out: &mut Vec<Ready>) -> io::Result<()> {
        out.clear();
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        out.extend(self.events.iter().map(|e| Ready {
            token: e.token(),
            readable: e.is_readable() || e.is_read_closed() || e.is_error(),
            writable: e.is_writable() || e.is_write_closed(),
            closed: e.is_read_closed() || e.is_error(),
        }));
        Ok(())
    }
}

/// One readiness event, copied out of mio's buffer so handlers may borrow the reactor mutably.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    /// The token the fd was registered with.
    pub token: Token,
    /// Readable, or the read side is closed / in error (a read will not block).
    pub readable: bool,
    /// Writable, or the write side is closed (a write will not block).
    pub writable: bool,
    /// The peer hung up or the fd is in error (EPOLLHUP/EPOLLRDHUP/EPOLLERR).
    pub closed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_paused_fd_reports_nothing_and_its_state_after_resume() {
        let mut r = Reactor::new().unwrap();
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let t = r
            .add_fd(a.as_raw_fd(), Source::Signals, Interest::READABLE)
            .unwrap();
        r.pause_fd(a.as_raw_fd()).unwrap();
        std::io::Write::write_all(&mut b, b"x").unwrap();
        let mut ready = Vec::new();
        r.poll_into(Some(Duration::ZERO), &mut ready).unwrap();
        assert!(ready.is_empty(), "{ready:?}");
        r.resume_fd(a.as_raw_fd(), t, Interest::READABLE).unwrap();
        r.poll_into(Some(Duration::ZERO), &mut ready).unwrap();
        assert_eq!(ready.len(), 1);
        assert_eq!((ready[0].token, ready[0].readable), (t, true));
        assert_eq!(r.source(t), Some(Source::Signals));
    }

    #[test]
    fn removed_token_is_not_reused_within_a_batch() {
        let mut r = Reactor::new().unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let t = r
            .add_fd(a.as_raw_fd(), Source::Signals, Interest::READABLE)
            .unwrap();
        r.remove_fd(&a, t);
        assert_eq!(r.source(t), None);
        let (c, _d) = std::os::unix::net::UnixStream::pair().unwrap();
        let t2 = r
            .add_fd(c.as_raw_fd(), Source::PortTimer, Interest::READABLE)
            .unwrap();
        assert_ne!(
            t, t2,
            "a token freed in this batch must not be handed out again"
        );
        r.flush_removals();
        assert_eq!(r.source(t2), Some(Source::PortTimer));
    }
}
