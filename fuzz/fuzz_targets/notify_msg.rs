//! sd_notify datagrams on arbitrary bytes: never panics; what parses is well-formed and writes back
//! (body: `dock::fuzz_entry::notify_msg`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::notify_msg(data));
