//! The run's books: the journal (fsynced), the rejects file, the pull output and the view of
//! every segment. An outcome goes into the rejects file, then the journal, and only then is
//! anyone told of it; nothing else in the engine writes to any of them.

use std::sync::Arc;

use anyhow::anyhow;

use super::emit::Emitter;
use super::events::{Direction, EngineEvent, Reject, RunState, SegmentState, SegmentView};
use super::worker::Settled;
use crate::journal::{Continuation, Entry, Journal, Manifest};
use crate::run::{PullCheck, pull_shortfall};
use crate::source::{PullSink, RejectsWriter};

/// Rejects shown with a segment's view (the rest are in the rejects file).
const REJECTS_IN_VIEW: usize = 5;

pub(super) struct Ledger {
    journal: Journal,
    rejects: Option<RejectsWriter>,
    sink: Option<Arc<PullSink>>,
    views: Vec<SegmentView>,
    /// Pull: what each finished segment got from the server's pages, by index.
    checks: Vec<Option<PullCheck>>,
    /// Pull: the total the run was planned with.
    planned_total: u64,
    emit: Emitter,
}

impl Ledger {
    /// Opens the rejects file and (pull) the output sink beside `journal`. `checks`: what
    /// the journal holds of finished pull segments, by index.
    pub(super) fn open(
        journal: Journal,
        manifest: &Manifest,
        views: Vec<SegmentView>,
        mut checks: Vec<Option<PullCheck>>,
        emit: Emitter,
    ) -> anyhow::Result<Self> {
        let run_dir = journal.run_dir().to_path_buf();
        // A pull has rejects too: records that do not fit the mapping.
        let rejects = Some(RejectsWriter::new(&run_dir)?);
        let sink = match manifest.direction {
            Direction::Push => None,
            Direction::Pull => {
                let output = manifest.output.clone().ok_or_else(|| {
                    anyhow!("run {}: its manifest names no output", manifest.run_id)
                })?;
                let sink = PullSink::new(&run_dir, &output)?;
                // Ids already written count against repeats, as if this process had
                // written them; parts of segments never journaled done do not (a part
                // written just before a kill, whose segment then failed, is replaced).
                let done = views.iter().filter(|v| {
                    matches!(v.state, SegmentState::Done | SegmentState::DoneWithRejects)
                });
                sink.remember(done.map(|v| v.index))?;
                Some(Arc::new(sink))
            }
        };
        checks.resize(views.len(), None);
        Ok(Self {
            journal,
            rejects,
            sink,
            views,
            checks,
            planned_total: manifest.total_records,
            emit,
        })
    }

    /// Where pull workers write their records.
    pub(super) fn sink(&self) -> Option<Arc<PullSink>> {
        self.sink.clone()
    }

    pub(super) fn views(&self) -> &[SegmentView] {
        &self.views
    }

    pub(super) fn into_views(self) -> Vec<SegmentView> {
        self.views
    }

    /// Segments not finished, in index order.
    pub(super) fn unfinished(&self) -> impl Iterator<Item = usize> + '_ {
        self.views
            .iter()
            .filter(|v| !v.state.is_finished())
            .map(|v| v.index)
    }

    pub(super) fn records(&self, i: usize) -> Option<u64> {
        self.views.get(i).map(|v| v.records)
    }

    pub(super) fn all_done(&self) -> bool {
        self.views
            .iter()
            .all(|v| matches!(v.state, SegmentState::Done | SegmentState::DoneWithRejects))
    }

    /// What a run with nothing left to do has become.
    pub(super) fn idle_state(&self) -> RunState {
        if self.views.iter().any(|v| v.state == SegmentState::Failed)
            || self.pull_shortfall(None).is_some()
        {
            RunState::CompletedWithFailures
        } else {
            RunState::Completed
        }
    }

    /// A pull whose every segment is done, but whose server's pages did not add up:
    /// why, naming the shortfall (records repeated, a chain that ended before the stated
    /// total, a total that changed). `None` for a push, an unfinished pull, or one that
    /// adds up. `in_output`: the records the assembled output holds, when it is written.
    pub(super) fn pull_shortfall(&self, in_output: Option<u64>) -> Option<String> {
        if self.sink.is_none() || !self.all_done() {
            return None;
        }
        let written = in_output.unwrap_or_else(|| self.views.iter().map(|v| v.counts.pulled).sum());
        pull_shortfall(self.planned_total, self.checks.iter().flatten(), written)
    }

    /// Books one outcome: rejects file, journal (fsynced), view, then the event. Err when
    /// the journal cannot be written: the segment stays pending and the run must stop.
    pub(super) async fn settle(&mut self, i: usize, s: Settled) -> Result<(), String> {
        self.write_rejects(&s.rejects);
        let entry = Entry::Segment {
            index: i,
            state: s.state,
            attempts: s.attempts,
            counts: s.counts,
            error: s.error.clone(),
            at: crate::journal::now_rfc3339(),
            continuation: s.continuation.map(|p| Continuation {
                offset: p.offset,
                next: p.next,
            }),
            pull: s.pull,
        };
        if let Err(e) = self.journal.append(&entry) {
            self.set_pending(i);
            return Err(format!(
                "cannot write the journal ({e}); stopping so no outcome goes unrecorded"
            ));
        }
        if let Some(c) = self.checks.get_mut(i) {
            *c = s.pull;
        }
        if let Some(v) = self.views.get_mut(i) {
            v.state = s.state;
            v.attempts = s.attempts;
            v.counts = s.counts;
            v.last_error = s.error;
            v.duration = Some(s.duration);
            v.rejects = s.rejects.iter().take(REJECTS_IN_VIEW).cloned().collect();
            let ev = EngineEvent::Segment(v.clone());
            self.emit.outcome(ev).await;
        }
        Ok(())
    }

    /// An unfinished segment goes back to pending (abandoned, stopped, or never booked).
    pub(super) fn set_pending(&mut self, i: usize) {
        if let Some(v) = self.views.get_mut(i) {
            if v.state.is_finished() {
                return;
            }
            v.state = SegmentState::Pending;
            self.emit.progress(EngineEvent::Segment(v.clone()));
        }
    }

    /// At the end: whatever was running or retrying is pending again (only outcomes are
    /// journaled, so that is what a resume will see too).
    pub(super) fn settle_unfinished(&mut self) {
        for v in self.views.iter_mut() {
            if matches!(v.state, SegmentState::Running | SegmentState::Retrying) {
                v.state = SegmentState::Pending;
            }
        }
    }

    /// Failed segments matching `which` go back to pending with fresh attempts; returns
    /// their indices, in order.
    pub(super) async fn reset_failed(
        &mut self,
        which: impl Fn(&SegmentView) -> bool,
    ) -> Vec<usize> {
        let mut reset = Vec::new();
        for v in self.views.iter_mut() {
            if v.state == SegmentState::Failed && which(v) {
                *v = SegmentView::pending(v.index, v.records);
                if let Some(c) = self.checks.get_mut(v.index) {
                    *c = None;
                }
                reset.push(v.index);
                self.emit.outcome(EngineEvent::Segment(v.clone())).await;
            }
        }
        reset
    }

    /// Records a run state; best effort (segments are what a resume relies on).
    pub(super) fn run_state(&mut self, state: RunState) {
        self.run_ended(state, None, false);
    }

    /// The run's state with why it stopped, for `status` after the process is gone.
    pub(super) fn run_ended(&mut self, state: RunState, reason: Option<String>, auth: bool) {
        let entry = Entry::run_ended(state, reason, auth);
        if let Err(e) = self.journal.append(&entry) {
            self.emit
                .notice(format!("cannot record the run state in the journal: {e}"));
        }
    }

    /// A pull whose every segment is done: assembles the output file from the segments;
    /// returns how many records it holds (`None` for a push).
    pub(super) async fn assemble_output(&self) -> Result<Option<u64>, String> {
        let Some(sink) = self.sink.clone() else {
            return Ok(None);
        };
        let segments = self.views.len();
        tokio::task::spawn_blocking(move || sink.finish(segments).map_err(|e| e.to_string()))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r)
            .map(|s| Some(s.records))
            .map_err(|e| format!("cannot assemble the output file: {e}"))
    }

    pub(super) fn has_output(&self) -> bool {
        self.sink.is_some()
    }

    fn write_rejects(&mut self, rejects: &[Reject]) {
        let Some(w) = self.rejects.as_mut() else {
            return;
        };
        for r in rejects {
            if let Err(e) = w.write(r) {
                self.emit
                    .notice(format!("cannot write to the rejects file: {e}"));
                return;
            }
        }
        if !rejects.is_empty()
            && let Err(e) = w.flush()
        {
            self.emit
                .notice(format!("cannot write to the rejects file: {e}"));
        }
    }
}
