//! Findings on how the server ends things besides its clocks: the answer to a dead token
//! (the expiry signal: a 401, a 403, or a 200 carrying an error; docs/API.md §2.5) and a
//! refresh refused as too early (the refresh window, §1.3).

use super::claim::{Claim, Collector, Death, Signal, SignalKind, Source, Window, noun, shown};
use super::findings::{
    CallFinding, DeadHow, Findings, RefreshWindowFinding, SignalFinding, TryOutcome,
};

pub(super) fn collect(c: &mut Collector, f: &Findings) {
    if let Some(s) = &f.expiry_signal {
        signal(c, f, s);
    }
    if let Some(w) = &f.refresh.too_early {
        window(c, f, w);
    }
}

fn kind(call: &CallFinding) -> SignalKind {
    match call.status {
        Some(401) => SignalKind::Status401,
        Some(403) => SignalKind::Status403,
        Some(_) if call.is_refusal() => SignalKind::Body200,
        _ => SignalKind::NotARefusal,
    }
}

/// The answer in a few words: `403 {"error":"token_expired"} "Token revoked"`.
fn answer(call: &CallFinding) -> String {
    let Some(status) = call.status else {
        return format!(
            "no answer ({})",
            call.error.as_deref().unwrap_or("no reason")
        );
    };
    let mut words = status.to_string();
    match &call.error_at {
        Some(at) if call.is_refusal() && !matches!(status, 401 | 403) => {
            words.push_str(&format!(" with {}", shown(at)))
        }
        Some(at) => words.push_str(&format!(" {}", shown(at))),
        None if call.is_success() => words.push_str(" without an error"),
        None => {}
    }
    if let Some(d) = &call.error {
        words.push_str(&format!(" \"{d}\""));
    }
    words
}

fn signal(c: &mut Collector, f: &Findings, s: &SignalFinding) {
    let call = &s.call;
    let kind = kind(call);
    let rules = call.expired_when.clone().unwrap_or_default();
    let n = noun(f);
    let (how, whose) = match &s.how {
        DeadHow::RefusedInUse { which } => (Death::RefusedInUse, format!("a dead {n} ({which})")),
        DeadHow::Expired { ttl_secs } => (
            Death::Expired,
            format!("a dead {n} (left unused past its {ttl_secs} s expires_in)"),
        ),
        DeadHow::NeverIssued => (
            Death::NeverIssued,
            format!("a {n} this server never issued"),
        ),
    };
    let mut says = format!("{whose} was answered {}", answer(call));
    match kind {
        SignalKind::Status401 => {}
        SignalKind::Status403 | SignalKind::Body200 => {
            says.push_str(" — not 401; ");
            says.push_str(&match (&rules.matched, f.expired_when.is_empty()) {
                (Some(r), _) => format!("auth.expired_when rule \"{r}\" matches it"),
                (None, true) => "auth.expired_when has no rules".into(),
                (None, false) => "no auth.expired_when rule matches it".into(),
            });
        }
        SignalKind::NotARefusal => says.push_str(&format!(": not an answer that refuses a {n}")),
    }
    if let Some(left) = s.shortest_left_secs {
        says.push_str(&format!(
            " (no {n} ran out within --wait-secs {}: the shortest had {left} s left)",
            f.wait_secs
        ));
    }
    c.add(
        Source::ExpirySignal,
        says,
        Claim::ExpirySignal(Signal {
            how,
            form: kind,
            status: call.status,
            error_at: call.error_at.clone(),
            matched_rule: rules.matched,
            rule: rules.suggested,
            shortest_left_secs: s.shortest_left_secs,
        }),
    );
}

/// The window a too-early refusal and the tries after it tell.
pub(super) fn reading(w: &RefreshWindowFinding) -> Window {
    let stated = w.stated_secs();
    let early = w.too_early_left_secs();
    let accepted = w.accepted_left_secs();
    let measured = accepted
        .map(f64::floor)
        .filter(|s| *s >= 1.0)
        .map(|s| s as u64);
    // A refusal more than a second inside the named window: the words were wrong.
    let contradicted = stated.is_some_and(|n| early.is_some_and(|e| e < n as f64 - 1.0));
    Window {
        stated_secs: stated,
        too_early_left_secs: early,
        accepted_left_secs: accepted,
        secs: if contradicted {
            measured
        } else {
            stated.or(measured)
        },
    }
}

fn window(c: &mut Collector, f: &Findings, w: &RefreshWindowFinding) {
    let r = reading(w);
    let lefts = |pred: fn(&TryOutcome) -> bool| {
        w.tries
            .iter()
            .filter(|t| pred(&t.outcome))
            .map(|t| format!("{:.1} s", t.left_secs))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut says = format!(
        "a refresh with {} left was refused as too early (\"{}\")",
        lefts(|o| matches!(o, TryOutcome::TooEarly { .. })),
        w.said
    );
    if let Some(a) = r.accepted_left_secs {
        says.push_str(&format!("; asked again with {a:.1} s left it was accepted"));
    }
    if let Some(TryOutcome::Failed { error }) = w.tries.last().map(|t| &t.outcome) {
        says.push_str(&format!("; asked again it was refused: {error}"));
    }
    says.push_str(&match (r.secs, r.stated_secs) {
        (Some(n), Some(s)) if n == s => format!(": a refresh window of {n} s, as the server says"),
        (Some(n), Some(s)) => {
            format!(": a refresh window of at least {n} s, though the server says {s} s")
        }
        (Some(n), None) => format!(": a refresh window of at least {n} s (the server named none)"),
        (None, _) if r.accepted_left_secs.is_some() => {
            ": a refresh window of under a second".to_string()
        }
        (None, _) => format!(
            ": the server named no window, and asking again inside it did not fit in \
             --wait-secs {}",
            f.wait_secs
        ),
    });
    c.add(Source::RefreshWindow, says, Claim::RefreshWindow(r));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::evidence::findings::{ErrorAt, WindowTry};

    fn w(tries: &[(f64, TryOutcome)]) -> RefreshWindowFinding {
        RefreshWindowFinding {
            said: "refresh too early".into(),
            tries: tries
                .iter()
                .map(|(l, o)| WindowTry {
                    left_secs: *l,
                    outcome: o.clone(),
                })
                .collect(),
        }
    }

    fn early(n: Option<u64>) -> TryOutcome {
        TryOutcome::TooEarly { within_secs: n }
    }

    #[test]
    fn the_window_is_the_named_one_unless_the_tries_deny_it() {
        let named = reading(&w(&[(16.9, early(Some(2)))]));
        assert_eq!((named.stated_secs, named.secs), (Some(2), Some(2)));
        let confirmed = reading(&w(&[(16.9, early(Some(2))), (1.0, TryOutcome::Accepted)]));
        assert_eq!(confirmed.secs, Some(2));
        assert_eq!(confirmed.accepted_left_secs, Some(1.0));
        // Named 10 s, refused with 4 s left, accepted with 2.3 s: at least 2 s.
        let wrong = reading(&w(&[
            (30.0, early(Some(10))),
            (4.0, early(Some(10))),
            (2.3, TryOutcome::Accepted),
        ]));
        assert_eq!(wrong.secs, Some(2));
        // Named none: measured, or unknown.
        let measured = reading(&w(&[
            (16.0, early(None)),
            (8.0, early(None)),
            (4.0, TryOutcome::Accepted),
        ]));
        assert_eq!(
            (measured.secs, measured.too_early_left_secs),
            (Some(4), Some(8.0))
        );
        assert_eq!(reading(&w(&[(16.0, early(None))])).secs, None);
        assert_eq!(
            reading(&w(&[(16.0, early(None)), (0.6, TryOutcome::Accepted)])).secs,
            None
        );
    }

    #[test]
    fn a_body_error_is_shown_as_the_json_it_was() {
        let at = |p: &str, v: Option<serde_json::Value>| ErrorAt {
            pointer: p.into(),
            value: v,
        };
        assert_eq!(
            shown(&at("/error", Some("token_expired".into()))),
            r#"{"error":"token_expired"}"#
        );
        assert_eq!(
            shown(&at("/error/code", Some("TOKEN_EXPIRED".into()))),
            r#"{"error":{"code":"TOKEN_EXPIRED"}}"#
        );
        assert_eq!(
            shown(&at("/errors/0/type", Some(4011.into()))),
            r#"{"errors":[{"type":4011}]}"#
        );
        assert_eq!(shown(&at("/error", None)), r#"{"error":"…"}"#);
    }
}
