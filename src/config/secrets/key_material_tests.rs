use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use rcgen::{CertificateParams, DnType, KeyPair};

use super::*;

const RSA_KEY: &str = include_str!("../../../tests/fixtures/test-rsa-key.pem");

fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The error of a key that must not load (`EncodingKey` has no `Debug` for `unwrap_err`).
fn refused(key: &str, path: &std::path::Path, alg: SigningAlg) -> String {
    match signing_key(key, path, alg) {
        Ok(_) => panic!("{} loaded for {alg:?}", path.display()),
        Err(e) => e,
    }
}

#[test]
fn signing_keys_must_fit_the_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let rsa = file(&dir, "rsa.pem", RSA_KEY);
    let ec = file(
        &dir,
        "ec.pem",
        &KeyPair::generate().unwrap().serialize_pem(),
    );
    assert!(signing_key("k", &rsa, SigningAlg::RS256).is_ok());
    assert!(signing_key("k", &rsa, SigningAlg::PS256).is_ok());
    assert!(signing_key("k", &ec, SigningAlg::ES256).is_ok());
    let e = refused("auth.private_key_file", &rsa, SigningAlg::ES256);
    assert!(
        e.starts_with("auth.private_key_file: ") && e.contains("rsa.pem"),
        "{e}"
    );
    assert!(e.contains("an RSA key") && e.contains("RS256"), "{e}");
    let e = refused("k", &ec, SigningAlg::RS256);
    assert!(e.contains("an EC key") && e.contains("ES256"), "{e}");
    let garbage = file(&dir, "g.pem", "hello");
    let e = refused("k", &garbage, SigningAlg::RS256);
    assert!(e.contains("no PEM private key"), "{e}");
    let e = refused("k", &dir.path().join("none.pem"), SigningAlg::RS256);
    assert!(e.contains("cannot read") && e.contains("none.pem"), "{e}");
    // No message ever quotes the key.
    let body = RSA_KEY.lines().nth(1).unwrap();
    assert!(!e.contains(body));
}

fn cert(key: &KeyPair, days: u64) -> String {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, "client-1");
    p.not_after = (SystemTime::now() + Duration::from_secs(days * 86_400)).into();
    p.self_signed(key).unwrap().pem()
}

#[test]
fn a_certificate_needs_its_own_key_and_shows_its_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate().unwrap();
    let crt = file(&dir, "c.crt", &cert(&key, 10));
    let k = file(&dir, "c.key", &key.serialize_pem());
    let id = client_identity("cert", &crt, "key", &k).unwrap();
    assert_eq!(id.certificate.subject, "CN=client-1");
    assert!((9..=10).contains(&id.certificate.days_left(SystemTime::now())));
    let w = id
        .certificate
        .expiry_warning("auth.client_cert_file", SystemTime::now())
        .unwrap();
    assert!(w.contains("expires in") && w.contains("CN=client-1"), "{w}");
    assert!(!format!("{id:?}").contains(key.serialize_pem().lines().nth(1).unwrap()));

    let far = file(&dir, "far.crt", &cert(&key, 90));
    let id = client_identity("cert", &far, "key", &k).unwrap();
    assert!(
        id.certificate
            .expiry_warning("x", SystemTime::now())
            .is_none()
    );

    let other = file(&dir, "o.key", &KeyPair::generate().unwrap().serialize_pem());
    let e = client_identity("cert", &crt, "key", &other).unwrap_err();
    assert!(
        e.starts_with("key: ") && e.contains("o.key") && e.contains("c.crt"),
        "{e}"
    );
    let e = client_identity("cert", &k, "key", &k).unwrap_err();
    assert!(
        e.starts_with("cert: ") && e.contains("no certificate"),
        "{e}"
    );
}

#[test]
fn ca_files_must_hold_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate().unwrap();
    let ok = file(&dir, "ca.pem", &cert(&key, 30));
    assert_eq!(ca_certificates("api.ca_file", &ok).unwrap().len(), 1);
    let empty = file(&dir, "empty.pem", "");
    let e = ca_certificates("api.ca_file", &empty).unwrap_err();
    assert!(e.contains("holds no certificate"), "{e}");
}

#[cfg(unix)]
#[test]
fn readable_keys_are_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let k = file(&dir, "k.pem", RSA_KEY);
    std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(permission_warning("auth.private_key_file", &k).is_none());
    std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o640)).unwrap();
    let w = permission_warning("auth.private_key_file", &k).unwrap();
    assert!(w.contains("chmod 600") && w.contains("640"), "{w}");
}
