//! The loop itself, really run: routing, deferred removal, deadlines, signals on both paths, the exit.

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use super::*;
use crate::notice::Notice;

/// A handler that logs what reaches it as `(handler name, what)`.
struct Probe {
    name: &'static str,
    log: Rc<RefCell<Vec<String>>>,
    /// Posted from `start`.
    post: Option<Notice>,
    flushed: bool,
}

impl Probe {
    fn new(name: &'static str, log: &Rc<RefCell<Vec<String>>>) -> Probe {
        Probe {
            name,
            log: log.clone(),
            post: None,
            flushed: true,
        }
    }
    fn note(&self, what: String) {
        self.log.borrow_mut().push(format!("{}: {what}", self.name));
    }
}

impl Handler for Probe {
    fn start(&mut self, cx: &mut Ctx<'_>) {
        if let Some(n) = self.post.take() {
            cx.post(n);
        }
    }
    fn on_event(&mut self, _cx: &mut Ctx<'_>, ev: Event) {
        self.note(format!("event {}", ev.key));
    }
    fn on_signal(&mut self, _cx: &mut Ctx<'_>, sig: i32) {
        self.note(format!("signal {sig}"));
    }
    fn on_deadline(&mut self, _cx: &mut Ctx<'_>, key: Key) {
        self.note(format!("deadline {key}"));
    }
    fn on_notice(&mut self, _cx: &mut Ctx<'_>, n: &Notice) {
        self.note(format!("{n:?}"));
    }
    fn flushed(&self) -> bool {
        self.flushed
    }
}

fn log() -> Rc<RefCell<Vec<String>>> {
    Rc::new(RefCell::new(Vec::new()))
}

#[test]
fn a_notice_reaches_every_handler_in_order_right_after_its_poster() {
    let log = log();
    let mut lp = Loop::new().unwrap();
    let mut a = Probe::new("a", &log);
    a.post = Some(Notice::Reap);
    lp.add(Box::new(a));
    let mut b = Probe::new("b", &log);
    b.post = Some(Notice::HangUp);
    lp.add(Box::new(b));
    lp.start();
    assert_eq!(
        *log.borrow(),
        ["a: Reap", "b: Reap", "a: HangUp", "b: HangUp"],
        "a's notice is routed before b starts"
    );
}

#[test]
fn events_and_deadlines_go_to_their_owner_only() {
    let log = log();
    let mut lp = Loop::new().unwrap();
    let (_a, ia) = lp.add_shared(Probe::new("a", &log));
    let (_b, ib) = lp.add_shared(Probe::new("b", &log));
    lp.start();
    let (x, mut y) = UnixStream::pair().unwrap();
    lp.with_ctx(ib, |cx| {
        cx.register_fd(x.as_raw_fd(), Interest::READABLE, 7)
            .unwrap();
        cx.arm_in(3, Duration::ZERO);
    });
    std::io::Write::write_all(&mut y, b"x").unwrap();
    assert!(lp.turn_until(Duration::from_secs(5), || log.borrow().len() >= 2));
    let mut got = log.borrow().clone();
    got.sort();
    assert_eq!(got, ["b: deadline 3", "b: event 7"]);
    assert!(lp.deadline_of(ia, 3).is_none() && lp.deadline_of(ib, 3).is_none());
}

#[test]
fn a_token_removed_is_not_reused_within_the_turn_and_only_its_owner_removes_it() {
    let log = log();
    let mut lp = Loop::new().unwrap();
    let (_a, ia) = lp.add_shared(Probe::new("a", &log));
    let (_b, ib) = lp.add_shared(Probe::new("b", &log));
    let (x, _x) = UnixStream::pair().unwrap();
    let t = lp.with_ctx(ia, |cx| {
        cx.register_fd(x.as_raw_fd(), Interest::READABLE, 1)
            .unwrap()
    });
    // b cannot remove a's token.
    lp.with_ctx(ib, |cx| cx.deregister_fd(&x, t));
    assert!(lp.core.removals.is_empty());
    assert_eq!(lp.core.ordinary, 1);
    lp.with_ctx(ia, |cx| cx.deregister_fd(&x, t));
    assert_eq!(lp.core.ordinary, 0);
    let (z, _z) = UnixStream::pair().unwrap();
    let t2 = lp.with_ctx(ia, |cx| {
        cx.register_fd(z.as_raw_fd(), Interest::READABLE, 2)
            .unwrap()
    });
    assert_ne!(t, t2, "a token freed in this turn is not handed out again");
}

/// Blocks `sig` in this test thread and raises it for this thread only (other test threads run
/// on): the loop's signalfd and `rt_sigtimedwait` both see a signal pending for the calling thread.
fn raise_here(sig: i32) {
    crate::sys::block_signals(1 << (sig - 1)).unwrap();
    crate::sys::raise_in_thread(sig).unwrap();
}

#[test]
fn signals_reach_the_watcher_on_the_fast_path_and_through_epoll() {
    let log = log();
    let mut lp = Loop::new().unwrap();
    let (_w, iw) = lp.add_shared(Probe::new("w", &log));
    lp.with_ctx(iw, |cx| cx.watch_signals());
    lp.start();
    assert!(lp.fast(), "no ordinary fd: the fast path");
    raise_here(libc::SIGUSR2);
    assert!(lp.turn_until(Duration::from_secs(5), || !log.borrow().is_empty()));
    assert_eq!(*log.borrow(), ["w: signal 12"]);
    assert!(!lp.core.sig_in_epoll);

    // An ordinary fd: the signalfd goes into epoll.
    let (x, _x) = UnixStream::pair().unwrap();
    lp.with_ctx(iw, |cx| {
        cx.register_fd(x.as_raw_fd(), Interest::READABLE, 0)
            .unwrap()
    });
    lp.turn_within(Duration::ZERO);
    assert!(!lp.fast() && lp.core.sig_in_epoll);
    raise_here(libc::SIGUSR1);
    assert!(lp.turn_until(Duration::from_secs(5), || log.borrow().len() == 2));
    assert_eq!(log.borrow()[1], "w: signal 10");
}

#[test]
fn a_held_signal_stays_pending_on_the_fast_path() {
    let log = log();
    let mut lp = Loop::new().unwrap();
    let (_w, iw) = lp.add_shared(Probe::new("w", &log));
    lp.with_ctx(iw, |cx| {
        cx.watch_signals();
        cx.hold_signal(libc::SIGURG, true);
    });
    lp.start();
    raise_here(libc::SIGURG);
    lp.turn_within(Duration::from_millis(20));
    assert!(log.borrow().is_empty(), "held");
    lp.with_ctx(iw, |cx| cx.hold_signal(libc::SIGURG, false));
    assert!(lp.turn_until(Duration::from_secs(5), || !log.borrow().is_empty()));
    assert_eq!(*log.borrow(), ["w: signal 23"]);
}

#[test]
fn the_exit_waits_for_every_handler_to_flush_or_for_its_bound() {
    let log = log();
    let mut lp = Loop::new().unwrap();
    let (a, ia) = lp.add_shared(Probe::new("a", &log));
    a.borrow_mut().flushed = false;
    lp.start();
    assert_eq!(lp.done(), None);
    let exit = ChildExit::exited(3);
    lp.with_ctx(ia, |cx| cx.exit(exit, Duration::from_secs(60)));
    assert_eq!(lp.done(), None, "a is not flushed");
    a.borrow_mut().flushed = true;
    assert_eq!(lp.done(), Some(exit));

    let mut lp = Loop::new().unwrap();
    let (a, ia) = lp.add_shared(Probe::new("a", &log));
    a.borrow_mut().flushed = false;
    lp.start();
    lp.with_ctx(ia, |cx| cx.exit(exit, Duration::from_millis(10)));
    // The bound is a deadline of its own: the loop wakes for it (a wait may also end early, on
    // EINTR, hence more than one turn).
    let end = Instant::now() + Duration::from_secs(5);
    while lp.done().is_none() && Instant::now() < end {
        lp.turn();
    }
    assert_eq!(lp.done(), Some(exit));
}
