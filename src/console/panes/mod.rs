//! Pure render of [`App`]: `render(frame, &app, now)` reads the state and the `now` it is
//! given, and nothing else (no clock, no I/O, no awaits), so every screen is testable
//! with ratatui's `TestBackend`. One file per pane; where each pane goes is the console's
//! layout (`super::layout`), which the state uses too.

mod banner;
mod details;
pub mod fit;
mod footer;
mod grid;
mod header;
mod help;
mod log;
pub mod theme;
mod token;

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::widgets::{Paragraph, Wrap};

use super::layout::{MIN_HEIGHT, MIN_WIDTH, Panes, too_small};
use crate::console::app::{App, Overlay};

/// Draws the whole console for the state in `app` at `now`.
pub fn render(frame: &mut Frame, app: &App, now: Instant) {
    let area = frame.area();
    if too_small(area) {
        render_too_small(frame, area);
        return;
    }
    let panes = Panes::new(area, app.view.segments.len());
    let buf = frame.buffer_mut();
    header::render(buf, panes.header, app, now);
    if app.log_expanded {
        log::render(buf, panes.middle, app, true);
    } else {
        grid::render(buf, panes.grid, app);
        // A finished run's end banner takes the top of the details pane (which keeps at
        // least its title and a few rows).
        let d = panes.details;
        let h = banner::height(app, now, d.width).min(d.height.saturating_sub(4));
        let (top, rest) = (
            Rect { height: h, ..d },
            Rect {
                y: d.y + h,
                height: d.height - h,
                ..d
            },
        );
        if h >= 3 {
            banner::render(buf, top, app, now);
            details::render(buf, rest, app, now);
        } else {
            details::render(buf, d, app, now);
        }
        token::render(buf, panes.token, app, now);
        log::render(buf, panes.log, app, false);
    }
    footer::render(buf, panes.footer, app);
    match app.overlay {
        Overlay::None => {}
        Overlay::Help => help::render_help(buf, panes.middle, app),
        Overlay::Details => details::render_overlay(buf, panes.middle, app),
        Overlay::ConfirmQuit => help::render_confirm(buf, panes.middle, app),
    }
}

fn render_too_small(frame: &mut Frame, area: Rect) {
    use ratatui::widgets::Widget;
    let text = format!(
        "terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT}, have {}×{})",
        area.width, area.height
    );
    let y = area.y + area.height / 2;
    let row = Rect::new(area.x, y, area.width, area.height.min(1));
    Paragraph::new(text)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true })
        .render(row, frame.buffer_mut());
}

#[cfg(test)]
mod tests;
