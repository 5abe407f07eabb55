//! Resource API quirks (`[api] quirks`): hostile answers a client must survive without a
//! panic, a leak or a run that never ends. `POST /_sim/calm` turns them all off, so a test
//! can show that a following `resume` stores every record exactly once. See the list in
//! docs/API.md.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::sim::reply;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiQuirk {
    /// `X-Token-Expires-In: 18446744073709551615` (2^64−1) on every answer, the ones that
    /// applied a batch included.
    HugeExpiryHeader,
    /// Every call with a valid token (health included) answered 503 whose body repeats the
    /// request's `Authorization` header, with terminal escape sequences (window title,
    /// OSC 52 clipboard, clear screen) and 5,000 characters of padding.
    EchoBearer,
    /// Pull answers claim `"total": 10^12`.
    ClaimTotal,
    /// A pull paged by cursor or next link (a styled API) never ends: the last page links
    /// to itself, the same cursor or link that led to it.
    LoopingChain,
    /// A pull paged by cursor or next link never ends: past the last record the pages go
    /// on with the list from its start again, each under a new cursor or link.
    EndlessChain,
    /// Pull pages ignore the position asked for (offset, page, cursor or link): every one
    /// holds the list's first records, while the total and the next cursor or link go on
    /// as if the pages moved.
    RepeatPage,
    /// Pull answers state a total of [`SHORT_CHAIN_TOTAL`] whatever the list holds; the
    /// pages end where the list does.
    ShortChain,
    /// From the second pull page served on, answers state a total [`TOTAL_SHIFT`] lower
    /// than the list holds, as if another client deleted records while the pull ran.
    ShiftingTotal,
    /// The list's first record is served without its `country`, as if another client had
    /// stored it without one.
    MissingCountry,
    /// Pull answers of the contract API are 300 MB of JSON, streamed without a
    /// `Content-Length` (never built whole in the simulator's memory).
    HugePage,
    /// Pull answers, in any style, are `200 {"errorCode": 602, "message": "Session expired
    /// or invalid"}`: an error carried by a success status.
    ErrorPage,
}

/// The `total` a [`ApiQuirk::ShortChain`] server states.
pub const SHORT_CHAIN_TOTAL: u64 = 1000;

/// How much lower than the truth a [`ApiQuirk::ShiftingTotal`] server's later totals are.
pub const TOTAL_SHIFT: u64 = 10;

impl ApiQuirks {
    /// The record a pull page asked for at `offset` starts at.
    pub fn page_from(&self, offset: usize) -> usize {
        if self.active(ApiQuirk::RepeatPage) {
            0
        } else {
            offset
        }
    }

    /// The total a pull answer states, for a list of `held` records; `served`: pull pages
    /// answered before this one.
    pub fn stated_total(&self, held: u64, served: u64) -> u64 {
        if self.active(ApiQuirk::ClaimTotal) {
            CLAIMED_TOTAL
        } else if self.active(ApiQuirk::ShortChain) {
            SHORT_CHAIN_TOTAL
        } else if self.active(ApiQuirk::ShiftingTotal) && served > 0 {
            held.saturating_sub(TOTAL_SHIFT)
        } else {
            held
        }
    }

    /// Takes `country_key` off the first of `records` when they start at the list's first
    /// record (`from` 0).
    pub fn strip_country(&self, from: usize, records: &mut [serde_json::Value], country_key: &str) {
        if from == 0
            && self.active(ApiQuirk::MissingCountry)
            && let Some(serde_json::Value::Object(first)) = records.first_mut()
        {
            first.remove(country_key);
        }
    }
}

/// The [`ApiQuirk::ErrorPage`] answer.
pub fn error_page() -> Response {
    reply::json(
        StatusCode::OK,
        &serde_json::json!({"errorCode": 602, "message": "Session expired or invalid"}),
    )
}

/// The size of a [`ApiQuirk::HugePage`] answer.
pub const HUGE_PAGE_BYTES: u64 = 300_000_000;

/// The [`ApiQuirk::HugePage`] answer: `{"suppliers": [], "total": 0, "padding": "xxx…"}`
/// of [`HUGE_PAGE_BYTES`], produced 64 KiB at a time as the client reads.
pub fn huge_page() -> Response {
    const CHUNK: usize = 64 * 1024;
    let head = br#"{"suppliers": [], "total": 0, "padding": ""#;
    let tail = br#""}"#;
    let pad = HUGE_PAGE_BYTES as usize - head.len() - tail.len();
    let chunks = (0..pad.div_ceil(CHUNK)).map(move |i| {
        let n = CHUNK.min(pad - i * CHUNK);
        Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(vec![b'x'; n]))
    });
    let body = futures::stream::iter(
        std::iter::once(Ok(axum::body::Bytes::from_static(head)))
            .chain(chunks)
            .chain(std::iter::once(Ok(axum::body::Bytes::from_static(tail)))),
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// The `total` a [`ApiQuirk::ClaimTotal`] server claims.
pub const CLAIMED_TOTAL: u64 = 1_000_000_000_000;

/// The header value a [`ApiQuirk::HugeExpiryHeader`] server sends.
pub const HUGE_EXPIRY: &str = "18446744073709551615";

/// The profile's quirks, until `/_sim/calm`.
pub struct ApiQuirks {
    on: Vec<ApiQuirk>,
    calm: AtomicBool,
}

impl ApiQuirks {
    pub fn new(on: &[ApiQuirk]) -> Self {
        Self {
            on: on.to_vec(),
            calm: AtomicBool::new(false),
        }
    }

    pub fn active(&self, q: ApiQuirk) -> bool {
        !self.calm.load(Ordering::Relaxed) && self.on.contains(&q)
    }

    /// Turns every quirk off for the rest of the simulator's life.
    pub fn calm(&self) {
        self.calm.store(true, Ordering::Relaxed);
    }
}

/// The [`ApiQuirk::EchoBearer`] answer to a request with these headers.
pub fn echo_bearer(headers: &HeaderMap) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let description = format!(
        "\u{1b}]0;pwned\u{7}\u{1b}]52;c;{clip}\u{7}\u{1b}[2J\u{1b}[H cannot serve the request \
         with Authorization: {auth}; request was: {pad}",
        clip = "cm0gLXJmIH4=",
        pad = "x".repeat(5_000),
    );
    reply::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
        description,
    )
}

/// Stamps the [`ApiQuirk::HugeExpiryHeader`] value on an answer.
pub fn huge_expiry(resp: &mut Response, name: &'static str) {
    resp.headers_mut()
        .insert(name, HeaderValue::from_static(HUGE_EXPIRY));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calm_turns_every_quirk_off() {
        let q = ApiQuirks::new(&[ApiQuirk::EchoBearer]);
        assert!(q.active(ApiQuirk::EchoBearer));
        assert!(!q.active(ApiQuirk::ClaimTotal));
        q.calm();
        assert!(!q.active(ApiQuirk::EchoBearer));
    }

    #[test]
    fn the_echo_repeats_the_bearer() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer tok-123"),
        );
        let resp = echo_bearer(&h);
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
