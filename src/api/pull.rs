//! Pulling through the mapping: a range of the server's records as pages the API
//! understands — by offset, by page number, or by walking a chain of cursors or next
//! links (remembered by the offset they start at, so the chain is walked once). A link
//! off `api.base_url`'s origin is refused: the token never follows it.

use serde_json::Value;

use super::chain::{Fetched, Item, Next};
use super::client::Reply;
use super::push_read::{misfit, parse_body};
use super::{ApiClient, ApiError, Misfit, PullPage};
use crate::mapping::{LinkSource, Paging, clip, link, shape_of};

/// Where one request for a page points.
enum At {
    Offset(u64),
    Page(u64),
    Chain(Next),
}

/// A pull that cannot go on for a reason that is neither a refusal nor a misfit (a chain
/// that loops, a link off the origin): its message alone.
fn refused(message: String) -> ApiError {
    ApiError::Permanent { status: 0, message }
}

/// The page of a pull from the records read: misfits set apart, by their place.
fn page_of(items: Vec<Item>, total: Option<u64>, next_offset: Option<u64>) -> PullPage {
    let mut suppliers = Vec::with_capacity(items.len());
    let mut misfits = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        match item {
            Ok(s) => suppliers.push(s),
            Err((supplier_id, reason)) => misfits.push(Misfit {
                index,
                supplier_id,
                reason,
            }),
        }
    }
    PullPage {
        suppliers,
        misfits,
        total,
        next_offset,
    }
}

/// The whole number in response header `name`.
fn header_total(reply: &Reply, name: &str) -> Option<u64> {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

impl ApiClient {
    /// Up to `limit` records from `offset` of the server's list.
    pub async fn pull_page(&self, offset: u64, limit: usize) -> Result<PullPage, ApiError> {
        match self.mapping.pull.paging.is_positional() {
            true => self.positional(offset, limit, false).await,
            false => self.walk(offset, limit, false).await,
        }
    }

    /// Records `[offset, offset + limit)` paged by offset or page number. `counting`: the
    /// pass that counts a list without a stated total, whose pages are kept for the reads
    /// after it (each page is fetched once).
    async fn positional(
        &self,
        offset: u64,
        limit: usize,
        counting: bool,
    ) -> Result<PullPage, ApiError> {
        let limit = limit.max(1);
        let paging = &self.mapping.pull.paging;
        match paging {
            Paging::OffsetLimit { .. } => {
                // `api.page_size` bounds each request; the segment is read in as many
                // requests as that takes.
                let ps = match self.mapping.pull.page_size {
                    0 => limit,
                    n => n.min(limit),
                };
                let mut items = Vec::new();
                let mut total = None;
                let mut at = offset;
                loop {
                    let want = ps.min(limit - items.len());
                    let f = self.fetch_kept(At::Offset(at), at, want, counting).await?;
                    let n = f.records.len() as u64;
                    total = total.or(f.total);
                    let more = n > 0 && self.more_after(&f, at + n, n, want);
                    at += n;
                    items.extend(f.records);
                    if !more || items.len() >= limit {
                        return Ok(page_of(items, total, more.then_some(at)));
                    }
                }
            }
            Paging::Page { first, .. } => {
                let ps = self.pull_page_size() as u64;
                let (page, skip) = (offset / ps, offset % ps);
                let f = self
                    .fetch_kept(At::Page(first + page), page * ps, ps as usize, counting)
                    .await?;
                let n = f.records.len() as u64;
                let total = f.total;
                let page_more = n > 0 && self.more_after(&f, page * ps + n, n, ps as usize);
                let taken: Vec<Item> = f
                    .records
                    .into_iter()
                    .skip(usize::try_from(skip).unwrap_or(usize::MAX))
                    .take(limit)
                    .collect();
                let k = taken.len() as u64;
                let more = k > 0 && (skip + k < n || page_more);
                Ok(page_of(taken, total, more.then_some(offset + k)))
            }
            Paging::Cursor { .. } | Paging::NextLink { .. } => {
                self.walk(offset, limit, counting).await
            }
        }
    }

    /// The positional page of `size` records at record `pos`: taken from what the counting
    /// pass kept when it read it, else fetched (and kept, when counting).
    async fn fetch_kept(
        &self,
        at: At,
        pos: u64,
        size: usize,
        counting: bool,
    ) -> Result<Fetched, ApiError> {
        if !counting && let Some(f) = self.chain.lock().await.take_counted_upto(pos, size) {
            return Ok(f);
        }
        let f = self.fetch(at, size).await?;
        if counting {
            // Whether more follow is settled now, against the size asked for: a later
            // read may take part of this page, and a part is short without being the end.
            let n = f.records.len() as u64;
            let mut kept = f.clone();
            kept.more = Some(n > 0 && self.more_after(&f, pos + n, n, size));
            self.chain.lock().await.keep_counted(pos, kept);
        }
        Ok(f)
    }

    /// How many records a pull covers: the total the answer states, or (when the mapping
    /// reads none) a count made by paging through once.
    pub async fn pull_total(&self) -> Result<u64, ApiError> {
        let pull = &self.mapping.pull;
        if pull.total.is_some() || pull.total_header.is_some() {
            let first = match &pull.paging {
                Paging::OffsetLimit { .. } => At::Offset(0),
                Paging::Page { first, .. } => At::Page(*first),
                _ => At::Chain(Next::Start),
            };
            let size = if pull.paging.is_positional() {
                1
            } else {
                self.pull_page_size()
            };
            let reply = self.success(self.get_page(first, size).await?)?;
            if let Some(h) = &pull.total_header {
                return header_total(&reply, h).ok_or_else(|| {
                    refused(format!(
                        "the first page's answer has no {h} header holding a whole number \
                         (api.total = \"header:{h}\"); check the header's name, or set \
                         api.total = \"none\" to count by paging"
                    ))
                });
            }
            let answer = parse_body(&reply.body)?;
            let at = pull
                .total
                .as_ref()
                .unwrap_or_else(|| unreachable!("checked above"));
            return number(at.get(&answer)).ok_or_else(|| misfit("total pointer", at, &answer));
        }
        let mut count = 0u64;
        let mut pages = 0u64;
        loop {
            // Nothing else ends a list that never does: no total to stop at.
            if pages >= pull.max_pages {
                return Err(refused(format!(
                    "the server still gives more pages after {pages} pages ({count} records) \
                     and states no total: a pull reads at most api.max_pages = {} pages to \
                     count the records; if the list is really that long raise api.max_pages, \
                     and if the API states a total map it (api.total)",
                    pull.max_pages
                )));
            }
            // The pages read here are kept for the segments' reads: each is fetched once.
            let page = match pull.paging.is_positional() {
                true => self.positional(count, self.pull_page_size(), true).await?,
                false => self.walk(count, self.pull_page_size(), true).await?,
            };
            pages += 1;
            count += page.len() as u64;
            match page.next_offset {
                Some(n) if n > count.saturating_sub(1) && !page.is_empty() => {}
                _ => return Ok(count),
            }
        }
    }

    /// The mapping in use, for `status` and `diagnose`.
    pub fn mapping(&self) -> &crate::mapping::ApiMapping {
        &self.mapping
    }

    /// Whether a pull can start at any record (paged by offset or page number), and the
    /// paging's name as `api.pagination` spells it.
    pub fn pull_paging(&self) -> (bool, &'static str) {
        let p = &self.mapping.pull.paging;
        (p.is_positional(), p.kind())
    }

    /// Records a pull asks for in one page.
    pub fn pull_page_size(&self) -> usize {
        match self.mapping.pull.page_size {
            0 => self.page_size,
            n => n,
        }
    }

    /// Whether pages follow one that ended at `end` with `n` of `asked` records.
    fn more_after(&self, f: &Fetched, end: u64, n: u64, asked: usize) -> bool {
        if let Some(more) = f.more {
            return more;
        }
        if let Some(total) = f.total {
            return end < total;
        }
        n >= asked as u64
    }

    /// Records `[offset, offset + limit)` of a chain of pages. `counting`: the pass that
    /// counts a list without a stated total, whose pages are kept for the walks after it.
    async fn walk(&self, offset: u64, limit: usize, counting: bool) -> Result<PullPage, ApiError> {
        let ps = self.pull_page_size();
        // One walker at a time: a chain is sequential by nature, and the next segment
        // starts where this one leaves a cursor.
        let mut chain = self.chain.lock().await;
        let (mut pos, mut at) = chain.nearest(offset);
        let mut got = Vec::new();
        let mut total = None;
        loop {
            chain.check(pos, &at).map_err(refused)?;
            let f = match chain.read_ahead(pos) {
                Some(f) => f,
                None => {
                    let f = match chain.take_counted(pos) {
                        Some(f) => f,
                        None => self.fetch(At::Chain(at), ps).await?,
                    };
                    if counting {
                        chain.keep_counted(pos, f.clone());
                    }
                    // Records of another segment's range on it: keep it for that one.
                    let end = pos + f.records.len() as u64;
                    if !counting && (pos < offset || end > offset + limit as u64) {
                        chain.keep_ahead(pos, f.clone());
                    }
                    f
                }
            };
            total = f.total.or(total);
            let n = f.records.len() as u64;
            let end = pos + n;
            let next = if n == 0 || f.more == Some(false) {
                None
            } else {
                f.next
            };
            if let Some(next) = &next {
                chain.learn(end, next.clone());
            }
            let from = offset + got.len() as u64;
            if end > from {
                let skip = usize::try_from(from.saturating_sub(pos)).unwrap_or(usize::MAX);
                let want = limit - got.len();
                got.extend(f.records.into_iter().skip(skip).take(want));
            }
            let rest_on_page = end > offset + got.len() as u64;
            match next {
                Some(next) if got.len() < limit => {
                    pos = end;
                    at = next;
                }
                Some(_) => {
                    let next = offset + got.len() as u64;
                    return Ok(page_of(got, total, Some(next)));
                }
                None => {
                    let k = got.len() as u64;
                    return Ok(page_of(
                        got,
                        total,
                        (rest_on_page && k > 0).then_some(offset + k),
                    ));
                }
            }
        }
    }

    async fn fetch(&self, at: At, size: usize) -> Result<Fetched, ApiError> {
        let reply = self.success(self.get_page(at, size).await?)?;
        self.read_page(reply)
    }

    /// A page answered 2xx with an error body (`api.success_when`) is no page: the error
    /// says so, with the rule that would tell such answers apart, instead of a misfit
    /// that blames the records pointer.
    fn success(&self, reply: Reply) -> Result<Reply, ApiError> {
        if self.mapping.answers.success.fits(&reply.body) {
            Ok(reply)
        } else {
            Err(super::error_body::error_body(
                reply.status,
                &reply.body,
                &self.redactor,
            ))
        }
    }

    async fn get_page(&self, at: At, size: usize) -> Result<Reply, ApiError> {
        let pull = &self.mapping.pull;
        let mut query: Vec<(String, String)> = pull.query.clone();
        let url = match at {
            At::Chain(Next::Link(url)) => {
                // The link carries its own parameters.
                return self.call_reading(self.http.get(url), &|_| false).await;
            }
            At::Offset(o) => {
                if let Paging::OffsetLimit { offset_param } = &pull.paging {
                    query.push((offset_param.clone(), o.to_string()));
                }
                self.url(&pull.path)
            }
            At::Page(p) => {
                if let Paging::Page { page_param, .. } = &pull.paging {
                    query.push((page_param.clone(), p.to_string()));
                }
                self.url(&pull.path)
            }
            At::Chain(Next::Cursor(c)) => {
                if let Paging::Cursor { param, .. } = &pull.paging {
                    query.push((param.clone(), c));
                }
                self.url(&pull.path)
            }
            At::Chain(Next::Start) => self.url(&pull.path),
        };
        if let Some(p) = &pull.size_param {
            query.push((p.clone(), size.to_string()));
        }
        self.call_reading(self.http.get(url).query(&query), &|_| false)
            .await
    }

    fn read_page(&self, reply: Reply) -> Result<Fetched, ApiError> {
        let pull = &self.mapping.pull;
        let answer = parse_body(&reply.body)?;
        let list = pull
            .records
            .get(&answer)
            .and_then(Value::as_array)
            .ok_or_else(|| misfit("records pointer", &pull.records, &answer))?;
        // A record that does not fit is that record's problem (another client wrote it
        // without a field the mapping needs), not the page's: it becomes a reject.
        let id_name = self.mapping.fields.api_name("supplier_id");
        let records = list
            .iter()
            .map(|item| {
                self.mapping.fields.decode(item).map_err(|why| {
                    let id = item.get(id_name).and_then(Value::as_str).unwrap_or("");
                    (clip(id, 64), why)
                })
            })
            .collect();
        let total = match &pull.total_header {
            Some(h) => header_total(&reply, h),
            None => pull.total.as_ref().and_then(|p| number(p.get(&answer))),
        };
        let more = pull
            .has_more
            .as_ref()
            .and_then(|p| p.get(&answer))
            .and_then(Value::as_bool);
        let next = match &pull.paging {
            Paging::OffsetLimit { .. } | Paging::Page { .. } => None,
            Paging::Cursor { from, .. } => match from.get(&answer) {
                Some(Value::String(c)) if !c.is_empty() => Some(Next::Cursor(c.clone())),
                Some(Value::Number(n)) => Some(Next::Cursor(n.to_string())),
                _ => None,
            },
            Paging::NextLink { from } => {
                let raw = match from {
                    LinkSource::Body(p) => p.get(&answer).and_then(Value::as_str).map(String::from),
                    LinkSource::LinkHeader => {
                        let mut found = None;
                        for v in reply.headers.get_all(reqwest::header::LINK) {
                            let text = v.to_str().map_err(|_| {
                                refused("the Link header is not visible ASCII".into())
                            })?;
                            found = link::next_target(text).map_err(|e| {
                                refused(format!("the Link header does not parse: {e}"))
                            })?;
                            if found.is_some() {
                                break;
                            }
                        }
                        found
                    }
                    LinkSource::Header(h) => reply
                        .headers
                        .get(h.as_str())
                        .and_then(|v| v.to_str().ok())
                        .map(String::from),
                };
                match raw.filter(|s| !s.trim().is_empty()) {
                    Some(l) => Some(Next::Link(self.follow(&reply.url, &l, &answer)?)),
                    None => None,
                }
            }
        };
        Ok(Fetched {
            records,
            total,
            more,
            next,
        })
    }

    /// A next link, absolute or relative to the page it came in, on the configured
    /// origin only.
    fn follow(
        &self,
        page: &reqwest::Url,
        link: &str,
        answer: &Value,
    ) -> Result<reqwest::Url, ApiError> {
        let url = page
            .join(link.trim())
            .map_err(|_| refused(format!("the next link is not a URL; {}", shape_of(answer))))?;
        on_origin(&self.base, url).map_err(refused)
    }
}

/// A next link is followed only over http(s) on the base URL's origin. The scheme is
/// named first: a `file:` or `data:` URL has no origin to name ("null").
fn on_origin(base: &reqwest::Url, url: reqwest::Url) -> Result<reqwest::Url, String> {
    let origin = base.origin().ascii_serialization();
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "refused to follow a next link with scheme {:?}; only http(s) links on \
             api.base_url's origin ({origin}) are followed",
            clip(url.scheme(), 40)
        ));
    }
    if url.origin() != base.origin() {
        return Err(format!(
            "refused to follow a next link to {}: it is not on api.base_url's origin \
             ({origin}), and the access token never leaves that origin",
            clip(&url.origin().ascii_serialization(), 80),
        ));
    }
    Ok(url)
}

/// A count as a number or a numeric string.
fn number(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_next_link_off_http_names_its_scheme_not_a_null_origin() {
        let base = reqwest::Url::parse("http://127.0.0.1:8080/api/v1/").unwrap();
        let page = base.join("suppliers?page=2").unwrap();
        let at = |link: &str| on_origin(&base, page.join(link).unwrap());
        let e = at("file:///etc/passwd").unwrap_err();
        assert!(
            e.contains("a next link with scheme \"file\"; ")
                && e.contains(
                    "only http(s) links on api.base_url's origin (http://127.0.0.1:8080)"
                ),
            "{e}"
        );
        assert!(!e.contains("null"), "{e}");
        let e = at("http://169.254.169.254/latest").unwrap_err();
        assert!(e.contains("next link to http://169.254.169.254"), "{e}");
        assert_eq!(
            at("/api/v1/suppliers?page=3").unwrap().as_str(),
            "http://127.0.0.1:8080/api/v1/suppliers?page=3"
        );
    }
}
