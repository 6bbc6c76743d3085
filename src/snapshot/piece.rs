//! [`Piece`]: one stretch of a changed version's pre-order, and [`Leaf`], a piece with
//! the counts the piece tree sums about it.

use super::numbering::{Handle, Pos};

/// A stretch of the changed pre-order (see `overlay.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Base positions `s..e` at their base depth plus `shift`; `min` is the smallest
    /// (shifted) depth among them and `max` at least the largest (the base's deepest
    /// level, shifted: an exact largest depth costs a quantile per cut, and only a
    /// level-order listing across many pieces needs it, which finds it itself).
    Run {
        s: Pos,
        e: Pos,
        shift: i64,
        min: u32,
        max: u32,
    },
    /// One reseller at `depth`.
    Node { x: Handle, depth: u32 },
}

impl Piece {
    /// How many resellers it lists.
    pub(crate) fn len(&self) -> u32 {
        match *self {
            Piece::Run { s, e, .. } => e - s,
            Piece::Node { .. } => 1,
        }
    }

    /// The smallest depth in it.
    pub(crate) fn min_depth(&self) -> u32 {
        match *self {
            Piece::Run { min, .. } => min,
            Piece::Node { depth, .. } => depth,
        }
    }

    /// At least the largest depth in it.
    pub(crate) fn max_depth(&self) -> u32 {
        match *self {
            Piece::Run { max, .. } => max,
            Piece::Node { depth, .. } => depth,
        }
    }

    /// The same resellers `by` levels deeper (shallower when negative).
    pub(crate) fn shifted(self, by: i64) -> Piece {
        match self {
            Piece::Run {
                s,
                e,
                shift,
                min,
                max,
            } => Piece::Run {
                s,
                e,
                shift: shift + by,
                min: (i64::from(min) + by) as u32,
                max: (i64::from(max) + by) as u32,
            },
            Piece::Node { x, depth } => Piece::Node {
                x,
                depth: (i64::from(depth) + by) as u32,
            },
        }
    }
}

/// A piece and how many of its resellers match each filter (by
/// [`Filter::slot`](crate::Filter)): what the piece tree sums, so that filtered counts
/// and the `i`-th match are found by descending it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Leaf {
    pub(crate) piece: Piece,
    pub(crate) matches: [u32; 4],
}

impl Leaf {
    /// The same leaf `by` levels deeper.
    pub(crate) fn shifted(self, by: i64) -> Leaf {
        Leaf {
            piece: self.piece.shifted(by),
            matches: self.matches,
        }
    }
}
