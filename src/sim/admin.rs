//! Simulator-only endpoints under `/_sim` (docs/API.md §5.3): no auth, loopback peers only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;

use super::reply;
use super::state::{Sim, lock};

/// An outage longer than a day is surely a typo.
const MAX_OUTAGE_SECS: u64 = 86_400;

fn loopback_only(peer: ConnectInfo<SocketAddr>) -> Result<(), Response> {
    match peer {
        ConnectInfo(addr) if addr.ip().is_loopback() => Ok(()),
        _ => Err(reply::error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "/_sim endpoints answer loopback clients only",
        )),
    }
}

pub async fn stats(State(sim): State<Arc<Sim>>, peer: ConnectInfo<SocketAddr>) -> Response {
    if let Err(resp) = loopback_only(peer) {
        return resp;
    }
    let mut body = sim.stats.to_json();
    body["records_total"] = lock(&sim.store).len().into();
    reply::json(StatusCode::OK, &body)
}

pub async fn revoke(State(sim): State<Arc<Sim>>, peer: ConnectInfo<SocketAddr>) -> Response {
    if let Err(resp) = loopback_only(peer) {
        return resp;
    }
    let now = Instant::now();
    let n = lock(&sim.tokens).revoke_all(now) + lock(&sim.sessions).revoke_all(now);
    tracing::warn!(target: "supsync::sim", sessions = n, "every token revoked (/_sim/revoke)");
    reply::json(StatusCode::OK, &serde_json::json!({"revoked_sessions": n}))
}

/// `POST /_sim/calm`: every `[api] quirks` answer stops; the API answers as the contract says.
pub async fn calm(State(sim): State<Arc<Sim>>, peer: ConnectInfo<SocketAddr>) -> Response {
    if let Err(resp) = loopback_only(peer) {
        return resp;
    }
    sim.quirks.calm();
    tracing::warn!(target: "supsync::sim", "API quirks off (/_sim/calm)");
    reply::json(StatusCode::OK, &serde_json::json!({"calm": true}))
}

pub async fn outage(
    State(sim): State<Arc<Sim>>,
    peer: ConnectInfo<SocketAddr>,
    uri: Uri,
) -> Response {
    if let Err(resp) = loopback_only(peer) {
        return resp;
    }
    let seconds = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "seconds")
        .map(|(_, v)| v.parse::<u64>());
    let secs = match seconds {
        Some(Ok(s)) if s <= MAX_OUTAGE_SECS => s,
        _ => {
            return reply::error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("give ?seconds=N with N a whole number from 0 to {MAX_OUTAGE_SECS}"),
            );
        }
    };
    let only = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "only")
        .map(|(_, v)| v.into_owned());
    match only.as_deref() {
        None => sim.outage.start(Duration::from_secs(secs), Instant::now()),
        Some("token") => sim
            .outage
            .start_token_only(Duration::from_secs(secs), Instant::now()),
        Some(other) => {
            return reply::error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "only={other}: the one scope an outage takes is only=token (the token and login endpoints)"
                ),
            );
        }
    }
    tracing::warn!(target: "supsync::sim", seconds = secs, only = only.as_deref().unwrap_or("all"), "outage started (/_sim/outage)");
    reply::json(StatusCode::OK, &serde_json::json!({"outage_seconds": secs}))
}
