//! Building answers: JSON bodies, OAuth-style errors, `Retry-After`, body limits, and the
//! marker that makes the server cut a connection instead of answering.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Put in a response's extensions by a handler: the server then closes the connection
/// without writing the response (an injected "dropped connection" fault).
#[derive(Debug, Clone, Copy)]
pub struct CutConnection;

pub fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    json_text(status, body.to_string())
}

/// A JSON answer whose text is already serialized (idempotent replays send the same bytes).
pub fn json_text(status: StatusCode, text: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// `{"error": code, "error_description": description}` (RFC 6749 §5.2 / RFC 6750 shape).
pub fn error(status: StatusCode, code: &str, description: impl Into<String>) -> Response {
    json(
        status,
        &serde_json::json!({"error": code, "error_description": description.into()}),
    )
}

/// A 401 for the resource API: `WWW-Authenticate` names the reason as well as the body.
pub fn unauthorized(code: &str, description: &str) -> Response {
    let mut resp = error(StatusCode::UNAUTHORIZED, code, description);
    let quoted = description.replace(['"', '\\'], "'");
    let value =
        format!("Bearer realm=\"supsync-sim\", error=\"{code}\", error_description=\"{quoted}\"");
    let value = HeaderValue::from_str(&value)
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer realm=\"supsync-sim\""));
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    resp
}

/// A dead token, answered the way the profile's `expiry_signal` says.
pub fn token_dead(signal: super::profile::ExpirySignal, description: &str) -> Response {
    use super::profile::ExpirySignal;
    match signal {
        ExpirySignal::Unauthorized => unauthorized("invalid_token", description),
        ExpirySignal::Forbidden => error(StatusCode::FORBIDDEN, "token_expired", description),
        ExpirySignal::Body200 => json(
            StatusCode::OK,
            &serde_json::json!({
                "status": "error",
                "error": {"code": "TOKEN_EXPIRED", "message": description},
            }),
        ),
        ExpirySignal::Body200Code => json(
            StatusCode::OK,
            &serde_json::json!({"errorCode": 602, "message": description}),
        ),
    }
}

/// A dead, unknown or missing session (docs/API.md §7): as a dead token, but the `401`
/// says `invalid_session` with the `Session` scheme; `403` and `200` keep §2.5's shapes.
pub fn session_dead(signal: super::profile::ExpirySignal, description: &str) -> Response {
    use super::profile::ExpirySignal;
    match signal {
        ExpirySignal::Unauthorized => {
            let mut resp = error(StatusCode::UNAUTHORIZED, "invalid_session", description);
            let quoted = description.replace(['"', '\\'], "'");
            let value =
                format!("Session error=\"invalid_session\", error_description=\"{quoted}\"");
            let value = HeaderValue::from_str(&value)
                .unwrap_or_else(|_| HeaderValue::from_static("Session error=\"invalid_session\""));
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
            resp
        }
        other => token_dead(other, description),
    }
}

pub fn with_retry_after(mut resp: Response, secs: u64) -> Response {
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    resp
}

pub fn cut() -> Response {
    let mut resp = StatusCode::SERVICE_UNAVAILABLE.into_response();
    resp.extensions_mut().insert(CutConnection);
    resp
}

pub fn not_found(method: &axum::http::Method, path: &str) -> Response {
    let shown: String = path.chars().take(100).collect();
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no such endpoint: {method} {shown}"),
    )
}

/// Reads a body up to `limit` bytes; a larger one is a 413 JSON answer.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_big = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_big {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("request body is larger than {limit} bytes"),
            )
        } else {
            error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("could not read the request body: {e}"),
            )
        }
    })
}

/// The media type of `Content-Type`, lower-cased, parameters dropped (`None` if absent).
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}
