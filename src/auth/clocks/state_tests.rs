//! Unit tests of the token clocks in `state.rs`, with made-up instants.
use super::*;

fn grant(kind: GrantKind, ttl: u64, rt: Option<&str>, sent_at: Instant) -> Grant {
    Grant {
        kind,
        access_token: Secret::new(format!("AT-{ttl}-{rt:?}")),
        refresh_token: rt.map(Secret::new),
        expires_in: Some(Duration::from_secs(ttl)),
        lifetime: Some(Duration::from_secs(ttl)),
        lifetime_source: LifetimeSource::ExpiresIn,
        refresh_expires_in: rt.map(|_| Duration::from_secs(100)),
        granted_scopes: None,
        sent_at,
        received_at: sent_at + Duration::from_millis(5),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn margin_is_capped_to_a_third_of_the_lifetime() {
    let t0 = Instant::now();
    let mut st = State::new(Duration::from_secs(120));
    st.install(
        &grant(GrantKind::ClientCredentials, 2, None, t0),
        true,
        SystemTime::now(),
    );
    assert_eq!(st.margin(), Duration::from_secs(2) / 3);
    assert_eq!(
        st.next_refresh_at(),
        Some(t0 + Duration::from_secs(2) - st.margin())
    );
    st.install(
        &grant(GrantKind::ClientCredentials, 900, None, t0),
        true,
        SystemTime::now(),
    );
    assert_eq!(st.margin(), Duration::from_secs(120));
}

#[test]
fn token_is_handed_out_until_the_slack_before_death() {
    let t0 = Instant::now();
    let mut st = State::new(Duration::from_secs(120));
    st.install(
        &grant(GrantKind::ClientCredentials, 3, None, t0),
        true,
        SystemTime::now(),
    );
    // margin 1 s, slack 1/3 s: usable during the renewal window, not at the end.
    assert!(st.usable(t0 + ms(2500)).is_some());
    assert!(st.usable(t0 + ms(2800)).is_none());
    st.current.as_mut().unwrap().invalid = true;
    assert!(st.usable(t0).is_none());
}

#[test]
fn plan_prefers_refresh_and_falls_back_to_a_new_session() {
    let t0 = Instant::now();
    let mut st = State::new(Duration::from_secs(120));
    assert!(matches!(st.plan(t0), RenewalPlan::NewSession(_)));
    st.install(
        &grant(GrantKind::ClientCredentials, 30, Some("RT1"), t0),
        true,
        SystemTime::now(),
    );
    assert_eq!(st.plan(t0), RenewalPlan::Refresh(Secret::new("RT1")));
    // A refresh without rotation keeps the old refresh token.
    st.install(
        &grant(GrantKind::RefreshToken, 30, None, t0),
        false,
        SystemTime::now(),
    );
    assert_eq!(st.plan(t0), RenewalPlan::Refresh(Secret::new("RT1")));
    // Refresh token about to expire (100 s, margin 10 s).
    let late = t0 + Duration::from_secs(95);
    assert!(
        matches!(st.plan(late), RenewalPlan::NewSession(w) if w.contains("refresh token expires"))
    );
    // A known session limit close by.
    st.session_limit = Some(Duration::from_secs(40));
    let near = t0 + Duration::from_secs(35);
    assert!(matches!(st.plan(near), RenewalPlan::NewSession(w) if w.contains("session limit")));
    // A new session without a refresh token forgets the old one.
    st.install(
        &grant(GrantKind::ClientCredentials, 30, None, t0),
        true,
        SystemTime::now(),
    );
    assert!(matches!(st.plan(t0), RenewalPlan::NewSession(w) if w.contains("no refresh token")));
    assert_eq!(st.sessions, 2);
    assert_eq!(st.snapshot().renewals, 2);
}

#[test]
fn a_sliding_server_deadline_is_the_idle_window_not_a_reason_to_renew() {
    let t0 = Instant::now();
    let mut st = State::new(Duration::from_secs(120));
    let g = st.install(
        &grant(GrantKind::ClientCredentials, 30, None, t0),
        true,
        SystemTime::now(),
    );
    let ttl_due = st.next_refresh_at();
    // Idle window 2 s: every call shows ~2 s left, the deadline slides along.
    st.observe(g, t0 + ms(100), 2);
    assert_eq!(
        st.next_refresh_at(),
        ttl_due,
        "unknown cause: no renewal yet"
    );
    assert!(st.keepalive_interval(Duration::from_secs(60)) <= Duration::from_secs(1));
    st.observe(g, t0 + ms(900), 2);
    st.observe(g, t0 + ms(1500), 2);
    assert_eq!(st.idle_window, Some(Duration::from_secs(2)));
    assert_eq!(st.next_refresh_at(), ttl_due);
    assert_eq!(
        st.keepalive_interval(Duration::from_secs(60)),
        Duration::from_secs(1)
    );
    // The idle deadline still bounds what a caller may use, without the slack (a
    // call pushes it back); the TTL takes the slack.
    st.last_activity = t0 + ms(1500);
    assert!(st.usable(t0 + ms(3400)).is_some());
    assert!(st.usable(t0 + ms(3600)).is_none());
    st.last_activity = t0 + ms(27_000);
    assert!(st.usable(t0 + ms(28_500)).is_none(), "within the TTL slack");
}

#[test]
fn a_fixed_short_server_deadline_is_renewed_before() {
    let t0 = Instant::now();
    let mut st = State::new(Duration::from_secs(120));
    let g = st.install(
        &grant(GrantKind::RefreshToken, 30, None, t0),
        true,
        SystemTime::now(),
    );
    // The session ends at t0 + 6 s whatever the TTL says.
    st.observe(g, t0 + ms(100), 5);
    st.observe(g, t0 + ms(1700), 4);
    assert!(st.current.as_ref().unwrap().server_fixed);
    assert!(st.idle_window.is_none());
    let due = st.next_refresh_at().unwrap();
    assert!(due < t0 + Duration::from_secs(6), "{:?}", due - t0);
    // Another generation's header is ignored.
    assert!(!st.observe(g + 1, t0, 1));
}

#[test]
fn a_floored_header_that_matches_the_ttl_does_not_renew_early() {
    let t0 = Instant::now();
    let mut st = State::new(Duration::from_secs(120));
    let g = st.install(
        &grant(GrantKind::ClientCredentials, 2, None, t0),
        true,
        SystemTime::now(),
    );
    let due = st.next_refresh_at();
    // 1.9 s left, floored to 1 by the server: the same TTL clock.
    st.observe(g, t0 + ms(100), 1);
    assert_eq!(st.next_refresh_at(), due);
    assert!(st.usable(t0 + ms(1500)).is_some());
}

#[test]
fn session_limit_is_learned_from_a_refused_refresh() {
    let t0 = Instant::now();
    let mut st = State::new(Duration::from_secs(120));
    st.install(
        &grant(GrantKind::ClientCredentials, 2, Some("RT"), t0),
        true,
        SystemTime::now(),
    );
    st.learn_session_limit(t0 + Duration::from_secs(8));
    assert_eq!(st.session_limit, Some(Duration::from_secs(8)));
    assert_eq!(st.session_deadline(), Some(t0 + Duration::from_secs(8)));
}

/// A grant whose refresh token expires `rt_left` seconds after it was sent.
fn refresh_grant(rt: &str, rt_left: u64, sent_at: Instant) -> Grant {
    Grant {
        refresh_expires_in: Some(Duration::from_secs(rt_left)),
        ..grant(GrantKind::RefreshToken, 15, Some(rt), sent_at)
    }
}

#[test]
fn session_limit_is_learned_from_a_refresh_expiry_that_stopped_moving() {
    let t0 = Instant::now();
    let mut st = State::new(Duration::from_secs(120));
    // Session of 60 s, refresh TTL 1440 s: the first refresh token is already capped.
    let mut first = grant(GrantKind::ClientCredentials, 15, Some("RT1"), t0);
    first.refresh_expires_in = Some(Duration::from_secs(60));
    st.install(&first, true, SystemTime::now());
    assert_eq!(st.session_limit, None, "one deadline proves nothing");
    // 10 s later a rotated token whose expiry is floored to 49 s: the same deadline.
    st.install(
        &refresh_grant("RT2", 49, t0 + ms(10_300)),
        false,
        SystemTime::now(),
    );
    let limit = st.session_limit.unwrap();
    assert!(
        limit >= Duration::from_secs(59) && limit <= Duration::from_secs(60),
        "{limit:?}"
    );
    // Renewal now aims before the session's end, and at the end a new session is planned
    // (not another refresh that the server would refuse).
    assert!(st.next_refresh_at().unwrap() < t0 + Duration::from_secs(60));
    let near_end = t0 + Duration::from_secs(57);
    assert!(matches!(st.plan(near_end), RenewalPlan::NewSession(_)));
    // The new session keeps the learned limit, so its end is known from the start.
    let t1 = t0 + Duration::from_secs(58);
    st.install(
        &grant(GrantKind::ClientCredentials, 15, Some("RT3"), t1),
        true,
        SystemTime::now(),
    );
    assert_eq!(st.session_deadline(), Some(t1 + limit));
    assert!(st.snapshot().session_deadline.is_some());
}

#[test]
fn a_refresh_expiry_that_moves_forward_says_nothing_about_the_session() {
    let t0 = Instant::now();
    let mut st = State::new(Duration::from_secs(120));
    st.install(
        &grant(GrantKind::ClientCredentials, 15, Some("RT1"), t0),
        true,
        SystemTime::now(),
    );
    // Rotation with a fresh 100 s refresh TTL: the deadline moved 10 s later.
    st.install(
        &refresh_grant("RT2", 100, t0 + ms(10_000)),
        false,
        SystemTime::now(),
    );
    assert_eq!(st.session_limit, None);
    // No rotation: the same refresh token keeps its deadline, which is no evidence.
    st.install(
        &refresh_grant("RT2", 90, t0 + ms(20_000)),
        false,
        SystemTime::now(),
    );
    assert_eq!(st.session_limit, None);
    // Two refreshes a second apart cannot tell a pinned deadline from a moving one.
    st.install(
        &refresh_grant("RT3", 100, t0 + ms(21_000)),
        false,
        SystemTime::now(),
    );
    st.install(
        &refresh_grant("RT4", 99, t0 + ms(22_000)),
        false,
        SystemTime::now(),
    );
    assert_eq!(st.session_limit, None);
}

#[test]
fn configured_clocks_count_until_observed_ones_replace_them() {
    let t0 = Instant::now();
    let mut st = State::new(Duration::from_secs(4));
    st.idle_configured = Some(Duration::from_secs(15));
    st.session_configured = Some(Duration::from_secs(60));
    let g = st.install(
        &grant(GrantKind::ClientCredentials, 15, Some("RT1"), t0),
        true,
        SystemTime::now(),
    );
    st.last_activity = t0;
    let snap = st.snapshot();
    assert_eq!(snap.idle_window, Some(Duration::from_secs(15)));
    assert_eq!(snap.idle_deadline, Some(t0 + Duration::from_secs(15)));
    assert_eq!(snap.session_deadline, Some(t0 + Duration::from_secs(60)));
    assert_eq!(
        st.keepalive_interval(Duration::from_secs(60)),
        ms(7500),
        "twice per configured idle window"
    );
    // The server's own word wins: a window seen sliding, a session refused earlier.
    st.observe(g, t0 + ms(100), 10);
    st.observe(g, t0 + ms(3000), 10);
    assert_eq!(st.idle_window, Some(Duration::from_secs(10)));
    assert_eq!(st.snapshot().idle_window, Some(Duration::from_secs(10)));
    st.learn_session_limit(t0 + Duration::from_secs(12));
    assert_eq!(st.session_deadline(), Some(t0 + Duration::from_secs(12)));
}

#[test]
fn absurd_server_numbers_never_overflow_a_deadline() {
    let t0 = Instant::now();
    let mut st = State::new(Duration::from_secs(u64::MAX / 2));
    st.session_configured = Some(Duration::from_secs(u64::MAX));
    st.idle_configured = Some(Duration::MAX);
    let mut g = grant(GrantKind::ClientCredentials, 15, Some("RT"), t0);
    g.lifetime = Some(Duration::MAX);
    g.refresh_expires_in = Some(Duration::MAX);
    let generation = st.install(&g, true, SystemTime::now());
    assert!(st.observe(generation, t0, u64::MAX));
    let _ = st.snapshot();
    let _ = st.next_refresh_at();
    let _ = st.usable(t0);
    let _ = st.plan(t0);
    let mut g2 = refresh_grant("RT2", u64::MAX, t0 + Duration::from_secs(5));
    g2.lifetime = None;
    g2.lifetime_source = LifetimeSource::TooShort;
    st.install(&g2, false, SystemTime::now());
    // A lifetime too short to plan with: no TTL deadline, used until refused.
    assert_eq!(st.current.as_ref().unwrap().ttl_deadline, None);
    assert_eq!(
        st.snapshot().lifetime_source,
        Some(LifetimeSource::TooShort)
    );
}

#[test]
fn renewal_is_planned_inside_the_refresh_window() {
    let t0 = Instant::now();
    let mut st = State::new(Duration::from_secs(120));
    st.install(
        &grant(GrantKind::ClientCredentials, 15, Some("RT"), t0),
        true,
        SystemTime::now(),
    );
    // Without a window: a third of the 15 s lifetime.
    assert_eq!(st.margin(), Duration::from_secs(5));
    st.refresh_window = Some(Duration::from_secs(2));
    assert_eq!(st.margin(), ms(1500));
    assert_eq!(st.next_refresh_at(), Some(t0 + ms(13_500)));
    // Learned without a number: half the margin that was refused, never below 0.5 s.
    let mut st = State::new(Duration::from_secs(4));
    st.install(
        &grant(GrantKind::ClientCredentials, 15, Some("RT"), t0),
        true,
        SystemTime::now(),
    );
    assert_eq!(st.learn_refresh_window(None), Duration::from_secs(2));
    assert_eq!(st.margin(), ms(1500));
    // A number from the server wins over a guess, and a window only ever narrows.
    assert_eq!(
        st.learn_refresh_window(Some(Duration::from_secs(1))),
        Duration::from_secs(1)
    );
    assert_eq!(
        st.learn_refresh_window(Some(Duration::from_secs(9))),
        Duration::from_secs(1)
    );
    assert_eq!(st.learn_refresh_window(Some(ms(10))), ms(500));
}
