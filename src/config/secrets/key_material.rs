//! Key and certificate files: read, parsed and checked before any request, so a missing
//! file, a key that is no key, a key that does not fit `auth.signing_alg` or a certificate
//! without its key is a configuration error naming the key and the file. The content of a
//! key never appears in a message; a certificate shows its subject and expiry.

use std::path::Path;
use std::time::{Duration, SystemTime};

use rustls::crypto::ring::sign::any_supported_type;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::SigningAlg;

/// A certificate expiring sooner than this is warned about.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 86_400);

/// What is shown of a client certificate: never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    pub subject: String,
    pub not_after: SystemTime,
    /// `#` and the first 8 hex digits of the SHA-256 of the DER certificate.
    pub fingerprint: String,
}

impl CertificateInfo {
    /// `not_after` as an RFC 3339 date-time (UTC).
    pub fn not_after_text(&self) -> String {
        chrono::DateTime::<chrono::Utc>::from(self.not_after)
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string()
    }

    /// Whole days left at `now` (0 once expired).
    pub fn days_left(&self, now: SystemTime) -> u64 {
        self.not_after
            .duration_since(now)
            .map_or(0, |d| d.as_secs() / 86_400)
    }

    /// A warning when the certificate expires within [`EXPIRY_WARNING`] of `now`.
    pub fn expiry_warning(&self, key: &str, now: SystemTime) -> Option<String> {
        let left = self.not_after.duration_since(now).ok()?;
        (left < EXPIRY_WARNING).then(|| {
            format!(
                "{key}: the client certificate {} ({}) expires in {} days, on {}; renew it \
                 before then or token requests will fail",
                self.subject,
                self.fingerprint,
                left.as_secs() / 86_400,
                self.not_after_text()
            )
        })
    }
}

/// The client's TLS identity: the key and the certificate chain as one PEM (what
/// `reqwest::Identity::from_pem` takes). No `Debug` of the PEM: it holds the private key.
#[derive(Clone)]
pub struct ClientIdentity {
    pem: Vec<u8>,
    pub certificate: CertificateInfo,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("certificate", &self.certificate)
            .finish_non_exhaustive()
    }
}

impl ClientIdentity {
    /// Key and certificates, PEM; goes to the TLS stack and nowhere else.
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }
}

fn read(key: &str, path: &Path, what: &str) -> Result<Vec<u8>, String> {
    // The OS's words (not found, permission denied), never the content.
    crate::safe_file::read_capped(path, crate::safe_file::PEM_CAP).map_err(|e| {
        format!(
            "{key}: {}",
            e.explain(path, what, "PEM keys or certificates")
        )
    })
}

fn private_key(key: &str, path: &Path, bytes: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(bytes).map_err(|_| {
        format!(
            "{key}: {} holds no PEM private key (expected -----BEGIN PRIVATE KEY----- or \
             -----BEGIN RSA/EC PRIVATE KEY-----, unencrypted)",
            path.display()
        )
    })
}

/// "an RSA key", "an EC key"… of a parsed key, or why it is no usable key.
fn key_kind(key: &str, path: &Path, der: &PrivateKeyDer<'_>) -> Result<&'static str, String> {
    let signer = any_supported_type(der).map_err(|_| {
        format!(
            "{key}: {} holds a private key that cannot be used (not RSA, EC P-256/P-384 or \
             Ed25519, or damaged)",
            path.display()
        )
    })?;
    Ok(match signer.algorithm() {
        rustls::SignatureAlgorithm::RSA => "an RSA key",
        rustls::SignatureAlgorithm::ECDSA => "an EC key",
        rustls::SignatureAlgorithm::ED25519 => "an Ed25519 key",
        _ => "a key of another kind",
    })
}

/// The key of `private_key_jwt`, checked against the algorithm by signing a probe.
pub fn signing_key(
    key: &str,
    path: &Path,
    alg: SigningAlg,
) -> Result<jsonwebtoken::EncodingKey, String> {
    let bytes = read(key, path, "private key")?;
    let der = private_key(key, path, &bytes)?;
    let kind = key_kind(key, path, &der)?;
    let fits = match alg {
        SigningAlg::RS256 | SigningAlg::PS256 => kind == "an RSA key",
        SigningAlg::ES256 => kind == "an EC key",
    };
    if !fits {
        let hint = match kind {
            "an RSA key" => "; set auth.signing_alg = \"RS256\" or \"PS256\"",
            "an EC key" => "; set auth.signing_alg = \"ES256\"",
            _ => "",
        };
        return Err(format!(
            "{key}: {} holds {kind}, but auth.signing_alg = \"{}\" needs {}{hint}",
            path.display(),
            alg.as_str(),
            alg.key_kind()
        ));
    }
    let encoding = match alg {
        SigningAlg::RS256 | SigningAlg::PS256 => jsonwebtoken::EncodingKey::from_rsa_pem(&bytes),
        SigningAlg::ES256 if matches!(der, PrivateKeyDer::Sec1(_)) => {
            return Err(format!(
                "{key}: {} is an EC key in SEC1 form (BEGIN EC PRIVATE KEY); ES256 needs \
                 PKCS#8: convert it with `openssl pkcs8 -topk8 -nocrypt -in OLD -out NEW`",
                path.display()
            ));
        }
        SigningAlg::ES256 => jsonwebtoken::EncodingKey::from_ec_pem(&bytes),
    }
    .map_err(|_| {
        format!(
            "{key}: {} cannot be read as {}",
            path.display(),
            alg.key_kind()
        )
    })?;
    // A probe signature proves the key works with the algorithm (an EC P-384 key is
    // "an EC key" but cannot sign ES256).
    let header = jsonwebtoken::Header::new(jws_alg(alg));
    jsonwebtoken::encode(&header, &serde_json::json!({ "probe": true }), &encoding).map_err(
        |_| {
            format!(
                "{key}: {} cannot sign {} (it needs {})",
                path.display(),
                alg.as_str(),
                alg.key_kind()
            )
        },
    )?;
    Ok(encoding)
}

/// `auth.signing_alg` as jsonwebtoken's algorithm.
pub fn jws_alg(alg: SigningAlg) -> jsonwebtoken::Algorithm {
    match alg {
        SigningAlg::RS256 => jsonwebtoken::Algorithm::RS256,
        SigningAlg::PS256 => jsonwebtoken::Algorithm::PS256,
        SigningAlg::ES256 => jsonwebtoken::Algorithm::ES256,
    }
}

/// The client certificate and its key: both parse, and the key is the certificate's.
pub fn client_identity(
    cert_key: &str,
    cert_path: &Path,
    key_key: &str,
    key_path: &Path,
) -> Result<ClientIdentity, String> {
    let cert_bytes = read(cert_key, cert_path, "client certificate")?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_bytes)
        .collect::<Result<_, _>>()
        .map_err(|_| {
            format!(
                "{cert_key}: {} is not a PEM certificate file",
                cert_path.display()
            )
        })?;
    let Some(leaf) = certs.first() else {
        return Err(format!(
            "{cert_key}: {} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
            cert_path.display()
        ));
    };
    let certificate = certificate_info(leaf).map_err(|e| {
        format!(
            "{cert_key}: {} holds a certificate that cannot be parsed: {e}",
            cert_path.display()
        )
    })?;
    let key_bytes = read(key_key, key_path, "client certificate key")?;
    let der = private_key(key_key, key_path, &key_bytes)?;
    key_kind(key_key, key_path, &der)?;
    let signer = any_supported_type(&der).map_err(|_| {
        format!(
            "{key_key}: {} holds a key that cannot be used",
            key_path.display()
        )
    })?;
    CertifiedKey::new(certs.clone(), signer)
        .keys_match()
        .map_err(|_| {
            format!(
                "{key_key}: the key in {} is not the key of the certificate in {} ({cert_key}); \
                 give the certificate's own key",
                key_path.display(),
                cert_path.display()
            )
        })?;
    let mut pem = key_bytes;
    pem.push(b'\n');
    pem.extend_from_slice(&cert_bytes);
    Ok(ClientIdentity { pem, certificate })
}

/// The first certificate of a PEM file, for showing its expiry where the key is not
/// needed (`status`, metrics).
pub fn certificate(cert_key: &str, cert_path: &Path) -> Result<CertificateInfo, String> {
    let bytes = read(cert_key, cert_path, "client certificate")?;
    let leaf = CertificateDer::pem_slice_iter(&bytes)
        .next()
        .ok_or_else(|| {
            format!(
                "{cert_key}: {} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
                cert_path.display()
            )
        })?
        .map_err(|_| {
            format!(
                "{cert_key}: {} is not a PEM certificate file",
                cert_path.display()
            )
        })?;
    certificate_info(&leaf).map_err(|e| {
        format!(
            "{cert_key}: {} holds a certificate that cannot be parsed: {e}",
            cert_path.display()
        )
    })
}

fn certificate_info(der: &CertificateDer<'_>) -> Result<CertificateInfo, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| e.to_string())?;
    let not_after = cert.validity().not_after.timestamp();
    let not_after = SystemTime::UNIX_EPOCH
        + Duration::from_secs(u64::try_from(not_after).map_err(|_| "expiry before 1970")?);
    Ok(CertificateInfo {
        subject: cert.subject().to_string(),
        not_after,
        fingerprint: crate::secret::fingerprint_bytes(der.as_ref()),
    })
}

/// The trust roots of `api.ca_file`, checked to hold at least one certificate.
pub fn ca_certificates(key: &str, path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let bytes = read(key, path, "CA file")?;
    let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&bytes)
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{key}: {} is not a PEM certificate file", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{key}: {} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// For `config --check`: the method and what its key files hold, e.g.
/// "tls_client_auth; certificate CN=client-1 #3fa2c1d0 expires 2027-01-01 00:00:00 UTC
/// (398 days)". `None` for the secret methods without a certificate.
pub fn summary(cfg: &crate::config::Config) -> Option<String> {
    let method = cfg.client_auth_method();
    let mut parts = vec![method.as_str().to_string()];
    if method == crate::config::ClientAuthMethod::PrivateKeyJwt {
        let kid = cfg
            .auth
            .key_id
            .as_ref()
            .map(|k| format!(", kid {k}"))
            .unwrap_or_default();
        parts.push(format!("signing {}{kid}", cfg.auth.signing_alg.as_str()));
    }
    let wants_cert =
        method == crate::config::ClientAuthMethod::TlsClientAuth || cfg.api.client_identity;
    if wants_cert
        && let (Some(cert), Some(key)) = (&cfg.auth.client_cert_file, &cfg.auth.client_key_file)
        && let Ok(id) = client_identity("auth.client_cert_file", cert, "auth.client_key_file", key)
    {
        let c = id.certificate;
        parts.push(format!(
            "certificate {} {} expires {} ({} days)",
            c.subject,
            c.fingerprint,
            c.not_after_text(),
            c.days_left(SystemTime::now())
        ));
    }
    (parts.len() > 1).then(|| parts.join("; "))
}

/// A key file others may read is worth a warning (the key is the client's identity).
#[cfg(unix)]
pub fn permission_warning(key: &str, path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "{key}: {} is readable by group or others (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

#[cfg(not(unix))]
pub fn permission_warning(_key: &str, _path: &Path) -> Option<String> {
    None
}

#[cfg(test)]
#[path = "key_material_tests.rs"]
mod tests;
