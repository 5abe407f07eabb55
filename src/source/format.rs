//! Which format a file is in: from its extension, else from its first bytes.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::SourceError;

/// How much of the start of a file is looked at to sniff its format and spot binary data.
pub(crate) const SNIFF_BYTES: usize = 64 * 1024;
pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    #[serde(rename = "jsonl")]
    JsonLines,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Csv => "CSV",
            Format::JsonLines => "JSON Lines",
        })
    }
}

impl Format {
    /// `.csv` → CSV; `.jsonl`, `.ndjson`, `.json` → JSON Lines (case-insensitive).
    pub fn from_extension(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::JsonLines),
            _ => None,
        }
    }
}

/// Reads the first [`SNIFF_BYTES`] of a file. Directories and unreadable files are errors.
pub(crate) fn read_prefix(path: &Path) -> Result<Vec<u8>, SourceError> {
    let meta = std::fs::metadata(path).map_err(|e| SourceError::read(path, e))?;
    if meta.is_dir() {
        return Err(SourceError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    let file = super::open_input(path)?;
    let mut prefix = Vec::with_capacity(SNIFF_BYTES.min(meta.len() as usize));
    file.take(SNIFF_BYTES as u64)
        .read_to_end(&mut prefix)
        .map_err(|e| SourceError::read(path, e))?;
    Ok(prefix)
}

/// Refuses files that are not UTF-8 text: a UTF-16 BOM, or a NUL byte in the first 64 KiB
/// (no CSV or JSON Lines file of supplier records contains one).
pub(crate) fn check_text(path: &Path, prefix: &[u8]) -> Result<(), SourceError> {
    if prefix.starts_with(b"\xFF\xFE") || prefix.starts_with(b"\xFE\xFF") {
        return Err(SourceError::NotText {
            path: path.to_path_buf(),
            detail: "it is UTF-16; save it as UTF-8".into(),
        });
    }
    if let Some(at) = prefix.iter().position(|&b| b == 0) {
        return Err(SourceError::NotText {
            path: path.to_path_buf(),
            detail: format!("NUL byte at offset {at}, so it looks binary"),
        });
    }
    Ok(())
}

/// The format of `path`: its extension when it has a known one, else a sniff of its
/// first bytes (a first non-blank byte `{` means JSON Lines; a first line naming
/// `supplier_id` means CSV).
pub fn detect_format(path: &Path) -> Result<Format, SourceError> {
    if let Some(f) = Format::from_extension(path) {
        return Ok(f);
    }
    let prefix = read_prefix(path)?;
    check_text(path, &prefix)?;
    sniff(path, &prefix)
}

pub(crate) fn sniff(path: &Path, prefix: &[u8]) -> Result<Format, SourceError> {
    let body = prefix.strip_prefix(UTF8_BOM).unwrap_or(prefix);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => Err(SourceError::Empty {
            path: path.to_path_buf(),
        }),
        Some(b'{') => Ok(Format::JsonLines),
        Some(_) => {
            let line_end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
            let first_line = String::from_utf8_lossy(&body[..line_end]).to_ascii_lowercase();
            if first_line.contains("supplier_id") {
                Ok(Format::Csv)
            } else {
                Err(SourceError::UnknownFormat {
                    path: path.to_path_buf(),
                    detail: "it neither starts with a JSON object nor has a CSV header row naming supplier_id".into(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_wins_and_is_case_insensitive() {
        assert_eq!(
            Format::from_extension(Path::new("a/B.CSV")),
            Some(Format::Csv)
        );
        for e in ["x.jsonl", "x.ndjson", "x.json"] {
            assert_eq!(
                Format::from_extension(Path::new(e)),
                Some(Format::JsonLines)
            );
        }
        assert_eq!(Format::from_extension(Path::new("x.txt")), None);
        assert_eq!(Format::from_extension(Path::new("noext")), None);
    }

    #[test]
    fn sniffs_json_csv_and_refuses_others() {
        let p = Path::new("f");
        assert_eq!(
            sniff(p, b"\xEF\xBB\xBF\n  {\"a\":1}").unwrap(),
            Format::JsonLines
        );
        assert_eq!(sniff(p, b"name,Supplier_ID\nx,y").unwrap(), Format::Csv);
        assert!(matches!(
            sniff(p, b"hello world"),
            Err(SourceError::UnknownFormat { .. })
        ));
        assert!(matches!(sniff(p, b"  \n "), Err(SourceError::Empty { .. })));
    }

    #[test]
    fn binary_and_utf16_are_not_text() {
        let p = Path::new("f");
        let e = check_text(p, b"abc\0def").unwrap_err().to_string();
        assert!(e.contains("offset 3"), "{e}");
        let e = check_text(p, b"\xFF\xFEa\0").unwrap_err().to_string();
        assert!(e.contains("UTF-16"), "{e}");
        assert!(check_text(p, b"supplier_id\n").is_ok());
    }
}
