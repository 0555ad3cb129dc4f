//! The archiver with its gzip thread, driven through a real loop.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::Read;
use std::rc::Rc;
use std::time::Instant;

use super::*;
use crate::event::Loop;
use crate::rotate::name::parse_archive_name;
use std::sync::Arc;

const HOUR: Duration = Duration::from_secs(3600);

/// An archiver for `path`, not started.
fn archiver(path: &Path, keep: usize) -> Archiver {
    Archiver::new(Arc::new(LogDir::open(path).unwrap()), keep, 0o600)
}

/// A loop running an archiver for `path`.
fn started(path: &Path, keep: usize) -> (Loop, Rc<RefCell<Archiver>>) {
    let mut lp = Loop::new().unwrap();
    let (rot, _) = lp.add_shared(archiver(path, keep));
    lp.start();
    (lp, rot)
}

/// A sink on `path` handing rotated files to `rot`.
fn sink_for(path: &Path, rot: &Rc<RefCell<Archiver>>) -> FileSink {
    let mut sink = FileSink::open(path, 0o600).unwrap();
    sink.enable_rotation(rot.borrow().handoff(), Some(HOUR), None);
    sink
}

/// Hands the file `name` in `d` (rotated out at `secs`) to the archiver, as the sink does.
fn send(rot: &Rc<RefCell<Archiver>>, d: &Path, name: &str, secs: u64) {
    use std::os::unix::fs::MetadataExt;
    let f = std::fs::File::open(d.join(name)).unwrap();
    let m = f.metadata().unwrap();
    rot.borrow()
        .handoff()
        .send(name.into(), Some(f), (m.dev(), m.ino()), secs);
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dock-rot-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the loop until the archiver is idle (deadline 30 s: a hang fails, it never passes by timing).
fn wait_idle(lp: &mut Loop, rot: &Rc<RefCell<Archiver>>) {
    let idle = lp.turn_until(Duration::from_secs(30), || rot.borrow().idle());
    assert!(idle, "gzip thread never finished");
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

use std::os::unix::ffi::OsStrExt;

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
    let (mut lp, rot) = started(&path, 3);
    wait_idle(&mut lp, &rot); // the startup scan for leftovers is done
    let mut sink = sink_for(&path, &rot);
    let mut line = 0;
    for _ in 0..6 {
        for _ in 0..1000 {
            sink.write(format!("line {line}\n").as_bytes()).unwrap();
            line += 1;
        }
        sink.request_rotation();
    }
    sink.write(b"current\n").unwrap();
    wait_idle(&mut lp, &rot);
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
    rot.borrow_mut()
        .finish_by(Instant::now() + Duration::from_secs(30));
    std::fs::remove_dir_all(&d).unwrap();
}

/// An archive that cannot finish (its input is a FIFO nobody writes, so the gzip thread blocks in
/// `read`) must not hold dock's exit past the deadline; the file stays for the next start.
#[test]
fn finish_gives_up_on_an_archive_at_the_deadline() {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let d = tmpdir("finish-bound");
    let path = d.join("app.log");
    let stuck = d.join("stuck-fifo");
    nix::unistd::mkfifo(&stuck, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // A writer held open (O_RDWR does not block), so the reader's `read` waits for data.
    let writer = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&stuck)
        .unwrap();
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(0)
        .open(&stuck)
        .unwrap();
    let m = reader.metadata().unwrap();
    let mut lp = Loop::new().unwrap();
    let mut rot = archiver(&path, 5);
    lp.with_ctx(0, |cx| rot.start(cx));
    rot.handoff()
        .send("stuck-fifo".into(), Some(reader), (m.dev(), m.ino()), 1);
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        rot.finish_by(Instant::now() + Duration::from_millis(200));
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
    drop(writer);
    drop(rot);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn finish_completes_the_archive_in_progress() {
    let d = tmpdir("finish");
    let path = d.join("app.log");
    let (_lp, rot) = started(&path, 5);
    let mut sink = sink_for(&path, &rot);
    let chunk = "0123456789abcdef".repeat(4096) + "\n";
    for _ in 0..64 {
        sink.write(chunk.as_bytes()).unwrap();
    }
    sink.request_rotation();
    rot.borrow_mut()
        .finish_by(Instant::now() + Duration::from_secs(30));
    assert!(rot.borrow().idle());
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
    let (mut lp, rot) = started(&path, 5);
    wait_idle(&mut lp, &rot);
    let a = archives(&d);
    assert_eq!(a.len(), 2);
    assert_eq!(gunzip(&a[0]), b"first\n");
    assert_eq!(gunzip(&a[1]), b"second\n");
    let left = names(&d);
    assert!(left.contains(".other.rotated-100-0"));
    assert!(!left.contains(".app.log_20200101000000.gz.part"));
    assert!(!left.contains(".app.log.rotated-100-0"));
    rot.borrow_mut()
        .finish_by(Instant::now() + Duration::from_secs(30));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_rotated_file_deleted_before_archiving_is_skipped() {
    let d = tmpdir("vanish");
    let path = d.join("app.log");
    let (mut lp, rot) = started(&path, 5);
    wait_idle(&mut lp, &rot);
    rot.borrow()
        .handoff()
        .send(".app.log.rotated-1-0".into(), None, (0, 0), 1);
    wait_idle(&mut lp, &rot);
    assert!(archives(&d).is_empty());
    rot.borrow_mut()
        .finish_by(Instant::now() + Duration::from_secs(30));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn archives_keep_the_rotation_time_and_a_valid_gzip_header() {
    let d = tmpdir("stamp");
    let path = d.join("app.log");
    let (mut lp, rot) = started(&path, 5);
    wait_idle(&mut lp, &rot); // recovery done: the files below are new rotations
    std::fs::write(d.join(".app.log.rotated-1709251199-0"), "x\n").unwrap();
    send(&rot, &d, ".app.log.rotated-1709251199-0", 1_709_251_199);
    std::fs::write(d.join(".app.log.rotated-1709251199-1"), "y\n").unwrap();
    send(&rot, &d, ".app.log.rotated-1709251199-1", 1_709_251_199);
    wait_idle(&mut lp, &rot);
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
    rot.borrow_mut()
        .finish_by(Instant::now() + Duration::from_secs(30));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn without_a_period_there_is_no_schedule() {
    let d = tmpdir("timer");
    let path = d.join("app.log");
    let (mut lp, rot) = started(&path, 5);
    wait_idle(&mut lp, &rot);
    let mut sink = FileSink::open(&path, 0o600).unwrap();
    assert_eq!(sink.next_due(), None, "no rotation, no schedule");
    sink.enable_rotation(rot.borrow().handoff(), None, Some(1 << 20));
    assert_eq!(sink.next_due(), None, "size only: no schedule");
    sink.enable_rotation(rot.borrow().handoff(), Some(HOUR), None);
    let first = sink.next_due().unwrap();
    assert_eq!(sink.next_due(), Some(first), "the schedule starts once");
    sink.write(b"a\n").unwrap();
    // Served before the boundary (a clock set back): nothing happens.
    sink.on_due(Instant::now());
    wait_idle(&mut lp, &rot);
    assert!(archives(&d).is_empty());
    rot.borrow_mut()
        .finish_by(Instant::now() + Duration::from_secs(30));
    std::fs::remove_dir_all(&d).unwrap();
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
    let (mut lp, rot) = started(&path, 5);
    wait_idle(&mut lp, &rot);
    // Something in the way of the archive's temporary name makes writing it fail, as a full disk would.
    let blocker = d.join(".app.log_20240229235959.gz.part");
    std::fs::create_dir(&blocker).unwrap();
    let temp = d.join(".app.log.rotated-1709251199-0");
    std::fs::write(&temp, "kept\n").unwrap();
    send(&rot, &d, ".app.log.rotated-1709251199-0", 1_709_251_199);
    wait_idle(&mut lp, &rot);
    assert!(archives(&d).is_empty());
    assert_eq!(
        std::fs::read(&temp).unwrap(),
        b"kept\n",
        "the lines are kept"
    );
    assert_eq!(rot.borrow().shared.failed.load(Ordering::Acquire), 1);
    // The next period retries (an empty current file: nothing new to rotate).
    std::fs::remove_dir(&blocker).unwrap();
    rot.borrow().handoff().retry_failed();
    wait_idle(&mut lp, &rot);
    let a = archives(&d);
    assert_eq!(a.len(), 1);
    assert_eq!(gunzip(&a[0]), b"kept\n");
    assert!(!temp.exists());
    assert_eq!(rot.borrow().shared.failed.load(Ordering::Acquire), 0);
    rot.borrow_mut()
        .finish_by(Instant::now() + Duration::from_secs(30));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_planted_archive_name_is_skipped_and_never_counted() {
    // Issue 16.5: the newest possible name, planted by another user, stopped archiving for good.
    let d = tmpdir("planted");
    let path = d.join("app.log");
    let planted = d.join("app.log_99991231235959-4294967295.gz");
    std::fs::write(&planted, "not dock's").unwrap();
    let nobody = nix::unistd::Uid::from_raw(65534);
    let mine = nix::unistd::geteuid() != nobody
        && nix::unistd::chown(&planted, Some(nobody), None).is_ok();
    let (mut lp, rot) = started(&path, 2);
    wait_idle(&mut lp, &rot);
    let mut sink = sink_for(&path, &rot);
    for i in 0..4 {
        sink.write(format!("{i}\n").as_bytes()).unwrap();
        sink.request_rotation();
        wait_idle(&mut lp, &rot);
    }
    let a = archives(&d);
    assert!(a.contains(&planted));
    let own: Vec<_> = a.iter().filter(|p| **p != planted).collect();
    if mine {
        // Retention keeps the newest two of dock's own; the planted file is left alone.
        assert_eq!(own.len(), 2, "{:?}", names(&d));
        let texts: Vec<Vec<u8>> = own.iter().map(|p| gunzip(p)).collect();
        assert_eq!(texts, [b"2\n".to_vec(), b"3\n".to_vec()]);
    } else {
        assert!(!own.is_empty());
    }
    assert_eq!(std::fs::read(&planted).unwrap(), b"not dock's");
    assert!(
        !names(&d).iter().any(|n| n.starts_with(".app.log.rotated")),
        "{:?}",
        names(&d)
    );
    rot.borrow_mut()
        .finish_by(Instant::now() + Duration::from_secs(30));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn planted_links_are_never_archived_read_or_followed() {
    // Issue 16.1: a `.app.log.rotated-*` link to a root-only file was archived at the next start.
    let d = tmpdir("planted-link");
    let path = d.join("app.log");
    let secret = d.join("secret");
    std::fs::write(&secret, "root only\n").unwrap();
    std::os::unix::fs::symlink(&secret, d.join(".app.log.rotated-5-0")).unwrap();
    std::fs::hard_link(&secret, d.join(".app.log.rotated-6-0")).unwrap();
    let (mut lp, rot) = started(&path, 5);
    wait_idle(&mut lp, &rot);
    assert!(archives(&d).is_empty(), "{:?}", names(&d));
    assert!(d.join(".app.log.rotated-5-0").exists());
    assert_eq!(std::fs::read(&secret).unwrap(), b"root only\n");
    rot.borrow_mut()
        .finish_by(Instant::now() + Duration::from_secs(30));
    std::fs::remove_dir_all(&d).unwrap();
}
