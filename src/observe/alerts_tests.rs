use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use super::*;
use crate::auth::status::TokenPhase;
use crate::engine::events::{RunInfo, SegmentState, SegmentView};

const SECRET: &str = "s3cret-client-value";
const ACCESS: &str = "eyJhbGciOiJIUzI1NiJ9.access-token-body.sig";
const REFRESH: &str = "rt-refresh-token-value-123";

fn summary(state: RunState) -> RunSummary {
    RunSummary {
        run_id: "r-9".into(),
        direction: Direction::Push,
        state,
        counts: Counts {
            created: 5,
            ..Counts::default()
        },
        segments_total: 2,
        segments_done: 2,
        segments_failed: 0,
        token_renewals: 1,
        sessions: 1,
        duration: Duration::from_secs(2),
        // An error text carrying the secret, as a careless error might one day.
        error: Some(format!("server said: bad client secret {SECRET}")),
        auth_failure: false,
    }
}

fn started() -> EngineEvent {
    EngineEvent::RunStarted(RunInfo {
        run_id: "r-9".into(),
        direction: Direction::Push,
        source: "s.csv".into(),
        target: "api.example.com".into(),
        total_records: 20,
        segments: vec![SegmentView::pending(0, 10), SegmentView::pending(1, 10)],
        started_wall: SystemTime::now(),
        local_rejects: 0,
        api_style: String::new(),
    })
}

fn token(error: Option<String>) -> EngineEvent {
    EngineEvent::Token(TokenStatus {
        phase: TokenPhase::Failed,
        fingerprint: Some(crate::secret::fingerprint(ACCESS)),
        grant: Some(GrantKind::RefreshToken),
        has_refresh_token: true,
        last_result: Some(format!("refreshed with {REFRESH}")),
        last_error: error,
        ..TokenStatus::default()
    })
}

fn tracker() -> Tracker {
    Tracker::new(
        "api.example.com".into(),
        SecretMasker::new(vec![
            Secret::new(SECRET),
            Secret::new(ACCESS),
            Secret::new(REFRESH),
        ]),
    )
}

/// One alert of every kind, from the events that raise them.
fn every_alert() -> Vec<Alert> {
    let mut t = tracker();
    let now = SystemTime::now();
    let mut out = Vec::new();
    out.extend(t.on_event(&started(), now));
    out.extend(t.on_event(
        &token(Some(format!("invalid_grant for {REFRESH} using {SECRET}"))),
        now,
    ));
    out.extend(t.on_event(&token(None), now));
    out.extend(t.on_event(&failed(0, &format!("refused {SECRET}")), now));
    let mut rejects = summary(RunState::Completed);
    rejects.counts.rejected = 2;
    let mut failed_segments = summary(RunState::CompletedWithFailures);
    failed_segments.segments_failed = 1;
    let mut auth = summary(RunState::Failed);
    auth.auth_failure = true;
    for s in [
        summary(RunState::Completed),
        rejects,
        failed_segments,
        auth,
        summary(RunState::Interrupted),
        summary(RunState::Failed),
    ] {
        out.extend(t.on_event(&EngineEvent::Finished(s), now));
    }
    out.push(t.credential_expiring("client_secret", now + Duration::from_secs(3 * 86_400), now));
    out
}

#[test]
fn no_payload_of_any_kind_carries_a_secret_or_token() {
    let alerts = every_alert();
    let kinds: HashSet<AlertKind> = alerts.iter().map(|a| a.event).collect();
    assert_eq!(
        kinds,
        AlertKind::ALL.into_iter().collect(),
        "every kind is covered"
    );
    for a in &alerts {
        let json = String::from_utf8(crate::observe::notify::payload(a).unwrap()).unwrap();
        for needle in [SECRET, ACCESS, REFRESH] {
            assert!(!json.contains(needle), "{needle} in {json}");
        }
        assert!(
            json.ends_with('\n') && json.matches('\n').count() == 1,
            "one line: {json}"
        );
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["event"], a.event.name());
        assert_eq!(v["destination_host"], "api.example.com");
        assert_eq!(v["run_id"], "r-9");
    }
    let failed = alerts
        .iter()
        .find(|a| a.event == AlertKind::TokenRenewalFailed)
        .unwrap();
    let json = serde_json::to_string(failed).unwrap();
    assert!(json.contains(&Secret::new(SECRET).fingerprint()), "{json}");
    assert!(json.contains(&crate::secret::fingerprint(ACCESS)), "{json}");
}

#[test]
fn outcomes_map_like_exit_codes_and_pings_follow() {
    let kind = |s: &RunSummary| AlertKind::for_summary(s);
    assert_eq!(kind(&summary(RunState::Completed)), AlertKind::RunSucceeded);
    let mut s = summary(RunState::Completed);
    s.counts.rejected = 1;
    assert_eq!(kind(&s), AlertKind::RunFinishedWithRejects);
    assert_eq!(
        AlertKind::RunFinishedWithRejects.ping(),
        Some(Ping::Success)
    );
    s.segments_failed = 1;
    assert_eq!(
        kind(&s),
        AlertKind::SegmentsFailed,
        "failed segments outrank rejects"
    );
    assert_eq!(AlertKind::SegmentsFailed.ping(), Some(Ping::Fail));
    let mut s = summary(RunState::Failed);
    assert_eq!(kind(&s), AlertKind::RunFailed);
    s.auth_failure = true;
    assert_eq!(kind(&s), AlertKind::AuthFailed);
    assert_eq!(
        kind(&summary(RunState::Interrupted)),
        AlertKind::RunInterrupted
    );
    assert_eq!(AlertKind::RunStarted.ping(), Some(Ping::Start));
    assert_eq!(AlertKind::TokenRenewalFailed.ping(), None);
    for k in AlertKind::ALL {
        assert_eq!(AlertKind::from_name(k.name()), Some(k));
        assert!(
            crate::config::ALERT_KINDS.contains(&k.name()),
            "{k:?} in the config list"
        );
    }
    assert_eq!(crate::config::ALERT_KINDS.len(), AlertKind::ALL.len());
}

#[test]
fn one_renewal_alert_per_failure_episode() {
    let mut t = tracker();
    let now = SystemTime::now();
    let fired = |t: &mut Tracker, e: Option<&str>| {
        t.on_event(&token(e.map(String::from)), now)
            .map(|a| a.event)
    };
    assert_eq!(fired(&mut t, None), None);
    assert_eq!(
        fired(&mut t, Some("503")),
        Some(AlertKind::TokenRenewalFailed)
    );
    assert_eq!(fired(&mut t, Some("503 again, retry after 3 s")), None);
    assert_eq!(
        fired(&mut t, None),
        Some(AlertKind::TokenRenewalRecovered),
        "the episode's end is told"
    );
    assert_eq!(fired(&mut t, None), None, "once");
    assert_eq!(
        fired(&mut t, Some("503")),
        Some(AlertKind::TokenRenewalFailed)
    );
    assert!(t.on_event(&started(), now).is_some());
    assert!(t.on_event(&started(), now).is_none(), "run_started once");
}

fn failed(index: usize, error: &str) -> EngineEvent {
    EngineEvent::Segment(SegmentView {
        state: SegmentState::Failed,
        attempts: 5,
        last_error: Some(error.to_string()),
        ..SegmentView::pending(index, 10)
    })
}

fn done(index: usize) -> EngineEvent {
    EngineEvent::Segment(SegmentView {
        state: SegmentState::Done,
        ..SegmentView::pending(index, 10)
    })
}

#[test]
fn segments_failed_fires_at_the_first_failure_once_per_episode() {
    let mut t = tracker();
    let now = SystemTime::now();
    assert!(t.on_event(&started(), now).is_some());
    assert!(t.on_event(&done(0), now).is_none());
    let first = t.on_event(&failed(1, "HTTP 500"), now).unwrap();
    assert_eq!(first.event, AlertKind::SegmentsFailed);
    assert!(
        first
            .message
            .contains("segment 1 failed after 5 attempt(s): HTTP 500")
    );
    assert_eq!(first.ping(), None, "the run goes on: no fail ping yet");
    assert!(
        t.on_event(&failed(2, "HTTP 500"), now).is_none(),
        "same episode"
    );
    // Retried: both succeed, and the next failure is a new episode.
    assert!(t.on_event(&done(1), now).is_none());
    assert!(
        t.on_event(&failed(2, "again"), now).is_none(),
        "2 still failed"
    );
    assert!(t.on_event(&done(2), now).is_none());
    let again = t.on_event(&failed(3, "HTTP 502"), now).unwrap();
    assert_eq!(again.event, AlertKind::SegmentsFailed);
    // The outcome still pings.
    let mut s = summary(RunState::CompletedWithFailures);
    s.segments_failed = 1;
    let end = t.on_event(&EngineEvent::Finished(s), now).unwrap();
    assert_eq!(end.event, AlertKind::SegmentsFailed);
    assert_eq!(end.ping(), Some(Ping::Fail));
}
