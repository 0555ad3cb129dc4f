//! `--bind-port` and `--strict-port-binding` (issue 5), observed through dock's `-d` line
//! `port P listening on ADDR [(pid X)] after T ms`. Listeners are python3 children on loopback.
//!
//! "Does not count" cases need proof that dock probed while the decoy sockets existed, without a
//! sleep: in strict mode dock logs a listener outside its tree once (`is not dock's or a
//! descendant's`), so the test opens such a listener itself after the child's decoys exist and waits
//! for that line.

use std::net::{SocketAddrV4, TcpListener};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use nix::sys::socket::{
    bind, listen, setsockopt, socket, sockopt, AddressFamily, Backlog, SockFlag, SockType,
    SockaddrIn,
};

use crate::util::{self, Mode, Running, TempDir};

/// Listens on `argv`: family (4|6), address, port, v6only (0|1), reuseport (0|1); prints its pid and
/// waits for a signal.
const LISTEN: &str = r#"
import os, signal, socket, sys
fam, addr, port, v6only, reuse = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
s = socket.socket(socket.AF_INET6 if fam == '6' else socket.AF_INET)
if fam == '6':
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
if reuse == '1':
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind((addr, port))
s.listen()
print(os.getpid(), flush=True)
signal.pause()
"#;

/// Holds UDP sockets (v4 and v6) and a connected TCP socket on port argv[1], prints `bound`, waits.
const DECOYS: &str = r#"
import signal, socket, sys
port = int(sys.argv[1])
def reuse(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return s
u4 = reuse(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)); u4.bind(('127.0.0.1', port))
u6 = reuse(socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)); u6.bind(('::1', port))
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()
c = reuse(socket.socket()); c.bind(('127.0.0.1', port)); c.connect(srv.getsockname())
a, _ = srv.accept()
print('bound', flush=True)
signal.pause()
"#;

/// Prints `waiting`, waits for SIGUSR1 (forwarded by dock), then listens on 127.0.0.1:argv[1] with
/// SO_REUSEPORT and prints its pid.
const LISTEN_ON_USR1: &str = r#"
import os, signal, socket, sys
port = int(sys.argv[1])
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
print('waiting', flush=True)
signal.sigwait({signal.SIGUSR1})
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(('127.0.0.1', port))
s.listen()
print(os.getpid(), flush=True)
signal.pause()
"#;

/// A port free on both IPv4 and IPv6 right now (the kernel's ephemeral allocator, so concurrent
/// tests get different ones).
fn free_port() -> u16 {
    let l = TcpListener::bind("[::]:0")
        .or_else(|_| TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    l.local_addr().unwrap().port()
}

/// A listener on 127.0.0.1:`port` owned by the test, outside dock's tree, sharing the port through
/// SO_REUSEPORT; returns it and its socket inode.
fn outside_listener(port: u16) -> (OwnedFd, u64) {
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    setsockopt(&fd, sockopt::ReuseAddr, &true).unwrap();
    setsockopt(&fd, sockopt::ReusePort, &true).unwrap();
    let addr = SockaddrIn::from(SocketAddrV4::new([127, 0, 0, 1].into(), port));
    bind(fd.as_raw_fd(), &addr).unwrap();
    listen(&fd, Backlog::new(8).unwrap()).unwrap();
    let ino = std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .unwrap()
        .ino();
    (fd, ino)
}

/// dock `-d --bind-port port [--strict-port-binding]` running `cmd`.
fn dock(mode: Mode, port: u16, strict: bool, cmd: &[&str]) -> Running {
    let p = port.to_string();
    let mut args = vec!["-d", "--bind-port", &p];
    if strict {
        args.push("--strict-port-binding");
    }
    args.extend(cmd);
    Running::start(mode, &args)
}

/// The ready line's start for a listener on `addr`, naming `pid` in strict mode.
fn ready(port: u16, addr: &str, pid: Option<&str>) -> String {
    match pid {
        Some(p) => format!("port {port} listening on {addr} (pid {p}) after "),
        None => format!("port {port} listening on {addr} after "),
    }
}

/// Ends a dock whose child waits in `signal.pause()`: SIGTERM is forwarded, the child dies of it.
fn end(d: Running) -> util::Finished {
    d.signal(libc::SIGTERM);
    let f = d.finish();
    assert_eq!(f.code, 128 + libc::SIGTERM, "{}", f.stderr);
    f
}

/// Runs a LISTEN child with `listen_args` in both modes, strict and not, and checks the ready line.
fn listener_is_ready(fam: &str, addr: &str, v6only: &str, shown: &str) {
    for (mode, strict) in [
        (Mode::Pid1, true),
        (Mode::Subreaper, false),
        (Mode::Pid1, false),
        (Mode::Subreaper, true),
    ] {
        let port = free_port();
        let ps = port.to_string();
        let d = dock(
            mode,
            port,
            strict,
            &["python3", "-c", LISTEN, fam, addr, &ps, v6only, "0"],
        );
        let pid = d.line();
        d.wait_stderr(&ready(port, shown, strict.then_some(pid.as_str())));
        let f = end(d);
        assert_eq!(f.stderr.matches("listening on").count(), 1, "reported once");
    }
}

#[test]
fn ipv4_listener_is_ready() {
    listener_is_ready("4", "127.0.0.1", "0", "127.0.0.1");
}

#[test]
fn ipv6_only_listener_is_ready() {
    listener_is_ready("6", "::1", "1", "[::1]");
}

#[test]
fn dual_stack_listener_is_ready() {
    listener_is_ready("6", "::", "0", "[::]");
}

#[test]
fn udp_and_connected_sockets_do_not_count() {
    for mode in [Mode::Pid1, Mode::Subreaper] {
        let port = free_port();
        let ps = port.to_string();
        let d = dock(mode, port, true, &["python3", "-c", DECOYS, &ps]);
        assert_eq!(d.line(), "bound");
        // Only now a listener exists on the port, outside dock's tree: the line about it proves a
        // probe ran while the child's UDP and connected sockets were there.
        let (_l, ino) = outside_listener(port);
        d.wait_stderr(&format!("port {port}: listener (inode {ino} "));
        let f = end(d);
        assert!(!f.stderr.contains("listening on"), "{}", f.stderr);
    }
}

#[test]
fn grandchild_listener_counts() {
    for (mode, strict) in [
        (Mode::Pid1, true),
        (Mode::Subreaper, true),
        (Mode::Pid1, false),
    ] {
        let port = free_port();
        // sh forks python and waits: the listener is dock's grandchild.
        let script = format!("python3 -c \"$0\" 4 127.0.0.1 {port} 0 0 & wait");
        let d = dock(mode, port, strict, &["sh", "-c", &script, LISTEN]);
        let pid = d.line();
        d.wait_stderr(&ready(port, "127.0.0.1", strict.then_some(pid.as_str())));
        // SIGTERM kills sh; teardown then terminates the grandchild.
        d.signal(libc::SIGTERM);
        let f = d.finish();
        assert_eq!(f.code, 128 + libc::SIGTERM, "{}", f.stderr);
    }
}

#[test]
fn outside_listener_counts_only_when_not_strict() {
    for mode in [Mode::Pid1, Mode::Subreaper] {
        let port = free_port();
        let ps = port.to_string();
        let (_l, ino) = outside_listener(port);

        let d = dock(mode, port, false, &["python3", "-c", LISTEN_ON_USR1, &ps]);
        assert_eq!(d.line(), "waiting");
        d.wait_stderr(&ready(port, "127.0.0.1", None));
        end(d);

        let d = dock(mode, port, true, &["python3", "-c", LISTEN_ON_USR1, &ps]);
        assert_eq!(d.line(), "waiting");
        d.wait_stderr(&format!("port {port}: listener (inode {ino} "));
        assert!(!d.stderr().contains("listening on"), "{}", d.stderr());
        // Now the child listens on the same port: that one counts.
        d.signal(libc::SIGUSR1);
        let pid = d.line();
        d.wait_stderr(&ready(port, "127.0.0.1", Some(&pid)));
        end(d);
    }
}

#[test]
fn child_exiting_before_listening_is_torn_down_as_usual() {
    for mode in [Mode::Pid1, Mode::Subreaper] {
        for strict in [false, true] {
            let port = free_port().to_string();
            let mut args = vec!["-d", "--bind-port", &port];
            if strict {
                args.push("--strict-port-binding");
            }
            args.extend(["sh", "-c", "exit 3"]);
            let f = util::run(mode, &args);
            assert_eq!(f.code, 3, "{}", f.stderr);
            assert!(!f.stderr.contains("listening on"), "{}", f.stderr);
        }
    }
}

#[test]
fn bad_values_exit_2_before_anything_starts() {
    let dir = TempDir::new("ports-bad");
    let marker = dir.path("started");
    for bad in ["0", "65536", "-1", "abc", "", "80x", "99999999999", " "] {
        let joined = format!("--bind-port={bad}");
        let mut forms = vec![vec![joined.as_str()]];
        if !bad.starts_with('-') {
            forms.push(vec!["--bind-port", bad]);
        }
        for mut args in forms {
            args.extend(["touch", marker.as_str()]);
            let f = util::run(Mode::Subreaper, &args);
            assert_eq!(f.code, 2, "{args:?}: {}", f.stderr);
            assert!(
                f.stderr.starts_with("dock: --bind-port"),
                "{args:?}: {}",
                f.stderr
            );
            assert_eq!(f.stderr.lines().count(), 1, "{}", f.stderr);
        }
    }
    // `--bind-port -1` is refused by the option parser itself ("unexpected argument '-1'").
    let f = util::run(Mode::Subreaper, &["--bind-port", "-1", "touch", &marker]);
    assert_eq!(f.code, 2, "{}", f.stderr);
    let f = util::run(
        Mode::Subreaper,
        &["--strict-port-binding", "touch", &marker],
    );
    assert_eq!(f.code, 2, "{}", f.stderr);
    assert!(f.stderr.contains("--bind-port"), "{}", f.stderr);
    let mut env = util::command(Mode::Subreaper, &["touch", &marker]);
    env.env("DOCK_BIND_PORT", "70000");
    let f = Running::from_command(Mode::Subreaper, env).finish();
    assert_eq!(f.code, 2, "{}", f.stderr);
    assert!(
        !std::path::Path::new(&marker).exists(),
        "nothing was started"
    );
}

#[test]
fn strict_with_another_namespaces_proc_is_refused_before_the_start() {
    // `unshare --pid --fork` without --mount-proc: /proc shows the host's processes, where the
    // listener's owner cannot be looked up. One line, exit 2, nothing started.
    let dir = TempDir::new("ports-foreign-proc");
    let marker = dir.path("started");
    let cmd = util::foreign_proc(&[
        util::bin(),
        "--bind-port",
        "8080",
        "--strict-port-binding",
        "touch",
        &marker,
    ]);
    let f = Running::from_command(Mode::Pid1, cmd).finish();
    assert_eq!(f.code, 2, "{}", f.stderr);
    assert!(
        f.stderr
            .starts_with("dock: --strict-port-binding: /proc is not this PID namespace's"),
        "{}",
        f.stderr
    );
    assert_eq!(f.stderr.lines().count(), 1, "{}", f.stderr);
    assert!(
        !std::path::Path::new(&marker).exists(),
        "nothing was started"
    );
}
