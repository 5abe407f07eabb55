//! Token-lifetime forensics for on-call (issue 3).
