//! Integration tests: the real `dock` binary, as PID 1 of a new PID namespace
//! (`unshare --pid --fork --mount-proc`, CI is root) or as a child subreaper, on loopback only.

// Not shipped: a harness or demo, where a panic is the failure report and casts are of measured
// values in known ranges.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    missing_docs
)]

mod core;
mod faults;
mod hook;
mod io;
mod logs;
#[cfg(feature = "tls")]
mod pki;
mod ports;
mod rotate;
mod runc;
mod util;
