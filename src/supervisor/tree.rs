//! Signalling every process dock is responsible for, three ways:
//! - as PID 1 of a PID namespace, `kill(-1, sig)`: everything but dock itself (kill(2));
//! - as a child subreaper with this namespace's `/proc`, every descendant found by walking it (orphans
//!   are re-parented to dock, so they are in the walk);
//! - with another namespace's `/proc` (`unshare --pid --fork` without `--mount-proc`), the main
//!   child's process group: the only thing dock can still name.
//!
//! Registers nothing.

use std::collections::BTreeSet;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::debug;
use crate::notice::signal_name;
use crate::warn;

/// How many times one round of signals walks the tree again for processes the previous walks did
/// not list (forked meanwhile); a parent that forks without end is left to the next round.
const WALKS: usize = 8;

/// How dock reaches the rest of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// dock is PID 1: `kill(-1)`.
    Namespace,
    /// A subreaper with this namespace's `/proc`: walk it.
    Walk,
    /// Another namespace's `/proc`: the main child's process group only.
    Group(i32),
}

impl Tree {
    /// The way that works for dock here, with `main` the main child's pid (its process group).
    pub fn detect(main: i32) -> Tree {
        if std::process::id() == 1 {
            Tree::Namespace
        } else if crate::procfs::is_own() {
            Tree::Walk
        } else {
            Tree::Group(main)
        }
    }

    /// Sends `sig` to every remaining process (SIGCONT after a SIGTERM: a stopped process cannot
    /// act on its SIGTERM, as systemd does). A process vanishing mid-walk is skipped, never an
    /// error. False only when nothing more can be reached: the process group is gone (ESRCH).
    pub fn signal(self, sig: Signal) -> bool {
        let wake = (sig == Signal::SIGTERM).then_some(Signal::SIGCONT);
        match self {
            Tree::Namespace => {
                match kill(Pid::from_raw(-1), sig) {
                    Ok(()) => debug!("sent {} to every process", signal_name(sig as i32)),
                    Err(Errno::ESRCH) => {
                        debug!("no process left to send {}", signal_name(sig as i32))
                    }
                    Err(e) => warn!("kill(-1, {}): {e}", signal_name(sig as i32)),
                }
                if let Some(cont) = wake {
                    let _ = kill(Pid::from_raw(-1), cont);
                }
                true
            }
            Tree::Group(pgid) => {
                match kill(Pid::from_raw(-pgid), sig) {
                    Ok(()) => debug!("sent {} to process group {pgid}", signal_name(sig as i32)),
                    Err(Errno::ESRCH) => return false,
                    Err(e) => warn!("kill(-{pgid}, {}): {e}", signal_name(sig as i32)),
                }
                if let Some(cont) = wake {
                    let _ = kill(Pid::from_raw(-pgid), cont);
                }
                true
            }
            Tree::Walk => {
                walk_and_signal(sig, wake);
                true
            }
        }
    }
}

/// A walk is a snapshot: a process may fork between the walk and its own signal. Walk again until a
/// walk finds nobody new (kill(-1) as PID 1 has no such gap: fork fails or restarts once the parent
/// has a signal pending, kernel/fork.c).
fn walk_and_signal(sig: Signal, wake: Option<Signal>) {
    let mut sent = BTreeSet::new();
    for _ in 0..WALKS {
        let mut new = crate::procfs::descendants_of(nix::unistd::getpid().as_raw());
        new.retain(|p| !sent.contains(p));
        if new.is_empty() {
            break;
        }
        for pid in &new {
            match kill(Pid::from_raw(*pid), sig) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(e) => warn!("kill({pid}, {}): {e}", signal_name(sig as i32)),
            }
            if let Some(cont) = wake {
                let _ = kill(Pid::from_raw(*pid), cont);
            }
        }
        sent.extend(new);
    }
    debug!(
        "sent {} to {} descendant(s)",
        signal_name(sig as i32),
        sent.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gone_process_group_is_unreachable() {
        // Reap a child first: its pid, and so its process group, no longer exists.
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = i32::try_from(c.id()).unwrap();
        c.wait().unwrap();
        assert!(!Tree::Group(pid).signal(Signal::SIGTERM));
    }
}
