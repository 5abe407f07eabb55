//! Reading token endpoint answers the way widely used clients (golang.org/x/oauth2,
//! authlib) do: `expires_in` and `refresh_expires_in` as a number or a numeric string,
//! `token_type` in any case or missing (Bearer), `scope` missing, unknown fields ignored.
//! Every number is bounded before it becomes a `Duration`, so no answer can overflow a
//! deadline, and sizes are bounded before anything is kept.
//!
//! The `oauth2` crate still builds and sends the request (client authentication, form
//! encoding); [`LenientTokenResponse`] is the answer type it parses into, and [`screen`]
//! sorts out, before that parse, answers that are no token response at all.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use oauth2::basic::BasicTokenType;
use oauth2::{AccessToken, RefreshToken, Scope, TokenResponse};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use super::kinds::LifetimeSource;

/// Tokens longer than this are refused: a header this large is refused by most servers
/// anyway, and a hostile one could make us hold and send megabytes per call.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// The most of a token endpoint answer that is read.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// Lifetimes from a server (`expires_in`, `refresh_expires_in`, `X-Token-Expires-In`) are
/// clamped to this: a year is longer than any real token lives, and far from the point
/// where a deadline would overflow.
pub const MAX_LIFETIME_SECS: u64 = 366 * 24 * 3600;
/// A lifetime under this is no lifetime to plan with: renewing ahead of it would mean a
/// token request every second or more. Such a token is used until the API refuses it.
pub const MIN_LIFETIME_SECS: u64 = 2;

/// A whole number of seconds from outside, clamped to [`MAX_LIFETIME_SECS`].
pub fn bounded_secs(secs: u64) -> Duration {
    Duration::from_secs(secs.min(MAX_LIFETIME_SECS))
}

/// `X-Token-Expires-In` and the like: digits (surrounding blanks allowed), saturating on
/// overflow, then clamped. Anything else is `None`.
pub fn parse_secs_header(value: &str) -> Option<u64> {
    saturating_digits(value).map(|n| n.min(MAX_LIFETIME_SECS))
}

/// Digits (surrounding blanks allowed) as a `u64`, saturating on overflow.
fn saturating_digits(value: &str) -> Option<u64> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits: only overflow can fail the parse, and that is "very long".
    Some(v.parse::<u64>().unwrap_or(u64::MAX))
}

/// A token endpoint answer, read leniently. Field names are RFC 6749 §5.1's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LenientTokenResponse {
    access_token: AccessToken,
    #[serde(default = "bearer", deserialize_with = "token_type")]
    token_type: BasicTokenType,
    #[serde(default, deserialize_with = "seconds")]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(default, deserialize_with = "scopes")]
    scope: Option<Vec<Scope>>,
    /// Not in RFC 6749, but common: how long the refresh token lives.
    #[serde(default, deserialize_with = "seconds")]
    refresh_expires_in: Option<u64>,
}

impl LenientTokenResponse {
    /// `expires_in` as sent (already saturated to `u64`, not yet clamped).
    pub fn expires_in_secs(&self) -> Option<u64> {
        self.expires_in
    }

    pub fn refresh_expires_in(&self) -> Option<Duration> {
        self.refresh_expires_in.map(bounded_secs)
    }
}

impl TokenResponse for LenientTokenResponse {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(bounded_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scope.as_ref()
    }
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

/// Any case; missing or null is Bearer (what every such server means).
fn token_type<'de, D: Deserializer<'de>>(d: D) -> Result<BasicTokenType, D::Error> {
    let t: Option<String> = Option::deserialize(d)?;
    Ok(match t.as_deref().map(str::trim) {
        None | Some("") => BasicTokenType::Bearer,
        Some(t) if t.eq_ignore_ascii_case("bearer") => BasicTokenType::Bearer,
        Some(t) if t.eq_ignore_ascii_case("mac") => BasicTokenType::Mac,
        Some(t) => BasicTokenType::Extension(t.to_string()),
    })
}

/// A space-separated string or a list of strings; anything else (or nothing) is "not
/// stated", which RFC 6749 §5.1 reads as "as requested".
fn scopes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Scope>>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    let words: Vec<String> = match v {
        serde_json::Value::String(s) => s.split_whitespace().map(String::from).collect(),
        serde_json::Value::Array(a) => a
            .into_iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => return Ok(None),
    };
    Ok(Some(words.into_iter().map(Scope::new).collect()))
}

/// Seconds as a JSON number (integer or float) or a numeric string. Negative means "already
/// over" (0); values beyond `u64` saturate; null or "" is absent. Other strings are an error
/// naming the value, as golang.org/x/oauth2 and authlib do.
fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct Secs;
    impl<'de> Visitor<'de> for Secs {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a number of seconds (a number or a numeric string)")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(u64::try_from(v).unwrap_or(0)))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v.is_nan() {
                return Err(E::custom("NaN is not a number of seconds"));
            }
            // `as` saturates: negative → 0, beyond u64 → u64::MAX.
            Ok(Some(v as u64))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let t = v.trim();
            if t.is_empty() {
                return Ok(None);
            }
            if let Some(n) = saturating_digits(t) {
                return Ok(Some(n));
            }
            match t.parse::<f64>() {
                Ok(f) if f.is_finite() => self.visit_f64(f),
                _ => {
                    let shown = crate::server_text::cap(&crate::server_text::strip_controls(t), 40);
                    Err(E::custom(format!("{shown:?} is not a number of seconds")))
                }
            }
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(Secs)
        }
    }
    d.deserialize_any(Secs)
}

/// The lifetime to plan with and where it came from: `expires_in`, else the JWT's
/// `exp` − `iat` (or `exp` − now without `iat`), else `fallback_secs`. A lifetime under
/// [`MIN_LIFETIME_SECS`] is `None` ("renew when refused").
pub fn lifetime(
    expires_in: Option<u64>,
    access_token: &str,
    fallback_secs: u64,
    now: SystemTime,
) -> (Option<Duration>, LifetimeSource) {
    let (secs, source) = match expires_in {
        Some(s) => (s, LifetimeSource::ExpiresIn),
        None => match jwt_lifetime(access_token, now) {
            Some(s) => (s, LifetimeSource::JwtExp),
            None => (fallback_secs, LifetimeSource::Configured),
        },
    };
    if secs < MIN_LIFETIME_SECS {
        (None, LifetimeSource::TooShort)
    } else {
        (Some(bounded_secs(secs)), source)
    }
}

/// Seconds a JWT access token says it lives, from its unverified claims. `None` for an
/// opaque token or one without a usable `exp`. `exp` and `iat` are the server's clock: the
/// lifetime is their difference, and without `iat`, `exp` less `now`, which callers give as
/// the server's "now" (`crate::retry_after::server_now` of the answer's `Date`) so a skewed
/// server clock does not shorten or stretch it.
pub fn jwt_lifetime(token: &str, now: SystemTime) -> Option<u64> {
    #[derive(Deserialize)]
    struct TokenTimes {
        #[serde(default, deserialize_with = "seconds")]
        exp: Option<u64>,
        #[serde(default, deserialize_with = "seconds")]
        iat: Option<u64>,
    }
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: TokenTimes = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.exp?;
    let from = match claims.iat {
        Some(iat) if iat <= exp => iat,
        _ => now.duration_since(UNIX_EPOCH).ok()?.as_secs(),
    };
    Some(exp.saturating_sub(from))
}

/// Why an answer is no token response, found before it is parsed as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screened {
    /// 429 or 5xx: the server is there but busy or failing. `text` is its error text, raw
    /// (the caller cleans it).
    Busy {
        status: u16,
        text: String,
        /// `Retry-After` as asked, read on the answer's own clock (filled in by the caller,
        /// who has the headers).
        retry_after: Option<Duration>,
    },
    /// Not a token answer and no OAuth2 error either (HTML login page, empty body, JSON
    /// without `access_token`…). The body is not kept: it may hold a token.
    NoToken {
        status: u16,
        content_type: String,
        what: &'static str,
    },
    /// An OAuth2 error object in a success status (some servers answer errors with 200).
    ErrorIn2xx {
        code: String,
        description: Option<String>,
    },
    /// An answer or token over the size limits.
    TooLarge { what: String },
}

/// Sorts out answers that are not a token response, so what reaches the `oauth2` parse is
/// either a JSON object with an `access_token` string (2xx) or an OAuth2 error object.
pub fn screen(status: u16, content_type: Option<&str>, body: &[u8]) -> Result<(), Screened> {
    let ct = content_type.unwrap_or("").trim().to_ascii_lowercase();
    let shown_ct = if ct.is_empty() {
        "no content type".to_string()
    } else {
        crate::server_text::cap(&crate::server_text::strip_controls(&ct), 60)
    };
    if status == 429 || (500..=599).contains(&status) {
        let text = error_text(body);
        return Err(Screened::Busy {
            status,
            text,
            retry_after: None,
        });
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let obj = json.as_ref().and_then(|v| v.as_object());
    let error_code = obj
        .and_then(|o| o.get("error"))
        .and_then(|e| e.as_str())
        .map(String::from);
    let token = obj.and_then(|o| o.get("access_token"));
    if (200..=299).contains(&status) {
        match token {
            Some(serde_json::Value::String(t)) => {
                if t.len() > MAX_TOKEN_BYTES {
                    return Err(Screened::TooLarge {
                        what: format!(
                            "the access token is {} KiB; tokens over {} KiB are refused",
                            t.len() / 1024,
                            MAX_TOKEN_BYTES / 1024
                        ),
                    });
                }
                if t.trim().is_empty() {
                    return Err(no_token(status, shown_ct, "an empty access_token"));
                }
                if let Some(serde_json::Value::String(rt)) =
                    obj.and_then(|o| o.get("refresh_token"))
                    && rt.len() > MAX_TOKEN_BYTES
                {
                    return Err(Screened::TooLarge {
                        what: format!(
                            "the refresh token is {} KiB; tokens over {} KiB are refused",
                            rt.len() / 1024,
                            MAX_TOKEN_BYTES / 1024
                        ),
                    });
                }
                Ok(())
            }
            Some(_) => Err(no_token(
                status,
                shown_ct,
                "an access_token that is not a string",
            )),
            None => match error_code {
                Some(code) => Err(Screened::ErrorIn2xx {
                    code,
                    description: obj
                        .and_then(|o| o.get("error_description"))
                        .and_then(|d| d.as_str())
                        .map(String::from),
                }),
                None if obj.is_some() => {
                    Err(no_token(status, shown_ct, "JSON without access_token"))
                }
                None if body.is_empty() => Err(no_token(status, shown_ct, "an empty body")),
                None => Err(no_token(status, shown_ct, "a body that is not JSON")),
            },
        }
    } else if error_code.is_some() {
        // An OAuth2 error answer: `oauth2` parses it.
        Ok(())
    } else {
        Err(no_token(status, shown_ct, "no OAuth2 error object"))
    }
}

fn no_token(status: u16, content_type: String, what: &'static str) -> Screened {
    Screened::NoToken {
        status,
        content_type,
        what,
    }
}

/// The server's words in an error answer: `error_description` / `error` / `message` of a
/// JSON body, else the body as text. Raw: the caller cleans it.
pub fn error_text(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(String::from);
        match (
            field("error"),
            field("error_description").or_else(|| field("message")),
        ) {
            (Some(e), Some(d)) => return format!("{e}: {d}"),
            (Some(e), None) => return e,
            (None, Some(d)) => return d,
            (None, None) => {}
        }
    }
    // The body was read with a size limit; the caller caps what is shown.
    String::from_utf8_lossy(body).into_owned()
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
