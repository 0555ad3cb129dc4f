//! Every signal and exit-code spec parser on arbitrary text; printed names read back
//! (body: `dock::fuzz_entry::signal_spec`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::signal_spec(data));
