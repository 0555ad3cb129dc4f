//! Readiness (issue 14): `--ready-notify` (sd_notify datagrams sent by hand, as libsystemd sends
//! them), `--ready-fd`, `--ready-http`, `--ready-timeout`, `--ready-file`, several at once. A
//! loopback server records the hook's PUTs and answers the health GETs; the child is a small python
//! script driven step by step through FIFOs, so the test decides when each condition comes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::thread;

use serde_json::Value;

use crate::util::{self, Mode, Running, TempDir, DEADLINE};

/// The child: runs its argv as steps. `send:TEXT` (a datagram to NOTIFY_SOCKET, `\n` written as
/// `|`), `wait:FIFO` (blocks until the test writes a line), `print:TEXT`, `listen:PORT`, `fd:N` (a
/// newline on fd N), `env` (prints NOTIFY_SOCKET), `term` (SIGTERM prints `TERM` and exits 0),
/// `exit:N`. After the steps it waits for a signal.
const CHILD: &str = r#"
import os, signal, socket, sys
keep = []
for step in sys.argv[1:]:
    op, _, arg = step.partition(':')
    if op == 'send':
        a = os.environ['NOTIFY_SOCKET']
        if a.startswith('@'):
            a = '\0' + a[1:]
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(arg.replace('|', '\n').encode(), a)
        s.close()
    elif op == 'wait':
        with open(arg) as f:
            f.readline()
    elif op == 'print':
        print(arg, flush=True)
    elif op == 'env':
        print(os.environ.get('NOTIFY_SOCKET', ''), flush=True)
    elif op == 'listen':
        l = socket.socket()
        l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.bind(('127.0.0.1', int(arg)))
        l.listen()
        keep.append(l)
    elif op == 'fd':
        os.write(int(arg), b'ready\n')
    elif op == 'term':
        def bye(*_):
            print('TERM', flush=True)
            os._exit(0)
        signal.signal(signal.SIGTERM, bye)
    elif op == 'exit':
        sys.exit(int(arg))
while True:
    signal.pause()
"#;

/// `python3 -c CHILD steps...`.
fn child(steps: &[&str]) -> Vec<String> {
    let mut v = vec!["python3".to_string(), "-c".into(), CHILD.into()];
    v.extend(steps.iter().map(|s| s.to_string()));
    v
}

/// dock with `opts`, then the child.
fn dock(mode: Mode, opts: &[&str], steps: &[&str]) -> Running {
    let c = child(steps);
    let mut args: Vec<&str> = opts.to_vec();
    args.extend(c.iter().map(String::as_str));
    Running::start(mode, &args)
}

/// A loopback server: PUTs are hook requests (their JSON bodies are recorded), GETs are health
/// checks (their paths are recorded) answered 503 `unhealthy` times, then 200.
struct Server {
    addr: SocketAddr,
    hooks: Receiver<Value>,
    gets: Receiver<String>,
}

impl Server {
    fn start(unhealthy: usize) -> Server {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (hook_tx, hooks) = channel();
        let (get_tx, gets) = channel();
        let left = Arc::new(AtomicUsize::new(unhealthy));
        thread::spawn(move || {
            for c in l.incoming() {
                let Ok(mut c) = c else { return };
                let (hook_tx, get_tx, left) = (hook_tx.clone(), get_tx.clone(), left.clone());
                thread::spawn(move || {
                    c.set_read_timeout(Some(DEADLINE)).unwrap();
                    let Some((method, path, body)) = read_request(&mut c) else {
                        return;
                    };
                    let code = if method == "GET" {
                        let _ = get_tx.send(path);
                        let sick = left
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok();
                        if sick {
                            503
                        } else {
                            200
                        }
                    } else {
                        let _ = hook_tx.send(serde_json::from_slice(&body).unwrap_or(Value::Null));
                        200
                    };
                    let _ = write!(c, "HTTP/1.1 {code} X\r\nContent-Length: 0\r\n\r\n");
                });
            }
        });
        Server { addr, hooks, gets }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next hook request's `ps` object.
    fn next(&self) -> Value {
        let v = self.hooks.recv_timeout(DEADLINE).expect("a hook request");
        v["ps"].clone()
    }

    /// The statuses of the hook requests left (dock has exited: all are in).
    fn rest(&self) -> Vec<String> {
        self.hooks
            .try_iter()
            .map(|v| v["ps"]["status"].as_str().unwrap_or("?").to_string())
            .collect()
    }
}

/// One request: method, path, body (by Content-Length).
fn read_request(c: &mut std::net::TcpStream) -> Option<(String, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let head = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match c.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    req.parse(&buf).ok()?;
    let len: usize = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
        .unwrap_or(0);
    let (method, path) = (req.method?.to_string(), req.path?.to_string());
    while buf.len() < head + len {
        match c.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some((method, path, buf[head..head + len].to_vec()))
}

/// A FIFO in `dir` the child blocks on, and its path.
fn fifo(dir: &TempDir, name: &str) -> String {
    let path = dir.path(name);
    nix::unistd::mkfifo(
        path.as_str(),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    path
}

fn release(fifo: &str) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(fifo)
        .unwrap()
        .write_all(b"go\n")
        .unwrap();
}

/// `ps` without the interfaces and the pid.
fn fields(ps: &Value) -> Value {
    let mut ps = ps.clone();
    let o = ps.as_object_mut().unwrap();
    o.remove("net_interfaces");
    o.remove("pid");
    ps
}

fn status(ps: &Value) -> &str {
    ps["status"].as_str().unwrap_or("?")
}

/// Where `needle` starts in `hay` (panics if absent).
fn at(hay: &str, needle: &str) -> usize {
    hay.find(needle)
        .unwrap_or_else(|| panic!("no {needle:?} in:\n{hay}"))
}

#[test]
fn notify_status_then_ready_on_an_abstract_name_and_on_a_path() {
    let dir = TempDir::new("ready-notify");
    let path = dir.path("notify.sock");
    for (flag, expect) in [("--ready-notify", None), ("--ready-notify=", Some(&path))] {
        let srv = Server::start(0);
        let (go1, go2) = (fifo(&dir, "go1"), fifo(&dir, "go2"));
        let flag = match expect {
            Some(p) => format!("{flag}{p}"),
            None => flag.to_string(),
        };
        let (w1, w2) = (format!("wait:{go1}"), format!("wait:{go2}"));
        // Through a shell: the sender is dock's grandchild, not the main child.
        let c = child(&[
            "env",
            "send:STATUS=Loading the database",
            &w1,
            "send:STATUS=Serving|READY=1",
            &w2,
            "exit:0",
        ]);
        let hook = srv.url("/hook");
        // `; exit`: the shell forks python instead of exec'ing it.
        let script = "python3 -c \"$0\" \"$@\"; exit $?";
        let mut args = vec!["-d", &flag, "--web-hook", &hook, "sh", "-c", script];
        args.extend(c[2..].iter().map(String::as_str));
        let d = Running::start(Mode::Pid1, &args);
        let addr = d.line();
        match expect {
            Some(p) => assert_eq!(&addr, p),
            None => assert!(addr.starts_with('@') && addr.len() > 1, "{addr}"),
        }
        assert_eq!(
            fields(&srv.next()),
            serde_json::json!({"status": "starting"})
        );
        d.wait_stderr("STATUS=Loading the database");
        release(&go1);
        let running = srv.next();
        assert_eq!(status(&running), "running");
        assert_eq!(running["status_text"], "Serving");
        assert!(running["ready_ms"].as_u64().is_some(), "{running}");
        release(&go2);
        let crashed = srv.next();
        let f = d.finish();
        assert_eq!(f.code, 0, "{}", f.stderr);
        assert_eq!(
            fields(&crashed),
            serde_json::json!({"status": "crashed", "exit_code": 0, "status_text": "Serving"})
        );
        assert!(srv.rest().is_empty());
        if let Some(p) = expect {
            assert!(
                !std::path::Path::new(p).exists(),
                "the socket file is removed"
            );
        }
        let _ = std::fs::remove_file(&go1);
        let _ = std::fs::remove_file(&go2);
    }
}

/// Sends `msg` to `addr` (NOTIFY_SOCKET's form) from the test process itself.
fn send_from_outside(addr: &str, msg: &[u8]) {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let to = match addr.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name).unwrap(),
        None => SocketAddr::from_pathname(addr).unwrap(),
    };
    UnixDatagram::unbound()
        .unwrap()
        .send_to_addr(msg, &to)
        .unwrap();
}

#[test]
fn a_sender_outside_docks_tree_is_ignored() {
    // Subreaper: the test is dock's parent, in the same PID namespace. PID 1: the test is not even
    // in dock's namespace (its pid reads as 0).
    for mode in [Mode::Subreaper, Mode::Pid1] {
        let dir = TempDir::new("ready-outsider");
        let go = fifo(&dir, "go");
        let srv = Server::start(0);
        let hook = srv.url("/");
        let w = format!("wait:{go}");
        let d = dock(
            mode,
            &["-d", "--ready-notify", "--web-hook", &hook],
            &["env", &w, "send:READY=1"],
        );
        let addr = d.line();
        assert_eq!(status(&srv.next()), "starting");
        send_from_outside(&addr, b"STATUS=spoofed\nREADY=1");
        d.wait_stderr("dropped: not dock's or a descendant's");
        release(&go);
        assert_eq!(status(&srv.next()), "running");
        d.signal(libc::SIGTERM);
        let crashed = srv.next();
        let f = d.finish();
        assert_eq!(f.code, 143, "{}", f.stderr);
        assert!(crashed.get("status_text").is_none(), "{crashed}");
        // The gate opened on the child's READY=1 only, after the outsider's was dropped.
        let dropped = at(&f.stderr, "dropped: not dock's");
        let child_ready = at(&f.stderr, ": READY=1 after");
        assert!(dropped < child_ready && child_ready < at(&f.stderr, "ready after"));
        assert_eq!(f.stderr.matches("ready after").count(), 1, "{}", f.stderr);
        assert!(!f.stderr.contains("spoofed"), "{}", f.stderr);
    }
}

#[test]
fn the_fd_form_from_the_environment_with_a_ready_file() {
    let dir = TempDir::new("ready-fd");
    let (go1, go2) = (fifo(&dir, "go1"), fifo(&dir, "go2"));
    let file = dir.path("ready");
    let srv = Server::start(0);
    let hook = srv.url("/");
    let (w1, w2) = (format!("wait:{go1}"), format!("wait:{go2}"));
    let c = child(&[&w1, "fd:7", &w2, "exit:3"]);
    let mut cmd = util::command(Mode::Pid1, &[]);
    cmd.args(["--ready-file", &file, "--web-hook", &hook])
        .args(&c)
        .env("DOCK_READY_FD", "7");
    let d = Running::from_command(Mode::Pid1, cmd);
    assert_eq!(status(&srv.next()), "starting");
    assert!(!std::path::Path::new(&file).exists());
    release(&go1);
    let running = srv.next();
    assert_eq!(status(&running), "running");
    assert!(running["ready_ms"].as_u64().is_some());
    // Made before `running` went out.
    let m = std::fs::metadata(&file).unwrap();
    assert_eq!((m.len(), m.mode() & 0o7777), (0, 0o644));
    release(&go2);
    assert_eq!(status(&srv.next()), "crashed");
    let f = d.finish();
    assert_eq!(f.code, 3, "{}", f.stderr);
    assert!(!std::path::Path::new(&file).exists(), "removed at teardown");
}

#[test]
fn an_http_endpoint_answering_503_then_200() {
    let srv = Server::start(2);
    let (health, hook) = (srv.url("/healthz"), srv.url("/hook"));
    let d = dock(
        Mode::Pid1,
        &["-d", "--ready-http", &health, "--web-hook", &hook],
        &["print:up"],
    );
    assert_eq!(status(&srv.next()), "starting");
    let running = srv.next();
    assert_eq!(status(&running), "running");
    // Two 503s, then the 200 that readied the child: three GETs, all in before `running`.
    let gets: Vec<String> = srv.gets.try_iter().collect();
    assert_eq!(gets, ["/healthz"; 3]);
    d.signal(libc::SIGTERM);
    assert_eq!(status(&srv.next()), "crashed");
    let f = d.finish();
    assert_eq!(f.code, 143, "{}", f.stderr);
    // One line per distinct failure, not per try.
    assert_eq!(f.stderr.matches("HTTP 503 X").count(), 1, "{}", f.stderr);
    assert!(f.stderr.contains("HTTP 200 after"), "{}", f.stderr);
}

#[test]
fn not_ready_in_time_reports_the_reason_terms_the_child_and_exits_124() {
    let srv = Server::start(0);
    let hook = srv.url("/");
    let dir = TempDir::new("ready-deadline");
    let file = dir.path("ready");
    // Generous: the child must have sent its STATUS before it; that is all the time is for.
    let d = dock(
        Mode::Pid1,
        &[
            "--ready-notify",
            "--ready-timeout",
            "3",
            "--ready-file",
            &file,
            "--web-hook",
            &hook,
        ],
        &["term", "send:STATUS=Migrating", "print:waiting"],
    );
    assert_eq!(d.line(), "waiting");
    assert_eq!(status(&srv.next()), "starting");
    let crashed = srv.next();
    assert_eq!(d.line(), "TERM", "the child got SIGTERM");
    let f = d.finish();
    assert_eq!(f.code, 124, "{}", f.stderr);
    assert_eq!(
        fields(&crashed),
        serde_json::json!({
            "status": "crashed",
            "exit_code": 124,
            "reason": "not ready within 3 s",
            "status_text": "Migrating"
        })
    );
    assert_eq!(srv.rest(), Vec::<String>::new(), "no running, one crashed");
    // One line, without -d.
    assert_eq!(f.stderr.lines().count(), 1, "{}", f.stderr);
    assert!(f.stderr.contains("not ready within 3 s"), "{}", f.stderr);
    assert!(!std::path::Path::new(&file).exists());
}

#[test]
fn several_conditions_at_once_ready_only_when_the_last_holds() {
    let dir = TempDir::new("ready-several");
    let (go1, go2, go3) = (fifo(&dir, "go1"), fifo(&dir, "go2"), fifo(&dir, "go3"));
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let srv = Server::start(0);
    let hook = srv.url("/");
    let (w1, w2, w3) = (
        format!("wait:{go1}"),
        format!("wait:{go2}"),
        format!("wait:{go3}"),
    );
    let listen = format!("listen:{port}");
    let d = dock(
        Mode::Pid1,
        &[
            "-d",
            "--bind-port",
            &port,
            "--ready-notify",
            "--ready-fd",
            "5",
            "--web-hook",
            &hook,
        ],
        &[&w1, &listen, &w2, "send:READY=1", &w3, "fd:5"],
    );
    assert_eq!(status(&srv.next()), "starting");
    release(&go1);
    d.wait_stderr(&format!("port {port} listening"));
    release(&go2);
    d.wait_stderr(": READY=1 after");
    release(&go3);
    assert_eq!(status(&srv.next()), "running");
    d.signal(libc::SIGTERM);
    assert_eq!(status(&srv.next()), "crashed");
    let f = d.finish();
    assert_eq!(f.code, 143, "{}", f.stderr);
    let e = &f.stderr;
    let order = [
        at(e, "listening on"),
        at(e, ": READY=1 after"),
        at(e, "--ready-fd 5: newline"),
        at(e, "ready after"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{e}");
    assert_eq!(e.matches("ready after").count(), 1, "{e}");
    assert!(srv.rest().is_empty());
}

#[test]
fn sigterm_while_not_ready_tears_down_without_running() {
    let srv = Server::start(0);
    let hook = srv.url("/");
    let d = dock(
        Mode::Pid1,
        &[
            "--ready-notify",
            "--ready-timeout",
            "600",
            "--web-hook",
            &hook,
        ],
        &["print:up"],
    );
    assert_eq!(d.line(), "up");
    assert_eq!(status(&srv.next()), "starting");
    d.signal(libc::SIGTERM);
    let crashed = srv.next();
    let f = d.finish();
    assert_eq!(f.code, 143, "{}", f.stderr);
    assert_eq!(
        fields(&crashed),
        serde_json::json!({"status": "crashed", "exit_code": 143, "signal": "SIGTERM"})
    );
    assert!(srv.rest().is_empty(), "no running");
    assert_eq!(f.stderr, "");
}

#[test]
fn bad_values_are_one_line_exit_2_and_nothing_started() {
    let dir = TempDir::new("ready-bad");
    let marker = dir.path("started");
    let touch = format!("touch {marker}");
    let not_a_socket = dir.path("plain");
    std::fs::write(&not_a_socket, "x").unwrap();
    let notify_plain = format!("--ready-notify={not_a_socket}");
    let cases: &[(&[&str], &str)] = &[
        (&["--ready-notify=relative"], "--ready-notify 'relative'"),
        (&["--ready-notify=@"], "--ready-notify '@'"),
        (&[&notify_plain], "--ready-notify "),
        (&["--ready-fd", "2"], "--ready-fd '2'"),
        (&["--ready-fd", "x"], "--ready-fd 'x'"),
        (&["--ready-fd", "99999999"], "--ready-fd 99999999"),
        (&["--ready-http", "ftp://h/"], "--ready-http 'ftp://h/'"),
        (
            &["--ready-timeout", "-1", "--ready-fd", "3"],
            "--ready-timeout '-1'",
        ),
        (
            &["--ready-timeout", "0", "--ready-fd", "3"],
            "--ready-timeout '0'",
        ),
        (&["--ready-timeout", "5"], "--ready-timeout needs"),
        (
            &["--ready-file", "/nonexistent/dir/f"],
            "--ready-file /nonexistent",
        ),
        (&["--ready-file", "-d"], "--ready-file '-d'"),
    ];
    for (opts, start) in cases {
        let mut args = opts.to_vec();
        args.extend(["sh", "-c", &touch]);
        let f = util::run(Mode::Subreaper, &args);
        assert_eq!(f.code, 2, "{opts:?}: {}", f.stderr);
        let line = f
            .stderr
            .strip_prefix("dock: ")
            .unwrap_or_else(|| panic!("{}", f.stderr));
        assert!(line.starts_with(start), "{opts:?}: {line}");
        assert_eq!(f.stderr.lines().count(), 1, "{}", f.stderr);
        assert!(
            !std::path::Path::new(&marker).exists(),
            "{opts:?} started the child"
        );
    }
    let mut cmd = util::command(Mode::Subreaper, &["sh", "-c", &touch]);
    cmd.env("DOCK_READY_TIMEOUT", "soon")
        .env("DOCK_READY_FD", "4");
    let f = Running::from_command(Mode::Subreaper, cmd).finish();
    assert_eq!(f.code, 2);
    // Named by where it came from.
    assert!(
        f.stderr.starts_with("dock: DOCK_READY_TIMEOUT 'soon'"),
        "{}",
        f.stderr
    );
    assert!(!std::path::Path::new(&marker).exists());
}
