//! The verdict never contradicts its findings: unit cases for the classes of misses seen
//! in the field, and a property test over constructed evidence sets.

use proptest::prelude::*;

use super::check::contradictions;
use super::verdict;
use crate::diagnose::evidence::findings::ErrorAt;
use crate::diagnose::evidence::{Claim, Death, Evidence, Signal, SignalKind, Source, Window};
use crate::diagnose::verdict::{ClockKind, Conclusion, Context};

fn ctx() -> Context {
    Context {
        sync_secs: 3600,
        expected_ttl_secs: 3600,
        keepalive_secs: 60,
        refresh_margin_secs: 120,
        requested_scopes: vec!["supplier_mgmt".into(), "offline_access".into()],
        client_id: "supplier-sync".into(),
        min_workable_secs: 1.02,
        ..Default::default()
    }
}

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

fn renewals() -> Vec<(Source, Claim)> {
    vec![
        (
            Source::Refresh,
            Claim::Refresh {
                ok: true,
                rotated: Some(true),
                error: None,
            },
        ),
        (
            Source::Regrant,
            Claim::NewSession {
                ok: true,
                error: None,
            },
        ),
    ]
}

#[test]
fn a_revoked_token_is_no_idle_window_and_gets_no_keepalive_advice() {
    let mut c = renewals();
    c.push((Source::ExpiresIn, Claim::Ttl { secs: 3600 }));
    c.push((
        Source::ApiRefusal,
        Claim::Revoked {
            after_uses: Some(2),
        },
    ));
    let e = ev(c);
    let v = verdict(&ctx(), &e);
    assert_eq!(v.outcome, Conclusion::CannotSustain);
    assert_eq!(v.killer, Some(ClockKind::Revocation));
    assert_eq!(v.idle_window_secs, None);
    assert!(contradictions(&ctx(), &e, &v).is_empty());
}

#[test]
fn default_scopes_do_not_pass_for_the_default_ttl() {
    let mut c = renewals();
    c.push((Source::ExpiresIn, Claim::Ttl { secs: 900 }));
    c.push((
        Source::Scope,
        Claim::ScopeTtl {
            scope: None,
            secs: 900,
            granted: Some(vec!["supplier_mgmt".into()]),
        },
    ));
    c.push((
        Source::Scope,
        Claim::ScopeTtl {
            scope: Some("supplier_mgmt".into()),
            secs: 900,
            granted: None,
        },
    ));
    c.push((
        Source::Scope,
        Claim::ScopeTtl {
            scope: Some("offline_access".into()),
            secs: 3600,
            granted: None,
        },
    ));
    let e = ev(c);
    let v = verdict(&ctx(), &e);
    assert_eq!(v.shortening_scope.as_deref(), Some("supplier_mgmt"));
    assert_eq!(v.default_ttl_secs, Some(3600));
    assert!(!v.changes.iter().any(|l| l.text.contains("default TTL is")));
}

#[test]
fn an_api_that_never_answered_is_not_green() {
    let mut c = renewals();
    c.push((Source::ExpiresIn, Claim::Ttl { secs: 7200 }));
    c.push((
        Source::FirstApiCall,
        Claim::FirstApiCall {
            ok: false,
            status: None,
            location: None,
            error: Some("timed out".into()),
        },
    ));
    let e = ev(c);
    let v = verdict(&ctx(), &e);
    assert_eq!(v.outcome, Conclusion::ApiNotVerified);
    assert_eq!(v.exit_code, crate::exit::DIAGNOSE_CANNOT_SUSTAIN);
    assert!(v.changes[0].text.contains("proxy"), "{:?}", v.changes);
}

#[test]
fn the_check_catches_a_verdict_that_denies_its_findings() {
    let mut c = renewals();
    c.push((Source::ApiRefusal, Claim::IdleWindow { secs: 2 }));
    let e = ev(c);
    let mut v = verdict(&ctx(), &e);
    assert!(contradictions(&ctx(), &e, &v).is_empty());
    v.idle_window_secs = None;
    v.clocks.clear();
    assert!(!contradictions(&ctx(), &e, &v).is_empty());
}

fn source() -> impl Strategy<Value = Source> {
    prop_oneof![
        Just(Source::ExpiresIn),
        Just(Source::JwtClaims),
        Just(Source::ExpiryHeader),
        Just(Source::ApiRefusal),
        Just(Source::RefreshExpiresIn),
        Just(Source::Scope),
    ]
}

fn secs() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..5, 1u64..100, 100u64..8000]
}

fn scope() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("supplier_mgmt".to_string())),
        Just(Some("offline_access".to_string()))
    ]
}

fn signal() -> impl Strategy<Value = Claim> {
    let kind = prop_oneof![
        Just(SignalKind::Status401),
        Just(SignalKind::Status403),
        Just(SignalKind::Body200),
        Just(SignalKind::NotARefusal),
    ];
    let how = prop_oneof![
        Just(Death::RefusedInUse),
        Just(Death::Expired),
        Just(Death::NeverIssued),
    ];
    let rule = || {
        proptest::option::of(prop_oneof![
            Just("403 /error = token_expired".to_string()),
            Just("403".to_string()),
            Just("200 /error/code = \"X\"".to_string()),
        ])
    };
    (how, kind, rule(), rule(), proptest::option::of(0u64..5000)).prop_map(
        |(how, kind, matched_rule, rule, shortest_left_secs)| {
            Claim::ExpirySignal(Signal {
                how,
                form: kind,
                status: Some(match kind {
                    SignalKind::Status401 => 401,
                    SignalKind::Status403 => 403,
                    _ => 200,
                }),
                error_at: Some(ErrorAt {
                    pointer: "/error".into(),
                    value: Some("token_expired".into()),
                }),
                matched_rule,
                rule,
                shortest_left_secs,
            })
        },
    )
}

fn window() -> impl Strategy<Value = Claim> {
    (
        proptest::option::of(1u64..300),
        proptest::option::of(0.0f64..300.0),
        proptest::option::of(0.0f64..300.0),
        proptest::option::of(1u64..300),
    )
        .prop_map(
            |(stated_secs, too_early_left_secs, accepted_left_secs, secs)| {
                Claim::RefreshWindow(Window {
                    stated_secs,
                    too_early_left_secs,
                    accepted_left_secs,
                    secs,
                })
            },
        )
}

fn claim() -> impl Strategy<Value = Claim> {
    let text = || proptest::option::of("[a-z ]{0,12}");
    prop_oneof![
        signal(),
        window(),
        secs().prop_map(|secs| Claim::Ttl { secs }),
        Just(Claim::NoLifetimeStated),
        secs().prop_map(|secs| Claim::EndsBy { secs }),
        (
            scope(),
            secs(),
            proptest::option::of(proptest::collection::vec("[a-z_]{1,8}", 0..3))
        )
            .prop_map(|(scope, secs, granted)| Claim::ScopeTtl {
                scope,
                secs,
                granted
            }),
        proptest::collection::vec("[a-z_]{1,8}", 1..3)
            .prop_map(|scopes| Claim::ScopesNotGranted { scopes }),
        secs().prop_map(|secs| Claim::IdleWindow { secs }),
        secs().prop_map(|secs| Claim::IdleLongerThan { secs }),
        secs().prop_map(|secs| Claim::NothingShorterThan { secs }),
        secs().prop_map(|secs| Claim::SessionEnd { secs }),
        secs().prop_map(|secs| Claim::RefreshTokenExpiry { secs }),
        (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(any::<bool>())
        )
            .prop_map(|(issued, offline_access_requested, with_offline_access)| {
                Claim::RefreshToken {
                    issued,
                    offline_access_requested,
                    with_offline_access,
                }
            }),
        (any::<bool>(), proptest::option::of(any::<bool>()), text())
            .prop_map(|(ok, rotated, error)| Claim::Refresh { ok, rotated, error }),
        (any::<bool>(), text()).prop_map(|(ok, error)| Claim::NewSession { ok, error }),
        proptest::option::of(0u64..50).prop_map(|after_uses| Claim::Revoked { after_uses }),
        (1u64..50).prop_map(|uses| Claim::NoRevocationWithin { uses }),
        (-900i64..900).prop_map(|secs| Claim::ClockSkew { secs }),
        Just(Claim::NoExpiryHeader),
        (
            any::<bool>(),
            proptest::option::of(prop_oneof![
                Just(200u16),
                Just(307),
                Just(401),
                Just(404),
                Just(503)
            ]),
            proptest::option::of(Just("/x".to_string())),
            text()
        )
            .prop_map(|(ok, status, location, error)| Claim::FirstApiCall {
                ok,
                status,
                location,
                error
            }),
        "[a-z ]{0,12}".prop_map(|description| Claim::FreshTokenRefused { description }),
        (1u64..100).prop_map(|idle_secs| Claim::ConnectionCut { idle_secs }),
        Just(Claim::ConnectionDrop),
        proptest::option::of(Just("client_secret_post".to_string())).prop_map(|accepted| {
            Claim::ClientAuthMismatch {
                configured: "client_secret_basic".into(),
                refused_with: "invalid_client".into(),
                accepted,
            }
        }),
        (
            proptest::option::of(prop_oneof![
                Just("invalid_client".to_string()),
                Just("x".to_string())
            ]),
            proptest::option::of(prop_oneof![Just(429u16), Just(503)])
        )
            .prop_map(|(code, http_status)| Claim::TokenRefused {
                code,
                description: None,
                http_status,
                message: "refused".into()
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever the findings, the verdict over them agrees with them: every line cites
    /// findings that exist, exit 3 names what to change, and no finding is denied unless a
    /// conflict says it is not trusted.
    #[test]
    fn no_evidence_set_yields_a_verdict_its_findings_contradict(
        claims in proptest::collection::vec((source(), claim()), 0..14),
        sync in prop_oneof![Just(60u64), Just(3600), 1u64..20_000],
        keepalive in 1u64..300,
        hint in prop_oneof![Just(0u64), 1u64..100],
        window in prop_oneof![Just(0u64), 1u64..300],
        margin in 1u64..300,
        rules in proptest::collection::vec("[0-9a-z /=]{1,12}", 0..2),
    ) {
        let mut c = ctx();
        c.sync_secs = sync;
        c.keepalive_secs = keepalive;
        c.idle_hint_secs = hint;
        c.refresh_window_secs = window;
        c.refresh_margin_secs = margin;
        c.expired_when = rules;
        let e = ev(claims);
        let v = verdict(&c, &e);
        let problems = contradictions(&c, &e, &v);
        prop_assert!(problems.is_empty(), "{problems:?}\n{e:#?}\n{v:#?}");
        prop_assert!(!v.conflicts.iter().any(|k| k.text.starts_with("verdict check")));
        if v.exit_code == crate::exit::DIAGNOSE_CANNOT_SUSTAIN {
            prop_assert!(v.clocks.iter().any(|k| k.kills && k.fix.is_some()));
            prop_assert!(!v.changes.iter().any(|l| l.text.starts_with("Nothing to change")));
        }
    }
}

/// The renewals a sync needs count the refresh margin a run renews ahead by: 60 s tokens
/// renewed 20 s early serve 40 s each, so an hour takes 89 renewals, not 59.
#[test]
fn renewals_per_sync_count_the_refresh_margin() {
    let ctx = Context {
        sync_secs: 3600,
        expected_ttl_secs: 60,
        keepalive_secs: 10,
        refresh_margin_secs: 120,
        min_workable_secs: 1.02,
        ..Default::default()
    };
    let ev = vec![
        Evidence {
            id: "F1".into(),
            source: Source::ExpiresIn,
            says: String::new(),
            claim: Claim::Ttl { secs: 60 },
        },
        Evidence {
            id: "F2".into(),
            source: Source::Regrant,
            says: String::new(),
            claim: Claim::NewSession {
                ok: true,
                error: None,
            },
        },
    ];
    let v = verdict(&ctx, &ev);
    let ttl = v
        .clocks
        .iter()
        .find(|c| c.kind == ClockKind::Ttl)
        .unwrap_or_else(|| panic!("{:?}", v.clocks));
    let handled = ttl.handled.clone().unwrap_or_default();
    assert!(handled.contains("about 89 per sync"), "{handled}");
}

/// An overstated expires_in leaves the JWT's exact exp − iat and an estimate against the
/// server's `Date` a second short of it: the exact one names the TTL.
#[test]
fn the_jwt_lifetime_beats_a_date_estimate_a_second_short() {
    let mut c = vec![
        (Source::ExpiresIn, Claim::Ttl { secs: 1800 }),
        (Source::JwtClaims, Claim::Ttl { secs: 900 }),
        (Source::ServerDate, Claim::Ttl { secs: 899 }),
    ];
    c.extend(renewals());
    let v = verdict(&ctx(), &ev(c));
    let ttl = v.clocks.iter().find(|c| c.kind == ClockKind::Ttl);
    assert_eq!(ttl.and_then(|c| c.secs), Some(900), "{:?}", v.clocks);
    assert!(
        !v.conflicts.is_empty(),
        "the overstated expires_in is named"
    );
}

/// An idle window the server never named: a session survived 2 s of quiet and died after
/// 3 s. Reported as the range, worked with as the smaller, and the self-check catches a
/// verdict that would advise the quiet that killed.
#[test]
fn an_unnamed_idle_window_is_a_range_and_advice_stays_below_it() {
    let ctx = Context {
        sync_secs: 3600,
        expected_ttl_secs: 3600,
        keepalive_secs: 60,
        refresh_margin_secs: 120,
        min_workable_secs: 1.02,
        session: true,
        ..Default::default()
    };
    let ev = vec![Evidence {
        id: "F1".into(),
        source: Source::ApiRefusal,
        says: String::new(),
        claim: Claim::IdleAtMost {
            survived_secs: 2,
            died_secs: 3,
        },
    }];
    let mut v = verdict(&ctx, &ev);
    let idle = v
        .clocks
        .iter()
        .find(|c| c.kind == ClockKind::Idle)
        .unwrap_or_else(|| panic!("{:?}", v.clocks));
    assert!(
        idle.what.starts_with("idle window ≤ 2–3 s"),
        "{}",
        idle.what
    );
    assert_eq!(v.idle_window_secs, Some(2));
    let fix = idle
        .fix
        .as_ref()
        .map(|f| f.change.clone())
        .unwrap_or_default();
    assert!(fix.contains("auth.idle_timeout_secs = 2 "), "{fix}");
    assert!(!v.self_check_failed, "{:?}", v.conflicts);
    v.idle_window_secs = Some(3);
    assert!(
        contradictions(&ctx, &ev, &v)
            .iter()
            .any(|p| p.contains("died after 3 s unused")),
        "the check catches advice at the quiet that killed"
    );
}
