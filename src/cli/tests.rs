//! Parsing and validation: the one-line errors, the path without clap, options ending at the command.

use super::*;
use clap::Parser;
use std::time::Duration;

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
    assert_eq!(c.supervisor.command, ["ls", "-la", "--io", "x"]);
    assert!(c.io.target.is_none());
    let c = run(&["--", "-weird"]).unwrap();
    assert_eq!(c.supervisor.command, ["-weird"]);
    let c = run(&["--grace-period=1", "help"]).unwrap();
    assert_eq!(c.supervisor.command, ["help"]);
    assert_eq!(c.supervisor.grace, Duration::from_secs(1));
    assert_eq!(run(&["h"]).unwrap().supervisor.command, ["h"]);
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
        .supervisor
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
            .io
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

#[test]
fn the_path_without_options_knows_every_environment_variable() {
    let cmd = <Args as clap::CommandFactory>::command();
    let mut from_clap: Vec<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    from_clap.sort();
    let mut ours: Vec<String> = super::args::ENV_NAMES
        .iter()
        .map(|s| s.to_string())
        .collect();
    ours.sort();
    assert_eq!(ours, from_clap);
}

/// Every option's variable follows the rule messages use to name it (`--grace-period` →
/// `DOCK_GRACE_PERIOD`).
#[test]
fn variable_names_follow_the_flags() {
    let cmd = <Args as clap::CommandFactory>::command();
    for arg in cmd.get_arguments() {
        if let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) {
            assert_eq!(
                origin::env_name(&format!("--{long}")),
                env.to_string_lossy()
            );
        }
    }
}

/// `args` as clap parses them, with the values of `from_env` marked as coming from their variables.
fn from_env(args: &[&str], from_env: &[&str]) -> Result<Config, UsageError> {
    let mut a = Args::try_parse_from(std::iter::once("dock").chain(args.iter().copied())).unwrap();
    for flag in from_env {
        a.sources.set(flag, origin::Origin::Env);
    }
    validate(a)
}

/// Issue 16, item 10: every bad input gets one line naming what the user set.
#[test]
fn bad_input_is_named_as_the_user_gave_it() {
    let e = from_env(&["--grace-period", "abc", "true"], &["--grace-period"]);
    assert_eq!(
        e.unwrap_err().to_string(),
        "DOCK_GRACE_PERIOD 'abc': expected seconds, like 5 or 0.5"
    );
    let e = run(&["--grace-period", "abc", "true"]).unwrap_err();
    assert!(e.to_string().starts_with("--grace-period 'abc'"), "{e}");
    // clap's suggestion for a misspelled flag, on the one line.
    let e = run(&["--grace_period", "5", "true"])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "unexpected argument '--grace_period' found; did you mean '--grace-period'?"
    );
    assert_eq!(
        run(&[""]).unwrap_err().to_string(),
        "empty command: the first word after the options is ''"
    );
    assert!(matches!(run(&["--", ""]), Err(UsageError::EmptyCommand)));
    // Not UTF-8: named, not clap's generic line; a path (`--io`) may be anything.
    use std::os::unix::ffi::OsStringExt;
    let bad = OsString::from_vec(b"5\xff".to_vec());
    for flag in [
        "--grace-period",
        "--web-hook",
        "--bind-port",
        "--stdout-prefix",
    ] {
        let argv = [
            OsString::from("dock"),
            flag.into(),
            bad.clone(),
            "true".into(),
        ];
        let e = parse(argv).unwrap_err().to_string();
        assert_eq!(e, format!("{flag}: the value is not valid UTF-8"));
    }
    let argv = [OsString::from("dock"), "--io".into(), bad, "true".into()];
    assert!(matches!(parse(argv), Ok(Parsed::Run(_))));
    // A 240 kB host name: refused, in a short line.
    let url = format!("http://{}/", "a".repeat(240_000));
    let e = run(&["--web-hook", &url, "true"]).unwrap_err().to_string();
    assert!(e.len() < 300 && e.contains("longer than 253"), "{e}");
    let e = run(&["--io", "/l", "--log-rotate", " 1s", "true"]).unwrap_err();
    assert!(e.to_string().starts_with("--log-rotate ' 1s'"), "{e}");
}

/// Options that would do nothing: refused when typed, warned about (and dock runs) when they come
/// from the environment.
#[test]
fn options_that_do_nothing_are_refused_when_typed_and_warned_about_from_the_environment() {
    let cases: [(&[&str], &str, &str); 5] = [
        (&["--log-keep", "3"], "--log-keep", "needs --log-rotate"),
        (&["--insecure"], "--insecure", "needs a TLS URL"),
        (
            &["--ca-file", "/nonexistent"],
            "--ca-file",
            "needs a TLS URL",
        ),
        (
            &["--strict-port-binding"],
            "--strict-port-binding",
            "needs --bind-port",
        ),
        (&["--log-rotate", "1h"], "--log-rotate", "needs a file --io"),
    ];
    for (args, flag, why) in cases {
        let mut argv = args.to_vec();
        argv.push("true");
        let e = run(&argv).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{flag} {why}")), "{e}");
        let c = from_env(&argv, &[flag]).unwrap();
        let var = origin::env_name(flag);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(
            c.warnings[0].starts_with(&format!("{var} {why}")),
            "{:?}",
            c.warnings
        );
        assert!(c.warnings[0].ends_with(": ignored"), "{:?}", c.warnings);
    }
    // Used: no line at all (a dock without TLS refuses the TLS URLs themselves).
    if cfg!(feature = "tls") {
        let c = run(&["--insecure", "--io", "tls://h:1", "true"]).unwrap();
        assert!(c.warnings.is_empty());
        let c = run(&["--insecure", "--web-hook", "https://h/", "true"]).unwrap();
        assert!(c.warnings.is_empty());
    }
    assert!(run(&["--io", "/l", "--log-rotate", "1", "--log-keep", "2", "true"]).is_ok());
}

/// Item 2: no message shows a URL's credentials or query, and credentials typed on the command
/// line get one warning.
#[test]
fn urls_in_errors_and_warnings_keep_their_secrets() {
    let e = run(&["--web-hook", "http://alice:pw@h:0/x?token=abc", "true"])
        .unwrap_err()
        .to_string();
    assert_eq!(e, "--web-hook 'http://***@h:0/x?***': port must be 1-65535");
    let e = run(&["--io", "tcp://alice:pw@h:1", "true"])
        .unwrap_err()
        .to_string();
    assert!(!e.contains("alice") && !e.contains("pw"), "{e}");
    let e = run(&["--web-hook", "http://a:pw@h/?t=1", "-x", "true"])
        .unwrap_err()
        .to_string();
    assert!(!e.contains("pw") && !e.contains("t=1"), "{e}");
    for url in ["http://alice:pw@h/", "http://h/?token=abc"] {
        let c = run(&["--web-hook", url, "true"]).unwrap();
        assert_eq!(c.warnings.len(), 1, "{url}");
        assert!(
            c.warnings[0].contains("DOCK_WEB_HOOK in the environment"),
            "{:?}",
            c.warnings
        );
        assert!(!c.warnings[0].contains("pw") && !c.warnings[0].contains("abc"));
        assert!(from_env(&["--web-hook", url, "true"], &["--web-hook"])
            .unwrap()
            .warnings
            .is_empty());
    }
    assert!(run(&["--web-hook", "http://h/?x=1", "true"])
        .unwrap()
        .warnings
        .is_empty());
}

#[test]
fn a_reason_quoting_the_value_stays_one_line() {
    // Found by fuzzing (process_args): the spec parsers quote the value in their reason.
    for (flag, value) in [
        ("--rewrite", "T\n"),
        ("-p", "TE\rRM"),
        ("--remap-exit", "1\n"),
        ("-u", "a\n:b"),
    ] {
        let e = run(&[flag, value, "true"]).unwrap_err().to_string();
        assert!(!e.contains(['\n', '\r']), "{flag}: {e:?}");
    }
}

#[test]
fn the_forgotten_value_hint_stays_one_line() {
    // Found by fuzzing (process_args): the hint quoted the unknown argument as it was.
    let e = run(&["--io", "sh", "-\n", "true"]).unwrap_err().to_string();
    assert!(!e.contains('\n'), "{e:?}");
}
