//! Headless reporter: drives an [`EngineHandle`] without a console. On a terminal, an
//! indicatif bar on stderr; otherwise plain progress lines every few seconds. Notices go to
//! stderr as they come; the caller prints the summary (`crate::summary`) after them on
//! stderr. Plain lines (and the summary's first line) start with a UTC timestamp.
//! Ctrl-C, SIGTERM or SIGHUP once stops gracefully; a second one stops at once (the journal
//! stays consistent either way).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::EngineHandle;
use crate::engine::events::{Command, EngineEvent, RunSummary};
use crate::run::{RunState, SegmentState};
use crate::signals::StopSignals;
use crate::view::RunView;

pub mod json;
mod progress;

#[derive(Debug, Clone)]
pub struct HeadlessOptions {
    /// Plain progress lines (stderr not a terminal) at most this often.
    pub line_every: Duration,
}

impl Default for HeadlessOptions {
    fn default() -> Self {
        Self {
            line_every: Duration::from_secs(5),
        }
    }
}

/// Consumes the engine's events until the run ends; returns its summary.
pub async fn report(mut handle: EngineHandle, opts: &HeadlessOptions) -> RunSummary {
    let mut signals = StopSignals::install();
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} records {msg}",
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
        None => err_line(&msg),
    };
    let mut p = RunView::default();
    let mut last_line = Instant::now();
    let mut stop_signals = 0u32;
    let mut summary = None;
    // Plain progress lines also while nothing happens (paused, waiting out an outage).
    let mut tick = tokio::time::interval(opts.line_every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick(), if bar.is_none() => {
                if last_line.elapsed() >= opts.line_every && !p.segments.is_empty() {
                    p.tick(Instant::now());
                    err_line(&progress::line(&p, Instant::now()));
                    last_line = Instant::now();
                }
            }
            ev = handle.events.recv() => {
                let Some(ev) = ev else { break };
                p.apply(&ev, Instant::now());
                match ev {
                    EngineEvent::RunStarted(info) => {
                        say(format!(
                            "run {}: {} {} → {}{}, {} records in {} segments ({} already done){}",
                            info.run_id,
                            info.direction,
                            info.source,
                            info.target,
                            crate::engine::events::styled_api(&info.api_style)
                                .map(|s| format!(" ({s} API)"))
                                .unwrap_or_default(),
                            info.total_records,
                            info.segments.len(),
                            progress::finished(&p),
                            if info.local_rejects > 0 {
                                format!(", {} invalid locally (never sent)", info.local_rejects)
                            } else {
                                String::new()
                            }
                        ));
                        if let Some(b) = &bar {
                            b.set_length(info.total_records);
                            b.set_position(p.processed());
                        }
                    }
                    EngineEvent::Segment(v) => {
                        if v.state == SegmentState::Failed {
                            say(format!(
                                "segment {} failed after {} attempt(s): {}",
                                v.index,
                                v.attempts,
                                v.last_error.as_deref().unwrap_or("unknown error")
                            ));
                        }
                    }
                    EngineEvent::Token(_) | EngineEvent::TokenLog(_) => {}
                    EngineEvent::RunState(s) => {
                        if matches!(s, RunState::Paused | RunState::Stopping) {
                            say(format!("run state: {s}"));
                        }
                    }
                    EngineEvent::Notice(n) => say(format!("notice: {n}")),
                    EngineEvent::Pace(_) => {}
                    EngineEvent::Holding(h) => say(crate::engine::events::Hold::say(h.as_ref(), std::time::SystemTime::now())),
                    EngineEvent::Finished(s) => {
                        summary = Some(s);
                        break;
                    }
                }
                match &bar {
                    Some(b) => {
                        b.set_position(p.processed());
                        b.set_message(format!(
                            "{} in flight, {} failed, ETA {}",
                            p.in_flight(),
                            p.failed(),
                            p.eta_text(Instant::now())
                        ));
                    }
                    None if last_line.elapsed() >= opts.line_every => {
                        err_line(&progress::line(&p, Instant::now()));
                        last_line = Instant::now();
                    }
                    None => {}
                }
            }
            name = signals.recv() => {
                stop_signals += 1;
                if stop_signals == 1 {
                    say(format!(
                        "{name}: stopping, letting {} in-flight segment(s) finish; \
                         a second signal (or Ctrl-C) stops at once",
                        p.in_flight()
                    ));
                    // Ignored on purpose: a closed channel means the engine is already ending.
                    let _ = handle.commands.send(Command::Stop).await;
                } else {
                    say(format!("{name}: stopping now; the journal keeps every finished segment"));
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
            Err(e) => crate::engine::panic::join_failed(&e),
        },
    }
}

/// A line on stderr, timestamped (a log file, cron mail or journal must say when).
/// Errors are ignored: after a hang-up stderr may be a dead terminal, and a progress line
/// is not worth a panic (`eprintln!` panics when it cannot write).
fn err_line(msg: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", stamped(msg));
}

/// `text` with the UTC time to the second (RFC 3339) before its first line: a progress
/// line, or the summary as one block (its `error:` line still starts its line, for grep).
pub fn stamped(text: &str) -> String {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!("{now} {text}")
}
