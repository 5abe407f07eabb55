use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::auth::status::BindingClock;
use crate::run::{Counts, Direction, Reject, RejectOrigin, SegmentState};

fn status(now: Instant) -> TokenStatus {
    TokenStatus {
        phase: TokenPhase::Valid,
        fingerprint: Some("a1b2c3d4".into()),
        grant: Some(GrantKind::RefreshToken),
        issued_at: Some(now - Duration::from_secs(40)),
        issued_at_wall: Some(SystemTime::now()),
        lifetime: Some(Duration::from_secs(300)),
        lifetime_source: Some(crate::auth::status::LifetimeSource::JwtExp),
        ttl_deadline: Some(now + Duration::from_secs(260)),
        idle_deadline: Some(now + Duration::from_secs(90)),
        idle_window: Some(Duration::from_secs(120)),
        session_deadline: Some(now + Duration::from_secs(3000)),
        session_started_at: Some(now - Duration::from_secs(600)),
        server_deadline: None,
        refresh_deadline: Some(now + Duration::from_secs(7200)),
        has_refresh_token: true,
        next_refresh_at: Some(now + Duration::from_secs(60)),
        margin: Duration::from_secs(30),
        renewals: 3,
        sessions: 1,
        last_result: Some("refreshed (refresh_token) in 12 ms".into()),
        last_error: None,
        unauthorized_seen: 0,
        expired_seen: Default::default(),
        refresh_window: None,
    }
}

/// Within a second: what the console's countdowns need.
fn close(a: Option<Instant>, a_now: Instant, b: Option<Instant>, b_now: Instant) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let sa = secs_from(a_now, Some(a)).unwrap();
            let sb = secs_from(b_now, Some(b)).unwrap();
            (sa - sb).abs() < 1.0
        }
        _ => false,
    }
}

#[test]
fn token_deadlines_survive_the_trip_to_another_clock() {
    let sender_now = Instant::now();
    let t = status(sender_now);
    let line = ServerMsg::Token {
        token: WireToken::from_status(&t, sender_now),
    }
    .line();
    // The reader's clock is its own: here it reads the line 250 ms "later".
    let reader_now = sender_now + Duration::from_millis(250);
    let msg: ServerMsg = serde_json::from_str(&line).unwrap();
    let Some(EngineEvent::Token(back)) = msg.into_event(reader_now) else {
        panic!("not a token event: {line}");
    };
    for (a, b) in [
        (t.issued_at, back.issued_at),
        (t.ttl_deadline, back.ttl_deadline),
        (t.idle_deadline, back.idle_deadline),
        (t.session_deadline, back.session_deadline),
        (t.session_started_at, back.session_started_at),
        (t.server_deadline, back.server_deadline),
        (t.refresh_deadline, back.refresh_deadline),
        (t.next_refresh_at, back.next_refresh_at),
    ] {
        assert!(close(a, sender_now, b, sender_now), "{a:?} vs {b:?}");
    }
    // The countdown the console shows: same clock, same seconds left.
    let (_, clock) = back.effective_deadline().unwrap();
    assert_eq!(clock, BindingClock::Idle);
    let left = back.remaining(reader_now).unwrap().as_secs_f64();
    assert!((left - 90.0).abs() < 1.0, "{left}");
    assert_eq!(back.phase, TokenPhase::Valid);
    assert_eq!(back.grant, Some(GrantKind::RefreshToken));
    assert_eq!(back.fingerprint.as_deref(), Some("a1b2c3d4"));
    assert_eq!((back.renewals, back.sessions), (3, 1));
    assert_eq!(back.margin, t.margin);
    assert_eq!(back.last_result, t.last_result);
}

#[test]
fn expiry_for_ps_is_the_earliest_clock() {
    let now = Instant::now();
    let w = WireToken::from_status(&status(now), now);
    let e = w.expires_in_secs().unwrap();
    assert!((e - 90.0).abs() < 0.5, "{e}");
    let none = WireToken::from_status(&TokenStatus::default(), now);
    assert_eq!(none.expires_in_secs(), None);
}

#[test]
fn a_deadline_no_clock_can_hold_becomes_now() {
    let now = Instant::now();
    assert_eq!(instant_at(now, Some(f64::NAN)), Some(now));
    assert_eq!(instant_at(now, Some(-1e300)), Some(now));
    assert_eq!(instant_at(now, Some(1e300)), Some(now));
    assert_eq!(instant_at(now, None), None);
}

#[test]
fn the_token_line_carries_the_fingerprint_and_nothing_else_of_the_token() {
    let now = Instant::now();
    let v = serde_json::to_value(WireToken::from_status(&status(now), now)).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    // A new field is a deliberate decision: check it cannot hold a secret, then add it here.
    assert_eq!(
        keys,
        [
            "expired_seen",
            "fingerprint",
            "grant",
            "has_refresh_token",
            "idle_in_secs",
            "idle_window",
            "issued_at_wall",
            "issued_in_secs",
            "last_error",
            "last_result",
            "lifetime",
            "lifetime_source",
            "margin",
            "next_refresh_in_secs",
            "phase",
            "refresh_in_secs",
            "refresh_window",
            "renewals",
            "server_in_secs",
            "session_in_secs",
            "session_started_in_secs",
            "sessions",
            "ttl_in_secs",
            "unauthorized_seen",
        ]
    );
}

fn view() -> SegmentView {
    SegmentView {
        index: 4,
        state: SegmentState::DoneWithRejects,
        records: 50,
        attempts: 2,
        counts: Counts {
            created: 48,
            rejected: 2,
            ..Counts::default()
        },
        last_error: Some("HTTP 503".into()),
        duration: Some(Duration::from_millis(1234)),
        rejects: vec![Reject {
            segment: 4,
            line: Some(210),
            supplier_id: "SUP-210".into(),
            reason: "bad country".into(),
            origin: RejectOrigin::Server,
        }],
    }
}

#[test]
fn every_event_survives_the_round_trip() {
    let now = Instant::now();
    let info = RunInfo {
        run_id: "r1".into(),
        direction: Direction::Push,
        source: "suppliers.csv".into(),
        target: "127.0.0.1:9".into(),
        total_records: 100,
        segments: vec![view(), SegmentView::pending(5, 50)],
        started_wall: SystemTime::now(),
        local_rejects: 1,
        api_style: String::new(),
    };
    let summary = RunSummary {
        run_id: "r1".into(),
        direction: Direction::Pull,
        state: RunState::CompletedWithFailures,
        counts: Counts::default(),
        segments_total: 2,
        segments_done: 1,
        segments_failed: 1,
        token_renewals: 4,
        sessions: 2,
        duration: Duration::from_secs(61),
        error: None,
        auth_failure: false,
    };
    let events = [
        EngineEvent::RunStarted(info.clone()),
        EngineEvent::Segment(view()),
        EngineEvent::RunState(RunState::Paused),
        EngineEvent::Notice("paused: 2 in-flight segment(s) finish".into()),
        EngineEvent::Finished(summary.clone()),
    ];
    for ev in events {
        let line = ServerMsg::from_event(&ev, now).line();
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
        let back = serde_json::from_str::<ServerMsg>(&line)
            .unwrap()
            .into_event(now)
            .unwrap();
        assert_eq!(format!("{back:?}"), format!("{ev:?}"), "{line}");
    }
}

#[test]
fn connection_lines_are_not_events() {
    let now = Instant::now();
    let hello = ServerMsg::Hello {
        protocol: PROTOCOL,
        pid: 42,
        run_id: "r".into(),
        version: "0.1.0".into(),
    };
    let back: ServerMsg = serde_json::from_str(&hello.line()).unwrap();
    assert_eq!(back, hello);
    assert!(back.into_event(now).is_none());
    assert_eq!(ServerMsg::Live.line(), "{\"type\":\"live\"}\n");
}

#[test]
fn commands_have_a_stable_spelling() {
    let all = [
        (Command::Pause, r#"{"command":"pause"}"#),
        (Command::Resume, r#"{"command":"resume"}"#),
        (Command::ForceRefresh, r#"{"command":"force_refresh"}"#),
        (
            Command::RetrySegment(7),
            r#"{"command":"retry_segment","segment":7}"#,
        ),
        (Command::RetryAllFailed, r#"{"command":"retry_all_failed"}"#),
        (Command::Stop, r#"{"command":"stop"}"#),
    ];
    for (cmd, text) in all {
        assert_eq!(
            serde_json::to_string(&WireCommand::from(&cmd)).unwrap(),
            text
        );
        let back: WireCommand = serde_json::from_str(text).unwrap();
        assert_eq!(Command::from(back), cmd);
    }
    assert!(serde_json::from_str::<WireCommand>(r#"{"command":"format_disk"}"#).is_err());
}

#[test]
fn pace_commands_and_views_cross_the_wire() {
    use crate::engine::events::PaceView;
    use crate::engine::pace::PaceChange;
    let cmd = Command::Pace(PaceChange::Configured);
    let line = serde_json::to_string(&WireCommand::from(&cmd)).unwrap();
    assert_eq!(line, r#"{"command":"pace","change":"configured"}"#);
    let back: WireCommand = serde_json::from_str(&line).unwrap();
    assert_eq!(Command::from(back), cmd);
    let view = PaceView {
        limit: 5,
        auto: true,
        reason: "auto, raised".into(),
        paced_by: None,
        throttled: 0,
    };
    let now = std::time::Instant::now();
    let msg = ServerMsg::from_event(&EngineEvent::Pace(view.clone()), now);
    let parsed: ServerMsg = serde_json::from_str(msg.line().trim()).unwrap();
    match parsed.into_event(now) {
        Some(EngineEvent::Pace(v)) => assert_eq!(v, view),
        other => panic!("{other:?}"),
    }
}
