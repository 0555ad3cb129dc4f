//! The `--no-pty` backlog under arbitrary pushes, sends and disconnections keeps lines whole
//! (body: `dock::fuzz_entry::backlog`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::backlog(data));
