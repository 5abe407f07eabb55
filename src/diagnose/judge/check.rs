//! Holds a verdict to its findings: every line cites findings that exist, and no finding
//! says something the verdict denies unless a conflict names it as not trusted. `verdict`
//! runs it on every diagnosis (and reports what it finds); the property test runs it on
//! constructed findings.

use crate::diagnose::evidence::{Claim, Evidence, SignalKind};
use crate::diagnose::verdict::{ClockKind, Conclusion, Context, Line, Verdict};

/// What in `v` the findings `ev` contradict; empty when they agree.
pub fn contradictions(ctx: &Context, ev: &[Evidence], v: &Verdict) -> Vec<String> {
    let mut out = Vec::new();
    let known = |id: &String| ev.iter().any(|e| &e.id == id);
    let distrusted = |id: &str| {
        v.conflicts
            .iter()
            .any(|c| c.findings.iter().any(|f| f == id) && !c.trusted.iter().any(|t| t == id))
    };
    let mut lines = vec![("summary", &v.summary)];
    lines.extend(v.changes.iter().map(|l| ("change", l)));
    lines.extend(v.reasons.iter().map(|l| ("reason", l)));
    lines.extend(v.unknowns.iter().map(|l| ("unknown", l)));
    for (kind, l) in &lines {
        if l.cites.is_empty() && !ev.is_empty() {
            out.push(format!("{kind} \"{}\" cites no finding", l.text));
        }
        if let Some(bad) = l.cites.iter().find(|c| !known(c)) {
            out.push(format!("{kind} cites {bad}, which does not exist"));
        }
    }
    for c in &v.clocks {
        if c.cites.is_empty() || !c.cites.iter().all(known) {
            out.push(format!("clock {:?} lacks valid citations", c.kind));
        }
        if c.kills && c.fix.is_none() {
            out.push(format!(
                "clock {:?} kills the sync but names no fix",
                c.kind
            ));
        }
        if c.kind == ClockKind::Idle
            && c.cites
                .iter()
                .any(|id| is(ev, id, |c| matches!(c, Claim::Revoked { .. })))
        {
            out.push("an idle window rests on a revocation".into());
        }
    }
    let kills = v.clocks.iter().any(|c| c.kills);
    match v.outcome {
        Conclusion::Sustainable if kills => out.push("green verdict with a killing clock".into()),
        Conclusion::CannotSustain | Conclusion::ApiNotVerified if !kills => {
            out.push("exit 3 without a killing clock".into())
        }
        _ => {}
    }
    // A fix that says calls will fail is a sync that cannot be kept alive as configured.
    if !kills
        && let Some(l) = v
            .changes
            .iter()
            .find(|l| l.text.contains("fails instead of") || l.text.contains("calls fail"))
    {
        out.push(format!(
            "a change says calls will fail, yet no clock kills the sync: \"{}\"",
            l.text
        ));
    }
    let nothing = v
        .changes
        .iter()
        .any(|l| l.text.starts_with("Nothing to change"));
    if nothing && (kills || v.changes.len() > 1 || v.clocks.iter().any(|c| c.fix.is_some())) {
        out.push("\"nothing to change\" beside a change".into());
    }
    if v.outcome != Conclusion::Sustainable && nothing {
        out.push("a failing verdict with nothing to change".into());
    }
    if let Some(k) = v.killer {
        let first_kill = v.clocks.iter().find(|c| c.kills).map(|c| c.kind);
        if first_kill.is_some_and(|f| f != k) {
            out.push("the killer is not the first killing clock".into());
        }
    }
    let keepalive_advice =
        |l: &str| l.contains("auth.keepalive_secs =") || l.contains("auth.idle_timeout_secs =");
    let sync = ctx.sync_secs;

    for e in ev {
        if distrusted(&e.id) {
            continue;
        }
        let id = &e.id;
        match &e.claim {
            Claim::TokenRefused { .. } | Claim::ClientAuthMismatch { .. }
                if v.outcome != Conclusion::NoToken =>
            {
                out.push(format!(
                    "{id}: no token, yet the outcome is {:?}",
                    v.outcome
                ))
            }
            Claim::FirstApiCall { ok: false, .. } if v.outcome == Conclusion::Sustainable => out
                .push(format!(
                    "{id}: the first API call failed, yet the verdict is green"
                )),
            Claim::MappingRead { ok: false, .. } if v.outcome == Conclusion::Sustainable => out
                .push(format!(
                    "{id}: the first page does not fit the mapping, yet the verdict is green"
                )),
            Claim::Revoked { .. } => {
                if !v
                    .clocks
                    .iter()
                    .any(|c| c.kind == ClockKind::Revocation && c.kills)
                {
                    out.push(format!(
                        "{id}: a revocation without a killing revocation clock"
                    ));
                }
                if v.idle_window_secs.is_none()
                    && v.changes.iter().any(|l| keepalive_advice(&l.text))
                {
                    out.push(format!("{id}: keep-alive advice for a revocation"));
                }
            }
            Claim::Ttl { secs } if v.token_lifetime_secs.is_some_and(|t| t.abs_diff(*secs) > 2) => {
                out.push(format!(
                    "{id}: TTL {secs} s, verdict {:?}",
                    v.token_lifetime_secs
                ));
            }
            Claim::Ttl { secs }
                if *secs <= sync
                    && !v.clocks.iter().any(|c| {
                        c.kind == ClockKind::Ttl && c.secs.is_some_and(|s| s.abs_diff(*secs) <= 2)
                    }) =>
            {
                out.push(format!(
                    "{id}: a {secs} s TTL within the sync is not among the clocks"
                ));
            }
            Claim::IdleAtMost { died_secs, .. }
                if v.idle_window_secs.is_none_or(|w| w >= *died_secs) =>
            {
                out.push(format!(
                    "{id}: a session died after {died_secs} s unused, yet the verdict's idle \
                     window is {:?}",
                    v.idle_window_secs
                ));
            }
            Claim::IdleWindow { secs } => {
                if v.idle_window_secs.is_none_or(|w| w.abs_diff(*secs) > 2) {
                    out.push(format!(
                        "{id}: idle window {secs} s, verdict {:?}",
                        v.idle_window_secs
                    ));
                }
                if *secs <= sync && !v.clocks.iter().any(|c| c.kind == ClockKind::Idle) {
                    out.push(format!(
                        "{id}: an idle window within the sync is not among the clocks"
                    ));
                }
            }
            Claim::SessionEnd { secs } if v.session_secs.is_none_or(|s| s > *secs) => {
                out.push(format!(
                    "{id}: session end {secs} s, verdict {:?}",
                    v.session_secs
                ));
            }
            Claim::RefreshToken {
                issued: false,
                offline_access_requested: false,
                with_offline_access,
            } if *with_offline_access != Some(false)
                && !v.changes.iter().any(|l| l.text.contains("offline_access")) =>
            {
                out.push(format!(
                    "{id}: no refresh token, and offline_access is not advised"
                ))
            }
            Claim::ClockSkew { secs }
                if secs.abs() >= 5 && !v.changes.iter().any(|l| l.text.contains("NTP")) =>
            {
                out.push(format!("{id}: a {secs} s clock skew without advice"))
            }
            // A header that tracked the TTL already rules out any window that matters.
            Claim::IdleLongerThan { .. }
                if v.idle_window_secs.is_none()
                    && !ev
                        .iter()
                        .any(|e| matches!(e.claim, Claim::NothingShorterThan { .. }))
                    && !v.unknowns.iter().any(|l| l.text.contains("--probe-secs")) =>
            {
                out.push(format!("{id}: an unmeasured idle window not reported"))
            }
            Claim::NoRevocationWithin { .. }
                if !ev.iter().any(|e| matches!(e.claim, Claim::Revoked { .. }))
                    && !v.unknowns.iter().any(|l| l.text.contains("--probe-calls")) =>
            {
                out.push(format!("{id}: an untested revocation not reported"))
            }
            _ => {}
        }
    }
    signal_and_window(ctx, ev, v, &mut out);
    super::check_session::contradictions(ctx, ev, v, &mut out);
    if let Some(scope) = &v.shortening_scope
        && v.changes.iter().any(|l| l.text.contains("default TTL is"))
    {
        out.push(format!(
            "scope {scope} shortens the TTL, yet the default TTL is blamed"
        ));
    }
    out
}

/// The expiry signal and the refresh window: a dead token's answer that supsync would not
/// renew on gets its rule, one it renews on gets none, the window found is the one set.
fn signal_and_window(ctx: &Context, ev: &[Evidence], v: &Verdict, out: &mut Vec<String>) {
    let cites = |l: &Line, id: &str| l.cites.iter().any(|c| c == id);
    let mut first = true;
    for e in ev {
        let Claim::ExpirySignal(s) = &e.claim else {
            continue;
        };
        let id = e.id.as_str();
        let handled = s.form == SignalKind::Status401
            || (s.form != SignalKind::NotARefusal && s.matched_rule.is_some());
        let advised = |l: &Line| cites(l, id) && l.text.contains("auth.expired_when =");
        match (&s.rule, handled) {
            (_, true) if v.changes.iter().any(advised) => out.push(format!(
                "{id}: a rule advised for an answer supsync renews on"
            )),
            (Some(r), false) if s.form != SignalKind::NotARefusal => {
                let quoted = serde_json::Value::String(r.clone()).to_string();
                if !v
                    .changes
                    .iter()
                    .any(|l| advised(l) && l.text.contains(&quoted))
                {
                    out.push(format!("{id}: the rule {r} is not advised"));
                }
            }
            _ => {}
        }
        if s.form == SignalKind::NotARefusal && !v.unknowns.iter().any(|l| cites(l, id)) {
            out.push(format!("{id}: an unseen expiry signal not reported"));
        }
        if first {
            first = false;
            if v.expiry_signal
                .as_ref()
                .is_none_or(|x| x.form != s.form || x.handled != handled)
            {
                out.push(format!(
                    "{id}: expiry signal {:?}, verdict {:?}",
                    s.form, v.expiry_signal
                ));
            }
        }
    }
    if first && v.expiry_signal.is_some() {
        out.push("an expiry signal in the verdict without a finding".into());
    }
    let windows: Vec<(&str, Option<u64>)> = ev
        .iter()
        .filter_map(|e| match &e.claim {
            Claim::RefreshWindow(w) => Some((e.id.as_str(), w.secs)),
            _ => None,
        })
        .collect();
    let n = windows.iter().filter_map(|(_, s)| *s).min();
    if v.refresh_window_secs != n {
        out.push(format!(
            "refresh window {n:?} in the findings, {:?} in the verdict",
            v.refresh_window_secs
        ));
    }
    let cite_any = |l: &Line| windows.iter().any(|(id, _)| cites(l, id));
    match n {
        Some(n) if ctx.refresh_window_secs == 0 || ctx.refresh_window_secs > n => {
            let set = format!("auth.refresh_window_secs = {n}");
            if !v
                .changes
                .iter()
                .any(|l| cite_any(l) && l.text.contains(&set))
            {
                out.push(format!(
                    "a {n} s refresh window, yet `{set}` is not advised"
                ));
            }
        }
        None if !windows.is_empty()
            && !v
                .unknowns
                .iter()
                .any(|l| cite_any(l) && l.text.contains("--wait-secs")) =>
        {
            out.push("an unmeasured refresh window not reported".into())
        }
        _ => {}
    }
}

fn is(ev: &[Evidence], id: &str, pred: impl Fn(&Claim) -> bool) -> bool {
    ev.iter().any(|e| e.id == id && pred(&e.claim))
}
