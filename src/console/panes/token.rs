//! Token pane: a gauge and `mm:ss` countdown of the access token (amber under the margin,
//! red under a quarter of it), the time left on each clock (TTL, idle window, session limit,
//! refresh token; "unknown" until the manager knows or is told it), the next
//! planned refresh, the grant, the last result, the fingerprint, and a timeline of renewals.

use std::time::{Duration, Instant};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::theme::Theme;
use crate::auth::status::{BindingClock, TokenPhase, TokenStatus};
use crate::console::app::App;
use crate::view::RenewalKind;
use crate::view::throughput::clock;

/// The timeline shows renewals over this much time, newest on the right.
const TIMELINE: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Fine,
    /// Under the refresh margin.
    Amber,
    /// Under a quarter of the margin.
    Red,
}

pub fn level(remaining: Duration, margin: Duration) -> Level {
    if remaining < margin / 4 {
        Level::Red
    } else if remaining < margin {
        Level::Amber
    } else {
        Level::Fine
    }
}

fn level_style(t: &Theme, l: Level) -> Style {
    match l {
        Level::Fine => t.ok(),
        Level::Amber => t.warn().add_modifier(Modifier::BOLD),
        Level::Red => t.bad(),
    }
}

pub fn render(buf: &mut Buffer, area: Rect, app: &App, now: Instant) {
    let t = Theme { color: app.color };
    let s = &app.view.token;
    let block = Block::bordered().title(" token ").border_style(t.border());
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let w = usize::from(inner.width);
    let mut lines = vec![
        gauge_line(s, now, w, &t, app.view.state.is_terminal()),
        binding_line(s, &t),
    ];
    // Every clock, not only the binding one: a paused run dies by idle, a long one by session.
    lines.push(clock_line("ttl", s.ttl_deadline, now, s.margin, &t));
    lines.push(clock_line("idle", s.idle_deadline, now, s.margin, &t));
    lines.push(session_line(s, now, &t));
    lines.push(if s.has_refresh_token {
        clock_line("refresh tok", s.refresh_deadline, now, s.margin, &t)
    } else {
        Line::from(vec![label("refresh tok"), Span::styled("none", t.dim())])
    });
    if !app.credentials.is_empty() {
        lines.push(credentials_line(app, now, &t));
    }
    lines.push(Line::from(vec![
        label("next renew"),
        Span::raw(match s.next_refresh_at {
            // A finished run renews nothing (nor keeps the token alive).
            _ if app.view.state.is_terminal() => "none: the run ended".into(),
            Some(at) if at > now => format!("in {}", clock(at - now)),
            Some(_) => "due now".into(),
            None => "–".into(),
        }),
    ]));
    lines.push(Line::from(vec![
        label("grant"),
        Span::raw(s.grant.map_or("–".to_string(), |g| g.to_string())),
        Span::styled(
            // The fingerprint (never the token) tells renewals apart at a glance.
            s.fingerprint
                .as_ref()
                .map_or(String::new(), |f| format!(" {f}")),
            t.dim(),
        ),
    ]));
    // One row, so the last result below keeps its room: "expired" alone when narrow.
    let tally = |what: &str| {
        format!(
            "{} · sessions {} · {what} {}",
            s.renewals,
            s.sessions,
            expired_answers(s)
        )
    };
    let mut renewals = tally("expired answers");
    if LABEL_W + renewals.chars().count() > w {
        renewals = super::fit::fit(&tally("expired"), w.saturating_sub(LABEL_W));
    }
    lines.push(Line::from(vec![label("renewals"), Span::raw(renewals)]));
    lines.push(timeline(app, now, w, &t));
    // Last, so a long result or error can wrap into the pane's spare rows, under itself;
    // what does not fit ends at a word with "…".
    let (text, style) = match (&s.last_error, &s.last_result) {
        (Some(e), _) if s.phase == TokenPhase::Failed => (e.as_str(), t.bad()),
        (_, Some(r)) => (r.as_str(), Style::new()),
        _ => ("–", t.dim()),
    };
    let rows = usize::from(inner.height).saturating_sub(lines.len()).max(1);
    for (i, row) in super::fit::wrap_rows(text, w.saturating_sub(LABEL_W).max(1), rows)
        .into_iter()
        .enumerate()
    {
        let lead = if i == 0 {
            label("last")
        } else {
            Span::raw(" ".repeat(LABEL_W))
        };
        lines.push(Line::from(vec![lead, Span::styled(row, style)]));
    }
    Paragraph::new(lines)
        .wrap(ratatui::widgets::Wrap { trim: false })
        .render(inner, buf);
}

/// "0", or "5 (401 3/403 2/200 0)": by kind once there is something to tell apart.
fn expired_answers(s: &crate::auth::status::TokenStatus) -> String {
    let e = &s.expired_seen;
    let n = s.unauthorized_seen.max(e.total());
    if n == 0 {
        return "0".into();
    }
    format!(
        "{n} (401 {}/403 {}/200 {})",
        e.status_401, e.status_403, e.body_200
    )
}

/// Width of a row's label column.
const LABEL_W: usize = 12;

fn label(text: &str) -> Span<'static> {
    Span::styled(
        format!("{text:<LABEL_W$}"),
        Style::new().add_modifier(Modifier::DIM),
    )
}

fn gauge_line(
    s: &TokenStatus,
    now: Instant,
    width: usize,
    t: &Theme,
    run_over: bool,
) -> Line<'static> {
    let (Some((deadline, _)), TokenPhase::Valid | TokenPhase::Refreshing) =
        (s.effective_deadline(), s.phase)
    else {
        let text = match s.phase {
            TokenPhase::Failed => "no valid token",
            _ => "no token yet",
        };
        let style = if s.phase == TokenPhase::Failed {
            t.bad()
        } else {
            t.dim()
        };
        return Line::from(vec![label("access"), Span::styled(text, style)]);
    };
    let left = deadline.saturating_duration_since(now);
    if left.is_zero() && run_over {
        // Nobody keeps a token alive after the run: expiry is expected, not an alarm.
        return Line::from(vec![
            label("access"),
            Span::styled("expired after the run (not kept alive)", t.dim()),
        ]);
    }
    let lvl = level(left, s.margin);
    let style = level_style(t, lvl);
    let full = s
        .issued_at
        .map(|i| deadline.saturating_duration_since(i))
        .filter(|d| !d.is_zero())
        .unwrap_or(left.max(Duration::from_secs(1)));
    let text = format!(" {}", clock(left));
    // The level in words too, for NO_COLOR: `!` under the margin, `!!` under a quarter.
    let suffix = match (lvl, s.phase == TokenPhase::Refreshing) {
        (_, true) => " ↻",
        (Level::Fine, _) => "",
        (Level::Amber, _) => " !",
        (Level::Red, _) => " !!",
    };
    let bar_w = width.saturating_sub(8 + text.chars().count() + suffix.chars().count());
    let filled =
        ((left.as_secs_f64() / full.as_secs_f64()).clamp(0.0, 1.0) * bar_w as f64).round() as usize;
    Line::from(vec![
        Span::styled("access  ", Style::new().add_modifier(Modifier::BOLD)),
        Span::styled("█".repeat(filled), style),
        Span::styled("░".repeat(bar_w - filled), t.dim()),
        Span::styled(text, style.add_modifier(Modifier::BOLD)),
        Span::styled(suffix, style.add_modifier(Modifier::BOLD)),
    ])
}

fn binding_line(s: &TokenStatus, t: &Theme) -> Line<'static> {
    let which = match s.effective_deadline() {
        Some((_, BindingClock::Ttl)) => "ttl",
        Some((_, BindingClock::Idle)) => "idle window",
        Some((_, BindingClock::Session)) => "session limit",
        Some((_, BindingClock::Server)) => "server header",
        None => "–",
    };
    Line::from(vec![
        label("dies by"),
        Span::raw(which.to_string()),
        Span::styled(format!(" · margin {}", clock(s.margin)), t.dim()),
    ])
}

fn clock_line(
    name: &str,
    deadline: Option<Instant>,
    now: Instant,
    margin: Duration,
    t: &Theme,
) -> Line<'static> {
    match deadline {
        Some(d) => {
            let left = d.saturating_duration_since(now);
            Line::from(vec![
                label(name),
                Span::styled(clock(left), level_style(t, level(left, margin))),
            ])
        }
        None => Line::from(vec![label(name), Span::styled("unknown", t.dim())]),
    }
}

/// `cert 21 d · secret 10 d`: the long-lived credentials' ends, amber within their
/// warning (30 d for the certificate, 14 d for the secret), red once past.
fn credentials_line(app: &App, now: Instant, t: &Theme) -> Line<'static> {
    use crate::console::app::credentials::{CERTIFICATE_WARNING, SECRET_WARNING};
    let c = &app.credentials;
    let mut spans = vec![label("expires")];
    for (name, deadline, warn) in [
        ("cert", c.certificate, CERTIFICATE_WARNING),
        ("secret", c.secret, SECRET_WARNING),
    ] {
        let Some(d) = deadline else { continue };
        if spans.len() > 1 {
            spans.push(Span::styled(" · ", t.dim()));
        }
        let left = d.saturating_duration_since(now);
        let (text, style) = if left.is_zero() {
            (format!("{name} expired"), t.bad())
        } else if left < Duration::from_secs(86_400) {
            (
                format!("{name} in {} h", left.as_secs() / 3600),
                level_style(t, Level::Amber),
            )
        } else {
            let style = if left < warn {
                level_style(t, Level::Amber)
            } else {
                Style::new()
            };
            (format!("{name} in {} d", left.as_secs() / 86_400), style)
        };
        spans.push(Span::styled(text, style));
    }
    Line::from(spans)
}

fn session_line(s: &TokenStatus, now: Instant, t: &Theme) -> Line<'static> {
    let mut line = clock_line("session", s.session_deadline, now, s.margin, t);
    if let Some(start) = s.session_started_at {
        let age = now.saturating_duration_since(start);
        let style = if age < Duration::from_secs(5) && s.sessions > 1 {
            t.accent().add_modifier(Modifier::BOLD)
        } else {
            t.dim()
        };
        line.spans.push(Span::styled(
            format!(" · #{} for {}", s.sessions, clock(age)),
            style,
        ));
    }
    line
}

/// `─r───r──S───r─┤` over the last [`TIMELINE`] (2 min, now at the right):
/// r refresh, S new session, ✗ failure.
fn timeline(app: &App, now: Instant, width: usize, t: &Theme) -> Line<'static> {
    let name = "renewed     ";
    let cols = width.saturating_sub(name.len() + 1);
    if cols == 0 {
        return Line::default();
    }
    let mut marks: Vec<Option<RenewalKind>> = vec![None; cols];
    let per_col = TIMELINE.as_secs_f64() / cols as f64;
    for r in &app.view.renewals {
        let age = now.saturating_duration_since(r.at).as_secs_f64();
        if age >= TIMELINE.as_secs_f64() || r.at > now {
            continue;
        }
        let col = cols - 1 - ((age / per_col) as usize).min(cols - 1);
        // A new session or a failure outranks a refresh in the same column.
        if marks[col] != Some(RenewalKind::NewSession) && marks[col] != Some(RenewalKind::Failure) {
            marks[col] = Some(r.kind);
        }
    }
    let mut spans = vec![Span::styled(name, Style::new().add_modifier(Modifier::DIM))];
    for m in marks {
        spans.push(match m {
            None => Span::styled("─", t.dim()),
            Some(RenewalKind::Refresh) => Span::styled("r", t.ok()),
            Some(RenewalKind::NewSession) => {
                Span::styled("S", t.accent().add_modifier(Modifier::BOLD))
            }
            Some(RenewalKind::Failure) => Span::styled("✗", t.bad()),
        });
    }
    spans.push(Span::styled("┤", t.dim()));
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amber_under_the_margin_red_under_a_quarter() {
        let m = Duration::from_secs(20);
        assert_eq!(level(Duration::from_secs(21), m), Level::Fine);
        assert_eq!(level(Duration::from_secs(20), m), Level::Fine);
        assert_eq!(level(Duration::from_secs(19), m), Level::Amber);
        assert_eq!(level(Duration::from_secs(5), m), Level::Amber);
        assert_eq!(level(Duration::from_millis(4999), m), Level::Red);
        assert_eq!(level(Duration::ZERO, m), Level::Red);
    }
}
