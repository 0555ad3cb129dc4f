//! dock: a micro init for Linux containers.
//!
//! dock runs as PID 1 (or as a child subreaper), starts one command, forwards every signal to it, reaps
//! every zombie, tears the process tree down when the main child dies (SIGTERM, then SIGKILL after a
//! grace period) and exits with the main child's status. Around that: stdio to a file or a TCP/TLS/Unix
//! socket on a pty, prefixed lines, log rotation, port readiness via NETLINK_SOCK_DIAG, and a web hook.
//!
//! One thread of control: a `mio::Poll` loop ([`reactor`]) over a signalfd, pidfds, pipes, sockets and
//! timerfds. All `unsafe` lives in [`sys`].

#![deny(unsafe_code)]

pub mod app;
pub mod cli;
pub mod error;
#[doc(hidden)]
pub mod fuzz_entry;
pub mod hook;
pub mod io;
pub mod io_stamp;
pub mod log;
pub mod netif;
pub mod notify_msg;
pub mod ports;
pub mod procfs;
pub mod reactor;
pub mod rotate;
pub mod rotate_clock;
pub mod signals;
pub mod signals_spec;
pub mod size_spec;
pub mod status;
pub mod supervisor;
#[allow(unsafe_code)]
pub mod sys;
#[cfg(feature = "tls")]
pub mod tls;
pub mod user_spec;

pub use app::run;
pub use cli::Config;
pub use error::Error;
pub use status::ChildExit;
