//! How to invoke supsync again, for the hints commands print: the global options that
//! locate this run and shape its configuration, quoted for a shell.

use std::path::Path;

use crate::cli::GlobalArgs;

/// `supsync` plus the global options that locate this run and shape its configuration,
/// for the hints we print.
pub(crate) fn command_prefix(global: &GlobalArgs) -> String {
    let mut s = String::from("supsync");
    if let Some(c) = &global.config {
        s.push_str(&format!(" --config {}", shell_word(c)));
    }
    if let Some(d) = &global.state_dir {
        s.push_str(&format!(" --state-dir {}", shell_word(d)));
    }
    // `--set` never holds a secret (refused), and `diagnose` or a new run need the same
    // overrides to see the same configuration.
    for set in &global.set {
        s.push_str(&format!(" --set {}", shell_word(Path::new(set))));
    }
    s
}

fn shell_word(p: &Path) -> String {
    let s = p.display().to_string();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:,=@".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_quote_paths_a_shell_would_split() {
        let global = GlobalArgs {
            state_dir: Some("/srv/my sync".into()),
            ..GlobalArgs::default()
        };
        assert_eq!(
            command_prefix(&global),
            "supsync --state-dir '/srv/my sync'"
        );
        assert_eq!(command_prefix(&GlobalArgs::default()), "supsync");
        let global = GlobalArgs {
            config: Some("./s.toml".into()),
            set: vec![
                "api.base_url=http://127.0.0.1:9".into(),
                "sync.x=a b".into(),
            ],
            ..GlobalArgs::default()
        };
        assert_eq!(
            command_prefix(&global),
            "supsync --config ./s.toml --set api.base_url=http://127.0.0.1:9 --set 'sync.x=a b'"
        );
    }
}
