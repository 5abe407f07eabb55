//! Delivering alerts without ever holding up the sync: each destination (hook command,
//! webhook, dead-man's-switch pings) has its own bounded queue and one worker task, so a
//! slow webhook never delays the hook command and events reach each one in order. A full
//! queue drops the alert with a warning rather than wait.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::alerts::{Alert, AlertKind, Ping};
use super::deliver::{self, Body};
use super::hook;
use crate::config::{ConfigError, NotifyConfig};

/// Alerts waiting per destination; a run raises a handful, so this only fills when a
/// destination hangs for many timeouts in a row.
const QUEUE: usize = 32;

const TARGET: &str = "supsync::notify";

struct Sink<T> {
    tx: mpsc::Sender<T>,
    task: JoinHandle<()>,
}

impl<T: Send + 'static> Sink<T> {
    fn spawn<F, Fut>(name: &'static str, mut deliver: F) -> Self
    where
        F: FnMut(T) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send,
    {
        let (tx, mut rx) = mpsc::channel::<T>(QUEUE);
        let task = tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                if let Err(e) = deliver(job).await {
                    tracing::warn!(target: TARGET, "{name} delivery failed: {e}");
                }
            }
        });
        Self { tx, task }
    }

    fn push(&self, name: &str, job: T) {
        if self.tx.try_send(job).is_err() {
            tracing::warn!(target: TARGET, "{name} queue full or closed; one alert dropped");
        }
    }
}

/// Sends alerts to every configured destination. Create it inside a tokio runtime.
pub struct Notifier {
    events: HashSet<AlertKind>,
    command: Option<Sink<Arc<Alert>>>,
    webhook: Option<Sink<Arc<Alert>>>,
    ping: Option<Sink<(Ping, String)>>,
}

impl Notifier {
    /// `None` when nothing is configured. The config has been validated at load; this only
    /// fails if the HTTP client cannot be built.
    pub fn new(cfg: &NotifyConfig) -> Result<Option<Self>, ConfigError> {
        if cfg.command.is_empty() && cfg.webhook_url.is_none() && cfg.ping_url.is_none() {
            return Ok(None);
        }
        let events = cfg
            .events
            .iter()
            .filter_map(|e| AlertKind::from_name(e))
            .collect();
        let client =
            deliver::client(Duration::from_secs(cfg.webhook_timeout_secs)).map_err(|e| {
                ConfigError::Invalid(format!("notify: cannot build an HTTP client: {e}"))
            })?;
        let attempts = cfg.webhook_attempts;

        let command = (!cfg.command.is_empty()).then(|| {
            let argv = Arc::new(cfg.command.clone());
            let timeout = Duration::from_secs(cfg.command_timeout_secs);
            Sink::spawn("hook command", move |a: Arc<Alert>| {
                let argv = argv.clone();
                async move {
                    let body = payload(&a)?;
                    hook::run_command(&argv, a.event.name(), &body, timeout).await
                }
            })
        });
        let webhook = cfg.webhook_url.clone().map(|url| {
            let (client, url) = (client.clone(), Arc::new(url));
            Sink::spawn("webhook", move |a: Arc<Alert>| {
                let (client, url) = (client.clone(), url.clone());
                async move {
                    let body = Body::Json(payload(&a)?);
                    deliver::post(&client, &url, &body, attempts).await
                }
            })
        });
        let ping = cfg.ping_url.clone().map(|base| {
            let base = Arc::new(base);
            Sink::spawn("ping", move |(p, text): (Ping, String)| {
                let (client, base) = (client.clone(), base.clone());
                async move {
                    let url = ping_url(&base, p);
                    deliver::post(&client, &url, &Body::Text(text), attempts).await
                }
            })
        });
        Ok(Some(Self {
            events,
            command,
            webhook,
            ping,
        }))
    }

    /// Queues `alert` for every destination that wants it; returns at once.
    pub fn send(&self, alert: Alert) {
        if let (Some(p), Some(sink)) = (alert.ping(), &self.ping) {
            sink.push("ping", (p, alert.message.clone()));
        }
        if !self.events.contains(&alert.event) {
            return;
        }
        let alert = Arc::new(alert);
        if let Some(s) = &self.command {
            s.push("hook command", alert.clone());
        }
        if let Some(s) = &self.webhook {
            s.push("webhook", alert);
        }
    }

    /// Lets queued alerts go out (the final outcome is usually among them), for at most
    /// `within`; whatever is still pending then is abandoned with a warning.
    pub async fn close(self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        let mut tasks = Vec::new();
        for s in [self.command, self.webhook].into_iter().flatten() {
            drop(s.tx);
            tasks.push(s.task);
        }
        if let Some(s) = self.ping {
            drop(s.tx);
            tasks.push(s.task);
        }
        for mut t in tasks {
            if tokio::time::timeout_at(deadline, &mut t).await.is_err() {
                t.abort();
                // Until the task is gone, a hook it runs may still be alive: its group is
                // killed when the delivery is dropped.
                let _ = t.await;
                tracing::warn!(target: TARGET, "alerts still undelivered after {within:?}; abandoned");
            }
        }
    }
}

/// healthchecks.io's convention: `<base>/start`, `<base>` (success), `<base>/fail`. The
/// suffix goes on the path; a query (`?token=…`) stays where it was.
pub fn ping_url(base: &str, p: Ping) -> String {
    let suffix = match p {
        Ping::Start => "start",
        Ping::Success => return base.to_string(),
        Ping::Fail => "fail",
    };
    match url::Url::parse(base) {
        Ok(mut u) => {
            let path = format!("{}/{suffix}", u.path().trim_end_matches('/'));
            u.set_path(&path);
            u.to_string()
        }
        // Validated at load; never reached with a config that loaded.
        Err(_) => format!("{}/{suffix}", base.trim_end_matches('/')),
    }
}

/// The alert as one JSON line.
pub fn payload(a: &Alert) -> Result<Vec<u8>, String> {
    let mut v = serde_json::to_vec(a).map_err(|e| format!("cannot encode the alert: {e}"))?;
    v.push(b'\n');
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_suffixes_go_on_the_path_and_the_query_stays() {
        let base = "https://hc.example.com/ping/5a1b?token=abc";
        let start = url::Url::parse(&ping_url(base, Ping::Start)).unwrap();
        assert_eq!(start.path(), "/ping/5a1b/start");
        assert_eq!(start.query(), Some("token=abc"));
        let fail = url::Url::parse(&ping_url(base, Ping::Fail)).unwrap();
        assert_eq!(fail.path(), "/ping/5a1b/fail");
        assert_eq!(fail.query(), Some("token=abc"));
        assert_eq!(ping_url(base, Ping::Success), base);
        assert_eq!(
            ping_url("http://127.0.0.1:9/p/", Ping::Start),
            "http://127.0.0.1:9/p/start"
        );
        assert_eq!(
            ping_url("https://hc.example.com/uuid", Ping::Fail),
            "https://hc.example.com/uuid/fail"
        );
    }
}
