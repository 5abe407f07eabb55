//! Every mapping key with a "nothing" sense takes `"none"` for it, the same way.

use super::*;

fn build(keys: MappingKeys) -> ApiMapping {
    ApiMapping::build(&keys, "/b").unwrap_or_else(|e| panic!("{e:?}"))
}

fn none() -> Option<String> {
    Some("none".into())
}

#[test]
fn none_means_nothing_for_every_key_that_can_be_nothing() {
    let m = build(MappingKeys {
        preset: Some("contract".into()),
        results: none(),
        idempotency_header: none(),
        reject_reason: none(),
        total: none(),
        has_more: none(),
        pagination: Some("next_link".into()),
        next_link: Some("Link".into()),
        page_size_param: none(),
        already_exists_status: Some(409),
        already_exists_match: none(),
        push_envelope: none(),
        record_envelope: none(),
        ..MappingKeys::default()
    });
    assert_eq!(m.push.results, None);
    assert_eq!(m.idempotency_header, None);
    assert_eq!(m.answers.reject_reason, None);
    assert_eq!(m.pull.total, None);
    assert_eq!(m.pull.has_more, None);
    assert_eq!(m.pull.size_param, None);
    assert!(m.push.envelope.is_root() && m.push.record_envelope.is_root());
    let exists = m.answers.already_exists.unwrap();
    assert_eq!((exists.status, exists.body_contains), (409, None));

    let m = build(MappingKeys {
        preset: Some("odata".into()),
        result_id: none(),
        result_error: none(),
        ..MappingKeys::default()
    });
    let r = m.push.results.unwrap();
    assert_eq!((r.id, r.error), (None, None));
}

#[test]
fn none_where_something_is_needed_is_refused_by_key_name() {
    let errs = ApiMapping::build(
        &MappingKeys {
            preset: Some("odata".into()),
            results: none(),
            ..MappingKeys::default()
        },
        "/b",
    )
    .unwrap_err();
    assert_eq!(errs[0].key, "results", "{errs:?}");
    let errs = ApiMapping::build(
        &MappingKeys {
            pagination: Some("cursor".into()),
            cursor_param: Some("after".into()),
            cursor: none(),
            ..MappingKeys::default()
        },
        "/b",
    )
    .unwrap_err();
    assert_eq!(errs[0].key, "cursor", "{errs:?}");
}
