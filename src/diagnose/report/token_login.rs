//! The diagnosis of a token login in words (a terminal) or as one JSON object: what the
//! probe measured, then the verdict. Only fingerprints of tokens appear.

use std::fmt::Write as _;

use serde::Serialize;

use super::layout::{section, wrap};
use crate::diagnose::evidence::token_login::TokenLoginFindings;
use crate::diagnose::verdict::{Conclusion, TokenLoginVerdict};

/// What one diagnose of a token login found and concluded: what `--json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct TokenLoginDiagnosis {
    pub kind: &'static str,
    pub findings: TokenLoginFindings,
    pub verdict: TokenLoginVerdict,
}

impl TokenLoginDiagnosis {
    pub fn exit_code(&self) -> i32 {
        self.verdict.exit_code
    }

    pub fn json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }

    pub fn text(&self) -> String {
        let (f, v) = (&self.findings, &self.verdict);
        let s = &f.setup;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "supsync diagnose: {} (user {}, token login {}, token sent as {}, refresh {})",
            s.base_url,
            s.user,
            s.login_url,
            s.send_as,
            s.refresh_url.as_deref().unwrap_or("none")
        );
        let _ = writeln!(
            out,
            "Judged for a {} s sync (sync.expected_duration_secs); the token watched up to {} s \
             (--wait-secs); {} login request by diagnose{}.",
            s.sync_secs,
            s.wait_secs,
            f.logins,
            f.token
                .as_deref()
                .map_or(String::new(), |t| format!(", token {t}"))
        );
        section(&mut out, "Findings");
        for (i, fact) in v.facts.iter().enumerate() {
            wrap(&mut out, &format!("  F{:<3}", i + 1), 6, fact);
        }
        if v.facts.is_empty() {
            let _ = writeln!(out, "  (none)");
        }
        let outcome = match v.outcome {
            Conclusion::Sustainable => "supsync can keep the sync alive",
            Conclusion::CannotSustain => "supsync cannot keep the sync alive as configured",
            Conclusion::ApiNotVerified => "not verified: the API did not answer as configured",
            Conclusion::NoToken => "no token with this configuration",
        };
        section(
            &mut out,
            &format!("Verdict (exit {}: {outcome})", v.exit_code),
        );
        wrap(&mut out, "  ", 2, &v.summary);
        section(&mut out, "What to change");
        for c in &v.changes {
            wrap(&mut out, &format!("  - [{}] ", c.who), 4, &c.change);
        }
        if v.changes.is_empty() {
            let _ = writeln!(out, "  Nothing.");
        }
        out
    }
}
