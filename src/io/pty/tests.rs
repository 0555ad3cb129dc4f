//! The pty relay with a real shell and a real hang-up.

use super::*;
use crate::event::{Event, Handler, Loop};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The relay alone on a loop.
struct Alone(PtyRelay, Vec<u8>);

impl Handler for Alone {
    fn start(&mut self, cx: &mut Ctx<'_>) {
        self.0.register(cx, 0).unwrap();
    }
    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) {
        if self.0.on_event(Some(cx), ev, &mut self.1) {
            cx.arm(0, std::time::Instant::now());
        }
    }
    fn on_deadline(&mut self, cx: &mut Ctx<'_>, _key: crate::event::Key) {
        if self.0.run(Some(cx), &mut self.1) {
            cx.arm(0, std::time::Instant::now());
        }
    }
}

const LONG: Duration = Duration::from_secs(30);

/// A shell on the pty, driven through a socket pair, as `--io unix://` would.
#[test]
fn shell_round_trip_then_eio_is_the_end() {
    let (master, slave) = open().unwrap();
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    let relay = PtyRelay::new(
        master,
        Peer::Unix(mio::net::UnixStream::from_std(ours)),
        Frame {
            prefix: b"> ".to_vec(),
            ..Frame::default()
        },
    );
    let mut lp = Loop::new().unwrap();
    let (relay, _) = lp.add_shared(Alone(relay, vec![0u8; 4096]));
    let rec = lp.recorder();
    lp.start();
    let script = "read -r l; echo \"got $l\"; test -t 0 && echo tty; exit 3";
    let mut child = Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    theirs.write_all(b"hello\n").unwrap();
    assert!(lp.turn_until(LONG, || relay.borrow().0.drained()));
    assert!(rec.seen().is_empty());
    assert_eq!(child.wait().unwrap().code(), Some(3));
    drop((relay, lp));
    let mut got = Vec::new();
    theirs.read_to_end(&mut got).unwrap();
    // Echo is off: only the output, with the pty's \r\n line ends, one prefix per line.
    assert_eq!(got, b"> got hello\r\n> tty\r\n");
}

#[test]
fn peer_closing_hangs_the_session_up() {
    let (master, slave) = open().unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    let relay = PtyRelay::new(
        master,
        Peer::Unix(mio::net::UnixStream::from_std(ours)),
        Frame::default(),
    );
    let mut lp = Loop::new().unwrap();
    let (relay, _) = lp.add_shared(Alone(relay, vec![0u8; 4096]));
    let rec = lp.recorder();
    lp.start();
    // Its own session with the slave as controlling terminal, as dock spawns it.
    let setup = crate::sys::spawn::ChildSetup {
        mask: crate::sys::spawn::current_mask().unwrap(),
        session: true,
        creds: None,
        own_pid_var: None,
    };
    let sleep = std::ffi::OsStr::new("sleep");
    let fds = [Some(slave), None, None];
    let env = crate::supervisor::ChildEnv::inherited().to_cstrings();
    let child =
        crate::sys::spawn::spawn(sleep, &["60".into()], fds, Vec::new(), setup, &env).unwrap();
    drop(theirs);
    assert!(lp.turn_until(LONG, || !rec.seen().is_empty()));
    assert_eq!(rec.seen(), [Notice::HangUp]);
    assert!(relay.borrow().0.drained());
    use nix::sys::wait::{waitpid, WaitStatus};
    let pid = nix::unistd::Pid::from_raw(child.pid);
    assert!(matches!(
        waitpid(pid, None).unwrap(),
        WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGHUP, _)
    ));
}

/// A child in its own session with `slave` as its controlling terminal, as dock spawns it.
fn spawn_on(slave: OwnedFd, argv: &[&str]) -> i32 {
    let setup = crate::sys::spawn::ChildSetup {
        mask: crate::sys::spawn::current_mask().unwrap(),
        session: true,
        creds: None,
        own_pid_var: None,
    };
    let fds = [
        Some(slave.try_clone().unwrap()),
        Some(slave.try_clone().unwrap()),
        Some(slave),
    ];
    let env = crate::supervisor::ChildEnv::inherited().to_cstrings();
    let args: Vec<std::ffi::OsString> = argv[1..].iter().map(Into::into).collect();
    let prog = std::ffi::OsStr::new(argv[0]);
    crate::sys::spawn::spawn(prog, &args, fds, Vec::new(), setup, &env)
        .unwrap()
        .pid
}

fn wait(pid: i32) -> nix::sys::wait::WaitStatus {
    nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap()
}

/// Issue 16, item 7: the peer's half-close is the end of the input, not a hang-up: the child reads
/// all of it, then end-of-file (after a partial line too), and its output still reaches the peer.
#[test]
fn a_half_close_is_end_of_input_and_output_still_flows() {
    let (master, slave) = open().unwrap();
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    let relay = PtyRelay::new(
        master,
        Peer::Unix(mio::net::UnixStream::from_std(ours)),
        Frame::default(),
    );
    let mut lp = Loop::new().unwrap();
    let (relay, _) = lp.add_shared(Alone(relay, vec![0u8; 4096]));
    let rec = lp.recorder();
    lp.start();
    let pid = spawn_on(slave, &["sh", "-c", "cat; echo; echo done; exit 4"]);
    theirs.write_all(b"hello\nno newline").unwrap();
    theirs.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(lp.turn_until(LONG, || relay.borrow().0.drained()));
    assert!(rec.seen().is_empty(), "no hang-up: {:?}", rec.seen());
    assert_eq!(
        wait(pid),
        nix::sys::wait::WaitStatus::Exited(nix::unistd::Pid::from_raw(pid), 4)
    );
    drop((relay, lp));
    let mut got = Vec::new();
    theirs.read_to_end(&mut got).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        "hello\r\nno newline\r\ndone\r\n"
    );
}

/// Issue 16, item 7: the peer's close is seen while input waits for a child that does not read
/// (here 200 kB: more than the pty and dock's chunk hold): the session is hung up at once.
#[test]
fn a_close_is_seen_while_input_waits() {
    let (master, slave) = open().unwrap();
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    let relay = PtyRelay::new(
        master,
        Peer::Unix(mio::net::UnixStream::from_std(ours)),
        Frame::default(),
    );
    let mut lp = Loop::new().unwrap();
    let (relay, _) = lp.add_shared(Alone(relay, vec![0u8; CHUNK_FOR_TEST]));
    let rec = lp.recorder();
    lp.start();
    let pid = spawn_on(slave, &["sleep", "60"]);
    // As much as the socket takes without blocking: far more than the pty's 4 kB input buffer and
    // the relay's one chunk.
    theirs.set_nonblocking(true).unwrap();
    let mut line = [b'x'; 1024];
    line[1023] = b'\n';
    let mut sent = 0;
    while sent < 200 * 1024 {
        match theirs.write(&line) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    assert!(sent > 64 * 1024, "only {sent} bytes fit");
    // The relay fills the pty and stops reading the socket (a chunk waits); then the peer closes.
    assert!(lp.turn_until(LONG, || !relay.borrow().0.to_child.is_empty()));
    drop(theirs);
    assert!(lp.turn_until(LONG, || !rec.seen().is_empty()));
    assert_eq!(rec.seen(), [Notice::HangUp]);
    assert!(matches!(
        wait(pid),
        nix::sys::wait::WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGHUP, _)
    ));
}

const CHUNK_FOR_TEST: usize = 4096;

/// A half-close behind much input (more than the pty and a chunk hold) loses none of it: the child
/// reads every byte, then end-of-file.
#[test]
fn a_half_close_behind_pending_input_loses_none_of_it() {
    let (master, slave) = open().unwrap();
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    let relay = PtyRelay::new(
        master,
        Peer::Unix(mio::net::UnixStream::from_std(ours)),
        Frame::default(),
    );
    let mut lp = Loop::new().unwrap();
    let (relay, _) = lp.add_shared(Alone(relay, vec![0u8; CHUNK_FOR_TEST]));
    lp.start();
    let pid = spawn_on(slave, &["wc", "-c"]);
    let mut writer = theirs.try_clone().unwrap();
    let feed = std::thread::spawn(move || {
        let mut line = [b'x'; 1024];
        line[1023] = b'\n';
        for _ in 0..200 {
            writer.write_all(&line).unwrap();
        }
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    assert!(lp.turn_until(LONG, || relay.borrow().0.drained()));
    feed.join().unwrap();
    assert_eq!(
        wait(pid),
        nix::sys::wait::WaitStatus::Exited(nix::unistd::Pid::from_raw(pid), 0)
    );
    drop((relay, lp));
    let mut got = Vec::new();
    theirs.read_to_end(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got).trim(), "204800");
}

/// A child that closes its terminal before it exits (coreutils do, in their `close_stdout`) must not
/// be hung up by dock's reading EIO: its exit status is its own, not 129 (SIGHUP).
#[test]
fn a_child_that_closes_its_terminal_first_keeps_its_exit_status() {
    let (master, slave) = open().unwrap();
    let (ours, _theirs) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    let relay = PtyRelay::new(
        master,
        Peer::Unix(mio::net::UnixStream::from_std(ours)),
        Frame::default(),
    );
    let mut lp = Loop::new().unwrap();
    let (relay, _) = lp.add_shared(Alone(relay, vec![0u8; 4096]));
    lp.start();
    // The pause after the close is the scenario: the window in which a hang-up would kill it.
    let pid = spawn_on(
        slave,
        &["sh", "-c", "exec 0<&- 1>&- 2>&-; sleep 0.3; exit 3"],
    );
    assert!(lp.turn_until(LONG, || relay.borrow().0.drained()));
    assert_eq!(
        wait(pid),
        nix::sys::wait::WaitStatus::Exited(nix::unistd::Pid::from_raw(pid), 3)
    );
}
