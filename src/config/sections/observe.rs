//! The `[notify]` and `[metrics]` sections: who hears about a run (hook command, webhook,
//! dead-man's-switch pings) and where its Prometheus metrics go.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Every alert kind, in the order a run can raise them; the default of `notify.events`.
pub const ALERT_KINDS: &[&str] = &[
    "run_started",
    "run_succeeded",
    "run_finished_with_rejects",
    "segments_failed",
    "token_renewal_failed",
    "token_renewal_recovered",
    "auth_failed",
    "run_interrupted",
    "run_failed",
    "credential_expiring",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Hook command as an argv list (no shell); the event arrives as one JSON line on stdin.
    /// Empty: no command hook.
    pub command: Vec<String>,
    /// Seconds a hook command may run before it is killed.
    pub command_timeout_secs: u64,
    /// JSON POST of every event. https://, or http:// to a loopback host.
    pub webhook_url: Option<String>,
    /// Seconds one webhook or ping request may take.
    pub webhook_timeout_secs: u64,
    /// Attempts per webhook or ping delivery (backoff doubles from 500 ms between them).
    pub webhook_attempts: u32,
    /// Dead-man's-switch base URL (healthchecks style): `<url>/start`, `<url>`, `<url>/fail`.
    pub ping_url: Option<String>,
    /// Which events reach the command and the webhook (pings follow the run regardless).
    pub events: Vec<String>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            command: Vec::new(),
            command_timeout_secs: 10,
            webhook_url: None,
            webhook_timeout_secs: 5,
            webhook_attempts: 3,
            ping_url: None,
            events: ALERT_KINDS.iter().map(|s| (*s).to_string()).collect(),
        }
    }
}

impl NotifyConfig {
    /// The same settings with the webhook and ping URLs redacted ([`redacted_url`]): what
    /// a run records in its manifest and `supsync config` shows. The real URLs stay in
    /// memory only.
    pub fn redacted(&self) -> NotifyConfig {
        NotifyConfig {
            webhook_url: self.webhook_url.as_deref().map(redacted_url),
            ping_url: self.ping_url.as_deref().map(redacted_url),
            ..self.clone()
        }
    }
}

/// What [`redacted_url`] puts where a URL's path and query were.
pub const REDACTED_PATH: &str = "/…";

/// Scheme, host and port only (`https://hooks.example.com/…`): webhook and ping URLs often
/// carry their key in the user:password part, the path or the query. The one form such a
/// URL takes in logs, manifests and reports.
pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}{REDACTED_PATH}",
            u.scheme(),
            u.host_str().unwrap_or("?"),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "<invalid url>".into(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// node_exporter textfile-collector file, rewritten atomically (off when unset).
    pub file: Option<PathBuf>,
    /// Seconds between rewrites of `file` (it is also written at exit).
    pub file_interval_secs: u64,
    /// `ADDR:PORT` serving `GET /metrics` during a run (`--metrics-listen` overrides).
    pub listen: Option<String>,
    /// Seconds `/metrics` stays up after the run ends, so one more scrape sees the end
    /// (`--metrics-linger` overrides); 0 exits at once.
    pub linger_secs: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            file: None,
            file_interval_secs: 15,
            listen: None,
            linger_secs: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_only_scheme_host_and_port() {
        for (url, shown) in [
            (
                "https://user:pa55@hooks.example.com/services/T0/B0/k3y?token=abc#f",
                "https://hooks.example.com/…",
            ),
            (
                "http://127.0.0.1:9099/ping/uuid?t=1",
                "http://127.0.0.1:9099/…",
            ),
            ("not a url", "<invalid url>"),
        ] {
            assert_eq!(redacted_url(url), shown);
        }
        let n = NotifyConfig {
            webhook_url: Some("https://u:p@h.example/k3y".into()),
            ping_url: Some("https://hc.example/uuid?token=abc".into()),
            ..NotifyConfig::default()
        };
        let text = format!("{:?}", n.redacted());
        assert!(!text.contains("k3y") && !text.contains("abc") && !text.contains("u:p"));
        assert_eq!(n.redacted().command_timeout_secs, n.command_timeout_secs);
    }
}
