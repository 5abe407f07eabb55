//! The file layer: parse with spans, reject unknown sections and keys (with a suggestion),
//! type-check each value, and record the line of every key for provenance.

use std::path::Path;

use toml::de::{DeTable, DeValue};

use crate::config::ConfigError;
use crate::config::provenance::{Origin, Provenance};
use crate::config::schema::{KeySpec, SUBSECTIONS, Schema, lookup, suggest};
use crate::config::typed::{article, check_value};

pub(super) fn file_layer(
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
        for (name, key, pos) in keys_of(name, body, &at, &mut problems) {
            let Some(spec) = schema.get(&name, key) else {
                let known: Vec<&str> = schema.keys_in(&name).map(|k| k.key.as_str()).collect();
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
        let Some(value) = lookup(&table, &spec.section, &spec.key) else {
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

/// The keys of section `name` as (section, key, position); a nested section's
/// (`[auth.session]`) come under its own dotted name. A nested section written as anything
/// but a table is a problem.
fn keys_of<'a>(
    name: &str,
    body: &'a DeTable<'_>,
    at: &dyn Fn(usize) -> String,
    problems: &mut Vec<(usize, String)>,
) -> Vec<(String, &'a str, usize)> {
    let mut out = Vec::new();
    for (kkey, value) in body.iter() {
        let key: &str = kkey.get_ref();
        let pos = kkey.span().start;
        let dotted = format!("{name}.{key}");
        if !SUBSECTIONS.contains(&dotted.as_str()) {
            out.push((name.to_string(), key, pos));
            continue;
        }
        match value.get_ref() {
            DeValue::Table(sub) => out.extend(keys_of(&dotted, sub, at, problems)),
            other => problems.push((
                pos,
                format!(
                    "{}: `{key}` in [{name}] must be a section ([{dotted}]), found {}",
                    at(pos),
                    article(other.type_str())
                ),
            )),
        }
    }
    out
}

fn key_position(doc: &toml::Spanned<DeTable<'_>>, spec: &KeySpec) -> usize {
    let mut table = doc.get_ref();
    let mut fallback = 0;
    for part in spec.section.split('.') {
        let Some((_, v)) = table.iter().find(|(k, _)| **k.get_ref() == *part) else {
            return fallback;
        };
        fallback = v.span().start;
        match v.get_ref() {
            DeValue::Table(t) => table = t,
            _ => return fallback,
        }
    }
    table
        .iter()
        .find(|(k, _)| **k.get_ref() == *spec.key)
        .map_or(fallback, |(k, _)| k.span().start)
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

pub(super) fn column_of(text: &str, pos: usize) -> usize {
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
