//! The hook's queue and its rules, pure: statuses go out strictly in order, one at a time; `running`
//! never after `crashed`; every try has its own deadline ([`TRY_TIMEOUT`]); a failed try is retried
//! after a doubling backoff ([`FIRST_BACKOFF`] up to [`MAX_BACKOFF`]) for as long as [`RETRY_FOR`]
//! from the status's first try. Once the main child has exited, `crashed` comes first: an earlier
//! status gets no new try, and the one in flight at most [`LEFT_AFTER_EXIT`] more. Every status
//! that leaves the queue undelivered leaves with its reason, for the shell to log: none vanishes.
//!
//! Registers nothing. Times are passed in (`now`), so the rules are tested without a clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::notice::ChildExit;

/// Deadline of one try, from its start: resolution, connect, TLS, request and response together. A
/// server that accepts and never answers costs one try, not the status.
pub const TRY_TIMEOUT: Duration = Duration::from_secs(10);

/// Wait before the second try; doubled before each later one, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Longest wait between two tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// How long a status is retried, from its first try: a receiver that is down for a minute (a
/// restart, a deployment) still gets it. After that it is given up with a log line, and the next
/// status goes.
pub const RETRY_FOR: Duration = Duration::from_secs(60);

/// Once the main child has exited, the most an earlier status's try in flight may still take (and
/// at most half of what the queue has left): `crashed` must not wait behind a server that accepted
/// that try and never answers.
pub const LEFT_AFTER_EXIT: Duration = Duration::from_secs(1);

/// A state the hook reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// dock is starting the child.
    Starting,
    /// The child is started and ready.
    Running,
    /// The main child exited, with these details.
    Crashed(ChildExit),
}

impl Status {
    /// The status name the original dock used: `starting`, `running`, `crashed` (for any exit).
    pub fn name(self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Running => "running",
            Status::Crashed(_) => "crashed",
        }
    }
}

/// A queued status, how often it was tried and why the last try failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What to report.
    pub status: Status,
    /// The main child's pid (`null` on the wire when there is none).
    pub pid: Option<i32>,
    /// Tries that failed so far.
    pub tries: u32,
    /// Why the last try failed.
    pub last_error: Option<String>,
    /// When its first try started.
    pub first_try: Option<Instant>,
}

/// Why a status left the queue undelivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Its tries failed for [`RETRY_FOR`].
    TimeUp,
    /// The main child exited first: `crashed` goes instead.
    ChildExited,
}

/// What a failed try leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    /// Try the front item again after this backoff.
    Retry(Duration),
    /// The front item is dropped, for this reason.
    GiveUp(Item, Why),
}

/// The statuses waiting, the front one being tried.
#[derive(Debug, Default)]
pub struct Queue {
    items: VecDeque<Item>,
    crashed: bool,
}

impl Queue {
    /// Queues `status` for `pid`; returns the statuses dropped in its favour (each to be logged), or
    /// `None` when `status` itself is not queued (`running` after `crashed`).
    ///
    /// `crashed` drops every earlier status still waiting, the front one too unless `in_flight` (a
    /// try is on the wire: it completes or fails, cut short by [`cut_short`], then `crashed`
    /// follows).
    pub fn push(&mut self, status: Status, pid: Option<i32>, in_flight: bool) -> Option<Vec<Item>> {
        let mut dropped = Vec::new();
        match status {
            Status::Running if self.crashed => return None,
            Status::Crashed(_) => {
                self.crashed = true;
                let keep = usize::from(in_flight).min(self.items.len());
                dropped.extend(self.items.drain(keep..));
            }
            _ => {}
        }
        self.items.push_back(Item {
            status,
            pid,
            tries: 0,
            last_error: None,
            first_try: None,
        });
        Some(dropped)
    }

    /// The item to try next.
    pub fn front(&self) -> Option<&Item> {
        self.items.front()
    }

    /// Nothing queued or in flight.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// A try of the front item starts at `now`: its deadline ([`TRY_TIMEOUT`] later).
    pub fn started(&mut self, now: Instant) -> Instant {
        if let Some(item) = self.items.front_mut() {
            item.first_try.get_or_insert(now);
        }
        now + TRY_TIMEOUT
    }

    /// The front item got a 2xx: it leaves the queue.
    pub fn delivered(&mut self) -> Option<Item> {
        self.items.pop_front()
    }

    /// The front item's try failed at `now` for `reason`: retry after a backoff while its
    /// [`RETRY_FOR`] lasts, or give it up. After `crashed` was queued, an earlier status is given up
    /// at once.
    pub fn failed(&mut self, reason: String, now: Instant) -> Option<Failed> {
        let crashed = self.crashed;
        let item = self.items.front_mut()?;
        item.tries += 1;
        item.last_error = Some(reason);
        let earlier = !matches!(item.status, Status::Crashed(_));
        if crashed && earlier {
            let gone = self.items.pop_front()?;
            return Some(Failed::GiveUp(gone, Why::ChildExited));
        }
        let wait = backoff(item.tries);
        let since = item.first_try.unwrap_or(now);
        if now.saturating_duration_since(since) + wait > RETRY_FOR {
            let gone = self.items.pop_front()?;
            return Some(Failed::GiveUp(gone, Why::TimeUp));
        }
        Some(Failed::Retry(wait))
    }

    /// Gives up on everything (the exit deadline passed).
    pub fn abandon(&mut self) -> Vec<Item> {
        Vec::from(std::mem::take(&mut self.items))
    }
}

/// The wait after `tries` failed tries: [`FIRST_BACKOFF`] doubled each time, at most
/// [`MAX_BACKOFF`].
pub fn backoff(tries: u32) -> Duration {
    let doublings = tries.saturating_sub(1).min(16);
    FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF)
}

/// The deadline of an earlier status's try still in flight when `crashed` is queued at `now`, the
/// queue having `flush` left for everything: its own `deadline`, cut to [`LEFT_AFTER_EXIT`] or half
/// of `flush`, whichever is sooner, so `crashed` keeps the other half.
pub fn cut_short(deadline: Instant, now: Instant, flush: Duration) -> Instant {
    deadline.min(now + LEFT_AFTER_EXIT.min(flush / 2))
}

#[cfg(test)]
mod tests;
