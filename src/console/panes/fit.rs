//! Text that must fit one row: cut at a word boundary and marked with an ellipsis, so a
//! cut line never ends in half a word that reads as a different one.

use ratatui::text::{Line, Span};

/// `text` in at most `width` characters: whole when it fits, else its words up to the last
/// space that leaves room for `…` (mid-word only when the first word alone is too long).
pub fn fit(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let room = width - 1;
    let head: String = text.chars().take(room + 1).collect();
    // The last space within `room + 1` characters: the words before it fit with the `…`.
    let cut = match head.rfind(' ') {
        Some(i) if i > 0 => head[..i].trim_end_matches([' ', '·', ',', ':', ';']),
        _ => "",
    };
    let kept = if cut.is_empty() {
        head.chars().take(room).collect()
    } else {
        cut.to_string()
    };
    format!("{kept}…")
}

/// `line` in at most `width` columns: the span that crosses the edge is [`fit`] into what is
/// left of the row (so it ends at a word with `…`), the spans after it are dropped.
pub fn fit_line(line: Line<'_>, width: usize) -> Line<'_> {
    let mut left = width;
    let mut spans = Vec::new();
    for span in line.spans {
        let w = span.content.chars().count();
        if w <= left {
            left -= w;
            spans.push(span);
            continue;
        }
        if left > 0 {
            spans.push(Span::styled(fit(&span.content, left), span.style));
        }
        break;
    }
    Line::from(spans)
}

/// `text` word-wrapped to `width` in at most `rows` rows (at least one), the last row
/// [`fit`] with what is left when it all does not fit.
pub fn wrap_rows(text: &str, width: usize, rows: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut rest = text.split(' ');
    while let Some(word) = rest.next() {
        let (lw, ww) = (line.chars().count(), word.chars().count());
        if lw > 0 && lw + 1 + ww > width {
            if out.len() + 1 == rows.max(1) {
                // The last row: it takes everything left, cut to fit.
                let left: Vec<&str> = std::iter::once(word).chain(rest.by_ref()).collect();
                out.push(fit(&format!("{line} {}", left.join(" ")), width));
                return out;
            }
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if out.len() < rows.max(1) {
        out.push(fit(&line, width));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{fit, fit_line, wrap_rows};
    use ratatui::text::{Line, Span};

    #[test]
    fn a_line_of_spans_is_cut_in_the_span_that_crosses_the_edge() {
        let line = Line::from(vec![
            Span::raw("records 5/10 50%"),
            Span::raw(" · segments 1/2"),
            Span::raw(" · 8 in flight · lowered after 429"),
        ]);
        let cut = fit_line(line.clone(), 40);
        assert_eq!(cut.to_string(), "records 5/10 50% · segments 1/2 · 8 in…");
        assert_eq!(
            fit_line(line.clone(), 31).to_string(),
            "records 5/10 50% · segments 1/2"
        );
        assert_eq!(fit_line(line, 200).width(), 65);
    }

    #[test]
    fn wraps_into_the_rows_given_and_marks_what_is_left_out() {
        assert_eq!(wrap_rows("aa bb cc", 5, 3), ["aa bb", "cc"]);
        assert_eq!(wrap_rows("aa bb cc dd ee", 5, 2), ["aa bb", "cc…"]);
        assert_eq!(wrap_rows("", 5, 2), [""]);
        // A word longer than the row is cut, marked.
        assert_eq!(wrap_rows("abcdefgh", 5, 1), ["abcd…"]);
        let r = wrap_rows(
            "token issued by client_credentials (at connect), lifetime 15.0s",
            34,
            2,
        );
        assert_eq!(
            r,
            [
                "token issued by client_credentials",
                "(at connect), lifetime 15.0s"
            ]
        );
    }

    #[test]
    fn cuts_at_a_word_and_marks_the_cut() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(
            fit("stopping: waiting for in-flight", 20),
            "stopping: waiting…"
        );
        assert_eq!(
            fit("20000 segments · cell = 62, worst shown", 34),
            "20000 segments · cell = 62, worst…"
        );
        assert_eq!(
            fit("20000 segments · cell = 62, worst shown", 30),
            "20000 segments · cell = 62…"
        );
        // One long word: cut inside it, still marked.
        assert_eq!(fit("abcdefghij", 5), "abcd…");
        assert_eq!(fit("abc", 0), "");
        for w in 1..40 {
            let s = fit("a line with some words, and more · words", w);
            assert!(s.chars().count() <= w, "{w}: {s:?}");
        }
    }
}
