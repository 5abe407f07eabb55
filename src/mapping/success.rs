//! `success_when`: what a 2xx push answer must look like to count as applied. A server
//! that answers an error with `200 {"errorCode": 602, …}` has not stored the record;
//! counting it as done would report records the server does not hold.
//!
//! Each rule is one string (all must hold):
//! - `"no_error"` (every preset's default): the answer's top level carries no recognisable
//!   error ([`top_level_error`]);
//! - `"/pointer = a|b"`: the answer's value there (a string, or a number or boolean as its
//!   JSON text) is one of these;
//! - `"any"`, alone: every 2xx counts (the check is off).

use serde_json::Value;

use super::Pointer;

/// Top-level keys whose presence (with a value that is not empty, null, `false` or 0)
/// means the answer is an error.
pub const ERROR_KEYS: &[&str] = &["error", "errors", "errorCode", "error_code", "fault"];
/// Top-level flags that say "failed" when `false`.
pub const FALSE_FLAGS: &[&str] = &["success", "ok"];
/// Words of a top-level `status` that mean failure (case-insensitive).
pub const FAILURE_WORDS: &[&str] = &["error", "fail", "failed", "failure"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuccessRule {
    NoError,
    Pointer { at: Pointer, values: Vec<String> },
}

/// The rules of `success_when`; empty when the check is off (`any`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuccessWhen(pub Vec<SuccessRule>);

impl Default for SuccessWhen {
    fn default() -> Self {
        SuccessWhen(vec![SuccessRule::NoError])
    }
}

impl SuccessWhen {
    /// The rules as written; the error says what is wrong with which rule.
    pub fn parse(rules: &[String]) -> Result<SuccessWhen, String> {
        if rules.is_empty() {
            return Err(
                "is empty; write [\"no_error\"] (the default) or [\"any\"] to count every 2xx \
                 answer as applied"
                    .into(),
            );
        }
        let mut out = Vec::new();
        for r in rules {
            let t = r.trim();
            match t {
                "any" if rules.len() == 1 => return Ok(SuccessWhen(Vec::new())),
                "any" => return Err("\"any\" turns the check off and stands alone".into()),
                "no_error" => out.push(SuccessRule::NoError),
                _ if t.starts_with('/') => {
                    let (at, values) = t.split_once('=').ok_or_else(|| {
                        format!("rule {r:?}: a JSON pointer needs `= value` (or `= a|b`)")
                    })?;
                    let at = Pointer::parse(at.trim()).map_err(|e| format!("rule {r:?}: {e}"))?;
                    let values: Vec<String> =
                        values.split('|').map(|v| v.trim().to_string()).collect();
                    if values.iter().any(String::is_empty) {
                        return Err(format!("rule {r:?}: an empty value after `=`"));
                    }
                    out.push(SuccessRule::Pointer { at, values });
                }
                _ => {
                    return Err(format!(
                        "rule {r:?} is not \"no_error\", \"any\" or \"/pointer = value\""
                    ));
                }
            }
        }
        Ok(SuccessWhen(out))
    }

    pub fn is_off(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a 2xx answer with `body` shows success. An empty or non-JSON body passes
    /// `no_error` (there is nothing to read) and fails a pointer rule.
    pub fn fits(&self, body: &[u8]) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let v: Option<Value> = serde_json::from_slice(body).ok();
        self.0.iter().all(|rule| match rule {
            SuccessRule::NoError => v.as_ref().and_then(top_level_error).is_none(),
            SuccessRule::Pointer { at, values } => {
                let found = v.as_ref().and_then(|v| at.get(v)).and_then(|x| match x {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(_) | Value::Bool(_) => Some(x.to_string()),
                    _ => None,
                });
                found.is_some_and(|f| values.contains(&f))
            }
        })
    }
}

/// The top-level key of `body` that names an error, if any: a non-empty `error`,
/// `errors`, `fault`, an `errorCode`/`error_code` other than 0, `success` or `ok` false,
/// or a `status` such as `"error"` or `"failed"`.
pub fn top_level_error(body: &Value) -> Option<&'static str> {
    let o = body.as_object()?;
    for key in ERROR_KEYS {
        let set = match o.get(*key) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::String(s)) => !s.trim().is_empty() && s.trim() != "0",
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Object(m)) => !m.is_empty(),
            Some(Value::Number(n)) => n.as_f64() != Some(0.0),
            Some(Value::Bool(true)) => true,
        };
        if set {
            return Some(key);
        }
    }
    for key in FALSE_FLAGS {
        if o.get(*key) == Some(&Value::Bool(false)) {
            return Some(key);
        }
    }
    let failed = o.get("status").and_then(Value::as_str).is_some_and(|s| {
        FAILURE_WORDS
            .iter()
            .any(|w| s.trim().eq_ignore_ascii_case(w))
    });
    failed.then_some("status")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fits(w: &SuccessWhen, v: Value) -> bool {
        w.fits(&serde_json::to_vec(&v).unwrap())
    }

    #[test]
    fn error_bodies_are_seen_and_good_answers_are_not() {
        let d = SuccessWhen::default();
        for bad in [
            json!({"errorCode": 602, "message": "Session expired"}),
            json!({"error": "boom"}),
            json!({"error": {"code": "X"}}),
            json!({"errors": [{"message": "x"}]}),
            json!({"fault": {"faultstring": "x"}}),
            json!({"success": false}),
            json!({"ok": false, "error": "invalid_auth"}),
            json!({"status": "Error", "code": "E1"}),
            json!({"status": "FAILED"}),
        ] {
            assert!(!fits(&d, bad.clone()), "{bad}");
        }
        for good in [
            json!({"data": {"supplier_id": "SUP-1", "status": "approved"}}),
            json!({"results": [{"supplier_id": "SUP-1", "status": "rejected", "error": "x"}]}),
            json!({"errorCode": 0, "message": "ok"}),
            json!({"error": null, "errors": [], "success": true}),
            json!({"error": "", "errorCode": "0"}),
            json!([1, 2]),
        ] {
            assert!(fits(&d, good.clone()), "{good}");
        }
        assert!(d.fits(b""), "a 204 has nothing to read");
        assert!(d.fits(b"OK"), "text is not JSON to read");
    }

    #[test]
    fn rules_parse_combine_and_turn_off() {
        let w = SuccessWhen::parse(&["no_error".into(), "/status = ok|done".into()]).unwrap();
        assert!(fits(&w, json!({"status": "ok"})));
        assert!(!fits(&w, json!({"status": "queued"})));
        assert!(!fits(&w, json!({"status": "ok", "error": "x"})));
        assert!(!w.fits(b""), "a pointer rule needs a body");
        let n = SuccessWhen::parse(&["/code = 0".into()]).unwrap();
        assert!(fits(&n, json!({"code": 0})));
        let off = SuccessWhen::parse(&["any".into()]).unwrap();
        assert!(off.is_off() && fits(&off, json!({"error": "x"})));
        for (bad, says) in [
            (vec![], "is empty"),
            (vec!["any".to_string(), "no_error".into()], "stands alone"),
            (vec!["/status".into()], "needs `= value`"),
            (vec!["/s = a||b".into()], "empty value"),
            (vec!["status = ok".into()], "is not"),
            (vec!["/a~2 = x".into()], "not a JSON pointer"),
        ] {
            let e = SuccessWhen::parse(&bad).unwrap_err();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }
}
