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
    init_stderr_filter(default);
}

/// stderr logging with `default` as the filter unless `RUST_LOG` is set. Colours only
/// when stderr is a terminal (a log file or a cron mail gets plain text).
pub fn init_stderr_filter(default: &str) {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Ignored on purpose: a second init (tests, demo) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        // A log line that cannot be written (stderr was a terminal that hung up) is lost;
        // left on, the subscriber reports that with `eprintln!`, which panics on the same
        // dead stderr.
        .log_internal_errors(false)
        .try_init();
}

/// `<log_dir>/console.log` for appending, the directory and the file owner-only (the log
/// names sources, endpoints and errors), never through a link.
fn open_console_log(
    log_dir: &std::path::Path,
) -> anyhow::Result<(std::path::PathBuf, std::fs::File)> {
    use anyhow::Context;
    crate::safe_file::create_private_dir_all(log_dir)
        .with_context(|| format!("could not create the log directory {}", log_dir.display()))?;
    let path = log_dir.join("console.log");
    let file = crate::safe_file::open_for_write(
        &path,
        crate::safe_file::private_options()
            .create(true)
            .append(true),
    )
    .with_context(|| format!("could not open the log file {}", path.display()))?;
    Ok((path, file))
}

/// Logging for the console: `tracing` goes to tui-logger (the refresh-log pane shows
/// [`TOKEN_TARGET`], `l` shows everything) and to `<log_dir>/console.log`; nothing goes to
/// stdout or stderr, which belong to the screen. `RUST_LOG` overrides the level.
/// Returns the log file's path.
pub fn init_console(log_dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context;
    use tracing_subscriber::prelude::*;

    let (path, file) = open_console_log(log_dir)?;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,supsync=debug"));
    tracing_subscriber::registry()
        .with(filter)
        .with(tui_logger::TuiTracingSubscriberLayer)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                // Never `eprintln!` about a failed write: stderr belongs to the screen.
                .log_internal_errors(false)
                .with_writer(std::sync::Mutex::new(file)),
        )
        .try_init()
        .context("logging was already set up before the console started")?;
    // The tracing layer feeds tui-logger's buffer; init_logger starts the thread that moves
    // events into it. An error means a `log` logger exists already: the layer still works.
    let _ = tui_logger::init_logger(tui_logger::LevelFilter::Debug);
    tui_logger::set_default_level(tui_logger::LevelFilter::Debug);
    Ok(path)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_console_log_and_its_directory_are_owner_only_and_never_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        let (path, _file) = super::open_console_log(&logs).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&logs), 0o700);
        assert_eq!(mode(&path), 0o600);
        std::fs::remove_file(&path).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, "keep").unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        let e = super::open_console_log(&logs).unwrap_err();
        assert!(format!("{e:#}").contains("is a symbolic link"), "{e:#}");
    }
}
