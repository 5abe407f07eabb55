//! Turning one CSV row or JSON line into a [`SourceItem`], and the CSV header rules.

use std::io::BufRead;
use std::path::Path;

use super::csv_rows::{CsvRows, RowInfo};
use super::format::UTF8_BOM;
use super::{MAX_FIELDS, MAX_RECORD_BYTES, SourceError, SourceItem, clip};
use crate::record::{Fields, Supplier, validate, validate_fields};

/// The CSV columns of docs/API.md §4, in the order supsync writes them.
pub const COLUMNS: [&str; 7] = [
    "supplier_id",
    "name",
    "country",
    "status",
    "contact_email",
    "certifications",
    "updated_at",
];

/// A row's outcome, and whether a failure was about shape (not CSV/JSON at all) rather
/// than content: only shape failures count towards "this file is garbage".
pub(crate) struct Parsed {
    pub item: SourceItem,
    pub unparseable: bool,
}

const ID_CLIP: usize = 64;
const REASON_CLIP: usize = 200;

fn invalid(line: u64, supplier_id: &str, reason: String, unparseable: bool) -> Parsed {
    Parsed {
        item: SourceItem::Invalid {
            line,
            supplier_id: clip(supplier_id, ID_CLIP),
            reason: clip(&reason, REASON_CLIP),
        },
        unparseable,
    }
}

fn checked(line: u64, record: Supplier) -> Parsed {
    match validate(&record) {
        Ok(()) => Parsed {
            item: SourceItem::Valid { line, record },
            unparseable: false,
        },
        Err(reason) => invalid(line, &record.supplier_id, reason, false),
    }
}

/// `column index in the file` for each of [`COLUMNS`], plus the file's field count.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub index: [usize; 7],
    pub width: usize,
    /// Columns present in the file that supsync does not use.
    pub ignored: Vec<String>,
}

/// Reads and checks the header row (the first row of the file).
pub(crate) fn read_header<R: BufRead>(
    path: &Path,
    rows: &mut CsvRows<R>,
) -> Result<Header, SourceError> {
    let info = rows
        .next_row()
        .map_err(|e| SourceError::read(path, e))?
        .ok_or_else(|| SourceError::Empty {
            path: path.to_path_buf(),
        })?;
    if info.oversized || info.too_many_fields {
        return Err(SourceError::Garbage {
            path: path.to_path_buf(),
            format: super::Format::Csv,
            detail: format!(
                "its header row is longer than {} KiB or has more than {MAX_FIELDS} columns",
                MAX_RECORD_BYTES / 1024
            ),
        });
    }
    let names: Vec<String> = (0..rows.len())
        .map(|i| {
            let raw = rows.field(i).unwrap_or_default();
            let raw = raw.strip_prefix(UTF8_BOM).unwrap_or(raw);
            String::from_utf8_lossy(raw).trim().to_ascii_lowercase()
        })
        .collect();
    if let [only] = names.as_slice()
        && let Some(sep) = [';', '\t', '|'].into_iter().find(|c| only.contains(*c))
    {
        return Err(SourceError::Garbage {
            path: path.to_path_buf(),
            format: super::Format::Csv,
            detail: format!(
                "its header row is separated by {sep:?}, not commas; export it as comma-separated CSV"
            ),
        });
    }
    let mut index = [usize::MAX; 7];
    let mut ignored = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match COLUMNS.iter().position(|c| c == name) {
            Some(c) if index[c] != usize::MAX => {
                return Err(SourceError::DuplicateColumn {
                    path: path.to_path_buf(),
                    column: name.clone(),
                });
            }
            Some(c) => index[c] = i,
            None => ignored.push(clip(name, 40)),
        }
    }
    let missing: Vec<String> = COLUMNS
        .iter()
        .zip(index)
        .filter(|(_, i)| *i == usize::MAX)
        .map(|(c, _)| c.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(SourceError::MissingColumns {
            path: path.to_path_buf(),
            missing,
            found: names
                .iter()
                .take(12)
                .map(|n| clip(n, 40))
                .chain((names.len() > 12).then(|| format!("… {} more", names.len() - 12)))
                .collect(),
        });
    }
    Ok(Header {
        index,
        width: names.len(),
        ignored,
    })
}

/// The current row of `rows` as a record.
pub(crate) fn csv_row<R: BufRead>(header: &Header, info: &RowInfo, rows: &CsvRows<R>) -> Parsed {
    let line = info.line;
    let [
        supplier_id,
        name,
        country,
        status,
        contact_email,
        certs,
        updated_at,
    ] = match csv_fields(header, info, rows) {
        Ok(f) => f,
        Err(bad) => return *bad,
    };
    let certifications = certs
        .split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect();
    checked(
        line,
        Supplier {
            supplier_id: supplier_id.into(),
            name: name.into(),
            country: country.into(),
            status: status.into(),
            contact_email: contact_email.into(),
            certifications,
            updated_at: updated_at.into(),
        },
    )
}

/// What the source scan needs of a row: why it is invalid, if it is, and whether it is
/// garbage rather than a bad record.
pub(crate) struct RowCheck {
    pub reason: Option<String>,
    pub unparseable: bool,
}

impl From<Parsed> for RowCheck {
    fn from(p: Parsed) -> Self {
        RowCheck {
            reason: match p.item {
                SourceItem::Valid { .. } => None,
                SourceItem::Invalid { reason, .. } => Some(reason),
            },
            unparseable: p.unparseable,
        }
    }
}

/// [`csv_row`]'s verdict without building the record: a valid row allocates nothing.
pub(crate) fn csv_verdict<R: BufRead>(
    header: &Header,
    info: &RowInfo,
    rows: &CsvRows<R>,
) -> RowCheck {
    match csv_fields(header, info, rows) {
        Ok(
            [
                supplier_id,
                name,
                country,
                status,
                contact_email,
                _,
                updated_at,
            ],
        ) => RowCheck {
            reason: validate_fields(&Fields {
                supplier_id,
                name,
                country,
                status,
                contact_email,
                updated_at,
            })
            .err()
            .map(|r| clip(&r, REASON_CLIP)),
            unparseable: false,
        },
        Err(bad) => (*bad).into(),
    }
}

/// The row's fields in [`COLUMNS`] order, borrowed from `rows`; or why the row is garbage.
fn csv_fields<'r, R: BufRead>(
    header: &Header,
    info: &RowInfo,
    rows: &'r CsvRows<R>,
) -> Result<[&'r str; 7], Box<Parsed>> {
    let line = info.line;
    if info.oversized {
        let reason = format!(
            "row is {} bytes; a record may be at most {} KiB",
            info.len,
            MAX_RECORD_BYTES / 1024
        );
        return Err(Box::new(invalid(line, "", reason, true)));
    }
    if info.too_many_fields {
        let reason = format!("row has more than {MAX_FIELDS} fields");
        return Err(Box::new(invalid(line, "", reason, true)));
    }
    let id_guess = || {
        rows.field(header.index[0])
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    if rows.len() != header.width {
        let reason = format!(
            "row has {} fields, the header has {}",
            rows.len(),
            header.width
        );
        return Err(Box::new(invalid(line, &id_guess(), reason, true)));
    }
    let mut values = [""; 7];
    for (c, value) in values.iter_mut().enumerate() {
        let raw = rows.field(header.index[c]).unwrap_or_default();
        match std::str::from_utf8(raw) {
            Ok(s) => *value = s,
            Err(_) => {
                let reason = format!("column {} is not valid UTF-8", COLUMNS[c]);
                return Err(Box::new(invalid(line, &id_guess(), reason, true)));
            }
        }
    }
    Ok(values)
}

/// One JSON line (terminator removed) as a record.
pub(crate) fn json_line(line: u64, text: &[u8], len: u64, oversized: bool) -> Parsed {
    if oversized {
        let reason = format!(
            "line is {len} bytes; a record may be at most {} KiB",
            MAX_RECORD_BYTES / 1024
        );
        return invalid(line, "", reason, true);
    }
    let text = if line == 1 {
        text.strip_prefix(UTF8_BOM).unwrap_or(text)
    } else {
        text
    };
    match serde_json::from_slice::<Supplier>(text) {
        Ok(record) => checked(line, record),
        Err(e) => {
            // Shape errors (not JSON, not an object) mean garbage; a JSON object with a
            // wrong or missing field is an invalid record.
            let value = serde_json::from_slice::<serde_json::Value>(text).ok();
            let unparseable = !matches!(value, Some(serde_json::Value::Object(_)));
            let id = value
                .as_ref()
                .and_then(|v| v.get("supplier_id"))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let reason = if unparseable {
                format!("not a JSON object: {e}")
            } else {
                format!("not a supplier record: {e}")
            };
            invalid(line, &id, reason, unparseable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"supplier_id":"SUP-1","name":"A","country":"DE","status":"approved","contact_email":"a@b.example","updated_at":"2026-11-02T09:14:00Z"}"#;

    #[test]
    fn json_line_outcomes() {
        let p = json_line(3, GOOD.as_bytes(), 0, false);
        assert!(matches!(p.item, SourceItem::Valid { line: 3, .. }));
        let p = json_line(4, b"{not json", 0, false);
        assert!(p.unparseable);
        let p = json_line(5, br#"{"supplier_id":"SUP-9","name":"x"}"#, 0, false);
        assert!(!p.unparseable);
        match p.item {
            SourceItem::Invalid {
                line,
                supplier_id,
                reason,
            } => {
                assert_eq!((line, supplier_id.as_str()), (5, "SUP-9"));
                assert!(reason.contains("missing field"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn huge_json_value_gives_short_reason() {
        let big = format!(
            r#"{{"supplier_id":"SUP-1","name":{}}}"#,
            "1".repeat(1_000_000)
        );
        let p = json_line(1, big.as_bytes(), 0, false);
        let SourceItem::Invalid { reason, .. } = p.item else {
            panic!("expected invalid")
        };
        assert!(reason.chars().count() <= REASON_CLIP + 1, "{reason}");
    }
}
