//! Every `--flag VALUE` parser on arbitrary text: never panics (body: `dock::fuzz_entry::cli_values`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::cli_values(data));
