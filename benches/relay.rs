//! Relay throughput (issue 3): 200 MB of 100-byte lines.
//! - `--io file`: dock relaying the child's output into a file, against the child writing the file
//!   directly. Goal: ratio ≤ 1.10.
//! - `--stdout-prefix P`: dock prefixing every line, against `sed 's/^/P/'` on the same stream.
//!   Goal: ratio ≤ 0.5.
//!
//! Wall time, best of [`RUNS`], the four measurements interleaved so that load from other processes
//! (a shared CI machine) hits them alike. The generator is this executable re-run with `DOCK_BENCH_GEN=1`:
//! 640 lines per `write(2)` of 64 000 bytes, 3125 times.

// Not shipped: a panic is the failure report here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LINE: usize = 100;
const LINES_PER_WRITE: usize = 640;
const WRITES: usize = 3125;
const TOTAL: u64 = (LINE * LINES_PER_WRITE * WRITES) as u64;
const RUNS: usize = 5;

fn generate() {
    let mut line = [b'x'; LINE];
    line[LINE - 1] = b'\n';
    let buf: Vec<u8> = line.repeat(LINES_PER_WRITE);
    let mut out = std::io::stdout().lock();
    for _ in 0..WRITES {
        if out.write_all(&buf).is_err() {
            std::process::exit(1);
        }
    }
}

fn gen_cmd() -> Command {
    let mut c = Command::new(std::env::current_exe().expect("own path"));
    c.env("DOCK_BENCH_GEN", "1");
    c
}

fn wait_ok(mut c: Command, what: &str) -> Duration {
    let t = Instant::now();
    let st = c.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    let d = t.elapsed();
    assert!(st.success(), "{what}: {st}");
    d
}

fn main() {
    if std::env::var_os("DOCK_BENCH_GEN").is_some() {
        generate();
        return;
    }
    let dock = env!("CARGO_BIN_EXE_dock");
    let dir = std::env::temp_dir().join(format!("dock-bench-relay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let path = dir.join("out.log");
    let fresh = || {
        let _ = std::fs::remove_file(&path);
    };
    let check = |what: &str| {
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert_eq!(len, TOTAL, "{what}: wrong output size");
    };

    // 1. --io file vs the child writing the file itself.
    let direct = || {
        fresh();
        let f = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .expect("out file");
        let mut c = gen_cmd();
        c.stdout(f);
        let d = wait_ok(c, "direct");
        check("direct");
        d
    };
    let relayed = || {
        fresh();
        let mut c = Command::new(dock);
        c.arg("--io")
            .arg(&path)
            .arg(std::env::current_exe().expect("own path"));
        c.env("DOCK_BENCH_GEN", "1");
        let d = wait_ok(c, "dock --io file");
        check("dock --io file");
        d
    };

    // 2. --stdout-prefix vs sed, both writing to /dev/null.
    let sed = || {
        let t = Instant::now();
        let mut g = gen_cmd().stdout(Stdio::piped()).spawn().expect("generator");
        let input = g.stdout.take().expect("pipe");
        let st = Command::new("sed")
            .arg("s/^/P/")
            .stdin(input)
            .stdout(Stdio::null())
            .status()
            .expect("sed");
        let _ = g.wait();
        assert!(st.success(), "sed: {st}");
        t.elapsed()
    };
    let prefixed = || {
        let mut c = Command::new(dock);
        c.args(["--stdout-prefix", "P"])
            .arg(std::env::current_exe().expect("own path"))
            .env("DOCK_BENCH_GEN", "1")
            .stdout(Stdio::null());
        wait_ok(c, "dock --stdout-prefix")
    };
    let mut best = [Duration::MAX; 4];
    for _ in 0..RUNS {
        for (b, d) in best
            .iter_mut()
            .zip([direct(), relayed(), sed(), prefixed()])
        {
            *b = (*b).min(d);
        }
    }
    let [direct, relayed, sed, prefixed] = best;
    let _ = std::fs::remove_dir_all(&dir);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mb = TOTAL as f64 / 1e6;
    println!("relay of {mb:.0} MB in {LINE}-byte lines, best of {RUNS} (wall time)");
    println!("  child -> file directly     {:8.1} ms", ms(direct));
    println!(
        "  dock --io file             {:8.1} ms   ratio {:.2} (goal <= 1.10)",
        ms(relayed),
        relayed.as_secs_f64() / direct.as_secs_f64()
    );
    println!("  sed 's/^/P/'               {:8.1} ms", ms(sed));
    println!(
        "  dock --stdout-prefix P     {:8.1} ms   ratio {:.2} (goal <= 0.50)",
        ms(prefixed),
        prefixed.as_secs_f64() / sed.as_secs_f64()
    );
}
