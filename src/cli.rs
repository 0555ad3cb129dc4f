//! The command line: clap [`Args`] (raw flags with `DOCK_*` environment fallbacks) validated once into a
//! typed [`Config`]. Contract: `dock-cli.md`. Options end at the first word that is not an option;
//! everything after it belongs to the child, untouched.
//!
//! Registers nothing.

pub mod values;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::FalseyValueParser;
use clap::{ArgAction, Parser};
use thiserror::Error;

pub use values::{Color, HookUrl, IoTarget, Prefix};

/// Raw flags as clap parses them; see [`Config`] for the validated form.
/// `--log-keep` when not given (archives).
const DEFAULT_LOG_KEEP: &str = "5";
/// `--grace-period` when not given (seconds).
const DEFAULT_GRACE_PERIOD: &str = "5";

#[derive(Debug, Parser)]
#[command(
    name = "dock",
    version,
    args_override_self = true,
    about = "A micro init for containers: runs COMMAND as PID 1, forwards signals, reaps zombies,\n\
             tears the process tree down and exits with COMMAND's status.",
    disable_version_flag = true,
    disable_help_subcommand = true,
    after_help = "Every option can also be set as DOCK_<NAME> in the environment \
                  (DOCK_IO, DOCK_WEB_HOOK, ...); the command line wins."
)]
pub struct Args {
    /// Where the child's stdio goes: file:///abs/path, a bare path, tcp://host:port,
    /// tls://host:port (alias ssl://), unix:///path
    #[arg(long, env = "DOCK_IO", value_name = "URL", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub io: Option<OsString>,
    /// PUT a JSON status (starting, running, crashed) to this http:// or https:// URL
    #[arg(
        long,
        env = "DOCK_WEB_HOOK",
        value_name = "URL",
        allow_hyphen_values = true
    )]
    pub web_hook: Option<String>,
    /// The child is running only once this TCP port is listening (1-65535)
    #[arg(
        long,
        env = "DOCK_BIND_PORT",
        value_name = "PORT",
        allow_hyphen_values = true
    )]
    pub bind_port: Option<String>,
    /// ... and only if the listener is dock or one of its descendants
    #[arg(long, env = "DOCK_STRICT_PORT_BINDING", action = ArgAction::SetTrue,
          value_parser = FalseyValueParser::new())]
    pub strict_port_binding: bool,
    /// Rotate the --io file every HOURS, or every 30s, 90m, 12h, 7d
    #[arg(
        long,
        env = "DOCK_LOG_ROTATE",
        value_name = "PERIOD",
        allow_hyphen_values = true
    )]
    pub log_rotate: Option<String>,
    /// Rotated archives to keep (the newest N)
    #[arg(
        long,
        env = "DOCK_LOG_KEEP",
        value_name = "N",
        default_value = DEFAULT_LOG_KEEP,
        allow_hyphen_values = true
    )]
    pub log_keep: String,
    /// Prefix every output line with P, in bold COLOR (white green blue magenta yellow cyan red)
    #[arg(
        long,
        env = "DOCK_STDOUT_PREFIX",
        value_name = "P[:COLOR]",
        allow_hyphen_values = true
    )]
    pub stdout_prefix: Option<String>,
    /// Send SIGKILL for a stop signal (INT, TERM, QUIT) the child ignores, or keeps blocked 100 ms
    #[arg(long, env = "DOCK_THUG", action = ArgAction::SetTrue, value_parser = FalseyValueParser::new())]
    pub thug: bool,
    /// Seconds between SIGTERM and SIGKILL during teardown
    #[arg(
        long,
        env = "DOCK_GRACE_PERIOD",
        value_name = "SECS",
        default_value = DEFAULT_GRACE_PERIOD,
        allow_hyphen_values = true
    )]
    pub grace_period: String,
    /// Forward signals to the child's whole process group
    #[arg(short = 'g', long, env = "DOCK_PROCESS_GROUP", action = ArgAction::SetTrue,
          value_parser = FalseyValueParser::new())]
    pub process_group: bool,
    /// Extra trust roots (PEM) for tls:// and https://
    #[arg(
        long,
        env = "DOCK_CA_FILE",
        value_name = "PATH",
        allow_hyphen_values = true
    )]
    pub ca_file: Option<PathBuf>,
    /// Skip TLS certificate verification
    #[arg(long, env = "DOCK_INSECURE", action = ArgAction::SetTrue, value_parser = FalseyValueParser::new())]
    pub insecure: bool,
    /// Debug log on stderr
    #[arg(short = 'd', long, env = "DOCK_DEBUG", action = ArgAction::SetTrue,
          value_parser = FalseyValueParser::new())]
    pub debug: bool,
    /// Print the version
    #[arg(short = 'v', visible_short_alias = 'V', long, action = ArgAction::Version)]
    pub version: Option<bool>,
    /// The command to run and its arguments
    #[arg(value_name = "COMMAND", trailing_var_arg = true, allow_hyphen_values = false,
          value_parser = clap::value_parser!(OsString))]
    pub command: Vec<OsString>,
}

/// Everything dock was asked to do, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The child's argv; never empty.
    pub command: Vec<OsString>,
    /// `-d`.
    pub debug: bool,
    /// `--thug`.
    pub thug: bool,
    /// `--grace-period` (default 5 s).
    pub grace: Duration,
    /// `-g`: forward to the child's process group.
    pub process_group: bool,
    /// `--io`; `None`: inherit dock's stdio.
    pub io: Option<IoTarget>,
    /// `--stdout-prefix`.
    pub prefix: Option<Prefix>,
    /// `--log-rotate` period (only with a file `--io`).
    pub rotate: Option<Duration>,
    /// `--log-keep` (default 5, ≥ 1).
    pub keep: usize,
    /// `--bind-port`.
    pub bind_port: Option<u16>,
    /// `--strict-port-binding`.
    pub strict_port: bool,
    /// `--web-hook`.
    pub hook: Option<HookUrl>,
    /// `--ca-file` (checked readable at parse time).
    pub ca_file: Option<PathBuf>,
    /// `--insecure`.
    pub insecure: bool,
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

/// The first option value in `argv` (program name first; up to the command) that its flag's parser
/// refuses, as [`validate`] would report it. Only consulted when clap refused the command line.
///
/// Also, when `unknown` (the argument clap did not know) comes right after a value that does not
/// start with `-` (`--io sh -c ...`, where `sh` is a valid path): the value was most likely
/// forgotten, and the line says so.
fn first_bad_value(argv: &[OsString], unknown: Option<&str>) -> Option<UsageError> {
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

/// The environment variables clap reads for [`Args`] (a unit test keeps the list whole).
const ENV_NAMES: [&str; 13] = [
    "DOCK_IO",
    "DOCK_WEB_HOOK",
    "DOCK_BIND_PORT",
    "DOCK_STRICT_PORT_BINDING",
    "DOCK_LOG_ROTATE",
    "DOCK_LOG_KEEP",
    "DOCK_STDOUT_PREFIX",
    "DOCK_THUG",
    "DOCK_GRACE_PERIOD",
    "DOCK_PROCESS_GROUP",
    "DOCK_CA_FILE",
    "DOCK_INSECURE",
    "DOCK_DEBUG",
];

/// The common case without clap: `dock -- COMMAND...` or `dock COMMAND...` (first word not an option)
/// with no `DOCK_*` variable in the environment gives every option its default, exactly what clap
/// would produce (a unit test compares both), for a fraction of the start-up cost: building clap's
/// parser is most of the instructions dock runs before its child starts. `None`: anything else,
/// which clap parses.
fn without_options(argv: &[OsString]) -> Option<Args> {
    let command = match argv.get(1)?.as_encoded_bytes() {
        b"--" => &argv[2..],
        [b'-', ..] => return None,
        _ => &argv[1..],
    };
    if command.is_empty() || ENV_NAMES.iter().any(|n| std::env::var_os(n).is_some()) {
        return None;
    }
    Some(Args {
        io: None,
        web_hook: None,
        bind_port: None,
        strict_port_binding: false,
        log_rotate: None,
        log_keep: DEFAULT_LOG_KEEP.into(),
        stdout_prefix: None,
        thug: false,
        grace_period: DEFAULT_GRACE_PERIOD.into(),
        process_group: false,
        ca_file: None,
        insecure: false,
        debug: false,
        version: None,
        command: command.to_vec(),
    })
}

/// Checks `--ca-file` whatever URL uses it: readable, and (with TLS built in) PEM certificates.
fn check_ca_file(path: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read(path).map_err(|e| crate::error::os_reason(&e))?;
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
    let io = match a.io.as_deref().map(|os| (os, os.to_str())) {
        None => None,
        Some((_, Some(s))) => Some(value("--io", s, values::parse_io)?),
        // Not UTF-8: no URL scheme can match, but it is a valid Linux file name.
        Some((os, None)) => Some(IoTarget::File(PathBuf::from(os))),
    };
    let hook = a
        .web_hook
        .as_deref()
        .map(|s| value("--web-hook", s, values::parse_hook_url))
        .transpose()?;
    let bind_port = a
        .bind_port
        .as_deref()
        .map(|s| value("--bind-port", s, values::parse_port))
        .transpose()?;
    let rotate = a
        .log_rotate
        .as_deref()
        .map(|s| value("--log-rotate", s, values::parse_rotate_period))
        .transpose()?;
    let keep = value("--log-keep", &a.log_keep, values::parse_keep)?;
    let grace = value("--grace-period", &a.grace_period, values::parse_grace)?;
    let prefix = a
        .stdout_prefix
        .as_deref()
        .map(|s| value("--stdout-prefix", s, values::parse_prefix))
        .transpose()?;
    if rotate.is_some() && !matches!(io, Some(IoTarget::File(_))) {
        return Err(UsageError::Conflict(
            "--log-rotate needs a file --io (--io /path/to/log)".into(),
        ));
    }
    if a.strict_port_binding && bind_port.is_none() {
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
        let tls_io = matches!(io, Some(IoTarget::Net { tls: true, .. }));
        if tls_io || hook.as_ref().is_some_and(|h| h.tls) {
            return Err(UsageError::Conflict(
                "this dock was built without TLS: tls://, ssl:// and https:// are not available"
                    .into(),
            ));
        }
    }
    Ok(Config {
        command: a.command,
        debug: a.debug,
        thug: a.thug,
        grace,
        process_group: a.process_group,
        io,
        prefix,
        rotate,
        keep,
        bind_port,
        strict_port: a.strict_port_binding,
        hook,
        ca_file: a.ca_file,
        insecure: a.insecure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, UsageError> {
        match parse(std::iter::once("dock").chain(args.iter().copied()))? {
            Parsed::Run(c) => Ok(*c),
            other => panic!("expected a config, got {other:?}"),
        }
    }

    #[test]
    fn the_path_without_options_gives_what_clap_gives() {
        for argv in [
            &["dock", "--", "sh", "-c", "exit 3"][..],
            &["dock", "ls", "-la", "--io", "x"],
            &["dock", "--", "-x", "--"],
            &["dock", "--", "--io", "x"],
        ] {
            let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
            let fast = validate(without_options(&argv).unwrap()).unwrap();
            let clap = validate(Args::try_parse_from(&argv).unwrap()).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{clap:?}"), "{argv:?}");
        }
        for argv in [
            &["dock"][..],
            &["dock", "--"],
            &["dock", "-d", "ls"],
            &["dock", "--io=x", "ls"],
        ] {
            let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
            assert!(without_options(&argv).is_none(), "{argv:?}");
        }
    }

    #[test]
    fn options_end_at_the_first_command_word() {
        let c = run(&["-d", "ls", "-la", "--io", "x"]).unwrap();
        assert!(c.debug);
        assert_eq!(c.command, ["ls", "-la", "--io", "x"]);
        assert!(c.io.is_none());
        let c = run(&["--", "-weird"]).unwrap();
        assert_eq!(c.command, ["-weird"]);
        let c = run(&["--grace-period=1", "help"]).unwrap();
        assert_eq!(c.command, ["help"]);
        assert_eq!(c.grace, Duration::from_secs(1));
        assert_eq!(run(&["h"]).unwrap().command, ["h"]);
    }

    #[test]
    fn bad_usage_is_one_line_naming_the_flag() {
        let e = run(&["--web-hook", "http://h/\r\nX: y", "true"])
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\n') && e.contains("\\r\\n"), "{e}");
        // A flag given twice: the last one wins (as most tools), not an error.
        assert_eq!(
            run(&[
                "-d",
                "-d",
                "--grace-period",
                "1",
                "--grace-period",
                "2",
                "true"
            ])
            .unwrap()
            .grace,
            Duration::from_secs(2)
        );
        let e = run(&["--nope", "true"]).unwrap_err().to_string();
        assert!(e.contains("--nope") && !e.contains('\n'), "{e}");
        let e = run(&["--bind-port", "0", "true"]).unwrap_err().to_string();
        assert!(e.starts_with("--bind-port '0'"), "{e}");
        for flag in [
            "--bind-port",
            "--grace-period",
            "--log-keep",
            "--log-rotate",
        ] {
            let e = run(&[flag, "-1", "true"]).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{flag} '-1'")), "{e}");
        }
        let e = run(&["--log-rotate", "1h", "true"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--log-rotate"), "{e}");
        assert!(run(&["--io", "ftp://x", "true"]).is_err());
        assert!(run(&["--ca-file", "/nonexistent/ca.pem", "true"]).is_err());
        assert!(matches!(parse(["dock"]).unwrap(), Parsed::Help(_)));
        // A value that starts with '-' is the flag's value (`--flag value` like `--flag=value`), so
        // a bad one is named with its flag.
        assert_eq!(
            run(&["--stdout-prefix", "-> ", "true"])
                .unwrap()
                .prefix
                .unwrap()
                .text,
            "-> "
        );
        for (flag, value) in [
            ("--io", "-x"),
            ("--web-hook", "--thug"),
            ("--grace-period", "-d"),
        ] {
            let e = run(&[flag, value, "true"]).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{flag} '{value}'")), "{e}");
        }
        // A forgotten value before a command with options: the value is named, not the "-c".
        let e = run(&["--grace-period", "sh", "-c", "true"])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--grace-period 'sh'"), "{e}");
        let e = run(&["-d", "--io=x", "--bind-port", "sh", "-c", "true"])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--bind-port 'sh'"), "{e}");
        // A value that is valid on its own: the unknown option after it gets the hint.
        let e = run(&["--io", "sh", "-c", "true"]).unwrap_err().to_string();
        assert_eq!(
            e,
            "unexpected argument '-c' found after --io 'sh': was the value of --io forgotten?"
        );
        // Good values and a real unknown option: clap's own line.
        let e = run(&["--grace-period", "2", "--nope", "true"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--nope"), "{e}");
        // No command, but a bad value: the value's one line, not the help.
        let e = parse(["dock", "--grace-period", "abc"])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--grace-period 'abc'"), "{e}");
        assert!(matches!(parse(["dock", "-V"]).unwrap(), Parsed::Print(_)));
        assert!(matches!(parse(["dock", "-v"]).unwrap(), Parsed::Print(_)));
    }
}
