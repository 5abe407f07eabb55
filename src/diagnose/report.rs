//! The diagnosis as text for a terminal, or as one JSON object. Both read only the
//! findings and the verdict, which hold fingerprints, never tokens or secrets.

use std::fmt::Write as _;

use super::Diagnosis;
use super::analysis::IdleConclusion;
use super::findings::{CallFinding, ConnectionOutcome, Findings, ScopeTtl};

/// `--json`: the findings and the verdict as one object.
pub fn json(d: &Diagnosis) -> serde_json::Result<String> {
    serde_json::to_string_pretty(d)
}

fn secs(v: Option<u64>) -> String {
    v.map_or_else(|| "not given".into(), |s| format!("{s} s"))
}

fn row(out: &mut String, label: &str, value: impl AsRef<str>, note: impl AsRef<str>) {
    let note = note.as_ref();
    let line = if note.is_empty() {
        format!("  {label:<22} {}", value.as_ref())
    } else {
        format!("  {label:<22} {:<24} {note}", value.as_ref())
    };
    let _ = writeln!(out, "{}", line.trim_end());
}

fn call_text(c: &CallFinding) -> String {
    match (c.status, c.header_expires_in_secs) {
        (Some(s), Some(h)) => format!("HTTP {s}, X-Token-Expires-In {h} s"),
        (Some(s), None) => format!("HTTP {s}, no X-Token-Expires-In"),
        (None, _) => "no answer".into(),
    }
}

/// The report for a terminal: findings side by side, then the verdict.
pub fn text(d: &Diagnosis) -> String {
    let f = &d.findings;
    let v = &d.verdict;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "supsync diagnose: {} (client {}, token endpoint {})\n",
        f.base_url, f.client_id, f.token_url
    );
    match &f.token {
        None => {
            let _ = writeln!(out, "Token for scopes \"{}\"", f.requested_scopes.join(" "));
            if let Some(e) = &f.token_error {
                row(&mut out, "refused", &e.message, "");
            }
        }
        Some(_) => findings_text(&mut out, d),
    }
    let _ = writeln!(out, "\nVerdict");
    let _ = writeln!(out, "  {}", v.summary);
    if !v.reasons.is_empty() {
        let _ = writeln!(out, "\nWhy");
        for r in &v.reasons {
            let _ = writeln!(out, "  - {r}");
        }
    }
    if !v.advice.is_empty() {
        let _ = writeln!(out, "\nWhat to change");
        for a in &v.advice {
            let _ = writeln!(out, "  - {a}");
        }
    }
    out
}

fn findings_text(out: &mut String, d: &Diagnosis) {
    let f: &Findings = &d.findings;
    let v = &d.verdict;
    let Some(t) = &f.token else { return };
    let _ = writeln!(
        out,
        "Token for the configured scopes \"{}\"",
        f.requested_scopes.join(" ")
    );
    let ttl_note = match t.expires_in_secs {
        Some(e) if e < f.expected_ttl_secs => {
            format!("expected {} s: SHORTER", f.expected_ttl_secs)
        }
        _ => format!("expected {} s", f.expected_ttl_secs),
    };
    row(out, "expires_in", secs(t.expires_in_secs), ttl_note);
    if let Some(src) = t
        .lifetime_source
        .filter(|s| *s != crate::auth::status::LifetimeSource::ExpiresIn)
    {
        row(out, "lifetime taken from", src.to_string(), "");
    }
    let granted = match &t.granted_scopes {
        Some(g) => g.join(" "),
        None => "not stated (means: as requested)".into(),
    };
    let scope_note = if t.missing_scopes.is_empty() {
        String::new()
    } else {
        format!("NOT granted: {}", t.missing_scopes.join(" "))
    };
    row(out, "granted scope", granted, scope_note);
    let kind = if t.jwt.is_some() { "JWT" } else { "opaque" };
    row(
        out,
        "access token",
        format!("{} ({kind})", t.fingerprint),
        format!("fetched in {:.3} s", t.request_secs),
    );
    if let Some(c) = &t.first_call {
        row(
            out,
            "first API call",
            call_text(c),
            c.error.as_deref().unwrap_or(""),
        );
    }
    if let Some(j) = &t.jwt {
        let _ = writeln!(out, "\nJWT claims (decoded WITHOUT signature verification)");
        row(
            out,
            "iat / exp",
            format!("{} / {}", opt(j.iat), opt(j.exp)),
            j.lifetime_secs()
                .map(|l| format!("exp - iat = {l} s"))
                .unwrap_or_default(),
        );
        row(out, "scope", j.scope.as_deref().unwrap_or("-"), "");
    }

    let _ = writeln!(out, "\nTTL by scope");
    let scope_row = |out: &mut String, label: &str, s: &ScopeTtl| {
        let note = match (&s.error, v.shortening_scope.as_deref()) {
            (Some(e), _) => format!("refused: {e}"),
            (None, Some(sc)) if sc == s.scope => "<- shortens the token".into(),
            _ => String::new(),
        };
        row(out, label, secs(s.expires_in_secs), note);
    };
    scope_row(out, "(no scope)", &f.scope_ttls.no_scope);
    for s in &f.scope_ttls.alone {
        scope_row(out, &format!("{} alone", s.scope), s);
    }
    row(out, "all together", secs(f.scope_ttls.all_secs), "");

    let _ = writeln!(out, "\nRefresh token");
    match (&t.refresh_token, f.refresh.ok) {
        (None, _) => row(
            out,
            "issued",
            "no",
            "RFC 6749 §4.4.3: client credentials SHOULD NOT get one",
        ),
        (Some(fp), ok) => {
            row(
                out,
                "issued",
                format!("yes ({fp})"),
                format!("refresh_expires_in {}", secs(t.refresh_expires_in_secs)),
            );
            match ok {
                Some(true) => {
                    let rot = if f.refresh.rotated == Some(true) {
                        "rotates"
                    } else {
                        "does not rotate"
                    };
                    row(
                        out,
                        "one refresh",
                        format!("works, {rot}"),
                        format!(
                            "after {:.1} s: expires_in {}, refresh_expires_in {}",
                            f.refresh.after_secs.unwrap_or(0.0),
                            secs(f.refresh.expires_in_secs),
                            secs(f.refresh.refresh_expires_in_secs)
                        ),
                    );
                }
                Some(false) => row(
                    out,
                    "one refresh",
                    "refused",
                    f.refresh.error.as_deref().unwrap_or(""),
                ),
                None => {}
            }
        }
    }
    row(
        out,
        "new session",
        if f.new_session.ok { "works" } else { "refused" },
        f.new_session.error.as_deref().unwrap_or(""),
    );

    let _ = writeln!(
        out,
        "\nIdle window (probe token: {}, TTL {})",
        f.idle_probe.token,
        secs(f.idle_probe.token_ttl_secs)
    );
    if let Some(c) = &f.idle_probe.first {
        row(out, "first call", call_text(c), "");
    }
    if let Some(c) = &f.idle_probe.second {
        row(
            out,
            format!("after {:.1} s idle", f.idle_probe.waited_secs).as_str(),
            call_text(c),
            c.error.as_deref().unwrap_or(""),
        );
    }
    let reading = match &v.idle {
        IdleConclusion::Sliding { secs } => {
            format!("slides back up: idle window of about {secs} s")
        }
        IdleConclusion::FixedEnd {
            after_start_secs, ..
        } => format!(
            "keeps falling below the TTL: a fixed end about {after_start_secs} s into the session"
        ),
        IdleConclusion::TtlOnly { secs } => {
            format!("tracks the TTL: nothing shorter than {secs} s")
        }
        IdleConclusion::DiedWhileIdle { secs, .. } => {
            format!("the token died unused: idle window of at most {secs} s")
        }
        IdleConclusion::Unknown { why } => format!("not measured: {why}"),
    };
    row(out, "reading", reading, "");

    let _ = writeln!(out, "\nSession limit");
    match &v.session_limit {
        Some(s) => {
            row(
                out,
                "absolute end",
                format!("about {} s", s.secs),
                "after the session starts",
            );
            for e in &s.evidence {
                let _ = writeln!(out, "    {e}");
            }
        }
        None => row(out, "absolute end", "not observed", ""),
    }

    let _ = writeln!(out, "\nClocks and connections");
    let skew =
        |s: Option<i64>| s.map_or_else(|| "not available".into(), |s| format!("{s:+} s (±1 s)"));
    row(
        out,
        "server Date skew",
        skew(f.clock_skew.date_skew_secs),
        "positive: server ahead",
    );
    row(
        out,
        "JWT iat skew",
        skew(f.clock_skew.jwt_iat_skew_secs),
        "",
    );
    let conn = match f.connection.outcome {
        ConnectionOutcome::NotObserved => format!(
            "not observed (a connection idle {:.0} s still worked)",
            f.connection.idle_secs
        ),
        ConnectionOutcome::IdleConnectionCut => {
            "an idle connection was cut; a fresh one worked: not the token".into()
        }
        ConnectionOutcome::RandomDrops => {
            "a connection dropped, but not repeatably after idling".into()
        }
        ConnectionOutcome::NotTested => "not tested".into(),
    };
    row(out, "idle connection cut", conn, "");
    if let Some(detail) = &f.connection.detail {
        let _ = writeln!(out, "    {detail}");
    }
}

fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}
