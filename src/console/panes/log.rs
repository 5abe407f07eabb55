//! Refresh log: the run view's token events (time, then the message, wrapped under itself),
//! newest at the bottom, each with the time it happened (also when attached). Expanded
//! (`l`): tui-logger's widget on everything this process logs at info and up.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};
use tui_logger::{ExtLogRecord, LogFormatter, TuiLoggerWidget};

use super::theme::Theme;
use crate::console::app::App;

/// Width of `HH:MM:SS ` before each message.
const TIME_W: usize = 9;

pub fn render(buf: &mut Buffer, area: Rect, app: &App, expanded: bool) {
    let t = Theme { color: app.color };
    if !expanded {
        return refresh_log(buf, area, app, &t);
    }
    TuiLoggerWidget::default()
        .block(
            Block::bordered()
                .title(" log: everything · PgUp/PgDn scroll · l or Esc back ")
                .border_style(t.border()),
        )
        .formatter(Box::new(Compact {
            theme: t,
            with_target: true,
        }))
        .state(&app.full_log)
        .render(area, buf);
}

/// The run's token events, the newest that fit, oldest at the top.
fn refresh_log(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    let block = Block::bordered()
        .title(" refresh log (l: full log) ")
        .border_style(t.border());
    let inner = block.inner(area);
    block.render(area, buf);
    let (width, height) = (usize::from(inner.width), usize::from(inner.height));
    if width == 0 || height == 0 {
        return;
    }
    let mut lines: Vec<Line<'_>> = Vec::new();
    for l in app.view.refresh_log.iter().rev() {
        let (style, mark) = if l.problem {
            (t.warn(), "! ")
        } else {
            (Style::new(), "")
        };
        let time = chrono::DateTime::<chrono::Local>::from(l.wall)
            .format("%H:%M:%S ")
            .to_string();
        let text = format!("{mark}{}", l.text);
        lines.splice(0..0, timed(&time, &text, width, style, t));
        if lines.len() >= height {
            break;
        }
    }
    let skip = lines.len().saturating_sub(height);
    Paragraph::new(lines.split_off(skip)).render(inner, buf);
}

/// `text` wrapped to `width` under `time` (the first line's lead; the others indented).
fn timed<'a>(time: &str, text: &str, width: usize, style: Style, t: &Theme) -> Vec<Line<'a>> {
    wrap(text, width.saturating_sub(TIME_W).max(1))
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let lead = if i == 0 {
                time.to_string()
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
        timed(&time, &text, width, style, t)
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
