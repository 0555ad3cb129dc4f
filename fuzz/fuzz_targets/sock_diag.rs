//! The sock_diag reply parser on arbitrary datagrams: never panics, never loops, and every socket it
//! (body: `dock::fuzz_entry::sock_diag`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::sock_diag(data));
