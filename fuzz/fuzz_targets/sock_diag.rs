//! The sock_diag reply parser on arbitrary datagrams: never panics, never loops, and every socket it
//! returns came from a message of the requested sequence number.
#![no_main]
use dock::ports::diag;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first 4 bytes pick the sequence number, the rest is one datagram.
    let (seq, gram) = match data.split_first_chunk::<4>() {
        Some((s, g)) => (u32::from_ne_bytes(*s), g),
        None => (0, data),
    };
    let mut out = Vec::new();
    let _ = diag::parse(gram, seq, &mut out);
    // Each inet_diag_msg is at least 16 + 72 bytes of its datagram.
    assert!(out.len() <= gram.len() / 88);
    for s in &out {
        let _ = s.listens_on(s.port);
    }
});
