//! The hook's HTTP response parser on arbitrary bytes, fed in two pieces split at the first byte's
//! (body: `dock::fuzz_entry::http_response`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::http_response(data));
