//! Parsing and validation: the one-line errors, the path without clap, options ending at the command.

use super::*;
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
