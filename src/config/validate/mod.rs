//! Checks on the effective configuration that types alone cannot express: ranges, URLs,
//! transport safety, scope syntax. Every problem names the key and where its value came from;
//! all problems are reported at once.

pub(super) mod pace_checks;
pub(super) mod validate_api_key;
pub(super) mod validate_auth;
pub mod validate_observe;
pub(super) mod validate_session;
pub(super) mod validate_token_cache;
pub(super) mod validate_token_login;

use super::provenance::Provenance;
use super::{Config, ConfigError, check_transport};

/// Upper bounds: beyond these a value is a typo (ms for secs, an extra zero), not a choice.
const HOUR_SECS: u64 = 3600;
const DAY_SECS: u64 = 86_400;
const WEEK_SECS: u64 = 7 * DAY_SECS;
pub const MAX_SEGMENT_SIZE: u64 = 10_000;
pub const MAX_CONCURRENCY: u64 = 64;

pub(super) struct Checker<'a> {
    prov: &'a Provenance,
    problems: Vec<String>,
}

impl Checker<'_> {
    pub(super) fn fail(&mut self, key: &str, msg: impl std::fmt::Display) {
        self.problems
            .push(format!("{}{msg}", self.prov.locate(key)));
    }

    pub(super) fn locate(&self, key: &str) -> String {
        self.prov.locate(key)
    }

    pub(super) fn range(&mut self, key: &str, value: u64, min: u64, max: u64, unit: &str) {
        if value < min || value > max {
            self.fail(
                key,
                format!("must be between {min} and {max}{unit}, found {value}"),
            );
        }
    }
}

/// Validates `config`; warnings (allowed but dubious values) are appended to `warnings`.
pub fn validate(
    config: &Config,
    prov: &Provenance,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let mut c = Checker {
        prov,
        problems: Vec::new(),
    };
    check_urls(config, &mut c);

    let a = &config.api;
    c.range("api.timeout_secs", a.timeout_secs, 1, HOUR_SECS, " seconds");
    // Below 64 KiB even an error page would not fit; past 1 GiB the cap protects nothing.
    c.range(
        "api.max_page_bytes",
        a.max_page_bytes,
        64 << 10,
        1 << 30,
        " bytes",
    );
    // The mapping is checked whole here, so a run refuses it before any request.
    match crate::mapping::ApiMapping::build(&a.mapping, &a.batch_path) {
        Err(problems) => {
            for p in problems {
                c.fail(&format!("api.{}", p.key), p.message);
            }
        }
        Ok(m) => {
            match a.verify_read.as_str() {
                "auto" | "list" => {}
                "per_id" if m.push.item_path().is_none() => c.fail(
                    "api.verify_read",
                    "\"per_id\" needs a path naming one record ({supplier_id} in a \
                     per_record api.push_path or a sub_requests api.item_path); this \
                     mapping has none: use \"list\"",
                ),
                "per_id" => {}
                other => c.fail(
                    "api.verify_read",
                    format!(
                        "{:?} is not one of \"auto\", \"list\", \"per_id\"",
                        crate::mapping::clip(other, 40)
                    ),
                ),
            }
            for key in crate::mapping::ignored_by_paging(&a.mapping, &m.pull.paging) {
                warnings.push(format!(
                    "api.{key} is set but api.pagination = \"{}\" does not use it",
                    m.pull.paging.kind()
                ));
            }
        }
    }

    let au = &config.auth;
    // A session login uses none of the OAuth2 keys: they are not checked.
    let oauth = au.kind == super::AuthKind::Oauth2;
    if oauth && au.client_id.trim().is_empty() {
        c.fail("auth.client_id", "must not be empty");
    } else if oauth && au.client_id.chars().any(char::is_control) {
        c.fail("auth.client_id", "must not contain control characters");
    }
    if oauth && au.client_secret.as_ref().is_some_and(|s| s.is_empty()) {
        c.fail(
            "auth.client_secret",
            "is empty; remove it or give the secret",
        );
    }
    if au
        .client_secret_file
        .as_ref()
        .is_some_and(|p| p.as_os_str().is_empty())
    {
        c.fail(
            "auth.client_secret_file",
            "is empty; give a path or remove it",
        );
    }
    if let Some(at) = &au.secret_expires_at
        && let Err(e) = super::parse_expiry(at)
    {
        c.fail("auth.secret_expires_at", e);
    }
    if let Err(problems) = super::expired_when::parse_all(&au.expired_when) {
        for p in problems {
            c.fail("auth.expired_when", p);
        }
    }
    if au.refresh_window_text.chars().any(char::is_control) || au.refresh_window_text.len() > 200 {
        c.fail(
            "auth.refresh_window_text",
            "must be at most 200 characters, without control characters",
        );
    }
    c.range(
        "auth.refresh_window_secs",
        au.refresh_window_secs,
        0,
        DAY_SECS,
        " seconds",
    );
    for scope in au.scopes.iter().filter(|_| oauth) {
        if scope.is_empty() {
            c.fail("auth.scopes", "contains an empty scope");
        } else if !scope.chars().all(is_scope_char) {
            c.fail(
                "auth.scopes",
                format!(
                    "scope {scope:?} is not one OAuth2 scope token (no spaces, quotes or backslashes); \
                     list each scope as its own string"
                ),
            );
        }
    }
    c.range(
        "auth.refresh_margin_secs",
        au.refresh_margin_secs,
        1,
        HOUR_SECS,
        " seconds",
    );
    c.range(
        "auth.expected_ttl_secs",
        au.expected_ttl_secs,
        1,
        WEEK_SECS,
        " seconds",
    );
    c.range(
        "auth.keepalive_secs",
        au.keepalive_secs,
        1,
        DAY_SECS,
        " seconds",
    );
    c.range(
        "auth.min_token_interval_ms",
        au.min_token_interval_ms,
        0,
        60_000,
        " ms",
    );
    if au.refresh_margin_secs >= au.expected_ttl_secs {
        warnings.push(format!(
            "auth.refresh_margin_secs ({}) is not below auth.expected_ttl_secs ({}); \
             the margin will be capped to a fraction of each token's lifetime",
            au.refresh_margin_secs, au.expected_ttl_secs
        ));
    }

    let s = &config.sync;
    c.range(
        "sync.segment_size",
        s.segment_size as u64,
        1,
        MAX_SEGMENT_SIZE,
        " records",
    );
    if !s.concurrency_is_auto() {
        c.range(
            "sync.concurrency",
            s.concurrency as u64,
            1,
            MAX_CONCURRENCY,
            "",
        );
    }
    super::pace_checks::check(s, &mut c);
    c.range("sync.max_attempts", u64::from(s.max_attempts), 1, 100, "");
    c.range(
        "sync.backoff_initial_ms",
        s.backoff_initial_ms,
        1,
        HOUR_SECS * 1000,
        " ms",
    );
    c.range(
        "sync.backoff_max_ms",
        s.backoff_max_ms,
        1,
        HOUR_SECS * 1000,
        " ms",
    );
    if s.backoff_initial_ms > s.backoff_max_ms {
        c.fail(
            "sync.backoff_initial_ms",
            format!(
                "{} ms is above sync.backoff_max_ms ({} ms, {}); the initial backoff must not exceed the maximum",
                s.backoff_initial_ms,
                s.backoff_max_ms,
                prov.get("sync.backoff_max_ms")
            ),
        );
    }
    c.range(
        "sync.max_retry_after_secs",
        s.max_retry_after_secs,
        1,
        DAY_SECS,
        " seconds",
    );
    c.range(
        "sync.retry_budget",
        u64::from(s.retry_budget),
        1,
        1_000_000,
        "",
    );
    c.range(
        "sync.max_outage_secs",
        s.max_outage_secs,
        1,
        DAY_SECS,
        " seconds",
    );
    // The budget counts failures across all in-flight segments; if it is not reached
    // before those segments exhaust their attempts, an outage fails segments instead of
    // holding the run until the server answers again.
    let spend = (s.concurrency_ceiling() as u64).saturating_mul(u64::from(s.max_attempts));
    if u64::from(s.retry_budget) >= spend {
        warnings.push(format!(
            "sync.retry_budget ({}) is not below sync.concurrency × sync.max_attempts ({spend}): \
             during an outage segments will fail (retry them later) before the run holds",
            s.retry_budget
        ));
    }
    c.range(
        "sync.expected_duration_secs",
        s.expected_duration_secs,
        1,
        WEEK_SECS,
        " seconds",
    );

    let u = &config.ui;
    c.range("ui.tick_ms", u.tick_ms, 50, 10_000, " ms");
    c.range("ui.max_fps", u64::from(u.max_fps), 1, 120, "");

    super::validate_observe::check(config, &mut c);
    super::validate_auth::check(config, &mut c, warnings);
    super::validate_token_cache::check(config, &mut c, warnings);
    super::validate_session::check(config, &mut c, warnings);
    super::validate_token_login::check(config, &mut c, warnings);
    super::validate_api_key::check(config, &mut c, warnings);

    match c.problems.len() {
        0 => Ok(()),
        1 => Err(ConfigError::Invalid(c.problems.remove(0))),
        n => Err(ConfigError::Invalid(format!(
            "{n} problems in the configuration:\n{}",
            c.problems.join("\n")
        ))),
    }
}

fn check_urls(config: &Config, c: &mut Checker<'_>) {
    let insecure = config.api.allow_insecure_http;
    let base_ok = match url_problem(&config.api.base_url, insecure) {
        Some(msg) => {
            c.fail("api.base_url", msg);
            false
        }
        None => true,
    };
    // A relative token URL or path inherits the base URL's problems; report those once.
    let target = |value: &str, joined: String| {
        if is_absolute(value) {
            Some(value.to_string())
        } else {
            base_ok.then_some(joined)
        }
    };
    let token_url = &config.auth.token_url;
    if config.auth.kind == super::AuthKind::Oauth2
        && let Some(msg) =
            target(token_url, config.token_url()).and_then(|u| url_problem(&u, insecure))
    {
        c.fail("auth.token_url", msg);
    }
    let mut paths = vec![
        ("api.health_path", &config.api.health_path),
        ("api.batch_path", &config.api.batch_path),
    ];
    if config.auth.kind == super::AuthKind::Session {
        paths.push(("auth.session.login_path", &config.auth.session.login_path));
    }
    if config.auth.kind == super::AuthKind::TokenLogin {
        paths.push((
            "auth.token_login.login_path",
            &config.auth.token_login.login_path,
        ));
    }
    for (key, path) in paths {
        if path.trim().is_empty() {
            c.fail(key, "must not be empty");
        } else if path.chars().any(char::is_whitespace) {
            c.fail(key, format!("{path:?} contains whitespace"));
        } else if let Some(msg) =
            target(path, config.api_url(path)).and_then(|u| url_problem(&u, insecure))
        {
            c.fail(key, msg);
        }
    }
}

/// Any `scheme://` counts, so `ftp://…` is refused rather than joined to the base URL.
fn is_absolute(s: &str) -> bool {
    s.contains("://")
}

pub(super) fn url_problem(url: &str, allow_insecure_http: bool) -> Option<String> {
    if url.trim().is_empty() {
        return Some("must not be empty".into());
    }
    if let Err(msg) = check_transport(url, allow_insecure_http) {
        return Some(msg);
    }
    match reqwest::Url::parse(url) {
        Ok(u) if u.host_str().is_none_or(str::is_empty) => Some(format!("{url} has no host")),
        Ok(_) => None,
        Err(e) => Some(format!("{url:?} is not a valid URL: {e}")),
    }
}

/// RFC 6749 §3.3 scope-token characters.
fn is_scope_char(ch: char) -> bool {
    ch == '!' || ('#'..='[').contains(&ch) || (']'..='~').contains(&ch)
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
