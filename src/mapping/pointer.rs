//! JSON pointers (RFC 6901) as validated data: reading goes through `serde_json`'s
//! `pointer`; writing builds the objects a pointer names (an envelope around a body).

use serde_json::{Map, Value};

/// A syntactically valid JSON pointer: empty (the whole document) or `/`-separated tokens
/// where `~` only appears as `~0` or `~1`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pointer(String);

impl Pointer {
    pub fn parse(text: &str) -> Result<Pointer, String> {
        if !text.is_empty() && !text.starts_with('/') {
            return Err(format!(
                "{text:?} is not a JSON pointer: it must be empty (the whole answer) or start \
                 with `/`, e.g. `/data` or `/links/next`"
            ));
        }
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
                return Err(format!(
                    "{text:?} is not a JSON pointer: `~` must be followed by 0 or 1 (`~0` is \
                     `~`, `~1` is `/`)"
                ));
            }
        }
        Ok(Pointer(text.to_string()))
    }

    /// The whole document.
    pub fn root() -> Pointer {
        Pointer(String::new())
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn get<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        v.pointer(&self.0)
    }

    /// The tokens, unescaped.
    fn tokens(&self) -> impl Iterator<Item = String> + '_ {
        self.0
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
    }

    /// `inner` placed where this pointer points inside fresh objects: `/data` around `x`
    /// is `{"data": x}`; the root pointer is `inner` itself.
    pub fn wrap(&self, inner: Value) -> Value {
        let tokens: Vec<String> = self.tokens().collect();
        tokens.into_iter().rev().fold(inner, |acc, key| {
            let mut m = Map::new();
            m.insert(key, acc);
            Value::Object(m)
        })
    }

    /// Sets `value` at this pointer inside `target`, making objects on the way; a
    /// non-object on the way is replaced. Used to add totals and links to an answer.
    pub fn insert(&self, target: &mut Value, value: Value) {
        let tokens: Vec<String> = self.tokens().collect();
        let Some((last, path)) = tokens.split_last() else {
            *target = value;
            return;
        };
        let mut at = target;
        for key in path {
            if !at.is_object() {
                *at = Value::Object(Map::new());
            }
            let Value::Object(m) = at else { return };
            at = m
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        if let Value::Object(m) = at {
            m.insert(last.clone(), value);
        }
    }
}

impl std::fmt::Display for Pointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            f.write_str("(the whole answer)")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// What an answer holds at its top, for an error that must not show record contents:
/// "the answer's top-level keys are `data`, `links`", "the answer is an array".
pub fn shape_of(v: &Value) -> String {
    match v {
        Value::Object(m) if m.is_empty() => "the answer is an empty object".into(),
        Value::Object(m) => {
            let keys: Vec<String> = m
                .keys()
                .take(12)
                .map(|k| format!("`{}`", crate::mapping::clip(k, 40)))
                .collect();
            let more = if m.len() > 12 {
                format!(" and {} more", m.len() - 12)
            } else {
                String::new()
            };
            format!("the answer's top-level keys are {}{more}", keys.join(", "))
        }
        Value::Array(a) => format!("the answer is an array of {}", a.len()),
        Value::String(_) => "the answer is a string".into(),
        Value::Number(_) => "the answer is a number".into(),
        Value::Bool(_) => "the answer is a boolean".into(),
        Value::Null => "the answer is null".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn syntax_is_checked() {
        assert!(Pointer::parse("").is_ok());
        assert!(Pointer::parse("/a/b~1c~0").is_ok());
        assert!(Pointer::parse("/@odata.nextLink").is_ok());
        assert!(
            Pointer::parse("data")
                .unwrap_err()
                .contains("start with `/`")
        );
        assert!(Pointer::parse("/a~2").unwrap_err().contains("`~`"));
        assert!(Pointer::parse("/a~").is_err());
    }

    #[test]
    fn wrap_and_read_back() {
        let p = Pointer::parse("/payload/data").unwrap();
        let v = p.wrap(json!([1]));
        assert_eq!(v, json!({"payload": {"data": [1]}}));
        assert_eq!(p.get(&v), Some(&json!([1])));
        assert_eq!(Pointer::root().wrap(json!(5)), json!(5));
        let esc = Pointer::parse("/a~1b").unwrap();
        assert_eq!(esc.wrap(json!(1)), json!({"a/b": 1}));
    }

    #[test]
    fn insert_makes_the_way() {
        let mut v = json!({"data": [1], "meta": 3});
        Pointer::parse("/meta/total")
            .unwrap()
            .insert(&mut v, json!(7));
        Pointer::parse("/links/next")
            .unwrap()
            .insert(&mut v, json!("x"));
        assert_eq!(
            v,
            json!({"data": [1], "meta": {"total": 7}, "links": {"next": "x"}})
        );
    }

    #[test]
    fn shape_names_keys_never_values() {
        let v = json!({"data": [{"secret": "x"}], "links": {}});
        let s = shape_of(&v);
        assert_eq!(s, "the answer's top-level keys are `data`, `links`");
        assert_eq!(shape_of(&json!([1, 2])), "the answer is an array of 2");
        assert!(!shape_of(&json!("hunter2")).contains("hunter2"));
    }
}
