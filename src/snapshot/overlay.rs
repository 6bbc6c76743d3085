//! The changes of a version over the indexed forest it is based on: what makes one
//! mutation cost `O(log k · log n)` (for `k` pieces of change) instead of a rebuild.
//!
//! A changed forest is still listed in depth-first pre-order, so a downline is still a
//! contiguous range, now of *logical* positions. The overlay keeps that order as a
//! piece table over the base's pre-order, held in a persistent B+tree
//! ([`PieceTree`]) that sums lengths, filter matches and depth bounds, so that a
//! version shares all but a few paths with the one it was made from:
//!
//! - [`Piece::Run`]: base positions `s..e`, consecutive in the base and still
//!   consecutive, each at its base depth plus `shift` (a moved subtree keeps its
//!   internal order and changes depth by one amount);
//! - [`Piece::Node`]: one reseller the base cannot describe: an added one, or a base
//!   reseller whose capabilities changed (so a run's filter bits stay true).
//!
//! Every question reduces to the base's indexes applied piece by piece:
//!
//! - the end of a downline is the first later logical position at most as deep: the
//!   tree's depth bounds skip whole subtrees of pieces that are deeper, and inside a
//!   run the base answers with one level-ancestor query (the wavelet matrix over
//!   level-order ranks);
//! - a parent is the last earlier reseller one level up, found the same way backwards;
//! - a page in pre-order walks the pieces of the range from the first one on the page;
//!   filtered, the tree's match counts find the piece of the page's first match;
//! - in level order, a downline inside one run is the base's own level order; otherwise
//!   a binary search over depths (per piece, counts of resellers above a depth, cached
//!   with the base for whole runs) finds where the page starts, and quantiles give the
//!   items. Filters use the same structures over the filter's matches.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;
use std::sync::Arc;

use super::piece::{Leaf, Piece};
use super::piece_tree::{Found, PieceTree};
use super::{Core, FilterIndex};
use crate::capability::{Capabilities, Filter};
use crate::id::{ResellerId, LIMIT, NONE};
use crate::mutation::{Mutation, MutationError, Removal};
use crate::paging::{Gathered, Order, PageRequest};
use crate::record::Record;
use crate::wavelet::WaveletMatrix;

/// Hashes the overlay's `u32` reseller numbers with one multiplication: they are not
/// attacker-chosen (ids are hashed with SipHash elsewhere).
#[derive(Default)]
struct NumberHasher(u64);

impl Hasher for NumberHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (u64::from(n) ^ self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Numbers<V> = imbl::GenericHashMap<
    u32,
    V,
    BuildHasherDefault<NumberHasher>,
    imbl::shared_ptr::DefaultSharedPtr,
>;

/// Depth counts of runs, by base positions and filter slot: see
/// [`Core::depth_counts`].
pub(crate) type DepthCounts = HashMap<(u32, u32, u8), Arc<[u32]>>;

/// The changes since the base was built. Resellers are numbered as in the base
/// (positions `0..n`), added ones `n..`.
///
/// Every field is persistent (structural sharing), so copying an overlay to change it
/// costs `O(1)` and a change `O(log)`, whatever the overlay holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Overlay {
    pieces: PieceTree,
    /// Ids of the added resellers still present.
    ids: imbl::HashMap<ResellerId, u32>,
    /// Base positions removed.
    removed: imbl::GenericHashSet<
        u32,
        BuildHasherDefault<NumberHasher>,
        imbl::shared_ptr::DefaultSharedPtr,
    >,
    /// Reseller `n + i` is `added[i]` (the record's `parent` is not used).
    added: imbl::Vector<Arc<Record>>,
    /// Base resellers whose name, capabilities or payload changed.
    updated: Numbers<Arc<Record>>,
}

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
    fn span(&self, s: u32, e: u32) -> Range<usize> {
        match self {
            Space::All => s as usize..e as usize,
            Space::Match(_, fi) => fi.pre.rank1(s as usize)..fi.pre.rank1(e as usize),
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
            Space::All => rank,
            Space::Match(_, fi) => fi.bfs.rank1(rank),
        }
    }

    /// Level-order rank of a matrix value.
    fn rank_of(&self, v: u32) -> usize {
        match self {
            Space::All => v as usize,
            Space::Match(_, fi) => fi.bfs.select1(v as usize).unwrap_or(0),
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
        whole: Option<(u32, u32)>,
        counts: Option<Arc<[u32]>>,
    },
    Node {
        x: u32,
        depth: u32,
    },
}

impl Core {
    pub(crate) fn n(&self) -> u32 {
        self.ids.len() as u32
    }

    /// Depth of the reseller of level-order rank `b`.
    fn depth_of_rank(&self, b: usize) -> u32 {
        (self.level_start.partition_point(|&s| s as usize <= b) - 1) as u32
    }

    /// Depth of position `p`, in `O(log n)`.
    pub(crate) fn depth_at(&self, p: u32) -> u32 {
        self.depth_of_rank(self.level.get(p as usize) as usize)
    }

    /// The level-order rank below which resellers are shallower than `depth`.
    fn rank_bound(&self, depth: i64) -> usize {
        if depth <= 0 {
            return 0;
        }
        usize::try_from(depth)
            .ok()
            .and_then(|d| self.level_start.get(d))
            .map_or(self.ids.len(), |&s| s as usize)
    }

    /// The run of positions `s..e` (not empty) at their depth plus `shift`: its
    /// smallest depth exact (one quantile), its largest bounded by the base's deepest
    /// level, which is all that changes need (see [`Piece::Run`]).
    fn run(&self, s: u32, e: u32, shift: i64) -> Piece {
        Piece::Run {
            s,
            e,
            shift,
            min: (i64::from(self.depth_in_range(s, e, 0)) + shift) as u32,
            max: (i64::from(self.deepest()) + shift) as u32,
        }
    }

    /// The `k`-th smallest base depth among positions `s..e`.
    fn depth_in_range(&self, s: u32, e: u32, k: usize) -> u32 {
        let v = self.level.quantile(s as usize, e as usize, k).unwrap_or(0);
        self.depth_of_rank(v as usize)
    }

    /// The base's largest depth.
    fn deepest(&self) -> u32 {
        self.level_start.len().saturating_sub(2) as u32
    }

    /// The run of positions `s..e` with its filter matches.
    fn run_leaf(&self, s: u32, e: u32, shift: i64) -> Leaf {
        Leaf {
            piece: self.run(s, e, shift),
            matches: Filter::ALL.map(|f| {
                let pre = &self.filters[f.slot()].pre;
                (pre.rank1(e as usize) - pre.rank1(s as usize)) as u32
            }),
        }
    }

    /// The first position from `s` on at depth `t` or less (`n` when none): `s`
    /// itself, or the end of the downline of `s`'s ancestor at depth `t`, which is the
    /// last position up to `s` at depth `t`: the largest level-order rank below
    /// depth `t + 1` there.
    fn first_at_most(&self, s: u32, t: u32) -> u32 {
        if s >= self.n() || self.depth_at(s) <= t {
            return s.min(self.n());
        }
        match self.last_at_most(0, s + 1, i64::from(t)) {
            Some(a) => self.end[a as usize],
            None => self.n(),
        }
    }

    /// The last position in `lo..hi` at depth `t` or less: the one with the largest
    /// level-order rank below depth `t + 1` there (when depth `t` occurs in the range
    /// and nothing shallower follows it, that is the last position at depth `t`).
    fn last_at_most(&self, lo: u32, hi: u32, t: i64) -> Option<u32> {
        let (lo, hi) = (lo as usize, hi as usize);
        let below = self.level.count_less(lo, hi, self.rank_bound(t + 1));
        let v = self.level.quantile(lo, hi, below.checked_sub(1)?)?;
        Some(self.bfs[v as usize])
    }

    /// For the resellers of `space` at base positions `s..e` (a whole run): how many are
    /// shallower than each depth from the run's smallest to one past its largest
    /// (`counts[i]` for depth `min + i`, the same whatever the run's shift). Computed
    /// once per run and kept with the base, so that level-order pages of changed
    /// versions cost one lookup per run and depth instead of a wavelet rank query.
    fn depth_counts(&self, space: Space<'_>, s: u32, e: u32) -> Arc<[u32]> {
        let slot = match space {
            Space::All => 0,
            Space::Match(f, _) => 1 + f.slot() as u8,
        };
        let key = (s, e, slot);
        let cache = |c: &DepthCounts| c.get(&key).cloned();
        if let Some(found) = cache(&self.depth_counts.read().unwrap_or_else(|p| p.into_inner())) {
            return found;
        }
        let (min, max) = (
            self.depth_in_range(s, e, 0),
            self.depth_in_range(s, e, (e - s) as usize - 1),
        );
        let span = space.span(s, e);
        let m = space.matrix(self);
        let counts: Arc<[u32]> = (i64::from(min)..=i64::from(max) + 1)
            .map(|d| m.count_less(span.start, span.end, space.bound(self, d)) as u32)
            .collect();
        let mut cache = self.depth_counts.write().unwrap_or_else(|p| p.into_inner());
        cache.entry(key).or_insert(counts).clone()
    }

    /// The record at position `p` (without its parent).
    fn record(&self, p: u32) -> Record {
        Record {
            id: self.ids[p as usize].clone(),
            parent: None,
            name: self.payloads.name(p).to_owned(),
            capabilities: self.caps[p as usize],
            economic_enabled: self.payloads.economic(p),
            attributes: self.payloads.attributes(p),
        }
    }
}

impl Overlay {
    /// No changes yet: one run over the whole base.
    pub(crate) fn new(core: &Core) -> Overlay {
        let mut o = Overlay::default();
        if core.n() > 0 {
            o.pieces = PieceTree::new(vec![core.run_leaf(0, core.n(), 0)]);
        }
        o
    }

    /// How much the overlay holds: what a version pays per query.
    pub(crate) fn weight(&self) -> usize {
        self.pieces.pieces() + self.added.len() + self.updated.len() + self.removed.len()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.pieces.heap_bytes()
            + self.removed.len() * 16
            + self.ids.len() * 40
            + (self.added.len() + self.updated.len()) * 160
    }

    /// Number of resellers.
    pub(crate) fn len(&self) -> u32 {
        self.pieces.len()
    }

    /// The reseller at logical position `l < len`.
    pub(crate) fn node_at(&self, l: u32) -> u32 {
        match self.pieces.at(l) {
            Some(Found {
                start,
                leaf:
                    Leaf {
                        piece: Piece::Run { s, .. },
                        ..
                    },
                ..
            }) => s + (l - start),
            Some(Found {
                leaf:
                    Leaf {
                        piece: Piece::Node { x, .. },
                        ..
                    },
                ..
            }) => x,
            None => NONE,
        }
    }

    /// The piece of a present reseller, and its logical position.
    fn locate(&self, x: u32) -> (Found, u32) {
        let found = self
            .pieces
            .single(x)
            .or_else(|| self.pieces.run_from(x))
            .and_then(|id| self.pieces.find(id));
        match found {
            Some(f) => {
                let l = match f.leaf.piece {
                    Piece::Run { s, .. } => f.start + (x - s),
                    Piece::Node { .. } => f.start,
                };
                (f, l)
            }
            // Not reached for a present reseller: the maps hold every piece.
            None => (
                Found {
                    id: Default::default(),
                    start: self.len(),
                    before: [0; 4],
                    leaf: Leaf {
                        piece: Piece::Node { x, depth: 0 },
                        matches: [0; 4],
                    },
                },
                self.len(),
            ),
        }
    }

    /// Logical position of a present reseller.
    pub(crate) fn pos(&self, x: u32) -> u32 {
        self.locate(x).1
    }

    fn depth_in(core: &Core, piece: Piece, x: u32) -> u32 {
        match piece {
            Piece::Run { shift, .. } => (i64::from(core.depth_at(x)) + shift) as u32,
            Piece::Node { depth, .. } => depth,
        }
    }

    /// Depth of a present reseller (a root is at 0).
    pub(crate) fn depth(&self, core: &Core, x: u32) -> u32 {
        Overlay::depth_in(core, self.locate(x).0.leaf.piece, x)
    }

    /// One past the last logical position of the downline of `x`.
    pub(crate) fn end(&self, core: &Core, x: u32) -> u32 {
        self.extent(core, x).1
    }

    /// The logical position of a present reseller and one past the end of its
    /// downline, from one lookup of its piece.
    pub(crate) fn extent(&self, core: &Core, x: u32) -> (u32, u32) {
        let (found, l) = self.locate(x);
        (l, self.end_in(core, found, x))
    }

    fn end_in(&self, core: &Core, found: Found, x: u32) -> u32 {
        let piece = found.leaf.piece;
        if let Piece::Run { s, e, .. } = piece {
            let q = core.end[x as usize];
            if q < e {
                return found.start + (q - s);
            }
        }
        self.first_at_most(
            core,
            found.start + piece.len(),
            Overlay::depth_in(core, piece, x),
        )
    }

    /// The first logical position from `l` (a piece boundary) on at depth `d` or
    /// less; the length when there is none.
    fn first_at_most(&self, core: &Core, l: u32, d: u32) -> u32 {
        match self.pieces.first_at_most(l, i64::from(d)) {
            None => self.len(),
            Some(f) => match f.leaf.piece {
                Piece::Node { .. } => f.start,
                Piece::Run { s, e, shift, .. } => {
                    // Some depth there is at most `d`, so some base depth is at most
                    // `d - shift`.
                    let t = (i64::from(d) - shift).max(0) as u32;
                    f.start + (core.first_at_most(s, t).min(e - 1) - s)
                }
            },
        }
    }

    /// The parent of a present reseller; `NONE` for a root.
    pub(crate) fn parent(&self, core: &Core, x: u32) -> u32 {
        let (found, _) = self.locate(x);
        let d = Overlay::depth_in(core, found.leaf.piece, x);
        if d == 0 {
            return NONE;
        }
        if let Piece::Run { s, .. } = found.leaf.piece {
            let p = core.parent[x as usize];
            if p != NONE && p >= s {
                return p;
            }
        }
        // The last reseller before `x` one level up: every reseller in between is
        // deeper.
        let up = d - 1;
        match self.pieces.last_at_most(found.start, i64::from(up)) {
            None => NONE,
            Some(f) => match f.leaf.piece {
                Piece::Node { x, .. } => x,
                Piece::Run { s, e, shift, .. } => core
                    .last_at_most(s, e, i64::from(up) - shift)
                    .unwrap_or(NONE),
            },
        }
    }

    /// The children of a present reseller, in order.
    pub(crate) fn children(&self, core: &Core, x: u32) -> Vec<u32> {
        let end = self.end(core, x);
        let mut out = Vec::new();
        let mut l = self.pos(x) + 1;
        while l < end {
            let c = self.node_at(l);
            out.push(c);
            l = self.end(core, c).max(l + 1);
        }
        out
    }

    /// The roots, in order.
    pub(crate) fn roots(&self, core: &Core) -> Vec<u32> {
        let mut out = Vec::new();
        let mut l = 0;
        while l < self.len() {
            let c = self.node_at(l);
            out.push(c);
            l = self.end(core, c).max(l + 1);
        }
        out
    }

    /// The reseller with this id, if present.
    pub(crate) fn find(&self, core: &Core, id: &ResellerId) -> Option<u32> {
        if let Some(&x) = self.ids.get(id) {
            return Some(x);
        }
        let p = core.lookup.get(&core.ids, id.as_str())?;
        (!self.removed.contains(&p)).then_some(p)
    }

    /// The record of an added or updated reseller; `None` for one the base describes.
    pub(crate) fn changed(&self, core: &Core, x: u32) -> Option<&Record> {
        match x.checked_sub(core.n()) {
            Some(i) => self.added.get(i as usize).map(|r| &**r),
            None => self.updated.get(&x).map(|r| &**r),
        }
    }

    pub(crate) fn caps(&self, core: &Core, x: u32) -> Capabilities {
        self.changed(core, x)
            .map_or_else(|| core.caps[x as usize], |r| r.capabilities)
    }

    fn record(&self, core: &Core, x: u32) -> Record {
        match self.changed(core, x) {
            Some(r) => r.clone(),
            None => core.record(x),
        }
    }

    /// The piece of one reseller with capabilities `caps`.
    fn single(x: u32, depth: u32, caps: Capabilities) -> Leaf {
        Leaf {
            piece: Piece::Node { x, depth },
            matches: Filter::ALL.map(|f| u32::from(f.matches(caps))),
        }
    }

    fn space<'c>(core: &'c Core, filter: Option<Filter>) -> Space<'c> {
        match filter {
            None => Space::All,
            Some(f) => Space::Match(f, &core.filters[f.slot()]),
        }
    }

    /// The pieces of logical range `range`, clipped, with the resellers of `space`.
    fn segments(&self, core: &Core, space: Space<'_>, range: Range<u32>) -> Vec<Seg> {
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

    /// How many resellers before logical position `l` match `f`: the tree's count
    /// before the piece, plus a rank inside a run.
    fn matches_before(&self, core: &Core, f: Filter, l: u32) -> usize {
        let Some(found) = self.pieces.at(l) else {
            return self.pieces.total_matches(f.slot()) as usize;
        };
        let inside = match found.leaf.piece {
            Piece::Run { s, .. } => {
                let pre = &core.filters[f.slot()].pre;
                pre.rank1((s + (l - found.start)) as usize) - pre.rank1(s as usize)
            }
            Piece::Node { .. } => 0,
        };
        found.before[f.slot()] as usize + inside
    }

    /// How many resellers of logical range `range` pass `filter`.
    pub(crate) fn count(&self, core: &Core, range: Range<u32>, filter: Option<Filter>) -> usize {
        match filter {
            None => range.len(),
            Some(f) => {
                self.matches_before(core, f, range.end) - self.matches_before(core, f, range.start)
            }
        }
    }

    /// Matches `from..from + n` of `f` (counted over all pieces), in order.
    fn matches_from(&self, core: &Core, f: Filter, from: usize, n: usize) -> Gathered {
        let mut items = Gathered::with_capacity(n);
        let Some(first) = self.pieces.match_at(f.slot(), from as u32) else {
            return items;
        };
        let pre = &core.filters[f.slot()].pre;
        let mut g = from;
        let mut before = first.before[f.slot()] as usize;
        for (_, leaf) in self.pieces.walk_from(first.start) {
            if items.len() >= n {
                break;
            }
            let here = leaf.matches[f.slot()] as usize;
            let skip = g - before;
            if skip < here {
                match leaf.piece {
                    Piece::Run { s, .. } => {
                        let last = before + here;
                        let mut next = pre.select1(pre.rank1(s as usize) + skip);
                        while g < last && items.len() < n {
                            let Some(p) = next else { break };
                            items.push(p as u32);
                            g += 1;
                            next = pre.next_one(p + 1);
                        }
                    }
                    Piece::Node { x, .. } => {
                        items.push(x);
                        g += 1;
                    }
                }
            }
            before += here;
        }
        items
    }

    /// How many resellers of logical range `range` are at depth `d`.
    pub(crate) fn count_at_depth(&self, core: &Core, range: Range<u32>, d: u32) -> usize {
        let segs = self.segments(core, Space::All, range);
        let d = i64::from(d);
        segs.iter()
            .map(|seg| below(core, Space::All, seg, d + 1) - below(core, Space::All, seg, d))
            .sum()
    }

    /// The page `request` of the resellers of logical range `range` that pass
    /// `filter`, in `order`: the total and the resellers.
    pub(crate) fn listing(
        &self,
        core: &Core,
        range: Range<u32>,
        filter: Option<Filter>,
        order: Order,
        request: PageRequest,
    ) -> (usize, Gathered) {
        if let (None, Order::PreOrder) = (filter, order) {
            // Every reseller of the range: no need to look at the pieces off the page.
            let total = range.len();
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
                            items.extend(from..to);
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
        let budget = Overlay::LEVEL_WALK.0 + Overlay::LEVEL_WALK.1 * window.end;
        if let Some(items) =
            self.level_walk(core, space, range.clone(), total, window.clone(), budget)
        {
            return (total, items);
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
                for seg in &mut segs {
                    if let Seg::Run {
                        whole: Some((s, e)),
                        counts,
                        ..
                    } = seg
                    {
                        *counts = Some(core.depth_counts(space, *s, *e));
                    }
                }
                level_items(core, space, &segs, window)
            }
        };
        (total, items)
    }

    /// Pieces a level-order page visits level by level before it counts every piece
    /// of its range instead: a number, plus so many per item up to the page's end.
    /// Debug builds give up early, so that tests take both ways.
    const LEVEL_WALK: (usize, usize) = if cfg!(debug_assertions) {
        (0, 1)
    } else {
        (1024, 4)
    };

    /// The items `window` of logical range `range` (`total` of them in `space`) in level
    /// order, taken level by level from the tree, or `None` once more than `budget`
    /// pieces were visited.
    ///
    /// `range` is a downline, a reseller and its downline, or everything, so its first
    /// reseller is its shallowest. At each depth `d` from there, the tree yields the
    /// pieces of the range with a reseller at depth `d` or less (skipping, a subtree
    /// at a time, pieces all deeper); a piece's resellers at depth `d` are a range of
    /// its level-order ranks (a count and one quantile each, as in [`level_items`]).
    /// A page near the start costs the pieces holding its levels, not the pieces of
    /// the range; a page deep in a range of many pieces gives up, for the counts.
    fn level_walk(
        &self,
        core: &Core,
        space: Space<'_>,
        range: Range<u32>,
        total: usize,
        window: Range<usize>,
        budget: usize,
    ) -> Option<Gathered> {
        let mut items = Gathered::with_capacity(window.len());
        if window.is_empty() || range.is_empty() {
            return Some(items);
        }
        let first = self.pieces.at(range.start)?;
        let top = match first.leaf.piece {
            Piece::Run { s, shift, .. } => {
                i64::from(core.depth_at(s + (range.start - first.start))) + shift
            }
            Piece::Node { depth, .. } => i64::from(depth),
        };
        let m = space.matrix(core);
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
                let seg = match piece {
                    Piece::Run {
                        s, shift, min, max, ..
                    } => Seg::Run {
                        span: space.span(s + lo, s + hi),
                        shift,
                        depths: (min, max),
                        whole: None,
                        counts: None,
                    },
                    Piece::Node { x, depth } => Seg::Node { x, depth },
                };
                let included = match &seg {
                    Seg::Node { x, .. } => space.matches(self.caps(core, *x)),
                    Seg::Run { .. } => true,
                };
                let lower = below(core, space, &seg, d);
                let here = if included {
                    below(core, space, &seg, d + 1) - lower
                } else {
                    0
                };
                for i in window.start.saturating_sub(k).min(here)..here {
                    items.push(match &seg {
                        Seg::Run { span, .. } => {
                            let v = m.quantile(span.start, span.end, lower + i).unwrap_or(0);
                            core.bfs[space.rank_of(v)]
                        }
                        Seg::Node { x, .. } => *x,
                    });
                    if items.len() == window.len() {
                        return Some(items);
                    }
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

    /// Every reseller with its parent and depth, in logical pre-order, in `O(n)`: what
    /// a rebuild, `summary` and `validate` start from.
    pub(crate) fn walk(&self, core: &Core, mut visit: impl FnMut(u32, u32, u32)) {
        let mut stack: Vec<u32> = Vec::new();
        let mut depths: Vec<u32> = Vec::new();
        for (_, leaf) in self.pieces.walk_from(0) {
            match leaf.piece {
                Piece::Node { x, depth } => {
                    stack.truncate(depth as usize);
                    visit(x, stack.last().copied().unwrap_or(NONE), depth);
                    stack.push(x);
                }
                Piece::Run { s, e, shift, .. } => {
                    depths.clear();
                    for p in s..e {
                        let q = core.parent[p as usize];
                        let d = if q != NONE && q >= s {
                            depths[(q - s) as usize] + 1
                        } else {
                            (i64::from(core.depth_at(p)) + shift) as u32
                        };
                        depths.push(d);
                        stack.truncate(d as usize);
                        visit(p, stack.last().copied().unwrap_or(NONE), d);
                        stack.push(p);
                    }
                }
            }
        }
    }

    /// The records of every reseller in logical pre-order, each naming its parent.
    pub(crate) fn records(&self, core: &Core) -> Vec<Record> {
        let mut out = Vec::with_capacity(self.len() as usize);
        let mut ids: Vec<ResellerId> = Vec::new();
        self.walk(core, |x, _, d| {
            let mut r = self.record(core, x);
            ids.truncate(d as usize);
            r.parent = ids.last().cloned();
            ids.push(r.id.clone());
            out.push(r);
        });
        out
    }

    /// Makes a boundary between pieces at logical position `l`.
    fn split(&mut self, core: &Core, l: u32) {
        if l == 0 || l >= self.len() {
            return;
        }
        self.pieces.split_at(l, |leaf, off| match leaf.piece {
            Piece::Run { s, e, shift, .. } => (
                core.run_leaf(s, s + off, shift),
                core.run_leaf(s + off, e, shift),
            ),
            // A single reseller has no inside to split.
            Piece::Node { .. } => (leaf, leaf),
        });
    }

    /// Joins the pieces on both sides of logical position `l` when they are runs that
    /// continue each other, so that moving a subtree back does not leave them split.
    fn merge(&mut self, core: &Core, l: u32) {
        self.pieces.merge_at(l, |a, b| match (a.piece, b.piece) {
            (
                Piece::Run {
                    s,
                    e: e0,
                    shift: h0,
                    ..
                },
                Piece::Run {
                    s: s1, e, shift, ..
                },
            ) if e0 == s1 && h0 == shift => Some(core.run_leaf(s, e, shift)),
            _ => None,
        });
    }

    /// Takes out the one reseller at logical position `l`.
    fn cut_one(&mut self, core: &Core, l: u32) {
        self.split(core, l);
        self.split(core, l + 1);
        self.pieces.remove(l, l + 1);
    }

    /// Puts one reseller's piece at logical position `l`.
    fn insert(&mut self, core: &Core, l: u32, leaf: Leaf) {
        self.split(core, l);
        self.pieces.insert(l, vec![leaf]);
        self.merge(core, l);
        self.merge(core, l + 1);
    }

    /// Changes the depth of logical positions `lo..hi` by `by`.
    fn shift(&mut self, core: &Core, lo: u32, hi: u32, by: i64) {
        if lo >= hi || by == 0 {
            return;
        }
        self.split(core, lo);
        self.split(core, hi);
        self.pieces.shift(lo, hi, by);
        self.merge(core, lo);
        self.merge(core, hi);
    }

    /// Moves logical positions `lo..hi` to `to` (a position of the forest without
    /// them), `by` levels deeper.
    fn relocate(&mut self, core: &Core, lo: u32, hi: u32, to: u32, by: i64) {
        self.split(core, lo);
        self.split(core, hi);
        // Boundaries are the same positions once the pieces are out.
        self.split(core, if to < lo { to } else { to + (hi - lo) });
        self.pieces.relocate(lo, hi, to, by);
        let gap = if to >= lo { lo } else { hi };
        self.merge(core, gap);
        self.merge(core, to);
        self.merge(core, to + (hi - lo));
    }

    fn existing(&self, core: &Core, index: usize, id: &ResellerId) -> Result<u32, MutationError> {
        self.find(core, id).ok_or_else(|| MutationError::UnknownId {
            index,
            id: id.clone(),
        })
    }

    /// A new parent: `None`, or a present reseller.
    fn new_parent(
        &self,
        core: &Core,
        index: usize,
        id: &ResellerId,
        parent: Option<&ResellerId>,
    ) -> Result<u32, MutationError> {
        match parent {
            None => Ok(NONE),
            Some(p) => self
                .find(core, p)
                .ok_or_else(|| MutationError::UnknownParent {
                    index,
                    id: id.clone(),
                    parent: p.clone(),
                }),
        }
    }

    /// Where a new last child of `q` goes (`NONE`: a new last root), and its depth.
    fn slot_under(&self, core: &Core, q: u32) -> (u32, u32) {
        if q == NONE {
            (self.len(), 0)
        } else {
            (self.end(core, q), self.depth(core, q) + 1)
        }
    }

    /// Applies mutation `index` of a batch. On an error the overlay may be half
    /// changed: the caller drops it.
    pub(crate) fn apply(
        &mut self,
        core: &Core,
        index: usize,
        m: &Mutation,
    ) -> Result<(), MutationError> {
        match m {
            Mutation::Add(r) => {
                if self.find(core, &r.id).is_some() {
                    return Err(MutationError::DuplicateId {
                        index,
                        id: r.id.clone(),
                    });
                }
                // A record naming itself as parent is a root, as when building.
                let parent = r.parent.as_ref().filter(|&p| *p != r.id);
                let q = self.new_parent(core, index, &r.id, parent)?;
                let x = core.n() as usize + self.added.len();
                if x >= LIMIT {
                    return Err(MutationError::TooMany { index });
                }
                let x = x as u32;
                self.added.push_back(Arc::new(r.clone()));
                self.ids.insert(r.id.clone(), x);
                let (l, depth) = self.slot_under(core, q);
                self.insert(core, l, Overlay::single(x, depth, r.capabilities));
            }
            Mutation::Move { id, parent } => {
                let x = self.existing(core, index, id)?;
                if parent.as_ref() == Some(id) {
                    return Err(MutationError::OwnParent {
                        index,
                        id: id.clone(),
                    });
                }
                let q = self.new_parent(core, index, id, parent.as_ref())?;
                let (lo, hi) = (self.pos(x), self.end(core, x));
                if q != NONE && (lo..hi).contains(&self.pos(q)) {
                    return Err(MutationError::MoveUnderOwnDownline {
                        index,
                        id: id.clone(),
                        parent: parent.clone().unwrap_or_default(),
                    });
                }
                let from = self.depth(core, x);
                // `q` is outside `lo..hi`, so its slot is not inside it either, and
                // neither its slot's depth nor, after it, anything but its position
                // changes when the range is out.
                let (l, to) = self.slot_under(core, q);
                let l = if l >= hi { l - (hi - lo) } else { l };
                self.relocate(core, lo, hi, l, i64::from(to) - i64::from(from));
            }
            Mutation::Remove { id, removal } => {
                let x = self.existing(core, index, id)?;
                let (lo, hi) = (self.pos(x), self.end(core, x));
                if *removal == Removal::LeafOnly && hi > lo + 1 {
                    let d = self.depth(core, x) + 1;
                    return Err(MutationError::HasDownline {
                        index,
                        id: id.clone(),
                        children: self.count_at_depth(core, lo + 1..hi, d),
                    });
                }
                self.cut_one(core, lo);
                // The children take its place, one level up.
                self.shift(core, lo, hi - 1, -1);
                match x.checked_sub(core.n()) {
                    Some(_) => {
                        self.ids.remove(id);
                    }
                    None => {
                        self.removed.insert(x);
                        self.updated.remove(&x);
                    }
                }
            }
            Mutation::Update {
                id,
                name,
                capabilities,
                economic_enabled,
                attributes,
            } => {
                let x = self.existing(core, index, id)?;
                let mut r = self.record(core, x);
                let before = r.capabilities;
                if let Some(name) = name {
                    r.name = name.clone();
                }
                if let Some(c) = capabilities {
                    r.capabilities = *c;
                }
                if let Some(e) = economic_enabled {
                    r.economic_enabled = *e;
                }
                if let Some(a) = attributes {
                    r.attributes = a.clone();
                }
                let caps = r.capabilities;
                match x.checked_sub(core.n()) {
                    Some(i) => {
                        self.added.set(i as usize, Arc::new(r));
                    }
                    None => {
                        self.updated.insert(x, Arc::new(r));
                    }
                }
                // A run reads capabilities from the base, and a single piece counts
                // its matches: either way the reseller gets a new single piece.
                if caps != before {
                    let (l, depth) = (self.pos(x), self.depth(core, x));
                    self.cut_one(core, l);
                    self.insert(core, l, Overlay::single(x, depth, caps));
                }
            }
        }
        Ok(())
    }

    /// Checks the overlay against a walk of its pieces. For [`Snapshot::validate`].
    ///
    /// [`Snapshot::validate`]: super::Snapshot::validate
    pub(crate) fn check(&self, core: &Core) -> Result<(), String> {
        self.pieces.check()?;
        let mut seen = HashSet::new();
        let mut at = 0u32;
        for (i, (start, leaf)) in self.pieces.walk_from(0).enumerate() {
            let piece = leaf.piece;
            if start != at || piece.len() == 0 {
                return Err(format!("piece {i} starts at {start} or is empty"));
            }
            at += piece.len();
            match piece {
                Piece::Run { s, e, shift, .. } => {
                    if leaf != core.run_leaf(s, e, shift) {
                        return Err(format!("piece {i}: wrong depth bounds or matches"));
                    }
                    if let Some(p) = (s..e).find(|&p| self.caps(core, p) != core.caps[p as usize]) {
                        return Err(format!("changed capabilities of {p} inside a run"));
                    }
                }
                Piece::Node { x, depth } => {
                    if leaf != Overlay::single(x, depth, self.caps(core, x)) {
                        return Err(format!("piece {i}: wrong matches"));
                    }
                }
            }
        }
        if self.len() != at {
            return Err("the length is not the sum of the pieces".into());
        }
        let live = core.n() as usize - self.removed.len() + self.ids.len();
        if at as usize != live {
            return Err(format!("{at} resellers listed, {live} present"));
        }
        // Depths, parents and downline ends against a plain walk.
        let mut order: Vec<(u32, u32, u32)> = Vec::with_capacity(at as usize);
        self.walk(core, |x, parent, d| order.push((x, parent, d)));
        let mut ends = vec![at; order.len()];
        let mut open: Vec<usize> = Vec::new();
        for (l, &(x, parent, d)) in order.iter().enumerate() {
            if !seen.insert(x) {
                return Err(format!("reseller {x} listed twice"));
            }
            if x < core.n() && self.removed.contains(&x) {
                return Err(format!("removed reseller {x} listed"));
            }
            if l == 0 && d != 0 || l > 0 && d > order[l - 1].2 + 1 {
                return Err(format!("depth jumps to {d} at {l}"));
            }
            while open.last().is_some_and(|&o| order[o].2 >= d) {
                ends[open.pop().unwrap_or(0)] = l as u32;
            }
            open.push(l);
            if self.pos(x) != l as u32 || self.node_at(l as u32) != x {
                return Err(format!("reseller {x} is not found at {l}"));
            }
            if self.depth(core, x) != d || self.parent(core, x) != parent {
                return Err(format!("depth or parent of {x} is wrong"));
            }
        }
        for (l, &(x, ..)) in order.iter().enumerate() {
            if self.end(core, x) != ends[l] {
                return Err(format!("downline of {x} should end at {}", ends[l]));
            }
        }
        for (id, &x) in &self.ids {
            if self.changed(core, x).map(|r| &r.id) != Some(id) {
                return Err(format!("id {id:?} maps to the wrong reseller"));
            }
        }
        Ok(())
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

/// The items `window` of `segs` ordered by (depth, logical position).
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
    // The deepest reseller of the segments, exactly: a run's own bound is its base's
    // deepest level, and pages past the last item would walk every level to there.
    let deepest = segs
        .iter()
        .map(|seg| match seg {
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
            for i in skip..at_d {
                if k == window.end {
                    return items;
                }
                items.push(match seg {
                    Seg::Run { span, .. } => {
                        let v = m.quantile(span.start, span.end, lower[j] + i).unwrap_or(0);
                        core.bfs[space.rank_of(v)]
                    }
                    Seg::Node { x, .. } => *x,
                });
                k += 1;
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
