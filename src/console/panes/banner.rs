//! The end banner: once the run has finished, the top of the left column says how it
//! ended (the outcome word and exit code), the figures, and the commands that carry on.

use std::time::Instant;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use super::theme::Theme;
use crate::console::app::App;
use crate::run::{Outcome, SegmentState};

/// The banner's lines, or `None` while the run goes on.
pub fn lines(app: &App, now: Instant) -> Option<Vec<Line<'static>>> {
    let outcome = app.view.outcome()?;
    let t = Theme { color: app.color };
    let style = match outcome {
        Outcome::Completed => t.ok(),
        Outcome::CompletedWithRejects | Outcome::Interrupted => t.warn(),
        _ => t.bad(),
    }
    .add_modifier(Modifier::BOLD);
    let mut out = vec![Line::from(vec![
        Span::styled(format!("■ {}", outcome.word().to_uppercase()), style),
        Span::raw(format!(
            " · exit {} · in {}",
            outcome.exit_code(),
            crate::summary::format_duration(app.view.elapsed(now))
        )),
    ])];
    let c = &app.view.totals.counts;
    let failed = app.view.totals.count(SegmentState::Failed);
    let reasons = if c.rejected > 0 {
        " (reasons: status, rejects.jsonl)"
    } else {
        ""
    };
    out.push(Line::raw(format!(
        "records {}/{} · segments {}/{} done, {failed} failed · rejected {}{reasons}",
        app.view.processed(),
        app.view.total_records(),
        app.view.totals.count(SegmentState::Done)
            + app.view.totals.count(SegmentState::DoneWithRejects),
        app.view.segments.len(),
        c.rejected
    )));
    // One command a line, so none is broken where a terminal would copy it.
    for (i, cmd) in app.next_commands().into_iter().enumerate() {
        let lead = if i == 0 { "next  " } else { "      " };
        out.push(Line::from(vec![
            Span::styled(lead, t.dim()),
            Span::raw(cmd),
        ]));
    }
    Some(out)
}

/// Rows the banner takes in a pane `width` wide (borders included); 0 while running.
pub fn height(app: &App, now: Instant, width: u16) -> u16 {
    let Some(lines) = lines(app, now) else {
        return 0;
    };
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    u16::try_from(rows + 2).unwrap_or(u16::MAX)
}

pub fn render(buf: &mut Buffer, area: Rect, app: &App, now: Instant) {
    let Some(lines) = lines(app, now) else {
        return;
    };
    let t = Theme { color: app.color };
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(
            Block::bordered()
                .title(" finished · q quits ")
                .border_style(t.accent()),
        )
        .render(area, buf);
}
