//! Signed hooks: with `DOCK_WEB_HOOK_SECRET` set, every request carries
//! `X-Dock-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`, GitHub's webhook scheme
//! (`X-Hub-Signature-256`), so a receiver that knows the secret can tell dock's statuses from forged
//! ones: it computes the HMAC of the raw body it received and compares it in constant time.
//!
//! HMAC-SHA256 (RFC 2104, FIPS 180-4) comes from ring where TLS already links it (no extra bytes),
//! and from the small, dependency-free `hmac-sha256` crate in the dock built without TLS.
//!
//! Registers nothing.

use std::fmt;

/// The HMAC key. Its `Debug` never shows it: a configuration printed for debugging leaks nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    /// The key, as the bytes of the environment variable's value.
    pub fn new(key: Vec<u8>) -> Secret {
        Secret(key)
    }

    /// The header's value for `body`: `sha256=` and 64 lower-case hex digits.
    pub fn signature(&self, body: &[u8]) -> String {
        let tag = hmac_sha256(&self.0, body);
        let mut out = String::with_capacity(7 + 64);
        out.push_str("sha256=");
        for b in tag {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(feature = "tls")]
fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::hmac::sign(&key, data).as_ref());
    out
}

#[cfg(not(feature = "tls"))]
fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    hmac_sha256::HMAC::mac(data, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 §4 test cases 1, 2 and 6 (a key longer than the block), in whichever build this is.
    #[test]
    fn rfc_4231_vectors() {
        let cases: [(&[u8], &[u8], &str); 3] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, data, want) in cases {
            assert_eq!(
                Secret::new(key.to_vec()).signature(data),
                format!("sha256={want}")
            );
        }
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(
            format!("{:?}", Secret::new(b"hunter2".to_vec())),
            "Secret(***)"
        );
    }
}
