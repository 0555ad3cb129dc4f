//! The file sink: line-exact switches, and what it does when the file is moved, deleted or not a file.

use super::*;
use crate::rotate::worker::Job;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::sync::mpsc::Receiver;
use std::time::Duration;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dock-file-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rotated_in(dir: &Path, rx: &Receiver<Job>) -> Vec<PathBuf> {
    rx.try_iter()
        .map(|j| match j {
            Job::Archive(r) => dir.join(r.temp),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

fn sink_with(dir: &Path, max: Option<u64>) -> (FileSink, Receiver<Job>) {
    let mut s = FileSink::open(&dir.join("app.log"), 0o600).unwrap();
    let (h, rx) = Handoff::for_test();
    s.enable_rotation(h, Some(Duration::from_secs(3600)), max);
    (s, rx)
}

fn sink(dir: &Path) -> (FileSink, Receiver<Job>) {
    sink_with(dir, None)
}

#[test]
fn opens_0600_appending() {
    use std::os::unix::fs::PermissionsExt;
    let d = tmpdir("mode");
    let p = d.join("app.log");
    std::fs::write(&p, "old\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut s = FileSink::open(&p, 0o600).unwrap();
    s.write(b"new\n").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"old\nnew\n");
    let _ = std::fs::remove_file(&p);
    let mut s = FileSink::open(&p, 0o600).unwrap();
    s.write(b"x").unwrap();
    let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_partial_line_is_finished_in_the_old_file() {
    let d = tmpdir("partial");
    let (mut s, rx) = sink(&d);
    assert_eq!(s.write(b"one\ntw").unwrap(), 6);
    s.request_rotation();
    assert!(s.rotation_pending());
    assert!(rotated_in(&d, &rx).is_empty());
    // No newline yet: still the old file.
    assert_eq!(s.write(b"o-and").unwrap(), 5);
    assert!(s.rotation_pending());
    assert_eq!(s.write(b"-more\nthree\nfo").unwrap(), 14);
    assert!(!s.rotation_pending());
    let temps = rotated_in(&d, &rx);
    assert_eq!(temps.len(), 1);
    assert_eq!(
        std::fs::read(&temps[0]).unwrap(),
        b"one\ntwo-and-more\n".to_vec()
    );
    assert_eq!(std::fs::read(d.join("app.log")).unwrap(), b"three\nfo");
    let name = temps[0].file_name().unwrap().as_bytes().to_vec();
    assert!(crate::rotate::name::parse_temp_name(b"app.log", &name).is_some());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn at_a_line_boundary_the_switch_is_immediate() {
    let d = tmpdir("boundary");
    let (mut s, rx) = sink(&d);
    s.write(b"a\n").unwrap();
    s.request_rotation();
    assert!(!s.rotation_pending());
    let temps = rotated_in(&d, &rx);
    assert_eq!(std::fs::read(&temps[0]).unwrap(), b"a\n");
    assert_eq!(std::fs::read(d.join("app.log")).unwrap(), b"");
    // A newline at the very end of a chunk switches with nothing left for the new file.
    s.write(b"b").unwrap();
    s.request_rotation();
    s.write(b"c\n").unwrap();
    let temps = rotated_in(&d, &rx);
    assert_eq!(std::fs::read(&temps[0]).unwrap(), b"bc\n");
    assert_eq!(std::fs::read(d.join("app.log")).unwrap(), b"");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn an_empty_file_is_not_rotated() {
    let d = tmpdir("empty");
    let (mut s, rx) = sink(&d);
    s.request_rotation();
    assert!(!s.rotation_pending());
    assert!(rotated_in(&d, &rx).is_empty());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bytes_written_behind_the_sinks_back_count() {
    // As after a splice before rotation was on: the sink looks at the file, not its memory.
    let d = tmpdir("behind");
    let (mut s, rx) = sink(&d);
    s.write(b"x\n").unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(d.join("app.log"))
        .unwrap()
        .write_all(b"partial")
        .unwrap();
    s.request_rotation();
    assert!(s.rotation_pending());
    s.write(b"\nnext\n").unwrap();
    let temps = rotated_in(&d, &rx);
    assert_eq!(std::fs::read(&temps[0]).unwrap(), b"x\npartial\n");
    assert_eq!(std::fs::read(d.join("app.log")).unwrap(), b"next\n");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_deleted_file_is_reopened_not_archived() {
    let d = tmpdir("deleted");
    let (mut s, rx) = sink(&d);
    s.write(b"gone\n").unwrap();
    std::fs::remove_file(d.join("app.log")).unwrap();
    s.request_rotation();
    assert!(rotated_in(&d, &rx).is_empty());
    s.write(b"after\n").unwrap();
    assert_eq!(std::fs::read(d.join("app.log")).unwrap(), b"after\n");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn failures_keep_output_flowing_into_the_current_file() {
    let d = tmpdir("nodir");
    let (mut s, rx) = sink(&d);
    s.write(b"a\n").unwrap();
    // The whole directory vanishes: rename and reopen both fail; writes still land in the fd.
    let keep = std::fs::File::open(d.join("app.log")).unwrap();
    std::fs::remove_dir_all(&d).unwrap();
    s.request_rotation();
    assert!(rotated_in(&d, &rx).is_empty());
    assert_eq!(s.write(b"b\n").unwrap(), 2);
    let mut all = String::new();
    std::io::Read::read_to_string(&mut &keep, &mut all).unwrap();
    assert_eq!(all, "a\nb\n");
}

#[test]
fn a_device_is_never_renamed() {
    let d = PathBuf::from("/dev");
    let mut s = FileSink::open(Path::new("/dev/null"), 0o600).unwrap();
    let (h, rx) = Handoff::for_test();
    s.enable_rotation(h, Some(Duration::from_secs(3600)), Some(1));
    s.write(b"partial").unwrap();
    s.request_rotation();
    s.write(b"\n").unwrap();
    s.switch();
    assert!(rotated_in(&d, &rx).is_empty());
    assert!(Path::new("/dev/null").exists());
}

#[test]
fn many_rotations_in_one_second_get_distinct_temp_names() {
    let d = tmpdir("many");
    let (mut s, rx) = sink(&d);
    for i in 0..20 {
        s.write(format!("{i}\n").as_bytes()).unwrap();
        s.request_rotation();
    }
    let temps = rotated_in(&d, &rx);
    assert_eq!(temps.len(), 20);
    for (i, t) in temps.iter().enumerate() {
        assert_eq!(std::fs::read(t).unwrap(), format!("{i}\n").as_bytes());
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn size_rotation_happens_before_the_line_that_would_pass_the_limit() {
    let d = tmpdir("size");
    let (mut s, rx) = sink_with(&d, Some(10));
    // "aaaa\nbbbb\n" is exactly 10: fits. "cc\n" would pass it: new file first.
    s.write(b"aaaa\nbbbb\ncc\ndd").unwrap();
    s.write(b"dd\n").unwrap();
    let temps = rotated_in(&d, &rx);
    assert_eq!(temps.len(), 1);
    assert_eq!(std::fs::read(&temps[0]).unwrap(), b"aaaa\nbbbb\n");
    assert_eq!(std::fs::read(d.join("app.log")).unwrap(), b"cc\ndddd\n");
    // A line longer than the limit: whole, in a file of its own, then the file rotates.
    s.write(b"0123456789abcdef\nx\n").unwrap();
    let temps = rotated_in(&d, &rx);
    assert_eq!(temps.len(), 2);
    assert_eq!(std::fs::read(&temps[0]).unwrap(), b"cc\ndddd\n");
    assert_eq!(std::fs::read(&temps[1]).unwrap(), b"0123456789abcdef\n");
    assert_eq!(std::fs::read(d.join("app.log")).unwrap(), b"x\n");
    // A long line arriving in pieces into an empty file stays whole.
    let (mut s, rx) = sink_with(&tmpdir("size2"), Some(4));
    for piece in [&b"abc"[..], b"defgh", b"ij\nk\n"] {
        s.write(piece).unwrap();
    }
    let d2 = std::env::temp_dir().join(format!("dock-file-size2-{}", std::process::id()));
    let temps = rotated_in(&d2, &rx);
    assert_eq!(std::fs::read(&temps[0]).unwrap(), b"abcdefghij\n");
    assert_eq!(std::fs::read(d2.join("app.log")).unwrap(), b"k\n");
    std::fs::remove_dir_all(&d).unwrap();
    std::fs::remove_dir_all(&d2).unwrap();
}

#[test]
fn a_symlinked_path_is_refused_at_open() {
    let d = tmpdir("link");
    let secret = d.join("secret");
    std::fs::write(&secret, "root only\n").unwrap();
    std::os::unix::fs::symlink(&secret, d.join("app.log")).unwrap();
    let e = FileSink::open(&d.join("app.log"), 0o600).unwrap_err();
    assert!(matches!(e, OpenError::Symlink { .. }), "{e:?}");
    assert!(crate::log::chain(&e).contains("is a symbolic link"));
    // A dangling link too: it would create the file wherever it points.
    std::fs::remove_file(d.join("app.log")).unwrap();
    std::os::unix::fs::symlink(d.join("elsewhere"), d.join("app.log")).unwrap();
    assert!(matches!(
        FileSink::open(&d.join("app.log"), 0o600),
        Err(OpenError::Symlink { .. })
    ));
    assert!(!d.join("elsewhere").exists());
    // A second hard link to another file.
    std::fs::remove_file(d.join("app.log")).unwrap();
    std::fs::hard_link(&secret, d.join("app.log")).unwrap();
    assert!(matches!(
        FileSink::open(&d.join("app.log"), 0o600),
        Err(OpenError::HardLinks { links: 2, .. })
    ));
    assert_eq!(std::fs::read(&secret).unwrap(), b"root only\n");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_link_planted_at_the_path_is_never_followed() {
    let d = tmpdir("plant");
    let secret = d.join("secret");
    std::fs::write(&secret, "root only\n").unwrap();
    let (mut s, rx) = sink(&d);
    s.write(b"one\n").unwrap();
    // The user renames the log away and puts a link in its place: dock reopens the path, which
    // must not follow the link.
    std::fs::rename(d.join("app.log"), d.join("moved")).unwrap();
    std::os::unix::fs::symlink(&secret, d.join("app.log")).unwrap();
    s.request_rotation();
    s.write(b"two\n").unwrap();
    assert_eq!(std::fs::read(&secret).unwrap(), b"root only\n");
    assert!(rotated_in(&d, &rx).is_empty());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn the_directory_swapped_for_a_link_does_not_redirect_rotation() {
    let base = tmpdir("swap");
    let d = base.join("logs");
    let other = base.join("other");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    let (mut s, rx) = sink(&d);
    s.write(b"one\n").unwrap();
    std::fs::rename(&d, base.join("old-logs")).unwrap();
    std::os::unix::fs::symlink(&other, &d).unwrap();
    s.request_rotation();
    s.write(b"two\n").unwrap();
    assert_eq!(
        std::fs::read_dir(&other).unwrap().count(),
        0,
        "nothing in the link's target"
    );
    let temps: Vec<_> = rx.try_iter().collect();
    assert_eq!(temps.len(), 1);
    assert_eq!(
        std::fs::read(base.join("old-logs/app.log")).unwrap(),
        b"two\n",
        "the new file is in the directory dock opened"
    );
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn rotation_keeps_the_files_owner_and_mode() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let d = tmpdir("owner");
    let p = d.join("app.log");
    std::fs::write(&p, "").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    // nobody:nogroup (65534) where dock may give files away (root); else dock's own ids.
    let _ = nix::unistd::chown(
        &p,
        Some(nix::unistd::Uid::from_raw(65534)),
        Some(nix::unistd::Gid::from_raw(65534)),
    );
    let before = std::fs::metadata(&p).unwrap();
    let (mut s, _rx) = sink(&d);
    s.write(b"a\n").unwrap();
    s.request_rotation();
    s.write(b"b\n").unwrap();
    let after = std::fs::metadata(&p).unwrap();
    assert_ne!(after.ino(), before.ino(), "rotated");
    assert_eq!(after.permissions().mode() & 0o7777, 0o644);
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn log_mode_is_exact_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let d = tmpdir("mode2");
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let s = FileSink::open(&d.join("app.log"), 0o644);
    nix::sys::stat::umask(old);
    drop(s.unwrap());
    let mode = std::fs::metadata(d.join("app.log"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn failed_writes_are_counted_and_never_returned() {
    // /dev/full: every write fails with ENOSPC.
    let mut s = FileSink::open(Path::new("/dev/full"), 0o600).unwrap();
    assert_eq!(s.write(b"one\ntwo\nthr").unwrap(), 11);
    assert_eq!(s.write(b"ee\nfour\n").unwrap(), 8);
    // one, two, three (cut: its rest is dropped with it, counted once), four.
    let l = s.loss.as_ref().unwrap();
    assert_eq!((l.bytes, l.lines), (19, 4));
    s.finish();
    assert!(s.loss.is_none());
}

#[test]
fn a_size_rotation_that_cannot_happen_is_not_retried_at_every_line() {
    let d = PathBuf::from("/dev");
    let mut s = FileSink::open(Path::new("/dev/null"), 0o600).unwrap();
    let (h, rx) = Handoff::for_test();
    s.enable_rotation(h, None, Some(100));
    for _ in 0..100 {
        s.write(b"0123456789\n").unwrap();
    }
    assert!(rotated_in(&d, &rx).is_empty());
    // Tried about once per 100 bytes written, not at each of the 100 lines past the limit.
    let rot = s.rotation.as_ref().unwrap();
    assert!(rot.size_retry_at > 1000, "{}", rot.size_retry_at);
}
