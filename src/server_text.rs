//! Text that came from a server (error descriptions, error bodies, 401 reasons, per-record
//! reject reasons) is data, never trusted: before it reaches a terminal, a log, the audit
//! file or `status`, terminal control and escape sequences are removed, every secret we
//! know of is replaced by a marker, and the length is capped.
//!
//! Why each step: an escape sequence in a 503 body could retitle the window, clear the
//! screen or write the clipboard (OSC 52); a server that echoes the request would put the
//! client secret or a bearer token on screen; a server that repeats the request makes
//! log lines thousands of characters long.

use std::collections::VecDeque;
use std::sync::Mutex;

use base64::Engine as _;

use crate::secret::fingerprint;

/// Server text is cut to this many characters in messages, with "…(N more)".
pub const MAX_CHARS: usize = 300;

/// Issued tokens remembered for redaction; older ones are long dead (and long unused).
const REMEMBERED_TOKENS: usize = 64;

/// A secret shorter than this is not searched for piecemeal at the edges of a text: a
/// two-character overlap would redact ordinary words.
const MIN_EDGE_OVERLAP: usize = 6;

/// The text as one line with control and escape sequences removed: CSI (`ESC [ … final`),
/// OSC (`ESC ] … BEL|ST`, OSC 52 included), DCS/SOS/PM/APC strings, any other `ESC x`, the
/// C1 controls (U+0080–U+009F, which 8-bit terminals read as the same sequences), the
/// other C0 controls, DEL, and bidirectional overrides (which reorder what is shown).
/// Newlines, carriage returns and tabs become one space each.
pub fn strip_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4 * MAX_CHARS));
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '\u{1b}' => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&mut chars),
                // `ESC x`: a two-character sequence (or a lone ESC at the end).
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            c if c.is_control() => {}
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Parameters and intermediates up to the final byte (0x40–0x7E).
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            return;
        }
    }
}

/// A control string up to BEL, `ESC \` or the 8-bit ST (U+009C).
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            _ => {}
        }
    }
}

/// At most `max` characters, then "…(N more)".
pub fn cap(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push_str(&format!("…({} more)", total - max));
    out
}

/// Stripped and capped, for server text when no secret can be in it (or none is known).
pub fn clean(text: &str) -> String {
    cap(strip_controls(text).trim(), MAX_CHARS)
}

/// The secrets of one client (its secret, the tokens it was issued, secret header values)
/// and the forms they take on the wire, to be cut out of server text wherever they appear.
#[derive(Default)]
pub struct Redactor {
    inner: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    /// Kept for the life of the process: client secret, its encodings, header values.
    pinned: Vec<(String, String)>,
    /// Issued tokens, newest last.
    tokens: VecDeque<(String, String)>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let k = self.lock();
        write!(
            f,
            "Redactor({} pinned, {} tokens)",
            k.pinned.len(),
            k.tokens.len()
        )
    }
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        // A poisoned lock only means a panic elsewhere; the lists are still whole.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A secret kept for the life of the process, e.g. an API-key header value.
    pub fn pin(&self, what: &str, secret: &str) {
        let mut k = self.lock();
        for form in wire_forms(secret) {
            if !form.is_empty() && !k.pinned.iter().any(|(s, _)| *s == form) {
                k.pinned.push((form, format!("[{what}]")));
            }
        }
    }

    /// The client secret, also as it travels: form-encoded in a body and inside the HTTP
    /// Basic credentials (RFC 6749 §2.3.1 form-encodes id and secret before base64).
    pub fn pin_client_secret(&self, client_id: &str, secret: &str) {
        self.pin("client secret", secret);
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let b64 = base64::engine::general_purpose::STANDARD;
        for pair in [
            format!("{}:{}", enc(client_id), enc(secret)),
            format!("{client_id}:{secret}"),
        ] {
            self.pin("client credentials", &b64.encode(pair));
        }
    }

    /// An issued access or refresh token.
    pub fn remember_token(&self, token: &str) {
        if token.is_empty() {
            return;
        }
        let mut k = self.lock();
        if k.tokens.iter().any(|(t, _)| t == token) {
            return;
        }
        let label = format!("[token {}]", fingerprint(token));
        for form in wire_forms(token) {
            k.tokens.push_back((form, label.clone()));
        }
        while k.tokens.len() > REMEMBERED_TOKENS {
            k.tokens.pop_front();
        }
    }

    /// Every known secret replaced by its marker (also a piece of one cut off at either end
    /// of the text, as a server that truncates its echo leaves it).
    pub fn redact(&self, text: &str) -> String {
        let k = self.lock();
        let mut out = text.to_string();
        for (secret, label) in k.pinned.iter().chain(k.tokens.iter()) {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), label);
            }
            out = redact_edges(&out, secret, label);
        }
        out
    }

    /// Server text made safe to show: stripped, redacted, capped at [`MAX_CHARS`].
    pub fn clean(&self, text: &str) -> String {
        self.clean_to(text, MAX_CHARS)
    }

    /// As [`Redactor::clean`] with another cap.
    pub fn clean_to(&self, text: &str, max: usize) -> String {
        // Redacted before stripping too: a secret holding a control character would no
        // longer match once stripped.
        let stripped = strip_controls(&self.redact(text));
        cap(self.redact(&stripped).trim(), max)
    }
}

/// The secret as sent: itself, and form- or percent-encoded when that differs.
fn wire_forms(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string()];
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    if form != secret {
        out.push(form.replace('+', "%20"));
        out.push(form);
    }
    out
}

/// A text that ends with the start of `secret` or starts with its end (at least
/// [`MIN_EDGE_OVERLAP`] characters, and more than half of a short secret) has that piece
/// replaced too.
fn redact_edges(text: &str, secret: &str, label: &str) -> String {
    let min = MIN_EDGE_OVERLAP.max(secret.len() / 2 + 1);
    if secret.len() < min + 1 {
        return text.to_string();
    }
    let mut out = text.to_string();
    // Longest first, so the whole piece goes.
    for len in (min..secret.len()).rev() {
        if let Some(head) = secret.get(..len)
            && out.ends_with(head)
        {
            out.truncate(out.len() - len);
            out.push_str(label);
            break;
        }
    }
    for len in (min..secret.len()).rev() {
        if let Some(tail) = secret.get(secret.len() - len..)
            && out.starts_with(tail)
        {
            out = format!("{label}{}", &out[len..]);
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_are_removed() {
        let hostile = "a\u{1b}]0;pwned title\u{7}b\u{1b}]52;c;ZXZpbA==\u{1b}\\c\u{1b}[2J\u{1b}[1;31md\
                       \u{9b}31me\u{9d}8;;http://x\u{9c}f\u{0}\u{8}g\u{7f}h\u{202e}i\nj\tk";
        assert_eq!(strip_controls(hostile), "abcdefghi j k");
        // A sequence cut off at the end swallows only itself.
        assert_eq!(strip_controls("ok\u{1b}[12"), "ok");
        assert_eq!(strip_controls("ok\u{1b}]52;c;AAAA"), "ok");
        assert_eq!(strip_controls("ok\u{1b}"), "ok");
        assert_eq!(strip_controls("Grüße — ✓"), "Grüße — ✓");
    }

    #[test]
    fn long_text_is_capped_with_the_rest_counted() {
        let long = "x".repeat(5600);
        let c = clean(&long);
        assert!(c.starts_with(&"x".repeat(MAX_CHARS)));
        assert!(c.ends_with("…(5300 more)"), "{c}");
        assert_eq!(clean("  short  "), "short");
        assert_eq!(cap("ab", 2), "ab");
        assert_eq!(cap("abc", 2), "ab…(1 more)");
    }

    #[test]
    fn secrets_are_redacted_in_every_wire_form() {
        let r = Redactor::new();
        r.pin_client_secret("supplier-sync", "s3cret+value/1");
        r.remember_token("eyJhbGciOi.eyJzdWIiOiJj.c2lnbmF0dXJl");
        let basic =
            base64::engine::general_purpose::STANDARD.encode("supplier-sync:s3cret%2Bvalue%2F1");
        let echo = format!(
            "bad request: Authorization: Basic {basic} body client_secret=s3cret%2Bvalue%2F1 \
             raw s3cret+value/1 bearer eyJhbGciOi.eyJzdWIiOiJj.c2lnbmF0dXJl"
        );
        let out = r.clean(&echo);
        assert!(!out.contains("s3cret"), "{out}");
        assert!(!out.contains(&basic), "{out}");
        assert!(!out.contains("c2lnbmF0dXJl"), "{out}");
        assert!(out.contains("[client secret]") && out.contains("[client credentials]"));
        assert!(out.contains("[token #"), "{out}");
    }

    #[test]
    fn a_secret_cut_off_at_either_end_is_redacted() {
        let r = Redactor::new();
        r.pin("client secret", "canary-secret-7f9c2e");
        assert_eq!(
            r.clean("echo: client_secret=canary-secret-7"),
            "echo: client_secret=[client secret]"
        );
        assert_eq!(
            r.clean("ry-secret-7f9c2e&grant_type=x"),
            "[client secret]&grant_type=x"
        );
        // Ordinary words that share a few letters with the secret stay.
        assert_eq!(r.clean("a canary"), "a canary");
    }

    #[test]
    fn an_escape_inside_a_secret_does_not_hide_it() {
        let r = Redactor::new();
        r.pin("client secret", "abcdefghijkl");
        let out = r.clean("x abcdef\u{1b}[0mghijkl y");
        assert_eq!(out, "x [client secret] y");
    }

    #[test]
    fn remembered_tokens_are_bounded() {
        let r = Redactor::new();
        for i in 0..(REMEMBERED_TOKENS * 3) {
            r.remember_token(&format!("token-number-{i:04}"));
        }
        assert!(r.lock().tokens.len() <= REMEMBERED_TOKENS);
        let last = format!("token-number-{:04}", REMEMBERED_TOKENS * 3 - 1);
        assert!(!r.clean(&last).contains(&last));
    }

    proptest::proptest! {
        #[test]
        fn cleaned_text_has_no_controls_and_respects_the_cap(text in "\\PC{0,400}|[\\x00-\\x7f\\u{80}-\\u{9f}]{0,400}") {
            let r = Redactor::new();
            r.pin("client secret", "canary-secret-xyz");
            let out = r.clean(&format!("{text}canary-secret-xyz{text}"));
            proptest::prop_assert!(!out.chars().any(|c| c.is_control()), "{out:?}");
            proptest::prop_assert!(!out.contains("canary-secret-xyz"));
            let (kept, _) = out.split_once("…(").unwrap_or((&out, ""));
            proptest::prop_assert!(kept.chars().count() <= MAX_CHARS);
        }
    }
}
