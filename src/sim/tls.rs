//! TLS serving for `supsync simulate --tls` and tests: a CA and a server certificate for
//! `localhost` and `127.0.0.1` are made at start (rcgen), so nothing is shipped or kept;
//! the CA is what clients trust. With `[auth] client_ca_file`, client certificates that
//! chain to it are asked for (not required: the secret methods still work over TLS).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use super::client_auth::ClientAuthProfile;

pub struct TlsSetup {
    pub acceptor: TlsAcceptor,
    /// The CA that signed the server certificate, PEM: the root a client must trust.
    pub ca_pem: String,
}

pub fn setup(auth: &ClientAuthProfile) -> Result<TlsSetup, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("TLS set-up: {what}: {e}");
    let ca_key = KeyPair::generate().map_err(|e| fail("CA key", &e))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| fail("CA", &e))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "supsync simulator CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(|e| fail("CA", &e))?;
    let server_key = KeyPair::generate().map_err(|e| fail("server key", &e))?;
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .map_err(|e| fail("server certificate", &e))?;
    params
        .distinguished_name
        .push(DnType::CommonName, "supsync simulator");
    let server_cert = params
        .signed_by(&server_key, &ca)
        .map_err(|e| fail("server certificate", &e))?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| fail("protocol versions", &e))?;
    let builder = match &auth.client_ca_file {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| fail(&format!("[auth] client_ca_file {}", path.display()), &e))?;
            for cert in certs {
                let cert = cert
                    .map_err(|e| fail(&format!("[auth] client_ca_file {}", path.display()), &e))?;
                roots
                    .add(cert)
                    .map_err(|e| fail(&format!("[auth] client_ca_file {}", path.display()), &e))?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| fail("client verifier", &e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let mut config = builder
        .with_single_cert(vec![server_cert.der().clone()], key)
        .map_err(|e| fail("server certificate", &e))?;
    // The server speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsSetup {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_pem: ca.pem(),
    })
}
