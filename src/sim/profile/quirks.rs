//! Token endpoint quirks (`[tokens] token_quirks`): how identity providers written by
//! others answer, and how hostile ones do. The lenient ones only change the shape of a
//! successful answer; the hostile ones replace it. See the list in docs/API.md.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::sim::jwt::random_b64;
use crate::sim::reply;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenQuirk {
    /// `"expires_in": "899"` (and `refresh_expires_in` likewise).
    ExpiresInString,
    /// No `expires_in` (the JWT's `exp` still says it).
    NoExpiresIn,
    /// No `expires_in` and an opaque access token: no lifetime anywhere.
    OpaqueNoExpiresIn,
    /// `"token_type": "bearer"`.
    TokenTypeLowercase,
    /// No `token_type`.
    NoTokenType,
    /// No `scope`.
    NoScope,
    /// No `refresh_expires_in`.
    NoRefreshExpiresIn,
    /// Extra fields nobody asked for (`ext_expires_in`, `id_token`, a nested object).
    ExtraFields,
    /// The answer labelled `text/plain` although it is JSON.
    TextPlain,
    /// `"expires_in": 0`.
    ZeroExpiresIn,
    /// `expires_in` and `refresh_expires_in` of 2^64−1.
    HugeExpiresIn,
    /// `expires_in` twice the real TTL: the JWT's `exp` and the server keep the real one.
    ExpiresInDoubled,
    // Hostile: these replace the answer.
    /// 400 whose `error_description` repeats the request (Authorization header and form
    /// body), with terminal escape sequences (window title, OSC 52 clipboard, clear screen).
    EchoRequest,
    /// A 50 MB access token.
    HugeToken,
    /// 429 with a text body and `Retry-After: 86400`.
    RateLimited,
    /// 200 with an HTML login page.
    HtmlAnswer,
    /// Tokens the resource API does not know: every call with one is answered 401.
    UnusableTokens,
}

impl TokenQuirk {
    /// Every quirk a correct client must get a token through (the lenient ones).
    pub const LENIENT: &'static [TokenQuirk] = &[
        TokenQuirk::ExpiresInString,
        TokenQuirk::NoExpiresIn,
        TokenQuirk::OpaqueNoExpiresIn,
        TokenQuirk::TokenTypeLowercase,
        TokenQuirk::NoTokenType,
        TokenQuirk::NoScope,
        TokenQuirk::NoRefreshExpiresIn,
        TokenQuirk::ExtraFields,
        TokenQuirk::TextPlain,
        TokenQuirk::ZeroExpiresIn,
        TokenQuirk::HugeExpiresIn,
    ];
}

/// Reshapes a successful answer body by the lenient quirks.
pub fn reshape(quirks: &[TokenQuirk], body: &mut serde_json::Value) {
    let Some(o) = body.as_object_mut() else {
        return;
    };
    for q in quirks {
        match q {
            TokenQuirk::ExpiresInString => {
                for k in ["expires_in", "refresh_expires_in"] {
                    if let Some(v) = o.get(k).filter(|v| v.is_u64()).map(|v| v.to_string()) {
                        o.insert(k.into(), v.into());
                    }
                }
            }
            TokenQuirk::NoExpiresIn => {
                o.remove("expires_in");
            }
            TokenQuirk::OpaqueNoExpiresIn => {
                o.remove("expires_in");
            }
            TokenQuirk::TokenTypeLowercase => {
                o.insert("token_type".into(), "bearer".into());
            }
            TokenQuirk::NoTokenType => {
                o.remove("token_type");
            }
            TokenQuirk::NoScope => {
                o.remove("scope");
            }
            TokenQuirk::NoRefreshExpiresIn => {
                o.remove("refresh_expires_in");
            }
            TokenQuirk::ExtraFields => {
                o.insert("ext_expires_in".into(), 3599.into());
                o.insert("id_token".into(), "not.a.token".into());
                o.insert(
                    "x_vendor".into(),
                    serde_json::json!({"region": "eu", "tags": [1, "two", null]}),
                );
            }
            TokenQuirk::ZeroExpiresIn => {
                o.insert("expires_in".into(), 0.into());
            }
            TokenQuirk::ExpiresInDoubled => {
                if let Some(e) = o.get("expires_in").and_then(|v| v.as_u64()) {
                    o.insert("expires_in".into(), e.saturating_mul(2).into());
                }
            }
            TokenQuirk::HugeExpiresIn => {
                o.insert("expires_in".into(), u64::MAX.into());
                if o.contains_key("refresh_expires_in") {
                    o.insert("refresh_expires_in".into(), u64::MAX.into());
                }
            }
            _ => {}
        }
    }
}

/// The access token is opaque (no JWT claims) under [`TokenQuirk::OpaqueNoExpiresIn`].
pub fn opaque_tokens(quirks: &[TokenQuirk]) -> bool {
    quirks.contains(&TokenQuirk::OpaqueNoExpiresIn)
}

/// Tokens are not registered with the resource API under [`TokenQuirk::UnusableTokens`].
pub fn unusable_tokens(quirks: &[TokenQuirk]) -> bool {
    quirks.contains(&TokenQuirk::UnusableTokens)
}

/// The content type of a successful answer.
pub fn content_type(quirks: &[TokenQuirk]) -> &'static str {
    if quirks.contains(&TokenQuirk::TextPlain) {
        "text/plain"
    } else {
        "application/json"
    }
}

/// A hostile answer that replaces the token endpoint's own, if a quirk asks for one.
/// `form` is the raw request body.
pub fn hostile(quirks: &[TokenQuirk], headers: &HeaderMap, form: &[u8]) -> Option<Response> {
    for q in quirks {
        match q {
            TokenQuirk::EchoRequest => {
                let auth = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                let echo = format!(
                    "\u{1b}]0;pwned\u{7}\u{1b}]52;c;cGF5bG9hZA==\u{7}\u{1b}[2J\u{1b}[31mcannot \
                     process request: Authorization: {auth}; body: {}; {}",
                    String::from_utf8_lossy(form),
                    "padding ".repeat(700)
                );
                return Some(reply::error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    echo,
                ));
            }
            TokenQuirk::HugeToken => {
                let body = serde_json::json!({
                    "access_token": "A".repeat(50 * 1024 * 1024),
                    "token_type": "Bearer",
                    "expires_in": 900,
                });
                return Some(reply::json(StatusCode::OK, &body));
            }
            TokenQuirk::RateLimited => {
                let mut resp = (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::CONTENT_TYPE, "text/plain")],
                    "token requests over quota for this client: slow down \u{1b}[5mNOW\u{1b}[0m",
                )
                    .into_response();
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("86400"));
                return Some(resp);
            }
            TokenQuirk::HtmlAnswer => {
                return Some(
                    (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                        "<html><body><form>Sign in</form></body></html>",
                    )
                        .into_response(),
                );
            }
            _ => {}
        }
    }
    None
}

/// An opaque token string, for the quirks that must not hand out a JWT.
pub fn opaque_token() -> String {
    random_b64(32)
}
