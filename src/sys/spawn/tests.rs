//! The vfork child: argv, PATH, process group, exec errors, `--user` ids, `LISTEN_PID`.

use super::*;
use std::io::Read;
use std::os::unix::ffi::OsStringExt;

fn setup() -> ChildSetup<'static> {
    ChildSetup {
        mask: current_mask().unwrap(),
        session: false,
        creds: None,
        own_pid_var: None,
    }
}

fn env() -> Vec<CString> {
    std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv).unwrap()
        })
        .collect()
}

fn wait(pid: i32) -> i32 {
    let mut st = 0;
    // SAFETY: (test) waitpid on our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut st, 0) }, pid);
    st
}

/// Spawns `sh ARGS...` with its stdout on a pipe; returns the child and everything it wrote.
fn sh_stdout(args: &[OsString]) -> (Spawned, String) {
    sh_stdout_with(args, setup(), &env()).unwrap()
}

/// [`sh_stdout`] with a given setup and environment.
fn sh_stdout_with(
    args: &[OsString],
    setup: ChildSetup,
    env: &[CString],
) -> io::Result<(Spawned, String)> {
    let (mut r, w) = std::io::pipe().unwrap();
    let s = spawn(
        OsStr::new("sh"),
        args,
        [None, Some(w.into()), None],
        Vec::new(),
        setup,
        env,
    )?;
    let mut out = String::new();
    r.read_to_string(&mut out).unwrap();
    Ok((s, out))
}

#[test]
fn the_child_writes_its_own_pid_into_listen_pid() {
    let mut env = env();
    env.retain(|e| !e.as_bytes().starts_with(b"LISTEN_PID="));
    env.push(CString::new("LISTEN_PID=1").unwrap());
    env.push(CString::new("LISTEN_FDS=0").unwrap());
    let setup = ChildSetup {
        own_pid_var: Some(env.len() - 2),
        ..setup()
    };
    let script = "echo \"$LISTEN_PID $LISTEN_FDS\"".into();
    let (s, out) = sh_stdout_with(&["-c".into(), script], setup, &env).unwrap();
    assert_eq!(out, format!("{} 0\n", s.pid));
    wait(s.pid);
    let mut digits = [0u8; 10];
    for (pid, want) in [(0, "0"), (7, "7"), (4194304, "4194304"), (-1, "0")] {
        let n = pid_digits(pid, &mut digits);
        assert_eq!(&digits[..n], want.as_bytes());
    }
    let n = pid_digits(i64::from(u32::MAX), &mut digits);
    assert_eq!(&digits[..n], b"4294967295");
}

#[test]
fn the_child_takes_the_users_ids_and_groups_and_dock_stays_root() {
    let groups = [65534, 4, 1];
    let creds = ChildCreds {
        uid: 65534,
        gid: 65534,
        groups: &groups,
    };
    let setup = ChildSetup {
        creds: Some(creds),
        ..setup()
    };
    let script = "echo $(id -u) $(id -g) $(id -G)".into();
    let (s, out) = sh_stdout_with(&["-c".into(), script], setup, &env()).unwrap();
    assert_eq!(out, "65534 65534 65534 1 4\n");
    wait(s.pid);
    // SAFETY: (test) getuid/getgid take nothing.
    assert_eq!(unsafe { (libc::getuid(), libc::getgid()) }, (0, 0));
    // More groups than the kernel takes: setgroups fails, reported as a credentials failure.
    let many = vec![1u32; 65537];
    let setup = ChildSetup {
        creds: Some(ChildCreds {
            groups: &many,
            ..creds
        }),
        ..setup
    };
    let e = sh_stdout_with(&["-c".into(), "true".into()], setup, &env()).unwrap_err();
    assert!(is_creds_failure(&e), "{e:?}");
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn runs_a_program_from_path_with_its_args_and_stdout() {
    let args = [
        "-c".into(),
        "printf '%s|' \"$0\" \"$1\"".into(),
        "x y".into(),
    ];
    let (s, out) = sh_stdout(&args);
    assert_eq!(out, "x y||");
    assert_eq!(wait(s.pid), 0);
}

#[test]
fn the_child_leads_its_own_process_group() {
    let (s, out) = sh_stdout(&["-c".into(), "cut -d' ' -f5 /proc/$$/stat".into()]);
    assert_eq!(out.trim(), s.pid.to_string());
    wait(s.pid);
}

#[test]
fn exec_errors_come_back_and_leave_no_child() {
    let e = spawn(
        OsStr::new("no-such-program-dock"),
        &[],
        [None, None, None],
        Vec::new(),
        setup(),
        &env(),
    );
    assert_eq!(e.unwrap_err().kind(), io::ErrorKind::NotFound);
    let plain = std::env::temp_dir().join(format!("dock-spawn-{}", std::process::id()));
    std::fs::write(&plain, "echo not executable\n").unwrap();
    let e = spawn(
        plain.as_os_str(),
        &[],
        [None, None, None],
        Vec::new(),
        setup(),
        &env(),
    );
    std::fs::remove_file(&plain).unwrap();
    assert_eq!(e.unwrap_err().raw_os_error(), Some(libc::EACCES));
    let e = spawn(
        OsStr::new("a\0b"),
        &[],
        [None, None, None],
        Vec::new(),
        setup(),
        &env(),
    );
    assert_eq!(e.unwrap_err().kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn extra_fds_land_at_their_numbers_even_where_a_stdio_source_sits() {
    let (mut out_r, out_w) = std::io::pipe().unwrap();
    let (mut extra_r, extra_w) = std::io::pipe().unwrap();
    // The number asked for is the stdout pipe's own fd in dock: installing the extra fd there
    // must not disturb the child's stdout, copied first.
    let n = out_w.as_raw_fd();
    // Through /proc: dash's `>&N` takes one digit, and a busy test process has fds above 9.
    let script =
        format!("echo extra > /proc/self/fd/{n}; echo out; [ -e /proc/self/fd/{n} ] && echo open");
    let s = spawn(
        OsStr::new("sh"),
        &["-c".into(), script.into()],
        [None, Some(out_w.into()), None],
        vec![(extra_w.into(), n)],
        setup(),
        &env(),
    )
    .unwrap();
    let (mut out, mut extra) = (String::new(), String::new());
    out_r.read_to_string(&mut out).unwrap();
    extra_r.read_to_string(&mut extra).unwrap();
    assert_eq!((out.as_str(), extra.as_str()), ("out\nopen\n", "extra\n"));
    assert_eq!(wait(s.pid), 0);
    let (_, w) = std::io::pipe().unwrap();
    let e = spawn(
        OsStr::new("true"),
        &[],
        [None, None, None],
        vec![(w.into(), 2)],
        setup(),
        &env(),
    );
    assert_eq!(e.unwrap_err().kind(), io::ErrorKind::InvalidInput);
}
