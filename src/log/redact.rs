//! Secrets out of messages: the userinfo (`user:pass@`) and the query and fragment of a URL are
//! credentials often enough (`https://user:token@host`, `?token=...`, `?sig=...`) that no message of
//! dock shows them. [`redact`] masks them in any text, at the two places dock's messages leave it
//! (the `dock: ...` line before the start, and every log line after), so a message that quotes a URL
//! cannot leak it, whoever wrote the message (clap's own lines included); [`url_secrets`] finds them
//! in one value known to be a URL, for messages that quote pieces of it.
//!
//! Registers nothing.

use std::borrow::Cow;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Characters that end a URL quoted in a message.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\'' | '"' | '<' | '>' | '`')
}

/// `text` with every `scheme://` URL in it masked: `scheme://***@host/path?***`. A URL ends at a
/// blank or a quote; punctuation right before that (`:` `,` `;` `.` `)`) is the sentence's. Text
/// without a URL secret is returned as it is, without a copy.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(k) = text[from..].find("://") {
        let start = from + k + 3;
        let mut end = text[start..]
            .find(ends_url)
            .map_or(text.len(), |e| start + e);
        while end > start && text[..end].ends_with([':', ',', ';', '.', ')']) {
            end -= 1;
        }
        from = end.max(start);
        let url = &text[start..end];
        let masked = mask_url(url);
        if masked != url {
            out.push_str(&text[copied..start]);
            out.push_str(&masked);
            copied = end;
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// `rest` (what follows `scheme://`) with its userinfo and its query or fragment masked.
fn mask_url(rest: &str) -> String {
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let mut out = String::with_capacity(rest.len());
    match authority.rfind('@') {
        Some(at) => {
            out.push_str(MASK);
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    match tail.find(['?', '#']) {
        Some(q) => {
            out.push_str(&tail[..=q]);
            out.push_str(MASK);
        }
        None => out.push_str(tail),
    }
    out
}

/// The secret pieces of `value`, a URL as given (possibly malformed): its userinfo and its query or
/// fragment, non-empty ones only, for masking wherever a message quotes them.
pub fn url_secrets(value: &str) -> Vec<&str> {
    let Some((_, rest)) = value.split_once("://") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        found.push(userinfo);
    }
    if let Some(q) = tail.find(['?', '#']) {
        found.push(&tail[q + 1..]);
    }
    found.retain(|s| !s.is_empty());
    found
}

/// `text` with each of `secrets` replaced by [`MASK`].
pub fn mask(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        out = out.replace(s, MASK);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_messages_lose_their_secrets() {
        for (text, want) in [
            ("no url here", "no url here"),
            ("web hook http://h:80/x: ok", "web hook http://h:80/x: ok"),
            (
                "--web-hook 'http://u:p@h:0/x?token=abc': port must be 1-65535",
                "--web-hook 'http://***@h:0/x?***': port must be 1-65535",
            ),
            (
                "unexpected value 'https://tok@h/?a=1#f' for '--thug' found",
                "unexpected value 'https://***@h/?***' for '--thug' found",
            ),
            (
                "web hook http://h:80/x?token=abc: starting not delivered",
                "web hook http://h:80/x?***: starting not delivered",
            ),
            ("a http://u@h b tcp://x:1 c", "a http://***@h b tcp://x:1 c"),
            ("http://a@b@c/d#e", "http://***@c/d#***"),
            ("end http://h/?", "end http://h/?***"),
            ("://", "://"),
            ("x://@", "x://***@"),
            ("http://h/p?q=://u:p@x", "http://h/p?***"),
            ("é http://ü@h/ é", "é http://***@h/ é"),
        ] {
            assert_eq!(redact(text), want, "{text}");
        }
        // Masking twice changes nothing more.
        let once = redact("http://u:p@h/?t=1").into_owned();
        assert_eq!(redact(&once), once);
        assert!(matches!(redact("http://h/p"), Cow::Borrowed(_)));
    }

    #[test]
    fn secrets_of_one_value() {
        assert_eq!(url_secrets("http://u:p@h/x?t=1#f"), ["u:p", "t=1#f"]);
        assert_eq!(url_secrets("tcp://u:p@h:1"), ["u:p"]);
        assert_eq!(url_secrets("http://h/x"), Vec::<&str>::new());
        assert_eq!(url_secrets("no url"), Vec::<&str>::new());
        assert_eq!(
            mask("'u:p@h' is not a host name", &url_secrets("tcp://u:p@h:1")),
            "'***@h' is not a host name"
        );
    }
}
