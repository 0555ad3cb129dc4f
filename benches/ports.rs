//! `--bind-port` speed (issue 5): readiness latency from the child's `listen()` to dock's detection,
//! and dock's CPU while it waits for a port that never comes. `cargo bench --bench ports`.
//!
//! The child is this very binary re-executed (`PORTS_BENCH_CHILD`), so a run measures dock, not an
//! interpreter's start-up. It waits a chosen delay, listens, and prints the CLOCK_MONOTONIC time
//! right after `listen()`; the bench timestamps dock's `-d` line `port P listening ...` when it
//! arrives on the pipe. Latency = the difference (it includes the pipe hop, a few µs).
//!
//! CPU is the `se.sum_exec_runtime` of dock (`/proc/<pid>/schedstat`, ns) over 10 s, beside a dock
//! without `--bind-port` as the baseline (idle must be zero wakeups).

// Not shipped: a panic is the failure report here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::time::{clock_gettime, ClockId};
use nix::unistd::Pid;

const CHILD_ENV: &str = "PORTS_BENCH_CHILD";
/// Runs of the main latency series; the child listens 0–300 ms after its start, spread evenly.
const RUNS: usize = 200;
const SPREAD_MS: u64 = 300;
/// A shorter series of late listeners (1–3 s), where polling has slowed down.
const LATE_RUNS: usize = 20;
const CPU_WAIT: Duration = Duration::from_secs(10);

fn mono_ns() -> u64 {
    let t = clock_gettime(ClockId::CLOCK_MONOTONIC).expect("clock_gettime");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

/// The re-executed child: `PORT:DELAY_MS` listens after the delay; `idle` never listens.
fn child(spec: &str) -> ! {
    if let Some((port, delay)) = spec.split_once(':') {
        let port: u16 = port.parse().expect("port");
        std::thread::sleep(Duration::from_millis(delay.parse().expect("delay")));
        let _l = TcpListener::bind(("127.0.0.1", port)).expect("listen");
        let t = mono_ns();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{t}");
        let _ = out.flush();
        loop {
            std::thread::park();
        }
    }
    loop {
        std::thread::park();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn dock(args: &[&str], child_spec: &str) -> Child {
    let me = std::env::current_exe().expect("current_exe");
    Command::new(env!("CARGO_BIN_EXE_dock"))
        .args(args)
        .arg(me)
        .env(CHILD_ENV, child_spec)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning dock")
}

fn stop(mut d: Child) {
    let _ = kill(Pid::from_raw(d.id() as i32), Signal::SIGTERM);
    let _ = d.wait();
}

/// One run: the latency in µs for a child that listens `delay_ms` after its start.
fn latency_us(delay_ms: u64) -> f64 {
    let port = free_port();
    let p = port.to_string();
    let mut d = dock(&["-d", "--bind-port", &p], &format!("{port}:{delay_ms}"));
    let mut err = BufReader::new(d.stderr.take().expect("stderr"));
    let needle = format!("port {port} listening");
    let detected = loop {
        let mut line = String::new();
        match err.read_line(&mut line) {
            Ok(0) | Err(_) => panic!("dock ended before reporting port {port}"),
            Ok(_) if line.contains(&needle) => break mono_ns(),
            Ok(_) => {}
        }
    };
    let mut out = BufReader::new(d.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("child's listen time");
    let listened: u64 = line.trim().parse().expect("listen time");
    stop(d);
    (detected as f64 - listened as f64) / 1e3
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    println!(
        "{name}: {} runs, latency median {:.2} ms, p99 {:.2} ms, min {:.2} ms, max {:.2} ms",
        v.len(),
        percentile(&v, 0.5) / 1e3,
        percentile(&v, 0.99) / 1e3,
        v[0] / 1e3,
        v[v.len() - 1] / 1e3,
    );
}

/// CPU time of `pid` so far, ns (first field of schedstat).
fn cpu_ns(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .expect("schedstat")
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child(&spec);
    }
    if std::env::args().any(|a| a == "--list") {
        return; // cargo's benchmark discovery
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "ports bench: {} CPUs, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    // CPU first, both docks side by side, so the latency runs do not disturb it.
    let port = free_port().to_string();
    let waiting = dock(&["--bind-port", &port], "idle");
    let idle = dock(&[], "idle");
    let (w0, i0) = (cpu_ns(waiting.id()), cpu_ns(idle.id()));
    std::thread::sleep(CPU_WAIT / 2);
    let w_half = cpu_ns(waiting.id());
    std::thread::sleep(CPU_WAIT / 2);
    let (w1, i1) = (cpu_ns(waiting.id()), cpu_ns(idle.id()));
    let secs = CPU_WAIT.as_secs_f64();
    let steady = (w1 - w_half) as f64 / (secs / 2.0);
    println!(
        "CPU while waiting {secs:.0} s for a port that never comes: {:.2} ms = {:.3}% of one core \
         (from 5 s on: {:.3}%); dock without --bind-port: {:.2} ms",
        (w1 - w0) as f64 / 1e6,
        (w1 - w0) as f64 / (secs * 1e9) * 100.0,
        steady / 1e9 * 100.0,
        (i1 - i0) as f64 / 1e6,
    );
    stop(waiting);
    stop(idle);

    let runs: Vec<f64> = (0..RUNS)
        .map(|i| latency_us(i as u64 * SPREAD_MS / RUNS as u64))
        .collect();
    report(
        &format!("listen 0-{SPREAD_MS} ms after start (goal: median <= 5 ms, p99 <= 25 ms)"),
        runs,
    );
    let late: Vec<f64> = (0..LATE_RUNS)
        .map(|i| latency_us(1000 + i as u64 * 2000 / LATE_RUNS as u64))
        .collect();
    report("listen 1-3 s after start", late);
}
