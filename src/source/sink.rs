//! Pull output that survives a crash and a resume without duplicating or losing a row.
//!
//! Each finished segment is written whole to `<run dir>/parts/<index>.part` (atomically);
//! a segment either has its part or it does not. [`PullSink::finish`] assembles the parts
//! in segment order into the output, atomically again. A resumed pull makes a new
//! `PullSink` on the same run dir and keeps every part already written.
//!
//! Records are de-duplicated by `supplier_id` as they are written: a segment's part holds
//! only ids no written part holds, and [`PullSink::write_segment`] says which it dropped,
//! so a segment's count is what it added to the output. The ids written are kept as
//! 128-bit fingerprints in a hash set: 17 bytes a slot (fingerprint and control byte) at
//! 1–2 slots an id, ~36 MB for a million-record pull (2^21 slots). A resumed pull rebuilds the set
//! from the parts of the segments its journal says are done ([`PullSink::remember`]);
//! a part written by a process killed before it journaled the segment is not counted,
//! and is replaced when that segment runs again.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::SourceError;
use super::format::Format;
use super::rejects::read_rejects;
use super::write::{encode, output_format, parent_dir, sync_dir, write_atomic, write_csv_header};
use crate::record::Supplier;
use crate::run::RejectOrigin;

pub struct PullSink {
    parts: PathBuf,
    output: PathBuf,
    format: Format,
    keys: Fingerprints,
    written: Mutex<Written>,
}

/// The ids in the parts that count, those of records rejected as misfits, and what each
/// segment this process wrote added to the latter.
#[derive(Default)]
struct Written {
    ids: HashSet<u128>,
    misfits: HashSet<u128>,
    segments: HashMap<usize, Vec<u128>>,
}

/// What [`PullSink::write_segment`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentWrite {
    /// Records written to the segment's part.
    pub records: u64,
    /// Indexes (into the records given) of those dropped: their id was already written.
    pub repeats: Vec<usize>,
    /// Indexes (into the misfit ids given) of misfits already rejected before.
    pub misfit_repeats: Vec<usize>,
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
        crate::safe_file::create_private_dir_all(&parts)
            .map_err(|e| SourceError::write(&parts, e))?;
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
            keys: Fingerprints::default(),
            written: Mutex::new(Written::default()),
        })
    }

    fn written(&self) -> MutexGuard<'_, Written> {
        // The set is only ever changed whole under the lock; a panic elsewhere leaves it
        // as it was.
        self.written.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the ids of the parts of `segments` (those the journal says are done) as
    /// written; returns how many ids that is.
    /// The misfits those segments rejected count as met too (from the rejects file).
    pub fn remember(&self, segments: impl IntoIterator<Item = usize>) -> Result<u64, SourceError> {
        let segments: HashSet<usize> = segments.into_iter().collect();
        let mut w = self.written();
        if let Some(run_dir) = self.parts.parent() {
            for r in read_rejects(run_dir)? {
                if r.origin == RejectOrigin::Mapping
                    && !r.supplier_id.is_empty()
                    && segments.contains(&r.segment)
                {
                    w.misfits.insert(self.keys.of(r.supplier_id.as_bytes()));
                }
            }
        }
        for &i in &segments {
            if !self.has_segment(i) {
                continue;
            }
            self.each_row(i, |id, _| {
                w.ids.insert(self.keys.of(id));
                Ok(())
            })
            .map_err(|e| SourceError::read(&self.part_path(i), e))?;
        }
        Ok(w.ids.len() as u64)
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

    /// Writes one segment's records (replacing an earlier write of the same segment),
    /// leaving out those whose id a written part (this one included) already holds.
    pub fn write_segment(
        &self,
        index: usize,
        records: &[Supplier],
    ) -> Result<SegmentWrite, SourceError> {
        self.write_segment_with(index, records, &[])
    }

    /// [`write_segment`](Self::write_segment), and tells which of `misfit_ids` (records of
    /// the segment that did not fit the mapping, to be rejected) were met before: a server
    /// repeating a page repeats its misfits too, and each is rejected once.
    pub fn write_segment_with(
        &self,
        index: usize,
        records: &[Supplier],
        misfit_ids: &[&str],
    ) -> Result<SegmentWrite, SourceError> {
        // One writer at a time: deciding what is new and writing it is one step.
        let mut w = self.written();
        // Written before by this process (the segment ran again): what it took is free.
        let before = w.segments.remove(&index);
        for k in before.iter().flatten() {
            w.misfits.remove(k);
        }
        if before.is_some() && self.has_segment(index) {
            let mut old = Vec::new();
            self.each_row(index, |id, _| {
                old.push(self.keys.of(id));
                Ok(())
            })
            .map_err(|e| SourceError::read(&self.part_path(index), e))?;
            for k in old {
                w.ids.remove(&k);
            }
        }
        let mut misfit_repeats = Vec::new();
        let mut new_misfits = Vec::new();
        for (i, id) in misfit_ids.iter().enumerate() {
            if id.is_empty() {
                continue;
            }
            let k = self.keys.of(id.as_bytes());
            if w.misfits.insert(k) {
                new_misfits.push(k);
            } else {
                misfit_repeats.push(i);
            }
        }
        let mut added = Vec::new();
        let mut repeats = Vec::new();
        let mut kept = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            let k = self.keys.of(r.supplier_id.as_bytes());
            if w.ids.insert(k) {
                added.push(k);
                kept.push(r);
            } else {
                repeats.push(i);
            }
        }
        let wrote = write_atomic(&self.part_path(index), |out| {
            encode(self.format, kept.iter().copied(), out)
        });
        if let Err(e) = wrote {
            for k in added {
                w.ids.remove(&k);
            }
            for k in new_misfits {
                w.misfits.remove(&k);
            }
            return Err(e);
        }
        w.segments.insert(index, new_misfits);
        Ok(SegmentWrite {
            records: kept.len() as u64,
            repeats,
            misfit_repeats,
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
        // Pass 1: a fingerprint of every row's id, sorted, gives the ids that occur more
        // than once (rows that shifted between pages). 16 bytes a row, no hash table.
        let keys = Fingerprints::default();
        let mut all = Vec::new();
        for i in 0..segments {
            self.each_row(i, |id, _| {
                all.push(keys.of(id));
                Ok(())
            })
            .map_err(|e| SourceError::write(&self.output, e))?;
        }
        all.sort_unstable();
        let repeated: HashSet<u128> = all
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0])
            .collect();
        drop(all);
        // Pass 2: copy in segment order; a repeated id is written the first time only.
        let mut written = HashSet::new();
        let (mut records, mut dups) = (0u64, 0u64);
        let mut keep = |id: &[u8]| {
            let fp = keys.of(id);
            let first = !repeated.contains(&fp) || written.insert(fp);
            if first {
                records += 1;
            } else {
                dups += 1;
            }
            first
        };
        write_atomic(&self.output, |out| {
            if self.format == Format::Csv {
                write_csv_header(out)?;
            }
            for i in 0..segments {
                match self.format {
                    Format::JsonLines => self.each_row(i, |id, row| match row {
                        Row::Line(line) if keep(id) => {
                            out.write_all(line.as_bytes())?;
                            out.write_all(b"\n")
                        }
                        _ => Ok(()),
                    })?,
                    Format::Csv => {
                        let mut csv = csv::WriterBuilder::new()
                            .has_headers(false)
                            .from_writer(&mut *out);
                        self.each_row(i, |id, row| match row {
                            Row::Csv(r) if keep(id) => {
                                csv.write_byte_record(r).map_err(io::Error::other)
                            }
                            _ => Ok(()),
                        })?;
                        csv.flush()?;
                    }
                }
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

/// 128-bit fingerprints of supplier ids (two independently keyed SipHashes): 16 bytes an
/// id, so assembling a million-row pull needs ~16 MB. Two different ids taken for one
/// needs a 128-bit collision (about 1 in 10^26 for a million ids).
#[derive(Default)]
struct Fingerprints {
    high: RandomState,
    low: RandomState,
}

impl Fingerprints {
    fn of(&self, id: &[u8]) -> u128 {
        (u128::from(self.high.hash_one(id)) << 64) | u128::from(self.low.hash_one(id))
    }
}

/// One row of a part, as it is copied to the output.
enum Row<'a> {
    Line(&'a str),
    Csv(&'a csv::ByteRecord),
}

impl PullSink {
    /// Calls `f(supplier_id, row)` for every row of segment `index`'s part, in order.
    fn each_row(
        &self,
        index: usize,
        mut f: impl FnMut(&[u8], Row<'_>) -> io::Result<()>,
    ) -> io::Result<()> {
        #[derive(serde::Deserialize)]
        struct IdOnly<'a> {
            #[serde(borrow)]
            supplier_id: std::borrow::Cow<'a, str>,
        }
        let part = BufReader::new(crate::safe_file::open_regular(&self.part_path(index))?);
        match self.format {
            Format::JsonLines => {
                for line in part.lines() {
                    let line = line?;
                    let row: IdOnly = serde_json::from_str(&line)?;
                    f(row.supplier_id.as_bytes(), Row::Line(&line))?;
                }
            }
            Format::Csv => {
                let mut rdr = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .from_reader(part);
                for row in rdr.byte_records() {
                    let row = row.map_err(io::Error::other)?;
                    f(row.get(0).unwrap_or_default(), Row::Csv(&row))?;
                }
            }
        }
        Ok(())
    }
}
