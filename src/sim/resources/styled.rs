//! The resource API in another style (docs/API.md §6), served from the same mapping a
//! client config uses: envelopes, field names, per-record and sub-request pushes, page,
//! cursor and next-link pulls. Admission (tokens, limits, faults), the per-record work time,
//! the store and the stats are the contract's.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::mapping::{ApiMapping, FieldMap, Pointer, PushMode};
use crate::sim::api::{timed, upsert_all};
use crate::sim::gate::{self, Admitted};
use crate::sim::reply;
use crate::sim::state::{Sim, lock};
use crate::sim::store::{self, Checked, IdempotencyCheck, WriteEffect};
use crate::sim::styled_pull::pull;

const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// The simulator's own next-link parameter: where the next page starts.
pub(super) const AFTER: &str = "after";

pub async fn handle(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let arrived = Instant::now();
    let Some(m) = sim.styled.clone() else {
        return reply::not_found(&method, uri.path());
    };
    let path = uri.path();
    let p = &m.push;
    let route = if method == Method::GET && path == m.pull.path {
        if sim.profile.api.no_listing {
            crate::sim::stats::Stats::bump(&sim.stats.list_refused);
            return reply::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this API has no listing: read a record on its own path",
            );
        }
        Route::Pull
    } else if method == Method::GET
        && let Some(vars) = p.item_path().and_then(|t| t.matches(path))
    {
        Route::Item(vars)
    } else if method.as_str() == p.method.as_str() {
        match p.mode {
            PushMode::PerRecord => match p.path.matches(path) {
                Some(vars) => Route::Record(vars),
                None => return reply::not_found(&method, path),
            },
            _ if path == p.path.as_str() => Route::Batch,
            _ => return reply::not_found(&method, path),
        }
    } else {
        return reply::not_found(&method, path);
    };
    let adm = match gate::admit(&sim, &headers) {
        Ok(adm) => adm,
        Err(resp) => return resp,
    };
    let resp = match route {
        Route::Pull => pull(&sim, &m, &uri),
        Route::Item(vars) => item(&sim, &m, &vars),
        Route::Batch | Route::Record(_) => {
            match push(&sim, &m, &adm, &headers, body, route, arrived).await {
                Ok(r) | Err(r) => r,
            }
        }
    };
    adm.finish_loaded(resp).await
}

enum Route {
    Pull,
    Item(Vec<(String, String)>),
    Batch,
    Record(Vec<(String, String)>),
}

/// One stored record in the style's record envelope, or 404.
fn item(sim: &Sim, m: &ApiMapping, vars: &[(String, String)]) -> Response {
    crate::sim::stats::Stats::bump(&sim.stats.item_reads);
    let id = vars
        .iter()
        .find(|(k, _)| k == "supplier_id")
        .map_or("", |(_, v)| v.as_str());
    match lock(&sim.store).get(id) {
        Some(s) => reply::json(
            StatusCode::OK,
            &m.push.record_envelope.wrap(outgoing(m, &s)),
        ),
        None => reply::error(StatusCode::NOT_FOUND, "not_found", "no such supplier"),
    }
}

pub(super) fn bad(why: impl Into<String>) -> Response {
    reply::error(StatusCode::BAD_REQUEST, "invalid_request", why)
}

/// A stored record in the API's names, with the fields a server adds.
pub(super) fn outgoing(m: &ApiMapping, s: &crate::record::Supplier) -> Value {
    let mut v = m.fields.encode(s);
    if let Value::Object(o) = &mut v {
        for (k, _) in m.fields.extras() {
            o.remove(k);
        }
        let mut h = Sha256::new();
        h.update(serde_json::to_vec(s).unwrap_or_default());
        let tag: [u8; 32] = h.finalize().into();
        o.insert(
            "etag".into(),
            json!(format!("W/\"{}\"", hex::encode(&tag[..6]))),
        );
        o.insert("last_modified".into(), json!(s.updated_at));
    }
    v
}

/// An incoming record in local names (extras and unknown fields dropped), for the
/// shared checks.
fn incoming(m: &ApiMapping, v: &Value) -> Value {
    let mut out = Map::new();
    for f in crate::mapping::fields::LOCAL_FIELDS {
        if let Some(x) = v.get(m.fields.api_name(f)) {
            out.insert(f.to_string(), x.clone());
        }
    }
    Value::Object(out)
}

/// A push answer before it is sent (and stored for an idempotency key's replays).
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn encode(&self) -> String {
        format!("{}\n{}", self.status, self.body)
    }

    fn decode(text: &str) -> Answer {
        let (s, b) = text.split_once('\n').unwrap_or(("200", text));
        Answer {
            status: s.parse().unwrap_or(200),
            body: b.to_string(),
        }
    }

    fn response(&self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        reply::json_text(status, self.body.clone())
    }
}

async fn push(
    sim: &Arc<Sim>,
    m: &Arc<ApiMapping>,
    adm: &Admitted,
    headers: &HeaderMap,
    body: Body,
    route: Route,
    arrived: Instant,
) -> Result<Response, Response> {
    let bytes = reply::read_body(body, BODY_LIMIT).await?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("body is not JSON: {e}")))?;
    let key = match &m.idempotency_header {
        Some(h) => headers
            .get(h.as_str())
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty() && v.len() <= 255),
        None => None,
    };
    let work = {
        let (sim, m) = (Arc::clone(sim), Arc::clone(m));
        move || -> Result<Work, Response> {
            match route {
                Route::Record(vars) => one_record(&sim, &m, &value, &vars),
                _ => batch(&sim, &m, &value),
            }
        }
    };
    let (records, finish) = work()?;
    let Some(key) = key else {
        return run(sim, records, finish, None, arrived).await;
    };
    let hash: [u8; 32] = Sha256::digest(&bytes).into();
    let check = lock(&sim.store).check_key(&adm.client_id, &key, hash, Instant::now());
    match check {
        IdempotencyCheck::Conflict => Err(reply::error(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            "this idempotency key was used with a different body",
        )),
        IdempotencyCheck::Replay(first) => Ok(Answer::decode(&first).response()),
        IdempotencyCheck::Wait(mut rx) => {
            match rx.wait_for(|a| a.is_some()).await.map(|a| a.clone()) {
                Ok(Some(first)) => Ok(Answer::decode(&first).response()),
                _ => Err(reply::with_retry_after(
                    reply::error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "service_unavailable",
                        "the first request with this key did not finish; retry",
                    ),
                    1,
                )),
            }
        }
        IdempotencyCheck::Fresh(ticket) => run(sim, records, finish, Some(ticket), arrived).await,
    }
}

/// The work in its own task, so it completes even if the client goes away (as the
/// contract's does), then the answer is stored for the key.
async fn run(
    sim: &Arc<Sim>,
    records: usize,
    finish: Box<dyn FnOnce() -> Answer + Send>,
    ticket: Option<store::KeyTicket>,
    arrived: Instant,
) -> Result<Response, Response> {
    let sim2 = Arc::clone(sim);
    let done = tokio::spawn(async move {
        let answer = timed(&sim2, records, arrived, finish).await?;
        if let Some(ticket) = ticket {
            lock(&sim2.store).complete(ticket, Arc::new(answer.encode()));
        }
        Ok::<_, String>(answer)
    });
    match done.await.map_err(|e| e.to_string()).and_then(|r| r) {
        Ok(a) => Ok(a.response()),
        Err(e) => Err(reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            format!("push worker failed: {e}"),
        )),
    }
}

type Work = (usize, Box<dyn FnOnce() -> Answer + Send>);

/// One record at its own URL.
fn one_record(
    sim: &Arc<Sim>,
    m: &Arc<ApiMapping>,
    body: &Value,
    vars: &[(String, String)],
) -> Result<Work, Response> {
    let p = &m.push;
    let rec = p.record_envelope.get(body).ok_or_else(|| {
        bad(format!(
            "body must hold the record at {}",
            p.record_envelope
        ))
    })?;
    let checked = check_one(sim, m, rec, vars);
    let method = p.method;
    let (sim, m) = (Arc::clone(sim), Arc::clone(m));
    Ok((
        1,
        Box::new(move || {
            // `reject_reason = "none"`: the answer's status alone, an empty body.
            let reason_at = m
                .answers
                .reject_reason
                .clone()
                .unwrap_or_else(Pointer::root);
            let id = match &checked {
                Checked::Valid(r) => r.supplier_id.clone(),
                Checked::Rejected { id, .. } => id.clone(),
            };
            if let Checked::Valid(_) = &checked {
                let exists = lock(&sim.store).contains(&id);
                match method {
                    crate::mapping::Method::Post if exists => {
                        return Answer {
                            status: 409,
                            body: reason_at.wrap(json!("supplier already exists")).to_string(),
                        };
                    }
                    crate::mapping::Method::Patch if !exists => {
                        return Answer {
                            status: 404,
                            body: reason_at.wrap(json!("no such supplier")).to_string(),
                        };
                    }
                    _ => {}
                }
            }
            let (_, outcome, reason) = upsert_all(&sim, vec![checked]).pop().unwrap_or((
                id.clone(),
                WriteEffect::Rejected,
                None,
            ));
            match outcome {
                WriteEffect::Rejected => Answer {
                    status: 422,
                    body: reason_at
                        .wrap(json!(reason.unwrap_or_default()))
                        .to_string(),
                },
                o => {
                    let stored = lock(&sim.store).get(&id);
                    let data = stored.map(|s| outgoing(&m, &s)).unwrap_or(Value::Null);
                    Answer {
                        status: if o == WriteEffect::Created {
                            sim.profile.api.create_status
                        } else {
                            200
                        },
                        body: m.push.record_envelope.wrap(data).to_string(),
                    }
                }
            }
        }),
    ))
}

/// The record checks, plus: a record's id must be the one its URL names.
fn check_one(sim: &Sim, m: &ApiMapping, rec: &Value, vars: &[(String, String)]) -> Checked {
    let checked = store::check(&incoming(m, rec), &sim.profile.api.blocked_countries);
    if let Checked::Valid(r) = &checked {
        for (field, value) in vars {
            if FieldMap::text_of(r, field) != *value {
                return Checked::Rejected {
                    id: r.supplier_id.clone(),
                    reason: format!("the record's {field} differs from the one in its URL"),
                };
            }
        }
    }
    checked
}

/// A list of records, or of sub-requests.
fn batch(sim: &Arc<Sim>, m: &Arc<ApiMapping>, body: &Value) -> Result<Work, Response> {
    let p = &m.push;
    let items = p
        .envelope
        .get(body)
        .and_then(Value::as_array)
        .ok_or_else(|| bad(format!("body must hold a list at {}", p.envelope)))?;
    let cap = match p.max_records {
        0 => sim.profile.api.max_batch,
        n => n.min(sim.profile.api.max_batch),
    };
    if items.len() > cap {
        return Err(reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("batch of {} exceeds the limit of {cap}", items.len()),
        ));
    }
    if p.mode == PushMode::SubRequests
        && let Some((i, key)) = items
            .iter()
            .enumerate()
            .find_map(|(i, item)| p.item.stray_key(item).map(|k| (i, k)))
    {
        // As Kinto's `/v1/batch` does: an unknown key refuses the whole batch.
        return Err(bad(format!(
            "requests.{i}: {key} is not allowed in a sub-request (expected {})",
            p.item.as_str()
        )));
    }
    let checked: Vec<Checked> = items
        .iter()
        .map(|item| {
            if p.mode == PushMode::SubRequests {
                sub_request(sim, m, item)
            } else {
                let rec = p.record_envelope.get(item).cloned().unwrap_or(Value::Null);
                store::check(&incoming(m, &rec), &sim.profile.api.blocked_countries)
            }
        })
        .collect();
    let n = checked.len();
    let (sim, m) = (Arc::clone(sim), Arc::clone(m));
    Ok((
        n,
        Box::new(move || {
            let outcomes = upsert_all(&sim, checked);
            let results = m.push.results.clone();
            let Some(res) = results else {
                return Answer {
                    status: 200,
                    body: "{}".into(),
                };
            };
            let numeric = m.push.mode == PushMode::SubRequests;
            let list: Vec<Value> = outcomes
                .iter()
                .map(|(id, o, reason)| {
                    let mut item = json!({});
                    if let Some(idp) = &res.id {
                        idp.insert(&mut item, json!(id));
                    }
                    let status = match (numeric, o) {
                        (true, WriteEffect::Created) => json!(sim.profile.api.create_status),
                        (true, WriteEffect::Rejected) => json!(422),
                        (true, _) => json!(200),
                        (false, o) => json!(o.as_str()),
                    };
                    res.status.insert(&mut item, status);
                    if let (Some(ep), Some(r)) = (&res.error, reason) {
                        ep.insert(&mut item, json!(r));
                    }
                    item
                })
                .collect();
            Answer {
                status: 200,
                body: wrap_list(&res.list, list).to_string(),
            }
        }),
    ))
}

fn wrap_list(at: &Pointer, list: Vec<Value>) -> Value {
    at.wrap(Value::Array(list))
}

/// One `{method, path, body}` item: its method and path must fit the mapping.
fn sub_request(sim: &Sim, m: &ApiMapping, item: &Value) -> Checked {
    let p = &m.push;
    let claimed = || Checked::Rejected {
        id: String::new(),
        reason: format!(
            "a sub-request must be {} with method {} and path {}",
            p.item.as_str(),
            p.item_method.as_str(),
            p.item_path.as_str()
        ),
    };
    let (method, path, body) = p.item.read(item);
    if method.is_some_and(|m| !m.eq_ignore_ascii_case(p.item_method.as_str())) {
        return claimed();
    }
    let Some(vars) = p.item_path.matches(path.unwrap_or("")) else {
        return claimed();
    };
    let rec = body
        .and_then(|b| p.record_envelope.get(b))
        .cloned()
        .unwrap_or(Value::Null);
    check_one(sim, m, &rec, &vars)
}
