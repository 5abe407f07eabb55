use super::*;
use crate::diagnose::evidence::findings::{CallFinding, RuleCheck};
use crate::diagnose::evidence::token_login::{DeathWatch, ReuseCheck, TokenLoginSetup};

fn call(status: u16, age: f64, words: Option<&str>) -> CallFinding {
    CallFinding {
        status: Some(status),
        token_age_secs: age,
        error: words.map(String::from),
        ..Default::default()
    }
}

/// A Directus-like login: 3 s tokens stated in ms, a rotating refresh, watched to death.
fn directus() -> TokenLoginFindings {
    TokenLoginFindings {
        setup: TokenLoginSetup {
            base_url: "http://h".into(),
            login_url: "http://h/auth/login".into(),
            user: "bot".into(),
            send_as: "bearer".into(),
            refresh_url: Some("http://h/auth/refresh".into()),
            refresh_token_at: "/data/refresh_token".into(),
            lifetime_at: "/data/expires".into(),
            lifetime_unit: "ms".into(),
            sync_secs: 3600,
            wait_secs: 10,
            ..Default::default()
        },
        logins: 1,
        login: LoginResult::Ok { request_secs: 0.01 },
        token: Some("#abc".into()),
        stated_lifetime_secs: Some(3.0),
        planned_lifetime_secs: Some(3.0),
        planned_from: Some("expires_in".into()),
        refresh_token_issued: true,
        first_call: Some(call(200, 0.02, None)),
        watch: Some(DeathWatch {
            every_secs: 0.3,
            calls: 11,
            last_alive_secs: Some(2.9),
            dead: Some(call(401, 3.2, Some("Token expired. (TOKEN_EXPIRED)"))),
            dead_age_secs: Some(3.2),
            stopped_by: None,
        }),
        refresh: RefreshResult::Ok {
            rotated: true,
            kept: false,
            stated_lifetime_secs: Some(3.0),
            call_after: Some(Box::new(call(200, 0.01, None))),
        },
        reuse: Some(ReuseCheck {
            refused: true,
            chain_revoked: Some(true),
        }),
        ..Default::default()
    }
}

#[test]
fn a_stated_lifetime_in_ms_is_named_with_its_unit_and_needs_no_change() {
    let v = of(&directus());
    assert_eq!(
        (v.outcome, v.exit_code),
        (Conclusion::Sustainable, exit::OK)
    );
    assert!(v.changes.is_empty(), "{:?}", v.changes);
    let all = v.facts.join("\n");
    assert!(all.contains("at /data/expires: 3000 ms (3.0 s)"), "{all}");
    assert!(
        all.contains("refused the token 3.2 s after the login"),
        "{all}"
    );
    assert!(all.contains("it rotates the refresh token"), "{all}");
    assert!(all.contains("revoked the chain"), "{all}");
    assert_eq!(v.rotates, Some(true));
}

#[test]
fn an_unstated_lifetime_names_the_clock_and_the_line_that_fixes_it() {
    let mut f = directus();
    f.stated_lifetime_secs = None;
    f.planned_lifetime_secs = None;
    f.planned_from = Some("not stated".into());
    let v = of(&f);
    assert_eq!(v.exit_code, exit::OK);
    assert_eq!(v.died_at_secs, Some(3.2));
    let change = &v.changes[0].change;
    assert!(
        change.contains("auth.token_login.lifetime_secs = 3"),
        "{change}"
    );
    assert!(v.summary.contains("One change"), "{}", v.summary);
}

#[test]
fn a_lifetime_stated_longer_than_the_token_lives_is_a_change() {
    let mut f = directus();
    f.stated_lifetime_secs = Some(900.0);
    f.planned_lifetime_secs = Some(900.0);
    let v = of(&f);
    assert!(
        v.changes
            .iter()
            .any(|c| c.change.contains("lifetime_secs = 3")),
        "{:?}",
        v.changes
    );
    // Dying at about the planned age is on plan.
    let mut f = directus();
    f.watch.as_mut().unwrap().dead_age_secs = Some(3.9);
    assert!(of(&f).changes.is_empty());
}

#[test]
fn a_refused_login_is_no_token_exit_4() {
    let mut f = directus();
    f.login = LoginResult::Refused {
        answer: "HTTP 401: Invalid user credentials.".into(),
    };
    f.first_call = None;
    f.watch = None;
    let v = of(&f);
    assert_eq!((v.outcome, v.exit_code), (Conclusion::NoToken, exit::AUTH));
    assert!(v.summary.contains("does not try again"), "{}", v.summary);
    assert!(v.changes[0].change.contains("SUPSYNC_TOKEN_LOGIN_PASSWORD"));
}

#[test]
fn a_fresh_token_refused_names_send_as_and_exits_3() {
    let mut f = directus();
    f.first_call = Some(call(403, 0.01, Some("Forbidden")));
    let v = of(&f);
    assert_eq!((v.outcome, v.exit_code), (Conclusion::ApiNotVerified, 3));
    assert!(v.changes[0].change.contains("send_as"));
}

#[test]
fn a_dead_token_answered_403_without_a_rule_kills_the_sync() {
    let mut f = directus();
    let w = f.watch.as_mut().unwrap();
    let mut dead = call(403, 3.2, Some("Token expired."));
    dead.expired_when = Some(RuleCheck {
        matched: None,
        suggested: Some("403:/errors/0/extensions/code=TOKEN_EXPIRED".into()),
    });
    w.dead = Some(dead);
    let v = of(&f);
    assert_eq!((v.outcome, v.exit_code), (Conclusion::CannotSustain, 3));
    assert!(v.changes[0].change.contains("auth.expired_when"));
}

#[test]
fn tokens_dying_at_once_cannot_sustain() {
    let mut f = directus();
    f.watch.as_mut().unwrap().dead_age_secs = Some(0.6);
    let v = of(&f);
    assert_eq!(v.exit_code, 3);
    assert_eq!(v.changes[0].who, Who::ServerAdmin);
}

#[test]
fn the_refresh_token_lifetime_and_a_missing_refresh_are_reported() {
    let mut f = directus();
    f.refresh_lifetime_secs = Some(600);
    let all = of(&f).facts.join("\n");
    assert!(all.contains("The refresh token lives 600 s"), "{all}");
    assert!(all.contains("about 6 logins per sync"), "{all}");

    let mut f = directus();
    f.refresh = RefreshResult::NotConfigured;
    f.reuse = None;
    let v = of(&f);
    assert!(v.facts.join("\n").contains("every renewal is a login"));
    assert!(v.changes[0].change.contains("refresh_path"));
    assert_eq!(v.rotates, None);

    let mut f = directus();
    f.refresh = RefreshResult::Ok {
        rotated: false,
        kept: false,
        stated_lifetime_secs: None,
        call_after: Some(Box::new(call(401, 0.0, None))),
    };
    assert_eq!(of(&f).exit_code, 3);
}

#[test]
fn a_token_outliving_the_watch_keeps_the_planned_lifetime() {
    let mut f = directus();
    f.stated_lifetime_secs = Some(900.0);
    f.planned_lifetime_secs = Some(900.0);
    let w = f.watch.as_mut().unwrap();
    w.dead = None;
    w.dead_age_secs = None;
    w.last_alive_secs = Some(9.8);
    let v = of(&f);
    assert_eq!(v.lifetime_secs, Some(900.0));
    assert!(v.facts.join("\n").contains("still accepted 9.8 s"));
    assert_eq!(v.exit_code, 0);
}
