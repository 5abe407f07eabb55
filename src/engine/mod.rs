//! The sync engine (issue 4).

pub mod events;
