//! Token logins (docs/API.md §8, `[token_login]`): the login, refresh and logout of a data
//! platform in Directus's shape, in front of the same token store as `/oauth/token` (its
//! clocks, rotation and reuse detection). Resource calls then carry `Bearer` as usual;
//! `gate.rs` answers a dead token with [`token_dead`].

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::sim::reply;
use crate::sim::state::{Sim, lock};
use crate::sim::stats::Stats;
use crate::sim::token_login_profile::LifetimeIn;
use crate::sim::tokens::{Issued, RefreshError};

const BODY_LIMIT: usize = 64 * 1024;
const LOG: &str = "supsync::sim";

/// `{"errors":[{"message", "extensions":{"code"}}]}` with `status`.
pub fn errors(status: StatusCode, message: &str, code: &str) -> Response {
    reply::json(
        status,
        &json!({"errors": [{"message": message, "extensions": {"code": code}}]}),
    )
}

/// A dead, unknown or missing token on a resource call, as Directus answers it.
pub fn token_dead() -> Response {
    errors(StatusCode::UNAUTHORIZED, "Token expired.", "TOKEN_EXPIRED")
}

fn invalid_credentials() -> Response {
    errors(
        StatusCode::UNAUTHORIZED,
        "Invalid user credentials.",
        "INVALID_CREDENTIALS",
    )
}

fn invalid_payload(message: &str) -> Response {
    errors(StatusCode::BAD_REQUEST, message, "INVALID_PAYLOAD")
}

/// The body's string fields (JSON object or form).
async fn fields(headers: &HeaderMap, body: Body) -> Result<Vec<(String, String)>, Response> {
    let bytes = reply::read_body(body, BODY_LIMIT).await?;
    match reply::media_type(headers).as_deref() {
        Some("application/json") => {
            let v: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|_| invalid_payload("the body is not JSON"))?;
            let serde_json::Value::Object(map) = v else {
                return Err(invalid_payload("the body must be a JSON object"));
            };
            Ok(map
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
                .collect())
        }
        Some("application/x-www-form-urlencoded") => Ok(url::form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()),
        None if bytes.is_empty() => Ok(Vec::new()),
        _ => Err(invalid_payload(
            "the body must be application/json or application/x-www-form-urlencoded",
        )),
    }
}

fn field(fields: &[(String, String)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.clone())
}

/// `{"data":{"access_token","refresh_token","expires"}}`, `expires` as the profile says.
fn answer(sim: &Sim, issued: &Issued) -> Response {
    Stats::bump(&sim.stats.tokens_issued);
    let mut data = json!({"access_token": issued.access_token});
    if let Some(rt) = &issued.refresh_token {
        data["refresh_token"] = rt.clone().into();
    }
    if sim.profile.token_login.state_refresh_lifetime
        && let Some(secs) = issued.refresh_expires_in
    {
        data["refresh_expires_in"] = secs.into();
    }
    match sim.profile.token_login.lifetime_in {
        LifetimeIn::Ms => data["expires"] = (issued.expires_in * 1000).into(),
        LifetimeIn::S => data["expires"] = issued.expires_in.into(),
        LifetimeIn::None => {}
    }
    no_store(reply::json(StatusCode::OK, &json!({ "data": data })))
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    resp
}

/// `POST login_path`.
pub async fn login(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Body) -> Response {
    Stats::bump(&sim.stats.requests);
    let cfg = &sim.profile.token_login;
    let fields = match fields(&headers, body).await {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    let (Some(user), Some(password)) =
        (field(&fields, &cfg.user_field), field(&fields, "password"))
    else {
        return invalid_payload(&format!(
            "\"{}\" and \"password\" are required",
            cfg.user_field
        ));
    };
    if cfg.users.get(&user) != Some(&password) {
        Stats::bump(&sim.stats.token_login_failures);
        Stats::bump(&sim.stats.unauthorized);
        tracing::info!(target: LOG, "token login refused: wrong user or password");
        return invalid_credentials();
    }
    let issued = lock(&sim.tokens).client_credentials(&user, cfg.scopes.clone(), Instant::now());
    Stats::bump(&sim.stats.token_logins);
    Stats::bump(&sim.stats.sessions);
    tracing::info!(target: LOG, %user, ttl = issued.expires_in, refresh = issued.refresh_token.is_some(), "token login");
    answer(&sim, &issued)
}

/// `POST refresh_path`: rotates both tokens.
pub async fn refresh(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Body) -> Response {
    Stats::bump(&sim.stats.requests);
    let fields = match fields(&headers, body).await {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    let Some(rt) = field(&fields, "refresh_token") else {
        return invalid_payload("\"refresh_token\" is required");
    };
    let now = Instant::now();
    let mut tokens = lock(&sim.tokens);
    let Some(owner) = tokens.refresh_owner(&rt) else {
        drop(tokens);
        Stats::bump(&sim.stats.invalid_grant);
        return invalid_credentials();
    };
    let result = tokens.refresh(&owner, &rt, None, now);
    drop(tokens);
    match result {
        Ok(issued) => {
            Stats::bump(&sim.stats.refreshes);
            tracing::info!(target: LOG, user = %owner, ttl = issued.expires_in, "token login refreshed");
            answer(&sim, &issued)
        }
        Err(RefreshError::Reuse) => {
            Stats::bump(&sim.stats.refresh_reuse);
            Stats::bump(&sim.stats.invalid_grant);
            tracing::warn!(target: LOG, user = %owner, "refresh token reused: its chain is revoked");
            invalid_credentials()
        }
        Err(e) => {
            Stats::bump(&sim.stats.invalid_grant);
            tracing::info!(target: LOG, user = %owner, reason = ?e, "refresh refused");
            invalid_credentials()
        }
    }
}

/// `POST logout_path`: ends the chain of the body's refresh token or the bearer token;
/// 204 whatever it was.
pub async fn logout(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Body) -> Response {
    Stats::bump(&sim.stats.requests);
    let fields = fields(&headers, body).await.unwrap_or_default();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string());
    let now = Instant::now();
    let mut tokens = lock(&sim.tokens);
    let ended = field(&fields, "refresh_token")
        .into_iter()
        .chain(bearer)
        .any(|t| tokens.revoke_session_of(&t, now));
    drop(tokens);
    Stats::bump(&sim.stats.token_logouts);
    tracing::info!(target: LOG, ended, "token logout");
    StatusCode::NO_CONTENT.into_response()
}
