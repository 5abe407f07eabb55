//! The console state: `App`, `apply`, `handle` (issue 5).
