//! `--log-rotate` / `--log-keep` (issue 4), through the real binary: every line exactly once across the
//! archives and the current file, in order, never split; retention keeps the newest N and nothing
//! else is touched; archives are valid gzip named `<path>_<YYYYMMDDhhmmss>[-N].gz`; bad values exit 2.
//!
//! The child paces itself with `sleep` so that its output spans several 1-second periods: that is the
//! workload, not synchronisation (the test waits on dock's exit). No assertion depends on timing
//! beyond "a 4.5 s run with a 1 s period rotated at least once".

use std::io::Read;
use std::path::{Path, PathBuf};

use dock::rotate::name::parse_archive_name;

use crate::util::{self, Mode, TempDir};

/// dock's archives of `app.log` in `dir`, oldest first by their parsed names.
fn archives(dir: &Path) -> Vec<PathBuf> {
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

/// Decompresses a whole gzip file; flate2 checks the CRC-32 and length trailer (RFC 1952).
fn gunzip(p: &Path) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_string(&mut s)
        .unwrap_or_else(|e| panic!("{} is not a valid gzip: {e}", p.display()));
    s
}

/// Every file's text: the archives (oldest first), then the current file. Each must end at a line
/// boundary (an archive never ends in the middle of a line).
fn pieces(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = archives(dir).iter().map(|p| gunzip(p)).collect();
    for (i, a) in out.iter().enumerate() {
        assert!(
            a.ends_with('\n'),
            "archive {i} ends mid-line: {:?}",
            a.lines().last()
        );
    }
    out.push(std::fs::read_to_string(dir.join("app.log")).unwrap());
    out
}

fn numbered(lines: std::ops::Range<usize>) -> Vec<String> {
    lines.map(|i| format!("line {i}")).collect()
}

/// A child that prints `line 0` .. `line {n-1}`, one every 10 ms (~4.5 s for 450).
fn paced_writer(n: usize) -> String {
    format!("i=0; while [ $i -lt {n} ]; do echo \"line $i\"; i=$((i+1)); sleep 0.01; done")
}

fn no_temporaries(dir: &Path) {
    let hidden: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "temporary files left behind: {hidden:?}");
}

#[test]
fn every_line_exactly_once_in_order_across_archives() {
    let d = TempDir::new("rot-lines");
    let log = d.path("app.log");
    let script = paced_writer(450);
    let f = util::run(
        Mode::Pid1,
        &[
            "--io",
            &log,
            "--log-rotate",
            "1s",
            "--log-keep",
            "100",
            "sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert_eq!(f.stderr, "", "rotation logs nothing when all goes well");
    let parts = pieces(&d.0);
    assert!(
        parts.len() >= 2,
        "no rotation in a 4.5 s run with a 1 s period"
    );
    let all: Vec<String> = parts.concat().lines().map(str::to_string).collect();
    assert_eq!(all, numbered(0..450));
    for a in archives(&d.0) {
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        let rest = name.strip_prefix("app.log_").unwrap();
        let digits = &rest[..14];
        assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{name}");
        assert!(
            digits.starts_with("20"),
            "{name}: a UTC date of this century"
        );
        assert!(
            rest[14..] == *".gz" || rest[14..].starts_with('-'),
            "{name}"
        );
    }
    no_temporaries(&d.0);
}

#[test]
fn log_keep_keeps_the_newest_and_touches_nothing_else() {
    let d = TempDir::new("rot-keep");
    let others = [
        "app.log.1.gz",
        "app.log2_x.gz",
        "app.log2_20200101000000.gz",
        "other.gz",
        "app.log_2020.gz",
    ];
    for o in others {
        std::fs::write(d.0.join(o), "not dock's").unwrap();
    }
    // Archives of an earlier run count as dock's (they are its names): they are the oldest.
    std::fs::write(d.0.join("app.log_20200101000000.gz"), "").unwrap();
    let log = d.path("app.log");
    let script = paced_writer(450);
    let f = util::run(
        Mode::Subreaper,
        &[
            "--io",
            &log,
            "--log-rotate",
            "1s",
            "--log-keep",
            "2",
            "sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    let a = archives(&d.0);
    assert_eq!(a.len(), 2, "{a:?}");
    assert!(!d.0.join("app.log_20200101000000.gz").exists());
    for o in others {
        assert_eq!(std::fs::read(d.0.join(o)).unwrap(), b"not dock's", "{o}");
    }
    // The two archives hold the lines right before the current file's, up to the last one.
    let tail: Vec<String> = pieces(&d.0).concat().lines().map(str::to_string).collect();
    let first: usize = tail[0].strip_prefix("line ").unwrap().parse().unwrap();
    assert_eq!(tail, numbered(first..450));
    no_temporaries(&d.0);
}

#[test]
fn a_200000_line_burst_while_rotating_every_second_loses_nothing() {
    let d = TempDir::new("rot-burst");
    let log = d.path("app.log");
    // seq writes 4 KiB blocks through a pipe: lines arrive split across reads, which is the point.
    let script = "i=0; while [ $i -lt 10 ]; do seq $((i*20000)) $((i*20000+19999)); sleep 0.35; i=$((i+1)); done";
    let f = util::run(
        Mode::Subreaper,
        &[
            "--io",
            &log,
            "--log-rotate",
            "1s",
            "--log-keep",
            "100",
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    let text = pieces(&d.0).concat();
    let mut n = 0usize;
    for l in text.lines() {
        assert_eq!(l, n.to_string(), "line {n} lost, doubled or split");
        n += 1;
    }
    assert_eq!(n, 200_000);
    no_temporaries(&d.0);
}

#[test]
fn files_a_killed_dock_left_half_rotated_are_archived_at_the_next_start() {
    let d = TempDir::new("rot-recover");
    std::fs::write(d.0.join(".app.log.rotated-1700000000-0"), "from before\n").unwrap();
    std::fs::write(d.0.join(".app.log_20231114221320.gz.part"), "half").unwrap();
    let f = util::run(
        Mode::Subreaper,
        &[
            "--io",
            &d.path("app.log"),
            "--log-rotate",
            "1h",
            "sh",
            "-c",
            "echo now",
        ],
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    let a = archives(&d.0);
    assert_eq!(a.len(), 1);
    // Named after the rotation time recorded in the leftover's name: 2023-11-14 22:13:20 UTC.
    assert!(a[0].ends_with("app.log_20231114221320.gz"), "{a:?}");
    assert_eq!(gunzip(&a[0]), "from before\n");
    assert_eq!(
        std::fs::read_to_string(d.0.join("app.log")).unwrap(),
        "now\n"
    );
    no_temporaries(&d.0);
}

#[test]
fn bad_rotation_values_exit_2_and_start_nothing() {
    let d = TempDir::new("rot-usage");
    let log = d.path("app.log");
    let marker = d.path("started");
    let touch = format!("touch {marker}");
    let cases: Vec<Vec<&str>> = vec![
        vec!["--io", &log, "--log-rotate", "0"],
        vec!["--io", &log, "--log-rotate", "0s"],
        vec!["--io", &log, "--log-rotate=-1"],
        vec!["--io", &log, "--log-rotate", "1.5h"],
        vec!["--io", &log, "--log-rotate", "10x"],
        vec!["--io", &log, "--log-rotate", ""],
        vec!["--io", &log, "--log-rotate", "99999999999999999999"],
        vec!["--log-rotate", "1"],
        vec!["--io", "tcp://127.0.0.1:9", "--log-rotate", "1"],
        vec!["--io", &log, "--log-rotate", "1", "--log-keep", "0"],
        vec!["--io", &log, "--log-rotate", "1", "--log-keep", "x"],
        vec!["--io", &log, "--log-rotate", "1", "--log-keep=-3"],
        // clap takes a bare "-1" for an unknown flag: still exit 2, one line, nothing started.
        vec!["--io", &log, "--log-rotate", "-1"],
    ];
    for case in cases {
        let mut args = case.clone();
        args.extend(["sh", "-c", &touch]);
        let f = util::run(Mode::Subreaper, &args);
        assert_eq!(f.code, 2, "{case:?}: {}", f.stderr);
        assert_eq!(f.stderr.lines().count(), 1, "{case:?}: {}", f.stderr);
        assert!(
            f.stderr.contains("--log-") || f.stderr.contains("'-1'"),
            "{case:?}: {}",
            f.stderr
        );
        assert!(!Path::new(&marker).exists(), "{case:?} started the child");
        assert!(!Path::new(&log).exists(), "{case:?} opened the --io file");
    }
}
