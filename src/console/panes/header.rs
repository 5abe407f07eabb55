//! Header: what runs where, its state, elapsed, records/s, ETA, counts and throughput.

use std::time::Instant;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Sparkline, Widget};

use super::theme::Theme;
use crate::console::app::App;
use crate::engine::events::SegmentState;
use crate::view::throughput::clock;

pub fn render(buf: &mut Buffer, area: Rect, app: &App, now: Instant) {
    let t = Theme { color: app.color };
    let title = match &app.view.info {
        Some(i) => format!(" supsync · run {} ", i.run_id),
        None => " supsync · starting… ".to_string(),
    };
    let block = Block::bordered().title(title).border_style(t.border());
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let [l1, l2, l3] = Layout::vertical([Constraint::Length(1); 3]).areas(inner);
    // A long stall reason can outgrow even the shortest form: cut it at a word.
    Paragraph::new(super::fit::fit_line(
        run_line(app, now, &t, l1.width),
        usize::from(l1.width),
    ))
    .render(l1, buf);
    Paragraph::new(super::fit::fit_line(
        progress_line(app, &t),
        usize::from(l2.width),
    ))
    .render(l2, buf);
    counts_and_throughput(buf, l3, app, &t);
}

/// The run line at the first of its forms that fits `width`: where the records go is kept
/// longest (the operator must see which system is written); the clocks shorten first,
/// then the rate goes (the third line charts it), then the source's name.
fn run_line<'a>(app: &'a App, now: Instant, t: &Theme, width: u16) -> Line<'a> {
    let route = route_spans(app, t, true);
    let fits = |l: &Line| l.width() <= usize::from(width);
    for form in [Form::Full, Form::Short, Form::NoRate] {
        let mut line = Line::from(prefix_spans(app, now, t, form));
        line.spans.extend(route.iter().cloned());
        if fits(&line) {
            return line;
        }
    }
    let mut line = Line::from(prefix_spans(app, now, t, Form::NoRate));
    line.spans.extend(route_spans(app, t, false));
    line
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Full,
    Short,
    NoRate,
}

/// "push demo.csv → api.example.com (OData API)"; without the source: "push → api…".
fn route_spans<'a>(app: &'a App, t: &Theme, with_source: bool) -> Vec<Span<'a>> {
    let mut spans = Vec::new();
    if let Some(i) = &app.view.info {
        spans.push(Span::styled(
            i.direction.to_string(),
            t.accent().add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw(match with_source {
            true => format!(" {} → {}", short_place(&i.source), short_place(&i.target)),
            false => format!(" → {}", short_place(&i.target)),
        }));
        // Only an API other than supsync's own is worth the room.
        if let Some(style) = crate::engine::events::styled_api(&i.api_style) {
            spans.push(Span::styled(format!(" ({style} API)"), t.dim()));
        }
    }
    spans
}

fn prefix_spans<'a>(app: &App, now: Instant, t: &Theme, form: Form) -> Vec<Span<'a>> {
    let mut spans = vec![Span::styled(
        // The run state's one word, shouted: it is the first thing an operator looks for.
        // Once finished, the outcome's word (it tells rejects and failures apart).
        format!(
            "● {}",
            app.view
                .outcome()
                .map_or_else(|| app.view.state.to_string(), |o| o.word().to_string())
                .to_uppercase()
        ),
        t.run_state(app.view.state),
    )];
    let elapsed = clock(app.view.elapsed(now));
    spans.push(Span::raw(match form {
        Form::Full => format!("   elapsed {elapsed}"),
        Form::Short | Form::NoRate => format!("  {elapsed}"),
    }));
    if form != Form::NoRate {
        let rate = app.view.rate();
        spans.push(Span::raw(format!(
            " · {} rec/s",
            rate.map_or("–".to_string(), |r| format!("{r:.1}"))
        )));
    }
    // The same figure (and reason while stalled) as the headless line, `--json` and `ps`.
    let eta = app.view.eta_text(now);
    spans.push(Span::raw(match form {
        Form::Full => format!(" · ETA {eta}   "),
        Form::Short | Form::NoRate => format!(" · ETA {eta}  "),
    }));
    spans
}

fn progress_line<'a>(app: &App, t: &Theme) -> Line<'a> {
    let total = app.view.total_records();
    let done = app.view.processed().min(total);
    let pct = (done * 100).checked_div(total).unwrap_or(0);
    let tot = &app.view.totals;
    let mut spans = vec![
        Span::styled(
            format!("records {done}/{total} {pct}%"),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            " · segments {}/{}",
            tot.finished(),
            app.view.segments.len()
        )),
    ];
    let failed = tot.count(SegmentState::Failed);
    if failed > 0 {
        spans.push(Span::styled(format!(" · {failed} failed"), t.bad()));
    }
    let retrying = tot.count(SegmentState::Retrying);
    if retrying > 0 {
        spans.push(Span::styled(format!(" · {retrying} retrying"), t.warn()));
    }
    if tot.retried > 0 {
        spans.push(Span::raw(format!(" · {} retried", tot.retried)));
    }
    if let Some(p) = &app.view.pace {
        spans.push(Span::styled(format!(" · {}", p.line()), t.dim()));
    }
    Line::from(spans)
}

/// Counts on the left, the throughput sparkline in the rest of the line.
fn counts_and_throughput(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    let c = &app.view.totals.counts;
    let rejected = c.rejected;
    let mut spans = vec![Span::raw(format!(
        "created {} · updated {} · unchanged {} · ",
        c.created, c.updated, c.unchanged
    ))];
    // Only when there is any, like pulled: most runs' servers say what they did.
    if c.applied > 0 {
        spans.push(Span::raw(format!("applied {} · ", c.applied)));
    }
    if c.pulled > 0 {
        spans.push(Span::raw(format!("pulled {} · ", c.pulled)));
    }
    let rej_style = if rejected > 0 { t.warn() } else { t.dim() };
    spans.push(Span::styled(format!("rejected {rejected}"), rej_style));
    let line = Line::from(spans);
    let used = (line.width() as u16).min(area.width);
    Paragraph::new(line).render(area, buf);

    let data = app.view.throughput.sparkline();
    let peak = data.iter().copied().max().unwrap_or(0);
    let label = "   rec/s ";
    let tail = format!(" peak {peak}");
    let lw = label.chars().count() as u16;
    let tw = tail.chars().count() as u16;
    let room = area.width.saturating_sub(used);
    if room < lw + tw + 8 {
        return;
    }
    let x = area.x + used;
    buf.set_string(x, area.y, label, t.dim());
    let spark = Rect::new(x + lw, area.y, room - lw - tw, 1);
    // Newest samples on the right: keep the tail that fits.
    let shown = &data[data.len().saturating_sub(usize::from(spark.width))..];
    Sparkline::default()
        .data(shown)
        .style(t.accent())
        .render(spark, buf);
    buf.set_string(spark.right(), area.y, tail, t.dim());
}

/// A file as its name, a URL as its host: the header has one line for the route.
fn short_place(place: &str) -> &str {
    if let Some(rest) = place
        .strip_prefix("https://")
        .or_else(|| place.strip_prefix("http://"))
    {
        return rest.split('/').next().unwrap_or(rest);
    }
    std::path::Path::new(place)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(place)
}

#[cfg(test)]
mod tests {
    use super::short_place;

    #[test]
    fn places_shorten_to_file_name_or_host() {
        assert_eq!(
            short_place("/tmp/x/demo-suppliers.csv"),
            "demo-suppliers.csv"
        );
        assert_eq!(short_place("http://127.0.0.1:4000"), "127.0.0.1:4000");
        assert_eq!(
            short_place("https://qms.example.com/api/v1"),
            "qms.example.com"
        );
        assert_eq!(short_place("suppliers.csv"), "suppliers.csv");
        assert_eq!(short_place(""), "");
    }
}
