//! `supsync verify`: does the server hold what a push run sent? The destination is read
//! back through the run's own mapping and auth (`read`), compared with the run's source by
//! the mapped fields (`compare`, pure), and reported here as text or JSON.

pub mod compare;
pub mod read;

use serde::Serialize;

pub use compare::{Comparison, Different, compare};

/// Ids shown in the text report per list; the rest are counted.
pub const SHOWN: usize = 20;
/// Ids a `--json` report lists per list; the rest are counted (`*_count` is always whole).
pub const JSON_IDS: usize = 1_000;

/// What `verify` found, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub run_id: String,
    /// The server holds every expected record with the source's values.
    pub agrees: bool,
    pub source: String,
    /// The source file's content differs from when the run started: the comparison is with
    /// the file as it is now.
    pub source_changed: bool,
    /// Records the source holds for the server (valid, not rejected by the run).
    pub expected: u64,
    /// Ids the run rejected (not expected on the server).
    pub rejected_by_run: u64,
    /// Distinct records the read of the server found.
    pub on_server: u64,
    pub matching: u64,
    pub missing_count: u64,
    pub missing: Vec<String>,
    pub different_count: u64,
    pub different: Vec<Different>,
    /// Present with `--extra`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<Vec<String>>,
    pub pages_read: u64,
    /// Per-id GETs made (`api.verify_read = "per_id"`: the API has no listing); 0 when
    /// the collection was listed.
    pub item_reads: u64,
    /// Records the pages gave more than once.
    pub repeated_records: u64,
    /// Why the read ended before the server's last page, when it did.
    pub read_incomplete: Option<String>,
    pub exit_code: i32,
}

impl Report {
    /// The report of comparison `c`; `ids` caps each id list (the counts stay whole).
    pub fn new(
        run_id: &str,
        source: &str,
        source_changed: bool,
        expected: &read::Expected,
        server: &read::ServerRead,
        c: &Comparison,
        extra: bool,
    ) -> Report {
        let agrees = c.agrees();
        Report {
            run_id: run_id.to_string(),
            agrees,
            source: source.to_string(),
            source_changed,
            expected: expected.records.len() as u64,
            rejected_by_run: expected.rejected,
            on_server: server.records.len() as u64,
            matching: c.matching,
            missing_count: c.missing.len() as u64,
            missing: c.missing.iter().take(JSON_IDS).cloned().collect(),
            different_count: c.different.len() as u64,
            different: c.different.iter().take(JSON_IDS).cloned().collect(),
            extra_count: extra.then_some(c.extra.len() as u64),
            extra: extra.then(|| c.extra.iter().take(JSON_IDS).cloned().collect()),
            pages_read: server.pages,
            item_reads: server.item_reads,
            repeated_records: server.repeated,
            read_incomplete: server.stopped_early.clone(),
            exit_code: if agrees {
                crate::exit::OK
            } else {
                crate::exit::VERIFY_DISAGREES
            },
        }
    }

    /// The report for a person.
    pub fn text(&self) -> String {
        let mut out = Vec::new();
        let verdict = if self.agrees {
            "the server holds every record as the source has it"
        } else {
            "the server does NOT hold what the run pushed"
        };
        out.push(format!("verify {}: {verdict}", self.run_id));
        let read = if self.item_reads > 0 {
            format!("{} per-id reads", self.item_reads)
        } else {
            format!("{} pages read", self.pages_read)
        };
        out.push(format!(
            "records: {} expected, {} as in the source, {} missing, {} different ({} on the \
             server, {read}; {} rejected by the run, not expected)",
            self.expected,
            self.matching,
            self.missing_count,
            self.different_count,
            self.on_server,
            self.rejected_by_run
        ));
        if self.missing_count > 0 {
            out.push(format!(
                "missing: {}",
                listed(self.missing.iter().map(String::as_str), self.missing_count)
            ));
        }
        if self.different_count > 0 {
            let shown = self
                .different
                .iter()
                .map(|d| format!("{} ({})", d.supplier_id, d.fields.join(", ")));
            out.push(format!(
                "different: {}",
                listed_owned(shown, self.different_count)
            ));
        }
        if let (Some(n), Some(ids)) = (self.extra_count, &self.extra) {
            out.push(format!(
                "on the server, not in the source: {}",
                if n == 0 {
                    "none".to_string()
                } else {
                    listed(ids.iter().map(String::as_str), n)
                }
            ));
        }
        if self.repeated_records > 0 {
            out.push(format!(
                "warning: the server's pages gave {} record(s) more than once",
                self.repeated_records
            ));
        }
        if let Some(why) = &self.read_incomplete {
            out.push(format!(
                "warning: the read of the server is incomplete ({why}); records past it count \
                 as missing"
            ));
        }
        if self.source_changed {
            out.push(format!(
                "warning: {} changed since the run started; compared with it as it is now",
                self.source
            ));
        }
        out.join("\n") + "\n"
    }
}

/// The first [`SHOWN`] ids, then "and N more".
fn listed<'a>(ids: impl Iterator<Item = &'a str>, count: u64) -> String {
    listed_owned(ids.map(str::to_string), count)
}

fn listed_owned(ids: impl Iterator<Item = String>, count: u64) -> String {
    let shown: Vec<String> = ids.take(SHOWN).collect();
    let more = count.saturating_sub(shown.len() as u64);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_show_twenty_then_a_count() {
        let ids: Vec<String> = (0..25).map(|i| format!("S{i}")).collect();
        let t = listed(ids.iter().map(String::as_str), 198);
        assert!(t.starts_with("S0, S1, "), "{t}");
        assert!(t.ends_with("S19 and 178 more"), "{t}");
        assert_eq!(listed(["A", "B"].into_iter(), 2), "A, B");
    }
}
