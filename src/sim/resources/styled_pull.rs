//! Pulls in another style (docs/API.md §6): the page a mapping asks for, by offset, page
//! number, cursor or next link (in the body or a header), with the records in the style's
//! envelope and field names.

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::mapping::{ApiMapping, LinkSource, Paging};
use crate::sim::api_quirks::ApiQuirk;
use crate::sim::reply;
use crate::sim::state::{Sim, lock};
use crate::sim::stats::Stats;
use crate::sim::styled::{AFTER, bad, outgoing};

pub(super) fn pull(sim: &Sim, m: &ApiMapping, uri: &Uri) -> Response {
    if sim.quirks.active(ApiQuirk::ErrorPage) {
        Stats::bump(&sim.stats.pull_pages);
        return crate::sim::api_quirks::error_page();
    }
    let q = &m.pull;
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let num = |name: &str| -> Result<Option<usize>, Response> {
        get(name)
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| bad(format!("{name} must be a whole number")))
            })
            .transpose()
    };
    let max = sim.profile.api.max_batch;
    let size = match q.size_param.as_deref().map(num) {
        Some(Err(r)) => return r,
        Some(Ok(Some(0))) => return bad("the page size must be at least 1"),
        Some(Ok(Some(n))) => n.min(max),
        _ => max,
    };
    let offset = match &q.paging {
        Paging::OffsetLimit { offset_param } => num(offset_param),
        Paging::Page { page_param, first } => num(page_param).and_then(|p| match p {
            Some(p) if (p as u64) < *first => Err(bad(format!("{page_param} starts at {first}"))),
            Some(p) => Ok(Some((p - *first as usize).saturating_mul(size))),
            None => Ok(None),
        }),
        Paging::Cursor { param, .. } => match get(param) {
            None => Ok(None),
            Some(c) => c
                .strip_prefix("c-")
                .and_then(|n| usize::from_str_radix(n, 16).ok())
                .map(Some)
                .ok_or_else(|| bad(format!("{param} is not a cursor this server gave"))),
        },
        Paging::NextLink { .. } => num(AFTER),
    };
    let offset = match offset {
        Ok(o) => o.unwrap_or(0),
        Err(r) => return r,
    };
    let chained = matches!(q.paging, Paging::Cursor { .. } | Paging::NextLink { .. });
    let endless = chained && sim.quirks.active(ApiQuirk::EndlessChain);
    let looping = chained && sim.quirks.active(ApiQuirk::LoopingChain);
    let ((page, total), from) = {
        let store = lock(&sim.store);
        // Past the end, an endless chain serves the list from its start again.
        let from = match store.len() {
            n if endless && n > 0 => offset % n,
            _ => sim.quirks.page_from(offset),
        };
        (store.page(from, size), from)
    };
    let end = offset + page.len();
    // Where the next link or cursor points: the next page, or (looping) this one again.
    let (more, next_at) = if end < total || (endless && !page.is_empty()) {
        (true, end)
    } else if looping && !page.is_empty() {
        (true, offset)
    } else {
        (false, end)
    };
    let mut records: Vec<Value> = page.iter().map(|s| outgoing(m, s)).collect();
    sim.quirks
        .strip_country(from, &mut records, m.fields.api_name("country"));
    let mut answer = q.records.wrap(Value::Array(records));
    if !q.records.is_root() {
        if let Some(t) = &q.total {
            let served = sim
                .stats
                .pull_pages
                .load(std::sync::atomic::Ordering::Relaxed);
            t.insert(
                &mut answer,
                json!(sim.quirks.stated_total(total as u64, served)),
            );
        }
        if let Some(h) = &q.has_more {
            h.insert(&mut answer, json!(more));
        }
    }
    let mut link = None;
    match &q.paging {
        Paging::Cursor { from, .. } if more && !from.is_root() => {
            from.insert(&mut answer, json!(format!("c-{next_at:x}")));
        }
        Paging::NextLink { from } if more => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair(AFTER, &next_at.to_string());
            if let Some(p) = &q.size_param {
                query.append_pair(p, &size.to_string());
            }
            for (k, v) in &q.query {
                query.append_pair(k, v);
            }
            let url = format!(
                "{}{}?{}",
                sim.profile.api.next_link_base.trim_end_matches('/'),
                q.path,
                query.finish()
            );
            match from {
                LinkSource::Body(p) => p.insert(&mut answer, json!(url)),
                LinkSource::LinkHeader => {
                    link = Some(("link".to_string(), format!("<{url}>; rel=\"next\"")))
                }
                LinkSource::Header(h) => link = Some((h.to_ascii_lowercase(), url)),
            }
        }
        _ => {}
    }
    let stated = q.total_header.as_ref().map(|h| {
        let served = sim
            .stats
            .pull_pages
            .load(std::sync::atomic::Ordering::Relaxed);
        (h.clone(), sim.quirks.stated_total(total as u64, served))
    });
    Stats::bump(&sim.stats.pull_pages);
    let mut resp = reply::json(StatusCode::OK, &answer);
    if let Some((name, n)) = stated
        && let Ok(name) = header::HeaderName::from_bytes(name.as_bytes())
    {
        resp.headers_mut().insert(name, HeaderValue::from(n));
    }
    if let Some((name, value)) = link
        && let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        )
    {
        resp.headers_mut().insert(n, v);
    }
    resp
}
