//! The file sink: line-exact switches, and what it does when the file is moved, deleted or not a file.

use super::*;
use crate::rotate::worker::Job;
use std::sync::mpsc::Receiver;
use std::time::Duration;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dock-file-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rotated(rx: &Receiver<Job>) -> Vec<PathBuf> {
    rx.try_iter()
        .map(|j| match j {
            Job::Archive(r) => r.temp,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

fn sink(dir: &Path) -> (FileSink, Receiver<Job>) {
    let mut s = FileSink::open(&dir.join("app.log")).unwrap();
    assert!(!s.needs_bytes());
    let (h, rx) = Handoff::for_test();
    s.enable_rotation(h, Duration::from_secs(3600));
    assert!(s.needs_bytes());
    (s, rx)
}

#[test]
fn opens_0600_appending() {
    use std::os::unix::fs::PermissionsExt;
    let d = tmpdir("mode");
    let p = d.join("app.log");
    std::fs::write(&p, "old\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut s = FileSink::open(&p).unwrap();
    s.write(b"new\n").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"old\nnew\n");
    let _ = std::fs::remove_file(&p);
    let mut s = FileSink::open(&p).unwrap();
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
    assert!(rotated(&rx).is_empty());
    // No newline yet: still the old file.
    assert_eq!(s.write(b"o-and").unwrap(), 5);
    assert!(s.rotation_pending());
    assert_eq!(s.write(b"-more\nthree\nfo").unwrap(), 14);
    assert!(!s.rotation_pending());
    let temps = rotated(&rx);
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
    let temps = rotated(&rx);
    assert_eq!(std::fs::read(&temps[0]).unwrap(), b"a\n");
    assert_eq!(std::fs::read(d.join("app.log")).unwrap(), b"");
    // A newline at the very end of a chunk switches with nothing left for the new file.
    s.write(b"b").unwrap();
    s.request_rotation();
    s.write(b"c\n").unwrap();
    let temps = rotated(&rx);
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
    assert!(rotated(&rx).is_empty());
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
    let temps = rotated(&rx);
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
    assert!(rotated(&rx).is_empty());
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
    assert!(rotated(&rx).is_empty());
    assert_eq!(s.write(b"b\n").unwrap(), 2);
    let mut all = String::new();
    std::io::Read::read_to_string(&mut &keep, &mut all).unwrap();
    assert_eq!(all, "a\nb\n");
}

#[test]
fn a_device_is_never_renamed() {
    let mut s = FileSink::open(Path::new("/dev/null")).unwrap();
    let (h, rx) = Handoff::for_test();
    s.enable_rotation(h, Duration::from_secs(3600));
    s.write(b"partial").unwrap();
    s.request_rotation();
    s.write(b"\n").unwrap();
    s.switch();
    assert!(rotated(&rx).is_empty());
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
    let temps = rotated(&rx);
    assert_eq!(temps.len(), 20);
    for (i, t) in temps.iter().enumerate() {
        assert_eq!(std::fs::read(t).unwrap(), format!("{i}\n").as_bytes());
    }
    std::fs::remove_dir_all(&d).unwrap();
}
