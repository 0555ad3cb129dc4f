//! Tables for `--user`: the spec, the line parsers, and su-exec's resolution rules.

use super::*;

const PASSWD: &str = "\
# comment line
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin

   # indented comment
app:x:1000:1000:App User,,,:/home/app:/bin/sh
nohome:x:1001:1001:::/bin/sh
dup:x:1002:1002::/first:/bin/sh
dup:x:1003:1003::/second:/bin/sh
broken:x:abc:1:::/bin/sh
short:x:1004:1004
+nis::::::
crlf:x:1005:1005::/crlf:/bin/sh\r
";

const GROUP: &str = "\
root:x:0:
daemon:x:1:
app:x:1000:
audio:x:29:app,other
video:x:44:other,app,
staff:x:50:
wheel:x:10:,app,,
again:x:29:app
bad:x:zz:app
dupname:x:60:
dupname:x:61:
nohome:x:1001:nohome
";

fn creds(uid: u32, gid: u32, groups: &[u32], home: &str) -> Credentials {
    Credentials {
        uid,
        gid,
        groups: groups.to_vec(),
        home: home.into(),
    }
}

fn name(s: &str) -> UserRef {
    UserRef::Name(s.into())
}

#[test]
fn user_specs() {
    let gname = |s: &str| Some(GroupRef::Name(s.into()));
    let ok: &[(&str, (UserRef, Option<GroupRef>))] = &[
        ("app", (name("app"), None)),
        ("1000", (UserRef::Id(1000), None)),
        ("0", (UserRef::Id(0), None)),
        ("007", (UserRef::Id(7), None)),
        ("4294967294", (UserRef::Id(4_294_967_294), None)),
        ("app:audio", (name("app"), gname("audio"))),
        ("app:29", (name("app"), Some(GroupRef::Id(29)))),
        ("1000:1000", (UserRef::Id(1000), Some(GroupRef::Id(1000)))),
        ("1abc", (name("1abc"), None)),
        ("-1", (name("-1"), None)),
        ("+5", (name("+5"), None)),
        ("user.name-x_y$", (name("user.name-x_y$"), None)),
        ("ünï", (name("ünï"), None)),
    ];
    for (s, want) in ok {
        assert_eq!(parse_user_spec(s).as_ref(), Ok(want), "{s:?}");
    }
    let bad: &[(&str, &str)] = &[
        ("", "empty user"),
        (":", "empty user"),
        (":audio", "empty user"),
        ("app:", "empty group"),
        ("app:audio:x", "cannot contain ':'"),
        ("a::b", "cannot contain ':'"),
        ("4294967295", "out of range"),
        ("app:4294967295", "out of range"),
        ("99999999999", "out of range"),
        (" app", "blank"),
        ("app ", "blank"),
        ("ap p", "blank"),
        ("app\n", "control"),
        ("app:au\tdio", "blank"),
        ("a\u{0}b", "control"),
    ];
    for &(s, want) in bad {
        let err = parse_user_spec(s).expect_err(s);
        assert!(err.contains(want), "{s:?}: {err:?} lacks {want:?}");
    }
}

#[test]
fn passwd_lines() {
    let e = |name, uid, gid, home| {
        Some(PasswdEntry {
            name,
            uid,
            gid,
            home,
        })
    };
    let table: &[(&str, Option<PasswdEntry>)] = &[
        ("root:x:0:0:root:/root:/bin/bash", e("root", 0, 0, "/root")),
        ("a::1:2:::", e("a", 1, 2, "")),
        ("a:x:4294967294:0::/:", e("a", 4_294_967_294, 0, "/")),
        ("a:x:4294967295:0::/:", None),
        ("a:x:4294967296:0::/:", None),
        ("a:x:-1:0::/:", None),
        ("a:x:+1:0::/:", None),
        ("a:x: 1:0::/:", None),
        ("a:x:1:0::/", None),
        ("a:x:1:0::/:/bin/sh:extra", None),
        (":x:1:0::/:", None),
        ("+::::::", None),
        ("# root:x:0:0:root:/root:/bin/bash", None),
        ("  #x", None),
        ("", None),
        ("   ", None),
        ("garbage", None),
    ];
    for (line, want) in table {
        assert_eq!(&parse_passwd_line(line), want, "{line:?}");
    }
}

/// A group line's expected (name, gid, members).
type GroupWant = Option<(&'static str, u32, &'static [&'static str])>;

#[test]
fn group_lines() {
    let table: &[(&str, GroupWant)] = &[
        ("root:x:0:", Some(("root", 0, &[]))),
        (
            "audio:x:29:app,other",
            Some(("audio", 29, &["app", "other"])),
        ),
        ("w::10:,app,,b,", Some(("w", 10, &["app", "b"]))),
        ("w::10", None),
        ("w::10:a:b", None),
        (":x:1:", None),
        ("w:x:zz:", None),
        ("w:x:4294967295:", None),
        ("#w:x:1:", None),
        ("", None),
    ];
    for &(line, want) in table {
        let got = parse_group_line(line).map(|g| (g.name, g.gid, g.members));
        assert_eq!(got, want.map(|(n, g, m)| (n, g, m.to_vec())), "{line:?}");
    }
}

#[test]
fn resolution_follows_su_exec() {
    let g = |s: &str| GroupRef::Name(s.into());
    let table: &[(UserRef, Option<GroupRef>, Credentials)] = &[
        // By name: entry's gid first, then every group listing the name, duplicates dropped
        // (audio and again are both 29), empty member items ignored (wheel).
        (
            name("app"),
            None,
            creds(1000, 1000, &[1000, 29, 44, 10], "/home/app"),
        ),
        // A uid with an entry is that entry's user.
        (
            UserRef::Id(1000),
            None,
            creds(1000, 1000, &[1000, 29, 44, 10], "/home/app"),
        ),
        (name("root"), None, creds(0, 0, &[0], "/root")),
        // A uid without an entry: dock's own gid (root's), HOME /, no supplementary groups.
        (UserRef::Id(4242), None, creds(4242, 0, &[0], "/")),
        // GROUP given: it is the only group (su-exec drops the list).
        (
            name("app"),
            Some(g("staff")),
            creds(1000, 50, &[50], "/home/app"),
        ),
        (
            name("app"),
            Some(GroupRef::Id(7777)),
            creds(1000, 7777, &[7777], "/home/app"),
        ),
        (
            UserRef::Id(4242),
            Some(GroupRef::Id(5)),
            creds(4242, 5, &[5], "/"),
        ),
        (
            UserRef::Id(4242),
            Some(g("audio")),
            creds(4242, 29, &[29], "/"),
        ),
        // The first of two same-named entries wins, for users and groups.
        (name("dup"), None, creds(1002, 1002, &[1002], "/first")),
        (
            name("root"),
            Some(g("dupname")),
            creds(0, 60, &[60], "/root"),
        ),
        // An empty home directory becomes /.
        (name("nohome"), None, creds(1001, 1001, &[1001], "/")),
        // A primary group that also lists the user is not repeated.
        (UserRef::Id(1001), None, creds(1001, 1001, &[1001], "/")),
        // `str::lines` takes the \r of a CRLF file off the shell field; the entry still counts.
        (name("crlf"), None, creds(1005, 1005, &[1005], "/crlf")),
    ];
    for (u, grp, want) in table {
        assert_eq!(
            resolve(u, grp.as_ref(), PASSWD, GROUP).as_ref(),
            Ok(want),
            "{u:?} {grp:?}"
        );
    }
}

#[test]
fn unknown_names_are_errors() {
    let table: &[(UserRef, Option<GroupRef>, &str)] = &[
        (name("nobody"), None, "unknown user 'nobody'"),
        // Malformed lines are not entries.
        (name("broken"), None, "unknown user 'broken'"),
        (name("short"), None, "unknown user 'short'"),
        (name("+nis"), None, "unknown user '+nis'"),
        (
            name("app"),
            Some(GroupRef::Name("nogroup".into())),
            "unknown group 'nogroup'",
        ),
        (
            name("app"),
            Some(GroupRef::Name("bad".into())),
            "unknown group 'bad'",
        ),
    ];
    for (u, g, want) in table {
        assert_eq!(resolve(u, g.as_ref(), PASSWD, GROUP), Err(want.to_string()));
    }
    // Empty files: numbers still work, names do not.
    assert_eq!(
        resolve(&UserRef::Id(5), None, "", ""),
        Ok(creds(5, 0, &[0], "/"))
    );
    assert!(resolve(&name("root"), None, "", "").is_err());
}

#[test]
fn too_many_groups_are_refused() {
    let mut group = String::new();
    for gid in 0..=NGROUPS_MAX {
        group.push_str(&format!("g{gid}:x:{gid}:app\n"));
    }
    let err = resolve(&name("app"), None, PASSWD, &group).unwrap_err();
    assert!(err.contains("65536"), "{err}");
}
