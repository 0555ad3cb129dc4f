//! The gate on a real loop: every condition, once; the deadline; nothing after the exit.

use std::time::{Duration, Instant};

use super::*;
use crate::event::testing::Recorder;
use crate::event::Loop;
use crate::notice::ChildExit;

fn readies(rec: &Recorder) -> usize {
    rec.seen()
        .iter()
        .filter(|n| matches!(n, Notice::Ready { .. }))
        .count()
}

fn stops(rec: &Recorder) -> Vec<Notice> {
    rec.seen()
        .into_iter()
        .filter(|n| matches!(n, Notice::Stop { .. }))
        .collect()
}

fn spawned() -> Notice {
    Notice::Spawned {
        pid: 1,
        at: Instant::now(),
    }
}

/// A loop with a gate for `cfg` (handler 0) and a recorder, started.
fn gate(cfg: &ReadyConfig) -> (Loop, Recorder) {
    let mut lp = Loop::new().unwrap();
    lp.add(Box::new(Gate::new(cfg)));
    let rec = lp.recorder();
    lp.start();
    (lp, rec)
}

fn every_condition() -> ReadyConfig {
    ReadyConfig {
        port: true,
        notify: Some(notify::NotifyAddr::Auto),
        fd: Some(3),
        http: Some(http::HttpCheckConfig {
            url: crate::cli::values::parse_hook_url("http://127.0.0.1:1/").unwrap(),
            tls: crate::tls::TlsOptions::default(),
        }),
        timeout: None,
        file: None,
    }
}

#[test]
fn no_condition_is_ready_at_the_spawn() {
    let (mut lp, rec) = gate(&ReadyConfig::default());
    lp.inject(spawned());
    assert_eq!(readies(&rec), 1);
}

#[test]
fn ready_once_when_the_port_listens_and_never_after_the_exit() {
    let port = ReadyConfig {
        port: true,
        ..ReadyConfig::default()
    };
    let (mut lp, rec) = gate(&port);
    lp.inject(spawned());
    assert_eq!(readies(&rec), 0);
    lp.inject(Notice::Condition(Condition::Port { pid: None }));
    lp.inject(Notice::Condition(Condition::Port { pid: None }));
    assert_eq!(readies(&rec), 1);

    let (mut lp, rec) = gate(&port);
    lp.inject(spawned());
    lp.inject(Notice::ChildExited(ChildExit::exited(0)));
    lp.inject(Notice::Condition(Condition::Port { pid: None }));
    assert_eq!(readies(&rec), 0);
}

#[test]
fn every_condition_must_hold_in_any_order_even_before_the_spawn() {
    let all = [
        Condition::Http,
        Condition::Notify,
        Condition::Port { pid: Some(7) },
        Condition::Fd,
    ];
    for first in 0..all.len() {
        let (mut lp, rec) = gate(&every_condition());
        // One condition reported before the spawn notice reached the gate still counts.
        lp.inject(Notice::Condition(all[first]));
        lp.inject(spawned());
        for (i, c) in all.iter().enumerate().filter(|(i, _)| *i != first) {
            assert_eq!(readies(&rec), 0, "ready before {c:?} ({i})");
            lp.inject(Notice::Condition(*c));
        }
        assert_eq!(readies(&rec), 1);
    }
}

#[test]
fn the_deadline_stops_the_child_once_with_the_reason_and_124() {
    let cfg = ReadyConfig {
        timeout: Some(Duration::from_millis(20)),
        ..every_condition()
    };
    let (mut lp, rec) = gate(&cfg);
    lp.inject(spawned());
    lp.inject(Notice::Condition(Condition::Fd));
    assert!(lp.deadline_of(0, TIMEOUT).is_some());
    assert!(lp.turn_until(Duration::from_secs(5), || !stops(&rec).is_empty()));
    assert_eq!(
        stops(&rec),
        [Notice::Stop {
            reason: "not ready within 0.02 s".into(),
            code: NOT_READY_EXIT
        }]
    );
    // Too late: the rest of the conditions, and the exit, change nothing.
    for c in [
        Condition::Http,
        Condition::Notify,
        Condition::Port { pid: None },
    ] {
        lp.inject(Notice::Condition(c));
    }
    lp.inject(Notice::ChildExited(ChildExit::signaled(15)));
    assert_eq!((readies(&rec), stops(&rec).len()), (0, 1));
}

#[test]
fn ready_in_time_or_an_exit_disarms_the_deadline() {
    let cfg = ReadyConfig {
        fd: Some(3),
        timeout: Some(Duration::from_secs(60)),
        ..ReadyConfig::default()
    };
    let (mut lp, rec) = gate(&cfg);
    lp.inject(spawned());
    assert!(lp.deadline_of(0, TIMEOUT).is_some());
    lp.inject(Notice::Condition(Condition::Fd));
    assert_eq!(readies(&rec), 1);
    assert!(lp.deadline_of(0, TIMEOUT).is_none());

    let (mut lp, rec) = gate(&cfg);
    lp.inject(spawned());
    lp.inject(Notice::ChildExited(ChildExit::exited(1)));
    assert!(lp.deadline_of(0, TIMEOUT).is_none());
    assert!(stops(&rec).is_empty());
}
