//! The hook's queue and its rules, pure: statuses go out strictly in order, one at a time; `running`
//! never after `crashed`; each status has [`MAX_TRIES`] tries with a doubling backoff.
//!
//! Registers nothing.

use std::collections::VecDeque;
use std::time::Duration;

use crate::notice::ChildExit;

/// Tries per status, the first included; then it is dropped with a log line.
pub const MAX_TRIES: u32 = 3;

/// Wait before the second try; doubled before each later one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);

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
}

/// What a failed try leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    /// Try the front item again after this backoff.
    Retry(Duration),
    /// The front item is dropped (its tries are used up, or it is a `running` that `crashed`
    /// follows: it must not arrive after it).
    GiveUp(Item),
}

/// The statuses waiting, the front one being tried.
#[derive(Debug, Default)]
pub struct Queue {
    items: VecDeque<Item>,
    crashed: bool,
}

impl Queue {
    /// Queues `status` for `pid`. `running` after `crashed` is ignored (false returned). `crashed`
    /// drops a `running` still waiting (the child died first), unless it is the front item and
    /// `in_flight` (a try is on the wire: it completes or fails, then `crashed` follows). Returns
    /// whether the status was queued; `dropped` counts the `running`s dropped.
    pub fn push(&mut self, status: Status, pid: Option<i32>, in_flight: bool) -> (bool, usize) {
        let mut dropped = 0;
        match status {
            Status::Running if self.crashed => return (false, 0),
            Status::Crashed(_) => {
                self.crashed = true;
                let mut i = 0;
                self.items.retain(|item| {
                    let keep = item.status != Status::Running || (i == 0 && in_flight);
                    i += 1;
                    dropped += usize::from(!keep);
                    keep
                });
            }
            _ => {}
        }
        self.items.push_back(Item {
            status,
            pid,
            tries: 0,
            last_error: None,
        });
        (true, dropped)
    }

    /// The item to try next.
    pub fn front(&self) -> Option<&Item> {
        self.items.front()
    }

    /// Statuses queued, the one in flight included.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Nothing queued or in flight.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The front item got a 2xx: it leaves the queue.
    pub fn delivered(&mut self) -> Option<Item> {
        self.items.pop_front()
    }

    /// The front item's try failed for `reason`: retry after a backoff, or give it up.
    pub fn failed(&mut self, reason: String) -> Option<Failed> {
        let crashed = self.crashed;
        let item = self.items.front_mut()?;
        item.tries += 1;
        if item.tries >= MAX_TRIES || (item.status == Status::Running && crashed) {
            let mut gone = self.items.pop_front()?;
            gone.last_error = Some(reason);
            return Some(Failed::GiveUp(gone));
        }
        item.last_error = Some(reason);
        Some(Failed::Retry(FIRST_BACKOFF * 2u32.pow(item.tries - 1)))
    }

    /// Gives up on everything (the exit deadline passed).
    pub fn abandon(&mut self) -> Vec<Item> {
        self.items.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(q: &Queue) -> Vec<&'static str> {
        q.items.iter().map(|i| i.status.name()).collect()
    }

    const CRASHED: Status = Status::Crashed(ChildExit {
        code: 0,
        signal: None,
    });

    #[test]
    fn order_and_running_never_after_crashed() {
        let mut q = Queue::default();
        assert_eq!(q.push(Status::Starting, Some(7), false), (true, 0));
        assert_eq!(q.push(Status::Running, Some(7), true), (true, 0));
        assert_eq!(statuses(&q), ["starting", "running"]);
        // The child died before `running` went out: it is dropped, `crashed` follows `starting`.
        assert_eq!(q.push(CRASHED, Some(7), true), (true, 1));
        assert_eq!(statuses(&q), ["starting", "crashed"]);
        assert_eq!(q.push(Status::Running, Some(7), false), (false, 0));
        assert_eq!(statuses(&q), ["starting", "crashed"]);
    }

    #[test]
    fn a_running_in_flight_completes_before_crashed() {
        let mut q = Queue::default();
        q.push(Status::Running, None, false);
        assert_eq!(q.push(CRASHED, None, true), (true, 0));
        assert_eq!(statuses(&q), ["running", "crashed"]);
        // Not in flight (backing off): dropped.
        let mut q = Queue::default();
        q.push(Status::Running, None, false);
        assert_eq!(q.push(CRASHED, None, false), (true, 1));
        assert_eq!(statuses(&q), ["crashed"]);
    }

    #[test]
    fn tries_back_off_then_give_up() {
        let mut q = Queue::default();
        q.push(Status::Starting, None, false);
        assert_eq!(q.failed("a".into()), Some(Failed::Retry(FIRST_BACKOFF)));
        assert_eq!(q.failed("b".into()), Some(Failed::Retry(FIRST_BACKOFF * 2)));
        match q.failed("c".into()) {
            Some(Failed::GiveUp(item)) => {
                assert_eq!(item.tries, MAX_TRIES);
                assert_eq!(item.last_error.as_deref(), Some("c"));
            }
            other => panic!("{other:?}"),
        }
        assert!(q.is_empty());
        assert_eq!(q.failed("d".into()), None);
    }

    #[test]
    fn a_failed_running_after_crashed_is_given_up_at_once() {
        let mut q = Queue::default();
        q.push(Status::Running, None, false);
        q.push(CRASHED, None, true);
        assert!(matches!(q.failed("x".into()), Some(Failed::GiveUp(_))));
        assert_eq!(statuses(&q), ["crashed"]);
        assert_eq!(q.abandon().len(), 1);
        assert!(q.is_empty());
    }
}
