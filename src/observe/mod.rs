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
    /// `--metrics-linger SECS`: wins over `metrics.linger_secs`.
    pub metrics_linger: Option<u64>,
    /// The run's shard (`K/N`), a label on every metric.
    pub shard: Option<String>,
}

pub struct Observers {
    metrics: Option<Metrics>,
    tracker: Tracker,
    notifier: Option<Notifier>,
    stop: CancellationToken,
    listener: Option<Listener>,
    file_writer: Option<JoinHandle<()>>,
}

/// `/metrics` being served: its address, its task, what stops it, and how long it stays
/// up after the run ends.
struct Listener {
    addr: SocketAddr,
    task: JoinHandle<()>,
    stop: CancellationToken,
    linger: Duration,
}

/// `/metrics` kept up after the run ended (`metrics.linger_secs`), so the scrape after the
/// end sees the run ended; [`Lingering::wait`] ends it.
pub struct Lingering(Listener);

impl Lingering {
    /// Serves until the linger is over (or a stop signal comes), then stops the listener.
    pub async fn wait(self) {
        let l = self.0;
        tokio::select! {
            () = tokio::time::sleep(l.linger) => {}
            () = stop_signal() => {}
        }
        l.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(2), l.task).await;
    }
}

/// Ctrl-C or SIGTERM: the operator does not want to wait out the linger.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    // No handler could be set up: wait out the linger.
    let _ = tokio::signal::ctrl_c().await;
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
                // Its own stop: it may outlive the run by the linger.
                let stop = CancellationToken::new();
                let (addr, task) = export::serve(addr, key, metrics.clone(), stop.clone()).await?;
                let linger = opts.metrics_linger.unwrap_or(m.linger_secs);
                listener = Some(Listener {
                    addr,
                    task,
                    stop,
                    linger: Duration::from_secs(linger),
                });
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
        self.listener.as_ref().map(|l| l.addr)
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

    /// Writes the metrics file a last time, lets queued alerts go out (at most [`DRAIN`])
    /// and stops the listener, unless it is to linger: then it is handed back, still
    /// serving the run's last state, for the caller to wait out once the summary is out.
    pub async fn finish(self) -> Option<Lingering> {
        self.stop.cancel();
        if let Some(t) = self.file_writer {
            // Ignored on purpose: the writer logs its own failures.
            let _ = t.await;
        }
        if let Some(n) = self.notifier {
            n.close(DRAIN).await;
        }
        let l = self.listener?;
        if !l.linger.is_zero() {
            return Some(Lingering(l));
        }
        l.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(2), l.task).await;
        None
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
