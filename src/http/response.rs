//! Sans-IO HTTP/1.1 responses: an incremental parser (RFC 9112) fed whatever bytes arrive, in any
//! split, that says when the response is complete; the status line and headers go through httparse,
//! the body is read and discarded by Content-Length, chunked coding, or until the server closes.
//!
//! Registers nothing; `conn.rs` moves the bytes.

use thiserror::Error;

/// Largest response head (status line + headers) accepted, bytes; also bounds each chunk-size line
/// (extensions included) and the trailer section, each on its own. A hook server has no business
/// sending more. The number of chunks is not bounded here: a valid body may have any number of them,
/// and the caller's deadline bounds how long a server may keep sending (the hook's try deadline).
pub const MAX_HEAD: usize = 16 * 1024;

/// Most response headers accepted (httparse needs a fixed array).
pub const MAX_HEADERS: usize = 64;

/// Why a response could not be understood.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum HttpError {
    /// The status line or headers are malformed.
    #[error("malformed response head: {0}")]
    Head(httparse::Error),
    /// The head is longer than [`MAX_HEAD`] bytes.
    #[error("response head longer than {MAX_HEAD} bytes")]
    HeadTooLong,
    /// Content-Length is not a number, or two of them disagree (RFC 9112 §6.3).
    #[error("invalid content-length")]
    ContentLength,
    /// A chunk-size line is malformed or longer than [`MAX_HEAD`], a chunk lacks its CRLF, or the
    /// trailer section is longer than [`MAX_HEAD`].
    #[error("malformed chunked body")]
    Chunked,
    /// The server closed the connection before the response was complete.
    #[error("connection closed before the response was complete")]
    Truncated,
}

/// A complete response: what the hook logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, e.g. 200.
    pub code: u16,
    /// Reason phrase as sent (may be empty).
    pub reason: String,
}

impl Response {
    /// 2xx: the hook was delivered (RFC 9110 §15.3).
    pub fn success(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

/// Where the chunked decoder is (RFC 9112 §7.1). One byte at a time, so any split works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the hex size; `digits` seen so far.
    Size {
        size: u64,
        digits: u32,
    },
    /// Skipping a chunk extension up to the line end.
    Ext {
        size: u64,
    },
    /// Saw CR after the size line; LF must follow.
    SizeLf {
        size: u64,
    },
    /// Skipping `n` more data bytes.
    Data(u64),
    /// After the data: CR then LF.
    DataCr,
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer field line.
    TrailerLine,
    /// Saw CR of the final empty line.
    FinalLf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Head,
    Body(Response, Body),
    Done(Response),
}

/// An incremental response parser: [`ResponseParser::feed`] bytes as they arrive, then
/// [`ResponseParser::eof`] when the server closes. Bytes after a complete response are ignored.
#[derive(Debug)]
pub struct ResponseParser {
    head: Vec<u8>,
    state: State,
    /// Bytes of the current chunk-size line, or of the trailer section so far: each bounded by
    /// [`MAX_HEAD`] on its own (RFC 9112 §7.1 sets no limit; a total over all chunks would refuse a
    /// valid body of many small chunks).
    meta: usize,
}

impl Default for ResponseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseParser {
    /// A parser waiting for the status line.
    pub fn new() -> Self {
        ResponseParser {
            head: Vec::new(),
            state: State::Head,
            meta: 0,
        }
    }

    /// Feeds received bytes. `Ok(Some(_))` once the response is complete (and for every later call).
    ///
    /// # Errors
    /// [`HttpError`]: the connection should be dropped.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<Option<Response>, HttpError> {
        loop {
            match &mut self.state {
                State::Done(r) => return Ok(Some(r.clone())),
                State::Head => {
                    if data.is_empty() {
                        return Ok(None);
                    }
                    let old = self.head.len();
                    let take = data.len().min(MAX_HEAD + 1 - old);
                    self.head.extend_from_slice(&data[..take]);
                    match parse_head(&self.head)? {
                        None if self.head.len() > MAX_HEAD => return Err(HttpError::HeadTooLong),
                        None => {
                            data = &data[take..];
                            // More than MAX_HEAD bytes are never buffered: `take` stops at the limit.
                            if data.is_empty() {
                                return Ok(None);
                            }
                        }
                        Some((len, code, reason, body)) => {
                            data = &data[len.saturating_sub(old).min(data.len())..];
                            self.head.clear();
                            // 1xx are interim responses; the final one follows (RFC 9110 §15.2).
                            if (100..200).contains(&code) && code != 101 {
                                continue;
                            }
                            let resp = Response { code, reason };
                            self.state = match body {
                                Body::Length(0) => State::Done(resp),
                                b => State::Body(resp, b),
                            };
                        }
                    }
                }
                State::Body(_, Body::UntilClose) => return Ok(None),
                State::Body(_, Body::Length(n)) => {
                    data = &data[take(n, data.len())..];
                    if *n == 0 {
                        self.finish();
                    } else {
                        return Ok(None);
                    }
                }
                State::Body(_, Body::Chunked(c)) => {
                    let (used, done) = chunked(c, &mut self.meta, data)?;
                    data = &data[used..];
                    if done {
                        self.finish();
                    } else {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The server closed the connection: completes a close-delimited body.
    ///
    /// # Errors
    /// [`HttpError::Truncated`] when the response was not complete.
    pub fn eof(&mut self) -> Result<Response, HttpError> {
        match &self.state {
            State::Done(r) | State::Body(r, Body::UntilClose) => {
                let r = r.clone();
                self.state = State::Done(r.clone());
                Ok(r)
            }
            _ => Err(HttpError::Truncated),
        }
    }

    fn finish(&mut self) {
        if let State::Body(r, _) = &self.state {
            self.state = State::Done(r.clone());
        }
    }
}

/// Parses a complete head out of `buf`: `(head length, code, reason, body framing)`, or `None` when
/// more bytes are needed.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, u16, String, Body)>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf).map_err(HttpError::Head)? {
        httparse::Status::Partial => return Ok(None),
        httparse::Status::Complete(n) => n,
    };
    let code = resp.code.unwrap_or(0);
    let reason = resp.reason.unwrap_or("").to_string();
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut encoded = false;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            encoded = true;
            // The last coding decides: chunked must be last (RFC 9112 §6.3 rule 4).
            let v = String::from_utf8_lossy(h.value);
            chunked = v
                .rsplit(',')
                .next()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or(HttpError::ContentLength)?;
            if length.is_some_and(|l| l != v) {
                return Err(HttpError::ContentLength);
            }
            length = Some(v);
        }
    }
    // RFC 9112 §6.3: no body for 1xx, 204, 304 (a PUT is never HEAD); Transfer-Encoding overrides
    // Content-Length; a non-chunked coding is read until close.
    let body = if (100..200).contains(&code) || code == 204 || code == 304 {
        Body::Length(0)
    } else if encoded {
        if chunked {
            Body::Chunked(Chunk::Size { size: 0, digits: 0 })
        } else {
            Body::UntilClose
        }
    } else {
        match length {
            Some(n) => Body::Length(n),
            None => Body::UntilClose,
        }
    };
    Ok(Some((len, code, reason, body)))
}

/// Decodes chunked coding from `data` in state `c`: how many bytes it used and whether the body
/// ended. Data is skipped in one go; size lines and trailers go byte by byte, `meta` counting the
/// current size line, or the trailer section, against [`MAX_HEAD`].
fn chunked(c: &mut Chunk, meta: &mut usize, data: &[u8]) -> Result<(usize, bool), HttpError> {
    let mut i = 0;
    while i < data.len() {
        if let Chunk::Data(mut n) = *c {
            i += take(&mut n, data.len() - i);
            *c = if n == 0 {
                Chunk::DataCr
            } else {
                Chunk::Data(n)
            };
            continue;
        }
        if counted(*c) {
            *meta += 1;
            if *meta > MAX_HEAD {
                return Err(HttpError::Chunked);
            }
        }
        let b = data[i];
        i += 1;
        match step(*c, b)? {
            Some(next) => {
                if starts_section(*c, next) {
                    *meta = 0;
                }
                *c = next;
            }
            None => return Ok((i, true)),
        }
    }
    Ok((i, false))
}

/// Whether a byte read in state `c` counts against [`MAX_HEAD`]: those of a size line and of the
/// trailer section (a chunk's closing CRLF is two bytes at most).
fn counted(c: Chunk) -> bool {
    !matches!(c, Chunk::Data(_) | Chunk::DataCr | Chunk::DataLf)
}

/// Whether going from `from` to `to` starts a new counted section: the next chunk's size line, or
/// the trailer section after the last size line.
fn starts_section(from: Chunk, to: Chunk) -> bool {
    match to {
        Chunk::Size { digits: 0, .. } => matches!(from, Chunk::DataCr | Chunk::DataLf),
        Chunk::TrailerStart => matches!(
            from,
            Chunk::Size { .. } | Chunk::Ext { .. } | Chunk::SizeLf { .. }
        ),
        _ => false,
    }
}

/// Takes up to `*n` of `avail` bytes: how many, and `*n` goes down by as much.
fn take(n: &mut u64, avail: usize) -> usize {
    let k = usize::try_from(*n).map_or(avail, |n| n.min(avail));
    *n -= k as u64;
    k
}

/// One byte of chunked coding: the next state, or `None` when the message ended.
fn step(c: Chunk, b: u8) -> Result<Option<Chunk>, HttpError> {
    let hex = |b: u8| (b as char).to_digit(16).map(u64::from);
    Ok(Some(match c {
        Chunk::Size { size, digits } => match (hex(b), b) {
            (Some(d), _) => {
                // 15 hex digits: far beyond any body, far from u64 overflow.
                if digits >= 15 {
                    return Err(HttpError::Chunked);
                }
                Chunk::Size {
                    size: size * 16 + d,
                    digits: digits + 1,
                }
            }
            (None, _) if digits == 0 => return Err(HttpError::Chunked),
            (None, b';' | b' ' | b'\t') => Chunk::Ext { size },
            (None, b'\r') => Chunk::SizeLf { size },
            (None, b'\n') => after_size(size),
            _ => return Err(HttpError::Chunked),
        },
        Chunk::Ext { size } => match b {
            b'\r' => Chunk::SizeLf { size },
            b'\n' => after_size(size),
            _ => Chunk::Ext { size },
        },
        Chunk::SizeLf { size } => match b {
            b'\n' => after_size(size),
            _ => return Err(HttpError::Chunked),
        },
        Chunk::Data(n) => {
            if n > 1 {
                Chunk::Data(n - 1)
            } else {
                Chunk::DataCr
            }
        }
        Chunk::DataCr => match b {
            b'\r' => Chunk::DataLf,
            b'\n' => Chunk::Size { size: 0, digits: 0 },
            _ => return Err(HttpError::Chunked),
        },
        Chunk::DataLf => match b {
            b'\n' => Chunk::Size { size: 0, digits: 0 },
            _ => return Err(HttpError::Chunked),
        },
        Chunk::TrailerStart => match b {
            b'\r' => Chunk::FinalLf,
            b'\n' => return Ok(None),
            _ => Chunk::TrailerLine,
        },
        Chunk::TrailerLine => match b {
            b'\n' => Chunk::TrailerStart,
            _ => Chunk::TrailerLine,
        },
        Chunk::FinalLf => match b {
            b'\n' => return Ok(None),
            _ => return Err(HttpError::Chunked),
        },
    }))
}

/// After a size line: data, or the trailer section for the last (zero) chunk.
fn after_size(size: u64) -> Chunk {
    if size == 0 {
        Chunk::TrailerStart
    } else {
        Chunk::Data(size)
    }
}

#[cfg(test)]
mod tests;
