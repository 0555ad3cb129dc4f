//! Integration tests: the real `dock` binary, as PID 1 of a new PID namespace
//! (`unshare --pid --fork --mount-proc`, CI is root) or as a child subreaper, on loopback only.

mod core;
mod engines;
mod fuzz_corpus;
mod hook;
mod io;
#[cfg(feature = "tls")]
mod pki;
mod ports;
mod rotate;
mod runc;
mod util;
