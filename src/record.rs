//! The supplier record of docs/API.md §4 and its validation rules, shared by the client
//! (checked before sending) and the simulator (checked on receipt), so both agree.

use serde::{Deserialize, Serialize};

pub const STATUSES: [&str; 4] = ["approved", "conditional", "disqualified", "pending"];
pub const NAME_MAX_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supplier {
    pub supplier_id: String,
    pub name: String,
    pub country: String,
    pub status: String,
    pub contact_email: String,
    #[serde(default)]
    pub certifications: Vec<String>,
    pub updated_at: String,
}

/// The validated fields of a record, borrowed (the source scan checks every row of a
/// file without building a [`Supplier`] for each).
pub struct Fields<'a> {
    pub supplier_id: &'a str,
    pub name: &'a str,
    pub country: &'a str,
    pub status: &'a str,
    pub contact_email: &'a str,
    pub updated_at: &'a str,
}

/// Why a record is invalid, in words an operator can act on.
pub fn validate(s: &Supplier) -> Result<(), String> {
    validate_fields(&Fields {
        supplier_id: &s.supplier_id,
        name: &s.name,
        country: &s.country,
        status: &s.status,
        contact_email: &s.contact_email,
        updated_at: &s.updated_at,
    })
}

/// [`validate`] on borrowed fields.
pub fn validate_fields(s: &Fields<'_>) -> Result<(), String> {
    let id_ok = s
        .supplier_id
        .strip_prefix("SUP-")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    if !id_ok {
        return Err(format!(
            "supplier_id {:?} must be SUP- followed by digits",
            clip(s.supplier_id)
        ));
    }
    if s.name.trim().is_empty() {
        return Err("name is empty".into());
    }
    let name_len = s.name.chars().count();
    if name_len > NAME_MAX_CHARS {
        return Err(format!(
            "name has {name_len} characters, at most {NAME_MAX_CHARS} allowed"
        ));
    }
    if !is_country_code(s.country) {
        return Err(format!(
            "country {:?} is not an ISO 3166-1 alpha-2 code",
            clip(s.country)
        ));
    }
    if !STATUSES.contains(&s.status) {
        return Err(format!(
            "status {:?} is not one of {}",
            clip(s.status),
            STATUSES.join(", ")
        ));
    }
    if !is_plausible_email(s.contact_email) {
        return Err(format!(
            "contact_email {:?} is not a plausible address",
            clip(s.contact_email)
        ));
    }
    if chrono::DateTime::parse_from_rfc3339(s.updated_at).is_err() {
        return Err(format!(
            "updated_at {:?} is not an RFC 3339 timestamp",
            clip(s.updated_at)
        ));
    }
    Ok(())
}

/// Keeps error messages short when a field is huge (a 10 MB field must not become a 10 MB error).
fn clip(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

/// Officially assigned ISO 3166-1 alpha-2 codes, sorted (looked up by binary search: the
/// check runs for every record of every scan).
const COUNTRIES: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

pub fn is_country_code(c: &str) -> bool {
    c.len() == 2 && COUNTRIES.binary_search(&c).is_ok()
}

pub fn is_plausible_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Supplier {
        Supplier {
            supplier_id: "SUP-000123".into(),
            name: "Acme Castings Ltd".into(),
            country: "DE".into(),
            status: "approved".into(),
            contact_email: "quality@acme.example".into(),
            certifications: vec!["ISO 9001".into(), "IATF 16949".into()],
            updated_at: "2026-11-02T09:14:00Z".into(),
        }
    }

    #[test]
    fn country_codes_are_sorted_and_unique_for_the_binary_search() {
        assert!(COUNTRIES.windows(2).all(|w| w[0] < w[1]));
        assert!(is_country_code("AD") && is_country_code("ZW") && is_country_code("DE"));
        assert!(!is_country_code("XX") && !is_country_code("de") && !is_country_code("D"));
    }

    #[test]
    fn sample_is_valid() {
        assert_eq!(validate(&sample()), Ok(()));
    }

    #[test]
    fn each_rule_rejects_with_a_reason() {
        type Mutation = fn(&mut Supplier);
        let cases: Vec<(Mutation, &str)> = vec![
            (|s| s.supplier_id = "SUP-12a".into(), "supplier_id"),
            (|s| s.supplier_id = "SUP-".into(), "supplier_id"),
            (|s| s.name = "  ".into(), "name is empty"),
            (|s| s.name = "x".repeat(201), "at most 200"),
            (|s| s.country = "Germany".into(), "country"),
            (|s| s.country = "XX".into(), "country"),
            (|s| s.status = "active".into(), "status"),
            (|s| s.contact_email = "not-an-email".into(), "contact_email"),
            (|s| s.contact_email = "a@b".into(), "contact_email"),
            (|s| s.updated_at = "yesterday".into(), "updated_at"),
        ];
        for (mutate, expected) in cases {
            let mut s = sample();
            mutate(&mut s);
            let err = validate(&s).expect_err(expected);
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
    }

    #[test]
    fn huge_field_gives_short_error() {
        let mut s = sample();
        s.supplier_id = "X".repeat(10_000_000);
        let err = validate(&s).unwrap_err();
        assert!(err.len() < 200);
    }
}
