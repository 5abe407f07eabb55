//! Footer: the keys that apply now, and one line of feedback on the right.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::theme::Theme;
use crate::console::app::{App, Overlay};
use crate::console::keys::Action;
use crate::engine::events::{RunState, SegmentState};

/// (key, what) pairs that make sense in the current state.
pub fn applicable(app: &App) -> Vec<(String, &'static str)> {
    let key = |a: Action| app.bindings.key_for(a).map_or(String::new(), |k| k.label());
    match app.overlay {
        Overlay::ConfirmQuit => {
            return vec![("y".into(), "stop & quit"), ("n".into(), "keep running")];
        }
        Overlay::Help | Overlay::Details => return vec![(key(Action::Close), "close")],
        Overlay::None => {}
    }
    if app.log_expanded {
        return vec![
            ("PgUp/PgDn".into(), "scroll"),
            (key(Action::ToggleLog), "back"),
            (key(Action::Quit), "quit"),
        ];
    }
    let mut out = vec![("←↑↓→".to_string(), "move"), ("Enter".into(), "details")];
    match app.state {
        RunState::Running => out.push((key(Action::TogglePause), "pause")),
        RunState::Paused => out.push((key(Action::TogglePause), "resume")),
        _ => {}
    }
    if !app.state.is_terminal() {
        out.push((key(Action::ForceRefresh), "refresh"));
    }
    if !app.failed_in(app.selected()).is_empty() {
        out.push((key(Action::RetrySelected), "retry"));
    }
    if app.totals.count(SegmentState::Failed) > 0 {
        out.push((key(Action::NextFailed), "next failed"));
        out.push((key(Action::RetryAllFailed), "retry all"));
    }
    out.push((key(Action::ToggleLog), "log"));
    out.push((key(Action::ToggleHelp), "help"));
    out.push((key(Action::Quit), "quit"));
    out
}

pub fn render(buf: &mut Buffer, area: Rect, app: &App) {
    let t = Theme { color: app.color };
    let mut items = applicable(app);
    // Too narrow: drop what a newcomer can find in the help first; quit and help stay.
    let width = |items: &[(String, &str)]| -> usize {
        items
            .iter()
            .map(|(k, w)| k.chars().count() + w.chars().count() + 3)
            .sum()
    };
    for drop in ["details", "log", "move", "next failed"] {
        if width(&items) <= usize::from(area.width) {
            break;
        }
        items.retain(|(_, w)| *w != drop);
    }
    let mut spans = Vec::new();
    for (k, what) in items {
        spans.push(Span::styled(format!(" {k}"), t.key()));
        spans.push(Span::raw(format!(" {what} ")));
    }
    let keys_w: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    Paragraph::new(Line::from(spans)).render(area, buf);
    let Some(text) = app.feedback() else {
        return;
    };
    let style = if app.flash.is_some() {
        t.accent()
    } else {
        t.warn()
    };
    let room = usize::from(area.width).saturating_sub(keys_w + 2);
    let n = text.chars().count();
    if room < 12 {
        return;
    }
    let shown: String = if n > room {
        let mut s: String = text.chars().take(room - 1).collect();
        s.push('…');
        s
    } else {
        text.to_string()
    };
    let x = area.right() - shown.chars().count() as u16;
    buf.set_string(x, area.y, shown, style);
}
