//! Details of the segment under the cursor (or of the range its cell stands for): a pane
//! below the grid, and the same text in full in an overlay (Enter).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use std::time::Instant;

use super::theme::{LEGEND, Theme, symbol};
use crate::console::app::App;
use crate::engine::events::{Counts, SegmentState, SegmentView};
use crate::view::throughput::clock;

pub fn render(buf: &mut Buffer, area: Rect, app: &App, now: Instant) {
    let t = Theme { color: app.color };
    // A few reject reasons in the pane (Enter shows them all); rows left over show the
    // recent activity, newest first.
    let inner_h = usize::from(area.height.saturating_sub(2));
    let (title, mut lines) = content(app, &t, Some(3));
    let spare = inner_h.saturating_sub(lines.len() + 1);
    if spare >= 2 && !app.view.recent.is_empty() {
        lines.push(Line::styled("recent", t.dim().add_modifier(Modifier::BOLD)));
        for a in app.view.recent.iter().rev().take(spare - 1) {
            let ago = clock(now.saturating_duration_since(a.at));
            let style = a.state.map_or(t.warn(), |s| t.segment(s));
            let sym = a.state.map_or("!", symbol);
            lines.push(Line::from(vec![
                Span::styled(format!("{ago} ago "), t.dim()),
                Span::styled(format!("{sym} "), style),
                Span::raw(a.text.clone()),
            ]));
        }
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(title).border_style(t.border()))
        .render(area, buf);
}

pub fn render_overlay(buf: &mut Buffer, area: Rect, app: &App) {
    let t = Theme { color: app.color };
    let (title, mut lines) = content(app, &t, None);
    lines.push(Line::raw(""));
    lines.push(Line::styled("Esc or Enter closes", t.dim()));
    let h = (lines.len() as u16 + 2).min(area.height);
    let popup =
        super::super::layout::centered(area, area.width.saturating_sub(8).min(100), h.max(3));
    Clear.render(popup, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(
            Block::bordered()
                .title(title)
                .border_style(t.accent().add_modifier(Modifier::BOLD)),
        )
        .render(popup, buf);
}

/// Title and lines for the selection; `room` rows for reasons, `None`: all of them.
fn content(app: &App, t: &Theme, room: Option<usize>) -> (String, Vec<Line<'static>>) {
    let range = app.selected();
    let segs = &app.view.segments
        [range.start.min(app.view.segments.len())..range.end.min(app.view.segments.len())];
    match segs {
        [] => (
            " details ".into(),
            vec![Line::styled("no segment yet", t.dim())],
        ),
        [one] => (format!(" segment {} ", one.index), single(one, t, room)),
        many => (
            format!(" segments {}–{} ", range.start, range.end - 1),
            several(many, t, room),
        ),
    }
}

fn single(s: &SegmentView, t: &Theme, room: Option<usize>) -> Vec<Line<'static>> {
    let mut head = vec![
        Span::styled(
            format!("{} {}", symbol(s.state), s.state),
            t.segment(s.state),
        ),
        Span::raw(format!(
            " · {} records · attempts {}",
            s.records, s.attempts
        )),
    ];
    if let Some(d) = s.duration {
        head.push(Span::raw(format!(" · {:.1} s", d.as_secs_f64())));
    }
    let mut lines = vec![Line::from(head), counts_line(&s.counts, t)];
    if let Some(e) = &s.last_error {
        lines.push(Line::from(vec![
            Span::styled("last error ", t.dim()),
            Span::styled(e.clone(), t.bad()),
        ]));
    }
    let keep = match room {
        Some(r) if s.rejects.len() > r => r.saturating_sub(1),
        _ => s.rejects.len(),
    };
    for r in s.rejects.iter().take(keep) {
        let at = r.line.map(|l| format!(" (line {l})")).unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled("rejected ", t.warn()),
            Span::raw(format!("{}{at}: {}", r.supplier_id, r.reason)),
        ]));
    }
    if s.rejects.len() > keep {
        lines.push(Line::styled(
            format!("… {} more (Enter shows all)", s.rejects.len() - keep),
            t.dim(),
        ));
    }
    lines
}

fn several(segs: &[SegmentView], t: &Theme, room: Option<usize>) -> Vec<Line<'static>> {
    let mut by_state = vec![Span::raw(format!("{} segments ·", segs.len()))];
    for st in LEGEND {
        let n = segs.iter().filter(|s| s.state == st).count();
        if n > 0 {
            by_state.push(Span::styled(format!(" {} {n}", symbol(st)), t.segment(st)));
        }
    }
    let records: u64 = segs.iter().map(|s| s.records).sum();
    by_state.push(Span::raw(format!(" · {records} records")));
    let mut counts = Counts::default();
    for s in segs {
        counts.add(&s.counts);
    }
    let mut lines = vec![Line::from(by_state), counts_line(&counts, t)];
    let failed: Vec<&SegmentView> = segs
        .iter()
        .filter(|s| s.state == SegmentState::Failed)
        .collect();
    for s in failed.iter().take(room.unwrap_or(failed.len())) {
        lines.push(Line::from(vec![
            Span::styled(format!("segment {} ", s.index), t.dim()),
            Span::styled(
                s.last_error.clone().unwrap_or_else(|| "failed".into()),
                t.bad(),
            ),
        ]));
    }
    lines
}

fn counts_line(c: &Counts, t: &Theme) -> Line<'static> {
    let mut spans = vec![Span::raw(format!(
        "created {} · updated {} · unchanged {} · ",
        c.created, c.updated, c.unchanged
    ))];
    if c.applied > 0 {
        spans.push(Span::raw(format!("applied {} · ", c.applied)));
    }
    let style = if c.rejected > 0 { t.warn() } else { t.dim() };
    spans.push(Span::styled(format!("rejected {}", c.rejected), style));
    if c.pulled > 0 {
        spans.push(Span::raw(format!(" · pulled {}", c.pulled)));
    }
    Line::from(spans)
}
