//! The rotation schedule on arbitrary clocks and periods: never panics; the next rotation is the right one
//! (body: `dock::fuzz_entry::rotate_clock`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::rotate_clock(data));
