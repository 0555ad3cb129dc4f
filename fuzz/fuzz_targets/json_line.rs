//! Docker json-file lines for arbitrary bytes read back with serde_json; stamps parse back
//! (body: `dock::fuzz_entry::json_line`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::json_line(data));
