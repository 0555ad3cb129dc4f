//! The socket on a real loop, with this test process as the sender (as the main child, or not).

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::event::testing::Recorder;
use crate::event::Loop;

/// A started loop with a socket at `addr` whose main child is `main`; returns the handler too.
fn setup(addr: &NotifyAddr, main: i32) -> (Loop, Recorder, Rc<RefCell<Notify>>) {
    let n = Notify::bind(addr).unwrap();
    let mut lp = Loop::new().unwrap();
    let (n, _) = lp.add_shared(n);
    let rec = lp.recorder();
    lp.start();
    lp.inject(Notice::Spawned {
        pid: main,
        at: Instant::now(),
    });
    (lp, rec, n)
}

fn me() -> i32 {
    nix::unistd::getpid().as_raw()
}

/// Sends `msg` to the handler's address, as sd_notify does (a fresh unbound socket).
fn send(n: &Rc<RefCell<Notify>>, msg: &[u8]) {
    let env = n.borrow().env_value().to_os_string();
    let env = env.as_encoded_bytes();
    let addr = match env.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name).unwrap(),
        None => SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(env)).unwrap(),
    };
    UnixDatagram::unbound()
        .unwrap()
        .send_to_addr(msg, &addr)
        .unwrap();
}

use std::os::unix::ffi::OsStrExt;

/// The readiness and status notices so far.
fn heard(rec: &Recorder) -> Vec<Notice> {
    rec.seen()
        .into_iter()
        .filter(|n| matches!(n, Notice::Condition(_) | Notice::Status(_)))
        .collect()
}

fn status(s: &str) -> Notice {
    Notice::Status(s.into())
}

const READY: Notice = Notice::Condition(Condition::Notify);

/// Turns until `n` notices were heard (or 5 s).
fn until(lp: &mut Loop, rec: &Recorder, n: usize) {
    lp.turn_until(Duration::from_secs(5), || heard(rec).len() >= n);
}

#[test]
fn status_then_ready_from_the_main_child_on_an_abstract_name_dock_picks() {
    let (mut lp, rec, n) = setup(&NotifyAddr::Auto, me());
    let env = n.borrow().env_value().to_os_string();
    // unix(7) autobind: '@' and five hex digits.
    assert_eq!(env.len(), 6, "{env:?}");
    send(&n, b"STATUS=Loading\nX_CUSTOM=1");
    until(&mut lp, &rec, 1);
    // The same text again is no news; a new one is; READY=1 once.
    send(&n, b"STATUS=Loading");
    send(&n, b"READY=1\nSTATUS=Serving\n\0");
    send(&n, b"READY=1\nMAINPID=7\nSTOPPING=1\nRELOADING=1");
    until(&mut lp, &rec, 3);
    lp.turn_within(Duration::from_millis(20));
    assert_eq!(heard(&rec), [status("Loading"), status("Serving"), READY]);
}

#[test]
fn senders_outside_the_tree_and_bad_datagrams_are_dropped() {
    let (mut lp, rec, n) = setup(&NotifyAddr::Auto, i32::MAX);
    n.borrow_mut().root = i32::MAX;
    send(&n, b"READY=1");
    lp.turn_within(Duration::from_millis(50));
    assert!(heard(&rec).is_empty());
    // Now we are the main child: a datagram too long (one byte over) and one with a NUL are
    // ignored, and what follows them is read.
    n.borrow_mut().main = Some(me());
    let mut long = b"STATUS=".to_vec();
    long.resize(MAX_DATAGRAM + 1, b'x');
    send(&n, &long);
    send(&n, b"READY=1\0STATUS=x");
    send(&n, b"STATUS=ok");
    until(&mut lp, &rec, 1);
    assert_eq!(heard(&rec), [status("ok")]);
    // Exactly the limit is fine.
    long.truncate(MAX_DATAGRAM);
    send(&n, &long);
    until(&mut lp, &rec, 2);
    assert_eq!(
        heard(&rec)[1],
        status(std::str::from_utf8(&long[7..]).unwrap())
    );
}

#[test]
fn passed_fds_are_closed_and_a_flood_is_read_in_batches() {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
    let (mut lp, rec, n) = setup(&NotifyAddr::Auto, me());
    // sd_notify_barrier: a pipe's write end with BARRIER=1; the barrier holds until dock closes it.
    let (r, w) = nix::unistd::pipe().unwrap();
    let env = n.borrow().env_value().to_os_string();
    let to = UnixAddr::new_abstract(&env.as_encoded_bytes()[1..]).unwrap();
    let tx = UnixDatagram::unbound().unwrap();
    let fds = [w.as_raw_fd()];
    let iov = [std::io::IoSlice::new(b"BARRIER=1")];
    sendmsg(
        tx.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        Some(&to),
    )
    .unwrap();
    drop(w);
    // The kernel queues few datagrams per socket (net.unix.max_dgram_qlen, 10 by default) and
    // blocks the sender beyond: send from a thread while the loop reads.
    let env = n.borrow().env_value().to_os_string();
    let flood = std::thread::spawn(move || {
        let to = SocketAddr::from_abstract_name(&env.as_encoded_bytes()[1..]).unwrap();
        let tx = UnixDatagram::unbound().unwrap();
        for i in 0..(BATCH + 10) {
            tx.send_to_addr(format!("STATUS={i}").as_bytes(), &to)
                .unwrap();
        }
    });
    until(&mut lp, &rec, BATCH + 10);
    flood.join().unwrap();
    assert_eq!(heard(&rec).last(), Some(&status(&(BATCH + 9).to_string())));
    // Every write end is closed: EOF.
    let mut buf = [0u8; 1];
    assert_eq!(nix::unistd::read(&r, &mut buf).unwrap(), 0);
}

#[test]
fn a_path_is_made_writable_replaces_a_stale_socket_and_goes_at_the_exit() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let dir = std::env::temp_dir().join(format!("dock-notify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("notify");
    let stale = std::os::unix::net::UnixDatagram::bind(&p).unwrap();
    drop(stale);
    let (mut lp, rec, n) = setup(&NotifyAddr::Path(p.clone()), me());
    assert_eq!(n.borrow().env_value(), p.as_os_str());
    let m = std::fs::symlink_metadata(&p).unwrap();
    assert!(m.file_type().is_socket());
    assert_eq!(m.permissions().mode() & 0o777, 0o666);
    send(&n, b"READY=1");
    until(&mut lp, &rec, 1);
    assert_eq!(heard(&rec), [READY]);
    lp.inject(Notice::ChildExited(crate::notice::ChildExit::exited(0)));
    assert!(!p.exists());
    // Something that is not a socket is left alone.
    std::fs::write(&p, "mine").unwrap();
    let e = Notify::bind(&NotifyAddr::Path(p.clone())).err().unwrap();
    assert!(
        crate::log::chain(&e).contains("file exists"),
        "{}",
        crate::log::chain(&e)
    );
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "mine");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_abstract_name_in_use_is_an_error() {
    let name = format!("dock-test-{}", std::process::id()).into_bytes();
    let first = Notify::bind(&NotifyAddr::Abstract(name.clone())).unwrap();
    assert_eq!(
        first.env_value().as_encoded_bytes(),
        [b"@".as_slice(), &name].concat()
    );
    let e = Notify::bind(&NotifyAddr::Abstract(name)).err().unwrap();
    assert!(
        crate::log::chain(&e).contains("in use"),
        "{}",
        crate::log::chain(&e)
    );
}
