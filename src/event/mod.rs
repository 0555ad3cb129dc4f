//! The one loop. It owns the `mio::Poll`, the token slab, the deadlines, the notice queue and the
//! signalfd, and knows the features only as [`Handler`]s (rust-vmm/event-manager's subscriber is the
//! model): a handler registers its own fds, arms its own deadlines and posts [`Notice`]s through the
//! narrow [`Ctx`] it is handed, which can touch nothing of another handler's. The loop names no
//! feature: it routes each event to the handler that registered the fd, each due deadline to the
//! handler that armed it, each signal to the handler that watches signals, and each notice to every
//! handler, right after the handler that posted it returns.
//!
//! Rules it keeps (STYLE.md, DESIGN.md):
//! - edge-triggered: a handler drains its fd until `WouldBlock`;
//! - `EINTR` from the wait is "no events";
//! - removal is deferred to the end of the turn, so a token is never reused while stale events for
//!   it are pending (rust-vmm/event-manager issue #41);
//! - idle means zero wakeups: with no deadline armed the wait has no timeout.
//!
//! The fast path ([`FAST_SIGNAL_WAIT`]): while no handler has an fd registered but the signal-backed
//! ones (the main child's pidfd: its exit also raises SIGCHLD), only a signal or a deadline can need
//! dock, so the loop sleeps in `rt_sigtimedwait(2)` instead of `epoll_wait`, and the signalfd is out of
//! epoll meanwhile. One system call per forwarded signal, as tini and dumb-init wait; in epoll, each
//! signal for dock would first run epoll's wakeup callback in the sender's kill(2)
//! (`signalfd_notify`) before dock itself is woken (docs/core.md).
//!
//! Registers: the signalfd (while not on the fast path); handlers register their own fds.

mod ctx;
mod deadline;
pub mod signal;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::notice::{ChildExit, Notice};
pub use ctx::Ctx;
use ctx::{Core, Slot};
use deadline::Deadlines;
use signal::SignalFd;
pub use signal::{block_all, OrigMask};

/// A handler's own name for one of its fds or deadlines (its meaning is the handler's business).
pub type Key = u32;

/// The one switch for the `rt_sigtimedwait` fast path (see the module docs): on, unless dock is built
/// with `DOCK_NO_FAST_SIGNAL_WAIT` set in the environment; off, the loop always waits in
/// `epoll_wait`. `make bench`'s signal rounds measure what it saves (docs/architecture.md).
pub const FAST_SIGNAL_WAIT: bool = option_env!("DOCK_NO_FAST_SIGNAL_WAIT").is_none();

/// Capacity of the events buffer: events per wait. More simply wait for the next turn.
pub const EVENTS_CAPACITY: usize = 64;

/// How often the loop reads the signalfd itself if it could not be put back into epoll (ms).
const SIGNALFD_RETRY: Duration = Duration::from_millis(10);

/// The owner of the signalfd's slot: the loop itself, never a handler index.
const LOOP: usize = usize::MAX;

/// One readiness event on a handler's fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The token the fd was registered under.
    pub token: Token,
    /// The handler's key for the fd.
    pub key: Key,
    /// Readable, or the read side is closed / in error (a read will not block).
    pub readable: bool,
    /// Writable, or the write side is closed (a write will not block).
    pub writable: bool,
    /// The peer hung up or the fd is in error (EPOLLHUP/EPOLLRDHUP/EPOLLERR).
    pub closed: bool,
}

/// A feature on the loop. Every method but [`Handler::start`] is optional; a handler that does not
/// care about a kind of input ignores it.
pub trait Handler {
    /// Called once, after the main child is spawned and before the first wait: register fds, arm
    /// deadlines, post the first notices. Failures are the handler's to log: dock goes on.
    fn start(&mut self, cx: &mut Ctx<'_>);

    /// One of this handler's fds is ready.
    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) {
        let _ = (cx, ev);
    }

    /// A signal arrived (only for the handler that called [`Ctx::watch_signals`]).
    fn on_signal(&mut self, cx: &mut Ctx<'_>, sig: i32) {
        let _ = (cx, sig);
    }

    /// One of this handler's deadlines passed.
    fn on_deadline(&mut self, cx: &mut Ctx<'_>, key: Key) {
        let _ = (cx, key);
    }

    /// A notice, from this handler or another.
    fn on_notice(&mut self, cx: &mut Ctx<'_>, notice: &Notice) {
        let _ = (cx, notice);
    }

    /// Nothing left to deliver (output relayed, statuses sent, archives written): dock may exit as
    /// far as this handler is concerned.
    fn flushed(&self) -> bool {
        true
    }

    /// After the loop: deliver what can still be delivered, waiting at most until `deadline`.
    fn finish(&mut self, deadline: Instant) {
        let _ = deadline;
    }
}

/// The loop and its handlers.
pub struct Loop {
    core: Core,
    events: Events,
    handlers: Vec<Box<dyn Handler>>,
    /// This turn's events, copied out of mio's buffer.
    batch: Vec<(Token, bool, bool, bool)>,
    /// This turn's signals.
    signals: Vec<i32>,
    /// `rt_sigtimedwait` failed once: the loop polls from then on.
    fast_failed: bool,
    resume_warned: bool,
}

impl Loop {
    /// A new epoll instance and signalfd (both close-on-exec), no handler yet.
    ///
    /// # Errors
    /// `epoll_create1` or `signalfd` failing (EMFILE, ENOMEM).
    pub fn new() -> io::Result<Loop> {
        Ok(Loop {
            core: Core {
                poll: Poll::new()?,
                slots: Slab::new(),
                removals: Vec::new(),
                deadlines: Deadlines::default(),
                notices: VecDeque::new(),
                sigfd: SignalFd::new()?,
                sig_token: None,
                sig_in_epoll: false,
                watcher: None,
                held: 0,
                ordinary: 0,
                exit: None,
            },
            events: Events::with_capacity(EVENTS_CAPACITY),
            handlers: Vec::new(),
            batch: Vec::with_capacity(EVENTS_CAPACITY),
            signals: Vec::new(),
            fast_failed: false,
            resume_warned: false,
        })
    }

    /// Adds a handler; handlers see notices and finish in the order they were added.
    pub fn add(&mut self, handler: Box<dyn Handler>) {
        self.handlers.push(handler);
    }

    /// Starts every handler, calls `started` (startup is over), then turns until a handler asked for
    /// the exit and every handler is flushed or the exit's bound passed; then finishes every handler
    /// by `finish_within` from then. Returns the exit asked for.
    pub fn run(&mut self, started: impl FnOnce(), finish_within: Duration) -> ChildExit {
        self.start();
        started();
        let exit = loop {
            if let Some(exit) = self.done() {
                break exit;
            }
            self.turn();
        };
        let by = Instant::now() + finish_within;
        for h in &mut self.handlers {
            h.finish(by);
        }
        exit
    }

    /// Calls every handler's [`Handler::start`] and routes what they posted.
    pub fn start(&mut self) {
        for i in 0..self.handlers.len() {
            self.dispatch(i, |h, cx| h.start(cx));
        }
        self.settle();
    }

    /// The exit, once asked for and every handler is flushed (or the bound passed).
    pub fn done(&self) -> Option<ChildExit> {
        let (exit, by) = self.core.exit?;
        (Instant::now() >= by || self.handlers.iter().all(|h| h.flushed())).then_some(exit)
    }

    /// One wait and everything it brought: signals, fd events, due deadlines, each followed by the
    /// notices its handler posted.
    pub fn turn(&mut self) {
        self.wait();
        let signals = std::mem::take(&mut self.signals);
        if let Some(w) = self.core.watcher {
            for &sig in &signals {
                self.dispatch(w, |h, cx| h.on_signal(cx, sig));
            }
        }
        self.signals = signals;
        for i in 0..self.batch.len() {
            let (token, readable, writable, closed) = self.batch[i];
            if self.core.removals.contains(&token) {
                continue;
            }
            let Some(slot) = self.core.slots.get(token.0).copied() else {
                continue;
            };
            if slot.owner == LOOP {
                continue;
            }
            let ev = Event {
                token,
                key: slot.key,
                readable,
                writable,
                closed,
            };
            self.dispatch(slot.owner, |h, cx| h.on_event(cx, ev));
        }
        let now = Instant::now();
        while let Some((owner, key)) = self.core.deadlines.take_due(now) {
            self.dispatch(owner, |h, cx| h.on_deadline(cx, key));
        }
        for token in self.core.removals.drain(..) {
            if self.core.slots.contains(token.0) {
                self.core.slots.remove(token.0);
            }
        }
        self.settle();
    }

    /// Sleeps until a signal, an event or the nearest deadline, filling `batch` and `signals`.
    fn wait(&mut self) {
        self.batch.clear();
        self.signals.clear();
        let timeout = self
            .core
            .next_deadline()
            .map(|at| at.saturating_duration_since(Instant::now()));
        if self.fast() {
            match self.core.sigfd.wait(timeout, self.core.held) {
                Ok(Some(sig)) => self.signals.push(sig),
                Ok(None) => {}
                Err(e) => {
                    crate::warn!("waiting for a signal (using the poll loop instead): {e}");
                    self.fast_failed = true;
                }
            }
            return;
        }
        // Not back in epoll (ENOMEM): read the signalfd after every poll, at least every 10 ms.
        let unwatched = self.core.watcher.is_some() && !self.core.sig_in_epoll;
        let timeout = match unwatched {
            true => Some(timeout.map_or(SIGNALFD_RETRY, |t| t.min(SIGNALFD_RETRY))),
            false => timeout,
        };
        match self.core.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            // A debugger or SIGSTOP/SIGCONT of dock itself: "no events".
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // epoll_wait only fails like this on a bug; keep the container alive, but do not spin.
                crate::warn!("epoll_wait: {e}");
                std::thread::yield_now();
                return;
            }
        }
        let mut signalled = unwatched;
        for e in self.events.iter() {
            if Some(e.token()) == self.core.sig_token {
                signalled = true;
                continue;
            }
            self.batch.push((
                e.token(),
                e.is_readable() || e.is_read_closed() || e.is_error(),
                e.is_writable() || e.is_write_closed(),
                e.is_read_closed() || e.is_error(),
            ));
        }
        if signalled {
            self.core.sigfd.drain(&mut self.signals);
        }
    }

    /// Whether the next wait is the fast path.
    fn fast(&self) -> bool {
        FAST_SIGNAL_WAIT
            && !self.fast_failed
            && self.core.ordinary == 0
            && self.core.watcher.is_some()
    }

    /// Puts the signalfd into epoll or takes it out, as the next wait needs. Whatever is pending when
    /// it goes back in is reported at the next poll (an edge-triggered registration starts with the
    /// fd's current state).
    fn settle(&mut self) {
        let want = self.core.watcher.is_some() && !self.fast();
        if want == self.core.sig_in_epoll {
            return;
        }
        let fd = self.core.sigfd.as_raw_fd();
        let registry = self.core.poll.registry();
        if !want {
            let _ = registry.deregister(&mut SourceFd(&fd));
            self.core.sig_in_epoll = false;
            return;
        }
        let token = match self.core.sig_token {
            Some(t) => t,
            None => {
                let slot = Slot {
                    owner: LOOP,
                    key: 0,
                    backed: true,
                };
                let t = Token(self.core.slots.insert(slot));
                self.core.sig_token = Some(t);
                t
            }
        };
        match registry.register(&mut SourceFd(&fd), token, Interest::READABLE) {
            Ok(()) => self.core.sig_in_epoll = true,
            Err(e) if !self.resume_warned => {
                self.resume_warned = true;
                crate::warn!("putting the signalfd back into epoll: {e} (reading it every 10 ms)");
            }
            Err(_) => {}
        }
    }

    /// Calls `f` on handler `owner` with its context, then routes the notices posted meanwhile.
    fn dispatch(&mut self, owner: usize, f: impl FnOnce(&mut dyn Handler, &mut Ctx<'_>)) {
        if let Some(h) = self.handlers.get_mut(owner) {
            let mut cx = Ctx {
                owner,
                core: &mut self.core,
            };
            f(h.as_mut(), &mut cx);
        }
        while let Some(n) = self.core.notices.pop_front() {
            for (i, h) in self.handlers.iter_mut().enumerate() {
                let mut cx = Ctx {
                    owner: i,
                    core: &mut self.core,
                };
                h.on_notice(&mut cx, &n);
            }
        }
    }
}
