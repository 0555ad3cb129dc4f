//! Signal and exit-code specifications as users write them: `--rewrite FROM:TO` (`DOCK_REWRITE`),
//! `--pdeathsig SIG`, `--remap-exit CODE[:TO]` (`DOCK_REMAP_EXIT`), and the names dock prints for
//! signals. Pure parsers over text; errors are lower-case reasons, the CLI adds the flag name.
//!
//! Numbering is Linux x86_64's (`arch/x86/include/uapi/asm/signal.h`): 1–31 standard, 32–64
//! realtime. For the realtime names dock follows glibc and the kernel-facing tools, not musl, although
//! dock itself is a static musl binary: glibc keeps 32 and 33 for itself and reports `SIGRTMIN` = 34,
//! musl keeps 32–34 and reports 35. dock never goes through libc's `SIGRTMIN` (it sends with raw
//! `kill(2)`/`pidfd_send_signal(2)` and reads a signalfd), and the numbers users see elsewhere are
//! glibc's: `kill -l` on Debian prints `34) SIGRTMIN`, `35) SIGRTMIN+1` … `49) SIGRTMIN+15`,
//! `50) SIGRTMAX-14` … `64) SIGRTMAX`, and [`crate::notice::signal_name`] prints the same. 32 and 33 have no name
//! there and are `SIG32`, `SIG33`.
//!
//! The names themselves (the table, [`crate::notice::signal_name`]) live in [`crate::notice`], beside the
//! [`crate::notice::ChildExit`] they name: every feature that reports a signal prints it so.
//!
//! Registers nothing.

// Only the tests and the fuzz bodies name it here; dock itself uses `crate::notice::signal_name`.
#[cfg(any(test, feature = "fuzz"))]
pub use crate::notice::signal_name;
use crate::notice::SIGNAL_NAMES as NAMES;
pub use crate::notice::{SIGRTMAX, SIGRTMIN};

const SIGNAL_HINT: &str = "expected a signal name or number, like TERM, SIGTERM, 15 or RTMIN+3";

/// Parses one signal: a name with or without `SIG` in any case (`TERM`, `SIGTERM`, `sigterm`, and
/// the aliases IOT, CLD, POLL, UNUSED), a decimal 1–64 (also as `SIG<n>`, the form [`crate::notice::signal_name`]
/// gives 32 and 33), or a realtime one as `RTMIN`, `RTMIN+N`, `RTMAX`, `RTMAX-N` (34–64, see the
/// module header), with or without `SIG`, in any case.
///
/// Numbers are plain decimals: no blanks, sign or leading zero. 0 is refused (it is no signal; a
/// caller that gives 0 a meaning checks for it first). SIGKILL, SIGSTOP and SIGCHLD are accepted;
/// whether they make sense is the caller's decision.
///
/// # Errors
/// A lower-case reason naming the value: unknown name, number out of 1–64, malformed.
pub fn parse_signal(s: &str) -> Result<i32, String> {
    if s.is_empty() {
        return Err("empty signal".into());
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-')
    {
        return Err(format!("'{s}': {SIGNAL_HINT}"));
    }
    let upper = s.to_ascii_uppercase();
    let body = upper.strip_prefix("SIG").unwrap_or(&upper);
    if body.bytes().all(|b| b.is_ascii_digit()) && !body.is_empty() {
        return match plain_decimal(body) {
            Some(n @ 1..=64) => Ok(i32::try_from(n).unwrap_or(0)),
            Some(0) => Err("0 is not a signal".into()),
            _ => Err(format!(
                "'{s}': signal numbers are 1-64, without leading zeros"
            )),
        };
    }
    if let Some(sig) = parse_realtime(body) {
        return sig.map_err(|()| format!("'{s}': realtime signals are RTMIN+0-30 or RTMAX-0-30"));
    }
    NAMES
        .iter()
        .find(|(name, _)| *name == body)
        .map(|&(_, n)| n)
        .ok_or_else(|| format!("unknown signal '{s}'"))
}

/// `RTMIN`, `RTMIN+N`, `RTMAX`, `RTMAX-N` (upper case, `SIG` already stripped): `None` when `body` is
/// none of these forms, `Some(Err)` when it is but N is malformed or out of range.
fn parse_realtime(body: &str) -> Option<Result<i32, ()>> {
    let (base, rest, sign) = if let Some(r) = body.strip_prefix("RTMIN") {
        (SIGRTMIN, r, 1)
    } else if let Some(r) = body.strip_prefix("RTMAX") {
        (SIGRTMAX, r, -1)
    } else {
        return None;
    };
    if rest.is_empty() {
        return Some(Ok(base));
    }
    let digits = if sign > 0 {
        rest.strip_prefix('+')
    } else {
        rest.strip_prefix('-')
    };
    let n = digits.and_then(plain_decimal);
    Some(match n {
        Some(n) if n <= u64::from((SIGRTMAX - SIGRTMIN).unsigned_abs()) => {
            Ok(base + sign * i32::try_from(n).unwrap_or(0))
        }
        _ => Err(()),
    })
}

/// ASCII digits without a leading zero (but `0` itself), at most 19 of them, as a number.
fn plain_decimal(s: &str) -> Option<u64> {
    let ok = !s.is_empty()
        && s.len() <= 19
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if ok {
        s.parse().ok()
    } else {
        None
    }
}

/// Parses one `--rewrite FROM:TO`: a forwarded FROM is sent as TO, or dropped when TO is `0`
/// (dumb-init's `--rewrite s:r`, which takes numbers only; dock takes any [`parse_signal`] form).
/// Returns `(FROM, TO)`, FROM in 1–64, TO in 0–64.
///
/// # Errors
/// No `:`, FROM `0`, or either side not a signal.
pub fn parse_rewrite(s: &str) -> Result<(i32, i32), String> {
    let Some((from, to)) = s.split_once(':') else {
        return Err(format!("'{s}': expected FROM:TO, like TERM:QUIT or INT:0"));
    };
    if from == "0" {
        return Err("the signal to rewrite cannot be 0".into());
    }
    let from = parse_signal(from)?;
    let to = if to == "0" { 0 } else { parse_signal(to)? };
    Ok((from, to))
}

/// Parses `DOCK_REWRITE`: [`parse_rewrite`] items separated by commas (`TERM:QUIT,INT:0`), in order.
///
/// # Errors
/// An empty list or item (`TERM:QUIT,,INT:0`, a trailing comma), or an item's own error.
pub fn parse_rewrite_list(s: &str) -> Result<Vec<(i32, i32)>, String> {
    parse_list(s, parse_rewrite)
}

/// Parses one `--remap-exit CODE[:TO]`: dock exits TO where it would exit CODE, TO 0 when left out
/// (tini's `-e EXIT_CODE`, which always maps to 0). Both are plain decimals 0–255.
///
/// # Errors
/// Anything but one or two exit codes separated by `:`.
pub fn parse_remap_exit(s: &str) -> Result<(u8, u8), String> {
    let (code, to) = match s.split_once(':') {
        Some((c, t)) => (c, Some(t)),
        None => (s, None),
    };
    let exit_code = |v: &str| {
        plain_decimal(v)
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| format!("'{s}': expected CODE[:TO], exit codes 0-255"))
    };
    Ok((exit_code(code)?, to.map_or(Ok(0), exit_code)?))
}

/// Parses `DOCK_REMAP_EXIT`: [`parse_remap_exit`] items separated by commas (`143:0,1:2`), in order.
///
/// # Errors
/// An empty list or item, or an item's own error.
pub fn parse_remap_exit_list(s: &str) -> Result<Vec<(u8, u8)>, String> {
    parse_list(s, parse_remap_exit)
}

fn parse_list<T>(s: &str, item: fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    if s.is_empty() {
        return Err("empty list".into());
    }
    s.split(',')
        .map(|i| {
            if i.is_empty() {
                Err("empty item in the comma-separated list".into())
            } else {
                item(i)
            }
        })
        .collect()
}

/// `--rewrite`: what dock sends for each signal it forwards (dumb-init's `--rewrite` table). Every
/// signal is sent as itself unless a rule says otherwise; a rule's TO of 0 drops the signal. One
/// lookup, no chains: with `TERM:QUIT` and `QUIT:KILL`, TERM is sent as QUIT and QUIT as KILL.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Rewrites([u8; 65]);

impl Rewrites {
    /// The table for `rules` (`(FROM, TO)`, FROM 1–64, TO 0–64, as [`parse_rewrite`] returns them;
    /// others are ignored), in order: a later rule for the same FROM replaces an earlier one, as a
    /// flag given twice.
    pub fn new(rules: &[(i32, i32)]) -> Rewrites {
        let mut table = Rewrites::default();
        for &(from, to) in rules {
            if let (Ok(f @ 1..=64), Ok(t @ 0..=64)) = (u8::try_from(from), u8::try_from(to)) {
                table.0[usize::from(f)] = t;
            }
        }
        table
    }

    /// What `sig` is sent as: itself, another signal, or 0 (dropped).
    pub fn get(&self, sig: i32) -> i32 {
        usize::try_from(sig)
            .ok()
            .and_then(|i| self.0.get(i))
            .map_or(sig, |&t| i32::from(t))
    }

    /// The rules that change something, `(FROM, TO)` by FROM.
    pub fn rules(&self) -> impl Iterator<Item = (i32, i32)> + '_ {
        (1..=64)
            .filter(|&s| self.get(s) != s)
            .map(|s| (s, self.get(s)))
    }
}

impl Default for Rewrites {
    /// Every signal sent as itself.
    fn default() -> Rewrites {
        let mut table = [0u8; 65];
        for (t, n) in table.iter_mut().zip(0u8..) {
            *t = n;
        }
        Rewrites(table)
    }
}

impl std::fmt::Debug for Rewrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.rules()).finish()
    }
}

/// `--remap-exit`: the status dock exits with for each status the main child gave it (tini's `-e`,
/// with a target). Identity unless a rule says otherwise; a later rule for the same CODE wins.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ExitRemap([u8; 256]);

impl ExitRemap {
    /// The table for `rules` (`(CODE, TO)`, as [`parse_remap_exit`] returns them), in order.
    pub fn new(rules: &[(u8, u8)]) -> ExitRemap {
        let mut table = ExitRemap::default();
        for &(code, to) in rules {
            table.0[usize::from(code)] = to;
        }
        table
    }

    /// What dock exits with where it would exit `code` (0–255; others are returned as they are).
    pub fn get(&self, code: i32) -> i32 {
        match u8::try_from(code) {
            Ok(c) => i32::from(self.0[usize::from(c)]),
            Err(_) => code,
        }
    }

    /// The rules that change something, `(CODE, TO)` by CODE.
    pub fn rules(&self) -> impl Iterator<Item = (i32, i32)> + '_ {
        (0..=255)
            .filter(|&c| self.get(c) != c)
            .map(|c| (c, self.get(c)))
    }
}

impl Default for ExitRemap {
    /// Every status as it is.
    fn default() -> ExitRemap {
        let mut table = [0u8; 256];
        for (t, n) in table.iter_mut().zip(0u8..=255) {
            *t = n;
        }
        ExitRemap(table)
    }
}

impl std::fmt::Debug for ExitRemap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.rules()).finish()
    }
}

#[cfg(test)]
mod tests;
