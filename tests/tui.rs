//! Whole-screen snapshots of the console (ratatui `TestBackend` + insta) in the states an
//! operator meets, with keys pressed between them. Time is a fixed base `Instant` plus
//! offsets, so countdowns and rates are deterministic. The refresh-log pane (tui-logger,
//! global and timestamped) is blanked before each snapshot.

use std::time::{Duration, Instant, SystemTime};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use supsync::auth::status::{GrantKind, TokenPhase, TokenStatus};
use supsync::console::app::App;
use supsync::console::keys::Action;
use supsync::console::layout::{self, Panes};
use supsync::console::panes;
use supsync::engine::events::{EngineEvent, RunInfo, RunSummary, SegmentView};
use supsync::run::{Counts, Direction, Reject, RejectOrigin, RunState, SegmentState};

const S: fn(u64) -> Duration = Duration::from_secs;

struct Scene {
    app: App,
    base: Instant,
    /// Seconds since `base` of the last thing that happened.
    at: u64,
}

impl Scene {
    fn new(segments: usize, per: u64, w: u16, h: u16) -> Self {
        Self::speaking(segments, per, w, h, "")
    }

    /// A run against an API of `api_style` (a mapping preset; "" when not known).
    fn speaking(segments: usize, per: u64, w: u16, h: u16, api_style: &str) -> Self {
        let base = Instant::now();
        let mut app = App::new(true);
        app.resize(Rect::new(0, 0, w, h));
        app.apply(
            EngineEvent::RunStarted(RunInfo {
                run_id: "demo-20261125-2204".into(),
                direction: Direction::Push,
                source: "demo-suppliers.csv".into(),
                target: "127.0.0.1:41735".into(),
                total_records: segments as u64 * per,
                segments: (0..segments)
                    .map(|i| SegmentView::pending(i, per))
                    .collect(),
                started_wall: SystemTime::UNIX_EPOCH,
                local_rejects: 0,
                api_style: api_style.into(),
            }),
            base,
        );
        Self { app, base, at: 0 }
    }

    fn now(&self) -> Instant {
        self.base + S(self.at)
    }

    fn seg(&mut self, i: usize, state: SegmentState, attempts: u32, counts: Counts) {
        let mut v = SegmentView::pending(i, 20);
        v.state = state;
        v.attempts = attempts;
        v.counts = counts;
        v.duration = state
            .is_finished()
            .then(|| Duration::from_millis(2100 + i as u64 * 37));
        if state == SegmentState::Failed {
            v.last_error =
                Some("503 Service Unavailable (5 attempts, last Retry-After 2 s)".into());
        }
        if state == SegmentState::Retrying {
            v.last_error = Some("connection reset by peer; retrying in 1.4 s".into());
        }
        if counts.rejected > 0 {
            v.rejects = (0..counts.rejected)
                .map(|k| Reject {
                    segment: i,
                    supplier_id: format!("SUP-{:06}", i * 20 + k as usize * 7),
                    line: Some(i as u64 * 20 + k * 7 + 2),
                    reason: "country \"XX\" is not an ISO 3166-1 alpha-2 code".into(),
                    origin: RejectOrigin::Local,
                })
                .collect();
        }
        self.app.apply(EngineEvent::Segment(v), self.now());
    }

    fn done(&mut self, i: usize, rejected: u64) {
        let state = if rejected > 0 {
            SegmentState::DoneWithRejects
        } else {
            SegmentState::Done
        };
        let counts = Counts {
            created: 14 - rejected,
            updated: 4,
            unchanged: 2,
            applied: 0,
            rejected,
            pulled: 0,
        };
        self.seg(i, state, 1, counts);
    }

    /// Advances the clock by `secs`, ticking once a second.
    fn advance(&mut self, secs: u64) {
        for _ in 0..secs {
            self.at += 1;
            let now = self.now();
            self.app.tick(now);
        }
    }

    /// A token issued `age` s ago that lives `ttl` s, in a session started `session_age` ago.
    fn token(&mut self, age: u64, ttl: u64, session_age: u64, sessions: u32, renewals: u32) {
        let now = self.now();
        let issued = now - S(age);
        let session_start = now - S(session_age);
        let status = TokenStatus {
            phase: TokenPhase::Valid,
            fingerprint: Some("3f9a1c2b".into()),
            grant: Some(if renewals > 0 && session_age > age {
                GrantKind::RefreshToken
            } else {
                GrantKind::ClientCredentials
            }),
            issued_at: Some(issued),
            issued_at_wall: None,
            lifetime: Some(S(ttl)),
            lifetime_source: None,
            ttl_deadline: Some(issued + S(ttl)),
            idle_deadline: Some(now + S(15)),
            idle_window: Some(S(15)),
            session_deadline: Some(session_start + S(60)),
            session_started_at: Some(session_start),
            server_deadline: None,
            refresh_deadline: Some(issued + S(1440)),
            has_refresh_token: true,
            next_refresh_at: Some(issued + S(ttl.saturating_sub(5))),
            margin: S(5),
            renewals,
            sessions,
            last_result: Some(if session_age == age {
                "token issued by client_credentials in 6 ms".into()
            } else {
                "refreshed (refresh_token) in 4 ms".into()
            }),
            last_error: None,
            unauthorized_seen: 0,
            expired_seen: Default::default(),
            refresh_window: None,
        };
        self.app.apply(EngineEvent::Token(status), now);
    }

    /// A line of the refresh log, stamped `at` seconds into the scene.
    fn log(&mut self, problem: bool, text: &str) {
        let line = supsync::auth::audit::AuditLine {
            wall: SystemTime::UNIX_EPOCH + S(self.at),
            problem,
            text: text.into(),
        };
        let now = self.now();
        self.app.apply(EngineEvent::TokenLog(line), now);
    }

    /// Twelve segments done with a couple of rejects, one failed, one retrying, four running.
    fn mid_run(&mut self) {
        self.token(0, 15, 0, 1, 0);
        self.log(
            false,
            "token issued by client_credentials, lifetime 15.0s, in 6 ms",
        );
        for i in 0..12 {
            self.advance(2);
            self.done(i, if i == 3 || i == 8 { 2 } else { 0 });
            if i % 3 == 2 {
                let renewals = self.app.view.token.renewals + 1;
                self.token(0, 15, self.at, 1, renewals);
                self.log(
                    false,
                    "token refreshed (proactive), lifetime 15.0s, in 4 ms",
                );
            }
            if i == 6 {
                self.log(
                    true,
                    "keep-alive failed: connection reset by peer; the next call renews the token first",
                );
            }
        }
        self.seg(12, SegmentState::Failed, 5, Counts::default());
        self.seg(13, SegmentState::Retrying, 2, Counts::default());
        for i in 14..18 {
            self.seg(i, SegmentState::Running, 1, Counts::default());
        }
        self.advance(3);
    }

    fn screen(&self, w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        let now = self.now();
        term.draw(|f| panes::render(f, &self.app, now)).unwrap();
        let mut buf = term.backend().buffer().clone();
        let area = Rect::new(0, 0, w, h);
        if !layout::too_small(area) {
            let panes = Panes::new(area, self.app.view.segments.len());
            let overlay = self.app.overlay != supsync::console::app::Overlay::None;
            if self.app.log_expanded {
                if overlay {
                    // Drawn over the log: nothing of tui-logger's shows through.
                    return self.text(&buf, w, h);
                }
                // tui-logger's lines are global and timestamped: blank the pane's inside.
                let log = panes.middle;
                for y in log.y + 1..log.bottom().saturating_sub(1) {
                    for x in log.x + 1..log.right().saturating_sub(1) {
                        buf[(x, y)].set_symbol(" ");
                    }
                }
            } else {
                // The refresh log's times are local wall-clock times: the snapshot shows
                // `hh:mm:ss` whatever the machine's time zone.
                let log = panes.log;
                for y in log.y + 1..log.bottom().saturating_sub(1) {
                    let x0 = log.x + 1;
                    let lead: String = (x0..x0 + 8).map(|x| buf[(x, y)].symbol()).collect();
                    let is_time = lead.len() == 8
                        && lead.char_indices().all(|(i, c)| {
                            if i == 2 || i == 5 {
                                c == ':'
                            } else {
                                c.is_ascii_digit()
                            }
                        });
                    if is_time {
                        for (x, c) in (x0..).zip("hh:mm:ss".chars()) {
                            buf[(x, y)].set_symbol(&c.to_string());
                        }
                    }
                }
            }
        }
        self.text(&buf, w, h)
    }

    fn text(&self, buf: &ratatui::buffer::Buffer, w: u16, h: u16) -> String {
        let mut out = String::new();
        for y in 0..h {
            let mut line = String::new();
            for x in 0..w {
                line.push_str(buf[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn summary(state: RunState, counts: Counts, failed: usize) -> RunSummary {
    RunSummary {
        run_id: "demo-20261125-2204".into(),
        direction: Direction::Push,
        state,
        counts,
        segments_total: 25,
        segments_done: 25 - failed,
        segments_failed: failed,
        token_renewals: 7,
        sessions: 2,
        duration: S(61),
        error: None,
        auth_failure: false,
    }
}

#[test]
fn fresh_start() {
    let mut s = Scene::new(25, 20, 120, 40);
    insta::assert_snapshot!("fresh_start_no_token", s.screen(120, 40));
    s.advance(1);
    s.token(0, 15, 0, 1, 0);
    insta::assert_snapshot!("fresh_start", s.screen(120, 40));
}

#[test]
fn mid_run_with_retries_and_a_failed_segment() {
    let mut s = Scene::new(25, 20, 120, 40);
    s.mid_run();
    insta::assert_snapshot!("mid_run_120x40", s.screen(120, 40));
    // Move the cursor onto the failed segment: the footer now offers `r`.
    for _ in 0..12 {
        s.app.handle(Action::Right);
    }
    insta::assert_snapshot!("mid_run_failed_selected", s.screen(120, 40));
    s.app.handle(Action::Details);
    insta::assert_snapshot!("mid_run_details_overlay", s.screen(120, 40));
}

#[test]
fn a_run_against_another_api_style_names_it_in_the_header() {
    let mut s = Scene::speaking(25, 20, 120, 40, "odata");
    s.mid_run();
    let screen = s.screen(120, 40);
    assert!(screen.contains("→ 127.0.0.1:41735 (odata API)"), "{screen}");
    insta::assert_snapshot!("mid_run_odata_api", screen);
    // supsync's own contract is not worth the room.
    let mut s = Scene::speaking(25, 20, 120, 40, "contract");
    s.mid_run();
    assert!(!s.screen(120, 40).contains(" API)"));
}

#[test]
fn mid_run_at_80x24_and_200x60() {
    let mut s = Scene::new(25, 20, 80, 24);
    s.mid_run();
    insta::assert_snapshot!("mid_run_80x24", s.screen(80, 24));
    s.app.resize(Rect::new(0, 0, 200, 60));
    insta::assert_snapshot!("mid_run_200x60", s.screen(200, 60));
}

#[test]
fn paused() {
    let mut s = Scene::new(25, 20, 120, 40);
    s.mid_run();
    s.app.handle(Action::TogglePause);
    let now = s.now();
    s.app.apply(EngineEvent::RunState(RunState::Paused), now);
    insta::assert_snapshot!("paused", s.screen(120, 40));
}

#[test]
fn token_in_the_red() {
    let mut s = Scene::new(25, 20, 120, 40);
    s.mid_run();
    // 14 s into a 15 s token: 1 s left, under a quarter of the 5 s margin.
    s.token(14, 15, 30, 1, 4);
    insta::assert_snapshot!("token_red", s.screen(120, 40));
}

#[test]
fn token_pane_shows_credential_lifetimes() {
    let mut s = Scene::new(25, 20, 120, 40);
    s.mid_run();
    s.token(3, 15, 30, 1, 4);
    let now = s.now();
    let day = S(86_400);
    // A certificate inside its 30-day warning (amber), a secret well outside its 14 days.
    s.app.credentials = supsync::console::app::credentials::Credentials {
        certificate: Some(now + 21 * day + S(3600)),
        secret: Some(now + 40 * day),
    };
    let screen = s.screen(120, 40);
    assert!(screen.contains("cert in 21 d · secret in 40 d"), "{screen}");
    insta::assert_snapshot!("token_credentials", screen);
}

#[test]
fn new_session_just_started() {
    let mut s = Scene::new(25, 20, 120, 40);
    s.mid_run();
    s.advance(20);
    s.token(0, 15, 0, 2, 5);
    s.advance(1);
    insta::assert_snapshot!("new_session", s.screen(120, 40));
}

/// `auth.kind = "session"`: a session id has no TTL and no refresh token; it dies by its
/// idle window (kept open by calls) or its cap (here 60 s, 50 s gone), and every renewal
/// is a new login. The pane shows those clocks like a token's.
#[test]
fn session_login_clocks() {
    let mut s = Scene::new(25, 20, 120, 40);
    s.mid_run();
    let now = s.now();
    let start = now - S(50);
    let status = TokenStatus {
        phase: TokenPhase::Valid,
        fingerprint: Some("#5c2e9a01".into()),
        grant: Some(GrantKind::SessionLogin),
        issued_at: Some(start),
        issued_at_wall: None,
        lifetime: None,
        lifetime_source: Some(supsync::auth::status::LifetimeSource::Session),
        ttl_deadline: None,
        idle_deadline: Some(now + S(15)),
        idle_window: Some(S(15)),
        session_deadline: Some(start + S(60)),
        session_started_at: Some(start),
        server_deadline: Some(now + S(9)),
        refresh_deadline: None,
        has_refresh_token: false,
        next_refresh_at: Some(start + S(40)),
        margin: S(20),
        renewals: 6,
        sessions: 7,
        last_result: Some(
            "session renewed (ahead of expiry): a new session login as sync-bot in 23 ms".into(),
        ),
        last_error: None,
        unauthorized_seen: 0,
        expired_seen: Default::default(),
        refresh_window: None,
    };
    s.app.apply(EngineEvent::Token(status), now);
    let screen = s.screen(120, 40);
    for want in [
        "grant       session login #5c2e9a01",
        "dies by     server header",
        "ttl         unknown",
        "idle        00:15",
        "session     00:10 · #7 for 00:50",
        "refresh tok none",
        "renewals    6 · sessions 7",
        "session renewed (ahead of expiry)",
    ] {
        assert!(screen.contains(want), "{want:?} not in\n{screen}");
    }
    insta::assert_snapshot!("session_login", screen);
}

#[test]
fn completed_with_rejects() {
    let mut s = Scene::new(25, 20, 120, 40);
    s.mid_run();
    s.seg(
        12,
        SegmentState::Done,
        2,
        Counts {
            created: 20,
            ..Default::default()
        },
    );
    s.seg(
        13,
        SegmentState::Done,
        2,
        Counts {
            created: 20,
            ..Default::default()
        },
    );
    for i in 14..25 {
        s.advance(1);
        s.done(i, if i == 20 { 1 } else { 0 });
    }
    let counts = s.app.view.totals.counts;
    let now = s.now();
    s.app.apply(
        EngineEvent::Finished(summary(RunState::Completed, counts, 0)),
        now,
    );
    s.advance(5);
    insta::assert_snapshot!("completed_with_rejects", s.screen(120, 40));
    assert_eq!(s.app.exit_code(), supsync::exit::REJECTS);
}

/// The engine stays open after its last segment (for `r`/`R`) and reports the end without
/// a summary: the end banner names the outcome, its exit code and the retry; the clock
/// stopped at the end however long the operator looks.
#[test]
fn finished_with_a_failed_segment_shows_the_end_banner() {
    let mut s = Scene::new(25, 20, 120, 40);
    s.mid_run();
    s.seg(
        13,
        SegmentState::Done,
        2,
        Counts {
            created: 20,
            ..Default::default()
        },
    );
    for i in 14..25 {
        s.advance(1);
        s.done(i, 0);
    }
    let now = s.now();
    s.app
        .apply(EngineEvent::RunState(RunState::CompletedWithFailures), now);
    let at_end = s.app.view.elapsed(now);
    s.advance(30);
    assert_eq!(
        s.app.view.elapsed(s.now()),
        at_end,
        "the clock stopped at the end"
    );
    let screen = s.screen(120, 40);
    insta::assert_snapshot!("finished_with_failures_banner", screen);
    assert!(
        screen.contains("COMPLETED WITH FAILURES · exit 3"),
        "{screen}"
    );
    assert!(
        screen.contains("supsync retry demo-20261125-2204"),
        "{screen}"
    );
}

#[test]
fn twenty_thousand_segments() {
    let mut s = Scene::new(20_000, 50, 120, 40);
    s.token(0, 15, 0, 1, 0);
    for i in 0..3_000 {
        s.done(i, u64::from(i % 997 == 5));
    }
    s.seg(1_234, SegmentState::Failed, 5, Counts::default());
    for i in 3_000..3_004 {
        s.seg(i, SegmentState::Running, 1, Counts::default());
    }
    s.advance(4);
    insta::assert_snapshot!("segments_20000", s.screen(120, 40));
    s.app.resize(Rect::new(0, 0, 80, 24));
    insta::assert_snapshot!("segments_20000_80x24", s.screen(80, 24));
    // A big screen gives the grid more cells, so each stands for fewer segments.
    s.app.resize(Rect::new(0, 0, 200, 60));
    insta::assert_snapshot!("segments_20000_200x60", s.screen(200, 60));
}

#[test]
fn too_small() {
    let s = Scene::new(25, 20, 79, 24);
    insta::assert_snapshot!("too_small", s.screen(79, 24));
    assert!(
        s.screen(80, 23)
            .contains("terminal too small (need 80×24, have 80×23)")
    );
}

#[test]
fn overlays_help_quit_and_log() {
    let mut s = Scene::new(25, 20, 120, 40);
    s.mid_run();
    s.app.handle(Action::ToggleHelp);
    insta::assert_snapshot!("help_overlay", s.screen(120, 40));
    s.app.resize(Rect::new(0, 0, 80, 24));
    let small = s.screen(80, 24);
    assert!(
        small.contains("quit (asks"),
        "every key fits at 80×24:\n{small}"
    );
    insta::assert_snapshot!("help_overlay_80x24", small);
    s.app.resize(Rect::new(0, 0, 120, 40));
    s.app.handle(Action::Close);
    s.app.handle(Action::Quit);
    insta::assert_snapshot!("quit_confirmation", s.screen(120, 40));
    s.app.handle(Action::Deny);
    s.app.handle(Action::ToggleLog);
    let log = s.screen(120, 40);
    assert!(log.contains("log: everything"), "{log}");
    assert!(
        !log.contains("segments 25"),
        "the log takes the middle band"
    );
}

#[test]
fn no_color_keeps_symbols_and_drops_colours() {
    let mut s = Scene::new(25, 20, 120, 40);
    s.app.color = false;
    s.mid_run();
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let now = s.now();
    term.draw(|f| panes::render(f, &s.app, now)).unwrap();
    let buf = term.backend().buffer();
    let reset = ratatui::style::Color::Reset;
    assert!(buf.content.iter().all(|c| c.fg == reset && c.bg == reset));
    let text = s.screen(120, 40);
    for sym in ["█", "▒", "✗", "↻", "▶", "·"] {
        assert!(text.contains(sym), "{sym} missing");
    }
}

/// The README's console capture and `assets/console-capture.txt` are the 120×40 snapshot,
/// so they cannot go stale while the console changes.
#[test]
fn the_readme_capture_is_the_snapshot() {
    let root = env!("CARGO_MANIFEST_DIR");
    let snap = std::fs::read_to_string(format!("{root}/tests/snapshots/tui__mid_run_120x40.snap"))
        .unwrap();
    let body = snap.splitn(3, "---\n").nth(2).unwrap().trim_end();
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    assert!(
        readme.contains(&format!("```text\n{body}\n```")),
        "refresh the README's console capture from tests/snapshots/tui__mid_run_120x40.snap"
    );
    let asset = std::fs::read_to_string(format!("{root}/assets/console-capture.txt")).unwrap();
    assert_eq!(
        asset.trim_end(),
        body,
        "refresh assets/console-capture.txt from the snapshot"
    );
}
