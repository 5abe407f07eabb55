//! Operator commands: pause, resume, force refresh, retry one or all failed, stop.

use super::Scheduler;
use crate::engine::events::{Command, EngineEvent, RunState, SegmentView};

impl Scheduler {
    pub(super) async fn on_command(&mut self, cmd: Command) {
        let emit = self.ctx.emit.clone();
        match cmd {
            Command::Pause if !self.paused && !self.stopping => {
                self.paused = true;
                self.ctx.gate.set_paused(true);
                // Journaled, so `status` (and whoever reads the journal) sees the pause.
                self.ledger.run_state(RunState::Paused);
                emit.outcome(EngineEvent::RunState(RunState::Paused)).await;
                emit.notice(format!(
                    "paused: {} in-flight segment(s) finish, no new requests start; the token is kept alive",
                    self.in_flight()
                ));
            }
            Command::Resume if self.paused => {
                self.paused = false;
                self.ctx.outage.restart();
                self.ctx.gate.set_paused(false);
                self.ledger.run_state(RunState::Running);
                emit.outcome(EngineEvent::RunState(RunState::Running)).await;
            }
            Command::ForceRefresh => {
                let api = self.ctx.api.clone();
                tokio::spawn(async move {
                    match api.force_refresh().await {
                        Ok(()) => emit.notice("token renewed on request".into()),
                        Err(e) => emit.notice(format!("forced token renewal failed: {e}")),
                    }
                });
            }
            Command::RetrySegment(_) | Command::RetryAllFailed
                if self.stopping || self.fatal.is_some() =>
            {
                emit.notice("the run is ending: no retries now (`supsync retry` later)".into());
            }
            Command::RetrySegment(i) => {
                let n = self.retry(|v| v.index == i).await;
                if n == 0 {
                    emit.notice(format!("segment {i} is not failed; nothing to retry"));
                }
            }
            Command::RetryAllFailed => {
                let n = self.retry(|_| true).await;
                emit.notice(if n == 0 {
                    "no failed segments to retry".into()
                } else {
                    format!("retrying {n} failed segment(s)")
                });
            }
            Command::Pace(change) => {
                self.ctx.pace.change(change, &self.ctx.api, &emit);
                // A raise lets more segments start now.
                self.fill();
            }
            Command::Stop if !self.stopping => {
                self.begin_stop();
                emit.outcome(EngineEvent::RunState(RunState::Stopping))
                    .await;
            }
            // Pause while paused, resume while running, stop while stopping: nothing to do.
            Command::Pause | Command::Resume | Command::Stop => {}
        }
    }

    /// No new segment or attempt starts; in-flight requests get `stop_grace` to finish.
    pub(super) fn begin_stop(&mut self) {
        self.stopping = true;
        self.ctx.stop.cancel();
        // A paused run must let its in-flight work end too.
        self.ctx.gate.set_paused(false);
        self.stop_deadline = Some(tokio::time::Instant::now() + self.stop_grace);
    }

    /// Failed segments matching `which` go back to pending with fresh attempts, at the
    /// front of the queue: an operator who asks for a retry wants it now, not after every
    /// segment still pending.
    pub(super) async fn retry(&mut self, which: impl Fn(&SegmentView) -> bool) -> usize {
        if self.stopping || self.fatal.is_some() {
            return 0;
        }
        let reset = self.ledger.reset_failed(which).await;
        let n = reset.len();
        for &i in reset.iter().rev() {
            self.queue.retain(|&q| q != i);
            self.queue.push_front(i);
        }
        if n > 0 {
            self.busy_again();
        }
        if n > 0 && self.idle_reported.take().is_some() {
            self.ctx
                .emit
                .outcome(EngineEvent::RunState(RunState::Running))
                .await;
        }
        n
    }
}
