//! The fix for a record that does not fit the field mapping: the `[api]` key the operator
//! edits (`fields`, entries `local=api`) with a line to paste, read from the client's
//! words for the misfit ("has no `email` (the record's `contact_email`)").

use crate::diagnose::verdict::{Fix, Who};

/// The record's field the answer lacked, and the API name it was looked for under when a
/// mapping renames it: `("contact_email", Some("email"))`.
fn missing(words: &str) -> Option<(String, Option<String>)> {
    let rest = &words[words.find("has no `")? + "has no `".len()..];
    let name = &rest[..rest.find('`')?];
    let after = &rest[name.len() + 1..];
    match after
        .strip_prefix(" (the record's `")
        .and_then(|r| r.split('`').next())
    {
        Some(local) => Some((local.to_string(), Some(name.to_string()))),
        None => Some((name.to_string(), None)),
    }
}

/// The fix for a first page whose record did not fit the field mapping (`words`: the
/// finding's error).
pub(super) fn fields_fix(words: &str) -> Fix {
    let Some((local, api)) = missing(words) else {
        return Fix {
            who: Who::SupsyncConfig,
            change: "A record of the first page does not fit the field mapping (the finding \
                     says which field and why): map the server's names to the record's under \
                     [api] with `fields = [\"<record field>=<the server's name>\"]`, or pick \
                     the api.preset the server speaks; `supsync config --check` validates the \
                     change."
                .to_string(),
        };
    };
    let looked = match &api {
        Some(api) => format!("under the name `{api}` that api.fields gives it"),
        None => "under its own name (api.fields does not rename it)".to_string(),
    };
    Fix {
        who: Who::SupsyncConfig,
        change: format!(
            "The record read has no `{local}`, looked for {looked}. If the server calls it \
             otherwise, map it under [api]: `fields = [\"{local}=<the server's name>\"]` \
             (one entry per renamed field, keeping the others); `supsync config --check` \
             validates the change. If only some records lack it, that is the data, not the \
             mapping: a run rejects those records into the rejects file and syncs the rest."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_field_is_advised_with_the_key_and_a_line_to_paste() {
        let own = "the server's answer did not fit the mapping: record 0 has no `contact_email`";
        assert_eq!(missing(own), Some(("contact_email".into(), None)));
        let fix = fields_fix(own);
        assert!(
            fix.change
                .contains("`fields = [\"contact_email=<the server's name>\"]`"),
            "{}",
            fix.change
        );
        assert!(fix.change.contains("under its own name"), "{}", fix.change);
        assert!(fix.change.contains("that is the data"), "{}", fix.change);

        let renamed = "record 2 has no `email` (the record's `contact_email`)";
        assert_eq!(
            missing(renamed),
            Some(("contact_email".into(), Some("email".into())))
        );
        let fix = fields_fix(renamed);
        assert!(
            fix.change
                .contains("under the name `email` that api.fields gives it"),
            "{}",
            fix.change
        );
        assert!(
            fix.change
                .contains("`fields = [\"contact_email=<the server's name>\"]`"),
            "{}",
            fix.change
        );

        let typed = "record 0 `name` must be text";
        assert_eq!(missing(typed), None);
        assert!(fields_fix(typed).change.contains("`fields = [\""));
    }
}
