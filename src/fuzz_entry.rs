//! The bodies of the cargo-fuzz targets (`fuzz/fuzz_targets/<name>.rs`), as library functions, so the
//! seed corpora (`fuzz/corpus/<name>/`) also run as a regression test on stable without cargo-fuzz
//! (`tests/it/fuzz_corpus.rs`). Each function takes arbitrary bytes and must not panic; a panic is the
//! bug the fuzzer reports. Registers no fds.

use crate::cli::values;

/// A fuzz target body: arbitrary bytes in, no panic.
pub type Target = fn(&[u8]);

/// Every target by its cargo-fuzz name (the `[[bin]]` name in fuzz/Cargo.toml and the corpus folder).
pub const TARGETS: &[(&str, Target)] = &[("cli_values", cli_values)];

/// Every `--flag VALUE` parser of `cli::values` on the input as text (non-UTF-8 input is skipped:
/// argv reaches the parsers only after a UTF-8 check). Checks the shape of what parses, too.
pub fn cli_values(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(values::IoTarget::Net { host, port, .. }) = values::parse_io(s) {
        assert!(
            !host.is_empty() && port != 0,
            "net --io {host:?}:{port} from {s:?}"
        );
    }
    if let Ok(u) = values::parse_hook_url(s) {
        assert!(u.path.starts_with('/'), "hook path {:?} from {s:?}", u.path);
        assert!(
            !u.host.is_empty() && u.port != 0,
            "hook host:port from {s:?}"
        );
    }
    if let Ok(p) = values::parse_port(s) {
        assert!(p != 0, "port 0 from {s:?}");
    }
    if let Ok(d) = values::parse_rotate_period(s) {
        assert!(!d.is_zero(), "zero rotation period from {s:?}");
    }
    let _ = values::parse_grace(s);
    if let Ok(n) = values::parse_keep(s) {
        assert!(n >= 1, "--log-keep 0 from {s:?}");
    }
    if let Ok(p) = values::parse_prefix(s) {
        // The text is what stands before the color suffix, or the whole value.
        match p.color {
            None => assert_eq!(p.text, s, "uncolored prefix changed"),
            Some(_) => assert!(s.starts_with(&p.text) && s[p.text.len()..].starts_with(':')),
        }
        let _ = p.bytes();
    }
}
