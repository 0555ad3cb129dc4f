//! The value parsers, one table per flag.

use super::*;

#[test]
fn prefix_splits_only_on_a_known_color() {
    assert_eq!(
        parse_prefix("a:b:red").unwrap(),
        Prefix {
            text: "a:b".into(),
            color: Some(Color::Red)
        }
    );
    assert_eq!(
        parse_prefix("web: ").unwrap(),
        Prefix {
            text: "web: ".into(),
            color: None
        }
    );
    assert_eq!(parse_prefix("x:pink").unwrap().text, "x:pink");
    assert_eq!(parse_prefix("web:CYAN").unwrap().color, Some(Color::Cyan));
    assert_eq!(
        parse_prefix(":green").unwrap().bytes(),
        b"\x1b[32;1m\x1b[0m"
    );
    assert_eq!(
        parse_prefix("app:cyan").unwrap().bytes(),
        b"\x1b[36;1mapp\x1b[0m"
    );
    assert!(parse_prefix("").is_err());
}

#[test]
fn rotate_periods() {
    assert_eq!(
        parse_rotate_period("24").unwrap(),
        Duration::from_secs(86400)
    );
    assert_eq!(parse_rotate_period("30s").unwrap(), Duration::from_secs(30));
    assert_eq!(
        parse_rotate_period("90m").unwrap(),
        Duration::from_secs(5400)
    );
    assert_eq!(
        parse_rotate_period("12h").unwrap(),
        Duration::from_secs(43200)
    );
    assert_eq!(
        parse_rotate_period("7d").unwrap(),
        Duration::from_secs(604800)
    );
    for bad in [
        "0",
        "0s",
        "-1",
        "",
        "h",
        "1x",
        "1.5h",
        "99999999999999999999",
        "18446744073709551615d",
        " 1s",
        "1s ",
        " 24",
        "1 s",
    ] {
        assert!(parse_rotate_period(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn ports_and_grace() {
    assert_eq!(parse_port("1").unwrap(), 1);
    assert_eq!(parse_port("65535").unwrap(), 65535);
    for bad in [
        "0",
        "65536",
        "-1",
        "x",
        "",
        " 80",
        "+80",
        "080",
        "99999999999",
    ] {
        assert!(parse_port(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_grace("0.5").unwrap(), Duration::from_millis(500));
    assert!(parse_grace("-1").is_err());
    assert!(parse_grace("NaN").is_err());
    assert!(parse_grace("inf").is_err());
    assert!(parse_grace("1e300").is_err());
    assert_eq!(parse_grace("5").unwrap(), Duration::from_secs(5));
    assert_eq!(parse_grace("5.").unwrap(), Duration::from_secs(5));
    assert_eq!(parse_grace(".5").unwrap(), Duration::from_millis(500));
    // Exact decimals, cut after nanoseconds; leading zeros are harmless.
    assert_eq!(parse_grace("0.1").unwrap(), Duration::from_millis(100));
    assert_eq!(parse_grace("1.000000001").unwrap(), Duration::new(1, 1));
    assert_eq!(
        parse_grace("0.1234567899").unwrap(),
        Duration::new(0, 123_456_789)
    );
    assert_eq!(parse_grace("007.50").unwrap(), Duration::from_millis(7500));
    assert!(parse_grace("99999999999999999999").is_err());
    assert!(parse_grace("3153600001").is_err());
    for bad in [
        " 5", "5 ", "+5", "-0", "1e3", "1e-400", ".", "", "5..0", "0x5",
    ] {
        assert!(parse_grace(bad).is_err(), "{bad:?}");
    }
    for bad in [" 5", "+5", "5 ", ""] {
        assert!(parse_keep(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn io_targets() {
    assert_eq!(
        parse_io("file:///var/log/a").unwrap(),
        IoTarget::File("/var/log/a".into())
    );
    assert_eq!(
        parse_io("out.log").unwrap(),
        IoTarget::File("out.log".into())
    );
    assert_eq!(
        parse_io("tcp://127.0.0.1:9000").unwrap(),
        IoTarget::Net {
            host: "127.0.0.1".into(),
            port: 9000,
            tls: false
        }
    );
    assert_eq!(
        parse_io("ssl://[::1]:443").unwrap(),
        IoTarget::Net {
            host: "::1".into(),
            port: 443,
            tls: true
        }
    );
    assert_eq!(
        parse_io("unix:///run/x.sock").unwrap(),
        IoTarget::Unix("/run/x.sock".into())
    );
    // The scheme is case-insensitive (RFC 3986, 3.1) all the way: `TCP://` is plain TCP.
    for (url, tls) in [
        ("TCP://h:1", false),
        ("Tcp://h:1", false),
        ("TLS://h:1", true),
    ] {
        assert_eq!(
            parse_io(url).unwrap(),
            IoTarget::Net {
                host: "h".into(),
                port: 1,
                tls
            },
            "{url}"
        );
    }
    assert!(parse_io("unix:x.sock").unwrap_err().contains("unix:///"));
    assert!(parse_io("-d").unwrap_err().contains("./-d"));
    for typo in ["TCP:127.0.0.1:1", "tls:h:1", "File:/x", "UNIX:/s"] {
        assert!(parse_io(typo).unwrap_err().contains("://"), "{typo}");
    }
    assert_eq!(
        parse_io("logs:2024").unwrap(),
        IoTarget::File("logs:2024".into())
    );
    assert_eq!(parse_io("./-d").unwrap(), IoTarget::File("./-d".into()));
    for bad in [
        "ftp://x",
        "tcp://nohostport",
        "file://",
        "file://rel",
        "tcp://:80",
        "tcp://h:0",
        "tcp://h:99999",
        "unix://",
        "tls://[::1",
        "tcp://a b:1",
        "",
    ] {
        assert!(parse_io(bad).is_err(), "{bad}");
    }
}

#[test]
fn hook_urls() {
    let u = parse_hook_url("http://example.com").unwrap();
    assert_eq!(
        (u.tls, u.host.as_str(), u.port, u.path.as_str()),
        (false, "example.com", 80, "/")
    );
    let u = parse_hook_url("https://u:p%40ss@[::1]:8443/a/b?c=d#frag").unwrap();
    assert_eq!(
        (u.tls, u.host.as_str(), u.port, u.path.as_str()),
        (true, "::1", 8443, "/a/b?c=d")
    );
    assert_eq!(u.basic_auth.as_deref(), Some(base64(b"u:p@ss").as_str()));
    assert_eq!(parse_hook_url("http://h?x=1").unwrap().path, "/?x=1");
    for bad in [
        "ftp://h",
        "h",
        "http://",
        "http://:80",
        "http://h:0",
        "http://h:x",
        "http://a b/",
        "http://[zz]/",
    ] {
        assert!(parse_hook_url(bad).is_err(), "{bad}");
    }
}

/// Host names: at most 253 bytes, labels at most 63 (RFC 1035), for `--io` and `--web-hook` alike.
#[test]
fn host_names_have_a_length_limit() {
    let label = "a".repeat(63);
    let longest = [&label[..], &label, &label, &"b".repeat(61)].join(".");
    assert_eq!(longest.len(), 253);
    assert_eq!(
        parse_hook_url(&format!("http://{longest}/")).unwrap().host,
        longest
    );
    assert!(parse_io(&format!("tcp://{longest}:1")).is_ok());
    let over = format!("{longest}c");
    let errors = [
        parse_hook_url(&format!("http://{over}/")).unwrap_err(),
        parse_io(&format!("tcp://{over}:1")).unwrap_err(),
    ];
    for e in errors {
        assert!(e.contains("254 bytes") && e.len() < 100, "{e}");
    }
    let e = parse_io(&format!("tcp://{}:1", "a".repeat(240_000))).unwrap_err();
    assert!(e.len() < 100, "{e}");
    assert!(parse_hook_url(&format!("http://{}.x/", "a".repeat(64))).is_err());
}

#[test]
fn base64_rfc4648_vectors() {
    for (i, o) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(i.as_bytes()), o);
    }
}
