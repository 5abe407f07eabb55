//! The mapping's keys, over the preset's, validated into an [`ApiMapping`]. Every problem
//! names its key.

use super::keys::{MappingError, MappingKeys};
use super::presets::preset;
use super::{
    AlreadyExists, Answers, ApiMapping, FieldMap, LinkSource, Method, Paging, Pointer, Pull, Push,
    PushMode, Results, Template,
};

/// A value of `keys`, else the preset's.
macro_rules! pick {
    ($keys:expr, $preset:expr, $field:ident) => {
        $keys.$field.clone().or_else(|| $preset.$field.clone())
    };
}

struct Errors(Vec<MappingError>);

impl Errors {
    fn fail(&mut self, key: &'static str, message: impl Into<String>) {
        self.0.push(MappingError {
            key,
            message: message.into(),
        });
    }

    fn pointer(&mut self, key: &'static str, v: Option<String>) -> Pointer {
        match Pointer::parse(v.as_deref().unwrap_or("")) {
            Ok(p) => p,
            Err(e) => {
                self.fail(key, e);
                Pointer::root()
            }
        }
    }

    /// An envelope: `none` is no envelope (the root), as `""` is.
    fn envelope(&mut self, key: &'static str, v: Option<String>) -> Pointer {
        match v.as_deref() {
            Some("none") => Pointer::root(),
            _ => self.pointer(key, v),
        }
    }

    /// `none` (or absent) → `None`.
    fn opt_pointer(&mut self, key: &'static str, v: Option<String>) -> Option<Pointer> {
        match v.as_deref() {
            None | Some("none") => None,
            Some(_) => Some(self.pointer(key, v)),
        }
    }

    fn method(&mut self, key: &'static str, v: Option<String>) -> Method {
        let v = v.unwrap_or_else(|| "POST".into());
        Method::parse(&v).unwrap_or_else(|| {
            self.fail(key, format!("{v:?} is not one of POST, PUT, PATCH"));
            Method::Post
        })
    }

    fn template(&mut self, key: &'static str, v: Option<String>) -> Template {
        let v = v.unwrap_or_else(|| "/".into());
        Template::parse(&v).unwrap_or_else(|e| {
            self.fail(key, e);
            Template::parse("/").unwrap_or_else(|_| unreachable!("`/` is a template"))
        })
    }

    fn statuses(&mut self, key: &'static str, v: Option<Vec<String>>) -> Vec<u16> {
        let mut out = Vec::new();
        for s in v.unwrap_or_default() {
            match s.trim().parse::<u16>() {
                Ok(n) if (100..600).contains(&n) => out.push(n),
                _ => self.fail(key, format!("{s:?} is not an HTTP status (100 to 599)")),
            }
        }
        out
    }

    fn param(&mut self, key: &'static str, v: Option<String>) -> String {
        let v = v.unwrap_or_default();
        if v.is_empty()
            || v.chars()
                .any(|c| c.is_whitespace() || c.is_control() || "&=#".contains(c))
        {
            self.fail(key, format!("{v:?} is not a query parameter name"));
        }
        v
    }
}

pub(super) fn build(keys: &MappingKeys, batch_path: &str) -> Result<ApiMapping, Vec<MappingError>> {
    let mut e = Errors(Vec::new());
    let name = keys.preset.clone().unwrap_or_else(|| "contract".into());
    let p = match preset(&name, batch_path) {
        Some(p) => p,
        None => {
            e.fail(
                "preset",
                format!(
                    "{name:?} is not a preset; the presets are {}",
                    super::PRESETS.join(", ")
                ),
            );
            return Err(e.0);
        }
    };

    let mode = match pick!(keys, p, push_mode).as_deref() {
        Some("batch") => PushMode::Batch,
        Some("per_record") => PushMode::PerRecord,
        Some("sub_requests") => PushMode::SubRequests,
        other => {
            e.fail(
                "push_mode",
                format!(
                    "{:?} is not one of batch, per_record, sub_requests",
                    other.unwrap_or_default()
                ),
            );
            PushMode::Batch
        }
    };
    let method = e.method("push_method", pick!(keys, p, push_method));
    let path = e.template("push_path", pick!(keys, p, push_path));
    match mode {
        PushMode::PerRecord if !path.has_fields() && method != Method::Post => e.fail(
            "push_path",
            format!(
                "{} to {:?} names no record: per_record {} needs a path such as \
                 `/suppliers/{{supplier_id}}`",
                method.as_str(),
                path.as_str(),
                method.as_str()
            ),
        ),
        PushMode::Batch | PushMode::SubRequests if path.has_fields() => e.fail(
            "push_path",
            format!(
                "{:?} names a record field, but push_mode {} sends many records per request",
                path.as_str(),
                mode.as_str()
            ),
        ),
        _ => {}
    }
    let item_path = e.template("item_path", pick!(keys, p, item_path));
    let item_method = e.method("item_method", pick!(keys, p, item_method));
    if mode == PushMode::SubRequests && !item_path.has_fields() && item_method != Method::Post {
        e.fail(
            "item_path",
            format!(
                "{:?} names no record, but each sub-request {} needs one",
                item_path.as_str(),
                item_method.as_str()
            ),
        );
    }
    let item_text = pick!(keys, p, batch_item);
    let item =
        super::ItemTemplate::parse(item_text.as_deref().unwrap_or(super::item::DEFAULT_ITEM))
            .unwrap_or_else(|m| {
                e.fail("batch_item", m);
                super::ItemTemplate::parse(super::item::DEFAULT_ITEM)
                    .unwrap_or_else(|_| unreachable!("the default item is a template"))
            });
    let results_at = pick!(keys, p, results);
    let results = match results_at.as_deref() {
        Some("none") => None,
        _ => Some(Results {
            list: e.pointer("results", results_at),
            id: e.opt_pointer("result_id", pick!(keys, p, result_id)),
            status: e.pointer("result_status", pick!(keys, p, result_status)),
            error: e.opt_pointer("result_error", pick!(keys, p, result_error)),
        }),
    };
    if mode == PushMode::SubRequests && results.is_none() {
        e.fail(
            "results",
            "sub_requests answers need a results pointer, not `none`",
        );
    }
    let max_records = pick!(keys, p, push_max_records).unwrap_or(0);
    if max_records > 10_000 {
        e.fail(
            "push_max_records",
            format!("must be at most 10000, found {max_records}"),
        );
    }
    let concurrency = pick!(keys, p, push_concurrency).unwrap_or(4);
    if !(1..=64).contains(&concurrency) {
        e.fail(
            "push_concurrency",
            format!("must be between 1 and 64, found {concurrency}"),
        );
    }
    let push = Push {
        mode,
        method,
        path,
        envelope: e.envelope("push_envelope", pick!(keys, p, push_envelope)),
        record_envelope: e.envelope("record_envelope", pick!(keys, p, record_envelope)),
        max_records: usize::try_from(max_records).unwrap_or(usize::MAX),
        concurrency: usize::try_from(concurrency).unwrap_or(1),
        results,
        item_method,
        item_path,
        item,
    };

    let idempotency_header = match pick!(keys, p, idempotency_header) {
        None => None,
        Some(h) if h == "none" => None,
        Some(h) => {
            if h.is_empty()
                || !h
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
            {
                e.fail(
                    "idempotency_header",
                    format!("{h:?} is not a header name (letters, digits, `-`); or write `none`"),
                );
            }
            Some(h)
        }
    };
    let already = pick!(keys, p, already_exists_status).unwrap_or(0);
    let already_exists = match already {
        0 => None,
        s @ 100..=599 => Some(AlreadyExists {
            status: u16::try_from(s).unwrap_or(409),
            body_contains: pick!(keys, p, already_exists_match)
                .filter(|m| !m.is_empty() && m != "none"),
        }),
        s => {
            e.fail(
                "already_exists_status",
                format!("{s} is not an HTTP status; 0 turns it off"),
            );
            None
        }
    };
    let answers = Answers {
        reject_statuses: e.statuses("reject_statuses", pick!(keys, p, reject_statuses)),
        retry_statuses: e.statuses("retry_statuses", pick!(keys, p, retry_statuses)),
        reject_reason: e.opt_pointer("reject_reason", pick!(keys, p, reject_reason)),
        already_exists,
        success: match super::SuccessWhen::parse(
            &pick!(keys, p, success_when).unwrap_or_else(|| vec!["no_error".into()]),
        ) {
            Ok(w) => w,
            Err(why) => {
                e.fail("success_when", why);
                super::SuccessWhen::default()
            }
        },
    };
    if let Some(a) = &answers.already_exists
        && answers.reject_statuses.contains(&a.status)
        && a.body_contains.is_none()
    {
        e.fail(
            "already_exists_status",
            format!(
                "{} is also in reject_statuses; give already_exists_match to tell them apart",
                a.status
            ),
        );
    }

    if let Some(a) = &answers.already_exists
        && (200..300).contains(&a.status)
        && a.body_contains.is_none()
    {
        e.fail(
            "already_exists_status",
            format!(
                "{} is a success status; give already_exists_match to tell \"already there\" \
                 from an applied record",
                a.status
            ),
        );
    }

    let pull = build_pull(keys, &p, &mut e);
    let renames = pick!(keys, p, fields).unwrap_or_default();
    let extras = pick!(keys, p, extra_fields).unwrap_or_default();
    let fields = FieldMap::parse(&renames, &extras).unwrap_or_else(|(which, msg)| {
        e.fail(if which == 0 { "fields" } else { "extra_fields" }, msg);
        FieldMap::default()
    });
    if e.0.is_empty() {
        Ok(ApiMapping {
            preset: name,
            push,
            pull,
            fields,
            idempotency_header,
            answers,
        })
    } else {
        Err(e.0)
    }
}

fn build_pull(keys: &MappingKeys, p: &MappingKeys, e: &mut Errors) -> Pull {
    let path = pick!(keys, p, pull_path).unwrap_or_default();
    if let Err(why) = Template::parse(&path) {
        e.fail("pull_path", why);
    } else if path.contains('{') {
        e.fail("pull_path", format!("{path:?} must not name record fields"));
    }
    let paging = match pick!(keys, p, pagination).as_deref() {
        Some("offset_limit") => Paging::OffsetLimit {
            offset_param: e.param("offset_param", pick!(keys, p, offset_param)),
        },
        Some("page") => Paging::Page {
            page_param: e.param("page_param", pick!(keys, p, page_param)),
            first: match pick!(keys, p, first_page).unwrap_or(0) {
                f @ (0 | 1) => f,
                f => {
                    e.fail("first_page", format!("must be 0 or 1, found {f}"));
                    0
                }
            },
        },
        Some("cursor") => Paging::Cursor {
            param: e.param("cursor_param", pick!(keys, p, cursor_param)),
            from: e.pointer("cursor", pick!(keys, p, cursor)),
        },
        Some("next_link") => {
            let v = pick!(keys, p, next_link).unwrap_or_default();
            let from = if v.eq_ignore_ascii_case("link") {
                LinkSource::LinkHeader
            } else if let Some(h) = v.strip_prefix("header:") {
                if h.is_empty()
                    || !h
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
                {
                    e.fail("next_link", format!("{h:?} is not a header name"));
                }
                LinkSource::Header(h.to_string())
            } else {
                match Pointer::parse(&v) {
                    Ok(ptr) if !ptr.is_root() => LinkSource::Body(ptr),
                    _ => {
                        e.fail(
                            "next_link",
                            format!(
                                "{v:?} must be a body pointer (`/links/next`), `Link` (the RFC 8288 \
                                 header) or `header:NAME`"
                            ),
                        );
                        LinkSource::LinkHeader
                    }
                }
            };
            Paging::NextLink { from }
        }
        other => {
            e.fail(
                "pagination",
                format!(
                    "{:?} is not one of offset_limit, page, cursor, next_link",
                    other.unwrap_or_default()
                ),
            );
            Paging::OffsetLimit {
                offset_param: "offset".into(),
            }
        }
    };
    let size_param = match pick!(keys, p, page_size_param).as_deref() {
        None | Some("none") => None,
        Some(s) => Some(e.param("page_size_param", Some(s.to_string()))),
    };
    if size_param.is_none() && paging.is_positional() {
        e.fail(
            "page_size_param",
            format!(
                "{} paging needs a page-size parameter (e.g. `limit`)",
                paging.kind()
            ),
        );
    }
    let page_size = pick!(keys, p, page_size).unwrap_or(0);
    if page_size > 10_000 {
        e.fail(
            "page_size",
            format!("must be at most 10000, found {page_size}"),
        );
    }
    let max_pages = match pick!(keys, p, max_pages) {
        Some(0) => {
            e.fail(
                "max_pages",
                "must be at least 1: it is what ends a list of pages that never ends",
            );
            1
        }
        Some(n) => n,
        None => super::presets::DEFAULT_MAX_PAGES,
    };
    let mut query = Vec::new();
    for q in pick!(keys, p, pull_query).unwrap_or_default() {
        match q.split_once('=') {
            Some((k, v)) if !k.is_empty() => query.push((k.to_string(), v.to_string())),
            _ => e.fail("pull_query", format!("{q:?} must be `name=value`")),
        }
    }
    // `header:NAME`: the total in a response header (Kinto's `Total-Records`,
    // `X-Total-Count`), like `next_link`'s header form.
    let total = pick!(keys, p, total);
    let total_header = match total.as_deref().and_then(|t| t.strip_prefix("header:")) {
        Some(h)
            if !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) =>
        {
            Some(h.to_string())
        }
        Some(h) => {
            e.fail("total", format!("{h:?} is not a header name"));
            None
        }
        None => None,
    };
    Pull {
        path,
        records: e.pointer("records", pick!(keys, p, records)),
        total: e.opt_pointer("total", total.filter(|t| !t.starts_with("header:"))),
        total_header,
        has_more: e.opt_pointer("has_more", pick!(keys, p, has_more)),
        size_param,
        page_size: usize::try_from(page_size).unwrap_or(0),
        paging,
        query,
        max_pages,
    }
}
