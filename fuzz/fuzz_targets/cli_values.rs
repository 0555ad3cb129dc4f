//! Every `--flag VALUE` parser on arbitrary text: never panics.
#![no_main]
use dock::cli::values;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = values::parse_io(s);
        let _ = values::parse_hook_url(s);
        let _ = values::parse_port(s);
        let _ = values::parse_rotate_period(s);
        let _ = values::parse_grace(s);
        let _ = values::parse_keep(s);
        if let Ok(p) = values::parse_prefix(s) {
            let _ = p.bytes();
        }
    }
});
