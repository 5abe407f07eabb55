//! Logging set-up. Headless commands log to stderr; the console routes `tracing` into
//! tui-logger instead (never stdout while the TUI is up).

use tracing_subscriber::EnvFilter;

/// Target for token lifecycle events (the console's refresh log shows this target).
pub const TOKEN_TARGET: &str = "supsync::token";

/// stderr logging for headless commands; `RUST_LOG` overrides the verbosity.
pub fn init_stderr(verbose: u8) {
    let default = match verbose {
        0 => "warn,supsync=warn",
        1 => "info,supsync=info",
        _ => "debug,supsync=debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Ignored on purpose: a second init (tests, demo) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
