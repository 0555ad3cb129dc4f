//! `--user USER[:GROUP]`: the spec, the `/etc/passwd` and `/etc/group` line formats (passwd(5),
//! group(5)), and the credentials the child gets, with su-exec's rules (ncopa/su-exec, `su-exec.c`).
//! Pure over the files' text: the caller reads the container's files (as text, invalid UTF-8 replaced
//! with `String::from_utf8_lossy`: only a name no UTF-8 argument can spell changes) and makes the
//! system calls: `setgroups(groups)`, `setgid(gid)`, `setuid(uid)`, `HOME=home`, in that order.
//!
//! The rules, as su-exec applies them (gosu, through runc's `GetExecUser`, differs where noted):
//! - USER all digits is a uid; anything else is a name that must be in passwd (`getpwnam`).
//! - A uid is looked up too (`getpwuid`): with an entry, it is the same as naming that entry's user;
//!   without one, gid is dock's own (`getgid()`, 0: dock runs as root), HOME is `/` and the only group
//!   is gid. gosu does the same, except that it sets no supplementary group at all.
//! - GROUP, when given, is the gid (a name must be in /etc/group, digits are a gid that need not be)
//!   and the only group: su-exec drops the user's supplementary groups then ("group was specified,
//!   ignore grouplist for setgroups later"); gosu sets none.
//! - Without GROUP: gid is the passwd entry's, and the groups are `getgrouplist(name, gid)`: gid first,
//!   then every /etc/group entry that lists the user's name, in file order, duplicates dropped (glibc
//!   drops them, musl does not; the set is the same).
//! - The first matching line wins, as `getpwnam`/`getgrnam` read the file top down.
//!
//! Registers nothing.

/// The most supplementary groups `setgroups(2)` takes (`NGROUPS_MAX`, include/uapi/linux/limits.h).
pub const NGROUPS_MAX: usize = 65536;

/// `(uid_t)-1` and `(gid_t)-1` mean "unchanged" to `setresuid(2)` and `chown(2)`: never an id.
const NO_ID: u32 = u32::MAX;

/// USER of `--user`: a name from passwd or a numeric uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// A user name; it must have a passwd entry.
    Name(String),
    /// A uid, 0–4294967294; it need not have an entry.
    Id(u32),
}

/// GROUP of `--user USER:GROUP`: a name from /etc/group or a numeric gid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    /// A group name; it must have an /etc/group entry.
    Name(String),
    /// A gid, 0–4294967294; it need not have an entry.
    Id(u32),
}

/// `--user USER[:GROUP]` as given and as parsed ([`parse_user_spec`]); resolved against the files
/// right before the spawn ([`resolve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// The value as the user wrote it, for messages.
    pub text: String,
    /// What the user set it with, for messages: `--user`, or `DOCK_USER` from the environment.
    pub origin: String,
    /// USER.
    pub user: UserRef,
    /// GROUP, when given.
    pub group: Option<GroupRef>,
}

/// What the child runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// For `setuid(2)`.
    pub uid: u32,
    /// For `setgid(2)`; always `groups[0]`.
    pub gid: u32,
    /// For `setgroups(2)`: the primary gid first, no duplicates, at most [`NGROUPS_MAX`].
    pub groups: Vec<u32>,
    /// For `HOME`: the passwd entry's directory, `/` without an entry or with an empty one.
    pub home: String,
}

/// One passwd(5) line: `name:password:uid:gid:gecos:home:shell`, the fields dock uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswdEntry<'a> {
    /// Login name, non-empty.
    pub name: &'a str,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory, as written (may be empty).
    pub home: &'a str,
}

/// One group(5) line: `name:password:gid:member,member,...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry<'a> {
    /// Group name, non-empty.
    pub name: &'a str,
    /// Group id.
    pub gid: u32,
    /// Member user names, empty items (`a,,b`, a trailing comma) left out.
    pub members: Vec<&'a str>,
}

/// Parses `--user USER[:GROUP]` (split at the first `:`). All digits make an id (leading zeros
/// allowed, as su-exec's `strtol`), anything else a name.
///
/// # Errors
/// An empty USER or GROUP (`:g`, `u:`, `:`), a second `:`, a blank or control character, or an id
/// above 4294967294 (4294967295 is `(uid_t)-1`).
pub fn parse_user_spec(s: &str) -> Result<(UserRef, Option<GroupRef>), String> {
    let (user, group) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let user = match parse_ref(user, "user")? {
        Ref::Name(n) => UserRef::Name(n),
        Ref::Id(i) => UserRef::Id(i),
    };
    let group = match group.map(|g| parse_ref(g, "group")).transpose()? {
        Some(Ref::Name(n)) => Some(GroupRef::Name(n)),
        Some(Ref::Id(i)) => Some(GroupRef::Id(i)),
        None => None,
    };
    Ok((user, group))
}

enum Ref {
    Name(String),
    Id(u32),
}

fn parse_ref(s: &str, what: &str) -> Result<Ref, String> {
    if s.is_empty() {
        return Err(format!("empty {what}, expected USER[:GROUP]"));
    }
    if s.contains(':') {
        return Err(format!("'{s}': a {what} cannot contain ':'"));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        // The caller shows control characters escaped (dock's usage line is one line).
        return Err(format!("'{s}': blank or control character in {what}"));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Ref::Name(s.to_string()));
    }
    match parse_id(s) {
        Some(id) => Ok(Ref::Id(id)),
        None => Err(format!("{what} id {s} is out of range 0-4294967294")),
    }
}

/// ASCII digits as an id, 0–4294967294.
fn parse_id(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().filter(|&id| id != NO_ID)
}

/// Parses one passwd(5) line: exactly seven `:`-separated fields, a non-empty name, uid and gid as
/// ids. `None` for a comment (`#` first, after blanks), a blank line, or anything malformed (NIS
/// `+`/`-` lines included): a bad line is skipped, never an error, as libc's readers skip it.
pub fn parse_passwd_line(line: &str) -> Option<PasswdEntry<'_>> {
    if is_skipped(line) {
        return None;
    }
    let mut f = line.split(':');
    let name = f.next().filter(|n| !n.is_empty())?;
    let _password = f.next()?;
    let uid = parse_id(f.next()?)?;
    let gid = parse_id(f.next()?)?;
    let _gecos = f.next()?;
    let home = f.next()?;
    let _shell = f.next()?;
    if f.next().is_some() {
        return None;
    }
    Some(PasswdEntry {
        name,
        uid,
        gid,
        home,
    })
}

/// Parses one group(5) line: exactly four `:`-separated fields, a non-empty name, gid as an id,
/// members comma-separated. `None` as for [`parse_passwd_line`].
pub fn parse_group_line(line: &str) -> Option<GroupEntry<'_>> {
    if is_skipped(line) {
        return None;
    }
    let mut f = line.split(':');
    let name = f.next().filter(|n| !n.is_empty())?;
    let _password = f.next()?;
    let gid = parse_id(f.next()?)?;
    let members = f.next()?;
    if f.next().is_some() {
        return None;
    }
    let members = members.split(',').filter(|m| !m.is_empty()).collect();
    Some(GroupEntry { name, gid, members })
}

fn is_skipped(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#')
}

/// The credentials for USER and GROUP from the text of `/etc/passwd` and `/etc/group`, by su-exec's
/// rules (module header).
///
/// # Errors
/// "unknown user 'x'" for a name without a passwd entry, "unknown group 'x'" for a group name without
/// an /etc/group entry, or more groups than [`NGROUPS_MAX`].
pub fn resolve(
    user: &UserRef,
    group: Option<&GroupRef>,
    passwd: &str,
    group_file: &str,
) -> Result<Credentials, String> {
    let users = || passwd.lines().filter_map(parse_passwd_line);
    let (entry, uid) = match user {
        UserRef::Name(name) => {
            let e = users()
                .find(|e| e.name == name)
                .ok_or_else(|| format!("unknown user '{name}'"))?;
            (Some(e), e.uid)
        }
        UserRef::Id(uid) => (users().find(|e| e.uid == *uid), *uid),
    };
    let home = match entry {
        Some(e) if !e.home.is_empty() => e.home.to_string(),
        _ => "/".to_string(),
    };
    let (gid, groups) = match (group, entry) {
        (Some(g), _) => {
            let gid = group_id(g, group_file)?;
            (gid, vec![gid])
        }
        (None, Some(e)) => (e.gid, group_list(e.name, e.gid, group_file)),
        // su-exec keeps its own gid, which is root's: dock runs as root to switch users at all.
        (None, None) => (0, vec![0]),
    };
    if groups.len() > NGROUPS_MAX {
        return Err(format!(
            "user is in {} groups, more than the kernel's {NGROUPS_MAX}",
            groups.len()
        ));
    }
    Ok(Credentials {
        uid,
        gid,
        groups,
        home,
    })
}

fn group_id(group: &GroupRef, group_file: &str) -> Result<u32, String> {
    match group {
        GroupRef::Id(gid) => Ok(*gid),
        GroupRef::Name(name) => group_file
            .lines()
            .filter_map(parse_group_line)
            .find(|g| g.name == name)
            .map(|g| g.gid)
            .ok_or_else(|| format!("unknown group '{name}'")),
    }
}

/// `getgrouplist(user, gid)`: gid, then the gid of every entry listing `user`, first occurrence kept.
fn group_list(user: &str, gid: u32, group_file: &str) -> Vec<u32> {
    // Keyed as i32, bit for bit: the set type dock already uses for pids (one copy of the code).
    let key = |g: u32| i32::from_ne_bytes(g.to_ne_bytes());
    let mut groups = vec![gid];
    let mut seen = std::collections::BTreeSet::from([key(gid)]);
    for g in group_file.lines().filter_map(parse_group_line) {
        if g.members.contains(&user) && seen.insert(key(g.gid)) {
            groups.push(g.gid);
        }
    }
    groups
}

#[cfg(test)]
mod tests;
