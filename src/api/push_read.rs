//! Reading push answers through the mapping: a batch answer's per-record results, one
//! record's answer, one sub-request's answer. An answer that does not fit names the
//! pointer and the answer's top-level keys, never record contents.

use serde_json::Value;

use super::{ApiError, PushResult, PushStatus};
use crate::mapping::{Answers, Pointer, Results, clip, shape_of};
use crate::server_text::Redactor;

/// What one record's status (a word or an HTTP status) says.
pub(super) enum PushAnswer {
    Done(PushStatus),
    Rejected,
    /// A 2xx whose body does not fit `api.success_when`: not applied; retried.
    ErrorBody(u16),
    /// Worth another attempt (429, 5xx, a configured retry status).
    Retry(u16),
    /// Anything else: the segment fails.
    Fatal(u16),
}

pub(super) fn misfit(what: &str, at: &Pointer, answer: &Value) -> ApiError {
    ApiError::Permanent {
        status: 200,
        message: format!("{what} `{at}` found nothing usable; {}", shape_of(answer)),
    }
}

pub(super) fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Permanent {
        status: 200,
        message: format!(
            "the answer is not JSON (line {}, column {}); the mapping needs JSON",
            e.line(),
            e.column()
        ),
    })
}

/// How one record's 2xx is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Reading {
    /// A POST to a collection: any 2xx is a create (Directus answers one with 200).
    pub creates: bool,
    /// The body is the record's own answer, held against `api.success_when`; `false`
    /// for a row of a batch answer, whose whole answer was checked already.
    pub check_body: bool,
}

/// An HTTP status of one record (per-record call or sub-request). A 201 is a create; a
/// 200 or 204 to a PUT or PATCH does not say whether the record was created, changed or
/// left as it was, so it counts as applied rather than as a guess.
pub(super) fn http_verdict(
    answers: &Answers,
    how: Reading,
    status: u16,
    body: &[u8],
) -> PushAnswer {
    let fits = !how.check_body || answers.success.fits(body);
    match status {
        s if answers.is_already_there(s, body) => PushAnswer::Done(PushStatus::Unchanged),
        s @ 200..=299 if !fits && answers.is_reject(s) => PushAnswer::Rejected,
        s @ 200..=299 if !fits => PushAnswer::ErrorBody(s),
        201 => PushAnswer::Done(PushStatus::Created),
        200..=299 if how.creates => PushAnswer::Done(PushStatus::Created),
        200..=299 => PushAnswer::Done(PushStatus::Applied),
        s if answers.is_reject(s) => PushAnswer::Rejected,
        s if answers.is_retryable(s) => PushAnswer::Retry(s),
        s => PushAnswer::Fatal(s),
    }
}

/// A result's status: a word or an HTTP status number.
fn status_verdict(answers: &Answers, creates: bool, v: &Value, body: &[u8]) -> Option<PushAnswer> {
    if let Some(n) = v.as_u64() {
        let how = Reading {
            creates,
            check_body: false,
        };
        return Some(http_verdict(answers, how, u16::try_from(n).ok()?, body));
    }
    Some(match v.as_str()?.to_ascii_lowercase().as_str() {
        "created" => PushAnswer::Done(PushStatus::Created),
        "updated" => PushAnswer::Done(PushStatus::Updated),
        "unchanged" => PushAnswer::Done(PushStatus::Unchanged),
        // Taken, without saying how.
        "ok" | "accepted" | "applied" | "success" => PushAnswer::Done(PushStatus::Applied),
        "rejected" | "error" | "failed" => PushAnswer::Rejected,
        _ => return None,
    })
}

/// The reason text at `at` in `v`, cleaned; a generic one when there is none.
pub(super) fn reason(v: &Value, at: Option<&Pointer>, status: u16, r: &Redactor) -> String {
    let text = at.and_then(|p| p.get(v)).and_then(|x| match x {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    });
    match text {
        Some(t) if !t.trim().is_empty() => r.clean(&t),
        _ if status == 0 => "rejected by the server".into(),
        _ => format!("rejected by the server (HTTP {status})"),
    }
}

/// The per-record results of a batch (or sub-request) answer, in the order of `ids`.
pub(super) fn batch_results(
    results: &Results,
    answers: &Answers,
    creates: bool,
    answer: &Value,
    ids: &[String],
    r: &Redactor,
) -> Result<Vec<PushResult>, ApiError> {
    let list = results
        .list
        .get(answer)
        .and_then(Value::as_array)
        .ok_or_else(|| misfit("results pointer", &results.list, answer))?;
    if list.len() != ids.len() {
        return Err(ApiError::Permanent {
            status: 200,
            message: format!(
                "the server answered {} results for {} records",
                list.len(),
                ids.len()
            ),
        });
    }
    // By id when the answer names them, else by position.
    let ordered: Vec<&Value> = match &results.id {
        None => list.iter().collect(),
        Some(idp) => {
            let mut by_id = std::collections::HashMap::new();
            for item in list {
                let id = idp
                    .get(item)
                    .and_then(Value::as_str)
                    .ok_or_else(|| misfit("result id pointer", idp, item))?;
                by_id.insert(id.to_string(), item);
            }
            ids.iter()
                .map(|id| {
                    by_id.get(id).copied().ok_or_else(|| ApiError::Permanent {
                        status: 200,
                        message: format!("the answer has no result for record {}", clip(id, 60)),
                    })
                })
                .collect::<Result<_, _>>()?
        }
    };
    let mut out = Vec::with_capacity(ids.len());
    for (item, id) in ordered.into_iter().zip(ids) {
        let sv = results
            .status
            .get(item)
            .ok_or_else(|| misfit("result status pointer", &results.status, item))?;
        let body = results
            .error
            .as_ref()
            .and_then(|p| p.get(item))
            .map(|v| v.to_string())
            .unwrap_or_default();
        let verdict = status_verdict(answers, creates, sv, body.as_bytes()).ok_or_else(|| {
            ApiError::Permanent {
                status: 200,
                message: format!(
                    "the answer's status at `{}` is neither a status word (created, updated, \
                     unchanged, applied, rejected) nor an HTTP status",
                    results.status
                ),
            }
        })?;
        let status_num = sv.as_u64().and_then(|n| u16::try_from(n).ok()).unwrap_or(0);
        let (status, error) = match verdict {
            PushAnswer::Done(s) => (s, None),
            PushAnswer::Rejected => (
                PushStatus::Rejected,
                Some(reason(item, results.error.as_ref(), status_num, r)),
            ),
            // Rows are not held against `success_when` (the whole answer was).
            PushAnswer::Retry(s) | PushAnswer::ErrorBody(s) => {
                return Err(ApiError::Transient {
                    message: format!("the server answered HTTP {s} for record {}", clip(id, 60)),
                    retry_after: None,
                });
            }
            PushAnswer::Fatal(s) => {
                return Err(ApiError::Permanent {
                    status: s,
                    message: format!(
                        "the server refused record {} (HTTP {s}): {}",
                        clip(id, 60),
                        reason(item, results.error.as_ref(), s, r)
                    ),
                });
            }
        };
        out.push(PushResult {
            supplier_id: id.clone(),
            status,
            error,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::ApiMapping;
    use serde_json::json;

    const ONE: Reading = Reading {
        creates: false,
        check_body: true,
    };

    fn contract() -> ApiMapping {
        ApiMapping::contract("/b")
    }

    #[test]
    fn contract_results_by_id_with_cleaned_reasons() {
        let m = contract();
        let res = m.push.results.clone().unwrap();
        let answer = json!({"results": [
            {"supplier_id": "SUP-2", "status": "rejected", "error": "bad \u{1b}[31mcountry"},
            {"supplier_id": "SUP-1", "status": "created", "error": null},
        ]});
        let ids = vec!["SUP-1".to_string(), "SUP-2".to_string()];
        let out = batch_results(&res, &m.answers, false, &answer, &ids, &Redactor::new()).unwrap();
        assert_eq!(out[0].status, PushStatus::Created);
        assert_eq!(out[1].status, PushStatus::Rejected);
        assert_eq!(out[1].error.as_deref(), Some("bad country"));
    }

    #[test]
    fn misfits_name_pointer_and_keys_only() {
        let m = contract();
        let res = m.push.results.clone().unwrap();
        let answer = json!({"data": [{"name": "Top Secret Ltd"}], "links": {}});
        let e = batch_results(
            &res,
            &m.answers,
            false,
            &answer,
            &["SUP-1".into()],
            &Redactor::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("results pointer `/results`"), "{e}");
        assert!(e.contains("top-level keys are `data`, `links`"), "{e}");
        assert!(!e.contains("Top Secret"), "{e}");
        let short = json!({"results": []});
        let e = batch_results(
            &res,
            &m.answers,
            false,
            &short,
            &["SUP-1".into()],
            &Redactor::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("0 results for 1 records"), "{e}");
    }

    #[test]
    fn http_statuses_per_item() {
        let keys = crate::mapping::MappingKeys {
            preset: Some("odata".into()),
            ..Default::default()
        };
        let m = ApiMapping::build(&keys, "/b").unwrap();
        let res = m.push.results.clone().unwrap();
        let answer = json!({"responses": [
            {"status": 201}, {"status": 200},
            {"status": 422, "body": {"error": {"message": "country blocked"}}},
        ]});
        let ids: Vec<String> = (1..=3).map(|i| format!("SUP-{i}")).collect();
        let out = batch_results(&res, &m.answers, false, &answer, &ids, &Redactor::new()).unwrap();
        assert_eq!(out[0].status, PushStatus::Created);
        assert_eq!(
            out[1].status,
            PushStatus::Applied,
            "a 200 to a PUT says no more"
        );
        assert_eq!(out[2].error.as_deref(), Some("country blocked"));
        let retry = json!({"responses": [{"status": 503}, {"status": 200}, {"status": 200}]});
        let e = batch_results(&res, &m.answers, false, &retry, &ids, &Redactor::new()).unwrap_err();
        assert!(e.is_retryable());
        let fatal = json!({"responses": [{"status": 403}, {"status": 200}, {"status": 200}]});
        let e = batch_results(&res, &m.answers, false, &fatal, &ids, &Redactor::new()).unwrap_err();
        assert!(!e.is_retryable());
    }

    #[test]
    fn already_exists_counts_as_done() {
        let keys = crate::mapping::MappingKeys {
            preset: Some("data_rest".into()),
            already_exists_status: Some(409),
            already_exists_match: Some("already exists".into()),
            ..Default::default()
        };
        let m = ApiMapping::build(&keys, "/b").unwrap();
        assert!(matches!(
            http_verdict(
                &m.answers,
                ONE,
                409,
                b"{\"error\":\"supplier already exists\"}"
            ),
            PushAnswer::Done(PushStatus::Unchanged)
        ));
        assert!(matches!(
            http_verdict(&m.answers, ONE, 409, b"{\"error\":\"version conflict\"}"),
            PushAnswer::Fatal(409)
        ));
        assert!(matches!(
            http_verdict(&m.answers, ONE, 422, b""),
            PushAnswer::Rejected
        ));
        // A server that says "already there" with a 200 needs the text to tell it apart.
        let keys = crate::mapping::MappingKeys {
            preset: Some("data_rest".into()),
            already_exists_status: Some(200),
            already_exists_match: Some("already exists".into()),
            ..Default::default()
        };
        let m = ApiMapping::build(&keys, "/b").unwrap();
        assert!(matches!(
            http_verdict(&m.answers, ONE, 200, br#"{"error": "already exists"}"#),
            PushAnswer::Done(PushStatus::Unchanged)
        ));
        assert!(matches!(
            http_verdict(&m.answers, ONE, 200, br#"{"data": {}}"#),
            PushAnswer::Done(PushStatus::Applied)
        ));
        let bare = crate::mapping::MappingKeys {
            already_exists_match: None,
            ..keys
        };
        let e = ApiMapping::build(&bare, "/b").unwrap_err();
        assert_eq!(e[0].key, "already_exists_status", "{e:?}");
    }
}

#[cfg(test)]
#[path = "push_read_tests.rs"]
mod proptests;
