//! A point of a walked chain of pages, for the journal: the client gives one for a
//! finished segment and takes them back on resume, so a resumed pull need not walk the
//! chain again from its start.

use crate::mapping::Paging;

use super::ApiClient;
use super::chain::{Next, names_a_credential};

/// A point of the chain handed to the engine to journal, and back on resume: the page
/// starting at record `offset` is asked for with `next` (a cursor, or a next link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainPoint {
    pub offset: u64,
    pub next: String,
}

impl ApiClient {
    /// The known chain point nearest at or before record `end`, to journal with a finished
    /// segment so a resumed pull starts there. `None` for APIs paged by position, and for
    /// a link that could carry a credential (a parameter named like one, or a secret this
    /// process knows): the journal never holds one, and a resume walks from further back.
    pub async fn chain_point(&self, end: u64) -> Option<ChainPoint> {
        let (offset, next) = self.chain.lock().await.nearest(end);
        let text = match &next {
            Next::Start => return None,
            Next::Cursor(c) => c.clone(),
            Next::Link(url) => {
                if url.query_pairs().any(|(k, _)| names_a_credential(&k)) {
                    return None;
                }
                url.to_string()
            }
        };
        (self.redactor.redact(&text) == text).then_some(ChainPoint { offset, next: text })
    }

    /// Seeds the chain with points a finished run journaled (a resume); returns how many
    /// were taken. A link off `api.base_url`'s origin (the run was moved with
    /// `--force-destination`) or a point of another paging kind is left out: the walk
    /// then starts from an earlier point, never from a link the token must not follow.
    pub async fn resume_chain(&self, points: impl IntoIterator<Item = ChainPoint>) -> usize {
        let mut chain = self.chain.lock().await;
        let mut taken = 0;
        for p in points {
            let next = match &self.mapping.pull.paging {
                Paging::Cursor { .. } => Next::Cursor(p.next),
                Paging::NextLink { .. } => match reqwest::Url::parse(&p.next) {
                    Ok(url) if url.origin() == self.base.origin() => Next::Link(url),
                    _ => continue,
                },
                Paging::OffsetLimit { .. } | Paging::Page { .. } => continue,
            };
            chain.learn(p.offset, next);
            taken += 1;
        }
        taken
    }
}
