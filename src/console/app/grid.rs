//! Segment grid geometry: how many segments one cell stands for, and where each cell is.
//!
//! Small runs get one cell per segment with a space between cells; larger runs drop the
//! spaces; runs too large for the pane aggregate: one cell stands for a range of
//! consecutive segments and shows the worst state in it. The whole run is therefore
//! always on screen (20,000 segments in a 60×15 pane: 23 segments a cell), and the legend
//! says how many segments a cell holds.

use std::ops::Range;

use crate::engine::events::SegmentState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub segments: usize,
    /// Columns taken by one cell (2 = symbol and a space, 1 = dense).
    pub cell_width: u16,
    /// Cells per row.
    pub cols: usize,
    /// Segments one cell stands for.
    pub span: usize,
}

impl Geometry {
    /// Fits `segments` into a pane of `width` × `height` character cells.
    pub fn new(segments: usize, width: u16, height: u16) -> Self {
        let (w, h) = (usize::from(width.max(1)), usize::from(height.max(1)));
        let spaced = (w / 2).max(1) * h;
        let (cell_width, cols) = if segments <= spaced {
            (2, (w / 2).max(1))
        } else {
            (1, w)
        };
        let capacity = cols * h;
        let span = segments.div_ceil(capacity).max(1);
        Self {
            segments,
            cell_width,
            cols,
            span,
        }
    }

    /// Number of cells drawn.
    pub fn cells(&self) -> usize {
        self.segments.div_ceil(self.span)
    }

    pub fn rows(&self) -> usize {
        self.cells().div_ceil(self.cols)
    }

    pub fn cell_of(&self, segment: usize) -> usize {
        segment / self.span
    }

    /// Segments the cell stands for.
    pub fn range(&self, cell: usize) -> Range<usize> {
        let start = (cell * self.span).min(self.segments);
        start..((cell + 1) * self.span).min(self.segments)
    }

    /// (column, row) of a cell, in cells.
    pub fn position(&self, cell: usize) -> (usize, usize) {
        (cell % self.cols, cell / self.cols)
    }

    /// The cell reached from `cell` by a move of (dx, dy) cells, clamped to the grid.
    pub fn step(&self, cell: usize, dx: isize, dy: isize) -> usize {
        let last = self.cells().saturating_sub(1);
        let (col, row) = self.position(cell.min(last));
        let col = (col as isize + dx).clamp(0, self.cols as isize - 1) as usize;
        let row = (row as isize + dy).max(0) as usize;
        (row * self.cols + col).min(last)
    }
}

/// How bad a state is when cells aggregate: the worst one shows.
pub fn severity(s: SegmentState) -> u8 {
    match s {
        SegmentState::Done => 0,
        SegmentState::Pending => 1,
        SegmentState::DoneWithRejects => 2,
        SegmentState::Running => 3,
        SegmentState::Retrying => 4,
        SegmentState::Failed => 5,
    }
}

/// The state a cell shows for the given segment states.
pub fn worst(states: impl IntoIterator<Item = SegmentState>) -> Option<SegmentState> {
    states.into_iter().max_by_key(|s| severity(*s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use SegmentState::*;

    #[test]
    fn small_runs_get_spaced_cells() {
        let g = Geometry::new(25, 38, 9);
        assert_eq!((g.cell_width, g.cols, g.span), (2, 19, 1));
        assert_eq!(g.cells(), 25);
        assert_eq!(g.rows(), 2);
        assert_eq!(g.position(20), (1, 1));
        assert_eq!(g.range(24), 24..25);
    }

    #[test]
    fn medium_runs_go_dense_before_aggregating() {
        let g = Geometry::new(300, 38, 9); // 171 spaced cells < 300 ≤ 342 dense
        assert_eq!((g.cell_width, g.cols, g.span), (1, 38, 1));
    }

    #[test]
    fn twenty_thousand_segments_aggregate_to_fit() {
        let g = Geometry::new(20_000, 60, 15);
        assert_eq!(g.cell_width, 1);
        assert_eq!(g.span, 23); // ceil(20000 / 900)
        assert!(g.rows() <= 15);
        assert_eq!(g.cells(), 870);
        assert_eq!(g.range(869), 19_987..20_000);
        assert_eq!(g.cell_of(19_999), 869);
    }

    #[test]
    fn steps_clamp_at_the_edges() {
        let g = Geometry::new(25, 38, 9); // 19 columns, last row has 6 cells
        assert_eq!(g.step(0, -1, 0), 0);
        assert_eq!(g.step(0, 0, -1), 0);
        assert_eq!(g.step(18, 1, 0), 18);
        assert_eq!(g.step(10, 0, 1), 24); // below is past the end: the last cell
        assert_eq!(g.step(3, 0, 1), 22);
        assert_eq!(g.step(24, 0, 5), 24);
    }

    #[test]
    fn zero_sizes_do_not_divide_by_zero() {
        let g = Geometry::new(0, 0, 0);
        assert_eq!(g.cells(), 0);
        assert_eq!(g.step(0, 1, 1), 0);
        let g = Geometry::new(10, 0, 0);
        assert_eq!(g.span, 10);
        assert_eq!(g.cells(), 1);
    }

    #[test]
    fn worst_state_wins() {
        assert_eq!(worst([Done, Done]), Some(Done));
        assert_eq!(worst([Done, Pending]), Some(Pending));
        assert_eq!(
            worst([Done, DoneWithRejects, Pending]),
            Some(DoneWithRejects)
        );
        assert_eq!(worst([Running, Retrying, Done]), Some(Retrying));
        assert_eq!(worst([Running, Failed, Retrying]), Some(Failed));
        assert_eq!(worst(std::iter::empty()), None);
    }
}
