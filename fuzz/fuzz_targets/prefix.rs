//! The line prefixer fed a stream in arbitrary chunks produces exactly the one-shot result.
//! Input layout: [prefix length][prefix][chunk length seed bytes (8)][stream].
#![no_main]
use dock::io::prefix::{prefix_lines, Prefixer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&plen, rest)) = data.split_first() else {
        return;
    };
    let plen = usize::from(plen % 16).min(rest.len());
    let (prefix, rest) = rest.split_at(plen);
    let seeds_len = rest.len().min(8);
    let (seeds, stream) = rest.split_at(seeds_len);
    let mut p = Prefixer::new(prefix.to_vec());
    let mut out = Vec::new();
    let mut left = stream;
    let mut k = 0;
    while !left.is_empty() {
        // Chunk sizes 0..=64 (empty reads included), cycling through the seeds.
        let n = seeds.get(k % seeds_len.max(1)).map_or(1, |&s| usize::from(s % 65));
        let n = n.min(left.len());
        p.feed(&left[..n], &mut out);
        left = &left[n..];
        k += 1;
        if k > stream.len() * 2 + 16 && n == 0 {
            // Only empty chunks from here: finish in one.
            p.feed(left, &mut out);
            break;
        }
    }
    assert_eq!(out, prefix_lines(prefix, stream));
    assert_eq!(p.at_line_start(), stream.is_empty() || stream.ends_with(b"\n"));
});
