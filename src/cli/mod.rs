//! The command line: clap [`Args`] (raw flags with `DOCK_*` environment fallbacks) validated once
//! into a typed [`Config`] made of one small config struct per feature (ripgrep's low/high args
//! split); no feature sees clap or this module. Options end at the first word that is not an option;
//! everything after it belongs to the child, untouched. The contract is the README's usage table.
//!
//! Registers nothing.

mod args;
mod checks;
mod help;
mod hint;
mod origin;
mod ready;
pub mod values;

use std::ffi::OsString;

use thiserror::Error;

use crate::hook::HookConfig;
use crate::io::{IoConfig, IoTarget};
use crate::ports::PortConfig;
use crate::ready::http::HttpCheckConfig;
use crate::ready::ReadyConfig;
use crate::rotate::RotateConfig;
use crate::signals::spec::{ExitRemap, Rewrites};
use crate::signals::SignalsConfig;
use crate::supervisor::user::UserSpec;
use crate::supervisor::SupervisorConfig;
use crate::tls::TlsOptions;
use args::without_options;
pub use args::Args;
pub(crate) use hint::first_bad_value;
use values::process;

/// Everything dock was asked to do, validated: one config per feature.
#[derive(Debug, Clone)]
pub struct Config {
    /// `-d`.
    pub debug: bool,
    /// `--pdeathsig`: the signal dock asks for when its parent dies.
    pub pdeathsig: Option<i32>,
    /// `--remap-exit`: applied to the main child's status only (not to 2, 126, 127 of dock's own).
    pub remap_exit: ExitRemap,
    /// The command, `--grace-period`, `--user`.
    pub supervisor: SupervisorConfig,
    /// `-g`, `--thug`, `--rewrite`.
    pub signals: SignalsConfig,
    /// `--io`, `--stdout-prefix`, and the TLS options for `tls://`.
    pub io: IoConfig,
    /// `--log-rotate`, `--log-keep` (only with a file `--io`).
    pub rotate: Option<RotateConfig>,
    /// `--bind-port`, `--strict-port-binding`.
    pub port: Option<PortConfig>,
    /// Which readiness conditions gate `running` (`--bind-port`'s included), `--ready-timeout`,
    /// `--ready-file`.
    pub ready: ReadyConfig,
    /// `--web-hook`, with the TLS options for `https://`.
    pub hook: Option<HookConfig>,
    /// Lines to log once dock runs: options that do nothing (from the environment), credentials on
    /// the command line.
    pub warnings: Vec<String>,
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
    /// The COMMAND is the empty string (`dock ''`).
    #[error("empty command: the first word after the options is ''")]
    EmptyCommand,
    /// A flag's value is invalid.
    #[error("{flag} '{value}': {reason}")]
    Value {
        /// The flag, e.g. `--io`, or its `DOCK_*` variable when the value came from there.
        flag: String,
        /// The value as given, shown safely ([`shown`]).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A flag's value is not UTF-8 (only `--io` and `--ca-file`, paths, may be anything).
    #[error("{0}: the value is not valid UTF-8")]
    NotUtf8(String),
    /// Two flags do not go together, or one needs another.
    #[error("{0}")]
    Conflict(String),
    /// `-v` (or `-V`, `--version`, named here) before a command: tini's and dumb-init's `-v` is
    /// verbose, dock's prints the version; exiting 0 then would look like a success to a restart
    /// policy.
    #[error("{0} prints the version; for debug output use -d")]
    VersionWithCommand(&'static str),
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

/// `s` with control characters escaped (a CR/LF in a URL): an error line quoting a value stays one
/// line, also where a parser's reason quotes it (`--rewrite 'T\n': 'T\n': expected FROM:TO`).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Longest value quoted whole in a message, chars; a longer one is cut (a 240 kB host name must not
/// make a 240 kB line).
const SHOWN_MAX: usize = 80;

/// `raw` as a message quotes it: a URL's userinfo and query masked (they are credentials often
/// enough), control characters escaped (a CR/LF in a URL: the message stays one line), and cut after
/// [`SHOWN_MAX`] characters, saying how long it was.
fn shown(raw: &str) -> String {
    let masked = crate::log::mask(raw, &crate::log::url_secrets(raw));
    let mut out = String::new();
    for (i, c) in masked.chars().enumerate() {
        if i == SHOWN_MAX {
            out.push_str(&format!("... ({} bytes)", raw.len()));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs the parser of `flag` (named `name` in messages) on `raw`, naming the flag and the value in
/// the error; whatever the reason quotes of a URL's secrets is masked too.
fn value<T>(
    name: impl Into<String>,
    raw: &str,
    f: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, UsageError> {
    f(raw).map_err(|reason| UsageError::Value {
        flag: name.into(),
        value: shown(raw),
        reason: one_line(&crate::log::mask(&reason, &crate::log::url_secrets(raw))),
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
    let parsed = <Args as clap::CommandFactory>::command()
        .try_get_matches_from(&argv)
        .and_then(|m| {
            let mut a = <Args as clap::FromArgMatches>::from_arg_matches(&m)?;
            a.sources = origin::Sources::from_matches(&m);
            Ok(a)
        });
    let args = match parsed {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp => Ok(Parsed::Print(help::HELP.into())),
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
                    // A misspelled flag: the flag it resembles, on the same line.
                    let tip = unknown
                        .and_then(hint::similar_flag)
                        .map(|s| format!("; did you mean '{s}'?"))
                        .unwrap_or_default();
                    Err(UsageError::Clap(format!("{first}{tip}")))
                }
            };
        }
    };
    if args.help {
        return Ok(Parsed::Print(help::HELP.into()));
    }
    if args.version {
        return version(&argv, args.command.len());
    }
    if args.command.is_empty() {
        // A bad value first: `dock --grace-period abc` (the command forgotten, or taken as the value)
        // gets the one line naming the flag, not the whole help.
        validate(args)?;
        return Ok(Parsed::Help(help::HELP.into()));
    }
    validate(args).map(|c| Parsed::Run(Box::new(c)))
}

/// `-v`, `-V` or `--version` was given: the version (before any value is checked, as clap's own
/// version flag does), or, when a command of `command` words ends `argv`, the usage error that
/// names the flag as written among the options.
fn version(argv: &[OsString], command: usize) -> Result<Parsed, UsageError> {
    if command == 0 {
        return Ok(Parsed::Print(
            concat!("dock ", env!("CARGO_PKG_VERSION"), "\n").into(),
        ));
    }
    let options = &argv[1..argv.len().saturating_sub(command).max(1)];
    let short_v = |w: &&OsString| {
        let b = w.as_encoded_bytes();
        b.len() > 1 && b[0] == b'-' && b[1] != b'-' && b.contains(&b'V')
    };
    let flag = if options.iter().any(|w| w == "--version") {
        "--version"
    } else if options.iter().any(|w| short_v(&w)) {
        "-V"
    } else {
        "-v"
    };
    Err(UsageError::VersionWithCommand(flag))
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

/// Parses `raw`, the value of `flag` if given, with `f`; refuses a value that is not UTF-8. Errors
/// name the flag, or its `DOCK_*` variable when the value came from there.
fn parsed<T>(
    src: &origin::Sources,
    flag: &'static str,
    raw: Option<&OsString>,
    f: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, UsageError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let text = raw
        .to_str()
        .ok_or_else(|| UsageError::NotUtf8(src.name(flag)))?;
    value(src.name(flag), text, f).map(Some)
}

/// [`parsed`] for a repeatable flag whose every value is a list: the items of all, in order.
fn parsed_all<T>(
    src: &origin::Sources,
    flag: &'static str,
    raws: &[OsString],
    f: fn(&str) -> Result<Vec<T>, String>,
) -> Result<Vec<T>, UsageError> {
    let mut items = Vec::new();
    for raw in raws {
        items.extend(parsed(src, flag, Some(raw), f)?.unwrap_or_default());
    }
    Ok(items)
}

/// Validates raw [`Args`] into a [`Config`].
///
/// # Errors
/// [`UsageError::Value`] naming the flag (or its `DOCK_*` variable), or [`UsageError::Conflict`].
pub fn validate(a: Args) -> Result<Config, UsageError> {
    if a.command.first().is_some_and(|c| c.is_empty()) {
        return Err(UsageError::EmptyCommand);
    }
    let mut v = Values::parse(&a)?;
    let warnings = v.check(&a)?;
    Ok(v.into_config(a, warnings))
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
    /// `DOCK_WEB_HOOK_SECRET` (environment only: a secret on the command line is readable by all).
    secret: Option<Vec<u8>>,
    rewrite: Vec<(i32, i32)>,
    remap_exit: Vec<(u8, u8)>,
    pdeathsig: Option<i32>,
    user: Option<UserSpec>,
    ready: ready::Readiness,
    /// `--log-max-size`, bytes.
    max_size: Option<u64>,
    /// `--log-format json`.
    json: bool,
    /// `--log-mode`.
    mode: Option<u32>,
    /// `--no-pty`.
    no_pty: bool,
}

impl Values {
    /// Parses each value with its flag's parser; a value that is not UTF-8 is refused naming its
    /// flag (or variable).
    fn parse(a: &Args) -> Result<Values, UsageError> {
        let src = &a.sources;
        let target = match a.io.as_deref().map(|os| (os, os.to_str())) {
            None => None,
            Some((_, Some(s))) => Some(value(src.name("--io"), s, values::parse_io)?),
            // Not UTF-8: no URL scheme can match, but it is a valid Linux file name.
            Some((os, None)) => Some(IoTarget::File(os.into())),
        };
        let keep = parsed(src, "--log-keep", Some(&a.log_keep), values::parse_keep)?;
        let grace = parsed(
            src,
            "--grace-period",
            Some(&a.grace_period),
            values::parse_grace,
        )?;
        Ok(Values {
            target,
            hook: parsed(
                src,
                "--web-hook",
                a.web_hook.as_ref(),
                values::parse_hook_url,
            )?,
            bind_port: parsed(src, "--bind-port", a.bind_port.as_ref(), values::parse_port)?,
            period: parsed(
                src,
                "--log-rotate",
                a.log_rotate.as_ref(),
                values::parse_rotate_period,
            )?,
            keep: keep.unwrap_or(1),
            grace: grace.unwrap_or_default(),
            prefix: parsed(
                src,
                "--stdout-prefix",
                a.stdout_prefix.as_ref(),
                values::parse_prefix,
            )?,
            secret: checks::hook_secret()?,
            rewrite: parsed_all(src, "--rewrite", &a.rewrite, process::parse_rewrites)?,
            remap_exit: parsed_all(
                src,
                "--remap-exit",
                &a.remap_exit,
                process::parse_remap_exits,
            )?,
            pdeathsig: parsed(
                src,
                "--pdeathsig",
                a.pdeathsig.as_ref(),
                process::parse_pdeathsig,
            )?,
            user: parsed(src, "--user", a.user.as_ref(), process::parse_user)?,
            ready: ready::Readiness::parse(a)?,
            max_size: parsed(
                src,
                "--log-max-size",
                a.log_max_size.as_ref(),
                values::size::parse_size,
            )?,
            json: parsed(
                src,
                "--log-format",
                a.log_format.as_ref(),
                values::parse_log_format,
            )?
            .unwrap_or(false),
            mode: parsed(
                src,
                "--log-mode",
                a.log_mode.as_ref(),
                values::parse_log_mode,
            )?,
            no_pty: a.no_pty,
        })
    }

    /// What the values say about each other, and `--ca-file`'s content: an error, or the warnings
    /// to log once dock runs.
    fn check(&mut self, a: &Args) -> Result<Vec<String>, UsageError> {
        let mut warnings = Vec::new();
        checks::no_op_options(self, a, &mut warnings)?;
        checks::log_formats(self, a)?;
        // Read only when used: an ignored DOCK_CA_FILE is not an error.
        if let Some(path) = a.ca_file.as_ref().filter(|_| self.uses_tls()) {
            if let Err(reason) = check_ca_file(path) {
                return Err(UsageError::Value {
                    flag: a.sources.name("--ca-file"),
                    value: shown(&path.to_string_lossy()),
                    reason,
                });
            }
        }
        #[cfg(not(feature = "tls"))]
        if self.uses_tls() {
            return Err(UsageError::Conflict(
                "this dock was built without TLS: tls://, ssl:// and https:// are not available"
                    .into(),
            ));
        }
        checks::credentials_on_the_command_line(self, a, &mut warnings);
        Ok(warnings)
    }

    /// A URL that speaks TLS is given: `--ca-file` and `--insecure` have something to act on.
    /// (Every TLS URL option belongs here: `--io tls://`, `--web-hook https://`,
    /// `--ready-http https://`.)
    fn uses_tls(&self) -> bool {
        let https = |u: &Option<crate::http::Url>| u.as_ref().is_some_and(|u| u.tls);
        matches!(self.target, Some(IoTarget::Net { tls: true, .. }))
            || https(&self.hook)
            || https(&self.ready.http)
    }

    /// One config per feature.
    fn into_config(self, a: Args, warnings: Vec<String>) -> Config {
        let tls = TlsOptions {
            ca_file: a.ca_file,
            insecure: a.insecure,
        };
        let supervisor = SupervisorConfig {
            command: a.command,
            grace: self.grace,
            user: self.user.map(|u| UserSpec {
                origin: a.sources.name("--user"),
                ..u
            }),
        };
        let port = self.bind_port.map(|port| PortConfig {
            port,
            strict: a.strict_port_binding,
        });
        let keep = self.keep;
        let secret = self.secret.map(crate::hook::sign::Secret::new);
        Config {
            debug: a.debug,
            pdeathsig: self.pdeathsig,
            remap_exit: ExitRemap::new(&self.remap_exit),
            signals: SignalsConfig {
                process_group: a.process_group,
                thug: a.thug,
                rewrite: Rewrites::new(&self.rewrite),
                winch_resizes_pty: false,
            },
            io: IoConfig {
                target: self.target,
                prefix: self.prefix,
                timestamps: a.timestamps,
                json: self.json,
                no_pty: self.no_pty,
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
                notify: self.ready.notify,
                fd: self.ready.fd,
                http: self.ready.http.map(|url| HttpCheckConfig {
                    url,
                    tls: tls.clone(),
                }),
                timeout: self.ready.timeout,
                file: self.ready.file,
            },
            port,
            hook: self.hook.map(|url| HookConfig {
                url,
                tls,
                // `crashed` (and anything still queued) gets at most a grace period once the child
                // exited, and at least EXIT_FLOOR: `--grace-period 0` means "no time for
                // leftovers", not "drop the last status".
                flush: supervisor.flush_within(),
                secret,
            }),
            supervisor,
            warnings,
        }
    }
}

#[cfg(test)]
mod tests;
