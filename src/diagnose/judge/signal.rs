//! The verdict on the expiry signal and the refresh window (pure, from the findings
//! alone): whether supsync renews on the answer a dead token gets, the
//! `auth.expired_when` rule to add when it would not, and the refresh window to set.

use crate::diagnose::verdict::SignalVerdict;

use crate::diagnose::evidence::shown;
use crate::diagnose::evidence::{Claim, Death, Evidence, Signal, SignalKind};
use crate::diagnose::verdict::{Clock, ClockKind, Context, Fix, Line, Verdict, Who};

/// The rules as a TOML list, the new one last.
fn toml_list(rules: &[String], new: &str) -> String {
    let all: Vec<String> = rules
        .iter()
        .map(String::as_str)
        .chain([new])
        .map(|r| serde_json::Value::String(r.to_string()).to_string())
        .collect();
    format!("[{}]", all.join(", "))
}

/// The answer in words: `403 {"error":"token_expired"}`, `200 with {"error":{…}}`.
fn answered(s: &Signal) -> String {
    let status = s.status.map_or("no answer".to_string(), |c| c.to_string());
    match (&s.error_at, s.form) {
        (Some(at), SignalKind::Body200) => format!("{status} with {}", shown(at)),
        (Some(at), _) => format!("{status} {}", shown(at)),
        (None, _) => status,
    }
}

/// An answer to a dead credential that supsync does not take for dead: the calls that
/// meet it fail, so it kills the sync until the fix is made (untimed: it bites whenever a
/// credential dies in use).
fn unrecognised(what: String, fix: Fix, cites: Vec<String>) -> Clock {
    Clock {
        kind: ClockKind::ExpirySignal,
        secs: None,
        what,
        kills: true,
        handled: None,
        fix: Some(fix),
        cites,
    }
}

/// One line per expiry-signal finding; the first one is the verdict's `expiry_signal`.
pub(super) fn expiry_signal(ctx: &Context, ev: &[Evidence], v: &mut Verdict) {
    for e in ev {
        let Claim::ExpirySignal(s) = &e.claim else {
            continue;
        };
        let cite = vec![e.id.clone()];
        let n = ctx.noun();
        let renews = ctx.renews();
        let renewing = match ctx.session {
            true => "logging in again",
            false => "renewing the token",
        };
        let (whose, whose_mid) = match s.how {
            Death::NeverIssued => (
                format!("A {n} this server never issued"),
                format!("a {n} this server never issued"),
            ),
            _ => (format!("A dead {n}"), format!("a dead {n}")),
        };
        let what = answered(s);
        let mut handled = s.form == SignalKind::Status401;
        let mut rule = None;
        match (s.form, &s.matched_rule, &s.rule) {
            (SignalKind::Status401, ..) => v.reasons.push(Line::new(
                format!(
                    "{whose} is answered 401{}: supsync {renews} and replays the call (no \
                     auth.expired_when rule needed).",
                    if s.how == Death::NeverIssued {
                        format!(
                            " (no {n} ran out in the probe's time; servers mostly answer an \
                             expired one alike)"
                        )
                    } else {
                        String::new()
                    }
                ),
                cite.clone(),
            )),
            (SignalKind::NotARefusal, ..) => v.unknowns.push(Line::new(
                format!(
                    "How the API answers a dead {n}: not seen. {whose} was answered {what}{}. \
                     `supsync diagnose --wait-secs {}` waits for a real {n} to run out.",
                    if s.status.is_some_and(|c| (200..300).contains(&c)) {
                        format!(": the health path does not check {n}s")
                    } else {
                        String::new()
                    },
                    wait_for(ctx, s)
                ),
                cite.clone(),
            )),
            (_, Some(matched), _) => {
                handled = true;
                v.reasons.push(Line::new(
                    format!(
                        "{whose} is answered {what}, not 401; auth.expired_when rule \
                         \"{matched}\" matches it, so supsync {renews} and replays the call \
                         as after a 401."
                    ),
                    cite.clone(),
                ));
            }
            (_, None, Some(r)) => {
                rule = Some(r.clone());
                let caution = if r.contains(' ') {
                    String::new()
                } else {
                    format!(
                        " The answer names no error to match on, so this rule takes every 403 \
                         for a dead {n}."
                    )
                };
                v.clocks.push(unrecognised(
                    format!("{whose_mid} is answered {what}, not 401, and no rule matches it"),
                    Fix {
                        who: Who::SupsyncConfig,
                        change: format!(
                            "Set auth.expired_when = {}: {whose_mid} is answered {what}, not \
                             401, and no rule matches it; without one supsync does not see the \
                             {n} is dead, and the call fails instead of {renewing} and \
                             replaying it.{caution}",
                            toml_list(&ctx.expired_when, r)
                        ),
                    },
                    cite.clone(),
                ));
            }
            (_, None, None) => v.clocks.push(unrecognised(
                format!("{whose_mid} is answered {what}, which no rule can match"),
                Fix {
                    who: Who::ServerAdmin,
                    change: format!(
                        "{whose} is answered {what}: no auth.expired_when rule can match it \
                         (a rule needs a 401, a 403, or a 200 with an error code in its body), \
                         so the call fails instead of {renewing}. Have the API answer a dead \
                         {n} with 401, or with an error code."
                    ),
                },
                cite.clone(),
            )),
        }
        // A rule made from a stand-in is worth confirming on a token that really ran out.
        if s.how == Death::NeverIssued
            && matches!(s.form, SignalKind::Status403 | SignalKind::Body200)
        {
            v.unknowns.push(Line::new(
                format!(
                    "An expired {n}'s answer: not watched (no {n} ran out within \
                     --wait-secs {}). The answer above is to a {n} the server never issued, \
                     which most servers answer alike; `supsync diagnose --wait-secs {}` \
                     watches one run out.",
                    ctx.wait_secs,
                    wait_for(ctx, s)
                ),
                cite.clone(),
            ));
        }
        if v.expiry_signal.is_none() {
            v.expiry_signal = Some(SignalVerdict {
                form: s.form,
                handled,
                rule,
                cites: cite,
            });
        }
    }
}

/// A `--wait-secs` that covers the shortest-lived token with a margin.
fn wait_for(ctx: &Context, s: &Signal) -> u64 {
    s.shortest_left_secs
        .map_or(ctx.wait_secs.max(1) * 6, |l| l + 5)
}

/// The refresh window: the shortest one the findings tell, against
/// `auth.refresh_window_secs` and `auth.refresh_margin_secs`.
pub(super) fn refresh_window(
    ctx: &Context,
    ev: &[Evidence],
    v: &mut Verdict,
    changes: &mut Vec<Line>,
) {
    let windows: Vec<(&Evidence, &crate::diagnose::evidence::Window)> = ev
        .iter()
        .filter_map(|e| match &e.claim {
            Claim::RefreshWindow(w) => Some((e, w)),
            _ => None,
        })
        .collect();
    if windows.is_empty() {
        return;
    }
    let all: Vec<String> = windows.iter().map(|(e, _)| e.id.clone()).collect();
    let Some(n) = windows.iter().filter_map(|(_, w)| w.secs).min() else {
        let left = windows
            .iter()
            .filter_map(|(_, w)| w.too_early_left_secs)
            .fold(0.0, f64::max);
        v.unknowns.push(Line::new(
            format!(
                "Refresh window: a refresh was refused as too early and the server named no \
                 window. `supsync diagnose --wait-secs {}` asks again inside it; until \
                 auth.refresh_window_secs is set, supsync learns it from each refusal (half \
                 its margin at a time).",
                left.ceil() as u64 + 5
            ),
            all,
        ));
        return;
    };
    v.refresh_window_secs = Some(n);
    let cites: Vec<String> = windows
        .iter()
        .filter(|(_, w)| w.secs == Some(n))
        .map(|(e, _)| e.id.clone())
        .collect();
    let m = ctx.refresh_margin_secs;
    let margin = if m < n {
        format!("auth.refresh_margin_secs ({m} s) fits inside it")
    } else {
        format!(
            "auth.refresh_margin_secs ({m} s) does not fit inside it: with the window set \
             supsync renews {:.1} s before expiry instead (three quarters of the window)",
            n as f64 * 0.75
        )
    };
    let c = ctx.refresh_window_secs;
    let set = |why: String| {
        Line::new(
            format!(
                "[{}] Set auth.refresh_window_secs = {n}{why}: the token endpoint refuses a \
                 refresh earlier than {n} s before the token's expiry; {margin}.",
                Who::SupsyncConfig,
            ),
            cites.clone(),
        )
    };
    if c == 0 {
        changes.push(set(String::new()));
    } else if c > n {
        changes.push(set(format!(
            " (now {c}: renewals planned for a {c} s window come too early)"
        )));
    } else if c == n {
        v.reasons.push(Line::new(
            format!("auth.refresh_window_secs = {n} is the server's refresh window; {margin}."),
            cites,
        ));
    } else {
        v.reasons.push(Line::new(
            format!(
                "auth.refresh_window_secs = {c} lies inside the server's {n} s refresh window: \
                 renewals are accepted ({n} would leave them more room); {margin}."
            ),
            cites,
        ));
    }
}
