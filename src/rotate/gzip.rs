//! The gzip container around flate2's raw deflate (RFC 1952): a 10-byte header, the deflate stream,
//! CRC-32 and length. Written here rather than with flate2's `GzBuilder` for size: that brings
//! crc32fast, whose fallback table alone is 16 KiB of the static binary's budget; the CRC below is
//! slice-by-4 (4 KiB of tables built at compile time), well above deflate's own speed.
//!
//! Registers nothing.

use std::io::{self, Write};

use flate2::write::DeflateEncoder;
use flate2::Compression;

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as gzip's trailer holds it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Crc32(u32);

/// Slice-by-4 tables: `T[0]` the byte-wise table, `T[k][b]` the CRC of `b` followed by `k` zeros.
// Indices are below 256 and values from u32 arithmetic: the casts cannot truncate.
#[allow(clippy::cast_possible_truncation)]
const T: [[u32; 256]; 4] = {
    let mut t = [[0u32; 256]; 4];
    let mut b = 0;
    while b < 256 {
        let mut c = b as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][b] = c;
        b += 1;
    }
    let mut b = 0;
    while b < 256 {
        let mut k = 1;
        while k < 4 {
            let prev = t[k - 1][b];
            t[k][b] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            k += 1;
        }
        b += 1;
    }
    t
};

impl Crc32 {
    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        let mut c = !self.0;
        let mut words = data.chunks_exact(4);
        for w in &mut words {
            c ^= u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            c = T[3][(c & 0xFF) as usize]
                ^ T[2][((c >> 8) & 0xFF) as usize]
                ^ T[1][((c >> 16) & 0xFF) as usize]
                ^ T[0][(c >> 24) as usize];
        }
        for &b in words.remainder() {
            c = (c >> 8) ^ T[0][((c ^ u32::from(b)) & 0xFF) as usize];
        }
        self.0 = !c;
    }

    /// The CRC of everything fed so far.
    pub fn sum(&self) -> u32 {
        self.0
    }
}

/// A gzip file being written to `W`.
pub struct GzWriter<W: Write> {
    deflate: DeflateEncoder<W>,
    crc: Crc32,
    /// Input length mod 2^32 (ISIZE).
    len: u32,
}

impl<W: Write> GzWriter<W> {
    /// Writes the header (MTIME = `mtime` seconds, 0 for "not available"; XFL 4 for the fastest
    /// level, as flate2 writes it; OS 3, Unix) and starts deflating at `level`.
    ///
    /// # Errors
    /// Writing the header failing.
    pub fn new(mut out: W, mtime: u32, level: Compression) -> io::Result<GzWriter<W>> {
        let m = mtime.to_le_bytes();
        let xfl = if level.level() <= 1 { 4 } else { 0 };
        out.write_all(&[0x1f, 0x8b, 8, 0, m[0], m[1], m[2], m[3], xfl, 3])?;
        Ok(GzWriter {
            deflate: DeflateEncoder::new(out, level),
            crc: Crc32::default(),
            len: 0,
        })
    }

    /// Compresses all of `buf`.
    ///
    /// # Errors
    /// Writing the output failing (ENOSPC).
    pub fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.crc.update(buf);
        // ISIZE is the length modulo 2^32 (RFC 1952): the truncation is the format's.
        #[allow(clippy::cast_possible_truncation)]
        let n = buf.len() as u32;
        self.len = self.len.wrapping_add(n);
        self.deflate.write_all(buf)
    }

    /// Ends the deflate stream and writes the trailer; returns the output.
    ///
    /// # Errors
    /// Writing the output failing.
    pub fn finish(self) -> io::Result<W> {
        let mut out = self.deflate.finish()?;
        out.write_all(&self.crc.sum().to_le_bytes())?;
        out.write_all(&self.len.to_le_bytes())?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn crc_matches_the_reference_values() {
        // RFC 3720 B.4 and the usual check value of "123456789".
        let mut c = Crc32::default();
        c.update(b"123456789");
        assert_eq!(c.sum(), 0xCBF4_3926);
        let mut c = Crc32::default();
        c.update(&[0u8; 32]);
        assert_eq!(c.sum(), 0x190A_55AD);
        // Fed in pieces of any size: the same as at once, and as flate2's own CRC.
        let data: Vec<u8> = (0..10_000u32)
            .map(|i| (i * 7 + i / 3).to_le_bytes()[0])
            .collect();
        let mut reference = flate2::Crc::new();
        reference.update(&data);
        for step in [1, 3, 4, 5, 64, 4097] {
            let mut c = Crc32::default();
            for piece in data.chunks(step) {
                c.update(piece);
            }
            assert_eq!(c.sum(), reference.sum(), "step {step}");
        }
    }

    #[test]
    fn a_gzip_any_reader_takes() {
        let data = "2026-12-02T15:04:05Z INFO something happened\n".repeat(5000);
        let mut w = GzWriter::new(Vec::new(), 1_709_251_199, Compression::fast()).unwrap();
        for piece in data.as_bytes().chunks(777) {
            w.write_all(piece).unwrap();
        }
        let gz = w.finish().unwrap();
        assert_eq!(&gz[..4], &[0x1f, 0x8b, 8, 0]);
        assert_eq!(
            u32::from_le_bytes(gz[4..8].try_into().unwrap()),
            1_709_251_199
        );
        let mut back = String::new();
        // flate2's decoder checks the CRC and ISIZE trailer.
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, data);
        assert!(gz.len() < data.len() / 5);
    }
}
