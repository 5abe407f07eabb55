//! Colours and symbols. Every state has a symbol as well as a colour, so the console reads
//! the same under `NO_COLOR` (colours off, symbols and modifiers kept).

use ratatui::style::{Color, Modifier, Style};

use crate::run::{RunState, SegmentState};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }
    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn dim(&self) -> Style {
        self.fg(Color::DarkGray)
    }
    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn border(&self) -> Style {
        self.fg(Color::Gray)
    }

    pub fn segment(&self, s: SegmentState) -> Style {
        match s {
            SegmentState::Pending => self.dim(),
            SegmentState::Running => self.fg(Color::Cyan),
            SegmentState::Retrying => self.warn(),
            SegmentState::Done => self.ok(),
            SegmentState::DoneWithRejects => self.fg(Color::Magenta),
            SegmentState::Failed => self.bad(),
        }
    }

    pub fn run_state(&self, s: RunState) -> Style {
        let base = match s {
            RunState::Running | RunState::Completed => self.ok(),
            RunState::Planning => self.accent(),
            RunState::Paused | RunState::Stopping | RunState::Interrupted => self.warn(),
            RunState::CompletedWithFailures | RunState::Failed => self.bad(),
        };
        base.add_modifier(Modifier::BOLD)
    }
}

pub fn symbol(s: SegmentState) -> &'static str {
    match s {
        SegmentState::Pending => "·",
        SegmentState::Running => "▶",
        SegmentState::Retrying => "↻",
        SegmentState::Done => "█",
        SegmentState::DoneWithRejects => "▒",
        SegmentState::Failed => "✗",
    }
}

/// Order the legend lists states in.
pub const LEGEND: [SegmentState; 6] = SegmentState::ALL;
