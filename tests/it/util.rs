//! Test helpers: run dock (as PID 1 under `unshare`, or plainly as a subreaper), read its output line by
//! line with deadlines, signal it, wait for it with a deadline (pidfd + poll, never a sleep).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsFd;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use dock::sys::pidfd::PidFd;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// Default deadline for anything a test waits on. Generous: CI machines are slow; the deadline only
/// bounds a failure, it is not a speed assertion.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The dock binary cargo built for these tests, or the one `DOCK_IT_BIN` names: a new test run
/// against an older build shows that it fails there (`DOCK_IT_BIN=/path/to/old/dock cargo test
/// --test it <name>`).
pub fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("DOCK_IT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_dock").to_string())
    })
}

/// How dock is run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// PID 1 of a new PID namespace, with its own /proc.
    Pid1,
    /// A plain child of the test: dock makes itself a child subreaper.
    Subreaper,
}

/// A command that runs dock with `args` in `mode`.
pub fn command(mode: Mode, args: &[&str]) -> Command {
    match mode {
        Mode::Pid1 => {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc", "--kill-child", bin()]);
            c.args(args);
            c
        }
        Mode::Subreaper => {
            let mut c = Command::new(bin());
            c.args(args);
            c
        }
    }
}

/// `unshare --pid --fork --kill-child ARGS`: a new PID namespace whose `/proc` is still the host's
/// (no `--mount-proc`), for the cases where dock must notice that.
pub fn foreign_proc(args: &[&str]) -> Command {
    let mut c = Command::new("unshare");
    c.args(["--pid", "--fork", "--kill-child"]).args(args);
    c
}

/// A running dock whose stdout lines arrive on a channel and whose stderr is collected.
pub struct Running {
    pub child: Child,
    pub mode: Mode,
    lines: Receiver<String>,
    stderr: Arc<(Mutex<String>, Condvar)>,
    stdout_rest: Arc<Mutex<String>>,
    pidfd: PidFd,
    readers: Vec<thread::JoinHandle<()>>,
}

/// Exit code and output of a finished dock.
#[derive(Debug)]
pub struct Finished {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Running {
    /// Starts dock in `mode` with `args`; stdin is /dev/null, stdout and stderr are pipes.
    pub fn start(mode: Mode, args: &[&str]) -> Running {
        Self::from_command(mode, command(mode, args))
    }

    /// Starts a prepared command (env set by the caller).
    pub fn from_command(mode: Mode, mut cmd: Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning dock");
        let pidfd = PidFd::open(child.id() as i32).expect("pidfd of dock");
        let (tx, rx) = channel();
        let stdout_rest = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().expect("stdout");
        let rest = stdout_rest.clone();
        let h1 = thread::spawn(move || {
            let mut r = BufReader::new(out);
            loop {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        rest.lock().unwrap().push_str(&line);
                        let _ = tx.send(line.trim_end_matches('\n').to_string());
                    }
                }
            }
        });
        let stderr = Arc::new((Mutex::new(String::new()), Condvar::new()));
        let err = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        let h2 = thread::spawn(move || {
            let mut r = BufReader::new(err);
            let mut buf = [0u8; 4096];
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        sink.0
                            .lock()
                            .unwrap()
                            .push_str(&String::from_utf8_lossy(&buf[..n]));
                        sink.1.notify_all();
                    }
                }
            }
        });
        Running {
            child,
            mode,
            lines: rx,
            stderr,
            stdout_rest,
            pidfd,
            readers: vec![h1, h2],
        }
    }

    /// The next stdout line, or panics at the deadline.
    pub fn line(&self) -> String {
        match self.lines.recv_timeout(DEADLINE) {
            Ok(l) => l,
            Err(_) => panic!(
                "no stdout line within {DEADLINE:?}; stderr:\n{}",
                self.stderr()
            ),
        }
    }

    /// Waits for a stdout line equal to `want`, skipping others.
    pub fn expect_line(&self, want: &str) {
        let end = Instant::now() + DEADLINE;
        while Instant::now() < end {
            if let Ok(l) = self.lines.recv_timeout(end - Instant::now()) {
                if l == want {
                    return;
                }
            }
        }
        panic!("no line {want:?}; stderr:\n{}", self.stderr());
    }

    /// What dock wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.0.lock().unwrap().clone()
    }

    /// Waits until stderr contains `needle`.
    pub fn wait_stderr(&self, needle: &str) {
        let end = Instant::now() + DEADLINE;
        let mut text = self.stderr.0.lock().unwrap();
        while !text.contains(needle) {
            let now = Instant::now();
            assert!(now < end, "stderr never showed {needle:?}:\n{text}");
            text = self.stderr.1.wait_timeout(text, end - now).unwrap().0;
        }
    }

    /// dock's own pid, as seen from the test (outside the namespace in Pid1 mode).
    pub fn dock_pid(&self) -> i32 {
        dock_pid_of(self.mode, self.child.id())
    }

    /// Sends `sig` to dock.
    pub fn signal(&self, sig: i32) {
        let pid = self.dock_pid();
        dock::sys::kill(pid, sig).unwrap();
    }

    /// Whether dock (or unshare around it) has exited, waiting at most `timeout`.
    pub fn exited_within(&self, timeout: Duration) -> bool {
        pidfd_readable(&self.pidfd, timeout)
    }

    /// Waits for dock to exit (panics at the deadline, killing it) and returns its code and output.
    pub fn finish(mut self) -> Finished {
        self.finish_within(DEADLINE)
    }

    /// As [`Running::finish`] with another deadline.
    pub fn finish_within(&mut self, timeout: Duration) -> Finished {
        if !self.exited_within(timeout) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            panic!(
                "dock did not exit within {timeout:?}; stderr:\n{}",
                self.stderr()
            );
        }
        let status = self.child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        // The readers end at EOF: every process that held dock's stdout/stderr is gone.
        for h in self.readers.drain(..) {
            let _ = h.join();
        }
        Finished {
            code,
            stdout: self.stdout_rest.lock().unwrap().clone(),
            stderr: self.stderr(),
        }
    }
}

/// Whether the process behind `pidfd` exited within `timeout` (pidfd readable, pidfd_open(2)).
fn pidfd_readable(pidfd: &PidFd, timeout: Duration) -> bool {
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    let ms = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
    matches!(poll(&mut fds, ms), Ok(n) if n > 0)
}

/// Waits for a `Child` the caller spawned itself (its pipes set up by hand) to exit within
/// [`DEADLINE`]: its exit code, or `None` after killing it at the deadline.
pub fn exit_code_within_deadline(child: &mut Child) -> Option<i32> {
    let pidfd = PidFd::open(child.id() as i32).expect("pidfd of dock");
    if !pidfd_readable(&pidfd, DEADLINE) {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    child.wait().ok().and_then(|s| s.code())
}

/// dock's pid for a process the test started as `outer` in `mode`: `outer` itself, or in Pid1 mode
/// the child `unshare --fork` made (from `/proc/<outer>/task/<outer>/children`).
pub fn dock_pid_of(mode: Mode, outer: u32) -> i32 {
    let pid = outer as i32;
    if mode == Mode::Subreaper {
        return pid;
    }
    let mut found = None;
    wait_until("unshare forking dock", || {
        found = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|c| c.parse().ok()));
        found.is_some()
    });
    found.unwrap_or(pid)
}

/// Re-checks `cond` until it holds, panicking with `what` at [`DEADLINE`]. For state only /proc
/// shows (a process's state, its children, its signal mask), which has no notification to wait on;
/// the millisecond between checks only keeps the poll from starving the processes it watches on a
/// 2-core machine, it orders nothing.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(
            Instant::now() < end,
            "{what} did not happen within {DEADLINE:?}"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

/// Runs dock to completion and returns its code and output.
pub fn run(mode: Mode, args: &[&str]) -> Finished {
    Running::start(mode, args).finish()
}

/// Zombies (state Z) among the processes of this test's own children, from /proc.
pub fn zombies_under(pid: i32) -> Vec<i32> {
    dock::procfs::descendants_of(pid)
        .into_iter()
        .filter(|&p| proc_state(p) == Some('Z'))
        .collect()
}

/// The state letter of `pid` (R, S, T, Z...): the field after the command name in
/// `/proc/<pid>/stat` (proc(5)); `None` once the pid is gone.
pub fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("dock-it-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
