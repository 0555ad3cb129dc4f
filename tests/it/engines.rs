//! dock where its users run it: PID 1 of Docker and Podman containers, driven by the engines' own
//! commands (`run`, `stop`, `kill`, `logs`, `inspect`), checking what a user sees: exit codes, `logs`
//! bytes, files in a volume, web hook statuses, how long a stop takes. This file has the two tests
//! and the engine commands the cases use; the cases are in `engines/cases.rs`, the engines' start
//! and teardown in `engines/lifecycle.rs`.
//!
//! Each engine is started inside the test, with all its state in a directory of its own, and stopped
//! at the end: one `#[test]` per engine runs every case in turn, so start and stop are ordered and
//! nothing is shared with the tests of other modules that run beside it in parallel threads. dockerd is
//! started by hand (`--bridge=none --iptables=false`; containerd starts and stops with it; overlay2,
//! else vfs); Podman is rootful with `--root`/`--runroot` there. Images are built locally, never
//! pulled: the product image by `make image-only` (what `make image` runs), busybox added on top, and
//! every `run` has `--pull never`. Every container has `--network none` but the web hook's
//! (`--network host`, to reach the receiver on 127.0.0.1). The teardown fails the test if a
//! container, a process or a mount of the engine's directory is left.
//!
//! Needs root, a static dock in `DOCK_STATIC_BIN` (`make test` sets it), a static `/bin/busybox`
//! (busybox-static), `make`, and docker.io or podman. Without them the test says why and passes, unless
//! `DOCK_REQUIRE_ENGINES=1` (`.ci/run` sets it): then it fails.

mod cases;
mod lifecycle;

use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::channel;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::util::{Mode, Running};

/// How long one engine command (a build, a `stop -t 30`, the daemon's start) may take before the test
/// gives up on it. Generous: it only bounds a failure.
const ENGINE_DEADLINE: Duration = Duration::from_secs(90);

/// The image `make image-only` builds from `DOCK_STATIC_BIN`: `/dock` alone, `ENTRYPOINT ["/dock"]`.
const PRODUCT: &str = "dock-it";

/// [`PRODUCT`] with a static busybox in `/bin` (sh, sleep, kill, tty, echo, cat): the image the cases
/// run. Its entrypoint is still `/dock`, so `run IMAGE --grace-period 2 sh -c ...` runs dock.
pub const IMAGE: &str = "dock-it-busybox";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Docker,
    Podman,
}

/// A started engine whose state lives under `dir`.
pub struct Engine {
    pub kind: Kind,
    dir: PathBuf,
    /// dockerd (Podman has no daemon).
    daemon: Option<Child>,
    /// The teardown ran (its checks reported); `Drop` only cleans up after a failed start or a panic.
    torn_down: bool,
}

#[test]
fn docker() {
    let started = Instant::now();
    let Some(e) = Engine::start_or_skip(Kind::Docker) else {
        return;
    };
    e.check(|e| {
        cases::entrypoint_is_dock(e);
        cases::stop_takes_the_childs_time(e);
        cases::grace_period_and_thug(e);
        cases::leftover_finishes_its_cleanup(e);
        cases::as_a_non_root_user(e);
        cases::under_docker_init(e);
        cases::kill_reaches_the_child(e);
        cases::tty_and_ctrl_c(e);
        cases::logs_show_prefixed_lines_exactly(e);
        cases::rotation_in_a_volume(e);
        cases::web_hook_from_a_host_network_container(e);
    });
    note("docker", &format!("done in {:.1?}", started.elapsed()));
}

/// The same core cases under Podman. Not `--init`: Podman's is catatonit, which Debian's podman does
/// not bring along.
#[test]
fn podman() {
    let started = Instant::now();
    let Some(e) = Engine::start_or_skip(Kind::Podman) else {
        return;
    };
    e.check(|e| {
        cases::entrypoint_is_dock(e);
        cases::stop_takes_the_childs_time(e);
        cases::grace_period_and_thug(e);
        cases::leftover_finishes_its_cleanup(e);
        cases::as_a_non_root_user(e);
        cases::kill_reaches_the_child(e);
        cases::tty_and_ctrl_c(e);
        cases::logs_show_prefixed_lines_exactly(e);
        cases::rotation_in_a_volume(e);
        cases::web_hook_from_a_host_network_container(e);
    });
    note("podman", &format!("done in {:.1?}", started.elapsed()));
}

/// Prints past libtest's output capture (it only captures `print!`/`eprint!`).
fn note(test: &str, what: &str) {
    let _ = writeln!(std::io::stderr(), "note: {test}: {what}");
}

/// Sends `sig` to `pid` (nix: these tests lean on no part of dock's library, which may move).
fn signal(pid: i32, sig: Signal) -> nix::Result<()> {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig)
}

/// Whether a missing engine fails the test instead of skipping it (CI).
fn required() -> bool {
    std::env::var_os("DOCK_REQUIRE_ENGINES").is_some_and(|v| v == "1")
}

/// Runs `cmd` to its end within [`ENGINE_DEADLINE`] (killing it then), stdin closed.
fn output_within(mut cmd: Command) -> Result<Output, String> {
    let what = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    let pid = child.id() as i32;
    let (tx, rx) = channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(ENGINE_DEADLINE) {
        Ok(out) => out.map_err(|e| format!("{what}: {e}")),
        Err(_) => {
            // Not reaped yet (the thread still waits for it), so the pid is still this process's.
            let _ = signal(pid, Signal::SIGKILL);
            Err(format!("{what}: no end within {ENGINE_DEADLINE:?}"))
        }
    }
}

/// What a successful `cmd` printed on stdout; its stderr as the error otherwise.
fn stdout_of(cmd: Command) -> Result<String, String> {
    let what = format!("{cmd:?}");
    let out = output_within(cmd)?;
    if !out.status.success() {
        return Err(format!(
            "{what}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `arg` quoted for `sh -c`.
fn sh_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

impl Engine {
    /// Runs the cases, then the teardown and its checks, also after a failed case.
    fn check(mut self, cases: impl FnOnce(&Engine)) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cases(&self)));
        let left = self.teardown();
        if let Err(panic) = result {
            if !left.is_empty() {
                note(self.kind.name(), &format!("teardown: {}", left.join("; ")));
            }
            std::panic::resume_unwind(panic);
        }
        assert!(left.is_empty(), "teardown: {}", left.join("; "));
    }

    /// The engine's command line: what `make image-only` gets as DOCKER and `script -c` runs.
    fn cli(&self) -> Vec<String> {
        match self.kind {
            Kind::Docker => vec!["docker".into()],
            Kind::Podman => {
                let d = |name: &str| self.dir.join(name).to_string_lossy().into_owned();
                let mut v: Vec<String> = vec!["podman".into()];
                for (flag, value) in [
                    ("--root", d("root")),
                    ("--runroot", d("run")),
                    ("--tmpdir", d("tmp")),
                    ("--storage-driver", "vfs".into()),
                    ("--cgroup-manager", "cgroupfs".into()),
                    ("--events-backend", "file".into()),
                ] {
                    v.push(flag.into());
                    v.push(value);
                }
                v
            }
        }
    }

    /// The engine's command, talking to this engine (docker through `DOCKER_HOST`).
    pub fn cmd(&self) -> Command {
        let cli = self.cli();
        let mut c = Command::new(&cli[0]);
        c.args(&cli[1..]);
        self.env(&mut c);
        c
    }

    /// Points docker (also when `make` or `script` runs it) at this daemon, with its own client
    /// configuration.
    fn env(&self, c: &mut Command) {
        if self.kind == Kind::Docker {
            c.env(
                "DOCKER_HOST",
                format!("unix://{}", self.dir.join("docker.sock").display()),
            );
            c.env("DOCKER_CONFIG", self.dir.join("client"));
        }
    }

    /// `ENGINE args...`, which must succeed: its stdout.
    pub fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        let mut c = self.cmd();
        c.args(args);
        stdout_of(c).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The arguments of `run` for a container `name`: never pulled, on `network` (`none`, or `host`
    /// for the web hook); then `opts` (`-v`, `--init`, `-it`...), the image and `args` (dock's
    /// options and the command, as the entrypoint is `/dock`).
    pub fn run_args(&self, name: &str, network: &str, opts: &[&str], args: &[&str]) -> Vec<String> {
        let mut v: Vec<&str> = vec![
            "run",
            "--name",
            name,
            "--pull",
            "never",
            "--network",
            network,
        ];
        if self.kind == Kind::Podman {
            // No CAP_SYS_RESOURCE here: runc cannot raise the limits Podman asks for by default
            // ("error setting rlimit type 7: operation not permitted").
            v.extend([
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=4096:4096",
            ]);
            v.extend(["--log-driver", "k8s-file"]);
        }
        v.extend(opts);
        v.push(IMAGE);
        v.extend(args);
        v.into_iter().map(String::from).collect()
    }

    /// `run` in the foreground, as a user types it: its stdout lines arrive as they are written, its
    /// exit status is the container's.
    pub fn attached(&self, name: &str, opts: &[&str], args: &[&str]) -> Running {
        let mut c = self.cmd();
        c.args(self.run_args(name, "none", opts, args));
        Running::from_command(Mode::Subreaper, c)
    }

    /// A `run` command line for `sh -c` (`script -c` runs it on a pty).
    pub fn shell_line(&self, args: &[String]) -> String {
        self.cli()
            .iter()
            .chain(args)
            .map(|a| sh_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A `script` command that runs `line` on a new pty (`-e`: its exit status is the command's).
    /// `exec`, so that the engine's client is alone in the pty's foreground group: a ^C there (with
    /// `-t` and no `-i`) reaches only it, not a shell around it.
    pub fn on_a_pty(&self, line: &str) -> Command {
        let mut c = Command::new("script");
        c.args(["-q", "-f", "-e", "-c", &format!("exec {line}"), "/dev/null"]);
        self.env(&mut c);
        c
    }

    /// `stop -t secs name`, and how long it took.
    pub fn stop(&self, name: &str, secs: u32) -> Duration {
        let t = Instant::now();
        self.ok(&["stop", "-t", &secs.to_string(), name]);
        t.elapsed()
    }

    /// The container's exit code, as `inspect` shows it.
    pub fn exit_code(&self, name: &str) -> i32 {
        let out = self.ok(&["inspect", "-f", "{{.State.ExitCode}}", name]);
        out.trim()
            .parse()
            .unwrap_or_else(|_| panic!("inspect {name}: {out:?}"))
    }

    /// `logs name`: its stdout and stderr bytes (the container's two streams).
    pub fn logs(&self, name: &str) -> (Vec<u8>, Vec<u8>) {
        let mut c = self.cmd();
        c.args(["logs", name]);
        let out = output_within(c).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "logs {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (out.stdout, out.stderr)
    }

    pub fn rm(&self, name: &str) {
        self.ok(&["rm", name]);
    }

    /// A new directory for `-v DIR:/...`, and that directory.
    pub fn volume(&self, name: &str) -> PathBuf {
        let p = self.dir.join("volumes").join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Docker => "docker",
            Kind::Podman => "podman",
        }
    }
}
