//! Readiness speed (issue 14): how fast `READY=1` reaches the hook as `running`, what dock costs
//! while it waits for a notify or fd readiness (wakeups), and while an HTTP check fails (CPU).
//! `cargo bench --bench ready`.
//!
//! The child is this very binary re-executed (`READY_BENCH_CHILD`), so a run measures dock, not an
//! interpreter. On a line on its stdin it sends `READY=1` to `NOTIFY_SOCKET` (as sd_notify does: a
//! fresh datagram socket, one `sendto`), or writes a newline on fd 3, and prints the
//! CLOCK_MONOTONIC time taken right before. The bench's own hook receiver stamps the same clock once
//! a request is read whole. Latency = received − sent: dock's read, the gate, the hook's connect,
//! the request on loopback.
//!
//! Wakeups are dock's `voluntary_ctxt_switches + nonvoluntary_ctxt_switches`
//! (`/proc/<pid>/status`) over an idle wait, then across the one message. CPU is
//! `se.sum_exec_runtime` (`/proc/<pid>/schedstat`, ns) while `--ready-http` fails: connection
//! refused, and a server answering 503.

// Not shipped: a panic is the failure report here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::time::{clock_gettime, ClockId};
use nix::unistd::Pid;

const CHILD_ENV: &str = "READY_BENCH_CHILD";
/// Runs of the latency series.
const RUNS: usize = 50;
/// The idle wait over which wakeups are counted.
const IDLE: Duration = Duration::from_secs(10);
/// The HTTP check's CPU: the whole span, and from when on it is counted as the steady state (the
/// backoff reaches 1 s at 4 s).
const HTTP_SPAN: Duration = Duration::from_secs(15);
const HTTP_STEADY_FROM: Duration = Duration::from_secs(5);

fn mono_ns() -> u64 {
    let t = clock_gettime(ClockId::CLOCK_MONOTONIC).expect("clock_gettime");
    u64::try_from(t.tv_sec()).unwrap() * 1_000_000_000 + u64::try_from(t.tv_nsec()).unwrap()
}

/// The re-executed child: `notify` or `fd` signal readiness on each stdin line; `idle` waits.
fn child(mode: &str) -> ! {
    let mut lines = std::io::stdin().lock().lines();
    if mode != "idle" {
        while let Some(Ok(_)) = lines.next() {
            let t = match mode {
                "notify" => {
                    let addr = std::env::var("NOTIFY_SOCKET").expect("NOTIFY_SOCKET");
                    let name = addr.strip_prefix('@').expect("an abstract name");
                    let to = SocketAddr::from_abstract_name(name).unwrap();
                    let s = UnixDatagram::unbound().unwrap();
                    let t = mono_ns();
                    s.send_to_addr(b"READY=1", &to).unwrap();
                    t
                }
                _ => {
                    let t = mono_ns();
                    let mut fd = std::fs::OpenOptions::new()
                        .write(true)
                        .open("/proc/self/fd/3")
                        .unwrap();
                    let _ = fd.write_all(b"\n");
                    t
                }
            };
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{t}");
            let _ = out.flush();
        }
    }
    loop {
        std::thread::park();
    }
}

/// A hook receiver: each request's `"status"` and the time it was read whole; answers 200.
fn hook_server() -> (String, Receiver<(String, u64)>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { return };
            let Some(body) = read_body(&mut c) else {
                continue;
            };
            let t = mono_ns();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let status = v["ps"]["status"].as_str().unwrap_or("?").to_string();
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            if tx.send((status, t)).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

/// A server answering every request 503.
fn sick_server() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/healthz", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            if read_body(&mut c).is_some() {
                let _ =
                    c.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
            }
        }
    });
    url
}

/// Reads one request; returns its body (by Content-Length).
fn read_body(c: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < i + 4 + len {
                match c.read(&mut chunk) {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            return Some(buf[i + 4..i + 4 + len].to_vec());
        }
        match c.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// dock with `args` running the child in `mode`; stdin and stdout piped (the child's, through dock).
fn dock(args: &[&str], mode: &str) -> Child {
    let me = std::env::current_exe().expect("current_exe");
    Command::new(env!("CARGO_BIN_EXE_dock"))
        .args(args)
        .arg(me)
        .env(CHILD_ENV, mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning dock")
}

fn stop(mut d: Child) {
    let _ = kill(
        Pid::from_raw(i32::try_from(d.id()).unwrap()),
        Signal::SIGTERM,
    );
    let _ = d.wait();
}

/// Waits for the hook status `want`; its receive time.
fn hook_status(rx: &Receiver<(String, u64)>, want: &str) -> u64 {
    loop {
        let (s, t) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("hook request");
        if s == want {
            return t;
        }
    }
}

/// Tells the child to signal readiness; the time it took right before.
fn go(stdin: &mut ChildStdin, out: &mut BufReader<ChildStdout>) -> u64 {
    stdin.write_all(b"go\n").unwrap();
    stdin.flush().unwrap();
    let mut line = String::new();
    out.read_line(&mut line).expect("the child's send time");
    line.trim().parse().expect("a time")
}

/// One run: `READY=1` sent → `running` received, µs.
fn latency_us(hook: &str, rx: &Receiver<(String, u64)>) -> f64 {
    let mut d = dock(&["--ready-notify", "--web-hook", hook], "notify");
    // `starting` first: `running` must not wait behind it in the hook's queue.
    hook_status(rx, "starting");
    let mut stdin = d.stdin.take().unwrap();
    let mut out = BufReader::new(d.stdout.take().unwrap());
    let sent = go(&mut stdin, &mut out);
    let received = hook_status(rx, "running");
    stop(d);
    (received as f64 - sent as f64) / 1e3
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn status_field(pid: u32, name: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse().ok())
        })
        .expect("/proc/<pid>/status")
}

/// Context switches of `pid` so far: each one a wakeup.
fn switches(pid: u32) -> u64 {
    status_field(pid, "voluntary_ctxt_switches") + status_field(pid, "nonvoluntary_ctxt_switches")
}

/// CPU time of `pid` so far, ns (first field of schedstat).
fn cpu_ns(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .expect("schedstat")
}

/// A dock waiting for a readiness that does not come yet, with its child's stdin and stdout.
struct Waiting {
    name: &'static str,
    dock: Child,
    stdin: Option<ChildStdin>,
    out: Option<BufReader<ChildStdout>>,
}

impl Waiting {
    fn new(name: &'static str, args: &[&str], mode: &str) -> Waiting {
        let mut dock = dock(args, mode);
        let stdin = dock.stdin.take();
        let out = dock.stdout.take().map(BufReader::new);
        Waiting {
            name,
            dock,
            stdin,
            out,
        }
    }
}

fn main() {
    if let Ok(mode) = std::env::var(CHILD_ENV) {
        child(&mode);
    }
    if std::env::args().any(|a| a == "--list") {
        return; // cargo's benchmark discovery
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "ready bench: {} CPUs, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    // Wakeups and the HTTP check's CPU side by side, before the latency runs can disturb them.
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/healthz", l.local_addr().unwrap())
    };
    let sick = sick_server();
    let mut waiting = vec![
        Waiting::new("--ready-notify", &["--ready-notify"], "notify"),
        Waiting::new("--ready-fd 3", &["--ready-fd", "3"], "fd"),
        Waiting::new("no readiness option", &[], "idle"),
    ];
    let http = [
        (
            "connection refused",
            dock(&["--ready-http", &refused], "idle"),
        ),
        ("HTTP 503", dock(&["--ready-http", &sick], "idle")),
    ];
    // A timeline from the start of all five: idle switches counted over [1 s, 11 s] (start-up is
    // long over at 1 s), the HTTP checks' CPU over [0, 15 s] and, steady, over [5 s, 15 s].
    let t0 = std::time::Instant::now();
    let at = |secs: u64| {
        std::thread::sleep(
            (t0 + Duration::from_secs(secs)).saturating_duration_since(std::time::Instant::now()),
        )
    };
    at(1);
    let before: Vec<u64> = waiting.iter().map(|w| switches(w.dock.id())).collect();
    at(HTTP_STEADY_FROM.as_secs());
    let steady0: Vec<u64> = http.iter().map(|(_, d)| cpu_ns(d.id())).collect();
    at(1 + IDLE.as_secs());
    let idle: Vec<u64> = waiting.iter().map(|w| switches(w.dock.id())).collect();
    println!(
        "dock's wakeups (context switches) while waiting {:.0} s for a readiness that has not come \
         (goal: 0 besides the message itself):",
        IDLE.as_secs_f64()
    );
    for (i, w) in waiting.iter_mut().enumerate() {
        let (mut stdin, mut out) = (w.stdin.take().unwrap(), w.out.take().unwrap());
        let message = if w.name == "no readiness option" {
            String::new()
        } else {
            go(&mut stdin, &mut out);
            // Let dock take the message and go back to its wait.
            std::thread::sleep(Duration::from_millis(200));
            let n = switches(w.dock.id()) - idle[i];
            format!("; then {n} across the message itself")
        };
        println!("  {:<20} {}{message}", w.name, idle[i] - before[i]);
    }
    for w in waiting {
        stop(w.dock);
    }
    at(HTTP_SPAN.as_secs());
    println!(
        "dock's CPU while --ready-http fails ({:.0} s from the start, and steady from {:.0} s on; \
         goal: <= 1% of one core):",
        HTTP_SPAN.as_secs_f64(),
        HTTP_STEADY_FROM.as_secs_f64()
    );
    let steady_secs = (HTTP_SPAN - HTTP_STEADY_FROM).as_secs_f64();
    for ((name, d), s0) in http.into_iter().zip(steady0) {
        let total = cpu_ns(d.id());
        println!(
            "  {name:<20} {:.2} ms = {:.3}% of one core; steady {:.3}%",
            total as f64 / 1e6,
            total as f64 / (HTTP_SPAN.as_secs_f64() * 1e9) * 100.0,
            (total - s0) as f64 / (steady_secs * 1e9) * 100.0,
        );
        stop(d);
    }

    let (hook, rx) = hook_server();
    let mut runs: Vec<f64> = (0..RUNS).map(|_| latency_us(&hook, &rx)).collect();
    runs.sort_by(f64::total_cmp);
    println!(
        "READY=1 sent -> hook `running` received, {} runs (goal: median <= 1 ms, p99 <= 5 ms): \
         median {:.3} ms, p99 {:.3} ms, min {:.3} ms, max {:.3} ms",
        runs.len(),
        percentile(&runs, 0.5) / 1e3,
        percentile(&runs, 0.99) / 1e3,
        runs[0] / 1e3,
        runs[runs.len() - 1] / 1e3,
    );
}
