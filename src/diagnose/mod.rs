//! Token-lifetime forensics for on-call: which of the server's clocks kills the
//! token early, and why. `probe` measures (network), `analysis` and `verdict` reason over
//! the findings (pure), `report` prints them as text or one JSON object.

pub mod analysis;
pub mod findings;
pub mod jwt;
pub mod probe;
pub mod report;
pub mod verdict;
mod wording;

#[cfg(test)]
mod verdict_tests;

use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
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
}

impl Default for DiagnoseOptions {
    fn default() -> Self {
        Self {
            idle_wait: Duration::from_secs(3),
        }
    }
}

/// Findings and the verdict over them: what `--json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub findings: Findings,
    pub verdict: Verdict,
}

impl Diagnosis {
    pub fn exit_code(&self) -> i32 {
        self.verdict.exit_code
    }
}

/// Runs every probe against the configured server and reasons over what it found.
/// `Err` only for a configuration that cannot be probed at all (bad URL, plain http to a
/// remote host); a server that refuses us is a finding (exit 4), not an error.
pub async fn diagnose(
    cfg: &Config,
    client_secret: &Secret,
    opts: &DiagnoseOptions,
) -> anyhow::Result<Diagnosis> {
    let findings = probe::run(cfg, client_secret, opts).await?;
    let verdict = verdict::verdict(&findings);
    Ok(Diagnosis { findings, verdict })
}
