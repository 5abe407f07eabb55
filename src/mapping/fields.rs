//! Field mapping both ways: a record's local names ↔ the API's names, static extra fields
//! on push, and on pull only the record's own fields (server-added ones such as `etag` are
//! ignored unless mapped).

use serde_json::{Map, Value};

use crate::record::Supplier;

/// The record's fields (docs/API.md §4), in order.
pub const LOCAL_FIELDS: [&str; 7] = [
    "supplier_id",
    "name",
    "country",
    "status",
    "contact_email",
    "certifications",
    "updated_at",
];

/// The fields that hold text (a path template may use them).
pub const TEXT_FIELDS: [&str; 6] = [
    "supplier_id",
    "name",
    "country",
    "status",
    "contact_email",
    "updated_at",
];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldMap {
    /// (local, api) for renamed fields only.
    renames: Vec<(String, String)>,
    /// Constant fields added to every pushed record: (api name, value).
    extras: Vec<(String, String)>,
}

impl FieldMap {
    /// `renames` as `local=api` pairs, `extras` as `name=value`.
    pub fn parse(renames: &[String], extras: &[String]) -> Result<FieldMap, (usize, String)> {
        let mut map = FieldMap::default();
        for (i, r) in renames.iter().enumerate() {
            let (local, api) = split_pair(r).map_err(|e| (0, format!("entry {}: {e}", i + 1)))?;
            if !LOCAL_FIELDS.contains(&local) {
                return Err((
                    0,
                    format!(
                        "entry {}: `{local}` is not a record field; the fields are {}",
                        i + 1,
                        LOCAL_FIELDS.join(", ")
                    ),
                ));
            }
            if map.renames.iter().any(|(l, a)| l == local || a == api) {
                return Err((0, format!("entry {}: `{r}` maps a name twice", i + 1)));
            }
            map.renames.push((local.to_string(), api.to_string()));
        }
        for (i, e) in extras.iter().enumerate() {
            let (name, value) = split_pair(e).map_err(|e| (1, format!("entry {}: {e}", i + 1)))?;
            if map.api_names().any(|n| n == name) {
                return Err((
                    1,
                    format!(
                        "entry {}: `{name}` is already a record field's API name",
                        i + 1
                    ),
                ));
            }
            map.extras.push((name.to_string(), value.to_string()));
        }
        Ok(map)
    }

    /// The API's name for a local field.
    pub fn api_name<'a>(&'a self, local: &'a str) -> &'a str {
        self.renames
            .iter()
            .find(|(l, _)| l == local)
            .map_or(local, |(_, a)| a.as_str())
    }

    fn api_names(&self) -> impl Iterator<Item = &str> {
        LOCAL_FIELDS.iter().map(|f| self.api_name(f))
    }

    pub fn renames(&self) -> &[(String, String)] {
        &self.renames
    }

    pub fn extras(&self) -> &[(String, String)] {
        &self.extras
    }

    /// A record in the API's names, extras added.
    pub fn encode(&self, s: &Supplier) -> Value {
        let mut m = Map::new();
        let local = local_value(s);
        for f in LOCAL_FIELDS {
            if let Some(v) = local.get(f) {
                m.insert(self.api_name(f).to_string(), v.clone());
            }
        }
        for (k, v) in &self.extras {
            m.insert(k.clone(), Value::String(v.clone()));
        }
        Value::Object(m)
    }

    /// A record from the API's names. The error names the field, never its value.
    pub fn decode(&self, v: &Value) -> Result<Supplier, String> {
        let Value::Object(obj) = v else {
            return Err("is not an object".into());
        };
        let mut m = Map::new();
        for f in LOCAL_FIELDS {
            let api = self.api_name(f);
            let shown = if api == f {
                format!("`{f}`")
            } else {
                format!("`{api}` (the record's `{f}`)")
            };
            match obj.get(api) {
                Some(Value::String(s)) if f != "certifications" => {
                    m.insert(f.into(), Value::String(s.clone()));
                }
                Some(Value::Array(items)) if f == "certifications" => {
                    if !items.iter().all(Value::is_string) {
                        return Err(format!("{shown} must be a list of strings"));
                    }
                    m.insert(f.into(), Value::Array(items.clone()));
                }
                None | Some(Value::Null) if f == "certifications" => {}
                None => return Err(format!("has no {shown}")),
                Some(_) if f == "certifications" => {
                    return Err(format!("{shown} must be a list of strings"));
                }
                Some(_) => return Err(format!("{shown} must be text")),
            }
        }
        serde_json::from_value(Value::Object(m))
            .map_err(|_| "does not form a supplier record".into())
    }

    /// The text of a local field of a record (for path templates).
    pub fn text_of(s: &Supplier, field: &str) -> String {
        match field {
            "supplier_id" => s.supplier_id.clone(),
            "name" => s.name.clone(),
            "country" => s.country.clone(),
            "status" => s.status.clone(),
            "contact_email" => s.contact_email.clone(),
            "updated_at" => s.updated_at.clone(),
            _ => String::new(),
        }
    }
}

fn local_value(s: &Supplier) -> Map<String, Value> {
    match serde_json::to_value(s) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn split_pair(s: &str) -> Result<(&str, &str), String> {
    let (a, b) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` must be `name=value`"))?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() || b.is_empty() {
        return Err(format!("`{s}` needs a name on both sides of `=`"));
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec() -> Supplier {
        Supplier {
            supplier_id: "SUP-1".into(),
            name: "Acme".into(),
            country: "DE".into(),
            status: "approved".into(),
            contact_email: "a@acme.example".into(),
            certifications: vec!["ISO 9001".into()],
            updated_at: "2024-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn local_fields_are_the_records_fields() {
        let keys: Vec<String> = local_value(&rec()).keys().cloned().collect();
        let mut want: Vec<String> = LOCAL_FIELDS.iter().map(|s| s.to_string()).collect();
        let mut got = keys;
        want.sort();
        got.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn round_trip_with_renames_extras_and_server_fields() {
        let m = FieldMap::parse(
            &[
                "supplier_id=supplierNumber".into(),
                "name=displayName".into(),
            ],
            &["source=supsync".into()],
        )
        .unwrap();
        let v = m.encode(&rec());
        assert_eq!(v["supplierNumber"], json!("SUP-1"));
        assert_eq!(v["displayName"], json!("Acme"));
        assert_eq!(v["source"], json!("supsync"));
        assert!(v.get("supplier_id").is_none());
        let mut answer = v.clone();
        answer["etag"] = json!("W/\"1\"");
        answer["last_modified"] = json!("2024");
        assert_eq!(m.decode(&answer).unwrap(), rec());
    }

    #[test]
    fn decode_errors_name_fields_not_values() {
        let m = FieldMap::parse(&["supplier_id=supplierNumber".into()], &[]).unwrap();
        let e = m.decode(&json!({"supplier_id": "SUP-1"})).unwrap_err();
        assert!(
            e.contains("`supplierNumber` (the record's `supplier_id`)"),
            "{e}"
        );
        let mut v = m.encode(&rec());
        v["name"] = json!(42);
        let e = m.decode(&v).unwrap_err();
        assert!(
            e.contains("`name` must be text") && !e.contains("42"),
            "{e}"
        );
    }

    #[test]
    fn bad_pairs_are_refused() {
        assert!(
            FieldMap::parse(&["supplierId=x".into()], &[])
                .unwrap_err()
                .1
                .contains("not a record field")
        );
        assert!(FieldMap::parse(&["name".into()], &[]).is_err());
        assert!(FieldMap::parse(&["name=a".into(), "country=a".into()], &[]).is_err());
        assert_eq!(FieldMap::parse(&[], &["name=x".into()]).unwrap_err().0, 1);
    }
}
