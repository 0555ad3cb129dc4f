//! The pipe relay: byte-exact with and without framing, back-pressure, a gone reader, bounded
//! memory whatever the prefix, bounded work per run.

use super::*;
use crate::event::Loop;
use crate::io::frame::frame_all;
use crate::io::stamp::Stream;
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

fn prefix(p: &[u8]) -> Frame {
    Frame {
        prefix: p.to_vec(),
        ..Frame::default()
    }
}

/// Runs `pump` until it waits for something (the slices of its budget one after another).
fn drive(pump: &mut Pump, cx: &mut Ctx<'_>, sink: &mut Sink) -> Blocked {
    loop {
        match pump.run(Some(cx), sink) {
            Blocked::Budget => {}
            other => return other,
        }
    }
}

fn file_sink(path: &std::path::Path) -> Sink {
    Sink::File(FileSink::open(path, 0o600).unwrap())
}

#[test]
fn pipe_to_file_is_byte_exact_raw_and_framed() {
    let json = Frame {
        json: Some(Stream::Stdout),
        ..Frame::default()
    };
    for (tag, frame) in [
        ("raw", Frame::default()),
        ("pre", prefix(b"P ")),
        ("json", json),
    ] {
        let path = tmpfile(tag);
        let (r, mut w) = pipe();
        let mut sink = file_sink(&path);
        let mut pump = Pump::new("output", r, frame.clone(), 0, true).unwrap();
        let mut lp = Loop::new().unwrap();
        lp.with_ctx(0, |cx| pump.register(cx, 0, &mut sink))
            .unwrap();
        let mut want = Vec::new();
        for i in 0..2000 {
            let line = format!("line {i} {}\n", "x".repeat(i % 97));
            want.extend_from_slice(line.as_bytes());
        }
        want.extend_from_slice(b"last without newline");
        // Write in odd pieces while relaying: lines cross chunk boundaries.
        for piece in want.chunks(7919) {
            w.write_all(piece).unwrap();
            let blocked = lp.with_ctx(0, |cx| drive(&mut pump, cx, &mut sink));
            assert_eq!(blocked, Blocked::Source);
        }
        drop(w);
        let blocked = lp.with_ctx(0, |cx| drive(&mut pump, cx, &mut sink));
        assert_eq!(blocked, Blocked::Done);
        assert!(pump.drained());
        let got = std::fs::read(&path).unwrap();
        if frame.json.is_some() {
            // Times differ per read: compare the lines' text.
            let logs: Vec<String> = got
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_slice(l).unwrap();
                    v["log"].as_str().unwrap().to_string()
                })
                .collect();
            assert_eq!(logs.concat().as_bytes(), &want[..], "{tag}");
        } else {
            assert_eq!(got, frame_all(&frame, &want, &[]), "{tag}");
        }
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn a_full_sink_stops_reading_then_resumes() {
    // Sink: a socket pair whose reader is slow; source: a pipe with more than the socket holds.
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut sink = Sink::Out(OutFd::for_test(File::from(OwnedFd::from(a)), true));
    let (r, mut w) = pipe();
    let mut pump = Pump::new("stdout", r, prefix(b">"), 0, false).unwrap();
    let mut lp = Loop::new().unwrap();
    lp.with_ctx(0, |cx| pump.register(cx, 0, &mut sink))
        .unwrap();
    let total = 4 << 20;
    let writer = std::thread::spawn(move || {
        let line = [b"y".repeat(63), b"\n".to_vec()].concat();
        for _ in 0..total / 64 {
            w.write_all(&line).unwrap();
        }
    });
    // Nobody reads the socket yet: the pump must end up waiting on it, not buffering on.
    while lp.with_ctx(0, |cx| drive(&mut pump, cx, &mut sink)) != Blocked::Sink {}
    let held = |p: &Pump| p.out.capacity() + p.buf.capacity();
    assert!(
        held(&pump) <= CHUNK + 2 * OUT_LIMIT + 1024,
        "{}",
        held(&pump)
    );
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    b.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
    while lp.with_ctx(0, |cx| drive(&mut pump, cx, &mut sink)) != Blocked::Done {
        assert!(held(&pump) <= CHUNK + 2 * OUT_LIMIT + 1024);
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
fn a_long_prefix_on_a_chunk_of_newlines_stays_within_bounded_memory() {
    // Issue 16.8: 64 KiB of newlines with a 4 KiB prefix was one 256 MiB buffer.
    let path = tmpfile("bigprefix");
    let mut sink = file_sink(&path);
    let (r, mut w) = pipe();
    let mut pump = Pump::new("output", r, prefix(&[b'p'; 4096]), 0, true).unwrap();
    w.write_all(&[b'\n'; 64 * 1024]).unwrap();
    drop(w);
    let mut peak = 0;
    loop {
        let b = pump.run(None, &mut sink);
        peak = peak.max(pump.out.capacity());
        if b == Blocked::Done {
            break;
        }
    }
    assert!(
        peak <= 2 * OUT_LIMIT + 4096,
        "output buffer grew to {peak} bytes"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        64 * 1024 * 4097,
        "every line prefixed"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_flood_is_relayed_in_slices_so_the_loop_can_turn() {
    // Issue 16.9: a pipe that never empties (the child writes as fast as dock reads) kept `run`
    // reading until it was empty, and signals waited. With a full 1 MiB pipe, one run reads its
    // budget and says there is more.
    let path = tmpfile("flood");
    for frame in [Frame::default(), prefix(b"P ")] {
        let _ = std::fs::remove_file(&path);
        let mut sink = file_sink(&path);
        let (r, mut w) = pipe();
        assert_eq!(
            nix::fcntl::fcntl(&r, nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_SIZE)).unwrap(),
            PIPE_SIZE
        );
        let mut pump = Pump::new("output", r, frame.clone(), 0, true).unwrap();
        let line = [b"z".repeat(99), b"\n".to_vec()].concat();
        nix::fcntl::fcntl(&w, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).unwrap();
        let mut queued = 0;
        while let Ok(n) = w.write(&line.repeat(100)) {
            queued += n;
        }
        assert!(queued >= PIPE_SIZE as usize / 2);
        assert_eq!(pump.run(None, &mut sink), Blocked::Budget);
        if !frame.is_raw() {
            let written = usize::try_from(std::fs::metadata(&path).unwrap().len()).unwrap();
            assert!(written < queued, "one slice, not the whole pipe");
        }
        while pump.run(None, &mut sink) == Blocked::Budget {}
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn a_gone_reader_closes_the_childs_pipe() {
    let (sr, sw) = pipe();
    let mut out = Sink::Out(OutFd::for_test(sw, false));
    drop(sr);
    let (r, mut w) = pipe();
    let mut pump = Pump::new("stdout", r, Frame::default(), 0, false).unwrap();
    w.write_all(b"nobody reads this\n").unwrap();
    // The SIGPIPEs these writes raise are ignored: std sets SIGPIPE to SIG_IGN in test binaries.
    assert_eq!(pump.run(None, &mut out), Blocked::Done);
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
    let mut out = Sink::Out(OutFd::new(null.as_fd()).unwrap());
    let mut pump = Pump::new("stdout", r, Frame::default(), 0, false).unwrap();
    let mut lp = Loop::new().unwrap();
    lp.with_ctx(0, |cx| pump.register(cx, 0, &mut out)).unwrap();
    assert!(pump.sink_token.is_none(), "never registered");
}
