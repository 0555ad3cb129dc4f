//! The `--stdout-prefix` line prefixer: pure, fed the child's output in whatever chunks `read(2)`
//! returns, producing exactly what prefixing the whole stream at once would (docs/io.md).
//!
//! The prefix of a line is emitted lazily, when the line's first byte arrives, not when the previous
//! line's newline does: so a line split across reads gets one prefix, and nothing dangles after the
//! last line (the original Go dock wrote one after every chunk ending in `\n`, including the last).
//!
//! Registers nothing.

/// Puts a fixed prefix before every line of a byte stream fed in arbitrary chunks.
#[derive(Debug, Clone)]
pub struct Prefixer {
    prefix: Vec<u8>,
    /// The next byte fed starts a line (true at the start of the stream and after each `\n`).
    at_line_start: bool,
}

impl Prefixer {
    /// A prefixer putting `prefix` (the exact bytes, e.g. from `cli::Prefix::bytes`) before each line.
    pub fn new(prefix: Vec<u8>) -> Prefixer {
        Prefixer {
            prefix,
            at_line_start: true,
        }
    }

    /// Whether the stream so far ends at a line boundary (empty, or its last byte was `\n`).
    #[cfg(any(test, feature = "fuzz"))]
    pub fn at_line_start(&self) -> bool {
        self.at_line_start
    }

    /// Appends `input`, prefixed, to `out`. Feeding a stream in any chunking appends the same bytes
    /// as [`prefix_lines`] on the whole stream. Grows `out` by at most
    /// `input.len() * (1 + prefix.len())` bytes (every byte a newline).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut rest = input;
        while !rest.is_empty() {
            if self.at_line_start {
                out.extend_from_slice(&self.prefix);
            }
            match find_newline(rest) {
                Some(i) => {
                    out.extend_from_slice(&rest[..=i]);
                    rest = &rest[i + 1..];
                    self.at_line_start = true;
                }
                None => {
                    out.extend_from_slice(rest);
                    self.at_line_start = false;
                    return;
                }
            }
        }
    }
}

/// Prefixes every line of a complete stream at once: the reference [`Prefixer::feed`] must match.
/// A line is a run of bytes ending in `\n`, or the non-empty tail after the last `\n`.
#[cfg(any(test, feature = "fuzz"))]
pub fn prefix_lines(prefix: &[u8], input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for line in input.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(prefix);
        out.extend_from_slice(line);
    }
    out
}

/// Index of the first `\n` in `s`. Word at a time: relaying 200 MB of short lines spends most of its
/// time here, and a byte loop is several times slower than the copies around it.
fn find_newline(s: &[u8]) -> Option<usize> {
    const W: usize = std::mem::size_of::<usize>();
    const LO: usize = usize::from_ne_bytes([0x01; W]);
    const HI: usize = usize::from_ne_bytes([0x80; W]);
    const NL: usize = usize::from_ne_bytes([b'\n'; W]);
    let mut i = 0;
    while i + W <= s.len() {
        let mut word = [0u8; W];
        word.copy_from_slice(&s[i..i + W]);
        let x = usize::from_ne_bytes(word) ^ NL;
        // "has a zero byte" (Hacker's Delight 6-1): exact about whether one exists, so the byte scan
        // below only runs on a word that holds a newline.
        if x.wrapping_sub(LO) & !x & HI != 0 {
            break;
        }
        i += W;
    }
    s[i..].iter().position(|&b| b == b'\n').map(|p| i + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(prefix: &[u8], input: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut p = Prefixer::new(prefix.to_vec());
        let mut out = Vec::new();
        let mut rest = input;
        let mut k = 0;
        while !rest.is_empty() {
            let n = sizes[k % sizes.len()].min(rest.len());
            p.feed(&rest[..n], &mut out);
            rest = &rest[n..];
            k += 1;
        }
        out
    }

    #[test]
    fn one_shot_cases() {
        assert_eq!(prefix_lines(b"P ", b""), b"");
        assert_eq!(prefix_lines(b"P ", b"a\n"), b"P a\n");
        assert_eq!(prefix_lines(b"P ", b"a\nb"), b"P a\nP b");
        assert_eq!(prefix_lines(b"P ", b"\n\n"), b"P \nP \n");
        assert_eq!(prefix_lines(b"", b"x\ny\n"), b"x\ny\n");
    }

    #[test]
    fn a_line_split_across_reads_gets_one_prefix() {
        let mut p = Prefixer::new(b"web: ".to_vec());
        let mut out = Vec::new();
        p.feed(b"hel", &mut out);
        p.feed(b"lo\nwor", &mut out);
        p.feed(b"ld\n", &mut out);
        assert_eq!(out, b"web: hello\nweb: world\n");
        assert!(p.at_line_start());
    }

    #[test]
    fn many_lines_in_one_read_and_nothing_dangles() {
        let mut p = Prefixer::new(b">".to_vec());
        let mut out = Vec::new();
        p.feed(b"a\nb\nc\n", &mut out);
        assert_eq!(out, b">a\n>b\n>c\n");
        p.feed(b"", &mut out);
        assert_eq!(out, b">a\n>b\n>c\n");
        p.feed(b"tail", &mut out);
        assert_eq!(out, b">a\n>b\n>c\n>tail");
        assert!(!p.at_line_start());
    }

    #[test]
    fn a_one_mib_line_gets_exactly_one_prefix() {
        let line: Vec<u8> = std::iter::repeat_n(b'x', 1 << 20)
            .chain(std::iter::once(b'\n'))
            .collect();
        let prefix = b"\x1b[31;1mP\x1b[0m";
        let out = chunked(prefix, &line, &[4096, 1, 65536, 7]);
        assert_eq!(out.len(), line.len() + prefix.len());
        assert!(out.starts_with(b"\x1b[31;1mP\x1b[0mxxx"));
        assert_eq!(out.windows(3).filter(|w| w == b"\x1b[0").count(), 1);
    }

    #[test]
    fn every_chunking_matches_one_shot() {
        let input = b"one\ntwo\n\nthree long line with words\nx\n\n\nlast without newline";
        let want = prefix_lines(b"[p] ", input);
        for a in 1..=input.len() {
            for b in [1, 2, 3, 5, 8, 64] {
                assert_eq!(chunked(b"[p] ", input, &[a, b]), want, "chunks {a},{b}");
            }
        }
    }

    #[test]
    fn find_newline_agrees_with_a_byte_scan() {
        let mut s = vec![b'a'; 100];
        assert_eq!(find_newline(&s), None);
        for i in 0..100 {
            s[i] = b'\n';
            assert_eq!(find_newline(&s), Some(i));
            assert_eq!(find_newline(&s[i..]), Some(0));
            s[i] = 0x8a; // '\n' | 0x80: must not be mistaken for a newline
            assert_eq!(find_newline(&s), None);
            s[i] = b'a';
        }
    }
}
