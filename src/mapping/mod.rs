//! The API mapping: how an operator's supplier API looks, as validated data. A preset
//! (`contract`, `data_rest`, `odata`) gives every key a value; the `[api]` keys of a config
//! (or `[api.mapping]` of a simulator profile) override them one by one. The client
//! (`api/`) turns a segment into requests and answers into per-record outcomes with it; the
//! simulator (`sim/`) serves the same mapping, so a style exists on both sides at once.
//! docs/API.md §6 describes the styles.

mod build;
pub mod fields;
pub mod item;
mod keys;
pub mod link;
#[cfg(test)]
mod none_tests;
pub mod pointer;
mod presets;
pub mod success;
pub mod template;
mod unused;

pub use fields::FieldMap;
pub use item::ItemTemplate;
pub use keys::{KEYS, KeyType, MappingError, MappingKeys};
pub use pointer::{Pointer, shape_of};
pub use presets::PRESETS;
pub use success::SuccessWhen;
pub use template::Template;
pub use unused::ignored_by_paging;

/// Everything the client and the simulator need to speak one API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiMapping {
    pub preset: String,
    pub push: Push,
    pub pull: Pull,
    pub fields: FieldMap,
    /// Header carrying the idempotency key; `None` when the API takes none.
    pub idempotency_header: Option<String>,
    pub answers: Answers,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub mode: PushMode,
    pub method: Method,
    /// Where requests go; for `per_record` a template naming the record.
    pub path: Template,
    /// Where the list of records (or sub-requests) sits in a batch body.
    pub envelope: Pointer,
    /// Where one record sits in its own body (`per_record`, and each sub-request).
    pub record_envelope: Pointer,
    /// Records per request (`batch`, `sub_requests`); a longer segment is split. 0: no cap.
    pub max_records: usize,
    /// Requests in flight per segment (`per_record`).
    pub concurrency: usize,
    /// How a batch answer reports each record; `None`: only the request's status counts.
    pub results: Option<Results>,
    /// Each sub-request's method and path (`sub_requests`).
    pub item_method: Method,
    pub item_path: Template,
    /// The shape of each sub-request (`api.batch_item`).
    pub item: ItemTemplate,
}

impl Push {
    /// Whether a record's 2xx answer means "created" whatever its status: a POST to a
    /// collection (per record or per sub-request) makes a new record. Elsewhere only a
    /// 201, or the answer's own word, says created.
    pub fn posts_to_collection(&self) -> bool {
        match self.mode {
            PushMode::PerRecord => self.method == Method::Post && !self.path.has_fields(),
            PushMode::SubRequests => {
                self.item_method == Method::Post && !self.item_path.has_fields()
            }
            PushMode::Batch => false,
        }
    }

    /// The path naming one record by its id, where the API has one (a per-record push's
    /// path, or a sub-request's): what `verify` reads per id on an API with no listing.
    pub fn item_path(&self) -> Option<&Template> {
        let t = match self.mode {
            PushMode::PerRecord => &self.path,
            PushMode::SubRequests => &self.item_path,
            PushMode::Batch => return None,
        };
        t.as_str().contains("{supplier_id}").then_some(t)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMode {
    /// One request per segment (or per `max_records`), a list of records.
    Batch,
    /// One request per record.
    PerRecord,
    /// One request per segment holding `{method, path, body}` items.
    SubRequests,
}

impl PushMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PushMode::Batch => "batch",
            PushMode::PerRecord => "per_record",
            PushMode::SubRequests => "sub_requests",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
    Patch,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
        }
    }

    fn parse(s: &str) -> Option<Method> {
        match s.to_ascii_uppercase().as_str() {
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "PATCH" => Some(Method::Patch),
            _ => None,
        }
    }
}

/// Where each record's result sits in a batch answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Results {
    /// The list of results, one per record, in the records' order unless `id` is set.
    pub list: Pointer,
    /// Inside one result: the record's id (results are matched by it), if given.
    pub id: Option<Pointer>,
    /// Inside one result: a word (`created`, `updated`, `unchanged`, `rejected`) or an
    /// HTTP status number.
    pub status: Pointer,
    pub error: Option<Pointer>,
}

/// Which answers mean what, beyond 2xx = done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    /// Per-record (and sub-request) statuses that reject that record, not the run.
    pub reject_statuses: Vec<u16>,
    /// Statuses worth another attempt (429 and 5xx always are).
    pub retry_statuses: Vec<u16>,
    /// Where a per-record answer says why it rejected.
    pub reject_reason: Option<Pointer>,
    /// An answer that means "this record is already there": counted as done (unchanged).
    pub already_exists: Option<AlreadyExists>,
    /// What a 2xx answer must look like to count as applied.
    pub success: SuccessWhen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadyExists {
    pub status: u16,
    /// Text the answer's body must contain too; `None`: the status alone says it.
    pub body_contains: Option<String>,
}

impl Answers {
    pub fn is_reject(&self, status: u16) -> bool {
        self.reject_statuses.contains(&status)
    }

    pub fn is_retryable(&self, status: u16) -> bool {
        status == 429 || (500..600).contains(&status) || self.retry_statuses.contains(&status)
    }

    pub fn is_already_there(&self, status: u16, body: &[u8]) -> bool {
        self.already_exists.as_ref().is_some_and(|a| {
            a.status == status
                && a.body_contains
                    .as_ref()
                    .is_none_or(|m| String::from_utf8_lossy(body).contains(m.as_str()))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub path: String,
    pub paging: Paging,
    /// Where the page's records are.
    pub records: Pointer,
    /// Where the total count is; `None`: the client counts by paging through.
    pub total: Option<Pointer>,
    /// The response header holding the total (`total = "header:Total-Records"`), in
    /// place of a body pointer.
    pub total_header: Option<String>,
    /// A boolean saying more pages follow; `None`: other stop rules decide.
    pub has_more: Option<Pointer>,
    /// The page-size parameter (`limit`, `$top`, `per_page`); `None`: the server decides.
    pub size_param: Option<String>,
    /// Records per page asked for; 0: the run's segment size.
    pub page_size: usize,
    /// Constant query parameters (`$count=true`).
    pub query: Vec<(String, String)>,
    /// The most pages read to count the records when the API states no total; a list
    /// that goes on past it is refused rather than paged through forever.
    pub max_pages: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    OffsetLimit { offset_param: String },
    Page { page_param: String, first: u64 },
    Cursor { param: String, from: Pointer },
    NextLink { from: LinkSource },
}

impl Paging {
    pub fn kind(&self) -> &'static str {
        match self {
            Paging::OffsetLimit { .. } => "offset_limit",
            Paging::Page { .. } => "page",
            Paging::Cursor { .. } => "cursor",
            Paging::NextLink { .. } => "next_link",
        }
    }

    /// A page can be asked for by its position (not only by following the previous one).
    pub fn is_positional(&self) -> bool {
        matches!(self, Paging::OffsetLimit { .. } | Paging::Page { .. })
    }
}

/// Where a next-page link is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkSource {
    Body(Pointer),
    /// RFC 8288 `Link: <…>; rel="next"`.
    LinkHeader,
    /// A vendor header holding the next page's URL.
    Header(String),
}

impl std::fmt::Display for LinkSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkSource::Body(p) => write!(f, "body {p}"),
            LinkSource::LinkHeader => f.write_str("Link header rel=next"),
            LinkSource::Header(h) => write!(f, "header {h}"),
        }
    }
}

impl ApiMapping {
    /// The mapping of `keys` (a preset plus overrides). `batch_path` is `api.batch_path`,
    /// the contract preset's path.
    pub fn build(keys: &MappingKeys, batch_path: &str) -> Result<ApiMapping, Vec<MappingError>> {
        build::build(keys, batch_path)
    }

    /// The contract of docs/API.md §3 (the default).
    pub fn contract(batch_path: &str) -> ApiMapping {
        match build::build(&MappingKeys::default(), batch_path) {
            Ok(m) => m,
            // The preset is checked by a unit test; reaching this is a build defect.
            Err(e) => unreachable!("the contract preset is invalid: {e:?}"),
        }
    }

    /// A few lines for `status` and `diagnose`: what is sent where, how pages are read.
    pub fn describe(&self) -> Vec<String> {
        let p = &self.push;
        let push = match p.mode {
            PushMode::Batch => format!(
                "push: batch, {} {} (records at {}{}), results {}",
                p.method.as_str(),
                p.path.as_str(),
                p.envelope,
                cap(p.max_records),
                p.results
                    .as_ref()
                    .map_or("by the request's status".to_string(), |r| format!(
                        "at {}",
                        r.list
                    )),
            ),
            PushMode::PerRecord => format!(
                "push: per record, {} {} (record at {}), {} in flight per segment",
                p.method.as_str(),
                p.path.as_str(),
                p.record_envelope,
                p.concurrency
            ),
            PushMode::SubRequests => format!(
                "push: sub-requests, POST {} (items at {}{}), each {} {} as {}",
                p.path.as_str(),
                p.envelope,
                cap(p.max_records),
                p.item_method.as_str(),
                p.item_path.as_str(),
                p.item.as_str()
            ),
        };
        let q = &self.pull;
        let paging = match &q.paging {
            Paging::OffsetLimit { offset_param } => format!("offset_limit ({offset_param})"),
            Paging::Page { page_param, first } => format!("page ({page_param} from {first})"),
            Paging::Cursor { param, from } => format!("cursor ({param} from {from})"),
            Paging::NextLink { from } => format!("next_link ({from})"),
        };
        let pull = format!(
            "pull: GET {}, {paging}, records at {}, total {}",
            q.path,
            q.records,
            match (&q.total, &q.total_header) {
                (Some(t), _) => format!("at {t}"),
                (None, Some(h)) => format!("in header {h}"),
                (None, None) => "counted by paging".to_string(),
            }
        );
        let idem = match &self.idempotency_header {
            Some(h) => format!("idempotency: header {h}"),
            None => "idempotency: none".to_string(),
        };
        let mut fields = if self.fields.renames().is_empty() {
            "fields: as named locally".to_string()
        } else {
            let r: Vec<String> = self
                .fields
                .renames()
                .iter()
                .map(|(l, a)| format!("{l}→{a}"))
                .collect();
            format!("fields: {}", r.join(", "))
        };
        if !self.fields.extras().is_empty() {
            let names: Vec<&str> = self
                .fields
                .extras()
                .iter()
                .map(|(k, _)| k.as_str())
                .collect();
            fields.push_str(&format!("; extra {}", names.join(", ")));
        }
        vec![format!("preset {}", self.preset), push, pull, idem, fields]
    }
}

fn cap(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", at most {n} per request")
    }
}

/// Server text shown in an error: control characters dropped, length capped.
pub fn clip(s: &str, max: usize) -> String {
    let cleaned: String = s.chars().filter(|c| !c.is_control()).take(max).collect();
    if s.chars().count() > max {
        format!("{cleaned}…")
    } else {
        cleaned
    }
}
