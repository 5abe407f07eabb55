//! The expiry signal and the refresh window, from findings to verdict: the words of the
//! evidence, the rule and the window advised, and the self-check catching a verdict that
//! leaves them out.

use super::check::contradictions;
use super::verdict;
use crate::diagnose::evidence::findings::*;
use crate::diagnose::evidence::{self, Claim, Death, Evidence, Signal, SignalKind, Source, Window};
use crate::diagnose::verdict::{Context, Line, RenewalPath};

fn ctx() -> Context {
    Context {
        sync_secs: 3600,
        expected_ttl_secs: 3600,
        keepalive_secs: 60,
        refresh_margin_secs: 120,
        wait_secs: 10,
        min_workable_secs: 1.02,
        ..Default::default()
    }
}

fn one(source: Source, claim: Claim) -> Vec<Evidence> {
    vec![Evidence {
        id: "F1".into(),
        source,
        says: String::new(),
        claim,
    }]
}

fn forbidden(how: Death, matched: Option<&str>) -> Claim {
    Claim::ExpirySignal(Signal {
        how,
        form: SignalKind::Status403,
        status: Some(403),
        error_at: Some(ErrorAt {
            pointer: "/error".into(),
            value: Some("token_expired".into()),
        }),
        matched_rule: matched.map(str::to_string),
        rule: Some("403 /error = token_expired".into()),
        shortest_left_secs: (how == Death::NeverIssued).then_some(880),
    })
}

fn texts(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|l| format!("{} {:?}", l.text, l.cites))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_403_without_a_rule_gets_the_rule_from_the_answer() {
    let e = one(Source::ExpirySignal, forbidden(Death::RefusedInUse, None));
    let mut v = verdict(&ctx(), &e);
    let changes = texts(&v.changes);
    assert!(
        changes.contains(
            r#"Set auth.expired_when = ["403 /error = token_expired"]: a dead token is answered 403 {"error":"token_expired"}, not 401"#
        ) && changes.contains("[\"F1\"]"),
        "{changes}"
    );
    let s = v.expiry_signal.clone().unwrap();
    // The claim's own fields leave its `kind` tag alone in the JSON.
    let json = serde_json::to_value(&e[0].claim).unwrap();
    assert_eq!(
        (&json["kind"], &json["form"]),
        (&"expiry_signal".into(), &"status_403".into())
    );
    assert!(!s.handled && s.rule.as_deref() == Some("403 /error = token_expired"));
    assert!(contradictions(&ctx(), &e, &v).is_empty());
    // The self-check catches a verdict that leaves the rule out.
    v.changes.retain(|l| !l.text.contains("auth.expired_when"));
    let problems = contradictions(&ctx(), &e, &v);
    assert!(
        problems.iter().any(|p| p.contains("is not advised")),
        "{problems:?}"
    );
}

#[test]
fn a_matching_rule_is_named_and_nothing_is_advised() {
    let e = one(
        Source::ExpirySignal,
        forbidden(Death::Expired, Some("403 /error = token_expired")),
    );
    let mut v = verdict(&ctx(), &e);
    assert!(
        texts(&v.reasons).contains("rule \"403 /error = token_expired\" matches it"),
        "{:?}",
        v.reasons
    );
    assert!(!texts(&v.changes).contains("auth.expired_when"));
    assert!(v.expiry_signal.as_ref().unwrap().handled);
    assert!(contradictions(&ctx(), &e, &v).is_empty());
    v.changes.push(Line::new(
        "[supsync config] Set auth.expired_when = [\"403\"]",
        vec!["F1".into()],
    ));
    assert!(!contradictions(&ctx(), &e, &v).is_empty());
}

#[test]
fn a_200_body_rule_joins_the_rules_already_set_and_a_401_needs_none() {
    let mut c = ctx();
    c.expired_when = vec!["403 ~ expired".into()];
    let e = one(
        Source::ExpirySignal,
        Claim::ExpirySignal(Signal {
            how: Death::Expired,
            form: SignalKind::Body200,
            status: Some(200),
            error_at: Some(ErrorAt {
                pointer: "/error/code".into(),
                value: Some("TOKEN_EXPIRED".into()),
            }),
            matched_rule: None,
            rule: Some("200 /error/code = TOKEN_EXPIRED".into()),
            shortest_left_secs: None,
        }),
    );
    let v = verdict(&c, &e);
    let changes = texts(&v.changes);
    assert!(
        changes.contains(
            r#"auth.expired_when = ["403 ~ expired", "200 /error/code = TOKEN_EXPIRED"]: a dead token is answered 200 with {"error":{"code":"TOKEN_EXPIRED"}}"#
        ),
        "{changes}"
    );
    assert!(contradictions(&c, &e, &v).is_empty());

    let mut s = Signal {
        how: Death::RefusedInUse,
        form: SignalKind::Status401,
        status: Some(401),
        error_at: None,
        matched_rule: None,
        rule: None,
        shortest_left_secs: None,
    };
    let e = one(Source::ExpirySignal, Claim::ExpirySignal(s.clone()));
    let v = verdict(&ctx(), &e);
    assert!(
        texts(&v.reasons).contains("is answered 401"),
        "{:?}",
        v.reasons
    );
    assert!(v.expiry_signal.unwrap().handled);
    // A token never issued answered 200 without an error: not seen, and how to see it.
    s.how = Death::NeverIssued;
    s.form = SignalKind::NotARefusal;
    s.status = Some(200);
    s.shortest_left_secs = Some(880);
    let e = one(Source::ExpirySignal, Claim::ExpirySignal(s));
    let v = verdict(&ctx(), &e);
    let unknowns = texts(&v.unknowns);
    assert!(
        unknowns.contains("not seen") && unknowns.contains("--wait-secs 885"),
        "{unknowns}"
    );
    assert!(contradictions(&ctx(), &e, &v).is_empty());
}

#[test]
fn a_never_issued_token_stands_in_and_says_so() {
    let e = one(Source::ExpirySignal, forbidden(Death::NeverIssued, None));
    let v = verdict(&ctx(), &e);
    assert!(texts(&v.changes).contains("a token this server never issued is answered 403"));
    let unknowns = texts(&v.unknowns);
    assert!(
        unknowns.contains("An expired token's answer: not watched")
            && unknowns.contains("--wait-secs 885"),
        "{unknowns}"
    );
}

fn window(stated: Option<u64>, secs: Option<u64>) -> Vec<Evidence> {
    one(
        Source::RefreshWindow,
        Claim::RefreshWindow(Window {
            stated_secs: stated,
            too_early_left_secs: Some(16.9),
            accepted_left_secs: None,
            secs,
        }),
    )
}

#[test]
fn a_refresh_window_is_advised_against_the_configured_one() {
    let e = window(Some(2), Some(2));
    let mut v = verdict(&ctx(), &e);
    assert_eq!(v.refresh_window_secs, Some(2));
    let changes = texts(&v.changes);
    assert!(
        changes.contains("Set auth.refresh_window_secs = 2:")
            && changes.contains("auth.refresh_margin_secs (120 s) does not fit inside it")
            && changes.contains("1.5 s before expiry"),
        "{changes}"
    );
    assert_eq!(
        v.renewal,
        RenewalPath::RefreshToken,
        "refused only as too early"
    );
    assert!(contradictions(&ctx(), &e, &v).is_empty());
    v.refresh_window_secs = None;
    assert!(!contradictions(&ctx(), &e, &v).is_empty());

    let mut c = ctx();
    c.refresh_window_secs = 2;
    c.refresh_margin_secs = 1;
    let v = verdict(&c, &e);
    assert!(
        !texts(&v.changes).contains("refresh_window"),
        "{:?}",
        v.changes
    );
    assert!(
        texts(&v.reasons).contains("(1 s) fits inside it"),
        "{:?}",
        v.reasons
    );
    c.refresh_window_secs = 5;
    let v = verdict(&c, &e);
    assert!(texts(&v.changes).contains("auth.refresh_window_secs = 2 (now 5"));
    assert!(contradictions(&c, &e, &v).is_empty());
}

#[test]
fn a_window_not_named_nor_measured_is_reported_as_such() {
    let e = window(None, None);
    let v = verdict(&ctx(), &e);
    assert_eq!(v.refresh_window_secs, None);
    assert!(
        texts(&v.unknowns).contains("--wait-secs 22"),
        "{:?}",
        v.unknowns
    );
    assert!(contradictions(&ctx(), &e, &v).is_empty());
}

#[test]
fn the_evidence_quotes_the_answer_and_the_tries() {
    let call = CallFinding {
        status: Some(403),
        error: Some("Token revoked".into()),
        error_code: Some("token_expired".into()),
        error_at: Some(ErrorAt {
            pointer: "/error".into(),
            value: Some("token_expired".into()),
        }),
        expired_when: Some(RuleCheck {
            matched: None,
            suggested: Some("403 /error = token_expired".into()),
        }),
        ..Default::default()
    };
    let mut f = Findings {
        token: Some(TokenFinding::default()),
        expiry_signal: Some(SignalFinding {
            how: DeadHow::RefusedInUse {
                which: "call 4 in a row on one token".into(),
            },
            token: "#abc".into(),
            call,
            shortest_left_secs: None,
        }),
        ..Default::default()
    };
    f.refresh.too_early = Some(RefreshWindowFinding {
        said: "invalid_grant (refresh too early: … within 2 s of expiry)".into(),
        tries: vec![
            WindowTry {
                left_secs: 16.9,
                outcome: TryOutcome::TooEarly {
                    within_secs: Some(2),
                },
            },
            WindowTry {
                left_secs: 1.0,
                outcome: TryOutcome::Accepted,
            },
        ],
    });
    let ev = evidence::collect(&f);
    let says: Vec<&str> = ev.iter().map(|e| e.says.as_str()).collect();
    let signal = ev
        .iter()
        .find(|e| e.source == Source::ExpirySignal)
        .unwrap();
    assert_eq!(
        signal.says,
        "a dead token (call 4 in a row on one token) was answered 403 \
         {\"error\":\"token_expired\"} \"Token revoked\" — not 401; auth.expired_when has no rules"
    );
    let window = ev
        .iter()
        .find(|e| e.source == Source::RefreshWindow)
        .unwrap();
    assert!(
        window
            .says
            .contains("with 16.9 s left was refused as too early")
            && window
                .says
                .contains("asked again with 1.0 s left it was accepted")
            && window
                .says
                .ends_with("a refresh window of 2 s, as the server says"),
        "{says:?}"
    );
}

/// A dead credential answered in a form no rule matches: the calls that meet it fail, so
/// the verdict names it as what kills the sync, with the rule as its fix, and exits 3.
#[test]
fn an_unrecognised_dead_answer_kills_the_sync_with_its_rule_as_the_fix() {
    use crate::diagnose::verdict::{ClockKind, Conclusion};
    for how in [Death::RefusedInUse, Death::Expired, Death::NeverIssued] {
        let e = one(Source::ExpirySignal, forbidden(how, None));
        let v = verdict(&ctx(), &e);
        assert_eq!(v.outcome, Conclusion::CannotSustain, "{how:?}");
        assert_eq!(v.exit_code, crate::exit::DIAGNOSE_CANNOT_SUSTAIN, "{how:?}");
        assert_eq!(v.killer, Some(ClockKind::ExpirySignal), "{how:?}");
        let fix = v.clocks[0].fix.as_ref().map(|f| f.change.clone());
        assert!(
            fix.is_some_and(|f| f.contains(r#"auth.expired_when = ["403 /error = token_expired"]"#)),
            "{:?}",
            v.clocks
        );
        assert!(!v.self_check_failed, "{:?}", v.conflicts);
    }
    // A matching rule: handled, nothing kills.
    let e = one(
        Source::ExpirySignal,
        forbidden(Death::RefusedInUse, Some("403 /error = token_expired")),
    );
    let v = verdict(&ctx(), &e);
    assert_eq!(v.exit_code, crate::exit::OK);
    assert!(v.killer.is_none(), "{:?}", v.clocks);
}

/// A fix that says calls will fail while nothing kills the sync is a contradiction, and a
/// contradiction fails the verdict: it cannot exit 0.
#[test]
fn a_change_that_says_calls_fail_under_a_green_verdict_is_caught() {
    let e = one(Source::ExpirySignal, forbidden(Death::RefusedInUse, None));
    let mut v = verdict(&ctx(), &e);
    v.clocks.clear();
    let problems = contradictions(&ctx(), &e, &v);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("says calls will fail, yet no clock kills")),
        "{problems:?}"
    );
    v.exit_code = crate::exit::OK;
    super::held_to(&mut v, problems);
    assert!(v.self_check_failed);
    assert_eq!(v.exit_code, crate::exit::DIAGNOSE_CANNOT_SUSTAIN);
    assert!(
        v.conflicts
            .iter()
            .any(|c| c.text.starts_with("verdict check: "))
    );
}
