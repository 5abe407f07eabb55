//! The console's one event loop: a single `select!` over terminal input, a tick, engine
//! events, the frame timer and signals. Engine events are drained in bursts and only mark
//! the state dirty; frames are drawn when dirty, at most `max_fps` a second, and on every
//! tick (the countdown moves).

use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use ratatui::layout::Rect;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::{MissedTickBehavior, sleep_until};

use super::terminal::TerminalGuard;
use crate::config::UiConfig;
use crate::console::app::App;
use crate::console::keys::map_key;
use crate::engine::EngineHandle;
use crate::engine::events::Command;

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
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut sighup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;

    let size = term.terminal.size().context("reading the terminal size")?;
    app.resize(Rect::new(0, 0, size.width, size.height));
    let mut engine_open = true;
    let mut dirty = true;
    let mut last_draw: Option<tokio::time::Instant> = None;
    let mut stop = Stop::None;

    while !app.should_exit {
        let now = tokio::time::Instant::now();
        if dirty && last_draw.is_none_or(|t| now - t >= frame_gap) {
            let at = Instant::now();
            term.draw(|f| crate::console::panes::render(f, app, at))?;
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
            input_ev = input.next() => {
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
                        // ratatui resizes its buffers on the next draw; force a full repaint.
                        term.terminal.clear().context("clearing the terminal after a resize")?;
                        dirty = true;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e).context("reading keys from the terminal"),
                    // The terminal went away: wind down as for a hang-up.
                    None => {
                        stop_now(app, handle);
                        app.should_exit = true;
                    }
                }
            }
            _ = tick.tick() => {
                app.tick(Instant::now());
                dirty = true;
            }
            _ = sleep_until(next_frame), if dirty => {}
            _ = sigterm.recv() => {
                tracing::warn!("SIGTERM: stopping the sync, the journal keeps the progress");
                stop_now(app, handle);
                dirty = true;
            }
            _ = sighup.recv() => {
                tracing::warn!("SIGHUP: terminal hung up, stopping the sync");
                stop_now(app, handle);
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

/// A signal or a lost terminal: stop as if the operator had confirmed quitting.
fn stop_now(app: &mut App, handle: &EngineHandle) {
    if app.stopping {
        return;
    }
    let cmds = app.handle(crate::console::keys::Action::Confirm);
    send(app, handle, cmds);
}
