//! The log path under attack and faults (issue 16, items 1, 4, 5, 8), through the real binary:
//! symbolic links and hard links at the `--io` path, a link raced in at each rotation, planted
//! rotated-out names and archive names, owner and mode across rotation, a full disk (a small tmpfs
//! the test mounts in a private mount namespace), memory with a long prefix.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::logs::{archives, gunzip};
use crate::util::{self, Mode, Running, TempDir};

const SECRET: &[u8] = b"root:only:secret\n";

/// A child whose lines span about three seconds (rotations every second in between).
const PACED: &str = "i=0; while [ $i -lt 60 ]; do echo line-$i; i=$((i+1)); sleep 0.05; done";

/// A root-only file that must never receive a byte or be read into an archive.
fn secret(d: &TempDir) -> String {
    let p = d.path("secret");
    std::fs::write(&p, SECRET).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

#[test]
fn a_symlinked_io_path_is_refused_at_start_with_one_line() {
    let d = TempDir::new("faults-link");
    let target = secret(&d);
    let log = d.path("app.log");
    std::os::unix::fs::symlink(&target, &log).unwrap();
    let marker = d.path("started");
    let touch = format!("touch {marker}");
    for extra in [
        &[][..],
        &["--timestamps"],
        &["--log-rotate", "1h"],
        &["--log-max-size", "1M"],
    ] {
        let mut args = vec!["--io", &log];
        args.extend_from_slice(extra);
        args.extend(["sh", "-c", &touch]);
        let f = util::run(Mode::Subreaper, &args);
        assert_eq!(f.code, 2, "{extra:?}: {}", f.stderr);
        assert_eq!(f.stderr.lines().count(), 1, "{}", f.stderr);
        assert!(f.stderr.contains("is a symbolic link"), "{}", f.stderr);
        assert!(!Path::new(&marker).exists(), "{extra:?} started the child");
    }
    assert_eq!(std::fs::read(&target).unwrap(), SECRET);
    // A second name of another file is refused the same way.
    std::fs::remove_file(&log).unwrap();
    std::fs::hard_link(&target, &log).unwrap();
    let f = util::run(Mode::Subreaper, &["--io", &log, "sh", "-c", &touch]);
    assert_eq!(f.code, 2, "{}", f.stderr);
    assert!(f.stderr.contains("hard links"), "{}", f.stderr);
    assert_eq!(std::fs::read(&target).unwrap(), SECRET);
}

#[test]
fn a_link_raced_in_at_every_rotation_is_never_followed() {
    let d = TempDir::new("faults-race");
    let target = secret(&d);
    let log = d.path("app.log");
    // A rotation every second for three seconds: each a rename and a new file at the path.
    let r = Running::start(
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
            PACED,
        ],
    );
    util::wait_until("dock's file", || Path::new(&log).exists());
    // The attacker: a link at the path whenever there is none, for as long as dock runs.
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, t2, l2) = (stop.clone(), target.clone(), log.clone());
    let attacker = std::thread::spawn(move || {
        let mut planted = 0u64;
        while !s2.load(Ordering::Relaxed) {
            if std::os::unix::fs::symlink(&t2, &l2).is_ok() {
                planted += 1;
            }
        }
        planted
    });
    let f = r.finish();
    stop.store(true, Ordering::Relaxed);
    let planted = attacker.join().unwrap();
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert!(planted > 0, "the attacker never got a link in");
    assert_eq!(
        std::fs::read(&target).unwrap(),
        SECRET,
        "dock wrote through the link"
    );
    for a in archives(&d.0) {
        let text = gunzip(&a);
        assert!(
            !text.windows(6).any(|w| w == b"secret"),
            "{} holds the secret",
            a.display()
        );
    }
}

#[test]
fn planted_rotated_out_links_are_left_alone() {
    let d = TempDir::new("faults-plant");
    let target = secret(&d);
    std::os::unix::fs::symlink(&target, d.0.join(".app.log.rotated-1700000000-0")).unwrap();
    std::fs::hard_link(&target, d.0.join(".app.log.rotated-1700000001-0")).unwrap();
    let f = util::run(
        Mode::Subreaper,
        &[
            "--io",
            &d.path("app.log"),
            "--log-rotate",
            "1h",
            "echo",
            "x",
        ],
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert!(archives(&d.0).is_empty(), "a planted name was archived");
    assert!(f.stderr.contains("left alone"), "{}", f.stderr);
    assert_eq!(std::fs::read(&target).unwrap(), SECRET);
}

#[test]
fn rotation_keeps_the_logs_owner_and_mode() {
    let d = TempDir::new("faults-owner");
    let log = d.path("app.log");
    std::fs::write(&log, "").unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
    nix::unistd::chown(
        Path::new(&log),
        Some(nix::unistd::Uid::from_raw(65534)),
        Some(nix::unistd::Gid::from_raw(65534)),
    )
    .unwrap();
    let before = std::fs::metadata(&log).unwrap();
    let f = util::run(
        Mode::Pid1,
        &["--io", &log, "--log-rotate", "1s", "sh", "-c", PACED],
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    let after = std::fs::metadata(&log).unwrap();
    assert_ne!(after.ino(), before.ino(), "not rotated");
    assert_eq!(after.permissions().mode() & 0o7777, 0o644);
    assert_eq!((after.uid(), after.gid()), (65534, 65534));
    // Archives: dock's, the log's group, --log-mode (default 0600).
    for a in archives(&d.0) {
        let m = std::fs::metadata(&a).unwrap();
        assert_eq!(
            (m.uid(), m.gid(), m.permissions().mode() & 0o777),
            (0, 65534, 0o600)
        );
    }
}

#[test]
fn a_planted_archive_name_does_not_stop_archiving() {
    let d = TempDir::new("faults-name");
    let planted = d.0.join("app.log_99991231235959-4294967295.gz");
    std::fs::write(&planted, "planted").unwrap();
    nix::unistd::chown(&planted, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    for run in 0..2 {
        let f = util::run(
            Mode::Subreaper,
            &[
                "--io",
                &d.path("app.log"),
                "--log-rotate",
                "1s",
                "--log-keep",
                "2",
                "sh",
                "-c",
                PACED,
            ],
        );
        assert_eq!(f.code, 0, "run {run}: {}", f.stderr);
        let a = archives(&d.0);
        let own: Vec<_> = a.iter().filter(|p| **p != planted).collect();
        assert_eq!(own.len(), 2, "run {run}: {a:?}");
        let left: Vec<String> = std::fs::read_dir(&d.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "rotated-out files pile up: {left:?}");
    }
    assert_eq!(std::fs::read(&planted).unwrap(), b"planted");
}

/// Starts dock with `args` in a private mount namespace where `dir` is a fresh tmpfs of `size`
/// holding a `ballast` file of `ballast` bytes; the test sees that tmpfs through
/// `/proc/<dock>/root`.
fn on_small_tmpfs(dir: &str, size: &str, ballast: usize, args: &[&str]) -> Running {
    let script = format!(
        "mount -t tmpfs -o size={size} dock-test {dir} && head -c {ballast} /dev/zero > {dir}/ballast && exec \"$@\""
    );
    let mut c = Command::new("unshare");
    c.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
        "sh",
        util::bin(),
    ]);
    c.args(args);
    Running::from_command(Mode::Subreaper, c)
}

#[test]
fn a_full_disk_drops_whole_lines_counted_and_rotation_goes_on() {
    let d = TempDir::new("faults-full");
    let dir = d.path("mnt");
    std::fs::create_dir(&dir).unwrap();
    let pad = "x".repeat(80);
    // Lines until told to stop (a file in the tmpfs), then "last" and a wait.
    let child = format!(
        "i=0; while [ ! -e {dir}/stop ]; do echo line-$i-{pad}; i=$((i+1)); sleep 0.002; done; echo last; exec sleep 60"
    );
    let log = format!("{dir}/app.log");
    let r = on_small_tmpfs(
        &dir,
        "256k",
        200_000,
        &[
            "-d",
            "--io",
            &log,
            "--log-rotate",
            "1s",
            "--log-keep",
            "50",
            "sh",
            "-c",
            &child,
        ],
    );
    let seen = format!("/proc/{}/root{dir}", r.child.id());
    let names = || -> Vec<String> {
        std::fs::read_dir(&seen)
            .map(|it| {
                it.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    r.wait_stderr("dropping output until writes work again");
    // Rotation goes on at its time although the file ends mid-line: a rotated-out file whose
    // archive cannot be written yet (no space).
    r.wait_stderr("is kept; archiving is retried");
    // Space comes back: writes resume, the kept file is archived at the next period.
    std::fs::remove_file(format!("{seen}/ballast")).unwrap();
    util::wait_until("the kept file archived", || {
        !names().iter().any(|n| n.starts_with(".app.log.rotated-"))
    });
    std::fs::write(format!("{seen}/stop"), "").unwrap();
    util::wait_until("the last line", || {
        std::fs::read(format!("{seen}/app.log")).is_ok_and(|t| t.ends_with(b"last\n"))
    });
    let mut files: Vec<Vec<u8>> = archives(Path::new(&seen))
        .iter()
        .map(|a| gunzip(a))
        .collect();
    files.push(std::fs::read(format!("{seen}/app.log")).unwrap());
    r.signal(libc::SIGTERM);
    let f = r.finish();
    // Every line is whole, or cut by a failure and ended (by a newline, or by its file's end):
    // never two glued.
    let full_len = format!("line-0-{pad}").len() - 1;
    let (mut whole, mut cut) = (Vec::new(), 0usize);
    for file in &files {
        let text = String::from_utf8(file.clone()).unwrap();
        for l in text.lines().filter(|l| *l != "last") {
            assert_eq!(l.matches("line-").count(), 1, "glued: {l:?}");
            let n = l[5..]
                .split('-')
                .next()
                .and_then(|n| n.parse::<usize>().ok());
            match n {
                Some(n) if l.len() == full_len + n.to_string().len() => {
                    assert!(whole.last().is_none_or(|&p| n > p), "order: {l}");
                    whole.push(n);
                }
                _ => cut += 1,
            }
        }
    }
    // What was lost is reported when writing resumes: every line that lost bytes.
    let reported: usize = f
        .stderr
        .lines()
        .filter_map(|l| l.split("writing again; dropped ").nth(1))
        .map(|rest| {
            let n = rest.split(" bytes (").nth(1).unwrap();
            n.split(' ').next().unwrap().parse::<usize>().unwrap()
        })
        .sum();
    let runs = f.stderr.matches("writing again; dropped").count();
    let missing = whole.windows(2).map(|w| w[1] - w[0] - 1).sum::<usize>();
    assert!(runs >= 1, "{}", f.stderr);
    assert!(missing > 0, "nothing was dropped: the disk never filled");
    assert!(
        reported >= missing && reported <= missing + cut + runs,
        "{reported} reported, {missing} missing, {cut} cut:\n{}",
        f.stderr
    );
}

#[test]
fn a_long_prefix_does_not_multiply_memory() {
    // 256 KiB of empty lines with a 4 KiB prefix: 1 GiB of output, relayed in bounded pieces.
    let prefix = "p".repeat(4096);
    let mut c = util::command(
        Mode::Subreaper,
        &[
            "--stdout-prefix",
            &prefix,
            "sh",
            "-c",
            "head -c 262144 /dev/zero | tr '\\0' '\\n'; exec sleep 30",
        ],
    );
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let field = |name: &str| -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{pid}/{name}")).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix(if name == "io" { "wchar:" } else { "VmHWM:" }))
            .map(|v| v.trim().trim_end_matches(" kB").parse().unwrap())
            .unwrap()
    };
    util::wait_until("all of it relayed", || field("io") >= 262_144 * 4097);
    let peak_kb = field("status");
    dock::sys::kill(pid as i32, libc::SIGTERM).unwrap();
    assert!(util::exit_code_within_deadline(&mut child).is_some());
    assert!(peak_kb < 32 * 1024, "dock's peak RSS {peak_kb} kB");
}
