//! What the loop keeps besides its handlers ([`Core`]), and the narrow view of it a handler gets
//! ([`Ctx`]): its own fds, its own deadlines, notices, the signal watch and the exit.
//!
//! Registers whatever handlers register through it.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Poll, Token};
use slab::Slab;

use super::deadline::Deadlines;
use super::signal::SignalFd;
use super::Key;
use crate::notice::{ChildExit, Notice};

#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub(super) owner: usize,
    pub(super) key: Key,
    /// Readiness that always comes with a signal too (a pidfd: SIGCHLD), so the fast path may
    /// ignore it.
    pub(super) backed: bool,
}

/// Everything but the handlers, so a handler and the context it is handed can be borrowed at once.
pub(super) struct Core {
    pub(super) poll: Poll,
    pub(super) slots: Slab<Slot>,
    pub(super) removals: Vec<Token>,
    pub(super) deadlines: Deadlines,
    pub(super) notices: VecDeque<Notice>,
    pub(super) sigfd: SignalFd,
    /// The signalfd's token, allocated the first time it goes into epoll.
    pub(super) sig_token: Option<Token>,
    /// The signalfd is in epoll now.
    pub(super) sig_in_epoll: bool,
    /// The handler signals go to.
    pub(super) watcher: Option<usize>,
    /// Signals the fast path leaves pending (bit S-1 for signal S).
    pub(super) held: u64,
    /// Registered fds that are not signal-backed: the fast path needs none.
    pub(super) ordinary: usize,
    /// The exit asked for, and until when output may still be flushed.
    pub(super) exit: Option<(ChildExit, Instant)>,
}

impl Core {
    pub(super) fn add<S: mio::event::Source + ?Sized>(
        &mut self,
        src: &mut S,
        interest: Interest,
        slot: Slot,
    ) -> io::Result<Token> {
        let entry = self.slots.vacant_entry();
        let token = Token(entry.key());
        self.poll.registry().register(src, token, interest)?;
        entry.insert(slot);
        if !slot.backed {
            self.ordinary += 1;
        }
        Ok(token)
    }

    /// Deregisters `src` now and frees `token` at the end of the turn, if `owner` registered it.
    /// Deregistration errors are ignored: the fd may already be closed, which removed it from epoll.
    pub(super) fn remove<S: mio::event::Source + ?Sized>(
        &mut self,
        owner: usize,
        src: &mut S,
        token: Token,
    ) {
        let slot = match self.slots.get(token.0) {
            Some(s) if s.owner == owner && !self.removals.contains(&token) => *s,
            _ => return,
        };
        let _ = self.poll.registry().deregister(src);
        self.removals.push(token);
        if !slot.backed {
            self.ordinary -= 1;
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let exit = self.exit.map(|(_, by)| by);
        match (self.deadlines.next(), exit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What a handler may do to the loop: only to its own fds and deadlines.
pub struct Ctx<'a> {
    pub(super) owner: usize,
    pub(super) core: &'a mut Core,
}

impl Ctx<'_> {
    /// Registers `src` (a mio source) under this handler's `key`.
    ///
    /// # Errors
    /// `epoll_ctl(ADD)` failing (ENOMEM, ENOSPC at `max_user_watches`, EPERM for a regular file).
    pub fn register<S: mio::event::Source + ?Sized>(
        &mut self,
        src: &mut S,
        interest: Interest,
        key: Key,
    ) -> io::Result<Token> {
        let slot = Slot {
            owner: self.owner,
            key,
            backed: false,
        };
        self.core.add(src, interest, slot)
    }

    /// Registers a raw fd (pipe, pty master, socket) under `key`.
    ///
    /// # Errors
    /// As [`Ctx::register`].
    pub fn register_fd(&mut self, fd: RawFd, interest: Interest, key: Key) -> io::Result<Token> {
        self.register(&mut SourceFd(&fd), interest, key)
    }

    /// Registers `fd` readable under `key` as signal-backed: whatever makes it ready also raises a
    /// signal (a pidfd and SIGCHLD), so the fast path may sleep without watching it.
    ///
    /// # Errors
    /// As [`Ctx::register`].
    pub fn register_backed_fd(&mut self, fd: RawFd, key: Key) -> io::Result<Token> {
        let slot = Slot {
            owner: self.owner,
            key,
            backed: true,
        };
        self.core.add(&mut SourceFd(&fd), Interest::READABLE, slot)
    }

    /// Deregisters one of this handler's sources; its token is freed at the end of the turn, so no
    /// stale event reaches whoever gets it next. A token of another handler is left alone.
    pub fn deregister<S: mio::event::Source + ?Sized>(&mut self, src: &mut S, token: Token) {
        self.core.remove(self.owner, src, token);
    }

    /// As [`Ctx::deregister`] for a raw fd.
    pub fn deregister_fd(&mut self, fd: &impl AsRawFd, token: Token) {
        self.deregister(&mut SourceFd(&fd.as_raw_fd()), token);
    }

    /// Arms (or moves) this handler's deadline `key` to `at`.
    pub fn arm(&mut self, key: Key, at: Instant) {
        self.core.deadlines.arm(self.owner, key, at);
    }

    /// Arms this handler's deadline `key` `after` from now.
    pub fn arm_in(&mut self, key: Key, after: Duration) {
        self.arm(key, Instant::now() + after);
    }

    /// Disarms this handler's deadline `key`, if armed.
    pub fn disarm(&mut self, key: Key) {
        self.core.deadlines.disarm(self.owner, key);
    }

    /// Posts `notice` to every handler (this one included), right after this handler returns.
    pub fn post(&mut self, notice: Notice) {
        self.core.notices.push_back(notice);
    }

    /// Makes this handler the one signals go to ([`Handler::on_signal`]).
    pub fn watch_signals(&mut self) {
        self.core.watcher = Some(self.owner);
    }

    /// Leaves `sig` pending while the loop sleeps on the fast path (`held`), or takes it again: how
    /// the supervisor lets SIGCHLD gather during an exit storm. Outside the fast path the signalfd
    /// still reports it.
    pub fn hold_signal(&mut self, sig: i32, held: bool) {
        let Some(bit) = u32::try_from(sig - 1)
            .ok()
            .and_then(|b| 1u64.checked_shl(b))
        else {
            return;
        };
        if held {
            self.core.held |= bit;
        } else {
            self.core.held &= !bit;
        }
    }

    /// Asks the loop to end with `exit` once every handler is flushed, or `within` from now at the
    /// latest. The first call counts: only the supervisor calls it.
    pub fn exit(&mut self, exit: ChildExit, within: Duration) {
        if self.core.exit.is_none() {
            self.core.exit = Some((exit, Instant::now() + within));
        }
    }
}
