//! What crosses features: the [`Notice`]s one handler posts and others read, and the main child's end
//! ([`ChildExit`]). A feature never calls another; it posts a notice, and the loop hands it to every
//! handler right after the poster returns, in the order posted.
//!
//! | notice                | posted by            | read by                                    |
//! |-----------------------|----------------------|--------------------------------------------|
//! | `Spawned`             | supervisor (start)   | signals, ports, readiness gate, hook       |
//! | `Reap`                | signals (SIGCHLD)    | supervisor                                 |
//! | `ChildExited`         | supervisor           | signals, ports, readiness gate, hook       |
//! | `Condition`           | a readiness source (ports, ready::notify/fd/http) | readiness gate |
//! | `Ready`               | readiness gate       | hook, ready file                           |
//! | `Status`              | ready::notify (`STATUS=`) | hook                                  |
//! | `Stop`                | readiness gate (`--ready-timeout`) | supervisor, readiness sources, ready file, hook |
//! | `WindowSize`          | signals (SIGWINCH)   | io (the pty)                               |
//! | `HangUp`              | io (the peer hung up) | nobody yet: the kernel hangs the session up |
//!
//! Also the names dock prints for signals ([`signal_name`]), shared by every feature that reports one.
//!
//! Registers nothing.

use std::time::{Duration, Instant};

/// Something a handler tells the rest of dock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The main child runs: its pid (also its process group) and when it was spawned.
    Spawned {
        /// The main child's pid.
        pid: i32,
        /// When `clone` returned.
        at: Instant,
    },
    /// SIGCHLD arrived: some child changed state, reap.
    Reap,
    /// The main child exited (it is reaped): teardown has begun.
    ChildExited(ChildExit),
    /// One readiness condition holds now (reported once per source).
    Condition(Condition),
    /// Every readiness condition holds: the child is `running`, `after` its spawn. Posted once, never
    /// after [`Notice::ChildExited`].
    Ready {
        /// From the spawn to the last condition (ms on the wire).
        after: Duration,
    },
    /// The child's latest sd_notify `STATUS=` text (posted when it changes): the hook sends it as
    /// `"status_text"` in every request from then on.
    Status(String),
    /// Stop the child although it has not exited: SIGTERM to it and the rest, the grace period,
    /// SIGKILL, as when the main child exits, and dock exits with `code` whatever the child's status.
    /// The hook reports `crashed` with `reason` at once. Posted at most once, never after
    /// [`Notice::ChildExited`] or [`Notice::Ready`].
    Stop {
        /// Why, for the log and the hook's `"reason"` (`not ready within 5 s`).
        reason: String,
        /// dock's exit code (124 for `--ready-timeout`, as timeout(1)).
        code: i32,
    },
    /// dock's terminal changed size (SIGWINCH) and the child has a pty to resize.
    WindowSize,
    /// The `--io` peer hung up (closed the connection, not just its sending side): the child's
    /// terminal hung up.
    HangUp,
}

/// A readiness condition, one per source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Condition {
    /// `--bind-port` listens (owned by `pid` when strict binding looked it up).
    Port {
        /// The listener's owner (only with `--strict-port-binding`).
        pid: Option<i32>,
    },
    /// `--ready-notify`: a descendant sent `READY=1`.
    Notify,
    /// `--ready-fd`: a newline was written on the notification fd.
    Fd,
    /// `--ready-http`: the URL answered a 2xx.
    Http,
}

/// How the main child ended: `code` is what dock exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildExit {
    /// Exit code N, or 128+S when signal S killed it (bash(1) "EXIT STATUS").
    pub code: i32,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
}

impl ChildExit {
    /// Exited with `code` (0–255).
    pub fn exited(code: i32) -> Self {
        ChildExit { code, signal: None }
    }

    /// Killed by signal `sig`: code 128+`sig`.
    pub fn signaled(sig: i32) -> Self {
        ChildExit {
            code: 128 + sig,
            signal: Some(sig),
        }
    }
}

/// The first realtime signal as glibc numbers it (`__libc_current_sigrtmin()` on Linux): 34, what
/// Debian's `kill -l` shows, although dock is a musl binary (whose SIGRTMIN is 35): the numbers users
/// see elsewhere are glibc's (`signals::spec` module header).
pub const SIGRTMIN: i32 = 34;
/// The last realtime signal, the kernel's `_NSIG` (64): the same under glibc and musl.
pub const SIGRTMAX: i32 = 64;

/// Every standard Linux signal name without `SIG`, with its x86_64 number (signal(7)). The first name
/// of each number is the one [`signal_name`] prints; the aliases (IOT, CLD, POLL, UNUSED) follow.
pub(crate) const SIGNAL_NAMES: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
    ("IOT", 6),
    ("CLD", 17),
    ("POLL", 29),
    ("UNUSED", 31),
];

/// The name dock prints for signal `sig`: `SIGTERM` for the standard ones, `SIGRTMIN`,
/// `SIGRTMIN+N` (35–49), `SIGRTMAX-N` (50–63) and `SIGRTMAX` as Debian's `kill -l` splits them,
/// else `SIG<n>` (32, 33, and numbers that are no signal). `signals::spec::parse_signal` reads every
/// name back to `sig` for 1–64. The hook payload's `"signal"` and every log line use it.
pub fn signal_name(sig: i32) -> String {
    if let Some((name, _)) = SIGNAL_NAMES.iter().find(|&&(_, n)| n == sig) {
        return format!("SIG{name}");
    }
    let mid = SIGRTMIN + (SIGRTMAX - SIGRTMIN) / 2;
    match sig {
        SIGRTMIN => "SIGRTMIN".into(),
        SIGRTMAX => "SIGRTMAX".into(),
        s if (SIGRTMIN..=mid).contains(&s) => format!("SIGRTMIN+{}", s - SIGRTMIN),
        s if (mid + 1..SIGRTMAX).contains(&s) => format!("SIGRTMAX-{}", SIGRTMAX - s),
        s => format!("SIG{s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names() {
        assert_eq!(ChildExit::signaled(15).code, 143);
        assert_eq!(
            ChildExit::exited(3),
            ChildExit {
                code: 3,
                signal: None
            }
        );
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(40), "SIGRTMIN+6");
        assert_eq!(signal_name(32), "SIG32");
    }
}
