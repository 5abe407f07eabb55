//! Pure render of `App` (issue 5).
