//! Archive and temporary file names read back from a directory listing (outside input: anyone can put
//! (body: `dock::fuzz_entry::archive_name`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::archive_name(data));
