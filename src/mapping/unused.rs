//! Keys of `[api]` that the chosen pagination never reads: accepted (a preset may set
//! them), but a key the operator wrote and that does nothing deserves a warning.

use super::{MappingKeys, Paging};

/// The keys set in `keys` that `paging` does not use, by name within `[api]`.
pub fn ignored_by_paging(keys: &MappingKeys, paging: &Paging) -> Vec<&'static str> {
    let offset = matches!(paging, Paging::OffsetLimit { .. });
    let page = matches!(paging, Paging::Page { .. });
    let cursor = matches!(paging, Paging::Cursor { .. });
    let link = matches!(paging, Paging::NextLink { .. });
    [
        ("offset_param", keys.offset_param.is_some() && !offset),
        ("page_param", keys.page_param.is_some() && !page),
        ("first_page", keys.first_page.is_some() && !page),
        ("cursor_param", keys.cursor_param.is_some() && !cursor),
        ("cursor", keys.cursor.is_some() && !cursor),
        ("next_link", keys.next_link.is_some() && !link),
    ]
    .into_iter()
    .filter(|(_, ignored)| *ignored)
    .map(|(key, _)| key)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_another_pagination_are_named() {
        let keys = MappingKeys {
            offset_param: Some("skip".into()),
            cursor: Some("/next".into()),
            ..MappingKeys::default()
        };
        let offset = Paging::OffsetLimit {
            offset_param: "skip".into(),
        };
        assert_eq!(ignored_by_paging(&keys, &offset), vec!["cursor"]);
        let page = Paging::Page {
            page_param: "page".into(),
            first: 1,
        };
        assert_eq!(
            ignored_by_paging(&keys, &page),
            vec!["offset_param", "cursor"]
        );
        assert!(ignored_by_paging(&MappingKeys::default(), &page).is_empty());
    }
}
