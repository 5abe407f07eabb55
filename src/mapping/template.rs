//! Path templates such as `/suppliers/{supplier_id}`: literal text and record fields in
//! braces. The client fills them from a record; the simulator matches a request path
//! against them.

use super::fields::{LOCAL_FIELDS, TEXT_FIELDS};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    text: String,
}

impl Template {
    /// A path starting with `/`; `{name}` must name a text field of the record.
    pub fn parse(text: &str) -> Result<Template, String> {
        if !text.starts_with('/') {
            return Err(format!("{text:?} must be a path starting with `/`"));
        }
        if text.contains(['?', '#']) || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "{text:?} must be a plain path (no query, fragment or white space)"
            ));
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if rest[..open].contains('}') {
                return Err(format!("{text:?} has a `}}` without its `{{`"));
            }
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("{text:?} has a `{{` without its `}}`"))?;
            let name = &after[..close];
            if !TEXT_FIELDS.contains(&name) {
                let known = if LOCAL_FIELDS.contains(&name) {
                    format!("`{name}` is a list, not text")
                } else {
                    format!("`{name}` is not a record field")
                };
                return Err(format!(
                    "{text:?} names {{{name}}}: {known}; use one of {}",
                    TEXT_FIELDS.join(", ")
                ));
            }
            if matches!(parts.last(), Some(Part::Field(_))) {
                return Err(format!("{text:?} has two fields with nothing between them"));
            }
            parts.push(Part::Field(name.to_string()));
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("{text:?} has a `}}` without its `{{`"));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template {
            parts,
            text: text.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the path names a record (one request per record).
    pub fn has_fields(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Field(_)))
    }

    /// The path for a record; `value(field)` gives a field's text. Values are
    /// percent-encoded so an id cannot add path segments or a query.
    pub fn render(&self, value: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field(f) => {
                    out.extend(url::form_urlencoded::byte_serialize(value(f).as_bytes()))
                }
            }
        }
        out
    }

    /// The field values when `path` fits this template (the simulator's routing).
    pub fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let mut rest = path;
        let mut got = Vec::new();
        let mut parts = self.parts.iter().peekable();
        while let Some(p) = parts.next() {
            match p {
                Part::Text(t) => rest = rest.strip_prefix(t.as_str())?,
                Part::Field(f) => {
                    // A value runs to the next literal text (or a `/`, or the end).
                    let end = match parts.peek() {
                        Some(Part::Text(t)) => rest.find(t.as_str())?,
                        _ => rest.find('/').unwrap_or(rest.len()),
                    };
                    let raw = &rest[..end];
                    if raw.is_empty() || raw.contains('/') {
                        return None;
                    }
                    let value = percent_decode(raw)?;
                    got.push((f.clone(), value));
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(got)
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut it = s.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hi = (it.next()? as char).to_digit(16)?;
            let lo = (it.next()? as char).to_digit(16)?;
            bytes.push(u8::try_from(hi * 16 + lo).ok()?);
        } else if b == b'+' {
            bytes.push(b' ');
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_render_match() {
        let t = Template::parse("/suppliers/{supplier_id}").unwrap();
        assert!(t.has_fields());
        let p = t.render(|_| "SUP-1/../x?y".into());
        assert_eq!(p, "/suppliers/SUP-1%2F..%2Fx%3Fy");
        assert_eq!(
            t.matches("/suppliers/SUP-7"),
            Some(vec![("supplier_id".into(), "SUP-7".into())])
        );
        assert_eq!(t.matches("/suppliers/SUP-7/x"), None);
        assert_eq!(t.matches("/suppliers/"), None);
        let o = Template::parse("/odata/Suppliers('{supplier_id}')").unwrap();
        assert_eq!(
            o.matches("/odata/Suppliers('SUP-3')"),
            Some(vec![("supplier_id".into(), "SUP-3".into())])
        );
        assert!(!Template::parse("/suppliers").unwrap().has_fields());
    }

    #[test]
    fn bad_templates_name_the_problem() {
        assert!(
            Template::parse("suppliers/{supplier_id}")
                .unwrap_err()
                .contains("starting with `/`")
        );
        let e = Template::parse("/s/{supplierId}").unwrap_err();
        assert!(e.contains("`supplierId` is not a record field"), "{e}");
        assert!(
            Template::parse("/s/{certifications}")
                .unwrap_err()
                .contains("a list")
        );
        assert!(Template::parse("/s/{supplier_id").is_err());
        assert!(Template::parse("/s/supplier_id}").is_err());
        assert!(Template::parse("/s?x={supplier_id}").is_err());
    }
}
