//! Admission of a resource call, in this order: outage (503), bearer token, the profile's
//! required headers and the token's three clocks (401), rate and concurrency limits (429), then the seeded fault die (503 or a
//! cut connection). An admitted call slides its token's idle window; its answer gets
//! `X-Token-Expires-In` as of the moment it is sent. With `[session] enabled` a session id
//! takes the bearer token's place, and its two clocks the token's three (docs/API.md §7).

use std::sync::Arc;
use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::sim::api_quirks::{self, ApiQuirk};
use crate::sim::faults::Fault;
use crate::sim::limits::InFlight;
use crate::sim::reply;
use crate::sim::session;
use crate::sim::state::{Sim, lock};
use crate::sim::stats::Stats;

pub const EXPIRES_HEADER: &str = "x-token-expires-in";

/// What a call authenticated with.
enum Credential {
    Token(String),
    Session(String),
    /// A static API key: no clocks.
    Key,
}

/// An authenticated resource call that may proceed.
pub struct Admitted {
    sim: Arc<Sim>,
    credential: Credential,
    pub client_id: String,
    /// The connection is cut after the work (the fault die said so).
    pub drop_after: bool,
    _slot: Option<InFlight>,
}

impl Admitted {
    /// The answer to send: `X-Token-Expires-In` added, or the connection cut.
    pub fn finish(self, resp: Response) -> Response {
        if self.drop_after {
            return reply::cut();
        }
        self.stamp(resp)
    }

    /// [`Self::finish`] after the extra time a loaded server takes (`load_latency_ms` ×
    /// in flight ÷ the cap when this call came in).
    pub async fn finish_loaded(self, resp: Response) -> Response {
        let per = self.sim.profile.api.load_latency_ms;
        if let Some(slot) = self._slot.as_ref().filter(|_| per > 0) {
            let ms = per.saturating_mul(slot.load as u64) / slot.cap.max(1) as u64;
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        self.finish(resp)
    }

    fn stamp(&self, mut resp: Response) -> Response {
        let api = &self.sim.profile.api;
        if api.rate_limit_headers
            && let Some((limit, left, reset)) =
                self.sim.limits.window(&self.client_id, Instant::now())
        {
            // The IETF fields, the older draft's form (the client reads both forms).
            let h = resp.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&format!("{limit};w=1")) {
                h.insert("ratelimit-policy", v);
            }
            if let Ok(v) =
                HeaderValue::from_str(&format!("limit={limit}, remaining={left}, reset={reset}"))
            {
                h.insert("ratelimit", v);
            }
        }
        if api.expiry_header {
            let now = Instant::now();
            let left = match &self.credential {
                Credential::Token(t) => Some(lock(&self.sim.tokens).remaining_secs(t, now)),
                // A session without clocks has no deadline to tell.
                Credential::Session(id) => lock(&self.sim.sessions).remaining_secs(id, now),
                Credential::Key => None,
            };
            if let Some(left) = left {
                resp.headers_mut()
                    .insert(EXPIRES_HEADER, HeaderValue::from(left));
            }
            if self.sim.quirks.active(ApiQuirk::HugeExpiryHeader) {
                api_quirks::huge_expiry(&mut resp, EXPIRES_HEADER);
            }
        }
        let skew = self.sim.profile.tokens.clock_skew_secs;
        let dates = api.retry_after_dates;
        if skew != 0 || dates {
            // hyper adds `Date` only when the answer has none: this one wins.
            let now = std::time::SystemTime::now();
            let shifted = if skew > 0 {
                now.checked_add(std::time::Duration::from_secs(skew.unsigned_abs()))
            } else {
                now.checked_sub(std::time::Duration::from_secs(skew.unsigned_abs()))
            };
            if let Some(server_now) = shifted {
                if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(server_now)) {
                    resp.headers_mut().insert(header::DATE, v);
                }
                if dates {
                    retry_after_as_date(&mut resp, server_now);
                }
            }
        }
        resp
    }
}

/// `Retry-After: N` becomes the HTTP date N seconds after `server_now` (the server's clock).
fn retry_after_as_date(resp: &mut Response, server_now: std::time::SystemTime) {
    let secs = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(at) = secs.and_then(|s| server_now.checked_add(std::time::Duration::from_secs(s)))
        && let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(at))
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

/// Admits the call or gives the answer that refuses it.
pub fn admit(sim: &Arc<Sim>, headers: &HeaderMap) -> Result<Admitted, Response> {
    Stats::bump(&sim.stats.requests);
    let now = Instant::now();
    if let Some(left) = sim.outage.api_remaining(now) {
        Stats::bump(&sim.stats.outage_rejections);
        return Err(reply::with_retry_after(
            reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "the API is unavailable (simulated outage)",
            ),
            left.as_secs_f64().ceil() as u64,
        ));
    }
    let (credential, client_id) = if sim.profile.session.enabled {
        session_check(sim, headers, now)?
    } else if sim.profile.api_key.enabled {
        let client = crate::sim::api_key::check(sim, headers)?;
        required_headers(sim, headers)?;
        (Credential::Key, client)
    } else {
        token_check(sim, headers, now)?
    };
    if sim.quirks.active(ApiQuirk::EchoBearer) {
        Stats::bump(&sim.stats.faults);
        return Err(api_quirks::echo_bearer(headers));
    }
    let mut adm = Admitted {
        sim: Arc::clone(sim),
        credential,
        client_id,
        drop_after: false,
        _slot: None,
    };
    match sim.limits.admit(&adm.client_id, now) {
        Ok(slot) => adm._slot = Some(slot),
        Err(refused) => {
            Stats::bump(&sim.stats.rate_limited);
            let resp = reply::error(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                refused.reason,
            );
            return Err(adm.stamp(reply::with_retry_after(resp, refused.retry_after_secs)));
        }
    }
    match sim.dice.roll() {
        Fault::None => Ok(adm),
        Fault::Unavailable { retry_after } => {
            Stats::bump(&sim.stats.faults);
            let resp = reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "temporarily unavailable (injected fault); retry",
            );
            let resp = if retry_after {
                reply::with_retry_after(resp, 1)
            } else {
                resp
            };
            Err(adm.stamp(resp))
        }
        Fault::DropBefore => {
            Stats::bump(&sim.stats.faults);
            Stats::bump(&sim.stats.dropped_connections);
            Err(reply::cut())
        }
        Fault::DropAfter => {
            Stats::bump(&sim.stats.faults);
            Stats::bump(&sim.stats.dropped_connections);
            adm.drop_after = true;
            Ok(adm)
        }
    }
}

/// The bearer token, the required headers, the token's clocks.
fn token_check(
    sim: &Sim,
    headers: &HeaderMap,
    now: Instant,
) -> Result<(Credential, String), Response> {
    let platform = sim.profile.token_login.enabled;
    let token = bearer(headers).map_err(|why| {
        Stats::bump(&sim.stats.unauthorized);
        Stats::bump(&sim.stats.api_unauthorized);
        match platform {
            true => crate::sim::token_login::token_dead(),
            false => reply::unauthorized("invalid_request", why),
        }
    })?;
    required_headers(sim, headers)?;
    let authed = lock(&sim.tokens).authenticate(token, now);
    let authed = authed.map_err(|why| {
        let signal = count_dead(sim);
        tracing::info!(target: "supsync::sim", token = %crate::secret::fingerprint(token), reason = %why, signal = ?signal, "token refused");
        match platform {
            true => crate::sim::token_login::token_dead(),
            false => reply::token_dead(signal, &why),
        }
    })?;
    Ok((Credential::Token(token.to_string()), authed.client_id))
}

/// The session id, the required headers, the session's clocks (docs/API.md §7). A missing
/// session is answered as a dead one.
fn session_check(
    sim: &Sim,
    headers: &HeaderMap,
    now: Instant,
) -> Result<(Credential, String), Response> {
    let dead = |why: &str| reply::session_dead(count_dead(sim), why);
    let id = session::carried(&sim.profile.session, headers).map_err(|why| {
        tracing::info!(target: "supsync::sim", reason = %why, "session refused");
        dead(&why)
    })?;
    required_headers(sim, headers)?;
    let user = lock(&sim.sessions).authenticate(id, now);
    let user = user.map_err(|refused| {
        if refused.by_newer_login {
            Stats::bump(&sim.stats.session_overlap_uses);
        }
        tracing::info!(target: "supsync::sim", session = %crate::secret::fingerprint(id), reason = %refused.description, "session refused");
        dead(&refused.description)
    })?;
    Ok((Credential::Session(id.to_string()), user))
}

/// Counts a refused dead token or session; returns how to answer it (`expiry_signal`).
fn count_dead(sim: &Sim) -> crate::sim::profile::ExpirySignal {
    let signal = sim.profile.tokens.expiry_signal;
    Stats::bump(&sim.stats.api_token_dead);
    if signal == crate::sim::profile::ExpirySignal::Unauthorized {
        Stats::bump(&sim.stats.unauthorized);
        Stats::bump(&sim.stats.api_unauthorized);
    }
    signal
}

/// The profile's `[auth] required_headers`, each with exactly its value (docs/API.md §3.2).
fn required_headers(sim: &Sim, headers: &HeaderMap) -> Result<(), Response> {
    if let Some((name, _)) = sim
        .profile
        .auth
        .required_headers
        .iter()
        .find(|(name, want)| {
            headers.get(name.as_str()).and_then(|v| v.to_str().ok()) != Some(want.as_str())
        })
    {
        Stats::bump(&sim.stats.unauthorized);
        tracing::info!(target: "supsync::sim", header = %name, "401: required header missing or wrong");
        return Err(reply::unauthorized(
            "invalid_request",
            &format!("the {name} header is missing or wrong"),
        ));
    }
    Ok(())
}

fn bearer(headers: &HeaderMap) -> Result<&str, &'static str> {
    let v = headers
        .get(header::AUTHORIZATION)
        .ok_or("missing Authorization: Bearer header")?;
    let v = v
        .to_str()
        .map_err(|_| "Authorization header is not ASCII")?;
    let (scheme, token) = v
        .split_once(' ')
        .ok_or("Authorization header is not Bearer")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("Authorization header is not Bearer");
    }
    let token = token.trim();
    if token.is_empty() {
        return Err("empty bearer token");
    }
    Ok(token)
}
