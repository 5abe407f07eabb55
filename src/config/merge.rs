//! Layering: file, then `SUPSYNC_<SECTION>_<KEY>` env vars, then `--set` flags, over the
//! defaults. Each value is type-checked as it enters its layer, so an error names the line,
//! variable or flag it came from rather than the merged result.

use std::collections::BTreeMap;
use std::path::Path;

use toml::Value;
use toml::de::{DeTable, DeValue};

use super::provenance::{Origin, Provenance};
use super::schema::{KeySpec, Kind, NOT_OVERRIDABLE, Schema, suggest};
use super::{Config, ConfigError};

/// Env vars supsync reads that are not `<SECTION>_<KEY>` settings.
pub const OTHER_ENV_VARS: &[&str] = &[
    "SUPSYNC_CONFIG",
    "SUPSYNC_STATE_DIR",
    "SUPSYNC_CLIENT_SECRET",
];

/// The inputs of one load, gathered by the caller (tests pass their own env).
pub struct Sources<'a> {
    pub file: Option<(&'a Path, &'a str)>,
    /// `SUPSYNC_*` variables only.
    pub env: &'a BTreeMap<String, String>,
    pub sets: &'a [String],
}

pub struct Merged {
    pub config: Config,
    pub provenance: Provenance,
    pub warnings: Vec<String>,
}

pub fn merge(schema: &Schema, src: &Sources<'_>) -> Result<Merged, ConfigError> {
    let mut table = toml::Table::new();
    let mut prov = Provenance::default();
    if let Some((path, text)) = src.file {
        table = file_layer(schema, path, text, &mut prov)?;
    }
    let warnings = env_layer(schema, src.env, &mut table, &mut prov)?;
    set_layer(schema, src.sets, &mut table, &mut prov)?;
    let config = Value::Table(table).try_into::<Config>().map_err(|e| {
        ConfigError::Invalid(format!(
            "the merged configuration does not load: {}",
            e.message()
        ))
    })?;
    Ok(Merged {
        config,
        provenance: prov,
        warnings,
    })
}

fn file_layer(
    schema: &Schema,
    path: &Path,
    text: &str,
    prov: &mut Provenance,
) -> Result<toml::Table, ConfigError> {
    let at = |pos: usize| format!("{}:{}", path.display(), line_of(text, pos));
    let doc = DeTable::parse(text).map_err(|e| {
        let pos = e.span().map_or(0, |s| s.start);
        ConfigError::Invalid(format!(
            "{}:{}: invalid TOML: {}",
            at(pos),
            column_of(text, pos),
            e.message().trim_end()
        ))
    })?;
    // Every problem, reported in file order, so one run shows them all.
    let mut problems: Vec<(usize, String)> = Vec::new();
    let sections = schema.sections();
    for (skey, sval) in doc.get_ref().iter() {
        let name: &str = skey.get_ref();
        let pos = skey.span().start;
        let body = match sval.get_ref() {
            DeValue::Table(body) if sections.contains(&name) => body,
            DeValue::Table(_) => {
                let hint = match suggest(name, sections.iter().copied()) {
                    Some(s) => format!(" (did you mean [{s}]?)"),
                    None => format!("; the sections are {}", list_sections(&sections)),
                };
                problems.push((pos, format!("{}: unknown section [{name}]{hint}", at(pos))));
                continue;
            }
            other => {
                problems.push((pos, misplaced(schema, name, other, &at(pos))));
                continue;
            }
        };
        for (kkey, _) in body.iter() {
            let key: &str = kkey.get_ref();
            let pos = kkey.span().start;
            let Some(spec) = schema.get(name, key) else {
                let known: Vec<&str> = schema.keys_in(name).map(|k| k.key.as_str()).collect();
                let hint = match suggest(key, known.iter().copied()) {
                    Some(s) => format!(" (did you mean `{s}`?)"),
                    None => format!("; known keys: {}", known.join(", ")),
                };
                problems.push((
                    pos,
                    format!("{}: unknown key `{key}` in [{name}]{hint}", at(pos)),
                ));
                continue;
            };
            prov.set(
                spec.dotted(),
                Origin::File {
                    path: path.to_path_buf(),
                    line: line_of(text, pos),
                },
            );
        }
    }
    if !problems.is_empty() {
        return Err(report(problems));
    }
    let table: toml::Table = toml::from_str(text)
        .map_err(|e| ConfigError::Invalid(format!("{}: {}", path.display(), e.message())))?;
    for spec in &schema.keys {
        let Some(value) = table.get(&spec.section).and_then(|s| s.get(&spec.key)) else {
            continue;
        };
        if let Err(msg) = check_value(spec, value) {
            let pos = key_position(&doc, spec);
            problems.push((pos, format!("{}: {msg}", at(pos))));
        }
    }
    if !problems.is_empty() {
        return Err(report(problems));
    }
    Ok(table)
}

fn key_position(doc: &toml::Spanned<DeTable<'_>>, spec: &KeySpec) -> usize {
    let section = doc
        .get_ref()
        .iter()
        .find(|(k, _)| **k.get_ref() == *spec.section);
    match section {
        Some((_, v)) => match v.get_ref() {
            DeValue::Table(t) => t
                .iter()
                .find(|(k, _)| **k.get_ref() == *spec.key)
                .map_or(v.span().start, |(k, _)| k.span().start),
            _ => v.span().start,
        },
        None => 0,
    }
}

/// A top-level entry that is not a section: usually a key written above every header.
fn misplaced(schema: &Schema, name: &str, value: &DeValue<'_>, at: &str) -> String {
    if schema.sections().contains(&name) {
        return format!(
            "{at}: `{name}` must be a section ([{name}]), found {}",
            article(value.type_str())
        );
    }
    let home = schema.keys.iter().find(|k| k.key == name);
    match home {
        Some(k) => format!(
            "{at}: `{name}` is outside any section; put it under [{}]",
            k.section
        ),
        None => format!(
            "{at}: unknown key `{name}` at the top level; keys go under {}",
            list_sections(&schema.sections())
        ),
    }
}

fn env_layer(
    schema: &Schema,
    env: &BTreeMap<String, String>,
    table: &mut toml::Table,
    prov: &mut Provenance,
) -> Result<Vec<String>, ConfigError> {
    let mut warnings = Vec::new();
    for spec in &schema.keys {
        let var = spec.env_var();
        let Some(raw) = env.get(&var) else { continue };
        if NOT_OVERRIDABLE.contains(&spec.dotted().as_str()) {
            continue; // warned about below as an unread variable
        }
        let value = parse_text(spec, raw)
            .and_then(|v| check_value(spec, &v).map(|()| v))
            .map_err(|m| ConfigError::Invalid(format!("environment variable {var}: {m}")))?;
        insert(table, spec, value);
        prov.set(spec.dotted(), Origin::Env { var });
    }
    let known: Vec<String> = schema
        .keys
        .iter()
        .filter(|k| !NOT_OVERRIDABLE.contains(&k.dotted().as_str()))
        .map(KeySpec::env_var)
        .collect();
    for var in env.keys() {
        if known.contains(var) || OTHER_ENV_VARS.contains(&var.as_str()) {
            continue;
        }
        if var == "SUPSYNC_AUTH_CLIENT_SECRET" {
            warnings.push(format!(
                "environment variable {var} is not read: the client secret comes from SUPSYNC_CLIENT_SECRET"
            ));
            continue;
        }
        // Only variables that look like settings (a known section prefix) are suspicious;
        // other SUPSYNC_* names may belong to other parts of supsync.
        let looks_like_setting = schema
            .sections()
            .iter()
            .any(|s| var.starts_with(&format!("SUPSYNC_{}_", s.to_ascii_uppercase())));
        if looks_like_setting {
            let hint = suggest(
                &var.to_ascii_lowercase(),
                known_lower(&known).iter().map(String::as_str),
            )
            .map(|s| format!(" (did you mean {}?)", s.to_ascii_uppercase()))
            .unwrap_or_default();
            warnings.push(format!(
                "environment variable {var} is not a supsync setting and is ignored{hint}"
            ));
        }
    }
    Ok(warnings)
}

fn known_lower(known: &[String]) -> Vec<String> {
    known.iter().map(|k| k.to_ascii_lowercase()).collect()
}

fn set_layer(
    schema: &Schema,
    sets: &[String],
    table: &mut toml::Table,
    prov: &mut Provenance,
) -> Result<(), ConfigError> {
    for arg in sets {
        let fail = |m: String| ConfigError::Invalid(format!("--set {arg}: {m}"));
        let Some((key, raw)) = arg.split_once('=') else {
            return Err(fail(
                "expected KEY=VALUE, e.g. --set sync.concurrency=8".into(),
            ));
        };
        let key = key.trim();
        let Some(spec) = schema.get_dotted(key) else {
            let dotted: Vec<String> = schema.keys.iter().map(KeySpec::dotted).collect();
            let bare = schema
                .keys
                .iter()
                .find(|k| k.key == key)
                .map(KeySpec::dotted);
            let hint = bare
                .or_else(|| suggest(key, dotted.iter().map(String::as_str)).map(str::to_string))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_else(|| " (keys look like section.key, e.g. sync.concurrency)".into());
            return Err(fail(format!("unknown key `{key}`{hint}")));
        };
        if NOT_OVERRIDABLE.contains(&spec.dotted().as_str()) {
            return Err(fail(
                "refused: a secret on the command line shows in `ps` and shell history; \
                 use SUPSYNC_CLIENT_SECRET or auth.client_secret_file"
                    .into(),
            ));
        }
        let value = parse_text(spec, raw)
            .and_then(|v| check_value(spec, &v).map(|()| v))
            .map_err(fail)?;
        insert(table, spec, value);
        prov.set(spec.dotted(), Origin::Flag { arg: arg.clone() });
    }
    Ok(())
}

fn insert(table: &mut toml::Table, spec: &KeySpec, value: Value) {
    let section = table
        .entry(spec.section.clone())
        .or_insert_with(|| Value::Table(toml::Table::new()));
    if let Value::Table(t) = section {
        t.insert(spec.key.clone(), value);
    }
}

/// Env and `--set` values are text; they take the key's type. Lists are space separated
/// (`SUPSYNC_AUTH_SCOPES="a b"`) or a TOML array (`["a","b"]`).
pub fn parse_text(spec: &KeySpec, raw: &str) -> Result<Value, String> {
    let dotted = spec.dotted();
    let wrong = || format!("{dotted}: expected {}, found {raw:?}", spec.kind.describe());
    match spec.kind {
        Kind::String => Ok(Value::String(raw.to_string())),
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
    let mut section = toml::Table::new();
    section.insert(spec.key.clone(), value.clone());
    let mut root = toml::Table::new();
    root.insert(spec.section.clone(), Value::Table(section));
    let Err(e) = Value::Table(root).try_into::<Config>() else {
        return Ok(());
    };
    let dotted = spec.dotted();
    let expected = spec.kind.describe();
    let msg = match (spec.kind, value) {
        (Kind::String, Value::String(_))
        | (Kind::Integer, Value::Integer(_))
        | (Kind::Boolean, Value::Boolean(_)) => String::new(),
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

fn article(type_str: &str) -> String {
    match type_str {
        "integer" | "array" => format!("an {type_str}"),
        other => format!("a {other}"),
    }
}

fn list_sections(sections: &[&str]) -> String {
    sections
        .iter()
        .map(|s| format!("[{s}]"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn report(mut problems: Vec<(usize, String)>) -> ConfigError {
    problems.sort();
    let lines: Vec<String> = problems.into_iter().map(|(_, m)| m).collect();
    ConfigError::Invalid(lines.join("\n"))
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, pos: usize) -> usize {
    let end = pos.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn column_of(text: &str, pos: usize) -> usize {
    let end = pos.min(text.len());
    let start = text.as_bytes()[..end]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    String::from_utf8_lossy(&text.as_bytes()[start..end])
        .chars()
        .count()
        + 1
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
