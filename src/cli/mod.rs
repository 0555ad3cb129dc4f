//! The command line: clap [`Args`] (raw flags with `DOCK_*` environment fallbacks) validated once
//! into a typed [`Config`] made of one small config struct per feature (ripgrep's low/high args
//! split); no feature sees clap or this module. Options end at the first word that is not an option;
//! everything after it belongs to the child, untouched. The contract is the README's usage table.
//!
//! Registers nothing.

mod args;
mod hint;
pub mod values;

use std::ffi::OsString;

use clap::Parser;
use thiserror::Error;

use crate::hook::HookConfig;
use crate::io::{IoConfig, IoTarget};
use crate::ports::PortConfig;
use crate::ready::ReadyConfig;
use crate::rotate::RotateConfig;
use crate::signals::SignalsConfig;
use crate::supervisor::SupervisorConfig;
use crate::tls::TlsOptions;
use args::without_options;
pub use args::Args;
use hint::first_bad_value;

/// Everything dock was asked to do, validated: one config per feature.
#[derive(Debug, Clone)]
pub struct Config {
    /// `-d`.
    pub debug: bool,
    /// The command and `--grace-period`.
    pub supervisor: SupervisorConfig,
    /// `-g`, `--thug`.
    pub signals: SignalsConfig,
    /// `--io`, `--stdout-prefix`, and the TLS options for `tls://`.
    pub io: IoConfig,
    /// `--log-rotate`, `--log-max-size`, `--log-keep` (only with a file `--io`).
    pub rotate: Option<RotateConfig>,
    /// `--bind-port`, `--strict-port-binding`.
    pub port: Option<PortConfig>,
    /// Which readiness conditions gate `running`.
    pub ready: ReadyConfig,
    /// `--web-hook`, with the TLS options for `https://`.
    pub hook: Option<HookConfig>,
}

/// A usage or configuration error: dock prints `dock: <this>` and exits 2, nothing started.
#[derive(Debug, Error)]
pub enum UsageError {
    /// clap rejected the command line (unknown flag, missing value).
    #[error("{0}")]
    Clap(String),
    /// No COMMAND was given.
    #[error("no command given")]
    NoCommand,
    /// A flag's value is invalid.
    #[error("{flag} '{value}': {reason}")]
    Value {
        /// The flag, e.g. `--io`.
        flag: &'static str,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two flags do not go together, or one needs another.
    #[error("{0}")]
    Conflict(String),
}

/// What parsing the command line produced.
#[derive(Debug)]
pub enum Parsed {
    /// Run with this configuration.
    Run(Box<Config>),
    /// `--help` / `--version`: print this on stdout, exit 0.
    Print(String),
    /// No command: print help on stderr, exit 2.
    Help(String),
}

/// Runs the parser of `flag` on `raw`, naming the flag and the value in the error.
fn value<T>(
    flag: &'static str,
    raw: &str,
    f: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, UsageError> {
    f(raw).map_err(|reason| UsageError::Value {
        flag,
        // Control characters (a CR/LF in a URL) are shown escaped: the error stays one line.
        value: raw
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
        reason,
    })
}

/// Parses `argv` (with the program name first) and the `DOCK_*` environment.
///
/// # Errors
/// [`UsageError`] for anything dock cannot run with.
pub fn parse<I, T>(argv: I) -> Result<Parsed, UsageError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    if let Some(args) = without_options(&argv) {
        return validate(args).map(|c| Parsed::Run(Box::new(c)));
    }
    let args = match Args::try_parse_from(&argv) {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    Ok(Parsed::Print(e.render().to_string()))
                }
                _ => {
                    // `dock --grace-period sh -c ...`: the value was forgotten, "sh" taken as it,
                    // and clap stumbles on "-c". The value is the mistake to name.
                    let unknown = match e.get(clap::error::ContextKind::InvalidArg) {
                        Some(clap::error::ContextValue::String(s)) => Some(s.as_str()),
                        _ => None,
                    };
                    if let Some(bad) = first_bad_value(&argv, unknown) {
                        return Err(bad);
                    }
                    let text = e.render().to_string();
                    let first = text.lines().next().unwrap_or("invalid usage");
                    let first = first.strip_prefix("error: ").unwrap_or(first);
                    Err(UsageError::Clap(first.to_string()))
                }
            };
        }
    };
    if args.command.is_empty() {
        // A bad value first: `dock --grace-period abc` (the command forgotten, or taken as the value)
        // gets the one line naming the flag, not the whole help.
        validate(args)?;
        let mut cmd = <Args as clap::CommandFactory>::command();
        return Ok(Parsed::Help(cmd.render_help().to_string()));
    }
    validate(args).map(|c| Parsed::Run(Box::new(c)))
}

/// Checks `--ca-file` whatever URL uses it: readable, and (with TLS built in) PEM certificates.
fn check_ca_file(path: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read(path).map_err(|e| crate::log::reason(&e))?;
    #[cfg(feature = "tls")]
    {
        use rustls::pki_types::pem::PemObject;
        let certs = rustls::pki_types::CertificateDer::pem_slice_iter(&text)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("not PEM certificates: {e}"))?;
        if certs.is_empty() {
            return Err("no PEM certificate in the file".into());
        }
    }
    #[cfg(not(feature = "tls"))]
    let _ = text;
    Ok(())
}

/// Validates raw [`Args`] into a [`Config`].
///
/// # Errors
/// [`UsageError::Value`] naming the flag, or [`UsageError::Conflict`].
pub fn validate(a: Args) -> Result<Config, UsageError> {
    let v = Values::parse(&a)?;
    v.check(&a)?;
    Ok(v.into_config(a))
}

/// Every flag's value, parsed.
struct Values {
    target: Option<IoTarget>,
    hook: Option<crate::http::Url>,
    bind_port: Option<u16>,
    period: Option<std::time::Duration>,
    keep: usize,
    grace: std::time::Duration,
    prefix: Option<crate::io::Prefix>,
    max_size: Option<u64>,
    json: bool,
    mode: Option<u32>,
}

impl Values {
    /// Parses each value with its flag's parser.
    fn parse(a: &Args) -> Result<Values, UsageError> {
        fn opt<T>(
            flag: &'static str,
            raw: &Option<String>,
            f: fn(&str) -> Result<T, String>,
        ) -> Result<Option<T>, UsageError> {
            raw.as_deref().map(|s| value(flag, s, f)).transpose()
        }
        if let Some(p) = a
            .stdout_prefix
            .as_deref()
            .filter(|p| p.len() > values::MAX_PREFIX)
        {
            // Not echoed: the value is too long for one line.
            return Err(UsageError::Conflict(format!(
                "--stdout-prefix is {} bytes long: a prefix is at most {} bytes",
                p.len(),
                values::MAX_PREFIX
            )));
        }
        let target = match a.io.as_deref().map(|os| (os, os.to_str())) {
            None => None,
            Some((_, Some(s))) => Some(value("--io", s, values::parse_io)?),
            // Not UTF-8: no URL scheme can match, but it is a valid Linux file name.
            Some((os, None)) => Some(IoTarget::File(os.into())),
        };
        Ok(Values {
            target,
            hook: opt("--web-hook", &a.web_hook, values::parse_hook_url)?,
            bind_port: opt("--bind-port", &a.bind_port, values::parse_port)?,
            period: opt("--log-rotate", &a.log_rotate, values::parse_rotate_period)?,
            keep: value("--log-keep", &a.log_keep, values::parse_keep)?,
            grace: value("--grace-period", &a.grace_period, values::parse_grace)?,
            prefix: opt("--stdout-prefix", &a.stdout_prefix, values::parse_prefix)?,
            max_size: opt("--log-max-size", &a.log_max_size, values::size::parse_size)?,
            json: opt("--log-format", &a.log_format, values::parse_log_format)?.unwrap_or(false),
            mode: opt("--log-mode", &a.log_mode, values::parse_log_mode)?,
        })
    }

    /// What the log options say about each other and about `--io`.
    fn check_logs(&self, a: &Args) -> Result<(), UsageError> {
        let conflict = |s: &str| Err(UsageError::Conflict(s.into()));
        let file = matches!(self.target, Some(IoTarget::File(_)));
        if self.max_size.is_some() && !file {
            return conflict("--log-max-size needs a file --io (--io /path/to/log)");
        }
        if self.mode.is_some() && !file {
            return conflict("--log-mode needs a file --io (--io /path/to/log)");
        }
        if self.json && self.prefix.is_some() {
            return conflict(
                "--log-format json and --stdout-prefix do not go together: each JSON line has its own stream and time",
            );
        }
        if self.json && a.timestamps {
            return conflict(
                "--log-format json and --timestamps do not go together: each JSON line has its own time",
            );
        }
        let network = matches!(self.target, Some(IoTarget::Net { .. } | IoTarget::Unix(_)));
        if a.no_pty && !network {
            return conflict("--no-pty needs a network --io (tcp://, tls:// or unix://)");
        }
        Ok(())
    }

    /// What the values say about each other, and `--ca-file`'s content.
    fn check(&self, a: &Args) -> Result<(), UsageError> {
        if self.period.is_some() && !matches!(self.target, Some(IoTarget::File(_))) {
            return Err(UsageError::Conflict(
                "--log-rotate needs a file --io (--io /path/to/log)".into(),
            ));
        }
        self.check_logs(a)?;
        if a.strict_port_binding && self.bind_port.is_none() {
            return Err(UsageError::Conflict(
                "--strict-port-binding needs --bind-port".into(),
            ));
        }
        if let Some(path) = &a.ca_file {
            if let Err(reason) = check_ca_file(path) {
                return Err(UsageError::Value {
                    flag: "--ca-file",
                    value: path.display().to_string(),
                    reason,
                });
            }
        }
        #[cfg(not(feature = "tls"))]
        {
            let tls_io = matches!(self.target, Some(IoTarget::Net { tls: true, .. }));
            if tls_io || self.hook.as_ref().is_some_and(|h| h.tls) {
                return Err(UsageError::Conflict(
                    "this dock was built without TLS: tls://, ssl:// and https:// are not available"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// One config per feature.
    fn into_config(self, a: Args) -> Config {
        let tls = TlsOptions {
            ca_file: a.ca_file,
            insecure: a.insecure,
        };
        let supervisor = SupervisorConfig {
            command: a.command,
            grace: self.grace,
        };
        let port = self.bind_port.map(|port| PortConfig {
            port,
            strict: a.strict_port_binding,
        });
        let keep = self.keep;
        Config {
            debug: a.debug,
            signals: SignalsConfig {
                process_group: a.process_group,
                thug: a.thug,
                winch_resizes_pty: false,
            },
            io: IoConfig {
                target: self.target,
                prefix: self.prefix,
                timestamps: a.timestamps,
                json: self.json,
                no_pty: a.no_pty,
                mode: self.mode.unwrap_or(crate::rotate::DEFAULT_MODE),
                tls: tls.clone(),
            },
            rotate: (self.period.is_some() || self.max_size.is_some()).then_some(RotateConfig {
                period: self.period,
                max_size: self.max_size,
                keep,
            }),
            ready: ReadyConfig {
                port: port.is_some(),
            },
            port,
            hook: self.hook.map(|url| HookConfig {
                url,
                tls,
                // `crashed` (and anything still queued) gets at most a grace period once the child
                // exited, and at least EXIT_FLOOR: `--grace-period 0` means "no time for
                // leftovers", not "drop the last status".
                flush: supervisor.flush_within(),
            }),
            supervisor,
        }
    }
}

#[cfg(test)]
mod tests;
