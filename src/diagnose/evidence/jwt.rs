//! JWT claims decoded WITHOUT signature verification: `diagnose` only reads what the
//! server wrote into its own token (`iat`, `exp`, `scope`) to compare with `expires_in`
//! and the local clock. Nothing here may be used to trust a token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

/// The claims `diagnose` looks at. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JwtClaims {
    /// Always true: a reminder, also in the JSON, that the signature was not checked.
    pub unverified: bool,
    pub iat: Option<i64>,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    /// `scope` (space separated) or `scp` (string or array), joined with spaces.
    pub scope: Option<String>,
}

impl JwtClaims {
    /// `exp - iat`: the lifetime the token itself claims.
    pub fn lifetime_secs(&self) -> Option<i64> {
        Some(self.exp? - self.iat?)
    }
}

/// Claims of `token` if it looks like a JWT (three dot-separated base64url parts whose
/// middle one is a JSON object); `None` for opaque tokens.
pub fn decode_unverified(token: &str) -> Option<JwtClaims> {
    let mut parts = token.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let obj = value.as_object()?;
    let num = |k: &str| {
        obj.get(k)
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
    };
    let scope = ["scope", "scp"].iter().find_map(|k| match obj.get(*k)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(a) => Some(
            a.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    });
    Some(JwtClaims {
        unverified: true,
        iat: num("iat"),
        exp: num("exp"),
        nbf: num("nbf"),
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(payload.as_bytes())
        )
    }

    #[test]
    fn reads_iat_exp_and_scope() {
        let t = jwt(r#"{"iat":1000,"exp":1900,"scope":"supplier_mgmt offline_access"}"#);
        let c = decode_unverified(&t).unwrap();
        assert!(c.unverified);
        assert_eq!(c.iat, Some(1000));
        assert_eq!(c.exp, Some(1900));
        assert_eq!(c.lifetime_secs(), Some(900));
        assert_eq!(c.scope.as_deref(), Some("supplier_mgmt offline_access"));
    }

    #[test]
    fn reads_scp_arrays_and_float_times() {
        let t = jwt(r#"{"iat":1000.5,"exp":2000,"scp":["a","b"]}"#);
        let c = decode_unverified(&t).unwrap();
        assert_eq!(c.iat, Some(1000));
        assert_eq!(c.scope.as_deref(), Some("a b"));
    }

    #[test]
    fn opaque_tokens_are_not_jwts() {
        assert!(decode_unverified("3f9a0c1d2e").is_none());
        assert!(decode_unverified("a.b").is_none());
        assert!(decode_unverified("a.b.c.d").is_none());
        assert!(decode_unverified("x.!!!.y").is_none());
        // Valid base64 but not a JSON object.
        let t = format!("h.{}.s", URL_SAFE_NO_PAD.encode(b"[1,2]"));
        assert!(decode_unverified(&t).is_none());
    }

    #[test]
    fn missing_claims_stay_none() {
        let c = decode_unverified(&jwt(r#"{"sub":"x"}"#)).unwrap();
        assert_eq!((c.iat, c.exp, c.scope.as_deref()), (None, None, None));
        assert_eq!(c.lifetime_secs(), None);
    }
}
