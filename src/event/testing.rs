//! Test helpers: handlers on a real loop, a test keeping a handle on them, and a recorder of notices.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{Ctx, Event, Handler, Key, Loop, LOOP};
use crate::notice::Notice;

/// A handler the test keeps a handle on, to look at it between turns.
struct Shared<H>(Rc<RefCell<H>>);

impl<H: Handler> Handler for Shared<H> {
    fn start(&mut self, cx: &mut Ctx<'_>) {
        self.0.borrow_mut().start(cx);
    }
    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) {
        self.0.borrow_mut().on_event(cx, ev);
    }
    fn on_signal(&mut self, cx: &mut Ctx<'_>, sig: i32) {
        self.0.borrow_mut().on_signal(cx, sig);
    }
    fn on_deadline(&mut self, cx: &mut Ctx<'_>, key: Key) {
        self.0.borrow_mut().on_deadline(cx, key);
    }
    fn on_notice(&mut self, cx: &mut Ctx<'_>, notice: &Notice) {
        self.0.borrow_mut().on_notice(cx, notice);
    }
    fn flushed(&self) -> bool {
        self.0.borrow().flushed()
    }
    fn finish(&mut self, deadline: Instant) {
        self.0.borrow_mut().finish(deadline);
    }
}

/// Every notice routed, in order.
#[derive(Clone, Default)]
pub(crate) struct Recorder(Rc<RefCell<Vec<Notice>>>);

impl Recorder {
    /// The notices so far.
    pub(crate) fn seen(&self) -> Vec<Notice> {
        self.0.borrow().clone()
    }
}

impl Handler for Recorder {
    fn start(&mut self, _cx: &mut Ctx<'_>) {}
    fn on_notice(&mut self, _cx: &mut Ctx<'_>, notice: &Notice) {
        self.0.borrow_mut().push(notice.clone());
    }
}

impl Loop {
    /// Adds `h`, keeping a handle for the test; returns it and the handler's index.
    pub(crate) fn add_shared<H: Handler + 'static>(&mut self, h: H) -> (Rc<RefCell<H>>, usize) {
        let rc = Rc::new(RefCell::new(h));
        self.add(Box::new(Shared(rc.clone())));
        (rc, self.handlers.len() - 1)
    }

    /// Adds a recorder of every notice.
    pub(crate) fn recorder(&mut self) -> Recorder {
        let r = Recorder::default();
        self.add(Box::new(r.clone()));
        r
    }

    /// Posts `notice` as a handler would; it is routed at once.
    pub(crate) fn inject(&mut self, notice: Notice) {
        self.core.notices.push_back(notice);
        self.dispatch(LOOP, |_, _| {});
    }

    /// Calls `f` with handler `owner`'s context, then routes what was posted.
    pub(crate) fn with_ctx<R>(&mut self, owner: usize, f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
        let mut cx = Ctx {
            owner,
            core: &mut self.core,
        };
        let out = f(&mut cx);
        self.dispatch(LOOP, |_, _| {});
        out
    }

    /// When handler `owner`'s deadline `key` is due, if armed.
    pub(crate) fn deadline_of(&self, owner: usize, key: Key) -> Option<Instant> {
        self.core.deadlines.get(owner, key)
    }

    /// One turn that waits at most `max`.
    pub(crate) fn turn_within(&mut self, max: Duration) {
        self.core
            .deadlines
            .arm(LOOP, Key::MAX, Instant::now() + max);
        self.turn();
        self.core.deadlines.disarm(LOOP, Key::MAX);
    }

    /// Turns until `done` holds; false if it still does not after `within`.
    pub(crate) fn turn_until(&mut self, within: Duration, mut done: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + within;
        while !done() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.turn_within(left);
        }
        true
    }
}
