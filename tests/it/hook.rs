//! `--web-hook` (issue 6): a loopback receiver records every PUT (method, headers, JSON body) and
//! answers as each test scripts it: in order, retried, never answering, chunked, close-delimited, TLS.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use crate::util::{self, Mode, Running, TempDir, DEADLINE};

/// How the receiver answers one request.
#[derive(Clone)]
enum Reply {
    /// This status with a small Content-Length body.
    Status(u16),
    /// 200 with a chunked body written in several pieces.
    Chunked,
    /// 200 with a valid chunked body of this many one-byte chunks.
    ManyChunks(usize),
    /// 200 with a body ended by closing the connection.
    CloseDelimited,
    /// Never answer; the connection is handed to the test in [`Req::held`].
    Never,
    /// Answer 200 once the test opens the gate.
    Gate(Arc<(Mutex<bool>, Condvar)>),
}

/// One recorded request.
struct Req {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
    /// The body as received.
    raw: Vec<u8>,
    /// The connection, for [`Reply::Never`].
    held: Option<TcpStream>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn status(&self) -> &str {
        self.body["ps"]["status"].as_str().unwrap_or("?")
    }
}

/// A loopback HTTP(S) receiver thread: answers the n-th connection with `replies[n]` (the last reply
/// repeats).
struct Receiver_ {
    addr: SocketAddr,
    reqs: Receiver<Req>,
}

#[cfg(feature = "tls")]
type ServerTls = Option<Arc<rustls::ServerConfig>>;
#[cfg(not(feature = "tls"))]
type ServerTls = Option<Arc<std::convert::Infallible>>;

fn receiver(replies: Vec<Reply>, tls: ServerTls) -> Receiver_ {
    receiver_on(TcpListener::bind("127.0.0.1:0").unwrap(), replies, tls)
}

/// [`receiver`] on a listener the test made.
fn receiver_on(listener: TcpListener, replies: Vec<Reply>, tls: ServerTls) -> Receiver_ {
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = channel();
    thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(tcp) = conn else { continue };
            let reply = replies[n.min(replies.len() - 1)].clone();
            let tx = tx.clone();
            let tls = tls.clone();
            thread::spawn(move || {
                tcp.set_read_timeout(Some(DEADLINE)).unwrap();
                let held = tcp.try_clone().ok();
                match tls {
                    None => serve(tcp, reply, held, &tx),
                    #[cfg(feature = "tls")]
                    Some(cfg) => {
                        let conn = rustls::ServerConnection::new(cfg).unwrap();
                        serve(rustls::StreamOwned::new(conn, tcp), reply, None, &tx);
                    }
                    #[cfg(not(feature = "tls"))]
                    Some(never) => match *never {},
                }
            });
        }
    });
    Receiver_ { addr, reqs: rx }
}

/// Reads one request from `s`, records it, answers with `reply`.
fn serve<S: Read + Write>(
    mut s: S,
    reply: Reply,
    held: Option<TcpStream>,
    tx: &std::sync::mpsc::Sender<Req>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let head_len = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    assert!(req.parse(&buf).unwrap().is_complete());
    let method = req.method.unwrap_or("").to_string();
    let path = req.path.unwrap_or("").to_string();
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    while buf.len() < head_len + len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let never = matches!(reply, Reply::Never);
    let _ = tx.send(Req {
        method,
        path,
        headers,
        body: serde_json::from_slice(&buf[head_len..head_len + len]).unwrap_or(Value::Null),
        raw: buf[head_len..head_len + len].to_vec(),
        held: if never { held } else { None },
    });
    let _ = match reply {
        Reply::Status(code) => write!(
            s,
            "HTTP/1.1 {code} Whatever\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        ),
        Reply::Chunked => s
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwell")
            .and_then(|()| s.flush())
            .and_then(|()| s.write_all(b"\r\n3;x=y\r\nrec\r\n0\r\nX-T: 1\r\n\r\n")),
        Reply::CloseDelimited => s.write_all(b"HTTP/1.0 200 OK\r\nServer: t\r\n\r\nuntil close"),
        Reply::ManyChunks(n) => {
            let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for _ in 0..n {
                r.extend_from_slice(b"1\r\nx\r\n");
            }
            r.extend_from_slice(b"0\r\n\r\n");
            s.write_all(&r)
        }
        Reply::Never => {
            // Keep the connection (a clone is in `held`) until dock closes it.
            let _ = s.read(&mut chunk);
            Ok(())
        }
        Reply::Gate(g) => {
            let mut open = g.0.lock().unwrap();
            while !*open {
                open = g.1.wait(open).unwrap();
            }
            s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
        }
    };
    let _ = s.flush();
}

impl Receiver_ {
    /// The next request, or panics at the deadline.
    fn next(&self) -> Req {
        self.reqs
            .recv_timeout(DEADLINE)
            .expect("no hook request within the deadline")
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Statuses of every request received until now (dock has exited: all are in).
    fn rest(&self) -> Vec<String> {
        self.reqs
            .try_iter()
            .map(|r| r.status().to_string())
            .collect()
    }
}

/// A FIFO the child blocks on until the test writes a line: a child that stays alive as long as the
/// test wants, without sleeping.
fn fifo(dir: &TempDir) -> String {
    let path = dir.path("gate");
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

#[test]
fn starting_running_crashed_in_order_with_exact_fields() {
    let rx = receiver(vec![Reply::Status(200)], None);
    let dir = TempDir::new("hook-seq");
    let gate = fifo(&dir);
    let url = format!("http://alice:s%3Acret@{}/hook?x=1", rx.addr);
    let script = format!("read _ < {gate}; exit 3");
    // Credentials go in the environment (on the command line they would get a warning).
    let mut c = util::command(Mode::Pid1, &["sh", "-c", &script]);
    c.env("DOCK_WEB_HOOK", &url);
    let d = Running::from_command(Mode::Pid1, c);
    let starting = rx.next();
    let running = rx.next();
    release(&gate);
    let crashed = rx.next();
    let f = d.finish();
    assert_eq!(f.code, 3, "{}", f.stderr);
    assert_eq!(f.stderr, "", "a delivered hook logs nothing without -d");

    for r in [&starting, &running, &crashed] {
        assert_eq!(r.method, "PUT");
        assert_eq!(r.path, "/hook?x=1");
        assert_eq!(r.header("host"), Some(rx.addr.to_string().as_str()));
        let ua = format!("dock/{}", env!("CARGO_PKG_VERSION"));
        assert_eq!(r.header("user-agent"), Some(ua.as_str()));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("connection"), Some("close"));
        // alice:s:cret
        assert_eq!(r.header("authorization"), Some("Basic YWxpY2U6czpjcmV0"));
        let lo = r.body["ps"]["net_interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == "lo")
            .cloned()
            .expect("lo is listed");
        assert_eq!(lo["ipv4"], "127.0.0.1");
    }
    let pid = starting.body["ps"]["pid"].as_i64().expect("a pid");
    assert!(pid > 1, "the child's pid, not dock's");
    let fields = |r: &Req| {
        let mut ps = r.body["ps"].clone();
        ps.as_object_mut().unwrap().remove("net_interfaces");
        ps
    };
    assert_eq!(fields(&starting), json!({"status": "starting", "pid": pid}));
    // ms from the spawn to readiness: at once here, so small, but any number will do.
    let ready_ms = running.body["ps"]["ready_ms"].as_u64().expect("ready_ms");
    assert_eq!(
        fields(&running),
        json!({"status": "running", "pid": pid, "ready_ms": ready_ms})
    );
    assert_eq!(
        fields(&crashed),
        json!({"status": "crashed", "pid": pid, "exit_code": 3})
    );
    assert!(rx.rest().is_empty());
}

#[test]
fn killed_child_reports_143_and_sigterm() {
    let rx = receiver(vec![Reply::Status(200)], None);
    let url = rx.url("/");
    let d = Running::start(
        Mode::Subreaper,
        &["--web-hook", &url, "sh", "-c", "exec sleep 1000"],
    );
    assert_eq!(rx.next().status(), "starting");
    assert_eq!(rx.next().status(), "running");
    d.signal(libc::SIGTERM);
    let crashed = rx.next();
    let f = d.finish();
    assert_eq!(f.code, 143, "{}", f.stderr);
    assert_eq!(crashed.body["ps"]["exit_code"], 143);
    assert_eq!(crashed.body["ps"]["signal"], "SIGTERM");
}

/// `--grace-period 0` gives leftovers no time, yet the last status is still sent: the hook gets the
/// same 100 ms floor as the output.
#[test]
fn grace_period_0_still_delivers_crashed() {
    let rx = receiver(vec![Reply::Status(200)], None);
    let dir = TempDir::new("hook-grace0");
    let gate = fifo(&dir);
    let url = rx.url("/");
    let script = format!("read _ < {gate}; exit 4");
    let d = Running::start(
        Mode::Pid1,
        &[
            "--grace-period",
            "0",
            "--web-hook",
            &url,
            "sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(rx.next().status(), "starting");
    assert_eq!(rx.next().status(), "running");
    release(&gate);
    let crashed = rx.next();
    let f = d.finish();
    assert_eq!(f.code, 4, "{}", f.stderr);
    assert_eq!(f.stderr, "");
    assert_eq!(crashed.body["ps"]["exit_code"], 4);
}

#[test]
fn running_is_dropped_when_the_child_exits_first() {
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let rx = receiver(vec![Reply::Gate(gate.clone()), Reply::Status(200)], None);
    let url = rx.url("/");
    let d = Running::start(
        Mode::Pid1,
        &["-d", "--web-hook", &url, "sh", "-c", "exit 5"],
    );
    assert_eq!(rx.next().status(), "starting");
    // `crashed` is queued while `starting` is unanswered and `running` waits behind it.
    d.wait_stderr("running not sent, the child exited first");
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    assert_eq!(rx.next().status(), "crashed");
    let f = d.finish();
    assert_eq!(f.code, 5, "{}", f.stderr);
    assert!(rx.rest().is_empty(), "running must never follow crashed");
}

/// Not answering must hold back neither the child, nor signal handling, nor the exit beyond the grace
/// period.
#[test]
fn silent_receiver_delays_nothing() {
    let rx = receiver(vec![Reply::Never], None);
    let url = rx.url("/");
    let d = Running::start(
        Mode::Pid1,
        &[
            "--grace-period",
            "1",
            "--web-hook",
            &url,
            "sh",
            "-c",
            "echo up; exec sleep 1000",
        ],
    );
    let starting = rx.next();
    assert_eq!(starting.status(), "starting");
    assert_eq!(d.line(), "up");
    // The child runs while `starting` is still unanswered on an open connection: dock did not wait.
    let held = starting.held.as_ref().unwrap();
    held.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    assert!(
        matches!((&*held).read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "dock's connection is still open and waiting"
    );
    d.signal(libc::SIGTERM);
    // Bounded well below the 10 s request timeout a waiting dock would sit out: not a speed claim,
    // the grace period (1 s) is what ends the wait.
    let mut d = d;
    let f = d.finish_within(Duration::from_secs(8));
    assert_eq!(f.code, 143, "{}", f.stderr);
    assert!(
        f.stderr.contains("not delivered within the grace period"),
        "{}",
        f.stderr
    );
}

#[test]
fn a_500_is_retried() {
    let rx = receiver(vec![Reply::Status(500), Reply::Status(200)], None);
    let url = rx.url("/");
    let dir = TempDir::new("hook-retry");
    let gate = fifo(&dir);
    let script = format!("read _ < {gate}; exit 0");
    let d = Running::start(Mode::Subreaper, &["--web-hook", &url, "sh", "-c", &script]);
    let first = rx.next();
    let second = rx.next();
    assert_eq!((first.status(), second.status()), ("starting", "starting"));
    assert_eq!(first.body["ps"]["pid"], second.body["ps"]["pid"]);
    assert_eq!(rx.next().status(), "running");
    release(&gate);
    assert_eq!(rx.next().status(), "crashed");
    let f = d.finish();
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert_eq!(
        f.stderr, "",
        "a retried-then-delivered hook is not an error"
    );
}

#[test]
fn unreachable_receiver_is_logged_and_the_exit_code_is_the_childs() {
    // A port nobody listens on: bind, note the port, close.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let f = util::run(
        Mode::Subreaper,
        &[
            "--grace-period",
            "1",
            "--web-hook",
            &url,
            "sh",
            "-c",
            "exit 9",
        ],
    );
    assert_eq!(f.code, 9);
    assert!(
        f.stderr.contains("web hook http://127.0.0.1:") && f.stderr.contains("not delivered"),
        "{}",
        f.stderr
    );
}

#[test]
fn chunked_and_close_delimited_responses_are_complete() {
    let rx = receiver(
        vec![Reply::Chunked, Reply::CloseDelimited, Reply::Chunked],
        None,
    );
    // A host name, resolved off the loop (`localhost` may list ::1 first: nobody listens there, so
    // this also covers falling back to the next address).
    let url = format!("http://localhost:{}/", rx.addr.port());
    let dir = TempDir::new("hook-chunked");
    let gate = fifo(&dir);
    let script = format!("read _ < {gate}; exit 0");
    let d = Running::start(Mode::Pid1, &["--web-hook", &url, "sh", "-c", &script]);
    assert_eq!(rx.next().status(), "starting");
    assert_eq!(rx.next().status(), "running");
    release(&gate);
    let crashed = rx.next();
    assert_eq!(crashed.status(), "crashed");
    assert_eq!(
        crashed.header("host"),
        Some(format!("localhost:{}", rx.addr.port()).as_str())
    );
    let f = d.finish();
    assert_eq!(f.code, 0);
    assert_eq!(f.stderr, "", "each response was understood the first time");
    assert!(rx.rest().is_empty(), "no retries");
}

#[test]
fn bad_urls_exit_2_and_start_nothing() {
    let dir = TempDir::new("hook-bad");
    let marker = dir.path("started");
    let script = format!("touch {marker}");
    for url in [
        "ftp://example.com/",
        "http://",
        "http://host:0/",
        "http://host:99999/",
        "http://[::1/",
        "http://a b/",
        "example.com/hook",
    ] {
        let f = util::run(Mode::Subreaper, &["--web-hook", url, "sh", "-c", &script]);
        assert_eq!(f.code, 2, "{url}: {}", f.stderr);
        assert!(
            f.stderr.starts_with("dock: --web-hook") && f.stderr.lines().count() == 1,
            "{url}: {}",
            f.stderr
        );
    }
    // A --ca-file with no certificate in it fails when the https hook is set up.
    let empty = dir.path("empty.pem");
    std::fs::write(&empty, "not pem\n").unwrap();
    let f = util::run(
        Mode::Subreaper,
        &[
            "--ca-file",
            &empty,
            "--web-hook",
            "https://127.0.0.1:1/",
            "sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(f.code, 2, "{}", f.stderr);
    // Without TLS compiled in, https is refused at parse time instead.
    let want = if cfg!(feature = "tls") {
        "--ca-file"
    } else {
        "https://"
    };
    assert!(f.stderr.contains(want), "{}", f.stderr);
    assert!(
        !std::path::Path::new(&marker).exists(),
        "nothing was started"
    );
}

#[cfg(feature = "tls")]
#[test]
fn https_is_refused_without_the_ca_and_delivered_with_it() {
    let dir = TempDir::new("hook-tls");
    let crate::pki::TestPki {
        ca,
        server,
        server_tls12,
        ..
    } = crate::pki::make(&dir);

    let rx = receiver(vec![Reply::Status(200)], Some(server.clone()));
    let url = format!("https://localhost:{}/tls", rx.addr.port());
    let f = util::run(
        Mode::Subreaper,
        &[
            "--grace-period",
            "2",
            "--web-hook",
            &url,
            "sh",
            "-c",
            "exit 7",
        ],
    );
    assert_eq!(
        f.code, 7,
        "the child's status, whatever the hook: {}",
        f.stderr
    );
    assert!(f.stderr.contains("certificate"), "{}", f.stderr);
    assert!(
        rx.rest().is_empty(),
        "nothing was sent over an unverified connection"
    );

    // A server that speaks TLS 1.2 only: dock speaks it too, and the statuses arrive.
    let rx = receiver(vec![Reply::Status(200)], Some(server_tls12));
    let url = format!("https://127.0.0.1:{}/tls12", rx.addr.port());
    let f = util::run(
        Mode::Subreaper,
        &[
            "--grace-period",
            "2",
            "--ca-file",
            &ca,
            "--web-hook",
            &url,
            "sh",
            "-c",
            "exit 7",
        ],
    );
    assert_eq!(f.code, 7, "{}", f.stderr);
    // The child exits at once: `running` may not get its turn, which is logged (issue 16).
    let other: Vec<&str> = f
        .stderr
        .lines()
        .filter(|l| !l.ends_with("running not sent, the child exited first"))
        .collect();
    assert!(other.is_empty(), "{}", f.stderr);
    assert_eq!(rx.next().status(), "starting");

    let rx = receiver(
        vec![Reply::Status(200), Reply::CloseDelimited, Reply::Chunked],
        Some(server),
    );
    let gate = fifo(&dir);
    let script = format!("read _ < {gate}; exit 0");
    let url = format!("https://127.0.0.1:{}/tls", rx.addr.port());
    let d = Running::start(
        Mode::Pid1,
        &["--ca-file", &ca, "--web-hook", &url, "sh", "-c", &script],
    );
    let starting = rx.next();
    assert_eq!(starting.status(), "starting");
    assert_eq!(starting.path, "/tls");
    assert_eq!(rx.next().status(), "running");
    release(&gate);
    assert_eq!(rx.next().status(), "crashed");
    let f = d.finish();
    assert_eq!(f.code, 0);
    assert_eq!(f.stderr, "", "{}", f.stderr);
}

#[test]
fn with_bind_port_running_waits_for_the_listener() {
    let rx = receiver(vec![Reply::Status(200)], None);
    let url = rx.url("/");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = TempDir::new("hook-port");
    let gate = fifo(&dir);
    let script = format!(
        "read _ < {gate}; exec python3 -c 'import socket, signal; s = socket.socket(); \
         s.bind((\"127.0.0.1\", {port})); s.listen(); signal.pause()'"
    );
    let port_arg = port.to_string();
    let d = Running::start(
        Mode::Pid1,
        &[
            "-d",
            "--bind-port",
            &port_arg,
            "--web-hook",
            &url,
            "sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(rx.next().status(), "starting");
    // Once `starting` is delivered dock would send a queued `running` at once: there is none.
    d.wait_stderr("starting delivered");
    assert!(
        rx.reqs.try_recv().is_err(),
        "running before the port listens"
    );
    assert!(
        !d.stderr().contains(r#""status":"running""#),
        "{}",
        d.stderr()
    );
    release(&gate);
    let running = rx.next();
    assert_eq!(running.status(), "running");
    let log = d.stderr();
    let listening = log
        .find(&format!("port {port} listening"))
        .expect("readiness was logged");
    let put = log
        .find(r#""status":"running""#)
        .expect("the PUT was logged");
    assert!(listening < put, "{log}");
    d.signal(libc::SIGTERM);
    let crashed = rx.next();
    assert_eq!(crashed.body["ps"]["signal"], "SIGTERM");
    let f = d.finish();
    assert_eq!(f.code, 143, "{}", f.stderr);
}

/// Issue 16, item 6: a server that accepts `starting` and never answers no longer holds `crashed`
/// back: once the child has exited, the stuck try is given up (logged) and `crashed` goes out on a
/// new connection, long before the grace period (60 s) or the try's own 10 s would end. The
/// `running` that never got its turn is logged too, without `-d`.
#[test]
fn a_stuck_try_is_given_up_for_crashed_once_the_child_exited() {
    let rx = receiver(vec![Reply::Never, Reply::Status(200)], None);
    let url = rx.url("/");
    let dir = TempDir::new("hook-stuck");
    let gate = fifo(&dir);
    let script = format!("read _ < {gate}; exit 3");
    let d = Running::start(
        Mode::Pid1,
        &[
            "--grace-period",
            "60",
            "--web-hook",
            &url,
            "sh",
            "-c",
            &script,
        ],
    );
    let starting = rx.next();
    assert_eq!(starting.status(), "starting");
    // `starting` is on the wire, unanswered; `running` waits behind it. The child exits.
    release(&gate);
    let next = rx.next();
    assert_eq!(
        next.status(),
        "crashed",
        "crashed must not wait behind a retry of the stuck starting"
    );
    let f = d.finish();
    assert_eq!(f.code, 3, "{}", f.stderr);
    assert!(
        f.stderr
            .contains("starting given up, the child exited: crashed goes next"),
        "{}",
        f.stderr
    );
    assert!(
        f.stderr
            .contains("running not sent, the child exited first"),
        "a status given up is logged without -d: {}",
        f.stderr
    );
    assert!(rx.rest().is_empty());
    drop(starting);
}

/// Issue 16, item 6: a receiver that is down for more than three seconds (today's three tries span
/// 1.5 s) still gets every status: the tries go on, with backoff, for a minute.
#[test]
fn a_receiver_down_for_seconds_still_gets_every_status() {
    // A port with nobody listening: connections are refused until the receiver comes up.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let dir = TempDir::new("hook-down");
    let gate = fifo(&dir);
    let script = format!("read _ < {gate}; exit 0");
    let d = Running::start(Mode::Pid1, &["-d", "--web-hook", &url, "sh", "-c", &script]);
    // The fourth try failing is 3.5 s after the first (backoff 0.5 + 1 + 2 s).
    d.wait_stderr("starting try 4 failed");
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let rx = receiver_on(listener, vec![Reply::Status(200)], None);
    assert_eq!(rx.next().status(), "starting");
    assert_eq!(rx.next().status(), "running");
    release(&gate);
    assert_eq!(rx.next().status(), "crashed");
    let f = d.finish();
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert!(!f.stderr.contains("not delivered"), "{}", f.stderr);
    assert!(!f.stderr.contains("given up"), "{}", f.stderr);
}

/// Issue 16, item 6: a valid chunked response of 5,000 chunks is understood the first time (the
/// limit is per chunk-size line and trailer, not on the framing in all).
#[test]
fn a_response_of_many_chunks_is_understood() {
    let rx = receiver(vec![Reply::ManyChunks(5000)], None);
    let url = rx.url("/");
    let dir = TempDir::new("hook-chunks");
    let gate = fifo(&dir);
    let script = format!("read _ < {gate}; exit 0");
    let d = Running::start(Mode::Pid1, &["--web-hook", &url, "sh", "-c", &script]);
    assert_eq!(rx.next().status(), "starting");
    assert_eq!(rx.next().status(), "running", "starting was not retried");
    release(&gate);
    assert_eq!(rx.next().status(), "crashed");
    let f = d.finish();
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert_eq!(f.stderr, "", "each response was understood the first time");
    assert!(rx.rest().is_empty(), "no retries");
}

/// `openssl dgst -sha256 -hmac KEY` of `data`: the receiver's side of a signed hook.
fn openssl_hmac(key: &str, data: &[u8]) -> String {
    use std::process::{Command, Stdio};
    let mut c = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", key])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl CLI");
    c.stdin.take().unwrap().write_all(data).unwrap();
    let out = c.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    // "SHA2-256(stdin)= <hex>"
    text.rsplit("= ").next().unwrap().trim().to_string()
}

/// Issue 16, item 3: with DOCK_WEB_HOOK_SECRET, every request carries GitHub's signature scheme,
/// `X-Dock-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`, which the receiver checks with
/// the secret alone; the secret stays out of the child's environment and of every message.
#[test]
fn signed_hooks_carry_an_hmac_of_the_body() {
    let rx = receiver(vec![Reply::Status(200)], None);
    let url = rx.url("/signed");
    let secret = "It's a Secret to Everybody";
    let dir = TempDir::new("hook-signed");
    let gate = fifo(&dir);
    let script = format!("env | grep -c SECRET; read _ < {gate}; exit 0");
    let mut c = util::command(Mode::Pid1, &["-d", "sh", "-c", &script]);
    c.env("DOCK_WEB_HOOK", &url)
        .env("DOCK_WEB_HOOK_SECRET", secret);
    let d = Running::from_command(Mode::Pid1, c);
    let mut reqs = vec![rx.next(), rx.next()];
    release(&gate);
    reqs.push(rx.next());
    let f = d.finish();
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert_eq!(f.stdout, "0\n", "the secret is not the child's");
    assert!(!f.stderr.contains(secret), "{}", f.stderr);
    let mut seen = Vec::new();
    for r in reqs {
        let sig = r
            .header("x-dock-signature-256")
            .expect("a signature header");
        assert_eq!(sig, format!("sha256={}", openssl_hmac(secret, &r.raw)));
        seen.push(r.status().to_string());
    }
    assert_eq!(seen, ["starting", "running", "crashed"]);
    // Unsigned without the secret.
    let rx = receiver(vec![Reply::Status(200)], None);
    let f = util::run(Mode::Subreaper, &["--web-hook", &rx.url("/"), "true"]);
    assert_eq!(f.code, 0);
    assert!(rx.next().header("x-dock-signature-256").is_none());
}

/// `--remap-exit` changes what dock exits with, not what the hook reports: `crashed` carries the
/// child's real status (issue 18). Realtime signals are named as `kill -l` names them.
#[test]
fn crashed_keeps_the_childs_real_status_under_remap_exit() {
    for (sig, name) in [(libc::SIGTERM, "SIGTERM"), (40, "SIGRTMIN+6")] {
        let rx = receiver(vec![Reply::Status(200)], None);
        let url = rx.url("/");
        let remap = format!("{}:0", 128 + sig);
        let d = Running::start(
            Mode::Subreaper,
            &[
                "--web-hook",
                &url,
                "-e",
                &remap,
                "sh",
                "-c",
                "exec sleep 1000",
            ],
        );
        assert_eq!(rx.next().status(), "starting");
        assert_eq!(rx.next().status(), "running");
        d.signal(sig);
        let crashed = rx.next();
        let f = d.finish();
        assert_eq!(f.code, 0, "{name}: {}", f.stderr);
        assert_eq!(crashed.body["ps"]["exit_code"], 128 + sig, "{name}");
        assert_eq!(crashed.body["ps"]["signal"], name);
    }
}
