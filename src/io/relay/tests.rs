//! The pipe relay: byte-exact with and without prefix, splice, back-pressure, a gone reader.

use super::*;
use crate::event::Loop;
use nix::fcntl::OFlag;
use std::fs::File;
use std::io::{Read, Write};
use std::time::Duration;

fn pipe() -> (OwnedFd, File) {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
    (r, File::from(w))
}

fn tmpfile(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("dock-relay-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn pipe_to_file_is_byte_exact_with_and_without_prefix() {
    for prefix in [None, Some(b"P ".to_vec())] {
        let path = tmpfile(if prefix.is_some() { "pre" } else { "raw" });
        let (r, mut w) = pipe();
        let sink = Sink::File(FileSink::open(&path).unwrap());
        let mut pump = Pump::new("output", r, prefix.clone(), sink).unwrap();
        let mut lp = Loop::new().unwrap();
        lp.with_ctx(0, |cx| pump.register(cx, 0)).unwrap();
        let mut scratch = vec![0u8; pump.chunk()];
        let mut want = Vec::new();
        for i in 0..2000 {
            let line = format!("line {i} {}\n", "x".repeat(i % 97));
            want.extend_from_slice(line.as_bytes());
        }
        want.extend_from_slice(b"last without newline");
        // Write in odd pieces while relaying: lines cross chunk boundaries.
        for piece in want.chunks(7919) {
            w.write_all(piece).unwrap();
            let blocked = lp.with_ctx(0, |cx| pump.run(Some(cx), &mut scratch));
            assert_eq!(blocked, Blocked::Source);
        }
        drop(w);
        let blocked = lp.with_ctx(0, |cx| pump.run(Some(cx), &mut scratch));
        assert_eq!(blocked, Blocked::Done);
        assert!(pump.drained());
        let got = std::fs::read(&path).unwrap();
        let want = match &prefix {
            Some(p) => super::super::prefix::prefix_lines(p, &want),
            None => want,
        };
        assert_eq!(got, want);
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn spliced_output_follows_an_outside_truncation_like_o_append() {
    let path = tmpfile("trunc");
    std::fs::write(&path, b"old\n").unwrap();
    let (r, mut w) = pipe();
    let sink = Sink::File(FileSink::open(&path).unwrap());
    let mut pump = Pump::new("output", r, None, sink).unwrap();
    let mut scratch = vec![0u8; pump.chunk()];
    w.write_all(b"one\n").unwrap();
    assert_eq!(pump.run(None, &mut scratch), Blocked::Source);
    assert!(matches!(pump.splice, Splice::Into(_)), "splice is used");
    assert_eq!(std::fs::read(&path).unwrap(), b"old\none\n");
    // logrotate's copytruncate: the next bytes go to the new end, no hole of NULs.
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    w.write_all(b"two\n").unwrap();
    drop(w);
    assert_eq!(pump.run(None, &mut scratch), Blocked::Done);
    assert_eq!(std::fs::read(&path).unwrap(), b"two\n");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_full_sink_stops_reading_then_resumes() {
    // Sink: a socket pair whose reader is slow; source: a pipe with more than the socket holds.
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let sink = Sink::Out(OutFd::for_test(File::from(OwnedFd::from(a)), true));
    let (r, mut w) = pipe();
    let mut pump = Pump::new("stdout", r, Some(b">".to_vec()), sink).unwrap();
    let mut lp = Loop::new().unwrap();
    lp.with_ctx(0, |cx| pump.register(cx, 0)).unwrap();
    let mut scratch = vec![0u8; CHUNK];
    let total = 4 << 20;
    let writer = std::thread::spawn(move || {
        let line = [b"y".repeat(63), b"\n".to_vec()].concat();
        for _ in 0..total / 64 {
            w.write_all(&line).unwrap();
        }
    });
    // Nobody reads the socket yet: the pump must end up waiting on it, not buffering on.
    while lp.with_ctx(0, |cx| pump.run(Some(cx), &mut scratch)) != Blocked::Sink {}
    assert!(
        pump.pending.len() <= CHUNK * 2,
        "at most one prefixed chunk"
    );
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    b.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
    while lp.with_ctx(0, |cx| pump.run(Some(cx), &mut scratch)) != Blocked::Done {
        assert!(pump.pending.len() <= CHUNK * 2);
        if let Ok(n) = b.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
    }
    writer.join().unwrap();
    b.set_nonblocking(true).unwrap();
    while let Ok(n) = b.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got.len(), total / 64 * 65);
    assert!(got.chunks(65).all(|l| l[0] == b'>' && l[64] == b'\n'));
}

#[test]
fn a_gone_reader_closes_the_childs_pipe() {
    let (sr, sw) = pipe();
    let out = OutFd::for_test(sw, false);
    drop(sr);
    let (r, mut w) = pipe();
    let mut pump = Pump::new("stdout", r, None, Sink::Out(out)).unwrap();
    let mut scratch = vec![0u8; CHUNK];
    w.write_all(b"nobody reads this\n").unwrap();
    // The SIGPIPEs these writes raise are ignored: std sets SIGPIPE to SIG_IGN in test binaries.
    assert_eq!(pump.run(None, &mut scratch), Blocked::Done);
    assert!(pump.drained());
    assert_eq!(
        w.write(b"x").unwrap_err().kind(),
        io::ErrorKind::BrokenPipe,
        "the child sees EPIPE next"
    );
}

#[test]
fn dev_null_is_written_plainly() {
    let null = File::options().write(true).open("/dev/null").unwrap();
    let (r, _w) = pipe();
    let out = OutFd::new(null.as_fd()).unwrap();
    let mut pump = Pump::new("stdout", r, None, Sink::Out(out)).unwrap();
    let mut lp = Loop::new().unwrap();
    lp.with_ctx(0, |cx| pump.register(cx, 0)).unwrap();
    assert!(pump.sink_token.is_none(), "never registered");
}
