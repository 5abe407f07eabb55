//! Observers of a run: Prometheus metrics (an HTTP listener and a textfile-collector file)
//! and alerts (hook command, webhook, dead-man's-switch pings). Like the console and the
//! headless reporter they only consume the engine's event stream; they never reach into
//! the engine, never block it and never change a run's outcome.
//!
//! The drive path calls [`Observers::start`] before the engine starts (a port in use is a
//! [`ConfigError`], exit 2), [`Observers::on_event`] for every `EngineEvent` it reads
//! (`EngineEvent::Token` carries each token status change), and [`Observers::finish`] once
//! the run is over.

pub mod alerts;
pub mod deliver;
pub mod export;
pub mod hook;
pub mod metrics;
pub mod notify;
pub mod tap;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, ConfigError};
use crate::engine::events::EngineEvent;
use crate::secret::Secret;
use alerts::{SecretMasker, Tracker};
use metrics::Metrics;
use notify::Notifier;

/// A long-lived credential this close to its end raises `credential_expiring`.
pub const CREDENTIAL_WARNING: Duration = crate::config::SECRET_EXPIRY_WARNING;

/// How long [`Observers::finish`] waits for queued alerts to go out.
pub const DRAIN: Duration = Duration::from_secs(15);

/// Settings from the command line that override the config.
#[derive(Debug, Clone, Default)]
pub struct ObserveOptions {
    /// `--metrics-listen ADDR`: wins over `metrics.listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// The run's shard (`K/N`), a label on every metric.
    pub shard: Option<String>,
}

pub struct Observers {
    metrics: Option<Metrics>,
    tracker: Tracker,
    notifier: Option<Notifier>,
    stop: CancellationToken,
    listener: Option<(SocketAddr, JoinHandle<()>)>,
    file_writer: Option<JoinHandle<()>>,
}

impl Observers {
    /// Binds the metrics listener, starts the metrics file writer and the alert workers.
    /// `secrets`: what must never appear in a payload (the client secret); payloads are
    /// built without them anyway, this is the second line of defence.
    pub async fn start(
        config: &Config,
        secrets: Vec<Secret>,
        opts: ObserveOptions,
    ) -> Result<Self, ConfigError> {
        let host = destination_host(&config.api.base_url);
        let stop = CancellationToken::new();
        let m = &config.metrics;
        let (listen, key) = match (opts.metrics_listen, &m.listen) {
            (Some(a), _) => (Some(a), "--metrics-listen"),
            (None, Some(s)) => (
                Some(
                    config::validate_observe::parse_listen(s)
                        .map_err(|e| ConfigError::Invalid(format!("metrics.listen: {e}")))?,
                ),
                "metrics.listen",
            ),
            (None, None) => (None, ""),
        };
        let metrics = (listen.is_some() || m.file.is_some())
            .then(|| Metrics::with_shard(&host, opts.shard.as_deref()));
        let mut listener = None;
        let mut file_writer = None;
        if let Some(metrics) = &metrics {
            if let Some(addr) = listen {
                listener = Some(export::serve(addr, key, metrics.clone(), stop.clone()).await?);
            }
            if let Some(path) = &m.file {
                config::validate_observe::check_metrics_file(path)
                    .map_err(|e| ConfigError::Invalid(format!("metrics.file: {e}")))?;
                if let Some(t) = export::previous_last_success(path) {
                    metrics.seed_last_success(t);
                }
                let every = Duration::from_secs(m.file_interval_secs.max(1));
                file_writer = Some(export::spawn_file_writer(
                    path.clone(),
                    every,
                    metrics.clone(),
                    stop.clone(),
                ));
            }
        }
        let notifier = Notifier::new(&config.notify)?;
        Ok(Self {
            metrics,
            tracker: Tracker::new(host, SecretMasker::new(secrets)),
            notifier,
            stop,
            listener,
            file_writer,
        })
    }

    /// The address `/metrics` is served on (the real port when 0 was asked for).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().map(|(a, _)| *a)
    }

    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_ref()
    }

    /// Folds one engine event into the metrics and raises any alert it means. Never blocks.
    pub fn on_event(&mut self, ev: &EngineEvent) {
        if let Some(m) = &self.metrics {
            m.observe(ev);
        }
        if let Some(alert) = self.tracker.on_event(ev, SystemTime::now()) {
            tracing::debug!(target: "supsync::notify", event = alert.event.name(), "{}", alert.message);
            if let Some(n) = &self.notifier {
                n.send(alert);
            }
        }
    }

    /// A long-lived credential's expiry (`client_secret` from `auth.secret_expires_at`,
    /// `client_certificate` from its notAfter): a metric, and within
    /// [`CREDENTIAL_WARNING`] a warning and a `credential_expiring` alert.
    pub fn credential_expiry(&mut self, kind: &str, expires: SystemTime) {
        if let Some(m) = &self.metrics {
            m.set_credential_expiry(kind, expires);
        }
        let now = SystemTime::now();
        if expires
            .duration_since(now)
            .is_ok_and(|left| left > CREDENTIAL_WARNING)
        {
            return;
        }
        let alert = self.tracker.credential_expiring(kind, expires, now);
        tracing::warn!(target: "supsync::notify", "{}", alert.message);
        if let Some(n) = &self.notifier {
            n.send(alert);
        }
    }

    /// Stops the listener, writes the metrics file a last time and lets queued alerts go
    /// out (at most [`DRAIN`]).
    pub async fn finish(self) {
        self.stop.cancel();
        if let Some(t) = self.file_writer {
            // Ignored on purpose: the writer logs its own failures.
            let _ = t.await;
        }
        if let Some((_, t)) = self.listener {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        if let Some(n) = self.notifier {
            n.close(DRAIN).await;
        }
    }
}

impl tap::Observer for Observers {
    fn on_event(&mut self, ev: &EngineEvent) {
        Observers::on_event(self, ev);
    }
}

/// Host and port of the API, as `run_info` and the payloads name it.
pub fn destination_host(base_url: &str) -> String {
    match reqwest::Url::parse(base_url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("").to_string();
            match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            }
        }
        Err(_) => String::new(),
    }
}
