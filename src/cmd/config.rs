//! `supsync config [--check]`: the effective configuration, each value with where it came
//! from; secrets only as fingerprints. `--check` validates and prints one line.

use std::path::PathBuf;

use super::out::{print_line, print_out};
use crate::cli::{ConfigArgs, GlobalArgs};
use crate::config::client_secret::{CLIENT_SECRET, SESSION_PASSWORD, SecretKeys};
use crate::config::{self, ConfigError, LoadedConfig, ResolvedSecret, SecretSource};

pub fn run(global: &GlobalArgs, args: ConfigArgs) -> anyhow::Result<i32> {
    let loaded = config::load(global)?;
    // Only the secret the configured kind uses is read (a file the other names may not
    // exist on this machine).
    let session = loaded.config.auth.kind == config::AuthKind::Session;
    let given = |r: Result<ResolvedSecret, ConfigError>| match r {
        Ok(r) => Ok(Some(r)),
        Err(ConfigError::MissingSecret(_)) => Ok(None),
        Err(e) => Err(e),
    };
    let secret = match loaded.config.auth.kind {
        config::AuthKind::Oauth2 => given(loaded.resolve_client_secret())?,
        _ => None,
    };
    let password = match session {
        true => given(loaded.resolve_session_password())?,
        false => None,
    };
    let secrets = Secrets {
        client_secret: secret.as_ref(),
        password: password.as_ref(),
    };
    let state = config::state_dir(global);
    if args.check {
        let state = state?;
        for w in all_warnings(&loaded, &secrets) {
            eprintln!("warning: {w}");
        }
        let what = match &loaded.path {
            Some(p) => p.display().to_string(),
            None => "defaults (no config file)".into(),
        };
        print_line(&format!(
            "ok: {what} is valid; state dir {}",
            state.display()
        ))?;
        // Key files were read and checked by `load`; this shows what they hold (the
        // certificate's expiry above all).
        if let Some(auth) = config::key_material::summary(&loaded.config) {
            print_line(&format!("client authentication: {auth}"))?;
        }
        return Ok(crate::exit::OK);
    }
    print_out(&render(&loaded, &secrets, &state)?)?;
    Ok(crate::exit::OK)
}

/// The configuration's secrets as resolved (`None`: not given anywhere).
#[derive(Default)]
pub struct Secrets<'a> {
    pub client_secret: Option<&'a ResolvedSecret>,
    /// The session password (looked for only with `auth.kind = "session"`).
    pub password: Option<&'a ResolvedSecret>,
}

fn all_warnings(loaded: &LoadedConfig, secrets: &Secrets<'_>) -> Vec<String> {
    let mut out = loaded.warnings.clone();
    for s in [secrets.client_secret, secrets.password]
        .into_iter()
        .flatten()
    {
        // The inline warning is already in `loaded.warnings`.
        for w in &s.warnings {
            if !out.contains(w) {
                out.push(w.clone());
            }
        }
    }
    out
}

/// The report: a header (file, state dir, warnings), then one `key = value  # origin` line
/// per key, grouped by section in declaration order.
pub fn render(
    loaded: &LoadedConfig,
    secrets: &Secrets<'_>,
    state: &Result<PathBuf, ConfigError>,
) -> anyhow::Result<String> {
    let schema = config::schema::Schema::new()?;
    // The webhook and ping URLs as every report shows them: without their keys.
    let mut shown = loaded.config.clone();
    shown.notify = shown.notify.redacted();
    let values = toml::Table::try_from(&shown)?;
    let mut out = String::new();
    out.push_str("# supsync effective configuration\n");
    out.push_str("# precedence: --set > SUPSYNC_<SECTION>_<KEY> env > file > default\n");
    let file = match (&loaded.path, config::default_config_path()) {
        (Some(p), _) => p.display().to_string(),
        (None, Some(d)) => format!("none, defaults only (looked for {})", d.display()),
        (None, None) => "none, defaults only".into(),
    };
    out.push_str(&format!("# config file: {file}\n"));
    match state {
        Ok(d) => out.push_str(&format!("# state dir:   {}\n", d.display())),
        Err(e) => out.push_str(&format!("# state dir:   unknown: {e}\n")),
    }
    if let Some(auth) = config::key_material::summary(&loaded.config) {
        out.push_str(&format!("# client authentication: {auth}\n"));
    }
    for w in all_warnings(loaded, secrets) {
        out.push_str(&format!("# warning: {w}\n"));
    }

    for section in schema.sections() {
        let mut lines: Vec<(String, String)> = Vec::new();
        for spec in schema.keys_in(section) {
            let dotted = spec.dotted();
            let session = loaded.config.auth.kind == config::AuthKind::Session;
            if dotted == "auth.client_secret" {
                let used = loaded.config.auth.kind == config::AuthKind::Oauth2
                    && loaded.config.client_auth_method().uses_secret();
                lines.push(secret_line(
                    loaded,
                    secrets.client_secret,
                    CLIENT_SECRET,
                    used,
                ));
                continue;
            }
            if dotted == "auth.session.password" {
                lines.push(secret_line(
                    loaded,
                    secrets.password,
                    SESSION_PASSWORD,
                    session,
                ));
                continue;
            }
            let origin = loaded.provenance.get(&dotted).to_string();
            let value = config::schema::lookup(&values, section, &spec.key)
                .map_or_else(|| "<not set>".to_string(), |v| v.to_string());
            lines.push((format!("{} = {value}", spec.key), origin));
        }
        let width = lines
            .iter()
            .map(|(l, _)| l.len())
            .max()
            .unwrap_or(0)
            .min(48);
        out.push_str(&format!("\n[{section}]\n"));
        for (line, origin) in lines {
            out.push_str(&format!("{line:<width$}  # {origin}\n"));
        }
    }
    Ok(out)
}

/// The line of a secret: its fingerprint and source, or where to give it when it is
/// `used` (by the configured auth kind and method) and missing.
fn secret_line(
    loaded: &LoadedConfig,
    secret: Option<&ResolvedSecret>,
    k: SecretKeys,
    used: bool,
) -> (String, String) {
    let key = k.inline_key.rsplit('.').next().unwrap_or(k.inline_key);
    match secret {
        Some(r) => {
            let origin = match &r.source {
                SecretSource::Inline(_) => format!(
                    "{} (inline, see warning)",
                    loaded.provenance.get(k.inline_key)
                ),
                other => other.to_string(),
            };
            (
                format!("{key} = <secret {}>", r.secret.fingerprint()),
                origin,
            )
        }
        None if used => (
            format!("{key} = <not set>"),
            format!("needed to authenticate: {} or {}", k.env, k.file_key),
        ),
        None => (format!("{key} = <not set>"), "not used".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::client_secret::resolve;
    use std::collections::BTreeMap;

    #[test]
    fn render_shows_origins_and_masks_the_secret() {
        let text = "[sync]\nconcurrency = 8\n\n[auth]\nclient_secret = \"inline-s3cret\"\n";
        let env = BTreeMap::from([("SUPSYNC_UI_TICK_MS".to_string(), "500".to_string())]);
        let sets = vec!["api.timeout_secs=10".to_string()];
        let loaded = config::load_from(Some("c.toml".into()), Some(text), &env, &sets).unwrap();
        let secret = resolve(&loaded.config.auth, &loaded.provenance, None).unwrap();
        let secrets = Secrets {
            client_secret: Some(&secret),
            password: None,
        };
        let out = render(&loaded, &secrets, &Ok("/tmp/state".into())).unwrap();

        let line = |key: &str| {
            out.lines()
                .find(|l| l.starts_with(&format!("{key} =")))
                .unwrap_or_else(|| panic!("no {key} line in\n{out}"))
                .to_string()
        };
        assert!(line("concurrency").contains("= 8"));
        assert!(line("concurrency").ends_with("# file c.toml:2"), "{out}");
        assert!(line("tick_ms").ends_with("# env SUPSYNC_UI_TICK_MS"));
        assert!(line("timeout_secs").ends_with("# flag --set"));
        assert!(line("segment_size").ends_with("# default"));
        assert!(line("client_secret_file").contains("<not set>"));
        assert!(line("client_secret").contains(&secret.secret.fingerprint()));
        assert!(!out.contains("inline-s3cret"), "{out}");
        assert!(out.contains("# state dir:   /tmp/state"));
        assert!(out.contains("# config file: c.toml"));
        assert!(out.contains("# warning: c.toml:5: auth.client_secret: an inline client secret"));
        // Sections in declaration order.
        let pos = |s: &str| out.find(s).unwrap();
        assert!(pos("[api]") < pos("[auth]") && pos("[auth]") < pos("[sync]"));
        assert!(pos("[sync]") < pos("[ui]"));
    }

    #[test]
    fn render_without_secret_says_how_to_give_one() {
        let loaded = LoadedConfig::from_config(config::Config::default());
        let out = render(&loaded, &Secrets::default(), &Ok("/s".into())).unwrap();
        let line = out
            .lines()
            .find(|l| l.starts_with("client_secret ="))
            .unwrap();
        assert!(line.contains("<not set>") && line.contains("SUPSYNC_CLIENT_SECRET"));
    }
}
