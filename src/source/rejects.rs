//! The run's rejects file, `<run dir>/rejects.jsonl`: one JSON line per record that was
//! not applied, local (failed validation, never sent) or server (answered `rejected`).
//!
//! A segment re-run after a crash may write its rejects again; [`read_rejects`] keeps one
//! line per (segment, line, supplier id, origin), so readers see each reject once.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::SourceError;
use crate::run::Reject;

pub const REJECTS_FILE: &str = "rejects.jsonl";

pub struct RejectsWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl RejectsWriter {
    /// Opens (creating if needed) `<run_dir>/rejects.jsonl` for appending.
    pub fn new(run_dir: &Path) -> Result<RejectsWriter, SourceError> {
        let path = run_dir.join(REJECTS_FILE);
        // Owner-only like the rest of the run: rejects hold record ids and server reasons.
        let file = crate::safe_file::open_for_write(
            &path,
            crate::safe_file::private_options()
                .create(true)
                .append(true),
        )
        .map_err(|e| SourceError::write(&path, e))?;
        Ok(RejectsWriter {
            path,
            out: BufWriter::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Buffers one reject; call [`flush`](Self::flush) when the segment is done.
    pub fn write(&mut self, entry: &Reject) -> Result<(), SourceError> {
        // A server's reason or a bad row's id can be huge; the file stays readable.
        let clipped;
        let entry = if entry.reason.len() > 500 || entry.supplier_id.len() > 64 {
            clipped = Reject {
                reason: super::clip(&entry.reason, 500),
                supplier_id: super::clip(&entry.supplier_id, 64),
                ..entry.clone()
            };
            &clipped
        } else {
            entry
        };
        let mut line = serde_json::to_vec(entry).map_err(|e| SourceError::Output {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        line.push(b'\n');
        self.out
            .write_all(&line)
            .map_err(|e| SourceError::write(&self.path, e))
    }

    /// Writes out and fsyncs what was buffered (once per segment, before the journal
    /// records the segment as done).
    pub fn flush(&mut self) -> Result<(), SourceError> {
        self.out
            .flush()
            .and_then(|()| self.out.get_ref().sync_data())
            .map_err(|e| SourceError::write(&self.path, e))
    }
}

/// Every reject of a run, each once, in the order first written. Lines that do not parse
/// (a torn last line after a crash) are skipped. A missing file means no rejects.
pub fn read_rejects(run_dir: &Path) -> Result<Vec<Reject>, SourceError> {
    let path = run_dir.join(REJECTS_FILE);
    let file = match crate::safe_file::open_regular(&path) {
        Ok(f) => f,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(SourceError::read(&path, e.into())),
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for line in BufReader::new(file).split(b'\n') {
        let line = line.map_err(|e| SourceError::read(&path, e))?;
        let Ok(entry) = serde_json::from_slice::<Reject>(&line) else {
            continue;
        };
        let key = (
            entry.segment,
            entry.line,
            entry.supplier_id.clone(),
            entry.origin,
        );
        if seen.insert(key) {
            out.push(entry);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RejectOrigin;

    #[test]
    fn writes_and_reads_back_each_reject_once() {
        let dir = tempfile::tempdir().unwrap();
        let e = Reject {
            segment: 2,
            line: Some(7),
            supplier_id: "SUP-7".into(),
            reason: "status \"x\" is not one of …".into(),
            origin: RejectOrigin::Local,
        };
        for _ in 0..2 {
            // A segment re-run after a crash writes its rejects again.
            let mut w = RejectsWriter::new(dir.path()).unwrap();
            w.write(&e).unwrap();
            w.flush().unwrap();
        }
        let text = std::fs::read_to_string(dir.path().join(REJECTS_FILE)).unwrap();
        assert!(text.contains(r#""origin":"local""#), "{text}");
        assert_eq!(read_rejects(dir.path()).unwrap(), vec![e]);
    }
}
