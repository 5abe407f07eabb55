//! Property tests: the journal line decoder never panics on arbitrary bytes, every entry
//! round-trips through encode → decode, no changed byte of a sealed line is ever trusted,
//! and replaying any file yields trusted state only for the run's own segments.

use proptest::prelude::*;

use super::integrity::{Decoded, decode_line, encode_line};
use super::tests::manifest;
use super::{Continuation, Counts, Entry, Journal, RunState, SegmentState, read};

fn segment_state() -> impl Strategy<Value = SegmentState> {
    prop_oneof![
        Just(SegmentState::Pending),
        Just(SegmentState::Running),
        Just(SegmentState::Retrying),
        Just(SegmentState::Done),
        Just(SegmentState::DoneWithRejects),
        Just(SegmentState::Failed),
    ]
}

fn run_state() -> impl Strategy<Value = RunState> {
    prop_oneof![
        Just(RunState::Planning),
        Just(RunState::Running),
        Just(RunState::Paused),
        Just(RunState::Stopping),
        Just(RunState::Completed),
        Just(RunState::CompletedWithFailures),
        Just(RunState::Interrupted),
        Just(RunState::Failed),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    let counts =
        any::<[u64; 6]>().prop_map(|[created, updated, unchanged, applied, rejected, pulled]| {
            Counts {
                created,
                updated,
                unchanged,
                applied,
                rejected,
                pulled,
            }
        });
    prop_oneof![
        (
            0usize..100_000,
            segment_state(),
            any::<u32>(),
            counts,
            proptest::option::of(any::<String>()),
            any::<String>(),
            proptest::option::of((any::<u64>(), any::<String>())),
        )
            .prop_map(
                |(index, state, attempts, counts, error, at, cont)| Entry::Segment {
                    index,
                    state,
                    attempts,
                    counts,
                    error,
                    at,
                    continuation: cont.map(|(offset, next)| Continuation { offset, next }),
                    pull: None,
                }
            ),
        (
            run_state(),
            any::<String>(),
            proptest::option::of(any::<String>()),
            any::<bool>()
        )
            .prop_map(|(state, at, reason, auth_failure)| Entry::Run {
                state,
                at,
                reason,
                auth_failure
            }),
    ]
}

proptest! {
    #[test]
    fn decode_never_panics_on_any_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        legacy_ok in any::<bool>(),
    ) {
        let _ = decode_line(&bytes, legacy_ok);
    }

    #[test]
    fn every_entry_round_trips(e in entry(), legacy_ok in any::<bool>()) {
        let line = encode_line(&e).unwrap();
        prop_assert!(!line.contains(&b'\n'), "one entry, one line");
        prop_assert_eq!(decode_line(&line, legacy_ok), Decoded::Verified(e));
    }

    #[test]
    fn no_changed_byte_of_a_sealed_line_is_trusted(
        e in entry(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
        legacy_ok in any::<bool>(),
    ) {
        let mut line = encode_line(&e).unwrap();
        let i = at.index(line.len());
        line[i] ^= xor;
        let d = decode_line(&line, legacy_ok);
        prop_assert!(matches!(d, Decoded::Damaged { .. }), "byte {}: {:?}", i, d);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any mix of sealed lines, damaged copies of them and arbitrary bytes: replay never
    /// panics, and what it trusts is a segment of the run recorded by a verified line.
    #[test]
    fn replaying_any_journal_never_panics(
        parts in proptest::collection::vec(
            (entry(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)),
            0..20,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest("p", "2026-11-25T22:00:00Z");
        drop(Journal::create(dir.path(), &m).unwrap());
        let mut body = Vec::new();
        let mut sealed = Vec::new();
        for (e, how, junk) in parts {
            let mut line = encode_line(&e).unwrap();
            match how % 4 {
                0 => sealed.push(line.clone()),
                1 => { let n = line.len() / 2; line[n] ^= how | 1; }
                2 => line = junk,
                _ => line.truncate(junk.len()),
            }
            body.extend_from_slice(&line);
            body.push(b'\n');
        }
        std::fs::write(dir.path().join("runs/p/journal.jsonl"), &body).unwrap();
        if let Ok((_, r)) = read(dir.path(), "p") {
            for i in r.segments.keys() {
                prop_assert!(*i < m.segments);
            }
            prop_assert!(r.entries <= sealed.len() as u64);
        }
        // The writer's open (which also repairs a torn tail) holds up as well.
        let _ = Journal::open(dir.path(), "p");
    }
}
