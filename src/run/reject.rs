//! One record that was not applied, and why. The same value travels from the segment
//! worker to the rejects file (`<run dir>/rejects.jsonl`, one JSON line each) and to the
//! console's details pane; its serialized form is that file's line format.

use serde::{Deserialize, Serialize};

/// Who refused the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RejectOrigin {
    /// Failed local validation; never sent.
    Local,
    /// Sent, and answered `rejected` by the server.
    Server,
    /// Pulled, but the record did not fit the API mapping (a required field missing or of
    /// the wrong kind): the server sent it, it did not refuse anything.
    Mapping,
}

/// One record the server or local validation refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    pub segment: usize,
    /// Line in the source file (push); `None` when unknown (and for a pull).
    pub line: Option<u64>,
    pub supplier_id: String,
    pub reason: String,
    pub origin: RejectOrigin,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_the_rejects_file_line() {
        let r = Reject {
            segment: 2,
            line: Some(7),
            supplier_id: "SUP-7".into(),
            reason: "bad country".into(),
            origin: RejectOrigin::Local,
        };
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(
            line,
            r#"{"segment":2,"line":7,"supplier_id":"SUP-7","reason":"bad country","origin":"local"}"#
        );
        assert_eq!(serde_json::from_str::<Reject>(&line).unwrap(), r);
    }
}
