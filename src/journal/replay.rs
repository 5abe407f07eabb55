//! Reading a run back: the manifest and the journal's entries, each verified against its
//! checksum; a torn tail is tolerated, a damaged line is reported and not trusted.

use std::io::{BufRead, BufReader};
use std::path::Path;

use super::integrity::{Decoded, ManifestSeal, decode_line, unseal_manifest};
use super::{
    DamagedLine, Entry, JOURNAL_FILE, JournalError, MANIFEST_FILE, MANIFEST_VERSION, Manifest,
    Replay, SegmentRecord, run_dir,
};

/// The last manifest version written without checksums.
const LEGACY_VERSION: u32 = 1;

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
    let scanned = replay_file(&dir.join(JOURNAL_FILE), &manifest)?;
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
    let text = match crate::safe_file::read_capped(&path, crate::safe_file::STATE_CAP) {
        Ok(t) => t,
        Err(e) if e.is_not_found() => {
            return Err(bad(format!(
                "it is missing, so run {run_id} was never fully created; delete {}",
                dir.display()
            )));
        }
        Err(e) => return Err(JournalError::io(&path, e.into())),
    };
    let mut value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    let seal = unseal_manifest(&mut value);
    if let ManifestSeal::Bad(why) = &seal {
        return Err(bad(format!(
            "it fails its integrity check ({why}): it changed after supsync wrote it (disk \
             damage or an edit), so run {run_id} cannot be trusted; restore the file from a \
             backup, or start a new run (records the server already holds come back as \
             unchanged, not twice)"
        )));
    }
    let manifest: Manifest = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    if manifest.version > MANIFEST_VERSION {
        return Err(bad(format!(
            "version {} was written by a newer supsync (this one reads up to {MANIFEST_VERSION})",
            manifest.version
        )));
    }
    if seal == ManifestSeal::Missing && manifest.version != LEGACY_VERSION {
        return Err(bad(format!(
            "it is version {} but carries no checksum, so it was damaged or edited; restore \
             it from a backup or start a new run",
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

/// Replays `path` line by line, trusting only lines that pass their checksum (or, in a
/// run from before checksums, unsealed lines before the first sealed one). A missing file
/// is an empty journal.
pub(crate) fn replay_file(path: &Path, manifest: &Manifest) -> Result<Scanned, JournalError> {
    let io = |e| JournalError::io(path, e);
    let mut scanned = Scanned {
        replay: Replay {
            path: path.to_path_buf(),
            ..Replay::default()
        },
        good_len: 0,
        file_len: 0,
        needs_newline: false,
    };
    let file = match crate::safe_file::open_regular(path) {
        Ok(f) => f,
        Err(e) if e.is_not_found() => return Ok(scanned),
        Err(e) => return Err(io(e.into())),
    };
    scanned.file_len = file.metadata().map_err(io)?.len();
    let mut legacy_ok = manifest.version <= LEGACY_VERSION;
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
        let corrupt = |detail: String| JournalError::Corrupt {
            path: path.to_path_buf(),
            line,
            detail,
        };
        // The entry to trust, or why not and which segment the line seems to name.
        let decoded = match decode_line(text, legacy_ok) {
            Decoded::Verified(entry) => {
                // From the first sealed line on, an unsealed one is damage.
                legacy_ok = false;
                if let Entry::Segment { index, .. } = entry
                    && index >= manifest.segments
                {
                    return Err(corrupt(format!(
                        "segment {index} is beyond the run's {} segments, in a line that \
                         passes its checksum: this journal does not belong to this manifest",
                        manifest.segments
                    )));
                }
                Ok(entry)
            }
            Decoded::Legacy(Entry::Segment { index, .. }) if index >= manifest.segments => Err((
                format!("segment {index} is beyond the run's {}", manifest.segments),
                None,
            )),
            Decoded::Legacy(entry) => {
                scanned.replay.legacy_lines += 1;
                Ok(entry)
            }
            Decoded::Unknown(detail) => {
                return Err(corrupt(format!(
                    "an entry this supsync does not know, perhaps from a newer one: {detail}"
                )));
            }
            Decoded::Damaged { reason, segment } => {
                Err((reason, segment.filter(|&s| s < manifest.segments)))
            }
        };
        match decoded {
            Ok(entry) => {
                apply(&mut scanned.replay, entry);
                offset += n as u64;
                scanned.good_len = offset;
                scanned.needs_newline = !has_newline;
            }
            Err((reason, segment)) => {
                // Whatever the line recorded may be newer than the segment's last trusted
                // outcome, so that outcome is not trusted either: the segment runs again.
                if let Some(s) = segment {
                    scanned.replay.segments.remove(&s);
                }
                if !has_newline || rest_is_blank(&mut input).map_err(io)? {
                    // The last line, and not whole: a crash while writing it.
                    scanned.replay.torn_tail = Some(format!(
                        "{}: the last line (line {line}, {} bytes) was cut or corrupt and \
                         was ignored; supsync probably stopped while writing it, and the \
                         segment it recorded will simply run again",
                        path.display(),
                        scanned.file_len - offset
                    ));
                    break;
                }
                scanned.replay.damaged.push(DamagedLine {
                    line,
                    reason,
                    segment,
                });
                offset += n as u64;
                scanned.good_len = offset;
                scanned.needs_newline = false;
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
            continuation,
            pull,
        } => {
            replay.segments.insert(
                index,
                SegmentRecord {
                    state,
                    attempts,
                    counts,
                    error,
                    continuation,
                    pull,
                },
            );
        }
        Entry::Run {
            state,
            at: _,
            reason,
            auth_failure,
        } => {
            replay.last_run_state = Some(state);
            replay.last_run_reason = reason;
            replay.last_run_auth_failure = auth_failure;
        }
    }
}
