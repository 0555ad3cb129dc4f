//! The `--no-pty` output buffer: what the child wrote and the peer has not taken yet, kept in whole
//! lines. Pure (no fd), table-tested and fuzzed (`backlog`).
//!
//! - Connected: everything is kept ([`Backlog::push`]); the relay stops reading the child's pipes
//!   once [`Backlog::full`], so a slow peer slows the child, as any sink does.
//! - Disconnected: at most [`Backlog::cap`] unsent bytes are kept ([`Backlog::push_bounded`]); a line
//!   that does not fit is dropped whole (what of it was buffered too) and counted.
//! - When a connection ends with a line half sent ([`Backlog::disconnected`]), the rest of that line
//!   is dropped and counted: the next connection starts at a line boundary, so the peer never gets
//!   a line's tail glued to nothing.
//!
//! Registers nothing.

use super::frame::find_newline;

/// Unsent bytes kept while the peer is away (`--no-pty`): 4 MiB.
pub const BACKLOG_CAP: usize = 4 << 20;

/// Buffered output for a peer that comes and goes.
#[derive(Debug, Clone)]
pub struct Backlog {
    buf: Vec<u8>,
    /// `buf[..sent]` went to the peer.
    sent: usize,
    cap: usize,
    /// The input so far ends at a line boundary.
    input_at_line_start: bool,
    /// What the current connection got so far ends at a line boundary (true for a new one).
    sent_at_line_start: bool,
    /// Dropping input up to and including the next `\n` (a line already counted as dropped).
    skipping: bool,
    /// Lines and bytes dropped since the last [`Backlog::take_dropped`].
    lines: u64,
    bytes: u64,
}

impl Backlog {
    /// An empty backlog keeping at most `cap` unsent bytes while disconnected.
    pub fn new(cap: usize) -> Backlog {
        Backlog {
            buf: Vec::new(),
            sent: 0,
            cap,
            input_at_line_start: true,
            sent_at_line_start: true,
            skipping: false,
            lines: 0,
            bytes: 0,
        }
    }

    /// What is waiting for the peer.
    pub fn unsent(&self) -> &[u8] {
        &self.buf[self.sent..]
    }

    /// Nothing waits for the peer.
    pub fn is_empty(&self) -> bool {
        self.sent == self.buf.len()
    }

    /// At least [`Backlog::cap`] bytes wait: the relay stops reading until some are sent.
    pub fn full(&self) -> bool {
        self.buf.len() - self.sent >= self.cap
    }

    /// Connected: keeps all of `input` (but the rest of a line being dropped).
    pub fn push(&mut self, input: &[u8]) {
        let input = self.skip(input);
        if !input.is_empty() {
            self.buf.extend_from_slice(input);
            self.input_at_line_start = input.ends_with(b"\n");
        }
    }

    /// Disconnected: keeps the lines of `input` that fit within [`Backlog::cap`] unsent bytes and
    /// drops the others whole, counting them.
    pub fn push_bounded(&mut self, input: &[u8]) {
        let mut rest = self.skip(input);
        while !rest.is_empty() {
            let (seg, ends) = match find_newline(rest) {
                Some(i) => (&rest[..=i], true),
                None => (rest, false),
            };
            rest = &rest[seg.len()..];
            // Where the line this segment belongs to starts in `buf`.
            let start = if self.input_at_line_start {
                self.buf.len()
            } else {
                self.open_line_start()
            };
            if self.buf.len() - self.sent + seg.len() > self.cap {
                let held = self.buf.len() - start;
                self.buf.truncate(start);
                self.lines += 1;
                self.bytes += (held + seg.len()) as u64;
                self.skipping = !ends;
                self.input_at_line_start = ends;
                continue;
            }
            self.buf.extend_from_slice(seg);
            self.input_at_line_start = ends;
        }
    }

    /// `n` bytes of [`Backlog::unsent`] went to the peer.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len() - self.sent);
        if n == 0 {
            return;
        }
        self.sent += n;
        self.sent_at_line_start = self.buf[self.sent - 1] == b'\n';
        if self.sent == self.buf.len() {
            self.buf.clear();
            self.sent = 0;
        } else if self.sent >= self.buf.len() / 2 {
            self.buf.drain(..self.sent);
            self.sent = 0;
        }
    }

    /// The connection ended: if the peer got part of a line, the rest of that line is dropped (and
    /// counted), so the next connection starts with a whole line.
    pub fn disconnected(&mut self) {
        if !self.sent_at_line_start {
            self.lines += 1;
            match find_newline(&self.buf[self.sent..]) {
                Some(i) => {
                    self.bytes += (i + 1) as u64;
                    self.buf.drain(self.sent..=self.sent + i);
                }
                None => {
                    self.bytes += (self.buf.len() - self.sent) as u64;
                    self.buf.truncate(self.sent);
                    // The line's end has not been read yet: it is dropped when it comes.
                    self.skipping = !self.input_at_line_start;
                }
            }
        }
        self.buf.drain(..self.sent);
        self.sent = 0;
        self.sent_at_line_start = true;
    }

    /// Lines and bytes dropped since the last call, if any.
    pub fn take_dropped(&mut self) -> Option<(u64, u64)> {
        let d = (self.lines, self.bytes);
        (self.lines, self.bytes) = (0, 0);
        (d != (0, 0)).then_some(d)
    }

    /// The part of `input` after the line being skipped.
    fn skip<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        if !self.skipping || input.is_empty() {
            return input;
        }
        match find_newline(input) {
            Some(i) => {
                self.skipping = false;
                self.bytes += (i + 1) as u64;
                self.input_at_line_start = true;
                &input[i + 1..]
            }
            None => {
                self.bytes += input.len() as u64;
                &[]
            }
        }
    }

    /// Where the unfinished last line starts in `buf` (it is all unsent: see
    /// [`Backlog::disconnected`]).
    fn open_line_start(&self) -> usize {
        let unsent = &self.buf[self.sent..];
        match unsent.iter().rposition(|&b| b == b'\n') {
            Some(i) => self.sent + i + 1,
            None => self.sent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(b: &[u8]) -> Vec<String> {
        String::from_utf8_lossy(b)
            .split_inclusive('\n')
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn connected_keeps_everything_and_sends_in_order() {
        let mut b = Backlog::new(8);
        b.push(b"one\ntwo\nthr");
        assert!(b.full());
        b.push(b"ee\n");
        assert_eq!(b.unsent(), b"one\ntwo\nthree\n");
        b.consume(5);
        assert_eq!(b.unsent(), b"wo\nthree\n");
        b.consume(100);
        assert!(b.is_empty());
        assert_eq!(b.take_dropped(), None);
    }

    #[test]
    fn disconnected_keeps_whole_lines_within_the_cap() {
        let mut b = Backlog::new(10);
        b.push_bounded(b"aaa\nbbb\nccc\nddd\n");
        assert_eq!(b.unsent(), b"aaa\nbbb\n");
        assert_eq!(b.take_dropped(), Some((2, 8)));
        // A line arriving in pieces that stops fitting is dropped whole, buffered start included.
        let mut b = Backlog::new(10);
        b.push_bounded(b"aaa\nbb");
        b.push_bounded(b"bbbbbb");
        b.push_bounded(b"b\nc\n");
        assert_eq!(b.unsent(), b"aaa\nc\n");
        assert_eq!(b.take_dropped(), Some((1, 10)));
        // A line longer than the cap never fits.
        let mut b = Backlog::new(4);
        b.push_bounded(b"0123456789\nok\n");
        assert_eq!(b.unsent(), b"ok\n");
    }

    #[test]
    fn a_line_half_sent_when_the_peer_goes_is_dropped_not_split() {
        let mut b = Backlog::new(100);
        b.push(b"one\ntwo\nthr");
        b.consume(6); // "one\ntw" reached the old peer
        b.disconnected();
        // The rest of "two" is gone; "thr" was never sent, so it stays.
        assert_eq!(b.unsent(), b"thr");
        assert_eq!(b.take_dropped(), Some((1, 2)));
        // "thr" was buffered, not sent: it stays, and its end is kept too.
        b.push_bounded(b"ee\nfour\n");
        assert_eq!(lines(b.unsent()), ["three\n", "four\n"]);
    }

    #[test]
    fn the_rest_of_a_cut_line_still_arriving_is_dropped_when_it_comes() {
        let mut b = Backlog::new(100);
        b.push(b"partial");
        b.consume(3);
        b.disconnected();
        assert_eq!(b.unsent(), b"");
        b.push_bounded(b" line\nnext\n");
        assert_eq!(b.unsent(), b"next\n");
        assert_eq!(b.take_dropped(), Some((1, 4 + 6)));
        // Reconnected before the end came: still dropped.
        let mut b = Backlog::new(100);
        b.push(b"abc");
        b.consume(1);
        b.disconnected();
        b.push(b"def\nghi\n");
        assert_eq!(b.unsent(), b"ghi\n");
    }
}
