//! The line prefixer fed a stream in arbitrary chunks produces exactly the one-shot result.
//! (body: `dock::fuzz_entry::prefix`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::prefix(data));
