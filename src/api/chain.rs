//! What a pull has learnt of a chain of pages (cursors or next links): where each known
//! page starts and how to ask for it, so the chain is walked once, not once per segment;
//! and which cursor or link led where, so a chain that loops back is refused instead of
//! paged through forever.

use std::collections::{BTreeMap, HashMap};

/// Where a page of a chain is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    Start,
    Cursor(String),
    Link(reqwest::Url),
}

impl Next {
    /// The cursor or link as the server gave it (`None` for the start).
    fn text(&self) -> Option<&str> {
        match self {
            Next::Start => None,
            Next::Cursor(c) => Some(c),
            Next::Link(u) => Some(u.as_str()),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Chain {
    /// The record offset a known page starts at → how to ask for it.
    at: BTreeMap<u64, Next>,
    /// Each cursor or link → the offset of the page it first led to.
    led_to: HashMap<String, u64>,
}

impl Chain {
    /// The known page starting nearest at or before `offset` (the start when none is).
    pub(crate) fn nearest(&self, offset: u64) -> (u64, Next) {
        self.at
            .range(..=offset)
            .next_back()
            .map_or((0, Next::Start), |(p, n)| (*p, n.clone()))
    }

    /// The page at `offset` is asked for with `next`.
    pub(crate) fn learn(&mut self, offset: u64, next: Next) {
        if let Some(t) = next.text() {
            self.led_to.entry(t.to_string()).or_insert(offset);
        }
        self.at.insert(offset, next);
    }

    /// Refuses to follow `next` to the page at `offset` when it already led to another
    /// page: the same cursor or link again means the server's chain loops back, and
    /// following it would read the same records again, for ever.
    pub(crate) fn check(&self, offset: u64, next: &Next) -> Result<(), String> {
        let Some(text) = next.text() else {
            return Ok(());
        };
        match self.led_to.get(text) {
            Some(&first) if first != offset => Err(format!(
                "the server's chain of pages loops: the {what} given for the page at record \
                 {offset} is the one it gave for the page at record {first}, so following it \
                 would read the same records again and never end (either the API's paging is \
                 broken, or its {what} names a server-side session rather than a page, which \
                 supsync cannot walk); map the server's total (api.total) if it states one, \
                 or ask its operators",
                what = match next {
                    Next::Link(_) => "next link",
                    _ => "cursor",
                },
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(after: u64) -> Next {
        Next::Link(reqwest::Url::parse(&format!("http://h/s?after={after}&limit=10")).unwrap())
    }

    #[test]
    fn a_walked_chain_is_found_again_from_any_offset() {
        let mut c = Chain::default();
        assert_eq!(c.nearest(25), (0, Next::Start));
        c.learn(10, link(10));
        c.learn(20, link(20));
        assert_eq!(c.nearest(25), (20, link(20)));
        assert_eq!(c.nearest(20), (20, link(20)));
        assert_eq!(c.nearest(19), (10, link(10)));
        assert_eq!(c.nearest(3), (0, Next::Start));
    }

    #[test]
    fn a_link_that_led_elsewhere_is_a_loop() {
        let mut c = Chain::default();
        c.learn(10, link(10));
        // The same link for the same page (a page read again) is no loop.
        assert!(c.check(10, &link(10)).is_ok());
        c.learn(10, link(10));
        assert!(c.check(20, &link(20)).is_ok());
        // The last page links to itself.
        let e = c.check(20, &link(10)).unwrap_err();
        assert!(e.contains("loops") && e.contains("record 10"), "{e}");
        assert!(e.contains("next link"), "{e}");
        let mut c = Chain::default();
        c.learn(5, Next::Cursor("abc".into()));
        let e = c.check(15, &Next::Cursor("abc".into())).unwrap_err();
        assert!(e.contains("cursor"), "{e}");
        assert!(c.check(15, &Next::Start).is_ok());
    }
}
