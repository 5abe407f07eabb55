//! Streaming record sources (CSV, JSON Lines) and pull sinks: files are read and written
//! without ever holding a whole one in memory.
//!
//! A push reads its file twice, both times streaming: [`scan`] makes one pass that hashes
//! the bytes, counts records and notes where every segment starts (byte offset and line);
//! [`read_segment`] later seeks to one segment and parses just its records. Nothing ever
//! holds the whole file. Segment `i` covers records `[i*size, (i+1)*size)` in file order,
//! invalid ones included (they are rejected locally and never sent), so a resumed run cuts
//! the file exactly as the first one did.
//!
//! Input rules (docs/API.md §4):
//! - CSV: a header row naming the seven columns in any order (case-insensitive, trimmed);
//!   extra columns are ignored and listed in [`SourceScan::warnings`]; missing ones are a
//!   file-level error naming them. `certifications` is split on `;`. UTF-8 with or without
//!   BOM, CRLF or LF, quoted fields (newlines inside quotes included). Blank lines skipped.
//! - JSON Lines: one object per line, blank lines skipped, unknown keys ignored.
//! - A row problem (wrong field count, bad JSON, invalid UTF-8, a row over
//!   [`MAX_RECORD_BYTES`], failed validation) makes that row [`SourceItem::Invalid`] with
//!   its line and a short reason. File problems are a [`SourceError`].
//! - "Not a text file at all" is judged from the first 64 KiB: a NUL byte or a UTF-16 BOM.
//!   A file whose first [`GARBAGE_ROWS`] rows (or every row, if fewer) all fail to parse is
//!   also refused as a whole rather than producing a reject per garbage line. Two common
//!   mix-ups get their own message: a CSV header separated by `;`/tab/`|`, and a `.json`
//!   file holding one JSON array instead of JSON Lines.

mod csv_rows;
mod format;
mod lines;
mod parse;
#[cfg(test)]
mod proptests;
mod rejects;
mod scan;
#[cfg(test)]
mod shard_tests;
mod sink;
mod write;

use std::path::PathBuf;

use crate::record::Supplier;

pub use format::{Format, detect_format};
pub use rejects::{RejectsWriter, read_rejects};
pub use scan::{read_segment, read_segment_shard, scan, scan_shard};
pub use sink::{PullSink, SegmentWrite, SinkSummary};
pub use write::{
    sync_dir_of, write_csv, write_csv_iter, write_file_atomic, write_jsonl, write_records,
};

/// One record may be at most this long (bytes of its CSV row or JSON line). Supplier
/// records are a few hundred bytes; the cap keeps memory bounded on hostile input.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// A row with more fields than this is rejected (and memory stays bounded).
pub const MAX_FIELDS: usize = 256;
/// This many unparseable rows at the start of a file mean it is not CSV/JSON Lines at all.
pub const GARBAGE_ROWS: u64 = 20;

/// Where one segment starts in the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SegmentSpan {
    pub index: usize,
    /// Byte offset of the segment's first record (from the start of the file, BOM included).
    pub byte_offset: u64,
    /// Line (1-based) where the segment's first record starts.
    pub first_line: u64,
    /// Records in the segment, invalid ones included.
    pub records: u64,
}

/// What one streaming pass learned about a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceScan {
    pub format: Format,
    /// Records in the file, invalid ones included.
    pub records: u64,
    /// Records that will be rejected locally (parse or validation failure).
    pub invalid: u64,
    /// SHA-256 of the file's bytes, lower-case hex.
    pub content_hash: String,
    pub segments: Vec<SegmentSpan>,
    /// Things worth telling the operator that do not stop the run (ignored CSV columns).
    pub warnings: Vec<String>,
}

/// One record of a segment, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceItem {
    Valid {
        line: u64,
        record: Supplier,
    },
    /// Never sent; goes to the rejects file.
    Invalid {
        line: u64,
        /// As found in the row (clipped), or empty when the row has none.
        supplier_id: String,
        /// Short: never echoes a huge field.
        reason: String,
    },
}

impl SourceItem {
    pub fn line(&self) -> u64 {
        match self {
            SourceItem::Valid { line, .. } | SourceItem::Invalid { line, .. } => *line,
        }
    }
}

/// A file-level problem: the run cannot use this file at all.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {}: {source}; check the path and that the file is readable", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is a directory; give the path of a CSV or JSON Lines file", path.display())]
    IsDirectory { path: PathBuf },
    #[error("{} is empty; it needs a header row and records (CSV) or one JSON object per line", path.display())]
    Empty { path: PathBuf },
    #[error("{} has no records{detail}; nothing to sync", path.display())]
    NoRecords { path: PathBuf, detail: String },
    #[error("{} is missing the column(s) {}; the header row has: {}", path.display(), missing.join(", "), found.join(", "))]
    MissingColumns {
        path: PathBuf,
        missing: Vec<String>,
        found: Vec<String>,
    },
    #[error("{} names the column {column:?} twice in its header row; keep one", path.display())]
    DuplicateColumn { path: PathBuf, column: String },
    #[error("cannot tell the format of {}: {detail}; name it .csv or .jsonl", path.display())]
    UnknownFormat { path: PathBuf, detail: String },
    #[error("{} is not a text file ({detail}); supsync reads UTF-8 CSV or JSON Lines", path.display())]
    NotText { path: PathBuf, detail: String },
    #[error("{} does not look like {format}: {detail}", path.display())]
    Garbage {
        path: PathBuf,
        format: Format,
        detail: String,
    },
    #[error("{} changed since the run started ({detail}); start a new run for the new file", path.display())]
    Changed { path: PathBuf, detail: String },
    #[error("segment size must be at least 1 (got {0})")]
    SegmentSize(usize),
    #[error("cannot write {}: {detail}", path.display())]
    Output { path: PathBuf, detail: String },
    #[error("cannot write {}: {source}; check free space and permissions", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Opens a file to read records from: a regular file only, never blocking on a FIFO (a
/// source is read twice, scan then segments, which only a file allows).
pub(crate) fn open_input(path: &std::path::Path) -> Result<std::fs::File, SourceError> {
    crate::safe_file::open_regular(path).map_err(|e| SourceError::read(path, e.into()))
}

impl SourceError {
    pub(crate) fn read(path: &std::path::Path, source: std::io::Error) -> Self {
        SourceError::Read {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn write(path: &std::path::Path, source: std::io::Error) -> Self {
        SourceError::Write {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Cuts a string for an error message or reject reason (a 10 MB field must not become a
/// 10 MB message), on a character boundary.
pub(crate) fn clip(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}
