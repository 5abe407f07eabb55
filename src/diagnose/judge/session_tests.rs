//! A session login, from findings to verdict: the idle window and the cap with the
//! settings that fit, one session per user, the lockout risk, no session at all, a probe
//! skipped to spare a running sync; and the self-check catching a verdict that drops any
//! of them.

use super::check::contradictions;
use super::verdict;
use crate::diagnose::evidence::findings::LoginFailure;
use crate::diagnose::evidence::{Claim, Death, Evidence, Signal, SignalKind, Source};
use crate::diagnose::verdict::{ClockKind, Conclusion, Context, Line, RenewalPath};
use crate::exit;

fn ctx() -> Context {
    Context {
        sync_secs: 3600,
        keepalive_secs: 60,
        refresh_margin_secs: 120,
        wait_secs: 10,
        min_workable_secs: 1.02,
        client_id: "sync-bot".into(),
        token_url: "http://qms.example/api/v1/session/login".into(),
        session: true,
        max_failed_logins: 3,
        ..Default::default()
    }
}

/// Findings `F1`, `F2`… in order.
fn ev(claims: Vec<(Source, Claim)>) -> Vec<Evidence> {
    claims
        .into_iter()
        .enumerate()
        .map(|(i, (source, claim))| Evidence {
            id: format!("F{}", i + 1),
            source,
            says: String::new(),
            claim,
        })
        .collect()
}

fn login() -> (Source, Claim) {
    (
        Source::SessionLogin,
        Claim::SessionLogin {
            logins: 2,
            borrowed: false,
        },
    )
}

fn budget(refused: u32, max: u32, lockout_after: Option<u32>) -> (Source, Claim) {
    (
        Source::LoginBudget,
        Claim::LoginBudget {
            refused,
            max,
            lockout_after,
            locked: lockout_after.is_some(),
        },
    )
}

fn dead_401() -> (Source, Claim) {
    (
        Source::ExpirySignal,
        Claim::ExpirySignal(Signal {
            how: Death::RefusedInUse,
            form: SignalKind::Status401,
            status: Some(401),
            error_at: None,
            matched_rule: None,
            rule: None,
            shortest_left_secs: None,
        }),
    )
}

fn texts(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|l| format!("{} {:?}", l.text, l.cites))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The simulator's demo session: 15 s idle, 60 s cap, one session per user.
fn demo(single: bool) -> Vec<Evidence> {
    ev(vec![
        login(),
        budget(0, 3, None),
        (Source::ExpiryHeader, Claim::IdleWindow { secs: 15 }),
        (Source::ApiRefusal, Claim::SessionEnd { secs: 60 }),
        (Source::SecondLogin, Claim::SingleSession { single }),
        dead_401(),
    ])
}

#[test]
fn idle_window_cap_and_one_session_get_the_settings_that_fit() {
    let e = demo(true);
    let mut v = verdict(&ctx(), &e);
    assert_eq!(v.outcome, Conclusion::Sustainable, "{:#?}", v.clocks);
    assert_eq!(v.exit_code, exit::OK);
    assert_eq!(v.renewal, RenewalPath::SessionLogin);
    assert_eq!(
        (v.idle_window_secs, v.session_secs, v.single_session),
        (Some(15), Some(60), Some(true))
    );
    let kinds: Vec<ClockKind> = v.clocks.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, vec![ClockKind::Idle, ClockKind::Session]);
    assert!(v.clocks.iter().all(|c| !c.kills));
    let cap = &v.clocks[1];
    assert!(cap.what.starts_with("session cap 60 s"), "{}", cap.what);
    assert!(
        cap.handled
            .as_deref()
            .is_some_and(|h| h.contains("else after the call the cap refuses")),
        "{:?}",
        cap.handled
    );
    let changes = texts(&v.changes);
    assert!(
        changes.contains("Set auth.idle_timeout_secs = 15") && changes.contains("[\"F3\"]"),
        "{changes}"
    );
    assert!(
        changes.contains("Set auth.session_limit_secs = 60: supsync then logs in again ahead")
            && changes.contains("[\"F4\"]"),
        "{changes}"
    );
    assert!(
        changes.contains(
            "The server allows one session per user: a second login as sync-bot ended the \
             first. Do not run two supsync processes with different caches"
        ) && changes.contains("[\"F5\"]"),
        "{changes}"
    );
    let reasons = texts(&v.reasons);
    assert!(
        reasons.contains("A dead session is answered 401: supsync logs in again and replays"),
        "{reasons}"
    );
    assert!(
        v.summary.text.contains("a session unused"),
        "{}",
        v.summary.text
    );
    assert!(contradictions(&ctx(), &e, &v).is_empty());

    // The self-check catches a verdict that drops the warning or the cap's setting.
    v.changes
        .retain(|l| !l.text.contains("one session per user"));
    let problems = contradictions(&ctx(), &e, &v);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("the warning is missing")),
        "{problems:?}"
    );
    let mut v = verdict(&ctx(), &e);
    for c in &mut v.clocks {
        c.fix = None;
    }
    let problems = contradictions(&ctx(), &e, &v);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`auth.session_limit_secs = 60` is not advised")),
        "{problems:?}"
    );
}

#[test]
fn a_cap_supsync_is_told_of_and_a_keepalive_inside_the_window_need_no_change() {
    let mut c = ctx();
    c.session_limit_hint_secs = 60;
    c.keepalive_secs = 5;
    let e = demo(false);
    let v = verdict(&c, &e);
    assert_eq!(v.single_session, Some(false));
    let changes = texts(&v.changes);
    assert!(changes.starts_with("Nothing to change"), "{changes}");
    let cap = v
        .clocks
        .iter()
        .find(|c| c.kind == ClockKind::Session)
        .unwrap();
    assert!(cap.fix.is_none());
    assert!(
        cap.handled.as_deref().is_some_and(
            |h| h.starts_with("auth.session_limit_secs = 60: supsync logs in again ahead")
        ),
        "{:?}",
        cap.handled
    );
    let reasons = texts(&v.reasons);
    assert!(
        reasons.contains("left the first session alive: the server allows several sessions"),
        "{reasons}"
    );
    assert!(contradictions(&c, &e, &v).is_empty());
    // A hint longer than the cap comes too late: it is corrected.
    c.session_limit_hint_secs = 90;
    let v = verdict(&c, &e);
    assert!(
        texts(&v.changes).contains("Set auth.session_limit_secs = 60 (now 90)"),
        "{}",
        texts(&v.changes)
    );
    // The self-check catches a warning given for a server that allows several sessions.
    let mut v = verdict(&ctx(), &e);
    v.changes.push(Line::new(
        "[supsync config] The server allows one session per user",
        vec!["F5".into()],
    ));
    let problems = contradictions(&ctx(), &e, &v);
    assert!(
        problems.iter().any(|p| p.contains("the warning is given")),
        "{problems:?}"
    );
}

#[test]
fn the_lockout_budget_is_held_to_the_lock_a_423_named() {
    // The server locks after 5; supsync stops after 5 too: one fewer.
    let e = ev(vec![login(), budget(2, 5, Some(5))]);
    let mut c = ctx();
    c.max_failed_logins = 5;
    let mut v = verdict(&c, &e);
    assert_eq!(v.lockout_after, Some(5));
    let changes = texts(&v.changes);
    assert!(
        changes.contains(
            "Set auth.max_failed_logins = 4: the server locks sync-bot after 5 failed logins"
        ) && changes.contains("[\"F2\"]"),
        "{changes}"
    );
    assert!(contradictions(&c, &e, &v).is_empty());
    v.changes.retain(|l| !l.text.contains("max_failed_logins"));
    assert!(
        contradictions(&c, &e, &v)
            .iter()
            .any(|p| p.contains("`auth.max_failed_logins = 4` is not advised"))
    );
    // Three stops two before the lock: said, nothing to change.
    let e = ev(vec![login(), budget(1, 3, Some(5))]);
    let v = verdict(&ctx(), &e);
    assert!(
        texts(&v.reasons).contains(
            "auth.max_failed_logins = 3 stops supsync 2 refused logins before the server locks \
             sync-bot (after 5, its 423 says)."
        ),
        "{}",
        texts(&v.reasons)
    );
    assert!(contradictions(&ctx(), &e, &v).is_empty());
    // Refusals recorded, no threshold named: the risk is said in words.
    let e = ev(vec![login(), budget(2, 3, None)]);
    let v = verdict(&ctx(), &e);
    assert!(
        texts(&v.reasons).contains("2 refused logins in a row counted for this password"),
        "{}",
        texts(&v.reasons)
    );
    // Nothing refused, nothing to say.
    let e = ev(vec![login(), budget(0, 3, None)]);
    let v = verdict(&ctx(), &e);
    assert!(!texts(&v.reasons).contains("refused login"));
}

#[test]
fn no_session_is_exit_4_with_the_fix_for_its_reason() {
    let spent = "login refused 3 times in a row for user sync-bot; no further login is tried \
                 with this password, so that no more refusals count towards locking the \
                 account (when the server locks it is not known). Fix the password, then run \
                 `supsync resume`.";
    let e = ev(vec![
        (
            Source::SessionLogin,
            Claim::LoginFailed {
                reason: LoginFailure::BudgetSpent,
                http_status: None,
                message: spent.into(),
            },
        ),
        budget(3, 3, None),
    ]);
    let mut v = verdict(&ctx(), &e);
    assert_eq!((v.outcome, v.exit_code), (Conclusion::NoToken, exit::AUTH));
    assert_eq!(v.killer, Some(ClockKind::SessionLogin));
    assert!(
        v.summary
            .text
            .starts_with(&format!("No session with this configuration: {spent}")),
        "{}",
        v.summary.text
    );
    assert!(
        texts(&v.changes).contains("Fix the session password (SUPSYNC_SESSION_PASSWORD"),
        "{}",
        texts(&v.changes)
    );
    assert!(contradictions(&ctx(), &e, &v).is_empty());
    v.outcome = Conclusion::CannotSustain;
    assert!(
        contradictions(&ctx(), &e, &v)
            .iter()
            .any(|p| p.contains("no session, yet the outcome"))
    );
    // A locked account is the server admin's to lift.
    let e = ev(vec![(
        Source::SessionLogin,
        Claim::LoginFailed {
            reason: LoginFailure::Locked,
            http_status: Some(423),
            message: "the login endpoint says user sync-bot is locked".into(),
        },
    )]);
    let v = verdict(&ctx(), &e);
    assert!(
        texts(&v.changes).contains("[server admin] The server has locked sync-bot"),
        "{}",
        texts(&v.changes)
    );
}

#[test]
fn a_running_syncs_session_is_used_and_the_second_login_skipped() {
    let why = "a live session in the cache: a second login would end a running sync's session";
    let e = ev(vec![
        (
            Source::TokenCache,
            Claim::SessionLogin {
                logins: 0,
                borrowed: true,
            },
        ),
        (Source::ExpiryHeader, Claim::IdleWindow { secs: 15 }),
        (
            Source::SecondLogin,
            Claim::SingleSessionUntested { why: why.into() },
        ),
        (Source::ProbeLimit, Claim::NoCapWithin { secs: 22 }),
    ]);
    let mut v = verdict(&ctx(), &e);
    assert_eq!(v.single_session, None);
    let unknowns = texts(&v.unknowns);
    assert!(
        unknowns.contains(&format!(
            "Whether a second login ends the first: not tested ({why})"
        )) && unknowns.contains("[\"F3\"]"),
        "{unknowns}"
    );
    assert!(unknowns.contains("The password: not tried"), "{unknowns}");
    assert!(
        unknowns.contains("Session cap: not seen; a session kept alive with calls lived 22 s"),
        "{unknowns}"
    );
    assert!(
        texts(&v.reasons).contains("diagnose used it as it is (no login, no logout)"),
        "{}",
        texts(&v.reasons)
    );
    assert!(contradictions(&ctx(), &e, &v).is_empty());
    v.unknowns.clear();
    let problems = contradictions(&ctx(), &e, &v);
    assert!(
        problems.iter().any(|p| p.contains("untested second login"))
            && problems.iter().any(|p| p.contains("cap not seen")),
        "{problems:?}"
    );
    // A sync shorter than what was seen alive needs no cap at all.
    let mut short = ctx();
    short.sync_secs = 20;
    let v = verdict(&short, &e);
    assert!(
        texts(&v.reasons).contains("Nothing ends a session kept alive within 22 s"),
        "{}",
        texts(&v.reasons)
    );
}
