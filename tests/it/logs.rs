//! Logs the way operators keep them (issue 15), through the real binary: size rotation, wall-clock
//! periods, `--log-mode`, `--timestamps`, `--log-format json`, `--no-pty` shipping to a collector
//! that comes and goes, bad values.
//!
//! Children pace themselves with `sleep` where their output must span rotation periods: that is the
//! workload, not synchronisation (tests wait on dock's exit, a file, a line or a connection).

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use dock::rotate::name::parse_archive_name;

use crate::util::{self, Mode, Running, TempDir, DEADLINE};

/// dock's archives of `app.log` in `dir`, oldest first by their parsed names.
pub fn archives(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name();
            use std::os::unix::ffi::OsStrExt;
            parse_archive_name(b"app.log", name.as_bytes()).map(|k| (k, dir.join(name)))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, p)| p).collect()
}

/// Decompresses a whole gzip file (flate2 checks the CRC-32 and length trailer).
pub fn gunzip(p: &Path) -> Vec<u8> {
    let mut v = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_end(&mut v)
        .unwrap_or_else(|e| panic!("{} is not a valid gzip: {e}", p.display()));
    v
}

/// The archives' contents (oldest first), then the live file's.
fn pieces(dir: &Path) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = archives(dir).iter().map(|p| gunzip(p)).collect();
    out.push(std::fs::read(dir.join("app.log")).unwrap_or_default());
    out
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Every "next rotation at <RFC 3339>" of a `-d` stderr, as Unix seconds.
fn announced(stderr: &str) -> Vec<u64> {
    stderr
        .lines()
        .filter_map(|l| l.split("next rotation at ").nth(1))
        .map(|rest| {
            let t = rest.split_whitespace().next().unwrap();
            parse_utc(t) as u64
        })
        .collect()
}

/// `2026-12-02T15:04:05[.ffffff]Z` → Unix seconds (with the fraction), checked digit by digit.
fn parse_utc(t: &str) -> f64 {
    let b = t.as_bytes();
    assert!(
        t.ends_with('Z') && b[4] == b'-' && b[7] == b'-' && b[10] == b'T',
        "{t}"
    );
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().unwrap_or_else(|_| panic!("{t}"));
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (Howard Hinnant), independent of dock's own.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    let frac: f64 = match t[19..t.len() - 1].strip_prefix('.') {
        Some(f) => format!("0.{f}").parse().unwrap(),
        None => 0.0,
    };
    secs as f64 + frac
}

#[test]
fn periods_that_divide_a_day_fall_on_wall_clock_boundaries() {
    let d = TempDir::new("logs-wall");
    let log = d.path("app.log");
    // Four seconds of lines, a 2 s period: rotations on even seconds of the UTC clock.
    let script = "i=0; while [ $i -lt 40 ]; do echo line-$i; i=$((i+1)); sleep 0.1; done";
    let t0 = unix_now();
    let f = util::run(
        Mode::Subreaper,
        &[
            "-d",
            "--io",
            &log,
            "--log-rotate",
            "2s",
            "--log-keep",
            "100",
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    let due = announced(&f.stderr);
    assert!(due.len() >= 2, "{}", f.stderr);
    assert!(due.iter().all(|t| t % 2 == 0), "{due:?}");
    assert!(due.windows(2).all(|w| w[1] == w[0] + 2), "{due:?}");
    assert!(
        due[0] as f64 > t0 && (due[0] as f64) <= t0 + 2.0 + 1.0,
        "{due:?} {t0}"
    );
    let all: Vec<u8> = pieces(&d.0).concat();
    let want: String = (0..40).map(|i| format!("line-{i}\n")).collect();
    assert_eq!(String::from_utf8(all).unwrap(), want);
    assert!(!archives(&d.0).is_empty());

    // 24 (hours): the next UTC midnight, not 24 h after the start; 7s (no divisor of a day):
    // from the start.
    for (period, check) in [("24", 86_400u64), ("7s", 0)] {
        let t0 = unix_now();
        let f = util::run(
            Mode::Subreaper,
            &["-d", "--io", &log, "--log-rotate", period, "true"],
        );
        let t1 = unix_now();
        let due = announced(&f.stderr);
        assert_eq!(due.len(), 1, "{}", f.stderr);
        if check > 0 {
            assert_eq!(due[0] % check, 0, "{}", f.stderr);
            assert!((due[0] as f64) > t0 && (due[0] as f64) <= t1 + 86_400.0);
        } else {
            assert!(
                due[0] >= t0 as u64 + 7 && due[0] <= t1 as u64 + 7,
                "{due:?}"
            );
        }
    }
}

#[test]
fn log_mode_is_the_mode_of_the_file_and_its_archives() {
    let d = TempDir::new("logs-mode");
    let log = d.path("app.log");
    let script = "i=0; while [ $i -lt 50 ]; do echo line-$i; i=$((i+1)); done";
    let f = util::run(
        Mode::Subreaper,
        &[
            "--io",
            &log,
            "--log-mode",
            "0640",
            "--log-max-size",
            "100",
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(Path::new(&log)), 0o640);
    let a = archives(&d.0);
    assert!(a.len() >= 2);
    assert!(a.iter().all(|p| mode(p) == 0o640), "{a:?}");
    // Without a relay (the child writes the file itself) too; whatever dock's umask.
    let plain = d.path("plain.log");
    let mut c = util::command(
        Mode::Subreaper,
        &["--io", &plain, "--log-mode", "644", "echo", "x"],
    );
    c.env("DOCK_LOG_MODE", "0600"); // the command line wins
    let st = c.status().unwrap();
    assert!(st.success());
    assert_eq!(mode(Path::new(&plain)), 0o644);
    // An existing file keeps its mode.
    let kept = d.path("kept.log");
    std::fs::write(&kept, "").unwrap();
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o604)).unwrap();
    assert_eq!(
        util::run(
            Mode::Subreaper,
            &[
                "--io",
                &kept,
                "--log-mode",
                "0640",
                "--timestamps",
                "echo",
                "y"
            ]
        )
        .code,
        0
    );
    assert_eq!(mode(Path::new(&kept)), 0o604);
}

#[test]
fn size_rotation_keeps_every_line_once_in_order() {
    let d = TempDir::new("logs-size");
    let log = d.path("app.log");
    // 3000 numbered lines written in 4 KiB blocks (lines cross reads), then one line of 10000 bytes
    // (longer than SIZE), then more lines.
    let script = "seq 0 2999; head -c 10000 /dev/zero | tr '\\0' L; echo; seq 3000 3099";
    let f = util::run(
        Mode::Pid1,
        &[
            "--io",
            &log,
            "--log-max-size",
            "4k",
            "--log-keep",
            "1000",
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert_eq!(f.stderr, "");
    let parts = pieces(&d.0);
    assert!(parts.len() > 3, "{} files", parts.len());
    let long = format!("{}\n", "L".repeat(10000));
    let mut lines = Vec::new();
    for p in &parts[..parts.len() - 1] {
        let text = String::from_utf8(p.clone()).unwrap();
        assert!(text.ends_with('\n'), "an archive ends mid-line");
        if text == long {
            lines.push("L".repeat(10000));
            continue;
        }
        // No file passes SIZE but by the rest of a line that arrived in two reads.
        let longest = text.lines().map(str::len).max().unwrap_or(0) + 1;
        assert!(p.len() <= 4096 + longest, "{} bytes", p.len());
        assert!(!text.contains('L'), "the long line is alone in its file");
        lines.extend(text.lines().map(str::to_string));
    }
    lines.extend(
        String::from_utf8(parts[parts.len() - 1].clone())
            .unwrap()
            .lines()
            .map(str::to_string),
    );
    let mut want: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    want.push("L".repeat(10000));
    want.extend((3000..3100).map(|i| i.to_string()));
    assert_eq!(lines, want);
    assert!(!std::fs::read_dir(&d.0).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with('.')));
}

#[test]
fn size_and_period_together_and_keep_n() {
    let d = TempDir::new("logs-both");
    let log = d.path("app.log");
    // A burst (size rotations), then a slow trickle over 3 s (period rotations).
    let script =
        "seq 0 1999; i=2000; while [ $i -lt 2030 ]; do echo $i; i=$((i+1)); sleep 0.1; done";
    let f = util::run(
        Mode::Subreaper,
        &[
            "--io",
            &log,
            "--log-max-size",
            "2k",
            "--log-rotate",
            "1s",
            "--log-keep",
            "4",
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    let a = archives(&d.0);
    assert_eq!(a.len(), 4, "--log-keep 4");
    // The kept archives and the live file hold the newest lines, in order, none split.
    let text = String::from_utf8(pieces(&d.0).concat()).unwrap();
    let nums: Vec<u32> = text.lines().map(|l| l.parse().unwrap()).collect();
    assert!(nums.windows(2).all(|w| w[1] == w[0] + 1), "{nums:?}");
    assert_eq!(*nums.last().unwrap(), 2029);
    // Period rotations happened: archives far below SIZE in the trickle.
    assert!(
        a.iter().any(|p| gunzip(p).len() < 200),
        "no time-based rotation"
    );
}

/// Checks `line` is `<27-byte stamp> <rest>` and returns (time, rest).
fn stamped(line: &str) -> (f64, &str) {
    assert!(line.len() >= 28 && line.as_bytes()[27] == b' ', "{line:?}");
    let t = &line[..27];
    assert_eq!(&t[19..20], ".", "{line:?}");
    assert!(t[20..26].bytes().all(|b| b.is_ascii_digit()), "{line:?}");
    (parse_utc(t), &line[28..])
}

#[test]
fn timestamps_are_rfc3339_micros_in_order_and_on_the_wall_clock() {
    let d = TempDir::new("logs-ts");
    let script =
        "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done; sleep 0.2; printf last";
    let check = |text: &str, prefix: &str, t0: f64, t1: f64| {
        let mut prev = 0.0;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 301, "{text}");
        for (i, l) in lines.iter().enumerate() {
            let (t, rest) = stamped(l);
            let want = if i < 300 {
                format!("{prefix}line-{i}")
            } else {
                format!("{prefix}last")
            };
            assert_eq!(rest.trim_end_matches('\r'), want);
            assert!(t >= prev, "not monotonic: {l}");
            // A millisecond of slack for the clocks' rounding.
            assert!(
                t >= t0 - 0.001 && t <= t1 + 0.001,
                "{l} not within [{t0}, {t1}]"
            );
            prev = t;
        }
        let (first, _) = stamped(lines[0]);
        let (last, _) = stamped(lines[300]);
        assert!(
            last - first >= 0.19,
            "the last line was read after the sleep"
        );
    };
    // dock's stdout.
    let t0 = unix_now();
    let f = util::run(Mode::Pid1, &["--timestamps", "sh", "-c", script]);
    let t1 = unix_now();
    assert_eq!(f.code, 0, "{}", f.stderr);
    check(&f.stdout, "", t0, t1);
    // A file, with a prefix after the stamp.
    let log = d.path("app.log");
    let t0 = unix_now();
    let f = util::run(
        Mode::Subreaper,
        &[
            "--io",
            &log,
            "--timestamps",
            "--stdout-prefix",
            "web: ",
            "sh",
            "-c",
            script,
        ],
    );
    let t1 = unix_now();
    assert_eq!(f.code, 0, "{}", f.stderr);
    check(&std::fs::read_to_string(&log).unwrap(), "web: ", t0, t1);
    // The connection (a pty: \r\n line ends).
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://127.0.0.1:{}", l.local_addr().unwrap().port());
    let t0 = unix_now();
    let r = Running::start(
        Mode::Subreaper,
        &["--io", &url, "--timestamps", "sh", "-c", script],
    );
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut got = String::new();
    let _ = s.read_to_string(&mut got);
    assert_eq!(r.finish().code, 0);
    check(&got, "", t0, unix_now());
}

/// Parses JSON lines into (log, stream, time) and checks each object's shape.
fn objects(text: &[u8]) -> Vec<(String, String, f64)> {
    let text = std::str::from_utf8(text).expect("json lines are UTF-8");
    assert!(text.ends_with('\n'));
    text.lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 3, "{l}");
            (
                v["log"].as_str().unwrap().to_string(),
                v["stream"].as_str().unwrap().to_string(),
                parse_utc(v["time"].as_str().unwrap()),
            )
        })
        .collect()
}

/// stdout: quotes, backslashes, tabs, control characters, UTF-8, invalid UTF-8, a partial last
/// line; stderr: two lines.
const TRICKY: &str = "printf 'say \"hi\"\\n'; printf 'back\\\\slash\\ttab\\001ctl\\n'; \
    printf 'caf\\303\\251 \\342\\200\\250 <&>\\n' ; echo err-1 >&2; printf 'bad \\377\\376 bytes\\n'; \
    echo err-2 >&2; printf 'partial'";

fn check_tricky(objs: &[(String, String, f64)], t0: f64, t1: f64) {
    let out: Vec<&str> = objs
        .iter()
        .filter(|o| o.1 == "stdout")
        .map(|o| o.0.as_str())
        .collect();
    let err: Vec<&str> = objs
        .iter()
        .filter(|o| o.1 == "stderr")
        .map(|o| o.0.as_str())
        .collect();
    assert_eq!(
        out,
        [
            "say \"hi\"\n",
            "back\\slash\ttab\u{1}ctl\n",
            "café \u{2028} <&>\n",
            "bad \u{fffd}\u{fffd} bytes\n",
            "partial"
        ]
    );
    assert_eq!(err, ["err-1\n", "err-2\n"]);
    assert_eq!(objs.len(), 7);
    assert!(objs.iter().all(|o| o.2 >= t0 - 0.001 && o.2 <= t1 + 0.001));
}

#[test]
fn json_lines_round_trip_through_a_json_parser_with_their_stream() {
    let d = TempDir::new("logs-json");
    let log = d.path("app.log");
    let t0 = unix_now();
    let f = util::run(
        Mode::Pid1,
        &["--io", &log, "--log-format", "json", "sh", "-c", TRICKY],
    );
    let t1 = unix_now();
    assert_eq!(f.code, 0, "{}", f.stderr);
    check_tricky(&objects(&std::fs::read(&log).unwrap()), t0, t1);
    // The raw bytes: escaped as moby's jsonlog writes them.
    let raw = std::fs::read_to_string(&log).unwrap();
    assert!(
        raw.contains(r#""log":"back\\slash\u0009tab\u0001ctl\n""#),
        "{raw}"
    );
    assert!(
        raw.contains(r#"caf\u00e9"#) || raw.contains("café"),
        "{raw}"
    );
    assert!(raw.contains(r#"\u2028 \u003c\u0026\u003e"#), "{raw}");
    // Without --io: stdout objects on dock's stdout, stderr ones on its stderr.
    let t0 = unix_now();
    let f = util::run(
        Mode::Subreaper,
        &["--log-format", "json", "sh", "-c", TRICKY],
    );
    let t1 = unix_now();
    assert_eq!(f.code, 0);
    let mut all = objects(f.stdout.as_bytes());
    assert!(all.iter().all(|o| o.1 == "stdout"));
    all.extend(objects(f.stderr.as_bytes()));
    check_tricky(&all, t0, t1);
    // From the environment too.
    let mut c = util::command(Mode::Subreaper, &["--io", &log, "sh", "-c", "echo env"]);
    c.env("DOCK_LOG_FORMAT", "json");
    assert!(c.status().unwrap().success());
    let objs = objects(&std::fs::read(&log).unwrap());
    assert_eq!(objs.last().unwrap().0, "env\n");
}

/// A collector on `l`: accepts one connection and reads lines until one equals `until`.
fn collect_until(l: &TcpListener, until: &str) -> (BufReader<std::net::TcpStream>, Vec<String>) {
    let (s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut r = BufReader::new(s);
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).unwrap();
        assert!(n > 0, "EOF before {until:?}: {lines:?}");
        assert!(line.ends_with('\n'), "a split line: {line:?}");
        let line = line.trim_end_matches('\n').to_string();
        let done = line == until;
        lines.push(line);
        if done {
            return (r, lines);
        }
    }
}

/// Waits for `path` to exist (the child's marker).
fn wait_file(path: &str) {
    util::wait_until(&format!("{path} to appear"), || Path::new(path).exists());
}

fn line_no(l: &str) -> usize {
    let n = l
        .strip_prefix("line-")
        .unwrap_or_else(|| panic!("not a line: {l:?}"));
    let (n, pad) = n.split_once(' ').unwrap_or((n, ""));
    assert!(pad.bytes().all(|b| b == b'.'), "{l:?}");
    n.parse().unwrap()
}

#[test]
fn no_pty_ships_every_line_across_a_collector_restart_and_counts_what_it_drops() {
    let d = TempDir::new("logs-nopty");
    let (go, marker) = (d.path("go"), d.path("flooded"));
    nix::unistd::mkfifo(
        Path::new(&go),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let url = format!("tcp://127.0.0.1:{port}");
    // 100 lines; wait; 60000 lines of 100 bytes (6 MB: more than the 4 MiB held); a marker; wait;
    // 100 more. Lines are "line-N ....": each whole or not at all.
    let pad = ".".repeat(88);
    let script = format!(
        "test -t 1 && exit 9; i=0; while [ $i -lt 100 ]; do echo line-$i; i=$((i+1)); done; read x < {go}; \
         awk 'BEGIN {{ for (i = 100; i < 60100; i++) printf \"line-%d {pad}\\n\", i }}'; touch {marker}; \
         read x < {go}; i=60100; while [ $i -lt 60200 ]; do echo line-$i; i=$((i+1)); done"
    );
    let r = Running::start(
        Mode::Subreaper,
        &["-d", "--no-pty", "--io", &url, "sh", "-c", &script],
    );
    let (conn, mut got) = collect_until(&l, "line-99");
    // The collector goes away (connection and listener).
    drop(conn);
    drop(l);
    r.wait_stderr("the peer closed the connection");
    std::fs::write(&go, "1\n").unwrap();
    wait_file(&marker);
    // It comes back on the same port.
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    std::fs::write(&go, "2\n").unwrap();
    let mut rest = String::new();
    BufReader::new(s).read_to_string(&mut rest).unwrap();
    let f = r.finish();
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert!(rest.ends_with('\n'));
    got.extend(rest.lines().map(str::to_string));
    let nums: Vec<usize> = got.iter().map(|l| line_no(l)).collect();
    assert!(
        nums.windows(2).all(|w| w[1] > w[0]),
        "out of order or doubled"
    );
    assert_eq!(&nums[..100], &(0..100).collect::<Vec<_>>()[..]);
    assert!(
        nums.ends_with(&(60100..60200).collect::<Vec<_>>()),
        "lines after the restart"
    );
    // What was dropped is reported once, in one line, and is exactly what is missing.
    let report: Vec<&str> = f
        .stderr
        .lines()
        .filter(|l| l.contains("were dropped while"))
        .collect();
    assert_eq!(report.len(), 1, "{}", f.stderr);
    let dropped: usize = report[0]
        .split(" lines (")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(dropped > 0);
    assert_eq!(nums.len() + dropped, 60200, "{}", report[0]);
    // The buffered lines (about 4 MiB) came first, from line-100 on.
    assert_eq!(nums[100], 100);
}

#[test]
fn no_pty_unreachable_at_start_is_not_fatal_and_json_names_each_stream() {
    let d = TempDir::new("logs-nopty-start");
    let sock = d.path("collector.sock");
    let url = format!("unix://{sock}");
    let r = Running::start(
        Mode::Pid1,
        &[
            "--no-pty",
            "--io",
            &url,
            "--log-format",
            "json",
            "sh",
            "-c",
            "echo out-1; echo err-1 >&2; read x || echo stdin-is-empty; echo out-2",
        ],
    );
    r.wait_stderr("retrying");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut text = Vec::new();
    s.read_to_end(&mut text).unwrap();
    let f = r.finish();
    assert_eq!(f.code, 0, "{}", f.stderr);
    let objs = objects(&text);
    let of = |stream: &str| -> Vec<String> {
        objs.iter()
            .filter(|o| o.1 == stream)
            .map(|o| o.0.clone())
            .collect()
    };
    assert_eq!(of("stdout"), ["out-1\n", "stdin-is-empty\n", "out-2\n"]);
    assert_eq!(of("stderr"), ["err-1\n"]);
    assert!(
        f.stderr.contains("connected; no output was lost"),
        "{}",
        f.stderr
    );
}

#[cfg(feature = "tls")]
#[test]
fn no_pty_over_tls_with_timestamps() {
    let d = TempDir::new("logs-nopty-tls");
    let certs = crate::pki::make(&d);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tls://127.0.0.1:{}", l.local_addr().unwrap().port());
    let config = certs.server.clone();
    let server = std::thread::spawn(move || {
        let (sock, _) = l.accept().unwrap();
        sock.set_read_timeout(Some(DEADLINE)).unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        let mut got = Vec::new();
        let _ = tls.read_to_end(&mut got);
        String::from_utf8(got).unwrap()
    });
    let f = util::run(
        Mode::Subreaper,
        &[
            "--no-pty",
            "--io",
            &url,
            "--ca-file",
            &certs.ca,
            "--timestamps",
            "sh",
            "-c",
            "test -t 1 || echo not-a-tty; seq 1 1000",
        ],
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    let got = server.join().unwrap();
    let lines: Vec<&str> = got.lines().map(|l| stamped(l).1).collect();
    let mut want = vec!["not-a-tty".to_string()];
    want.extend((1..=1000).map(|i| i.to_string()));
    assert_eq!(lines, want, "no CRLF, every line, in order");
}

#[test]
fn bad_log_values_exit_2_and_start_nothing() {
    let d = TempDir::new("logs-usage");
    let log = d.path("app.log");
    let marker = d.path("started");
    let touch = format!("touch {marker}");
    let long_prefix = "p".repeat(4097);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--io", &log, "--log-max-size", "0"], "--log-max-size"),
        (
            vec!["--io", &log, "--log-max-size", "10x"],
            "--log-max-size",
        ),
        (
            vec!["--io", &log, "--log-max-size", "1e6"],
            "--log-max-size",
        ),
        (vec!["--io", &log, "--log-max-size", ""], "--log-max-size"),
        (vec!["--io", &log, "--log-max-size=-1"], "--log-max-size"),
        (vec!["--log-max-size", "1M"], "--log-max-size"),
        (
            vec!["--io", "tcp://127.0.0.1:9", "--log-max-size", "1M"],
            "--log-max-size",
        ),
        (vec!["--log-format", "xml"], "--log-format"),
        (vec!["--log-format", "JSON"], "--log-format"),
        (
            vec!["--log-format", "json", "--stdout-prefix", "p"],
            "--log-format",
        ),
        (vec!["--log-format", "json", "--timestamps"], "--timestamps"),
        (vec!["--io", &log, "--log-mode", "0888"], "--log-mode"),
        (vec!["--io", &log, "--log-mode", "4755"], "--log-mode"),
        (vec!["--io", &log, "--log-mode", "rw"], "--log-mode"),
        (vec!["--io", &log, "--log-mode", "06400"], "--log-mode"),
        (vec!["--log-mode", "0600"], "--log-mode"),
        (vec!["--no-pty"], "--no-pty"),
        (vec!["--no-pty", "--io", &log], "--no-pty"),
        (vec!["--stdout-prefix", &long_prefix], "--stdout-prefix"),
    ];
    for (case, flag) in cases {
        let mut args = case.clone();
        args.extend(["sh", "-c", &touch]);
        let f = util::run(Mode::Subreaper, &args);
        let short: Vec<String> = case.iter().map(|a| a.chars().take(20).collect()).collect();
        assert_eq!(f.code, 2, "{short:?}: {}", f.stderr);
        assert_eq!(f.stderr.lines().count(), 1, "{short:?}: {}", f.stderr);
        assert!(
            f.stderr.starts_with("dock: ") && f.stderr.contains(flag),
            "{short:?}: {}",
            f.stderr
        );
        assert!(!Path::new(&marker).exists(), "{short:?} started the child");
        assert!(!Path::new(&log).exists(), "{short:?} opened the --io file");
    }
    // And from the environment.
    let mut c = util::command(Mode::Subreaper, &["--io", &log, "sh", "-c", &touch]);
    c.env("DOCK_LOG_MAX_SIZE", "0");
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!Path::new(&marker).exists());
}
