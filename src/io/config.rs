//! What stdio needs from the command line: the `--io` target, the framing of lines
//! (`--stdout-prefix`, `--timestamps`, `--log-format`), `--no-pty`, `--log-mode` and the TLS options
//! for `tls://`.
//!
//! Registers nothing.

use std::path::PathBuf;

use crate::tls::TlsOptions;

/// stdio's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoConfig {
    /// `--io`; `None`: the child inherits dock's stdio.
    pub target: Option<IoTarget>,
    /// `--stdout-prefix`.
    pub prefix: Option<Prefix>,
    /// `--timestamps`.
    pub timestamps: bool,
    /// `--log-format json`.
    pub json: bool,
    /// `--no-pty` (with a network `--io`).
    pub no_pty: bool,
    /// `--log-mode`: the mode of the `--io` file when dock creates it (and of archives).
    pub mode: u32,
    /// `--ca-file`, `--insecure` (for `tls://`).
    pub tls: TlsOptions,
}

impl Default for IoConfig {
    fn default() -> IoConfig {
        IoConfig {
            target: None,
            prefix: None,
            timestamps: false,
            json: false,
            no_pty: false,
            mode: crate::rotate::DEFAULT_MODE,
            tls: TlsOptions::default(),
        }
    }
}

impl IoConfig {
    /// The child gets a pty (a network `--io` without `--no-pty`).
    pub fn pty(&self) -> bool {
        self.network() && !self.no_pty
    }

    /// A network `--io` (tcp, tls, unix).
    pub fn network(&self) -> bool {
        matches!(self.target, Some(IoTarget::Net { .. } | IoTarget::Unix(_)))
    }

    /// Output lines are framed: a prefix, stamps or JSON.
    pub fn framed(&self) -> bool {
        self.prefix.is_some() || self.timestamps || self.json
    }

    /// How lines of `stream` are framed.
    pub fn frame(&self, stream: super::stamp::Stream) -> super::frame::Frame {
        super::frame::Frame {
            prefix: self.prefix.as_ref().map(Prefix::bytes).unwrap_or_default(),
            timestamps: self.timestamps,
            json: self.json.then_some(stream),
        }
    }
}

/// Where the child's stdio goes (`--io`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoTarget {
    /// `file:///abs/path` or a bare path (relative to the working directory).
    File(PathBuf),
    /// `tcp://host:port`, or with `tls: true`, `tls://` / `ssl://`.
    Net {
        /// Host name or IP literal, without brackets.
        host: String,
        /// TCP port, 1–65535.
        port: u16,
        /// TLS on top of TCP.
        tls: bool,
    },
    /// `unix:///path`: a stream socket.
    Unix(PathBuf),
}

/// `--stdout-prefix P[:COLOR]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    /// The text put before every line.
    pub text: String,
    /// Bold color, if one was named.
    pub color: Option<Color>,
}

/// The colors `--stdout-prefix` knows, with their SGR foreground codes (ECMA-48).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    White,
    Green,
    Blue,
    Magenta,
    Yellow,
    Cyan,
    Red,
}

impl Color {
    /// The color named `name` (in any case: `cyan`, `CYAN`), if known.
    pub fn from_name(name: &str) -> Option<Color> {
        Some(match name.to_ascii_lowercase().as_str() {
            "white" => Color::White,
            "green" => Color::Green,
            "blue" => Color::Blue,
            "magenta" => Color::Magenta,
            "yellow" => Color::Yellow,
            "cyan" => Color::Cyan,
            "red" => Color::Red,
            _ => return None,
        })
    }

    /// SGR foreground code: white 37, green 32, blue 34, magenta 35, yellow 33, cyan 36, red 31.
    pub fn code(self) -> u8 {
        match self {
            Color::White => 37,
            Color::Green => 32,
            Color::Blue => 34,
            Color::Magenta => 35,
            Color::Yellow => 33,
            Color::Cyan => 36,
            Color::Red => 31,
        }
    }
}

impl Prefix {
    /// The exact bytes put before each line: `ESC[<code>;1m` + text + `ESC[0m` with a color, else the text.
    pub fn bytes(&self) -> Vec<u8> {
        match self.color {
            Some(c) => format!("\x1b[{};1m{}\x1b[0m", c.code(), self.text).into_bytes(),
            None => self.text.clone().into_bytes(),
        }
    }
}
