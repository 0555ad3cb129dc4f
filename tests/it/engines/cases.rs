//! The cases each engine runs, in the order `engines.rs` calls them. Each names its container after
//! itself and removes it at its end; a volume is a directory under the engine's own.
//!
//! The containers' `sleep`s are their workloads (a TERM handler that takes a second, a writer that
//! spans rotation periods), never synchronisation: the test waits on output lines, on fifos in a
//! volume and on the engines' own commands. Durations are compared with the engine's `stop -t N` with
//! a wide margin (a stop must take the child's time, not N), never tightly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::thread;
use std::time::Duration;

use serde_json::Value;

use super::{Engine, Kind};
use crate::util::{self, Mode, Running, DEADLINE};

/// A child that answers SIGTERM in 1 s with `bye` and exit status 3, after printing `up` once its
/// trap is set. `sleep 1000 & wait` rather than `sleep 1000`: sh runs a trap only between commands,
/// and `wait` returns at once on a signal.
const TERM_HANDLER: &str =
    "trap 'sleep 1; echo bye; exit 3' TERM; echo up; while :; do sleep 1000 & wait; done";

/// A leftover that needs 0.5 s after SIGTERM to write its marker: `armed` (a fifo) once its trap is
/// set. The main process starts it, waits for it, says `up` and becomes a plain `sleep`.
const LEFTOVER: &str = "trap 'sleep 0.5; echo cleaned > /out/marker; exit 0' TERM\n\
                        echo armed > /out/armed\n\
                        while :; do sleep 1000 & wait; done\n";
const MAIN: &str = "sh /out/leftover.sh &\nread x < /out/armed\necho up\nexec sleep 1000\n";

/// The ANSI form of `--stdout-prefix web:cyan`: bold cyan `web`.
const CYAN_WEB: &str = "\x1b[36;1mweb\x1b[0m";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A fifo anyone may open, also a container's non-root user.
fn mkfifo(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).unwrap();
}

/// `-v DIR:TARGET`.
fn bind(dir: &Path, target: &str) -> String {
    format!("{}:{target}", dir.display())
}

/// `run IMAGE --version`: the image's entrypoint is the static dock (a dynamic one would fail here
/// with "no such file or directory": the image holds no libc).
pub fn entrypoint_is_dock(e: &Engine) {
    let out = e.ok(&e.run_args("version", "none", &["--rm"], &["--version"]));
    assert!(out.starts_with("dock "), "run {}: {out:?}", super::IMAGE);
}

/// `stop -t 10`: the child's TERM handler runs, its exit status is the container's, and the stop
/// takes the handler's second, not 10.
pub fn stop_takes_the_childs_time(e: &Engine) {
    let r = e.attached("stop", &[], &["sh", "-c", TERM_HANDLER]);
    r.expect_line("up");
    let took = e.stop("stop", 10);
    let f = r.finish();
    assert_eq!(f.code, 3, "run's status; stderr:\n{}", f.stderr);
    assert!(f.stdout.contains("bye\n"), "no bye: {:?}", f.stdout);
    assert_eq!(e.exit_code("stop"), 3);
    assert!(
        took < secs(7),
        "{} stop -t 10 took {took:?}: the handler needs 1 s",
        e.kind.name()
    );
    e.rm("stop");
}

/// A leftover that ignores SIGTERM ends at dock's `--grace-period` (2 s), not at the engine's
/// `stop -t 30`; a main child that ignores it ends at once with `--thug` (SIGKILL, 137), and without
/// `--thug` only by the engine's own SIGKILL at `-t` (dock's grace period starts when the main child
/// has exited).
pub fn grace_period_and_thug(e: &Engine) {
    // The background sleep inherits the ignored TERM; the main sleep has it back at its default.
    let r = e.attached(
        "grace",
        &[],
        &[
            "--grace-period",
            "2",
            "sh",
            "-c",
            "trap '' TERM; sleep 1000 & trap - TERM; echo up; exec sleep 1000",
        ],
    );
    r.expect_line("up");
    let took = e.stop("grace", 30);
    let f = r.finish();
    assert_eq!(f.code, 143, "stderr:\n{}", f.stderr);
    assert_eq!(e.exit_code("grace"), 143);
    assert!(
        took >= Duration::from_millis(1500) && took < secs(20),
        "stop -t 30 with --grace-period 2 and a leftover that ignores TERM took {took:?}"
    );
    e.rm("grace");

    let ignores = "trap '' TERM; echo up; exec sleep 1000";
    let r = e.attached("thug", &[], &["--thug", "sh", "-c", ignores]);
    r.expect_line("up");
    let took = e.stop("thug", 30);
    let f = r.finish();
    assert_eq!(f.code, 137, "stderr:\n{}", f.stderr);
    assert_eq!(e.exit_code("thug"), 137);
    assert!(took < secs(15), "stop -t 30 with --thug took {took:?}");
    e.rm("thug");

    let r = e.attached("nothug", &[], &["sh", "-c", ignores]);
    r.expect_line("up");
    let took = e.stop("nothug", 2);
    let _ = r.finish();
    assert_eq!(e.exit_code("nothug"), 137);
    assert!(
        took >= Duration::from_millis(1500),
        "stop -t 2 took {took:?}"
    );
    e.rm("nothug");
}

/// Runs [`MAIN`] with [`LEFTOVER`] in a volume at `/out`, with `opts` and `args`, and stops it with
/// `stop -t 10`: the container's exit code and the leftover's marker (empty if it never finished).
fn leftover_run(e: &Engine, name: &str, opts: &[&str], args: &[&str]) -> (i32, String) {
    let vol = e.volume(name);
    // Writable for a non-root container user too (its marker, `as_a_non_root_user`).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&vol, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(vol.join("leftover.sh"), LEFTOVER).unwrap();
    std::fs::write(vol.join("main.sh"), MAIN).unwrap();
    mkfifo(&vol.join("armed"));
    let v = bind(&vol, "/out");
    let opts: Vec<&str> = ["-v", v.as_str()].iter().chain(opts).copied().collect();
    let r = e.attached(name, &opts, args);
    r.expect_line("up");
    let took = e.stop(name, 10);
    let f = r.finish();
    let code = e.exit_code(name);
    assert_eq!(
        f.code, code,
        "run's status and inspect's; stderr:\n{}",
        f.stderr
    );
    assert!(took < secs(8), "{name}: stop -t 10 took {took:?}");
    e.rm(name);
    let marker = std::fs::read_to_string(vol.join("marker")).unwrap_or_default();
    (code, marker)
}

/// A background daemon in the container gets SIGTERM from dock once the main process has exited and
/// finishes its 0.5 s cleanup before the container ends.
pub fn leftover_finishes_its_cleanup(e: &Engine) {
    let (code, marker) = leftover_run(e, "leftover", &[], &["sh", "/out/main.sh"]);
    assert_eq!(code, 143);
    assert_eq!(marker, "cleaned\n", "the leftover's cleanup did not finish");
}

/// `run --user 65534:65534` (nobody; Kubernetes' `runAsUser`): dock needs no root as PID 1, and the
/// leftover still gets its SIGTERM and its time.
pub fn as_a_non_root_user(e: &Engine) {
    let (code, marker) = leftover_run(
        e,
        "user",
        &["--user", "65534:65534"],
        &["sh", "/out/main.sh"],
    );
    assert_eq!(code, 143);
    assert_eq!(
        marker, "cleaned\n",
        "as nobody, the leftover's cleanup did not finish"
    );
}

/// `docker run --init`: Docker's tini is PID 1 and dock its child, a subreaper: the stop, the exit
/// status and the leftover's cleanup are as without `--init`. tini alone (dock's place taken by
/// `--entrypoint sh`) exits with the main process and the kernel kills the leftover mid-cleanup.
pub fn under_docker_init(e: &Engine) {
    assert_eq!(e.kind, Kind::Docker, "Podman's --init needs catatonit");
    let (code, marker) = leftover_run(e, "init-dock", &["--init"], &["sh", "/out/main.sh"]);
    assert_eq!(code, 143);
    assert_eq!(
        marker, "cleaned\n",
        "under tini, dock's leftover did not finish its cleanup"
    );
    let (code, marker) = leftover_run(
        e,
        "init-alone",
        &["--init", "--entrypoint", "sh"],
        &["/out/main.sh"],
    );
    assert_eq!(code, 143);
    assert_eq!(
        marker, "",
        "tini alone let the leftover finish: this test's premise is wrong"
    );
}

/// `kill -s HUP` and `kill -s USR1` reach the child through dock.
pub fn kill_reaches_the_child(e: &Engine) {
    let r = e.attached(
        "kill",
        &[],
        &[
            "sh",
            "-c",
            "trap 'echo got HUP' HUP; trap 'echo got USR1; exit 4' USR1; echo up; \
             while :; do sleep 1000 & wait; done",
        ],
    );
    r.expect_line("up");
    e.ok(&["kill", "-s", "HUP", "kill"]);
    r.expect_line("got HUP");
    e.ok(&["kill", "-s", "USR1", "kill"]);
    let f = r.finish();
    assert_eq!(f.code, 4, "stderr:\n{}", f.stderr);
    assert!(f.stdout.ends_with("got USR1\n"), "{:?}", f.stdout);
    assert_eq!(e.exit_code("kill"), 4);
    e.rm("kill");
}

/// A process on a pty that `script` makes, with a pipe to type into and its output as lines (`\r`s
/// dropped).
struct OnAPty {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl OnAPty {
    fn start(mut cmd: Command) -> OnAPty {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("script");
        let stdin = child.stdin.take().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        thread::spawn(move || {
            for line in BufReader::new(out).split(b'\n') {
                let Ok(line) = line else { break };
                let text = String::from_utf8_lossy(&line).replace('\r', "");
                if tx.send(text).is_err() {
                    break;
                }
            }
        });
        OnAPty {
            child,
            stdin,
            lines,
        }
    }

    /// The first line that `want` accepts, skipping others; panics at the deadline.
    fn expect(&self, what: &str, want: impl Fn(&str) -> bool) -> String {
        loop {
            match self.lines.recv_timeout(DEADLINE) {
                Ok(l) if want(&l) => return l,
                Ok(_) => {}
                Err(_) => panic!("no line {what} on the pty within {DEADLINE:?}"),
            }
        }
    }

    fn finish(mut self) -> Option<i32> {
        let code = util::exit_code_within_deadline(&mut self.child);
        drop(self.stdin);
        code
    }
}

/// `run -it` (and with Docker `run -t`) under a pty driver (`script`), as at a terminal: the child
/// has the tty, and ^C ends it through its INT trap: typed into the container's tty with `-i`, or,
/// with `-t` alone, as the SIGINT docker's client gets and passes on (its sig-proxy) to dock, which
/// forwards it. Podman passes signals on only without a tty: there `-t` alone leaves ^C unheard.
pub fn tty_and_ctrl_c(e: &Engine) {
    let child = "tty; trap 'echo got INT; exit 9' INT; echo ready; \
                 while :; do sleep 1000 & wait; done";
    let flags: &[_] = match e.kind {
        Kind::Docker => &[("tty-it", "-it"), ("tty-t", "-t")],
        Kind::Podman => &[("tty-it", "-it")],
    };
    for &(name, flag) in flags {
        let args = e.run_args(name, "none", &[flag], &["sh", "-c", child]);
        let mut pty = OnAPty::start(e.on_a_pty(&e.shell_line(&args)));
        let tty = pty.expect("from tty", |l| {
            l.contains("/dev/") || l.contains("not a tty")
        });
        assert!(
            tty.starts_with("/dev/pts/"),
            "{name}: the child's stdin: {tty:?}"
        );
        pty.expect("ready", |l| l == "ready");
        pty.stdin.write_all(b"\x03").unwrap();
        pty.stdin.flush().unwrap();
        pty.expect("got INT", |l| l.ends_with("got INT"));
        assert_eq!(pty.finish(), Some(9), "{name}: the status of run {flag}");
        assert_eq!(e.exit_code(name), 9);
        e.rm(name);
    }
}

/// `logs` shows each `--stdout-prefix` line exactly: stdout and stderr apart, the colour's escape
/// sequences, a last line without its newline.
pub fn logs_show_prefixed_lines_exactly(e: &Engine) {
    let r = e.attached(
        "logs",
        &[],
        &[
            "--stdout-prefix",
            "web:cyan",
            "sh",
            "-c",
            "echo one; echo two >&2; printf three",
        ],
    );
    let f = r.finish();
    assert_eq!(f.code, 0, "stderr:\n{}", f.stderr);
    let (out, err) = e.logs("logs");
    assert_eq!(
        String::from_utf8_lossy(&out),
        format!("{CYAN_WEB}one\n{CYAN_WEB}three")
    );
    assert_eq!(String::from_utf8_lossy(&err), format!("{CYAN_WEB}two\n"));
    e.rm("logs");
}

/// The (time, N) of dock's archive name `app.log_<YYYYMMDDhhmmss>[-N].gz`, for ordering.
fn archive_key(name: &str) -> Option<(u64, u32)> {
    let rest = name.strip_prefix("app.log_")?.strip_suffix(".gz")?;
    let (stamp, n) = match rest.split_once('-') {
        Some((stamp, n)) => (stamp, n.parse().ok()?),
        None => (rest, 0),
    };
    if stamp.len() != 14 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stamp.parse().ok()?, n))
}

/// The archives of `app.log` in `dir`, oldest first.
fn archives(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().ok()?;
            archive_key(&name).map(|k| (k, dir.join(name)))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, p)| p).collect()
}

/// `--io` to a file in a volume with `--log-rotate 1s`: the archives appear in the volume, and they
/// with the current file hold every line once, in order.
pub fn rotation_in_a_volume(e: &Engine) {
    let vol = e.volume("rotate");
    let v = bind(&vol, "/logs");
    // 30 lines over 3 s: the child's pace is the workload, spanning three 1 s periods.
    let writer = "i=0; while [ $i -lt 30 ]; do echo line $i; i=$((i+1)); sleep 0.1; done";
    let r = e.attached(
        "rotate",
        &["-v", &v],
        &[
            "--io",
            "/logs/app.log",
            "--log-rotate",
            "1s",
            "--log-keep",
            "20",
            "sh",
            "-c",
            writer,
        ],
    );
    let f = r.finish();
    assert_eq!(f.code, 0, "stderr:\n{}", f.stderr);
    let found = archives(&vol);
    assert!(
        !found.is_empty(),
        "no archive in the volume: {:?}",
        std::fs::read_dir(&vol)
    );
    let mut text = String::new();
    for a in &found {
        flate2::read::GzDecoder::new(std::fs::File::open(a).unwrap())
            .read_to_string(&mut text)
            .unwrap_or_else(|err| panic!("{}: {err}", a.display()));
    }
    text.push_str(&std::fs::read_to_string(vol.join("app.log")).unwrap());
    let want: String = (0..30).map(|i| format!("line {i}\n")).collect();
    assert_eq!(text, want, "archives {found:?} and app.log");
    assert_eq!(
        e.logs("rotate"),
        (Vec::new(), Vec::new()),
        "output went to the file"
    );
    e.rm("rotate");
    // Size rotation (`--log-max-size`, another issue) goes here: the same writer with
    // `--log-max-size 1k` and no period, archives checked the same way.
}

/// A loopback receiver that answers every PUT with 200 and hands over each JSON body, until
/// `crashed`.
fn receiver() -> (String, Receiver<(String, String, Value)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ps", listener.local_addr().unwrap());
    let (tx, rx) = channel();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { break };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let request = loop {
                if let Some(head) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let mut headers = [httparse::EMPTY_HEADER; 32];
                    let mut req = httparse::Request::new(&mut headers);
                    req.parse(&buf).unwrap();
                    let len: usize = req
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                        .map_or(0, |h| String::from_utf8_lossy(h.value).parse().unwrap());
                    if buf.len() >= head + 4 + len {
                        let body = serde_json::from_slice(&buf[head + 4..head + 4 + len]);
                        break Some((
                            req.method.unwrap().to_string(),
                            req.path.unwrap().to_string(),
                            body.unwrap_or(Value::Null),
                        ));
                    }
                }
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let Some(request) = request else { continue };
            let last = request.2["ps"]["status"] == "crashed";
            if tx.send(request).is_err() || last {
                break;
            }
        }
    });
    (url, rx)
}

/// The web hook from inside a `--network host` container to a receiver on the host's 127.0.0.1:
/// `starting`, `running`, `crashed` in order, the exit code in `crashed`.
pub fn web_hook_from_a_host_network_container(e: &Engine) {
    let (url, bodies) = receiver();
    let vol = e.volume("hook");
    mkfifo(&vol.join("go"));
    let mut c = e.cmd();
    c.args(e.run_args(
        "hook",
        "host",
        &["-v", &bind(&vol, "/out")],
        &["--web-hook", &url, "sh", "-c", "read x < /out/go; exit 3"],
    ));
    let r = Running::from_command(Mode::Subreaper, c);
    let next = || {
        bodies.recv_timeout(DEADLINE).unwrap_or_else(|_| {
            panic!(
                "no hook request within {DEADLINE:?}; stderr:\n{}",
                r.stderr()
            )
        })
    };
    let mut got = vec![next(), next()];
    // `running` is in: let the child exit. Read and write, so the open never waits for the reader,
    // and kept open until the container ends, so the line stays in the fifo until read.
    let mut go = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(vol.join("go"))
        .unwrap();
    go.write_all(b"go\n").unwrap();
    got.push(next());
    let f = r.finish();
    drop(go);
    assert_eq!(f.code, 3, "stderr:\n{}", f.stderr);
    let statuses: Vec<&str> = got
        .iter()
        .map(|(_, _, b)| b["ps"]["status"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(statuses, ["starting", "running", "crashed"]);
    for (method, path, body) in &got {
        assert_eq!((method.as_str(), path.as_str()), ("PUT", "/ps"));
        assert_eq!(
            body["ps"]["pid"], got[0].2["ps"]["pid"],
            "one child: {body}"
        );
    }
    assert_eq!(got[2].2["ps"]["exit_code"], 3, "{}", got[2].2);
    assert_eq!(e.exit_code("hook"), 3);
    e.rm("hook");
}
