//! `--user` specs resolved against arbitrary passwd and group text: never panics; invariants hold
//! (body: `dock::fuzz_entry::user_spec`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::user_spec(data));
