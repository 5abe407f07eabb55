//! Every pane renders into 1×1 and zero-size areas (and odd offsets) without panicking.

use std::time::{Duration, Instant, SystemTime};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::*;
use crate::auth::status::{TokenPhase, TokenStatus};
use crate::console::keys::Action;
use crate::engine::events::{Direction, EngineEvent, RunInfo, SegmentState, SegmentView};

fn busy_app(now: Instant) -> App {
    let mut app = App::new(true);
    app.resize(Rect::new(0, 0, 100, 30));
    app.apply(
        EngineEvent::RunStarted(RunInfo {
            run_id: "r".into(),
            direction: Direction::Push,
            source: "s.csv".into(),
            target: "h".into(),
            total_records: 60,
            segments: (0..3).map(|i| SegmentView::pending(i, 20)).collect(),
            started_wall: SystemTime::UNIX_EPOCH,
            local_rejects: 1,
            api_style: String::new(),
        }),
        now,
    );
    let mut s = SegmentView::pending(0, 20);
    s.state = SegmentState::Failed;
    s.last_error = Some("503".into());
    app.apply(EngineEvent::Segment(s), now);
    app.apply(
        EngineEvent::Token(TokenStatus {
            phase: TokenPhase::Valid,
            issued_at: Some(now),
            ttl_deadline: Some(now + Duration::from_secs(15)),
            margin: Duration::from_secs(5),
            ..Default::default()
        }),
        now,
    );
    app
}

#[test]
fn every_pane_survives_tiny_areas() {
    let now = Instant::now();
    let app = busy_app(now);
    let areas = [
        Rect::new(0, 0, 0, 0),
        Rect::new(0, 0, 1, 1),
        Rect::new(0, 0, 1, 0),
        Rect::new(0, 0, 0, 1),
        Rect::new(0, 0, 3, 2),
    ];
    for area in areas {
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 4));
        header::render(&mut buf, area, &app, now);
        grid::render(&mut buf, area, &app);
        details::render(&mut buf, area, &app, now);
        banner::render(&mut buf, area, &app, now);
        details::render_overlay(&mut buf, area, &app);
        token::render(&mut buf, area, &app, now);
        log::render(&mut buf, area, &app, false);
        log::render(&mut buf, area, &app, true);
        footer::render(&mut buf, area, &app);
        help::render_help(&mut buf, area, &app);
        help::render_confirm(&mut buf, area, &app);
    }
}

#[test]
fn whole_screen_survives_any_terminal_size() {
    use ratatui::{Terminal, backend::TestBackend};
    let now = Instant::now();
    let mut app = busy_app(now);
    app.handle(Action::ToggleHelp);
    for (w, h) in [
        (0, 0),
        (1, 1),
        (79, 24),
        (80, 23),
        (80, 24),
        (81, 25),
        (300, 100),
    ] {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        app.resize(Rect::new(0, 0, w, h));
        term.draw(|f| render(f, &app, now)).unwrap();
    }
}

#[test]
fn the_help_says_detach_when_attached() {
    let text = |app: &App| {
        let area = Rect::new(0, 0, 100, 40);
        let mut buf = Buffer::empty(area);
        help::render_help(&mut buf, area, app);
        (0..area.height)
            .map(|y| {
                (0..area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut app = busy_app(Instant::now());
    let own = text(&app);
    assert!(own.contains("quit (asks while a sync runs)"), "{own}");
    assert!(!own.contains("detach"), "{own}");
    app.attached = Some(crate::console::app::Attached {
        read_only: false,
        lost: false,
    });
    let attached = text(&app);
    assert!(attached.contains("detach (the run goes on"), "{attached}");
    assert!(!attached.contains("quit (asks"), "{attached}");
}

#[test]
fn the_refresh_log_draws_the_views_lines_newest_last() {
    let now = Instant::now();
    let mut app = busy_app(now);
    for (i, text) in ["token issued", "token refreshed"].iter().enumerate() {
        app.apply(
            EngineEvent::TokenLog(crate::auth::audit::AuditLine {
                wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + i as u64),
                problem: i == 1,
                text: text.to_string(),
            }),
            now,
        );
    }
    let area = Rect::new(0, 0, 50, 4);
    let mut buf = Buffer::empty(area);
    log::render(&mut buf, area, &app, false);
    let rows: Vec<String> = (1..3)
        .map(|y| (0..50).map(|x| buf[(x, y)].symbol().to_string()).collect())
        .collect();
    assert!(rows[0].contains("token issued"), "{rows:?}");
    assert!(rows[1].contains("! token refreshed"), "{rows:?}");
}

#[test]
fn a_long_hold_reason_is_cut_at_a_word_in_the_header() {
    use crate::engine::events::Hold;
    let now = Instant::now();
    let mut app = busy_app(now);
    app.apply(
        EngineEvent::Holding(Some(Hold {
            reason: "the API asks to wait 17 s (rate limited by the server, retry after \
                     17 s) while its gateway sheds load"
                .into(),
            until: Some(SystemTime::now() + Duration::from_secs(17)),
        })),
        now,
    );
    // The header's first row, inside the border.
    let row = |width: u16| {
        let area = Rect::new(0, 0, width, 5);
        let mut buf = Buffer::empty(area);
        header::render(&mut buf, area, &app, now);
        let r: String = (1..width - 1)
            .map(|x| buf[(x, 1)].symbol().to_string())
            .collect();
        r.trim_end().to_string()
    };
    let whole = row(400);
    let cut = row(60);
    assert!(cut.ends_with('…'), "cut without a mark: {cut:?}");
    // The word before the mark is one of the line's own words, not the start of one.
    let trim = |w: &str| w.trim_matches([',', ':', ';', '(', ')', '·']).to_string();
    let last = cut.trim_end_matches('…').split(' ').next_back().map(trim);
    let words: Vec<String> = whole.split_whitespace().map(trim).collect();
    assert!(
        last.is_some_and(|l| !l.is_empty() && words.contains(&l)),
        "cut mid-word: {cut:?} of {whole:?}"
    );
}
