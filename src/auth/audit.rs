//! Every token event goes two ways: a `tracing` record on [`TOKEN_TARGET`] (the console's
//! refresh log) and, when configured, one JSON line in the run's audit file (mode 0600).
//! Only fingerprints are ever written, never a token: every detail goes through the
//! endpoint's [`Redactor`] (details quote server text, which is data, never trusted).

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::status::GrantKind;
use crate::logging::TOKEN_TARGET;
use crate::server_text::Redactor;

/// A detail is our own sentence around at most one capped server text: this leaves room
/// for both and still bounds a line.
const MAX_DETAIL_CHARS: usize = 1000;

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
    /// Taken from the token cache: another supsync process on the same credential had
    /// just renewed it, so this one made no request of its own.
    Shared,
    RefreshFailed,
    /// A refresh refused as too early (the server's refresh window): not a failure, the
    /// next one is planned inside the window.
    RefreshTooEarly,
    /// A premature 401 seen by a caller.
    Unauthorized,
    KeepAlive,
    /// A session ended by a logout at the end of a run.
    Logout,
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

/// One token event as the refresh log shows it: when, whether it is a problem, and the
/// cleaned detail (no token, no secret: the same text the audit file gets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditLine {
    pub wall: SystemTime,
    pub problem: bool,
    pub text: String,
}

/// Lines kept for a reader that subscribes late (the first token is issued before the
/// engine listens).
const KEEP_LINES: usize = 64;

/// The lines so far and the channel of the next ones, under one lock so a subscriber
/// gets each line exactly once.
#[derive(Debug)]
struct Feed {
    backlog: VecDeque<AuditLine>,
    tx: broadcast::Sender<AuditLine>,
}

impl Default for Feed {
    fn default() -> Self {
        Self {
            backlog: VecDeque::new(),
            tx: broadcast::channel(KEEP_LINES).0,
        }
    }
}

/// The JSON Lines audit file of one run (or nothing), and the feed of its lines to the
/// run's events (the refresh log).
#[derive(Debug, Default)]
pub struct Audit {
    file: Mutex<Option<File>>,
    redactor: Option<Arc<Redactor>>,
    feed: Mutex<Feed>,
}

impl Audit {
    /// Opens (appends to) `path`. A file that cannot be opened is a warning, not a failure:
    /// the sync matters more than its audit trail.
    pub fn open(path: Option<&Path>) -> Audit {
        let file = path.and_then(|p| {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                // Ignored: the open below reports the real problem.
                let _ = crate::safe_file::create_private_dir_all(dir);
            }
            let mut opts = crate::safe_file::private_options();
            opts.create(true).append(true);
            match crate::safe_file::open_for_write(p, &mut opts).and_then(owner_only) {
                Ok(f) => Some(f),
                Err(e) => {
                    tracing::warn!(target: TOKEN_TARGET, "cannot open token audit log {}: {e}; continuing without it", p.display());
                    None
                }
            }
        });
        Audit {
            file: Mutex::new(file),
            redactor: None,
            feed: Mutex::default(),
        }
    }

    /// The lines recorded so far (the last few) and a receiver of the ones to come.
    pub fn subscribe(&self) -> (Vec<AuditLine>, broadcast::Receiver<AuditLine>) {
        let feed = self.feed.lock().unwrap_or_else(|p| p.into_inner());
        (feed.backlog.iter().cloned().collect(), feed.tx.subscribe())
    }

    fn publish(&self, line: AuditLine) {
        let mut feed = self.feed.lock().unwrap_or_else(|p| p.into_inner());
        feed.backlog.push_back(line.clone());
        while feed.backlog.len() > KEEP_LINES {
            feed.backlog.pop_front();
        }
        // Ignored on purpose: nobody listening is fine.
        let _ = feed.tx.send(line);
    }

    /// Details are cleaned with `redactor` (secrets and tokens it knows are cut out).
    pub fn redacting(mut self, redactor: Arc<Redactor>) -> Audit {
        self.redactor = Some(redactor);
        self
    }

    /// Logs and records one event. `fingerprint` is a token fingerprint, never a token.
    pub fn record(
        &self,
        event: EventKind,
        fingerprint: Option<&str>,
        grant: Option<GrantKind>,
        detail: &str,
    ) {
        let cleaned = match &self.redactor {
            Some(r) => r.clean_to(detail, MAX_DETAIL_CHARS),
            None => crate::server_text::cap(
                crate::server_text::strip_controls(detail).trim(),
                MAX_DETAIL_CHARS,
            ),
        };
        let detail = cleaned.as_str();
        let fp = fingerprint.unwrap_or("-");
        let g = grant.map(|g| g.to_string()).unwrap_or_else(|| "-".into());
        if event.is_problem() {
            tracing::warn!(target: TOKEN_TARGET, event = ?event, token = fp, grant = %g, "{detail}");
        } else {
            tracing::info!(target: TOKEN_TARGET, event = ?event, token = fp, grant = %g, "{detail}");
        }
        self.publish(AuditLine {
            wall: SystemTime::now(),
            problem: event.is_problem(),
            text: detail.to_string(),
        });
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

/// An audit file left by an older version (or created under a lax umask) is made
/// owner-only: its details name hosts, clients and token fingerprints.
fn owner_only(f: File) -> std::io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = f.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(f)
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

    #[test]
    fn details_are_cleaned_and_the_file_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let r = Arc::new(Redactor::new());
        r.pin("client secret", "canary-secret-123");
        let a = Audit::open(Some(&path)).redacting(r);
        a.record(
            EventKind::RefreshFailed,
            None,
            None,
            &format!(
                "refused: echo client_secret=canary-secret-123 \u{1b}]52;c;ZXZpbA==\u{7}{}",
                "x".repeat(5000)
            ),
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("canary-secret-123"), "{text}");
        assert!(!text.contains("52;c;"), "{text}");
        assert!(!text.contains("\\u001b"), "{text}");
        assert!(
            text.contains("[client secret]") && text.contains("more)"),
            "{text}"
        );
        assert!(text.len() < 1500, "capped: {} bytes", text.len());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
