//! dock's HTTP/1.1 client, hand-written and small: one request per connection (`Connection: close`)
//! over non-blocking TCP or rustls, driven by the loop ([`conn`]), names resolved off the loop
//! ([`resolve`]), responses parsed sans-IO ([`response`]). The web hook (PUT) and `--ready-http`
//! (GET) use it.
//!
//! Registers nothing itself; its users register the connections and resolver pipes it opens.

pub mod conn;
pub mod exchange;
pub mod resolve;
pub mod response;

/// An `http[s]://[user[:pass]@]host[:port][/path][?query]` URL, parsed (by the command line). Its
/// `Debug` hides the credentials and the query, as [`Url::label`] does.
#[derive(Clone, PartialEq, Eq)]
pub struct Url {
    /// `https`.
    pub tls: bool,
    /// Host name or IP literal, without brackets.
    pub host: String,
    /// Port: explicit, or 80 / 443.
    pub port: u16,
    /// Path and query as sent in the request line; at least `/`.
    pub path: String,
    /// `user:pass` from the URL, base64-encoded for `Authorization: Basic` (RFC 7617).
    pub basic_auth: Option<String>,
    /// The URL as given.
    pub original: String,
}

impl Url {
    /// `scheme://host:port/path` for messages: without the userinfo, and the query shown as `?***`,
    /// so no password or token is logged (both are credentials often enough: `?token=...`).
    pub fn label(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let path = match self.path.split_once('?') {
            Some((path, _)) => format!("{path}?{}", crate::log::MASK),
            None => self.path.clone(),
        };
        format!("{scheme}://{host}:{}{path}", self.port)
    }
}

impl std::fmt::Debug for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Url")
            .field("label", &self.label())
            .field(
                "basic_auth",
                &self.basic_auth.as_ref().map(|_| crate::log::MASK),
            )
            .finish()
    }
}

/// The header carrying a signed hook's HMAC (`hook::sign`), named after GitHub's
/// `X-Hub-Signature-256`.
pub const SIGNATURE_HEADER: &str = "X-Dock-Signature-256";

/// The request bytes: `PUT <path> HTTP/1.1` with Host (port only when not the scheme's default,
/// IPv6 in brackets, RFC 9110 §7.2), User-Agent, Content-Type, Content-Length, Connection: close,
/// with userinfo in the URL `Authorization: Basic` (RFC 7617), with a `signature` its
/// `X-Dock-Signature-256` header (`hook::sign`), then `body`.
pub fn put_json(url: &Url, body: &[u8], signature: Option<&str>) -> Vec<u8> {
    let fields = format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    let mut head = head("PUT", url, &fields);
    if let Some(sig) = signature {
        head.push_str(SIGNATURE_HEADER);
        head.push_str(": ");
        head.push_str(sig);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// The request bytes of `GET <path> HTTP/1.1` (`--ready-http`): Host, User-Agent, `Accept: */*`,
/// Connection: close and, with userinfo in the URL, `Authorization: Basic`; no body.
pub fn get(url: &Url) -> Vec<u8> {
    let mut head = head("GET", url, "Accept: */*\r\n");
    head.push_str("\r\n");
    head.into_bytes()
}

/// A request head without its final empty line: the request line, Host, User-Agent, `fields`
/// (whole `Name: value\r\n` lines), Connection: close, the URL's `Authorization: Basic`.
fn head(method: &str, url: &Url, fields: &str) -> String {
    let host = if url.host.contains(':') {
        format!("[{}]", url.host)
    } else {
        url.host.clone()
    };
    let default_port = if url.tls { 443 } else { 80 };
    let host = if url.port == default_port {
        host
    } else {
        format!("{host}:{}", url.port)
    };
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: dock/{}\r\n{fields}Connection: close\r\n",
        url.path,
        env!("CARGO_PKG_VERSION"),
    );
    if let Some(auth) = &url.basic_auth {
        head.push_str("Authorization: Basic ");
        head.push_str(auth);
        head.push_str("\r\n");
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::values::parse_hook_url;

    #[test]
    fn request_bytes() {
        let u = parse_hook_url("http://alice:s%20cret@example.com/hook?x=1").unwrap();
        let got = String::from_utf8(put_json(&u, b"{}", Some("sha256=00"))).unwrap();
        let want = format!(
            "PUT /hook?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: dock/{}\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\
             Authorization: Basic YWxpY2U6cyBjcmV0\r\nX-Dock-Signature-256: sha256=00\r\n\r\n{{}}",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(got, want);
        let host = |s: &str| {
            let r = String::from_utf8(put_json(&parse_hook_url(s).unwrap(), b"", None)).unwrap();
            r.lines().nth(1).unwrap().to_string()
        };
        assert_eq!(host("http://[::1]:8080/"), "Host: [::1]:8080");
        assert_eq!(host("https://[::1]"), "Host: [::1]");
        assert_eq!(host("https://h:80"), "Host: h:80");
        assert_eq!(host("http://h:443"), "Host: h:443");
        assert_eq!(host("http://10.0.0.1:80"), "Host: 10.0.0.1");
        let r = put_json(&parse_hook_url("http://h").unwrap(), b"", None);
        assert!(r.starts_with(b"PUT / HTTP/1.1\r\n"));
        let g = String::from_utf8(get(&parse_hook_url(
            "https://u:p@[::1]:8443/healthz?full=1",
        )
        .unwrap()))
        .unwrap();
        assert_eq!(
            g,
            format!(
                "GET /healthz?full=1 HTTP/1.1\r\nHost: [::1]:8443\r\nUser-Agent: dock/{}\r\n\
                 Accept: */*\r\nConnection: close\r\nAuthorization: Basic dTpw\r\n\r\n",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn labels_and_debug_show_no_secret() {
        let u = parse_hook_url("https://alice:pw@[::1]:8443/hook?token=abc#f").unwrap();
        assert_eq!(u.label(), "https://[::1]:8443/hook?***");
        let debug = format!("{u:?}");
        assert!(
            !debug.contains("alice") && !debug.contains("abc"),
            "{debug}"
        );
        assert!(!debug.contains(u.basic_auth.as_deref().unwrap()), "{debug}");
        assert_eq!(
            parse_hook_url("http://h/x").unwrap().label(),
            "http://h:80/x"
        );
    }
}
