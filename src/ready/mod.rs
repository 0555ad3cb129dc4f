//! The readiness gate: the child is ready when every readiness condition given on the command line
//! holds (`--bind-port` today), at once when none is given. It posts [`Notice::Ready`] exactly once,
//! never after the main child exited; a readiness source only reports its own condition.
//!
//! Registers nothing. Reads `Spawned`, `Condition`, `ChildExited`; posts `Ready`.

// Not called yet: the option it serves is being added (its issue removes this allow).
#[allow(dead_code)]
pub mod notify_msg;

use std::time::Instant;

use crate::event::{Ctx, Handler};
use crate::notice::{Condition, Notice};

/// Which readiness conditions the child must meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadyConfig {
    /// `--bind-port` must listen.
    pub port: bool,
}

/// The gate.
#[derive(Debug)]
pub struct Gate {
    /// Conditions still waited for.
    waiting: ReadyConfig,
    /// When the child was spawned, once it was.
    spawned: Option<Instant>,
    /// Ready was posted, or the child exited first: nothing more to say.
    over: bool,
}

impl Gate {
    /// A gate waiting for the conditions of `cfg`.
    pub fn new(cfg: ReadyConfig) -> Gate {
        Gate {
            waiting: cfg,
            spawned: None,
            over: false,
        }
    }

    fn met(&mut self, c: Condition) {
        match c {
            Condition::Port { .. } => self.waiting.port = false,
        }
    }

    /// Posts `Ready` if the child runs and nothing is waited for any more.
    fn check(&mut self, cx: &mut Ctx<'_>) {
        let Some(at) = self.spawned else { return };
        if self.over || self.waiting != ReadyConfig::default() {
            return;
        }
        self.over = true;
        cx.post(Notice::Ready {
            after: at.elapsed(),
        });
    }
}

impl Handler for Gate {
    fn start(&mut self, _cx: &mut Ctx<'_>) {}

    fn on_notice(&mut self, cx: &mut Ctx<'_>, notice: &Notice) {
        match notice {
            Notice::Spawned { at, .. } => {
                self.spawned = Some(*at);
                self.check(cx);
            }
            Notice::Condition(c) => {
                self.met(*c);
                self.check(cx);
            }
            Notice::ChildExited(_) => self.over = true,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Loop;
    use crate::notice::ChildExit;

    fn readies(seen: &[Notice]) -> usize {
        seen.iter()
            .filter(|n| matches!(n, Notice::Ready { .. }))
            .count()
    }

    fn spawned() -> Notice {
        Notice::Spawned {
            pid: 1,
            at: Instant::now(),
        }
    }

    #[test]
    fn no_condition_is_ready_at_the_spawn() {
        let mut lp = Loop::new().unwrap();
        lp.add(Box::new(Gate::new(ReadyConfig::default())));
        let rec = lp.recorder();
        lp.start();
        lp.inject(spawned());
        assert_eq!(readies(&rec.seen()), 1);
    }

    #[test]
    fn ready_once_when_the_port_listens_and_never_after_the_exit() {
        let mut lp = Loop::new().unwrap();
        lp.add(Box::new(Gate::new(ReadyConfig { port: true })));
        let rec = lp.recorder();
        lp.start();
        lp.inject(spawned());
        assert_eq!(readies(&rec.seen()), 0);
        lp.inject(Notice::Condition(Condition::Port { pid: None }));
        lp.inject(Notice::Condition(Condition::Port { pid: None }));
        assert_eq!(readies(&rec.seen()), 1);

        let mut lp = Loop::new().unwrap();
        lp.add(Box::new(Gate::new(ReadyConfig { port: true })));
        let rec = lp.recorder();
        lp.start();
        lp.inject(spawned());
        lp.inject(Notice::ChildExited(ChildExit::exited(0)));
        lp.inject(Notice::Condition(Condition::Port { pid: None }));
        assert_eq!(readies(&rec.seen()), 0);
    }
}
