//! The API calls of the probes: health calls with their evidence (status, headers, the
//! server's words), calls in a row on one token, and the idle probe with its check for
//! connections cut while idle.

use std::time::{Duration, Instant, SystemTime};

use super::options::DiagnoseOptions;
use crate::diagnose::evidence::dead_answer::{self, Rules};
use crate::diagnose::evidence::findings::*;
use crate::diagnose::evidence::jwt;
use reqwest::header::HeaderMap;

use crate::api::attach_credential;
use crate::auth::client_auth::{Peer, http_client};
use crate::auth::grant::{Grant, error_chain};
use crate::config::{Carry, Config};
use crate::secret::Secret;

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Where the health calls go, how they carry the credential (a bearer token, or a
/// session id as `auth.session.send_as` says), and the `auth.expired_when` rules their
/// answers are held against.
#[derive(Clone, Copy)]
pub(super) struct Target<'a> {
    pub(super) url: &'a str,
    pub(super) carry: &'a Carry,
    pub(super) rules: &'a Rules,
}

/// Two health calls `opts.idle_wait` apart on one token over one pooled connection. When
/// the second fails at the transport level, a fresh connection and a back-to-back pair
/// tell a cut idle connection from random drops.
pub(super) async fn idle_probe(
    cfg: &Config,
    at: Target<'_>,
    timeout: Duration,
    label: &str,
    g: &Grant,
    opts: &DiagnoseOptions,
) -> (IdleProbe, ConnectionProbe) {
    // The shorter of expires_in and the JWT's exp - iat: a server that overstates one
    // must not make its TTL pass for a session end.
    let jwt_ttl = jwt::decode_unverified(g.access_token.expose())
        .and_then(|j| j.lifetime_secs())
        .and_then(|l| u64::try_from(l).ok());
    let stated = g.expires_in.map(|d| d.as_secs());
    let mut idle = IdleProbe {
        token: label.into(),
        token_ttl_secs: match (stated, jwt_ttl) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
        ..Default::default()
    };
    let mut conn = ConnectionProbe {
        outcome: ConnectionOutcome::NotTested,
        ..Default::default()
    };
    let Ok(pooled) = http_client(cfg, Peer::Api, timeout) else {
        conn.detail = Some("could not build an HTTP client".into());
        return (idle, conn);
    };
    let first = health_with_retry(&pooled, at, &g.access_token, g.sent_at).await;
    let first_at = Instant::now();
    let h1 = first.call.header_expires_in_secs;
    let usable = first.call.status.is_some() && !first.call.is_refusal();
    idle.first = Some(first.call);
    if !usable {
        return (idle, conn);
    }
    // Never wait so long that a short idle window surely kills the token: half of what
    // the header says is left still tells sliding from falling.
    let wait = match h1 {
        Some(h) => opts
            .idle_wait
            .min(Duration::from_secs_f64((h as f64 / 2.0).max(1.0))),
        None => opts.idle_wait,
    };
    tokio::time::sleep(wait).await;
    let second = health(&pooled, at, &g.access_token, g.sent_at).await;
    conn.idle_secs = secs(first_at.elapsed());
    let second = if second.call.status.is_none() {
        let cut = second.call.error.clone().unwrap_or_default();
        let (outcome, answer) = transport_check(cfg, at, timeout, g, wait).await;
        conn.outcome = outcome;
        conn.detail = Some(format!("after {:.0} s idle: {cut}", conn.idle_secs));
        answer.unwrap_or(second)
    } else {
        conn.outcome = ConnectionOutcome::NotObserved;
        // A 503 is no evidence either way about the token; ask again now.
        if second.call.status.is_some_and(|s| s >= 500) {
            health_with_retry(&pooled, at, &g.access_token, g.sent_at).await
        } else {
            second
        }
    };
    // Both ages are taken as each answer arrived, so their difference is the idle time.
    let first_age = idle.first.as_ref().map_or(0.0, |c| c.token_age_secs);
    idle.waited_secs =
        ((second.call.token_age_secs - first_age).max(0.0) * 1000.0).round() / 1000.0;
    idle.second = Some(second.call);
    (idle, conn)
}

/// After a pooled connection failed: does a fresh connection work, and does the failure
/// repeat when that fresh connection is left idle just as long? Only a repeat counts as a
/// cut idle connection; a one-off is a random drop. Returns the outcome and the fresh
/// call's answer (the token's state right after the idle wait).
async fn transport_check(
    cfg: &Config,
    at: Target<'_>,
    timeout: Duration,
    g: &Grant,
    wait: Duration,
) -> (ConnectionOutcome, Option<Health>) {
    let Ok(fresh) = http_client(cfg, Peer::Api, timeout) else {
        return (ConnectionOutcome::RandomDrops, None);
    };
    let answer = health(&fresh, at, &g.access_token, g.sent_at).await;
    if answer.call.status.is_none() {
        return (ConnectionOutcome::RandomDrops, Some(answer));
    }
    tokio::time::sleep(wait).await;
    let again = health(&fresh, at, &g.access_token, g.sent_at).await;
    let outcome = if again.call.status.is_none() {
        ConnectionOutcome::IdleConnectionCut
    } else {
        ConnectionOutcome::RandomDrops
    };
    (outcome, Some(answer))
}

/// The body of an answer, at most 64 KiB: a health answer is small, and a dead token's
/// answer only has to show its error.
async fn capped_body(mut resp: reqwest::Response) -> Vec<u8> {
    const CAP: usize = 64 * 1024;
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = CAP.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= CAP {
            break;
        }
    }
    body
}

/// One health call's evidence, and the `Date` it carried.
pub(super) struct Health {
    pub(super) call: CallFinding,
    pub(super) date: Option<SystemTime>,
    pub(super) date_raw: Option<String>,
    /// Local wall clock halfway through the round trip.
    pub(super) local_mid: SystemTime,
}

pub(super) async fn health(
    http: &reqwest::Client,
    at: Target<'_>,
    token: &Secret,
    issued: Instant,
) -> Health {
    let wall = SystemTime::now();
    let start = Instant::now();
    let mut req = http.get(at.url);
    let mut headers = HeaderMap::new();
    if let Err(e) = attach_credential(&mut headers, at.carry, token) {
        return Health {
            call: CallFinding {
                error: Some(e.to_string()),
                ..Default::default()
            },
            date: None,
            date_raw: None,
            local_mid: wall,
        };
    }
    req = req.headers(headers);
    let res = req.send().await;
    let rtt = start.elapsed();
    let mut call = CallFinding {
        rtt_secs: secs(rtt),
        token_age_secs: secs(issued.elapsed()),
        ..Default::default()
    };
    let mut out = Health {
        call: CallFinding::default(),
        date: None,
        date_raw: None,
        local_mid: wall + rtt / 2,
    };
    match res {
        Err(e) => call.error = Some(error_chain(&e)),
        Ok(resp) => {
            let status = resp.status().as_u16();
            call.status = Some(status);
            let headers = resp.headers();
            call.header_expires_in_secs = headers
                .get("x-token-expires-in")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            out.date_raw = headers
                .get(reqwest::header::DATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            out.date = out
                .date_raw
                .as_deref()
                .and_then(|d| httpdate::parse_http_date(d).ok());
            let header = |name: reqwest::header::HeaderName| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.chars().take(300).collect::<String>())
            };
            if (300..400).contains(&status) {
                call.location = header(reqwest::header::LOCATION);
            }
            if status == 401 || status == 403 {
                call.www_authenticate = header(reqwest::header::WWW_AUTHENTICATE);
            }
            // The body of every answer: a 200 may carry an error (docs/API.md §2.5).
            let body = capped_body(resp).await;
            let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
            call.error_at = json.as_ref().and_then(dead_answer::error_at);
            if !call.is_success() {
                // The server's own words; the status itself is shown once, beside them.
                if let Some(j) = &json {
                    call.error_code = j
                        .get("error")
                        .and_then(|e| e.as_str())
                        .map(|e| dead_answer::clean(e, token));
                    call.error = dead_answer::words(j, token);
                }
                if call.error.is_none() && status == 401 {
                    call.error = Some("401 without a description".into());
                }
            }
            call.expired_when =
                dead_answer::rule_check(at.rules, status, &body, call.error_at.as_ref());
        }
    }
    out.call = call;
    out
}

/// A health call retried briefly on transient answers (transport errors, 429, 5xx).
pub(super) async fn health_with_retry(
    http: &reqwest::Client,
    at: Target<'_>,
    token: &Secret,
    issued: Instant,
) -> Health {
    let mut answer = health(http, at, token, issued).await;
    for _ in 0..3 {
        let transient = match answer.call.status {
            None => true,
            Some(s) => s == 429 || s >= 500,
        };
        if !transient {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        answer = health(http, at, token, issued).await;
    }
    answer
}

/// Up to `planned` calls in a row on the configured-scope token, stopping at the first
/// refusal: a server that revokes a token after some uses shows it here.
pub(super) async fn use_probe(
    http: &reqwest::Client,
    at: Target<'_>,
    g: &Grant,
    planned: u32,
) -> UseProbe {
    let mut p = UseProbe {
        planned,
        earlier_uses: 1,
        calls: Vec::new(),
    };
    for _ in 0..planned {
        let h = health(http, at, &g.access_token, g.sent_at).await;
        let stop = !h.call.is_success();
        p.calls.push(h.call);
        if stop {
            break;
        }
    }
    p
}
