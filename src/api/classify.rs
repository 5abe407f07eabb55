//! Turning an HTTP outcome into success or an [`ApiError`], and reading what the server
//! says about a rejected token. What the server says is data: it is cleaned (control
//! sequences stripped, known secrets redacted, length capped) before it goes anywhere.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::ApiError;
use super::retry_after;
use crate::auth::grant::error_chain;
use crate::server_text::Redactor;

/// How a transport failure's message starts when no answer came at all (the server is
/// gone, not slow): [`ApiError::is_connection_lost`] reads these.
pub const COULD_NOT_CONNECT: &str = "could not connect";
pub const CONNECTION_FAILED: &str = "connection failed";

impl ApiError {
    /// No answer at all: the connection was refused, reset or cut (not a timeout, not an
    /// answer that broke off).
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, ApiError::Transient { message, retry_after: None }
            if message.starts_with(COULD_NOT_CONNECT)
                || message.starts_with(CONNECTION_FAILED))
    }
}

/// A 401 as the server described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub error: Option<String>,
    pub description: String,
}

/// Non-success statuses other than 401 (handled by the caller, which may replay).
pub fn status_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    max_retry_after: Duration,
    redactor: &Redactor,
) -> ApiError {
    let retry_after = retry_after::from_headers(headers, SystemTime::now(), max_retry_after);
    if status == StatusCode::TOO_MANY_REQUESTS {
        return ApiError::RateLimited { retry_after };
    }
    let message = body_message(status, body, redactor);
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        return ApiError::Transient {
            message,
            retry_after,
        };
    }
    ApiError::Permanent {
        status: status.as_u16(),
        message,
    }
}

/// A request that got no complete answer: connection refused or cut (also a pooled
/// connection an idle proxy closed), timeout, a body that broke off. All worth a retry.
pub fn transport_error(err: &reqwest::Error) -> ApiError {
    // The server answered, with a head too large to parse: the same call would get the
    // same answer, so it is not retried as a transport failure.
    if let Some(what) = crate::auth::grant::head_too_large(err) {
        let call = err
            .url()
            .map(|u| format!(" to {}", u.path()))
            .unwrap_or_default();
        return ApiError::TooLarge {
            message: format!("the answer{call} is too large to read: {what}"),
        };
    }
    let what = if err.is_timeout() {
        "request timed out"
    } else if err.is_connect() {
        COULD_NOT_CONNECT
    } else if err.is_body() || err.is_decode() {
        "the answer broke off"
    } else {
        CONNECTION_FAILED
    };
    ApiError::Transient {
        message: format!("{what}: {}", error_chain(err)),
        retry_after: None,
    }
}

/// The server's words for a non-success answer: `error_description`/`error`/`message` of a
/// JSON body, else the text, else the status line; cleaned and capped.
fn body_message(status: StatusCode, body: &[u8], redactor: &Redactor) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["error_description", "message", "error"] {
            if let Some(s) = v.get(key).and_then(|x| x.as_str()) {
                return format!("{status}: {}", redactor.clean(s));
            }
        }
    }
    let text = redactor.clean(&String::from_utf8_lossy(body));
    if text.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {text}")
    }
}

/// Reads a 401: `WWW-Authenticate: Bearer error="…", error_description="…"` first, then the
/// JSON body, then a generic description.
pub fn rejection(headers: &HeaderMap, body: &[u8], redactor: &Redactor) -> Rejection {
    let mut error = None;
    let mut description = None;
    for v in headers.get_all(reqwest::header::WWW_AUTHENTICATE) {
        if let Ok(v) = v.to_str() {
            let params = auth_params(v);
            for (k, val) in params {
                match k.as_str() {
                    "error" if error.is_none() => error = Some(val),
                    "error_description" if description.is_none() => description = Some(val),
                    _ => {}
                }
            }
        }
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        if error.is_none() {
            error = v.get("error").and_then(|x| x.as_str()).map(String::from);
        }
        if description.is_none() {
            description = v
                .get("error_description")
                .and_then(|x| x.as_str())
                .map(String::from);
        }
        // Data platforms and GraphQL (Directus: `{"errors":[{"message":"Token expired.",
        // "extensions":{"code":"TOKEN_EXPIRED"}}]}`; JSON:API: `detail`, `title`, `code`).
        if let Some(first) = v.pointer("/errors/0") {
            let text = |keys: &[&str]| {
                keys.iter()
                    .find_map(|k| first.pointer(k).and_then(|x| x.as_str()))
                    .map(String::from)
            };
            if error.is_none() {
                error = text(&["/extensions/code", "/code"]);
            }
            if description.is_none() {
                description = text(&["/message", "/detail", "/title"]);
            }
        }
    }
    let error = error.map(|e| redactor.clean_to(&e, 60));
    let description = description
        .map(|d| redactor.clean(&d))
        .filter(|d| !d.is_empty())
        .or_else(|| error.clone())
        .unwrap_or_else(|| "401 Unauthorized (no description from the server)".into());
    Rejection { error, description }
}

/// Reads an expired answer of `kind`. A 401 as [`rejection`]; a 403 or 200 the same way,
/// with the start of the body (cleaned) when it names no error.
pub fn expired_rejection(
    kind: crate::auth::status::ExpiredKind,
    headers: &HeaderMap,
    body: &[u8],
    redactor: &Redactor,
) -> Rejection {
    use crate::auth::status::ExpiredKind;
    if kind == ExpiredKind::Status401 {
        return rejection(headers, body, redactor);
    }
    let r = rejection(headers, body, redactor);
    let said = r.error.is_some();
    let prefix = match kind {
        ExpiredKind::Body200 => "200 with an error",
        _ => "403",
    };
    let text = if said {
        r.description
    } else {
        let t = redactor.clean_to(&String::from_utf8_lossy(body), 120);
        if t.is_empty() {
            "no description".into()
        } else {
            t
        }
    };
    Rejection {
        error: r.error,
        description: format!("{prefix}: {text}"),
    }
}

/// `key=value` / `key="quoted, value"` pairs of a challenge (RFC 9110 §11.2); the scheme
/// word is skipped. Keys are lower-cased.
fn auth_params(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let s = header.trim();
    // Skip the scheme ("Bearer") when it is followed by parameters.
    let mut rest = match s.split_once(char::is_whitespace) {
        Some((scheme, rest)) if !scheme.contains('=') => rest,
        _ => s,
    };
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    _ => v.push(c),
                }
            }
            value = v;
            rest = &quoted[end.min(quoted.len())..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        out.push((key, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};

    const MAX: Duration = Duration::from_secs(120);

    #[tokio::test]
    async fn an_answer_with_150_headers_is_too_large_not_a_transport_failure() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let mut head = String::from("HTTP/1.1 200 OK\r\n");
            for i in 0..150 {
                head.push_str(&format!("Set-Cookie: c{i}=1\r\n"));
            }
            head.push_str("Content-Length: 2\r\n\r\n{}");
            let _ = sock.write_all(head.as_bytes()).await;
        });
        let err = reqwest::get(format!("http://{addr}/api/v1/health"))
            .await
            .unwrap_err();
        let e = transport_error(&err);
        assert!(!e.is_retryable(), "{e}");
        let text = e.to_string();
        assert!(
            text.starts_with("the answer to /api/v1/health is too large to read")
                && text.contains("100 header lines"),
            "{text}"
        );
    }

    #[test]
    fn www_authenticate_description_wins() {
        let mut h = HeaderMap::new();
        h.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(
                r#"Bearer error="invalid_token", error_description="Token idle for 15m 02s (idle timeout 15m)""#,
            ),
        );
        let r = rejection(
            &h,
            br#"{"error":"invalid_token","error_description":"other"}"#,
            &Redactor::new(),
        );
        assert_eq!(r.error.as_deref(), Some("invalid_token"));
        assert_eq!(r.description, "Token idle for 15m 02s (idle timeout 15m)");
    }

    #[test]
    fn quoted_commas_and_escapes_survive() {
        let p = auth_params(r#"Bearer realm="a, b", error_description="say \"hi\", ok",x=1"#);
        assert_eq!(
            p,
            vec![
                ("realm".into(), "a, b".into()),
                ("error_description".into(), r#"say "hi", ok"#.into()),
                ("x".into(), "1".into()),
            ]
        );
    }

    #[test]
    fn body_description_when_header_is_bare() {
        let mut h = HeaderMap::new();
        h.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        let r = rejection(
            &h,
            br#"{"error":"invalid_token","error_description":"Token revoked"}"#,
            &Redactor::new(),
        );
        assert_eq!(r.description, "Token revoked");
        let r = rejection(&HeaderMap::new(), b"", &Redactor::new());
        assert!(r.description.contains("401"));
    }

    #[test]
    fn a_data_platform_error_body_is_the_description() {
        let r = rejection(
            &HeaderMap::new(),
            br#"{"errors":[{"message":"Token expired.","extensions":{"code":"TOKEN_EXPIRED"}}]}"#,
            &Redactor::new(),
        );
        assert_eq!(r.description, "Token expired.");
        assert_eq!(r.error.as_deref(), Some("TOKEN_EXPIRED"));
        let r = rejection(
            &HeaderMap::new(),
            br#"{"errors":[{"status":"401","code":"expired","detail":"JWT expired"}]}"#,
            &Redactor::new(),
        );
        assert_eq!(r.description, "JWT expired");
    }

    #[test]
    fn statuses_are_classified() {
        let h = HeaderMap::new();
        assert!(matches!(
            status_error(
                StatusCode::SERVICE_UNAVAILABLE,
                &h,
                b"",
                MAX,
                &Redactor::new()
            ),
            ApiError::Transient { .. }
        ));
        assert!(matches!(
            status_error(
                StatusCode::BAD_GATEWAY,
                &h,
                b"<html>",
                MAX,
                &Redactor::new()
            ),
            ApiError::Transient { .. }
        ));
        let e = status_error(
            StatusCode::CONFLICT,
            &h,
            br#"{"error":"idempotency key reused with a different body"}"#,
            MAX,
            &Redactor::new(),
        );
        assert!(
            matches!(&e, ApiError::Permanent { status: 409, message } if message.contains("different body"))
        );
        assert!(!e.is_retryable());
        assert!(matches!(
            status_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &h,
                b"too big",
                MAX,
                &Redactor::new()
            ),
            ApiError::Permanent { status: 413, .. }
        ));
    }

    #[test]
    fn rate_limit_and_5xx_carry_retry_after() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        let e = status_error(
            StatusCode::TOO_MANY_REQUESTS,
            &h,
            b"",
            MAX,
            &Redactor::new(),
        );
        assert!(matches!(e, ApiError::RateLimited { retry_after: Some(d) } if d.as_secs() == 3));
        h.insert(RETRY_AFTER, HeaderValue::from_static("99999"));
        let e = status_error(
            StatusCode::SERVICE_UNAVAILABLE,
            &h,
            b"",
            MAX,
            &Redactor::new(),
        );
        assert_eq!(e.retry_after(), Some(MAX));
    }

    #[test]
    fn hostile_error_bodies_are_cleaned_and_capped() {
        let r = Redactor::new();
        r.remember_token("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZw");
        let body = format!(
            "\u{1b}]0;owned\u{7}\u{1b}[2Jecho Authorization: Bearer \
             eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZw {}",
            "x".repeat(5600)
        );
        let e = status_error(
            StatusCode::SERVICE_UNAVAILABLE,
            &HeaderMap::new(),
            body.as_bytes(),
            MAX,
            &r,
        );
        let shown = e.to_string();
        assert!(
            !shown.contains('\u{1b}') && !shown.contains("owned"),
            "{shown}"
        );
        assert!(!shown.contains("c2lnbmF0dXJlLXNpZw"), "{shown}");
        assert!(
            shown.contains("[token #") && shown.contains("more)"),
            "{shown}"
        );
        assert!(shown.chars().count() < 400, "{}", shown.chars().count());
        let rej = rejection(
            &HeaderMap::new(),
            br#"{"error_description":"\u001b[31mred\u001b]52;c;AAAA\u0007"}"#,
            &r,
        );
        assert_eq!(rej.description, "red");
    }
}
