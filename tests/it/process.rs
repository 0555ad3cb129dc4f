//! Signals and the child's process (issue 18): `--rewrite`, `--remap-exit`, `--pdeathsig`, `--user`,
//! inherited fds, `LISTEN_PID`, `-v` before a command; each as a user checks it (what the child
//! received, the exit status, `id`, EOF at the far end of an fd), in both modes, with the `DOCK_*`
//! forms and the one-line errors.

use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::process::Command;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::util::{self, Mode, Running, TempDir, DEADLINE};

const MODES: [Mode; 2] = [Mode::Pid1, Mode::Subreaper];

/// A child that reports the signals it gets: `ready` once its traps are set, then one line per
/// signal among HUP, INT, USR1, TERM; USR1 and HUP end it with 0, TERM with 1.
const REPORTS: &str = "trap 'echo INT' INT; trap 'echo USR1; exit 0' USR1; \
                       trap 'echo HUP; exit 0' HUP; trap 'echo TERM; exit 1' TERM; \
                       echo ready; while :; do sleep 5 & wait $!; done";

/// dock with `args` and the child `sh -c script`.
fn dock_sh(mode: Mode, args: &[&str], script: &str) -> Command {
    let mut all = args.to_vec();
    all.extend(["sh", "-c", script]);
    util::command(mode, &all)
}

/// dock started by `sh -c 'PRELUDE; exec dock ARGS...'` in a mount namespace of its own (and, for
/// `Mode::Pid1`, as PID 1 of a new PID namespace: the shell there is PID 1 and execs dock): for what
/// must be done by the process that becomes dock (an fd, a variable naming its pid, a bind mount).
fn via_sh(mode: Mode, prelude: &str, args: &[&str]) -> Command {
    let script = format!("{prelude}\nexec \"$@\"");
    let mut c = Command::new("unshare");
    match mode {
        Mode::Pid1 => c.args(["--pid", "--fork", "--mount-proc", "--kill-child"]),
        Mode::Subreaper => c.arg("--mount"),
    };
    c.args(["sh", "-c", &script, "sh", util::bin()]).args(args);
    c
}

/// Asserts a usage error: exit 2, one line starting `dock: <start>`, and the command (which would
/// create `marker`) never ran.
fn assert_refused(f: &util::Finished, start: &str, marker: &str, what: &str) {
    assert_eq!(f.code, 2, "{what}: {}", f.stderr);
    assert!(
        f.stderr.starts_with(&format!("dock: {start}")),
        "{what}: {}",
        f.stderr
    );
    assert_eq!(f.stderr.lines().count(), 1, "{what}: {}", f.stderr);
    assert!(
        !std::path::Path::new(marker).exists(),
        "{what}: the command ran"
    );
}

#[test]
fn rewrite_sends_the_child_the_signal_it_was_told() {
    for mode in MODES {
        for (args, env) in [
            (&["-r", "TERM:USR1"][..], None),
            (&["-g", "--rewrite=SIGTERM:usr1"], None),
            (&["-r", "INT:0,15:10"], None),
            (&[], Some("TERM:USR1,INT:0")),
            // The command line wins over the environment.
            (&["-r", "TERM:USR1"], Some("TERM:HUP")),
        ] {
            let mut c = dock_sh(mode, args, REPORTS);
            if let Some(v) = env {
                c.env("DOCK_REWRITE", v);
            }
            let d = Running::from_command(mode, c);
            d.expect_line("ready");
            d.signal(libc::SIGTERM);
            assert_eq!(d.line(), "USR1", "{mode:?} {args:?} {env:?}");
            let f = d.finish();
            assert_eq!(f.code, 0, "{mode:?} {args:?}: {}", f.stderr);
        }
    }
}

#[test]
fn a_signal_rewritten_to_0_never_reaches_the_child() {
    for mode in MODES {
        let d = Running::from_command(mode, dock_sh(mode, &["-d", "-r", "INT:0"], REPORTS));
        d.expect_line("ready");
        d.signal(libc::SIGINT);
        d.wait_stderr("--rewrite: SIGINT dropped");
        d.signal(libc::SIGTERM);
        let f = d.finish();
        assert_eq!(f.code, 1, "{mode:?}: {}", f.stderr);
        assert_eq!(f.stdout, "ready\nTERM\n", "{mode:?}");
    }
}

#[test]
fn thug_judges_the_signal_the_child_actually_gets() {
    // HUP is sent as TERM, which the child ignores: --thug turns it into SIGKILL. Had it judged
    // HUP (which the child handles), the child would print HUP and keep running.
    for mode in MODES {
        let script =
            "trap '' TERM; trap 'echo HUP' HUP; echo ready; while :; do sleep 5 & wait $!; done";
        let d = Running::from_command(mode, dock_sh(mode, &["--thug", "-r", "HUP:TERM"], script));
        d.expect_line("ready");
        d.signal(libc::SIGHUP);
        let f = d.finish();
        assert_eq!(f.code, 137, "{mode:?}: {}", f.stderr);
        assert_eq!(f.stdout, "ready\n", "{mode:?}");
    }
}

#[test]
fn teardowns_own_sigterm_is_never_rewritten() {
    for mode in MODES {
        let dir = TempDir::new("rw-teardown");
        let gate = dir.path("gate");
        nix::unistd::mkfifo(
            gate.as_str(),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        // A leftover that reports teardown's SIGTERM; the main child exits once the gate opens.
        let script = format!(
            "sh -c 'trap \"echo leftover TERM; exit 0\" TERM; echo up; \
             while :; do sleep 5 & wait $!; done' & read _ < {gate}; exit 3"
        );
        let d = Running::from_command(mode, dock_sh(mode, &["-d", "-r", "TERM:0"], &script));
        d.expect_line("up");
        d.signal(libc::SIGTERM);
        d.wait_stderr("--rewrite: SIGTERM dropped");
        std::fs::write(&gate, "go\n").unwrap();
        let f = d.finish();
        assert_eq!(f.code, 3, "{mode:?}: {}", f.stderr);
        assert!(f.stdout.contains("leftover TERM"), "{mode:?}: {}", f.stdout);
    }
}

#[test]
fn remap_exit_changes_only_the_childs_status() {
    for mode in MODES {
        for (args, env, script, want) in [
            (&["-e", "143"][..], None, "kill $$", 0),
            (&["--remap-exit", "3:7"], None, "exit 3", 7),
            (&["-e", "1:0,3:9", "-e", "4:5"], None, "exit 3", 9),
            (&["-e", "1:0,3:9", "-e", "4:5"], None, "exit 4", 5),
            (&["-e", "3:7"], None, "exit 4", 4),
            (&["-e", "127:0"], None, "exit 127", 0),
            (&[], Some("3:9"), "exit 3", 9),
            (&["-e", "3:4"], Some("3:9"), "exit 3", 4),
        ] {
            let mut c = dock_sh(mode, args, script);
            if let Some(v) = env {
                c.env("DOCK_REMAP_EXIT", v);
            }
            let f = Running::from_command(mode, c).finish();
            assert_eq!(
                f.code, want,
                "{mode:?} {args:?} {env:?} {script}: {}",
                f.stderr
            );
        }
        // dock's own statuses are not the child's: nothing ran.
        let f = util::run(mode, &["-e", "127:0", "-e", "126:0", "/nonexistent/cmd"]);
        assert_eq!(f.code, 127, "{mode:?}: {}", f.stderr);
        let f = util::run(mode, &["-e", "2:0", "--bind-port", "0", "true"]);
        assert_eq!(f.code, 2, "{mode:?}: {}", f.stderr);
    }
}

#[test]
fn pdeathsig_forwards_the_signal_when_the_parent_dies() {
    // Subreaper: dock's parent is a shell the test kills. PID 1: dock's parent is unshare, outside
    // the namespace (as a container runtime is); the kernel sends the signal all the same.
    for mode in MODES {
        let mut c = match mode {
            Mode::Subreaper => {
                let mut c = Command::new("sh");
                c.args(["-c", "\"$@\" & wait", "sh", util::bin(), "-p", "TERM"]);
                c
            }
            Mode::Pid1 => {
                let mut c = Command::new("unshare");
                c.args(["--pid", "--fork", "--mount-proc", util::bin()]);
                c.env("DOCK_PDEATHSIG", "SIGTERM");
                c
            }
        };
        c.args(["-d", "-r", "TERM:HUP", "sh", "-c", REPORTS]);
        let mut d = Running::from_command(mode, c);
        d.expect_line("ready");
        if mode == Mode::Pid1 {
            d.wait_stderr("dock is PID 1");
        }
        // The parent dies: dock gets SIGTERM, sent to the child as HUP.
        d.child.kill().unwrap();
        d.expect_line("HUP");
        d.wait_stderr("exiting with status 0");
        let f = d.finish();
        assert!(
            f.stderr.contains("received SIGTERM"),
            "{mode:?}: {}",
            f.stderr
        );
    }
}

/// passwd and group files for `--user`, bind-mounted over the container's (in dock's own mount
/// namespace).
struct Accounts {
    dir: TempDir,
}

impl Accounts {
    fn new() -> Accounts {
        let dir = TempDir::new("user");
        std::fs::write(
            dir.path("passwd"),
            "root:x:0:0:root:/root:/bin/sh\n\
             app:x:1000:1000:App:/home/app:/bin/sh\n\
             other:x:1001:1001::/home/other:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.path("group"),
            "root:x:0:\napp:x:1000:\naudio:x:29:app\nvideo:x:44:other,app\nstaff:x:50:\n",
        )
        .unwrap();
        Accounts { dir }
    }

    fn prelude(&self) -> String {
        format!(
            "mount --bind {} /etc/passwd && mount --bind {} /etc/group || exit 99",
            self.dir.path("passwd"),
            self.dir.path("group")
        )
    }
}

/// What `id` and the environment say the child is: uid, gid, groups (as a set), HOME, and dock's
/// own `Uid:` line from /proc.
const WHO: &str = "echo $(id -u); echo $(id -g); echo $(id -G); echo $HOME; \
                   grep '^Uid:' /proc/$PPID/status | tr -s '\\t ' ' '";

fn who(f: &util::Finished) -> (String, String, BTreeSet<u32>, String, String) {
    let l: Vec<&str> = f.stdout.lines().collect();
    assert_eq!(l.len(), 5, "{}\n{}", f.stdout, f.stderr);
    let groups = l[2].split(' ').map(|g| g.parse().unwrap()).collect();
    (l[0].into(), l[1].into(), groups, l[3].into(), l[4].into())
}

#[test]
fn user_runs_the_child_as_the_user_with_groups_and_home() {
    let acc = Accounts::new();
    let set = |g: &[u32]| g.iter().copied().collect::<BTreeSet<u32>>();
    for mode in MODES {
        for (spec, env, uid, gid, groups, home) in [
            (
                Some("app"),
                None,
                "1000",
                "1000",
                set(&[1000, 29, 44]),
                "/home/app",
            ),
            (
                Some("1000"),
                None,
                "1000",
                "1000",
                set(&[1000, 29, 44]),
                "/home/app",
            ),
            (
                Some("app:staff"),
                None,
                "1000",
                "50",
                set(&[50]),
                "/home/app",
            ),
            (Some("app:44"), None, "1000", "44", set(&[44]), "/home/app"),
            (Some("4321"), None, "4321", "0", set(&[0]), "/"),
            (Some("4321:4321"), None, "4321", "4321", set(&[4321]), "/"),
            (
                None,
                Some("other"),
                "1001",
                "1001",
                set(&[1001, 44]),
                "/home/other",
            ),
            (
                Some("app"),
                Some("other"),
                "1000",
                "1000",
                set(&[1000, 29, 44]),
                "/home/app",
            ),
        ] {
            let mut args = vec![];
            if let Some(s) = spec {
                args.extend(["-u", s]);
            }
            args.extend(["sh", "-c", WHO]);
            let mut c = via_sh(mode, &acc.prelude(), &args);
            c.env("HOME", "/root");
            if let Some(v) = env {
                c.env("DOCK_USER", v);
            }
            let f = Running::from_command(mode, c).finish();
            assert_eq!(f.code, 0, "{mode:?} {spec:?}: {}", f.stderr);
            let what = format!("{mode:?} {spec:?} {env:?}");
            let (u, g, gs, h, dock) = who(&f);
            assert_eq!(
                (u.as_str(), g.as_str(), h.as_str()),
                (uid, gid, home),
                "{what}"
            );
            assert_eq!(gs, groups, "{what}");
            assert_eq!(dock, "Uid: 0 0 0 0", "{what}: dock stays root");
        }
    }
}

#[test]
fn unknown_users_and_bad_values_start_nothing() {
    let acc = Accounts::new();
    let dir = TempDir::new("refused");
    let marker = dir.path("ran");
    for mode in MODES {
        for (spec, start) in [
            ("nosuch", "--user 'nosuch': unknown user 'nosuch'"),
            (
                "app:nogroup",
                "--user 'app:nogroup': unknown group 'nogroup'",
            ),
            ("app:", "--user 'app:'"),
            (":audio", "--user ':audio'"),
            ("4294967295", "--user '4294967295'"),
        ] {
            let c = via_sh(mode, &acc.prelude(), &["-u", spec, "touch", &marker]);
            let f = Running::from_command(mode, c).finish();
            assert_refused(&f, start, &marker, &format!("{mode:?} {spec}"));
        }
    }
    for (args, env, start) in [
        (&["-r", "TERM"][..], None, "--rewrite 'TERM'"),
        (&["-r", "KILL:TERM"], None, "--rewrite 'KILL:TERM'"),
        (&["--rewrite", "TERM:QUIT,"], None, "--rewrite"),
        (&["-e", "256"], None, "--remap-exit '256'"),
        (&["-e", "1:"], None, "--remap-exit '1:'"),
        (&["-p", "NOPE"], None, "--pdeathsig 'NOPE'"),
        (&["-p", "0"], None, "--pdeathsig '0'"),
        (&["-u", "a:b:c"], None, "--user 'a:b:c'"),
        (&[], Some(("DOCK_REWRITE", "TERM:")), "DOCK_REWRITE 'TERM:'"),
        (
            &[],
            Some(("DOCK_REMAP_EXIT", "300")),
            "DOCK_REMAP_EXIT '300'",
        ),
        (
            &[],
            Some(("DOCK_PDEATHSIG", "SIGFOO")),
            "DOCK_PDEATHSIG 'SIGFOO'",
        ),
        (&[], Some(("DOCK_USER", "")), "DOCK_USER ''"),
        (
            &[],
            Some(("DOCK_USER", "nosuch-user-here")),
            "DOCK_USER 'nosuch-user-here'",
        ),
    ] {
        let mut all = args.to_vec();
        all.extend(["touch", &marker]);
        let mut c = util::command(Mode::Subreaper, &all);
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        let f = Running::from_command(Mode::Subreaper, c).finish();
        assert_refused(&f, start, &marker, &format!("{args:?} {env:?}"));
    }
}

#[test]
fn an_inherited_fd_the_child_closes_shows_eof_while_dock_runs() {
    for mode in MODES {
        let dir = TempDir::new("inherited");
        let fifo = dir.path("fifo");
        nix::unistd::mkfifo(
            fifo.as_str(),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        // The far end, opened first (non-blocking) so the shell's open for writing does not wait.
        let reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        // The shell that becomes dock opens fd 5 (no close-on-exec): dock inherits it, the child
        // gets it, closes it, and stays.
        let child = "exec 5>&-; echo closed; exec sleep 60";
        let c = via_sh(mode, &format!("exec 5>{fifo}"), &["sh", "-c", child]);
        let d = Running::from_command(mode, c);
        d.expect_line("closed");
        // Every writer gone: POLLHUP (pipe(7)). dock's copy would keep it open until dock exits.
        let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
        let n = poll(&mut fds, PollTimeout::try_from(DEADLINE).unwrap()).unwrap();
        let hup = fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLHUP));
        assert!(n == 1 && hup, "{mode:?}: no EOF at the far end");
        assert!(
            !d.exited_within(Duration::ZERO),
            "{mode:?}: dock still runs"
        );
        d.signal(libc::SIGTERM);
        assert_eq!(d.finish().code, 143, "{mode:?}");
    }
}

#[test]
fn docks_own_fds_never_reach_the_child() {
    for mode in MODES {
        let dir = TempDir::new("own-fds");
        let log = dir.path("out.log");
        let f = util::run(
            mode,
            &[
                "--io",
                &log,
                "sh",
                "-c",
                "ls -l /proc/$$/fd | grep -c anon_inode",
            ],
        );
        assert_eq!(
            f.code, 1,
            "{mode:?}: grep found dock's epoll/signalfd/pidfd: {}",
            f.stderr
        );
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "0\n", "{mode:?}");
    }
}

#[test]
fn listen_pid_naming_dock_becomes_the_childs_pid() {
    for mode in MODES {
        for (prelude, same) in [
            ("export LISTEN_FDS=1 LISTEN_PID=$$", true),
            ("export LISTEN_FDS=1 LISTEN_PID=999999", false),
        ] {
            let c = via_sh(
                mode,
                prelude,
                &["sh", "-c", "echo \"$LISTEN_PID $$ $LISTEN_FDS\""],
            );
            let f = Running::from_command(mode, c).finish();
            assert_eq!(f.code, 0, "{mode:?}: {}", f.stderr);
            let v: Vec<&str> = f.stdout.split_whitespace().collect();
            assert_eq!(v.len(), 3, "{mode:?}: {}", f.stdout);
            assert_eq!(v[2], "1", "{mode:?}: LISTEN_FDS passes through");
            if same {
                assert_eq!(v[0], v[1], "{mode:?}: the child's own pid");
            } else {
                assert_eq!(v[0], "999999", "{mode:?}: another pid is left alone");
            }
        }
    }
}

#[test]
fn v_before_a_command_is_a_usage_error() {
    for (args, flag) in [
        (&["-v", "sh", "-c", "exit 0"][..], "-v"),
        (&["-d", "-V", "true"], "-V"),
        (&["--version", "true"], "--version"),
        (&["-dv", "true"], "-v"),
        (&["--grace-period", "1", "-v", "--", "true"], "-v"),
        (&["-r", "TERM:QUIT", "-v", "true"], "-v"),
    ] {
        let f = util::run(Mode::Subreaper, args);
        assert_eq!(f.code, 2, "{args:?}");
        assert_eq!(
            f.stderr,
            format!("dock: {flag} prints the version; for debug output use -d\n"),
            "{args:?}"
        );
        assert_eq!(f.stdout, "", "{args:?}");
    }
    // Alone, or with other options only, it is the version.
    for args in [&["-v"][..], &["-d", "-v"], &["--io", "-v", "-V"]] {
        let f = util::run(Mode::Subreaper, args);
        assert_eq!(f.code, 0, "{args:?}: {}", f.stderr);
        assert_eq!(f.stdout, concat!("dock ", env!("CARGO_PKG_VERSION"), "\n"));
    }
}
