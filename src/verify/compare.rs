//! What a run pushed against what the server holds: pure, by the mapped record fields.

use std::collections::BTreeMap;

use crate::mapping::FieldMap;
use crate::record::Supplier;

/// A record the server holds with other values than the source, and which fields differ
/// (by their API names).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Different {
    pub supplier_id: String,
    pub fields: Vec<String>,
}

/// The outcome of a comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Expected records the server does not hold, by id (sorted).
    pub missing: Vec<String>,
    /// Expected records the server holds with other values (sorted by id).
    pub different: Vec<Different>,
    /// Records the server holds that the source does not have (only when asked for).
    pub extra: Vec<String>,
    /// Expected records the server holds as they are in the source.
    pub matching: u64,
}

impl Comparison {
    /// The server holds every expected record as the source has it (extras, when asked
    /// for, are reported but are not a disagreement: other clients may write too).
    pub fn agrees(&self) -> bool {
        self.missing.is_empty() && self.different.is_empty()
    }
}

/// Compares `expected` (what the run's source holds, by id) with `server` (what the read
/// found, by id). `extra`: also list the server's records the source does not have.
pub fn compare(
    expected: &BTreeMap<String, Supplier>,
    server: &BTreeMap<String, Supplier>,
    fields: &FieldMap,
    extra: bool,
) -> Comparison {
    let mut out = Comparison::default();
    for (id, want) in expected {
        match server.get(id) {
            None => out.missing.push(id.clone()),
            Some(got) => {
                let differ = differing(want, got, fields);
                if differ.is_empty() {
                    out.matching += 1;
                } else {
                    out.different.push(Different {
                        supplier_id: id.clone(),
                        fields: differ,
                    });
                }
            }
        }
    }
    if extra {
        out.extra = server
            .keys()
            .filter(|id| !expected.contains_key(*id))
            .cloned()
            .collect();
    }
    out
}

/// The fields (API names) whose values differ.
fn differing(a: &Supplier, b: &Supplier, fields: &FieldMap) -> Vec<String> {
    let pairs: [(&str, bool); 7] = [
        ("supplier_id", a.supplier_id != b.supplier_id),
        ("name", a.name != b.name),
        ("country", a.country != b.country),
        ("status", a.status != b.status),
        ("contact_email", a.contact_email != b.contact_email),
        ("certifications", a.certifications != b.certifications),
        ("updated_at", a.updated_at != b.updated_at),
    ];
    pairs
        .iter()
        .filter(|(_, d)| *d)
        .map(|(f, _)| fields.api_name(f).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, name: &str) -> Supplier {
        Supplier {
            supplier_id: id.into(),
            name: name.into(),
            country: "DE".into(),
            status: "approved".into(),
            contact_email: "a@example.com".into(),
            certifications: vec!["ISO 9001".into()],
            updated_at: "2026-11-02T09:14:00Z".into(),
        }
    }

    fn map(recs: &[Supplier]) -> BTreeMap<String, Supplier> {
        recs.iter()
            .map(|r| (r.supplier_id.clone(), r.clone()))
            .collect()
    }

    #[test]
    fn equal_sets_agree() {
        let a = map(&[rec("A", "x"), rec("B", "y")]);
        let c = compare(&a, &a, &FieldMap::default(), true);
        assert!(c.agrees());
        assert_eq!(c.matching, 2);
        assert!(c.missing.is_empty() && c.different.is_empty() && c.extra.is_empty());
    }

    #[test]
    fn missing_different_and_extra_are_told_apart() {
        let want = map(&[rec("A", "x"), rec("B", "y"), rec("C", "z")]);
        let mut changed = rec("B", "other");
        changed.certifications.clear();
        let got = map(&[rec("A", "x"), changed, rec("D", "w")]);
        let c = compare(&want, &got, &FieldMap::default(), false);
        assert!(!c.agrees());
        assert_eq!(c.missing, vec!["C".to_string()]);
        assert_eq!(
            c.different,
            vec![Different {
                supplier_id: "B".into(),
                fields: vec!["name".into(), "certifications".into()],
            }]
        );
        assert_eq!(c.matching, 1);
        // Extras only when asked for.
        assert!(c.extra.is_empty());
        let c = compare(&want, &got, &FieldMap::default(), true);
        assert_eq!(c.extra, vec!["D".to_string()]);
    }

    #[test]
    fn extras_alone_are_no_disagreement() {
        let want = map(&[rec("A", "x")]);
        let got = map(&[rec("A", "x"), rec("Z", "z")]);
        let c = compare(&want, &got, &FieldMap::default(), true);
        assert!(c.agrees());
        assert_eq!(c.extra, vec!["Z".to_string()]);
    }

    #[test]
    fn differing_fields_carry_their_api_names() {
        let fields = FieldMap::parse(&["name=companyName".into()], &[]).unwrap();
        let want = map(&[rec("A", "x")]);
        let got = map(&[rec("A", "y")]);
        let c = compare(&want, &got, &fields, false);
        assert_eq!(c.different[0].fields, vec!["companyName".to_string()]);
    }
}
