//! Key material for the client-authentication tests: an RSA key (a fixture: ring cannot
//! generate RSA keys), an EC key and its JWKS, a client CA and a client certificate; an
//! HTTPS simulator that knows them; a config that trusts it.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use supsync::sim::SimServer;
use supsync::sim::client_auth::ClientAuthProfile;

use super::Sim;

const RSA_KEY: &str = include_str!("../fixtures/test-rsa-key.pem");
const RSA_PUB: &str = include_str!("../fixtures/test-rsa-pub.pem");
pub const API_KEY: &str = "apikey-canary-51d0c3";

/// Keys and certificates for every method, written under `dir`.
pub struct Material {
    pub rsa_key: PathBuf,
    pub rsa_pub: PathBuf,
    pub ec_key: PathBuf,
    pub ec_key_pem: String,
    pub jwks: PathBuf,
    pub client_ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub client_key_pem: String,
    pub other_key: PathBuf,
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    p
}

pub fn material(dir: &Path) -> Material {
    let ec = KeyPair::generate().unwrap();
    let raw = ec.public_key_raw();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwks = serde_json::json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "ec-1", "alg": "ES256", "use": "sig",
        "x": b64.encode(&raw[1..33]), "y": b64.encode(&raw[33..65]),
    }]});
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "test client CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "supplier-sync");
    let cert = params.signed_by(&client_key, &ca).unwrap();
    let other = KeyPair::generate().unwrap();
    Material {
        rsa_key: write(dir, "rsa.pem", RSA_KEY),
        rsa_pub: write(dir, "rsa.pub.pem", RSA_PUB),
        ec_key: write(dir, "ec.pem", &ec.serialize_pem()),
        ec_key_pem: ec.serialize_pem(),
        jwks: write(dir, "jwks.json", &jwks.to_string()),
        client_ca: write(dir, "client-ca.pem", &ca.pem()),
        client_cert: write(dir, "client.crt", &cert.pem()),
        client_key: write(dir, "client.key", &client_key.serialize_pem()),
        client_key_pem: client_key.serialize_pem(),
        other_key: write(dir, "other.key", &other.serialize_pem()),
    }
}

/// An HTTPS simulator that knows every key of `m`, and the CA file to trust.
pub async fn tls_sim(
    m: &Material,
    dir: &Path,
    tweak: impl FnOnce(&mut ClientAuthProfile),
) -> (SimServer, PathBuf) {
    let mut profile = Sim {
        suppliers: 0,
        ..Sim::default()
    }
    .profile();
    profile.auth.jwt_public_key_file = Some(m.rsa_pub.clone());
    profile.auth.jwks_file = Some(m.jwks.clone());
    profile.auth.client_ca_file = Some(m.client_ca.clone());
    tweak(&mut profile.auth);
    let sim = SimServer::start_tls(profile, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let ca = write(dir, "sim-ca.pem", sim.ca_pem().unwrap());
    (sim, ca)
}

/// A config for `url` trusting `ca`, with `auth` as the `[auth]` body and `extra` after.
pub fn config(dir: &Path, url: &str, ca: &Path, auth: &str, extra: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[api]\nbase_url = \"{url}\"\nca_file = \"{}\"\ntimeout_secs = 5\n\
             [auth]\ntoken_cache = \"none\"\nkeepalive_secs = 1\n{auth}\n\
             [sync]\nsegment_size = 50\nconcurrency = 4\nmax_attempts = 2\n\
             backoff_initial_ms = 20\nbackoff_max_ms = 200\nmax_retry_after_secs = 1\n{extra}",
            ca.display()
        ),
    )
    .unwrap();
    p
}
