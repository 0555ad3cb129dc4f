//! Issue 16, items 2 and 10: bad input and secrets, through the real binary. Every bad input is one
//! `dock: ...` line naming what the user set (the flag, or the `DOCK_*` variable), exit 2, nothing
//! started; no message shows a URL's credentials or query.

use std::ffi::OsString;
use std::net::TcpListener;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use crate::util::{self, Mode, Running, TempDir};

/// Runs dock with `args` then `sh -c 'touch <marker>'`, `env` added: the result, and whether the
/// child started.
fn attempt(dir: &TempDir, args: &[OsString], env: &[(&str, &str)]) -> (util::Finished, bool) {
    let marker = dir.path("started");
    let _ = std::fs::remove_file(&marker);
    let mut c = std::process::Command::new(util::bin());
    c.args(args)
        .args(["sh", "-c", &format!("touch {marker}")])
        .envs(env.iter().copied());
    let f = Running::from_command(Mode::Subreaper, c).finish();
    (f, Path::new(&marker).exists())
}

/// Arguments, environment, and what the one line must say.
type Case<'a> = (Vec<OsString>, Vec<(&'a str, &'a str)>, &'a str);

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

#[test]
fn every_bad_input_is_one_line_naming_what_the_user_set() {
    let dir = TempDir::new("input-bad");
    let log = dir.path("app.log");
    // 100 kB: one argument may hold 128 KiB at most (MAX_ARG_STRLEN).
    let long_host = format!("http://{}/", "a".repeat(100_000));
    let mut bad_utf8 = os(&["--grace-period"]);
    bad_utf8.push(OsString::from_vec(b"1\xff".to_vec()));
    let ca = dir.path("ca.pem");
    std::fs::write(&ca, "not used").unwrap();
    let cases: Vec<Case> = vec![
        (
            os(&["--grace_period", "5"]),
            vec![],
            "unexpected argument '--grace_period' found; did you mean '--grace-period'?",
        ),
        (os(&["--web-hook", &long_host]), vec![], "longer than 253"),
        (
            os(&["--io", &log, "--log-rotate", " 1s"]),
            vec![],
            "--log-rotate ' 1s'",
        ),
        (
            bad_utf8,
            vec![],
            "--grace-period: the value is not valid UTF-8",
        ),
        (
            vec![],
            vec![("DOCK_GRACE_PERIOD", "abc")],
            "DOCK_GRACE_PERIOD 'abc'",
        ),
        (vec![], vec![("DOCK_BIND_PORT", "0")], "DOCK_BIND_PORT '0'"),
        (
            os(&["--log-keep", "3"]),
            vec![],
            "--log-keep needs --log-rotate",
        ),
        (os(&["--insecure"]), vec![], "--insecure needs a TLS URL"),
        (os(&["--ca-file", &ca]), vec![], "--ca-file needs a TLS URL"),
    ];
    for (args, env, want) in cases {
        let (f, started) = attempt(&dir, &args, &env);
        let what = format!("{args:?} {env:?}");
        assert_eq!(f.code, 2, "{what}: {}", f.stderr);
        assert_eq!(f.stderr.lines().count(), 1, "{what}: {}", f.stderr);
        assert!(f.stderr.len() < 400, "{what}: a short line");
        assert!(f.stderr.starts_with("dock: "), "{what}: {}", f.stderr);
        assert!(f.stderr.contains(want), "{what}: {}", f.stderr);
        assert!(!started, "{what} started the child");
        assert!(!Path::new(&log).exists(), "{what} opened the --io file");
    }
}

/// A value that is not UTF-8 in a `DOCK_*` variable is named by the variable too.
#[test]
fn a_variable_that_is_not_utf8_is_named() {
    let mut c = util::command(Mode::Subreaper, &["true"]);
    c.env("DOCK_BIND_PORT", OsString::from_vec(b"80\xff".to_vec()));
    let f = Running::from_command(Mode::Subreaper, c).finish();
    assert_eq!(f.code, 2, "{}", f.stderr);
    assert_eq!(
        f.stderr,
        "dock: DOCK_BIND_PORT: the value is not valid UTF-8\n"
    );
}

#[test]
fn an_empty_command_and_a_directory_get_clear_lines() {
    let f = util::run(Mode::Subreaper, &[""]);
    assert_eq!(f.code, 2, "{}", f.stderr);
    assert_eq!(
        f.stderr,
        "dock: empty command: the first word after the options is ''\n"
    );
    let dir = TempDir::new("input-dir");
    for mode in [Mode::Subreaper, Mode::Pid1] {
        let f = util::run(mode, &[dir.0.to_str().unwrap()]);
        // Found but not executable, as a shell says it: 126.
        assert_eq!(f.code, 126, "{}", f.stderr);
        assert_eq!(
            f.stderr,
            format!("dock: {}: is a directory\n", dir.0.display())
        );
    }
}

/// Options that do nothing: from the environment (often set for a whole image) they are a warning
/// and dock runs; typed, they are refused (see above).
#[test]
fn options_that_do_nothing_from_the_environment_are_a_warning() {
    let dir = TempDir::new("input-noop");
    let env = [("DOCK_INSECURE", "1"), ("DOCK_LOG_KEEP", "3")];
    let (f, started) = attempt(&dir, &[], &env);
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert!(started);
    assert_eq!(f.stderr.lines().count(), 2, "{}", f.stderr);
    assert!(
        f.stderr.contains("DOCK_INSECURE needs a TLS URL"),
        "{}",
        f.stderr
    );
    assert!(
        f.stderr.contains("DOCK_LOG_KEEP needs --log-rotate"),
        "{}",
        f.stderr
    );
}

/// Issue 16, item 2: a hook URL's password and query never show, in the error before the start, in
/// clap's own line, or in the log lines after it (`-d` included); credentials typed on the command
/// line get one warning pointing at the environment.
#[test]
fn url_secrets_never_reach_a_message() {
    let secrets = ["alice", "pw0rd", "t0ken"];
    let clean = |text: &str, what: &str| {
        for s in secrets {
            assert!(!text.contains(s), "{what}: {s} leaked: {text}");
        }
    };
    for args in [
        &["--web-hook", "http://alice:pw0rd@h:0/x?k=t0ken", "true"][..],
        &["--web-hook", "http://alice:pw0rd@h/x?k=t0ken", "-x", "true"],
        &["--thug=http://alice:pw0rd@h/x?k=t0ken", "true"],
        &["--io", "tcp://alice:pw0rd@h:1", "true"],
    ] {
        let f = util::run(Mode::Subreaper, args);
        assert_eq!(f.code, 2, "{args:?}: {}", f.stderr);
        clean(&f.stderr, &format!("{args:?}"));
    }
    // After the start: a receiver that refuses every connection, so every failure line is logged.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://alice:pw0rd@127.0.0.1:{port}/hook?token=t0ken");
    let mut c = util::command(Mode::Subreaper, &["-d", "--grace-period", "0.5", "true"]);
    c.env("DOCK_WEB_HOOK", &url);
    let f = Running::from_command(Mode::Subreaper, c).finish();
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert!(f.stderr.contains("/hook?***"), "{}", f.stderr);
    assert!(f.stderr.contains("not delivered"), "{}", f.stderr);
    clean(&f.stderr, "log lines");
    assert!(
        !f.stderr.contains("credentials"),
        "no warning from the environment"
    );
    // Typed on the command line: the same, plus one warning.
    let f = util::run(
        Mode::Subreaper,
        &["--grace-period", "0.5", "--web-hook", &url, "true"],
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    clean(&f.stderr, "command line");
    let warned: Vec<&str> = f
        .stderr
        .lines()
        .filter(|l| l.contains("credentials are on the command line"))
        .collect();
    assert_eq!(warned.len(), 1, "{}", f.stderr);
    assert!(
        warned[0].contains("DOCK_WEB_HOOK in the environment"),
        "{}",
        warned[0]
    );
}
