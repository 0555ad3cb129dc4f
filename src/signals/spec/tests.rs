//! Tables for the signal and exit-code specs.

use super::*;

#[test]
fn names_and_numbers_are_the_kernels() {
    // The table is x86_64's numbering; libc's constants are the same on this target.
    let libc_names = [
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("ILL", libc::SIGILL),
        ("TRAP", libc::SIGTRAP),
        ("ABRT", libc::SIGABRT),
        ("BUS", libc::SIGBUS),
        ("FPE", libc::SIGFPE),
        ("KILL", libc::SIGKILL),
        ("USR1", libc::SIGUSR1),
        ("SEGV", libc::SIGSEGV),
        ("USR2", libc::SIGUSR2),
        ("PIPE", libc::SIGPIPE),
        ("ALRM", libc::SIGALRM),
        ("TERM", libc::SIGTERM),
        ("CHLD", libc::SIGCHLD),
        ("CONT", libc::SIGCONT),
        ("STOP", libc::SIGSTOP),
        ("TSTP", libc::SIGTSTP),
        ("TTIN", libc::SIGTTIN),
        ("TTOU", libc::SIGTTOU),
        ("URG", libc::SIGURG),
        ("XCPU", libc::SIGXCPU),
        ("XFSZ", libc::SIGXFSZ),
        ("VTALRM", libc::SIGVTALRM),
        ("PROF", libc::SIGPROF),
        ("WINCH", libc::SIGWINCH),
        ("IO", libc::SIGIO),
        ("SYS", libc::SIGSYS),
    ];
    for (name, n) in libc_names {
        assert_eq!(parse_signal(name), Ok(n), "{name}");
    }
    assert_eq!(SIGRTMAX, 64);
    // The kernel's first realtime signal is 32; glibc (what Debian's `kill -l` shows) starts at 34.
    assert_eq!(SIGRTMIN, 34);
}

#[test]
fn accepted_signals() {
    let table: &[(&str, i32)] = &[
        ("TERM", 15),
        ("SIGTERM", 15),
        ("sigterm", 15),
        ("Term", 15),
        ("sIgTeRm", 15),
        ("15", 15),
        ("1", 1),
        ("64", 64),
        ("SIG15", 15),
        ("sig32", 32),
        ("SIG33", 33),
        ("KILL", 9),
        ("STOP", 19),
        ("STKFLT", 16),
        ("PWR", 30),
        ("IOT", 6),
        ("CLD", 17),
        ("POLL", 29),
        ("UNUSED", 31),
        ("sigunused", 31),
        ("RTMIN", 34),
        ("SIGRTMIN", 34),
        ("rtmin", 34),
        ("RTMIN+0", 34),
        ("RTMIN+1", 35),
        ("sigrtmin+3", 37),
        ("RTMIN+15", 49),
        ("RTMIN+30", 64),
        ("RTMAX", 64),
        ("SIGRTMAX", 64),
        ("RTMAX-0", 64),
        ("RTMAX-1", 63),
        ("RTMAX-14", 50),
        ("SigRtMax-30", 34),
    ];
    for &(s, want) in table {
        assert_eq!(parse_signal(s), Ok(want), "{s:?}");
    }
}

#[test]
fn refused_signals() {
    let table: &[(&str, &str)] = &[
        ("", "empty"),
        ("0", "0 is not a signal"),
        ("SIG0", "0 is not a signal"),
        ("65", "1-64"),
        ("99999999999999999999999", "1-64"),
        ("015", "leading zeros"),
        ("00", "leading zeros"),
        ("+15", "unknown signal"),
        ("-15", "unknown signal"),
        (" TERM", "expected a signal"),
        ("TERM ", "expected a signal"),
        ("TE RM", "expected a signal"),
        ("TERM\n", "expected a signal"),
        ("SIG", "unknown signal"),
        ("SIGSIGTERM", "unknown signal"),
        ("TERMINATE", "unknown signal"),
        ("SIG_TERM", "expected a signal"),
        ("1e1", "unknown signal"),
        ("0x0f", "unknown signal"),
        ("RTMIN+", "realtime"),
        ("RTMIN+31", "realtime"),
        ("RTMIN+01", "realtime"),
        ("RTMIN-1", "realtime"),
        ("RTMAX+1", "realtime"),
        ("RTMAX-31", "realtime"),
        ("RTMIN+1+1", "realtime"),
        ("RTMINX", "realtime"),
        ("RT", "unknown signal"),
        ("TERM:QUIT", "expected a signal"),
        ("ＴＥＲＭ", "expected a signal"),
    ];
    for &(s, want) in table {
        let err = parse_signal(s).expect_err(s);
        assert!(err.contains(want), "{s:?}: {err:?} lacks {want:?}");
        assert!(!err.starts_with(char::is_uppercase), "{s:?}: {err}");
    }
}

#[test]
fn names_print_as_kill_l_and_read_back() {
    let table: &[(i32, &str)] = &[
        (1, "SIGHUP"),
        (6, "SIGABRT"),
        (15, "SIGTERM"),
        (17, "SIGCHLD"),
        (29, "SIGIO"),
        (31, "SIGSYS"),
        (32, "SIG32"),
        (33, "SIG33"),
        (34, "SIGRTMIN"),
        (35, "SIGRTMIN+1"),
        (37, "SIGRTMIN+3"),
        (49, "SIGRTMIN+15"),
        (50, "SIGRTMAX-14"),
        (63, "SIGRTMAX-1"),
        (64, "SIGRTMAX"),
        (0, "SIG0"),
        (65, "SIG65"),
        (-1, "SIG-1"),
    ];
    for &(n, want) in table {
        assert_eq!(signal_name(n), want);
    }
    for n in 1..=64 {
        assert_eq!(parse_signal(&signal_name(n)), Ok(n), "{n}");
        assert_eq!(parse_signal(&n.to_string()), Ok(n), "{n}");
    }
}

#[test]
fn rewrites() {
    let ok: &[(&str, (i32, i32))] = &[
        ("TERM:QUIT", (15, 3)),
        ("SIGTERM:sigquit", (15, 3)),
        ("15:3", (15, 3)),
        ("INT:0", (2, 0)),
        ("RTMIN+1:RTMAX", (35, 64)),
        ("KILL:TERM", (9, 15)),
        ("TERM:TERM", (15, 15)),
    ];
    for &(s, want) in ok {
        assert_eq!(parse_rewrite(s), Ok(want), "{s:?}");
    }
    let bad: &[(&str, &str)] = &[
        ("", "FROM:TO"),
        ("TERM", "FROM:TO"),
        ("0:TERM", "cannot be 0"),
        ("SIG0:TERM", "0 is not a signal"),
        (":TERM", "empty signal"),
        ("TERM:", "empty signal"),
        (":", "empty signal"),
        ("TERM:00", "leading zeros"),
        ("TERM:SIG0", "0 is not a signal"),
        ("TERM:QUIT:INT", "expected a signal"),
        ("TERM :QUIT", "expected a signal"),
        ("TERM:65", "1-64"),
    ];
    for &(s, want) in bad {
        let err = parse_rewrite(s).expect_err(s);
        assert!(err.contains(want), "{s:?}: {err:?} lacks {want:?}");
    }
}

#[test]
fn rewrite_lists() {
    assert_eq!(
        parse_rewrite_list("TERM:QUIT,INT:0"),
        Ok(vec![(15, 3), (2, 0)])
    );
    assert_eq!(parse_rewrite_list("1:2"), Ok(vec![(1, 2)]));
    for s in ["", ",", "TERM:QUIT,", ",TERM:QUIT", "TERM:QUIT,,INT:0"] {
        assert!(parse_rewrite_list(s).is_err(), "{s:?}");
    }
    assert!(parse_rewrite_list("TERM:QUIT, INT:0").is_err());
    assert!(parse_rewrite_list("TERM:QUIT,INT").is_err());
}

#[test]
fn exit_remaps() {
    let ok: &[(&str, (u8, u8))] = &[
        ("143", (143, 0)),
        ("143:0", (143, 0)),
        ("1:2", (1, 2)),
        ("0:255", (0, 255)),
        ("255", (255, 0)),
        ("0", (0, 0)),
    ];
    for &(s, want) in ok {
        assert_eq!(parse_remap_exit(s), Ok(want), "{s:?}");
    }
    for s in [
        "",
        ":",
        "1:",
        ":1",
        "256",
        "1:256",
        "-1",
        "+1",
        "01",
        "1:02",
        "1:2:3",
        " 1",
        "1 ",
        "x",
        "1.0",
        "1e2",
        "99999999999999999999",
    ] {
        let err = parse_remap_exit(s).expect_err(s);
        assert!(err.contains("CODE[:TO]"), "{s:?}: {err}");
    }
    assert_eq!(parse_remap_exit_list("143,1:2"), Ok(vec![(143, 0), (1, 2)]));
    for s in ["", ",", "1,", ",1", "1,,2", "1, 2"] {
        assert!(parse_remap_exit_list(s).is_err(), "{s:?}");
    }
}

#[test]
fn rewrite_tables() {
    let t = Rewrites::default();
    assert!((0..=64).all(|s| t.get(s) == s));
    assert_eq!(t.rules().count(), 0);
    // The last rule for a signal wins; no chains; out-of-range rules are ignored.
    let t = Rewrites::new(&[(15, 3), (15, 10), (3, 9), (2, 0), (65, 1), (1, -1)]);
    assert_eq!(t.get(15), 10);
    assert_eq!(t.get(3), 9);
    assert_eq!(t.get(2), 0);
    assert_eq!(t.get(1), 1);
    assert_eq!(t.get(65), 65);
    assert_eq!(t.get(-1), -1);
    assert_eq!(t.rules().collect::<Vec<_>>(), [(2, 0), (3, 9), (15, 10)]);
    assert_eq!(format!("{t:?}"), "{2: 0, 3: 9, 15: 10}");
}

#[test]
fn exit_remap_tables() {
    let t = ExitRemap::default();
    assert!((0..=255).all(|c| t.get(c) == c));
    let t = ExitRemap::new(&[(143, 0), (1, 2), (1, 3), (0, 255)]);
    assert_eq!(t.get(143), 0);
    assert_eq!(t.get(1), 3);
    assert_eq!(t.get(0), 255);
    assert_eq!(t.get(2), 2);
    assert_eq!(t.get(-1), -1);
    assert_eq!(t.get(256), 256);
    assert_eq!(format!("{t:?}"), "{0: 255, 1: 3, 143: 0}");
}
