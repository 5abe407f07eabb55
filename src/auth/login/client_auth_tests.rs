use std::collections::HashSet;

use jsonwebtoken::{DecodingKey, Validation};

use super::*;

const RSA_KEY: &str = include_str!("../../../tests/fixtures/test-rsa-key.pem");
const RSA_PUB: &str = include_str!("../../../tests/fixtures/test-rsa-pub.pem");

#[derive(serde::Deserialize)]
struct Seen {
    iss: String,
    sub: String,
    aud: String,
    jti: String,
    iat: u64,
    exp: u64,
}

#[test]
fn assertions_are_fresh_short_and_name_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    std::fs::write(&key, RSA_KEY).unwrap();
    let mut cfg = Config::default();
    cfg.api.base_url = "https://idp.example.test".into();
    cfg.auth.method = ClientAuthMethod::PrivateKeyJwt;
    cfg.auth.private_key_file = Some(key);
    cfg.auth.signing_alg = SigningAlg::PS256;
    cfg.auth.key_id = Some("k-7".into());
    let signer = AssertionSigner::from_config(&cfg).unwrap();
    let mut jtis = HashSet::new();
    for _ in 0..3 {
        let jwt = signer.sign(SystemTime::now()).unwrap();
        let header = jsonwebtoken::decode_header(jwt.expose()).unwrap();
        assert_eq!(header.kid.as_deref(), Some("k-7"));
        assert_eq!(header.alg, jsonwebtoken::Algorithm::PS256);
        let mut v = Validation::new(jsonwebtoken::Algorithm::PS256);
        v.set_audience(&["https://idp.example.test/oauth/token"]);
        let c = jsonwebtoken::decode::<Seen>(
            jwt.expose(),
            &DecodingKey::from_rsa_pem(RSA_PUB.as_bytes()).unwrap(),
            &v,
        )
        .unwrap()
        .claims;
        assert_eq!(
            (c.iss.as_str(), c.sub.as_str()),
            ("supplier-sync", "supplier-sync")
        );
        assert_eq!(c.aud, "https://idp.example.test/oauth/token");
        assert_eq!(c.exp - c.iat, ASSERTION_LIFETIME.as_secs());
        assert!(jtis.insert(c.jti), "a fresh jti each time");
    }
    assert!(!format!("{signer:?}").contains(RSA_KEY.lines().nth(1).unwrap()));

    cfg.auth.assertion_audience = Some("https://idp.example.test".into());
    let jwt = AssertionSigner::from_config(&cfg)
        .unwrap()
        .sign(SystemTime::now())
        .unwrap();
    let mut v = Validation::new(jsonwebtoken::Algorithm::PS256);
    v.set_audience(&["https://idp.example.test"]);
    let key = DecodingKey::from_rsa_pem(RSA_PUB.as_bytes()).unwrap();
    assert!(jsonwebtoken::decode::<Seen>(jwt.expose(), &key, &v).is_ok());
}

#[test]
fn the_certificate_goes_where_configured() {
    let mut cfg = Config::default();
    assert!(!presents_certificate(&cfg, Peer::TokenEndpoint));
    assert!(!presents_certificate(&cfg, Peer::Api));
    cfg.auth.method = ClientAuthMethod::TlsClientAuth;
    assert!(presents_certificate(&cfg, Peer::TokenEndpoint));
    assert!(!presents_certificate(&cfg, Peer::Api));
    cfg.api.client_identity = true;
    assert!(presents_certificate(&cfg, Peer::Api));
    let info = info(&cfg);
    assert_eq!(info.method, ClientAuthMethod::TlsClientAuth);
    assert!(info.describe().starts_with("tls_client_auth"));
}
