//! The console's one event loop: a single `select!` over terminal input, a tick, engine
//! events, the frame timer and signals. Engine events are drained in bursts and only mark
//! the state dirty; frames are drawn when dirty, at most `max_fps` a second, and on every
//! tick (the countdown moves).
//!
//! Signals: SIGINT (only ever from outside: raw mode turns a typed Ctrl-C into a key),
//! SIGTERM and SIGHUP stop the sync as a confirmed quit would; a second one cancels at once.
//! A terminal that stops taking output or giving input (hung up, pty closed) ends drawing
//! and winds the run down the same way: never an error that skips the summary.

use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use ratatui::layout::Rect;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::{MissedTickBehavior, sleep_until};

use super::terminal::TerminalGuard;
use crate::config::UiConfig;
use crate::console::app::App;
use crate::console::keys::map_key;
use crate::engine::EngineHandle;
use crate::engine::events::Command;
use crate::signals::StopSignals;

/// How long a confirmed quit waits for in-flight segments before cancelling them.
pub const STOP_GRACE: Duration = Duration::from_secs(20);
/// Engine events folded in one go before the loop looks at keys and frames again.
const MAX_DRAIN: usize = 4096;
/// After cancelling, how long to wait for the engine to journal and report.
pub const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// Where a confirmed stop is in its wind-down.
enum Stop {
    None,
    /// Stop sent; cancel at the deadline.
    Graceful(tokio::time::Instant),
    /// Cancelled; give up waiting at the deadline.
    Cancelled(tokio::time::Instant),
}

pub async fn run(
    term: &mut TerminalGuard,
    app: &mut App,
    handle: &mut EngineHandle,
    ui: &UiConfig,
) -> anyhow::Result<()> {
    app.bindings
        .check()
        .context("the console's key bindings are inconsistent")?;
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_millis(ui.tick_ms.max(50)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let frame_gap = Duration::from_millis(1000 / u64::from(ui.max_fps.max(1)));
    let mut signals = StopSignals::install();
    let mut signals_seen = 0u32;

    let size = term.terminal.size().context("reading the terminal size")?;
    app.resize(Rect::new(0, 0, size.width, size.height));
    let mut engine_open = true;
    let mut dirty = true;
    let mut last_draw: Option<tokio::time::Instant> = None;
    let mut stop = Stop::None;
    // False once the terminal is gone: nothing more is drawn or read.
    let mut term_alive = true;

    while !app.should_exit {
        let now = tokio::time::Instant::now();
        if term_alive && dirty && last_draw.is_none_or(|t| now - t >= frame_gap) {
            let at = Instant::now();
            if let Err(e) = term.draw(|f| crate::console::panes::render(f, app, at)) {
                terminal_gone(app, handle, &mut term_alive, &format!("{e:#}"));
            }
            last_draw = Some(now);
            dirty = false;
        }
        let next_frame = last_draw.map_or(now, |t| t + frame_gap);
        let stop_at = match stop {
            Stop::None => None,
            Stop::Graceful(at) | Stop::Cancelled(at) => Some(at),
        };

        tokio::select! {
            ev = handle.events.recv(), if engine_open => {
                match ev {
                    Some(ev) => {
                        app.apply(ev, Instant::now());
                        // Drain the burst: one frame for many progress events. Bounded, so
                        // a flood cannot starve the keys.
                        for _ in 0..MAX_DRAIN {
                            let Ok(ev) = handle.events.try_recv() else { break };
                            app.apply(ev, Instant::now());
                        }
                    }
                    None => {
                        engine_open = false;
                        app.engine_gone(Instant::now());
                    }
                }
                dirty = true;
            }
            input_ev = input.next(), if term_alive => {
                match input_ev {
                    Some(Ok(Event::Key(key))) => {
                        if let Some(action) = map_key(&app.bindings, app.key_mode(), &key) {
                            let cmds = app.handle(action);
                            send(app, handle, cmds);
                        }
                        dirty = true;
                    }
                    Some(Ok(Event::Resize(w, h))) => {
                        app.resize(Rect::new(0, 0, w, h));
                        // Resize (not `clear`): it clears the screen and forces a full repaint
                        // without asking the terminal where its cursor is. `clear` asks, and a
                        // terminal that does not answer within 2 s made it fail.
                        if let Err(e) = term.terminal.resize(Rect::new(0, 0, w, h)) {
                            terminal_gone(app, handle, &mut term_alive, &e.to_string());
                        }
                        dirty = true;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => terminal_gone(app, handle, &mut term_alive, &e.to_string()),
                    None => terminal_gone(app, handle, &mut term_alive, "no more input"),
                }
            }
            _ = tick.tick() => {
                app.tick(Instant::now());
                dirty = true;
            }
            _ = sleep_until(next_frame), if dirty => {}
            name = signals.recv() => {
                signals_seen += 1;
                // A second signal, not a stop that began otherwise (the terminal went away
                // and then its SIGHUP came): stop waiting for in-flight segments.
                if signals_seen > 1 {
                    tracing::warn!("{name} again: cancelling in-flight segments");
                    handle.cancel.cancel();
                    app.flash = Some("cancelling in-flight segments…".into());
                    stop = Stop::Cancelled(tokio::time::Instant::now() + CANCEL_GRACE);
                } else if app.attached.is_some() {
                    tracing::warn!("{name}: detaching; the run goes on");
                    stop_now(app, handle);
                } else {
                    tracing::warn!("{name}: stopping the sync, the journal keeps the progress");
                    stop_now(app, handle);
                }
                dirty = true;
            }
            _ = sleep_until(stop_at.unwrap_or(now)), if stop_at.is_some() => {
                match stop {
                    Stop::Graceful(_) => {
                        tracing::warn!("in-flight segments still busy after {STOP_GRACE:?}: cancelling them");
                        handle.cancel.cancel();
                        app.flash = Some("cancelling in-flight segments…".into());
                        stop = Stop::Cancelled(tokio::time::Instant::now() + CANCEL_GRACE);
                    }
                    _ => app.should_exit = true,
                }
                dirty = true;
            }
        }

        if app.stopping && matches!(stop, Stop::None) {
            stop = Stop::Graceful(tokio::time::Instant::now() + STOP_GRACE);
        }
        if app.stopping && !engine_open {
            app.should_exit = true;
        }
    }
    Ok(())
}

/// Sends the commands an action asked for; one the engine cannot take is explained.
fn send(app: &mut App, handle: &EngineHandle, cmds: Vec<Command>) {
    for cmd in cmds {
        match handle.commands.try_send(cmd) {
            Ok(()) => {}
            // Quitting a finished run: the engine may be gone already, which is fine.
            Err(TrySendError::Closed(Command::Stop)) => {}
            Err(TrySendError::Full(c) | TrySendError::Closed(c)) => app.command_failed(&c),
        }
    }
}

/// The terminal stopped taking output or giving input (hung up, pty closed): stop drawing
/// and reading, and wind the run down as for a hang-up. The run's summary still goes to
/// stdout afterwards, where it is written if anyone still reads it.
fn terminal_gone(app: &mut App, handle: &EngineHandle, alive: &mut bool, why: &str) {
    if !*alive {
        return;
    }
    *alive = false;
    let then = if app.attached.is_some() {
        "detaching; the run goes on"
    } else {
        "stopping the sync"
    };
    tracing::warn!("the terminal is gone ({why}): {then}");
    stop_now(app, handle);
}

/// A signal or a lost terminal: stop as if the operator had confirmed quitting.
fn stop_now(app: &mut App, handle: &EngineHandle) {
    if app.stopping {
        return;
    }
    let cmds = app.handle(crate::console::keys::Action::Confirm);
    send(app, handle, cmds);
}
