//! The values of the options that shape the child's process and its signals (issue 18):
//! `--rewrite`, `--remap-exit`, `--pdeathsig`, `--user`. The grammar is `signals::spec`'s and
//! `supervisor::user`'s; this adds what makes sense for dock: which signals can be rewritten or asked
//! for, and the comma lists of `DOCK_REWRITE` and `DOCK_REMAP_EXIT` (accepted on the command line
//! too, so `-r TERM:QUIT,INT:0` is two rules).
//!
//! Registers nothing.

use crate::signals::spec;
use crate::supervisor::user::{self, UserSpec};

/// Parses one `--rewrite` value: `FROM:TO` rules, comma-separated. FROM cannot be SIGKILL or
/// SIGSTOP (no process can catch them, so dock never has them to forward) nor SIGCHLD (dock's own:
/// it means "reap" and is never forwarded).
///
/// # Errors
/// As [`spec::parse_rewrite_list`], or a FROM dock never forwards.
pub fn parse_rewrites(s: &str) -> Result<Vec<(i32, i32)>, String> {
    let rules = spec::parse_rewrite_list(s)?;
    for &(from, _) in &rules {
        never_received(from)?;
    }
    Ok(rules)
}

/// Refuses the signals dock never gets to forward as a `--rewrite` FROM.
fn never_received(sig: i32) -> Result<(), String> {
    let why = match sig {
        libc::SIGKILL => "cannot rewrite SIGKILL: it cannot be caught, so dock never forwards it",
        libc::SIGSTOP => "cannot rewrite SIGSTOP: it cannot be caught, so dock never forwards it",
        libc::SIGCHLD => "cannot rewrite SIGCHLD: dock takes it as its own (reap), never forwarded",
        _ => return Ok(()),
    };
    Err(why.into())
}

/// Parses one `--remap-exit` value: `CODE[:TO]` items, comma-separated.
///
/// # Errors
/// As [`spec::parse_remap_exit_list`].
pub fn parse_remap_exits(s: &str) -> Result<Vec<(u8, u8)>, String> {
    spec::parse_remap_exit_list(s)
}

/// Parses `--pdeathsig`: one signal ([`spec::parse_signal`]), not SIGSTOP (it would stop dock
/// itself) nor SIGCHLD (dock's own "reap"). SIGKILL is taken, as tini takes it: it kills dock itself
/// and is not forwarded (docs/signals-and-process.md).
///
/// # Errors
/// Not a signal, or SIGSTOP/SIGCHLD.
pub fn parse_pdeathsig(s: &str) -> Result<i32, String> {
    let sig = spec::parse_signal(s)?;
    match sig {
        libc::SIGSTOP => Err("SIGSTOP would stop dock itself, not the child".into()),
        libc::SIGCHLD => Err("SIGCHLD is dock's own (reap), it is never forwarded".into()),
        _ => Ok(sig),
    }
}

/// Parses `--user USER[:GROUP]` ([`user::parse_user_spec`]); names are looked up only when the child
/// is about to start.
///
/// # Errors
/// As [`user::parse_user_spec`].
pub fn parse_user(s: &str) -> Result<UserSpec, String> {
    let (user, group) = user::parse_user_spec(s)?;
    Ok(UserSpec {
        text: s.to_string(),
        origin: "--user".into(),
        user,
        group,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_refuse_what_dock_never_forwards() {
        assert_eq!(parse_rewrites("TERM:QUIT,INT:0"), Ok(vec![(15, 3), (2, 0)]));
        assert_eq!(parse_rewrites("TERM:KILL"), Ok(vec![(15, 9)]));
        for (s, want) in [
            ("KILL:TERM", "cannot rewrite SIGKILL"),
            ("TERM:QUIT,stop:0", "cannot rewrite SIGSTOP"),
            ("CHLD:TERM", "cannot rewrite SIGCHLD"),
            ("TERM:", "empty signal"),
            ("TERM:QUIT,", "empty item"),
        ] {
            let e = parse_rewrites(s).unwrap_err();
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn pdeathsig_takes_any_signal_dock_can_act_on() {
        assert_eq!(parse_pdeathsig("TERM"), Ok(15));
        assert_eq!(parse_pdeathsig("sigkill"), Ok(9));
        assert_eq!(parse_pdeathsig("RTMIN+1"), Ok(35));
        assert!(parse_pdeathsig("STOP").unwrap_err().contains("stop dock"));
        assert!(parse_pdeathsig("17").unwrap_err().contains("SIGCHLD"));
        assert!(parse_pdeathsig("0").is_err());
        assert!(parse_pdeathsig("TERM:QUIT").is_err());
    }

    #[test]
    fn user_specs_keep_their_text() {
        let u = parse_user("app:audio").unwrap();
        assert_eq!(u.text, "app:audio");
        assert_eq!(u.user, user::UserRef::Name("app".into()));
        assert_eq!(u.group, Some(user::GroupRef::Name("audio".into())));
        assert!(parse_user("app:").is_err());
        assert_eq!(parse_remap_exits("143,1:2"), Ok(vec![(143, 0), (1, 2)]));
    }
}
