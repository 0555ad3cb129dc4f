//! The framer: prefixes, stamps and JSON objects against one-shot framing for every chunking and
//! output bound; Docker's 16 KiB pieces; the memory bound whatever the prefix.

use super::*;

const T0: Duration = Duration::new(1_796_223_845, 123_456_789); // 2026-12-02T15:04:05.123456789Z
const T1: Duration = Duration::new(1_796_223_846, 500_000_000);

fn prefix(p: &str) -> Frame {
    Frame {
        prefix: p.as_bytes().to_vec(),
        ..Frame::default()
    }
}

fn stamps(p: &str) -> Frame {
    Frame {
        timestamps: true,
        ..prefix(p)
    }
}

fn json(s: Stream) -> Frame {
    Frame {
        json: Some(s),
        ..Frame::default()
    }
}

/// Feeds `input` in chunks of `sizes` (cycled), chunk k read at `T0 + k s`, each chunk in pieces
/// bounded by `limit`; returns the output and the chunks' (length, time) for [`frame_all`].
fn chunked(
    frame: &Frame,
    input: &[u8],
    sizes: &[usize],
    limit: usize,
) -> (Vec<u8>, Vec<(usize, Duration)>) {
    let mut f = Framer::new(frame.clone());
    let mut out = Vec::new();
    let mut times = Vec::new();
    let mut rest = input;
    let mut k = 0u64;
    while !rest.is_empty() {
        let n = sizes[usize::try_from(k).unwrap() % sizes.len()].min(rest.len());
        let t = T0 + Duration::from_secs(k);
        let chunk = &rest[..n];
        let mut done = 0;
        while done < n {
            let mut piece = Vec::new();
            done += f.feed(&chunk[done..], t, &mut piece, limit);
            out.extend_from_slice(&piece);
        }
        times.push((n, t));
        rest = &rest[n..];
        k += 1;
    }
    f.finish(&mut out);
    (out, times)
}

#[test]
fn lines_get_stamp_then_prefix() {
    let (out, _) = chunked(&stamps("P "), b"a\nb\n", &[100], usize::MAX);
    assert_eq!(
        out,
        b"2026-12-02T15:04:05.123456Z P a\n2026-12-02T15:04:05.123456Z P b\n"
    );
    let (out, _) = chunked(&stamps(""), b"one\ntw", &[5], usize::MAX);
    // "two" started in the first read (its "t"), "w" came a second later: one stamp, the first's.
    assert_eq!(
        out,
        b"2026-12-02T15:04:05.123456Z one\n2026-12-02T15:04:05.123456Z tw"
    );
    let (out, _) = chunked(&stamps(""), b"one\ntwo", &[4], usize::MAX);
    assert_eq!(
        out,
        b"2026-12-02T15:04:05.123456Z one\n2026-12-02T15:04:06.123456Z two"
    );
    let (out, _) = chunked(&prefix(">"), b"\n\nx", &[1], usize::MAX);
    assert_eq!(out, b">\n>\n>x");
}

#[test]
fn json_objects_as_docker_writes_them() {
    let (out, _) = chunked(
        &json(Stream::Stdout),
        b"a \"q\"\tb\n\xffz",
        &[3],
        usize::MAX,
    );
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"log":"a \"q\"\u0009b\n","stream":"stdout","time":"2026-12-02T15:04:05.123456789Z"}"#,
            // The last line, without newline: its object at the end, no "\n" in log.
            r#"{"log":"\ufffdz","stream":"stdout","time":"2026-12-02T15:04:07.123456789Z"}"#,
        ]
    );
    assert!(text.ends_with("}\n"));
}

#[test]
fn a_long_json_line_is_cut_in_16_kib_pieces_never_inside_a_character() {
    // 16383 bytes of 'x' then "é" (2 bytes): the first piece stops before the é.
    let mut line = vec![b'x'; JSON_PIECE - 1];
    line.extend_from_slice("é".as_bytes());
    line.extend_from_slice(&[b'y'; 20000]);
    line.push(b'\n');
    let (out, _) = chunked(&json(Stream::Stderr), &line, &[4096, 7, 65536], usize::MAX);
    let objs: Vec<serde_json::Value> = out
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let logs: Vec<&str> = objs.iter().map(|o| o["log"].as_str().unwrap()).collect();
    // 16383 + 16384 (starting with the é) + the rest with the newline.
    assert_eq!(logs.len(), 3);
    assert_eq!(logs[0].len(), JSON_PIECE - 1);
    assert!(logs[1].starts_with("éyyy") && logs[1].len() == JSON_PIECE);
    assert!(logs[2].ends_with("y\n") && !logs[1].ends_with('\n'));
    assert_eq!(logs.concat().as_bytes(), &line[..]);
    assert!(
        objs.iter().all(|o| o["time"] == objs[0]["time"]),
        "one time"
    );
    assert_eq!(whole_chars(b"ab\xe2\x82"), 2);
    assert_eq!(whole_chars(b"ab\xe2\x82\xac"), 5);
    assert_eq!(whole_chars(b"\xf0\x9f\x98"), 0);
    assert_eq!(whole_chars(b"ab\x80\x80\x80"), 5, "no lead byte: keep all");
}

#[test]
fn every_chunking_and_bound_matches_one_shot() {
    let mut input = b"one\ntwo\n\nthree long line with words\tand \"quotes\"\n".to_vec();
    input.extend_from_slice("ünï\u{2028}cödé\n\x01\x7f<&>".as_bytes());
    input.extend_from_slice(b"\xc3\n\xe2\x82\nlast without newline");
    for frame in [
        prefix("[p] "),
        stamps(""),
        stamps("\x1b[31;1mP\x1b[0m"),
        json(Stream::Stdout),
        json(Stream::Stderr),
    ] {
        for a in [1, 2, 3, 5, 8, 13, 64, 1000] {
            for b in [1, 4, 7, 100] {
                for limit in [0, 1, 50, usize::MAX] {
                    let (got, times) = chunked(&frame, &input, &[a, b], limit);
                    let want = frame_all(&frame, &input, &times);
                    assert_eq!(
                        String::from_utf8_lossy(&got),
                        String::from_utf8_lossy(&want),
                        "{frame:?} chunks {a},{b} limit {limit}"
                    );
                }
            }
        }
    }
}

#[test]
fn output_is_bounded_whatever_the_prefix() {
    // 64 KiB of newlines with a 4 KiB prefix would be 256 MiB prefixed at once (issue 16.8).
    let frame = prefix(&"p".repeat(4096));
    let mut f = Framer::new(frame);
    let input = vec![b'\n'; 64 * 1024];
    let limit = 64 * 1024;
    let (mut done, mut total) = (0, 0);
    while done < input.len() {
        let mut piece = Vec::new();
        done += f.feed(&input[done..], T0, &mut piece, limit);
        assert!(piece.len() <= limit + 4097, "{}", piece.len());
        total += piece.len();
    }
    assert_eq!(total, 64 * 1024 * 4097);
}

#[test]
fn the_clock_is_needed_only_where_a_line_starts() {
    let mut f = Framer::new(stamps(""));
    assert!(f.needs_time(b"x"));
    let mut out = Vec::new();
    f.feed(b"long line ", T0, &mut out, usize::MAX);
    assert!(!f.needs_time(b"still the same line"));
    assert!(
        !f.needs_time(b"ends here\n"),
        "a line starts after it, not in it"
    );
    assert!(f.needs_time(b"ends\nnext"));
    assert!(!f.needs_time(b""));
    let raw = Framer::new(prefix("p"));
    assert!(!raw.needs_time(b"a\nb"));
    // The stamp of a chunk's lines is the chunk's, however many pieces it is framed in.
    let mut f = Framer::new(stamps(""));
    let mut out = Vec::new();
    let n = f.feed(b"a\nb\n", T0, &mut out, 1);
    f.feed(&b"a\nb\n"[n..], T0, &mut out, usize::MAX);
    f.feed(b"c\n", T1, &mut out, usize::MAX);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "2026-12-02T15:04:05.123456Z a\n2026-12-02T15:04:05.123456Z b\n\
         2026-12-02T15:04:06.500000Z c\n"
    );
}
