//! Token strings. Access tokens are JWT-shaped so tools such as `diagnose` can read their
//! claims; refresh tokens are opaque. Neither is ever verified by signature: the server
//! looks every token up in its own table.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// A JWT-shaped access token (header.claims.signature, base64url) so tools such as
/// `diagnose` can read iat/exp/scope. The signature is random: the server never verifies
/// it, it looks the token up in its own table.
/// `skew_secs` moves `iat` and `exp` as a server whose wall clock is off would.
pub fn jwt(client_id: &str, sid: u64, scope: &[String], ttl: u64, skew_secs: i64) -> String {
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .saturating_add_signed(skew_secs);
    let header = serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": "supsync-sim"});
    let claims = serde_json::json!({
        "iss": "supsync-simulator",
        "sub": client_id,
        "client_id": client_id,
        "scope": scope.join(" "),
        "sid": format!("s{sid}"),
        "jti": random_b64(12),
        "iat": iat,
        "exp": iat + ttl,
    });
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        random_b64(32)
    )
}

pub fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_token_is_jwt_shaped() {
        let t = jwt("c", 7, &["supplier_mgmt".to_string()], 900, 0);
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["scope"], "supplier_mgmt");
        assert_eq!(claims["client_id"], "c");
        assert_eq!(claims["sid"], "s7");
        let iat = claims["iat"].as_u64().unwrap();
        assert_eq!(claims["exp"].as_u64().unwrap(), iat + 900);
        assert_ne!(
            jwt("c", 7, &[], 1, 0),
            jwt("c", 7, &[], 1, 0),
            "jti and signature are random"
        );
    }
}
