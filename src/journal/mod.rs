//! The append-only run journal (issue 4).
