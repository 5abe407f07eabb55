//! `api.batch_item`: the shape of one sub-request of a `sub_requests` batch, as a JSON
//! template. Strings that are exactly `"{method}"`, `"{path}"`, `"{body}"` or `"{index}"`
//! are replaced by the item's method, path, body (JSON, not a string) and position; every
//! other value is sent as written. The default carries supsync's own `"id"` (the position,
//! as OData's `$batch` wants); an API that refuses unknown keys (Kinto's `/v1/batch`) gets
//! `{"method": "{method}", "path": "{path}", "body": "{body}"}` and nothing else.

use serde_json::{Map, Value};

use super::Pointer;

/// The default item: `{"id", "method", "path", "body"}`.
pub const DEFAULT_ITEM: &str =
    r#"{"id": "{index}", "method": "{method}", "path": "{path}", "body": "{body}"}"#;

const PLACES: &[&str] = &["{method}", "{path}", "{body}", "{index}"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemTemplate {
    text: String,
    shape: Value,
    method: Option<Pointer>,
    path: Pointer,
    body: Pointer,
}

impl ItemTemplate {
    pub fn parse(text: &str) -> Result<ItemTemplate, String> {
        let shape: Value = serde_json::from_str(text).map_err(|e| {
            format!(
                "is not JSON ({e}); write e.g. '{{\"method\": \"{{method}}\", \"path\": \
                 \"{{path}}\", \"body\": \"{{body}}\"}}'"
            )
        })?;
        if !shape.is_object() {
            return Err("must be a JSON object (one sub-request)".into());
        }
        let mut found: Vec<(String, String)> = Vec::new();
        places(&shape, String::new(), &mut found)?;
        let at = |name: &str| -> Result<Option<Pointer>, String> {
            let hits: Vec<&(String, String)> = found.iter().filter(|(p, _)| p == name).collect();
            match hits.as_slice() {
                [] => Ok(None),
                [(_, at)] => Pointer::parse(at).map(Some),
                _ => Err(format!("names {name} more than once")),
            }
        };
        let method = at("{method}")?;
        let _index = at("{index}")?;
        let path = at("{path}")?.ok_or("has no \"{path}\": each sub-request needs its path")?;
        let body = at("{body}")?.ok_or("has no \"{body}\": each sub-request needs its record")?;
        Ok(ItemTemplate {
            text: text.to_string(),
            shape,
            method,
            path,
            body,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Item `index` of a batch: the template with its places filled.
    pub fn render(&self, index: usize, method: &str, path: &str, body: Value) -> Value {
        let mut body = Some(body);
        fill(&self.shape, &mut |place| match place {
            "{method}" => Value::String(method.into()),
            "{path}" => Value::String(path.into()),
            "{index}" => Value::String(index.to_string()),
            _ => body.take().unwrap_or(Value::Null),
        })
    }

    /// The method (when the template names one), path and body of an item of this shape.
    pub fn read<'a>(
        &self,
        item: &'a Value,
    ) -> (Option<&'a str>, Option<&'a str>, Option<&'a Value>) {
        (
            self.method
                .as_ref()
                .and_then(|p| p.get(item))
                .and_then(Value::as_str),
            self.path.get(item).and_then(Value::as_str),
            self.body.get(item),
        )
    }

    /// The first key of `item` the template does not have (outside the body), as a
    /// pointer: a server that refuses unknown keys refuses the batch for it.
    pub fn stray_key(&self, item: &Value) -> Option<String> {
        stray(&self.shape, item, String::new())
    }
}

fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The places in `v` and their pointers; a string that looks like a place but is none
/// is refused.
fn places(v: &Value, at: String, out: &mut Vec<(String, String)>) -> Result<(), String> {
    match v {
        Value::String(s) if PLACES.contains(&s.as_str()) => out.push((s.clone(), at)),
        Value::String(s) if s.starts_with('{') && s.ends_with('}') => {
            return Err(format!(
                "{s:?} is not a place; the places are {}",
                PLACES.join(", ")
            ));
        }
        Value::Object(m) => {
            for (k, x) in m {
                places(x, format!("{at}/{}", token(k)), out)?;
            }
        }
        Value::Array(a)
            if a.iter().any(|x| {
                places(x, String::new(), &mut Vec::new()).is_err() || contains_place(x)
            }) =>
        {
            return Err("places may not sit inside a list".into());
        }
        _ => {}
    }
    Ok(())
}

fn contains_place(v: &Value) -> bool {
    let mut found = Vec::new();
    places(v, String::new(), &mut found).is_ok() && !found.is_empty()
}

fn fill(v: &Value, with: &mut dyn FnMut(&str) -> Value) -> Value {
    match v {
        Value::String(s) if PLACES.contains(&s.as_str()) => with(s),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                out.insert(k.clone(), fill(x, with));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn stray(shape: &Value, item: &Value, at: String) -> Option<String> {
    let (Value::Object(s), Value::Object(i)) = (shape, item) else {
        return None;
    };
    for (k, x) in i {
        let here = format!("{at}/{}", token(k));
        match s.get(k) {
            None => return Some(here),
            Some(Value::String(p)) if p == "{body}" => {}
            Some(sub) => {
                if let Some(found) = stray(sub, x, here) {
                    return Some(found);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KINTO: &str = r#"{"method": "{method}", "path": "{path}", "body": "{body}"}"#;

    #[test]
    fn the_default_carries_the_position_and_kinto_s_shape_carries_nothing_else() {
        let d = ItemTemplate::parse(DEFAULT_ITEM).unwrap();
        assert_eq!(
            d.render(3, "PUT", "/s/1", json!({"a": 1})),
            json!({"id": "3", "method": "PUT", "path": "/s/1", "body": {"a": 1}})
        );
        let k = ItemTemplate::parse(KINTO).unwrap();
        let item = k.render(0, "PUT", "/records/S1", json!({"data": {"x": 1}}));
        assert_eq!(
            item,
            json!({"method": "PUT", "path": "/records/S1", "body": {"data": {"x": 1}}})
        );
        assert_eq!(
            k.read(&item),
            (Some("PUT"), Some("/records/S1"), item.get("body"))
        );
        assert_eq!(k.stray_key(&item), None);
        let with_id = d.render(0, "PUT", "/records/S1", json!({"data": {"id": 1}}));
        assert_eq!(k.stray_key(&with_id).as_deref(), Some("/id"));
    }

    #[test]
    fn literals_and_nesting_are_kept_and_mistakes_named() {
        let t = ItemTemplate::parse(
            r#"{"request": {"verb": "{method}", "url": "{path}"}, "payload": "{body}", "atomic": true}"#,
        )
        .unwrap();
        let item = t.render(1, "POST", "/x", json!(5));
        assert_eq!(item["request"]["url"], "/x");
        assert_eq!(item["atomic"], true);
        assert_eq!(t.read(&item).1, Some("/x"));
        assert!(ItemTemplate::parse("[]").unwrap_err().contains("object"));
        assert!(ItemTemplate::parse("{").unwrap_err().contains("not JSON"));
        assert!(
            ItemTemplate::parse(r#"{"path": "{path}"}"#)
                .unwrap_err()
                .contains("{body}")
        );
        assert!(
            ItemTemplate::parse(r#"{"body": "{body}"}"#)
                .unwrap_err()
                .contains("{path}")
        );
        let e = ItemTemplate::parse(r#"{"path": "{path}", "body": "{record}"}"#).unwrap_err();
        assert!(e.contains("not a place"), "{e}");
        let e = ItemTemplate::parse(r#"{"path": "{path}", "body": "{body}", "b": "{body}"}"#)
            .unwrap_err();
        assert!(e.contains("more than once"), "{e}");
    }
}
