//! The readiness options' values (`--ready-notify`, `--ready-fd`, `--ready-http`,
//! `--ready-timeout`, `--ready-file`), parsed and named by their origin.
//!
//! Registers nothing.

use super::{parsed, shown, values, Args, UsageError};

/// The readiness options' values.
pub(super) struct Readiness {
    pub(super) notify: Option<crate::ready::notify::NotifyAddr>,
    pub(super) fd: Option<i32>,
    pub(super) http: Option<crate::http::Url>,
    pub(super) timeout: Option<std::time::Duration>,
    pub(super) file: Option<std::path::PathBuf>,
}

impl Readiness {
    pub(super) fn parse(a: &Args) -> Result<Readiness, UsageError> {
        let src = &a.sources;
        let file = match &a.ready_file {
            None => None,
            Some(p) if p.is_empty() || p.as_encoded_bytes().starts_with(b"-") => {
                // `--ready-file -d cmd`: the value was forgotten.
                return Err(UsageError::Value {
                    flag: src.name("--ready-file"),
                    value: shown(&p.to_string_lossy()),
                    reason: "expected a path (one that starts with '-': write ./-x)".into(),
                });
            }
            Some(p) => Some(std::path::PathBuf::from(p)),
        };
        let notify = a.ready_notify.as_ref();
        Ok(Readiness {
            notify: parsed(src, "--ready-notify", notify, values::parse_notify)?.flatten(),
            fd: parsed(
                src,
                "--ready-fd",
                a.ready_fd.as_ref(),
                values::parse_ready_fd,
            )?,
            http: parsed(
                src,
                "--ready-http",
                a.ready_http.as_ref(),
                values::parse_hook_url,
            )?,
            timeout: parsed(
                src,
                "--ready-timeout",
                a.ready_timeout.as_ref(),
                values::parse_ready_timeout,
            )?,
            file,
        })
    }

    /// Whether a condition besides `--bind-port` is asked for.
    pub(super) fn any_condition(&self) -> bool {
        self.notify.is_some() || self.fd.is_some() || self.http.is_some()
    }
}
