//! Time stamps and JSON for output lines: `--timestamps` (RFC 3339, UTC, microseconds) and
//! `--log-format json` (Docker's json-file lines). Pure byte writers on the relay's hot path: no
//! `format!`, no allocation beyond the caller's `Vec`, digits written directly, the date part of a
//! stamp cached per second ([`StampCache`]).
//!
//! The JSON is what Docker's json-file driver writes (moby `daemon/logger/jsonfilelog/jsonlog`,
//! `jsonlogbytes.go` and `time_marshalling.go`), so `docker logs`-style readers take dock's files:
//! - `{"log":"…","stream":"stdout","time":"…"}` then `\n`, keys in that order; `log` left out when
//!   empty (`omitempty`; dock never writes an empty line).
//! - `time` is Go's `time.RFC3339Nano` (`2006-01-02T15:04:05.999999999Z07:00`), which drops trailing
//!   zeros of the fraction, and the point with them: `…T15:04:05.1Z`, `…T15:04:05Z`. moby's tests
//!   pin it (`"0001-01-01T00:00:00Z"`, `…01:01:01.000000001Z`). The fixed nine digits
//!   (`RFC3339NanoFixed`) are `docker logs -t`'s display format, not the file's.
//! - `log` is escaped by moby's own `ffjsonWriteJSONBytesAsString`, not `encoding/json`: `"` and `\`
//!   as `\"` `\\`; `\n` `\r` as such; every other byte below 0x20 and `<` `>` `&` as `\u00xx` (lower-case
//!   hex: a tab is `\u0009`, not `\t`); U+2028 and U+2029 as `\u2028` `\u2029`; DEL and all other
//!   UTF-8 as is. Each byte that is not part of a valid UTF-8 sequence becomes one `\ufffd` (Go's
//!   `utf8.DecodeRune` returns `(RuneError, 1)`, so a cut 3-byte sequence gives two; Rust's
//!   `from_utf8_lossy` would give one, WHATWG's "maximal subpart", so it is not used).
//!
//! Registers nothing.

use std::time::Duration;

#[cfg(any(test, feature = "fuzz"))]
/// Bytes [`rfc3339_micros`] writes: `YYYY-MM-DDThh:mm:ss.ffffffZ`.
pub const MICROS_LEN: usize = 27;
#[cfg(any(test, feature = "fuzz"))]
/// Most bytes [`rfc3339_nanos`] writes: `YYYY-MM-DDThh:mm:ss.fffffffffZ` (at least 20).
pub const NANOS_MAX_LEN: usize = 30;

/// 9999-12-31T23:59:59Z: RFC 3339 years have four digits (moby refuses later years; dock clamps).
const MAX_SECS: u64 = 253_402_300_799;

/// "00" to "99", two bytes each: one lookup per digit pair.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `n % 100` as two digits at `buf[at..at + 2]`.
fn put2(buf: &mut [u8], at: usize, n: u32) {
    let i = (n as usize % 100) * 2;
    buf[at..at + 2].copy_from_slice(&PAIRS[i..i + 2]);
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31), proleptic Gregorian: rotation's
/// ([`crate::rotate::name::civil_from_days`]), for the non-negative days and years ≤ 9999 stamps have.
pub fn civil_from_days(days: u64) -> (u32, u32, u32) {
    let (y, m, d) = crate::rotate::name::civil_from_days(i64::try_from(days).unwrap_or(i64::MAX));
    (u32::try_from(y).unwrap_or(u32::MAX), m, d)
}

/// The clamped (seconds, nanoseconds) of `t`: at most 9999-12-31T23:59:59.999999999.
fn clamp(t: Duration) -> (u64, u32) {
    if t.as_secs() > MAX_SECS {
        (MAX_SECS, 999_999_999)
    } else {
        (t.as_secs(), t.subsec_nanos())
    }
}

/// `YYYY-MM-DDThh:mm:ss` for `secs` ≤ [`MAX_SECS`].
fn date_time(secs: u64) -> [u8; 19] {
    let (y, m, d) = civil_from_days(secs / 86_400);
    let rem = (secs % 86_400) as u32;
    let mut b = *b"0000-00-00T00:00:00";
    put2(&mut b, 0, y / 100);
    put2(&mut b, 2, y);
    put2(&mut b, 5, m);
    put2(&mut b, 8, d);
    put2(&mut b, 11, rem / 3600);
    put2(&mut b, 14, rem / 60 % 60);
    put2(&mut b, 17, rem % 60);
    b
}

/// `.ffffffZ`: six digits, truncated (a line read at …05.1234569 was read in microsecond …05.123456).
fn micros_tail(nanos: u32, out: &mut Vec<u8>) {
    let us = nanos / 1000;
    let mut b = *b".000000Z";
    put2(&mut b, 1, us / 10_000);
    put2(&mut b, 3, us / 100);
    put2(&mut b, 5, us);
    out.extend_from_slice(&b);
}

/// Go's RFC3339Nano fraction: `.` and up to nine digits without trailing zeros, nothing for 0; `Z`.
fn nanos_tail(nanos: u32, out: &mut Vec<u8>) {
    if nanos != 0 {
        let mut digits = [0u8; 9];
        let mut n = nanos;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        let len = 9 - digits.iter().rev().take_while(|&&d| d == b'0').count();
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
    out.push(b'Z');
}

#[cfg(any(test, feature = "fuzz"))]
/// Appends `t` (since the Unix epoch) as RFC 3339 UTC with microseconds, exactly [`MICROS_LEN`]
/// bytes: `2026-12-02T15:04:05.123456Z`, the `--timestamps` prefix (`docker logs -t`'s shape, cut to
/// microseconds). Past year 9999 it stays at `9999-12-31T23:59:59.999999Z`.
pub fn rfc3339_micros(t: Duration, out: &mut Vec<u8>) {
    let (secs, nanos) = clamp(t);
    out.extend_from_slice(&date_time(secs));
    micros_tail(nanos, out);
}

#[cfg(any(test, feature = "fuzz"))]
/// Appends `t` (since the Unix epoch) as Go's `time.RFC3339Nano` in UTC, what Docker's json-file
/// `time` holds: 20 to [`NANOS_MAX_LEN`] bytes, trailing zeros of the fraction dropped
/// (`2026-12-02T15:04:05.1234Z`, `2026-12-02T15:04:05Z`). Clamped as [`rfc3339_micros`].
pub fn rfc3339_nanos(t: Duration, out: &mut Vec<u8>) {
    let (secs, nanos) = clamp(t);
    out.extend_from_slice(&date_time(secs));
    nanos_tail(nanos, out);
}

/// [`rfc3339_micros`] and [`rfc3339_nanos`] with the `YYYY-MM-DDThh:mm:ss` part kept for the last
/// second seen: lines arrive by the million per second, and within one second only the fraction
/// changes. The output is byte for byte the uncached functions'.
#[derive(Debug, Clone, Default)]
pub struct StampCache {
    /// The second `date` spells, if any yet.
    secs: Option<u64>,
    date: [u8; 19],
}

impl StampCache {
    /// An empty cache.
    pub fn new() -> StampCache {
        StampCache::default()
    }

    fn date(&mut self, secs: u64) -> &[u8; 19] {
        if self.secs != Some(secs) {
            self.date = date_time(secs);
            self.secs = Some(secs);
        }
        &self.date
    }

    /// As [`rfc3339_micros`].
    pub fn micros(&mut self, t: Duration, out: &mut Vec<u8>) {
        let (secs, nanos) = clamp(t);
        out.extend_from_slice(self.date(secs));
        micros_tail(nanos, out);
    }

    /// As [`rfc3339_nanos`].
    pub fn nanos(&mut self, t: Duration, out: &mut Vec<u8>) {
        let (secs, nanos) = clamp(t);
        out.extend_from_slice(self.date(secs));
        nanos_tail(nanos, out);
    }
}

/// Which of the child's outputs a line came from: json-file's `stream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// `"stdout"`.
    Stdout,
    /// `"stderr"`.
    Stderr,
}

impl Stream {
    /// The `stream` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Appends one json-file line for `log` (the line's bytes, its `\n` included; the last line of a
/// stream may lack it): `{"log":"…","stream":"stdout","time":"…"}` and `\n`, escaped as the module
/// header says. `time` is written between quotes as given: pass [`rfc3339_nanos`]'s output.
pub fn json_line(log: &[u8], stream: Stream, time: &[u8], out: &mut Vec<u8>) {
    // Escaping grows a line by 6 bytes per special byte at most; plain text by nothing.
    out.reserve(log.len() + 48 + time.len());
    // Few, whole-constant copies: at opt-level "z" each `extend_from_slice` is a call.
    let (with_log, without_log) = match stream {
        Stream::Stdout => (
            &b"\",\"stream\":\"stdout\",\"time\":\""[..],
            &b"{\"stream\":\"stdout\",\"time\":\""[..],
        ),
        Stream::Stderr => (
            &b"\",\"stream\":\"stderr\",\"time\":\""[..],
            &b"{\"stream\":\"stderr\",\"time\":\""[..],
        ),
    };
    if log.is_empty() {
        out.extend_from_slice(without_log);
    } else {
        out.extend_from_slice(b"{\"log\":\"");
        json_escape(log, out);
        out.extend_from_slice(with_log);
    }
    out.extend_from_slice(time);
    out.extend_from_slice(b"\"}\n");
}

/// Bytes that end a run copied as is: ASCII that moby escapes, and 0xE2, the lead byte of U+2028 and
/// U+2029 (checked when met; other characters it leads are copied).
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'&' as usize] = true;
    t[0xE2] = true;
    t
};

/// Whether any of 8 bytes is [`SPECIAL`], a word at a time ("Bit Twiddling Hacks", `hasless` and
/// `haszero`: exact for "any", which is all that is asked). Plain text skips 8 bytes per test, at
/// every optimisation level; dock ships at opt-level "z", where loops are not vectorised.
#[inline(always)]
fn special_word(w: u64) -> bool {
    // `"` (0x22) and `&` (0x26) differ only in bit 2, `<` (0x3C) and `>` (0x3E) only in bit 1: one
    // test each with that bit forced on.
    (less(w, 0x20)
        | zero(w | (ONES * 0x04), b'&')
        | zero(w | (ONES * 0x02), b'>')
        | zero(w, b'\\')
        | zero(w, 0xE2))
        != 0
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of some byte is set iff a byte of `x` is below `n` (n ≤ 128).
#[inline(always)]
fn less(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & (ONES << 7)
}

/// Non-zero iff a byte of `x` is `c`.
#[inline(always)]
fn zero(x: u64, c: u8) -> u64 {
    less(x ^ (ONES * u64::from(c)), 1)
}

/// The string body for arbitrary bytes: valid stretches escaped, one `\ufffd` per invalid byte.
fn json_escape(bytes: &[u8], out: &mut Vec<u8>) {
    let mut rest = bytes;
    loop {
        // `from_utf8` stops at the first error, so each byte is validated once.
        match std::str::from_utf8(rest) {
            Ok(s) => return escape_valid(s.as_bytes(), out),
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                escape_valid(valid, out);
                // `None`: a sequence cut by the end of the line; all its bytes are invalid.
                let bad = e.error_len().unwrap_or(after.len());
                for _ in 0..bad {
                    out.extend_from_slice(b"\\ufffd");
                }
                rest = &after[bad..];
            }
        }
    }
}

/// Escapes valid UTF-8: plain runs in one copy each.
fn escape_valid(s: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // s[..start] is written; s[start..i] is plain and pending.
    let (mut start, mut i) = (0, 0);
    loop {
        i += plain_len(&s[i..]);
        let Some(&b) = s.get(i) else {
            break;
        };
        if b == 0xE2 {
            // Valid UTF-8: 0xE2 leads a 3-byte character; only U+2028 and U+2029 are escaped.
            let Some(&[0x80, c @ (0xA8 | 0xA9)]) = s.get(i + 1..i + 3) else {
                i += 1;
                continue;
            };
            out.extend_from_slice(&s[start..i]);
            out.extend_from_slice(&[b'\\', b'u', b'2', b'0', b'2', HEX[usize::from(c & 0xF)]]);
            i += 3;
        } else {
            out.extend_from_slice(&s[start..i]);
            match b {
                b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                _ => out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xF)],
                ]),
            }
            i += 1;
        }
        start = i;
    }
    out.extend_from_slice(&s[start..]);
}

/// How many leading bytes of `s` are not [`SPECIAL`]: 8 per test while it can, then byte by byte.
fn plain_len(s: &[u8]) -> usize {
    let mut n = 0;
    for w in s.chunks_exact(8) {
        match <[u8; 8]>::try_from(w) {
            Ok(w) if !special_word(u64::from_le_bytes(w)) => n += 8,
            _ => break,
        }
    }
    n + s[n..]
        .iter()
        .take_while(|&&b| !SPECIAL[usize::from(b)])
        .count()
}

/// How many leading bytes of `s` are ASCII that moby's jsonlog writes as is (not [`SPECIAL`], below
/// 0x80): such a run needs neither UTF-8 validation nor escaping. 8 per test while it can.
pub fn ascii_plain_len(s: &[u8]) -> usize {
    const HIGH: u64 = ONES << 7;
    let mut n = 0;
    for w in s.chunks_exact(8) {
        match <[u8; 8]>::try_from(w) {
            Ok(w) => {
                let w = u64::from_le_bytes(w);
                if w & HIGH != 0 || special_word(w) {
                    break;
                }
                n += 8;
            }
            Err(_) => break,
        }
    }
    n + s[n..]
        .iter()
        .take_while(|&&b| b < 0x80 && !SPECIAL[usize::from(b)])
        .count()
}

/// The part of a json-file line after `log`'s value: `","stream":"stdout","time":"<time>"}` and
/// `\n`, for [`json_plain_line`].
pub fn json_tail(stream: Stream, time: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(match stream {
        Stream::Stdout => b"\",\"stream\":\"stdout\",\"time\":\"",
        Stream::Stderr => b"\",\"stream\":\"stderr\",\"time\":\"",
    });
    out.extend_from_slice(time);
    out.extend_from_slice(b"\"}\n");
}

/// [`json_line`] for a non-empty line that is `body` ([`ascii_plain_len`] bytes, written as is) and
/// one `\n`, with `tail` from [`json_tail`]: the same bytes in four copies, the relay's common case.
pub fn json_plain_line(body: &[u8], tail: &[u8], out: &mut Vec<u8>) {
    out.reserve(body.len() + 10 + tail.len());
    out.extend_from_slice(b"{\"log\":\"");
    out.extend_from_slice(body);
    out.extend_from_slice(b"\\n");
    out.extend_from_slice(tail);
}

#[cfg(test)]
mod tests;
