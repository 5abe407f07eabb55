//! Segment grid: one cell per segment (or per range of segments when the run is larger
//! than the pane), state by colour and symbol, the cursor reversed, a legend below.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Widget};

use super::theme::{LEGEND, Theme, symbol};
use crate::console::app::App;
use crate::console::app::grid::worst;

pub fn render(buf: &mut Buffer, area: Rect, app: &App) {
    let t = Theme { color: app.color };
    let g = app.geometry;
    let title = if g.span > 1 {
        format!("{} segments · cell = {}, worst shown", g.segments, g.span)
    } else {
        format!("{} segments", g.segments)
    };
    // Inside the corners, with a space either side.
    let title = format!(
        " {} ",
        super::fit::fit(&title, usize::from(area.width.saturating_sub(4)))
    );
    let block = Block::bordered()
        .title(title)
        .title_bottom(legend(&t))
        .border_style(t.border());
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    if app.view.segments.is_empty() {
        buf.set_string(inner.x, inner.y, "waiting for the plan…", t.dim());
        return;
    }
    let cursor_cell = g.cell_of(app.cursor);
    for cell in 0..g.cells() {
        let (col, row) = g.position(cell);
        let x = inner.x as usize + col * usize::from(g.cell_width);
        let y = inner.y as usize + row;
        if y >= usize::from(inner.bottom()) || x >= usize::from(inner.right()) {
            // The pane shrank since the geometry was fitted: draw what fits.
            continue;
        }
        let range = g.range(cell);
        let Some(state) = worst(app.view.segments[range].iter().map(|s| s.state)) else {
            continue;
        };
        let mut style = t.segment(state);
        if cell == cursor_cell && !app.log_expanded {
            style = style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
        }
        buf.set_string(x as u16, y as u16, symbol(state), style);
    }
}

fn legend(t: &Theme) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    for s in LEGEND {
        spans.push(Span::styled(symbol(s), t.segment(s)));
        spans.push(Span::styled(format!("{} ", short(s)), t.dim()));
    }
    Line::from(spans)
}

fn short(s: crate::engine::events::SegmentState) -> &'static str {
    use crate::engine::events::SegmentState::*;
    match s {
        Pending => "pend",
        Running => "run",
        Retrying => "retry",
        Done => "ok",
        DoneWithRejects => "rej",
        Failed => "fail",
    }
}
