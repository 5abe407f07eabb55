//! Headless reporter: progress lines / bar and the summary, from engine events (issue 4).
