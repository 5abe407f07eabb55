//! Property tests of the push answers' reading: whatever a server answers, every record
//! ends in exactly one of created, updated, unchanged, applied, rejected or failed, and a
//! 2xx whose body carries an error is never counted as applied.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::mapping::{ApiMapping, MappingKeys};
use crate::run::Counts;

const STATUSES: [u16; 9] = [200, 201, 204, 409, 422, 400, 403, 500, 503];
const BODIES: [&str; 5] = [
    "",
    r#"{"data": {"supplier_id": "SUP-1"}}"#,
    r#"{"errorCode": 602, "message": "Session expired"}"#,
    r#"{"error": "supplier already exists"}"#,
    r#"{"status": "error"}"#,
];

fn mapping(creates: bool, already: bool, reject_200: bool, check_off: bool) -> ApiMapping {
    let mut rejects = vec!["400".to_string(), "422".into()];
    if reject_200 {
        rejects.push("200".into());
    }
    let keys = MappingKeys {
        preset: Some("data_rest".into()),
        push_method: creates.then(|| "POST".into()),
        push_path: creates.then(|| "/items/suppliers".into()),
        already_exists_status: already.then_some(409),
        already_exists_match: already.then(|| "already exists".into()),
        reject_statuses: Some(rejects),
        success_when: check_off.then(|| vec!["any".into()]),
        ..MappingKeys::default()
    };
    ApiMapping::build(&keys, "/b").unwrap()
}

/// One record's outcome in `c`, or `false` when its answer leaves it failed.
fn tally(c: &mut Counts, v: &PushAnswer) -> bool {
    match v {
        PushAnswer::Done(PushStatus::Created) => c.created += 1,
        PushAnswer::Done(PushStatus::Updated) => c.updated += 1,
        PushAnswer::Done(PushStatus::Unchanged) => c.unchanged += 1,
        PushAnswer::Done(PushStatus::Applied) => c.applied += 1,
        PushAnswer::Done(PushStatus::Rejected) | PushAnswer::Rejected => c.rejected += 1,
        PushAnswer::ErrorBody(_) | PushAnswer::Retry(_) | PushAnswer::Fatal(_) => return false,
    }
    true
}

proptest! {
    #[test]
    fn every_record_is_counted_once_and_error_bodies_never_as_applied(
        answers in prop::collection::vec((0..STATUSES.len(), 0..BODIES.len()), 1..80),
        creates: bool, already: bool, reject_200: bool, check_off: bool,
    ) {
        let m = mapping(creates, already, reject_200, check_off);
        let how = Reading { creates: m.push.posts_to_collection(), check_body: true };
        prop_assert_eq!(how.creates, creates);
        let mut c = Counts::default();
        let mut failed = 0u64;
        for (s, b) in &answers {
            let (status, body) = (STATUSES[*s], BODIES[*b].as_bytes());
            let v = http_verdict(&m.answers, how, status, body);
            if !tally(&mut c, &v) {
                failed += 1;
            }
            let error_body = *b >= 2;
            let two_xx = (200..300).contains(&status);
            let applied = matches!(
                v,
                PushAnswer::Done(PushStatus::Created | PushStatus::Updated | PushStatus::Applied)
            );
            if error_body && !check_off {
                prop_assert!(!applied, "{status} {:?} counted as applied", BODIES[*b]);
            }
            if two_xx && !applied && !error_body {
                prop_assert!(false, "a clean {status} was not applied");
            }
            // A bare status never says "updated"; only 201 or a POST to a collection
            // says "created".
            prop_assert!(!matches!(v, PushAnswer::Done(PushStatus::Updated)));
            if matches!(v, PushAnswer::Done(PushStatus::Created)) {
                prop_assert!(status == 201 || (creates && two_xx));
            }
        }
        prop_assert_eq!(c.processed() + failed, answers.len() as u64);
    }

    #[test]
    fn batch_rows_add_up_or_fail_the_part_whole(
        words in prop::collection::vec(0..9usize, 1..60),
    ) {
        const WORDS: [&str; 6] = ["created", "updated", "unchanged", "rejected", "ok", "applied"];
        let m = ApiMapping::contract("/b");
        let res = m.push.results.clone().unwrap();
        let ids: Vec<String> = (0..words.len()).map(|i| format!("SUP-{i}")).collect();
        let rows: Vec<_> = words
            .iter()
            .zip(&ids)
            .map(|(w, id)| {
                let status = match *w {
                    6 => json!(201),
                    7 => json!(200),
                    8 => json!(503),
                    w => json!(WORDS[w]),
                };
                json!({"supplier_id": id, "status": status, "error": null})
            })
            .collect();
        let answer = json!({"results": rows});
        let mut c = Counts::default();
        match batch_results(&res, &m.answers, false, &answer, &ids, &Redactor::new()) {
            Ok(out) => {
                prop_assert_eq!(out.len(), ids.len());
                for r in &out {
                    tally(&mut c, &PushAnswer::Done(r.status));
                }
                prop_assert_eq!(c.processed(), ids.len() as u64);
                prop_assert_eq!(c.updated, words.iter().filter(|w| **w == 1).count() as u64);
            }
            // A retryable row fails the part: none of its records is counted.
            Err(e) => prop_assert!(e.is_retryable() && words.contains(&8)),
        }
    }
}
