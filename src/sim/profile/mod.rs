//! Simulator profiles (docs/API.md §5.2): the built-in `realistic` and `demo`, or a TOML
//! file. A file only names the keys it changes: its sections are laid key by key over the
//! embedded `assets/realistic.toml`, so the schema and the defaults live in one place.

pub mod api_key;
pub mod api_quirks;
pub mod quirks;
pub mod session_profile;
pub mod token_login_profile;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

const REALISTIC: &str = include_str!("../../../assets/realistic.toml");
const DEMO: &str = include_str!("../../../assets/demo.toml");

/// A simulator profile. Fields are public so tests and the demo can read (and tweak) them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub tokens: Tokens,
    /// client_id → client_secret
    pub clients: BTreeMap<String, String>,
    pub api: Api,
    pub faults: Faults,
    pub data: Data,
    /// Client authentication methods, assertion keys, the client CA, required extra
    /// parameters and headers (`client_auth.rs`); absent: secrets only, nothing required.
    #[serde(default)]
    pub auth: super::client_auth::ClientAuthProfile,
    /// Session logins instead of bearer tokens (`session_profile.rs`, docs/API.md §7).
    pub session: super::session_profile::SessionProfile,
    /// A data platform's token login in front of the token store (`token_login_profile.rs`,
    /// docs/API.md §8).
    #[serde(default)]
    pub token_login: super::token_login_profile::TokenLoginProfile,
    /// Static API keys instead of bearer tokens (`api_key.rs`).
    #[serde(default)]
    pub api_key: super::api_key::ApiKeyProfile,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    pub default_ttl_secs: u64,
    pub scope_ttl_secs: BTreeMap<String, u64>,
    /// 0 turns the sliding window off.
    pub idle_timeout_secs: u64,
    /// 0 turns the session limit off.
    pub absolute_timeout_secs: u64,
    pub refresh_ttl_secs: u64,
    pub issue_refresh_token: IssueRefreshToken,
    pub rotate_refresh_tokens: bool,
    pub reuse_detection: bool,
    /// How the token endpoint's answers deviate from the plain RFC 6749 shape (string
    /// `expires_in`, no `token_type`…, or hostile answers): see `quirks.rs`.
    #[serde(default)]
    pub token_quirks: Vec<super::quirks::TokenQuirk>,
    /// The scopes a `client_credentials` request without `scope` is granted (RFC 6749
    /// §3.3 lets a server apply defaults); their TTLs then apply as if asked for.
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// An access token is revoked after this many admitted resource calls. 0 = never.
    #[serde(default)]
    pub revoke_after_uses: u64,
    /// How far the server's wall clock is off (positive: ahead): shifts the `Date` header
    /// of resource answers and the JWT's `iat`/`exp`. The three clocks are unaffected.
    #[serde(default)]
    pub clock_skew_secs: i64,
    /// How a resource call with a dead token is answered (docs/API.md §2.5).
    #[serde(default)]
    pub expiry_signal: ExpirySignal,
    /// A refresh is accepted only within this many seconds of the session's current access
    /// token's expiry; earlier ones are refused as too early (docs/API.md §1.3). 0 = any time.
    #[serde(default)]
    pub refresh_window_secs: u64,
    /// The words of a too-early refusal in place of the contract's (§1.3), `{window}` and
    /// `{left}` replaced by seconds: how vendors say it ("refresh not allowed yet: only
    /// within {window} seconds of its expiry"). "" = the contract's words.
    #[serde(default)]
    pub refresh_window_text: String,

    /// Every Nth access token issued dies early, after its third admitted call, answered
    /// as `expiry_signal` says: a demo shows the expired answer and its renewal now and
    /// then, not only tokens renewed before any can die. 0 = never.
    #[serde(default)]
    pub early_death_every: u64,
}

/// How the resource API says a token is dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ExpirySignal {
    /// `401` with `WWW-Authenticate` (RFC 6750), as docs/API.md §2.5 describes.
    #[default]
    #[serde(rename = "401")]
    Unauthorized,
    /// `403 {"error": "token_expired", "error_description": …}`.
    #[serde(rename = "403")]
    Forbidden,
    /// `200 {"status": "error", "error": {"code": "TOKEN_EXPIRED", "message": …}}`.
    #[serde(rename = "200-body")]
    Body200,
    /// `200 {"errorCode": 602, "message": …}`: a vendor API's dead session.
    #[serde(rename = "200-errorcode")]
    Body200Code,
}

/// How `GET /api/v1/health` answers, to rehearse a misconfigured path or a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthAnswer {
    /// As docs/API.md §3.3 says.
    #[default]
    Ok,
    /// `307` to `/api/v2/health` (a moved API or a login redirect).
    Redirect,
    /// Never answers (the client's timeout ends the call).
    Hang,
}

/// When the token endpoint hands out a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueRefreshToken {
    Never,
    OfflineAccess,
    Always,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    pub per_record_ms: u64,
    pub max_batch: usize,
    /// 0 = no limit.
    pub max_concurrent: usize,
    /// 0 = no limit.
    pub rate_limit_per_sec: u32,
    /// A server policy stricter than the shared validation rules: records from these
    /// countries are rejected. How a server-side reject reaches the operator is tested
    /// with it (supsync's own checks would stop any other invalid record first).
    #[serde(default)]
    pub blocked_countries: Vec<String>,
    /// The status a styled API answers a record's create with (per record and per
    /// sub-request): 201, or 200 as Directus answers a POST to a collection.
    #[serde(default = "created_201")]
    pub create_status: u16,
    /// The API style served (docs/API.md §6): a mapping preset — `contract` (docs/API.md
    /// §3), `data_rest`, `odata` — with `[api.mapping]` overriding its keys, the same keys
    /// as a client config's `[api]` mapping.
    #[serde(default = "contract")]
    pub style: String,
    #[serde(default)]
    pub mapping: crate::mapping::MappingKeys,
    /// Where the next links of a styled pull point: "" writes relative links; a base such
    /// as `http://127.0.0.1:8080` writes absolute ones (another host tests the refusal).
    #[serde(default)]
    pub next_link_base: String,
    /// How health answers (`ok`, `redirect`, `hang`).
    #[serde(default)]
    pub health: HealthAnswer,
    /// Send `X-Token-Expires-In` on resource answers (docs/API.md §3.1).
    #[serde(default = "yes")]
    pub expiry_header: bool,
    /// Hostile answers (docs/API.md §5.2), until `POST /_sim/calm`.
    #[serde(default)]
    pub quirks: Vec<super::api_quirks::ApiQuirk>,
    /// `Retry-After` of resource answers as an HTTP date on the server's own clock (its
    /// now, `[tokens] clock_skew_secs` included, plus the seconds) instead of seconds.
    #[serde(default)]
    pub retry_after_dates: bool,
    /// A push-only styled API: the collection GET answers 405 (no listing); a record is
    /// read by a GET on its own path.
    #[serde(default)]
    pub no_listing: bool,

    // How the server's capacity behaves (docs/API.md §5.2), for the adaptive pace.
    /// `max_concurrent` changing while the simulator runs: steps of seconds since its
    /// first resource request, each with the cap from then on.
    #[serde(default)]
    pub capacity_schedule: Vec<CapacityStep>,
    /// Extra latency of a resource call at full load: `load_latency_ms` × in flight ÷ the
    /// cap (÷ 1 without a cap), so answers slow down as the server fills.
    #[serde(default)]
    pub load_latency_ms: u64,
    /// Answers carry `RateLimit-Policy` and `RateLimit` for `rate_limit_per_sec`.
    #[serde(default)]
    pub rate_limit_headers: bool,
}

/// From `after_secs` on, at most `max_concurrent` requests in flight per client (0: none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityStep {
    pub after_secs: u64,
    pub max_concurrent: usize,
}

fn yes() -> bool {
    true
}

fn created_201() -> u16 {
    201
}

fn contract() -> String {
    "contract".into()
}

impl Api {
    /// The style as a mapping; `None` for the plain contract (served by `api.rs`).
    pub fn styled(&self) -> Result<Option<crate::mapping::ApiMapping>, String> {
        if self.style == "contract" && self.mapping == crate::mapping::MappingKeys::default() {
            return Ok(None);
        }
        let keys = crate::mapping::MappingKeys {
            preset: Some(self.style.clone()),
            ..self.mapping.clone()
        };
        crate::mapping::ApiMapping::build(&keys, CONTRACT_PATH)
            .map(Some)
            .map_err(|problems| {
                let shown: Vec<String> = problems
                    .iter()
                    .map(|p| {
                        let at = if p.key == "preset" {
                            "[api] style".to_string()
                        } else {
                            format!("[api.mapping] {}", p.key)
                        };
                        format!("{at}: {}", p.message)
                    })
                    .collect();
                shown.join("; ")
            })
    }
}

/// The contract's push and pull path (docs/API.md §3).
pub const CONTRACT_PATH: &str = "/api/v1/suppliers/batch";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    pub error_rate: f64,
    pub drop_rate: f64,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Data {
    pub suppliers: u64,
}

impl Default for Profile {
    /// `realistic`.
    fn default() -> Self {
        match parse_layered(&[("realistic", REALISTIC)]) {
            Ok(p) => p,
            // The embedded file is checked by a unit test; reaching this is a build defect.
            Err(e) => unreachable!("embedded realistic profile is invalid: {e}"),
        }
    }
}

impl Profile {
    /// `realistic` or `demo`.
    pub fn builtin(name: &str) -> Option<Profile> {
        match name {
            "realistic" => Some(Profile::default()),
            "demo" => parse_layered(&[("realistic", REALISTIC), ("demo", DEMO)]).ok(),
            _ => None,
        }
    }

    /// A profile from TOML text; missing keys take the `realistic` defaults. The error
    /// names the offending key (and its line when it can be found).
    pub fn from_toml(text: &str) -> Result<Profile, String> {
        parse_layered(&[("realistic", REALISTIC), ("profile", text)])
    }

    /// `--profile` argument: a built-in name or a TOML file path.
    pub fn load(arg: &str) -> Result<Profile, String> {
        if let Some(p) = Profile::builtin(arg) {
            return Ok(p);
        }
        let text = std::fs::read_to_string(arg).map_err(|e| {
            format!("profile {arg:?} is neither `realistic`, `demo` nor a readable TOML file: {e}")
        })?;
        Profile::from_toml(&text).map_err(|e| format!("profile file {arg}: {e}"))
    }

    /// Checks values serde cannot: rates within 0..=1, lifetimes above zero, a client.
    fn check(&self) -> Result<(), String> {
        let t = &self.tokens;
        if t.default_ttl_secs == 0 {
            return Err("[tokens] default_ttl_secs must be at least 1".into());
        }
        if let Some((scope, _)) = t.scope_ttl_secs.iter().find(|(_, v)| **v == 0) {
            return Err(format!(
                "[tokens] scope_ttl_secs.{scope} must be at least 1"
            ));
        }
        if t.refresh_ttl_secs == 0 {
            return Err("[tokens] refresh_ttl_secs must be at least 1".into());
        }
        if self.clients.is_empty() {
            return Err("[clients] needs at least one client_id = \"secret\"".into());
        }
        if !(200..=299).contains(&self.api.create_status) {
            return Err(format!(
                "[api] create_status = {} must be a 2xx status (201, or 200)",
                self.api.create_status
            ));
        }
        if self.api.max_batch == 0 {
            return Err("[api] max_batch must be at least 1".into());
        }
        if self.api.rate_limit_headers && self.api.rate_limit_per_sec == 0 {
            return Err(
                "[api] rate_limit_headers needs a rate_limit_per_sec to state (it is 0)".into(),
            );
        }
        let steps = &self.api.capacity_schedule;
        if steps.windows(2).any(|w| w[1].after_secs <= w[0].after_secs) {
            return Err("[api] capacity_schedule: after_secs must rise from step to step".into());
        }
        self.api.styled()?;
        let f = &self.faults;
        for (key, v) in [("error_rate", f.error_rate), ("drop_rate", f.drop_rate)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("[faults] {key} = {v} must be between 0 and 1"));
            }
        }
        if f.error_rate + f.drop_rate > 1.0 {
            return Err("[faults] error_rate + drop_rate must not exceed 1".into());
        }
        self.auth.check()?;
        self.token_login.check(self.session.enabled)?;
        self.api_key
            .check(self.session.enabled || self.token_login.enabled)?;
        self.session.check()
    }
}

/// Lays each layer's sections over the previous ones, key by key (a key's value, a map
/// such as `scope_ttl_secs` included, replaces the earlier one whole), then deserializes.
fn parse_layered(layers: &[(&str, &str)]) -> Result<Profile, String> {
    let mut merged = toml::Table::new();
    let mut last_text = "";
    for (name, text) in layers {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| format!("{name} is not valid TOML: {}", e.to_string().trim_end()))?;
        for (section, value) in table {
            let known = section_is_known(&section);
            match (merged.get_mut(&section), value) {
                (Some(toml::Value::Table(into)), toml::Value::Table(from)) => into.extend(from),
                (None, v @ toml::Value::Table(_)) if known => {
                    merged.insert(section, v);
                }
                _ if known => {
                    return Err(format!(
                        "`{section}`{} must be a table (a `[{section}]` section)",
                        line_hint(text, &section)
                    ));
                }
                _ => {
                    return Err(format!(
                        "unknown section `{section}`{}; the sections are tokens, clients, api, faults, data, auth, session, token_login, api_key",
                        line_hint(text, &section)
                    ));
                }
            }
        }
        last_text = text;
    }
    let profile: Profile = serde_path_to_error::deserialize(toml::Value::Table(merged))
        .map_err(|e| explain(&e.path().to_string(), e.inner().message(), last_text))?;
    profile.check()?;
    Ok(profile)
}

fn section_is_known(s: &str) -> bool {
    [
        "tokens",
        "clients",
        "api",
        "faults",
        "data",
        "auth",
        "session",
        "token_login",
        "api_key",
    ]
    .contains(&s)
}

/// The error with the key it is about (`[api] max_batch: invalid type …`) and, when the
/// key is in the user's text, its line.
fn explain(path: &str, message: &str, text: &str) -> String {
    let msg = message.trim_end();
    // serde names an unknown key inside the message, a bad value's key in the path.
    let (section, key) = match path.split_once('.') {
        Some((s, k)) => (s, k.to_string()),
        None => (path, String::new()),
    };
    let key = msg
        .split('`')
        .nth(1)
        .filter(|_| msg.starts_with("unknown field"))
        .map(str::to_string)
        .unwrap_or(key);
    let whole = if key.is_empty() {
        format!("[{section}]")
    } else {
        format!("[{section}] {key}")
    };
    let first_key = key.split('.').next().unwrap_or("");
    let hint = if first_key.is_empty() {
        String::new()
    } else {
        line_hint(text, first_key)
    };
    format!("{whole}{hint}: {msg}")
}

/// ` (line N)` when `word` starts a key or section on some line of `text`.
fn line_hint(text: &str, word: &str) -> String {
    text.lines()
        .position(|l| {
            let l = l
                .trim_start()
                .trim_start_matches('[')
                .trim_start_matches('"');
            l.starts_with(word)
                && l[word.len()..]
                    .trim_start_matches('"')
                    .trim_start()
                    .starts_with(['=', ']', '.'])
        })
        .map(|i| format!(" (line {})", i + 1))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realistic_matches_api_md() {
        let p = Profile::builtin("realistic").unwrap();
        assert_eq!(p.tokens.default_ttl_secs, 3600);
        assert_eq!(p.tokens.scope_ttl_secs.get("supplier_mgmt"), Some(&900));
        assert_eq!(p.tokens.idle_timeout_secs, 900);
        assert_eq!(p.tokens.absolute_timeout_secs, 3600);
        assert_eq!(p.tokens.refresh_ttl_secs, 86400);
        assert_eq!(
            p.tokens.issue_refresh_token,
            IssueRefreshToken::OfflineAccess
        );
        assert_eq!(
            p.clients.get("supplier-sync").map(String::as_str),
            Some("change-me")
        );
        assert_eq!(p.api.per_record_ms, 6000);
        assert_eq!(p.api.max_batch, 100);
        assert_eq!(p.api.max_concurrent, 4);
        assert_eq!(p.data.suppliers, 600);
    }

    #[test]
    fn demo_is_realistic_over_sixty() {
        let r = Profile::builtin("realistic").unwrap();
        let d = Profile::builtin("demo").unwrap();
        assert_eq!(d.tokens.default_ttl_secs, r.tokens.default_ttl_secs / 60);
        assert_eq!(d.tokens.scope_ttl_secs.get("supplier_mgmt"), Some(&15));
        assert_eq!(d.tokens.idle_timeout_secs, r.tokens.idle_timeout_secs / 60);
        assert_eq!(
            d.tokens.absolute_timeout_secs,
            r.tokens.absolute_timeout_secs / 60
        );
        assert_eq!(d.tokens.refresh_ttl_secs, r.tokens.refresh_ttl_secs / 60);
        assert_eq!(d.api.per_record_ms, r.api.per_record_ms / 60);
        assert!(d.faults.error_rate > 0.0 && d.faults.drop_rate > 0.0);
        assert_eq!(d.clients, r.clients);
    }

    #[test]
    fn missing_keys_default_to_realistic_and_maps_replace_whole() {
        let p =
            Profile::from_toml("[tokens]\nscope_ttl_secs = {}\nidle_timeout_secs = 2\n").unwrap();
        assert!(p.tokens.scope_ttl_secs.is_empty());
        assert_eq!(p.tokens.idle_timeout_secs, 2);
        assert_eq!(p.tokens.default_ttl_secs, 3600);
        assert_eq!(p.api.max_batch, 100);
        assert_eq!(Profile::from_toml("").unwrap(), Profile::default());
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let e =
            Profile::from_toml("[tokens]\ndefault_ttl_secs = 5\nidle_timeout = 3\n").unwrap_err();
        assert!(e.contains("idle_timeout") && e.contains("line 3"), "{e}");
        let e = Profile::from_toml("[token]\n").unwrap_err();
        assert!(e.contains("`token`") && e.contains("line 1"), "{e}");
        let e = Profile::from_toml("[tokens]\nissue_refresh_token = \"sometimes\"\n").unwrap_err();
        assert!(e.contains("sometimes"), "{e}");
        let e = Profile::from_toml("[faults]\nerror_rate = 2.0\n").unwrap_err();
        assert!(e.contains("error_rate"), "{e}");
        let e = Profile::from_toml("[api]\nmax_batch = \"x\"\n").unwrap_err();
        assert!(e.contains("max_batch") || e.contains("integer"), "{e}");
        assert!(Profile::from_toml("not toml ===").is_err());
        assert!(Profile::load("no-such-profile-file.toml").is_err());
    }
}
