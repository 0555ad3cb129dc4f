//! `--rewrite`, `--remap-exit`, `--pdeathsig`, `--user` values and the forgotten-value scan of the
//! command line: never panics; invariants hold (body: `dock::fuzz_entry::process_args`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dock::fuzz_entry::process_args(data));
