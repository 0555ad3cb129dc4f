//! Tables for sd_notify(3) datagrams, read as systemd's manager reads them.

use super::Assignment::{MainPid, Other, Ready, Reloading, Status, Stopping};
use super::*;

fn other<'a>(key: &'a str, value: &'a str) -> Assignment<'a> {
    Other { key, value }
}

#[test]
fn datagrams() {
    let table: &[(&[u8], &[Assignment])] = &[
        (b"READY=1", &[Ready]),
        (b"READY=1\n", &[Ready]),
        (
            b"READY=1\nSTATUS=Processing requests...",
            &[Ready, Status("Processing requests...")],
        ),
        (b"STATUS=\n", &[Status("")]),
        (b"STATUS=a=b", &[Status("a=b")]),
        (b"STATUS=  spaced  ", &[Status("  spaced  ")]),
        ("STATUS=ünïcode ✓".as_bytes(), &[Status("ünïcode ✓")]),
        // Backslashes are not escapes.
        (br"STATUS=a\nb\\", &[Status(r"a\nb\\")]),
        (b"STOPPING=1\nRELOADING=1", &[Stopping, Reloading]),
        (b"MAINPID=4711", &[MainPid(4711)]),
        (b"MAINPID=2147483647", &[MainPid(i32::MAX)]),
        (b"MAINPID=007", &[MainPid(7)]),
        // Known keys with values systemd ignores.
        (b"READY=0", &[other("READY", "0")]),
        (b"READY=1 ", &[other("READY", "1 ")]),
        (b"READY=yes", &[other("READY", "yes")]),
        (b"READY=", &[other("READY", "")]),
        (b"MAINPID=0", &[other("MAINPID", "0")]),
        (b"MAINPID=-1", &[other("MAINPID", "-1")]),
        (b"MAINPID=+5", &[other("MAINPID", "+5")]),
        (b"MAINPID= 5", &[other("MAINPID", " 5")]),
        (b"MAINPID=2147483648", &[other("MAINPID", "2147483648")]),
        (b"MAINPID=0x10", &[other("MAINPID", "0x10")]),
        (
            b"WATCHDOG=1\nERRNO=2",
            &[other("WATCHDOG", "1"), other("ERRNO", "2")],
        ),
        (b"X_1=", &[other("X_1", "")]),
        // \r splits lines too, empty lines are skipped, a trailing NUL is dropped.
        (b"READY=1\r\nSTATUS=x\r\n", &[Ready, Status("x")]),
        (b"\n\n\rREADY=1\n\n", &[Ready]),
        (b"READY=1\0", &[Ready]),
        (b"\0", &[]),
        (b"", &[]),
        // Ill-formed lines are skipped, the rest kept.
        (b"ready=1\nREADY=1", &[Ready]),
        (b"Ready=1", &[]),
        (b"READY\nREADY=1", &[Ready]),
        (b"=1", &[]),
        (b" READY=1", &[]),
        (b"READY-X=1", &[]),
        (b"STATUS=\xff\xfe\nREADY=1", &[Ready]),
        ("KEY\u{e9}=1".as_bytes(), &[]),
    ];
    for &(gram, want) in table {
        assert_eq!(
            parse(gram).as_deref(),
            Ok(want),
            "{:?}",
            String::from_utf8_lossy(gram)
        );
    }
}

#[test]
fn datagrams_systemd_ignores_whole() {
    assert_eq!(parse(b"READY=1\0STATUS=x"), Err(Malformed::Nul));
    assert_eq!(parse(b"\0READY=1"), Err(Malformed::Nul));
    assert_eq!(parse(b"READY=1\0\0"), Err(Malformed::Nul));
    assert_eq!(parse(b"\0\0"), Err(Malformed::Nul));
    let mut big = b"READY=1\nSTATUS=".to_vec();
    big.resize(MAX_DATAGRAM, b'x');
    assert_eq!(parse(&big).map(|a| a.len()), Ok(2));
    big.push(b'x');
    assert_eq!(parse(&big), Err(Malformed::TooLong(MAX_DATAGRAM + 1)));
    assert_eq!(
        Malformed::TooLong(5000).to_string(),
        "notify datagram of 5000 bytes, more than 4096"
    );
    assert_eq!(
        Malformed::Nul.to_string(),
        "notify datagram with an embedded NUL byte"
    );
}

#[test]
fn notices_take_the_first_status_and_pid() {
    let notice = |gram: &'static [u8]| summarize(&parse(gram).unwrap());
    assert_eq!(notice(b""), Notice::default());
    assert_eq!(
        notice(b"STATUS=one\nREADY=1\nSTATUS=two\nMAINPID=5\nMAINPID=6"),
        Notice {
            ready: true,
            status: Some("one"),
            main_pid: Some(5),
            ..Notice::default()
        }
    );
    // A bad first MAINPID hides the good one after it, as systemd looks at the first only.
    assert_eq!(notice(b"MAINPID=x\nMAINPID=6").main_pid, None);
    assert_eq!(notice(b"READY=0\nMAINPID=6").main_pid, Some(6));
    assert_eq!(
        notice(b"STOPPING=1\nRELOADING=1\nREADY=0"),
        Notice {
            stopping: true,
            reloading: true,
            ..Notice::default()
        }
    );
}
