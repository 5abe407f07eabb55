use super::*;
use crate::sim::Profile;

fn store(edit: impl FnOnce(&mut Tokens)) -> TokenStore {
    let mut cfg = Profile::default().tokens;
    edit(&mut cfg);
    TokenStore::new(cfg)
}

fn scopes(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

const S: Duration = Duration::from_secs(1);

#[test]
fn each_clock_names_itself() {
    let t0 = Instant::now();
    let mut st = store(|_| {});
    let a = st.client_credentials("c", scopes("supplier_mgmt"), t0);
    assert_eq!(a.expires_in, 900);
    // Used every 10 minutes: idle never hits, the TTL does at 15m.
    assert!(st.authenticate(&a.access_token, t0 + 600 * S).is_ok());
    assert_eq!(st.remaining_secs(&a.access_token, t0 + 600 * S), 300);
    let e = st.authenticate(&a.access_token, t0 + 901 * S).unwrap_err();
    assert_eq!(e, "Token expired after 15m 00s");

    let b = st.client_credentials("c", vec![], t0);
    assert_eq!(b.expires_in, 3600);
    let e = st.authenticate(&b.access_token, t0 + 902 * S).unwrap_err();
    assert_eq!(e, "Token idle for 15m 02s (idle timeout 15m)");

    let mut st = store(|t| t.idle_timeout_secs = 0);
    let c = st.client_credentials("c", vec![], t0);
    let e = st.authenticate(&c.access_token, t0 + 3600 * S).unwrap_err();
    // TTL 3600 and session 3600 hit together; the session is the reason to report.
    assert!(e == "Session expired after 60m 00s" || e == "Token expired after 60m 00s");
    let mut st = store(|t| {
        t.idle_timeout_secs = 0;
        t.default_ttl_secs = 7200;
    });
    let c = st.client_credentials("c", vec![], t0);
    let e = st.authenticate(&c.access_token, t0 + 3601 * S).unwrap_err();
    assert_eq!(e, "Session expired after 60m 00s");
}

#[test]
fn first_clock_to_hit_is_reported() {
    let t0 = Instant::now();
    let mut st = store(|t| t.idle_timeout_secs = 60);
    let a = st.client_credentials("c", scopes("supplier_mgmt"), t0);
    // Idle hit at 60 s, the TTL at 900 s: a call at 1000 s hears about idleness.
    let e = st.authenticate(&a.access_token, t0 + 1000 * S).unwrap_err();
    assert!(e.starts_with("Token idle for 16m 40s"), "{e}");
    assert!(e.ends_with("(idle timeout 1m)"), "{e}");
}

#[test]
fn shortest_scope_ttl_wins() {
    let mut st = store(|t| {
        t.scope_ttl_secs.insert("reports".into(), 300);
    });
    assert_eq!(st.ttl_for(&scopes("supplier_mgmt reports")), 300);
    assert_eq!(st.ttl_for(&scopes("other")), 3600);
    let i = st.client_credentials("c", scopes("reports offline_access"), Instant::now());
    assert_eq!(i.expires_in, 300);
    assert!(i.refresh_token.is_some());
}

#[test]
fn reuse_revokes_the_session() {
    let t0 = Instant::now();
    let mut st = store(|_| {});
    let a = st.client_credentials("c", scopes("supplier_mgmt offline_access"), t0);
    let rt1 = a.refresh_token.clone().unwrap();
    let b = st.refresh("c", &rt1, None, t0 + S).unwrap();
    let rt2 = b.refresh_token.clone().unwrap();
    assert_ne!(rt1, rt2);
    assert_eq!(b.scope, scopes("supplier_mgmt offline_access"));
    assert_eq!(
        st.refresh("c", &rt1, None, t0 + 2 * S).unwrap_err(),
        RefreshError::Reuse
    );
    let e = st.authenticate(&b.access_token, t0 + 3 * S).unwrap_err();
    assert_eq!(e, "Token revoked");
    assert!(st.authenticate(&a.access_token, t0 + 3 * S).is_err());
    assert!(matches!(
        st.refresh("c", &rt2, None, t0 + 3 * S),
        Err(RefreshError::InvalidGrant(_))
    ));
}

#[test]
fn refresh_never_outlives_the_session() {
    let t0 = Instant::now();
    let mut st = store(|_| {});
    let a = st.client_credentials("c", scopes("offline_access"), t0);
    assert_eq!(a.refresh_expires_in, Some(3600));
    let rt = a.refresh_token.unwrap();
    let b = st.refresh("c", &rt, None, t0 + 3000 * S).unwrap();
    assert_eq!(b.refresh_expires_in, Some(600));
    let e = st.refresh("c", &b.refresh_token.unwrap(), None, t0 + 3600 * S);
    assert_eq!(
        e.unwrap_err(),
        RefreshError::InvalidGrant("session expired".into())
    );
}

#[test]
fn a_refresh_before_the_window_is_refused_and_spends_nothing() {
    let t0 = Instant::now();
    let mut st = store(|t| t.refresh_window_secs = 120);
    let a = st.client_credentials("c", scopes("supplier_mgmt offline_access"), t0);
    let rt = a.refresh_token.unwrap();
    // The 900 s token has 800 s left: too early.
    assert_eq!(
        st.refresh("c", &rt, None, t0 + 100 * S).unwrap_err(),
        RefreshError::TooEarly {
            left: 800 * S,
            window: 120 * S
        }
    );
    // The refused refresh token still works inside the window.
    let b = st.refresh("c", &rt, None, t0 + 790 * S).unwrap();
    // The window counts back from the new access token's expiry.
    assert!(matches!(
        st.refresh("c", &b.refresh_token.unwrap(), None, t0 + 800 * S),
        Err(RefreshError::TooEarly { .. })
    ));
}

#[test]
fn refresh_scope_must_be_granted() {
    let t0 = Instant::now();
    let mut st = store(|_| {});
    let a = st.client_credentials("c", scopes("supplier_mgmt offline_access"), t0);
    let rt = a.refresh_token.unwrap();
    assert!(matches!(
        st.refresh("c", &rt, Some(scopes("admin")), t0),
        Err(RefreshError::InvalidScope(_))
    ));
    assert!(matches!(
        st.refresh("other", &rt, None, t0),
        Err(RefreshError::InvalidGrant(_))
    ));
    let b = st
        .refresh("c", &rt, Some(scopes("offline_access")), t0)
        .unwrap();
    assert_eq!(b.expires_in, 3600, "narrowed scope has no scope TTL");
}

#[test]
fn a_token_is_revoked_after_its_uses() {
    let t0 = Instant::now();
    let mut st = store(|t| t.revoke_after_uses = 2);
    let a = st.client_credentials("c", vec![], t0);
    assert!(st.authenticate(&a.access_token, t0).is_ok());
    assert!(st.authenticate(&a.access_token, t0 + S).is_ok());
    let e = st.authenticate(&a.access_token, t0 + 2 * S).unwrap_err();
    assert_eq!(e, "Token revoked");
    let b = st.client_credentials("c", vec![], t0);
    assert!(st.authenticate(&b.access_token, t0 + 2 * S).is_ok());
}

#[test]
fn every_nth_token_dies_after_three_calls() {
    let t0 = Instant::now();
    let mut st = store(|t| t.early_death_every = 2);
    let a = st.client_credentials("c", vec![], t0);
    let b = st.client_credentials("c", vec![], t0);
    for i in 0..3 {
        assert!(st.authenticate(&a.access_token, t0 + i * S).is_ok());
        assert!(st.authenticate(&b.access_token, t0 + i * S).is_ok());
    }
    assert!(
        st.authenticate(&a.access_token, t0 + 3 * S).is_ok(),
        "the 1st lives"
    );
    let e = st.authenticate(&b.access_token, t0 + 3 * S).unwrap_err();
    assert_eq!(e, "Token revoked", "the 2nd dies early");
}

#[test]
fn durations_read_like_the_seed_report() {
    assert_eq!(long(Duration::from_secs(923)), "15m 23s");
    assert_eq!(long(Duration::from_secs(3600)), "60m 00s");
    assert_eq!(short(Duration::from_secs(900)), "15m");
    assert_eq!(short(Duration::from_secs(2)), "2s");
    assert_eq!(short(Duration::from_secs(90)), "1m 30s");
}
