//! The queue's rules as tables: order, what `crashed` drops, how long a status is retried.

use super::*;

fn statuses(q: &Queue) -> Vec<&'static str> {
    q.items.iter().map(|i| i.status.name()).collect()
}

fn names(items: &[Item]) -> Vec<&'static str> {
    items.iter().map(|i| i.status.name()).collect()
}

const CRASHED: Status = Status::Crashed(ChildExit {
    code: 0,
    signal: None,
});

const S: Duration = Duration::from_secs(1);

#[test]
fn order_and_running_never_after_crashed() {
    let mut q = Queue::default();
    assert_eq!(q.push(Status::Starting, Some(7), false), Some(vec![]));
    assert_eq!(q.push(Status::Running, Some(7), true), Some(vec![]));
    assert_eq!(statuses(&q), ["starting", "running"]);
    // The child died before `running` went out: it is dropped (and returned, to be logged),
    // `crashed` follows the `starting` in flight.
    let dropped = q.push(CRASHED, Some(7), true).unwrap();
    assert_eq!(names(&dropped), ["running"]);
    assert_eq!(statuses(&q), ["starting", "crashed"]);
    assert_eq!(q.push(Status::Running, Some(7), false), None);
    assert_eq!(statuses(&q), ["starting", "crashed"]);
}

/// What `crashed` leaves in front of itself: only a try on the wire.
#[test]
fn crashed_drops_every_earlier_status_but_the_one_in_flight() {
    for (queued, in_flight, kept, dropped) in [
        (&[][..], false, &[][..], &[][..]),
        (&[][..], true, &[], &[]),
        (&[Status::Running], true, &["running"], &[]),
        (&[Status::Running], false, &[], &["running"]),
        (&[Status::Starting], false, &[], &["starting"]),
        (&[Status::Starting], true, &["starting"], &[]),
        (
            &[Status::Starting, Status::Running],
            true,
            &["starting"],
            &["running"],
        ),
        (
            &[Status::Starting, Status::Running],
            false,
            &[],
            &["starting", "running"],
        ),
    ] {
        let mut q = Queue::default();
        for s in queued {
            q.push(*s, None, false);
        }
        let gone = q.push(CRASHED, None, in_flight).unwrap();
        let mut want: Vec<&str> = kept.to_vec();
        want.push("crashed");
        assert_eq!(statuses(&q), want, "{queued:?} in flight {in_flight}");
        assert_eq!(names(&gone), dropped, "{queued:?} in flight {in_flight}");
    }
}

#[test]
fn backoff_doubles_up_to_its_cap() {
    let want = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0];
    for (tries, secs) in (1..).zip(want) {
        assert_eq!(backoff(tries), Duration::from_secs_f64(secs), "{tries}");
    }
    assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
}

/// While the child runs, a status is retried for a minute from its first try, however the tries
/// fail; then it is given up, with its last error.
#[test]
fn a_status_is_retried_for_a_minute_then_given_up() {
    let t0 = Instant::now();
    let mut q = Queue::default();
    q.push(Status::Starting, None, false);
    let mut now = t0;
    let mut waits = Vec::new();
    loop {
        assert_eq!(q.started(now), now + TRY_TIMEOUT);
        // Each try ends as late as it may: a server that never answers.
        now += TRY_TIMEOUT;
        match q.failed(format!("try at {:?}", now - t0), now) {
            Some(Failed::Retry(w)) => {
                waits.push(w.as_secs_f64());
                now += w;
            }
            Some(Failed::GiveUp(item, why)) => {
                assert_eq!(why, Why::TimeUp);
                assert_eq!(item.first_try, Some(t0));
                assert!(item.last_error.unwrap().starts_with("try at"));
                assert!(now - t0 <= RETRY_FOR + TRY_TIMEOUT, "{:?}", now - t0);
                break;
            }
            None => panic!("the item vanished"),
        }
    }
    assert_eq!(waits, [0.5, 1.0, 2.0, 4.0]);
    assert!(q.is_empty());
    assert_eq!(q.failed("x".into(), now), None);

    // Refused at once each time: many more tries within the same minute.
    let mut q = Queue::default();
    q.push(Status::Running, None, false);
    let mut now = t0;
    let mut tries = 0;
    while let Some(Failed::Retry(w)) = {
        q.started(now);
        q.failed("refused".into(), now)
    } {
        tries += 1;
        now += w;
    }
    assert!(now - t0 <= RETRY_FOR, "{:?}", now - t0);
    assert!(tries >= 8, "{tries}");
    // A receiver down for 3 s: the tries at 0, 0.5, 1.5 and 3.5 s, the fourth reaches it.
    let mut q = Queue::default();
    q.push(Status::Starting, None, false);
    let mut at = Vec::new();
    let mut now = t0;
    while now - t0 < 3 * S {
        q.started(now);
        at.push((now - t0).as_secs_f64());
        match q.failed("refused".into(), now) {
            Some(Failed::Retry(w)) => now += w,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(at, [0.0, 0.5, 1.5]);
    assert_eq!(now - t0, Duration::from_millis(3500));
}

#[test]
fn once_the_child_exited_an_earlier_status_gets_no_new_try() {
    let now = Instant::now();
    let mut q = Queue::default();
    q.push(Status::Starting, None, false);
    q.started(now);
    q.push(CRASHED, None, true);
    match q.failed("x".into(), now) {
        Some(Failed::GiveUp(item, Why::ChildExited)) => assert_eq!(item.status.name(), "starting"),
        other => panic!("{other:?}"),
    }
    assert_eq!(statuses(&q), ["crashed"]);
    // `crashed` itself is retried, within the same minute.
    q.started(now);
    assert_eq!(
        q.failed("y".into(), now),
        Some(Failed::Retry(FIRST_BACKOFF))
    );
    assert_eq!(q.abandon().len(), 1);
    assert!(q.is_empty());
}

#[test]
fn a_try_in_flight_when_the_child_exits_is_cut_short() {
    let now = Instant::now();
    let deadline = now + TRY_TIMEOUT;
    for (flush, left) in [
        (5 * S, LEFT_AFTER_EXIT),
        (Duration::from_millis(100), Duration::from_millis(50)),
        (Duration::ZERO, Duration::ZERO),
        (100 * S, LEFT_AFTER_EXIT),
    ] {
        assert_eq!(cut_short(deadline, now, flush), now + left, "{flush:?}");
    }
    // A try about to time out anyway keeps its own deadline.
    let soon = now + Duration::from_millis(10);
    assert_eq!(cut_short(soon, now, 5 * S), soon);
}
