//! The first rejects of a run for `status RUN_ID`: line, supplier id and reason from the
//! run's `rejects.jsonl`, so the operator sees why without opening the file.

use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::run::Reject;

/// Rejects shown by `status RUN_ID`; the rest is counted.
pub(crate) const SHOWN: usize = 10;

/// The first [`SHOWN`] rejects in `path` and how many lines follow them. A line that does
/// not parse is skipped (the file is the run's own; a torn last line is a crash's).
pub(crate) fn first(path: &Path) -> (Vec<Reject>, u64) {
    let Ok(file) = std::fs::File::open(path) else {
        return (Vec::new(), 0);
    };
    let mut shown = Vec::new();
    let mut more = 0u64;
    for line in BufReader::new(file).lines() {
        let Ok(line) = line else { break };
        let Ok(r) = serde_json::from_str::<Reject>(&line) else {
            continue;
        };
        if shown.len() < SHOWN {
            shown.push(r);
        } else {
            more += 1;
        }
    }
    (shown, more)
}

/// One reject as `status` prints it.
pub(crate) fn line(r: &Reject) -> String {
    let at = r.line.map_or("line ?".to_string(), |l| format!("line {l}"));
    format!("  {at:>10}  {}  {}", r.supplier_id, r.reason)
}
