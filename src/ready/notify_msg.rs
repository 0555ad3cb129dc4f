//! sd_notify(3) datagrams on `NOTIFY_SOCKET` (`--ready-notify`): newline-separated `KEY=VALUE`
//! assignments, read as systemd's service manager reads them (`src/core/manager.c`,
//! `manager_dispatch_notify_fd`, and `service_notify_message` in `src/core/service.c`):
//! - A datagram of more than [`MAX_DATAGRAM`] bytes is ignored whole: systemd reads into
//!   `NOTIFY_BUFFER_MAX` (= `PIPE_BUF`, 4096 on Linux) bytes and drops a truncated message.
//! - One trailing NUL is allowed and dropped; any other NUL makes the datagram ignored whole
//!   ("Received notify message with embedded NUL bytes. Ignoring.").
//! - Lines are split at `\n` and at `\r` (systemd's `NEWLINE`), empty ones skipped; nothing is
//!   unescaped (`strv_split` with `EXTRACT_RETAIN_ESCAPE`).
//! - `READY=1`, `STOPPING=1`, `RELOADING=1` count only with the value exactly `1`; `MAINPID=` only
//!   with a pid ≥ 1; anything else is kept as [`Assignment::Other`], which the caller ignores or logs,
//!   as systemd does with keys it does not know.
//! - A line that is not UTF-8 is skipped (systemd refuses a `STATUS=` that is not, "not UTF-8 clean",
//!   and knows no other key whose value could need it); so is a line without `=` or whose key is not
//!   `[A-Z0-9_]+` (sd_notify(3): "similar in style to an environment block"; none is a known key).
//!
//! Registers nothing.

use std::fmt;

/// The longest datagram read: systemd's `NOTIFY_BUFFER_MAX`, which is `PIPE_BUF` (4096 on Linux,
/// include/uapi/linux/limits.h). Receive into `MAX_DATAGRAM + 1` bytes (or with `MSG_TRUNC`) to see
/// that a longer one was cut.
pub const MAX_DATAGRAM: usize = 4096;

/// One assignment of a datagram, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignment<'a> {
    /// `READY=1`: start-up is finished.
    Ready,
    /// `RELOADING=1`: reloading its configuration.
    Reloading,
    /// `STOPPING=1`: shutting down.
    Stopping,
    /// `STATUS=…`: free-form status text (the hook's `status_text`), possibly empty.
    Status(&'a str),
    /// `MAINPID=N`, N from 1 to `i32::MAX` (pid_t): the main process is now N.
    MainPid(i32),
    /// Any other well-formed assignment, known keys with values systemd would ignore included
    /// (`READY=0`, `MAINPID=abc`).
    Other {
        /// `[A-Z0-9_]+`.
        key: &'a str,
        /// Everything after the first `=`, up to the line's end.
        value: &'a str,
    },
}

/// Why a datagram is ignored whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// More than [`MAX_DATAGRAM`] bytes; the length seen.
    TooLong(usize),
    /// A NUL byte before the last one.
    Nul,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::TooLong(n) => {
                write!(f, "notify datagram of {n} bytes, more than {MAX_DATAGRAM}")
            }
            Malformed::Nul => f.write_str("notify datagram with an embedded NUL byte"),
        }
    }
}

impl std::error::Error for Malformed {}

/// Parses one datagram into its assignments, in order (module header for the rules).
///
/// # Errors
/// [`Malformed`] for a datagram systemd ignores whole: too long, or a NUL before the last byte.
pub fn parse(datagram: &[u8]) -> Result<Vec<Assignment<'_>>, Malformed> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(Malformed::TooLong(datagram.len()));
    }
    let body = datagram.strip_suffix(b"\0").unwrap_or(datagram);
    if body.contains(&0) {
        return Err(Malformed::Nul);
    }
    Ok(body
        .split(|&b| b == b'\n' || b == b'\r')
        .filter_map(|line| std::str::from_utf8(line).ok())
        .filter_map(assignment)
        .collect())
}

/// One line as an assignment; `None` for an empty or ill-formed line.
fn assignment(line: &str) -> Option<Assignment<'_>> {
    let (key, value) = line.split_once('=')?;
    let key_ok = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !key_ok {
        return None;
    }
    Some(match (key, value) {
        ("READY", "1") => Assignment::Ready,
        ("RELOADING", "1") => Assignment::Reloading,
        ("STOPPING", "1") => Assignment::Stopping,
        ("STATUS", v) => Assignment::Status(v),
        ("MAINPID", v) => match parse_pid(v) {
            Some(pid) => Assignment::MainPid(pid),
            None => Assignment::Other { key, value },
        },
        _ => Assignment::Other { key, value },
    })
}

/// A pid: ASCII digits, 1 to `i32::MAX` (systemd's `parse_pid` and `pid_is_valid`).
fn parse_pid(s: &str) -> Option<i32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i32>().ok().filter(|&p| p >= 1)
}

/// What one datagram says, as systemd reads it: a flag is set if any line sets it; `STATUS` and
/// `MAINPID` are the first such line (`strv_find_startswith`), so a first `MAINPID=` that is not a
/// pid hides a later good one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Notice<'a> {
    /// `READY=1` was sent.
    pub ready: bool,
    /// `RELOADING=1` was sent.
    pub reloading: bool,
    /// `STOPPING=1` was sent.
    pub stopping: bool,
    /// The first `STATUS=` text.
    pub status: Option<&'a str>,
    /// The first `MAINPID=`, if it is a pid.
    pub main_pid: Option<i32>,
}

/// Folds [`parse`]'s assignments into a [`Notice`].
pub fn summarize<'a>(assignments: &[Assignment<'a>]) -> Notice<'a> {
    let mut n = Notice::default();
    let mut pid_seen = false;
    for a in assignments {
        match *a {
            Assignment::Ready => n.ready = true,
            Assignment::Reloading => n.reloading = true,
            Assignment::Stopping => n.stopping = true,
            Assignment::Status(s) => {
                n.status.get_or_insert(s);
            }
            Assignment::MainPid(p) if !pid_seen => {
                pid_seen = true;
                n.main_pid = Some(p);
            }
            Assignment::Other { key: "MAINPID", .. } => pid_seen = true,
            _ => {}
        }
    }
    n
}

#[cfg(test)]
mod tests;
