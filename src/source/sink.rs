//! Pull output that survives a crash and a resume without duplicating or losing a row.
//!
//! Each finished segment is written whole to `<run dir>/parts/<index>.part` (atomically);
//! a segment either has its part or it does not. [`PullSink::finish`] assembles the parts
//! in segment order into the output, atomically again. A resumed pull makes a new
//! `PullSink` on the same run dir and keeps every part already written.

use std::collections::HashSet;
use std::fs::{self, File};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::SourceError;
use super::format::Format;
use super::write::{encode, output_format, parent_dir, sync_dir, write_atomic, write_csv_header};
use crate::record::Supplier;

pub struct PullSink {
    parts: PathBuf,
    output: PathBuf,
    format: Format,
}

/// What [`PullSink::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkSummary {
    pub output: PathBuf,
    pub records: u64,
    /// Rows whose `supplier_id` an earlier segment already had (the server's data moved
    /// between pages); the first one is kept.
    pub duplicates_dropped: u64,
}

impl PullSink {
    /// Output format from `output`'s extension (`.jsonl`/`.ndjson`/`.json` or `.csv`).
    pub fn new(run_dir: &Path, output: &Path) -> Result<PullSink, SourceError> {
        let format = output_format(output)?;
        let dir = parent_dir(output);
        if !dir.is_dir() {
            return Err(SourceError::Output {
                path: output.to_path_buf(),
                detail: format!("the directory {} does not exist", dir.display()),
            });
        }
        let parts = run_dir.join("parts");
        fs::create_dir_all(&parts).map_err(|e| SourceError::write(&parts, e))?;
        // Temp files of writes a crash interrupted; the parts themselves are whole.
        if let Ok(entries) = fs::read_dir(&parts) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(".supsync-tmp") {
                    let _ = fs::remove_file(e.path()); // best effort: leftovers are harmless
                }
            }
        }
        Ok(PullSink {
            parts,
            output: output.to_path_buf(),
            format,
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn output(&self) -> &Path {
        &self.output
    }

    fn part_path(&self, index: usize) -> PathBuf {
        self.parts.join(format!("{index}.part"))
    }

    /// Writes one segment's records (replacing an earlier write of the same segment).
    pub fn write_segment(&self, index: usize, records: &[Supplier]) -> Result<(), SourceError> {
        write_atomic(&self.part_path(index), |out| {
            encode(self.format, records, out)
        })
    }

    pub fn has_segment(&self, index: usize) -> bool {
        self.part_path(index).is_file()
    }

    /// Assembles segments `0..segments` in order into the output. Every part must exist.
    pub fn finish(&self, segments: usize) -> Result<SinkSummary, SourceError> {
        let missing: Vec<usize> = (0..segments).filter(|&i| !self.has_segment(i)).collect();
        if !missing.is_empty() {
            let shown: Vec<String> = missing.iter().take(10).map(|i| i.to_string()).collect();
            return Err(SourceError::Output {
                path: self.output.clone(),
                detail: format!(
                    "{} segment(s) not pulled yet ({}{}); resume the run",
                    missing.len(),
                    shown.join(", "),
                    if missing.len() > 10 { ", …" } else { "" }
                ),
            });
        }
        let mut seen = SeenIds::default();
        let (mut records, mut dups) = (0u64, 0u64);
        write_atomic(&self.output, |out| {
            if self.format == Format::Csv {
                write_csv_header(out)?;
            }
            for i in 0..segments {
                let part = File::open(self.part_path(i))?;
                let (n, d) = copy_unique(self.format, BufReader::new(part), out, &mut seen)?;
                records += n;
                dups += d;
            }
            Ok(())
        })?;
        sync_dir(parent_dir(&self.output)).map_err(|e| SourceError::write(&self.output, e))?;
        Ok(SinkSummary {
            output: self.output.clone(),
            records,
            duplicates_dropped: dups,
        })
    }
}

/// Supplier ids already written, kept as 128-bit fingerprints: 16 bytes an id instead of
/// a `String`'s 40-odd, so assembling a million-row pull stays in a few tens of MB. Two
/// independently keyed SipHashes; a row wrongly taken for a duplicate needs a 128-bit
/// collision (about 1 in 10^26 for a million ids).
#[derive(Default)]
struct SeenIds {
    high: RandomState,
    low: RandomState,
    set: HashSet<u128>,
}

impl SeenIds {
    /// True when `id` was not seen before (and is now).
    fn insert(&mut self, id: &[u8]) -> bool {
        let fp = (u128::from(self.high.hash_one(id)) << 64) | u128::from(self.low.hash_one(id));
        self.set.insert(fp)
    }
}

/// Copies a part's rows, skipping rows whose supplier id was already written.
fn copy_unique(
    format: Format,
    part: impl BufRead,
    out: &mut dyn Write,
    seen: &mut SeenIds,
) -> io::Result<(u64, u64)> {
    let (mut n, mut dups) = (0, 0);
    match format {
        Format::JsonLines => {
            for line in part.lines() {
                let line = line?;
                let s: Supplier = serde_json::from_str(&line)?;
                if seen.insert(s.supplier_id.as_bytes()) {
                    out.write_all(line.as_bytes())?;
                    out.write_all(b"\n")?;
                    n += 1;
                } else {
                    dups += 1;
                }
            }
        }
        Format::Csv => {
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(part);
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(out);
            for row in rdr.byte_records() {
                let row = row.map_err(io::Error::other)?;
                if seen.insert(row.get(0).unwrap_or_default()) {
                    w.write_byte_record(&row).map_err(io::Error::other)?;
                    n += 1;
                } else {
                    dups += 1;
                }
            }
            w.flush()?;
        }
    }
    Ok((n, dups))
}
