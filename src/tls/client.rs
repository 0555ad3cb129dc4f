//! The rustls client configuration shared by `--io tls://` and `https://` hooks: the embedded Mozilla roots
//! (webpki-roots) plus `--ca-file` (PEM), or no verification at all with `--insecure`; and the one
//! crypto provider both use, cut down from rustls' ring provider to what a TLS client needs.
//!
//! Registers nothing. Built only when a TLS URL is given, so a plain dock never pays for it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::ring::{cipher_suite, kx_group};
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, GetRandomFailed, KeyProvider,
    SecureRandom, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::SigningKey;
use rustls::{
    AlertDescription, ClientConfig, DigitallySignedStruct, PeerIncompatible, RootCertStore,
    SignatureScheme,
};
use thiserror::Error;

/// Why a TLS client configuration could not be built.
#[derive(Debug, Error)]
pub enum TlsError {
    /// `--ca-file` unreadable or not PEM certificates.
    #[error("--ca-file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the configuration (no usable protocol versions).
    #[error("tls configuration")]
    Config(#[from] rustls::Error),
}

/// What dock's TLS client offers, for messages about a server that accepts none of it.
pub const OFFER: &str = "TLS 1.2 or 1.3, AES-GCM, P-256 or P-384 key exchange";

/// Builds the client configuration: TLS 1.3 or 1.2, with dock's cut-down ring provider (see [`OFFER`]),
/// roots = webpki-roots + `ca_file`, or verification disabled when `insecure` (a warning is printed
/// once, by the caller).
///
/// # Errors
/// [`TlsError::CaFile`] when the file cannot be read or holds no certificate.
pub fn client_config(
    ca_file: Option<&Path>,
    insecure: bool,
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = ca_file {
            let err = |reason: String| TlsError::CaFile {
                path: path.to_path_buf(),
                reason,
            };
            // Read whole, then the slice parser the command line's check uses too (one copy of it).
            let text = std::fs::read(path).map_err(|e| err(crate::log::reason(&e)))?;
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&text)
                .map(|c| c.map(CertificateDer::into_owned))
                .collect::<Result<_, _>>()
                .map_err(|e| err(e.to_string()))?;
            if certs.is_empty() {
                return Err(err("no PEM certificate in the file".into()));
            }
            for c in certs {
                roots.add(c).map_err(|e| err(e.to_string()))?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The server name for SNI and verification: a DNS name, or an IP address (no SNI is sent for those,
/// RFC 6066 §3).
///
/// # Errors
/// A host that is neither.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string())
        .map_err(|e| format!("invalid TLS server name '{host}': {e}"))
}

/// What dock says about a server certificate that is a CA's (basicConstraints CA:TRUE): webpki's
/// `CaUsedAsEndEntity`, which rustls shows as `Other(OtherError(CaUsedAsEndEntity))`.
pub const CA_AS_SERVER: &str = "invalid peer certificate: the server's certificate is a CA \
    certificate (basicConstraints CA:TRUE, what `openssl req -x509` makes by default), which cannot \
    identify a server: give the server a certificate with CA:FALSE signed by that CA and pass the CA \
    with --ca-file, or skip verification with --insecure";

/// rustls' error for a message line; when the server refused what dock offers (a protocol_version or
/// handshake_failure alert, or it chose TLS 1.2) the line says what that was ([`OFFER`]); a server
/// certificate that is a CA's gets [`CA_AS_SERVER`].
pub fn describe(e: &rustls::Error) -> String {
    if let rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) = e {
        if let Some(webpki::Error::CaUsedAsEndEntity) = other.0.downcast_ref::<webpki::Error>() {
            return CA_AS_SERVER.to_string();
        }
    }
    match e {
        rustls::Error::AlertReceived(
            AlertDescription::ProtocolVersion | AlertDescription::HandshakeFailure,
        )
        | rustls::Error::PeerIncompatible(
            PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            | PeerIncompatible::ServerDoesNotSupportTls12Or13,
        ) => format!("{e} (dock offers {OFFER})"),
        _ => e.to_string(),
    }
}

/// dock's rustls provider, made of rustls' ring pieces: the AES-GCM suites of TLS 1.3 (RFC 8446 §9.1
/// makes TLS_AES_128_GCM_SHA256 mandatory) and TLS 1.2 (ECDHE with ECDSA or RSA), key exchange on
/// secp256r1 (mandatory in RFC 8446 §9.1 too, and what every TLS 1.2 ECDHE server has) and
/// secp384r1, and every signature WebPKI servers use except Ed25519 (no public CA issues it). Left
/// out, for the static binary's size budget (bytes measured in docs/shipping.md): ChaCha20-Poly1305
/// (53 kB of ring asm), X25519 (37 kB; only a SHOULD in RFC 8446), ring's signing keys (33 kB; dock
/// presents no client certificate).
fn provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: vec![
            cipher_suite::TLS13_AES_256_GCM_SHA384,
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ],
        kx_groups: vec![kx_group::SECP256R1, kx_group::SECP384R1],
        signature_verification_algorithms: SIG_ALGS,
        secure_random: &Random,
        key_provider: &NoKeys,
    }
}

/// Signature algorithms for certificates and handshakes: rustls' ring provider's set and mapping,
/// without Ed25519.
static SIG_ALGS: WebPkiSupportedAlgorithms = {
    use webpki::ring as alg;
    WebPkiSupportedAlgorithms {
        all: &[
            alg::ECDSA_P256_SHA256,
            alg::ECDSA_P256_SHA384,
            alg::ECDSA_P384_SHA256,
            alg::ECDSA_P384_SHA384,
            alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
            alg::RSA_PKCS1_2048_8192_SHA256,
            alg::RSA_PKCS1_2048_8192_SHA384,
            alg::RSA_PKCS1_2048_8192_SHA512,
            alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
            alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
        ],
        // For TLS 1.2 the curve is not fixed by the SignatureScheme, hence two entries for ECDSA.
        mapping: &[
            (
                SignatureScheme::ECDSA_NISTP384_SHA384,
                &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
            ),
            (
                SignatureScheme::ECDSA_NISTP256_SHA256,
                &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
            ),
            (
                SignatureScheme::RSA_PSS_SHA512,
                &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PSS_SHA384,
                &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PSS_SHA256,
                &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA512,
                &[alg::RSA_PKCS1_2048_8192_SHA512],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA384,
                &[alg::RSA_PKCS1_2048_8192_SHA384],
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA256,
                &[alg::RSA_PKCS1_2048_8192_SHA256],
            ),
        ],
    }
};

/// rustls' randomness (client random, session ids): ring's `SystemRandom` (getrandom(2)).
#[derive(Debug)]
struct Random;

impl SecureRandom for Random {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        use ring::rand::SecureRandom as _;
        ring::rand::SystemRandom::new()
            .fill(buf)
            .map_err(|_| GetRandomFailed)
    }
}

/// dock presents no client certificate, so it loads no private key: refusing here keeps ring's
/// signing code (RSA, ECDSA, Ed25519) out of the binary.
#[derive(Debug)]
struct NoKeys;

impl KeyProvider for NoKeys {
    fn load_private_key(
        &self,
        _key_der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn SigningKey>, rustls::Error> {
        Err(rustls::Error::General(
            "dock presents no client certificate".into(),
        ))
    }
}

/// `--insecure`: accepts any certificate, but still checks handshake signatures are well-formed
/// through the provider (so the session keys are at least bound to the presented key).
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_with_roots_and_insecure() {
        client_config(None, false).unwrap();
        client_config(None, true).unwrap();
        assert!(matches!(
            client_config(Some(Path::new("/nonexistent.pem")), false),
            Err(TlsError::CaFile { .. })
        ));
        assert!(server_name("example.com").is_ok());
        assert!(server_name("127.0.0.1").is_ok());
    }

    #[test]
    fn provider_offers_aes_gcm_on_nist_curves() {
        use rustls::{CipherSuite, NamedGroup};
        let p = provider();
        let suites: Vec<_> = p.cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(
            suites,
            [
                CipherSuite::TLS13_AES_256_GCM_SHA384,
                CipherSuite::TLS13_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            ]
        );
        let groups: Vec<_> = p.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(groups, [NamedGroup::secp256r1, NamedGroup::secp384r1]);
        let schemes = p.signature_verification_algorithms.supported_schemes();
        for s in [
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::ECDSA_NISTP384_SHA384,
            SignatureScheme::RSA_PKCS1_SHA256,
            SignatureScheme::RSA_PKCS1_SHA384,
            SignatureScheme::RSA_PKCS1_SHA512,
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::RSA_PSS_SHA384,
            SignatureScheme::RSA_PSS_SHA512,
        ] {
            assert!(schemes.contains(&s), "{s:?}");
        }
        assert!(!schemes.contains(&SignatureScheme::ED25519));
        let mut buf = [0u8; 32];
        p.secure_random.fill(&mut buf).unwrap();
        assert_ne!(buf, [0u8; 32]);
        let key = PrivateKeyDer::Pkcs8(vec![0u8; 8].into());
        assert!(p.key_provider.load_private_key(key).is_err());
    }

    #[test]
    fn describe_says_what_dock_offers_when_the_server_refuses_it() {
        let refused = rustls::Error::AlertReceived(AlertDescription::ProtocolVersion);
        assert_eq!(
            describe(&refused),
            format!("received fatal alert: ProtocolVersion (dock offers {OFFER})")
        );
        let other = rustls::Error::AlertReceived(AlertDescription::BadCertificate);
        assert_eq!(describe(&other), other.to_string());
        // What webpki says of a self-signed CA presented as the server's own certificate.
        let ca = rustls::Error::InvalidCertificate(rustls::CertificateError::Other(
            rustls::OtherError(std::sync::Arc::new(webpki::Error::CaUsedAsEndEntity)),
        ));
        assert_eq!(describe(&ca), CA_AS_SERVER);
        assert!(!describe(&ca).contains("OtherError"));
    }
}
