//! The relay's line framer (prefix, stamps, JSON) fed a stream in arbitrary chunks and bounded
//! pieces produces exactly the one-shot framing (body: `dock::fuzz_entry::frame`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::frame(data));
