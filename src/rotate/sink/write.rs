//! The sink's write path: where lines go (the size rule, a rotation waiting for a line's end), and
//! what happens to bytes a failed write could not put down (module above: dropped, counted, the cut
//! line ended when writes work again).
//!
//! Registers nothing.

use std::io::{self, Write};

use super::{FileSink, Loss};
use crate::bytes::find_newline;

impl FileSink {
    /// Writes all of `buf`, switching files at line boundaries as rotation asks. Never fails: bytes
    /// that cannot be written are dropped and counted (module header), so the child is never
    /// blocked by a full disk.
    ///
    /// # Errors
    /// None; the `io::Result` is the relay's sink interface.
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() {
            if self.skipping {
                let n = match find_newline(rest) {
                    Some(i) => {
                        self.skipping = false;
                        i + 1
                    }
                    None => rest.len(),
                };
                if let Some(l) = &mut self.loss {
                    l.bytes += n as u64;
                }
                self.at_line_start = rest[n - 1] == b'\n';
                rest = &rest[n..];
                continue;
            }
            if self.at_line_start {
                self.before_line(rest);
            }
            let n = self.span(rest);
            self.put(&rest[..n]);
            rest = &rest[n..];
            if self.at_line_start {
                self.after_line();
            }
        }
        Ok(buf.len())
    }

    /// At a line start, with `--log-max-size`: a file that the first line of `rest` would take past
    /// SIZE is rotated first.
    fn before_line(&mut self, rest: &[u8]) {
        let Some(max) = self.rotation.as_ref().and_then(|r| r.max_size) else {
            return;
        };
        let line = find_newline(rest).map_or(rest.len(), |i| i + 1) as u64;
        if self.size > 0 && self.size + line > max && self.size_may_rotate() {
            self.switch();
        }
    }

    /// A line just ended: a rotation waiting for it happens now, and a file at SIZE (a line longer
    /// than SIZE) rotates.
    fn after_line(&mut self) {
        let Some(rot) = &self.rotation else { return };
        let full = rot.max_size.is_some_and(|max| self.size >= max) && self.size_may_rotate();
        if rot.pending || full {
            self.switch();
        }
    }

    /// Whether a size rotation may be tried: not again right after one failed (until the file has
    /// grown by another SIZE), so a directory that refuses renames is not asked at every line.
    fn size_may_rotate(&self) -> bool {
        self.rotation
            .as_ref()
            .is_some_and(|r| self.size >= r.size_retry_at)
    }

    /// How much of `rest` to write before the next decision: to the end of the line being
    /// written when a rotation waits for it, up to the last whole line that fits with
    /// `--log-max-size`, else all.
    fn span(&self, rest: &[u8]) -> usize {
        let to_line_end = || find_newline(rest).map_or(rest.len(), |i| i + 1);
        let Some(rot) = &self.rotation else {
            return rest.len();
        };
        if rot.pending {
            return to_line_end();
        }
        let Some(max) = rot.max_size else {
            return rest.len();
        };
        let room = usize::try_from(max.saturating_sub(self.size)).unwrap_or(usize::MAX);
        if rest.len() <= room {
            return rest.len();
        }
        if !self.at_line_start || room == 0 {
            return to_line_end();
        }
        match rest[..room].iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            // A line longer than SIZE in an empty file: whole, then the file rotates.
            None => to_line_end(),
        }
    }

    /// Writes `bytes` (all of them, or drops what fails, counting it).
    fn put(&mut self, bytes: &[u8]) {
        if self.loss.is_some() && !self.file_at_line_start && self.at_line_start {
            // Writing again after a failure cut a line: end that line first.
            if self.write_all(b"\n").is_err() {
                return self.dropped(bytes);
            }
        }
        let mut off = 0;
        while off < bytes.len() {
            match self.file.write(&bytes[off..]) {
                Ok(0) => return self.failed(&bytes[off..], io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    off += n;
                    self.size += n as u64;
                    self.file_at_line_start = bytes[off - 1] == b'\n';
                    self.resumed();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.failed(&bytes[off..], e),
            }
        }
        self.at_line_start = bytes.last() == Some(&b'\n');
    }

    pub(super) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        self.file_at_line_start = bytes.last() == Some(&b'\n');
        Ok(())
    }

    /// A write failed with `e`: `unwritten` is dropped, and the rest of its last line with it.
    fn failed(&mut self, unwritten: &[u8], e: io::Error) {
        if self.loss.is_none() {
            crate::warn!(
                "--io {}: {}; dropping output until writes work again",
                self.path.display(),
                crate::log::reason(&e)
            );
            self.loss = Some(Loss { bytes: 0, lines: 0 });
        }
        self.dropped(unwritten);
    }

    /// Counts `bytes` as dropped: each line they touch, and the rest of the last one to come.
    fn dropped(&mut self, bytes: &[u8]) {
        let Some(l) = &mut self.loss else { return };
        let Some(&last) = bytes.last() else { return };
        l.bytes += bytes.len() as u64;
        l.lines += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        if last != b'\n' {
            l.lines += 1;
            self.skipping = true;
        }
        self.at_line_start = last == b'\n';
    }

    /// A write worked: if writes were failing, say what was lost.
    fn resumed(&mut self) {
        if let Some(l) = self.loss.take() {
            crate::warn!(
                "--io {}: writing again; dropped {} bytes ({} lines) while writes failed",
                self.path.display(),
                l.bytes,
                l.lines
            );
        }
    }

    /// At exit: what was dropped and never reported (writes never worked again).
    pub fn finish(&mut self) {
        if let Some(l) = self.loss.take() {
            crate::warn!(
                "--io {}: exiting with {} bytes ({} lines) dropped: writes kept failing",
                self.path.display(),
                l.bytes,
                l.lines
            );
        }
    }
}
