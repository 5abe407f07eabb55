//! How the client authenticates at the token endpoint (docs/API.md §1.2): the secret
//! methods (`oauth2` sends those), a signed JWT client assertion (RFC 7523) built fresh for
//! every request, or a client certificate (RFC 8705) that lives in the HTTP client. Also
//! the HTTP clients themselves, with the configured trust roots and the certificate.

use std::time::{Duration, SystemTime};

use jsonwebtoken::{EncodingKey, Header};
use rand::Rng;

use crate::config::key_material::{self, CertificateInfo};
use crate::config::{ClientAuthMethod, Config, SigningAlg};
use crate::secret::Secret;

/// RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An assertion is good for this long: it is made for one request and sent at once.
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// What can be shown about the client's authentication: the method, and the certificate's
/// subject and expiry when one is used (for the token pane, `status` and `diagnose`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAuthInfo {
    pub method: ClientAuthMethod,
    /// `private_key_jwt`: the algorithm and `kid`.
    pub signing: Option<(SigningAlg, Option<String>)>,
    /// The client certificate (token endpoint, and the API with `api.client_identity`).
    pub certificate: Option<CertificateInfo>,
}

impl ClientAuthInfo {
    /// "private_key_jwt (ES256, kid k1)", "tls_client_auth (CN=…, expires …)".
    pub fn describe(&self) -> String {
        let mut out = self.method.as_str().to_string();
        if let Some((alg, kid)) = &self.signing {
            out.push_str(&format!(" ({}", alg.as_str()));
            if let Some(kid) = kid {
                out.push_str(&format!(", kid {kid}"));
            }
            out.push(')');
        }
        if let Some(c) = &self.certificate {
            out.push_str(&format!(
                " (certificate {} {}, expires {})",
                c.subject,
                c.fingerprint,
                c.not_after_text()
            ));
        }
        out
    }

    /// The certificate expires within 30 days: the warning to show, if so.
    pub fn expiry_warning(&self, now: SystemTime) -> Option<String> {
        self.certificate
            .as_ref()
            .and_then(|c| c.expiry_warning("auth.client_cert_file", now))
    }
}

/// Signs `private_key_jwt` client assertions. No `Debug` of the key.
pub struct AssertionSigner {
    key: EncodingKey,
    alg: SigningAlg,
    key_id: Option<String>,
    client_id: String,
    audience: String,
}

impl std::fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionSigner")
            .field("alg", &self.alg)
            .field("key_id", &self.key_id)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

impl AssertionSigner {
    /// The signer of `cfg`: the key file is read and checked against `auth.signing_alg`.
    pub fn from_config(cfg: &Config) -> Result<Self, String> {
        let path = cfg.auth.private_key_file.as_ref().ok_or_else(|| {
            "auth.method = \"private_key_jwt\" needs auth.private_key_file".to_string()
        })?;
        let key = key_material::signing_key("auth.private_key_file", path, cfg.auth.signing_alg)?;
        Ok(Self {
            key,
            alg: cfg.auth.signing_alg,
            key_id: cfg.auth.key_id.clone(),
            client_id: cfg.auth.client_id.clone(),
            audience: cfg.assertion_audience(),
        })
    }

    /// A fresh assertion: `iss` = `sub` = the client id, `aud` the token endpoint (or the
    /// configured audience), a random `jti` so a replay is detectable, a 60-second `exp`.
    pub fn sign(&self, now: SystemTime) -> Result<Secret, String> {
        let iat = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let jti: [u8; 16] = rand::rng().random();
        let claims = AssertionClaims {
            iss: &self.client_id,
            sub: &self.client_id,
            aud: &self.audience,
            jti: hex::encode(jti),
            iat,
            exp: iat + ASSERTION_LIFETIME.as_secs(),
        };
        let mut header = Header::new(key_material::jws_alg(self.alg));
        header.kid = self.key_id.clone();
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(Secret::new)
            .map_err(|e| format!("cannot sign the client assertion: {e}"))
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }
}

/// Who an HTTP client talks to: the certificate goes to the token endpoint with
/// `tls_client_auth`, and to the API only with `api.client_identity = true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    TokenEndpoint,
    Api,
}

/// Whether the client for `peer` presents the client certificate.
pub fn presents_certificate(cfg: &Config, peer: Peer) -> bool {
    match peer {
        Peer::TokenEndpoint => cfg.client_auth_method() == ClientAuthMethod::TlsClientAuth,
        Peer::Api => cfg.api.client_identity,
    }
}

/// The client certificate of `cfg`, checked (parses, the key is the certificate's).
pub fn client_identity(cfg: &Config) -> Result<key_material::ClientIdentity, String> {
    match (&cfg.auth.client_cert_file, &cfg.auth.client_key_file) {
        (Some(cert), Some(key)) => key_material::client_identity(
            "auth.client_cert_file",
            cert,
            "auth.client_key_file",
            key,
        ),
        _ => Err(
            "a client certificate is needed: set auth.client_cert_file and auth.client_key_file"
                .into(),
        ),
    }
}

/// The shared HTTP client settings (see [`super::http::http_client_builder`]) plus the
/// trust roots of `api.ca_file` and, for `peer`, the client certificate.
pub fn http_client(cfg: &Config, peer: Peer, timeout: Duration) -> Result<reqwest::Client, String> {
    let mut builder = super::http::http_client_builder(timeout);
    if let Some(path) = &cfg.api.ca_file {
        for der in key_material::ca_certificates("api.ca_file", path)? {
            let cert = reqwest::Certificate::from_der(&der).map_err(|e| {
                format!(
                    "api.ca_file: {} holds a certificate reqwest refuses: {e}",
                    path.display()
                )
            })?;
            builder = builder.add_root_certificate(cert);
        }
    }
    if presents_certificate(cfg, peer) {
        let id = client_identity(cfg)?;
        let identity = reqwest::Identity::from_pem(id.pem()).map_err(|_| {
            "auth.client_key_file: the TLS stack refused the client certificate and key".to_string()
        })?;
        builder = builder.identity(identity);
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// What [`ClientAuthInfo`] says for `cfg` (the certificate read from its file).
pub fn info(cfg: &Config) -> ClientAuthInfo {
    let method = cfg.client_auth_method();
    let uses_cert =
        presents_certificate(cfg, Peer::TokenEndpoint) || presents_certificate(cfg, Peer::Api);
    ClientAuthInfo {
        method,
        signing: (method == ClientAuthMethod::PrivateKeyJwt)
            .then(|| (cfg.auth.signing_alg, cfg.auth.key_id.clone())),
        certificate: uses_cert
            .then(|| client_identity(cfg).ok().map(|id| id.certificate))
            .flatten(),
    }
}

#[cfg(test)]
#[path = "client_auth_tests.rs"]
mod tests;
