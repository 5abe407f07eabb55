//! Terminal set-up, restore and the event loop (issue 5).
