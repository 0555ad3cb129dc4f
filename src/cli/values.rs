//! Pure parsers of flag values (outside input: argv and `DOCK_*`). Each returns a typed value or a
//! lower-case reason; [`super::UsageError`] adds the flag name. Every one has a fuzz target.

pub mod size;
// Signals and the child's process (issue 18).
pub mod process;

use std::path::PathBuf;
use std::time::Duration;

use crate::http::Url;
use crate::io::{Color, IoTarget, Prefix};
use crate::ready::notify::NotifyAddr;

/// The longest `--stdout-prefix`, bytes: far above any real prefix, small enough that framing
/// stays cheap in memory whatever the output (issue 16.8).
pub const MAX_PREFIX: usize = 4096;

/// Parses `--stdout-prefix`: split on the last `:` only if what follows is a color name. At most
/// [`MAX_PREFIX`] bytes.
pub fn parse_prefix(s: &str) -> Result<Prefix, String> {
    if s.is_empty() {
        return Err("empty prefix".into());
    }
    if s.len() > MAX_PREFIX {
        return Err(format!(
            "{} bytes: a prefix is at most {MAX_PREFIX} bytes",
            s.len()
        ));
    }
    if let Some((text, color)) = s.rsplit_once(':') {
        if let Some(c) = Color::from_name(color) {
            return Ok(Prefix {
                text: text.to_string(),
                color: Some(c),
            });
        }
    }
    Ok(Prefix {
        text: s.to_string(),
        color: None,
    })
}

/// Parses `--log-format`: `raw` or `json` (true for json).
pub fn parse_log_format(s: &str) -> Result<bool, String> {
    match s {
        "raw" => Ok(false),
        "json" => Ok(true),
        _ => Err("expected raw or json".into()),
    }
}

/// Parses `--log-mode`: an octal file mode, 1 to 4 digits (`600`, `0640`, `0o644` is refused as
/// chmod(1) does), permission bits only (at most 0777: no setuid, setgid or sticky bit on a log).
pub fn parse_log_mode(s: &str) -> Result<u32, String> {
    const HINT: &str = "expected an octal mode like 0600, 0640 or 0644";
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(HINT.into());
    }
    let mode = u32::from_str_radix(s, 8).map_err(|_| HINT.to_string())?;
    if mode > 0o777 {
        return Err("only permission bits (at most 0777): no setuid, setgid or sticky bit".into());
    }
    Ok(mode)
}

/// Parses a TCP port, 1–65535.
pub fn parse_port(s: &str) -> Result<u16, String> {
    // Digits only: no sign, no blanks, no leading zero (`080` is not a port anyone means).
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') && s != "0" {
        return Err("not a port number (1-65535)".into());
    }
    match s.parse::<u32>() {
        Ok(p) => u16::try_from(p)
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| "port must be 1-65535".into()),
        Err(_) => Err("not a port number (1-65535)".into()),
    }
}

/// Largest accepted duration: 100 years; keeps timerfd and Instant arithmetic far from overflow.
const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Parses `--log-rotate`: whole hours (`24`) or a number with a unit `s`, `m`, `h`, `d`. Must be > 0.
/// No blanks, as every other value parser: `' 1s'` is refused, not trimmed.
pub fn parse_rotate_period(s: &str) -> Result<Duration, String> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "h"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| "expected whole hours or a duration like 30s, 90m, 12h, 7d".to_string())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("unknown unit '{unit}' (use s, m, h or d)")),
    };
    let secs = n.checked_mul(mult).ok_or("period too long")?;
    if secs == 0 {
        return Err("period must be greater than zero".into());
    }
    let d = Duration::from_secs(secs);
    if d > MAX_DURATION {
        return Err("period too long".into());
    }
    Ok(d)
}

/// Parses `--grace-period`: seconds, whole or decimal (`5`, `0.5`), ≥ 0, exact to the nanosecond
/// (further decimals are cut).
pub fn parse_grace(s: &str) -> Result<Duration, String> {
    // Plain decimal only, as `--bind-port` takes digits only: no blanks, sign or exponent. Read as
    // integers, not through `f64::from_str`, which would take all of those, round, and cost the
    // static binary some 14 kB of float parsing tables and code.
    const HINT: &str = "expected seconds, like 5 or 0.5";
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + frac.len() == 0 || !digits(whole) || !digits(frac) {
        return Err(HINT.into());
    }
    let too_long = || "too long".to_string();
    let secs: u64 = match whole {
        "" => 0,
        w => w.parse().map_err(|_| too_long())?,
    };
    let mut nanos = 0u32;
    for i in 0..9 {
        let digit = frac.as_bytes().get(i).map_or(0, |b| b - b'0');
        nanos = nanos * 10 + u32::from(digit);
    }
    let d = Duration::new(secs, nanos);
    if d > MAX_DURATION {
        return Err(too_long());
    }
    Ok(d)
}

/// Parses `--log-keep`: a count ≥ 1.
pub fn parse_keep(s: &str) -> Result<usize, String> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a whole number of archives, at least 1".into());
    }
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number of archives, at least 1".into()),
    }
}

/// Longest `sun_path` content: 108 bytes hold a path and its NUL, or a NUL and an abstract name
/// (unix(7)).
const MAX_SOCKET_NAME: usize = 107;

/// Parses `--ready-notify`'s value: `1`/`true`/`yes`/`on` (what the bare flag gives) for an abstract
/// name the kernel picks, `0`/`false`/`no`/`off`/empty for none (`DOCK_READY_NOTIFY=0`), `@name`
/// for that abstract name, `/path` for a socket file (sd_notify(3) takes only these two forms).
pub fn parse_notify(s: &str) -> Result<Option<NotifyAddr>, String> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => return Ok(Some(NotifyAddr::Auto)),
        "0" | "false" | "no" | "off" | "" => return Ok(None),
        _ => {}
    }
    let long = || format!("longer than {MAX_SOCKET_NAME} bytes, a Unix socket address's limit");
    if let Some(name) = s.strip_prefix('@') {
        if name.is_empty() {
            return Err("empty abstract name after '@'".into());
        }
        if name.len() > MAX_SOCKET_NAME {
            return Err(long());
        }
        return Ok(Some(NotifyAddr::Abstract(name.as_bytes().to_vec())));
    }
    if !s.starts_with('/') {
        return Err(
            "expected an absolute /path or an @abstract-name (or the bare flag: a name dock picks)"
                .into(),
        );
    }
    if s.len() > MAX_SOCKET_NAME {
        return Err(long());
    }
    if s.ends_with('/') {
        return Err("a directory, not a socket's path".into());
    }
    Ok(Some(NotifyAddr::Path(PathBuf::from(s))))
}

/// Parses `--ready-fd`: a decimal fd number, 3 or more (0–2 are the child's stdio).
pub fn parse_ready_fd(s: &str) -> Result<i32, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected an fd number, 3 or more".into());
    }
    match s.parse::<i32>() {
        Ok(n) if n >= 3 => Ok(n),
        Ok(_) => {
            Err("fds 0, 1 and 2 are the child's stdin, stdout and stderr: use 3 or more".into())
        }
        Err(_) => Err("fd number too large".into()),
    }
}

/// Parses `--ready-timeout`: seconds as `--grace-period` takes them (`30`, `2.5`), at least 1 ms.
pub fn parse_ready_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_grace(s)?;
    if d < Duration::from_millis(1) {
        return Err("must be at least 0.001 seconds".into());
    }
    Ok(d)
}

/// Longest host name, bytes (RFC 1035 §2.3.4: 255 octets on the wire, 253 characters as text).
pub const MAX_HOST: usize = 253;

/// Longest label of a host name, bytes (RFC 1035 §2.3.4).
pub const MAX_LABEL: usize = 63;

/// Splits `host:port` (host may be `[v6]`); the port is required.
fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    let (host, rest) = if let Some(r) = s.strip_prefix('[') {
        let end = r.find(']').ok_or("unclosed '[' in host")?;
        let host = &r[..end];
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("'{host}' is not an IPv6 address"));
        }
        (host, &r[end + 1..])
    } else {
        match s.rfind(':') {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        }
    };
    if host.is_empty() {
        return Err("missing host".into());
    }
    if host.len() > MAX_HOST {
        return Err(format!(
            "host name of {} bytes: longer than {MAX_HOST} (RFC 1035)",
            host.len()
        ));
    }
    if host.split('.').any(|label| label.len() > MAX_LABEL) {
        return Err(format!(
            "a label of the host name is longer than {MAX_LABEL} bytes (RFC 1035)"
        ));
    }
    if !host.starts_with(|c: char| c.is_ascii_alphanumeric())
        && host.parse::<std::net::Ipv6Addr>().is_err()
        || host
            .chars()
            .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')))
    {
        return Err(format!("'{host}' is not a host name or IP address"));
    }
    if host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err() {
        return Err(format!("'{host}' is not a host name or IP address"));
    }
    let port = match rest {
        "" => None,
        r => match r.strip_prefix(':') {
            Some(p) => Some(parse_port(p)?),
            None => return Err(format!("unexpected '{r}' after host")),
        },
    };
    Ok((host.to_string(), port))
}

/// Parses `--io`: `file:///abs`, a bare path, `tcp://host:port`, `tls://` / `ssl://host:port`,
/// `unix:///path`.
pub fn parse_io(s: &str) -> Result<IoTarget, String> {
    let Some((scheme, rest)) = s.split_once("://") else {
        if s.is_empty() {
            return Err("empty path".into());
        }
        if s.starts_with('-') {
            // `dock --io -d cmd`: the value was forgotten; a log file named "-d" is not what was meant.
            return Err(format!(
                "looks like an option, not a path (a file of that name: ./{s})"
            ));
        }
        // A scheme without its "//" is a mistyped URL, not a file to create in the current directory.
        let scheme = s.split_once(':').map(|(sc, _)| sc.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("file") => {
                return Err(
                    "a URL needs three slashes and an absolute path: file:///path/to/log".into(),
                )
            }
            Some("unix") => {
                return Err(
                    "a URL needs three slashes and an absolute path: unix:///path/to/sock".into(),
                )
            }
            Some(net @ ("tcp" | "tls" | "ssl")) => {
                return Err(format!(
                    "a URL needs // after the scheme: {net}://host:port"
                ))
            }
            _ => {}
        }
        return Ok(IoTarget::File(PathBuf::from(s)));
    };
    let scheme = scheme.to_ascii_lowercase();
    match scheme.as_str() {
        "file" => {
            let path = rest.strip_prefix("localhost").unwrap_or(rest);
            if !path.starts_with('/') || path.len() < 2 {
                return Err("file URL needs an absolute path: file:///path/to/log".into());
            }
            Ok(IoTarget::File(PathBuf::from(path)))
        }
        "unix" => {
            if !rest.starts_with('/') || rest.len() < 2 {
                return Err("unix URL needs an absolute socket path: unix:///path/to/sock".into());
            }
            Ok(IoTarget::Unix(PathBuf::from(rest)))
        }
        "tcp" | "tls" | "ssl" => {
            let tls = scheme != "tcp";
            let hostport = rest.strip_suffix('/').unwrap_or(rest);
            let (host, port) = split_host_port(hostport)?;
            let port = port.ok_or("missing port: expected host:port")?;
            Ok(IoTarget::Net { host, port, tls })
        }
        other => Err(format!(
            "unsupported scheme '{other}' (use file, tcp, tls, ssl or unix)"
        )),
    }
}

/// Base64 (RFC 4648, with padding) for `Authorization: Basic`.
pub fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes `%XX` escapes (RFC 3986 §2.1) in URL userinfo; invalid escapes are kept as they are.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                // Two hex digits: at most 0xff.
                out.push(u8::try_from(h * 16 + l).unwrap_or(u8::MAX));
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Parses `--web-hook`: `http://` or `https://`, host (name, IPv4, `[IPv6]`), optional port, path, query.
pub fn parse_hook_url(s: &str) -> Result<Url, String> {
    let (scheme, rest) = s
        .split_once("://")
        .ok_or("expected an http:// or https:// URL")?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" => true,
        other => return Err(format!("unsupported scheme '{other}' (use http or https)")),
    };
    if rest.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return Err("URL contains spaces or control characters".into());
    }
    let rest = rest.split('#').next().unwrap_or("");
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = split_host_port(hostport)?;
    let port = port.unwrap_or(if tls { 443 } else { 80 });
    let basic_auth = userinfo.map(|u| {
        let (user, pass) = u.split_once(':').unwrap_or((u, ""));
        let mut cred = percent_decode(user);
        cred.push(b':');
        cred.extend(percent_decode(pass));
        base64(&cred)
    });
    Ok(Url {
        tls,
        host,
        port,
        path,
        basic_auth,
        original: s.to_string(),
    })
}

#[cfg(test)]
mod tests;
