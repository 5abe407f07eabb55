//! Checks on `[notify]` and `[metrics]` that look at this machine as well as the values: a
//! hook command must exist and be executable, the metrics file's directory must take a
//! new file. They run with the rest of validation, so `supsync config --check` and every
//! run report them before any sync starts.

use std::path::{Path, PathBuf};

use crate::config::suggest::suggest;
use crate::config::validate::{Checker, url_problem};
use crate::config::{ALERT_KINDS, Config};

pub(super) fn check(config: &Config, c: &mut Checker<'_>) {
    let insecure = config.api.allow_insecure_http;
    let n = &config.notify;
    if let Some(program) = n.command.first()
        && let Err(msg) = find_program(program)
    {
        c.fail("notify.command", msg);
    }
    c.range(
        "notify.command_timeout_secs",
        n.command_timeout_secs,
        1,
        3600,
        " seconds",
    );
    for (key, url) in [
        ("notify.webhook_url", &n.webhook_url),
        ("notify.ping_url", &n.ping_url),
    ] {
        if let Some(u) = url.as_deref()
            && let Some(msg) = url_problem(u, insecure)
        {
            // The URL's path and query may hold its key: the message names it redacted.
            c.fail(key, msg.replace(u, &crate::config::redacted_url(u)));
        }
    }
    c.range(
        "notify.webhook_timeout_secs",
        n.webhook_timeout_secs,
        1,
        300,
        " seconds",
    );
    c.range(
        "notify.webhook_attempts",
        u64::from(n.webhook_attempts),
        1,
        10,
        "",
    );
    for e in &n.events {
        if !ALERT_KINDS.contains(&e.as_str()) {
            let hint = match suggest(e, ALERT_KINDS.iter().copied()) {
                Some(s) => format!("did you mean {s:?}? "),
                None => String::new(),
            };
            c.fail(
                "notify.events",
                format!(
                    "unknown event {e:?}; {hint}known events: {}",
                    ALERT_KINDS.join(", ")
                ),
            );
        }
    }

    let m = &config.metrics;
    if let Some(file) = &m.file
        && let Err(msg) = check_metrics_file(file)
    {
        c.fail("metrics.file", msg);
    }
    c.range(
        "metrics.file_interval_secs",
        m.file_interval_secs,
        1,
        3600,
        " seconds",
    );
    c.range("metrics.linger_secs", m.linger_secs, 0, 3600, " seconds");
    if let Some(listen) = &m.listen
        && let Err(msg) = parse_listen(listen)
    {
        c.fail("metrics.listen", msg);
    }
}

/// `ADDR:PORT` for the metrics listener, e.g. `127.0.0.1:9464` or `[::]:9464`.
pub fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    s.trim().parse().map_err(|_| {
        format!("{s:?} is not an address and port; write e.g. \"127.0.0.1:9464\" or \"[::]:9464\"")
    })
}

/// The hook program as it will be run: a path (containing `/`) must be an executable file;
/// a bare name must be found on PATH.
pub fn find_program(program: &str) -> Result<PathBuf, String> {
    if program.trim().is_empty() {
        return Err("the first element (the program) is empty".into());
    }
    if program.contains('/') {
        let p = Path::new(program);
        return match std::fs::metadata(p) {
            Ok(md) if md.is_file() && is_executable(&md) => Ok(p.to_path_buf()),
            Ok(md) if md.is_file() => Err(format!(
                "hook command {program} is not executable; chmod +x it"
            )),
            Ok(_) => Err(format!("hook command {program} is not a file")),
            Err(e) => Err(format!("hook command {program} cannot be used: {e}")),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        if let Ok(md) = std::fs::metadata(&candidate)
            && md.is_file()
            && is_executable(&md)
        {
            return Ok(candidate);
        }
    }
    Err(format!(
        "hook command {program:?} is not found on PATH; install it or give its absolute path"
    ))
}

#[cfg(unix)]
fn is_executable(md: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    md.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_md: &std::fs::Metadata) -> bool {
    true
}

/// The metrics file is replaced by a rename, so its directory must take a new file; trying
/// one is the only check that sees read-only mounts and ACLs alike.
pub fn check_metrics_file(file: &Path) -> Result<(), String> {
    if file.as_os_str().is_empty() {
        return Err("is empty; give a path or remove the key".into());
    }
    // The rename that replaces the file would put a regular file where a device node, a
    // FIFO or a link was (`/dev/null` run as root): only a regular file, or none yet.
    match std::fs::symlink_metadata(file) {
        Ok(md) => {
            if let Some(kind) = crate::safe_file::odd_kind(&md) {
                return Err(format!(
                    "{} is {kind}, not a regular file; supsync replaces the metrics file by a \
                     rename, so name a regular file (or a new one) in the collector's directory",
                    file.display()
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{} cannot be checked: {e}", file.display())),
    }
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    tempfile::NamedTempFile::new_in(&dir)
        .map(drop)
        .map_err(|e| {
            format!(
                "{} cannot be written: its directory {} does not take a new file ({e}); \
                 create the directory or make it writable",
                file.display(),
                dir.display()
            )
        })
}

#[cfg(test)]
#[path = "validate_observe_tests.rs"]
mod tests;
