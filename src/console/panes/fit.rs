//! Text that must fit one row: cut at a word boundary and marked with an ellipsis, so a
//! cut line never ends in half a word that reads as a different one.

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

#[cfg(test)]
mod tests {
    use super::fit;

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
