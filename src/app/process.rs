//! The parts of composition that concern dock's own process and the child's identity (issue 18):
//! the parent-death signal with prctl(2)'s race handled, the `--user` lookup in the container's
//! files, `--remap-exit` on the status dock reports.
//!
//! Registers nothing.

use std::io;

use super::Error;
use crate::cli::UsageError;
use crate::debug;
use crate::notice::{signal_name, ChildExit};
use crate::signals::spec::ExitRemap;
use crate::supervisor::user::{self, Credentials, UserSpec};
use crate::sys::process::{parent_pid, set_pdeathsig};

/// Where `--user` names are looked up: the container's own files (a static binary has no NSS).
const PASSWD: &str = "/etc/passwd";
/// Where `--user` group names and supplementary groups are looked up.
const GROUP: &str = "/etc/group";

/// Whether dock's parent died before `PR_SET_PDEATHSIG` took effect: the parent pid changed
/// between dock's start (`at_start`) and right after the prctl (`now`), the check prctl(2)
/// prescribes. A parent outside dock's PID namespace shows as 0 and cannot be checked.
pub(super) fn parent_died(at_start: i32, now: i32) -> bool {
    at_start != 0 && now != at_start
}

/// `--pdeathsig SIG`: asks the kernel for `sig` when dock's parent dies. If the parent is already
/// gone (its pid at dock's start was `ppid_at_start`), raises `sig` for dock itself now, as the
/// kernel would have: blocked, it waits in the signalfd and is forwarded once the child runs.
///
/// # Errors
/// prctl(2) or kill(2) failing (they do not, for a valid signal).
pub(super) fn parent_death_signal(sig: i32, ppid_at_start: i32) -> Result<(), Error> {
    set_pdeathsig(sig).map_err(Error::sys("--pdeathsig: prctl(PR_SET_PDEATHSIG)"))?;
    let name = signal_name(sig);
    if ppid_at_start == 0 {
        debug!(
            "--pdeathsig: dock is PID 1, its parent is outside the namespace (the runtime): {name} \
             comes when that one dies; one already dead cannot be noticed"
        );
        return Ok(());
    }
    let now = parent_pid();
    if parent_died(ppid_at_start, now) {
        debug!("--pdeathsig: parent {ppid_at_start} died before dock asked for {name}: raising it");
        let me = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
        crate::sys::kill(me, sig).map_err(Error::sys("--pdeathsig: raising the signal"))?;
    }
    Ok(())
}

/// Reads `path` as text (invalid UTF-8 replaced); empty when it does not exist (a `FROM scratch`
/// image: numeric ids need no entry).
fn read_db(path: &'static str) -> Result<String, Error> {
    match std::fs::read(path) {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(Error::UserDb { path, source }),
    }
}

/// `--user`: the child's uid, gid, groups and HOME from the container's `/etc/passwd` and
/// `/etc/group`, by su-exec's rules ([`user::resolve`]).
///
/// # Errors
/// An unknown user or group name ([`UsageError::Value`] naming `--user`), or a file that exists but
/// cannot be read.
pub(super) fn credentials(spec: &UserSpec) -> Result<Credentials, Error> {
    let (passwd, group) = (read_db(PASSWD)?, read_db(GROUP)?);
    let creds =
        user::resolve(&spec.user, spec.group.as_ref(), &passwd, &group).map_err(|reason| {
            UsageError::Value {
                flag: spec.origin.clone(),
                value: spec.text.clone(),
                reason,
            }
        })?;
    debug!(
        "--user: uid {} gid {}, {} group(s), HOME={}",
        creds.uid,
        creds.gid,
        creds.groups.len(),
        creds.home
    );
    Ok(creds)
}

/// `--remap-exit` on the main child's status: what dock exits with. The child's real status stays
/// in the hook's `crashed` (it was sent with the `ChildExited` notice); dock's own codes (2, 126,
/// 127: nothing ran) are never remapped, as tini's `-e` remaps only the child's.
pub(super) fn remap_exit(exit: ChildExit, remap: &ExitRemap) -> ChildExit {
    let code = remap.get(exit.code);
    if code != exit.code {
        debug!("--remap-exit: status {} becomes {code}", exit.code);
    }
    ChildExit { code, ..exit }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_parent_pid_means_the_parent_died() {
        assert!(!parent_died(42, 42));
        assert!(parent_died(42, 1));
        assert!(parent_died(42, 7));
        // PID 1 of a namespace: getppid() is 0, nothing to compare.
        assert!(!parent_died(0, 0));
    }

    #[test]
    fn remapping_changes_the_code_and_keeps_the_signal() {
        let remap = ExitRemap::new(&[(143, 0), (1, 3)]);
        assert_eq!(
            remap_exit(ChildExit::signaled(15), &remap),
            ChildExit {
                code: 0,
                signal: Some(15)
            }
        );
        assert_eq!(remap_exit(ChildExit::exited(1), &remap).code, 3);
        assert_eq!(remap_exit(ChildExit::exited(2), &remap).code, 2);
    }
}
