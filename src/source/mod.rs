//! Streaming record sources (CSV, JSON Lines) and pull sinks (issue 4).
