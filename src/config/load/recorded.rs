//! The configuration a run recorded in its manifest, as the lowest layer under the file,
//! env and `--set` when the run is carried on (`resume`, `retry`): a run goes on against
//! the server, API mapping, credentials and segment size it started with unless something
//! says otherwise explicitly. And the run's destination, which an override may not change
//! silently.

use toml::Value;

use crate::config::provenance::Provenance;
use crate::config::schema::{SUBSECTIONS, Schema, lookup, section_mut};
use crate::config::typed::check_value;
use crate::config::{Config, ConfigError};

/// What the manifest's secret scrubber leaves in place of a value.
const REDACTED: &str = "[redacted]";

/// A run's recorded configuration, as a layer of config values.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub run_id: String,
    pub table: toml::Table,
    /// Recorded values that could not be used (a key this supsync does not know, a value of
    /// the wrong type): said once, then the default or the other layers apply.
    pub warnings: Vec<String>,
    /// Keys recorded redacted (webhook and ping URLs keep their keys in memory only), each
    /// with the warning to give when no other layer sets it again.
    pub redacted: Vec<(String, String)>,
}

impl Recorded {
    /// The layer from a manifest's `config` (JSON). Nulls (unset options) and scrubbed
    /// values are left out; unknown keys and badly typed values are warned about.
    pub fn from_manifest(run_id: &str, config: &serde_json::Value) -> Result<Self, ConfigError> {
        let schema = Schema::new()?;
        let mut out = Recorded {
            run_id: run_id.to_string(),
            ..Recorded::default()
        };
        let Some(sections) = config.as_object() else {
            return Ok(out);
        };
        // Nested sections (`auth.session`) are walked like the others, under their dotted name.
        let mut queue: std::collections::VecDeque<(String, &serde_json::Map<_, _>)> = sections
            .iter()
            .filter_map(|(name, body)| Some((name.clone(), body.as_object()?)))
            .collect();
        while let Some((section, keys)) = queue.pop_front() {
            for (key, json) in keys {
                let dotted = format!("{section}.{key}");
                if SUBSECTIONS.contains(&dotted.as_str())
                    && let Some(sub) = json.as_object()
                {
                    queue.push_back((dotted, sub));
                    continue;
                }
                let section = &section;
                let Some(spec) = schema.get(section, key) else {
                    out.warnings.push(format!(
                        "run {run_id} recorded {section}.{key}, which this supsync does not know; ignored"
                    ));
                    continue;
                };
                if json.is_null() || json.as_str() == Some(REDACTED) {
                    continue;
                }
                if section == "notify"
                    && json
                        .as_str()
                        .is_some_and(|u| u.ends_with(crate::config::observe::REDACTED_PATH))
                {
                    out.redacted.push((
                        format!("notify.{key}"),
                        format!(
                            "run {run_id} recorded notify.{key} without its path and query \
                             (they may hold a key); give it in the config to use it again"
                        ),
                    ));
                    continue;
                }
                let reusable;
                let json = if section == "api" && key == "headers" {
                    // An inline header value is recorded only as its fingerprint: the
                    // config file must give it again. Env and file sources are reusable.
                    let (kept, inline) = split_header_sources(json);
                    for name in inline {
                        out.warnings.push(format!(
                            "run {run_id}'s api.headers.{name} was given inline and is not \
                             recorded; give it again in the config (or as {{ env = … }})"
                        ));
                    }
                    reusable = kept;
                    &reusable
                } else {
                    json
                };
                let value = to_toml(json).ok_or_else(|| format!("{} is not a setting", json));
                match value.and_then(|v| check_value(spec, &v).map(|()| v)) {
                    Ok(v) => {
                        if let Some(t) = section_mut(&mut out.table, section) {
                            t.insert(key.clone(), v);
                        }
                    }
                    Err(e) => out.warnings.push(format!(
                        "run {run_id}'s recorded {}: {e}; ignored",
                        spec.dotted()
                    )),
                }
            }
        }
        Ok(out)
    }

    /// The recorded configuration alone, over the defaults (what the run started with).
    pub fn config(&self) -> Result<Config, ConfigError> {
        Value::Table(self.table.clone())
            .try_into::<Config>()
            .map_err(|e| {
                ConfigError::Invalid(format!(
                    "run {}'s recorded configuration does not load: {}",
                    self.run_id,
                    e.message()
                ))
            })
    }
}

fn to_toml(v: &serde_json::Value) -> Option<Value> {
    Some(match v {
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Integer(n.as_i64()?),
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(items) => {
            Value::Array(items.iter().map(to_toml).collect::<Option<_>>()?)
        }
        serde_json::Value::Object(map) => Value::Table(
            map.iter()
                .map(|(k, v)| Some((k.clone(), to_toml(v)?)))
                .collect::<Option<_>>()?,
        ),
        serde_json::Value::Null => return None,
    })
}

/// `api.headers` as recorded: the entries naming a source (`{env}` / `{file}`), and the
/// names of those that were inline (recorded as a fingerprint, so not reusable).
fn split_header_sources(json: &serde_json::Value) -> (serde_json::Value, Vec<String>) {
    let mut kept = serde_json::Map::new();
    let mut inline = Vec::new();
    if let Some(map) = json.as_object() {
        for (name, source) in map {
            if source.is_object() {
                kept.insert(name.clone(), source.clone());
            } else {
                inline.push(name.clone());
            }
        }
    }
    (serde_json::Value::Object(kept), inline)
}

/// The keys that say where a run's records go: the API's base URL and every URL and path
/// the client calls (`api.*_url`, `api.*_path`, `auth.token_url`,
/// `auth.session.login_path`). Derived from the schema
/// so a path added to the API mapping is guarded as well.
pub fn destination_keys() -> Result<Vec<String>, ConfigError> {
    let schema = Schema::new()?;
    Ok(schema
        .keys
        .iter()
        .filter(|k| {
            (k.section == "api" && (k.key.ends_with("_url") || k.key.ends_with("_path")))
                || (k.section == "auth" && k.key == "token_url")
                || (k.section == "auth.session" && k.key == "login_path")
        })
        .map(|k| k.dotted())
        .collect())
}

/// One destination setting that differs from what the run recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub key: String,
    pub recorded: String,
    pub now: String,
    /// Where the new value comes from (`file ./x.toml:3`, `env SUPSYNC_API_BASE_URL`…).
    pub origin: String,
}

/// The destination settings of `now` that differ from `recorded`.
pub fn moved(
    recorded: &Config,
    now: &Config,
    provenance: &Provenance,
) -> Result<Vec<Moved>, ConfigError> {
    let (a, b) = (as_table(recorded)?, as_table(now)?);
    let mut out = Vec::new();
    for dotted in destination_keys()? {
        let (section, key) = dotted.rsplit_once('.').unwrap_or((dotted.as_str(), ""));
        let get = |t: &toml::Table| {
            lookup(t, section, key)
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .unwrap_or_default()
        };
        let (was, is) = (get(&a), get(&b));
        if was != is {
            out.push(Moved {
                origin: provenance.get(&dotted).to_string(),
                key: dotted,
                recorded: was,
                now: is,
            });
        }
    }
    Ok(out)
}

fn as_table(c: &Config) -> Result<toml::Table, ConfigError> {
    match toml::Value::try_from(c) {
        Ok(toml::Value::Table(t)) => Ok(t),
        Ok(_) => Ok(toml::Table::new()),
        Err(e) => Err(ConfigError::Invalid(format!(
            "internal: the config does not serialize: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Origin;

    fn recorded(json: serde_json::Value) -> Recorded {
        Recorded::from_manifest("r1", &json).unwrap()
    }

    #[test]
    fn the_manifest_config_round_trips_without_its_secrets() {
        let mut c = Config::default();
        c.api.base_url = "https://qms.example.com".into();
        c.auth.scopes = vec!["a".into()];
        c.auth.client_secret_file = Some("/etc/supsync/secret".into());
        c.sync.segment_size = 7;
        let mut json = serde_json::to_value(&c).unwrap();
        json["auth"]["client_secret"] = REDACTED.into();
        let r = recorded(json);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert_eq!(r.config().unwrap(), c);
    }

    #[test]
    fn redacted_notify_urls_are_not_reused() {
        let r = recorded(serde_json::json!({
            "notify": {"webhook_url": "https://hooks.example.com/…", "webhook_attempts": 2},
        }));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert_eq!(r.redacted.len(), 1, "{:?}", r.redacted);
        assert_eq!(r.redacted[0].0, "notify.webhook_url");
        let c = r.config().unwrap();
        assert_eq!(c.notify.webhook_url, None);
        assert_eq!(c.notify.webhook_attempts, 2);
        // Said only when no layer gives the URL again.
        let load = |text: &str| {
            crate::config::load::load_layered(
                Some(&r),
                Some("f.toml".into()),
                Some(text),
                &Default::default(),
                &[],
            )
            .unwrap()
        };
        let bare = load("");
        assert_eq!(bare.warnings.len(), 1, "{:?}", bare.warnings);
        assert!(bare.warnings[0].contains("notify.webhook_url"));
        let given = load("[notify]\nwebhook_url = \"https://hooks.example.com/k\"\n");
        assert!(given.warnings.is_empty(), "{:?}", given.warnings);
        assert_eq!(
            given.config.notify.webhook_url.as_deref(),
            Some("https://hooks.example.com/k")
        );
    }

    #[test]
    fn header_sources_are_reused_and_inline_header_values_are_not() {
        let r = recorded(serde_json::json!({
            "api": {"headers": {"apiKey": {"env": "ARIBA_KEY"}, "X-Other": "#1a2b3c4d"}},
            "auth": {"extra_params": {"audience": "https://qms"}},
        }));
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(
            r.warnings[0].contains("api.headers.X-Other"),
            "{:?}",
            r.warnings
        );
        let c = r.config().unwrap();
        assert_eq!(c.api.headers.len(), 1);
        assert!(c.api.headers.contains_key("apiKey"));
        assert_eq!(c.auth.extra_params["audience"], "https://qms");
    }

    #[test]
    fn unknown_and_mistyped_values_are_warned_about_and_left_out() {
        let r = recorded(serde_json::json!({
            "api": {"base_url": "https://a", "color": "red"},
            "sync": {"segment_size": "big", "concurrency": null},
            "gone": 3,
        }));
        assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("api.color"), "{:?}", r.warnings);
        assert!(
            r.warnings[1].contains("sync.segment_size"),
            "{:?}",
            r.warnings
        );
        let c = r.config().unwrap();
        assert_eq!(c.api.base_url, "https://a");
        assert_eq!(c.sync.segment_size, Config::default().sync.segment_size);
    }

    #[test]
    fn a_moved_destination_is_named_with_both_values_and_its_origin() {
        let was = Config::default();
        let mut now = Config::default();
        now.api.base_url = "https://other".into();
        now.sync.concurrency = 9;
        let mut p = Provenance::default();
        p.set(
            "api.base_url",
            Origin::Env {
                var: "SUPSYNC_API_BASE_URL".into(),
            },
        );
        let m = moved(&was, &now, &p).unwrap();
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].key, "api.base_url");
        assert_eq!(m[0].recorded, "http://127.0.0.1:8080");
        assert_eq!(m[0].now, "https://other");
        assert_eq!(m[0].origin, "env SUPSYNC_API_BASE_URL");
        let keys = destination_keys().unwrap();
        for k in [
            "api.base_url",
            "api.health_path",
            "api.batch_path",
            "auth.token_url",
        ] {
            assert!(keys.contains(&k.to_string()), "{keys:?}");
        }
    }
}
