//! `diagnose` with `auth.kind = "api_key"`: a static key has no clocks to measure, so the
//! one question is whether the API accepts it. One authenticated read (the first page of a
//! pull, as a run asks for it) answers it; only the key's fingerprint is ever shown.

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::api::{ApiClient, ApiError, ConnectOptions};
use crate::config::Config;
use crate::exit;
use crate::secret::Secret;

/// What the one read said.
#[derive(Debug, Clone, Serialize)]
pub struct KeyCheck {
    pub kind: &'static str,
    pub key_fingerprint: String,
    pub send_as: String,
    /// `accepted`, `refused`, or `not_verified` (the read failed for another reason).
    pub outcome: &'static str,
    /// The records the first page held, when it was read.
    pub records: Option<usize>,
    /// Why not accepted (cleaned server words; never the key).
    pub error: Option<String>,
    pub exit_code: i32,
}

/// Reads the first page once with the key and says whether it was accepted: exit 0, 4
/// when refused (401, or 403), 3 when the read failed otherwise (not verified).
pub async fn check(cfg: &Config, key: &Secret) -> KeyCheck {
    let cancel = CancellationToken::new();
    let read = async {
        let client =
            ApiClient::connect(cfg, key.clone(), ConnectOptions::default(), cancel.clone()).await?;
        client.pull_page(0, 1).await
    }
    .await;
    cancel.cancel();
    let (outcome, records, error, exit_code) = match read {
        Ok(page) => ("accepted", Some(page.suppliers.len()), None, exit::OK),
        Err(e @ (ApiError::Auth(_) | ApiError::Unauthorized { .. })) => {
            ("refused", None, Some(e.to_string()), exit::AUTH)
        }
        Err(e) => (
            "not_verified",
            None,
            Some(e.to_string()),
            exit::DIAGNOSE_CANNOT_SUSTAIN,
        ),
    };
    KeyCheck {
        kind: "api_key",
        key_fingerprint: key.fingerprint(),
        send_as: cfg.auth.api_key.send_as.clone(),
        outcome,
        records,
        error,
        exit_code,
    }
}

impl KeyCheck {
    pub fn text(&self) -> String {
        let head = format!(
            "auth.kind = \"api_key\": key {} sent as {}\n",
            self.key_fingerprint, self.send_as
        );
        let body = match (self.outcome, &self.error) {
            ("accepted", _) => format!(
                "The API accepted the key: the first page read with it ({} records). A static \
                 key has no lifetime to measure and is never renewed; nothing to change.\n",
                self.records.unwrap_or(0)
            ),
            ("refused", Some(e)) => format!(
                "The API refused the key: {e}\nA run with it stops at its first call. Check the \
                 key (SUPSYNC_API_KEY or auth.api_key.key_file) and auth.api_key.send_as.\n"
            ),
            (_, e) => format!(
                "Not verified: the first read failed before the API judged the key: {}\n",
                e.as_deref().unwrap_or("no answer")
            ),
        };
        head + &body
    }
}
