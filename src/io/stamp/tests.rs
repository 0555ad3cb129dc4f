//! Tables for the time stamps (dates checked against Python's `datetime`) and Docker's json-file
//! escaping (moby's `jsonlogbytes_test.go` cases, plus every rule of the module header).

use super::*;

fn at(secs: u64, nanos: u32) -> Duration {
    Duration::new(secs, nanos)
}

fn micros(t: Duration) -> String {
    let mut v = Vec::new();
    rfc3339_micros(t, &mut v);
    String::from_utf8(v).unwrap()
}

fn nanos(t: Duration) -> String {
    let mut v = Vec::new();
    rfc3339_nanos(t, &mut v);
    String::from_utf8(v).unwrap()
}

#[test]
fn civil_dates() {
    let table: &[(u64, (u32, u32, u32))] = &[
        (0, (1970, 1, 1)),
        (789, (1972, 2, 29)),
        (11_016, (2000, 2, 29)),
        (11_017, (2000, 3, 1)),
        (47_540, (2100, 2, 28)),
        (47_541, (2100, 3, 1)),
        (157_113, (2400, 2, 29)),
        (2_932_896, (9999, 12, 31)),
    ];
    for &(days, want) in table {
        assert_eq!(civil_from_days(days), want, "day {days}");
    }
}

#[test]
fn micro_stamps() {
    let table: &[(u64, u32, &str)] = &[
        (0, 0, "1970-01-01T00:00:00.000000Z"),
        (1, 1_000, "1970-01-01T00:00:01.000001Z"),
        (59, 999_999_999, "1970-01-01T00:00:59.999999Z"),
        (86_399, 500_000_000, "1970-01-01T23:59:59.500000Z"),
        (86_400, 0, "1970-01-02T00:00:00.000000Z"),
        (68_169_600, 0, "1972-02-29T00:00:00.000000Z"),
        (951_868_799, 123_456_789, "2000-02-29T23:59:59.123456Z"),
        (1_798_729_445, 123_456_000, "2026-12-31T15:04:05.123456Z"),
        (1_234_567_890, 999, "2009-02-13T23:31:30.000000Z"),
        (2_147_483_647, 10_000, "2038-01-19T03:14:07.000010Z"),
        (4_294_967_295, 0, "2106-02-07T06:28:15.000000Z"),
        (4_102_444_800, 0, "2100-01-01T00:00:00.000000Z"),
        (13_574_563_200, 0, "2400-02-29T00:00:00.000000Z"),
        (253_402_300_799, 999_999_999, "9999-12-31T23:59:59.999999Z"),
        // Past year 9999: clamped, still 27 bytes.
        (253_402_300_800, 0, "9999-12-31T23:59:59.999999Z"),
        (u64::MAX, 0, "9999-12-31T23:59:59.999999Z"),
    ];
    for &(s, ns, want) in table {
        let got = micros(at(s, ns));
        assert_eq!(got, want, "{s}.{ns:09}");
        assert_eq!(got.len(), MICROS_LEN);
    }
}

#[test]
fn nano_stamps_drop_trailing_zeros_as_go_rfc3339nano() {
    let table: &[(u64, u32, &str)] = &[
        (0, 0, "1970-01-01T00:00:00Z"),
        (1_432_897_262, 3, "2015-05-29T11:01:02.000000003Z"),
        (1_504_227_661, 1, "2017-09-01T01:01:01.000000001Z"),
        (1_798_729_445, 123_456_789, "2026-12-31T15:04:05.123456789Z"),
        (1_798_729_445, 100_000_000, "2026-12-31T15:04:05.1Z"),
        (1_798_729_445, 120, "2026-12-31T15:04:05.00000012Z"),
        (1_798_729_445, 123_450_000, "2026-12-31T15:04:05.12345Z"),
        (u64::MAX, 5, "9999-12-31T23:59:59.999999999Z"),
    ];
    for &(s, ns, want) in table {
        let got = nanos(at(s, ns));
        assert_eq!(got, want, "{s}.{ns:09}");
        assert!((20..=NANOS_MAX_LEN).contains(&got.len()));
    }
}

#[test]
fn the_cache_writes_what_the_functions_write() {
    let mut cache = StampCache::new();
    // Same second, the next ones, a step back, a day change, the clamp.
    let times = [
        (1_798_729_445, 1),
        (1_798_729_445, 999_999_999),
        (1_798_729_446, 0),
        (1_798_729_444, 5_000),
        (86_399, 7),
        (86_400, 7),
        (86_400, 0),
        (u64::MAX, 0),
        (253_402_300_799, 0),
        (0, 0),
    ];
    for (s, ns) in times {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        cache.micros(at(s, ns), &mut a);
        rfc3339_micros(at(s, ns), &mut b);
        assert_eq!(a, b, "{s}.{ns}");
        let (mut a, mut b) = (Vec::new(), Vec::new());
        cache.nanos(at(s, ns), &mut a);
        rfc3339_nanos(at(s, ns), &mut b);
        assert_eq!(a, b, "{s}.{ns}");
    }
    // Appends, never overwrites.
    let mut v = b"x".to_vec();
    cache.micros(at(0, 0), &mut v);
    assert_eq!(v, b"x1970-01-01T00:00:00.000000Z");
}

const T: &str = "2017-09-01T01:01:01.000000001Z";

fn line(log: &[u8]) -> String {
    let mut v = Vec::new();
    json_line(log, Stream::Stdout, T.as_bytes(), &mut v);
    String::from_utf8(v).unwrap()
}

#[test]
fn json_escapes_as_moby() {
    let table: &[(&[u8], &str)] = &[
        (b"A log line", r#""A log line""#),
        (b"hello\n", r#""hello\n""#),
        // moby's test cases.
        (br#""A log line with \\""#, r#""\"A log line with \\\\\"""#),
        (b"A log line with \r", r#""A log line with \r""#),
        (
            b"A log line with & < >",
            r#""A log line with \u0026 \u003c \u003e""#,
        ),
        ("utf8 : 🚀 ψ ω β".as_bytes(), "\"utf8 : 🚀 ψ ω β\""),
        ("\u{2028} \u{2029}".as_bytes(), r#""\u2028 \u2029""#),
        (&[0xaf], r#""\ufffd""#),
        (&[0x7f], "\"\x7f\""),
        // Only \n and \r have short forms: tab, backspace and form feed are \u00xx.
        (b"a\tb", r#""a\u0009b""#),
        (
            b"\x08\x0c\x00\x1f\x1b[0m",
            r#""\u0008\u000c\u0000\u001f\u001b[0m""#,
        ),
        (b"\r\n", r#""\r\n""#),
        // Other characters led by 0xE2 are copied: U+20AC, U+2027, U+202A.
        ("€ \u{2027}\u{202a}".as_bytes(), "\"€ \u{2027}\u{202a}\""),
        ("é/'`".as_bytes(), "\"é/'`\""),
        // One \ufffd per invalid byte, as Go's DecodeRune: a cut 3-byte sequence gives two.
        (b"\xe2\x82", r#""\ufffd\ufffd""#),
        (b"\xe2\x82A", r#""\ufffd\ufffdA""#),
        (b"\xe2\x80", r#""\ufffd\ufffd""#),
        (b"a\xffb\n", r#""a\ufffdb\n""#),
        // A UTF-16 surrogate, an overlong NUL, a code point past U+10FFFF.
        (b"\xed\xa0\x80", r#""\ufffd\ufffd\ufffd""#),
        (b"\xc0\x80", r#""\ufffd\ufffd""#),
        (b"\xf4\x90\x80\x80", r#""\ufffd\ufffd\ufffd\ufffd""#),
        (b"\xf0\x9f\x9a", r#""\ufffd\ufffd\ufffd""#),
        (b"\xf0\x9f\x9a\x80\xf0", "\"🚀\\ufffd\""),
        (b"<\xe2\x80\xa8>", r#""\u003c\u2028\u003e""#),
    ];
    for &(log, want) in table {
        let got = line(log);
        let expect = format!("{{\"log\":{want},\"stream\":\"stdout\",\"time\":\"{T}\"}}\n");
        assert_eq!(got, expect, "{log:?}");
        let v: serde_json::Value = serde_json::from_str(&got).unwrap();
        assert_eq!(v["time"], T);
    }
}

#[test]
fn json_lines_have_dockers_shape() {
    // `log` is left out when empty, as moby's omitempty.
    assert_eq!(
        line(b""),
        format!("{{\"stream\":\"stdout\",\"time\":\"{T}\"}}\n")
    );
    let mut v = b"prev\n".to_vec();
    json_line(b"x\n", Stream::Stderr, b"2026-12-02T15:04:05Z", &mut v);
    assert_eq!(
        String::from_utf8(v).unwrap(),
        "prev\n{\"log\":\"x\\n\",\"stream\":\"stderr\",\"time\":\"2026-12-02T15:04:05Z\"}\n"
    );
    assert_eq!(Stream::Stdout.as_str(), "stdout");
    // A long plain line is one copy; every byte value round-trips through a JSON reader.
    let all: Vec<u8> = (0u8..=0x7f).collect();
    let v: serde_json::Value = serde_json::from_str(&line(&all)).unwrap();
    assert_eq!(v["log"].as_str().unwrap().as_bytes(), &all[..]);
}

#[test]
fn the_word_test_agrees_with_the_byte_table() {
    // Every byte value at every position among plain bytes, then words from a xorshift generator
    // (biased to the values near the special ones, where borrows could mislead the word test).
    for b in 0..=255u8 {
        for pos in 0..8 {
            let mut w = *b"aaaaaaaa";
            w[pos] = b;
            assert_eq!(
                special_word(u64::from_le_bytes(w)),
                SPECIAL[usize::from(b)],
                "{b:#x}@{pos}"
            );
        }
    }
    let near = [
        0x00, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x26, 0x3c, 0x3d, 0x3e, 0x5c, 0x7f, 0x80, 0xe1, 0xe2,
        0xe3, 0xff,
    ];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let w = x.to_le_bytes().map(|r| {
            if r & 1 == 0 {
                near[usize::from(r >> 1) % near.len()]
            } else {
                r
            }
        });
        let want = w.iter().any(|&b| SPECIAL[usize::from(b)]);
        assert_eq!(special_word(u64::from_le_bytes(w)), want, "{w:x?}");
        assert_eq!(
            plain_len(&w),
            w.iter().take_while(|&&b| !SPECIAL[usize::from(b)]).count()
        );
    }
}

#[test]
fn the_plain_ascii_path_writes_what_json_line_writes() {
    let time = b"2026-12-02T15:04:05.1Z";
    let mut tail = Vec::new();
    for stream in [Stream::Stdout, Stream::Stderr] {
        json_tail(stream, time, &mut tail);
        for body in [
            &b"x"[..],
            b"hello world 0123456789 ~!#$%^*()_+{}|:?,./;'[]=-`\x7f",
        ] {
            let n = ascii_plain_len(body);
            assert_eq!(n, body.len(), "{body:?}");
            let mut line = body.to_vec();
            line.push(b'\n');
            let (mut a, mut b) = (Vec::new(), Vec::new());
            json_line(&line, stream, time, &mut a);
            json_plain_line(body, &tail, &mut b);
            assert_eq!(a, b);
        }
    }
    for (s, n) in [
        (&b"abc\"d"[..], 3),
        (b"abcdefgh<", 8),
        (b"abcdefghijklmno&", 15),
        (b"\xc3\xa9", 0),
        (b"0123456\x01", 7),
        (b"0123456789\\", 10),
        (b"\n", 0),
    ] {
        assert_eq!(ascii_plain_len(s), n, "{s:?}");
    }
}
