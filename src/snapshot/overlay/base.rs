//! What the overlay asks of the indexed forest it is over: lookups, depths, level
//! ancestors, runs of positions with their depth bounds and filter matches, records.

use std::ops::Range;

use super::super::numbering::{Pos, Rank};
use super::super::piece::{Leaf, Piece};
use super::super::Core;
use crate::capability::Filter;
use crate::id::Id;

impl Core {
    /// Number of resellers.
    pub(crate) fn n(&self) -> u32 {
        self.ids.len() as u32
    }

    /// The position of the reseller with this id.
    #[inline]
    pub(crate) fn find(&self, id: &Id) -> Option<Pos> {
        self.lookup
            .get(id.as_str(), |j| self.ids.get(Pos::new(j)).as_str())
            .map(Pos::new)
    }

    /// The level-order rank of position `p`, in `O(log n)` (the wavelet matrix).
    pub(crate) fn rank_of(&self, p: Pos) -> Rank {
        Rank::new(self.level.get(p.idx()))
    }

    /// The position of the reseller of level-order rank `b`.
    #[inline]
    pub(crate) fn at_rank(&self, b: Rank) -> Pos {
        self.bfs[b.idx()]
    }

    /// Depth of the reseller of level-order rank `b`.
    pub(super) fn depth_of_rank(&self, b: Rank) -> u32 {
        (self.level_start.partition_point(|&s| s <= b) - 1) as u32
    }

    /// Depth of position `p`: a byte and its block's smallest depth (see
    /// [`Depths`](super::super::depths::Depths)), otherwise `O(log n)` (its level-order
    /// rank from the wavelet matrix, then its level).
    #[inline]
    pub(crate) fn depth_at(&self, p: Pos) -> u32 {
        match self.depths.get(p) {
            Some(d) => d,
            None => self.depth_of_rank(self.rank_of(p)),
        }
    }

    /// The positions at base depth `t`, in order (empty past the deepest level), and
    /// the level-order rank of the first.
    pub(super) fn level(&self, t: usize) -> (Rank, &[Pos]) {
        let Some(&a) = self.level_start.get(t) else {
            return (Rank::at(self.bfs.len()), &[]);
        };
        let b = self
            .level_start
            .get(t + 1)
            .copied()
            .unwrap_or(Rank::at(self.bfs.len()));
        (a, &self.bfs[a.idx()..b.idx()])
    }

    /// The level-order ranks of the resellers at base depth `t` among base positions
    /// `s..e`, in `O(log w)` for a level `w` wide: a level lists its resellers by
    /// position, so they are the level's slice between two binary searches (the top
    /// levels, which level-order pages walk most, are short and stay in cache).
    pub(super) fn level_ranks(&self, s: Pos, e: Pos, t: i64) -> Range<Rank> {
        let Ok(t) = usize::try_from(t) else {
            return Rank::new(0)..Rank::new(0);
        };
        let (a, level) = self.level(t);
        let lo = level.partition_point(|&p| p < s);
        let hi = lo + level[lo..].partition_point(|&p| p < e);
        a + lo as u32..a + hi as u32
    }

    /// The level-order rank below which resellers are shallower than `depth`.
    pub(super) fn rank_bound(&self, depth: i64) -> Rank {
        if depth <= 0 {
            return Rank::new(0);
        }
        usize::try_from(depth)
            .ok()
            .and_then(|d| self.level_start.get(d).copied())
            .unwrap_or(Rank::at(self.ids.len()))
    }

    /// The run of positions `s..e` (not empty) at their depth plus `shift`: its
    /// smallest depth exact, its largest bounded by the base's deepest level, which is
    /// all that changes need (see [`Piece::Run`]).
    pub(super) fn run(&self, s: Pos, e: Pos, shift: i64) -> Piece {
        Piece::Run {
            s,
            e,
            shift,
            min: (i64::from(self.min_depth_in(s, e)) + shift) as u32,
            max: (i64::from(self.deepest()) + shift) as u32,
        }
    }

    /// The smallest base depth among positions `s..e` (not empty): `O(1)` from the
    /// depths by position (see [`Depths`](super::super::depths::Depths)), a quantile
    /// of the level order when they cannot tell.
    pub(super) fn min_depth_in(&self, s: Pos, e: Pos) -> u32 {
        self.depths
            .min(s, e)
            .unwrap_or_else(|| self.depth_in_range(s, e, 0))
    }

    /// The largest base depth among positions `s..e` (not empty): a quantile of the
    /// level order.
    pub(super) fn max_depth_in(&self, s: Pos, e: Pos) -> u32 {
        self.depth_in_range(s, e, (e - s) as usize - 1)
    }

    /// The `k`-th smallest base depth among positions `s..e`, from the level order.
    fn depth_in_range(&self, s: Pos, e: Pos, k: usize) -> u32 {
        let v = self.level.quantile(s.idx(), e.idx(), k).unwrap_or(0);
        self.depth_of_rank(Rank::new(v))
    }

    /// The base's largest depth.
    pub(crate) fn deepest(&self) -> u32 {
        self.level_start.len().saturating_sub(2) as u32
    }

    /// The run of positions `s..e` with its filter matches.
    pub(super) fn run_leaf(&self, s: Pos, e: Pos, shift: i64) -> Leaf {
        Leaf {
            piece: self.run(s, e, shift),
            matches: Filter::ALL.map(|f| {
                let pre = &self.filters[f.slot()].pre;
                (pre.rank1(e.idx()) - pre.rank1(s.idx())) as u32
            }),
        }
    }

    /// The first position from `s` on at depth `t` or less (`n` when none): `s`
    /// itself, or the end of the downline of `s`'s ancestor at depth `t`, which is the
    /// last position up to `s` at depth `t`: one binary search over that level, which
    /// lists its positions in order.
    pub(super) fn first_at_most(&self, s: Pos, t: u32) -> Pos {
        let n = Pos::new(self.n());
        if s >= n || self.depth_at(s) <= t {
            return s.min(n);
        }
        let (_, level) = self.level(t as usize);
        match level.partition_point(|&p| p <= s).checked_sub(1) {
            Some(i) => self.end[level[i].idx()],
            None => n,
        }
    }

    /// The last position in `lo..hi` at depth `t`: one binary search over that
    /// level, which lists its positions in order.
    pub(super) fn last_at_depth(&self, lo: Pos, hi: Pos, t: i64) -> Option<Pos> {
        let (_, level) = self.level(usize::try_from(t).ok()?);
        let i = level.partition_point(|&p| p < hi).checked_sub(1)?;
        (level[i] >= lo).then_some(level[i])
    }
}
