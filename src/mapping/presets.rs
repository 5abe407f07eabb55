//! The presets: complete sets of mapping keys, each a starting point any key can override.

use super::MappingKeys;

pub const PRESETS: [&str; 3] = ["contract", "data_rest", "odata"];

/// The most pages read to count an API that states no total: 5 million records at the
/// default 50 a page, hours of paging; a list that never ends stops there instead.
pub const DEFAULT_MAX_PAGES: u64 = 100_000;

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn list(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|x| x.to_string()).collect())
}

/// The keys of preset `name`; `batch_path` is the contract's push and pull path.
pub(super) fn preset(name: &str, batch_path: &str) -> Option<MappingKeys> {
    let common = MappingKeys {
        preset: s(name),
        push_concurrency: Some(4),
        item_method: s("PUT"),
        item_path: s("/suppliers/{supplier_id}"),
        batch_item: s(super::item::DEFAULT_ITEM),
        result_id: s("none"),
        result_status: s("/status"),
        result_error: s("none"),
        reject_statuses: list(&["400", "422"]),
        retry_statuses: list(&[]),
        reject_reason: s("/error"),
        success_when: list(&["no_error"]),
        already_exists_status: Some(0),
        already_exists_match: s(""),
        offset_param: s("offset"),
        page_param: s("page"),
        first_page: Some(0),
        cursor_param: s("cursor"),
        cursor: s("/next_cursor"),
        next_link: s("/next"),
        page_size: Some(0),
        has_more: s("none"),
        pull_query: list(&[]),
        max_pages: Some(DEFAULT_MAX_PAGES),
        fields: list(&[]),
        extra_fields: list(&[]),
        ..MappingKeys::default()
    };
    let keys = match name {
        // docs/API.md §3: today's behaviour.
        "contract" => MappingKeys {
            push_mode: s("batch"),
            push_method: s("POST"),
            push_path: s(batch_path),
            push_envelope: s("/suppliers"),
            record_envelope: s(""),
            push_max_records: Some(0),
            results: s("/results"),
            result_id: s("/supplier_id"),
            result_error: s("/error"),
            idempotency_header: s("Idempotency-Key"),
            pull_path: s(batch_path),
            pagination: s("offset_limit"),
            records: s("/suppliers"),
            total: s("/total"),
            page_size_param: s("limit"),
            ..common
        },
        // JSON:API-like REST: `{"data": …}` envelopes, PUT to the record's URL (an upsert,
        // idempotent by nature, so no key), next links in the body.
        "data_rest" => MappingKeys {
            push_mode: s("per_record"),
            push_method: s("PUT"),
            push_path: s("/api/v2/suppliers/{supplier_id}"),
            push_envelope: s(""),
            record_envelope: s("/data"),
            push_max_records: Some(0),
            push_concurrency: Some(8),
            results: s("none"),
            idempotency_header: s("none"),
            reject_reason: s("/error/message"),
            pull_path: s("/api/v2/suppliers"),
            pagination: s("next_link"),
            next_link: s("/links/next"),
            records: s("/data"),
            total: s("/meta/total"),
            page_size_param: s("limit"),
            ..common
        },
        // OData v4: `value` arrays, `$top`/`$skip`, `@odata.count`, PascalCase names,
        // writes as a JSON `$batch` of PUT sub-requests (at most 25 per call).
        "odata" => MappingKeys {
            push_mode: s("sub_requests"),
            push_method: s("POST"),
            push_path: s("/odata/$batch"),
            push_envelope: s("/requests"),
            record_envelope: s(""),
            push_max_records: Some(25),
            item_method: s("PUT"),
            item_path: s("/odata/Suppliers('{supplier_id}')"),
            results: s("/responses"),
            result_status: s("/status"),
            result_error: s("/body/error/message"),
            idempotency_header: s("none"),
            reject_reason: s("/error/message"),
            pull_path: s("/odata/Suppliers"),
            pagination: s("offset_limit"),
            offset_param: s("$skip"),
            page_size_param: s("$top"),
            records: s("/value"),
            total: s("/@odata.count"),
            pull_query: list(&["$count=true"]),
            fields: list(&[
                "supplier_id=SupplierID",
                "name=Name",
                "country=Country",
                "status=Status",
                "contact_email=ContactEmail",
                "certifications=Certifications",
                "updated_at=UpdatedAt",
            ]),
            ..common
        },
        _ => return None,
    };
    Some(keys)
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn every_preset_builds() {
        for name in PRESETS {
            let keys = MappingKeys {
                preset: Some(name.into()),
                ..MappingKeys::default()
            };
            let m = ApiMapping::build(&keys, "/api/v1/suppliers/batch")
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(m.preset, name);
            assert_eq!(m.describe().len(), 5);
        }
        let c = ApiMapping::contract("/api/v1/suppliers/batch");
        assert_eq!(c.push.mode, PushMode::Batch);
        assert_eq!(c.idempotency_header.as_deref(), Some("Idempotency-Key"));
        assert_eq!(c.pull.path, "/api/v1/suppliers/batch");
    }

    #[test]
    fn overrides_win_and_errors_name_keys() {
        let keys = MappingKeys {
            preset: Some("data_rest".into()),
            records: Some("/items".into()),
            fields: Some(vec!["supplier_id=supplierNumber".into()]),
            ..MappingKeys::default()
        };
        let m = ApiMapping::build(&keys, "/b").unwrap();
        assert_eq!(m.pull.records.as_str(), "/items");
        assert_eq!(m.fields.api_name("supplier_id"), "supplierNumber");

        let bad = MappingKeys {
            preset: Some("data_rest".into()),
            records: Some("items".into()),
            pagination: Some("scroll".into()),
            push_path: Some("/suppliers/{supplierId}".into()),
            ..MappingKeys::default()
        };
        let errs = ApiMapping::build(&bad, "/b").unwrap_err();
        let keys: Vec<&str> = errs.iter().map(|e| e.key).collect();
        assert!(keys.contains(&"records"), "{errs:?}");
        assert!(keys.contains(&"pagination"), "{errs:?}");
        assert!(keys.contains(&"push_path"), "{errs:?}");

        let no_path = MappingKeys {
            preset: Some("data_rest".into()),
            push_path: Some("/suppliers".into()),
            ..MappingKeys::default()
        };
        let errs = ApiMapping::build(&no_path, "/b").unwrap_err();
        assert_eq!(errs[0].key, "push_path");
        assert!(errs[0].message.contains("names no record"), "{errs:?}");

        let unknown = MappingKeys {
            preset: Some("graphql".into()),
            ..MappingKeys::default()
        };
        let errs = ApiMapping::build(&unknown, "/b").unwrap_err();
        assert!(errs[0].message.contains("contract, data_rest, odata"));
    }

    #[test]
    fn key_list_matches_the_struct() {
        let v = serde_json::to_value(MappingKeys {
            preset: Some("x".into()),
            ..super::preset("contract", "/b").unwrap()
        })
        .unwrap();
        let mut names: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut listed: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
        names.sort();
        listed.sort();
        assert_eq!(names, listed);
    }
}
