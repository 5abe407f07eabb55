//! supsync: supplier data syncs against OAuth2-protected QMS/ERP APIs that never let a
//! token expire under a running sync.
//!
//! Shape (see DESIGN in the README): engine → `EngineEvent`s → one `App` → pure render.
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod auth;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod console;
pub mod control;
pub mod diagnose;
pub mod engine;
pub mod exit;
pub mod headless;
pub mod journal;
pub mod logging;
pub mod mapping;
pub mod observe;
pub mod record;
pub mod retry_after;
pub mod run;
pub mod safe_file;
pub mod secret;
pub mod server_text;
pub mod signals;
pub mod sim;
pub mod source;
pub mod summary;
pub mod verify;
pub mod view;
