//! The set of keys a config may hold, derived from `Config::default()` so that a field added
//! to the shape is known to the loader, the env overlay and `supsync config` at once.

use toml::de::{DeTable, DeValue};

pub use crate::config::suggest::suggest;
use crate::config::{Config, ConfigError};

/// The TOML type a key takes; env and `--set` strings are parsed into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Boolean,
    StringList,
    /// A table of named values (`[auth.extra_params]`, `[api.headers]`).
    Table,
}

impl Kind {
    /// "an integer", "a string", … for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::String => "a string",
            Kind::Integer => "an integer",
            Kind::Boolean => "a boolean (true or false)",
            Kind::StringList => "a list of strings",
            Kind::Table => "a table (`{ name = \"value\" }`)",
        }
    }
}

/// One key, e.g. `sync.concurrency`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub section: String,
    pub key: String,
    pub kind: Kind,
}

impl KeySpec {
    pub fn dotted(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }

    /// `SUPSYNC_<SECTION>_<KEY>`, e.g. `SUPSYNC_SYNC_CONCURRENCY` (a nested section's dot
    /// becomes `_`: `SUPSYNC_AUTH_SESSION_USERNAME`).
    pub fn env_var(&self) -> String {
        format!(
            "SUPSYNC_{}_{}",
            self.section.replace('.', "_").to_ascii_uppercase(),
            self.key.to_ascii_uppercase()
        )
    }
}

/// Tables inside a section that are sections of their own, with keys the schema knows
/// (`[auth.session]`), unlike table-valued keys whose entries are the user's names
/// (`[auth.extra_params]`, `[api.headers]`).
pub const SUBSECTIONS: &[&str] = &["auth.session", "auth.token_login", "auth.api_key"];

/// The value of `section.key` in a config table; `section` may be nested (`auth.session`).
pub fn lookup<'a>(table: &'a toml::Table, section: &str, key: &str) -> Option<&'a toml::Value> {
    section_of(table, section)?.get(key)
}

/// The table of `section` (nested ones included) in a config table.
pub fn section_of<'a>(table: &'a toml::Table, section: &str) -> Option<&'a toml::Table> {
    let mut t = table;
    for part in section.split('.') {
        t = t.get(part)?.as_table()?;
    }
    Some(t)
}

/// The table of `section` in a config table, made (and any table above it) when missing;
/// `None` only when a non-table value is in the way.
pub fn section_mut<'a>(table: &'a mut toml::Table, section: &str) -> Option<&'a mut toml::Table> {
    let mut t = table;
    for part in section.split('.') {
        t = t
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()?;
    }
    Some(t)
}

/// Keys whose default is `None` (or that never serialize) and so are missing from the
/// serialized defaults: (section, key, inserted after this key; "" for first).
const OPTIONAL_KEYS: &[(&str, &str, &str)] = &[
    ("auth", "client_secret", "client_id"),
    ("auth", "client_secret_file", "client_secret"),
    ("auth", "secret_expires_at", "client_secret_file"),
    ("api", "ca_file", "allow_insecure_http"),
    ("auth", "auth_style", "method"),
    ("auth", "private_key_file", "auth_style"),
    ("auth", "key_id", "signing_alg"),
    ("auth", "assertion_audience", "key_id"),
    ("auth", "client_cert_file", "assertion_audience"),
    ("auth", "client_key_file", "client_cert_file"),
    ("notify", "webhook_url", "command_timeout_secs"),
    ("notify", "ping_url", "webhook_attempts"),
    ("metrics", "file", ""),
    ("metrics", "listen", "file_interval_secs"),
    ("auth.session", "password", "password_field"),
    ("auth.session", "password_file", "password"),
    ("auth.token_login", "password", "password_field"),
    ("auth.token_login", "password_file", "password"),
    ("auth.api_key", "key_file", "send_as"),
];

/// Keys that may not come from the environment or `--set`: a secret there would sit in
/// shell history or `ps` output; `SUPSYNC_CLIENT_SECRET` is the one env route for it.
/// Header values are secrets of the same kind (they name their own env var or file).
pub const NOT_OVERRIDABLE: &[&str] = &[
    "auth.client_secret",
    "api.headers",
    "auth.session.password",
    "auth.session.login_fields",
    "auth.token_login.password",
];

/// Every key in declaration order (sections in `Config` order, keys in struct order).
#[derive(Debug, Clone)]
pub struct Schema {
    pub keys: Vec<KeySpec>,
}

impl Schema {
    pub fn new() -> Result<Self, ConfigError> {
        // Serializing to text and reading the spans back gives declaration order, which a
        // `toml::Table` (sorted) would lose.
        let text = toml::to_string(&Config::default()).map_err(|e| {
            ConfigError::Invalid(format!("internal: defaults do not serialize: {e}"))
        })?;
        let doc = DeTable::parse(&text)
            .map_err(|e| ConfigError::Invalid(format!("internal: defaults do not parse: {e}")))?;
        let mut sections: Vec<_> = doc.get_ref().iter().collect();
        sections.sort_by_key(|(k, _)| k.span().start);
        let mut keys = Vec::new();
        for (section, body) in sections {
            let DeValue::Table(table) = body.get_ref() else {
                continue;
            };
            let mut entries: Vec<_> = table.iter().collect();
            entries.sort_by_key(|(k, _)| k.span().start);
            for (key, value) in entries {
                let dotted = format!("{}.{}", section.get_ref(), key.get_ref());
                if let (true, DeValue::Table(sub)) =
                    (SUBSECTIONS.contains(&dotted.as_str()), value.get_ref())
                {
                    let mut sub: Vec<_> = sub.iter().collect();
                    sub.sort_by_key(|(k, _)| k.span().start);
                    for (k, v) in sub {
                        keys.push(KeySpec {
                            section: dotted.clone(),
                            key: k.get_ref().to_string(),
                            kind: kind_of(v.get_ref()),
                        });
                    }
                    continue;
                }
                keys.push(KeySpec {
                    section: section.get_ref().to_string(),
                    key: key.get_ref().to_string(),
                    kind: kind_of(value.get_ref()),
                });
            }
        }
        // `sync.concurrency` is a number that also takes the word "auto"; its default is
        // that word, which would make it read as a string key (and "8" from the
        // environment a word).
        if let Some(k) = keys
            .iter_mut()
            .find(|k| k.section == "sync" && k.key == "concurrency")
        {
            k.kind = Kind::Integer;
        }
        for (section, key, after) in OPTIONAL_KEYS {
            // An empty `after` puts the key first in its section.
            let at = if after.is_empty() {
                keys.iter().position(|k| k.section == *section)
            } else {
                keys.iter()
                    .position(|k| k.section == *section && k.key == *after)
                    .map(|i| i + 1)
            }
            .unwrap_or(keys.len());
            let spec = KeySpec {
                section: (*section).into(),
                key: (*key).into(),
                kind: Kind::String,
            };
            keys.insert(at, spec);
        }
        // The API mapping's keys are all optional (absent: the preset's value); they
        // follow the section's own keys.
        let at = keys
            .iter()
            .rposition(|k| k.section == "api")
            .map_or(keys.len(), |i| i + 1);
        for (i, (key, ty)) in crate::mapping::KEYS.iter().enumerate() {
            let kind = match ty {
                crate::mapping::KeyType::Text => Kind::String,
                crate::mapping::KeyType::Number => Kind::Integer,
                crate::mapping::KeyType::List => Kind::StringList,
            };
            let spec = KeySpec {
                section: "api".into(),
                key: (*key).into(),
                kind,
            };
            keys.insert(at + i, spec);
        }
        Ok(Self { keys })
    }

    pub fn sections(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for k in &self.keys {
            if !out.contains(&k.section.as_str()) {
                out.push(&k.section);
            }
        }
        out
    }

    pub fn get(&self, section: &str, key: &str) -> Option<&KeySpec> {
        self.keys
            .iter()
            .find(|k| k.section == section && k.key == key)
    }

    pub fn get_dotted(&self, dotted: &str) -> Option<&KeySpec> {
        let (section, key) = dotted.rsplit_once('.')?;
        self.get(section, key)
    }

    pub fn keys_in<'a>(&'a self, section: &'a str) -> impl Iterator<Item = &'a KeySpec> + 'a {
        self.keys.iter().filter(move |k| k.section == section)
    }
}

fn kind_of(v: &DeValue<'_>) -> Kind {
    match v {
        DeValue::Integer(_) => Kind::Integer,
        DeValue::Boolean(_) => Kind::Boolean,
        DeValue::Array(_) => Kind::StringList,
        DeValue::Table(_) => Kind::Table,
        _ => Kind::String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_lists_every_section_in_declaration_order() {
        let s = Schema::new().unwrap();
        assert_eq!(
            s.sections(),
            vec![
                "api",
                "auth",
                "auth.session",
                "auth.token_login",
                "auth.api_key",
                "sync",
                "ui",
                "notify",
                "metrics"
            ]
        );
        let api: Vec<_> = s.keys_in("api").map(|k| k.key.as_str()).collect();
        assert_eq!(api[0], "base_url");
        assert_eq!(s.get("sync", "concurrency").unwrap().kind, Kind::Integer);
        assert_eq!(s.get("auth", "scopes").unwrap().kind, Kind::StringList);
        assert_eq!(
            s.get("api", "allow_insecure_http").unwrap().kind,
            Kind::Boolean
        );
        assert_eq!(s.get("auth", "auth_style").unwrap().kind, Kind::String);
        // Optional keys are known even though their default does not serialize.
        let auth: Vec<_> = s.keys_in("auth").map(|k| k.key.as_str()).collect();
        let id = auth.iter().position(|k| *k == "client_id").unwrap();
        assert_eq!(auth[id + 1], "client_secret");
        assert_eq!(auth[id + 2], "client_secret_file");
        // A nested section's keys are its own, the password among them.
        let session: Vec<_> = s.keys_in("auth.session").map(|k| k.key.as_str()).collect();
        assert_eq!(session[0], "login_path");
        let pw = session.iter().position(|k| *k == "password").unwrap();
        assert_eq!(session[pw - 1], "password_field");
        assert_eq!(session[pw + 1], "password_file");
        assert!(s.get("auth", "session").is_none());
        assert_eq!(
            s.get_dotted("auth.session.username").unwrap().env_var(),
            "SUPSYNC_AUTH_SESSION_USERNAME"
        );
        assert_eq!(
            s.get("auth", "max_failed_logins").unwrap().kind,
            Kind::Integer
        );
    }

    #[test]
    fn env_var_names() {
        let s = Schema::new().unwrap();
        assert_eq!(
            s.get("api", "base_url").unwrap().env_var(),
            "SUPSYNC_API_BASE_URL"
        );
    }
}
