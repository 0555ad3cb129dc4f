//! Integration tests: the real `dock` binary, as PID 1 of a new PID namespace
//! (`unshare --pid --fork --mount-proc`, CI is root) or as a child subreaper, on loopback only.

// Not shipped: a panic is the failure report here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod core;
mod engines;
mod faults;
mod hook;
mod input;
mod io;
mod logs;
#[cfg(feature = "tls")]
mod pki;
mod ports;
mod process;
mod ready;
mod rotate;
mod runc;
mod util;
