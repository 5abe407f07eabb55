use super::*;

const CRED: &str = "session http://127.0.0.1:1/login sync-bot";

fn budget(dir: &Path, password: &str) -> LoginBudget {
    LoginBudget::new(CRED, "sync-bot", 3, &Secret::new(password))
        .with_file(file_beside(&dir.join("token-cache"), CRED))
}

#[test]
fn refusals_count_up_to_the_budget_then_no_attempt_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let b = budget(dir.path(), "wrong-pw");
    assert!(b.check(now).is_ok());
    for n in 1..3 {
        match b.refused(401, "unauthorized") {
            GrantError::LoginRefused { refused, max, .. } => assert_eq!((refused, max), (n, 3)),
            other => panic!("{other:?}"),
        }
        assert!(b.check(now).is_ok());
    }
    let spent = b.refused(403, "forbidden");
    assert!(
        matches!(spent, GrantError::LoginBudgetSpent { refused: 3, .. }),
        "{spent:?}"
    );
    assert!(
        spent
            .to_string()
            .contains("(Last answer: HTTP 403: forbidden.)")
    );
    // This process, and a later one with the same password, may not try again.
    assert!(matches!(
        b.check(now),
        Err(GrantError::LoginBudgetSpent { .. })
    ));
    let later = budget(dir.path(), "wrong-pw");
    assert!(matches!(
        later.check(now),
        Err(GrantError::LoginBudgetSpent { .. })
    ));
    // The file holds no password, only a salted fingerprint.
    let path = later.file().unwrap().to_path_buf();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("wrong-pw"), "{text}");
    assert!(
        !text.contains(&crate::secret::fingerprint("wrong-pw")),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // A changed password may try, and its first refusal counts from one.
    let fixed = budget(dir.path(), "new-pw");
    assert!(fixed.check(now).is_ok());
    assert!(matches!(
        fixed.refused(401, ""),
        GrantError::LoginRefused { refused: 1, .. }
    ));
    // A success clears the count (and the file).
    fixed.succeeded();
    assert!(!path.exists());
    assert!(budget(dir.path(), "wrong-pw").check(now).is_ok());
}

#[test]
fn a_lock_stops_every_attempt_until_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let b = budget(dir.path(), "pw");
    let e = b.locked(
        "account_locked: locked for 30 s",
        Some(Duration::from_secs(30)),
        now,
    );
    assert!(matches!(e, GrantError::AccountLocked { .. }));
    // Even the right password waits: the server refuses every login while locked.
    let other = budget(dir.path(), "right-pw");
    match other.check(now + Duration::from_secs(10)) {
        Err(GrantError::AccountLocked { retry_after, .. }) => {
            // Kept in whole milliseconds.
            let left = retry_after.unwrap();
            assert!(left <= Duration::from_secs(20), "{left:?}");
            assert!(left > Duration::from_millis(19_990), "{left:?}");
        }
        r => panic!("{r:?}"),
    }
    assert!(other.check(now + Duration::from_secs(31)).is_ok());
    // A lock named as a year is read as a day, and said so the same way on this run and
    // the next (the clamp of every `Retry-After`).
    let first = b.locked("", Some(Duration::from_secs(31_622_400)), now);
    assert!(
        first.to_string().contains("it asks to wait 24 h or more"),
        "{first}"
    );
    let next = b
        .check(now + Duration::from_secs(1))
        .unwrap_err()
        .to_string();
    assert!(next.contains("the lock has 23 h 59 min to run"), "{next}");
    assert!(!next.contains("31622400") && !first.to_string().contains("31622400"));
    assert!(b.check(now + Duration::from_secs(86_401)).is_ok());
}

#[test]
fn without_a_file_the_count_lives_in_memory() {
    let b = LoginBudget::new(CRED, "sync-bot", 2, &Secret::new("pw"));
    assert!(matches!(
        b.refused(401, ""),
        GrantError::LoginRefused { .. }
    ));
    assert!(matches!(
        b.refused(401, ""),
        GrantError::LoginBudgetSpent { .. }
    ));
    assert!(b.check(SystemTime::now()).is_err());
    let fresh = LoginBudget::new(CRED, "sync-bot", 2, &Secret::new("pw"));
    assert!(fresh.check(SystemTime::now()).is_ok());
}

#[test]
fn a_damaged_file_falls_back_to_this_process_count() {
    let dir = tempfile::tempdir().unwrap();
    let b = budget(dir.path(), "pw");
    b.refused(401, "");
    std::fs::write(b.file().unwrap(), b"{not json").unwrap();
    // What this process saw still counts.
    assert!(matches!(
        b.refused(401, ""),
        GrantError::LoginRefused { refused: 2, .. }
    ));
}

#[test]
fn the_lock_is_the_token_cache_lock_of_the_same_credential() {
    let dir = tempfile::tempdir().unwrap();
    let cache = crate::auth::cache::TokenCache::for_session(dir.path().join("token-cache"), CRED);
    assert_eq!(
        budget(dir.path(), "pw").lock_path(),
        Some(cache.lock_path())
    );
}

/// What `diagnose` reads: the count for this password, one for another password apart,
/// the lock's end and the last words; reading changes nothing.
#[test]
fn recorded_reports_the_count_without_changing_it() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let b = budget(dir.path(), "wrong-pw");
    assert_eq!(b.recorded(), BudgetRecord::default());
    assert_eq!(b.max(), 3);
    b.refused(401, "wrong user name or password");
    b.locked(
        "locked for 30 s after 5 failed logins",
        Some(Duration::from_secs(30)),
        now,
    );
    let r = budget(dir.path(), "wrong-pw").recorded();
    assert_eq!((r.refused, r.refused_other_password), (2, 0));
    assert_eq!(
        r.last.as_deref(),
        Some("HTTP 423: locked for 30 s after 5 failed logins")
    );
    let until = r.locked_until.expect("the lock's end is kept");
    let left = until.duration_since(now).unwrap();
    assert!(
        left <= Duration::from_secs(30) && left >= Duration::from_secs(29),
        "{left:?}"
    );
    let other = budget(dir.path(), "new-pw").recorded();
    assert_eq!((other.refused, other.refused_other_password), (0, 2));
    assert_eq!(budget(dir.path(), "wrong-pw").recorded(), r);
}

#[test]
fn a_refusal_that_says_the_password_is_wrong_is_final_for_that_password() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let b = budget(dir.path(), "wrong-pw");
    let e = b.refused(401, "invalid_credentials: wrong user name or password");
    assert!(matches!(e, GrantError::LoginDenied { .. }), "{e:?}");
    assert!(!e.is_transient());
    assert_eq!(e.http_status(), Some(401));
    let text = e.to_string();
    assert!(!text.contains("before the server locks"), "{text}");
    assert!(text.contains("HTTP 401: invalid_credentials"), "{text}");
    // Neither this process nor a later one tries the same password again.
    assert!(matches!(b.check(now), Err(GrantError::LoginDenied { .. })));
    let later = budget(dir.path(), "wrong-pw");
    assert!(matches!(
        later.check(now),
        Err(GrantError::LoginDenied { .. })
    ));
    // Another password may.
    assert!(budget(dir.path(), "new-pw").check(now).is_ok());
}

#[test]
fn only_words_about_wrong_credentials_are_definite() {
    for yes in [
        "Invalid credentials",
        "invalid_credentials: wrong user name or password",
        "Bad credentials",
        "The password is incorrect",
        "Username or password does not match",
        "password expired",
    ] {
        assert!(says_credentials_wrong(yes), "{yes}");
    }
    for no in [
        "",
        "unauthorized",
        "Forbidden",
        "<html>Access denied</html>",
        "try later",
    ] {
        assert!(!says_credentials_wrong(no), "{no}");
    }
}
