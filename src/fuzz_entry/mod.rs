//! The bodies of the cargo-fuzz targets (`fuzz/fuzz_targets/<name>.rs`), as library functions, so the
//! seed corpora (`fuzz/corpus/<name>/`) also run as a regression test on stable without cargo-fuzz
//! (this module's tests). Built only for tests and with the `fuzz` feature, which only the fuzz
//! crate turns on: not part of the shipped library. Each function takes arbitrary bytes and must not panic; a panic is the
//! bug the fuzzer reports. Registers no fds.

// A fuzz body's panic is the bug the fuzzer reports, and its casts cut arbitrary input on purpose.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

mod logs;
mod options;

use crate::cli::values;
pub use logs::{backlog, frame};
pub use options::{
    json_line, notify_msg, process_args, rotate_clock, signal_spec, size_spec, user_spec,
};

/// A fuzz target body: arbitrary bytes in, no panic.
pub type Target = fn(&[u8]);

/// Every target by its cargo-fuzz name (the `[[bin]]` name in fuzz/Cargo.toml and the corpus folder).
pub const TARGETS: &[(&str, Target)] = &[
    ("cli_values", cli_values),
    ("archive_name", archive_name),
    ("http_response", http_response),
    ("prefix", prefix),
    ("sock_diag", sock_diag),
    ("proc_status", proc_status),
    ("signal_spec", signal_spec),
    ("user_spec", user_spec),
    ("json_line", json_line),
    ("size_spec", size_spec),
    ("rotate_clock", rotate_clock),
    ("notify_msg", notify_msg),
    ("http_chunked", http_chunked),
    ("process_args", process_args),
    ("frame", frame),
    ("backlog", backlog),
];

/// Every `--flag VALUE` parser of `cli::values` on the input as text (non-UTF-8 input is skipped:
/// argv reaches the parsers only after a UTF-8 check). Checks the shape of what parses, too, and
/// the masking of URL secrets in messages (`log::redact`, `log::mask`).
pub fn cli_values(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(crate::io::IoTarget::Net { host, port, .. }) = values::parse_io(s) {
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
    if let Ok(n) = values::parse_ready_fd(s) {
        assert!(n >= 3, "--ready-fd {n} from {s:?}");
    }
    if let Ok(d) = values::parse_ready_timeout(s) {
        assert!(
            d >= std::time::Duration::from_millis(1),
            "--ready-timeout {d:?} from {s:?}"
        );
    }
    if let Ok(Some(addr)) = values::parse_notify(s) {
        use crate::ready::notify::NotifyAddr;
        match addr {
            NotifyAddr::Auto => {}
            NotifyAddr::Abstract(n) => assert!(
                !n.is_empty() && n.len() <= 107 && s == format!("@{}", String::from_utf8_lossy(&n))
            ),
            NotifyAddr::Path(p) => assert!(p.is_absolute() && s.len() <= 107 && p.as_os_str() == s),
        }
    }
    // Masking URL secrets in any text (every message goes through it): idempotent, and what it
    // masks of a value is gone from it.
    let once = crate::log::redact(s).into_owned();
    assert_eq!(
        crate::log::redact(&once),
        once,
        "redact not idempotent on {s:?}"
    );
    let secrets = crate::log::url_secrets(s);
    let masked = crate::log::mask(s, &secrets);
    // (A secret with the mask's own `*` in it can be formed again by the mask next to it.)
    for secret in secrets.iter().filter(|x| !x.contains('*')) {
        assert!(!masked.contains(secret), "{secret:?} left in {masked:?}");
    }
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

/// Archive and temporary file names read back from a directory listing (outside input: anyone can put
/// files there): never panics, and what parses is exactly what dock would write.
pub fn archive_name(data: &[u8]) {
    use crate::rotate::name;

    // First byte: length of the base name; the rest, '/'-separated, are directory entries.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (base, listing) = rest.split_at((n as usize).min(rest.len()));
    let names: Vec<&[u8]> = listing.split(|&b| b == b'/').collect();
    for &nm in &names {
        if let Some(k) = name::parse_archive_name(base, nm) {
            assert_eq!(name::archive_name(base, k), nm);
            assert!(name::is_part_name(base, &name::part_name(base, k)));
        }
        if let Some((secs, counter)) = name::parse_temp_name(base, nm) {
            assert_eq!(name::temp_name(base, secs, counter), nm);
        }
        let _ = name::is_part_name(base, nm);
    }
    for keep in [0usize, 1, 2, 5] {
        let del = name::to_delete(base, names.iter().copied(), keep);
        assert!(del
            .iter()
            .all(|d| name::parse_archive_name(base, d).is_some()));
    }
    if let Some(newest) = name::newest(base, names.iter().copied()) {
        assert!(name::next_key(Some(newest), 0) > newest || newest.seq == u32::MAX);
    }
}

/// The HTTP client's response parser on arbitrary bytes, fed in two pieces split at the first byte's
/// value, then closed: never panics, and agrees with feeding it all at once.
pub fn http_response(data: &[u8]) {
    use crate::http::response::{HttpError, Response, ResponseParser};
    fn run(parts: &[&[u8]]) -> Result<Response, HttpError> {
        let mut p = ResponseParser::new();
        for part in parts {
            if let Some(r) = p.feed(part)? {
                return Ok(r);
            }
        }
        p.eof()
    }

    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(rest.len());
    let (a, b) = rest.split_at(cut);
    assert_eq!(run(&[a, b]), run(&[rest]));
}

/// The chunked body decoder (RFC 9112 §7.1) behind a fixed `Transfer-Encoding: chunked` head.
/// First byte even: the rest is raw body bytes, fed whole, split at the second byte's value and byte
/// by byte, which must all agree (and a body that is complete stays complete). First byte odd: the
/// rest describes a valid body (each byte a chunk of that many bytes, `b % 5` extension bytes), which
/// must decode whatever its number of chunks.
pub fn http_chunked(data: &[u8]) {
    use crate::http::response::{HttpError, Response, ResponseParser};
    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    fn run(parts: &[&[u8]]) -> Result<Option<Response>, HttpError> {
        let mut p = ResponseParser::new();
        p.feed(HEAD)?;
        for part in parts {
            if let Some(r) = p.feed(part)? {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let cut = rest.first().map_or(0, |&c| usize::from(c)).min(rest.len());
        let (a, b) = rest.split_at(cut);
        let whole = run(&[rest]);
        assert_eq!(run(&[a, b]), whole);
        let bytes: Vec<&[u8]> = rest.chunks(1).collect();
        assert_eq!(run(&bytes), whole);
        return;
    }
    // Each byte up to the first 0 is a chunk of that many bytes with `b % 5` extension bytes.
    let mut body = Vec::new();
    for &b in rest.iter().take_while(|&&b| b != 0) {
        body.extend_from_slice(format!("{b:x}").as_bytes());
        if b % 5 > 0 {
            body.push(b';');
            body.extend(std::iter::repeat_n(b'e', usize::from(b % 5)));
        }
        body.extend_from_slice(b"\r\n");
        body.extend(std::iter::repeat_n(b'd', usize::from(b)));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\nX-T: 1\r\n\r\n");
    let ok = run(&[&body]);
    assert!(matches!(&ok, Ok(Some(r)) if r.code == 200), "{ok:?}");
}

/// The line prefixer fed a stream in arbitrary chunks produces exactly the one-shot result.
/// Input layout: [prefix length][prefix][chunk length seed bytes (8)][stream].
/// The line framer with a prefix only, fed a stream in arbitrary chunks, produces exactly the
/// one-shot result. Input layout: [prefix length][prefix][chunk length seed bytes (8)][stream].
pub fn prefix(data: &[u8]) {
    use crate::io::frame::{frame_all, Frame, Framer};

    let Some((&plen, rest)) = data.split_first() else {
        return;
    };
    let plen = usize::from(plen % 16).min(rest.len());
    let (prefix, rest) = rest.split_at(plen);
    let seeds_len = rest.len().min(8);
    let (seeds, stream) = rest.split_at(seeds_len);
    let frame = Frame {
        prefix: prefix.to_vec(),
        ..Frame::default()
    };
    let mut p = Framer::new(frame.clone());
    let mut out = Vec::new();
    let mut left = stream;
    let mut k = 0;
    while !left.is_empty() {
        // Chunk sizes 0..=64 (empty reads included), cycling through the seeds.
        let n = seeds
            .get(k % seeds_len.max(1))
            .map_or(1, |&s| usize::from(s % 65));
        let n = n.min(left.len());
        let mut done = 0;
        while done < n {
            done += p.feed(
                &left[done..n],
                std::time::Duration::ZERO,
                &mut out,
                usize::MAX,
            );
        }
        left = &left[n..];
        k += 1;
        if k > stream.len() * 2 + 16 && n == 0 {
            // Only empty chunks from here: finish in one.
            p.feed(left, std::time::Duration::ZERO, &mut out, usize::MAX);
            break;
        }
    }
    assert_eq!(out, frame_all(&frame, stream, &[]));
    assert_eq!(
        p.at_line_start(),
        stream.is_empty() || stream.ends_with(b"\n")
    );
}

/// The sock_diag reply parser on arbitrary datagrams: never panics, never loops, and every socket it
/// returns came from a message of the requested sequence number.
pub fn sock_diag(data: &[u8]) {
    use crate::ports::diag;

    // The first 4 bytes pick the sequence number, the rest is one datagram.
    let (seq, gram) = match data.split_first_chunk::<4>() {
        Some((s, g)) => (u32::from_ne_bytes(*s), g),
        None => (0, data),
    };
    let mut out = Vec::new();
    let _ = diag::parse(gram, seq, &mut out);
    // Each inet_diag_msg is at least 16 + 72 bytes of its datagram.
    assert!(out.len() <= gram.len() / 88);
    for s in &out {
        let _ = s.listens_on(s.port);
    }
}

/// The `/proc/<pid>/status` mask readers (`--thug`) on arbitrary text: never panic; an ignored stop
/// signal means SIGKILL, a blocked one a re-check, and only a blocked one can be "still refused".
pub fn proc_status(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    use crate::signals::thug::{still_refused, thug_verdict, Thug, STOP_SIGNALS};
    if let Some(masks) = crate::procfs::parse_status_masks(s) {
        for sig in STOP_SIGNALS {
            let bit = 1u64 << (sig - 1);
            let want = if masks.1 & bit != 0 {
                Thug::Kill
            } else if masks.0 & bit != 0 {
                Thug::Recheck
            } else {
                Thug::Forward
            };
            assert_eq!(thug_verdict(sig, masks), want);
            let refused = still_refused(sig, s);
            assert!(!refused || masks.0 & bit != 0);
        }
    }
    let _ = crate::procfs::parse_status_pending(s);
}

#[cfg(test)]
mod tests;
