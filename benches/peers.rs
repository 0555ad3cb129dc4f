//! `make bench`: dock side by side with tini-static, dumb-init and catatonit in one run, one markdown
//! table on stdout, ratios first (dock ÷ the best peer; below 1 is better for every row).
//!
//! Every figure about PID 1 runs each init as PID 1 of its own PID namespace
//! (`unshare --pid --fork --mount-proc`), as in a container. Startup runs them as plain children
//! (tini with `-s`), so the namespace setup does not drown the init's own cost. dock is the static
//! binary in `DOCK_STATIC_BIN` (`make bench` builds it) or else cargo's; a missing peer gets `n/a`
//! (`benches/bench.sh` installs them from Debian). Needs root; prints a note and exits 0 otherwise.
//!
//! The same binary, re-executed with `--role NAME`, is the workload inside the namespace: `idle`,
//! `sigwait`, `orphans N`, `teardown` (+ `leftover`). No figure is asserted: this prints, never fails
//! on speed.

// Not shipped: a panic is the failure report here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;

const SIGNAL_WARMUP: usize = 100;

/// Counts and spans of one run.
struct Params {
    orphans: usize,
    /// Runs of the orphans figure per init (the median is reported).
    orphan_runs: usize,
    signal_rounds: usize,
    startup_runs: usize,
    idle: Duration,
    teardown_runs: usize,
}

/// The full run, or with `PEERS_QUICK=1` a smoke run of the bench itself (figures not comparable).
fn params() -> &'static Params {
    static P: std::sync::OnceLock<Params> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        if std::env::var_os("PEERS_QUICK").is_some() {
            Params {
                orphans: 500,
                orphan_runs: 1,
                signal_rounds: 100,
                startup_runs: 10,
                idle: Duration::from_secs(1),
                teardown_runs: 1,
            }
        } else {
            Params {
                orphans: 20_000,
                orphan_runs: 5,
                signal_rounds: 20_000,
                startup_runs: 300,
                idle: Duration::from_secs(10),
                teardown_runs: 5,
            }
        }
    })
}
/// How long the teardown leftover needs for its cleanup after SIGTERM.
const CLEANUP: Duration = Duration::from_millis(50);
/// Budgets from issue 7, in bytes (1 kB = 1000 B).
const SIZE_TLS_MAX: u64 = 1_200_000;
const SIZE_NOTLS_MAX: u64 = 690_000;
const USS_GOAL_KB: f64 = 600.0;

/// One figure per init, in the order of [`inits`]; `None` when the init is missing.
type Column = Vec<Option<f64>>;

/// Median and p99 over the floor per init, the floor's (median, p99), and the best peer's name with
/// the median of dock's per-round difference to it (µs).
/// Whether the signal rounds now run under load (for the lines of [`OTHERS`]).
static LOAD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn signal_load() -> bool {
    LOAD.load(std::sync::atomic::Ordering::Relaxed)
}

/// Paired differences of dock to the other dock columns, printed under the table.
static OTHERS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

type SignalFigures = (Column, Column, (f64, f64), Option<(&'static str, f64)>);

/// An init under test: its binary and the arguments before the command.
struct Init {
    name: &'static str,
    path: PathBuf,
    pre: &'static [&'static str],
    /// Statically linked (sizes of dynamic binaries leave out their libc).
    is_static: bool,
    /// One of the peers dock is compared with (not a dock variant).
    peer: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--role") {
        return role(&args[i + 1..]);
    }
    if !nix::unistd::geteuid().is_root() {
        println!("peers: skipped: needs root (every init runs as PID 1 of a new PID namespace)");
        return;
    }
    let inits = inits();
    for i in &inits {
        eprintln!("peers: {} = {}", i.name, i.path.display());
    }
    let names: Vec<&str> = inits.iter().map(|i| i.name).collect();
    let peers: Vec<bool> = inits.iter().map(|i| i.peer).collect();
    let mut t = Table::new(&names, &peers);

    let sizes: Vec<Option<f64>> = inits
        .iter()
        .map(|i| Some(std::fs::metadata(&i.path).ok()?.len() as f64 / 1000.0))
        .collect();
    let statics: Vec<bool> = inits.iter().map(|i| i.is_static).collect();
    t.row_static(
        "binary size, kB",
        &sizes,
        &statics,
        0,
        format!("≤ {} kB", SIZE_TLS_MAX / 1000),
        |d, _| d <= SIZE_TLS_MAX as f64 / 1000.0,
    );
    if let Some(p) = std::env::var_os("DOCK_STATIC_NOTLS_BIN") {
        let size = |p: std::ffi::OsString| Some(std::fs::metadata(p).ok()?.len() as f64 / 1000.0);
        let mut s = sizes.clone();
        s[0] = size(p);
        if let (Some(i), Some(p)) = (
            inits.iter().position(|i| i.name == "dock, nightly std"),
            std::env::var_os("DOCK_NIGHTLY_NOTLS_BIN"),
        ) {
            s[i] = size(p);
        }
        t.row_static(
            "binary size without TLS, kB",
            &s,
            &statics,
            0,
            format!("≤ {} kB, below static peers", SIZE_NOTLS_MAX / 1000),
            |d, best| d <= SIZE_NOTLS_MAX as f64 / 1000.0 && d < best,
        );
    }

    eprintln!(
        "peers: idle USS and context switches ({:?}, all inits at once)",
        params().idle
    );
    let (uss, anon, ctxt) = idle(&inits);
    // A dynamic binary's USS leaves out the libc pages it shares: compared among static ones only.
    t.row_static(
        "idle USS as PID 1, kB",
        &uss,
        &statics,
        0,
        format!("≤ {USS_GOAL_KB} kB, below static peers"),
        |d, best| d <= USS_GOAL_KB && d < best,
    );
    t.row(
        "… of which anonymous (heap, stack, data), kB",
        &anon,
        0,
        String::new(),
        |_, _| true,
    );
    t.row(
        &format!("idle context switches in {} s", params().idle.as_secs()),
        &ctxt,
        0,
        "0".into(),
        |d, _| d == 0.0,
    );

    eprintln!("peers: startup, {} runs each", params().startup_runs);
    let (startup1, true1_ms) = startup(&inits, true);
    t.row(
        "startup as PID 1: `INIT true` ÷ `true` (median)",
        &startup1,
        2,
        "≤ best peer".into(),
        |d, best| d <= best,
    );
    let (startup, true_ms) = startup(&inits, false);
    t.row(
        "startup as a plain child: `INIT true` ÷ `true`",
        &startup,
        2,
        "≤ best peer".into(),
        |d, best| d <= best,
    );

    eprintln!(
        "peers: signal forwarding, {} rounds each",
        params().signal_rounds
    );
    let (median, p99, floor, paired) = signals(&inits, false);
    // Judged round by round: the median of dock's difference to the best peer in the same round
    // (the line under the table). The two medians alone differ by less than the machine's drift
    // between rounds, which the per-round difference cancels.
    t.row(
        "signal forwarding, median µs over the floor",
        &median,
        1,
        "≤ best peer, round by round".into(),
        move |_, _| paired.is_none_or(|(_, d)| d <= 0.0),
    );
    t.row(
        "signal forwarding, p99 µs over the floor median",
        &p99,
        1,
        "".into(),
        |_, _| true,
    );
    eprintln!("peers: signal forwarding under load, a busy loop per CPU");
    let (median_load, p99_load, floor_load, paired_load) = signals(&inits, true);
    t.row(
        "… under load (a busy loop per CPU), median µs over the floor",
        &median_load,
        1,
        "".into(),
        |_, _| true,
    );
    t.row(
        "… under load, p99 µs over the floor median",
        &p99_load,
        1,
        "".into(),
        |_, _| true,
    );

    eprintln!("peers: {} orphans released at once", params().orphans);
    let (reap_ms, cpu_ms) = orphans(&inits);
    t.row(
        &format!("{}k orphans: reap time, ms", params().orphans / 1000),
        &reap_ms,
        1,
        "".into(),
        |_, _| true,
    );
    let cat = inits
        .iter()
        .position(|i| i.name == "catatonit")
        .and_then(|i| cpu_ms[i]);
    t.row(
        &format!("{}k orphans: init CPU, ms", params().orphans / 1000),
        &cpu_ms,
        1,
        "≤ catatonit".into(),
        move |d, _| cat.is_none_or(|c| d <= c),
    );

    eprintln!("peers: teardown with a leftover that needs {CLEANUP:?} of cleanup");
    let teardown = teardown(&inits);
    t.text_row(
        &format!(
            "teardown, leftover needing {} ms of cleanup",
            CLEANUP.as_millis()
        ),
        &teardown,
        "cleanup finished",
    );

    println!("{}\n", t.render());
    println!(
        "Floors: `true` alone {true_ms:.3} ms, `unshare --pid --fork true` {true1_ms:.3} ms (medians); direct kill → sigwaitinfo round trip {:.1} µs median, {:.1} µs p99 ({:.1} and {:.1} µs under load).",
        floor.0, floor.1, floor_load.0, floor_load.1
    );
    let pair = |p: Option<(&str, f64)>| {
        p.map_or("n/a".to_string(), |(name, d)| {
            format!("{d:+.2} µs against {name}")
        })
    };
    println!(
        "\nSignal forwarding, dock's round trip minus the best peer's in the same round (median of the per-round differences): {} ({} under load).",
        pair(paired),
        pair(paired_load)
    );
    for line in OTHERS.lock().unwrap().iter() {
        println!("\n{line} (median of the per-round differences).");
    }
}

/// dock first, then the peers in a fixed order.
fn inits() -> Vec<Init> {
    let dock = std::env::var_os("DOCK_STATIC_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            eprintln!("peers: DOCK_STATIC_BIN not set: using cargo's dock (make bench sets it)");
            PathBuf::from(env!("CARGO_BIN_EXE_dock"))
        });
    let dock_static = std::env::var_os("DOCK_STATIC_BIN").is_some();
    let mut v = vec![Init {
        name: "dock",
        path: dock,
        pre: &["--"],
        is_static: dock_static,
        peer: false,
    }];
    // `make bench` also builds dock with a rebuilt std (STATIC_STD=nightly) when it can.
    if let Some(p) = std::env::var_os("DOCK_NIGHTLY_BIN") {
        v.push(Init {
            name: "dock, nightly std",
            path: p.into(),
            pre: &["--"],
            is_static: true,
            peer: false,
        });
    }
    // Another dock beside it in the same run (an A/B of a change): DOCK_ALSO_BIN, named
    // DOCK_ALSO_NAME (default "dock, other").
    if let Some(p) = std::env::var_os("DOCK_ALSO_BIN") {
        let name = std::env::var("DOCK_ALSO_NAME").unwrap_or_else(|_| "dock, other".into());
        v.push(Init {
            name: Box::leak(name.into_boxed_str()),
            path: p.into(),
            pre: &["--"],
            is_static: true,
            peer: false,
        });
    }
    v.extend([
        Init {
            name: "tini-static",
            path: "/usr/bin/tini-static".into(),
            pre: &["-s", "--"],
            is_static: true,
            peer: true,
        },
        Init {
            name: "dumb-init",
            path: "/usr/bin/dumb-init".into(),
            pre: &["--"],
            is_static: false,
            peer: true,
        },
        Init {
            name: "catatonit",
            path: "/usr/bin/catatonit".into(),
            pre: &["--"],
            is_static: true,
            peer: true,
        },
    ]);
    v
}

fn present(i: &Init) -> bool {
    i.path.exists()
}

// ---------------------------------------------------------------------------------------------
// Running an init as PID 1 of a new PID namespace.

/// `unshare ... INIT -- <this binary> --role ROLE...`, its stdout piped to us.
struct Pid1 {
    unshare: Child,
    /// The init's pid in our namespace.
    pid: i32,
    out: BufReader<ChildStdout>,
}

impl Pid1 {
    fn start(init: &Init, role: &[&str], stdin: Stdio) -> Pid1 {
        // `setsid` (util-linux) execs in place (unshare's child leads no process group): the init
        // is PID 1 and leads a session without a terminal, as runc starts a container's process.
        let mut c = Command::new("unshare");
        c.args(["--pid", "--fork", "--mount-proc", "--kill-child", "setsid"])
            .arg(&init.path)
            .args(init.pre)
            .arg(std::env::current_exe().unwrap())
            .arg("--role")
            .args(role)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut unshare = c.spawn().expect("spawning unshare");
        let out = BufReader::new(unshare.stdout.take().unwrap());
        let up = unshare.id() as i32;
        let pid = poll_until(Duration::from_secs(10), || children(up).first().copied())
            .expect("unshare never forked the init");
        Pid1 { unshare, pid, out }
    }

    /// Reads lines until one equals `want`; panics on EOF.
    fn expect_line(&mut self, want: &str) {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.out.read_line(&mut line).unwrap();
            assert!(
                n > 0,
                "the init or its child exited before printing {want:?}"
            );
            if line.trim_end() == want {
                return;
            }
        }
    }
}

impl Drop for Pid1 {
    fn drop(&mut self) {
        // SIGKILL to a namespace's PID 1 kills the whole namespace.
        let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

/// The pids `/proc/<pid>/task/<pid>/children` lists (zombies too, until reaped).
fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Polls `f` every millisecond until it gives a value or `limit` passes.
fn poll_until<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A `Key:   N kB` or `key: N` field of a /proc file.
fn proc_field(path: &str, key: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// CPU time of `pid` in ns (schedstat, else utime+stime in clock ticks of 10 ms).
fn cpu_ns(pid: i32) -> Option<u64> {
    if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/schedstat")) {
        return s.split_whitespace().next()?.parse().ok();
    }
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = s[s.rfind(')')? + 2..].split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 10_000_000)
}

// ---------------------------------------------------------------------------------------------
// The figures.

/// Idle USS (Private_Clean + Private_Dirty of smaps_rollup, kB) and context switches (voluntary +
/// involuntary) over `params().idle`, every init as PID 1 over an idle child, all at once.
fn idle(inits: &[Init]) -> (Column, Column, Column) {
    let mut running: Vec<Option<Pid1>> = inits
        .iter()
        .map(|i| present(i).then(|| Pid1::start(i, &["idle"], Stdio::null())))
        .collect();
    for p in running.iter_mut().flatten() {
        p.expect_line("ready");
    }
    let uss = running
        .iter()
        .map(|p| {
            let p = p.as_ref()?;
            let path = format!("/proc/{}/smaps_rollup", p.pid);
            Some((proc_field(&path, "Private_Clean")? + proc_field(&path, "Private_Dirty")?) as f64)
        })
        .collect();
    let anon = running
        .iter()
        .map(|p| {
            let path = format!("/proc/{}/smaps_rollup", p.as_ref()?.pid);
            Some(proc_field(&path, "Anonymous")? as f64)
        })
        .collect();
    let switches = |pid: i32| {
        let path = format!("/proc/{pid}/status");
        Some(
            proc_field(&path, "voluntary_ctxt_switches")?
                + proc_field(&path, "nonvoluntary_ctxt_switches")?,
        )
    };
    let before: Vec<Option<u64>> = running.iter().map(|p| switches(p.as_ref()?.pid)).collect();
    std::thread::sleep(params().idle);
    let ctxt = running
        .iter()
        .zip(before)
        .map(|(p, b)| Some((switches(p.as_ref()?.pid)? - b?) as f64))
        .collect();
    drop(running);
    (uss, anon, ctxt)
}

/// Median wall time of `INIT true` ÷ median of `true`, runs interleaved; also `true`'s median (ms).
/// `pid1`: both under `unshare --pid --fork` (the init is PID 1, as in a container); otherwise the
/// init is a plain child of the bench.
fn startup(inits: &[Init], pid1: bool) -> (Column, f64) {
    let cmd = |argv: &[&std::ffi::OsStr]| {
        let mut c = if pid1 {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork"]).args(argv);
            c
        } else {
            let mut c = Command::new(argv[0]);
            c.args(&argv[1..]);
            c
        };
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let time = |mut c: Command| {
        let t0 = Instant::now();
        let st = c.status().unwrap();
        assert!(st.success(), "{c:?} failed");
        t0.elapsed().as_secs_f64() * 1e3
    };
    let t = std::ffi::OsStr::new("true");
    let mut base = Vec::new();
    let mut each: Vec<Vec<f64>> = vec![Vec::new(); inits.len()];
    for _ in 0..params().startup_runs {
        base.push(time(cmd(&[t])));
        for (i, init) in inits.iter().enumerate().filter(|(_, i)| present(i)) {
            let mut argv = vec![init.path.as_os_str()];
            argv.extend(init.pre.iter().map(std::ffi::OsStr::new));
            argv.push(t);
            each[i].push(time(cmd(&argv)));
        }
    }
    let b = percentile(&mut base, 50.0);
    let ratios = each
        .into_iter()
        .map(|mut v| (!v.is_empty()).then(|| percentile(&mut v, 50.0) / b))
        .collect();
    (ratios, b)
}

/// Signal forwarding: USR1 to the init as PID 1 until its child's `sigwaitinfo` answers on a pipe, minus
/// the same round trip with the signal sent straight to the child. (median µs, p99 µs) each, and the
/// floor's (median, p99). `load`: with one busy-looping process per CPU running all along.
fn signals(inits: &[Init], load: bool) -> SignalFigures {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let spinners: Vec<Child> = (0..if load { cpus } else { 0 })
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--role", "spin"])
                .spawn()
                .unwrap()
        })
        .collect();
    LOAD.store(load, std::sync::atomic::Ordering::Relaxed);
    let figures = signal_rounds(inits);
    for mut s in spinners {
        let _ = s.kill();
        let _ = s.wait();
    }
    figures
}

/// The rounds of [`signals`], on whatever else the machine runs.
fn signal_rounds(inits: &[Init]) -> SignalFigures {
    let round_trip = |pid: i32, out: &mut dyn Read| {
        let mut b = [0u8; 1];
        let t0 = Instant::now();
        kill(Pid::from_raw(pid), Signal::SIGUSR1).unwrap();
        out.read_exact(&mut b).expect("the sigwait child died");
        t0.elapsed().as_secs_f64() * 1e6
    };
    let mut direct = Command::new(std::env::current_exe().unwrap())
        .args(["--role", "sigwait"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut direct_out = direct.stdout.take().unwrap();
    let mut b = [0u8; 1];
    direct_out.read_exact(&mut b).unwrap();
    // Every init at once, the rounds interleaved (the direct one and each init once per round), so
    // that a change in the machine's state during the run weighs on all alike. The order within a
    // round is shuffled anew each round: which round trip comes just before moves a figure by up
    // to 1 µs (what it left in the caches and where it left the scheduler), and a fixed or merely
    // rotated order would hand each init the same neighbour every time.
    let mut running: Vec<Option<Pid1>> = inits
        .iter()
        .map(|i| present(i).then(|| Pid1::start(i, &["sigwait"], Stdio::null())))
        .collect();
    for p in running.iter_mut().flatten() {
        p.out.read_exact(&mut b).unwrap();
    }
    let mut f = Vec::with_capacity(params().signal_rounds);
    let mut each: Vec<Vec<f64>> = vec![Vec::with_capacity(params().signal_rounds); inits.len()];
    // The direct round trip is slot `running.len()` of the order.
    let mut order: Vec<usize> = (0..=running.len()).collect();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for n in 0..SIGNAL_WARMUP + params().signal_rounds {
        rng.shuffle(&mut order);
        for &i in &order {
            let t = if i == running.len() {
                round_trip(direct.id() as i32, &mut direct_out)
            } else if let Some(p) = &mut running[i] {
                round_trip(p.pid, &mut p.out)
            } else {
                continue;
            };
            if n >= SIGNAL_WARMUP {
                if i == running.len() {
                    f.push(t);
                } else {
                    each[i].push(t);
                }
            }
        }
    }
    let _ = direct.kill();
    let _ = direct.wait();
    drop(running);
    let floor = (percentile(&mut f, 50.0), percentile(&mut f, 99.0));
    // dock against the peer with the lowest median, round by round (before `percentile` sorts).
    let best_peer = (0..inits.len())
        .filter(|&i| inits[i].peer && !each[i].is_empty())
        .min_by(|&a, &b| median(&each[a]).total_cmp(&median(&each[b])));
    // dock against each other dock column (DOCK_ALSO_BIN, the nightly build), round by round too:
    // an A/B of a change, told under the table.
    for i in (1..inits.len()).filter(|&i| !inits[i].peer && !each[i].is_empty()) {
        let mut d: Vec<f64> = each[0].iter().zip(&each[i]).map(|(x, y)| x - y).collect();
        let line = format!(
            "dock minus {}, round by round{}: {:+.2} µs",
            inits[i].name,
            if signal_load() { " under load" } else { "" },
            percentile(&mut d, 50.0)
        );
        OTHERS.lock().unwrap().push(line);
    }
    let paired = best_peer.filter(|_| !each[0].is_empty()).map(|b| {
        let mut d: Vec<f64> = each[0].iter().zip(&each[b]).map(|(x, y)| x - y).collect();
        (inits[b].name, percentile(&mut d, 50.0))
    });
    let mut med = Vec::new();
    let mut p99 = Vec::new();
    for v in &mut each {
        if v.is_empty() {
            med.push(None);
            p99.push(None);
        } else {
            med.push(Some(percentile(v, 50.0) - floor.0));
            p99.push(Some(percentile(v, 99.0) - floor.0));
        }
    }
    (med, p99, floor, paired)
}

/// The median of `v`, leaving `v` as it is.
fn median(v: &[f64]) -> f64 {
    percentile(&mut v.to_vec(), 50.0)
}

/// A xorshift64 generator (Marsaglia 2003): a fixed, seeded order of rounds, no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Fisher–Yates.
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// `params().orphans` processes re-parented to the init (PID 1) and blocked on one pipe, released at once by
/// closing its write end: wall time until the init has reaped them all, and the init's CPU time meanwhile.
fn orphans(inits: &[Init]) -> (Column, Column) {
    // Run by run, each init in turn: the machine's drift between runs weighs on all alike.
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new(); inits.len()];
    for _ in 0..params().orphan_runs {
        for (i, init) in inits.iter().enumerate() {
            if present(init) {
                runs[i].extend(orphans_once(init));
            }
        }
    }
    let mut reap = Vec::new();
    let mut cpu = Vec::new();
    for v in runs {
        let (mut r, mut c): (Vec<f64>, Vec<f64>) = v.into_iter().unzip();
        reap.push((!r.is_empty()).then(|| percentile(&mut r, 50.0)));
        cpu.push((!c.is_empty()).then(|| percentile(&mut c, 50.0)));
    }
    (reap, cpu)
}

/// One run of [`orphans`]: (reap time ms, init CPU ms), or None if the reaping never finished.
fn orphans_once(init: &Init) -> Option<(f64, f64)> {
    let n = params().orphans.to_string();
    // Close-on-exec, or the init and the orphans would inherit the write end and never see EOF.
    let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let mut p = Pid1::start(init, &["orphans", &n], Stdio::from(rx));
    p.expect_line("ready");
    let got = children(p.pid).len().saturating_sub(1);
    if got < params().orphans {
        eprintln!(
            "peers: {}: only {got} orphans (fork failed: pid_max?)",
            init.name
        );
    }
    let n0 = threads().unwrap_or(0);
    let c0 = cpu_ns(p.pid).unwrap_or(0);
    let t0 = Instant::now();
    drop(tx);
    // Reading the children file walks the list under the tasklist lock that every reap needs: with
    // 20k entries that slows the reaper down. So first wait, lock-free, until the machine's thread
    // count shows nearly all of them reaped; only the short rest is watched through the list.
    let left = |n: i64| n - n0 + got as i64;
    poll_until(Duration::from_secs(120), || {
        (left(threads()?) <= REAP_SLACK).then_some(())
    });
    let done = poll_until(Duration::from_secs(120), || {
        (children(p.pid).len() <= 1).then(Instant::now)
    })?;
    let c1 = cpu_ns(p.pid).unwrap_or(0);
    Some(((done - t0).as_secs_f64() * 1e3, (c1 - c0) as f64 / 1e6))
}

/// Orphans that may still be alive when [`orphans`] switches from counting threads to reading the
/// init's children list (other processes on the machine may start threads meanwhile).
const REAP_SLACK: i64 = 200;

/// Threads on the machine: the total in `/proc/loadavg` (`running/total`), read in O(1). A zombie counts
/// until its parent reaps it (the kernel unhashes it in `release_task`).
fn threads() -> Option<i64> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    s.split_whitespace().nth(3)?.split('/').nth(1)?.parse().ok()
}

/// `docker stop` on a container whose main child leaves a process that needs [`CLEANUP`] after
/// SIGTERM: SIGTERM to the init as PID 1, then whether the cleanup finished and how long until the
/// init exited (median ms).
fn teardown(inits: &[Init]) -> Vec<Option<String>> {
    inits
        .iter()
        .map(|init| {
            if !present(init) {
                return None;
            }
            let mut finished = 0;
            let mut ms = Vec::new();
            for _ in 0..params().teardown_runs {
                let mut p = Pid1::start(init, &["teardown"], Stdio::null());
                p.expect_line("leftover-ready");
                let t0 = Instant::now();
                kill(Pid::from_raw(p.pid), Signal::SIGTERM).unwrap();
                p.unshare.wait().unwrap();
                ms.push(t0.elapsed().as_secs_f64() * 1e3);
                let mut rest = String::new();
                let _ = p.out.read_to_string(&mut rest);
                if rest.lines().any(|l| l == "cleaned") {
                    finished += 1;
                }
            }
            let what = match finished {
                0 => "killed".to_string(),
                n if n == params().teardown_runs => "finished".to_string(),
                n => format!("finished {n}/{}", params().teardown_runs),
            };
            Some(format!("{what}, {:.1} ms", percentile(&mut ms, 50.0)))
        })
        .collect()
}

/// The `p`th percentile (nearest rank) of `v`.
fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

// ---------------------------------------------------------------------------------------------
// The workloads, run inside the namespace as the init's child.

fn role(args: &[String]) {
    let mut out = std::io::stdout();
    match args.first().map(String::as_str) {
        Some("idle") => {
            writeln!(out, "ready").unwrap();
            out.flush().unwrap();
            loop {
                nix::unistd::pause();
            }
        }
        Some("sigwait") => {
            let mut set = SigSet::empty();
            set.add(Signal::SIGUSR1);
            set.thread_block().unwrap();
            out.write_all(b"r").unwrap();
            out.flush().unwrap();
            loop {
                if set.wait().is_ok() {
                    out.write_all(b"s").unwrap();
                    out.flush().unwrap();
                }
            }
        }
        Some("spin") => loop {
            std::hint::black_box(0u64);
        },
        Some("orphans") => {
            let n: usize = args[1].parse().unwrap();
            spawn_orphans(n);
            writeln!(out, "ready").unwrap();
            out.flush().unwrap();
            loop {
                nix::unistd::pause();
            }
        }
        Some("teardown") => {
            // The leftover: a second process of the container that outlives the main child.
            // Never waited for: when this main child dies it is re-parented to PID 1.
            #[allow(clippy::zombie_processes)]
            let _leftover = Command::new(std::env::current_exe().unwrap())
                .args(["--role", "leftover"])
                .spawn()
                .unwrap();
            loop {
                nix::unistd::pause(); // SIGTERM's default action ends the main child
            }
        }
        Some("leftover") => {
            let mut set = SigSet::empty();
            set.add(Signal::SIGTERM);
            set.thread_block().unwrap();
            writeln!(out, "leftover-ready").unwrap();
            out.flush().unwrap();
            let _ = set.wait();
            std::thread::sleep(CLEANUP); // the cleanup the init must wait for
            writeln!(out, "cleaned").unwrap();
            out.flush().unwrap();
        }
        other => panic!("unknown role {other:?}"),
    }
}

/// Forks a spawner that forks `n` children blocked in `read(0)`, then exits: the children are
/// re-parented to PID 1. Returns once the spawner is gone.
fn spawn_orphans(n: usize) {
    // SAFETY: this process is single-threaded here (the role runs on the main thread before any
    // thread is spawned), and the forked children only call the async-signal-safe read(2) and _exit(2).
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Parent { child } => {
            nix::sys::wait::waitpid(child, None).unwrap();
        }
        nix::unistd::ForkResult::Child => {
            for _ in 0..n {
                // SAFETY: as above: the spawner is single-threaded.
                match unsafe { nix::unistd::fork() } {
                    Ok(nix::unistd::ForkResult::Child) => {
                        let mut b = [0u8; 1];
                        // SAFETY: b is a valid 1-byte buffer; fd 0 is the release pipe.
                        unsafe {
                            libc::read(0, b.as_mut_ptr().cast(), 1);
                            libc::_exit(0);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("peers: fork: {e}");
                        break;
                    }
                }
            }
            // SAFETY: _exit(2) is always safe; no destructor of the spawner must run.
            unsafe { libc::_exit(0) }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The table.

struct Table {
    names: Vec<String>,
    /// Which columns are peers (the others are dock and its variants).
    peers: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(names: &[&str], peers: &[bool]) -> Table {
        Table {
            names: names.iter().map(|s| s.to_string()).collect(),
            peers: peers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// A numeric row (lower is better): dock ÷ the best peer first, then the values, then the goal and
    /// whether `met(dock, best_peer)`.
    fn row(
        &mut self,
        what: &str,
        v: &[Option<f64>],
        digits: usize,
        goal: String,
        met: impl Fn(f64, f64) -> bool,
    ) {
        self.row_static(what, v, &vec![true; v.len()], digits, goal, met)
    }

    /// As [`Table::row`], the best peer chosen among `eligible` ones (sizes: static binaries only).
    fn row_static(
        &mut self,
        what: &str,
        v: &[Option<f64>],
        eligible: &[bool],
        digits: usize,
        goal: String,
        met: impl Fn(f64, f64) -> bool,
    ) {
        let best = v
            .iter()
            .zip(eligible)
            .zip(&self.peers)
            .filter_map(|((x, e), peer)| x.filter(|_| *e && *peer))
            .fold(f64::INFINITY, f64::min);
        let ratio = match v[0] {
            Some(d) if best.is_finite() && best > 0.0 => format!("{:.2}", d / best),
            Some(d) if best == 0.0 && d == 0.0 => "= (0)".into(),
            _ => "n/a".into(),
        };
        let mut r = vec![what.to_string(), ratio];
        for (x, e) in v.iter().zip(eligible) {
            r.push(match x {
                Some(x) if *e => format!("{x:.digits$}"),
                Some(x) => format!("{x:.digits$} (dyn.)"),
                None => "n/a".into(),
            });
        }
        let verdict = match v[0] {
            Some(d) if !goal.is_empty() => {
                if met(d, best) {
                    " ✓"
                } else {
                    " ✗"
                }
            }
            _ => "",
        };
        r.push(format!("{goal}{verdict}"));
        self.rows.push(r);
    }

    /// A row of words (no ratio); the goal is met when dock's text starts with `goal`.
    fn text_row(&mut self, what: &str, v: &[Option<String>], goal: &str) {
        let mut r = vec![what.to_string(), "—".into()];
        r.extend(v.iter().map(|x| x.clone().unwrap_or_else(|| "n/a".into())));
        let ok = v[0].as_deref().is_some_and(|d| d.starts_with("finished,"));
        r.push(format!("{goal} {}", if ok { "✓" } else { "✗" }));
        self.rows.push(r);
    }

    fn render(&self) -> String {
        let mut head = vec!["figure".to_string(), "dock ÷ best peer".into()];
        head.extend(self.names.iter().cloned());
        head.push("goal".into());
        let line = |cells: &[String]| format!("| {} |", cells.join(" | "));
        let mut s = line(&head);
        s.push('\n');
        s.push_str(&line(&vec!["---".to_string(); head.len()]));
        for r in &self.rows {
            s.push('\n');
            s.push_str(&line(r));
        }
        s
    }
}
