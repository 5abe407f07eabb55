//! Unit tests of the verdict over hand-built findings (no network).

use super::analysis::IdleConclusion;
use super::findings::*;
use super::verdict::{KillerClock, Renewal, verdict};
use crate::exit;

fn v(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

fn st(scope: &str, ttl: u64) -> ScopeTtl {
    ScopeTtl {
        scope: scope.into(),
        expires_in_secs: Some(ttl),
        error: None,
    }
}

fn call(status: u16, header: u64, age: f64) -> CallFinding {
    CallFinding {
        status: Some(status),
        header_expires_in_secs: Some(header),
        token_age_secs: age,
        rtt_secs: 0.003,
        error: None,
    }
}

/// What the `realistic` profile looks like: scope TTL 900, default 3600, idle 900,
/// session 3600, rotating refresh tokens capped at the session end.
fn realistic() -> Findings {
    Findings {
        base_url: "http://127.0.0.1:8080".into(),
        token_url: "http://127.0.0.1:8080/oauth/token".into(),
        client_id: "supplier-sync".into(),
        requested_scopes: v(&["supplier_mgmt", "offline_access"]),
        expected_ttl_secs: 3600,
        sync_duration_secs: 3600,
        refresh_margin_secs: 120,
        keepalive_secs: 60,
        token: Some(TokenFinding {
            fingerprint: "#00000000".into(),
            expires_in_secs: Some(900),
            granted_scopes: Some(v(&["supplier_mgmt", "offline_access"])),
            refresh_token: Some("#11111111".into()),
            refresh_expires_in_secs: Some(3600),
            request_secs: 0.004,
            first_call: Some(call(200, 899, 0.01)),
            ..Default::default()
        }),
        scope_ttls: ScopeTtls {
            no_scope: st("", 3600),
            alone: vec![st("supplier_mgmt", 900), st("offline_access", 3600)],
            all_secs: Some(900),
        },
        refresh: RefreshFinding {
            issued: true,
            ok: Some(true),
            rotated: Some(true),
            after_secs: Some(3.1),
            expires_in_secs: Some(900),
            refresh_expires_in_secs: Some(3596),
            error: None,
        },
        new_session: NewSessionFinding {
            ok: true,
            error: None,
        },
        idle_probe: IdleProbe {
            token: "no scope".into(),
            token_ttl_secs: Some(3600),
            first: Some(call(200, 899, 0.05)),
            second: Some(call(200, 899, 3.05)),
            waited_secs: 3.0,
        },
        ..Default::default()
    }
}

#[test]
fn realistic_names_the_scope_and_900_against_3600() {
    let out = verdict(&realistic());
    assert_eq!(out.exit_code, exit::OK);
    assert!(out.sustainable);
    assert_eq!(out.first_clock, KillerClock::Ttl);
    assert_eq!(out.token_lifetime_secs, Some(900));
    assert_eq!(out.shortening_scope.as_deref(), Some("supplier_mgmt"));
    assert_eq!(out.default_ttl_secs, Some(3600));
    assert!(out.summary.contains("supplier_mgmt"), "{}", out.summary);
    assert!(out.summary.contains("900 s"), "{}", out.summary);
    assert!(out.summary.contains("3600 s"), "{}", out.summary);
    assert_eq!(out.idle, IdleConclusion::Sliding { secs: 899 });
    assert_eq!(out.session_limit.as_ref().map(|s| s.secs), Some(3600));
    assert_eq!(out.renewal, Renewal::RefreshToken);
    assert_eq!(out.renewals_per_sync, Some(3));
    let advice = out.advice.join("\n");
    assert!(advice.contains("refresh_margin_secs 120 is fine for 900 s tokens"));
    assert!(advice.contains("Server policy"));
}

#[test]
fn no_scope_ttl_no_idle_no_session_is_fine() {
    let mut f = realistic();
    f.token.as_mut().unwrap().expires_in_secs = Some(3600);
    f.token.as_mut().unwrap().refresh_expires_in_secs = Some(86400);
    f.scope_ttls.alone = vec![st("supplier_mgmt", 3600), st("offline_access", 3600)];
    f.scope_ttls.all_secs = Some(3600);
    f.refresh.expires_in_secs = Some(3600);
    f.refresh.refresh_expires_in_secs = Some(86400);
    f.idle_probe.first = Some(call(200, 3599, 0.05));
    f.idle_probe.second = Some(call(200, 3596, 3.05));
    let out = verdict(&f);
    assert_eq!(out.exit_code, exit::OK);
    assert!(!out.dies_within_sync);
    assert_eq!(out.shortening_scope, None);
    assert_eq!(out.idle, IdleConclusion::TtlOnly { secs: 3599 });
    assert!(out.session_limit.is_none());
    assert!(out.summary.contains("Fine"), "{}", out.summary);
    assert!(out.advice.iter().any(|a| a.contains("Nothing to change")));
    assert_eq!(out.renewals_per_sync, Some(0));
}

#[test]
fn a_token_shorter_than_one_request_cannot_sustain() {
    let mut f = realistic();
    f.token.as_mut().unwrap().expires_in_secs = Some(1);
    f.scope_ttls.alone[0].expires_in_secs = Some(1);
    let out = verdict(&f);
    assert_eq!(out.exit_code, exit::DIAGNOSE_CANNOT_SUSTAIN);
    assert!(!out.sustainable);
    assert!(
        out.summary.contains("before one segment could finish"),
        "{}",
        out.summary
    );
    assert!(out.reasons[0].starts_with("Cannot sustain"));
}

#[test]
fn two_second_tokens_are_still_workable() {
    let mut f = realistic();
    f.token.as_mut().unwrap().expires_in_secs = Some(2);
    let out = verdict(&f);
    assert_eq!(out.exit_code, exit::OK, "{}", out.summary);
    assert!(
        out.advice
            .iter()
            .any(|a| a.contains("too long for 2 s tokens"))
    );
}

#[test]
fn no_renewal_at_all_cannot_sustain() {
    let mut f = realistic();
    f.refresh.ok = Some(false);
    f.refresh.error = Some("invalid_grant (session expired)".into());
    f.new_session = NewSessionFinding {
        ok: false,
        error: Some("invalid_client".into()),
    };
    let out = verdict(&f);
    assert_eq!(out.exit_code, exit::DIAGNOSE_CANNOT_SUSTAIN);
    assert_eq!(out.renewal, Renewal::None);
    assert!(out.summary.contains("neither a refresh nor a new"));
    assert!(out.summary.contains("session expired"));
}

#[test]
fn without_refresh_tokens_new_sessions_carry_the_sync() {
    let mut f = realistic();
    let tok = f.token.as_mut().unwrap();
    tok.refresh_token = None;
    tok.refresh_expires_in_secs = None;
    f.refresh = RefreshFinding::default();
    let out = verdict(&f);
    assert_eq!(out.exit_code, exit::OK);
    assert_eq!(out.renewal, Renewal::ClientCredentials);
    assert!(out.reasons.iter().any(|r| r.contains("RFC 6749 §4.4.3")));
    assert!(out.summary.contains("client-credentials"));
}

#[test]
fn a_first_call_401_cannot_sustain() {
    let mut f = realistic();
    let mut c = call(401, 0, 0.01);
    c.header_expires_in_secs = None;
    c.error = Some("Token expired after 0m 00s".into());
    f.token.as_mut().unwrap().first_call = Some(c);
    let out = verdict(&f);
    assert_eq!(out.exit_code, exit::DIAGNOSE_CANNOT_SUSTAIN);
    assert!(out.summary.contains("refused on its first call"));
}

#[test]
fn session_shorter_than_ttl_is_the_first_clock() {
    let mut f = realistic();
    f.token.as_mut().unwrap().refresh_expires_in_secs = Some(600);
    f.refresh.refresh_expires_in_secs = Some(597);
    let out = verdict(&f);
    assert_eq!(out.first_clock, KillerClock::Session);
    assert_eq!(out.token_lifetime_secs, Some(600));
    assert!(out.summary.contains("absolute limit"));
    assert!(
        out.summary
            .contains("refresh token, and with a new client-credentials session every ~600 s"),
        "{}",
        out.summary
    );
    assert_eq!(out.exit_code, exit::OK);
}

#[test]
fn a_session_limit_without_new_sessions_cannot_sustain() {
    let mut f = realistic();
    f.new_session = NewSessionFinding {
        ok: false,
        error: Some("temporarily_unavailable".into()),
    };
    // A session of exactly the sync's length is enough…
    assert_eq!(verdict(&f).exit_code, exit::OK);
    // …a shorter one is not, when no new session can be had.
    f.token.as_mut().unwrap().refresh_expires_in_secs = Some(1800);
    f.refresh.refresh_expires_in_secs = Some(1797);
    let out = verdict(&f);
    assert_eq!(out.exit_code, exit::DIAGNOSE_CANNOT_SUSTAIN);
    assert!(
        out.summary.contains("session ends after about 1800 s"),
        "{}",
        out.summary
    );
}

#[test]
fn a_keepalive_slower_than_the_idle_window_is_advised() {
    let mut f = realistic();
    f.idle_probe.first = Some(call(200, 15, 0.05));
    f.idle_probe.second = Some(call(200, 15, 3.05));
    let out = verdict(&f);
    assert_eq!(out.idle_window_secs, Some(15));
    assert!(
        out.advice
            .iter()
            .any(|a| a.contains("keepalive_secs 60") && a.contains("about 5 s"))
    );
}

#[test]
fn an_idle_window_too_short_to_hold_cannot_sustain() {
    let mut f = realistic();
    f.idle_probe.first = Some(call(200, 1, 0.05));
    let mut dead = call(401, 0, 2.05);
    dead.header_expires_in_secs = None;
    f.idle_probe.second = Some(dead);
    f.idle_probe.waited_secs = 2.0;
    let out = verdict(&f);
    assert_eq!(out.idle_window_secs, Some(1));
    assert_eq!(out.exit_code, exit::DIAGNOSE_CANNOT_SUSTAIN);
}

#[test]
fn the_default_ttl_itself_is_named_as_server_policy() {
    let mut f = realistic();
    f.scope_ttls.no_scope = st("", 900);
    f.scope_ttls.alone = vec![st("supplier_mgmt", 900), st("offline_access", 900)];
    let out = verdict(&f);
    assert_eq!(out.shortening_scope, None);
    assert!(
        out.summary.contains("default TTL is 900 s"),
        "{}",
        out.summary
    );
    assert!(
        out.advice
            .iter()
            .any(|a| a.contains("expected_ttl_secs = 900"))
    );
}

#[test]
fn missing_scopes_skew_and_idle_cuts_are_advised() {
    let mut f = realistic();
    let tok = f.token.as_mut().unwrap();
    tok.granted_scopes = Some(v(&["supplier_mgmt"]));
    tok.missing_scopes = v(&["offline_access"]);
    f.clock_skew.date_skew_secs = Some(-42);
    f.connection = ConnectionProbe {
        outcome: ConnectionOutcome::IdleConnectionCut,
        idle_secs: 3.0,
        detail: None,
    };
    let out = verdict(&f);
    let advice = out.advice.join("\n");
    assert!(advice.contains("did not grant offline_access"));
    assert!(advice.contains("42 s behind"));
    assert!(advice.contains("not the token"));
    assert_eq!(out.exit_code, exit::OK);
}

#[test]
fn no_token_is_exit_4_with_the_servers_words() {
    let mut f = realistic();
    f.token = None;
    f.token_error = Some(GrantFailure {
        code: Some("invalid_client".into()),
        description: Some("client authentication failed".into()),
        message: "token endpoint refused the client_credentials grant: invalid_client".into(),
        http_status: None,
    });
    let out = verdict(&f);
    assert_eq!(out.exit_code, exit::AUTH);
    assert!(
        out.summary
            .contains("invalid_client (client authentication failed)")
    );
    assert!(out.advice[0].contains("auth.client_id (supplier-sync)"));

    f.token_error = Some(GrantFailure {
        code: None,
        description: None,
        message: "token endpoint unreachable: connection refused".into(),
        http_status: None,
    });
    let out = verdict(&f);
    assert_eq!(out.exit_code, exit::AUTH);
    assert!(out.advice[0].contains("/oauth/token"));

    // A server that answered 429 is there: not "check that it is reachable".
    f.token_error = Some(GrantFailure {
        code: None,
        description: None,
        message: "token endpoint answered the client_credentials grant with HTTP 429: slow down"
            .into(),
        http_status: Some(429),
    });
    let out = verdict(&f);
    assert!(
        out.summary.contains("HTTP 429: slow down"),
        "{}",
        out.summary
    );
    assert!(
        out.advice[0].contains("is reachable but answered HTTP 429"),
        "{:?}",
        out.advice
    );
}
