//! `/proc/<pid>/status` signal masks (`--thug`) on arbitrary text (body: `dock::fuzz_entry::proc_status`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::proc_status(data));
