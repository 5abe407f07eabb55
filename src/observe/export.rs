//! Where metrics go: an HTTP listener serving `GET /metrics`, and the node_exporter
//! textfile-collector file, replaced atomically so the collector never reads half a file.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::metrics::Metrics;
use crate::config::ConfigError;

/// Binds `addr` now (so a port in use is a start-time configuration error naming `key`)
/// and serves `/metrics` until `stop` fires.
pub async fn serve(
    addr: SocketAddr,
    key: &str,
    metrics: Metrics,
    stop: CancellationToken,
) -> Result<(SocketAddr, JoinHandle<()>), ConfigError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                "the port is in use by another process; pick another".to_string()
            }
            std::io::ErrorKind::AddrNotAvailable => {
                "the address is not one of this machine's".to_string()
            }
            _ => e.to_string(),
        };
        ConfigError::Invalid(format!("{key}: cannot listen on {addr}: {why}"))
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| ConfigError::Invalid(format!("{key}: cannot listen on {addr}: {e}")))?;
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let m = metrics.clone();
            async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], m.render()).into_response() }
        }),
    );
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
        if let Err(e) = server.await {
            tracing::warn!(target: "supsync::metrics", "metrics listener stopped: {e}");
        }
    });
    Ok((local, task))
}

/// Writes `text` to `path` through a temporary file in the same directory and a rename,
/// readable by others (the collector usually runs as another user).
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".supsync-metrics")
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    // Checked again at each write: what replaced the file since the start must not be
    // replaced in turn unless it is a regular file.
    crate::safe_file::check_replaceable(path)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Rewrites the metrics file every `every` until `stop` fires, then once more, so the
/// file's last state is the run's end.
pub fn spawn_file_writer(
    path: PathBuf,
    every: Duration,
    metrics: Metrics,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            let last = tokio::select! {
                _ = tick.tick() => false,
                _ = stop.cancelled() => true,
            };
            let (p, text) = (path.clone(), metrics.render());
            let r = tokio::task::spawn_blocking(move || write_atomically(&p, &text)).await;
            match r {
                Ok(Ok(())) => failing = false,
                // Logged once per failure episode: a full disk would otherwise flood the log.
                Ok(Err(e)) if !failing => {
                    failing = true;
                    tracing::warn!(target: "supsync::metrics", "cannot write {}: {e}", path.display());
                }
                Ok(Err(_)) => {}
                Err(e) => tracing::warn!(target: "supsync::metrics", "metrics file writer: {e}"),
            }
            if last {
                return;
            }
        }
    })
}

/// `supsync_last_success_timestamp_seconds` from a previous metrics file, if any.
pub fn previous_last_success(path: &Path) -> Option<i64> {
    let text = crate::safe_file::read_text_capped(path, crate::safe_file::STATE_CAP).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("supsync_last_success_timestamp_seconds "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as i64)
}
