//! Byte scans shared by the relay's line framer (`io::frame`) and the file sink (`rotate::sink`),
//! on the hot path of every relayed byte.
//!
//! Registers nothing.

/// Index of the first `\n` in `s`. Word at a time: relaying 200 MB of short lines spends most of its
/// time here, and a byte loop is several times slower than the copies around it (dock ships at
/// opt-level "z", where byte loops are not vectorised).
pub fn find_newline(s: &[u8]) -> Option<usize> {
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
