use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::auth::status::{GrantKind, TokenPhase};
use crate::engine::events::{Counts, Direction, RunInfo, RunSummary};

/// Parses with a real parser of the format, and insists it understood every sample line
/// (the parser skips what it cannot read).
pub(crate) fn parse(text: &str) -> prometheus_parse::Scrape {
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let sample_lines = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(
        scrape.samples.len(),
        sample_lines,
        "unparsed lines in\n{text}"
    );
    scrape
}

fn value(s: &prometheus_parse::Scrape, metric: &str, label: Option<(&str, &str)>) -> f64 {
    let found = s
        .samples
        .iter()
        .find(|x| x.metric == metric && label.is_none_or(|(k, v)| x.labels.get(k) == Some(v)));
    match found.map(|x| &x.value) {
        Some(prometheus_parse::Value::Counter(v))
        | Some(prometheus_parse::Value::Gauge(v))
        | Some(prometheus_parse::Value::Untyped(v)) => *v,
        other => panic!("{metric} {label:?}: {other:?}"),
    }
}

fn view(index: usize, state: SegmentState, attempts: u32, counts: Counts) -> SegmentView {
    SegmentView {
        state,
        attempts,
        counts,
        ..SegmentView::pending(index, 10)
    }
}

#[test]
fn a_run_folds_into_every_series() {
    let m = Metrics::new("qms.example.com:8443");
    let t0 = Instant::now();
    m.observe(&EngineEvent::RunStarted(RunInfo {
        run_id: "r-1".into(),
        direction: Direction::Push,
        source: "s.csv".into(),
        target: "qms.example.com".into(),
        total_records: 30,
        segments: (0..3).map(|i| SegmentView::pending(i, 10)).collect(),
        started_wall: SystemTime::now(),
        local_rejects: 0,
        api_style: String::new(),
    }));
    m.observe(&EngineEvent::RunState(RunState::Running));
    let done = Counts {
        created: 9,
        rejected: 1,
        ..Counts::default()
    };
    m.observe(&EngineEvent::Segment(view(
        0,
        SegmentState::Running,
        1,
        Counts::default(),
    )));
    m.observe(&EngineEvent::Segment(view(
        0,
        SegmentState::Retrying,
        2,
        Counts::default(),
    )));
    m.observe(&EngineEvent::Segment(view(
        0,
        SegmentState::DoneWithRejects,
        3,
        done,
    )));
    m.observe(&EngineEvent::Segment(view(
        1,
        SegmentState::Failed,
        1,
        Counts::default(),
    )));
    let token = TokenStatus {
        phase: TokenPhase::Valid,
        fingerprint: Some("#abcdef12".into()),
        grant: Some(GrantKind::RefreshToken),
        ttl_deadline: Some(t0 + Duration::from_secs(100)),
        idle_deadline: Some(t0 + Duration::from_secs(50)),
        refresh_deadline: Some(t0 + Duration::from_secs(1000)),
        renewals: 4,
        sessions: 2,
        unauthorized_seen: 3,
        ..TokenStatus::default()
    };
    m.observe(&EngineEvent::Token(token.clone()));
    m.observe(&EngineEvent::Token(TokenStatus {
        last_error: Some("token endpoint unreachable".into()),
        ..token.clone()
    }));
    m.set_credential_expiry(
        "client_secret",
        SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000),
    );

    let text = m.render_at(t0 + Duration::from_secs(10));
    let s = parse(&text);
    let info = s
        .samples
        .iter()
        .find(|x| x.metric == "supsync_run_info")
        .unwrap();
    assert_eq!(info.labels.get("run_id"), Some("r-1"));
    assert_eq!(info.labels.get("direction"), Some("push"));
    assert_eq!(
        info.labels.get("destination_host"),
        Some("qms.example.com:8443")
    );
    assert_eq!(
        s.samples
            .iter()
            .filter(|x| x.metric == "supsync_run_info")
            .count(),
        1
    );
    assert_eq!(
        value(&s, "supsync_run_state", Some(("state", "running"))),
        1.0
    );
    assert_eq!(
        value(&s, "supsync_run_state", Some(("state", "planning"))),
        0.0
    );
    assert_eq!(
        value(&s, "supsync_records", Some(("state", "created"))),
        9.0
    );
    assert_eq!(
        value(&s, "supsync_records", Some(("state", "rejected"))),
        1.0
    );
    assert_eq!(
        value(&s, "supsync_records", Some(("state", "pending"))),
        20.0
    );
    assert_eq!(
        value(&s, "supsync_segments", Some(("state", "done_with_rejects"))),
        1.0
    );
    assert_eq!(
        value(&s, "supsync_segments", Some(("state", "failed"))),
        1.0
    );
    assert_eq!(
        value(&s, "supsync_segments", Some(("state", "pending"))),
        1.0
    );
    assert_eq!(value(&s, "supsync_retries_total", None), 2.0);
    // 2 sessions, the first one not a renewal: 1 new session + 3 refreshes = 4 renewals.
    assert_eq!(
        value(
            &s,
            "supsync_token_renewals_total",
            Some(("grant", "client_credentials"))
        ),
        1.0
    );
    assert_eq!(
        value(
            &s,
            "supsync_token_renewals_total",
            Some(("grant", "refresh_token"))
        ),
        3.0
    );
    assert_eq!(value(&s, "supsync_token_renewal_failures_total", None), 1.0);
    assert_eq!(value(&s, "supsync_expired_answers_total", None), 3.0);
    // Absolute times: when the token dies, as of the status (100 s, 50 s, 1000 s after t0).
    let unix_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for (clock, after) in [("ttl", 100.0), ("idle", 50.0), ("refresh_token", 1000.0)] {
        let at = value(
            &s,
            "supsync_token_expiry_timestamp_seconds",
            Some(("clock", clock)),
        );
        assert!((at - (unix_now + after)).abs() < 5.0, "{clock}: {at}");
    }
    assert_eq!(
        value(
            &s,
            "supsync_build_info",
            Some(("version", env!("CARGO_PKG_VERSION")))
        ),
        1.0
    );
    assert!(value(&s, "supsync_run_start_timestamp_seconds", None) > 1.0e9);
    assert_eq!(value(&s, "supsync_run_end_timestamp_seconds", None), 0.0);
    assert!(
        !text.contains("clock=\"session\""),
        "an unknown clock is absent, not zero:\n{text}"
    );
    assert_eq!(
        value(
            &s,
            "supsync_credential_expiry_timestamp_seconds",
            Some(("credential", "client_secret"))
        ),
        2_000_000_000.0
    );
    let last = value(&s, "supsync_last_success_timestamp_seconds", None);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - last).abs() < 60.0, "{last} vs {now}");

    // Counters only grow: a repeated status adds nothing, a later one adds the difference.
    m.observe(&EngineEvent::Token(TokenStatus {
        renewals: 5,
        ..token
    }));
    let s = parse(&m.render());
    assert_eq!(
        value(
            &s,
            "supsync_token_renewals_total",
            Some(("grant", "refresh_token"))
        ),
        4.0
    );
    assert_eq!(value(&s, "supsync_expired_answers_total", None), 3.0);
    assert_eq!(value(&s, "supsync_token_renewal_failures_total", None), 1.0);

    m.observe(&EngineEvent::Finished(RunSummary {
        run_id: "r-1".into(),
        direction: Direction::Push,
        state: RunState::CompletedWithFailures,
        counts: done,
        segments_total: 3,
        segments_done: 1,
        segments_failed: 1,
        token_renewals: 5,
        sessions: 2,
        duration: Duration::from_secs(3),
        error: None,
        auth_failure: false,
    }));
    let s = parse(&m.render());
    assert_eq!(
        value(
            &s,
            "supsync_run_state",
            Some(("state", "completed_with_failures"))
        ),
        1.0
    );
    assert_eq!(
        value(&s, "supsync_run_state", Some(("state", "running"))),
        0.0
    );
    assert!(value(&s, "supsync_run_end_timestamp_seconds", None) > 1.0e9);
}

#[test]
fn before_the_plan_the_series_exist_with_blanks() {
    let s = parse(&Metrics::new("h").render());
    assert_eq!(
        value(&s, "supsync_run_state", Some(("state", "planning"))),
        1.0
    );
    assert_eq!(
        value(&s, "supsync_records", Some(("state", "pending"))),
        0.0
    );
    assert_eq!(
        value(&s, "supsync_last_success_timestamp_seconds", None),
        0.0
    );
    let m = Metrics::new("h");
    m.seed_last_success(1_700_000_000);
    let s = parse(&m.render());
    assert_eq!(
        value(&s, "supsync_last_success_timestamp_seconds", None),
        1_700_000_000.0
    );
}
