//! Line framing of the child's output on its way to a sink: `--timestamps`, `--stdout-prefix` and
//! `--log-format json`. Pure: fed the stream in whatever chunks `read(2)` returns, each with the time
//! it was read, it appends exactly what framing the whole stream at once would (the fuzz target
//! `frame` checks that for every chunking), in pieces of bounded size.
//!
//! - Lines (`raw`): `[STAMP ' '][PREFIX]line`. The head is written when a line's first byte arrives
//!   (lazily: a line split across reads gets one head, nothing dangles after the last line), and
//!   `STAMP` is the time of the read that brought that first byte (`2026-12-02T15:04:05.123456Z`,
//!   [`super::stamp::rfc3339_micros`], as `docker logs -t`).
//! - JSON: one Docker json-file object per line ([`super::stamp::json_line`]), `time` the line's first
//!   byte's read time. A line is held until its `\n` arrives; a line longer than [`JSON_PIECE`]
//!   bytes is written as several objects of at most that many bytes, all with the line's time, only
//!   the last with the `\n`: what Docker's log copier does with its 16 KiB buffer (moby
//!   `daemon/logger/copier.go`), so readers that join Docker's partial lines join dock's. Unlike
//!   Docker, a cut never falls inside a UTF-8 character. At the end of the stream a last line
//!   without `\n` gets its object without `\n` in `log` ([`Framer::finish`]).
//!
//! Memory: the caller bounds each call's output (`limit`): a piece ends at the first line start
//! after `limit` bytes, so it holds at most `limit` + one head + one input chunk (lines), or
//! `limit` + one escaped [`JSON_PIECE`] (JSON), whatever the prefix's length (README, issue 16.8).
//!
//! Registers nothing.

use std::time::Duration;

pub use crate::bytes::find_newline;

use super::stamp::{ascii_plain_len, json_line, json_plain_line, json_tail, StampCache, Stream};

/// Longest `log` of one JSON object, bytes: Docker's copier buffer (16 KiB).
pub const JSON_PIECE: usize = 16 * 1024;

/// How each line is framed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    /// The `--stdout-prefix` bytes (colour codes included); empty for none.
    pub prefix: Vec<u8>,
    /// `--timestamps`.
    pub timestamps: bool,
    /// `--log-format json`, with the stream these bytes come from.
    pub json: Option<Stream>,
}

impl Frame {
    /// Bytes pass unchanged: nothing to frame.
    pub fn is_raw(&self) -> bool {
        self.prefix.is_empty() && !self.timestamps && self.json.is_none()
    }

    /// Framing needs the time lines were read at.
    pub fn needs_clock(&self) -> bool {
        self.timestamps || self.json.is_some()
    }
}

/// Frames one stream ([`Frame`]); feed it every chunk in order.
#[derive(Debug, Clone)]
pub struct Framer {
    frame: Frame,
    /// The next byte fed starts a line.
    at_line_start: bool,
    /// What goes before a line read at `head_time`: `[stamp ' '] prefix`.
    head: Vec<u8>,
    head_time: Option<Duration>,
    cache: StampCache,
    /// JSON: the current line so far (less than [`JSON_PIECE`] bytes), and its first byte's time.
    line: Vec<u8>,
    line_time: Duration,
    /// JSON: `line_time` spelled as Docker's `time`, for `time_of`, and the end of an object with
    /// it (`","stream":…,"time":"…"}` and `\n`).
    time_text: Vec<u8>,
    tail: Vec<u8>,
    time_of: Option<Duration>,
}

impl Framer {
    /// A framer for `frame`.
    pub fn new(frame: Frame) -> Framer {
        let head = if frame.timestamps {
            Vec::new()
        } else {
            frame.prefix.clone()
        };
        Framer {
            frame,
            at_line_start: true,
            head,
            head_time: None,
            cache: StampCache::new(),
            line: Vec::new(),
            line_time: Duration::ZERO,
            time_text: Vec::new(),
            tail: Vec::new(),
            time_of: None,
        }
    }

    /// Whether the stream so far ends at a line boundary (nothing fed, or the last byte was `\n`).
    #[cfg(any(test, feature = "fuzz"))]
    pub fn at_line_start(&self) -> bool {
        self.at_line_start
    }

    /// Bytes of a JSON line held until its end (0 for lines, which are never held).
    pub fn held(&self) -> usize {
        self.line.len()
    }

    /// Whether framing `chunk` needs the time it was read: a line starts in it and lines are stamped.
    /// At most one clock read per line start: none for a chunk in the middle of a long line.
    pub fn needs_time(&self, chunk: &[u8]) -> bool {
        self.frame.needs_clock()
            && !chunk.is_empty()
            && (self.at_line_start || find_newline(&chunk[..chunk.len() - 1]).is_some())
    }

    /// Frames a prefix of `input` (read at `read_at`, since the Unix epoch; unused unless a line
    /// starts in it) into `out`, stopping at the first line start once `out` holds `limit` bytes.
    /// Returns how many bytes of `input` it took; call again with the rest (and the same
    /// `read_at`) once `out` has been written.
    pub fn feed(
        &mut self,
        input: &[u8],
        read_at: Duration,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> usize {
        match self.frame.json {
            Some(stream) => self.feed_json(input, read_at, stream, out, limit),
            None => self.feed_lines(input, read_at, out, limit),
        }
    }

    /// The end of the stream: a held JSON line gets its object (without `\n` in `log`).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if let (Some(stream), false) = (self.frame.json, self.line.is_empty()) {
            let line = std::mem::take(&mut self.line);
            self.emit(&line, stream, out);
        }
    }

    fn feed_lines(
        &mut self,
        input: &[u8],
        read_at: Duration,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> usize {
        if self.frame.timestamps && self.head_time != Some(read_at) && self.needs_time(input) {
            self.head.clear();
            self.cache.micros(read_at, &mut self.head);
            self.head.push(b' ');
            self.head.extend_from_slice(&self.frame.prefix);
            self.head_time = Some(read_at);
        }
        let mut pos = 0;
        while pos < input.len() {
            if self.at_line_start {
                // Stop once past the bound, but never before some progress.
                if out.len() >= limit && pos > 0 {
                    break;
                }
                out.extend_from_slice(&self.head);
            }
            let rest = &input[pos..];
            let end = match find_newline(rest) {
                Some(i) => {
                    self.at_line_start = true;
                    i + 1
                }
                None => {
                    self.at_line_start = false;
                    rest.len()
                }
            };
            out.extend_from_slice(&rest[..end]);
            pos += end;
        }
        pos
    }

    fn feed_json(
        &mut self,
        input: &[u8],
        read_at: Duration,
        stream: Stream,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> usize {
        let mut pos = 0;
        // Stop once past the bound, but never before some progress.
        while pos < input.len() && (out.len() < limit || pos == 0) {
            if self.at_line_start {
                self.line_time = read_at;
                self.at_line_start = false;
            }
            if self.line.len() == JSON_PIECE {
                // A full piece and more of the line follows: its object now, the rest after it.
                let mut line = std::mem::take(&mut self.line);
                let keep = whole_chars(&line);
                self.emit(&line[..keep], stream, out);
                line.drain(..keep);
                self.line = line;
                continue;
            }
            let rest = &input[pos..];
            let window = &rest[..rest.len().min(JSON_PIECE - self.line.len())];
            if self.line.is_empty() {
                // The common case, in one scan: plain ASCII up to the line's `\n`.
                let plain = ascii_plain_len(window);
                if window.get(plain) == Some(&b'\n') {
                    self.time_for(stream);
                    json_plain_line(&window[..plain], &self.tail, out);
                    self.at_line_start = true;
                    pos += plain + 1;
                    continue;
                }
            }
            match find_newline(window) {
                Some(i) if self.line.is_empty() => {
                    // The common case: a whole line in the chunk, escaped from where it lies.
                    self.emit(&window[..=i], stream, out);
                    self.at_line_start = true;
                    pos += i + 1;
                }
                Some(i) => {
                    let mut line = std::mem::take(&mut self.line);
                    line.extend_from_slice(&window[..=i]);
                    self.emit(&line, stream, out);
                    line.clear();
                    self.line = line;
                    self.at_line_start = true;
                    pos += i + 1;
                }
                None => {
                    self.line.extend_from_slice(window);
                    pos += window.len();
                }
            }
        }
        pos
    }

    /// One object for `log`, at the current line's time.
    fn emit(&mut self, log: &[u8], stream: Stream, out: &mut Vec<u8>) {
        self.time_for(stream);
        json_line(log, stream, &self.time_text, out);
    }

    /// `time_text` and `tail` for the current line's time (kept while it does not change: every
    /// line of a read shares it).
    fn time_for(&mut self, stream: Stream) {
        if self.time_of != Some(self.line_time) {
            self.time_text.clear();
            self.cache.nanos(self.line_time, &mut self.time_text);
            json_tail(stream, &self.time_text, &mut self.tail);
            self.time_of = Some(self.line_time);
        }
    }
}

/// How many leading bytes of `b` to keep so that a cut after them does not fall inside a UTF-8
/// character: all of them, unless they end with the first 1–3 bytes of a longer sequence.
fn whole_chars(b: &[u8]) -> usize {
    for back in 1..=b.len().min(3) {
        let c = b[b.len() - back];
        if c & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for the lead
        }
        let need = match c {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if need > back { b.len() - back } else { b.len() };
    }
    b.len()
}

/// Frames a whole stream at once, each line with the time of the chunk its first byte came in
/// (`chunks`: (length, read time) in order, covering `input`): the reference [`Framer::feed`] must
/// match, for tests and the fuzz target.
#[cfg(any(test, feature = "fuzz"))]
pub fn frame_all(frame: &Frame, input: &[u8], chunks: &[(usize, Duration)]) -> Vec<u8> {
    let time_at = |at: usize| {
        let mut end = 0;
        for &(len, t) in chunks {
            end += len;
            if at < end {
                return t;
            }
        }
        Duration::ZERO
    };
    let mut out = Vec::new();
    let mut at = 0;
    for line in input.split_inclusive(|&b| b == b'\n') {
        let t = time_at(at);
        at += line.len();
        if let Some(stream) = frame.json {
            let mut time = Vec::new();
            super::stamp::rfc3339_nanos(t, &mut time);
            let mut rest = line;
            while rest.len() > JSON_PIECE {
                let keep = whole_chars(&rest[..JSON_PIECE]);
                json_line(&rest[..keep], stream, &time, &mut out);
                rest = &rest[keep..];
            }
            json_line(rest, stream, &time, &mut out);
            continue;
        }
        if frame.timestamps {
            super::stamp::rfc3339_micros(t, &mut out);
            out.push(b' ');
        }
        out.extend_from_slice(&frame.prefix);
        out.extend_from_slice(line);
    }
    out
}

#[cfg(test)]
mod tests;
