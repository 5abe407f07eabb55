//! What a pull has learnt of a chain of pages (cursors or next links): where each known
//! page starts and how to ask for it, so the chain is walked once, not once per segment;
//! and which cursor or link led where, so a chain that loops back is refused instead of
//! paged through forever.

use std::collections::{BTreeMap, HashMap};

use crate::record::Supplier;

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

/// One record of a page as read: decoded, or why it does not fit the mapping (its id and
/// the reason).
pub(super) type Item = Result<Supplier, (String, String)>;

/// One page as read, before it is cut to a segment's range.
#[derive(Debug, Clone)]
pub(super) struct Fetched {
    pub records: Vec<Item>,
    pub total: Option<u64>,
    pub more: Option<bool>,
    pub next: Option<Next>,
}

/// Pages kept for the segment whose records they hold: enough for the segments in flight
/// (one walking ahead reads its predecessor's page), few enough to stay small.
const AHEAD_PAGES: usize = 8;

#[derive(Debug, Default)]
pub(crate) struct Chain {
    /// The record offset a known page starts at → how to ask for it.
    at: BTreeMap<u64, Next>,
    /// Each cursor or link → the offset of the page it first led to.
    led_to: HashMap<String, u64>,
    /// Pages read by a segment that also hold another segment's records, by their offset,
    /// so that segment does not ask for them again.
    ahead: BTreeMap<u64, Fetched>,
    /// Pages the counting pass read (a pull whose API states no total), by their offset,
    /// each taken by the walk that needs it, so no page is fetched twice.
    counted: BTreeMap<u64, Fetched>,
    /// Records held in `counted`, bounded by [`COUNTED_RECORDS`].
    counted_records: usize,
}

/// The most records the counting pass keeps for the walks after it; pages past it are
/// read again (memory stays bounded on a very long list).
const COUNTED_RECORDS: usize = 200_000;

impl Chain {
    /// The known page starting nearest at or before `offset` (the start when none is).
    pub(crate) fn nearest(&self, offset: u64) -> (u64, Next) {
        self.at
            .range(..=offset)
            .next_back()
            .map_or((0, Next::Start), |(p, n)| (*p, n.clone()))
    }

    /// The page at `offset` when a walk already read it for another segment.
    pub(super) fn read_ahead(&self, offset: u64) -> Option<Fetched> {
        self.ahead.get(&offset).cloned()
    }

    /// Keeps a page the counting pass read, while the bound allows.
    pub(super) fn keep_counted(&mut self, offset: u64, page: Fetched) {
        let n = page.records.len();
        if self.counted_records + n <= COUNTED_RECORDS {
            self.counted_records += n;
            self.counted.insert(offset, page);
        }
    }

    /// The page at `offset` when the counting pass read it; it is handed out once.
    pub(super) fn take_counted(&mut self, offset: u64) -> Option<Fetched> {
        let page = self.counted.remove(&offset)?;
        self.counted_records -= page.records.len();
        Some(page)
    }

    /// The first `size` records of the page at `offset` the counting pass read (a positional
    /// pull asks for no more than that); the rest stay kept as the page after them.
    pub(super) fn take_counted_upto(&mut self, offset: u64, size: usize) -> Option<Fetched> {
        let mut page = self.take_counted(offset)?;
        if page.records.len() > size {
            let rest = Fetched {
                records: page.records.split_off(size),
                total: page.total,
                more: page.more,
                next: page.next.clone(),
            };
            // The part handed out is followed by the rest, whatever the page said.
            page.more = Some(true);
            self.keep_counted(offset + size as u64, rest);
        }
        Some(page)
    }

    /// Keeps a page that holds another segment's records too (the oldest go first).
    pub(super) fn keep_ahead(&mut self, offset: u64, page: Fetched) {
        self.ahead.insert(offset, page);
        while self.ahead.len() > AHEAD_PAGES {
            self.ahead.pop_first();
        }
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

/// Whether a query parameter's name says it carries a credential (`access_token`,
/// `api_key`, `X-Amz-Signature`, `sig`, `session_id`…): such a link is never journaled.
pub(super) fn names_a_credential(name: &str) -> bool {
    const WORDS: [&str; 17] = [
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "signature",
        "sig",
        "key",
        "apikey",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "session",
        "sessionid",
        "sid",
        "jwt",
    ];
    let lower = name.to_ascii_lowercase();
    lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| WORDS.contains(&w))
        || ["token", "secret", "passw", "apikey", "signature"]
            .iter()
            .any(|w| lower.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(after: u64) -> Next {
        Next::Link(reqwest::Url::parse(&format!("http://h/s?after={after}&limit=10")).unwrap())
    }

    #[test]
    fn parameters_named_like_credentials_are_recognised() {
        for n in [
            "access_token",
            "api_key",
            "apiKey",
            "X-Amz-Signature",
            "sig",
            "session_id",
            "auth",
            "refreshToken",
            "client_secret",
            "password",
        ] {
            assert!(names_a_credential(n), "{n}");
        }
        for n in [
            "after", "limit", "$skip", "$top", "cursor", "page", "offset", "sort",
        ] {
            assert!(!names_a_credential(n), "{n}");
        }
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
