//! A test CA and a server certificate for `localhost` / 127.0.0.1 signed by it, made at test time
//! with the openssl CLI, and the rustls server configuration that presents it. Shared by the `--io
//! tls://` and `https://` hook tests.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::util::TempDir;

/// What a TLS test needs: the CA to hand dock (`--ca-file`) and the server side.
pub struct TestPki {
    /// Path of the CA certificate (PEM).
    pub ca: String,
    /// A server configuration presenting the leaf certificate.
    pub server: Arc<rustls::ServerConfig>,
    /// The same, speaking TLS 1.2 only (dock speaks it too).
    pub server_tls12: Arc<rustls::ServerConfig>,
    /// The same, with X25519 as its only key exchange (dock does not offer it: refused).
    pub server_x25519: Arc<rustls::ServerConfig>,
    /// A server presenting the CA certificate itself (self-signed, CA:TRUE) as its own: the usual
    /// mistake with `openssl req -x509`, refused by verification (webpki's CaUsedAsEndEntity).
    pub server_ca_as_leaf: Arc<rustls::ServerConfig>,
}

fn openssl(args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl CLI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes the CA and the leaf in `dir`.
pub fn make(dir: &TempDir) -> TestPki {
    let p = |n: &str| dir.path(n);
    let (ca, ca_key, leaf, key, csr, ext) = (
        p("ca.pem"),
        p("ca.key"),
        p("leaf.pem"),
        p("leaf.key"),
        p("leaf.csr"),
        p("leaf.ext"),
    );
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                &ca_key,
                "-out",
                &ca,
                "-days",
                "2",
                "-subj",
                "/CN=dock test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &["-keyout", &key, "-out", &csr, "-subj", "/CN=localhost"],
        ]
        .concat(),
    );
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n\
         subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &leaf,
        "-days",
        "2",
        "-extfile",
        &ext,
    ]);
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&leaf)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&key).unwrap();
    let ca_chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&ca)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let ca_as_leaf = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(ca_chain, PrivateKeyDer::from_pem_file(&ca_key).unwrap())
        .unwrap();
    let server = |versions: &[&'static rustls::SupportedProtocolVersion], x25519_only: bool| {
        let mut provider = rustls::crypto::ring::default_provider();
        if x25519_only {
            provider.kx_groups = vec![rustls::crypto::ring::kx_group::X25519];
        }
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain.clone(), key.clone_key())
            .unwrap();
        Arc::new(config)
    };
    TestPki {
        ca,
        server: server(rustls::DEFAULT_VERSIONS, false),
        server_tls12: server(&[&rustls::version::TLS12], false),
        server_x25519: server(rustls::DEFAULT_VERSIONS, true),
        server_ca_as_leaf: Arc::new(ca_as_leaf),
    }
}
