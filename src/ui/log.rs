//! Refresh log: tui-logger's widget on the token target; expanded (`l`), every target.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Widget};
use tui_logger::{TuiLoggerLevelOutput, TuiLoggerWidget};

use super::theme::Theme;
use crate::app::App;

pub fn render(buf: &mut Buffer, area: Rect, app: &App, expanded: bool) {
    let t = Theme { color: app.color };
    let (title, state) = if expanded {
        (
            " log: everything · PgUp/PgDn scroll · l or Esc back ",
            &app.full_log,
        )
    } else {
        (" refresh log (l: full log) ", &app.token_log)
    };
    TuiLoggerWidget::default()
        .block(Block::bordered().title(title).border_style(t.border()))
        .output_timestamp(Some("%H:%M:%S".into()))
        .output_level(Some(TuiLoggerLevelOutput::Abbreviated))
        .output_target(expanded)
        .output_file(false)
        .output_line(false)
        .style_error(t.bad())
        .style_warn(t.warn())
        .style_info(ratatui::style::Style::new())
        .style_debug(t.dim())
        .state(state)
        .render(area, buf);
}
