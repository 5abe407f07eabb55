//! Headless reporter: drives an [`EngineHandle`] without a console. On a terminal, an
//! indicatif bar on stderr; otherwise plain progress lines every few seconds. Notices go to
//! stderr as they come; the summary (with the command that carries on) goes to stdout.
//! Ctrl-C once stops gracefully; twice, at once (the journal stays consistent either way).

use std::collections::HashSet;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::EngineHandle;
use crate::engine::events::{
    Command, Counts, EngineEvent, RunInfo, RunState, RunSummary, SegmentState, SegmentView,
};

#[derive(Debug, Clone)]
pub struct HeadlessOptions {
    /// How to invoke supsync in the hints, global options included
    /// (e.g. `supsync --state-dir /srv/sync`).
    pub command: String,
    /// Plain progress lines (stderr not a terminal) at most this often.
    pub line_every: Duration,
}

impl Default for HeadlessOptions {
    fn default() -> Self {
        Self {
            command: "supsync".into(),
            line_every: Duration::from_secs(5),
        }
    }
}

/// What the reporter knows of the run, folded from events.
#[derive(Default)]
struct Progress {
    segments: Vec<(SegmentState, Counts)>,
    total_records: u64,
    in_flight: HashSet<usize>,
    renewals: u32,
}

impl Progress {
    fn start(&mut self, info: &RunInfo) {
        self.segments = info.segments.iter().map(|s| (s.state, s.counts)).collect();
        self.total_records = info.total_records;
    }

    fn apply(&mut self, v: &SegmentView) {
        if let Some(slot) = self.segments.get_mut(v.index) {
            *slot = (v.state, v.counts);
        }
        if matches!(v.state, SegmentState::Running | SegmentState::Retrying) {
            self.in_flight.insert(v.index);
        } else {
            self.in_flight.remove(&v.index);
        }
    }

    fn finished(&self) -> usize {
        self.segments
            .iter()
            .filter(|(s, _)| s.is_finished())
            .count()
    }

    fn records(&self) -> u64 {
        self.segments.iter().map(|(_, c)| c.processed()).sum()
    }

    fn failed(&self) -> usize {
        self.segments
            .iter()
            .filter(|(s, _)| *s == SegmentState::Failed)
            .count()
    }

    fn line(&self, since: Duration, session_records: u64) -> String {
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

/// Consumes the engine's events until the run ends; returns its summary.
pub async fn report(mut handle: EngineHandle, opts: &HeadlessOptions) -> RunSummary {
    let started = Instant::now();
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} records ({per_sec}, ETA {eta}) {msg}",
        ) {
            b.set_style(style);
        }
        b.enable_steady_tick(Duration::from_millis(250));
        Some(b)
    } else {
        None
    };
    let say = |msg: String| match &bar {
        Some(b) => b.println(msg),
        None => eprintln!("{msg}"),
    };
    let mut p = Progress::default();
    let mut records_at_start = 0;
    let mut last_line = Instant::now();
    let mut ctrl_c_count = 0u32;
    let mut summary = None;
    // One listener for the whole run, renewed after each Ctrl-C, so none is missed.
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let mut signals_ok = true;
    // Plain progress lines also while nothing happens (paused, waiting out an outage).
    let mut tick = tokio::time::interval(opts.line_every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick(), if bar.is_none() => {
                if last_line.elapsed() >= opts.line_every && !p.segments.is_empty() {
                    let session_records = p.records().saturating_sub(records_at_start);
                    eprintln!("{}", p.line(started.elapsed(), session_records));
                    last_line = Instant::now();
                }
            }
            ev = handle.events.recv() => {
                let Some(ev) = ev else { break };
                match ev {
                    EngineEvent::RunStarted(info) => {
                        p.start(&info);
                        records_at_start = p.records();
                        say(format!(
                            "run {}: {} {} → {}, {} records in {} segments ({} already done){}",
                            info.run_id,
                            info.direction,
                            info.source,
                            info.target,
                            info.total_records,
                            info.segments.len(),
                            p.finished(),
                            if info.local_rejects > 0 {
                                format!(", {} invalid locally (never sent)", info.local_rejects)
                            } else {
                                String::new()
                            }
                        ));
                        if let Some(b) = &bar {
                            b.set_length(info.total_records);
                            b.set_position(records_at_start);
                        }
                    }
                    EngineEvent::Segment(v) => {
                        p.apply(&v);
                        if v.state == SegmentState::Failed {
                            say(format!(
                                "segment {} failed after {} attempt(s): {}",
                                v.index,
                                v.attempts,
                                v.last_error.as_deref().unwrap_or("unknown error")
                            ));
                        }
                    }
                    EngineEvent::Token(t) => p.renewals = t.renewals,
                    EngineEvent::RunState(s) => {
                        if matches!(s, RunState::Paused | RunState::Stopping) {
                            say(format!("run state: {s:?}"));
                        }
                    }
                    EngineEvent::Notice(n) => say(format!("notice: {n}")),
                    EngineEvent::Finished(s) => {
                        summary = Some(s);
                        break;
                    }
                }
                let elapsed = started.elapsed();
                let session_records = p.records().saturating_sub(records_at_start);
                match &bar {
                    Some(b) => {
                        b.set_position(p.records());
                        b.set_message(format!("{} in flight, {} failed", p.in_flight.len(), p.failed()));
                    }
                    None if last_line.elapsed() >= opts.line_every => {
                        eprintln!("{}", p.line(elapsed, session_records));
                        last_line = Instant::now();
                    }
                    None => {}
                }
            }
            r = &mut ctrl_c, if signals_ok => {
                ctrl_c = Box::pin(tokio::signal::ctrl_c());
                if r.is_err() {
                    // No signal handling here: keep reporting without it, never spin.
                    signals_ok = false;
                    continue;
                }
                ctrl_c_count += 1;
                if ctrl_c_count == 1 {
                    say(format!(
                        "stopping: letting {} in-flight segment(s) finish; Ctrl-C again to stop now",
                        p.in_flight.len()
                    ));
                    // Ignored on purpose: a closed channel means the engine is already ending.
                    let _ = handle.commands.send(Command::Stop).await;
                } else {
                    say("stopping now; the journal keeps every finished segment".into());
                    handle.cancel.cancel();
                }
            }
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    match summary {
        Some(s) => s,
        // The event channel closed without a summary: take it from the task itself.
        None => match (&mut handle.task).await {
            Ok(s) => s,
            Err(e) => crashed(&e),
        },
    }
}

fn crashed(e: &tokio::task::JoinError) -> RunSummary {
    RunSummary {
        run_id: String::new(),
        direction: crate::engine::events::Direction::Push,
        state: RunState::Failed,
        counts: Counts::default(),
        segments_total: 0,
        segments_done: 0,
        segments_failed: 0,
        token_renewals: 0,
        sessions: 0,
        duration: Duration::ZERO,
        error: Some(format!("the engine stopped unexpectedly: {e}")),
        auth_failure: false,
    }
}

/// The summary an operator (or a cron mail) reads, with the command that carries on.
pub fn summary_text(s: &RunSummary, opts: &HeadlessOptions) -> String {
    let mut out = Vec::new();
    let what = match s.state {
        RunState::Completed if s.counts.rejected > 0 => "completed, with rejected records",
        RunState::Completed => "completed",
        RunState::CompletedWithFailures => "completed, with failed segments",
        RunState::Interrupted => "interrupted",
        RunState::Failed => "failed",
        _ => "ended",
    };
    let id = if s.run_id.is_empty() {
        "(none)"
    } else {
        &s.run_id
    };
    out.push(format!(
        "run {id} ({}) {what} in {}",
        s.direction,
        format_duration(s.duration)
    ));
    // A run that never got going has no figures worth printing, only its error.
    let started = !(s.state == RunState::Failed && s.segments_total == 0);
    let c = &s.counts;
    if started {
        out.push(match s.direction {
            crate::engine::events::Direction::Push => format!(
                "records: {} created, {} updated, {} unchanged, {} rejected",
                c.created, c.updated, c.unchanged, c.rejected
            ),
            crate::engine::events::Direction::Pull => format!("records: {} pulled", c.pulled),
        });
        out.push(format!(
            "segments: {} of {} done, {} failed",
            s.segments_done, s.segments_total, s.segments_failed
        ));
        out.push(format!(
            "token: {} renewal(s), {} session(s)",
            s.token_renewals, s.sessions
        ));
    }
    if let Some(e) = &s.error {
        out.push(format!("error: {e}"));
    }
    if c.rejected > 0 && !s.run_id.is_empty() {
        out.push(format!(
            "rejected records and reasons: {} status {id} (rejects.jsonl in the run directory)",
            opts.command
        ));
    }
    if !s.run_id.is_empty() {
        match s.state {
            RunState::Interrupted => {
                out.push(format!("to carry on: {} resume {id}", opts.command));
            }
            RunState::Failed if !s.auth_failure && s.segments_total > 0 => {
                out.push(format!(
                    "after fixing the cause: {} resume {id}",
                    opts.command
                ));
            }
            RunState::Failed if s.auth_failure => out.push(format!(
                "check auth.client_id, the client secret, auth.scopes and that the token \
                 endpoint is reachable (`{cmd} diagnose`), then: {cmd} resume {id}",
                cmd = opts.command
            )),
            _ => {}
        }
        if s.segments_failed > 0 {
            out.push(format!(
                "to retry failed segments: {} retry {id}",
                opts.command
            ));
        }
    }
    out.join("\n")
}

pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{:.1}s", d.as_secs_f64()),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::Direction;

    fn s(state: RunState) -> RunSummary {
        RunSummary {
            run_id: "20261125-1".into(),
            direction: Direction::Push,
            state,
            counts: Counts {
                created: 5,
                ..Counts::default()
            },
            segments_total: 3,
            segments_done: 2,
            segments_failed: 1,
            token_renewals: 4,
            sessions: 2,
            duration: Duration::from_secs(75),
            error: None,
            auth_failure: false,
        }
    }

    #[test]
    fn summary_names_the_command_that_carries_on() {
        let opts = HeadlessOptions {
            command: "supsync --state-dir /x".into(),
            ..Default::default()
        };
        let t = summary_text(&s(RunState::CompletedWithFailures), &opts);
        assert!(t.contains("5 created"), "{t}");
        assert!(t.contains("4 renewal(s), 2 session(s)"), "{t}");
        assert!(t.contains("supsync --state-dir /x retry 20261125-1"), "{t}");
        assert!(t.contains("1m 15s"), "{t}");
        let t = summary_text(&s(RunState::Interrupted), &opts);
        assert!(
            t.contains("supsync --state-dir /x resume 20261125-1"),
            "{t}"
        );
    }

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
