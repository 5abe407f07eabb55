//! `RunView::apply` for every event kind, the active clock and the ETA.

use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::engine::events::{EngineEvent, Hold, RunInfo, RunSummary, SegmentView};
use crate::run::{Counts, Direction, Outcome, RunState, SegmentState};

fn info(segments: usize, per: u64) -> RunInfo {
    RunInfo {
        run_id: "r".into(),
        direction: Direction::Push,
        source: "s.csv".into(),
        target: "h".into(),
        total_records: segments as u64 * per,
        segments: (0..segments)
            .map(|i| SegmentView::pending(i, per))
            .collect(),
        started_wall: SystemTime::now(),
        local_rejects: 0,
        api_style: String::new(),
    }
}

fn done(index: usize, created: u64) -> SegmentView {
    let mut v = SegmentView::pending(index, created);
    v.state = SegmentState::Done;
    v.attempts = 1;
    v.counts.created = created;
    v
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// 100 segments of 10 records; one segment done every second for `n` seconds from `t`.
fn run_for(v: &mut RunView, t: Instant, from: usize, n: u64) {
    for i in 0..n {
        let at = t + secs(i + 1);
        v.apply(&EngineEvent::Segment(done(from + i as usize, 10)), at);
    }
}

#[test]
fn segments_fold_into_counts_states_and_recent_outcomes() {
    let t0 = Instant::now();
    let mut v = RunView::default();
    v.apply(&EngineEvent::RunStarted(info(3, 10)), t0);
    assert_eq!(v.state, RunState::Running);
    assert_eq!(v.totals.count(SegmentState::Pending), 3);
    v.apply(&EngineEvent::Segment(done(1, 10)), t0 + secs(1));
    let mut failed = SegmentView::pending(2, 10);
    failed.state = SegmentState::Failed;
    failed.last_error = Some("HTTP 500".into());
    v.apply(&EngineEvent::Segment(failed), t0 + secs(2));
    assert_eq!(v.processed(), 10);
    assert_eq!((v.totals.finished(), v.failed(), v.in_flight()), (2, 1, 0));
    let texts: Vec<_> = v.recent.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(
        texts,
        ["segment 1 done: 10 created", "segment 2 failed: HTTP 500"]
    );
    assert_eq!(v.recent[0].at, t0 + secs(1), "each line keeps its own time");
    // A segment the plan did not announce grows the run.
    v.apply(&EngineEvent::Segment(done(5, 1)), t0 + secs(3));
    assert_eq!(v.segments.len(), 6);
}

#[test]
fn the_refresh_log_and_notices_keep_their_times() {
    let t0 = Instant::now();
    let mut v = RunView::default();
    let wall = SystemTime::UNIX_EPOCH + secs(1_800_000_000);
    v.apply(
        &EngineEvent::TokenLog(AuditLine {
            wall,
            problem: true,
            text: "refresh failed".into(),
        }),
        t0,
    );
    v.apply(&EngineEvent::Notice("journal: torn line".into()), t0);
    assert_eq!(v.refresh_log.len(), 1);
    assert_eq!(v.refresh_log[0].wall, wall);
    assert_eq!(
        v.notices.back().map(String::as_str),
        Some("journal: torn line")
    );
    assert_eq!(v.recent.back().map(|a| a.state), Some(None));
}

#[test]
fn the_end_freezes_the_clock_and_gives_the_outcome() {
    let t0 = Instant::now();
    let mut v = RunView::default();
    v.apply(&EngineEvent::RunStarted(info(1, 10)), t0);
    let mut rej = done(0, 9);
    rej.state = SegmentState::DoneWithRejects;
    rej.counts.rejected = 1;
    v.apply(&EngineEvent::Segment(rej), t0 + secs(1));
    v.apply(&EngineEvent::RunState(RunState::Completed), t0 + secs(2));
    assert_eq!(v.elapsed(t0 + secs(60)), secs(2));
    assert_eq!(v.outcome(), Some(Outcome::CompletedWithRejects));
    assert_eq!(v.eta_text(t0 + secs(60)), "done");
    v.apply(
        &EngineEvent::Finished(RunSummary {
            run_id: "r".into(),
            direction: Direction::Push,
            state: RunState::Completed,
            counts: Counts {
                created: 9,
                rejected: 1,
                ..Counts::default()
            },
            segments_total: 1,
            segments_done: 1,
            segments_failed: 0,
            token_renewals: 0,
            sessions: 1,
            duration: secs(2),
            error: None,
            auth_failure: false,
        }),
        t0 + secs(9),
    );
    assert_eq!(v.elapsed(t0 + secs(60)), secs(2));
    assert_eq!(v.outcome(), Some(Outcome::CompletedWithRejects));
}

#[test]
fn a_pause_does_not_move_the_eta() {
    let t0 = Instant::now();
    let mut v = RunView::default();
    v.apply(&EngineEvent::RunStarted(info(100, 10)), t0);
    run_for(&mut v, t0, 0, 20); // 10 records/s for 20 s
    let at_pause = t0 + secs(20);
    let before = v.eta().expect("an ETA after 20 s");
    assert_eq!(before, secs(80), "800 records left at 10/s");
    v.apply(&EngineEvent::RunState(RunState::Paused), at_pause);
    // Ticks while paused: 9 s pass, nothing is processed.
    for i in 1..=9 {
        v.tick(at_pause + secs(i));
    }
    assert_eq!(v.eta(), Some(before), "paused time is not counted");
    assert_eq!(v.eta_text(at_pause + secs(9)), "01:20 (paused)");
    let resumed = at_pause + secs(9);
    v.apply(&EngineEvent::RunState(RunState::Running), resumed);
    v.tick(resumed + secs(1));
    // One second of work without a finished segment: a small drift, not the pause's 9 s.
    let drift = v.eta().unwrap().as_secs_f64() / before.as_secs_f64();
    assert!((0.9..1.1).contains(&drift), "{drift}");
    run_for(&mut v, resumed, 20, 5);
    let eta = v.eta().unwrap().as_secs_f64();
    assert!((eta - 75.0).abs() < 1.0, "{eta}");
    assert_eq!(v.active.at(resumed + secs(5)), secs(25));
}

#[test]
fn a_hold_excludes_its_time_and_says_why() {
    let t0 = Instant::now();
    let mut v = RunView::default();
    v.apply(&EngineEvent::RunStarted(info(100, 10)), t0);
    run_for(&mut v, t0, 0, 20);
    let held = t0 + secs(20);
    v.apply(
        &EngineEvent::Holding(Some(Hold {
            reason: "API down".into(),
            until: Some(SystemTime::now() + secs(12)),
        })),
        held,
    );
    assert_eq!(
        v.stalled(held),
        Some("holding: API down, next try in 12 s".into())
    );
    for i in 1..=30 {
        v.tick(held + secs(i));
    }
    assert_eq!(v.eta(), Some(secs(80)), "an outage does not drag the rate");
    v.apply(&EngineEvent::Holding(None), held + secs(30));
    assert_eq!(v.stalled(held + secs(30)), None);
    // A token that cannot be renewed holds the run too.
    let mut t = v.token.clone();
    t.phase = crate::auth::status::TokenPhase::Failed;
    v.apply(&EngineEvent::Token(t), held + secs(31));
    assert_eq!(
        v.stalled(held + secs(31)).as_deref(),
        Some("holding: token renewal failing")
    );
}

#[test]
fn every_reader_of_one_view_gets_the_same_eta() {
    let t0 = Instant::now();
    let mut v = RunView::default();
    v.apply(&EngineEvent::RunStarted(info(100, 10)), t0);
    run_for(&mut v, t0, 0, 20);
    let now = t0 + secs(20);
    let eta = v.eta().unwrap();
    // `ps` and `--json` read the history the control socket sends.
    let h = v.history(now);
    assert_eq!(h.eta_secs, Some(eta.as_secs_f64()));
    // An attached console continues from it: the same ETA at once.
    let mut remote = RunView::remote();
    remote.apply(&EngineEvent::RunStarted(v.current_info().unwrap()), now);
    remote.replay(&h, now);
    let r = remote.eta().unwrap().as_secs_f64();
    assert!((r - eta.as_secs_f64()).abs() < 1.0, "{r} vs {eta:?}");
    assert_eq!(remote.eta_text(now), v.eta_text(now));
}

#[test]
fn replay_keeps_the_original_times() {
    let t0 = Instant::now();
    let mut v = RunView::default();
    v.apply(&EngineEvent::RunStarted(info(2, 10)), t0);
    v.apply(&EngineEvent::Segment(done(0, 10)), t0 + secs(1));
    let now = t0 + secs(61);
    let h = v.history(now);
    let mut remote = RunView::remote();
    let later = now + secs(5);
    remote.replay(&h, later);
    assert_eq!(remote.recent[0].at, t0 + secs(6), "60 s before the replay");
    assert_eq!(remote.recent[0].wall, v.recent[0].wall);
}
