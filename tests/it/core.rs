//! The PID 1 contract (issue 2): exit statuses, exec failures, forwarding, reaping, teardown with a
//! grace period, subreaper mode, `--thug`, `-g`, job control, bad usage.

use std::time::Duration;

use crate::util::{self, Mode, Running, TempDir};

const MODES: [Mode; 2] = [Mode::Pid1, Mode::Subreaper];

fn sh(mode: Mode, extra: &[&str], script: &str) -> Running {
    let mut args: Vec<&str> = extra.to_vec();
    args.extend(["sh", "-c", script]);
    Running::start(mode, &args)
}

/// `dock --thug perl -e SCRIPT` in `mode`.
fn thug_perl(mode: Mode, script: &str) -> Running {
    Running::start(mode, &["--thug", "perl", "-e", script])
}

/// A child that keeps SIGTERM blocked for good, then says `ready`.
const BLOCKS_TERM: &str = "use POSIX; sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGTERM)); \
                           $| = 1; print qq(ready\n); sleep 60";

#[test]
fn exit_codes_pass_through() {
    for mode in MODES {
        for code in [0, 1, 42, 255] {
            let f = sh(mode, &[], &format!("exit {code}")).finish();
            assert_eq!(f.code, code, "{mode:?}: {}", f.stderr);
            assert_eq!(f.stderr, "", "dock prints nothing but errors without -d");
        }
    }
}

#[test]
fn killed_by_signal_is_128_plus_signal() {
    for mode in MODES {
        for (name, num) in [("TERM", 15), ("KILL", 9), ("SEGV", 11), ("USR1", 10)] {
            let f = sh(mode, &[], &format!("kill -{name} $$")).finish();
            assert_eq!(f.code, 128 + num, "{mode:?} {name}: {}", f.stderr);
        }
    }
}

#[test]
fn exec_failures_are_127_and_126() {
    let dir = TempDir::new("exec");
    let plain = dir.path("plain.txt");
    std::fs::write(&plain, "not a program").unwrap();
    for mode in MODES {
        let f = util::run(mode, &["/nonexistent/cmd"]);
        assert_eq!(f.code, 127);
        assert_eq!(
            f.stderr,
            "dock: /nonexistent/cmd: no such file or directory\n"
        );
        let f = util::run(mode, &["no-such-command-anywhere"]);
        assert_eq!(f.code, 127);
        let f = util::run(mode, &[&plain]);
        assert_eq!(f.code, 126);
        assert_eq!(f.stderr, format!("dock: {plain}: permission denied\n"));
    }
}

/// Waits until dock has blocked its signals (SigBlk in /proc, or waiting in rt_sigtimedwait), so a
/// signal sent now is queued.
fn wait_signals_blocked(d: &Running) {
    let pid = d.dock_pid();
    util::wait_until("dock blocking its signals", || {
        // Before its exec, the pid is still unshare's forked child: a signal sent to it then is
        // unshare's business (and dropped by an init without a handler), not dock's.
        // Blocked shows in SigBlk, except while dock sleeps in rt_sigtimedwait (x86_64 syscall 128),
        // which unblocks the signals it waits for as long as it waits (they are then taken by it).
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        comm.trim_end() == "dock"
            && (syscall.starts_with("128 ")
                || dock::procfs::parse_status_masks(&status)
                    .is_some_and(|(blk, _)| blk & (1 << (libc::SIGTERM - 1)) != 0))
    });
}

#[test]
fn each_signal_is_forwarded_once_and_in_order() {
    let sigs = [
        ("HUP", libc::SIGHUP),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
        ("WINCH", libc::SIGWINCH),
        ("ALRM", libc::SIGALRM),
        ("TERM", libc::SIGTERM),
    ];
    for mode in MODES {
        let script = "for s in HUP USR1 USR2 WINCH ALRM; do trap \"echo $s\" $s; done; \
                      trap 'echo TERM; exit 0' TERM; echo ready; \
                      while :; do sleep 5 & wait $!; done";
        let d = sh(mode, &[], script);
        d.expect_line("ready");
        for (name, num) in sigs {
            d.signal(num);
            assert_eq!(d.line(), name, "{mode:?}");
        }
        let f = d.finish();
        assert_eq!(f.code, 0, "{}", f.stderr);
        assert_eq!(f.stdout, "ready\nHUP\nUSR1\nUSR2\nWINCH\nALRM\nTERM\n");
    }
}

#[test]
fn sigterm_right_after_start_is_not_lost() {
    for mode in MODES {
        let d = Running::start(mode, &["sleep", "60"]);
        wait_signals_blocked(&d);
        d.signal(libc::SIGTERM);
        let f = d.finish();
        assert_eq!(f.code, 143, "{mode:?}: {}", f.stderr);
    }
}

#[test]
fn orphans_are_reaped_while_the_main_child_runs() {
    for mode in MODES {
        // 50 orphans: each subshell exits at once, leaving its `true` to be re-parented to dock.
        // "spawned" comes after the trap, so the SIGTERM below cannot beat it.
        let script =
            "trap 'exit 0' TERM; i=0; while [ $i -lt 50 ]; do (true &); i=$((i+1)); done; \
                      echo spawned; while :; do sleep 5 & wait $!; done";
        let d = sh(mode, &["-d"], script);
        d.expect_line("spawned");
        let dock_pid = d.dock_pid();
        util::wait_until(&format!("{mode:?}: 50 orphans reaped, no zombie"), || {
            d.stderr().matches(": exit code 0").count() >= 50
                && util::zombies_under(dock_pid).is_empty()
        });
        d.signal(libc::SIGTERM);
        let f = d.finish();
        assert_eq!(f.code, 0);
        assert!(!f.stderr.contains("main child") || f.stderr.matches("main child").count() == 1);
    }
}

#[test]
fn main_child_and_orphan_exiting_together_never_hang() {
    for i in 0..100 {
        let mode = if i % 2 == 0 {
            Mode::Pid1
        } else {
            Mode::Subreaper
        };
        let f = sh(mode, &[], "(true &); exit 3").finish();
        assert_eq!(f.code, 3, "run {i}: {}", f.stderr);
    }
}

#[test]
fn leftover_finishes_its_sigterm_cleanup_and_dock_exits_right_after() {
    for mode in MODES {
        let dir = TempDir::new("cleanup");
        let marker = dir.path("cleaned");
        // The leftover needs 200 ms after SIGTERM; the grace period (30 s) is far longer, so dock
        // finishing within the test deadline shows it exits when the last process is gone.
        let fifo = dir.path("fifo");
        let script = format!(
            "mkfifo {fifo}; (trap 'sleep 0.2; echo done > {marker}; exit 0' TERM; echo ready; \
              echo > {fifo}; while :; do sleep 5 & wait $!; done) & read _ < {fifo}; exit 4"
        );
        let d = sh(mode, &["--grace-period", "30"], &script);
        d.expect_line("ready");
        let f = d.finish();
        assert_eq!(f.code, 4, "{mode:?}: {}", f.stderr);
        assert_eq!(
            std::fs::read_to_string(&marker).unwrap(),
            "done\n",
            "{mode:?}"
        );
    }
}

#[test]
fn leftover_ignoring_sigterm_is_killed_after_the_grace_period() {
    for mode in MODES {
        let dir = TempDir::new("ignore");
        let fifo = dir.path("fifo");
        // The main child exits only once the leftover ignores SIGTERM (told through a FIFO).
        let script = format!(
            "mkfifo {fifo}; (trap '' TERM; echo > {fifo}; exec sleep 60) & read _ < {fifo}; exit 0"
        );
        let d = sh(mode, &["-d", "--grace-period", "1"], &script);
        let f = d.finish();
        assert_eq!(f.code, 0, "{mode:?}: {}", f.stderr);
        assert!(
            f.stderr.contains("grace period of 1000 ms over"),
            "{}",
            f.stderr
        );
        assert!(f.stderr.contains("killed by SIGKILL"), "{}", f.stderr);
    }
}

#[test]
fn processes_forked_during_teardown_get_the_sigkill_too() {
    // Loops that keep forking while dock tears down (a pre-fork master respawning workers): outside
    // PID 1 dock finds processes by walking /proc, and a fork after the walk must not escape.
    for mode in MODES {
        let dir = TempDir::new("respawn");
        // A copy of sleep under a name of its own, to count survivors by name afterwards.
        let name = format!("dk{}", std::process::id() % 100_000);
        let bin = dir.path(&name);
        std::fs::copy("/bin/sleep", &bin).unwrap();
        let script = format!(
            // Off dock's stdout and stderr: a survivor holding them would hang the test, not fail it.
            "trap '' TERM; for j in 1 2 3 4 5; do (while :; do {bin} 1000 & {bin} 0.002; done) \
             >/dev/null 2>&1 & done; \
             {bin} 0.05; exit 3"
        );
        let f = sh(mode, &["--grace-period", "0.3"], &script).finish();
        assert_eq!(f.code, 3, "{mode:?}: {}", f.stderr);
        assert!(
            !f.stderr.contains("still not reaped"),
            "{mode:?}: {}",
            f.stderr
        );
        let survivors = || {
            std::fs::read_dir("/proc")
                .unwrap()
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .filter(|p| {
                    std::fs::read_to_string(format!("/proc/{p}/comm"))
                        .is_ok_and(|c| c.trim() == name)
                        && util::proc_state(*p).is_some_and(|s| s != 'Z')
                })
                .collect::<Vec<_>>()
        };
        let left = survivors();
        for p in &left {
            let _ = dock::sys::kill(*p, libc::SIGKILL);
        }
        assert!(
            left.is_empty(),
            "{mode:?}: {} survived dock: {left:?}",
            left.len()
        );
    }
}

#[test]
fn subreaper_tears_down_orphans_without_a_pid_namespace() {
    let d = sh(Mode::Subreaper, &[], "sleep 60 & echo $!; exit 0");
    let orphan: i32 = d.line().parse().unwrap();
    let f = d.finish();
    assert_eq!(f.code, 0);
    // Reaped by dock: the pid no longer exists (not even as a zombie).
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(orphan), None).is_err(),
        "orphan {orphan} survived dock"
    );
}

#[test]
fn thug_kills_a_child_that_ignores_sigterm() {
    for mode in MODES {
        let d = sh(
            mode,
            &["--thug"],
            "trap '' TERM; echo ready; sleep 60 & wait",
        );
        d.expect_line("ready");
        d.signal(libc::SIGTERM);
        assert_eq!(d.finish().code, 137, "{mode:?}");
        // A child that handles TERM keeps its own status.
        let d = sh(
            mode,
            &["--thug"],
            "trap 'exit 9' TERM; echo ready; sleep 60 & wait",
        );
        d.expect_line("ready");
        d.signal(libc::SIGTERM);
        assert_eq!(d.finish().code, 9, "{mode:?}");
        // Without --thug, the ignored SIGTERM is just forwarded and ignored; SIGKILL from us ends it.
    }
}

#[test]
fn thug_kills_a_child_that_keeps_a_stop_signal_blocked() {
    // Blocked, not ignored: forwarded first, SIGKILL only once it is still pending 100 ms later.
    for mode in MODES {
        let d = thug_perl(mode, BLOCKS_TERM);
        d.expect_line("ready");
        d.signal(libc::SIGTERM);
        assert_eq!(d.finish().code, 137, "{mode:?}");
    }
}

#[test]
fn thug_does_not_postpone_the_kill_when_the_signal_repeats() {
    // Ctrl-C pressed again and again: the 100 ms count from the first one, so dock ends a child
    // that keeps SIGTERM blocked even while SIGTERMs keep coming every 10 ms.
    let d = thug_perl(Mode::Pid1, BLOCKS_TERM);
    d.expect_line("ready");
    // dock may exit between a check and the next SIGTERM, before unshare around it does: its pid
    // is taken once, and a kill that finds it gone ends the loop.
    let dock = d.dock_pid();
    let mut sent = 0;
    while sent < 500 {
        if dock::sys::kill(dock, libc::SIGTERM).is_err() {
            break;
        }
        sent += 1;
        if d.exited_within(Duration::from_millis(10)) {
            break;
        }
    }
    let f = d.finish();
    assert_eq!(f.code, 137, "after {sent} SIGTERMs: {}", f.stderr);
}

#[test]
fn with_another_namespaces_proc_thug_forwards_and_teardown_signals_the_group() {
    // `unshare --pid --fork` without --mount-proc: /proc shows the host's processes, where pid 2 is
    // kthreadd with every signal ignored. dock must not read masks or walk a tree there.
    let cmd = util::foreign_proc(&[
        util::bin(),
        "--thug",
        "perl",
        "-e",
        "$SIG{TERM} = sub { exit 7 }; $| = 1; print qq(ready\n); sleep 60",
    ]);
    let d = Running::from_command(Mode::Pid1, cmd);
    d.expect_line("ready");
    d.signal(libc::SIGTERM);
    let f = d.finish();
    assert_eq!(f.code, 7, "{}", f.stderr);
    assert!(
        f.stderr.contains("/proc is not this PID namespace's"),
        "{}",
        f.stderr
    );

    // dock not PID 1 there: its leftover, an `&` job of the main child, still gets its SIGTERM.
    let dir = util::TempDir::new("foreignproc");
    let leftover = dir.path("leftover.pl");
    std::fs::write(
        &leftover,
        "$SIG{TERM} = sub { print qq(cleaned\n); exit 0 }; $| = 1; print qq(ready\n); \
         open(my $f, '>', $ARGV[0]) or die; close $f; sleep 60;\n",
    )
    .expect("writing the leftover");
    // The main child exits once the leftover's handler is set (the FIFO opened for writing).
    let gate = dir.path("gate");
    let script = format!(
        "{} -- sh -c 'mkfifo {gate}; perl {leftover} {gate} & read x < {gate}; exit 3'",
        util::bin()
    );
    let d = Running::from_command(Mode::Subreaper, util::foreign_proc(&["sh", "-c", &script]));
    d.expect_line("ready");
    d.expect_line("cleaned");
    let f = d.finish();
    assert_eq!(f.code, 3, "{}", f.stderr);

    // A leftover in a session of its own is out of reach there: dock says so and exits at once,
    // rather than sitting out a 60 s grace period (and then 2 s more) for a process it cannot
    // signal. The namespace's end (sh, its PID 1, exits after dock) takes the leftover.
    let gate2 = dir.path("gate2");
    let script = format!(
        "{} --grace-period 60 -- sh -c 'mkfifo {gate2}; setsid sh -c \"echo > {gate2}; exec sleep \
         1000\" >/dev/null 2>&1 & read x < {gate2}; exit 4'",
        util::bin()
    );
    let f =
        Running::from_command(Mode::Subreaper, util::foreign_proc(&["sh", "-c", &script])).finish();
    assert_eq!(f.code, 4, "{}", f.stderr);
    assert!(
        f.stderr
            .contains("processes outside it cannot be found without this PID namespace's /proc"),
        "{}",
        f.stderr
    );
}

#[test]
fn thug_spares_a_child_that_blocks_a_stop_signal_only_for_a_moment() {
    // A shell in `wait` blocks every signal between sigprocmask and sigsuspend; a child caught in
    // such a moment must get the signal, not SIGKILL. This one blocks SIGTERM until it is pending,
    // then unblocks it and its handler runs.
    for mode in MODES {
        let d = thug_perl(
            mode,
            "use POSIX; $SIG{TERM} = sub { exit 9 }; my $t = POSIX::SigSet->new(SIGTERM); \
             sigprocmask(SIG_BLOCK, $t); $| = 1; print qq(ready\n); my $p = POSIX::SigSet->new; \
             do { sigpending($p) } until $p->ismember(SIGTERM); sigprocmask(SIG_UNBLOCK, $t); \
             sleep 60",
        );
        d.expect_line("ready");
        d.signal(libc::SIGTERM);
        assert_eq!(d.finish().code, 9, "{mode:?}");
    }
}

#[test]
fn process_group_forwarding_reaches_grandchildren() {
    for mode in MODES {
        let d = Running::start(mode, &["-d", "-g", "bash", "-c", "sleep 20; echo after"]);
        wait_signals_blocked(&d);
        // Wait for the sleep to exist before signalling the group.
        d.wait_stderr("started pid");
        let dock_pid = d.dock_pid();
        util::wait_until("bash starting sleep", || {
            dock::procfs::descendants_of(dock_pid).len() >= 2
        });
        d.signal(libc::SIGINT);
        let f = d.finish();
        assert_eq!(f.code, 130, "{mode:?}: {}", f.stderr);
        assert!(!f.stdout.contains("after"));
    }
}

#[test]
fn tstp_stops_and_cont_resumes_the_child() {
    for mode in MODES {
        let dir = TempDir::new("tstp");
        let fifo = dir.path("fifo");
        nix::unistd::mkfifo(
            fifo.as_str(),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        // The child waits on a FIFO the test opens only after SIGCONT: nothing here races a clock.
        let d = sh(mode, &[], &format!("echo $$; read _ < {fifo}; echo done"));
        let child = d.line();
        // The pid is the namespace's in Pid1 mode: find the child through dock instead.
        let target = dock::procfs::descendants_of(d.dock_pid())
            .into_iter()
            .find(|p| {
                std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                    .map(|c| c.starts_with("sh\0"))
                    .unwrap_or(false)
            })
            .unwrap_or_else(|| child.parse().unwrap());
        d.signal(libc::SIGTSTP);
        util::wait_until(&format!("{mode:?}: the child stopping"), || {
            util::proc_state(target) == Some('T')
        });
        // Stopped, dock keeps running: a stopped child never starts teardown.
        assert!(!d.exited_within(Duration::from_millis(300)));
        d.signal(libc::SIGCONT);
        std::fs::write(&fifo, "go\n").unwrap();
        d.expect_line("done");
        assert_eq!(d.finish().code, 0);
    }
}

#[test]
fn bad_usage_is_one_line_and_exit_2() {
    for args in [
        &["--nope", "true"][..],
        &["--bind-port", "0", "true"],
        &["--grace-period", "x", "true"],
        &["--log-rotate", "1h", "true"],
        &["--io", "ftp://x", "true"],
        &["--web-hook", "nope", "true"],
    ] {
        let f = util::run(Mode::Subreaper, args);
        assert_eq!(f.code, 2, "{args:?}");
        assert!(f.stderr.starts_with("dock: "), "{args:?}: {}", f.stderr);
        assert_eq!(f.stderr.lines().count(), 1, "{args:?}: {}", f.stderr);
    }
    // No command: help on stderr, exit 2.
    let f = util::run(Mode::Subreaper, &[]);
    assert_eq!(f.code, 2);
    assert!(f.stderr.contains("Usage:"));
    // Version and help on stdout, exit 0.
    for flag in ["-v", "-V", "--version"] {
        let f = util::run(Mode::Subreaper, &[flag]);
        assert_eq!(
            (f.code, f.stdout.as_str()),
            (0, concat!("dock ", env!("CARGO_PKG_VERSION"), "\n"))
        );
    }
    assert_eq!(util::run(Mode::Subreaper, &["--help"]).code, 0);
}

#[test]
fn environment_fallbacks_and_command_line_wins() {
    let mut c = util::command(Mode::Subreaper, &["true"]);
    c.env("DOCK_BIND_PORT", "0");
    let f = Running::from_command(Mode::Subreaper, c).finish();
    assert_eq!(f.code, 2);
    // Named as the user set it (issue 16): the variable, not a flag never typed.
    assert!(
        f.stderr.starts_with("dock: DOCK_BIND_PORT '0'"),
        "{}",
        f.stderr
    );
    let mut c = util::command(Mode::Subreaper, &["--grace-period", "1", "true"]);
    c.env("DOCK_GRACE_PERIOD", "bogus");
    assert_eq!(Running::from_command(Mode::Subreaper, c).finish().code, 0);
    let mut c = util::command(Mode::Subreaper, &["sh", "-c", "exit 0"]);
    c.env("DOCK_DEBUG", "1");
    let f = Running::from_command(Mode::Subreaper, c).finish();
    assert!(f.stderr.contains("started pid"), "{}", f.stderr);
}

#[test]
fn docks_settings_stay_out_of_the_childs_environment() {
    let mut c = util::command(
        Mode::Subreaper,
        &["sh", "-c", "env | grep -c '^DOCK_'; echo \"$APP_MODE\""],
    );
    c.env("DOCK_WEB_HOOK_SECRET", "s3cret")
        .env("DOCK_GRACE_PERIOD", "1")
        .env("APP_MODE", "production");
    let f = Running::from_command(Mode::Subreaper, c).finish();
    assert_eq!(f.stdout, "0\nproduction\n", "{}", f.stderr);
}

#[test]
fn help_and_h_are_ordinary_commands() {
    let f = util::run(Mode::Subreaper, &["help"]);
    assert_eq!(f.code, 127, "{}", f.stderr);
    assert_eq!(f.stderr, "dock: help: no such file or directory\n");
}

#[test]
fn realtime_signals_reach_the_process_group_too() {
    for mode in MODES {
        let d = sh(
            mode,
            &["-g"],
            "trap 'echo RT; exit 0' 40; echo ready; while :; do sleep 5 & wait $!; done",
        );
        d.expect_line("ready");
        d.signal(40);
        d.expect_line("RT");
        let f = d.finish();
        assert_eq!(f.code, 0, "{mode:?}: {}", f.stderr);
    }
}

#[test]
fn a_dead_stderr_does_not_hang_dock() {
    // dock -d logging into a pipe nobody reads any more: every write raises SIGPIPE in dock itself.
    for mode in MODES {
        let mut c = util::command(mode, &["-d", "sh", "-c", "exec 2>/dev/null; echo x"]);
        c.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        drop(child.stderr.take());
        assert_eq!(
            util::exit_code_within_deadline(&mut child),
            Some(0),
            "{mode:?}: dock did not exit with a closed stderr"
        );
    }
}

#[test]
fn signals_ignored_where_dock_was_started_are_default_again_in_the_child() {
    // A shell starts `&` jobs with SIGINT ignored; dock's child must still die of a forwarded SIGINT.
    let script = format!("trap '' INT; exec {} sleep 60", util::bin());
    let mut c = std::process::Command::new("sh");
    c.args(["-c", &script]);
    let d = Running::from_command(Mode::Subreaper, c);
    wait_signals_blocked(&d);
    let dock_pid = d.dock_pid();
    util::wait_until("dock starting sleep", || {
        !dock::procfs::descendants_of(dock_pid).is_empty()
    });
    d.signal(libc::SIGINT);
    assert_eq!(d.finish().code, 130);
}

#[test]
fn a_full_stderr_never_stalls_forwarding() {
    use std::io::BufRead;
    // -d into a stderr pipe nobody reads: once it is full, dock must drop log lines, not block in
    // write(2) while signals, reaping and teardown wait behind it.
    for mode in MODES {
        let mut c = util::command(
            mode,
            &[
                "-d",
                "sh",
                "-c",
                "trap '' 40; echo ready; while :; do sleep 5 & wait $!; done",
            ],
        );
        c.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        let _unread_stderr = child.stderr.take();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        let pid = util::dock_pid_of(mode, child.id());
        // Realtime signals queue one by one: 2000 of them log far more than a 64 KiB pipe holds.
        for _ in 0..2000 {
            dock::sys::kill(pid, 40).unwrap();
        }
        dock::sys::kill(pid, libc::SIGTERM).unwrap();
        assert_eq!(
            util::exit_code_within_deadline(&mut child),
            Some(143),
            "{mode:?}: dock stalled behind its full stderr"
        );
    }
}

#[test]
fn signals_libc_reserves_are_forwarded_too() {
    // glibc keeps 32 and 33 for itself and will not block them through sigprocmask: without the raw
    // mask they would kill dock (or vanish, as PID 1) instead of reaching the child. The child starts
    // with their default action (terminate), so it dies of them and dock reports 128 + the signal: the
    // status of a child killed by a signal nix cannot name is decoded too, not lost.
    for mode in MODES {
        // Named as Debian's `kill -l` names them: 32 and 33 have no name there.
        for (sig, name) in [(32, "SIG32"), (33, "SIG33"), (40, "SIGRTMIN+6")] {
            let d = sh(mode, &["-d"], "echo ready; sleep 60 & wait");
            d.expect_line("ready");
            d.signal(sig);
            d.wait_stderr(&format!("forwarded {name} to pid"));
            let f = d.finish();
            assert_eq!(f.code, 128 + sig, "{mode:?} {sig}: {}", f.stderr);
            assert!(
                f.stderr.contains(&format!("killed by {name}")),
                "{mode:?} {sig}: {}",
                f.stderr
            );
        }
    }
}

#[test]
fn a_main_child_that_leaves_nothing_behind_ends_dock_without_teardown() {
    for mode in MODES {
        let f = util::run(mode, &["-d", "--", "sh", "-c", "exit 3"]);
        assert_eq!(f.code, 3, "{mode:?}: {}", f.stderr);
        assert!(
            f.stderr.contains("no process left"),
            "{mode:?}: {}",
            f.stderr
        );
        // Nothing was left to signal, so nothing was signalled or walked.
        assert!(!f.stderr.contains("SIGTERM"), "{mode:?}: {}", f.stderr);
        assert!(!f.stderr.contains("descendant"), "{mode:?}: {}", f.stderr);
    }
}

#[test]
fn startup_code_is_handed_back_once_the_child_runs() {
    for mode in MODES {
        let d = sh(mode, &["-d"], "echo ready; exec sleep 60");
        d.expect_line("ready");
        d.wait_stderr(" kB of startup code and read-only data");
        let released: u64 = d
            .stderr()
            .split("released ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(released > 0, "{mode:?}: {}", d.stderr());
        // dock still does its job afterwards: the code it needs comes back.
        d.signal(libc::SIGTERM);
        assert_eq!(d.finish().code, 143, "{mode:?}");
    }
}

#[test]
fn an_ignored_sigchld_inherited_from_the_parent_loses_no_exit_status() {
    // With SIGCHLD ignored (kept across exec), the kernel would reap dock's children itself and their
    // status would be lost: dock would wait forever for a child already gone.
    let mut cmd = std::process::Command::new("perl");
    cmd.args([
        "-e",
        "$SIG{CHLD} = 'IGNORE'; exec @ARGV or die",
        util::bin(),
    ])
    .args(["sh", "-c", "sleep 0.1 & exit 3"]);
    let f = Running::from_command(Mode::Subreaper, cmd).finish();
    assert_eq!(f.code, 3, "{}", f.stderr);
}

#[test]
fn an_exit_storm_of_orphans_is_reaped_whole() {
    // 300 orphans blocked on one FIFO are released at once: passes of 16 or more make dock let
    // SIGCHLD gather for 2 ms; every one is still reaped, and the main child's status passes through.
    for mode in MODES {
        let dir = util::TempDir::new("storm");
        let gate = dir.path("gate");
        let script = format!(
            "mkfifo {gate}; i=0; while [ $i -lt 300 ]; do (cat {gate} >/dev/null &); i=$((i+1)); done; \
             exec 3>{gate}; exec 3>&-; echo released; exit 5"
        );
        let d = sh(mode, &["-d"], &script);
        d.expect_line("released");
        let f = d.finish();
        assert_eq!(f.code, 5, "{mode:?}: {}", f.stderr);
        // The 300 orphaned cats and the main child, each exactly once (the subshells and mkfifo are
        // the shell's to reap).
        assert_eq!(f.stderr.matches("reaped pid ").count(), 301, "{mode:?}");
    }
}

#[test]
fn a_script_without_a_shebang_runs_with_the_shell_in_every_build() {
    // POSIX execvp runs a file the kernel cannot execute with /bin/sh; glibc's does, musl's does not,
    // so dock does it itself: the static (musl) binary must behave as the glibc one and as tini.
    let dir = util::TempDir::new("noshebang");
    let script = dir.path("job");
    std::fs::write(&script, "echo ran as a script: $0 $1\nexit 4\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut bins = vec![util::bin().to_string()];
    bins.extend(std::env::var("DOCK_STATIC_BIN").ok());
    for bin in bins {
        // By path, and through PATH.
        for (prog, path) in [
            (script.as_str(), "/usr/bin:/bin"),
            ("job", &*format!("/nonexistent::{}", dir.path(""))),
        ] {
            let out = std::process::Command::new(&bin)
                .env("PATH", format!("{path}:/usr/bin:/bin"))
                .args([prog, "arg"])
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(4), "{bin} {prog}: {out:?}");
            assert!(
                stdout.starts_with("ran as a script: "),
                "{bin} {prog}: {stdout}"
            );
            assert!(
                stdout.trim_end().ends_with("job arg"),
                "{bin} {prog}: {stdout}"
            );
        }
    }
}

#[test]
fn a_background_dock_leaves_the_terminal_to_the_shell() {
    // `dock CMD &` from an interactive shell: the child must not take the terminal's foreground (the
    // shell would lose it and quit on its next read); a foreground dock still hands it to the child.
    let harness = r#"
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv("/bin/bash", ["bash", "--norc", "--noprofile", "-i"])
steps = [(0.3, sys.argv[1] + " sleep 1 &\n"), (0.8, "echo still-$((40+2))\n"), (1.6, "exit 9\n")]
out, t0 = b"", time.time()
while True:
    while steps and time.time() - t0 >= steps[0][0]:
        os.write(fd, steps.pop(0)[1].encode())
    if select.select([fd], [], [], 0.05)[0]:
        try:
            d = os.read(fd, 4096)
        except OSError:
            d = b""
        out += d
    p, st = os.waitpid(pid, os.WNOHANG)
    if p or time.time() - t0 > 10:
        break
sys.stdout.write(out.decode(errors="replace"))
print("\nrc=%d" % (os.waitstatus_to_exitcode(st) if p else -1))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", harness, util::bin()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("still-42"), "{text}");
    assert!(text.trim_end().ends_with("rc=9"), "{text}");
}

#[test]
fn a_stopped_leftover_gets_sigcont_after_its_sigterm() {
    // A leftover that stopped itself would sit on its SIGTERM until the grace period's SIGKILL;
    // SIGCONT after SIGTERM lets it die (or clean up) at once.
    for mode in MODES {
        let script = "sh -c 'kill -STOP $$; sleep 100' & \
                      until grep -q '^State:.*stopped' /proc/$!/status; do :; done; echo ready; exit 7";
        let d = sh(mode, &["-d", "--grace-period", "30"], script);
        d.expect_line("ready");
        let f = d.finish();
        assert_eq!(f.code, 7, "{mode:?}: {}", f.stderr);
        assert!(
            !f.stderr.contains("grace period of"),
            "{mode:?}: {}",
            f.stderr
        );
    }
}

#[test]
fn no_child_at_all_is_exit_2_not_126() {
    // At RLIMIT_NPROC clone(2) fails: no child exists, so it is dock's start-up failure (exit 2, one
    // line), not "the command is not executable" (126).
    let nobody_can_run_dock = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "test",
            "-x",
            util::bin(),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !nobody_can_run_dock {
        eprintln!(
            "skipped: user 65534 cannot reach {} (a private checkout)",
            util::bin()
        );
        return;
    }
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(["prlimit", "--nproc=1", util::bin(), "true"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("dock: starting the child (clone): "),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
