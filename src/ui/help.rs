//! Overlays: the help (every key, the legend) and the quit question.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::theme::{LEGEND, Theme, symbol, word};
use crate::app::App;

pub fn render_help(buf: &mut Buffer, area: Rect, app: &App) {
    let t = Theme { color: app.color };
    let mut lines = Vec::new();
    for (_, keys, what) in &app.bindings.entries {
        let k: Vec<String> = keys.iter().map(|k| k.label()).collect();
        lines.push(Line::from(vec![
            Span::styled(format!("{:<16}", k.join(" ")), t.key()),
            Span::raw(*what),
        ]));
    }
    lines.push(Line::raw(""));
    for row in LEGEND.chunks(3) {
        let mut legend = vec![Span::raw(format!("{:<16}", ""))];
        for s in row {
            legend.push(Span::styled(symbol(*s), t.segment(*s)));
            legend.push(Span::raw(format!(" {:<16}", word(*s))));
        }
        lines.push(Line::from(legend));
    }
    lines.push(Line::styled(
        "A run larger than the pane: one cell stands for a range of segments and shows its worst state.",
        t.dim(),
    ));
    // +1: the last sentence wraps at this width.
    let h = lines.len() as u16 + 3;
    let popup = super::centered(area, 72, h);
    Clear.render(popup, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(
            Block::bordered()
                .title(" keys · ? or Esc closes ")
                .border_style(t.accent().add_modifier(Modifier::BOLD)),
        )
        .render(popup, buf);
}

pub fn render_confirm(buf: &mut Buffer, area: Rect, app: &App) {
    let t = Theme { color: app.color };
    let id = app.info.as_ref().map_or("<run>", |i| i.run_id.as_str());
    let lines = vec![
        Line::styled(
            "Stop the sync and quit?",
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Line::raw(""),
        Line::raw("No new segments start; in-flight ones finish and are journaled."),
        Line::raw(format!("Carry on later with: supsync resume {id}")),
        Line::raw(""),
        Line::from(vec![
            Span::styled(" y ", t.key()),
            Span::raw("stop and quit    "),
            Span::styled(" n ", t.key()),
            Span::raw("keep running"),
        ]),
    ];
    let popup = super::centered(area, 70, lines.len() as u16 + 2);
    Clear.render(popup, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(
            Block::bordered()
                .title(" quit ")
                .border_style(t.warn().add_modifier(Modifier::BOLD)),
        )
        .render(popup, buf);
}
