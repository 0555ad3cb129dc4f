//! The child's environment: dock's own, without dock's configuration (every `DOCK_*` variable: a
//! `DOCK_WEB_HOOK` may carry a password, and dock's settings are not the child's), plus what features
//! set for it (`HOME` for `--user`, `NOTIFY_SOCKET` for readiness). A `LISTEN_PID` naming dock
//! itself is for the child: [`listen_pid_index`] finds it, the spawn puts the child's own pid there.
//!
//! Registers nothing.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The prefix of the variables that configure dock (README: Usage), removed from the child's
/// environment.
pub const DOCK_PREFIX: &[u8] = b"DOCK_";

/// `KEY=VALUE` pairs, in dock's environment's order, then the ones set later.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildEnv(Vec<(OsString, OsString)>);

impl ChildEnv {
    /// dock's environment without its `DOCK_*` variables.
    pub fn inherited() -> ChildEnv {
        Self::from_vars(std::env::vars_os())
    }

    /// `vars` without the `DOCK_*` ones.
    pub fn from_vars(vars: impl IntoIterator<Item = (OsString, OsString)>) -> ChildEnv {
        ChildEnv(
            vars.into_iter()
                .filter(|(k, _)| !k.as_bytes().starts_with(DOCK_PREFIX))
                .collect(),
        )
    }

    /// Sets `key` to `value`, replacing an inherited value (`HOME` with `--user`, `NOTIFY_SOCKET`).
    pub fn set(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) {
        let (key, value) = (key.as_ref(), value.as_ref());
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value.to_os_string(),
            None => self.0.push((key.to_os_string(), value.to_os_string())),
        }
    }

    /// The value of `key`, if set.
    #[allow(dead_code)]
    pub fn get(&self, key: impl AsRef<OsStr>) -> Option<&OsStr> {
        let key = key.as_ref();
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_os_str())
    }

    /// `KEY=VALUE` C strings for execve(2). A variable holding a NUL byte cannot be passed (the
    /// environment dock itself got never does) and is left out.
    pub fn to_cstrings(&self) -> Vec<CString> {
        self.0
            .iter()
            .filter_map(|(k, v)| {
                let mut kv = k.clone().into_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).ok()
            })
            .collect()
    }
}

/// The index in `env` (`KEY=VALUE` strings) of `LISTEN_PID=<pid>`, when it names `pid` (dock): the
/// socket activation protocol (sd_listen_fds(3)) was aimed at dock, and the child, which inherits
/// `LISTEN_FDS`, must see its own pid there or ignore the fds (catatonit#13). `None` otherwise:
/// another pid is left alone.
pub fn listen_pid_index(env: &[CString], pid: u32) -> Option<usize> {
    let want = format!("LISTEN_PID={pid}");
    env.iter().position(|e| e.as_bytes() == want.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs.iter().map(|(k, v)| (k.into(), v.into())).collect()
    }

    #[test]
    fn docks_own_settings_stay_with_dock() {
        let mut env = ChildEnv::from_vars(vars(&[
            ("PATH", "/bin"),
            ("DOCK_WEB_HOOK", "http://u:secret@h/"),
            ("DOCK_", "x"),
            ("DOCKER_HOST", "unix:///s"),
            ("HOME", "/root"),
        ]));
        env.set("HOME", "/home/app");
        env.set("NOTIFY_SOCKET", "@dock");
        let got: Vec<String> = env
            .to_cstrings()
            .into_iter()
            .map(|c| c.into_string().unwrap())
            .collect();
        assert_eq!(
            got,
            [
                "PATH=/bin",
                "DOCKER_HOST=unix:///s",
                "HOME=/home/app",
                "NOTIFY_SOCKET=@dock"
            ]
        );
        assert_eq!(env.get("HOME"), Some(OsStr::new("/home/app")));
    }

    #[test]
    fn only_a_listen_pid_naming_dock_is_the_childs() {
        let env = ChildEnv::from_vars(vars(&[
            ("LISTEN_FDS", "1"),
            ("LISTEN_PID", "42"),
            ("X", "LISTEN_PID=42"),
        ]))
        .to_cstrings();
        assert_eq!(listen_pid_index(&env, 42), Some(1));
        assert_eq!(listen_pid_index(&env, 4), None);
        assert_eq!(listen_pid_index(&env, 420), None);
    }
}
