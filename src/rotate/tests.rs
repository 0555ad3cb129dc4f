//! The Rotator with its gzip thread, driven through a real reactor.

use std::collections::BTreeSet;
use std::io::Read;
use std::time::Instant;

use super::*;
use crate::rotate::name::parse_archive_name;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dock-rot-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the loop until the rotator is idle (deadline 30 s: a hang fails, it never passes by timing).
fn wait_idle(r: &mut Reactor, rot: &mut Rotator) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !rot.idle() {
        assert!(Instant::now() < deadline, "gzip thread never finished");
        for ev in r.poll(Some(Duration::from_secs(1))).unwrap() {
            if r.source(ev.token) == Some(Source::ArchiveDone) {
                rot.on_archive_done(r);
            }
        }
        r.flush_removals();
    }
}

fn gunzip(p: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// dock's archives of `app.log` in `d`, oldest first (by parsed name).
fn archives(d: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name();
            parse_archive_name(b"app.log", n.as_bytes()).map(|k| (k, d.join(n)))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, p)| p).collect()
}

fn names(d: &Path) -> BTreeSet<String> {
    std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

use std::os::unix::ffi::{OsStrExt, OsStringExt};

#[test]
fn rotations_become_archives_in_order_and_retention_keeps_the_newest() {
    let d = tmpdir("order");
    let path = d.join("app.log");
    for other in [
        "app.log.1.gz",
        "app.log2_x.gz",
        "app.log2_20200101000000.gz",
    ] {
        std::fs::write(d.join(other), "not dock's").unwrap();
    }
    let mut r = Reactor::new().unwrap();
    let mut rot = Rotator::new(path.clone(), Duration::from_secs(3600), 3);
    rot.start(&mut r).unwrap();
    wait_idle(&mut r, &mut rot); // the startup scan for leftovers is done
    let mut sink = FileSink::open(&path).unwrap();
    rot.attach_sink(&mut sink);
    let mut line = 0;
    for _ in 0..6 {
        for _ in 0..1000 {
            sink.write(format!("line {line}\n").as_bytes()).unwrap();
            line += 1;
        }
        rot.rotate(&mut sink);
    }
    sink.write(b"current\n").unwrap();
    wait_idle(&mut r, &mut rot);
    let a = archives(&d);
    assert_eq!(a.len(), 3, "{:?}", names(&d));
    // The newest three rotations, in order, each whole.
    for (i, p) in a.iter().enumerate() {
        let text = String::from_utf8(gunzip(p)).unwrap();
        let first = (3 + i) * 1000;
        let want: String = (first..first + 1000)
            .map(|n| format!("line {n}\n"))
            .collect();
        assert_eq!(text, want, "{}", p.display());
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"current\n");
    let left = names(&d);
    for other in [
        "app.log.1.gz",
        "app.log2_x.gz",
        "app.log2_20200101000000.gz",
    ] {
        assert!(left.contains(other), "{other} was touched");
    }
    assert!(
        !left.iter().any(|n| n.starts_with('.')),
        "temporary files left: {left:?}"
    );
    rot.finish(Instant::now() + Duration::from_secs(30));
    std::fs::remove_dir_all(&d).unwrap();
}

/// An archive that cannot finish (its input is a FIFO nobody writes, so the gzip thread blocks in
/// `open`) must not hold dock's exit past the deadline; the file stays for the next start.
#[test]
fn finish_gives_up_on_an_archive_at_the_deadline() {
    let d = tmpdir("finish-bound");
    let path = d.join("app.log");
    let stuck = d.join(OsString::from_vec(name::temp_name(b"app.log", 1, 0)));
    nix::unistd::mkfifo(&stuck, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let mut r = Reactor::new().unwrap();
    let mut rot = Rotator::new(path.clone(), Duration::from_secs(3600), 5);
    rot.start(&mut r).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        rot.finish(Instant::now() + Duration::from_millis(200));
        tx.send(()).unwrap();
        rot
    });
    // A hang fails the test here (it never passes by timing).
    rx.recv_timeout(Duration::from_secs(20))
        .expect("finish waited past its deadline");
    let rot = waiter.join().unwrap();
    assert!(
        stuck.exists(),
        "the unarchived file stays for the next start"
    );
    // Release the gzip thread: it reads the FIFO's EOF and archives an empty file.
    drop(
        std::fs::OpenOptions::new()
            .write(true)
            .open(&stuck)
            .unwrap(),
    );
    drop(rot);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn finish_completes_the_archive_in_progress() {
    let d = tmpdir("finish");
    let path = d.join("app.log");
    let mut r = Reactor::new().unwrap();
    let mut rot = Rotator::new(path.clone(), Duration::from_secs(3600), 5);
    rot.start(&mut r).unwrap();
    let mut sink = FileSink::open(&path).unwrap();
    rot.attach_sink(&mut sink);
    let chunk = "0123456789abcdef".repeat(4096) + "\n";
    for _ in 0..64 {
        sink.write(chunk.as_bytes()).unwrap();
    }
    rot.rotate(&mut sink);
    rot.finish(Instant::now() + Duration::from_secs(30));
    assert!(rot.idle());
    let a = archives(&d);
    assert_eq!(a.len(), 1);
    assert_eq!(gunzip(&a[0]).len(), chunk.len() * 64);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn leftovers_of_a_crash_are_archived_and_half_archives_deleted() {
    let d = tmpdir("recover");
    let path = d.join("app.log");
    std::fs::write(d.join(".app.log.rotated-100-1"), "second\n").unwrap();
    std::fs::write(d.join(".app.log.rotated-100-0"), "first\n").unwrap();
    std::fs::write(d.join(".app.log_20200101000000.gz.part"), "junk").unwrap();
    std::fs::write(d.join(".other.rotated-100-0"), "not ours\n").unwrap();
    let mut r = Reactor::new().unwrap();
    let mut rot = Rotator::new(path, Duration::from_secs(3600), 5);
    rot.start(&mut r).unwrap();
    wait_idle(&mut r, &mut rot);
    let a = archives(&d);
    assert_eq!(a.len(), 2);
    assert_eq!(gunzip(&a[0]), b"first\n");
    assert_eq!(gunzip(&a[1]), b"second\n");
    let left = names(&d);
    assert!(left.contains(".other.rotated-100-0"));
    assert!(!left.contains(".app.log_20200101000000.gz.part"));
    assert!(!left.contains(".app.log.rotated-100-0"));
    rot.finish(Instant::now() + Duration::from_secs(30));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_rotated_file_deleted_before_archiving_is_skipped() {
    let d = tmpdir("vanish");
    let path = d.join("app.log");
    let mut r = Reactor::new().unwrap();
    let mut rot = Rotator::new(path, Duration::from_secs(3600), 5);
    rot.start(&mut r).unwrap();
    wait_idle(&mut r, &mut rot);
    rot.handoff().send(d.join(".app.log.rotated-1-0"), 1);
    wait_idle(&mut r, &mut rot);
    assert!(archives(&d).is_empty());
    rot.finish(Instant::now() + Duration::from_secs(30));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn archives_keep_the_rotation_time_and_a_valid_gzip_header() {
    let d = tmpdir("stamp");
    let path = d.join("app.log");
    let mut r = Reactor::new().unwrap();
    let mut rot = Rotator::new(path, Duration::from_secs(3600), 5);
    rot.start(&mut r).unwrap();
    wait_idle(&mut r, &mut rot); // recovery done: the files below are new rotations
    std::fs::write(d.join(".app.log.rotated-1709251199-0"), "x\n").unwrap();
    rot.handoff()
        .send(d.join(".app.log.rotated-1709251199-0"), 1_709_251_199);
    std::fs::write(d.join(".app.log.rotated-1709251199-1"), "y\n").unwrap();
    rot.handoff()
        .send(d.join(".app.log.rotated-1709251199-1"), 1_709_251_199);
    wait_idle(&mut r, &mut rot);
    let left = names(&d);
    assert!(left.contains("app.log_20240229235959.gz"), "{left:?}");
    assert!(left.contains("app.log_20240229235959-1.gz"), "{left:?}");
    let gz = std::fs::read(d.join("app.log_20240229235959.gz")).unwrap();
    assert_eq!(
        &gz[..3],
        &[0x1f, 0x8b, 8],
        "gzip magic + deflate (RFC 1952)"
    );
    assert_eq!(
        u32::from_le_bytes(gz[4..8].try_into().unwrap()),
        1_709_251_199
    );
    rot.finish(Instant::now() + Duration::from_secs(30));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn the_timer_drives_rotation_through_on_timer() {
    // Without a file sink (the io stub), on_timer only drains the timer: nothing to rotate, no panic.
    let d = tmpdir("timer");
    let mut r = Reactor::new().unwrap();
    let mut rot = Rotator::new(d.join("app.log"), Duration::from_millis(10), 5);
    rot.start(&mut r).unwrap();
    wait_idle(&mut r, &mut rot);
    let deadline = Instant::now() + Duration::from_secs(30);
    'wait: loop {
        assert!(Instant::now() < deadline);
        for ev in r.poll(Some(Duration::from_secs(1))).unwrap() {
            if r.source(ev.token) == Some(Source::RotateTimer) {
                let (mut stdio, _child) = crate::io::Stdio::setup(&test_config()).unwrap();
                rot.on_timer(&mut r, &mut stdio);
                break 'wait;
            }
        }
    }
    rot.finish(Instant::now() + Duration::from_secs(30));
    std::fs::remove_dir_all(&d).unwrap();
}

fn test_config() -> crate::cli::Config {
    match crate::cli::parse(["dock", "true"]).unwrap() {
        crate::cli::Parsed::Run(c) => *c,
        _ => unreachable!(),
    }
}

#[test]
fn split_paths() {
    let (dir, base) = split_path(Path::new("/var/log/app.log")).unwrap();
    assert_eq!(dir, Path::new("/var/log"));
    assert_eq!(base, "app.log");
    let (dir, _) = split_path(Path::new("rel.log")).unwrap();
    assert!(dir.is_absolute());
    assert!(split_path(Path::new("/")).is_err());
    assert!(split_path(Path::new("/tmp/..")).is_err());
}

#[test]
fn a_failed_archive_is_kept_and_retried_at_the_next_period() {
    let d = tmpdir("retry");
    let path = d.join("app.log");
    let mut r = Reactor::new().unwrap();
    let mut rot = Rotator::new(path.clone(), Duration::from_secs(3600), 5);
    rot.start(&mut r).unwrap();
    wait_idle(&mut r, &mut rot);
    // Something in the way of the archive's temporary name makes writing it fail, as a full disk would.
    let blocker = d.join(".app.log_20240229235959.gz.part");
    std::fs::create_dir(&blocker).unwrap();
    let temp = d.join(".app.log.rotated-1709251199-0");
    std::fs::write(&temp, "kept\n").unwrap();
    rot.handoff().send(temp.clone(), 1_709_251_199);
    wait_idle(&mut r, &mut rot);
    assert!(archives(&d).is_empty());
    assert_eq!(
        std::fs::read(&temp).unwrap(),
        b"kept\n",
        "the lines are kept"
    );
    assert_eq!(rot.shared.failed.load(Ordering::Acquire), 1);
    // The next period retries (an empty current file: nothing new to rotate).
    std::fs::remove_dir(&blocker).unwrap();
    let mut sink = FileSink::open(&path).unwrap();
    rot.rotate(&mut sink);
    wait_idle(&mut r, &mut rot);
    let a = archives(&d);
    assert_eq!(a.len(), 1);
    assert_eq!(gunzip(&a[0]), b"kept\n");
    assert!(!temp.exists());
    assert_eq!(rot.shared.failed.load(Ordering::Acquire), 0);
    rot.finish(Instant::now() + Duration::from_secs(30));
    std::fs::remove_dir_all(&d).unwrap();
}
