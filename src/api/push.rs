//! A segment's push through the mapping: encoded once into the requests the API wants
//! (one batch, batches of at most `push_max_records`, one request per record, or
//! sub-request batches), sent with the segment's idempotency key, and read back into one
//! result per record. Parts that succeeded are kept across attempts, so a retry sends
//! only what is still open.

use std::sync::Mutex;

use futures::StreamExt;
use serde_json::Value;

use super::client::Reply;
use super::config_error;
use super::error_body::error_body;
use super::push_read::{PushAnswer, Reading, batch_results, http_verdict, parse_body, reason};
use super::{ApiClient, ApiError, PushResult, PushStatus, classify};
use crate::mapping::{FieldMap, Method, PushMode, clip};
use crate::record::Supplier;

/// One request of a push, ready to send as often as retries need.
struct Part {
    method: Method,
    url: String,
    body: Vec<u8>,
    /// The ids of the records it carries, in order.
    ids: Vec<String>,
    /// Appended to the segment's key when a segment needs more than one request.
    key_suffix: Option<String>,
}

/// A segment's records, encoded for the API. Built before a slot is taken (the engine
/// encodes the next segment while the server is busy with the current one).
pub struct PushJob {
    parts: Vec<Part>,
    records: usize,
    /// Results of the parts already answered, kept across attempts.
    done: Mutex<Vec<Option<Vec<PushResult>>>>,
}

impl PushJob {
    pub fn records(&self) -> usize {
        self.records
    }

    /// The results the server has given so far (parts answered), for a segment that
    /// fails with some of its records already applied: those are on the server.
    pub fn settled(&self) -> Vec<PushResult> {
        lock(&self.done)
            .iter()
            .flatten()
            .flatten()
            .cloned()
            .collect()
    }
}

impl ApiClient {
    /// Encodes `records` as the mapping says.
    pub fn prepare_push(&self, records: &[Supplier]) -> Result<PushJob, ApiError> {
        let m = &self.mapping;
        let p = &m.push;
        let encode = |s: &Supplier| m.fields.encode(s);
        let url = |path: &str| self.url(path);
        let to_bytes = |v: &Value| {
            serde_json::to_vec(v).map_err(|e| config_error(format!("cannot encode the batch: {e}")))
        };
        let chunk = if p.max_records == 0 {
            records.len().max(1)
        } else {
            p.max_records
        };
        let chunks: Vec<&[Supplier]> = records.chunks(chunk).collect();
        let split = chunks.len() > 1;
        let mut parts = Vec::new();
        match p.mode {
            PushMode::Batch => {
                for (i, c) in chunks.iter().enumerate() {
                    let list: Vec<Value> = c
                        .iter()
                        .map(|s| p.record_envelope.wrap(encode(s)))
                        .collect();
                    parts.push(Part {
                        method: p.method,
                        url: url(p.path.as_str()),
                        body: to_bytes(&p.envelope.wrap(Value::Array(list)))?,
                        ids: c.iter().map(|s| s.supplier_id.clone()).collect(),
                        key_suffix: split.then(|| format!(".{i}")),
                    });
                }
            }
            PushMode::SubRequests => {
                for (i, c) in chunks.iter().enumerate() {
                    let items: Vec<Value> = c
                        .iter()
                        .enumerate()
                        .map(|(j, s)| {
                            p.item.render(
                                j,
                                p.item_method.as_str(),
                                &p.item_path.render(|f| FieldMap::text_of(s, f)),
                                p.record_envelope.wrap(encode(s)),
                            )
                        })
                        .collect();
                    parts.push(Part {
                        method: p.method,
                        url: url(p.path.as_str()),
                        body: to_bytes(&p.envelope.wrap(Value::Array(items)))?,
                        ids: c.iter().map(|s| s.supplier_id.clone()).collect(),
                        key_suffix: split.then(|| format!(".{i}")),
                    });
                }
            }
            PushMode::PerRecord => {
                for (i, s) in records.iter().enumerate() {
                    parts.push(Part {
                        method: p.method,
                        url: url(&p.path.render(|f| FieldMap::text_of(s, f))),
                        body: to_bytes(&p.record_envelope.wrap(encode(s)))?,
                        ids: vec![s.supplier_id.clone()],
                        key_suffix: Some(format!(".{i}")),
                    });
                }
            }
        }
        let n = parts.len();
        Ok(PushJob {
            parts,
            records: records.len(),
            done: Mutex::new(vec![None; n]),
        })
    }

    /// Sends what of `job` is still open; the results in the order of its records.
    /// `idempotency_key` is stable across attempts and resumes.
    pub async fn push(
        &self,
        idempotency_key: &str,
        job: &PushJob,
    ) -> Result<Vec<PushResult>, ApiError> {
        let open: Vec<usize> = {
            let done = lock(&job.done);
            (0..job.parts.len())
                .filter(|&i| done[i].is_none())
                .collect()
        };
        let width = match self.mapping.push.mode {
            PushMode::PerRecord => self.mapping.push.concurrency,
            // Chunks of one segment go one after another: the run's concurrency already
            // spreads segments over the server.
            _ => 1,
        };
        let mut sends = futures::stream::iter(
            open.into_iter()
                .map(|i| async move { (i, self.send_part(idempotency_key, &job.parts[i]).await) }),
        )
        .buffer_unordered(width.max(1));
        let mut first_error: Option<ApiError> = None;
        while let Some((i, r)) = sends.next().await {
            match r {
                Ok(results) => lock(&job.done)[i] = Some(results),
                // A fatal error outranks a retryable one: retrying would not help.
                Err(e) => match &first_error {
                    Some(prev) if !prev.is_retryable() || e.is_retryable() => {}
                    _ => first_error = Some(e),
                },
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        let done = lock(&job.done);
        let mut out = Vec::with_capacity(job.records);
        for r in done.iter() {
            out.extend(r.iter().flatten().cloned());
        }
        if out.len() != job.records {
            return Err(ApiError::Permanent {
                status: 200,
                message: format!(
                    "the server answered {} results for {} records",
                    out.len(),
                    job.records
                ),
            });
        }
        Ok(out)
    }

    async fn send_part(&self, key: &str, part: &Part) -> Result<Vec<PushResult>, ApiError> {
        let m = &self.mapping;
        let method = match part.method {
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
        };
        let mut req = self
            .http
            .request(method, &part.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(part.body.clone());
        if let Some(h) = &m.idempotency_header {
            let key = format!("{key}{}", part.key_suffix.as_deref().unwrap_or(""));
            req = req.header(h.as_str(), key);
        }
        match m.push.mode {
            PushMode::PerRecord => {
                let answers = &m.answers;
                let read = |s: u16| {
                    answers.is_reject(s)
                        || answers.retry_statuses.contains(&s)
                        || answers
                            .already_exists
                            .as_ref()
                            .is_some_and(|a| a.status == s)
                };
                let reply = self.call_reading(req, &read).await?;
                Ok(vec![self.record_result(&part.ids[0], reply)?])
            }
            PushMode::Batch | PushMode::SubRequests => {
                let retry = |s: u16| m.answers.retry_statuses.contains(&s);
                let reply = self.call_reading(req, &retry).await?;
                if !(200..300).contains(&reply.status) {
                    return Err(retry_error(reply.status));
                }
                // The answer as a whole first: a 2xx saying it failed applied nothing.
                if !m.answers.success.fits(&reply.body) {
                    return Err(error_body(reply.status, &reply.body, &self.redactor));
                }
                match &m.push.results {
                    // The request's 2xx says the records were taken, not what became of each.
                    None => Ok(part
                        .ids
                        .iter()
                        .map(|id| PushResult {
                            supplier_id: id.clone(),
                            status: PushStatus::Applied,
                            error: None,
                        })
                        .collect()),
                    Some(results) => {
                        let answer = parse_body(&reply.body)?;
                        let creates = m.push.posts_to_collection();
                        batch_results(
                            results,
                            &m.answers,
                            creates,
                            &answer,
                            &part.ids,
                            &self.redactor,
                        )
                    }
                }
            }
        }
    }

    /// One record's own answer (per-record mode).
    fn record_result(&self, id: &str, reply: Reply) -> Result<PushResult, ApiError> {
        let m = &self.mapping;
        let result = |status, error| PushResult {
            supplier_id: id.to_string(),
            status,
            error,
        };
        let how = Reading {
            creates: m.push.posts_to_collection(),
            check_body: true,
        };
        match http_verdict(&m.answers, how, reply.status, &reply.body) {
            PushAnswer::Done(s) => Ok(result(s, None)),
            PushAnswer::ErrorBody(s) => Err(error_body(s, &reply.body, &self.redactor)),
            PushAnswer::Rejected => {
                let v = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
                let why = reason(
                    &v,
                    m.answers.reject_reason.as_ref(),
                    reply.status,
                    &self.redactor,
                );
                Ok(result(PushStatus::Rejected, Some(why)))
            }
            PushAnswer::Retry(s) if m.answers.retry_statuses.contains(&s) => Err(retry_error(s)),
            PushAnswer::Retry(_) | PushAnswer::Fatal(_) => {
                let status = reqwest::StatusCode::from_u16(reply.status).map_err(|_| {
                    config_error(format!("HTTP status {} is not valid", reply.status))
                })?;
                let e = classify::status_error(
                    status,
                    &reply.headers,
                    &reply.body,
                    self.max_retry_after,
                    &self.redactor,
                );
                Err(match e {
                    ApiError::Permanent { status, message } => ApiError::Permanent {
                        status,
                        message: format!("record {}: {message}", clip(id, 60)),
                    },
                    other => other,
                })
            }
        }
    }

    /// A mapping path (or absolute URL) on `api.base_url`.
    pub(super) fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_string();
        }
        format!(
            "{}/{}",
            self.base.as_str().trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }
}

/// A status the mapping lists as retryable (429 and 5xx are classified as such anyway).
fn retry_error(status: u16) -> ApiError {
    ApiError::Transient {
        message: format!("the server answered HTTP {status}, retryable per api.retry_statuses"),
        retry_after: None,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
