//! The diagnosis as text for a terminal, or as one JSON object. Both read only the
//! findings, the evidence and the verdict, which hold fingerprints, never tokens or
//! secrets. Findings come first; every verdict line ends with the ids it rests on.

use std::fmt::Write as _;

mod diagnosis;
mod layout;
mod token_login;

pub use diagnosis::Diagnosis;
pub use token_login::TokenLoginDiagnosis;

use crate::diagnose::verdict::{Conclusion, Line};
use layout::{section, wrap};

/// `--json`: findings, evidence and verdict as one object.
pub fn json(d: &Diagnosis) -> serde_json::Result<String> {
    serde_json::to_string_pretty(d)
}

fn cited(l: &Line) -> String {
    if l.cites.is_empty() {
        l.text.clone()
    } else {
        format!("{} [{}]", l.text, l.cites.join(", "))
    }
}

/// The report for a terminal: findings, then the verdict that cites them.
pub fn text(d: &Diagnosis) -> String {
    let f = &d.findings;
    let v = &d.verdict;
    let mut out = String::new();
    match &f.session {
        Some(s) => {
            let _ = writeln!(
                out,
                "supsync diagnose: {} (user {}, session login {}, id from {} sent as {})",
                f.base_url, s.user, s.login_url, s.session_from, s.send_as
            );
        }
        None => {
            let _ = writeln!(
                out,
                "supsync diagnose: {} (client {}, {}, token endpoint {})",
                f.base_url, f.client_id, f.auth_method, f.token_url
            );
        }
    }
    let _ = writeln!(
        out,
        "Judged for a {} s sync (sync.expected_duration_secs); idle probe up to {} s \
         (--probe-secs), {} calls on one {} (--probe-calls){}.",
        f.sync_duration_secs,
        f.probe_secs,
        u64::from(f.use_probe.planned) + 1,
        if f.session.is_some() {
            "session"
        } else {
            "token"
        },
        if f.session.is_some() {
            format!(", clocks watched up to {} s (--wait-secs)", f.wait_secs)
        } else {
            String::new()
        }
    );

    if !f.mapping.describe.is_empty() {
        section(&mut out, "API mapping in use");
        for line in &f.mapping.describe {
            wrap(&mut out, "  ", 4, line);
        }
    }

    section(&mut out, "Findings");
    for e in &d.evidence {
        let label = format!("  {:<4}{:<20}", e.id, e.source.label());
        wrap(&mut out, &label, 26, &e.says);
    }
    if d.evidence.is_empty() {
        let _ = writeln!(out, "  (none)");
    }

    let outcome = match v.outcome {
        Conclusion::Sustainable => "supsync can keep the sync alive",
        Conclusion::CannotSustain => "supsync cannot keep the sync alive as configured",
        Conclusion::ApiNotVerified => "not verified: the API did not answer as configured",
        Conclusion::NoToken if f.session.is_some() => "no session with this configuration",
        Conclusion::NoToken => "no token with this configuration",
    };
    section(
        &mut out,
        &format!("Verdict (exit {}: {outcome})", v.exit_code),
    );
    wrap(&mut out, "  ", 2, &cited(&v.summary));

    if !v.clocks.is_empty() {
        section(
            &mut out,
            &format!(
                "What ends {}s within the {} s sync, shortest first",
                if f.session.is_some() {
                    "session"
                } else {
                    "token"
                },
                f.sync_duration_secs
            ),
        );
        for (i, c) in v.clocks.iter().enumerate() {
            let head = format!("{} [{}]", c.what, c.cites.join(", "));
            let mark = if c.kills { "KILLS THE SYNC: " } else { "" };
            wrap(&mut out, &format!("  {}. {mark}", i + 1), 5, &head);
            if let Some(h) = &c.handled {
                wrap(&mut out, "     handled: ", 14, h);
            }
            if let Some(fix) = &c.fix {
                wrap(
                    &mut out,
                    &format!("     fix ({}): ", fix.who),
                    8,
                    &fix.change,
                );
            }
        }
    }

    section(&mut out, "What to change");
    for l in &v.changes {
        wrap(&mut out, "  - ", 4, &cited(l));
    }
    if !v.conflicts.is_empty() {
        section(
            &mut out,
            "Findings that disagree, and which the verdict trusts",
        );
        for c in &v.conflicts {
            let ids = if c.findings.is_empty() {
                String::new()
            } else {
                format!(
                    " [{}; trusted: {}]",
                    c.findings.join(", "),
                    if c.trusted.is_empty() {
                        "none".to_string()
                    } else {
                        c.trusted.join(", ")
                    }
                )
            };
            wrap(&mut out, "  - ", 4, &format!("{}{ids}", c.text));
        }
    }
    if !v.unknowns.is_empty() {
        section(&mut out, "Not measured");
        for l in &v.unknowns {
            wrap(&mut out, "  - ", 4, &cited(l));
        }
    }
    if !v.reasons.is_empty() {
        section(&mut out, "Also found");
        for l in &v.reasons {
            wrap(&mut out, "  - ", 4, &cited(l));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::layout::WIDTH;
    use super::*;

    #[test]
    fn wraps_long_lines_with_an_indent() {
        let mut out = String::new();
        let text = "word ".repeat(60);
        wrap(&mut out, "  - ", 4, &text);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| l.chars().count() <= WIDTH));
        assert!(lines[1].starts_with("    word"));
    }
}
