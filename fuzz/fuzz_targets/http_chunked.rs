//! The HTTP client's chunked body decoder: arbitrary bodies fed whole, split and byte by byte must
//! agree; generated valid bodies of any number of chunks must decode (body:
//! `dock::fuzz_entry::http_chunked`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::http_chunked(data));
