//! The supplier records the server holds (generated ones plus pushed ones) and the
//! idempotency keys of past pushes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::watch;

use crate::record::{Supplier, validate};

/// What one pushed element did to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteEffect {
    Created,
    Updated,
    Unchanged,
    Rejected,
}

impl WriteEffect {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteEffect::Created => "created",
            WriteEffect::Updated => "updated",
            WriteEffect::Unchanged => "unchanged",
            WriteEffect::Rejected => "rejected",
        }
    }
}

/// Keys are kept at least 24 h (docs/API.md §3.5); a little over, so a client retrying at the
/// 24 h mark still gets its replay.
const KEY_RETENTION: Duration = Duration::from_secs(25 * 3600);

/// The first answer to an idempotency key, replayed byte for byte.
pub type StoredAnswer = Arc<String>;

enum KeyState {
    /// The first request is still working; later ones wait for its answer.
    Pending(watch::Receiver<Option<StoredAnswer>>),
    Done(StoredAnswer),
}

struct KeyEntry {
    body_hash: [u8; 32],
    at: Instant,
    state: KeyState,
}

/// What to do with a push carrying an idempotency key.
pub enum IdempotencyCheck {
    /// New key: do the work, then `complete` the ticket.
    Fresh(KeyTicket),
    Replay(StoredAnswer),
    /// Same key, still in progress: wait for this.
    Wait(watch::Receiver<Option<StoredAnswer>>),
    /// Same key, different body.
    Conflict,
}

/// Completes a fresh key with its answer. Dropped without completing (the work failed),
/// waiters are told, and the next request with the key starts afresh.
pub struct KeyTicket {
    key: (String, String),
    tx: watch::Sender<Option<StoredAnswer>>,
}

pub struct Store {
    suppliers: BTreeMap<String, Supplier>,
    keys: HashMap<(String, String), KeyEntry>,
    keys_at_last_prune: usize,
}

/// One pushed element after the checks that need no store: the record, or why not.
pub enum Checked {
    Valid(Supplier),
    Rejected { id: String, reason: String },
}

/// Parses and validates one pushed element, and applies the server's own policy
/// (`blocked_countries`). No lock needed: done before the work time ends.
pub fn check(element: &serde_json::Value, blocked_countries: &[String]) -> Checked {
    let claimed_id = || {
        element
            .get("supplier_id")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let rec: Supplier = match Supplier::deserialize(element) {
        Ok(r) => r,
        Err(e) => {
            return Checked::Rejected {
                id: claimed_id(),
                reason: format!("not a supplier record: {e}"),
            };
        }
    };
    if let Err(reason) = validate(&rec) {
        return Checked::Rejected {
            id: claimed_id(),
            reason,
        };
    }
    if blocked_countries.contains(&rec.country) {
        return Checked::Rejected {
            id: claimed_id(),
            reason: format!(
                "country {} is blocked by this server's supplier policy",
                rec.country
            ),
        };
    }
    Checked::Valid(rec)
}

impl Store {
    pub fn new(generated: u64) -> Self {
        let suppliers = (1..=generated)
            .map(generated_record)
            .map(|s| (s.supplier_id.clone(), s))
            .collect();
        Self {
            suppliers,
            keys: HashMap::new(),
            keys_at_last_prune: 0,
        }
    }

    /// Checks and stores one pushed element in one go (the server splits the two).
    #[cfg(test)]
    pub fn apply(&mut self, element: &serde_json::Value) -> (String, WriteEffect, Option<String>) {
        match check(element, &[]) {
            Checked::Valid(rec) => {
                let id = rec.supplier_id.clone();
                (id, self.upsert(rec), None)
            }
            Checked::Rejected { id, reason } => (id, WriteEffect::Rejected, Some(reason)),
        }
    }

    /// Stores a checked record: created, updated, or unchanged when it is identical.
    pub fn upsert(&mut self, rec: Supplier) -> WriteEffect {
        let outcome = match self.suppliers.get(&rec.supplier_id) {
            None => WriteEffect::Created,
            Some(old) if *old == rec => WriteEffect::Unchanged,
            Some(_) => WriteEffect::Updated,
        };
        if outcome != WriteEffect::Unchanged {
            self.suppliers.insert(rec.supplier_id.clone(), rec);
        }
        outcome
    }

    /// A page of records in `supplier_id` order, and the total held.
    pub fn page(&self, offset: usize, limit: usize) -> (Vec<Supplier>, usize) {
        let page = self
            .suppliers
            .values()
            .skip(offset)
            .take(limit)
            .cloned()
            .collect();
        (page, self.suppliers.len())
    }

    pub fn contains(&self, supplier_id: &str) -> bool {
        self.suppliers.contains_key(supplier_id)
    }

    pub fn get(&self, supplier_id: &str) -> Option<Supplier> {
        self.suppliers.get(supplier_id).cloned()
    }

    pub fn len(&self) -> usize {
        self.suppliers.len()
    }

    /// Looks up (and if new, reserves) `key` of `client` for a body with `body_hash`.
    pub fn check_key(
        &mut self,
        client: &str,
        key: &str,
        body_hash: [u8; 32],
        now: Instant,
    ) -> IdempotencyCheck {
        self.prune_keys(now);
        let k = (client.to_string(), key.to_string());
        // A pending key whose worker vanished (its sender dropped) starts afresh.
        let orphaned = self.keys.get(&k).is_some_and(
            |e| matches!(&e.state, KeyState::Pending(rx) if rx.has_changed().is_err()),
        );
        if orphaned {
            self.keys.remove(&k);
        }
        if let Some(e) = self.keys.get(&k) {
            if e.body_hash != body_hash {
                return IdempotencyCheck::Conflict;
            }
            return match &e.state {
                KeyState::Done(a) => IdempotencyCheck::Replay(Arc::clone(a)),
                KeyState::Pending(rx) => IdempotencyCheck::Wait(rx.clone()),
            };
        }
        let (tx, rx) = watch::channel(None);
        self.keys.insert(
            k.clone(),
            KeyEntry {
                body_hash,
                at: now,
                state: KeyState::Pending(rx),
            },
        );
        IdempotencyCheck::Fresh(KeyTicket { key: k, tx })
    }

    /// Records the first answer of a fresh key and wakes requests waiting on it.
    pub fn complete(&mut self, ticket: KeyTicket, answer: StoredAnswer) {
        if let Some(e) = self.keys.get_mut(&ticket.key) {
            e.state = KeyState::Done(Arc::clone(&answer));
        }
        // Nobody waiting is fine: the answer is stored for later replays.
        let _ = ticket.tx.send(Some(answer));
    }

    fn prune_keys(&mut self, now: Instant) {
        if self.keys.len() < self.keys_at_last_prune * 2 + 1024 {
            return;
        }
        self.keys
            .retain(|_, e| now.saturating_duration_since(e.at) < KEY_RETENTION);
        self.keys_at_last_prune = self.keys.len();
    }
}

const NAMES: [&str; 8] = [
    "Acme Castings",
    "Nordic Fasteners",
    "Baltic Polymers",
    "Iberia Forge",
    "Danube Electronics",
    "Alpine Springs",
    "Rhine Coatings",
    "Tatra Bearings",
];
const COUNTRIES: [&str; 8] = ["DE", "FI", "LT", "ES", "AT", "CH", "NL", "SK"];
const CERTS: [&str; 4] = ["ISO 9001", "IATF 16949", "ISO 14001", "AS9100"];

/// The `i`-th generated record (1-based): deterministic and valid.
pub fn generated_record(i: u64) -> Supplier {
    let n = (i as usize).wrapping_sub(1);
    let status = crate::record::STATUSES[n % crate::record::STATUSES.len()];
    let certifications = CERTS
        .iter()
        .take(n % 3 + 1)
        .map(|c| c.to_string())
        .collect();
    let minutes = (i % 100_000) as i64;
    let updated = chrono::DateTime::from_timestamp(1_761_955_200 + minutes * 60, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "2025-11-01T00:00:00Z".into());
    Supplier {
        supplier_id: format!("SUP-{i:06}"),
        name: format!("{} {} Ltd", NAMES[n % NAMES.len()], i),
        country: COUNTRIES[n % COUNTRIES.len()].to_string(),
        status: status.to_string(),
        contact_email: format!("quality{i}@supplier{}.example", n % 50),
        certifications,
        updated_at: updated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generated_records_are_valid_and_ordered() {
        let s = Store::new(250);
        let (page, total) = s.page(0, 1000);
        assert_eq!(total, 250);
        assert_eq!(page[0].supplier_id, "SUP-000001");
        assert!(page.iter().all(|r| validate(r).is_ok()));
        assert_eq!(s.page(240, 100).0.len(), 10);
        assert_eq!(generated_record(7), generated_record(7));
    }

    #[test]
    fn upsert_outcomes() {
        let mut s = Store::new(1);
        let existing = serde_json::to_value(generated_record(1)).unwrap();
        assert_eq!(s.apply(&existing).1, WriteEffect::Unchanged);
        let mut changed = existing.clone();
        changed["name"] = json!("Renamed Ltd");
        assert_eq!(s.apply(&changed).1, WriteEffect::Updated);
        let mut new = existing.clone();
        new["supplier_id"] = json!("SUP-900000");
        assert_eq!(s.apply(&new).1, WriteEffect::Created);
        assert_eq!(s.len(), 2);
        let (id, o, why) = s.apply(&json!({"supplier_id": "SUP-1", "name": 5}));
        assert_eq!((id.as_str(), o), ("SUP-1", WriteEffect::Rejected));
        assert!(why.unwrap().contains("not a supplier record"));
        let mut bad = existing;
        bad["country"] = json!("Germany");
        let (_, o, why) = s.apply(&bad);
        assert_eq!(o, WriteEffect::Rejected);
        assert!(why.unwrap().contains("country"));
        assert_eq!(s.apply(&json!(42)).0, "");
    }

    #[test]
    fn keys_replay_conflict_and_wait() {
        let mut s = Store::new(0);
        let now = Instant::now();
        let IdempotencyCheck::Fresh(t) = s.check_key("c", "k", [1; 32], now) else {
            panic!("fresh key expected")
        };
        let IdempotencyCheck::Wait(mut rx) = s.check_key("c", "k", [1; 32], now) else {
            panic!("pending key expected")
        };
        assert!(matches!(
            s.check_key("c", "k", [2; 32], now),
            IdempotencyCheck::Conflict
        ));
        assert!(matches!(
            s.check_key("d", "k", [2; 32], now),
            IdempotencyCheck::Fresh(_)
        ));
        s.complete(t, Arc::new("answer".into()));
        assert_eq!(
            rx.borrow_and_update().as_deref().map(String::as_str),
            Some("answer")
        );
        let IdempotencyCheck::Replay(a) = s.check_key("c", "k", [1; 32], now) else {
            panic!("replay expected")
        };
        assert_eq!(a.as_str(), "answer");
    }
}
