//! `--log-max-size` on arbitrary text: never panics; what parses is ≥ 1 and case-blind
//! (body: `dock::fuzz_entry::size_spec`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::size_spec(data));
