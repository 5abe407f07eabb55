//! Every token event goes two ways: a `tracing` record on [`TOKEN_TARGET`] (the console's
//! refresh log) and, when configured, one JSON line in the run's audit file. Only
//! fingerprints are ever written, never a token.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

use super::status::GrantKind;
use crate::logging::TOKEN_TARGET;

/// What happened to the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// First token of this process.
    Issued,
    /// Renewed with the refresh-token grant.
    Refreshed,
    /// Renewed with a new client-credentials session (the detail says why).
    NewSession,
    RefreshFailed,
    /// A premature 401 seen by a caller.
    Unauthorized,
    KeepAlive,
    /// Cache problems and other things worth a warning.
    Warning,
}

impl EventKind {
    fn is_problem(self) -> bool {
        matches!(
            self,
            EventKind::RefreshFailed | EventKind::Unauthorized | EventKind::Warning
        )
    }
}

#[derive(Debug, Serialize)]
struct Line<'a> {
    ts: String,
    event: EventKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant: Option<GrantKind>,
    detail: &'a str,
}

/// The JSON Lines audit file of one run (or nothing).
#[derive(Debug, Default)]
pub struct Audit {
    file: Mutex<Option<File>>,
}

impl Audit {
    /// Opens (appends to) `path`. A file that cannot be opened is a warning, not a failure:
    /// the sync matters more than its audit trail.
    pub fn open(path: Option<&Path>) -> Audit {
        let file = path.and_then(|p| {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                // Ignored: the open below reports the real problem.
                let _ = std::fs::create_dir_all(dir);
            }
            match OpenOptions::new().create(true).append(true).open(p) {
                Ok(f) => Some(f),
                Err(e) => {
                    tracing::warn!(target: TOKEN_TARGET, "cannot open token audit log {}: {e}; continuing without it", p.display());
                    None
                }
            }
        });
        Audit {
            file: Mutex::new(file),
        }
    }

    /// Logs and records one event. `fingerprint` is a token fingerprint, never a token.
    pub fn record(
        &self,
        event: EventKind,
        fingerprint: Option<&str>,
        grant: Option<GrantKind>,
        detail: &str,
    ) {
        let fp = fingerprint.unwrap_or("-");
        let g = grant.map(|g| g.to_string()).unwrap_or_else(|| "-".into());
        if event.is_problem() {
            tracing::warn!(target: TOKEN_TARGET, event = ?event, token = fp, grant = %g, "{detail}");
        } else {
            tracing::info!(target: TOKEN_TARGET, event = ?event, token = fp, grant = %g, "{detail}");
        }
        let Ok(mut guard) = self.file.lock() else {
            return;
        };
        if let Some(f) = guard.as_mut() {
            let line = Line {
                ts: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                event,
                fingerprint,
                grant,
                detail,
            };
            let written = serde_json::to_string(&line)
                .map_err(std::io::Error::other)
                .and_then(|mut s| {
                    s.push('\n');
                    f.write_all(s.as_bytes())
                });
            if let Err(e) = written {
                tracing::warn!(target: TOKEN_TARGET, "token audit log write failed: {e}; audit stops here");
                *guard = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_json_line_per_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/audit.jsonl");
        let a = Audit::open(Some(&path));
        a.record(
            EventKind::Issued,
            Some("#abcd1234"),
            Some(GrantKind::ClientCredentials),
            "first token",
        );
        a.record(EventKind::KeepAlive, None, None, "health");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["event"], "issued");
        assert_eq!(lines[0]["grant"], "client_credentials");
        assert_eq!(lines[0]["fingerprint"], "#abcd1234");
        assert_eq!(lines[1]["event"], "keep_alive");
    }
}
