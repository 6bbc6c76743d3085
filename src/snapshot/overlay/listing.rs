//! Queries through the overlay: counts, pages in pre-order (filtered or not) and in
//! level order, from the piece tree and the base's indexes.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use super::super::numbering::{Handle, Line, Pos, Rank};
use super::super::piece::Piece;
use super::super::Gathered;
use super::super::{Core, FilterIndex};
use super::Overlay;
use crate::capability::{Capabilities, Filter};
use crate::paging::{Order, PageRequest};
use crate::wavelet::WaveletMatrix;

/// Depth counts of runs, by base positions and filter slot: see
/// [`Core::depth_counts`].
pub(crate) type DepthCounts = HashMap<(Pos, Pos, u8), Arc<[u32]>>;

/// Which resellers a listing counts: all, or the matches of one filter. The base's
/// indexes are read through it: positions or match indices, level-order ranks or
/// ranks among the matches.
#[derive(Clone, Copy)]
enum Space<'c> {
    All,
    Match(Filter, &'c FilterIndex),
}

impl Space<'_> {
    /// The indices of the resellers at base positions `s..e`.
    fn span(&self, s: Pos, e: Pos) -> Range<usize> {
        match self {
            Space::All => Pos::span(s..e),
            Space::Match(_, fi) => fi.pre.rank1(s.idx())..fi.pre.rank1(e.idx()),
        }
    }

    fn matrix<'a>(&'a self, core: &'a Core) -> &'a WaveletMatrix {
        match self {
            Space::All => &core.level,
            Space::Match(_, fi) => &fi.level,
        }
    }

    /// The matrix value below which base depths are below `depth`.
    fn bound(&self, core: &Core, depth: i64) -> usize {
        let rank = core.rank_bound(depth);
        match self {
            Space::All => rank.idx(),
            Space::Match(_, fi) => fi.bfs.rank1(rank.idx()),
        }
    }

    /// Level-order rank of a matrix value.
    fn rank_of(&self, v: u32) -> Rank {
        match self {
            Space::All => Rank::new(v),
            Space::Match(_, fi) => Rank::at(fi.bfs.select1(v as usize).unwrap_or(0)),
        }
    }

    /// The indices, in this space, of the resellers of level-order ranks `ranks`.
    fn within(&self, ranks: Range<Rank>) -> Range<usize> {
        match self {
            Space::All => Rank::span(ranks),
            Space::Match(_, fi) => fi.bfs.rank1(ranks.start.idx())..fi.bfs.rank1(ranks.end.idx()),
        }
    }

    fn matches(&self, caps: Capabilities) -> bool {
        match self {
            Space::All => true,
            Space::Match(f, _) => f.matches(caps),
        }
    }
}

/// A piece clipped to a listing: a run's indices in a [`Space`], or one reseller.
enum Seg {
    /// `depths` bounds the depths of the span's resellers; `whole` holds the base
    /// positions of the piece when the listing takes all of it (what the cache of
    /// depth counts is keyed by), and `counts` those counts once looked up.
    Run {
        span: Range<usize>,
        shift: i64,
        depths: (u32, u32),
        whole: Option<(Pos, Pos)>,
        counts: Option<Arc<[u32]>>,
    },
    Node {
        x: Handle,
        depth: u32,
    },
}

/// Pieces without a match a filtered listing steps over before it descends the piece
/// tree again for its next match (a step is cheaper than a descent for a few).
const IDLE_PIECES: usize = 8;

/// The widest span of depths (largest less smallest) a run's depth counts cover: one
/// wavelet rank query each to compute. A deeper run (a stretch of a long chain, say)
/// is counted by a rank query per depth a listing asks about instead, so that a page
/// never pays for depths it does not reach.
const COUNTED_DEPTHS: u32 = 64;

impl Core {
    /// For the resellers of `space` at base positions `s..e` (a whole run): how many are
    /// shallower than each depth from the run's smallest to one past its largest
    /// (`counts[i]` for depth `min + i`, the same whatever the run's shift); `None`
    /// when the run spans more than [`COUNTED_DEPTHS`] depths. Computed once per run
    /// and kept with the base, so that level-order pages of changed versions cost one
    /// lookup per run and depth instead of a wavelet rank query.
    ///
    /// The cache holds at most [`Core::depth_counts_kept`] runs: when full, it starts
    /// afresh (runs of versions long gone would otherwise stay until the base goes),
    /// so its memory stays within a few bytes per reseller of the base. A listing of
    /// more whole runs than half that does not use it.
    fn depth_counts(&self, space: Space<'_>, s: Pos, e: Pos) -> Option<Arc<[u32]>> {
        let slot = match space {
            Space::All => 0,
            Space::Match(f, _) => 1 + f.slot() as u8,
        };
        let key = (s, e, slot);
        let cache = |c: &DepthCounts| c.get(&key).cloned();
        if let Some(found) = cache(&self.depth_counts.read().unwrap_or_else(|p| p.into_inner())) {
            return Some(found);
        }
        let (min, max) = (self.min_depth_in(s, e), self.max_depth_in(s, e));
        if max - min > COUNTED_DEPTHS {
            return None;
        }
        let span = space.span(s, e);
        let m = space.matrix(self);
        let counts: Arc<[u32]> = (i64::from(min)..=i64::from(max) + 1)
            .map(|d| m.count_less(span.start, span.end, space.bound(self, d)) as u32)
            .collect();
        let mut cache = self.depth_counts.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= self.depth_counts_kept() && !cache.contains_key(&key) {
            *cache = DepthCounts::default();
        }
        Some(cache.entry(key).or_insert(counts).clone())
    }

    /// Gives the whole runs of `segs` their depth counts from the cache, unless they
    /// are more than half the runs it keeps: then each is counted at the depths the
    /// listing asks about, since through the cache every such listing would empty
    /// and refill it, finding none of its own counts again.
    fn count_depths(&self, space: Space<'_>, segs: &mut [Seg]) {
        let whole = segs
            .iter()
            .filter(|seg| matches!(seg, Seg::Run { whole: Some(_), .. }))
            .count();
        if whole > self.depth_counts_kept() / 2 {
            return;
        }
        for seg in segs {
            if let Seg::Run {
                whole: Some((s, e)),
                counts,
                ..
            } = seg
            {
                *counts = self.depth_counts(space, *s, *e);
            }
        }
    }

    /// How many runs' depth counts the cache keeps: one per 128 resellers of the base,
    /// at least 1,024 (each at most [`COUNTED_DEPTHS`] + 2 counts and a map entry,
    /// about 330 bytes: under 3 bytes per reseller).
    fn depth_counts_kept(&self) -> usize {
        (self.n() as usize / 128).max(1024)
    }
}

impl Overlay {
    fn space<'c>(core: &'c Core, filter: Option<Filter>) -> Space<'c> {
        match filter {
            None => Space::All,
            Some(f) => Space::Match(f, &core.filters[f.slot()]),
        }
    }

    /// The pieces of lines `range`, clipped, with the resellers of `space`.
    fn segments(&self, core: &Core, space: Space<'_>, range: Range<Line>) -> Vec<Seg> {
        let mut out = Vec::new();
        if range.start >= range.end {
            return out;
        }
        for (at, leaf) in self.pieces.walk_from(range.start) {
            if at >= range.end {
                break;
            }
            let lo = range.start.max(at) - at;
            let hi = range.end.min(at + leaf.piece.len()) - at;
            match leaf.piece {
                Piece::Run {
                    s,
                    e,
                    shift,
                    min,
                    max,
                } => {
                    let span = space.span(s + lo, s + hi);
                    if !span.is_empty() {
                        out.push(Seg::Run {
                            span,
                            shift,
                            depths: (min, max),
                            whole: (hi - lo == e - s).then_some((s, e)),
                            counts: None,
                        });
                    }
                }
                Piece::Node { x, depth } => {
                    if space.matches(self.caps(core, x)) {
                        out.push(Seg::Node { x, depth });
                    }
                }
            }
        }
        out
    }

    /// How many resellers before line `l` match `f`: the tree's count before the
    /// piece, plus a rank inside a run.
    fn matches_before(&self, core: &Core, f: Filter, l: Line) -> usize {
        let Some(found) = self.pieces.at(l) else {
            return self.pieces.total_matches(f.slot()) as usize;
        };
        let inside = match found.leaf.piece {
            Piece::Run { s, .. } => {
                let pre = &core.filters[f.slot()].pre;
                pre.rank1((s + (l - found.start)).idx()) - pre.rank1(s.idx())
            }
            Piece::Node { .. } => 0,
        };
        found.before[f.slot()] as usize + inside
    }

    /// How many resellers of lines `range` pass `filter`.
    pub(crate) fn count(&self, core: &Core, range: Range<Line>, filter: Option<Filter>) -> usize {
        match filter {
            None => (range.end - range.start) as usize,
            Some(f) => {
                self.matches_before(core, f, range.end) - self.matches_before(core, f, range.start)
            }
        }
    }

    /// Matches `from..from + n` of `f` (counted over all pieces), in order.
    ///
    /// One descent finds the piece of the first match; the walk then goes on piece by
    /// piece while pieces hold matches, and descends again for the next match after
    /// [`IDLE_PIECES`] pieces in a row without one, so that a long stretch of
    /// non-matching pieces costs `O(log k)`, not a step per piece.
    fn matches_from(&self, core: &Core, f: Filter, from: usize, n: usize) -> Gathered {
        let mut items = Gathered::with_capacity(n);
        let pre = &core.filters[f.slot()].pre;
        let mut g = from;
        'descend: while items.len() < n {
            let Some(first) = self.pieces.match_at(f.slot(), g as u32) else {
                break;
            };
            let mut before = first.before[f.slot()] as usize;
            let mut idle = 0;
            for (_, leaf) in self.pieces.walk_from(first.start) {
                if items.len() >= n {
                    break 'descend;
                }
                let here = leaf.matches[f.slot()] as usize;
                let skip = g - before;
                if skip < here {
                    idle = 0;
                    match leaf.piece {
                        Piece::Run { s, .. } => {
                            let last = before + here;
                            let mut next = pre.select1(pre.rank1(s.idx()) + skip);
                            while g < last && items.len() < n {
                                let Some(p) = next else { break };
                                items.push(Handle::of(Pos::at(p)));
                                g += 1;
                                next = pre.next_one(p + 1);
                            }
                        }
                        Piece::Node { x, .. } => {
                            items.push(x);
                            g += 1;
                        }
                    }
                } else {
                    idle += 1;
                    if idle > IDLE_PIECES {
                        continue 'descend;
                    }
                }
                before += here;
            }
            break;
        }
        items
    }

    /// How many resellers of lines `range` are at depth `d`.
    pub(crate) fn count_at_depth(&self, core: &Core, range: Range<Line>, d: u32) -> usize {
        let segs = self.segments(core, Space::All, range);
        let d = i64::from(d);
        segs.iter()
            .map(|seg| below(core, Space::All, seg, d + 1) - below(core, Space::All, seg, d))
            .sum()
    }

    /// The page `request` of the resellers of lines `range` that pass `filter`, in
    /// `order`: the total and the resellers.
    pub(crate) fn listing(
        &self,
        core: &Core,
        range: Range<Line>,
        filter: Option<Filter>,
        order: Order,
        request: PageRequest,
    ) -> (usize, Gathered) {
        if let (None, Order::PreOrder) = (filter, order) {
            // Every reseller of the range: no need to look at the pieces off the page.
            let total = (range.end - range.start) as usize;
            let window = request.window(total);
            let (lo, hi) = (
                range.start + window.start as u32,
                range.start + window.end as u32,
            );
            let mut items = Gathered::with_capacity(window.len());
            if lo < hi {
                for (at, leaf) in self.pieces.walk_from(lo) {
                    if at >= hi {
                        break;
                    }
                    match leaf.piece {
                        Piece::Run { s, .. } => {
                            let from = s + (lo.max(at) - at);
                            let to = s + (hi.min(at + leaf.piece.len()) - at);
                            items.extend(Pos::each(from..to).map(Handle::of));
                        }
                        Piece::Node { x, .. } => items.push(x),
                    }
                }
            }
            return (total, items);
        }
        if let (Some(f), Order::PreOrder) = (filter, order) {
            let before = self.matches_before(core, f, range.start);
            let total = self.matches_before(core, f, range.end) - before;
            let window = request.window(total);
            return (
                total,
                self.matches_from(core, f, before + window.start, window.len()),
            );
        }
        // Level order (both pre-order cases returned above).
        let space = Overlay::space(core, filter);
        let total = self.count(core, range.clone(), filter);
        let window = request.window(total);
        // Many pieces, a page near the top: level by level from the tree. (Few pieces:
        // counting them all is cheaper, and inside one run it is the base's own order.)
        let many = self.pieces.pieces_in(range.start, range.end) > Overlay::LEVEL_WALK.0;
        if many && window.start < Overlay::LEVEL_WALK.1 {
            let budget = Overlay::LEVEL_WALK.2 + Overlay::LEVEL_WALK.3 * window.end;
            let walked = self.level_walk(core, space, range.clone(), total, window.clone(), budget);
            if let Some(items) = walked {
                return (total, items);
            }
        }
        let segs = self.segments(core, space, range);
        let items = match &segs[..] {
            // Inside one run the depths shift together: the base's own level order.
            [Seg::Run { span, .. }] => match space {
                Space::All => core.level_page(span.clone(), window),
                Space::Match(_, fi) => {
                    // The run's base positions, from its first and last match.
                    let first = fi.pre.select1(span.start).unwrap_or(0);
                    let last = fi.pre.select1(span.end - 1).unwrap_or(0);
                    core.filtered_level_page(fi, span.clone(), first..last + 1, window)
                }
            },
            _ => {
                let mut segs = segs;
                core.count_depths(space, &mut segs);
                level_items(core, space, &segs, window)
            }
        };
        (total, items)
    }

    /// When a level-order page is taken level by level from the tree: when its range
    /// holds more than `.0` pieces and the page starts before item `.1`; it gives up
    /// for the counts after visiting `.2` pieces plus `.3` per item up to the page's
    /// end. Debug builds walk any range of two pieces or more and give up early, so
    /// that tests take both ways.
    const LEVEL_WALK: (u32, usize, usize, usize) = if cfg!(debug_assertions) {
        (1, usize::MAX, 0, 1)
    } else {
        (64, 256, 1024, 4)
    };

    /// The items `window` of lines `range` (`total` of them in `space`) in level order,
    /// taken level by level from the tree, or `None` once more than `budget` pieces
    /// were visited.
    ///
    /// `range` is a downline, a reseller and its downline, or everything, so its first
    /// reseller is its shallowest. At each depth `d` from there, the tree yields the
    /// pieces of the range with a reseller at depth `d` or less (skipping, a subtree
    /// at a time, pieces all deeper); a run's resellers at depth `d` are a slice of
    /// the base's level `d - shift`, found by two binary searches over that level
    /// ([`Core::level_ranks`]; near the top of a range, levels are short and in cache,
    /// where a wavelet count or quantile reads one cache line per bit of the rank).
    /// A page near the start costs the pieces holding its levels, not the pieces of
    /// the range; a page deep in a range of many pieces gives up, for the counts.
    fn level_walk(
        &self,
        core: &Core,
        space: Space<'_>,
        range: Range<Line>,
        total: usize,
        window: Range<usize>,
        budget: usize,
    ) -> Option<Gathered> {
        let mut items = Gathered::with_capacity(window.len());
        if window.is_empty() || range.start >= range.end {
            return Some(items);
        }
        let first = self.pieces.at(range.start)?;
        let top = match first.leaf.piece {
            Piece::Run { s, shift, .. } => {
                i64::from(core.depth_at(s + (range.start - first.start))) + shift
            }
            Piece::Node { depth, .. } => i64::from(depth),
        };
        let mut visited = 0usize;
        // Resellers of the range before the current depth and piece, in level order.
        let mut k = 0usize;
        let mut d = top;
        loop {
            let mut next = Some(first);
            while let Some(found) = next.filter(|f| f.start < range.end) {
                visited += 1;
                if visited > budget {
                    return None;
                }
                let piece = found.leaf.piece;
                let end = found.start + piece.len();
                let lo = range.start.max(found.start) - found.start;
                let hi = range.end.min(end) - found.start;
                // The piece's resellers at depth `d`: indices `at..at + here` in
                // `space`'s level order.
                let (at, here) = match piece {
                    Piece::Run {
                        s, shift, min, max, ..
                    } if (i64::from(min)..=i64::from(max)).contains(&d) => {
                        let v = space.within(core.level_ranks(s + lo, s + hi, d - shift));
                        (v.start, v.len())
                    }
                    Piece::Run { .. } => (0, 0),
                    Piece::Node { x, depth } => {
                        let here = i64::from(depth) == d && space.matches(self.caps(core, x));
                        (0, usize::from(here))
                    }
                };
                let from = window.start.saturating_sub(k).min(here);
                let take = (from..here).len().min(window.len() - items.len());
                match piece {
                    Piece::Run { .. } => items.extend(
                        (at + from..at + from + take)
                            .map(|v| Handle::of(core.at_rank(space.rank_of(v as u32)))),
                    ),
                    Piece::Node { x, .. } if take > 0 => items.push(x),
                    Piece::Node { .. } => {}
                }
                if items.len() == window.len() {
                    return Some(items);
                }
                k += here;
                next = self.pieces.first_at_most(end, d);
            }
            // Every reseller of the range is at depth `d` or less.
            if k >= total {
                return Some(items);
            }
            d += 1;
        }
    }
}

/// Pushes `take` resellers of `seg`, all at one depth, from its `first`-th in level
/// order (`first` counting the resellers of shallower depths).
///
/// A run's resellers at one depth are consecutive in the base's level order (a level
/// is sorted by pre-order position, and a run is a range of those), and so are its
/// matches among a filter's: one quantile finds the first, the rest follow it.
fn push_at_depth(
    core: &Core,
    space: Space<'_>,
    seg: &Seg,
    first: usize,
    take: usize,
    items: &mut Gathered,
) {
    if take == 0 {
        return;
    }
    match seg {
        Seg::Run { span, .. } => {
            let m = space.matrix(core);
            let v = m.quantile(span.start, span.end, first).unwrap_or(0);
            items.extend((v..v + take as u32).map(|v| Handle::of(core.at_rank(space.rank_of(v)))));
        }
        Seg::Node { x, .. } => items.push(*x),
    }
}

/// How many resellers of `seg` are shallower than depth `d`.
fn below(core: &Core, space: Space<'_>, seg: &Seg, d: i64) -> usize {
    match seg {
        Seg::Run {
            span,
            shift,
            depths: (min, max),
            counts,
            ..
        } => {
            if d <= i64::from(*min) {
                0
            } else if d > i64::from(*max) {
                span.len()
            } else if let Some(counts) = counts {
                // Past the run's exact largest depth, all of it.
                let i = (d - i64::from(*min)) as usize;
                counts.get(i).map_or(span.len(), |&c| c as usize)
            } else {
                let bound = space.bound(core, d - shift);
                space.matrix(core).count_less(span.start, span.end, bound)
            }
        }
        Seg::Node { depth, .. } => usize::from(i64::from(*depth) < d),
    }
}

/// The same for every segment.
fn below_each(core: &Core, space: Space<'_>, segs: &[Seg], d: i64) -> Vec<usize> {
    segs.iter().map(|seg| below(core, space, seg, d)).collect()
}

/// The items `window` of `segs` ordered by (depth, line).
///
/// A binary search over depths finds the depth of the first item; then the items are
/// taken level by level, segment by segment, each segment's resellers at one depth
/// being a range of its level-order ranks (one quantile each). Counting a segment
/// costs one wavelet rank query unless its depth bounds settle it.
fn level_items(core: &Core, space: Space<'_>, segs: &[Seg], window: Range<usize>) -> Gathered {
    let mut items = Gathered::with_capacity(window.len());
    if window.is_empty() {
        return items;
    }
    let m = space.matrix(core);
    let total_below = |d: i64| -> usize { segs.iter().map(|seg| below(core, space, seg, d)).sum() };
    // The deepest reseller of the segments: a run's own bound is its base's deepest
    // level, and pages past the last item would walk every level to there. A whole
    // run's depth counts end one past its largest depth; a clipped one takes a quantile.
    let deepest = segs
        .iter()
        .map(|seg| match seg {
            Seg::Run {
                counts: Some(counts),
                depths: (min, _),
                ..
            } => i64::from(*min) + counts.len() as i64 - 2,
            Seg::Run { span, shift, .. } => {
                let v = m
                    .quantile(span.start, span.end, span.len() - 1)
                    .unwrap_or(0);
                i64::from(core.depth_of_rank(space.rank_of(v))) + shift
            }
            Seg::Node { depth, .. } => i64::from(*depth),
        })
        .max()
        .unwrap_or(0);
    // The depth of the first item: the smallest `d` with more than `window.start`
    // items at depth `d` or above.
    let (mut lo, mut hi) = (0i64, deepest);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if total_below(mid + 1) > window.start {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let mut d = lo;
    let mut lower = below_each(core, space, segs, d);
    let mut skip = window.start - lower.iter().sum::<usize>().min(window.start);
    let mut k = window.start;
    loop {
        let upper = below_each(core, space, segs, d + 1);
        for (j, seg) in segs.iter().enumerate() {
            let at_d = upper[j] - lower[j];
            if skip >= at_d {
                skip -= at_d;
                continue;
            }
            let take = (at_d - skip).min(window.end - k);
            push_at_depth(core, space, seg, lower[j] + skip, take, &mut items);
            k += take;
            if k == window.end {
                return items;
            }
            skip = 0;
        }
        if k == window.end || d >= deepest {
            return items;
        }
        d += 1;
        lower = upper;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Record, Snapshot};

    /// A root, a chain of 200 under it (`c1` at depth 1 to `c200` at depth 200), then
    /// 300 more children of the root: in pre-order the root at 0, `c{k}` at `k`, the
    /// other children at 201 to 500.
    fn snapshot() -> Snapshot {
        let chain = (1..=200).map(|k| {
            let parent = if k == 1 {
                "root".to_owned()
            } else {
                format!("c{}", k - 1)
            };
            Record::new(format!("c{k}"), Some(parent))
        });
        let wide = (0..300).map(|k| Record::new(format!("w{k}"), Some("root")));
        let records = std::iter::once(Record::new("root", None::<&str>))
            .chain(chain)
            .chain(wide);
        Snapshot::build(records).unwrap()
    }

    /// The depth of pre-order position `p` of [`snapshot`], from how it was made.
    fn depth(p: usize) -> u32 {
        match p {
            0 => 0,
            1..=200 => p as u32,
            _ => 1,
        }
    }

    #[test]
    fn depth_counts_count_the_depths_of_runs_of_few_depths_only() {
        let snap = snapshot();
        let core = snap.core();
        for (s, e) in [
            (0, 10),
            (5, 70),
            (150, 260),
            (190, 500),
            (201, 500),
            (0, 200),
            (3, 4),
        ] {
            let min = (s..e).map(depth).min().unwrap();
            let max = (s..e).map(depth).max().unwrap();
            let got = core.depth_counts(Space::All, Pos::at(s), Pos::at(e));
            if max - min > COUNTED_DEPTHS {
                assert!(got.is_none(), "{s}..{e} spans {} depths", max - min);
                continue;
            }
            let counts = got.unwrap_or_else(|| panic!("{s}..{e} spans {} depths", max - min));
            assert_eq!(counts.len() as u32, max - min + 2, "{s}..{e}");
            for (i, &c) in counts.iter().enumerate() {
                let want = (s..e).filter(|&p| depth(p) < min + i as u32).count();
                assert_eq!(c as usize, want, "{s}..{e}, below depth {}", min + i as u32);
            }
        }
    }

    #[test]
    fn the_depth_counts_cache_stays_within_its_bound() {
        let snap = snapshot();
        let core = snap.core();
        let kept = core.depth_counts_kept();
        let cached = || core.depth_counts.read().unwrap().len();
        // More distinct runs than it keeps (201..500 are all at depth 1).
        let mut starts = (201..495).cycle();
        for k in 0..kept + 100 {
            let s = starts.next().unwrap();
            let e = s + 1 + k / 294;
            assert!(core
                .depth_counts(Space::All, Pos::at(s), Pos::at(e))
                .is_some());
            assert!(
                cached() <= kept,
                "{} runs cached, at most {kept} kept",
                cached()
            );
        }
        // A run asked for again is the one cached, not counted anew.
        let a = core
            .depth_counts(Space::All, Pos::at(210), Pos::at(220))
            .unwrap();
        let b = core
            .depth_counts(Space::All, Pos::at(210), Pos::at(220))
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }

    /// The whole runs of a listing get depth counts from the cache while they are at
    /// most half of what it keeps; more leave it alone (each listing would otherwise
    /// empty and refill it) and are counted at the depths asked about.
    #[test]
    fn many_whole_runs_leave_the_depth_counts_cache_alone() {
        use crate::snapshot::Repr;
        use crate::{Capabilities, Hierarchy, Mutation, ResellerId};
        // 3,000 resellers, forty children each, three levels deep.
        let records = (0..3000).map(|k| {
            Record::new(
                format!("r{k}"),
                (k > 0).then(|| format!("r{}", (k - 1) / 40)),
            )
        });
        let h = Hierarchy::new(Snapshot::build(records).unwrap());
        h.set_fold_threshold(usize::MAX);
        let update = |k: usize| Mutation::Update {
            id: ResellerId::from(format!("r{k}")),
            name: None,
            capabilities: Some(Capabilities::from_bits(1)),
            economic_enabled: None,
            attributes: None,
        };
        // The segments of the whole forest, and how many are whole runs.
        let segments = |snap: &Snapshot| {
            let Repr::Changed { delta, .. } = &snap.repr else {
                panic!("a changed version");
            };
            let segs = delta.segments(snap.core(), Space::All, Line::new(0)..delta.end_line());
            let whole = segs
                .iter()
                .filter(|seg| matches!(seg, Seg::Run { whole: Some(_), .. }))
                .count();
            (segs, whole)
        };
        let counted = |segs: &[Seg]| {
            segs.iter()
                .filter(|seg| {
                    matches!(
                        seg,
                        Seg::Run {
                            counts: Some(_),
                            ..
                        }
                    )
                })
                .count()
        };
        let kept = h.snapshot().core().depth_counts_kept();

        h.apply(&(1..4).map(|k| update(k * 700)).collect::<Vec<_>>())
            .unwrap();
        let snap = h.snapshot();
        let (mut segs, whole) = segments(&snap);
        assert!(whole > 0 && whole <= kept / 2, "{whole} whole runs");
        snap.core().count_depths(Space::All, &mut segs);
        assert_eq!(counted(&segs), whole, "each counted through the cache");
        let cached = snap.core().depth_counts.read().unwrap().len();
        assert!(cached > 0, "the cache holds them");

        h.apply(&(1..700).map(|k| update(k * 4 + 1)).collect::<Vec<_>>())
            .unwrap();
        let snap = h.snapshot();
        let (mut segs, whole) = segments(&snap);
        assert!(whole > kept / 2, "{whole} whole runs");
        snap.core().count_depths(Space::All, &mut segs);
        assert_eq!(counted(&segs), 0);
        assert_eq!(
            snap.core().depth_counts.read().unwrap().len(),
            cached,
            "left alone"
        );
    }
}
