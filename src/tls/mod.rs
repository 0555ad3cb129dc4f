//! TLS for `--io tls://` and `https://` hooks: the options the command line gives ([`TlsOptions`])
//! and, with the `tls` feature, the rustls client configuration ([`client`]).
//!
//! Registers nothing.

#[cfg(feature = "tls")]
mod client;

use std::path::PathBuf;

#[cfg(feature = "tls")]
pub use client::{client_config, describe, server_name, TlsError};

/// `--ca-file` and `--insecure`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Extra trust roots (PEM), checked readable at parse time.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification.
    pub insecure: bool,
}
