//! The simulator of shared/API.md (issue 2).
