//! What the run does with each segment outcome: rejects file, then journal (fsynced), then
//! the event; and how the run ends.

use std::time::Duration;

use super::events::{Counts, EngineEvent, Reject, SegmentState};
use super::run::{End, final_state};
use super::runner::Runner;
use super::worker::Outcome;
use crate::journal::Entry;

impl Runner {
    pub(super) async fn on_outcome(&mut self, i: usize, outcome: Outcome) {
        match outcome {
            Outcome::Finished {
                state,
                attempts,
                counts,
                error,
                rejects,
                duration,
            } => {
                self.write_rejects(&rejects);
                // Journal (fsynced) first; only then may anyone see the outcome.
                let entry = Entry::Segment {
                    index: i,
                    state,
                    attempts,
                    counts,
                    error: error.clone(),
                    at: crate::journal::now_rfc3339(),
                };
                if let Err(e) = self.journal.append(&entry) {
                    self.fail_run(format!(
                        "cannot write the journal ({e}); stopping so no outcome goes unrecorded"
                    ));
                    self.set_pending(i).await;
                    return;
                }
                if let Some(v) = self.views.get_mut(i) {
                    v.state = state;
                    v.attempts = attempts;
                    v.counts = counts;
                    v.last_error = error;
                    v.duration = Some(duration);
                    v.rejects = rejects.iter().take(5).cloned().collect();
                    let ev = EngineEvent::Segment(v.clone());
                    self.ctx.emit.outcome(ev).await;
                }
            }
            Outcome::AuthFailure { error } => {
                if !self.auth_failure {
                    self.auth_failure = true;
                    self.fail_run(format!("authentication failed: {error}"));
                }
                self.set_pending(i).await;
            }
            Outcome::Abandoned => self.set_pending(i).await,
        }
    }

    pub(super) async fn on_worker_crash(&mut self, i: Option<usize>, e: &tokio::task::JoinError) {
        if e.is_cancelled() {
            if let Some(i) = i {
                self.set_pending(i).await;
            }
            return;
        }
        // A bug, not a server problem: record it as a failed segment the operator can retry.
        let msg = format!("internal error in the segment worker: {e}");
        match i {
            Some(i) => {
                let outcome = Outcome::Finished {
                    state: SegmentState::Failed,
                    attempts: self.views.get(i).map(|v| v.attempts).unwrap_or(0),
                    counts: Counts::default(),
                    error: Some(msg),
                    rejects: Vec::new(),
                    duration: Duration::ZERO,
                };
                Box::pin(self.on_outcome(i, outcome)).await;
            }
            None => self.ctx.emit.notice(msg),
        }
    }

    fn write_rejects(&mut self, rejects: &[Reject]) {
        let Some(w) = self.rejects.as_mut() else {
            return;
        };
        for r in rejects {
            if let Err(e) = w.write(r) {
                self.ctx
                    .emit
                    .notice(format!("cannot write to the rejects file: {e}"));
                return;
            }
        }
        if !rejects.is_empty()
            && let Err(e) = w.flush()
        {
            self.ctx
                .emit
                .notice(format!("cannot write to the rejects file: {e}"));
        }
    }

    pub(super) async fn set_pending(&mut self, i: usize) {
        if let Some(v) = self.views.get_mut(i) {
            if v.state.is_finished() {
                return;
            }
            v.state = SegmentState::Pending;
            let ev = EngineEvent::Segment(v.clone());
            self.ctx.emit.progress(ev);
        }
    }

    pub(super) fn fail_run(&mut self, msg: String) {
        if self.fatal.is_none() {
            self.fatal = Some(msg);
        }
        // Nothing else can succeed: abandon what is in flight.
        self.ctx.cancel.cancel();
    }

    /// Records the end in the journal and, for a complete pull, assembles the output.
    pub(super) async fn finish(&mut self) {
        self.ctx.cancel.cancel();
        let all_done = self
            .views
            .iter()
            .all(|v| matches!(v.state, SegmentState::Done | SegmentState::DoneWithRejects));
        if let Some(sink) = self.sink.clone() {
            if all_done && self.fatal.is_none() {
                let segments = self.views.len();
                let r = tokio::task::spawn_blocking(move || {
                    sink.finish(segments).map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
                if let Err(e) = r {
                    self.fatal = Some(format!("cannot assemble the output file: {e}"));
                }
            } else if !all_done {
                self.ctx.emit.notice(format!(
                    "{} not written yet: it is assembled once every segment is done",
                    self.target_label
                ));
            }
        }
        let end = End {
            run_id: String::new(),
            direction: self.direction,
            views: self.views.clone(),
            fatal: self.fatal.clone(),
            auth_failure: self.auth_failure,
            renewals: 0,
            sessions: 0,
        };
        self.journal_run_state(final_state(&end));
    }
}
