//! A source cut into shards: every record in exactly one, whatever the file's order and
//! format, and the segments of a shard read back as exactly its records.

use std::collections::BTreeSet;
use std::path::Path;

use super::{SourceItem, read_segment_shard, scan_shard};
use crate::run::Shard;

const HEADER: &str = "supplier_id,name,country,status,contact_email,certifications,updated_at";

fn row(i: u64) -> String {
    format!("SUP-{i:06},Supplier {i},DE,approved,q{i}@example.com,,2026-11-02T09:14:00Z")
}

fn ids_of(path: &Path, shard: Shard) -> Vec<String> {
    let scan = scan_shard(path, 7, Some(shard)).unwrap();
    let mut ids = Vec::new();
    for span in &scan.segments {
        let items = read_segment_shard(path, scan.format, span, Some(shard)).unwrap();
        assert_eq!(items.len() as u64, span.records);
        for item in items {
            let id = match item {
                SourceItem::Valid { record, .. } => record.supplier_id,
                SourceItem::Invalid { supplier_id, .. } => supplier_id,
            };
            assert!(shard.holds(&id), "{id} read into shard {shard}");
            ids.push(id);
        }
    }
    assert_eq!(ids.len() as u64, scan.records);
    ids
}

#[test]
fn shards_split_a_file_the_same_way_whatever_its_order_or_format() {
    let dir = tempfile::tempdir().unwrap();
    let n = 200u64;
    let csv = dir.path().join("a.csv");
    let mut text = format!("{HEADER}\n");
    (0..n).for_each(|i| text.push_str(&(row(i) + "\n")));
    std::fs::write(&csv, text).unwrap();
    // The same records backwards, as JSON Lines.
    let jsonl = dir.path().join("b.jsonl");
    let mut text = String::new();
    for i in (0..n).rev() {
        text.push_str(&format!(
            "{{\"supplier_id\":\"SUP-{i:06}\",\"name\":\"Supplier {i}\",\"country\":\"DE\",\
             \"status\":\"approved\",\"contact_email\":\"q{i}@example.com\",\
             \"certifications\":[],\"updated_at\":\"2026-11-02T09:14:00Z\"}}\n"
        ));
    }
    std::fs::write(&jsonl, text).unwrap();

    let mut all = BTreeSet::new();
    for k in 0..4 {
        let s = Shard::new(k, 4).unwrap();
        let a: BTreeSet<String> = ids_of(&csv, s).into_iter().collect();
        let b: BTreeSet<String> = ids_of(&jsonl, s).into_iter().collect();
        assert_eq!(a, b, "shard {s} holds the same records in both files");
        assert!(!a.is_empty());
        for id in a {
            assert!(all.insert(id), "a record in two shards");
        }
    }
    assert_eq!(all.len() as u64, n, "every record in some shard");
}
