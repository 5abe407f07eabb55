use super::*;

fn cfg(idle: u64, cap: u64, single: bool, lockout_after: u32, lockout: u64) -> SessionProfile {
    let mut p = crate::sim::Profile::default().session;
    p.idle_secs = idle;
    p.cap_secs = cap;
    p.single_session = single;
    p.lockout_after = lockout_after;
    p.lockout_secs = lockout;
    p
}

const PW: &str = "pw";

fn login(st: &mut SessionStore, now: Instant) -> LoggedIn {
    st.login("u", Some(PW), PW, now).expect("login succeeds")
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn idle_window_slides_and_kills_with_its_description() {
    let mut st = SessionStore::new(&cfg(15, 0, true, 5, 30));
    let t0 = Instant::now();
    let id = login(&mut st, t0).id;
    assert_eq!(st.remaining_secs(&id, t0), Some(15));
    assert_eq!(st.authenticate(&id, t0 + secs(10)).as_deref(), Ok("u"));
    // Slid to 10 + 15 = 25.
    assert_eq!(st.remaining_secs(&id, t0 + secs(11)), Some(14));
    assert!(st.authenticate(&id, t0 + secs(24)).is_ok());
    let e = st.authenticate(&id, t0 + secs(40)).unwrap_err();
    assert_eq!(e.description, "Session idle for 0m 16s (idle timeout 15s)");
    assert!(!e.by_newer_login);
    assert_eq!(st.remaining_secs(&id, t0 + secs(40)), Some(0));
}

#[test]
fn cap_kills_a_session_kept_alive() {
    let mut st = SessionStore::new(&cfg(15, 60, true, 5, 30));
    let t0 = Instant::now();
    let id = login(&mut st, t0).id;
    for s in (10..60).step_by(10) {
        assert!(st.authenticate(&id, t0 + secs(s)).is_ok(), "alive at {s}");
    }
    // Idle would allow 50 + 15 = 65; the cap says 60.
    assert_eq!(st.remaining_secs(&id, t0 + secs(50)), Some(10));
    let e = st.authenticate(&id, t0 + secs(60)).unwrap_err();
    assert_eq!(e.description, "Session expired after 1m 00s");
}

#[test]
fn no_clocks_means_no_deadline() {
    let mut st = SessionStore::new(&cfg(0, 0, false, 0, 0));
    let t0 = Instant::now();
    let id = login(&mut st, t0).id;
    assert_eq!(st.remaining_secs(&id, t0), None);
    assert!(st.authenticate(&id, t0 + secs(1_000_000)).is_ok());
    assert_eq!(st.remaining_secs("nope", t0), Some(0));
    let e = st.authenticate("nope", t0).unwrap_err();
    assert_eq!(e.description, "Session is not known to this server");
}

#[test]
fn single_session_ends_the_older_one() {
    let mut st = SessionStore::new(&cfg(15, 60, true, 5, 30));
    let t0 = Instant::now();
    let first = login(&mut st, t0);
    assert_eq!((first.ended_others, first.live), (0, 1));
    let second = login(&mut st, t0 + secs(1));
    assert_eq!((second.ended_others, second.live), (1, 1));
    let e = st.authenticate(&first.id, t0 + secs(2)).unwrap_err();
    assert_eq!(e.description, "Session ended by a newer login");
    assert!(e.by_newer_login);
    assert!(st.authenticate(&second.id, t0 + secs(2)).is_ok());
    // Another user's session is not touched.
    let other = st.login("v", Some(PW), PW, t0 + secs(3)).unwrap();
    assert_eq!(other.ended_others, 0);
    assert!(st.authenticate(&second.id, t0 + secs(4)).is_ok());
}

#[test]
fn without_single_session_logins_pile_up() {
    let mut st = SessionStore::new(&cfg(15, 60, false, 5, 30));
    let t0 = Instant::now();
    let a = login(&mut st, t0);
    let b = login(&mut st, t0 + secs(1));
    assert_eq!((b.ended_others, b.live), (0, 2));
    assert!(st.authenticate(&a.id, t0 + secs(2)).is_ok());
    // A session dead of idleness is not live any more.
    let c = login(&mut st, t0 + secs(40));
    assert_eq!(c.live, 1);
}

#[test]
fn lockout_after_n_failures_refuses_the_right_password_and_is_not_extended() {
    let mut st = SessionStore::new(&cfg(15, 60, true, 3, 30));
    let t0 = Instant::now();
    let bad = |st: &mut SessionStore, at: u64| {
        st.login("u", Some(PW), "wrong", t0 + secs(at))
            .map(|_| "logged in")
    };
    assert_eq!(
        bad(&mut st, 0),
        Err(LoginRefused::Invalid { locked_now: false })
    );
    assert_eq!(
        bad(&mut st, 1),
        Err(LoginRefused::Invalid { locked_now: false })
    );
    assert_eq!(
        bad(&mut st, 2),
        Err(LoginRefused::Invalid { locked_now: true })
    );
    // Locked until 32, whatever is tried in between.
    let r = st.login("u", Some(PW), PW, t0 + secs(10));
    assert_eq!(r.unwrap_err(), LoginRefused::Locked { left: secs(22) });
    assert_eq!(
        bad(&mut st, 20),
        Err(LoginRefused::Locked { left: secs(12) })
    );
    let r = st.login("u", Some(PW), PW, t0 + secs(31));
    assert_eq!(r.unwrap_err(), LoginRefused::Locked { left: secs(1) });
    // After the lock the count starts afresh: one failure does not lock again.
    assert_eq!(
        bad(&mut st, 32),
        Err(LoginRefused::Invalid { locked_now: false })
    );
    assert!(st.login("u", Some(PW), PW, t0 + secs(33)).is_ok());
}

#[test]
fn a_success_resets_the_failure_count() {
    let mut st = SessionStore::new(&cfg(15, 60, true, 3, 30));
    let t0 = Instant::now();
    for _ in 0..2 {
        assert!(st.login("u", Some(PW), "wrong", t0).is_err());
    }
    login(&mut st, t0);
    for _ in 0..2 {
        let r = st.login("u", Some(PW), "wrong", t0);
        assert_eq!(r.unwrap_err(), LoginRefused::Invalid { locked_now: false });
    }
    assert!(st.login("u", Some(PW), PW, t0).is_ok());
}

#[test]
fn unknown_users_count_for_nothing_and_zero_never_locks() {
    let mut st = SessionStore::new(&cfg(15, 60, true, 0, 0));
    let t0 = Instant::now();
    for _ in 0..50 {
        let r = st.login("u", Some(PW), "wrong", t0);
        assert_eq!(r.unwrap_err(), LoginRefused::Invalid { locked_now: false });
        let r = st.login("ghost", None, "x", t0);
        assert_eq!(r.unwrap_err(), LoginRefused::Invalid { locked_now: false });
    }
    assert!(st.login("u", Some(PW), PW, t0).is_ok());
    assert!(
        !st.users.contains_key("ghost"),
        "unknown names are not remembered"
    );
}

#[test]
fn logout_and_revoke_end_live_sessions_once() {
    let mut st = SessionStore::new(&cfg(15, 60, false, 5, 30));
    let t0 = Instant::now();
    let a = login(&mut st, t0).id;
    let b = login(&mut st, t0).id;
    assert!(st.logout(&a, t0 + secs(1)));
    assert!(!st.logout(&a, t0 + secs(2)), "a second logout ends nothing");
    assert!(!st.logout("nope", t0 + secs(2)));
    let e = st.authenticate(&a, t0 + secs(2)).unwrap_err();
    assert_eq!(e.description, "Session logged out");
    assert_eq!(st.revoke_all(t0 + secs(3)), 1);
    let e = st.authenticate(&b, t0 + secs(3)).unwrap_err();
    assert_eq!(e.description, "Session revoked");
    // A session that died of idleness first keeps that reason.
    let c = login(&mut st, t0 + secs(10)).id;
    assert!(!st.logout(&c, t0 + secs(30)));
    let e = st.authenticate(&c, t0 + secs(30)).unwrap_err();
    assert!(
        e.description.starts_with("Session idle for"),
        "{}",
        e.description
    );
}

#[test]
fn logins_in_flight_are_counted_per_user() {
    let mut st = SessionStore::new(&cfg(15, 60, true, 5, 30));
    assert_eq!(st.login_started("u"), 1);
    assert_eq!(st.login_started("u"), 2);
    assert_eq!(st.login_started("v"), 1);
    st.login_done("u");
    assert_eq!(st.login_started("u"), 2);
    st.login_done("u");
    st.login_done("u");
    st.login_done("u");
    assert_eq!(st.login_started("u"), 1);
}

#[test]
fn the_cap_answers_in_the_configured_words() {
    let mut p = cfg(0, 6, true, 0, 0);
    p.cap_text = "session expired (absolute)".into();
    let mut st = SessionStore::new(&p);
    let t0 = Instant::now();
    let id = login(&mut st, t0).id;
    assert!(st.authenticate(&id, t0 + secs(5)).is_ok());
    let e = st.authenticate(&id, t0 + secs(7)).unwrap_err();
    assert_eq!(e.description, "session expired (absolute)");
}
