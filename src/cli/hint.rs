//! The line for a command line clap refused: most often a value was forgotten, so the next word was
//! taken as it (`dock --grace-period sh -c ...`), and that value is the mistake to name.
//!
//! Registers nothing.

use std::ffi::OsString;

use super::{value, values, UsageError};

/// The first option value in `argv` (program name first; up to the command) that its flag's parser
/// refuses, as [`validate`] would report it. Only consulted when clap refused the command line.
///
/// Also, when `unknown` (the argument clap did not know) comes right after a value that does not
/// start with `-` (`--io sh -c ...`, where `sh` is a valid path): the value was most likely
/// forgotten, and the line says so.
pub(super) fn first_bad_value(argv: &[OsString], unknown: Option<&str>) -> Option<UsageError> {
    let mut words = argv.iter().skip(1);
    let mut after: Option<(&'static str, &str)> = None;
    while let Some(w) = words.next() {
        let w = w.to_str()?;
        if w == "--" || !w.starts_with('-') {
            return None;
        }
        if let (true, Some((flag, raw))) = (unknown == Some(w), after) {
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
            "--log-max-size" => ("--log-max-size", |v| values::size::parse_size(v).map(drop)),
            "--log-format" => ("--log-format", |v| values::parse_log_format(v).map(drop)),
            "--log-mode" => ("--log-mode", |v| values::parse_log_mode(v).map(drop)),
            "--ca-file" => {
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
