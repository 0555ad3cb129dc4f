//! The check on a real loop against loopback servers: refused, then 503, then 200.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use super::*;
use crate::event::testing::Recorder;
use crate::event::Loop;

#[test]
fn backoff_is_a_quarter_of_the_wait_from_5_ms_to_1_s() {
    let ms = Duration::from_millis;
    assert_eq!(next_delay(Duration::ZERO), FIRST_DELAY);
    assert_eq!(next_delay(ms(20)), ms(5));
    assert_eq!(next_delay(ms(100)), ms(25));
    assert_eq!(next_delay(ms(2000)), ms(500));
    assert_eq!(next_delay(ms(4000)), MAX_DELAY);
    assert_eq!(next_delay(Duration::MAX), MAX_DELAY);
}

fn check(url: &str) -> HttpCheck {
    HttpCheck::new(HttpCheckConfig {
        url: crate::cli::values::parse_hook_url(url).unwrap(),
        tls: TlsOptions::default(),
    })
    .unwrap()
}

fn readies(rec: &Recorder) -> usize {
    rec.seen()
        .iter()
        .filter(|n| **n == Notice::Condition(Condition::Http))
        .count()
}

/// Answers the n-th request with `codes[n]` (the last repeats), sending each request line on.
fn server(l: TcpListener, codes: Vec<u16>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (i, c) in l.incoming().enumerate() {
            let Ok(mut c) = c else { return };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.ends_with(b"\r\n\r\n") {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let code = codes[i.min(codes.len() - 1)];
            let _ = write!(c, "HTTP/1.1 {code} X\r\nContent-Length: 2\r\n\r\nno");
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

#[test]
fn not_yet_until_a_2xx_then_once_and_no_more_tries() {
    // Refused first: the port is free until the listener below takes it.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let mut lp = Loop::new().unwrap();
    let (h, _) = lp.add_shared(check(&format!("http://127.0.0.1:{port}/healthz")));
    let rec = lp.recorder();
    lp.start();
    lp.inject(Notice::Spawned {
        pid: 1,
        at: Instant::now(),
    });
    assert!(lp.turn_until(Duration::from_secs(5), || h.borrow().tries >= 2));
    assert!(h
        .borrow()
        .last_failure
        .as_deref()
        .unwrap()
        .contains("refused"));
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let lines = server(l, vec![503, 503, 204]);
    assert!(lp.turn_until(Duration::from_secs(20), || readies(&rec) == 1));
    let got: Vec<String> = lines.try_iter().collect();
    assert_eq!(got, ["GET /healthz HTTP/1.1"; 3]);
    assert_eq!(h.borrow().last_failure.as_deref(), Some("HTTP 503 X"));
    assert!(h.borrow().over);
    assert!(lp.deadline_of(0, TIMER).is_none());
}

#[test]
fn the_childs_exit_stops_the_tries() {
    let mut lp = Loop::new().unwrap();
    let (h, _) = lp.add_shared(check("http://127.0.0.1:1/"));
    lp.start();
    lp.inject(Notice::Spawned {
        pid: 1,
        at: Instant::now(),
    });
    assert!(lp.deadline_of(0, TIMER).is_some());
    lp.inject(Notice::Stop {
        reason: "x".into(),
        code: 124,
    });
    assert!(h.borrow().over);
    assert!(lp.deadline_of(0, TIMER).is_none());
}
