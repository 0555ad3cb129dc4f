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
//! `50) SIGRTMAX-14` … `64) SIGRTMAX`, and [`signal_name`] prints the same. 32 and 33 have no name
//! there and are `SIG32`, `SIG33`.
//!
//! Registers nothing.

/// The first realtime signal as glibc numbers it (`__libc_current_sigrtmin()` on Linux): 34.
pub const SIGRTMIN: i32 = 34;
/// The last realtime signal, the kernel's `_NSIG` (64): the same under glibc and musl.
pub const SIGRTMAX: i32 = 64;

/// Every standard Linux signal name without `SIG`, with its x86_64 number (signal(7)). The first name
/// of each number is the one [`signal_name`] prints; the aliases (IOT, CLD, POLL, UNUSED) follow.
const NAMES: &[(&str, i32)] = &[
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

const SIGNAL_HINT: &str = "expected a signal name or number, like TERM, SIGTERM, 15 or RTMIN+3";

/// Parses one signal: a name with or without `SIG` in any case (`TERM`, `SIGTERM`, `sigterm`, and
/// the aliases IOT, CLD, POLL, UNUSED), a decimal 1–64 (also as `SIG<n>`, the form [`signal_name`]
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

/// The name dock prints for signal `sig`: `SIGTERM` for the standard ones, `SIGRTMIN`,
/// `SIGRTMIN+N` (35–49), `SIGRTMAX-N` (50–63) and `SIGRTMAX` as Debian's `kill -l` splits them,
/// else `SIG<n>` (32, 33, and numbers that are no signal). [`parse_signal`] reads every name back
/// to `sig` for 1–64.
pub fn signal_name(sig: i32) -> String {
    if let Some((name, _)) = NAMES.iter().find(|&&(_, n)| n == sig) {
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
mod tests;
