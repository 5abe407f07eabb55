//! What the headless reporter knows of the run, folded from engine events, and its plain
//! progress line.

use std::collections::HashSet;
use std::time::Duration;

use crate::auth::status::ExpiredCounts;
use crate::engine::events::{PaceView, RunInfo, SegmentView};
use crate::run::{Counts, SegmentState};
use crate::summary::format_duration;

/// What the reporter knows of the run, folded from events.
#[derive(Default)]
pub(super) struct Progress {
    pub(super) segments: Vec<(SegmentState, Counts)>,
    total_records: u64,
    pub(super) in_flight: HashSet<usize>,
    pub(super) renewals: u32,
    /// Answers that said the token was dead, by kind (401, a 403 or a 200 matching
    /// `auth.expired_when`), as the token status counts them.
    pub(super) expired: ExpiredCounts,
    /// The limit on segments at the server, and why.
    pub(super) pace: Option<PaceView>,
}

impl Progress {
    pub(super) fn start(&mut self, info: &RunInfo) {
        self.segments = info.segments.iter().map(|s| (s.state, s.counts)).collect();
        self.total_records = info.total_records;
    }

    pub(super) fn apply(&mut self, v: &SegmentView) {
        if let Some(slot) = self.segments.get_mut(v.index) {
            *slot = (v.state, v.counts);
        }
        if matches!(v.state, SegmentState::Running | SegmentState::Retrying) {
            self.in_flight.insert(v.index);
        } else {
            self.in_flight.remove(&v.index);
        }
    }

    pub(super) fn finished(&self) -> usize {
        self.segments
            .iter()
            .filter(|(s, _)| s.is_finished())
            .count()
    }

    pub(super) fn records(&self) -> u64 {
        self.segments.iter().map(|(_, c)| c.processed()).sum()
    }

    pub(super) fn total_records(&self) -> u64 {
        self.total_records
    }

    pub(super) fn failed(&self) -> usize {
        self.segments
            .iter()
            .filter(|(s, _)| *s == SegmentState::Failed)
            .count()
    }

    pub(super) fn line(&self, since: Duration, session_records: u64) -> String {
        let secs = since.as_secs_f64().max(0.001);
        let rate = session_records as f64 / secs;
        let left = self.total_records.saturating_sub(self.records());
        let eta = if rate > 0.0 {
            format_duration(Duration::from_secs_f64(left as f64 / rate))
        } else {
            "?".into()
        };
        format!(
            "progress: {}/{} segments, {}/{} records, {} in flight{}, {} failed, {rate:.1} records/s, ETA {eta}, token renewals {}, expired answers {}",
            self.finished(),
            self.segments.len(),
            self.records(),
            self.total_records,
            self.in_flight.len(),
            self.pace
                .as_ref()
                .map(|v| format!(" (limit {})", v.line()))
                .unwrap_or_default(),
            self.failed(),
            self.renewals,
            expired_answers(&self.expired),
        )
    }
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
    use crate::run::Direction;

    #[test]
    fn progress_counts_finished_segments_and_in_flight() {
        let mut p = Progress::default();
        let mut views: Vec<_> = (0..3).map(|i| SegmentView::pending(i, 10)).collect();
        views[0].state = SegmentState::Done;
        views[0].counts.created = 10;
        p.start(&RunInfo {
            run_id: "r".into(),
            direction: Direction::Push,
            source: "s".into(),
            target: "t".into(),
            total_records: 30,
            segments: views.clone(),
            started_wall: std::time::SystemTime::now(),
            local_rejects: 0,
            api_style: String::new(),
        });
        views[1].state = SegmentState::Running;
        p.apply(&views[1]);
        assert_eq!(p.in_flight.len(), 1);
        views[1].state = SegmentState::Failed;
        p.apply(&views[1]);
        assert_eq!((p.finished(), p.failed(), p.records()), (2, 1, 10));
        let line = p.line(Duration::from_secs(1), 10);
        assert!(line.contains("2/3 segments, 10/30 records"), "{line}");
        assert!(
            line.ends_with("token renewals 0, expired answers 0"),
            "{line}"
        );
    }

    #[test]
    fn the_progress_line_counts_expired_answers_by_kind() {
        let p = Progress {
            renewals: 4,
            expired: ExpiredCounts {
                status_401: 0,
                status_403: 3,
                body_200: 1,
            },
            ..Default::default()
        };
        let line = p.line(Duration::from_secs(1), 0);
        assert!(
            line.ends_with("token renewals 4, expired answers 4 (401 0/403 3/200 1)"),
            "{line}"
        );
    }
}
