//! `api.headers`: extra headers on every resource call (an `apiKey` beside the bearer
//! token, say). Their values are secrets like the client secret: given inline (warned
//! about), from an environment variable or from a file, and only ever shown as a
//! fingerprint.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::secret::Secret;

/// Where one header value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderSource {
    /// `apiKey = "…"` in the config file.
    Inline(Secret),
    /// `apiKey = { env = "ARIBA_API_KEY" }`.
    Env(String),
    /// `apiKey = { file = "/etc/supsync/api-key" }`: the first line, trimmed.
    File(PathBuf),
}

impl HeaderSource {
    /// The value, or a message naming the variable or file (never the value).
    pub fn resolve(&self, name: &str) -> Result<Secret, String> {
        self.resolve_as("header", name)
    }

    /// [`HeaderSource::resolve`] for another kind of value (`what`: "login field").
    pub fn resolve_as(&self, what: &str, name: &str) -> Result<Secret, String> {
        let name = &format!("{what} {name}");
        match self {
            HeaderSource::Inline(s) if s.is_empty() => Err(format!("the value of {name} is empty")),
            HeaderSource::Inline(s) => Ok(s.clone()),
            HeaderSource::Env(var) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
                Ok(_) => Err(format!(
                    "{name}: environment variable {var} is set but empty"
                )),
                Err(std::env::VarError::NotPresent) => Err(format!(
                    "{name}: environment variable {var} is not set; export it or give \
                     the value another way ({{ file = \"/path\" }})"
                )),
                Err(std::env::VarError::NotUnicode(_)) => Err(format!(
                    "{name}: environment variable {var} is not valid UTF-8"
                )),
            },
            HeaderSource::File(path) => read_first_line(name, path),
        }
    }
}

fn read_first_line(name: &str, path: &Path) -> Result<Secret, String> {
    // The OS's words (not found, permission denied), never the content.
    let text = crate::safe_file::read_text_capped(path, crate::safe_file::SECRET_CAP)
        .map_err(|e| format!("{name}: {}", e.explain(path, "value file", "one value")))?;
    let first = text.lines().next().unwrap_or("").trim();
    if first.is_empty() {
        return Err(format!(
            "{name}: {} is empty (its first line is the value)",
            path.display()
        ));
    }
    Ok(Secret::new(first))
}

/// A header name as RFC 9110 §5.1 allows (a token), and not one supsync sets itself.
pub fn name_problem(name: &str) -> Option<String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Some(format!("{name:?} is not a valid header name"));
    }
    const OURS: &[&str] = &[
        "authorization",
        "content-type",
        "content-length",
        "idempotency-key",
        "host",
    ];
    OURS.contains(&name.to_ascii_lowercase().as_str())
        .then(|| format!("{name} is set by supsync itself and cannot be configured"))
}

impl Serialize for HeaderSource {
    /// An inline value serializes as its fingerprint, so a config dump never leaks it.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            HeaderSource::Inline(secret) => secret.serialize(s),
            HeaderSource::Env(var) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("env", var)?;
                m.end()
            }
            HeaderSource::File(path) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("file", path)?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for HeaderSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SourceVisitor)
    }
}

struct SourceVisitor;

const EXPECTED: &str = "a string, { env = \"VAR\" } or { file = \"/path\" }";

impl<'de> Visitor<'de> for SourceVisitor {
    type Value = HeaderSource;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<HeaderSource, E> {
        Ok(HeaderSource::Inline(Secret::new(v)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HeaderSource, A::Error> {
        let mut out = None;
        while let Some(key) = map.next_key::<String>()? {
            if out.is_some() {
                return Err(de::Error::custom(format!(
                    "give one of env or file, not both; expected {EXPECTED}"
                )));
            }
            out = Some(match key.as_str() {
                "env" => HeaderSource::Env(map.next_value()?),
                "file" => HeaderSource::File(map.next_value()?),
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown source `{other}`; expected {EXPECTED}"
                    )));
                }
            });
        }
        out.ok_or_else(|| de::Error::custom(format!("empty table; expected {EXPECTED}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Deserialize, Serialize)]
    struct H {
        h: BTreeMap<String, HeaderSource>,
    }

    #[test]
    fn three_forms_parse_and_inline_values_serialize_as_fingerprints() {
        let h: H = toml::from_str(
            "[h]\na = \"inline-value-123\"\nb = { env = \"B_VAR\" }\nc = { file = \"/k\" }\n",
        )
        .unwrap();
        assert_eq!(
            h.h["a"],
            HeaderSource::Inline(Secret::new("inline-value-123"))
        );
        assert_eq!(h.h["b"], HeaderSource::Env("B_VAR".into()));
        assert_eq!(h.h["c"], HeaderSource::File("/k".into()));
        let text = toml::to_string(&h).unwrap();
        assert!(!text.contains("inline-value-123"), "{text}");
        assert!(text.contains(&Secret::new("inline-value-123").fingerprint()));
        assert!(!format!("{:?}", h.h["a"]).contains("inline-value-123"));
        let e = toml::from_str::<H>("[h]\na = { vault = \"x\" }\n")
            .err()
            .unwrap();
        assert!(e.to_string().contains("vault"), "{e}");
        let e = toml::from_str::<H>("[h]\na = 5\n").err().unwrap();
        assert!(e.to_string().contains("env"), "{e}");
    }

    #[test]
    fn names_are_tokens_and_not_ours() {
        assert!(name_problem("apiKey").is_none());
        assert!(name_problem("X-Api-Key").is_none());
        assert!(name_problem("bad name").is_some());
        assert!(name_problem("").is_some());
        assert!(name_problem("Authorization").is_some());
    }

    #[test]
    fn file_and_env_sources_name_where_without_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key");
        std::fs::write(&p, "k-secret-9\nrest\n").unwrap();
        let v = HeaderSource::File(p.clone()).resolve("apiKey").unwrap();
        assert_eq!(v.expose(), "k-secret-9");
        let e = HeaderSource::File(dir.path().join("nope"))
            .resolve("apiKey")
            .unwrap_err();
        assert!(e.contains("apiKey") && e.contains("nope"), "{e}");
        let e = HeaderSource::Env("SUPSYNC_TEST_SURELY_UNSET_VAR".into())
            .resolve("apiKey")
            .unwrap_err();
        assert!(e.contains("SUPSYNC_TEST_SURELY_UNSET_VAR"), "{e}");
    }
}
