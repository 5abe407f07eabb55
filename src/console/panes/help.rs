//! Overlays: the help (every key, the legend) and the quit question.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::theme::{LEGEND, Theme, symbol};
use crate::console::app::App;

pub fn render_help(buf: &mut Buffer, area: Rect, app: &App) {
    let t = Theme { color: app.color };
    let mut lines = Vec::new();
    for (keys, what) in rows(app) {
        lines.push(Line::from(vec![
            Span::styled(format!("{keys:<18}"), t.key()),
            Span::raw(what),
        ]));
    }
    // The legend when there is room (the grid's border carries a short one anyway).
    let mut legend = vec![Line::raw("")];
    for row in LEGEND.chunks(3) {
        let mut spans = vec![Span::raw(format!("{:<18}", ""))];
        for (i, s) in row.iter().enumerate() {
            spans.push(Span::styled(symbol(*s), t.segment(*s)));
            // Columns wide enough for the longest word; the last needs no padding.
            let word = if i + 1 < row.len() {
                format!(" {s:<18}")
            } else {
                format!(" {s}")
            };
            spans.push(Span::raw(word));
        }
        legend.push(Line::from(spans));
    }
    legend.push(Line::styled(
        "A run larger than the pane: one cell stands for a range of segments and shows its worst state.",
        t.dim(),
    ));
    // +1: the last sentence wraps at this width.
    if lines.len() + legend.len() + 3 <= usize::from(area.height) {
        lines.extend(legend);
    }
    let h = lines.len() as u16 + 3;
    let popup = super::super::layout::centered(area, 74, h);
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

/// Help rows from the binding table, pairs of related actions on one row.
fn rows(app: &App) -> Vec<(String, String)> {
    use crate::console::keys::Action::*;
    // Related actions share a row and these words.
    let groups: [(&[crate::console::keys::Action], &str); 4] = [
        (&[Up, Down, Left, Right], "move in the grid"),
        (
            &[PageUp, PageDown],
            "page up / down (grid, or the expanded log)",
        ),
        (&[Home, End], "first / last segment"),
        (
            &[PaceUp, PaceDown, PaceConfigured],
            "pace: one more / fewer at the server; = configured",
        ),
    ];
    let mut out = Vec::new();
    let mut done = Vec::new();
    for (action, _, _) in &app.bindings.entries {
        if done.contains(action) {
            continue;
        }
        let group = groups.iter().find(|(g, _)| g.contains(action));
        let members: Vec<_> = app
            .bindings
            .entries
            .iter()
            .filter(|(a, _, _)| group.map_or(a == action, |(g, _)| g.contains(a)))
            .collect();
        let labels: Vec<String> = members
            .iter()
            .flat_map(|(_, ks, _)| ks.iter().map(|k| k.label()))
            .collect();
        let what = group.map_or_else(
            || members.first().map_or("", |(_, _, w)| *w),
            |(_, words)| *words,
        );
        done.extend(members.iter().map(|(a, _, _)| *a));
        // Attached, `q` leaves the run going in its own process (as the footer says).
        let what = if *action == Quit && app.attached.is_some() {
            "detach (the run goes on in its own process)"
        } else {
            what
        };
        out.push((labels.join(" "), what.to_string()));
    }
    out
}

pub fn render_confirm(buf: &mut Buffer, area: Rect, app: &App) {
    let t = Theme { color: app.color };
    let id = app
        .view
        .info
        .as_ref()
        .map_or("<run>", |i| i.run_id.as_str());
    let lines = vec![
        Line::styled(
            "Stop the sync and quit?",
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Line::raw(""),
        Line::raw("No new segments start; in-flight ones finish and are journaled."),
        Line::raw(format!("Carry on later with: {} resume {id}", app.command)),
        Line::raw(""),
        Line::from(vec![
            Span::styled(" y ", t.key()),
            Span::raw("stop and quit    "),
            Span::styled(" n ", t.key()),
            Span::raw("keep running"),
        ]),
    ];
    let popup = super::super::layout::centered(area, 70, lines.len() as u16 + 2);
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
