//! The simulator's resource side: admission of a call (`gate`, `limits`), the records and
//! idempotency keys (`store`), and the API that serves them, plain (`api`) or in the other
//! styles of docs/API.md §6 (`styled`, `styled_pull`).

pub(super) mod api;
pub(super) mod gate;
pub(super) mod limits;
pub(super) mod store;
pub(super) mod styled;
pub(super) mod styled_pull;
