//! The one streaming pass over a source file ([`scan`]) and the seek-and-read of one
//! segment ([`read_segment`]).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::csv_rows::CsvRows;
use super::format::{self, Format, UTF8_BOM};
use super::lines::Lines;
use super::parse::{self, RowCheck};
use super::{GARBAGE_ROWS, SegmentSpan, SourceError, SourceItem, SourceScan};
use crate::run::Shard;

/// Hashes every byte that passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

const BUF_SIZE: usize = 256 * 1024;

/// One streaming pass: hashes the bytes, counts (and checks) the records, and notes where
/// each segment of `segment_size` records starts. Memory stays bounded by one record.
pub fn scan(path: &Path, segment_size: usize) -> Result<SourceScan, SourceError> {
    scan_shard(path, segment_size, None)
}

/// The record key a shard is chosen by: the supplier id as read from the row (empty for
/// a row too broken to have one; all of those land in one shard).
fn key(item: &SourceItem) -> &str {
    match item {
        SourceItem::Valid { record, .. } => &record.supplier_id,
        SourceItem::Invalid { supplier_id, .. } => supplier_id,
    }
}

/// [`scan`] of one shard's records only: segments hold the records whose key belongs to
/// `shard`, in file order. The hash and the garbage rule still cover the whole file.
pub fn scan_shard(
    path: &Path,
    segment_size: usize,
    shard: Option<Shard>,
) -> Result<SourceScan, SourceError> {
    if segment_size == 0 {
        return Err(SourceError::SegmentSize(0));
    }
    let prefix = format::read_prefix(path)?;
    format::check_text(path, &prefix)?;
    let body = prefix.strip_prefix(UTF8_BOM).unwrap_or(&prefix);
    if prefix.len() < format::SNIFF_BYTES && body.iter().all(u8::is_ascii_whitespace) {
        return Err(SourceError::Empty {
            path: path.to_path_buf(),
        });
    }
    let format = match Format::from_extension(path) {
        Some(f) => f,
        None => format::sniff(path, &prefix)?,
    };
    let bom = if prefix.starts_with(UTF8_BOM) { 3 } else { 0 };
    if format == Format::JsonLines && body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
    {
        return Err(SourceError::Garbage {
            path: path.to_path_buf(),
            format,
            detail: "it is a JSON array; supsync reads JSON Lines (one object per line), \
                     e.g. `jq -c '.[]' in.json > in.jsonl`"
                .into(),
        });
    }

    let file = super::open_input(path)?;
    let mut input = BufReader::with_capacity(
        BUF_SIZE,
        Hashing {
            inner: file,
            hasher: Sha256::new(),
        },
    );
    // The BOM goes through the hasher but not the parser.
    input
        .read_exact(&mut [0u8; 3][..bom as usize])
        .map_err(|e| SourceError::read(path, e))?;

    let mut tally = Tally::new(path, format, segment_size);
    let mut warnings = Vec::new();
    match format {
        Format::Csv => {
            let mut rows = CsvRows::new(&mut input, bom, 1);
            let header = parse::read_header(path, &mut rows)?;
            if !header.ignored.is_empty() {
                warnings.push(format!(
                    "{}: ignoring column(s) supsync does not use: {}",
                    path.display(),
                    header.ignored.join(", ")
                ));
            }
            while let Some(info) = rows.next_row().map_err(|e| SourceError::read(path, e))? {
                let (verdict, mine) = match shard {
                    None => (parse::csv_verdict(&header, &info, &rows), true),
                    Some(s) => {
                        let parsed = parse::csv_row(&header, &info, &rows);
                        let mine = s.holds(key(&parsed.item));
                        (parsed.into(), mine)
                    }
                };
                tally.add(info.byte_offset, info.line, verdict, mine)?;
            }
        }
        Format::JsonLines => {
            let mut lines = Lines::new(&mut input, bom, 1);
            while let Some(info) = lines
                .next_nonblank()
                .map_err(|e| SourceError::read(path, e))?
            {
                let parsed = parse::json_line(info.line, lines.text(), info.len, info.oversized);
                let mine = shard.is_none_or(|s| s.holds(key(&parsed.item)));
                tally.add(info.byte_offset, info.line, parsed.into(), mine)?;
            }
        }
    }
    // Read to the very end so the hash covers the whole file whatever the parser did.
    io::copy(&mut input, &mut io::sink()).map_err(|e| SourceError::read(path, e))?;
    let content_hash = hex::encode(input.into_inner().hasher.finalize());
    tally.finish(content_hash, warnings)
}

/// Counts records, cuts segments and applies the garbage rule during a scan.
struct Tally<'a> {
    path: &'a Path,
    format: Format,
    segment_size: usize,
    /// Records of the whole file; `records` counts only the shard's.
    rows: u64,
    records: u64,
    invalid: u64,
    /// Unparseable rows before the first parseable one, and the first such reason.
    leading_garbage: u64,
    first_garbage: Option<(u64, String)>,
    any_parseable: bool,
    segments: Vec<SegmentSpan>,
}

impl<'a> Tally<'a> {
    fn new(path: &'a Path, format: Format, segment_size: usize) -> Self {
        Self {
            path,
            format,
            segment_size,
            rows: 0,
            records: 0,
            invalid: 0,
            leading_garbage: 0,
            first_garbage: None,
            any_parseable: false,
            segments: Vec::new(),
        }
    }

    /// `mine`: whether the record belongs to the shard being scanned (always, unsharded).
    fn add(
        &mut self,
        byte_offset: u64,
        line: u64,
        verdict: RowCheck,
        mine: bool,
    ) -> Result<(), SourceError> {
        self.rows += 1;
        // The garbage rule judges the file, whichever shard its first rows fall in.
        if verdict.unparseable && !self.any_parseable && verdict.reason.is_some() {
            self.leading_garbage += 1;
            self.first_garbage
                .get_or_insert((line, verdict.reason.clone().unwrap_or_default()));
            if self.leading_garbage >= GARBAGE_ROWS {
                return Err(self.garbage());
            }
        }
        if !verdict.unparseable {
            self.any_parseable = true;
        }
        if !mine {
            return Ok(());
        }
        if self.records.is_multiple_of(self.segment_size as u64) {
            self.segments.push(SegmentSpan {
                index: self.segments.len(),
                byte_offset,
                first_line: line,
                records: 0,
            });
        }
        if let Some(last) = self.segments.last_mut() {
            last.records += 1;
        }
        self.records += 1;
        if verdict.reason.is_some() {
            self.invalid += 1;
        }
        Ok(())
    }

    fn garbage(&self) -> SourceError {
        let (line, reason) = self.first_garbage.clone().unwrap_or_default();
        SourceError::Garbage {
            path: self.path.to_path_buf(),
            format: self.format,
            detail: format!(
                "its first {} row(s) fail to parse (line {line}: {reason})",
                self.leading_garbage
            ),
        }
    }

    fn finish(
        self,
        content_hash: String,
        warnings: Vec<String>,
    ) -> Result<SourceScan, SourceError> {
        if self.rows == 0 {
            let detail = match self.format {
                Format::Csv => " (only a header row)",
                Format::JsonLines => " (only blank lines)",
            };
            return Err(SourceError::NoRecords {
                path: self.path.to_path_buf(),
                detail: detail.into(),
            });
        }
        if !self.any_parseable {
            return Err(self.garbage());
        }
        Ok(SourceScan {
            format: self.format,
            records: self.records,
            invalid: self.invalid,
            content_hash,
            segments: self.segments,
            warnings,
        })
    }
}

/// The records of one segment, in file order: seeks to `span.byte_offset` and parses
/// `span.records` records. Fewer records than that means the file changed since the scan.
pub fn read_segment(
    path: &Path,
    format: Format,
    span: &SegmentSpan,
) -> Result<Vec<SourceItem>, SourceError> {
    read_segment_shard(path, format, span, None)
}

/// [`read_segment`] of a segment cut by [`scan_shard`]: rows of other shards are skipped.
pub fn read_segment_shard(
    path: &Path,
    format: Format,
    span: &SegmentSpan,
    shard: Option<Shard>,
) -> Result<Vec<SourceItem>, SourceError> {
    let mine = |item: &SourceItem| shard.is_none_or(|s| s.holds(key(item)));
    let open = || -> Result<BufReader<File>, SourceError> {
        let file = super::open_input(path)?;
        Ok(BufReader::with_capacity(64 * 1024, file))
    };
    let seek_to_span = |mut input: BufReader<File>| -> Result<BufReader<File>, SourceError> {
        input
            .seek(SeekFrom::Start(span.byte_offset))
            .map_err(|e| SourceError::read(path, e))?;
        Ok(input)
    };
    let mut items = Vec::with_capacity(span.records.min(100_000) as usize);
    match format {
        Format::Csv => {
            let mut input = open()?;
            let bom = skip_bom(path, &mut input)?;
            let mut rows = CsvRows::new(input, bom, 1);
            let header = parse::read_header(path, &mut rows)?;
            rows.seek_to(span.byte_offset, span.first_line)
                .map_err(|e| SourceError::read(path, e))?;
            while (items.len() as u64) < span.records {
                let Some(info) = rows.next_row().map_err(|e| SourceError::read(path, e))? else {
                    break;
                };
                let item = parse::csv_row(&header, &info, &rows).item;
                if mine(&item) {
                    items.push(item);
                }
            }
        }
        Format::JsonLines => {
            let mut lines = Lines::new(seek_to_span(open()?)?, span.byte_offset, span.first_line);
            while (items.len() as u64) < span.records {
                let Some(info) = lines
                    .next_nonblank()
                    .map_err(|e| SourceError::read(path, e))?
                else {
                    break;
                };
                let parsed = parse::json_line(info.line, lines.text(), info.len, info.oversized);
                if mine(&parsed.item) {
                    items.push(parsed.item);
                }
            }
        }
    }
    if (items.len() as u64) < span.records {
        return Err(SourceError::Changed {
            path: path.to_path_buf(),
            detail: format!(
                "segment {} should hold {} records from line {}, found {}",
                span.index,
                span.records,
                span.first_line,
                items.len()
            ),
        });
    }
    Ok(items)
}

/// Skips a UTF-8 BOM at the start of `input`; returns how many bytes were skipped.
fn skip_bom<R: BufRead>(path: &Path, input: &mut R) -> Result<u64, SourceError> {
    let head = input.fill_buf().map_err(|e| SourceError::read(path, e))?;
    if head.starts_with(UTF8_BOM) {
        input.consume(3);
        Ok(3)
    } else {
        Ok(0)
    }
}
