//! How the main child ended, and the exit code dock passes on (as a shell and docker do).
//!
//! Registers nothing.

/// The main child's end: `code` is what dock exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildExit {
    /// Exit code N, or 128+S when signal S killed it (bash(1) "EXIT STATUS").
    pub code: i32,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
}

impl ChildExit {
    /// Exited with `code` (0–255).
    pub fn exited(code: i32) -> Self {
        ChildExit { code, signal: None }
    }

    /// Killed by signal `sig`: code 128+`sig`.
    pub fn signaled(sig: i32) -> Self {
        ChildExit {
            code: 128 + sig,
            signal: Some(sig),
        }
    }
}

/// `SIGTERM`-style name of a signal number (signal(7)), or `SIG<n>` for realtime ones.
pub fn signal_name(sig: i32) -> String {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(s) => s.as_str().to_string(),
        Err(_) => format!("SIG{sig}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names() {
        assert_eq!(ChildExit::signaled(15).code, 143);
        assert_eq!(
            ChildExit::exited(3),
            ChildExit {
                code: 3,
                signal: None
            }
        );
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(40), "SIG40");
    }
}
