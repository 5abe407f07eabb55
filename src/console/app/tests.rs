//! `App::apply` for every event kind, `App::handle` for every action that changes state.

use std::time::{Duration, Instant, SystemTime};

use ratatui::layout::Rect;

use super::*;
use crate::auth::status::GrantKind;
use crate::auth::status::{TokenPhase, TokenStatus};
use crate::console::keys::Action;
use crate::engine::events::Command;
use crate::engine::events::{RunInfo, RunSummary, SegmentView};
use crate::run::{Counts, Direction, Reject, RejectOrigin};
use crate::view::RenewalKind;

fn info(segments: usize, per: u64) -> RunInfo {
    RunInfo {
        run_id: "run-1".into(),
        direction: Direction::Push,
        source: "suppliers.csv".into(),
        target: "127.0.0.1:9".into(),
        total_records: segments as u64 * per,
        segments: (0..segments)
            .map(|i| SegmentView::pending(i, per))
            .collect(),
        started_wall: SystemTime::UNIX_EPOCH,
        local_rejects: 0,
        api_style: String::new(),
    }
}

fn seg(index: usize, state: SegmentState, created: u64, attempts: u32) -> SegmentView {
    SegmentView {
        index,
        state,
        records: 20,
        attempts,
        counts: Counts {
            created,
            ..Default::default()
        },
        last_error: None,
        duration: None,
        rejects: Vec::new(),
    }
}

fn started(n: usize) -> (App, Instant) {
    let t0 = Instant::now();
    let mut app = App::new(true);
    app.resize(Rect::new(0, 0, 120, 40));
    app.apply(EngineEvent::RunStarted(info(n, 20)), t0);
    (app, t0)
}

fn summary(state: RunState) -> RunSummary {
    RunSummary {
        run_id: "run-1".into(),
        direction: Direction::Push,
        state,
        counts: Counts::default(),
        segments_total: 5,
        segments_done: 5,
        segments_failed: 0,
        token_renewals: 0,
        sessions: 1,
        duration: Duration::from_secs(3),
        error: None,
        auth_failure: false,
    }
}

#[test]
fn run_started_takes_the_plan() {
    let (app, t0) = started(5);
    assert_eq!(app.view.segments.len(), 5);
    assert_eq!(app.view.totals.count(SegmentState::Pending), 5);
    assert_eq!(app.view.state, RunState::Running);
    assert_eq!(app.view.total_records(), 100);
    assert_eq!(app.view.started_at, Some(t0));
    assert_eq!(app.geometry.segments, 5);
}

#[test]
fn segment_events_keep_totals_current() {
    let (mut app, _) = started(5);
    app.apply(
        EngineEvent::Segment(seg(1, SegmentState::Running, 0, 1)),
        Instant::now(),
    );
    assert_eq!(app.view.totals.count(SegmentState::Running), 1);
    assert_eq!(app.view.totals.count(SegmentState::Pending), 4);
    app.apply(
        EngineEvent::Segment(seg(1, SegmentState::Retrying, 0, 2)),
        Instant::now(),
    );
    assert_eq!(app.view.totals.count(SegmentState::Running), 0);
    assert_eq!(app.view.totals.retried, 1);
    let mut done = seg(1, SegmentState::DoneWithRejects, 18, 2);
    done.counts.rejected = 2;
    done.rejects.push(Reject {
        segment: 1,
        supplier_id: "SUP-1".into(),
        line: Some(3),
        reason: "country".into(),
        origin: RejectOrigin::Local,
    });
    app.apply(EngineEvent::Segment(done), Instant::now());
    assert_eq!(app.view.totals.count(SegmentState::DoneWithRejects), 1);
    assert_eq!(app.view.totals.counts.created, 18);
    assert_eq!(app.view.totals.counts.rejected, 2);
    assert_eq!(app.view.totals.finished(), 1);
    assert_eq!(app.view.processed(), 20);
    // An index past the plan grows the grid instead of panicking.
    app.apply(
        EngineEvent::Segment(seg(7, SegmentState::Done, 20, 1)),
        Instant::now(),
    );
    assert_eq!(app.view.segments.len(), 8);
    assert_eq!(app.view.totals.count(SegmentState::Pending), 6);
}

#[test]
fn token_events_build_the_renewal_timeline() {
    let (mut app, t0) = started(1);
    let mut s = TokenStatus {
        phase: TokenPhase::Valid,
        grant: Some(GrantKind::ClientCredentials),
        sessions: 1,
        ..Default::default()
    };
    app.apply(EngineEvent::Token(s.clone()), t0);
    assert!(
        app.view.renewals.is_empty(),
        "the first session is not a renewal"
    );
    s.renewals = 1;
    s.grant = Some(GrantKind::RefreshToken);
    app.apply(EngineEvent::Token(s.clone()), t0 + Duration::from_secs(10));
    s.renewals = 2;
    s.sessions = 2;
    app.apply(EngineEvent::Token(s.clone()), t0 + Duration::from_secs(60));
    s.phase = TokenPhase::Failed;
    s.last_error = Some("invalid_client".into());
    app.apply(EngineEvent::Token(s.clone()), t0 + Duration::from_secs(61));
    app.apply(EngineEvent::Token(s.clone()), t0 + Duration::from_secs(62));
    let kinds: Vec<RenewalKind> = app.view.renewals.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            RenewalKind::Refresh,
            RenewalKind::NewSession,
            RenewalKind::Failure
        ]
    );
    assert_eq!(app.view.token.sessions, 2);
}

#[test]
fn run_state_notice_and_finished() {
    let (mut app, t0) = started(2);
    app.apply(EngineEvent::RunState(RunState::Paused), t0);
    assert_eq!(app.view.state, RunState::Paused);
    app.apply(
        EngineEvent::Notice("journal: torn last line ignored".into()),
        t0,
    );
    assert_eq!(
        app.view.notices.back().unwrap(),
        "journal: torn last line ignored"
    );
    for i in 0..60 {
        app.apply(EngineEvent::Notice(format!("n{i}")), t0);
    }
    assert_eq!(app.view.notices.len(), 50);
    assert!(app.sync_running());
    app.apply(
        EngineEvent::Finished(summary(RunState::Completed)),
        t0 + Duration::from_secs(3),
    );
    assert!(!app.sync_running());
    assert_eq!(app.view.state, RunState::Completed);
    assert_eq!(
        app.view.elapsed(t0 + Duration::from_secs(100)),
        Duration::from_secs(3)
    );
    assert_eq!(app.exit_code(), 0);
    assert!(!app.should_exit, "the console stays up after the run");
}

#[test]
fn pause_toggles_by_state() {
    let (mut app, t0) = started(2);
    assert_eq!(app.handle(Action::TogglePause), vec![Command::Pause]);
    app.apply(EngineEvent::RunState(RunState::Paused), t0);
    assert_eq!(app.handle(Action::TogglePause), vec![Command::Resume]);
    app.apply(EngineEvent::RunState(RunState::Completed), t0);
    assert!(app.handle(Action::TogglePause).is_empty());
    assert!(app.flash.as_deref().unwrap().contains("not running"));
}

#[test]
fn resuming_replaces_the_paused_notice_in_the_footer() {
    let (mut app, t0) = started(5);
    app.handle(Action::TogglePause);
    app.apply(EngineEvent::RunState(RunState::Paused), t0);
    // The engine explains the pause in a notice; the footer shows it while paused.
    app.apply(
        EngineEvent::Notice("paused: 1 in-flight segment(s) finish".into()),
        t0,
    );
    assert_eq!(app.flash, None);
    assert_eq!(
        app.feedback(),
        Some("paused: 1 in-flight segment(s) finish")
    );
    assert_eq!(app.handle(Action::TogglePause), vec![Command::Resume]);
    assert_eq!(app.flash.as_deref(), Some("resume requested"));
    app.apply(EngineEvent::RunState(RunState::Running), t0);
    assert_eq!(app.feedback(), Some("resumed"));
    // Only a resume says so: another state change just clears the request's flash.
    app.handle(Action::TogglePause);
    app.apply(EngineEvent::RunState(RunState::Paused), t0);
    assert_eq!(app.flash, None);
}

#[test]
fn a_pause_notice_does_not_outlive_the_pause() {
    let (mut app, t0) = started(5);
    app.apply(EngineEvent::RunState(RunState::Paused), t0);
    app.apply(
        EngineEvent::Notice("paused: 1 in-flight segment(s) finish".into()),
        t0,
    );
    app.apply(EngineEvent::RunState(RunState::Running), t0);
    // A key press clears the "resumed" flash; the old notice must not come back.
    app.handle(Action::ToggleHelp);
    app.handle(Action::ToggleHelp);
    assert_eq!(app.feedback(), None);
    app.apply(EngineEvent::RunState(RunState::Completed), t0);
    assert_eq!(app.feedback(), None, "completed, not paused");
    app.apply(EngineEvent::Notice("all segments finished".into()), t0);
    assert_eq!(app.feedback(), Some("all segments finished"));
}

#[test]
fn retry_selected_only_for_failed_segments() {
    let (mut app, t0) = started(5);
    assert!(app.handle(Action::RetrySelected).is_empty());
    assert!(app.handle(Action::RetryAllFailed).is_empty());
    app.apply(EngineEvent::Segment(seg(2, SegmentState::Failed, 0, 5)), t0);
    app.handle(Action::Right);
    app.handle(Action::Right);
    assert_eq!(app.cursor, 2);
    assert_eq!(
        app.handle(Action::RetrySelected),
        vec![Command::RetrySegment(2)]
    );
    assert_eq!(
        app.handle(Action::RetryAllFailed),
        vec![Command::RetryAllFailed]
    );
    assert_eq!(
        app.handle(Action::ForceRefresh),
        vec![Command::ForceRefresh]
    );
}

#[test]
fn retry_on_an_aggregated_cell_retries_its_failed_segments() {
    let (mut app, t0) = started(20_000);
    let span = app.geometry.span;
    assert!(span > 1);
    app.apply(EngineEvent::Segment(seg(1, SegmentState::Failed, 0, 5)), t0);
    app.apply(
        EngineEvent::Segment(seg(span - 1, SegmentState::Failed, 0, 5)),
        t0,
    );
    app.apply(
        EngineEvent::Segment(seg(span, SegmentState::Failed, 0, 5)),
        t0,
    );
    assert_eq!(
        app.handle(Action::RetrySelected),
        vec![Command::RetrySegment(1), Command::RetrySegment(span - 1)]
    );
    app.handle(Action::Right);
    assert_eq!(app.cursor, span);
    app.handle(Action::End);
    assert_eq!(app.selected().end, 20_000);
    app.handle(Action::Home);
    assert_eq!(app.cursor, 0);
}

#[test]
fn quitting_asks_while_running_then_stops() {
    let (mut app, t0) = started(2);
    assert!(app.handle(Action::Quit).is_empty());
    assert_eq!(app.overlay, Overlay::ConfirmQuit);
    assert_eq!(app.key_mode(), KeyMode::ConfirmQuit);
    assert!(app.handle(Action::Deny).is_empty());
    assert_eq!(app.overlay, Overlay::None);
    app.handle(Action::Quit);
    assert_eq!(app.handle(Action::Confirm), vec![Command::Stop]);
    assert!(app.stopping && !app.should_exit);
    app.apply(EngineEvent::Finished(summary(RunState::Interrupted)), t0);
    assert!(app.should_exit);
    assert_eq!(app.exit_code(), crate::exit::INTERRUPTED);
}

#[test]
fn quitting_a_finished_run_needs_no_question() {
    let (mut app, t0) = started(2);
    app.apply(EngineEvent::Finished(summary(RunState::Completed)), t0);
    assert_eq!(app.handle(Action::Quit), vec![Command::Stop]);
    assert!(app.should_exit);
}

#[test]
fn verify_is_offered_once_a_push_has_finished() {
    let (mut app, t0) = started(2);
    // While the push runs: nothing happens but a word on when.
    assert!(app.handle(Action::Verify).is_empty());
    assert!(!app.verify_after && !app.should_exit);
    assert!(app.feedback().unwrap().contains("once a push has finished"));
    app.apply(EngineEvent::Finished(summary(RunState::Completed)), t0);
    assert_eq!(app.handle(Action::Verify), vec![Command::Stop]);
    assert!(app.verify_after && app.should_exit);
    // A push that ended but is kept alive for retries: its state says it ended.
    let (mut kept, t0) = started(2);
    kept.apply(EngineEvent::RunState(RunState::Completed), t0);
    assert_eq!(kept.handle(Action::Verify), vec![Command::Stop]);
    assert!(kept.verify_after);
    // A pull has nothing to verify.
    let mut pull = App::new(true);
    let mut i = info(2, 20);
    i.direction = Direction::Pull;
    pull.apply(EngineEvent::RunStarted(i), t0);
    let mut s = summary(RunState::Completed);
    s.direction = Direction::Pull;
    pull.apply(EngineEvent::Finished(s), t0);
    assert!(pull.handle(Action::Verify).is_empty());
    assert!(!pull.verify_after && !pull.should_exit);
}

#[test]
fn overlays_and_log_toggle_and_close() {
    let (mut app, _) = started(2);
    app.handle(Action::ToggleHelp);
    assert_eq!(app.overlay, Overlay::Help);
    app.handle(Action::Close);
    assert_eq!(app.overlay, Overlay::None);
    app.handle(Action::Details);
    assert_eq!(app.overlay, Overlay::Details);
    app.handle(Action::Details);
    assert_eq!(app.overlay, Overlay::None);
    app.handle(Action::ToggleLog);
    assert!(app.log_expanded);
    app.handle(Action::Right); // the grid does not move under the expanded log
    assert_eq!(app.cursor, 0);
    app.handle(Action::Close);
    assert!(!app.log_expanded);
}

#[test]
fn tick_samples_throughput_for_rate_and_eta() {
    let (mut app, t0) = started(10); // 200 records
    for i in 1..=5usize {
        app.apply(
            EngineEvent::Segment(seg(i - 1, SegmentState::Done, 20, 1)),
            t0,
        );
        app.tick(t0 + Duration::from_secs(i as u64));
    }
    // 100 records in 5 s: 20/s, 100 left: 5 s.
    assert_eq!(app.view.rate(), Some(20.0));
    assert_eq!(app.view.eta(), Some(Duration::from_secs(5)));
    assert_eq!(app.view.throughput.sparkline().len(), 5);
}

#[test]
fn resize_refits_and_keeps_the_cursor_on_a_cell_start() {
    let (mut app, _) = started(20_000);
    app.handle(Action::Right);
    let span_big = app.geometry.span;
    app.resize(Rect::new(0, 0, 80, 24));
    assert!(app.geometry.span > span_big);
    assert_eq!(app.cursor % app.geometry.span, 0);
}

#[test]
fn failed_command_explains_what_to_do() {
    let (mut app, _) = started(1);
    app.command_failed(&Command::RetryAllFailed);
    assert!(
        app.flash
            .as_deref()
            .unwrap()
            .contains("supsync retry run-1")
    );
}

#[test]
fn next_failed_jumps_and_wraps() {
    let (mut app, t0) = started(10);
    app.handle(Action::NextFailed);
    assert_eq!(app.flash.as_deref(), Some("no failed segments"));
    app.apply(EngineEvent::Segment(seg(3, SegmentState::Failed, 0, 5)), t0);
    app.apply(EngineEvent::Segment(seg(7, SegmentState::Failed, 0, 5)), t0);
    app.handle(Action::NextFailed);
    assert_eq!(app.cursor, 3);
    app.handle(Action::NextFailed);
    assert_eq!(app.cursor, 7);
    app.handle(Action::NextFailed);
    assert_eq!(app.cursor, 3, "wraps around");
}

#[test]
fn outcomes_and_notices_feed_the_activity_list() {
    let (mut app, t0) = started(3);
    app.apply(
        EngineEvent::Segment(seg(0, SegmentState::Running, 0, 1)),
        t0,
    );
    assert!(app.view.recent.is_empty(), "running is not news");
    let mut retry = seg(0, SegmentState::Retrying, 0, 2);
    retry.last_error = Some("503".into());
    app.apply(EngineEvent::Segment(retry), t0);
    let mut done = seg(0, SegmentState::DoneWithRejects, 19, 2);
    done.counts.rejected = 1;
    app.apply(EngineEvent::Segment(done.clone()), t0);
    app.apply(EngineEvent::Segment(done), t0); // same state again: no new line
    app.apply(
        EngineEvent::Notice("journal: torn last line ignored".into()),
        t0,
    );
    let texts: Vec<&str> = app.view.recent.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "segment 0 retrying (attempt 2): 503",
            "segment 0 done after 2 attempts: 19 created, 1 rejected",
            "journal: torn last line ignored",
        ]
    );
    assert_eq!(app.view.recent[2].state, None);
}

#[test]
fn the_end_is_told_by_its_outcome_word_before_and_after_the_summary() {
    let (mut app, t0) = started(3);
    assert_eq!(app.view.outcome(), None, "running: no outcome yet");
    assert!(app.next_commands().is_empty());
    app.apply(EngineEvent::Segment(seg(0, SegmentState::Done, 20, 1)), t0);
    let mut rejected = seg(1, SegmentState::DoneWithRejects, 19, 1);
    rejected.counts.rejected = 1;
    app.apply(EngineEvent::Segment(rejected), t0);
    app.apply(EngineEvent::Segment(seg(2, SegmentState::Failed, 0, 5)), t0);
    // The engine stays open for retries and reports the end without a summary.
    let end = t0 + Duration::from_secs(3);
    app.apply(EngineEvent::RunState(RunState::CompletedWithFailures), end);
    assert_eq!(
        app.view.outcome(),
        Some(crate::run::Outcome::CompletedWithFailures)
    );
    assert_eq!(
        app.next_commands(),
        vec![
            "supsync status run-1",
            "supsync retry run-1",
            "supsync verify run-1"
        ]
    );
    // The clock stopped at the end, however long the operator looks at it.
    assert_eq!(
        app.view.elapsed(end + Duration::from_secs(60)),
        Duration::from_secs(3)
    );

    // Retried and all done: completed, with rejects (exit 6), no retry to offer.
    app.apply(EngineEvent::RunState(RunState::Running), end);
    assert_eq!(app.view.outcome(), None);
    app.apply(EngineEvent::Segment(seg(2, SegmentState::Done, 20, 1)), end);
    app.apply(EngineEvent::RunState(RunState::Completed), end);
    let o = app.view.outcome().unwrap();
    assert_eq!((o.word(), o.exit_code()), ("completed with rejects", 6));
    assert!(!app.next_commands().iter().any(|c| c.contains("retry")));

    // The summary, when it comes, has the last word.
    let mut s = summary(RunState::Interrupted);
    s.segments_done = 2;
    app.apply(EngineEvent::Finished(s), end);
    assert_eq!(app.view.outcome(), Some(crate::run::Outcome::Interrupted));
    assert!(
        app.next_commands()
            .contains(&"supsync resume run-1".to_string())
    );
}

#[test]
fn pace_keys_send_pace_commands_and_the_engines_answer_is_kept() {
    use crate::engine::events::PaceView;
    use crate::engine::pace::PaceChange;
    let (mut app, now) = started(4);
    assert_eq!(
        app.handle(Action::PaceUp),
        vec![Command::Pace(PaceChange::Up)]
    );
    assert_eq!(
        app.handle(Action::PaceDown),
        vec![Command::Pace(PaceChange::Down)]
    );
    assert_eq!(
        app.handle(Action::PaceConfigured),
        vec![Command::Pace(PaceChange::Configured)]
    );
    let view = PaceView {
        limit: 8,
        auto: true,
        reason: "lowered after 429".into(),
        paced_by: Some("RateLimit: 120/min".into()),
        throttled: 3,
    };
    app.apply(EngineEvent::Pace(view.clone()), now);
    assert_eq!(app.view.pace.as_ref(), Some(&view));
    assert_eq!(
        view.line(),
        "8 in flight · lowered after 429 · paced by RateLimit: 120/min"
    );
    app.apply(EngineEvent::Finished(summary(RunState::Completed)), now);
    assert!(
        app.handle(Action::PaceUp).is_empty(),
        "nothing to pace once finished"
    );
}
