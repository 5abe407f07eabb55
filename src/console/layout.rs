//! Where each pane goes: one function of the terminal's size and the run's segment count.
//! The state ([`App`](super::app::App)) fits its grid to it and the panes draw into it, so
//! both read the same rectangles.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Block;

/// Below this the console shows a notice instead of panes.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

// The screen, top to bottom:
//
// ┌ supsync · run … (HEADER_H) ──────────────────────────────────────────────┐
// │ direction, source → target, STATE, elapsed, records/s, ETA               │
// │ records and counts, segments by state                                    │
// │ throughput sparkline                                                     │
// ├ segments (as tall as needed) ──────────────┬ token (TOKEN_H) ────────────┤
// │ ·▶↻█▒✗ one cell per segment (or range)     │ gauge + mm:ss, other clocks │
// │                                            │ next refresh, last result…  │
// │                                            ├ refresh log (fill) ─────────┤
// ├ segment details (the rest, ≥ DETAILS_H) ───┤ token-target log lines      │
// │ records, attempts, counts, error, rejects, │                             │
// │ then recent activity in the spare rows     │                             │
// └────────────────────────────────────────────┴─────────────────────────────┘
//  footer: the keys that apply now (1 row)                      flash / notice
//
// The right column is RIGHT_SHARE of the width, clamped to RIGHT_MIN..=RIGHT_MAX.
// The grid takes the rows its segments need (at least GRID_MIN_H), up to all but
// DETAILS_H of the left column; a small run leaves the details pane room for reasons.
// `l` (expanded log) gives the whole middle band to the full log.
const HEADER_H: u16 = 5;
const FOOTER_H: u16 = 1;
const TOKEN_H: u16 = 14;
const DETAILS_H: u16 = 7;
const GRID_MIN_H: u16 = 6;
const RIGHT_MIN: u16 = 42;
const RIGHT_MAX: u16 = 80;
const RIGHT_SHARE: u16 = 40; // percent

/// Where each pane goes for a terminal of `area`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panes {
    pub header: Rect,
    /// The band between header and footer (the expanded log uses all of it).
    pub middle: Rect,
    pub grid: Rect,
    pub details: Rect,
    pub token: Rect,
    pub log: Rect,
    pub footer: Rect,
}

impl Panes {
    /// Panes for a terminal of `area` showing a run of `segments` segments.
    pub fn new(area: Rect, segments: usize) -> Self {
        let [header, middle, footer] = Layout::vertical([
            Constraint::Length(HEADER_H),
            Constraint::Fill(1),
            Constraint::Length(FOOTER_H),
        ])
        .areas(area);
        let right_w = (middle.width * RIGHT_SHARE / 100).clamp(RIGHT_MIN, RIGHT_MAX);
        let [left, right] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(right_w)]).areas(middle);
        let cols = usize::from(left.width.saturating_sub(2) / 2).max(1);
        let needed = u16::try_from(segments.div_ceil(cols)).unwrap_or(u16::MAX);
        let grid_h = needed
            .saturating_add(2)
            .max(GRID_MIN_H)
            .min(left.height.saturating_sub(DETAILS_H));
        let [grid, details] =
            Layout::vertical([Constraint::Length(grid_h), Constraint::Fill(1)]).areas(left);
        let [token, log] =
            Layout::vertical([Constraint::Length(TOKEN_H), Constraint::Fill(1)]).areas(right);
        Self {
            header,
            middle,
            grid,
            details,
            token,
            log,
            footer,
        }
    }
}

/// The character cells the grid's segments are drawn in (inside the pane's border).
pub fn grid_inner(area: Rect, segments: usize) -> Rect {
    Block::bordered().inner(Panes::new(area, segments).grid)
}

pub fn too_small(area: Rect) -> bool {
    area.width < MIN_WIDTH || area.height < MIN_HEIGHT
}

/// A centred rectangle of at most `w` × `h` inside `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_fills_the_screen_without_overlap() {
        let p = Panes::new(Rect::new(0, 0, 80, 24), 20_000);
        assert_eq!(p.header.height, HEADER_H);
        assert_eq!(p.footer.y, 23);
        assert_eq!(p.grid.width + p.token.width, 80);
        assert_eq!(p.token.width, RIGHT_MIN);
        assert_eq!(p.grid.height + p.details.height, p.middle.height);
        assert_eq!(p.token.height + p.log.height, p.middle.height);
        assert!(grid_inner(Rect::new(0, 0, 80, 24), 20_000).height >= 8);
        assert_eq!(
            p.details.height, DETAILS_H,
            "a big run leaves details its minimum"
        );
        // A small run: the grid takes what it needs and details get the rest.
        let small = Panes::new(Rect::new(0, 0, 120, 40), 50);
        assert_eq!(small.grid.height, GRID_MIN_H);
        assert_eq!(
            small.grid.height + small.details.height,
            small.middle.height
        );
        let wide = Panes::new(Rect::new(0, 0, 200, 60), 25);
        assert_eq!(wide.token.width, RIGHT_MAX);
    }
}
