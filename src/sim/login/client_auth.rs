//! The token endpoint's side of client authentication (docs/API.md §1.2): which method a
//! request uses, `private_key_jwt` assertions verified against a public key or JWKS file,
//! `tls_client_auth` certificates (already verified against the CA by the TLS layer)
//! matched to the client, and the extra parameters a profile requires.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use crate::sim::state::lock;

/// RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An assertion may live at most this long (`exp` − `iat`): they are made per request.
const MAX_ASSERTION_LIFETIME: u64 = 300;

/// `[auth]` of a profile.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientAuthProfile {
    /// The methods the token endpoint accepts (`client_secret_basic`, `client_secret_post`,
    /// `private_key_jwt`, `tls_client_auth`); empty accepts all four.
    pub methods: Vec<String>,
    /// A PEM public key (RSA or EC P-256) that verifies `private_key_jwt` assertions.
    pub jwt_public_key_file: Option<PathBuf>,
    /// A JWKS file (`{"keys": [...]}`) whose key with the assertion's `kid` verifies it.
    pub jwks_file: Option<PathBuf>,
    /// The `aud` an assertion must carry; the token endpoint URL when unset.
    pub assertion_audience: Option<String>,
    /// PEM CA that client certificates must chain to (served with `--tls`); a certificate's
    /// common name is the client id it authenticates.
    pub client_ca_file: Option<PathBuf>,
    /// Form parameters every client-credentials grant must carry, name → exact value.
    pub required_params: BTreeMap<String, String>,
    /// Whether refresh grants must carry `required_params` too.
    pub required_params_on_refresh: bool,
    /// Headers every resource call must carry, name → exact value (401 without).
    pub required_headers: BTreeMap<String, String>,
}

pub const METHODS: [&str; 4] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "tls_client_auth",
];

impl ClientAuthProfile {
    pub fn check(&self) -> Result<(), String> {
        if let Some(m) = self.methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
            return Err(format!(
                "[auth] methods: unknown method {m:?}; the methods are {}",
                METHODS.join(", ")
            ));
        }
        Ok(())
    }

    pub fn accepts(&self, method: &str) -> bool {
        self.methods.is_empty() || self.methods.iter().any(|m| m == method)
    }
}

/// The keys that verify assertions, and the `jti`s already spent.
pub struct Verifier {
    keys: Vec<(Option<String>, DecodingKey)>,
    seen: Mutex<HashMap<String, u64>>,
}

impl Verifier {
    pub fn load(p: &ClientAuthProfile) -> Result<Self, String> {
        let mut keys = Vec::new();
        if let Some(path) = &p.jwt_public_key_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("[auth] jwt_public_key_file {}: {e}", path.display()))?;
            let key = DecodingKey::from_rsa_pem(&pem)
                .or_else(|_| DecodingKey::from_ec_pem(&pem))
                .map_err(|_| {
                    format!(
                        "[auth] jwt_public_key_file {}: not a PEM RSA or EC public key",
                        path.display()
                    )
                })?;
            keys.push((None, key));
        }
        if let Some(path) = &p.jwks_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("[auth] jwks_file {}: {e}", path.display()))?;
            let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&text)
                .map_err(|e| format!("[auth] jwks_file {}: not a JWKS: {e}", path.display()))?;
            for jwk in &set.keys {
                let key = DecodingKey::from_jwk(jwk).map_err(|e| {
                    format!("[auth] jwks_file {}: unusable key: {e}", path.display())
                })?;
                keys.push((jwk.common.key_id.clone(), key));
            }
        }
        Ok(Self {
            keys,
            seen: Mutex::new(HashMap::new()),
        })
    }

    /// The client id an assertion authenticates, or why it does not.
    pub fn verify(&self, assertion: &str, audience: &str) -> Result<String, String> {
        if self.keys.is_empty() {
            return Err("this server has no key to verify client assertions".into());
        }
        let header =
            jsonwebtoken::decode_header(assertion).map_err(|_| "the assertion is no JWT")?;
        if !matches!(
            header.alg,
            Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256
        ) {
            return Err(format!(
                "assertion algorithm {:?} is not accepted",
                header.alg
            ));
        }
        let mut v = Validation::new(header.alg);
        v.set_audience(&[audience]);
        v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        v.leeway = 5;
        let candidates = self
            .keys
            .iter()
            .filter(|(kid, _)| header.kid.is_none() || kid.is_none() || *kid == header.kid);
        let mut last = "no key with the assertion's kid".to_string();
        for (_, key) in candidates {
            match jsonwebtoken::decode::<ReceivedAssertion>(assertion, key, &v) {
                Ok(data) => return self.accept(data.claims),
                Err(e) => last = e.to_string(),
            }
        }
        Err(format!("the assertion does not verify: {last}"))
    }

    fn accept(&self, c: ReceivedAssertion) -> Result<String, String> {
        if c.iss != c.sub {
            return Err("the assertion's iss and sub differ; both must be the client id".into());
        }
        let iat = c.iat.ok_or("the assertion has no iat")?;
        if c.exp.saturating_sub(iat) > MAX_ASSERTION_LIFETIME {
            return Err(format!(
                "the assertion lives {} s; at most {MAX_ASSERTION_LIFETIME} s are accepted",
                c.exp.saturating_sub(iat)
            ));
        }
        let jti = c.jti.ok_or("the assertion has no jti")?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        let mut seen = lock(&self.seen);
        seen.retain(|_, exp| *exp + 10 >= now);
        if seen.insert(jti, c.exp).is_some() {
            return Err("the assertion was already used (its jti is spent)".into());
        }
        Ok(c.sub)
    }
}

#[derive(Deserialize)]
struct ReceivedAssertion {
    iss: String,
    sub: String,
    exp: u64,
    iat: Option<u64>,
    jti: Option<String>,
}

/// The client a verified client certificate names: its subject's common name.
pub fn certificate_client(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

/// The first required parameter missing or different in `get`, as a message.
pub fn missing_param<'a>(
    required: &BTreeMap<String, String>,
    get: impl Fn(&str) -> Option<&'a str>,
) -> Option<String> {
    required.iter().find_map(|(name, want)| match get(name) {
        None => Some(format!("parameter {name} is required")),
        Some(v) if v != want => Some(format!(
            "parameter {name} has a value this server does not serve"
        )),
        Some(_) => None,
    })
}
