//! Fuzz bodies for the relay's line framing (`frame`) and the `--no-pty` backlog (`backlog`).

use std::time::Duration;

use crate::io::backlog::Backlog;
use crate::io::frame::{frame_all, Frame, Framer, JSON_PIECE};
use crate::io::stamp::Stream;

/// The framer (prefix, stamps or JSON) fed a stream in arbitrary chunks, each read at its own time,
/// in pieces bounded by an arbitrary limit: exactly the one-shot framing; JSON output reads back to
/// the stream (each invalid byte a U+FFFD) in objects of at most [`JSON_PIECE`] bytes of line.
/// Input layout: [mode][limit][prefix length][prefix][8 chunk-size seeds][stream].
pub fn frame(data: &[u8]) {
    let [mode, limit, plen, rest @ ..] = data else {
        return;
    };
    let plen = usize::from(plen % 8).min(rest.len());
    let (prefix, rest) = rest.split_at(plen);
    let seeds_len = rest.len().min(8);
    let (seeds, stream) = rest.split_at(seeds_len);
    let frame = frame_for(*mode, prefix);
    // Small limits exercise the bounded pieces; 255 means none.
    let limit = if *limit == 255 {
        usize::MAX
    } else {
        usize::from(*limit)
    };
    let mut f = Framer::new(frame.clone());
    let (mut out, mut chunks) = (Vec::new(), Vec::new());
    let mut left = stream;
    let mut k = 0u64;
    while !left.is_empty() {
        let n = seeds
            .get(usize::try_from(k).unwrap_or(0) % seeds_len.max(1))
            .map_or(left.len(), |&s| usize::from(s).max(1))
            .min(left.len());
        // Times jump by odd amounts: stamps and their per-second cache both change.
        let t = Duration::new(
            1_700_000_000 + k * 7 / 3,
            u32::try_from(k * 123_457 % 1_000_000_000).unwrap_or(0),
        );
        let mut done = 0;
        while done < n {
            let mut piece = Vec::new();
            let took = f.feed(&left[done..n], t, &mut piece, limit);
            assert!(took > 0, "no progress");
            if limit < usize::MAX {
                // At most the bound, one head (stamp and prefix) and one line of input, or one
                // escaped JSON piece (6 bytes per input byte at most, plus the object's keys).
                assert!(piece.len() <= limit + 40 + prefix.len() + n + 6 * JSON_PIECE + 80);
            }
            out.extend_from_slice(&piece);
            done += took;
        }
        chunks.push((n, t));
        left = &left[n..];
        k += 1;
    }
    f.finish(&mut out);
    assert_eq!(out, frame_all(&frame, stream, &chunks));
    if frame.json.is_some() {
        let mut logs = String::new();
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_slice(line).expect("a JSON object");
            let log = v.get("log").and_then(|l| l.as_str()).unwrap_or("");
            assert!(!log.is_empty() && log.len() <= 3 * JSON_PIECE);
            logs.push_str(log);
        }
        let mut want = String::new();
        for c in stream.utf8_chunks() {
            want.push_str(c.valid());
            want.extend(c.invalid().iter().map(|_| '\u{fffd}'));
        }
        // Cuts never fall inside a character, so only cut sequences differ in how many U+FFFD.
        if stream.utf8_chunks().all(|c| c.invalid().len() <= 1) {
            assert_eq!(logs, want);
        }
    }
}

/// The framing the `frame` target's mode byte picks: a prefix, stamps (and the prefix), JSON.
fn frame_for(mode: u8, prefix: &[u8]) -> Frame {
    match mode % 4 {
        0 => Frame {
            prefix: prefix.to_vec(),
            ..Frame::default()
        },
        1 => Frame {
            prefix: prefix.to_vec(),
            timestamps: true,
            json: None,
        },
        2 => Frame {
            json: Some(Stream::Stdout),
            ..Frame::default()
        },
        _ => Frame {
            json: Some(Stream::Stderr),
            ..Frame::default()
        },
    }
}

/// The `--no-pty` backlog under arbitrary pushes, sends and disconnections: what each connection
/// gets is whole lines (but its very last, when it ended mid-line), in input order, never a line's
/// tail; while disconnected nothing is kept beyond the cap; no more lines are delivered or counted
/// as dropped than were written.
/// Input layout: ops of 2 bytes [op][n]; the lines pushed are made from n.
pub fn backlog(data: &[u8]) {
    let cap = 64;
    let mut b = Backlog::new(cap);
    let mut up = true;
    let mut conn: Vec<u8> = Vec::new();
    let (mut sent_lines, mut next_line, mut dropped) = (Vec::<u64>::new(), 0u64, 0u64);
    // Pending input bytes of the line being pushed: lines are "<n>:<padding>\n" split anywhere.
    let mut pending: Vec<u8> = Vec::new();
    // A connection's last line may be unfinished: cut by the disconnection (its rest is dropped)
    // or still being sent.
    let check_conn = |conn: &[u8], sent: &mut Vec<u64>| {
        let text = std::str::from_utf8(conn).expect("ascii");
        let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
        if lines.last().is_some_and(|l| !l.ends_with('\n')) {
            lines.pop();
        }
        for l in lines {
            assert!(l.ends_with('\n'), "a split line {l:?}");
            let (n, pad) = l.trim_end().split_once(':').expect("a line's start");
            let n: u64 = n.parse().expect("a line's start");
            assert_eq!(pad.len() as u64, n % 23, "a line's middle is missing");
            assert!(sent.last().is_none_or(|&p| n > p), "order");
            sent.push(n);
        }
    };
    for op in data.chunks_exact(2) {
        let (o, n) = (op[0] % 4, usize::from(op[1]));
        match o {
            0 => {
                // Input: the next bytes of the stream of lines.
                while pending.len() < n + 1 {
                    pending.extend_from_slice(
                        format!("{next_line}:{}\n", ".".repeat((next_line % 23) as usize))
                            .as_bytes(),
                    );
                    next_line += 1;
                }
                let take: Vec<u8> = pending.drain(..(n + 1).min(pending.len())).collect();
                if up {
                    b.push(&take);
                } else {
                    // Nothing is added beyond the cap (what a connection left may exceed it).
                    let before = b.unsent().len();
                    b.push_bounded(&take);
                    assert!(b.unsent().len() <= cap.max(before));
                }
            }
            1 if up => {
                let k = n.min(b.unsent().len());
                conn.extend_from_slice(&b.unsent()[..k]);
                b.consume(k);
            }
            2 if up => {
                b.disconnected();
                check_conn(&conn, &mut sent_lines);
                conn.clear();
                up = false;
            }
            _ => {
                if !up {
                    up = true;
                }
            }
        }
        if let Some((lines, _)) = b.take_dropped() {
            dropped += lines;
        }
    }
    check_conn(&conn, &mut sent_lines);
    assert!(sent_lines.len() as u64 + dropped <= next_line);
}
