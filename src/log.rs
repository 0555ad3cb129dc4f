//! Diagnostics on stderr: `dock[<pid>]: ...` lines. Errors always; debug lines only with `-d`. Also
//! the one way dock renders an error ([`chain`]), for these lines and for the `dock: ...` line of a
//! usage error.
//!
//! Registers nothing. Each line is one unbuffered write, so a line is never lost when dock exits right
//! after. The writes never block: they go to dock's own non-blocking copy of fd 2 ([`OutFd`], as the
//! relay uses), and a line that does not fit in a full pipe is dropped and counted rather than stall
//! signal forwarding and reaping behind a reader that stopped reading. Depends on nothing but `sys`.
//!
//! No line shows a URL's credentials or query: every line goes through [`redact`] on its way out.

use std::fmt;
use std::io::Write;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::sys::out::OutFd;

mod redact;
pub use redact::{mask, redact, url_secrets, MASK};

static DEBUG: AtomicBool = AtomicBool::new(false);

/// dock's non-blocking copy of stderr, made at the first line; `None` if fd 2 is closed.
static STDERR: OnceLock<Mutex<Option<OutFd>>> = OnceLock::new();

/// Lines dropped because stderr was full; reported with the next line that fits.
static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// Turns debug lines on (`-d`, `--debug`, `DOCK_DEBUG`).
pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

/// Whether debug lines are printed.
pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// Writes one `dock[<pid>]: <args>` line to stderr without blocking; a full or failing stderr drops
/// the line (nowhere to report it but stderr itself).
pub fn emit(args: fmt::Arguments<'_>) {
    let pid = std::process::id();
    let mut line = String::new();
    let dropped = DROPPED.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        line.push_str(&format!(
            "dock[{pid}]: {dropped} log line(s) dropped: stderr was full\n"
        ));
    }
    let text = args.to_string();
    line.push_str(&format!("dock[{pid}]: {}\n", redact(&text)));
    let out = STDERR.get_or_init(|| Mutex::new(OutFd::new(std::io::stderr().as_fd()).ok()));
    let Ok(mut guard) = out.lock() else {
        return;
    };
    let written = match guard.as_mut() {
        // A pipe write of at most PIPE_BUF bytes is all or nothing (pipe(7)); a longer line may be
        // cut, which is still better than a stalled init.
        Some(fd) => fd.write(line.as_bytes()).unwrap_or(0),
        None => std::io::stderr().write(line.as_bytes()).unwrap_or(0),
    };
    if written == 0 {
        DROPPED.fetch_add(1 + dropped, Ordering::Relaxed);
    }
}

/// A duration as a person reads it in a log line, in seconds with at most 3 decimals: "5 s",
/// "1.5 s", "0.1 s" (`Duration`'s `Debug` gives "100ms", "0ns").
pub fn seconds(d: std::time::Duration) -> String {
    // Integer arithmetic, rounded to the ms: formatting an f64 would link core's float printing
    // (several kB of the static binary's size budget) for a log line.
    format!("{} s", decimal(d.as_micros().saturating_add(500) / 1000, 3))
}

/// `n` thousandths (`decimals` = 3) or tenths (1)... as a decimal number without trailing zeros:
/// `decimal(1500, 3)` is "1.5", `decimal(42, 1)` is "4.2", `decimal(7000, 3)` is "7".
pub fn decimal(n: u128, decimals: u32) -> String {
    let scale = 10u128.pow(decimals);
    let (whole, frac) = (n / scale, n % scale);
    if frac == 0 {
        return whole.to_string();
    }
    let width = usize::try_from(decimals).unwrap_or(0);
    let frac = format!("{frac:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// A cause as dock writes it: std's " (os error N)" suffix dropped and the first letter lower-case,
/// like the rest of dock's messages ("No such file or directory (os error 2)" becomes "no such
/// file or directory").
pub fn reason(cause: &dyn fmt::Display) -> String {
    let s = cause.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s);
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// An error and its causes (`source()` chain), `": "`-separated, each cause as [`reason`]: the one
/// way dock renders an error, on the `dock: ...` line before the child starts and in log lines after.
/// Error types keep their cause as a `#[source]` and never paste it into their own message.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&reason(c));
        cause = c.source();
    }
    text
}

/// A debug line, printed only with `-d`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::log::debug_enabled() {
            $crate::log::emit(format_args!($($arg)*))
        }
    };
}

/// An error or warning line, always printed. dock goes on after it.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => {
        $crate::log::emit(format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn seconds_read_like_the_command_line() {
        for (d, text) in [
            (Duration::ZERO, "0 s"),
            (Duration::from_millis(100), "0.1 s"),
            (Duration::from_millis(1500), "1.5 s"),
            (Duration::from_secs(5), "5 s"),
            (Duration::from_secs(10), "10 s"),
            (Duration::from_micros(1234567), "1.235 s"),
            (Duration::from_micros(999_600), "1 s"),
        ] {
            assert_eq!(seconds(d), text);
        }
        assert_eq!(decimal(42, 1), "4.2");
        assert_eq!(decimal(1050, 3), "1.05");
        assert_eq!(decimal(0, 1), "0");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("--io {0}")]
    struct Open(&'static str, #[source] std::io::Error);

    #[test]
    fn errors_render_as_one_chain() {
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(reason(&e), "no such file or directory");
        assert_eq!(
            chain(&Open("/x/y", e)),
            "--io /x/y: no such file or directory"
        );
        assert_eq!(reason(&""), "");
    }
}
