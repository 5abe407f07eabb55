//! Values as types: text from env and `--set` parsed into a key's TOML type, and each value
//! checked against `Config` on its own so a type error names exactly one key.

use toml::Value;

use crate::config::Config;
use crate::config::schema::{KeySpec, Kind};

/// Env and `--set` values are text; they take the key's type. Lists are space separated
/// (`SUPSYNC_AUTH_SCOPES="a b"`) or a TOML array (`["a","b"]`).
pub fn parse_text(spec: &KeySpec, raw: &str) -> Result<Value, String> {
    let dotted = spec.dotted();
    let wrong = || format!("{dotted}: expected {}, found {raw:?}", spec.kind.describe());
    match spec.kind {
        Kind::String => Ok(Value::String(raw.to_string())),
        // A word where a number goes (`sync.concurrency=auto`) is handed on as text: the
        // key's own type decides whether it takes it.
        Kind::Integer if raw.trim().eq_ignore_ascii_case("auto") => {
            Ok(Value::String(raw.trim().to_string()))
        }
        Kind::Integer => raw
            .trim()
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| wrong()),
        Kind::Boolean => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Value::Boolean(true)),
            "false" | "0" | "no" => Ok(Value::Boolean(false)),
            _ => Err(wrong()),
        },
        Kind::StringList if raw.trim_start().starts_with('[') => {
            let doc: toml::Table = toml::from_str(&format!("v = {raw}")).map_err(|_| wrong())?;
            doc.get("v").cloned().ok_or_else(wrong)
        }
        Kind::Table => {
            let doc: toml::Table = toml::from_str(&format!("v = {raw}")).map_err(|_| wrong())?;
            doc.get("v")
                .filter(|v| v.is_table())
                .cloned()
                .ok_or_else(wrong)
        }
        Kind::StringList => Ok(Value::Array(
            raw.split_whitespace()
                .map(|s| Value::String(s.to_string()))
                .collect(),
        )),
    }
}

/// Deserializes the value alone into `Config` (everything else default), so a type error
/// is attributed to exactly this key. Returns a message starting with the dotted key.
pub fn check_value(spec: &KeySpec, value: &Value) -> Result<(), String> {
    let mut root = toml::Table::new();
    if let Some(section) = crate::config::schema::section_mut(&mut root, &spec.section) {
        section.insert(spec.key.clone(), value.clone());
    }
    let Err(e) = Value::Table(root).try_into::<Config>() else {
        return Ok(());
    };
    let dotted = spec.dotted();
    let expected = spec.kind.describe();
    let msg = match (spec.kind, value) {
        (Kind::String, Value::String(_))
        | (Kind::Integer, Value::Integer(_))
        | (Kind::Boolean, Value::Boolean(_))
        | (Kind::Table, Value::Table(_)) => String::new(),
        (Kind::StringList, Value::Array(items)) => match items.iter().find(|v| !v.is_str()) {
            Some(bad) => format!(
                "expected {expected}, found a list containing {}",
                article(bad.type_str())
            ),
            None => String::new(),
        },
        (_, other) => format!("expected {expected}, found {}", article(other.type_str())),
    };
    if !msg.is_empty() {
        return Err(format!("{dotted}: {msg}"));
    }
    Err(match value {
        Value::Integer(n) if *n < 0 => format!("{dotted}: must be zero or more, found {n}"),
        Value::Integer(n) => format!("{dotted}: {n} is too large"),
        _ => format!(
            "{dotted}: {}",
            e.message().replace("unknown variant", "unknown value")
        ),
    })
}

pub(super) fn article(type_str: &str) -> String {
    match type_str {
        "integer" | "array" => format!("an {type_str}"),
        other => format!("a {other}"),
    }
}
