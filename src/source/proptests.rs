//! Property tests: the row readers and parsers that face outside files never panic on
//! arbitrary bytes, and the scan (which checks rows without building them) agrees with
//! the segment reader (which builds them) on every file.

use std::io::Cursor;
use std::path::Path;

use proptest::prelude::*;

use super::csv_rows::CsvRows;
use super::lines::Lines;
use super::parse::{csv_row, csv_verdict, json_line, read_header};
use super::{SourceItem, read_segment, scan};

/// A valid header, so the row parsers past it are reached.
const HEADER: &[u8] = b"supplier_id,name,country,status,contact_email,certifications,updated_at\n";

/// Bytes that look like CSV or JSON often enough to reach deep branches: quotes,
/// separators, line ends, braces, a BOM, invalid UTF-8 and plausible field values.
fn texty() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b",".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b";".to_vec()),
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b":".to_vec()),
        Just(vec![0xef, 0xbb, 0xbf]),
        Just(vec![0xff, 0xfe]),
        Just(b"SUP-000001".to_vec()),
        Just(b"DE".to_vec()),
        Just(b"approved".to_vec()),
        Just(b"a@b.example".to_vec()),
        Just(b"2026-11-02T09:14:00Z".to_vec()),
        Just(br#""supplier_id":"#.to_vec()),
        "[ -~]{0,12}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    proptest::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![proptest::collection::vec(any::<u8>(), 0..400), texty()]
}

proptest! {
    #[test]
    fn csv_rows_and_row_parsers_never_panic(with_header in any::<bool>(), bytes in body()) {
        let input = if with_header { [HEADER, &bytes].concat() } else { bytes.clone() };
        let mut rows = CsvRows::new(Cursor::new(&input), 0, 1);
        let Ok(header) = read_header(Path::new("x.csv"), &mut rows) else {
            return Ok(());
        };
        let mut last = (0u64, 1u64);
        while let Some(info) = rows.next_row().unwrap() {
            // Lines are counted by `\n`, so rows ended by a lone `\r` share a line number.
            prop_assert!(info.byte_offset > last.0 && info.line >= last.1, "{info:?}");
            prop_assert!(info.byte_offset + info.len <= input.len() as u64, "{info:?}");
            last = (info.byte_offset, info.line);
            let verdict = csv_verdict(&header, &info, &rows);
            let parsed = csv_row(&header, &info, &rows);
            // The scan's cheap check and the full parse agree.
            prop_assert_eq!(
                verdict.reason.is_none(),
                matches!(parsed.item, SourceItem::Valid { .. })
            );
            prop_assert_eq!(verdict.unparseable, parsed.unparseable);
        }
    }

    #[test]
    fn json_lines_reader_and_parser_never_panic(bytes in body()) {
        let mut lines = Lines::new(Cursor::new(&bytes), 0, 1);
        let mut last = 0u64;
        while let Some(info) = lines.next_nonblank().unwrap() {
            prop_assert!(info.line > last);
            prop_assert!(info.byte_offset + info.len <= bytes.len() as u64, "{info:?}");
            last = info.line;
            let p = json_line(info.line, lines.text(), info.len, info.oversized);
            if let SourceItem::Invalid { reason, supplier_id, .. } = p.item {
                prop_assert!(!reason.is_empty());
                prop_assert!(supplier_id.chars().count() <= 65);
            }
        }
    }

    #[test]
    fn json_line_never_panics_on_any_bytes(line in 1u64..4, bytes in body(), oversized in any::<bool>()) {
        let _ = json_line(line, &bytes, bytes.len() as u64, oversized);
    }
}

proptest! {
    // Each case writes a file: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn scan_and_read_segment_agree_on_any_file(
        jsonl in any::<bool>(),
        with_header in any::<bool>(),
        bytes in body(),
        segment_size in 1usize..5,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (name, input) = if jsonl {
            ("s.jsonl", bytes)
        } else if with_header {
            ("s.csv", [HEADER, &bytes].concat())
        } else {
            ("s.csv", bytes)
        };
        let path = dir.path().join(name);
        std::fs::write(&path, &input).unwrap();
        let Ok(s) = scan(&path, segment_size) else {
            return Ok(());
        };
        let (mut records, mut invalid) = (0u64, 0u64);
        for span in &s.segments {
            let items = read_segment(&path, s.format, span).unwrap();
            prop_assert_eq!(items.len() as u64, span.records);
            records += span.records;
            invalid += items
                .iter()
                .filter(|i| matches!(i, SourceItem::Invalid { .. }))
                .count() as u64;
        }
        prop_assert_eq!(records, s.records);
        prop_assert_eq!(invalid, s.invalid);
    }
}
