//! Renewal planning over random clock combinations, in simulated time: the planner
//! (`State` driven the way the background task and `renew_once` drive it) against a
//! server model with the simulator's rules (docs/API.md §2), and against a reference
//! count of the renewals the access token needs. Only two clocks end the access token's
//! use: its TTL and the session limit. The idle window is kept open by calls, the refresh
//! token's expiry only decides which grant the next renewal uses.

use std::time::{Duration, Instant, SystemTime};

use proptest::prelude::*;

use super::*;

/// The background task pauses this long after a renewal before planning the next.
const FLOOR: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
struct Clocks {
    ttl: Duration,
    refresh_ttl: Option<Duration>,
    session: Option<Duration>,
    idle: Option<Duration>,
    /// The server's refresh window, and whether the client was told it (else it learns
    /// it from one refusal).
    window: Option<(Duration, bool)>,
    margin_cfg: Duration,
    rotate: bool,
    run: Duration,
}

/// The server's side: one session, its refresh token, its latest access token.
struct Server {
    c: Clocks,
    session_end: Option<Instant>,
    refresh: Option<(u64, Instant)>,
    access_expires: Instant,
    serial: u64,
}

enum Refusal {
    TooEarly(Duration),
    Refused,
}

impl Server {
    fn grant(&mut self, kind: GrantKind, now: Instant, rt: Option<(u64, Instant)>) -> Grant {
        self.refresh = rt;
        self.access_expires = now + self.c.ttl;
        self.serial += 1;
        Grant {
            kind,
            access_token: Secret::new(format!("AT{}", self.serial)),
            refresh_token: rt.map(|(id, _)| Secret::new(format!("RT{id}"))),
            expires_in: Some(self.c.ttl),
            lifetime: Some(self.c.ttl),
            lifetime_source: LifetimeSource::ExpiresIn,
            refresh_expires_in: rt.map(|(_, d)| d.saturating_duration_since(now)),
            granted_scopes: None,
            sent_at: now,
            received_at: now,
        }
    }

    /// A refresh token that lives `refresh_ttl`, never past the session's end.
    fn new_refresh(&mut self, now: Instant) -> Option<(u64, Instant)> {
        let d = now + self.c.refresh_ttl?;
        self.serial += 1;
        Some((self.serial, self.session_end.map_or(d, |e| d.min(e))))
    }

    fn client_credentials(&mut self, now: Instant) -> Grant {
        self.session_end = self.c.session.map(|l| now + l);
        let rt = self.new_refresh(now);
        self.grant(GrantKind::ClientCredentials, now, rt)
    }

    fn refresh(&mut self, now: Instant, presented: &Secret) -> Result<Grant, Refusal> {
        let Some((id, expires)) = self.refresh else {
            return Err(Refusal::Refused);
        };
        if *presented != Secret::new(format!("RT{id}"))
            || expires <= now
            || self.session_end.is_some_and(|e| e <= now)
        {
            return Err(Refusal::Refused);
        }
        if let Some((w, _)) = self.c.window
            && self.access_expires.saturating_duration_since(now) > w
        {
            return Err(Refusal::TooEarly(w));
        }
        let rt = if self.c.rotate {
            self.new_refresh(now)
        } else {
            Some((id, expires))
        };
        Ok(self.grant(GrantKind::RefreshToken, now, rt))
    }

    /// When the current access token stops being usable.
    fn death(&self) -> Instant {
        self.session_end
            .map_or(self.access_expires, |e| e.min(self.access_expires))
    }
}

/// What one run of the planner cost.
#[derive(Debug)]
struct Cost {
    requests: u64,
    too_early: u64,
}

/// Drives the planner through the run: sleep until `next_refresh_at`, plan, ask the
/// server, install (as `background` and `renew_once` do). Panics if a renewal would come
/// after the token's use ended.
fn planner(c: &Clocks) -> Cost {
    let t0 = Instant::now();
    let end = t0 + c.run;
    let mut st = State::new(c.margin_cfg);
    st.idle_configured = c.idle;
    st.session_configured = c.session;
    st.refresh_window = c.window.filter(|(_, told)| *told).map(|(w, _)| w);
    let mut srv = Server {
        c: c.clone(),
        session_end: None,
        refresh: None,
        access_expires: t0,
        serial: 0,
    };
    let mut cost = Cost {
        requests: 1,
        too_early: 0,
    };
    st.install(&srv.client_credentials(t0), true, SystemTime::now());
    let mut now = t0;
    for _ in 0..100_000 {
        st.last_activity = now;
        let due = st
            .next_refresh_at()
            .expect("a token with a lifetime has a renewal planned");
        let at = due.max(now + FLOOR);
        if at >= end {
            return cost;
        }
        assert!(
            at < srv.death(),
            "renewal at {:?} comes after the token died at {:?}: {c:?}",
            at - t0,
            srv.death() - t0
        );
        now = at;
        cost.requests += 1;
        match st.plan(now) {
            RenewalPlan::Refresh(rt) => match srv.refresh(now, &rt) {
                Ok(g) => {
                    st.install(&g, false, SystemTime::now());
                }
                Err(Refusal::TooEarly(w)) => {
                    cost.too_early += 1;
                    st.learn_refresh_window(Some(w));
                }
                Err(Refusal::Refused) => {
                    cost.requests += 1;
                    st.install(&srv.client_credentials(now), true, SystemTime::now());
                }
            },
            RenewalPlan::NewSession(_) => {
                st.install(&srv.client_credentials(now), true, SystemTime::now());
            }
        }
    }
    panic!("the planner did not finish the run: {c:?}, {cost:?}");
}

/// The renewals the access token needs, counted from the two clocks that end its use:
/// each token is renewed a margin before it dies (the margin being a share of the
/// shortest of those clocks, and inside the refresh window), by a refresh when the
/// refresh token outlives the margin and the refreshed token would not die with the
/// session, else by a new session.
fn needed(c: &Clocks) -> u64 {
    let shortest = c.session.map_or(c.ttl, |l| l.min(c.ttl));
    // The window counts once known: told, or learned at the first refresh.
    let mut window = c.window.filter(|(_, told)| *told).map(|(w, _)| w);
    let margin = |window: Option<Duration>| {
        let m = c.margin_cfg.min(shortest / MARGIN_FRACTION);
        window.map_or(m, |w| m.min(w * WINDOW_SHARE_NUM / WINDOW_SHARE_DEN))
    };
    let never = c.run + c.ttl * 4;
    let (mut session_start, mut issued) = (Duration::ZERO, Duration::ZERO);
    let new_refresh = |at: Duration, start: Duration| {
        c.refresh_ttl
            .map(|r| (at + r).min(c.session.map_or(never, |l| start + l)))
    };
    let mut refresh = new_refresh(Duration::ZERO, Duration::ZERO);
    let mut renewals = 0;
    loop {
        let session_end = c.session.map_or(never, |l| session_start + l);
        let death = (issued + c.ttl).min(session_end);
        let refreshable = |at: Duration, m: Duration| {
            refresh.is_some_and(|d| d > at + m) && session_end >= at + c.ttl
        };
        let mut m = margin(window);
        let mut at = death.saturating_sub(m).max(issued + FLOOR);
        // A refresh sent with more than the window left is refused, which teaches it.
        if let Some((w, _)) = c.window
            && window.is_none()
            && refreshable(at, m)
            && (issued + c.ttl).saturating_sub(at) > w
        {
            window = Some(w);
            m = margin(window);
            at = death.saturating_sub(m).max(issued + FLOOR);
        }
        if at >= c.run {
            return renewals;
        }
        renewals += 1;
        let refreshable = refreshable(at, m);
        if refreshable {
            if c.rotate {
                refresh = new_refresh(at, session_start);
            }
        } else {
            session_start = at;
            refresh = new_refresh(at, at);
        }
        issued = at;
    }
}

fn secs(range: std::ops::RangeInclusive<u64>) -> impl Strategy<Value = Duration> {
    range.prop_map(Duration::from_secs)
}

fn clocks() -> impl Strategy<Value = Clocks> {
    (
        secs(2..=7200),
        proptest::option::of(secs(1..=7200)),
        proptest::option::of(secs(2..=14_400)),
        proptest::option::of(secs(1..=3600)),
        proptest::option::of((1u64..=100, any::<bool>())),
        secs(1..=600),
        any::<bool>(),
        1u32..=30,
    )
        .prop_map(
            |(ttl, refresh_ttl, session, idle, window, margin_cfg, rotate, k)| {
                // A window is a share of the TTL (it never exceeds it on a sane server).
                let window = window.map(|(pct, told)| {
                    (
                        Duration::from_secs((ttl.as_secs() * pct / 100).max(1)),
                        told,
                    )
                });
                let shortest = session.map_or(ttl, |l| l.min(ttl));
                Clocks {
                    ttl,
                    refresh_ttl,
                    session,
                    idle,
                    window,
                    margin_cfg,
                    rotate,
                    run: shortest * k,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn token_requests_stay_within_the_renewals_the_access_token_needs(c in clocks()) {
        let cost = planner(&c);
        let need = needed(&c);
        // One refusal teaches a window the client was not told; it never recurs.
        prop_assert!(cost.too_early <= 1, "{c:?}: {cost:?}");
        prop_assert!(
            cost.requests - cost.too_early <= need + 1,
            "{c:?}: {cost:?}, {need} renewals needed"
        );
    }
}

#[test]
fn a_refresh_token_shorter_than_the_access_token_lapses_without_renewals() {
    // 60 s refresh tokens under 900 s access tokens for an hour: the access token is
    // renewed every 780 s (a 120 s margin), by a new session since the refresh token is
    // long gone; one renewal a second was the old behaviour.
    let c = Clocks {
        ttl: Duration::from_secs(900),
        refresh_ttl: Some(Duration::from_secs(60)),
        session: None,
        idle: None,
        window: None,
        margin_cfg: Duration::from_secs(120),
        rotate: true,
        run: Duration::from_secs(3600),
    };
    let cost = planner(&c);
    assert_eq!(needed(&c), 4);
    assert_eq!(cost.requests, 5, "{cost:?}");
}

#[test]
fn a_session_shorter_than_the_margin_is_not_renewed_at_once() {
    // A 30 s session under 900 s tokens and a 120 s margin: the margin shrinks to a third
    // of the session instead of planning each new session's renewal at once.
    let c = Clocks {
        ttl: Duration::from_secs(900),
        refresh_ttl: Some(Duration::from_secs(86_400)),
        session: Some(Duration::from_secs(30)),
        idle: Some(Duration::from_secs(10)),
        window: None,
        margin_cfg: Duration::from_secs(120),
        rotate: true,
        run: Duration::from_secs(300),
    };
    // Every 20 s: 14 renewals in 300 s, plus the first token.
    assert_eq!(planner(&c).requests, 15);
}
