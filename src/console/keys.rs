//! Keys → [`Action`]s. Bindings are data (a table with a `Default`), checked for
//! duplicates, and the mapping is a pure function of the table, the key and the console's
//! mode, so it is unit-tested without a terminal.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Everything an operator can ask of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    /// Open/close the details overlay of the selected segment.
    Details,
    TogglePause,
    ForceRefresh,
    RetrySelected,
    RetryAllFailed,
    /// One more / one fewer segment at the server (holds the limit), or back to the
    /// configured pace.
    PaceUp,
    PaceDown,
    PaceConfigured,
    /// Move the cursor to the next failed segment (wrapping), for big grids.
    NextFailed,
    /// Expand the log to the whole middle of the screen (and back).
    ToggleLog,
    ToggleHelp,
    /// Close the open overlay (or leave the expanded log).
    Close,
    /// After a push has finished: quit, then read the server back (`supsync verify`).
    Verify,
    /// Quit (asks first while a sync is running).
    Quit,
    /// Answer to the quit question.
    Confirm,
    Deny,
}

/// One key, as written in the table: a code and whether Ctrl is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub const fn plain(code: KeyCode) -> Self {
        Self { code, ctrl: false }
    }
    pub const fn ch(c: char) -> Self {
        Self::plain(KeyCode::Char(c))
    }
    pub const fn ctrl(c: char) -> Self {
        Self {
            code: KeyCode::Char(c),
            ctrl: true,
        }
    }

    /// How the help overlay and the footer write the key.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Up => "↑".to_string(),
            KeyCode::Down => "↓".to_string(),
            KeyCode::Left => "←".to_string(),
            KeyCode::Right => "→".to_string(),
            KeyCode::Enter => "Enter".to_string(),
            KeyCode::Esc => "Esc".to_string(),
            KeyCode::PageUp => "PgUp".to_string(),
            KeyCode::PageDown => "PgDn".to_string(),
            KeyCode::Home => "Home".to_string(),
            KeyCode::End => "End".to_string(),
            KeyCode::Char(c) => c.to_string(),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{}", base.to_uppercase())
        } else {
            base
        }
    }
}

/// The binding table: each action with its keys and the words the help shows.
#[derive(Debug, Clone)]
pub struct Bindings {
    pub entries: Vec<(Action, Vec<Key>, &'static str)>,
}

impl Default for Bindings {
    fn default() -> Self {
        use Action::*;
        use KeyCode as K;
        let k = Key::plain;
        let c = Key::ch;
        Self {
            entries: vec![
                (Up, vec![k(K::Up), c('k')], "move up in the grid"),
                (Down, vec![k(K::Down), c('j')], "move down"),
                (Left, vec![k(K::Left), c('h')], "move left"),
                // `l` opens the log (as in k9s and lazygit), so right is → only.
                (Right, vec![k(K::Right)], "move right"),
                (PageUp, vec![k(K::PageUp)], "page up (grid or log)"),
                (PageDown, vec![k(K::PageDown)], "page down (grid or log)"),
                (Home, vec![k(K::Home), c('g')], "first segment"),
                (End, vec![k(K::End), c('G')], "last segment"),
                (
                    Details,
                    vec![k(K::Enter)],
                    "details of the selected segment",
                ),
                (TogglePause, vec![c('p')], "pause / resume the sync"),
                (ForceRefresh, vec![c('f')], "force a token refresh now"),
                (
                    RetrySelected,
                    vec![c('r')],
                    "retry the selected failed segment",
                ),
                (RetryAllFailed, vec![c('R')], "retry every failed segment"),
                (NextFailed, vec![c('n')], "jump to the next failed segment"),
                (
                    PaceUp,
                    vec![c('+')],
                    "one more segment at the server (holds it)",
                ),
                (
                    PaceDown,
                    vec![c('-')],
                    "one fewer segment at the server (holds it)",
                ),
                (
                    PaceConfigured,
                    vec![c('=')],
                    "back to the configured pace (auto finds the server's)",
                ),
                (
                    ToggleLog,
                    vec![c('l'), k(K::Tab)],
                    "expand / shrink the full log",
                ),
                (
                    Verify,
                    vec![c('v')],
                    "after a push: quit and verify the server",
                ),
                (ToggleHelp, vec![c('?')], "this help"),
                (Close, vec![k(K::Esc)], "close the overlay / log"),
                (
                    Quit,
                    vec![c('q'), Key::ctrl('c')],
                    "quit (asks while a sync runs)",
                ),
            ],
        }
    }
}

/// Two actions bound to the same key: the table is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key {key} is bound to both {first:?} and {second:?}")]
pub struct DuplicateBinding {
    pub key: String,
    pub first: Action,
    pub second: Action,
}

impl Bindings {
    /// Every key must name one action.
    pub fn check(&self) -> Result<(), DuplicateBinding> {
        let mut seen: std::collections::HashMap<Key, Action> = Default::default();
        for (action, keys, _) in &self.entries {
            for key in keys {
                if let Some(first) = seen.insert(*key, *action) {
                    return Err(DuplicateBinding {
                        key: key.label(),
                        first,
                        second: *action,
                    });
                }
            }
        }
        Ok(())
    }

    pub fn action_for(&self, key: Key) -> Option<Action> {
        self.entries
            .iter()
            .find(|(_, keys, _)| keys.contains(&key))
            .map(|(a, _, _)| *a)
    }

    /// The first key bound to `action`, for the footer.
    pub fn key_for(&self, action: Action) -> Option<Key> {
        self.entries
            .iter()
            .find(|(a, _, _)| *a == action)
            .and_then(|(_, keys, _)| keys.first().copied())
    }
}

/// What state the console is in, as far as keys care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    Normal,
    /// The quit question is open: y/Enter confirm, n/Esc deny, Ctrl-C confirms.
    ConfirmQuit,
}

/// Pure mapping of a terminal key event to an action.
pub fn map_key(bindings: &Bindings, mode: KeyMode, ev: &KeyEvent) -> Option<Action> {
    if ev.kind == KeyEventKind::Release {
        return None;
    }
    // Alt-chords are not ours (and a quick `Esc x` arrives as Alt-x): ignore them rather
    // than act on the plain key.
    if ev.modifiers.contains(KeyModifiers::ALT) {
        return None;
    }
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    if mode == KeyMode::ConfirmQuit {
        return match (ev.code, ctrl) {
            (KeyCode::Char('y' | 'Y') | KeyCode::Enter, false) => Some(Action::Confirm),
            (KeyCode::Char('c'), true) => Some(Action::Confirm),
            (KeyCode::Char('n' | 'N') | KeyCode::Esc, false) => Some(Action::Deny),
            _ => None,
        };
    }
    bindings.action_for(Key {
        code: ev.code,
        ctrl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn default_table_has_no_duplicates() {
        Bindings::default().check().unwrap();
    }

    #[test]
    fn duplicates_are_detected_and_named() {
        let mut b = Bindings::default();
        b.entries
            .push((Action::ForceRefresh, vec![Key::ch('p')], "oops"));
        let err = b.check().unwrap_err();
        assert_eq!(err.key, "p");
        assert_eq!(err.first, Action::TogglePause);
        assert_eq!(err.second, Action::ForceRefresh);
        assert!(err.to_string().contains("bound to both"));
    }

    #[test]
    fn design_keys_map_to_their_actions() {
        let b = Bindings::default();
        let n = KeyModifiers::NONE;
        let cases = [
            (KeyCode::Left, n, Action::Left),
            (KeyCode::Char('h'), n, Action::Left),
            (KeyCode::Char('j'), n, Action::Down),
            (KeyCode::Char('k'), n, Action::Up),
            (KeyCode::Right, n, Action::Right),
            (KeyCode::Enter, n, Action::Details),
            (KeyCode::Char('p'), n, Action::TogglePause),
            (KeyCode::Char('f'), n, Action::ForceRefresh),
            (KeyCode::Char('r'), n, Action::RetrySelected),
            (
                KeyCode::Char('R'),
                KeyModifiers::SHIFT,
                Action::RetryAllFailed,
            ),
            (KeyCode::Char('l'), n, Action::ToggleLog),
            (KeyCode::Char('?'), n, Action::ToggleHelp),
            (KeyCode::Char('n'), n, Action::NextFailed),
            (KeyCode::Char('q'), n, Action::Quit),
            (KeyCode::Char('c'), KeyModifiers::CONTROL, Action::Quit),
            (KeyCode::Esc, n, Action::Close),
        ];
        for (code, m, want) in cases {
            assert_eq!(
                map_key(&b, KeyMode::Normal, &press(code, m)),
                Some(want),
                "{code:?}"
            );
        }
        // Plain `c` is not quit, and unknown keys do nothing.
        assert_eq!(
            map_key(&b, KeyMode::Normal, &press(KeyCode::Char('c'), n)),
            None
        );
        assert_eq!(
            map_key(&b, KeyMode::Normal, &press(KeyCode::Char('z'), n)),
            None
        );
    }

    #[test]
    fn confirm_mode_takes_only_yes_and_no() {
        let b = Bindings::default();
        let n = KeyModifiers::NONE;
        let m = KeyMode::ConfirmQuit;
        assert_eq!(
            map_key(&b, m, &press(KeyCode::Char('y'), n)),
            Some(Action::Confirm)
        );
        assert_eq!(
            map_key(&b, m, &press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Confirm)
        );
        assert_eq!(map_key(&b, m, &press(KeyCode::Esc, n)), Some(Action::Deny));
        assert_eq!(
            map_key(&b, m, &press(KeyCode::Char('n'), n)),
            Some(Action::Deny)
        );
        assert_eq!(map_key(&b, m, &press(KeyCode::Char('p'), n)), None);
    }

    #[test]
    fn alt_chords_are_ignored() {
        let b = Bindings::default();
        let ev = press(KeyCode::Char('l'), KeyModifiers::ALT);
        assert_eq!(map_key(&b, KeyMode::Normal, &ev), None);
    }

    #[test]
    fn key_releases_are_ignored() {
        let b = Bindings::default();
        let mut ev = press(KeyCode::Char('q'), KeyModifiers::NONE);
        ev.kind = KeyEventKind::Release;
        assert_eq!(map_key(&b, KeyMode::Normal, &ev), None);
    }
}
