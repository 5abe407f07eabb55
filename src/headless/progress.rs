//! The plain progress line, read from the run's [`RunView`] (the console's header and `ps`
//! read the same view, so the three agree on rate and ETA).

use std::time::Instant;

use crate::auth::status::ExpiredCounts;
use crate::view::RunView;

/// Segments finished (done, done with rejects or failed).
pub(super) fn finished(v: &RunView) -> usize {
    v.totals.finished()
}

/// "progress: 2/3 segments, 10/30 records, …, ETA 01:05 (paused), …".
pub(super) fn line(v: &RunView, now: Instant) -> String {
    let rate = v.rate().unwrap_or(0.0);
    // The view's own words, so the line reads as the console's header and `ps` do.
    let eta = v.eta_text(now);
    format!(
        "progress: {}/{} segments, {}/{} records, {} in flight{}, {} failed, {rate:.1} records/s, ETA {eta}, token renewals {}, expired answers {}",
        finished(v),
        v.segments.len(),
        v.processed(),
        v.total_records(),
        v.in_flight(),
        v.pace
            .as_ref()
            .map(|p| format!(" (limit {})", p.line()))
            .unwrap_or_default(),
        v.failed(),
        v.token.renewals,
        expired_answers(&v.token.expired_seen),
    )
}

/// "0", or "5 (401 3/403 2/200 0)" as the console's token pane shows them: by kind once
/// there is something to tell apart.
pub(super) fn expired_answers(e: &ExpiredCounts) -> String {
    match e.total() {
        0 => "0".into(),
        n => format!(
            "{n} (401 {}/403 {}/200 {})",
            e.status_401, e.status_403, e.body_200
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::{EngineEvent, RunInfo, SegmentView};
    use crate::run::{Direction, SegmentState};

    #[test]
    fn progress_counts_finished_segments_and_in_flight() {
        let now = Instant::now();
        let mut v = RunView::default();
        let mut views: Vec<_> = (0..3).map(|i| SegmentView::pending(i, 10)).collect();
        views[0].state = SegmentState::Done;
        views[0].counts.created = 10;
        v.apply(
            &EngineEvent::RunStarted(RunInfo {
                run_id: "r".into(),
                direction: Direction::Push,
                source: "s".into(),
                target: "t".into(),
                total_records: 30,
                segments: views.clone(),
                started_wall: std::time::SystemTime::now(),
                local_rejects: 0,
                api_style: String::new(),
            }),
            now,
        );
        views[1].state = SegmentState::Running;
        v.apply(&EngineEvent::Segment(views[1].clone()), now);
        assert_eq!(v.in_flight(), 1);
        views[1].state = SegmentState::Failed;
        v.apply(&EngineEvent::Segment(views[1].clone()), now);
        assert_eq!((finished(&v), v.failed(), v.processed()), (2, 1, 10));
        let line = line(&v, now);
        assert!(line.contains("2/3 segments, 10/30 records"), "{line}");
        assert!(
            line.ends_with("token renewals 0, expired answers 0"),
            "{line}"
        );
    }

    #[test]
    fn the_progress_line_counts_expired_answers_by_kind() {
        let mut v = RunView::default();
        v.token.renewals = 4;
        v.token.expired_seen = ExpiredCounts {
            status_401: 0,
            status_403: 3,
            body_200: 1,
        };
        let line = line(&v, Instant::now());
        assert!(
            line.ends_with("token renewals 4, expired answers 4 (401 0/403 3/200 1)"),
            "{line}"
        );
    }
}
