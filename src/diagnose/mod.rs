//! Token-lifetime forensics for on-call: which of the server's clocks would kill a sync
//! of the configured length, and what to change. By stage, each a sub-room with its own
//! arrows (checked in tests/architecture.rs):
//! - `probe` talks to the servers and records findings (the only network);
//! - `evidence` holds the findings and reads them into numbered claims (what was seen);
//! - `judge` turns claims into the verdict's parts, pure, and checks the verdict against
//!   them;
//! - `verdict` is the verdict's types, at the bottom (imports nothing of diagnose);
//! - `report` words it all as text or one JSON object.

pub mod api_key;
pub mod evidence;
pub mod judge;
pub mod probe;
pub mod report;
pub mod verdict;

use crate::config::{AuthKind, Config};
use crate::secret::Secret;
pub use evidence::Findings;
pub use probe::DiagnoseOptions;
pub use report::{Diagnosis, TokenLoginDiagnosis};
pub use verdict::Verdict;

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
        AuthKind::Session => probe::run_session(cfg, client_secret, opts).await?,
        AuthKind::TokenLogin => anyhow::bail!("internal: a token login is probed by token_login"),
        AuthKind::Oauth2 => probe::run_oauth2(cfg, client_secret, opts).await?,
        AuthKind::ApiKey => anyhow::bail!("internal: an API key is checked by api_key::check"),
    };
    let evidence = evidence::collect(&findings);
    let verdict = judge::of(&findings, &evidence);
    Ok(Diagnosis {
        findings,
        evidence,
        verdict,
    })
}

/// `diagnose` with `auth.kind = "token_login"`: one login, the lifetimes, the token
/// watched until the API refuses it, the refresh; judged and worded on its own.
pub async fn token_login(
    cfg: &Config,
    password: &Secret,
    opts: &DiagnoseOptions,
) -> anyhow::Result<TokenLoginDiagnosis> {
    let findings = probe::run_token_login(cfg, password, opts).await?;
    let verdict = judge::token_login::of(&findings);
    Ok(TokenLoginDiagnosis {
        kind: "token_login",
        findings,
        verdict,
    })
}
