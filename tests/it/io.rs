//! stdio (issue 3): `--io` file / tcp / tls / unix on a pty, `--stdout-prefix`, exact bytes, hangup,
//! TLS verification, bad values. Peers are loopback listeners in the test; certificates are made at
//! test time with the openssl CLI.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::util::{self, Mode, Running, TempDir, DEADLINE};

const MODES: [Mode; 2] = [Mode::Pid1, Mode::Subreaper];

/// Waits (at most [`DEADLINE`]) until `fd` is readable: a connection to accept.
fn wait_readable(fd: impl AsFd, what: &str) {
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    let n = poll(&mut fds, PollTimeout::try_from(DEADLINE).unwrap()).unwrap();
    assert!(n > 0, "no {what} within {DEADLINE:?}");
}

fn accept_tcp(l: &TcpListener) -> TcpStream {
    wait_readable(l, "connection");
    let (s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s
}

/// Reads from `s` until what was read contains `needle`; returns everything read.
fn read_until(s: &mut impl Read, needle: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(needle) {
        match s.read(&mut buf) {
            Ok(0) => panic!(
                "EOF before {needle:?}; got {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "{e} before {needle:?}; got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    String::from_utf8(got).unwrap()
}

fn read_to_end(s: &mut impl Read) -> String {
    let mut got = Vec::new();
    // A peer that saw EOF without TLS close_notify reports an error after the data: the data counts.
    let _ = s.read_to_end(&mut got);
    String::from_utf8(got).unwrap()
}

#[test]
fn file_output_is_byte_exact_including_20_mb_written_just_before_exit() {
    for mode in MODES {
        let dir = TempDir::new("io-file");
        let log = dir.path("out.log");
        // stdout and stderr interleaved, then 20 MB in one burst, then a last line without newline,
        // and the child exits at once: nothing may be lost, reordered or added.
        let script = "echo out1; echo err1 >&2; echo out2; \
                      yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 20000000; \
                      printf 'err-last' >&2; printf 'tail without newline'";
        let f = util::run(mode, &["--io", &log, "sh", "-c", script]);
        assert_eq!(f.code, 0, "{mode:?}: {}", f.stderr);
        assert_eq!(f.stdout, "", "nothing goes to dock's own stdout");
        assert_eq!(f.stderr, "");
        let mut want = b"out1\nerr1\nout2\n".to_vec();
        let line = b"0123456789abcdefghijklmnopqrstuvwxyz\n";
        want.extend(line.iter().copied().cycle().take(20_000_000));
        want.extend_from_slice(b"err-lasttail without newline");
        let got = std::fs::read(&log).unwrap();
        assert_eq!(got.len(), want.len(), "{mode:?}");
        assert!(got == want, "{mode:?}: bytes differ");
    }
}

#[test]
fn file_is_created_0600_and_appended_to() {
    let dir = TempDir::new("io-mode");
    let log = dir.path("app.log");
    let url = format!("file://{log}");
    assert_eq!(
        util::run(Mode::Subreaper, &["--io", &url, "echo", "one"]).code,
        0
    );
    let mode = std::fs::metadata(&log).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        util::run(Mode::Pid1, &["--io", &log, "echo", "two"]).code,
        0
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "one\ntwo\n");
}

#[test]
fn prefix_without_io_goes_to_dock_stdout_and_stderr_line_by_line() {
    for mode in MODES {
        let script = "echo one; printf 'two\\nthr'; printf 'ee\\n' >&2; printf 'x' >&2; \
                      printf 'ee'; echo; printf '\\n\\n'";
        let f = util::run(mode, &["--stdout-prefix", "web: ", "sh", "-c", script]);
        assert_eq!(f.code, 0, "{}", f.stderr);
        assert_eq!(f.stdout, "web: one\nweb: two\nweb: three\nweb: \nweb: \n");
        assert_eq!(f.stderr, "web: ee\nweb: x");
    }
}

#[test]
fn prefix_colors_split_only_on_a_color_name() {
    let f = util::run(
        Mode::Subreaper,
        &["--stdout-prefix", "a:b:red", "echo", "hi"],
    );
    assert_eq!(f.stdout, "\x1b[31;1ma:b\x1b[0mhi\n");
    let f = util::run(
        Mode::Subreaper,
        &["--stdout-prefix", "x:pink", "echo", "hi"],
    );
    assert_eq!(f.stdout, "x:pinkhi\n");
    let f = util::run(Mode::Subreaper, &["--stdout-prefix", "app:cyan", "true"]);
    assert_eq!(f.stdout, "", "no prefix dangles when there is no output");
}

#[test]
fn prefix_on_a_file_one_per_line_even_for_a_1_mib_line() {
    let dir = TempDir::new("io-prefix-file");
    let log = dir.path("p.log");
    // The 1 MiB line arrives in many reads; it must get exactly one prefix.
    let script = "printf 'a\\nb'; printf 'c\\n' >&2; head -c 1048576 /dev/zero | tr '\\0' x; echo";
    let f = util::run(
        Mode::Pid1,
        &[
            "--io",
            &log,
            "--stdout-prefix",
            "P:green",
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    let p = "\x1b[32;1mP\x1b[0m";
    let want = format!("{p}a\n{p}bc\n{p}{}\n", "x".repeat(1 << 20));
    let got = std::fs::read_to_string(&log).unwrap();
    assert!(got == want, "got {} bytes, want {}", got.len(), want.len());
}

#[test]
fn interactive_sh_over_tcp_with_a_pty() {
    for mode in MODES {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("tcp://127.0.0.1:{}", l.local_addr().unwrap().port());
        let d = Running::start(mode, &["--io", &url, "sh"]);
        let mut s = accept_tcp(&l);
        s.write_all(b"echo hello\n").unwrap();
        let got = read_until(&mut s, "hello\r\n");
        // Echo is off on the pty: the command itself does not come back.
        assert!(!got.contains("echo hello"), "{got:?}");
        s.write_all(b"tty; test -t 0 && echo is-a-tty\n").unwrap();
        let got = read_until(&mut s, "is-a-tty");
        assert!(got.contains("/dev/pts/"), "{got:?}");
        s.write_all(b"exit 5\n").unwrap();
        let f = d.finish();
        assert_eq!(f.code, 5, "{mode:?}: {}", f.stderr);
        assert_eq!(f.stdout, "");
    }
}

#[test]
fn output_written_just_before_exit_reaches_the_peer() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://127.0.0.1:{}", l.local_addr().unwrap().port());
    let script = "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done; printf end";
    let d = Running::start(
        Mode::Pid1,
        &["--io", &url, "--stdout-prefix", "> ", "sh", "-c", script],
    );
    let mut s = accept_tcp(&l);
    let got = read_to_end(&mut s);
    assert_eq!(d.finish().code, 0);
    let want: String = (0..2000)
        .map(|i| format!("> line-{i}\r\n"))
        .chain(["> end".to_string()])
        .collect();
    assert_eq!(got, want);
}

/// On TCP a close is a FIN, the same as a half-close, until dock sends something: the child gets
/// end-of-file, writes, and the closed peer's reset to that output is the hang-up (issue 16).
#[test]
fn peer_closing_hangs_up_the_childs_session() {
    for mode in MODES {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("tcp://127.0.0.1:{}", l.local_addr().unwrap().port());
        let script = "echo ready; read x; echo after-eof; exec sleep 1000";
        let mut d = Running::start(mode, &["--io", &url, "sh", "-c", script]);
        let mut s = accept_tcp(&l);
        read_until(&mut s, "ready");
        drop(s);
        // Well under the 5 s grace period: the hangup itself ends the child, not teardown.
        let f = d.finish_within(Duration::from_secs(3));
        assert_eq!(f.code, 128 + libc::SIGHUP, "{mode:?}: {}", f.stderr);
    }
}

/// Issue 16, item 7: a half-close (`shutdown(SHUT_WR)`) is the end of the input, not a hang-up:
/// the child reads everything, then end-of-file (after a partial line too), and its output still
/// reaches the peer.
#[test]
fn a_half_close_is_end_of_input_and_output_still_flows() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://127.0.0.1:{}", l.local_addr().unwrap().port());
    let script = "cat; echo; echo done; exit 4";
    let d = Running::start(Mode::Pid1, &["--io", &url, "sh", "-c", script]);
    let mut s = accept_tcp(&l);
    s.write_all(b"first\nsecond").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut s), "first\r\nsecond\r\ndone\r\n");
    let f = d.finish();
    assert_eq!(f.code, 4, "not a hang-up (129): {}", f.stderr);
}

/// Issue 16, item 7: the peer's close is seen while input waits for a child that does not read
/// (200 kB: more than the pty and dock's chunk hold), and logged with `-d`.
#[test]
fn a_close_is_seen_while_input_waits_for_the_child() {
    let dir = TempDir::new("io-close-pending");
    let path = dir.path("peer.sock");
    let l = UnixListener::bind(&path).unwrap();
    let url = format!("unix://{path}");
    let mut d = Running::start(
        Mode::Pid1,
        &[
            "-d",
            "--io",
            &url,
            "sh",
            "-c",
            "echo ready; exec sleep 1000",
        ],
    );
    wait_readable(&l, "connection");
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    read_until(&mut s, "ready");
    s.set_nonblocking(true).unwrap();
    let mut line = [b'x'; 1024];
    line[1023] = b'\n';
    let mut sent = 0;
    while sent < 200 * 1024 {
        match s.write(&line) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    assert!(sent > 64 * 1024, "only {sent} bytes fit");
    drop(s);
    let f = d.finish_within(DEADLINE);
    assert_eq!(f.code, 128 + libc::SIGHUP, "{}", f.stderr);
    assert!(
        f.stderr.contains("--io peer closed the connection"),
        "{}",
        f.stderr
    );
}

#[test]
fn unix_socket_round_trip() {
    let dir = TempDir::new("io-unix");
    let path = dir.path("peer.sock");
    let l = UnixListener::bind(&path).unwrap();
    let url = format!("unix://{path}");
    let d = Running::start(
        Mode::Pid1,
        &[
            "--io",
            &url,
            "sh",
            "-c",
            "read -r l; echo \"got $l\"; exit 3",
        ],
    );
    wait_readable(&l, "connection");
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.write_all(b"hi there\n").unwrap();
    assert_eq!(read_to_end(&mut s), "got hi there\r\n");
    assert_eq!(d.finish().code, 3);
}

/// Serves one TLS connection on `l`: sends `input`, returns what the client sent until it closed
/// (`Err` when the handshake failed).
#[cfg(feature = "tls")]
fn tls_serve_one(
    l: TcpListener,
    certs: &crate::pki::TestPki,
    input: &'static [u8],
) -> std::thread::JoinHandle<Result<String, String>> {
    let config = certs.server.clone();
    std::thread::spawn(move || {
        let sock = accept_tcp(&l);
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| e.to_string())?;
        }
        tls.write_all(input).map_err(|e| e.to_string())?;
        Ok(read_to_end(&mut tls))
    })
}

#[cfg(feature = "tls")]
#[test]
fn tls_is_verified_against_ca_file_or_skipped_with_insecure() {
    let dir = TempDir::new("io-tls");
    let certs = crate::pki::make(&dir);
    let listen = || {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        (l, format!("tls://127.0.0.1:{port}"), port)
    };
    let script = "read -r l; echo \"secure $l\"";

    // Built-in roots only: the test CA is unknown, refused before the child starts.
    let (l, url, _) = listen();
    let server = tls_serve_one(l, &certs, b"x\n");
    let stderr = refused_before_start(&dir, &url, &[]);
    assert!(stderr.contains("certificate"), "{stderr}");
    assert!(server.join().unwrap().is_err());

    // With --ca-file: verified (IP SAN), the session works.
    let (l, url, _) = listen();
    let server = tls_serve_one(l, &certs, b"ok\n");
    let f = util::run(
        Mode::Pid1,
        &["--io", &url, "--ca-file", &certs.ca, "sh", "-c", script],
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert_eq!(server.join().unwrap().unwrap(), "secure ok\r\n");
    assert_eq!(f.stderr, "");

    // --insecure: no verification, said once on stderr.
    let (l, url, _) = listen();
    let server = tls_serve_one(l, &certs, b"anyway\n");
    let f = util::run(
        Mode::Subreaper,
        &["--io", &url, "--insecure", "sh", "-c", script],
    );
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert_eq!(server.join().unwrap().unwrap(), "secure anyway\r\n");
    assert_eq!(f.stderr.matches("--insecure").count(), 1, "{}", f.stderr);

    // ssl:// is an alias; a name verified by SNI + DNS SAN.
    let (l, _, port) = listen();
    let server = tls_serve_one(l, &certs, b"sni\n");
    let url = format!("ssl://localhost:{port}");
    let f = util::run(
        Mode::Subreaper,
        &["--io", &url, "--ca-file", &certs.ca, "sh", "-c", script],
    );
    // localhost may resolve to ::1 first: dock tries every address.
    assert_eq!(f.code, 0, "{}", f.stderr);
    assert_eq!(server.join().unwrap().unwrap(), "secure sni\r\n");
}

/// Runs `dock --io URL EXTRA... sh -c 'touch <marker>'` and checks that the `--io` target was refused
/// before the child started: exit 2, one line naming the URL, no marker. Returns that line.
#[cfg(feature = "tls")]
fn refused_before_start(dir: &TempDir, url: &str, extra: &[&str]) -> String {
    let marker = dir.path("started");
    let touch = format!("touch {marker}");
    let mut args = vec!["--io", url];
    args.extend_from_slice(extra);
    args.extend(["sh", "-c", &touch]);
    let f = util::run(Mode::Subreaper, &args);
    assert_eq!(f.code, 2, "{}", f.stderr);
    assert_eq!(f.stderr.lines().count(), 1, "{}", f.stderr);
    assert!(
        f.stderr.starts_with(&format!("dock: --io {url}: ")),
        "{}",
        f.stderr
    );
    assert!(
        !std::path::Path::new(&marker).exists(),
        "the child must not start"
    );
    f.stderr
}

#[cfg(feature = "tls")]
#[test]
fn a_server_without_a_common_key_exchange_is_refused_with_one_line_naming_the_url() {
    let dir = TempDir::new("io-x25519");
    let certs = crate::pki::make(&dir);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tls://127.0.0.1:{}", l.local_addr().unwrap().port());
    let ca = certs.ca.clone();
    let x25519 = crate::pki::TestPki {
        server: certs.server_x25519.clone(),
        ..certs
    };
    let server = tls_serve_one(l, &x25519, b"x\n");
    let stderr = refused_before_start(&dir, &url, &["--ca-file", &ca]);
    assert!(stderr.contains("(dock offers TLS 1.2 or 1.3, "), "{stderr}");
    assert!(server.join().unwrap().is_err());
}

/// Issue 16, item 10: a self-signed CA certificate presented as the server's own (even with that CA
/// given as --ca-file) gets a line that says what it is and what to do, not rustls' `Other(...)`.
#[cfg(feature = "tls")]
#[test]
fn a_ca_certificate_as_the_servers_own_is_explained() {
    let dir = TempDir::new("io-ca-leaf");
    let certs = crate::pki::make(&dir);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tls://127.0.0.1:{}", l.local_addr().unwrap().port());
    let ca = certs.ca.clone();
    let ca_as_leaf = crate::pki::TestPki {
        server: certs.server_ca_as_leaf.clone(),
        ..certs
    };
    let server = tls_serve_one(l, &ca_as_leaf, b"x\n");
    let stderr = refused_before_start(&dir, &url, &["--ca-file", &ca]);
    assert!(
        stderr.contains("the server's certificate is a CA certificate")
            && stderr.contains("--insecure"),
        "{stderr}"
    );
    assert!(!stderr.contains("OtherError"), "{stderr}");
    assert!(server.join().unwrap().is_err());
}

#[test]
fn bad_values_exit_2_with_one_line_and_start_nothing() {
    let dir = TempDir::new("io-bad");
    let marker = dir.path("started");
    let touch = format!("touch {marker}");
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let refused = format!("tcp://127.0.0.1:{closed}");
    let missing_sock = format!("unix://{}", dir.path("none.sock"));
    let missing_dir = dir.path("no/such/dir/log");
    for args in [
        &["--io", "ftp://x"][..],
        &["--io", "tcp://nohostport"],
        &["--io", "file://"],
        &["--io", ""],
        &[
            "--io",
            "tls://127.0.0.1:443",
            "--ca-file",
            "/nonexistent/ca.pem",
        ],
        &["--io", &refused],
        &["--io", &missing_sock],
        &["--io", &missing_dir],
        &["--stdout-prefix", ""],
    ] {
        let all: Vec<&str> = args.iter().copied().chain(["sh", "-c", &touch]).collect();
        let f = util::run(Mode::Subreaper, &all);
        assert_eq!(f.code, 2, "{args:?}: {}", f.stderr);
        assert!(f.stderr.starts_with("dock: "), "{args:?}: {}", f.stderr);
        assert_eq!(f.stderr.lines().count(), 1, "{args:?}: {}", f.stderr);
        assert!(
            !std::path::Path::new(&marker).exists(),
            "{args:?} started the child"
        );
    }
    let f = util::run(Mode::Subreaper, &["--io", &refused, "true"]);
    assert_eq!(
        f.stderr,
        format!("dock: --io {refused}: connection refused\n")
    );
}

#[test]
fn connect_gives_up_after_5_s_with_exit_2() {
    use nix::sys::socket::{
        bind, connect, getsockname, listen, socket, AddressFamily, Backlog, SockFlag, SockType,
        SockaddrIn,
    };
    use std::os::fd::AsRawFd;
    // A listener that never accepts, with its backlog full: the kernel drops further SYNs, so a
    // connect hangs until dock's own timeout.
    let l = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    bind(l.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, 0)).unwrap();
    listen(&l, Backlog::new(0).unwrap()).unwrap();
    let addr: SockaddrIn = getsockname(l.as_raw_fd()).unwrap();
    let fill: Vec<_> = (0..3)
        .map(|_| {
            let flags = SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK;
            let s = socket(AddressFamily::Inet, SockType::Stream, flags, None).unwrap();
            let _ = connect(s.as_raw_fd(), &addr); // EINPROGRESS
            s
        })
        .collect();
    let url = format!("tcp://127.0.0.1:{}", addr.port());
    let f = util::run(Mode::Subreaper, &["--io", &url, "true"]);
    assert_eq!(f.code, 2, "{}", f.stderr);
    assert_eq!(
        f.stderr,
        format!("dock: --io {url}: no connection within 5 s\n")
    );
    drop(fill);
}

/// The N of dock's "exiting with N bytes of the child's ... not delivered" line.
fn undelivered(stderr: &str) -> Option<usize> {
    let rest = stderr.split("exiting with ").nth(1)?;
    rest.split(' ').next()?.parse().ok()
}

/// A reader of dock's stdout that takes nothing more: dock still exits with the child's status (after
/// its 2 s for a slow sink at exit) and says how many bytes it could not deliver, rather than losing
/// them silently.
#[test]
fn output_a_stalled_reader_never_took_is_reported_at_exit() {
    // One 150 000-byte line and its newline; the prefix makes it 150 002 bytes. That fits in the
    // test's pipe, dock's one chunk and the child's pipe even at their 64 KiB defaults, so the child
    // exits and dock is left with bytes nobody takes.
    let script = "head -c 150000 /dev/zero | tr '\\0' x; echo";
    let mut c = util::command(
        Mode::Subreaper,
        &[
            "--grace-period",
            "0",
            "--stdout-prefix",
            "P",
            "sh",
            "-c",
            script,
        ],
    );
    c.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    // The test reads nothing until dock is gone: the pipe's 64 KiB fill and stay full.
    assert_eq!(util::exit_code_within_deadline(&mut child), Some(0));
    let mut delivered = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut delivered)
        .unwrap();
    let stderr = stderr.join().unwrap();
    let lost = undelivered(&stderr).unwrap_or_else(|| panic!("no count of bytes lost: {stderr}"));
    assert!(
        stderr.ends_with(
            "bytes of the child's stdout not delivered: dock's stdout did not take them within 2 s\n"
        ),
        "{stderr}"
    );
    assert!(delivered.starts_with(b"Pxxx"));
    assert_eq!(delivered.len() + lost, 150_002, "{stderr}");
}

/// The same for an `--io` peer that stops reading: what dock holds and what is still in the pty are
/// both counted. The child writes without blocking until nothing has moved for 2 s (the peer is
/// stalled for good), records how much it wrote, and exits. A Unix socket, whose buffers have a
/// fixed size (TCP's grow while dock waits, and what TCP queued is still sent after close).
#[test]
fn output_a_stalled_peer_never_took_is_counted_at_exit() {
    let dir = TempDir::new("io-stalled-peer");
    let path = dir.path("peer.sock");
    let l = UnixListener::bind(&path).unwrap();
    let url = format!("unix://{path}");
    let count = dir.path("written");
    let writer = "use Fcntl; use IO::Select; \
        fcntl(STDOUT, F_SETFL, fcntl(STDOUT, F_GETFL, 0) | O_NONBLOCK) or die; \
        my $s = IO::Select->new(\\*STDOUT); my $b = 'x' x 4096; my $t = 0; \
        while (1) { my $n = syswrite(STDOUT, $b); if (defined $n) { $t += $n; next } \
          last unless $s->can_write(2) } \
        open(my $f, '>', $ARGV[0]) or die; print $f $t; close $f;";
    let d = Running::start(
        Mode::Subreaper,
        &[
            "--grace-period",
            "0",
            "--io",
            &url,
            "perl",
            "-e",
            writer,
            &count,
        ],
    );
    wait_readable(&l, "connection");
    let (mut peer, _) = l.accept().unwrap();
    peer.set_read_timeout(Some(DEADLINE)).unwrap();
    let f = d.finish();
    assert_eq!(f.code, 0, "{}", f.stderr);
    let mut delivered = Vec::new();
    peer.read_to_end(&mut delivered).unwrap();
    let written: usize = std::fs::read_to_string(&count).unwrap().parse().unwrap();
    let lost = undelivered(&f.stderr).unwrap_or_else(|| {
        panic!(
            "no count of bytes lost (written {written}, delivered {}): {}",
            delivered.len(),
            f.stderr
        )
    });
    assert!(delivered.iter().all(|&b| b == b'x'));
    assert_eq!(delivered.len() + lost, written, "{}", f.stderr);
}

#[test]
fn a_plain_io_file_is_the_childs_own_stdout_and_stderr() {
    // Without a prefix or rotation nothing needs dock between the child and the file: fds 1 and 2 are
    // the file itself (appending), so the child writes at its own speed.
    for mode in [Mode::Pid1, Mode::Subreaper] {
        let dir = TempDir::new("io-direct");
        let log = dir.path("out.log");
        let f = util::run(
            mode,
            &[
                "--io",
                &log,
                "sh",
                "-c",
                "readlink /proc/self/fd/1; readlink /proc/self/fd/2 >&2",
            ],
        );
        assert_eq!(f.code, 0, "{mode:?}: {}", f.stderr);
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            format!("{log}\n{log}\n")
        );
        let m = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
        assert_eq!(m, 0o600);
    }
}
