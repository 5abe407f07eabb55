//! The mapping's keys as written (all optional: an absent key takes the preset's value),
//! their types, and the error that names a key that cannot work. `build.rs` turns them
//! into an [`ApiMapping`](super::ApiMapping).

use serde::{Deserialize, Serialize};

/// The TOML type of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Text,
    Number,
    List,
}

/// Every mapping key, in the order `config.example.toml` documents them.
pub const KEYS: &[(&str, KeyType)] = &[
    ("preset", KeyType::Text),
    ("push_mode", KeyType::Text),
    ("push_method", KeyType::Text),
    ("push_path", KeyType::Text),
    ("push_envelope", KeyType::Text),
    ("record_envelope", KeyType::Text),
    ("push_max_records", KeyType::Number),
    ("push_concurrency", KeyType::Number),
    ("item_method", KeyType::Text),
    ("item_path", KeyType::Text),
    ("batch_item", KeyType::Text),
    ("results", KeyType::Text),
    ("result_id", KeyType::Text),
    ("result_status", KeyType::Text),
    ("result_error", KeyType::Text),
    ("idempotency_header", KeyType::Text),
    ("already_exists_status", KeyType::Number),
    ("already_exists_match", KeyType::Text),
    ("reject_statuses", KeyType::List),
    ("retry_statuses", KeyType::List),
    ("reject_reason", KeyType::Text),
    ("success_when", KeyType::List),
    ("pull_path", KeyType::Text),
    ("pagination", KeyType::Text),
    ("records", KeyType::Text),
    ("total", KeyType::Text),
    ("has_more", KeyType::Text),
    ("page_size_param", KeyType::Text),
    ("page_size", KeyType::Number),
    ("offset_param", KeyType::Text),
    ("page_param", KeyType::Text),
    ("first_page", KeyType::Number),
    ("cursor_param", KeyType::Text),
    ("cursor", KeyType::Text),
    ("next_link", KeyType::Text),
    ("pull_query", KeyType::List),
    ("max_pages", KeyType::Number),
    ("fields", KeyType::List),
    ("extra_fields", KeyType::List),
];

/// The keys as written; `None` takes the preset's value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingKeys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_envelope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_envelope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_max_records: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_concurrency: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_item: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub already_exists_status: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub already_exists_match: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject_statuses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_statuses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_when: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_more: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size_param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_page: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_query: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_fields: Option<Vec<String>>,
}

/// A key that cannot work, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingError {
    /// The key's name within `[api]`, e.g. `records`.
    pub key: &'static str,
    pub message: String,
}
