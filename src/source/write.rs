//! Writing records (pull output, demo data) and the atomic-write helper everything here
//! uses: temp file beside the target, fsync, rename, fsync the directory. A reader never
//! sees a half-written file, and after a crash the old file or the new one is there whole.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::SourceError;
use super::format::Format;
use super::parse::COLUMNS;
use crate::record::Supplier;

/// Writes `records` as CSV (header row of docs/API.md §4, certifications joined with `;`).
pub fn write_csv(path: &Path, records: &[Supplier]) -> Result<(), SourceError> {
    write_atomic(path, |out| {
        write_csv_header(out)?;
        encode(Format::Csv, records, out)
    })
}

/// Writes records as CSV as they come, a thousand at a time: a generated source of any
/// length costs the memory of one chunk, not of every record.
pub fn write_csv_iter(
    path: &Path,
    records: impl IntoIterator<Item = Supplier>,
) -> Result<(), SourceError> {
    const CHUNK: usize = 1_000;
    write_atomic(path, |out| {
        write_csv_header(out)?;
        let mut chunk = Vec::with_capacity(CHUNK);
        for r in records {
            chunk.push(r);
            if chunk.len() == CHUNK {
                encode(Format::Csv, &chunk, out)?;
                chunk.clear();
            }
        }
        encode(Format::Csv, &chunk, out)
    })
}

/// Writes `records` as JSON Lines.
pub fn write_jsonl(path: &Path, records: &[Supplier]) -> Result<(), SourceError> {
    write_atomic(path, |out| encode(Format::JsonLines, records, out))
}

/// Writes `records` in the format the extension names (`.csv`, `.jsonl`, `.ndjson`, `.json`).
pub fn write_records(path: &Path, records: &[Supplier]) -> Result<(), SourceError> {
    match output_format(path)? {
        Format::Csv => write_csv(path, records),
        Format::JsonLines => write_jsonl(path, records),
    }
}

/// The format of an output file, from its extension only (no sniffing for outputs).
pub(crate) fn output_format(path: &Path) -> Result<Format, SourceError> {
    Format::from_extension(path).ok_or_else(|| SourceError::Output {
        path: path.to_path_buf(),
        detail: "unknown extension; name the output .csv or .jsonl".into(),
    })
}

pub(crate) fn write_csv_header(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", COLUMNS.join(","))
}

/// Records without a header (CSV) or as lines (JSON Lines).
pub(crate) fn encode<'a>(
    format: Format,
    records: impl IntoIterator<Item = &'a Supplier>,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Csv => {
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(&mut *out);
            for s in records {
                let certs = s.certifications.join(";");
                w.write_record([
                    s.supplier_id.as_str(),
                    &s.name,
                    &s.country,
                    &s.status,
                    &s.contact_email,
                    &certs,
                    &s.updated_at,
                ])
                .map_err(io::Error::other)?;
            }
            w.flush()
        }
        Format::JsonLines => {
            for s in records {
                serde_json::to_writer(&mut *out, s)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
    }
}

/// Writes `path` atomically with what `fill` writes.
pub(crate) fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), SourceError> {
    write_atomic_io(path, fill).map_err(|e| SourceError::write(path, e))
}

/// Writes `bytes` to `path` atomically (temp file beside it, fsync, rename, fsync dir).
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_io(path, |out| out.write_all(bytes))
}

fn write_atomic_io(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = parent_dir(path);
    let tmp = tempfile::Builder::new()
        .prefix(".supsync-tmp")
        .tempfile_in(dir)?;
    {
        let mut out = BufWriter::new(tmp.as_file());
        fill(&mut out)?;
        out.flush()?;
    }
    tmp.as_file().sync_all()?;
    // A rename would put the file where a device node, FIFO or link was.
    crate::safe_file::check_replaceable(path)?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes a new or renamed `path` durable by fsyncing the directory that holds it.
pub fn sync_dir_of(path: &Path) -> io::Result<()> {
    sync_dir(parent_dir(path))
}

/// Makes a rename or a new file in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: u32) -> Supplier {
        Supplier {
            supplier_id: format!("SUP-{i:06}"),
            name: "Acme, \"Castings\" Ltd".into(),
            country: "DE".into(),
            status: "approved".into(),
            contact_email: "q@acme.example".into(),
            certifications: vec!["ISO 9001".into(), "IATF 16949".into()],
            updated_at: "2026-11-02T09:14:00Z".into(),
        }
    }

    #[test]
    fn csv_and_jsonl_round_trip_through_scan() {
        let dir = tempfile::tempdir().unwrap();
        let records: Vec<_> = (1..=5).map(sample).collect();
        for name in ["out.csv", "out.jsonl"] {
            let path = dir.path().join(name);
            write_records(&path, &records).unwrap();
            let scan = super::super::scan(&path, 2).unwrap();
            assert_eq!((scan.records, scan.invalid), (5, 0));
            let back: Vec<_> = scan
                .segments
                .iter()
                .flat_map(|s| super::super::read_segment(&path, scan.format, s).unwrap())
                .map(|i| match i {
                    super::super::SourceItem::Valid { record, .. } => record,
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(back, records, "{name}");
        }
        assert!(write_records(&dir.path().join("out.txt"), &records).is_err());
    }
}
