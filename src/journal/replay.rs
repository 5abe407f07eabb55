//! Reading a run back: the manifest and the journal's entries, torn tail tolerated.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind};
use std::path::Path;

use super::{
    Entry, JOURNAL_FILE, JournalError, MANIFEST_FILE, MANIFEST_VERSION, Manifest, Replay,
    SegmentRecord, run_dir,
};

/// A replayed journal plus what [`Journal::open`](super::Journal::open) needs to repair it.
#[derive(Debug)]
pub(crate) struct Scanned {
    pub replay: Replay,
    /// Bytes of whole, valid entries (where the next append must start).
    pub good_len: u64,
    pub file_len: u64,
    /// The last entry is whole but lacks its `\n` (cut exactly before it).
    pub needs_newline: bool,
}

/// The manifest and replayed journal of a run, without taking its lock (for `status`).
/// Never modifies anything.
pub fn read(state_dir: &Path, run_id: &str) -> Result<(Manifest, Replay), JournalError> {
    let dir = run_dir(state_dir, run_id)?;
    let manifest = read_manifest(state_dir, run_id, &dir)?;
    let scanned = replay_file(&dir.join(JOURNAL_FILE), Some(manifest.segments))?;
    Ok((manifest, scanned.replay))
}

pub(crate) fn read_manifest(
    state_dir: &Path,
    run_id: &str,
    dir: &Path,
) -> Result<Manifest, JournalError> {
    if !dir.is_dir() {
        return Err(JournalError::NoSuchRun {
            run_id: run_id.to_string(),
            state_dir: state_dir.to_path_buf(),
        });
    }
    let path = dir.join(MANIFEST_FILE);
    let bad = |detail: String| JournalError::Manifest {
        path: path.clone(),
        detail,
    };
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(bad(format!(
                "it is missing, so run {run_id} was never fully created; delete {}",
                dir.display()
            )));
        }
        Err(e) => return Err(JournalError::io(&path, e)),
    };
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    if manifest.version > MANIFEST_VERSION {
        return Err(bad(format!(
            "version {} was written by a newer supsync (this one reads up to {MANIFEST_VERSION})",
            manifest.version
        )));
    }
    if manifest.run_id != run_id {
        return Err(bad(format!(
            "it names run {:?}, not {run_id}",
            manifest.run_id
        )));
    }
    Ok(manifest)
}

/// Replays `path` line by line. A missing file is an empty journal. With `segments`, an
/// entry for a segment the run does not have is damage (never a torn write).
pub(crate) fn replay_file(path: &Path, segments: Option<usize>) -> Result<Scanned, JournalError> {
    let io = |e| JournalError::io(path, e);
    let mut scanned = Scanned {
        replay: Replay::default(),
        good_len: 0,
        file_len: 0,
        needs_newline: false,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(scanned),
        Err(e) => return Err(io(e)),
    };
    scanned.file_len = file.metadata().map_err(io)?.len();
    let mut input = BufReader::new(file);
    let mut buf = Vec::new();
    let mut offset = 0u64;
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = input.read_until(b'\n', &mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        line += 1;
        let has_newline = buf.last() == Some(&b'\n');
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) && has_newline {
            // A blank line (never written by supsync, harmless).
            offset += n as u64;
            scanned.good_len = offset;
            continue;
        }
        match serde_json::from_slice::<Entry>(text) {
            Ok(Entry::Segment { index, .. }) if segments.is_some_and(|n| index >= n) => {
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    line,
                    detail: format!(
                        "segment {index} is beyond the run's {} segments",
                        segments.unwrap_or_default()
                    ),
                });
            }
            Ok(entry) => {
                apply(&mut scanned.replay, entry);
                offset += n as u64;
                scanned.good_len = offset;
                scanned.needs_newline = !has_newline;
            }
            Err(e) => {
                if !has_newline || rest_is_blank(&mut input).map_err(io)? {
                    scanned.replay.torn_tail = Some(format!(
                        "{}: the last line (line {line}, {} bytes) was cut or corrupt and was \
                         ignored; supsync probably stopped while writing it, and the segment \
                         it recorded will simply run again",
                        path.display(),
                        scanned.file_len - offset
                    ));
                    break;
                }
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    line,
                    detail: crate::source::clip(&e.to_string(), 120),
                });
            }
        }
    }
    Ok(scanned)
}

/// True when nothing but whitespace or NUL bytes (a crash can leave either) remains.
fn rest_is_blank(input: &mut impl BufRead) -> std::io::Result<bool> {
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(true);
        }
        if !chunk.iter().all(|&b| b == 0 || b.is_ascii_whitespace()) {
            return Ok(false);
        }
        let n = chunk.len();
        input.consume(n);
    }
}

fn apply(replay: &mut Replay, entry: Entry) {
    replay.entries += 1;
    match entry {
        Entry::Segment {
            index,
            state,
            attempts,
            counts,
            error,
            at: _,
        } => {
            replay.segments.insert(
                index,
                SegmentRecord {
                    state,
                    attempts,
                    counts,
                    error,
                },
            );
        }
        Entry::Run { state, at: _ } => replay.last_run_state = Some(state),
    }
}
