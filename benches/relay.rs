//! Relay throughput and signal latency under a flood (issues 3, 15, 16.9).
//!
//! 1. Throughput: 200 MB of 100-byte lines (640 lines per `write(2)` of 64 000 bytes, 3125 times),
//!    each row against the floor of any relay, `writer | cat > file`, in the same run. The time of
//!    a row is the writer's own, from its first write to the return of its last (the writer is this
//!    executable re-run with `RELAY_BENCH_GEN`, reporting through a file): the relay's rate bounds
//!    it through the pipe, and a rotated file's gzip, which runs on after the relay (and dock's exit
//!    waits for), is not counted. Goals (issue 15): `--stdout-prefix` ≤ 1.3, `--timestamps` ≤ 1.4,
//!    `--log-format json` ≤ 2.0, `--log-max-size 64M` ≤ 1.1, all with `--io FILE`. Each output is
//!    checked byte for byte after its run (archives gunzipped). Also shown: `--io FILE` alone (no
//!    relay: the child writes the file) and `sed 's/^/P/' > file` in the C.UTF-8 locale.
//!    Medians of [`RUNS`], the rows interleaved so that load from other processes hits them alike.
//! 2. Latency: SIGTERM sent to dock → the child's `sigwait` returns (CLOCK_MONOTONIC on both
//!    sides), while the child floods its stdout from another thread and while it is idle, in every
//!    relay mode. Goal (issue 16.9): the flood adds ≤ 5 ms (median). Medians and maxima of
//!    [`LAT_RUNS`].
//!
//! `RELAY_BENCH_DOCK=<path>` runs another dock binary; `RELAY_BENCH_THROUGHPUT_ONLY=1` /
//! `RELAY_BENCH_LATENCY_ONLY=1` one part; `RELAY_BENCH_ONLY=<text>` the latency modes named so.

// Not shipped: a panic is the failure report here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LINE: usize = 100;
const LINES_PER_WRITE: usize = 640;
const WRITES: usize = 3125;
const LINES: usize = LINES_PER_WRITE * WRITES;
const TOTAL: u64 = (LINE * LINES) as u64;
const RUNS: usize = 5;
const LAT_RUNS: usize = 15;

fn line() -> [u8; LINE] {
    let mut l = [b'x'; LINE];
    l[LINE - 1] = b'\n';
    l
}

/// Child mode: 200 MB to stdout, then "<seconds>" to `RELAY_BENCH_STATS`.
fn generate() {
    let buf: Vec<u8> = line().repeat(LINES_PER_WRITE);
    let mut out = std::io::stdout().lock();
    let t = Instant::now();
    for _ in 0..WRITES {
        if out.write_all(&buf).is_err() {
            std::process::exit(1);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    if let Some(p) = std::env::var_os("RELAY_BENCH_STATS") {
        std::fs::write(p, secs.to_string()).expect("stats");
    }
}

fn monotonic_ns() -> u128 {
    use nix::time::{clock_gettime, ClockId};
    let t = clock_gettime(ClockId::CLOCK_MONOTONIC).expect("clock");
    t.tv_sec() as u128 * 1_000_000_000 + t.tv_nsec() as u128
}

/// Child mode for the latency rounds: SIGTERM blocked in every thread, a thread flooding stdout
/// (unless `RELAY_BENCH_FLOOD=0`), `RELAY_BENCH_READY` created, then `sigwait`: the time it returns
/// goes to `RELAY_BENCH_STATS`.
fn flood_child() {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.thread_block().expect("block SIGTERM");
    if std::env::var("RELAY_BENCH_FLOOD").as_deref() != Ok("0") {
        std::thread::spawn(|| {
            let buf: Vec<u8> = line().repeat(LINES_PER_WRITE);
            let mut out = std::io::stdout().lock();
            while out.write_all(&buf).is_ok() {}
        });
    }
    std::fs::write(
        std::env::var_os("RELAY_BENCH_READY").expect("ready path"),
        "",
    )
    .expect("ready");
    set.wait().expect("sigwait");
    let at = monotonic_ns();
    std::fs::write(
        std::env::var_os("RELAY_BENCH_STATS").expect("stats"),
        at.to_string(),
    )
    .expect("stats");
    std::process::exit(0);
}

fn own_exe() -> PathBuf {
    std::env::current_exe().expect("own path")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn read_stats(p: &Path) -> f64 {
    let s = std::fs::read_to_string(p).expect("stats file");
    let _ = std::fs::remove_file(p);
    s.trim().parse().expect("stats")
}

/// A throughput row: how to run it, its goal (ratio to the floor), how to check its output.
struct Row {
    name: &'static str,
    dock_args: &'static [&'static str],
    goal: Option<f64>,
    check: fn(&Path),
}

/// The output: the file, or its archives (oldest first) then the file.
fn output(dir: &Path) -> Vec<u8> {
    let mut names: Vec<(dock::rotate::name::ArchiveKey, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            use std::os::unix::ffi::OsStrExt;
            dock::rotate::name::parse_archive_name(b"out.log", e.file_name().as_bytes())
                .map(|k| (k, e.path()))
        })
        .collect();
    names.sort();
    let mut all = Vec::new();
    for (_, p) in names {
        let size = std::fs::metadata(&p).unwrap().len();
        let mut v = Vec::new();
        flate2::read::GzDecoder::new(File::open(&p).unwrap())
            .read_to_end(&mut v)
            .unwrap();
        assert!(
            v.len() as u64 <= 64 << 20,
            "an archive over 64 MiB ({size} gz bytes)"
        );
        all.extend(v);
    }
    all.extend(std::fs::read(dir.join("out.log")).unwrap_or_default());
    all
}

/// Checks every line of `dir`'s output with `each`, and that there are [`LINES`] of them.
fn each_line(dir: &Path, each: impl Fn(&[u8]) -> bool) {
    let out = output(dir);
    let mut n = 0;
    for l in out.split_inclusive(|&b| b == b'\n') {
        assert!(each(l), "line {n}: {:?}", String::from_utf8_lossy(l));
        n += 1;
    }
    assert_eq!(n, LINES, "lines");
}

fn check_raw(dir: &Path) {
    let l = line();
    each_line(dir, |got| got == l);
}

fn check_prefix(dir: &Path) {
    let l = line();
    each_line(dir, |got| got[0] == b'P' && got[1..] == l);
}

fn check_stamps(dir: &Path) {
    let l = line();
    each_line(dir, |got| {
        got.len() == 28 + LINE
            && got[..4].iter().all(u8::is_ascii_digit)
            && got[19] == b'.'
            && &got[26..28] == b"Z "
            && got[28..] == l
    });
}

fn check_json(dir: &Path) {
    let log = format!(
        "{{\"log\":\"{}\\n\",\"stream\":\"stdout\",\"time\":\"",
        "x".repeat(LINE - 1)
    );
    each_line(dir, |got| {
        got.starts_with(log.as_bytes()) && got.ends_with(b"Z\"}\n")
    });
}

const ROWS: &[Row] = &[
    Row {
        name: "writer | cat > file (floor)",
        dock_args: &[],
        goal: None,
        check: check_raw,
    },
    Row {
        name: "sed 's/^/P/' > file",
        dock_args: &[],
        goal: None,
        check: check_prefix,
    },
    Row {
        name: "dock --io file (no relay)",
        dock_args: &[],
        goal: None,
        check: check_raw,
    },
    Row {
        name: "dock --io file --stdout-prefix P",
        dock_args: &["--stdout-prefix", "P"],
        goal: Some(1.3),
        check: check_prefix,
    },
    Row {
        name: "dock --io file --timestamps",
        dock_args: &["--timestamps"],
        goal: Some(1.4),
        check: check_stamps,
    },
    Row {
        name: "dock --io file --log-format json",
        dock_args: &["--log-format", "json"],
        goal: Some(2.0),
        check: check_json,
    },
    Row {
        name: "dock --io file --log-max-size 64M",
        dock_args: &["--log-max-size", "64M", "--log-keep", "10"],
        goal: Some(1.1),
        check: check_raw,
    },
];

/// One run of row `i` into `dir`: the writer's seconds (the output is checked).
fn run_row(dock: &str, dir: &Path, i: usize) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let out = dir.join("out.log");
    let stats = dir.with_extension("stats");
    let row = &ROWS[i];
    let status = match i {
        0 | 1 => {
            let mut g = Command::new(own_exe())
                .env("RELAY_BENCH_GEN", "1")
                .env("RELAY_BENCH_STATS", &stats)
                .stdout(Stdio::piped())
                .spawn()
                .expect("writer");
            let mut c = if i == 0 {
                Command::new("cat")
            } else {
                Command::new("sed")
            };
            if i == 1 {
                c.arg("s/^/P/").env("LC_ALL", "C.UTF-8");
            }
            let st = c
                .stdin(g.stdout.take().unwrap())
                .stdout(File::create(&out).unwrap())
                .status()
                .expect("floor");
            assert!(g.wait().unwrap().success());
            st
        }
        _ => Command::new(dock)
            .arg("--io")
            .arg(&out)
            .args(row.dock_args)
            .arg(own_exe())
            .env("RELAY_BENCH_GEN", "1")
            .env("RELAY_BENCH_STATS", &stats)
            .status()
            .expect("dock"),
    };
    assert!(status.success(), "{}: {status}", row.name);
    let secs = read_stats(&stats);
    (row.check)(dir);
    let _ = std::fs::remove_dir_all(dir);
    secs
}

fn throughput(dock: &str, base: &Path) {
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); ROWS.len()];
    for _ in 0..RUNS {
        for (i, t) in times.iter_mut().enumerate() {
            t.push(run_row(dock, &base.join("tp"), i));
        }
    }
    let floor = median(times[0].clone());
    let mb = TOTAL as f64 / 1e6;
    println!("relay of {mb:.0} MB in {LINE}-byte lines: the writer's time, median of {RUNS} (rows interleaved)");
    for (row, t) in ROWS.iter().zip(&times) {
        let m = median(t.clone());
        let ratio = m / floor;
        let goal = match row.goal {
            Some(g) => format!(
                "   (goal <= {g:.1}: {})",
                if ratio <= g { "met" } else { "MISSED" }
            ),
            None => String::new(),
        };
        println!(
            "  {:<36} {:8.1} ms  {:6.0} MB/s  ratio {:5.2}{goal}",
            row.name,
            m * 1000.0,
            mb / m,
            ratio
        );
    }
}

/// A collector for the network modes: accepts and reads everything, as fast as it can.
fn collector() -> (String, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://127.0.0.1:{}", l.local_addr().unwrap().port());
    let h = std::thread::spawn(move || {
        if let Ok((s, _)) = l.accept() {
            let mut r = BufReader::with_capacity(1 << 20, s);
            while r.fill_buf().is_ok_and(|b| !b.is_empty()) {
                let n = r.buffer().len();
                r.consume(n);
            }
        }
    });
    (url, h)
}

/// One latency round: ms from SIGTERM to dock until the child's `sigwait` returned.
fn latency_once(dock: &str, dir: &Path, args: &[&str], flood: bool, net: bool) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let (ready, stats) = (dir.join("ready"), dir.join("stats"));
    let mut c = Command::new(dock);
    let coll = net.then(collector);
    for a in args {
        match (*a, &coll) {
            ("FILE", _) => c.arg(dir.join("out.log")),
            ("URL", Some((url, _))) => c.arg(url),
            _ => c.arg(a),
        };
    }
    let mut child = c
        .arg(own_exe())
        .env("RELAY_BENCH_FLOOD", if flood { "1" } else { "0" })
        .env("RELAY_BENCH_READY", &ready)
        .env("RELAY_BENCH_STATS", &stats)
        .stdout(Stdio::null())
        .spawn()
        .expect("dock");
    let end = Instant::now() + Duration::from_secs(30);
    while !ready.exists() {
        assert!(Instant::now() < end, "child never ready");
        std::thread::sleep(Duration::from_millis(1));
    }
    // Let the flood reach its steady state (the bench's own pacing, not synchronisation).
    std::thread::sleep(Duration::from_millis(100));
    let sent = monotonic_ns();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    if let Some((_, h)) = coll {
        h.join().unwrap();
    }
    let got = read_stats(&stats);
    let _ = std::fs::remove_dir_all(dir);
    (got - sent as f64) / 1e6
}

fn latency(dock: &str, base: &Path) {
    let modes: &[(&str, &[&str], bool)] = &[
        ("--io file (no relay)", &["--io", "FILE"], false),
        (
            "--io file --log-rotate 1h",
            &["--io", "FILE", "--log-rotate", "1h"],
            false,
        ),
        (
            "--io file --log-max-size 64M",
            &["--io", "FILE", "--log-max-size", "64M"],
            false,
        ),
        (
            "--stdout-prefix P (to /dev/null)",
            &["--stdout-prefix", "P"],
            false,
        ),
        (
            "--io file --timestamps",
            &["--io", "FILE", "--timestamps"],
            false,
        ),
        (
            "--io file --log-format json",
            &["--io", "FILE", "--log-format", "json"],
            false,
        ),
        ("--io tcp:// (pty)", &["--io", "URL"], true),
        ("--io tcp:// --no-pty", &["--io", "URL", "--no-pty"], true),
    ];
    println!();
    println!("SIGTERM to dock -> the child's sigwait, ms: median (max) of {LAT_RUNS}, idle child vs flooding child");
    let mut worst: f64 = 0.0;
    let only = std::env::var("RELAY_BENCH_ONLY").unwrap_or_default();
    for (name, args, net) in modes.iter().filter(|m| m.0.contains(&only)) {
        let (mut idle, mut flood) = (Vec::new(), Vec::new());
        for _ in 0..LAT_RUNS {
            idle.push(latency_once(dock, &base.join("lat"), args, false, *net));
            flood.push(latency_once(dock, &base.join("lat"), args, true, *net));
        }
        let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        let (mi, mf) = (median(idle.clone()), median(flood.clone()));
        worst = worst.max(mf - mi);
        println!(
            "  {name:<36} idle {mi:6.2} ({:6.2})   flood {mf:6.2} ({:6.2})   added {:+6.2}",
            max(&idle),
            max(&flood),
            mf - mi
        );
    }
    let verdict = if worst <= 5.0 { "met" } else { "MISSED" };
    println!("  most added by a flood (medians): {worst:.2} ms (goal <= 5: {verdict})");
}

fn main() {
    if std::env::var_os("RELAY_BENCH_GEN").is_some() {
        return generate();
    }
    if std::env::var_os("RELAY_BENCH_READY").is_some() {
        return flood_child();
    }
    // RELAY_BENCH_DOCK: another dock binary (an A/B of a change); RELAY_BENCH_ONLY: only the
    // latency modes whose name contains it.
    let other = std::env::var("RELAY_BENCH_DOCK").ok();
    let dock = other.as_deref().unwrap_or(env!("CARGO_BIN_EXE_dock"));
    let base = std::env::temp_dir().join(format!("dock-bench-relay-{}", std::process::id()));
    std::fs::create_dir_all(&base).expect("bench dir");
    if std::env::var_os("RELAY_BENCH_LATENCY_ONLY").is_none() {
        throughput(dock, &base);
    }
    if std::env::var_os("RELAY_BENCH_THROUGHPUT_ONLY").is_none() {
        latency(dock, &base);
    }
    let _ = std::fs::remove_dir_all(&base);
}
