//! The raw flags as clap parses them ([`Args`], with `DOCK_*` environment fallbacks), and the
//! common case that needs no clap at all ([`without_options`]).
//!
//! Registers nothing.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::FalseyValueParser;
use clap::{ArgAction, Parser};

use super::origin::Sources;

/// `--log-keep` when not given (archives).
const DEFAULT_LOG_KEEP: &str = "5";
/// `--grace-period` when not given (seconds).
const DEFAULT_GRACE_PERIOD: &str = "5";

/// Raw flags as clap parses them; see [`super::Config`] for the validated form.

// The help text is `super::help::HELP`, written by hand: clap's help and usage rendering are ~40 kB
// of the static binary's size budget. A unit test checks that it names every option.
#[derive(Debug, Parser)]
#[command(
    name = "dock",
    version,
    args_override_self = true,
    disable_version_flag = true,
    disable_help_flag = true,
    disable_help_subcommand = true
)]
pub struct Args {
    /// Where the child's stdio goes: file:///abs/path, a bare path, tcp://host:port,
    /// tls://host:port (alias ssl://), unix:///path
    #[arg(long, env = "DOCK_IO", value_name = "URL", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub io: Option<OsString>,
    /// PUT a JSON status (starting, running, crashed) to this http:// or https:// URL
    #[arg(long, env = "DOCK_WEB_HOOK", value_name = "URL", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub web_hook: Option<OsString>,
    /// The child is running only once this TCP port is listening (1-65535)
    #[arg(long, env = "DOCK_BIND_PORT", value_name = "PORT", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub bind_port: Option<OsString>,
    /// ... and only if the listener is dock or one of its descendants
    #[arg(long, env = "DOCK_STRICT_PORT_BINDING", action = ArgAction::SetTrue,
          value_parser = FalseyValueParser::new())]
    pub strict_port_binding: bool,
    /// Rotate the --io file every HOURS, or every 30s, 90m, 12h, 7d
    #[arg(long, env = "DOCK_LOG_ROTATE", value_name = "PERIOD", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub log_rotate: Option<OsString>,
    /// Rotated archives to keep (the newest N)
    #[arg(long, env = "DOCK_LOG_KEEP", value_name = "N", default_value = DEFAULT_LOG_KEEP,
          allow_hyphen_values = true, value_parser = clap::value_parser!(OsString))]
    pub log_keep: OsString,
    /// Prefix every output line with P, in bold COLOR (white green blue magenta yellow cyan red)
    #[arg(long, env = "DOCK_STDOUT_PREFIX", value_name = "P[:COLOR]", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub stdout_prefix: Option<OsString>,
    /// Send SIGKILL for a stop signal (INT, TERM, QUIT) the child ignores, or keeps blocked 100 ms
    #[arg(long, env = "DOCK_THUG", action = ArgAction::SetTrue, value_parser = FalseyValueParser::new())]
    pub thug: bool,
    /// Seconds between SIGTERM and SIGKILL during teardown
    #[arg(long, env = "DOCK_GRACE_PERIOD", value_name = "SECS",
          default_value = DEFAULT_GRACE_PERIOD, allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub grace_period: OsString,
    /// Forward signals to the child's whole process group
    #[arg(short = 'g', long, env = "DOCK_PROCESS_GROUP", action = ArgAction::SetTrue,
          value_parser = FalseyValueParser::new())]
    pub process_group: bool,
    /// NOTIFY_SOCKET for the child (sd_notify): READY=1 readies it, STATUS= goes to the hook. Bare: an
    /// abstract socket dock names; =/path or =@name to choose
    #[arg(long, env = "DOCK_READY_NOTIFY", value_name = "ADDR", num_args = 0..=1,
          require_equals = true, default_missing_value = "1", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub ready_notify: Option<OsString>,
    /// The child gets a pipe's write end as fd N (3 or more); a newline on it readies the child
    #[arg(long, env = "DOCK_READY_FD", value_name = "N", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub ready_fd: Option<OsString>,
    /// GET this http:// or https:// URL until a 2xx readies the child
    #[arg(long, env = "DOCK_READY_HTTP", value_name = "URL", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub ready_http: Option<OsString>,
    /// Not ready within SECS: report crashed, tear down, exit 124
    #[arg(long, env = "DOCK_READY_TIMEOUT", value_name = "SECS", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub ready_timeout: Option<OsString>,
    /// Created when the child is ready, removed when teardown starts
    #[arg(long, env = "DOCK_READY_FILE", value_name = "PATH", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub ready_file: Option<OsString>,
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
    // Signals and the child's process (issue 18).
    /// Send a forwarded signal FROM as TO instead; TO 0 drops it (repeatable, or a comma list)
    #[arg(short = 'r', long, env = "DOCK_REWRITE", value_name = "FROM:TO",
          action = ArgAction::Append, allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub rewrite: Vec<OsString>,
    /// Exit with TO (default 0) where the child's status is CODE (repeatable, or a comma list)
    #[arg(short = 'e', long, env = "DOCK_REMAP_EXIT", value_name = "CODE[:TO]",
          action = ArgAction::Append, allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub remap_exit: Vec<OsString>,
    /// Get SIG when dock's parent dies, and forward it like any signal
    #[arg(short = 'p', long, env = "DOCK_PDEATHSIG", value_name = "SIG", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub pdeathsig: Option<OsString>,
    /// Run the child as USER (name or uid), GROUP, their groups and HOME; dock stays root
    #[arg(short = 'u', long, env = "DOCK_USER", value_name = "USER[:GROUP]",
          allow_hyphen_values = true, value_parser = clap::value_parser!(OsString))]
    pub user: Option<OsString>,
    /// Debug log on stderr
    #[arg(short = 'd', long, env = "DOCK_DEBUG", action = ArgAction::SetTrue,
          value_parser = FalseyValueParser::new())]
    pub debug: bool,
    // Logs (issues 15, 16): size rotation, stamps, JSON lines, file mode, shipping without a pty.
    /// Rotate the --io file before it passes SIZE bytes (or 512k, 10M, 1G)
    #[arg(long, env = "DOCK_LOG_MAX_SIZE", value_name = "SIZE", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub log_max_size: Option<OsString>,
    /// Start every output line with the UTC time it was read: 2026-12-02T15:04:05.123456Z
    #[arg(long, env = "DOCK_TIMESTAMPS", action = ArgAction::SetTrue,
          value_parser = FalseyValueParser::new())]
    pub timestamps: bool,
    /// raw (default), or json: one Docker json-file object per line
    #[arg(long, env = "DOCK_LOG_FORMAT", value_name = "FORMAT", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub log_format: Option<OsString>,
    /// Mode (octal) of the --io file dock creates and of its archives [default: 0600]
    #[arg(long, env = "DOCK_LOG_MODE", value_name = "MODE", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub log_mode: Option<OsString>,
    /// With a network --io: plain pipes, output shipped as bytes, reconnecting with a bounded buffer
    #[arg(long, env = "DOCK_NO_PTY", action = ArgAction::SetTrue,
          value_parser = FalseyValueParser::new())]
    pub no_pty: bool,
    /// Print the version (not verbose: that is -d)
    // A plain switch, not clap's Version action, which prints and exits at once: `-v` before a
    // command is refused instead (tini's and dumb-init's -v is verbose).
    #[arg(short = 'v', visible_short_alias = 'V', long, action = ArgAction::SetTrue)]
    pub version: bool,
    /// Print help
    #[arg(short = 'h', long, action = ArgAction::SetTrue)]
    pub help: bool,
    /// The command to run and its arguments
    #[arg(value_name = "COMMAND", trailing_var_arg = true, allow_hyphen_values = false,
          value_parser = clap::value_parser!(OsString))]
    pub command: Vec<OsString>,
    /// Where each value came from (the command line, a `DOCK_*` variable, a default), for messages
    /// that name what the user actually set.
    #[arg(skip)]
    pub sources: Sources,
}

/// The environment variables clap reads for [`Args`] (a unit test keeps the list whole).
pub(super) const ENV_NAMES: [&str; 27] = [
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
    "DOCK_READY_NOTIFY",
    "DOCK_READY_FD",
    "DOCK_READY_HTTP",
    "DOCK_READY_TIMEOUT",
    "DOCK_READY_FILE",
    "DOCK_CA_FILE",
    "DOCK_INSECURE",
    "DOCK_DEBUG",
    "DOCK_REWRITE",
    "DOCK_REMAP_EXIT",
    "DOCK_PDEATHSIG",
    "DOCK_USER",
    "DOCK_LOG_MAX_SIZE",
    "DOCK_TIMESTAMPS",
    "DOCK_LOG_FORMAT",
    "DOCK_LOG_MODE",
    "DOCK_NO_PTY",
];

/// The common case without clap: `dock -- COMMAND...` or `dock COMMAND...` (first word not an option)
/// with no `DOCK_*` variable in the environment gives every option its default, exactly what clap
/// would produce (a unit test compares both), for a fraction of the start-up cost: building clap's
/// parser is most of the instructions dock runs before its child starts. `None`: anything else,
/// which clap parses.
pub(super) fn without_options(argv: &[OsString]) -> Option<Args> {
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
        ready_notify: None,
        ready_fd: None,
        ready_http: None,
        ready_timeout: None,
        ready_file: None,
        ca_file: None,
        insecure: false,
        rewrite: Vec::new(),
        remap_exit: Vec::new(),
        pdeathsig: None,
        user: None,
        debug: false,
        log_max_size: None,
        timestamps: false,
        log_format: None,
        log_mode: None,
        no_pty: false,
        version: false,
        help: false,
        command: command.to_vec(),
        sources: Sources::default(),
    })
}
