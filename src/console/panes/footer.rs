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
    // Attached, quitting leaves the run going.
    let quit = if app.attached.is_some() {
        "detach"
    } else {
        "quit"
    };
    if app.log_expanded {
        return vec![
            ("PgUp/PgDn".into(), "scroll"),
            (key(Action::ToggleLog), "back"),
            (key(Action::Quit), quit),
        ];
    }
    let mut out = vec![("←↑↓→".to_string(), "move"), ("Enter".into(), "details")];
    // Attached with --read-only: no control keys, and the footer says why.
    let control = !app.read_only();
    if !control {
        out.insert(0, ("read-only:".into(), "control keys off"));
    }
    match app.view.state {
        RunState::Running if control => out.push((key(Action::TogglePause), "pause")),
        RunState::Paused if control => out.push((key(Action::TogglePause), "resume")),
        _ => {}
    }
    if !app.view.state.is_terminal() && control {
        out.push((key(Action::ForceRefresh), "refresh"));
    }
    if !app.failed_in(app.selected()).is_empty() && control {
        out.push((key(Action::RetrySelected), "retry"));
    }
    if app.view.totals.count(SegmentState::Failed) > 0 {
        out.push((key(Action::NextFailed), "next failed"));
        if control {
            out.push((key(Action::RetryAllFailed), "retry all"));
        }
    }
    out.push((key(Action::ToggleLog), "log"));
    out.push((key(Action::ToggleHelp), "help"));
    out.push((key(Action::Quit), quit));
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
    if room < 12 {
        return;
    }
    let shown = super::fit::fit(text, room);
    let x = area.right() - shown.chars().count() as u16;
    buf.set_string(x, area.y, shown, style);
}

#[cfg(test)]
mod tests {
    use std::time::{Instant, SystemTime};

    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;

    use super::*;
    use crate::console::app::Attached;
    use crate::engine::events::{Direction, EngineEvent, RunInfo, SegmentView};

    fn footer(attached: Option<Attached>) -> String {
        let mut app = App::new(false);
        app.attached = attached;
        app.apply(
            EngineEvent::RunStarted(RunInfo {
                run_id: "r".into(),
                direction: Direction::Push,
                source: "s.csv".into(),
                target: "h".into(),
                total_records: 20,
                segments: (0..2).map(|i| SegmentView::pending(i, 10)).collect(),
                started_wall: SystemTime::now(),
                local_rejects: 0,
                api_style: String::new(),
            }),
            Instant::now(),
        );
        let area = Rect::new(0, 0, 110, 1);
        let mut buf = Buffer::empty(area);
        render(&mut buf, area, &app);
        (0..area.width)
            .map(|x| buf[(x, 0)].symbol().to_string())
            .collect::<String>()
            .trim_end()
            .to_string()
    }

    #[test]
    fn the_footer_says_detach_and_read_only_when_attached() {
        insta::assert_snapshot!("footer_own_run", footer(None));
        insta::assert_snapshot!(
            "footer_attached",
            footer(Some(Attached {
                read_only: false,
                lost: false
            }))
        );
        insta::assert_snapshot!(
            "footer_attached_read_only",
            footer(Some(Attached {
                read_only: true,
                lost: false
            }))
        );
    }
}
