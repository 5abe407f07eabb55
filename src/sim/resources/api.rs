//! The resource API (docs/API.md §3): health, pull, push.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use sha2::{Digest, Sha256};

use crate::sim::api_quirks::{self, ApiQuirk};
use crate::sim::gate::{self, Admitted};
use crate::sim::profile::HealthAnswer;
use crate::sim::reply;
use crate::sim::state::{Sim, lock};
use crate::sim::stats::Stats;
use crate::sim::store::{self, Checked, IdempotencyCheck, KeyTicket, WriteEffect};

/// Push bodies above this are refused before parsing (100 records are ~30 KB).
const PUSH_BODY_LIMIT: usize = 16 * 1024 * 1024;
const IDEMPOTENCY_KEY_MAX: usize = 255;

pub async fn health(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    match sim.profile.api.health {
        HealthAnswer::Ok => {}
        // As a proxy or a moved API does: before any token is looked at.
        HealthAnswer::Redirect => {
            let mut resp = reply::json(
                StatusCode::TEMPORARY_REDIRECT,
                &serde_json::json!({"error": "moved", "location": "/api/v2/health"}),
            );
            resp.headers_mut().insert(
                axum::http::header::LOCATION,
                axum::http::HeaderValue::from_static("/api/v2/health"),
            );
            return resp;
        }
        HealthAnswer::Hang => std::future::pending::<()>().await,
    }
    match gate::admit(&sim, &headers) {
        Ok(adm) => adm.finish(reply::json(
            StatusCode::OK,
            &serde_json::json!({"status": "ok"}),
        )),
        Err(resp) => resp,
    }
}

pub async fn pull(State(sim): State<Arc<Sim>>, headers: HeaderMap, uri: Uri) -> Response {
    let adm = match gate::admit(&sim, &headers) {
        Ok(adm) => adm,
        Err(resp) => return resp,
    };
    let max = sim.profile.api.max_batch;
    let (offset, limit) = match page_params(uri.query().unwrap_or(""), max) {
        Ok(p) => p,
        Err(why) => {
            return adm.finish(reply::error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                why,
            ));
        }
    };
    if sim.quirks.active(ApiQuirk::HugePage) {
        Stats::bump(&sim.stats.pull_pages);
        return adm.finish(api_quirks::huge_page());
    }
    if sim.quirks.active(ApiQuirk::ErrorPage) {
        Stats::bump(&sim.stats.pull_pages);
        return adm.finish(api_quirks::error_page());
    }
    let from = sim.quirks.page_from(offset);
    let (page, total) = lock(&sim.store).page(from, limit);
    let end = offset.saturating_add(page.len());
    let next = (end < total).then_some(end);
    let served = sim
        .stats
        .pull_pages
        .load(std::sync::atomic::Ordering::Relaxed);
    let claimed = sim.quirks.stated_total(total as u64, served);
    let mut records: Vec<serde_json::Value> = page
        .iter()
        .map(|s| serde_json::to_value(s).unwrap_or_default())
        .collect();
    sim.quirks.strip_country(from, &mut records, "country");
    let body = serde_json::json!({"suppliers": records, "total": claimed, "next_offset": next});
    Stats::bump(&sim.stats.pull_pages);
    adm.finish_loaded(reply::json(StatusCode::OK, &body)).await
}

/// `offset` (default 0) and `limit` (default and cap `max_batch`, at least 1).
fn page_params(query: &str, max_batch: usize) -> Result<(usize, usize), String> {
    let mut offset = 0usize;
    let mut limit = max_batch;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let n = || {
            v.parse::<usize>().map_err(|_| {
                let shown: String = v.chars().take(30).collect();
                format!("{k} must be a whole number, got {shown:?}")
            })
        };
        match k.as_ref() {
            "offset" => offset = n()?,
            "limit" => {
                limit = n()?;
                if limit == 0 {
                    return Err("limit must be at least 1".into());
                }
            }
            _ => {}
        }
    }
    Ok((offset, limit.min(max_batch)))
}

pub async fn push(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Body) -> Response {
    // The request's work time runs from here: reading and checking it is part of it.
    let arrived = Instant::now();
    let adm = match gate::admit(&sim, &headers) {
        Ok(adm) => adm,
        Err(resp) => return resp,
    };
    let resp = match push_admitted(&sim, &adm, &headers, body, arrived).await {
        Ok(resp) | Err(resp) => resp,
    };
    adm.finish_loaded(resp).await
}

async fn push_admitted(
    sim: &Arc<Sim>,
    adm: &Admitted,
    headers: &HeaderMap,
    body: Body,
    arrived: Instant,
) -> Result<Response, Response> {
    let bad = |why: String| reply::error(StatusCode::BAD_REQUEST, "invalid_request", why);
    match reply::media_type(headers).as_deref() {
        None | Some("application/json") => {}
        Some(other) => {
            let shown: String = other.chars().take(60).collect();
            return Err(reply::error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("push bodies are application/json, not {shown}"),
            ));
        }
    }
    let key = idempotency_key(headers).map_err(bad)?;
    let bytes = reply::read_body(body, PUSH_BODY_LIMIT).await?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("body is not JSON: {e}")))?;
    let elements = value
        .get("suppliers")
        .and_then(|v| v.as_array())
        .ok_or_else(|| bad("body must be an object with a \"suppliers\" array".into()))?
        .clone();
    let max = sim.profile.api.max_batch;
    if elements.len() > max {
        return Err(reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "batch of {} records exceeds max_batch {max}",
                elements.len()
            ),
        ));
    }
    let Some(key) = key else {
        return run_work(sim, elements, None, arrived).await;
    };
    // The same records in another key order or spacing are the same body.
    let hash: [u8; 32] = Sha256::digest(value.to_string().as_bytes()).into();
    let check = lock(&sim.store).check_key(&adm.client_id, &key, hash, Instant::now());
    match check {
        IdempotencyCheck::Conflict => Err(reply::error(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different body",
        )),
        IdempotencyCheck::Replay(first) => {
            Stats::bump(&sim.stats.idempotent_replays);
            Ok(answer(first.as_str().to_string()))
        }
        IdempotencyCheck::Wait(mut rx) => {
            // The first request with this key is still working: answer as it will.
            match rx.wait_for(|a| a.is_some()).await.map(|a| a.clone()) {
                Ok(Some(first)) => {
                    Stats::bump(&sim.stats.idempotent_replays);
                    Ok(answer(first.as_str().to_string()))
                }
                _ => Err(reply::with_retry_after(
                    reply::error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "service_unavailable",
                        "the first request with this Idempotency-Key did not finish; retry",
                    ),
                    1,
                )),
            }
        }
        IdempotencyCheck::Fresh(ticket) => run_work(sim, elements, Some(ticket), arrived).await,
    }
}

/// Runs the work in its own task: it goes on to the end even if the client goes away, as
/// on a real server. That is what makes a lost answer (and the key's replay) matter.
async fn run_work(
    sim: &Arc<Sim>,
    elements: Vec<serde_json::Value>,
    ticket: Option<KeyTicket>,
    arrived: Instant,
) -> Result<Response, Response> {
    let sim2 = Arc::clone(sim);
    let done = tokio::spawn(async move {
        // A failed work drops the ticket: waiters are told, the key starts afresh.
        let text = work(Arc::clone(&sim2), elements, arrived).await?;
        if let Some(ticket) = ticket {
            lock(&sim2.store).complete(ticket, Arc::new(text.clone()));
        }
        Ok::<_, String>(text)
    });
    match done.await.map_err(|e| e.to_string()).and_then(|r| r) {
        Ok(text) => Ok(answer(text)),
        Err(e) => Err(reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            format!("push worker failed: {e}"),
        )),
    }
}

fn answer(text: String) -> Response {
    reply::json_text(StatusCode::OK, text)
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, String> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| "Idempotency-Key must be visible ASCII".to_string())?
        .trim();
    if v.is_empty() || v.len() > IDEMPOTENCY_KEY_MAX {
        return Err(format!(
            "Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} characters"
        ));
    }
    Ok(Some(v.to_string()))
}

/// `per_record_ms` of work per record counted from the request's arrival (the checks run
/// inside that time, as on a real server), then the upserts; the answer's JSON text.
///
/// tokio's timer rounds up to whole milliseconds and wakes 1–2 ms late; at 1 ms a record
/// that would be the simulator's error in every figure measured against it. So only the
/// bulk of the wait is a tokio sleep; the last stretch is a `nanosleep` on the blocking
/// pool, which then does the upserts too (one hand-off, not two).
async fn work(
    sim: Arc<Sim>,
    elements: Vec<serde_json::Value>,
    arrived: Instant,
) -> Result<String, String> {
    let blocked = &sim.profile.api.blocked_countries;
    let checked: Vec<Checked> = elements.iter().map(|e| store::check(e, blocked)).collect();
    let sim2 = Arc::clone(&sim);
    timed(&sim, checked.len(), arrived, move || commit(&sim2, checked)).await
}

/// Runs `then` once `per_record_ms` × `records` have passed since `arrived` (see
/// [`work`] for why the last stretch is a blocking sleep).
pub(super) async fn timed<T: Send + 'static>(
    sim: &Sim,
    records: usize,
    arrived: Instant,
    then: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    const COARSE_SLACK: Duration = Duration::from_millis(2);
    let per = sim.profile.api.per_record_ms;
    let total = Duration::from_millis(per.saturating_mul(records as u64));
    if total.is_zero() {
        return Ok(then());
    }
    let deadline = arrived + total;
    if let Some(coarse) = deadline.checked_sub(COARSE_SLACK) {
        tokio::time::sleep_until(coarse.into()).await;
    }
    tokio::task::spawn_blocking(move || {
        let rest = deadline.saturating_duration_since(Instant::now());
        if !rest.is_zero() {
            std::thread::sleep(rest);
        }
        then()
    })
    .await
    .map_err(|e| e.to_string())
}

/// The upserts of one request, in order; the answer's JSON text. The store is locked for
/// the upserts alone (requests finishing together queue on that lock).
fn commit(sim: &Sim, checked: Vec<Checked>) -> String {
    let outcomes = upsert_all(sim, checked);
    #[derive(serde::Serialize)]
    struct Row<'a> {
        supplier_id: &'a str,
        status: &'static str,
        error: Option<&'a str>,
    }
    #[derive(serde::Serialize)]
    struct ResultsBody<'a> {
        results: Vec<Row<'a>>,
    }
    let answer = ResultsBody {
        results: outcomes
            .iter()
            .map(|(id, outcome, error)| Row {
                supplier_id: id,
                status: outcome.as_str(),
                error: error.as_deref(),
            })
            .collect(),
    };
    // Plain strings and options: encoding cannot fail.
    serde_json::to_string(&answer).unwrap_or_default()
}

/// Stores checked records in order, counting each outcome in the stats. The store is
/// locked for the upserts alone (requests finishing together queue on that lock).
pub(super) fn upsert_all(
    sim: &Sim,
    checked: Vec<Checked>,
) -> Vec<(String, WriteEffect, Option<String>)> {
    let outcomes: Vec<(String, WriteEffect, Option<String>)> = {
        let mut store = lock(&sim.store);
        checked
            .into_iter()
            .map(|c| match c {
                Checked::Valid(rec) => {
                    let id = rec.supplier_id.clone();
                    (id, store.upsert(rec), None)
                }
                Checked::Rejected { id, reason } => (id, WriteEffect::Rejected, Some(reason)),
            })
            .collect()
    };
    let s = &sim.stats;
    for (_, outcome, _) in &outcomes {
        match outcome {
            WriteEffect::Created => Stats::bump(&s.records_created),
            WriteEffect::Updated => Stats::bump(&s.records_updated),
            WriteEffect::Unchanged => Stats::bump(&s.records_unchanged),
            WriteEffect::Rejected => Stats::bump(&s.records_rejected),
        }
        if matches!(outcome, WriteEffect::Created | WriteEffect::Updated) {
            Stats::bump(&s.records_stored);
        }
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_params_default_cap_and_reject() {
        assert_eq!(page_params("", 100), Ok((0, 100)));
        assert_eq!(page_params("offset=5&limit=500", 100), Ok((5, 100)));
        assert_eq!(page_params("limit=7&x=1", 100), Ok((0, 7)));
        assert!(page_params("limit=0", 100).is_err());
        assert!(
            page_params("offset=-1", 100)
                .unwrap_err()
                .contains("offset")
        );
    }
}
