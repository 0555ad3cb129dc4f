//! Checks across options: an option that would do nothing (refused when typed, a warning when it
//! comes from a `DOCK_*` variable, which is often set for a whole image), the hook's secret
//! (environment only), and credentials typed on the command line (a warning: every user on the
//! machine can read them in `/proc/<pid>/cmdline`).
//!
//! Registers nothing.

use std::os::unix::ffi::OsStringExt;

use super::origin::{env_name, Origin};
use super::{Args, UsageError, Values};
use crate::io::IoTarget;

/// The variable holding the hook's HMAC key. Never a flag: a flag's value is public.
pub const SECRET_VAR: &str = "DOCK_WEB_HOOK_SECRET";

/// Names in a URL's query that hold a credential often enough to warn about (lower case, matched
/// anywhere in a parameter's name: `access_token`, `api_key`, `X-Amz-Signature`, `password`).
const SECRET_PARAMS: [&str; 8] = [
    "token",
    "key",
    "secret",
    "pass",
    "pwd",
    "auth",
    "sig",
    "credential",
];

/// `DOCK_WEB_HOOK_SECRET`, as bytes; an empty one is refused (an empty HMAC key signs nothing a
/// forger could not sign too).
///
/// # Errors
/// [`UsageError::Conflict`] for an empty value.
pub(super) fn hook_secret() -> Result<Option<Vec<u8>>, UsageError> {
    match std::env::var_os(SECRET_VAR) {
        None => Ok(None),
        Some(v) if v.is_empty() => Err(UsageError::Conflict(format!(
            "{SECRET_VAR} is set but empty: give it the receiver's secret, or unset it"
        ))),
        Some(v) => Ok(Some(v.into_vec())),
    }
}

/// Options that would do nothing with the others given: refused when typed on the command line,
/// a warning (and ignored) when they come from the environment. Clears what is ignored.
///
/// # Errors
/// [`UsageError::Conflict`] naming the option and what it needs.
pub(super) fn no_op_options(
    v: &mut Values,
    a: &Args,
    warnings: &mut Vec<String>,
) -> Result<(), UsageError> {
    let file_io = matches!(v.target, Some(IoTarget::File(_)));
    let network_io = matches!(v.target, Some(IoTarget::Net { .. } | IoTarget::Unix(_)));
    let tls = v.uses_tls();
    const TLS_URL: &str =
        "needs a TLS URL (--io tls://..., --web-hook https://... or --ready-http https://...)";
    let rules = [
        (
            "--log-rotate",
            v.period.is_some() && !file_io,
            "needs a file --io (--io /path/to/log)",
        ),
        (
            "--log-max-size",
            v.max_size.is_some() && !file_io,
            "needs a file --io (--io /path/to/log)",
        ),
        (
            "--log-keep",
            a.sources.origin("--log-keep") != Origin::Default
                && v.period.is_none()
                && v.max_size.is_none(),
            "needs --log-rotate or --log-max-size (only rotation makes archives)",
        ),
        (
            "--log-mode",
            v.mode.is_some() && !file_io,
            "needs a file --io (--io /path/to/log)",
        ),
        (
            "--no-pty",
            v.no_pty && !network_io,
            "needs a network --io (tcp://, tls:// or unix://)",
        ),
        (
            "--strict-port-binding",
            a.strict_port_binding && v.bind_port.is_none(),
            "needs --bind-port",
        ),
        (
            "--ready-timeout",
            v.ready.timeout.is_some() && !v.ready.any_condition() && v.bind_port.is_none(),
            "needs a readiness condition (--bind-port, --ready-notify, --ready-fd or --ready-http)",
        ),
        ("--insecure", a.insecure && !tls, TLS_URL),
        ("--ca-file", a.ca_file.is_some() && !tls, TLS_URL),
    ];
    for (flag, no_op, why) in rules {
        if !no_op {
            continue;
        }
        match a.sources.origin(flag) {
            Origin::Env => warnings.push(format!("{} {why}: ignored", env_name(flag))),
            _ => return Err(UsageError::Conflict(format!("{flag} {why}"))),
        }
        match flag {
            "--log-rotate" => v.period = None,
            "--log-max-size" => v.max_size = None,
            "--log-mode" => v.mode = None,
            "--no-pty" => v.no_pty = false,
            "--ready-timeout" => v.ready.timeout = None,
            _ => {}
        }
    }
    if v.secret.is_some() && v.hook.is_none() {
        warnings.push(format!("{SECRET_VAR} needs --web-hook: ignored"));
        v.secret = None;
    }
    Ok(())
}

/// `--log-format json` carries its own stream and time in every object: a prefix or a timestamp
/// before it would break the JSON. Refused together, wherever they come from.
///
/// # Errors
/// [`UsageError::Conflict`] naming both.
pub(super) fn log_formats(v: &Values, a: &Args) -> Result<(), UsageError> {
    let clash = |other: &str, why: &str| {
        Err(UsageError::Conflict(format!(
            "{} json and {} do not go together: {why}",
            a.sources.name("--log-format"),
            a.sources.name(other)
        )))
    };
    if v.json && v.prefix.is_some() {
        return clash(
            "--stdout-prefix",
            "each JSON line has its own stream and time",
        );
    }
    if v.json && a.timestamps {
        return clash("--timestamps", "each JSON line has its own time");
    }
    Ok(())
}

/// A URL with credentials typed on the command line gets one warning: any user on the machine can
/// read them in `/proc/<pid>/cmdline`, while `DOCK_*` variables are readable by dock's user only.
pub(super) fn credentials_on_the_command_line(v: &Values, a: &Args, warnings: &mut Vec<String>) {
    for (flag, url) in [("--web-hook", &v.hook), ("--ready-http", &v.ready.http)] {
        let Some(url) = url else { continue };
        if a.sources.origin(flag) != Origin::CommandLine {
            continue;
        }
        if url.basic_auth.is_some() || secret_query(&url.path) {
            warnings.push(format!(
                "{flag}: the URL's credentials are on the command line, which every user of this \
                 machine can read (/proc/{}/cmdline): give it as {} in the environment instead",
                std::process::id(),
                env_name(flag)
            ));
        }
    }
}

/// Whether the query of `path` (`/p?a=1&token=x`) has a parameter named like a credential.
fn secret_query(path: &str) -> bool {
    let Some((_, query)) = path.split_once('?') else {
        return false;
    };
    query.split('&').any(|param| {
        let name = param.split('=').next().unwrap_or("").to_ascii_lowercase();
        SECRET_PARAMS.iter().any(|s| name.contains(s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_named_like_credentials() {
        for (path, secret) in [
            ("/", false),
            ("/hook?x=1", false),
            ("/hook?token=abc", true),
            ("/hook?a=1&access_token=abc", true),
            ("/?X-Amz-Signature=00", true),
            ("/?api_key", true),
            ("/?password=", true),
            ("/?v=token", false),
        ] {
            assert_eq!(secret_query(path), secret, "{path}");
        }
    }
}
