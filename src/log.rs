//! Diagnostics on stderr: `dock[<pid>]: ...` lines. Errors always; debug lines only with `-d`.
//!
//! Registers nothing. Writes are small and go straight to fd 2, unbuffered, so a line is never lost when
//! dock exits right after.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static DEBUG: AtomicBool = AtomicBool::new(false);

/// Turns debug lines on (`-d`, `--debug`, `DOCK_DEBUG`).
pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

/// Whether debug lines are printed.
pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// Writes one `dock[<pid>]: <args>` line to stderr; a failing stderr is ignored (nowhere to report it).
pub fn emit(args: fmt::Arguments<'_>) {
    let line = format!("dock[{}]: {}\n", std::process::id(), args);
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
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
