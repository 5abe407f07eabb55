//! How many segments talk to the server at once: a fixed number, or `auto` (the limiter in
//! `limiter.rs`), with the operator's override on top. The scheduler's slots follow it.

pub mod limiter;
