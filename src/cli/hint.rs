//! The line for a command line clap refused: most often a value was forgotten, so the next word was
//! taken as it (`dock --grace-period sh -c ...`), and that value is the mistake to name; or a flag
//! is misspelled, and the flag it resembles is named ([`similar_flag`]).
//!
//! Registers nothing.

use std::ffi::OsString;

use super::values::process;
use super::{one_line, shown, value, values, UsageError};

/// The first option value in `argv` (program name first; up to the command) that its flag's parser
/// refuses, as [`validate`] would report it. Only consulted when clap refused the command line.
///
/// Also, when `unknown` (the argument clap did not know) comes right after a value that does not
/// start with `-` (`--io sh -c ...`, where `sh` is a valid path): the value was most likely
/// forgotten, and the line says so.
pub(crate) fn first_bad_value(argv: &[OsString], unknown: Option<&str>) -> Option<UsageError> {
    let mut words = argv.iter().skip(1);
    let mut after: Option<(&'static str, &str)> = None;
    while let Some(w) = words.next() {
        let w = w.to_str()?;
        if w == "--" || !w.starts_with('-') {
            return None;
        }
        if let (true, Some((flag, raw))) = (unknown == Some(w), after) {
            let (w, raw) = (one_line(w), shown(raw));
            return Some(UsageError::Clap(format!(
                "unexpected argument '{w}' found after {flag} '{raw}': was the value of {flag} \
                 forgotten?"
            )));
        }
        after = None;
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) => (f, Some(v)),
            None => (w, None),
        };
        type Check = fn(&str) -> Result<(), String>;
        let (flag, check): (&'static str, Check) = match flag {
            "--io" => ("--io", |v| values::parse_io(v).map(drop)),
            "--web-hook" => ("--web-hook", |v| values::parse_hook_url(v).map(drop)),
            "--bind-port" => ("--bind-port", |v| values::parse_port(v).map(drop)),
            "--log-rotate" => ("--log-rotate", |v| values::parse_rotate_period(v).map(drop)),
            "--log-keep" => ("--log-keep", |v| values::parse_keep(v).map(drop)),
            "--grace-period" => ("--grace-period", |v| values::parse_grace(v).map(drop)),
            "--stdout-prefix" => ("--stdout-prefix", |v| values::parse_prefix(v).map(drop)),
            "-r" | "--rewrite" => ("--rewrite", |v| process::parse_rewrites(v).map(drop)),
            "-e" | "--remap-exit" => ("--remap-exit", |v| process::parse_remap_exits(v).map(drop)),
            "-p" | "--pdeathsig" => ("--pdeathsig", |v| process::parse_pdeathsig(v).map(drop)),
            "-u" | "--user" => ("--user", |v| process::parse_user(v).map(drop)),
            "--ready-fd" => ("--ready-fd", |v| values::parse_ready_fd(v).map(drop)),
            "--ready-http" => ("--ready-http", |v| values::parse_hook_url(v).map(drop)),
            "--ready-timeout" => ("--ready-timeout", |v| {
                values::parse_ready_timeout(v).map(drop)
            }),
            // Its value only ever comes with '=': nothing to consume after it.
            "--ready-notify" if inline.is_some() => {
                ("--ready-notify", |v| values::parse_notify(v).map(drop))
            }
            "--log-max-size" => ("--log-max-size", |v| values::size::parse_size(v).map(drop)),
            "--log-format" => ("--log-format", |v| values::parse_log_format(v).map(drop)),
            "--log-mode" => ("--log-mode", |v| values::parse_log_mode(v).map(drop)),
            "--ca-file" | "--ready-file" => {
                // Its value is a path: consume it, nothing to check without reading the file.
                if inline.is_none() {
                    words.next();
                }
                continue;
            }
            _ => continue,
        };
        let raw = match inline {
            Some(v) => v,
            None => words.next()?.to_str()?,
        };
        if let Err(e) = value(flag, raw, check) {
            return Some(e);
        }
        if inline.is_none() && !raw.starts_with('-') {
            after = Some((flag, raw));
        }
    }
    None
}

/// The long flag `unknown` (`--grace_period`, `--web-hok=x`) most likely meant: the same but for case
/// and `_` for `-`, or at most 2 edits away (and at most a third of the flag). clap's own
/// `suggestions` feature does this too, for 4 kB of the static binary's budget.
pub(super) fn similar_flag(unknown: &str) -> Option<String> {
    let name = unknown.split('=').next()?.strip_prefix("--")?;
    let name = name.to_ascii_lowercase().replace('_', "-");
    let cmd = <super::Args as clap::CommandFactory>::command();
    let (d, flag) = cmd
        .get_arguments()
        .filter_map(|a| a.get_long())
        .map(|long| (edit_distance(name.as_bytes(), long.as_bytes()), long))
        .min()?;
    (d <= 2 && d * 3 <= flag.len()).then(|| format!("--{flag}"))
}

/// Levenshtein distance of `a` and `b` (insertions, deletions, substitutions), one row at a time.
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelled_flags_find_their_flag() {
        for (typed, want) in [
            ("--grace_period", Some("--grace-period")),
            ("--GRACE-PERIOD", Some("--grace-period")),
            ("--web-hok", Some("--web-hook")),
            ("--webhook=http://h/", Some("--web-hook")),
            ("--log_keep", Some("--log-keep")),
            ("--oi", None),
            ("--nope", None),
            ("-x", None),
        ] {
            assert_eq!(similar_flag(typed).as_deref(), want, "{typed}");
        }
        assert_eq!(edit_distance(b"kitten", b"sitting"), 3);
        assert_eq!(edit_distance(b"", b"ab"), 2);
    }
}
