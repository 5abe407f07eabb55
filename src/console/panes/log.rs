//! Refresh log: tui-logger's widget on the token target with a compact formatter (time,
//! then the message, wrapped under itself); expanded (`l`), every target at info and up.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Widget};
use tui_logger::{ExtLogRecord, LogFormatter, TuiLoggerWidget};

use super::theme::Theme;
use crate::console::app::App;

/// Width of `HH:MM:SS ` before each message.
const TIME_W: usize = 9;

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
        .formatter(Box::new(Compact {
            theme: t,
            with_target: expanded,
        }))
        .state(state)
        .render(area, buf);
}

struct Compact {
    theme: Theme,
    with_target: bool,
}

impl LogFormatter for Compact {
    fn min_width(&self) -> u16 {
        (TIME_W + 8) as u16
    }

    fn format(&self, width: usize, evt: &ExtLogRecord) -> Vec<Line<'_>> {
        let t = &self.theme;
        // `log::Level` by name: the `log` crate is tui-logger's, not ours.
        let (style, mark) = match evt.level.as_str() {
            "ERROR" => (t.bad(), "✗ "),
            "WARN" => (t.warn(), "! "),
            "INFO" => (Style::new(), ""),
            _ => (t.dim(), ""),
        };
        let mut text = String::from(mark);
        if self.with_target {
            text.push_str(evt.target().trim_start_matches("supsync::"));
            text.push_str(": ");
        }
        text.push_str(&compact(evt.msg()));
        let time = evt.timestamp.strftime("%H:%M:%S ").to_string();
        wrap(&text, width.saturating_sub(TIME_W).max(1))
            .into_iter()
            .enumerate()
            .map(|(i, chunk)| {
                let lead = if i == 0 {
                    time.clone()
                } else {
                    " ".repeat(TIME_W)
                };
                Line::from(vec![
                    Span::styled(lead, t.dim()),
                    Span::styled(chunk, style),
                ])
            })
            .collect()
    }
}

/// The token audit's records carry `event`, `grant` and `token` fields beside the message
/// (tui-logger writes them as ` event: X grant: Y <message> token: #fp`); the pane has no
/// room for them (the token pane shows grant and fingerprint), so keep the message.
fn compact(msg: &str) -> String {
    let mut s = msg.trim_start();
    for key in ["event: ", "grant: "] {
        if let Some(rest) = s.strip_prefix(key) {
            s = rest
                .split_once(' ')
                .map_or("", |(_, after)| after)
                .trim_start();
        }
    }
    match s.rfind(" token: #") {
        Some(i) if !s[i + 9..].contains(' ') => s[..i].to_string(),
        _ => s.to_string(),
    }
}

/// Splits `text` into chunks of at most `width` characters, at spaces when it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let (lw, ww) = (line.chars().count(), word.chars().count());
        if lw > 0 && lw + 1 + ww > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > width {
            let head: String = line.chars().take(width).collect();
            line = line.chars().skip(width).collect();
            out.push(head);
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_fields_are_dropped_from_the_line() {
        let m = " event: Refreshed grant: refresh_token token refreshed (Proactive), lifetime 15.0s, in 2 ms token: #54e237d1";
        assert_eq!(
            compact(m),
            "token refreshed (Proactive), lifetime 15.0s, in 2 ms"
        );
        assert_eq!(compact(" plain message"), "plain message");
        assert_eq!(
            compact(" event: Warning grant: - keep-alive failed"),
            "keep-alive failed"
        );
        // A message that merely mentions a token keeps its words.
        assert_eq!(
            compact(" the token: #abc was revoked"),
            "the token: #abc was revoked"
        );
    }

    #[test]
    fn wrap_breaks_at_spaces_and_splits_long_words() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 3), [""]);
        assert!(wrap("x y", 1).iter().all(|l| l.chars().count() <= 1));
    }
}
