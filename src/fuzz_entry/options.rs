//! Fuzz bodies for the parsers and formatters of the newer options: signal and exit specs, user
//! specs with passwd/group text, Docker JSON log lines, sizes, wall-clock rotation, sd_notify
//! datagrams.

/// Every signal and exit-code spec parser (`--rewrite`, `--pdeathsig`, `--remap-exit` and their
/// `DOCK_*` lists) on arbitrary text: never panics, what parses is in range, and every accepted
/// signal's printed name (in any case) reads back to it.
pub fn signal_spec(data: &[u8]) {
    use crate::signals::spec;

    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(n) = spec::parse_signal(s) {
        assert!((1..=64).contains(&n), "signal {n} from {s:?}");
        let name = spec::signal_name(n);
        assert_eq!(spec::parse_signal(&name), Ok(n), "{name}");
        assert_eq!(spec::parse_signal(&name.to_lowercase()), Ok(n), "{name}");
    }
    if let Ok((from, to)) = spec::parse_rewrite(s) {
        assert!((1..=64).contains(&from) && (0..=64).contains(&to), "{s:?}");
    }
    if let Ok(list) = spec::parse_rewrite_list(s) {
        assert_eq!(list.len(), s.split(',').count(), "{s:?}");
    }
    if let Ok(list) = spec::parse_rewrite_list(s) {
        // The table sends each FROM as its last rule says, everything else as itself.
        let table = spec::Rewrites::new(&list);
        for sig in 0..=65 {
            let want = list.iter().rev().find(|r| r.0 == sig).map_or(sig, |r| r.1);
            assert_eq!(table.get(sig), want, "{s:?} {sig}");
        }
    }
    let _ = spec::parse_remap_exit(s);
    if let Ok(list) = spec::parse_remap_exit_list(s) {
        assert_eq!(list.len(), s.split(',').count(), "{s:?}");
        let table = spec::ExitRemap::new(&list);
        for code in 0..=255 {
            let want = list
                .iter()
                .rev()
                .find(|r| i32::from(r.0) == code)
                .map_or(code, |r| i32::from(r.1));
            assert_eq!(table.get(code), want, "{s:?} {code}");
        }
    }
}

/// The values of `--rewrite`, `--remap-exit`, `--pdeathsig`, `--user` as dock takes them, and the
/// forgotten-value scan of the command line. Input: words separated by NUL, the argv after the
/// program name. Never panics; no rewrite of a signal dock never forwards, no pdeathsig dock cannot
/// act on; a usage line is one line.
pub fn process_args(data: &[u8]) {
    use crate::cli::values::process as p;

    let words: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    for w in words.iter().filter_map(|w| std::str::from_utf8(w).ok()) {
        if let Ok(rules) = p::parse_rewrites(w) {
            assert!(rules
                .iter()
                .all(|r| ![libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD].contains(&r.0)));
        }
        if let Ok(sig) = p::parse_pdeathsig(w) {
            assert!((1..=64).contains(&sig) && sig != libc::SIGSTOP && sig != libc::SIGCHLD);
        }
        if let Ok(u) = p::parse_user(w) {
            assert_eq!(u.text, w);
        }
        let _ = p::parse_remap_exits(w);
    }
    let argv: Vec<std::ffi::OsString> = std::iter::once(&b"dock"[..])
        .chain(words.iter().copied())
        .map(|w| {
            use std::os::unix::ffi::OsStrExt;
            std::ffi::OsStr::from_bytes(w).to_os_string()
        })
        .collect();
    let unknown = words.last().and_then(|w| std::str::from_utf8(w).ok());
    if let Some(e) = crate::cli::first_bad_value(&argv, unknown) {
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}

/// `--user` resolved against arbitrary passwd and group text (outside input: the container's files).
/// Input layout: spec NUL passwd NUL group; the files go through `from_utf8_lossy` as the caller reads
/// them. Never panics; the primary gid comes first in the groups, once; an explicit GROUP is the only
/// group; a uid is kept; a name's uid is that of the first passwd line with that name.
pub fn user_spec(data: &[u8]) {
    use crate::supervisor::user::{self as us, GroupRef, UserRef};

    let mut parts = data.splitn(3, |&b| b == 0);
    let (spec, passwd, group) = (
        parts.next().unwrap_or_default(),
        String::from_utf8_lossy(parts.next().unwrap_or_default()),
        String::from_utf8_lossy(parts.next().unwrap_or_default()),
    );
    for line in passwd.lines() {
        if let Some(e) = us::parse_passwd_line(line) {
            assert!(!e.name.is_empty() && !e.name.contains(':') && !e.home.contains(':'));
        }
    }
    for line in group.lines() {
        if let Some(g) = us::parse_group_line(line) {
            assert!(g
                .members
                .iter()
                .all(|m| !m.is_empty() && !m.contains([',', ':'])));
        }
    }
    let Ok(spec) = std::str::from_utf8(spec) else {
        return;
    };
    let Ok((user, grp)) = us::parse_user_spec(spec) else {
        return;
    };
    let Ok(c) = us::resolve(&user, grp.as_ref(), &passwd, &group) else {
        return;
    };
    assert_eq!(c.groups.first(), Some(&c.gid), "{c:?}");
    let distinct: std::collections::HashSet<_> = c.groups.iter().collect();
    assert_eq!(distinct.len(), c.groups.len(), "{c:?}");
    assert!(!c.home.is_empty());
    match grp {
        Some(GroupRef::Id(g)) => assert_eq!(c.groups, [g]),
        Some(GroupRef::Name(_)) => assert_eq!(c.groups.len(), 1),
        None => {}
    }
    match user {
        UserRef::Id(u) => assert_eq!(c.uid, u),
        UserRef::Name(n) => {
            let first = passwd
                .lines()
                .filter_map(us::parse_passwd_line)
                .find(|e| e.name == n);
            assert_eq!(first.map(|e| e.uid), Some(c.uid));
        }
    }
}

/// `--log-format json` and `--timestamps` on arbitrary output. Input layout: 8 bytes of seconds, 4 of
/// nanoseconds, then the line. The line's JSON is exactly one line that serde_json reads back to the
/// input with one U+FFFD per invalid byte (Go's rule; `from_utf8_lossy` agrees only where no invalid
/// stretch is longer than a byte), with nothing Docker escapes left raw; the stamps read back to
/// their instant, cached or not.
pub fn json_line(data: &[u8]) {
    use crate::io::stamp::{self as st, Stream};
    use std::time::Duration;

    let (secs, rest) = data
        .split_first_chunk::<8>()
        .map_or((0, data), |(s, r)| (u64::from_le_bytes(*s), r));
    let (nanos, log) = rest
        .split_first_chunk::<4>()
        .map_or((0, rest), |(n, r)| (u32::from_le_bytes(*n), r));
    let t = Duration::new(secs, nanos % 1_000_000_000);
    let (mut time, mut micros) = (Vec::new(), Vec::new());
    st::rfc3339_nanos(t, &mut time);
    st::rfc3339_micros(t, &mut micros);
    check_stamps(t, &time, &micros);

    let mut out = Vec::new();
    st::json_line(log, Stream::Stderr, &time, &mut out);
    assert_eq!(
        out.iter().position(|&b| b == b'\n'),
        Some(out.len() - 1),
        "not one line"
    );
    let text = std::str::from_utf8(&out).expect("json is UTF-8");
    assert!(
        !text[..text.len() - 1].contains(|c: char| c < ' ' || "<>&\u{2028}\u{2029}".contains(c))
    );
    let v: serde_json::Value = serde_json::from_str(text).expect("json reads back");
    let mut want = String::new();
    for chunk in log.utf8_chunks() {
        want.push_str(chunk.valid());
        want.extend(chunk.invalid().iter().map(|_| '\u{fffd}'));
    }
    if log.utf8_chunks().all(|c| c.invalid().len() <= 1) {
        assert_eq!(want, String::from_utf8_lossy(log));
    }
    assert_eq!(v.get("log").and_then(|l| l.as_str()).unwrap_or(""), want);
    assert_eq!(v.get("log").is_none(), log.is_empty());
    assert_eq!(v["stream"], "stderr");
    assert_eq!(v["time"].as_str().map(str::as_bytes), Some(&time[..]));
}

/// The stamps of `t`: the right lengths, the cache agrees, and they spell `t`'s instant (clamped to
/// year 9999; micros truncated) by Hinnant's `days_from_civil`, the inverse of what wrote them.
fn check_stamps(t: std::time::Duration, nanos: &[u8], micros: &[u8]) {
    let mut cache = crate::io::stamp::StampCache::new();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    cache.micros(t, &mut a);
    cache.nanos(t, &mut b);
    assert_eq!((&a[..], &b[..]), (micros, nanos));
    assert_eq!(micros.len(), crate::io::stamp::MICROS_LEN);
    let num = |r: std::ops::Range<usize>| -> u64 {
        std::str::from_utf8(&micros[r])
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("digits")
    };
    let (y, m, d) = (num(0..4) as i64, num(5..7) as i64, num(8..10) as i64);
    let y = if m <= 2 { y - 1 } else { y };
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = (y % 400) * 365 + (y % 400) / 4 - (y % 400) / 100 + doy;
    let days = (y / 400) * 146_097 + doe - 719_468;
    let secs = days as u64 * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19);
    let max = 253_402_300_799;
    assert_eq!(
        secs,
        t.as_secs().min(max),
        "{}",
        String::from_utf8_lossy(micros)
    );
    let sub = if t.as_secs() > max {
        999_999
    } else {
        u64::from(t.subsec_micros())
    };
    assert_eq!(num(20..26), sub);
    assert!(nanos.starts_with(&micros[..19]) && nanos.ends_with(b"Z"));
}

/// `--log-max-size` on arbitrary text: never panics; a size is at least 1 byte, the unit's case does
/// not matter, and a whole number of a unit is exactly that many bytes, written back in bytes.
pub fn size_spec(data: &[u8]) {
    use crate::cli::values::size::parse_size;

    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(n) = parse_size(s) else {
        return;
    };
    assert!(n >= 1, "{s:?}");
    assert_eq!(parse_size(&s.to_ascii_lowercase()), Ok(n), "{s:?}");
    assert_eq!(parse_size(&s.to_ascii_uppercase()), Ok(n), "{s:?}");
    if !s.contains('.') {
        assert_eq!(parse_size(&n.to_string()), Ok(n), "{s:?}");
        let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let whole: u64 = digits.parse().expect("digits");
        assert_eq!(n % whole.max(1), 0, "{s:?}");
    }
}

/// The `--log-rotate` schedule on arbitrary clocks (24 bytes: start, now, period, little-endian;
/// shorter input is zero-padded): never panics; the next rotation is after now and at most one
/// period away, on a multiple of the period since midnight UTC when the period divides a day, and
/// since the start otherwise.
pub fn rotate_clock(data: &[u8]) {
    use crate::rotate::clock::{divides_day, next_rotation, DAY_SECS};

    let mut words = [0u8; 24];
    let n = data.len().min(24);
    words[..n].copy_from_slice(&data[..n]);
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&words[i * 8..i * 8 + 8]);
        u64::from_le_bytes(w)
    };
    // Small periods and nearby clocks are the interesting ones; the raw words cover the overflows.
    let (start, now, period) = match data.get(24) {
        Some(&b) if b & 1 == 1 => (
            word(0) % (1 << 40),
            word(1) % (1 << 40),
            word(2) % (3 * DAY_SECS),
        ),
        _ => (word(0), word(1), word(2)),
    };
    let next = next_rotation(start, now, period);
    if period == 0 || next == u64::MAX {
        return;
    }
    assert!(next > now, "{start} {now} {period}: {next}");
    assert!(
        next - now <= period || now < start,
        "{start} {now} {period}: {next}"
    );
    if divides_day(period) {
        assert_eq!(next % DAY_SECS % period, 0, "{now} {period}: {next}");
    } else {
        assert!(
            next > start && (next - start) % period == 0,
            "{start} {period}: {next}"
        );
    }
}

/// sd_notify(3) datagrams on arbitrary bytes (outside input: any descendant may send): never
/// panics; refused exactly when systemd ignores the whole datagram; each assignment is one
/// well-formed line, and writing them back as `KEY=VALUE` lines parses to the same list.
pub fn notify_msg(data: &[u8]) {
    use crate::ready::notify_msg::{parse, summarize, Assignment, Malformed, MAX_DATAGRAM};

    let body = data.strip_suffix(b"\0").unwrap_or(data);
    let list = match parse(data) {
        Ok(list) => list,
        Err(Malformed::TooLong(n)) => return assert!(n == data.len() && n > MAX_DATAGRAM),
        Err(Malformed::Nul) => return assert!(body.contains(&0)),
    };
    assert!(data.len() <= MAX_DATAGRAM && !body.contains(&0));
    let mut back = Vec::new();
    for a in &list {
        let (key, value) = match *a {
            Assignment::Ready => ("READY", "1".to_string()),
            Assignment::Reloading => ("RELOADING", "1".to_string()),
            Assignment::Stopping => ("STOPPING", "1".to_string()),
            Assignment::Status(s) => ("STATUS", s.to_string()),
            Assignment::MainPid(p) => {
                assert!(p >= 1);
                ("MAINPID", p.to_string())
            }
            Assignment::Other { key, value } => (key, value.to_string()),
        };
        let ok = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_';
        assert!(!key.is_empty() && key.bytes().all(ok), "{key:?}");
        assert!(!value.contains(['\n', '\r', '\0']), "{value:?}");
        back.extend_from_slice(format!("{key}={value}\n").as_bytes());
    }
    if back.len() <= MAX_DATAGRAM {
        assert_eq!(parse(&back).as_ref(), Ok(&list));
    }
    let _ = summarize(&list);
}
