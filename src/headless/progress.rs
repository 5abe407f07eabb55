//! What the headless reporter knows of the run, folded from engine events, and its plain
//! progress line.

use std::collections::HashSet;
use std::time::Duration;

use crate::engine::events::{RunInfo, SegmentView};
use crate::run::{Counts, SegmentState};
use crate::summary::format_duration;

/// What the reporter knows of the run, folded from events.
#[derive(Default)]
pub(super) struct Progress {
    pub(super) segments: Vec<(SegmentState, Counts)>,
    total_records: u64,
    pub(super) in_flight: HashSet<usize>,
    pub(super) renewals: u32,
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
            "progress: {}/{} segments, {}/{} records, {} in flight, {} failed, {rate:.1} records/s, ETA {eta}, token renewals {}",
            self.finished(),
            self.segments.len(),
            self.records(),
            self.total_records,
            self.in_flight.len(),
            self.failed(),
            self.renewals,
        )
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
        assert!(
            p.line(Duration::from_secs(1), 10)
                .contains("2/3 segments, 10/30 records")
        );
    }
}
