//! The main child and everything under dock: spawn, reaping, teardown. Signals reach the child
//! through the `signals` feature; this one reaps (one path: `waitpid(-1, WNOHANG)` until 0 or ECHILD,
//! on [`Notice::Reap`] and on the pidfd) and tears the rest down once the main child is gone, then
//! asks the loop to exit with its status.
//!
//! Pure cores: [`teardown`] (the phases), [`storm`] (exit-storm batching); [`tree`] signals the rest.
//!
//! Registers: the main child's pidfd (signal-backed: SIGCHLD comes with it). Deadlines: the teardown
//! timer, the storm window. Posts `Spawned` (at start) and `ChildExited`; reads `Reap` and `Stop`
//! (teardown while the main child runs; dock then exits with the stop's code).

pub mod env;
pub mod storm;
pub mod teardown;
pub mod tree;
pub mod user;

use std::ffi::OsString;
use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::Token;
use nix::sys::signal::Signal;
use thiserror::Error;

use crate::event::{Ctx, Event, Handler, Key, OrigMask};
use crate::notice::{signal_name, ChildExit, Notice};
use crate::sys::pidfd::PidFd;
use crate::sys::spawn::{self, ChildCreds, ChildSetup, ChildStdio};
use crate::{debug, warn};
pub use env::ChildEnv;
use storm::Storm;
use teardown::{Action, End, Input, Phase, Teardown};
use tree::Tree;

/// The least time output and the last web hook status get once every process is gone, even with
/// `--grace-period 0` (ms): a loopback delivery takes well under 1 ms.
pub const EXIT_FLOOR: Duration = Duration::from_millis(100);

/// What the supervisor needs from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorConfig {
    /// The child's argv; never empty.
    pub command: Vec<OsString>,
    /// `--grace-period`: between SIGTERM and SIGKILL during teardown (default 5 s).
    pub grace: Duration,
    /// `--user`: who the child runs as (resolved by the caller into [`user::Credentials`]).
    pub user: Option<user::UserSpec>,
}

impl SupervisorConfig {
    /// How long output and the last hook status may take once every process is gone: a grace
    /// period, at least [`EXIT_FLOOR`].
    pub fn flush_within(&self) -> Duration {
        self.grace.max(EXIT_FLOOR)
    }
}

/// Why the main child could not be started.
#[derive(Debug, Error)]
pub enum SpawnError {
    /// The command could not be executed: 127 (not found) or 126 (not executable).
    #[error("{}", .command.to_string_lossy())]
    Exec {
        /// argv\[0\].
        command: OsString,
        /// The exec error.
        #[source]
        source: io::Error,
    },
    /// No child at all (clone(2) failed: EAGAIN at RLIMIT_NPROC, ENOMEM): a resource limit, not the
    /// command's fault.
    #[error("starting the child (clone)")]
    Clone(#[source] io::Error),
    /// The child could not take `--user`'s ids and groups (EPERM: dock is not root, or lacks
    /// CAP_SETUID/CAP_SETGID): a configuration error, exit 2.
    #[error("--user: the child cannot switch to uid {uid} gid {gid}")]
    User {
        /// The uid.
        uid: u32,
        /// The gid.
        gid: u32,
        /// setgroups/setgid/setuid's error.
        #[source]
        source: io::Error,
    },
}

impl SpawnError {
    /// Whether the command was not found (127) rather than not executable (126).
    pub fn not_found(&self) -> Option<bool> {
        match self {
            SpawnError::Exec { source, .. } => Some(source.kind() == io::ErrorKind::NotFound),
            SpawnError::Clone(_) | SpawnError::User { .. } => None,
        }
    }
}

/// execve(2) says EACCES for a directory, as for a file without the x bit; a shell says "Is a
/// directory" (and exits 126 too): the line names what is wrong. A name without a slash was
/// searched in PATH, where a directory of that name is skipped, so only a path is checked.
fn exec_reason(prog: &std::ffi::OsStr, e: io::Error) -> io::Error {
    let path = std::path::Path::new(prog);
    let is_path = prog.as_encoded_bytes().contains(&b'/');
    if e.raw_os_error() == Some(libc::EACCES) && is_path && path.is_dir() {
        return io::Error::from_raw_os_error(libc::EISDIR);
    }
    e
}

/// The pidfd's key.
const PIDFD: Key = 0;
/// The teardown deadline (grace period, SIGKILL rounds).
const TEARDOWN: Key = 1;
/// The end of an exit storm's window.
const STORM: Key = 2;

/// The main child and teardown, as a handler.
pub struct Supervisor {
    pid: i32,
    pidfd: Option<(PidFd, Option<Token>)>,
    teardown: Teardown,
    storm: Storm,
    exit: Option<ChildExit>,
    /// A `Stop` was carried out: dock exits with this code, whatever the main child's status.
    stopped: Option<i32>,
    tree: Tree,
    started: Instant,
    flush_within: Duration,
}

impl Supervisor {
    /// Spawns the command with `stdio` and the environment `env`, in its own process group (or
    /// session, for a pty), with the original signal `mask` restored in the child, as `creds`
    /// (`--user`) when given. A `LISTEN_PID` in `env` equal to dock's own pid becomes the child's
    /// (socket activation through dock, catatonit#13).
    ///
    /// # Errors
    /// [`SpawnError`]: exec failed (127/126), the user switch failed, or no child could be made.
    pub fn spawn(
        cfg: &SupervisorConfig,
        stdio: ChildStdio,
        mask: OrigMask,
        env: &ChildEnv,
        creds: Option<&user::Credentials>,
    ) -> Result<Supervisor, SpawnError> {
        let (prog, args) = match cfg.command.split_first() {
            Some(split) => split,
            None => (&OsString::new(), &[][..]),
        };
        let env_strings = env.to_cstrings();
        let own_pid_var = env::listen_pid_index(&env_strings, std::process::id());
        if own_pid_var.is_some() {
            debug!("LISTEN_PID is dock's pid: the child gets its own");
        }
        let setup = ChildSetup {
            mask,
            session: stdio.session,
            creds: creds.map(|c| ChildCreds {
                uid: c.uid,
                gid: c.gid,
                groups: &c.groups,
            }),
            own_pid_var,
        };
        let fds = [stdio.stdin, stdio.stdout, stdio.stderr];
        let child =
            spawn::spawn(prog, args, fds, stdio.extra, setup, &env_strings).map_err(|source| {
                if spawn::is_clone_failure(&source) {
                    SpawnError::Clone(source)
                } else if let (true, Some(c)) = (spawn::is_creds_failure(&source), creds) {
                    SpawnError::User {
                        uid: c.uid,
                        gid: c.gid,
                        source,
                    }
                } else {
                    SpawnError::Exec {
                        command: prog.clone(),
                        source: exec_reason(prog, source),
                    }
                }
            })?;
        debug!("started pid {}: {}", child.pid, command_line(&cfg.command));
        Ok(Supervisor {
            pid: child.pid,
            pidfd: Some((child.pidfd, None)),
            teardown: Teardown::new(cfg.grace),
            storm: Storm::default(),
            exit: None,
            stopped: None,
            tree: Tree::detect(child.pid),
            started: Instant::now(),
            flush_within: cfg.flush_within(),
        })
    }

    /// One reaping pass: every exited child (SIGCHLD coalesces, so one notification may stand for
    /// many exits). Returns how many it reaped.
    fn reap(&mut self, cx: &mut Ctx<'_>) -> usize {
        if self.teardown.phase() == Phase::Done {
            return 0;
        }
        let mut n = 0;
        loop {
            match crate::sys::wait_any() {
                Ok(None) => {
                    self.apply(
                        cx,
                        Input::PassEnded {
                            children_left: true,
                        },
                    );
                    break;
                }
                Ok(Some(crate::sys::Reaped::Exited(pid, code))) => {
                    n += 1;
                    debug!("reaped pid {pid}: exit code {code}");
                    if pid == self.pid {
                        self.main_exited(cx, ChildExit::exited(code));
                    }
                }
                Ok(Some(crate::sys::Reaped::Signaled(pid, sig, core))) => {
                    n += 1;
                    let core = if core { " (core dumped)" } else { "" };
                    debug!("reaped pid {pid}: killed by {}{core}", signal_name(sig));
                    if pid == self.pid {
                        self.main_exited(cx, ChildExit::signaled(sig));
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ECHILD) => {
                    // With no child left there is no descendant left either: every orphan is
                    // re-parented to dock.
                    self.apply(
                        cx,
                        Input::PassEnded {
                            children_left: false,
                        },
                    );
                    break;
                }
                Err(e) => {
                    warn!("waitpid: {e}");
                    break;
                }
            }
        }
        n
    }

    fn main_exited(&mut self, cx: &mut Ctx<'_>, exit: ChildExit) {
        self.exit = Some(exit);
        if let Some((fd, Some(token))) = self.pidfd.take() {
            cx.deregister_fd(&fd, token);
        }
        debug!(
            "main child {} exited with status {} after {} ms",
            self.pid,
            exit.code,
            self.started.elapsed().as_millis()
        );
        self.apply(cx, Input::MainExited);
        cx.post(Notice::ChildExited(exit));
    }

    /// Feeds `input` to the teardown machine and carries out its actions (a signal's outcome is fed
    /// back in turn).
    fn apply(&mut self, cx: &mut Ctx<'_>, input: Input) {
        let mut inputs = vec![input];
        while let Some(input) = inputs.pop() {
            for action in self.teardown.step(input) {
                match action {
                    Action::Signal(sig) => {
                        let sig = Signal::try_from(sig).unwrap_or(Signal::SIGKILL);
                        let reached = self.tree.signal(sig);
                        let now = Instant::now();
                        inputs.push(Input::Signalled { reached, now });
                    }
                    Action::Arm(after) => cx.arm_in(TEARDOWN, after),
                    Action::Disarm => cx.disarm(TEARDOWN),
                    Action::Finished(end) => self.finished(cx, end),
                }
            }
        }
    }

    fn finished(&mut self, cx: &mut Ctx<'_>, end: End) {
        match end {
            End::NoneLeft => debug!("no process left"),
            End::Unreachable => warn!(
                "process group {} is gone; processes outside it cannot be found without this PID \
                 namespace's /proc: exiting without them",
                self.pid
            ),
            End::KillBound => warn!(
                "processes still not reaped {} ms after SIGKILL: exiting anyway",
                teardown::KILL_BOUND.as_millis()
            ),
        }
        cx.disarm(STORM);
        cx.hold_signal(libc::SIGCHLD, false);
        // Every process is gone; output and the `crashed` delivery get at most a grace period.
        cx.exit(self.exit_status(), self.flush_within);
    }

    /// What dock exits with: a stop's code, else the main child's status.
    fn exit_status(&self) -> ChildExit {
        match self.stopped {
            Some(code) => ChildExit::exited(code),
            None => self.exit.unwrap_or(ChildExit::exited(0)),
        }
    }

    /// `Notice::Stop` while the main child runs: teardown starts now, with SIGTERM to it too.
    fn stop(&mut self, cx: &mut Ctx<'_>, reason: &str, code: i32) {
        if self.exit.is_some() || self.stopped.is_some() {
            return;
        }
        debug!("stopping pid {} and the rest: {reason}", self.pid);
        self.stopped = Some(code);
        self.apply(cx, Input::Stop);
    }

    /// After a pass outside a storm window: start a storm if the exits came as one.
    fn after_pass(&mut self, cx: &mut Ctx<'_>, n: usize) {
        if let Some(end) = self.storm.after_pass(n, Instant::now()) {
            cx.arm(STORM, end);
            cx.hold_signal(libc::SIGCHLD, true);
        }
    }
}

impl Handler for Supervisor {
    fn start(&mut self, cx: &mut Ctx<'_>) {
        if let Some((fd, token)) = &mut self.pidfd {
            match cx.register_backed_fd(fd.as_raw_fd(), PIDFD) {
                Ok(t) => *token = Some(t),
                Err(e) => warn!("registering the child's pidfd: {e}"),
            }
        }
        cx.post(Notice::Spawned {
            pid: self.pid,
            at: self.started,
        });
    }

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) {
        if ev.key == PIDFD {
            let n = self.reap(cx);
            self.after_pass(cx, n);
        }
    }

    fn on_notice(&mut self, cx: &mut Ctx<'_>, notice: &Notice) {
        match notice {
            Notice::Reap if self.storm.on_sigchld() => {
                let n = self.reap(cx);
                self.after_pass(cx, n);
            }
            Notice::Stop { reason, code } => self.stop(cx, reason, *code),
            _ => {}
        }
    }

    fn on_deadline(&mut self, cx: &mut Ctx<'_>, key: Key) {
        match key {
            TEARDOWN => {
                if self.teardown.phase() == Phase::Draining {
                    debug!(
                        "grace period of {} ms over: SIGKILL to what is left",
                        self.teardown.grace().as_millis()
                    );
                }
                self.apply(cx, Input::Deadline(Instant::now()));
            }
            STORM => {
                let n = match self.storm.window_ended() {
                    true => self.reap(cx),
                    false => 0,
                };
                match self.storm.after_window(n, Instant::now()) {
                    Some(end) => cx.arm(STORM, end),
                    None => cx.hold_signal(libc::SIGCHLD, false),
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, _deadline: Instant) {
        spawn::restore_foreground(self.pid);
        debug!("exiting with status {}", self.exit_status().code);
    }
}

fn command_line(command: &[OsString]) -> String {
    command
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}
