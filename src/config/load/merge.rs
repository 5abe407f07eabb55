//! Layering: file, then `SUPSYNC_<SECTION>_<KEY>` env vars, then `--set` flags, over the
//! defaults. Each value is type-checked as it enters its layer, so an error names the line,
//! variable or flag it came from rather than the merged result.

use std::collections::BTreeMap;
use std::path::Path;

use toml::Value;

use crate::config::file_layer::file_layer;
use crate::config::provenance::{Origin, Provenance};
use crate::config::recorded::Recorded;
use crate::config::schema::{
    KeySpec, NOT_OVERRIDABLE, SUBSECTIONS, Schema, lookup, section_mut, suggest,
};
use crate::config::typed::{check_value, parse_text};
use crate::config::{Config, ConfigError};

/// Env vars supsync reads that are not `<SECTION>_<KEY>` settings.
pub const OTHER_ENV_VARS: &[&str] = &[
    "SUPSYNC_CONFIG",
    "SUPSYNC_STATE_DIR",
    "SUPSYNC_CLIENT_SECRET",
    "SUPSYNC_SESSION_PASSWORD",
    "SUPSYNC_TOKEN_LOGIN_PASSWORD",
    "SUPSYNC_API_KEY",
];

/// The inputs of one load, gathered by the caller (tests pass their own env).
pub struct Sources<'a> {
    /// A run's recorded configuration (`resume`, `retry`): under every other layer.
    pub recorded: Option<&'a Recorded>,
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
    if let Some(rec) = src.recorded {
        table = rec.table.clone();
        for spec in &schema.keys {
            if lookup(&table, &spec.section, &spec.key).is_some() {
                let run_id = rec.run_id.clone();
                prov.set(spec.dotted(), Origin::Recorded { run_id });
            }
        }
    }
    if let Some((path, text)) = src.file {
        let file = file_layer(schema, path, text, &mut prov)?;
        overlay(&mut table, file, "");
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
/// `top`'s keys over `base`, section by section (a section in `top` does not replace the
/// whole section below it, nor a nested section such as `[auth.session]`). `at` is the
/// dotted name of the tables given ("" at the top).
fn overlay(base: &mut toml::Table, top: toml::Table, at: &str) {
    for (name, body) in top {
        let dotted = if at.is_empty() {
            name.clone()
        } else {
            format!("{at}.{name}")
        };
        let is_section = at.is_empty() || SUBSECTIONS.contains(&dotted.as_str());
        match (base.get_mut(&name), body) {
            (Some(Value::Table(b)), Value::Table(t)) if is_section => overlay(b, t, &dotted),
            (_, body) => {
                base.insert(name, body);
            }
        }
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
        if var == "SUPSYNC_AUTH_SESSION_PASSWORD" {
            warnings.push(format!(
                "environment variable {var} is not read: the session password comes from SUPSYNC_SESSION_PASSWORD"
            ));
            continue;
        }
        // Only variables that look like settings (a known section prefix) are suspicious;
        // other SUPSYNC_* names may belong to other parts of supsync.
        let looks_like_setting = schema.sections().iter().any(|s| {
            var.starts_with(&format!(
                "SUPSYNC_{}_",
                s.replace('.', "_").to_ascii_uppercase()
            ))
        });
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
        // A key that names a secret, even misspelt, never has its value repeated.
        let lower = key.to_ascii_lowercase();
        let shown = if lower.contains("secret")
            || (lower.contains("password") && !lower.ends_with("_field"))
            || suggest(key, NOT_OVERRIDABLE.iter().copied()).is_some()
        {
            format!("{key}=…")
        } else {
            arg.clone()
        };
        let fail = |m: String| ConfigError::Invalid(format!("--set {shown}: {m}"));
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
            let instead = if spec.section == "auth.session" {
                "SUPSYNC_SESSION_PASSWORD or auth.session.password_file"
            } else if spec.section == "auth.token_login" {
                "SUPSYNC_TOKEN_LOGIN_PASSWORD or auth.token_login.password_file"
            } else {
                "SUPSYNC_CLIENT_SECRET or auth.client_secret_file"
            };
            // The value is not repeated: it is a secret, and this message may be logged.
            return Err(ConfigError::Invalid(format!(
                "--set {}=…: refused: a secret on the command line shows in `ps` and shell \
                 history; use {instead}",
                spec.dotted()
            )));
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
    if let Some(t) = section_mut(table, &spec.section) {
        t.insert(spec.key.clone(), value);
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
