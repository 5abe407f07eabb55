//! Token-lifetime forensics for on-call: which of the server's clocks would kill a sync
//! of the configured length, and what to change. `probe` measures (network) into
//! `findings`; `evidence` reads them into numbered claims with their sources; `verdict`
//! (with `clocks`) judges the claims alone (pure) and `check` holds the verdict to them;
//! `report` prints it all as text or one JSON object.

mod advice;
pub mod analysis;
pub mod api_key;
mod blockers;
pub mod check;
mod check_session;
mod clocks;
mod clocks_more;
mod dead_answer;
pub mod evidence;
mod evidence_calls;
mod evidence_session;
mod evidence_signal;
mod evidence_token;
pub mod findings;
mod findings_session;
mod findings_signal;
mod judge_session;
mod judge_signal;
pub mod jwt;
pub mod probe;
mod probe_calls;
mod probe_mapping;
mod probe_session;
mod probe_session_logins;
mod probe_session_watch;
mod probe_signal;
pub mod report;
pub mod said;
mod session_access;
pub mod verdict;

#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod judge_session_tests;
#[cfg(test)]
mod judge_signal_tests;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::config::{AuthKind, Config};
use crate::secret::Secret;
pub use findings::Findings;
pub use verdict::Verdict;

/// Knobs of the probes; the defaults are what `supsync diagnose` uses.
#[derive(Debug, Clone)]
pub struct DiagnoseOptions {
    /// How long a token (and a pooled connection) is left unused between the two health
    /// calls of the idle probe. Headers are whole seconds: 3 s tells "slid back up" from
    /// "fell by the wait" with a second to spare either way.
    pub idle_wait: Duration,
    /// Calls made in a row on one token, to see a revocation after some uses.
    pub probe_calls: u32,
    /// How long a probe may wait for a token to die (to see how the API answers a dead
    /// one) or for a refresh window to open (to refresh inside it), or keep a session
    /// alive to see its cap.
    pub wait: Duration,
    /// The state dir a run uses: with `auth.kind = "session"` its login budget file, the
    /// credential's lock and the token cache are respected as a run respects them. `None`:
    /// the budget is counted in memory, no lock, no cache.
    pub state_dir: Option<PathBuf>,
}

impl Default for DiagnoseOptions {
    fn default() -> Self {
        Self {
            idle_wait: Duration::from_secs(3),
            probe_calls: 6,
            wait: Duration::from_secs(10),
            state_dir: None,
        }
    }
}

/// Findings, the evidence read from them and the verdict over it: what `--json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub findings: Findings,
    pub evidence: Vec<evidence::Evidence>,
    pub verdict: Verdict,
}

impl Diagnosis {
    pub fn exit_code(&self) -> i32 {
        self.verdict.exit_code
    }
}

/// Runs every probe against the configured server and reasons over what it found
/// (`client_secret` is the session password with `auth.kind = "session"`).
/// `Err` only for a configuration that cannot be probed at all (bad URL, plain http to a
/// remote host); a server that refuses us is a finding (exit 4), not an error.
pub async fn diagnose(
    cfg: &Config,
    client_secret: &Secret,
    opts: &DiagnoseOptions,
) -> anyhow::Result<Diagnosis> {
    let findings = match cfg.auth.kind {
        AuthKind::Session => probe_session::run(cfg, client_secret, opts).await?,
        AuthKind::TokenLogin => anyhow::bail!(
            "diagnose does not probe auth.kind = \"token_login\" yet; `supsync run` reports \
             the token's lifetime source and every renewal in the refresh log"
        ),
        AuthKind::Oauth2 => probe::run(cfg, client_secret, opts).await?,
        AuthKind::ApiKey => anyhow::bail!("internal: an API key is checked by api_key::check"),
    };
    let evidence = evidence::collect(&findings);
    let verdict = verdict::of(&findings, &evidence);
    Ok(Diagnosis {
        findings,
        evidence,
        verdict,
    })
}
