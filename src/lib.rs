//! dock: a micro init for Linux containers.
//!
//! dock runs as PID 1 (or as a child subreaper), starts one command, forwards every signal to it, reaps
//! every zombie, tears the process tree down when the main child dies (SIGTERM, then SIGKILL after a
//! grace period) and exits with the main child's status. Around that: stdio to a file or a TCP/TLS/Unix
//! socket on a pty, prefixed lines, log rotation, port readiness via NETLINK_SOCK_DIAG, and a web hook.
//!
//! Shape (README: Architecture): `main` → [`app`] (composition) → the features, each a handler on the
//! loop (`supervisor`, `signals`, `io`, `rotate`, `ports`, `ready`, `hook`) → `event` (the one
//! `mio::Poll` loop, its deadlines and notices) → [`sys`]. `cli` turns the command line into one config
//! per feature; no feature knows clap. All `unsafe` lives in [`sys`].

#![deny(unsafe_code)]
// Casts that can truncate, wrap or lose a sign are spelled out (try_from, or an allow with the reason
// where the range is known).
#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

pub mod app;
pub(crate) mod bytes;
pub(crate) mod cli;
pub(crate) mod event;
#[cfg(any(test, feature = "fuzz"))]
pub mod fuzz_entry;
pub(crate) mod hook;
pub(crate) mod http;
pub(crate) mod io;
pub(crate) mod log;
pub(crate) mod notice;
pub(crate) mod ports;
pub mod procfs;
pub(crate) mod ready;
pub mod rotate;
pub(crate) mod signals;
pub(crate) mod supervisor;
#[allow(unsafe_code)]
pub mod sys;
pub(crate) mod tls;

pub use app::main;
