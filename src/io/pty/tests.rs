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
    fn on_event(&mut self, cx: &mut Ctx<'_>, _ev: Event) {
        if self.0.run(Some(cx), &mut self.1) {
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
    };
    let sleep = std::ffi::OsStr::new("sleep");
    let fds = [Some(slave), None, None];
    let env = crate::supervisor::ChildEnv::inherited().to_cstrings();
    let child = crate::sys::spawn::spawn(sleep, &["60".into()], fds, setup, &env).unwrap();
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
