//! The `Link` header of RFC 8288 (§3), read strictly: `<uri>; rel="next"` values separated
//! by commas, parameters as tokens or quoted strings. No kept crate does just this, and a
//! lenient split on commas breaks on URIs and quoted values that contain them.

/// One link-value: its target (as written, possibly relative) and its relation types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub target: String,
    pub rels: Vec<String>,
}

/// The target of the first link whose `rel` holds `next` (case-insensitive); `Ok(None)`
/// when there is none.
pub fn next_target(header: &str) -> Result<Option<String>, String> {
    Ok(parse(header)?
        .into_iter()
        .find(|l| l.rels.iter().any(|r| r.eq_ignore_ascii_case("next")))
        .map(|l| l.target))
}

pub fn parse(header: &str) -> Result<Vec<Link>, String> {
    let mut out = Vec::new();
    let mut s = header.trim_start();
    while !s.is_empty() {
        let rest = s.strip_prefix('<').ok_or("a link must start with `<`")?;
        let end = rest.find('>').ok_or("a link's `<` has no closing `>`")?;
        let target = rest[..end].trim().to_string();
        if target.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("a link target holds white space or control characters".into());
        }
        s = rest[end + 1..].trim_start();
        let mut rels = Vec::new();
        while let Some(after) = s.strip_prefix(';') {
            s = after.trim_start();
            let name_end = s.find(|c: char| !is_token_char(c)).unwrap_or(s.len());
            if name_end == 0 {
                return Err("a link parameter has no name".into());
            }
            let name = s[..name_end].to_ascii_lowercase();
            s = s[name_end..].trim_start();
            let mut value = String::new();
            if let Some(after) = s.strip_prefix('=') {
                s = after.trim_start();
                if let Some(q) = s.strip_prefix('"') {
                    let (v, used) = quoted(q)?;
                    value = v;
                    s = q[used..].trim_start();
                } else {
                    let end = s.find(|c: char| !is_token_char(c)).unwrap_or(s.len());
                    if end == 0 {
                        return Err(format!("link parameter `{name}` has an empty value"));
                    }
                    value = s[..end].to_string();
                    s = s[end..].trim_start();
                }
            }
            // RFC 8288 §3.3: only the first `rel` of a link counts.
            if name == "rel" && rels.is_empty() {
                rels = value.split_ascii_whitespace().map(String::from).collect();
            }
        }
        out.push(Link { target, rels });
        match s.strip_prefix(',') {
            Some(after) => s = after.trim_start(),
            None if s.is_empty() => {}
            None => return Err("links must be separated by commas".into()),
        }
    }
    Ok(out)
}

/// A quoted-string's content (after the opening quote) and the bytes it used, closing
/// quote included.
fn quoted(s: &str) -> Result<(String, usize), String> {
    let mut v = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, n)) => v.push(n),
                None => break,
            },
            '"' => return Ok((v, i + 1)),
            c if c.is_control() => {
                return Err("a quoted link parameter holds a control character".into());
            }
            c => v.push(c),
        }
    }
    Err("a quoted link parameter is not closed".into())
}

/// RFC 9110 `tchar`.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_style_header() {
        let h = r#"<https://api.example.com/s?page=3&per_page=50>; rel="next", <https://api.example.com/s?page=9>; rel="last""#;
        assert_eq!(
            next_target(h).unwrap().as_deref(),
            Some("https://api.example.com/s?page=3&per_page=50")
        );
    }

    #[test]
    fn commas_and_semicolons_inside_uris_and_quotes() {
        let h = r#"</a?x=1,2;y>; title="a, b; c"; rel="prev", </b?z=,>; rel="start NEXT""#;
        let links = parse(h).unwrap();
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].target, "/a?x=1,2;y");
        assert_eq!(links[0].rels, vec!["prev"]);
        assert_eq!(next_target(h).unwrap().as_deref(), Some("/b?z=,"));
    }

    #[test]
    fn unquoted_rel_and_only_first_rel_counts() {
        assert_eq!(
            next_target("</p2>;rel=next").unwrap().as_deref(),
            Some("/p2")
        );
        assert_eq!(
            next_target(r#"</p2>; rel="prev"; rel="next""#).unwrap(),
            None
        );
        assert_eq!(next_target("").unwrap(), None);
    }

    #[test]
    fn malformed_headers_are_errors() {
        assert!(parse("https://x/p2; rel=next").is_err());
        assert!(parse("<https://x/p2; rel=next").is_err());
        assert!(parse(r#"</p2>; rel="next"#).is_err());
        assert!(parse("</p2> </p3>").is_err());
        assert!(parse("</p2>; =x").is_err());
        assert!(parse("</p 2>; rel=next").is_err());
    }
}
