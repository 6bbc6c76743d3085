//! The changes of a version over the indexed forest it is based on: what makes one
//! mutation cost `O(log k · log n)` (for `k` pieces of change) instead of a rebuild.
//!
//! A changed forest is still listed in depth-first pre-order, so a downline is still a
//! contiguous range, now of the version's own positions ([`Line`]s, as against the
//! base's [`Pos`]itions; a reseller itself is a [`Handle`], see `numbering.rs`). The
//! overlay keeps that order as a piece table over the base's pre-order, held in a
//! persistent B+tree ([`PieceTree`]) that sums lengths, filter matches and depth
//! bounds, so that a version shares all but a few paths with the one it was made from:
//!
//! - [`Piece::Run`]: base positions `s..e`, consecutive in the base and still
//!   consecutive, each at its base depth plus `shift` (a moved subtree keeps its
//!   internal order and changes depth by one amount); the line of base position `p`
//!   in a run starting at line `start` is `start + (p - s)`;
//! - [`Piece::Node`]: one reseller the base cannot describe: an added one, or a base
//!   reseller whose capabilities changed (so a run's filter bits stay true).
//!
//! Every question reduces to the base's indexes applied piece by piece:
//!
//! - the end of a downline is the first later line at most as deep: the
//!   tree's depth bounds skip whole subtrees of pieces that are deeper, and inside a
//!   run the base answers with one level-ancestor query (the wavelet matrix over
//!   level-order ranks);
//! - a parent is the last earlier reseller one level up, found the same way backwards;
//! - a page in pre-order walks the pieces of the range from the first one on the page;
//!   filtered, the tree's match counts find the piece of the page's first match;
//! - in level order, a downline inside one run is the base's own level order; a first
//!   page is taken level by level from the pieces near the top of the range; otherwise
//!   a binary search over depths (per piece, counts of resellers above a depth, cached
//!   with the base for whole runs) finds where the page starts, and quantiles give the
//!   items. Filters use the same structures over the filter's matches.
//!
//! This file holds the overlay and the questions about one reseller; `apply.rs` the
//! mutations, `listing.rs` counts and pages, `walk.rs` the walk in order (rebuilds,
//! summaries, the invariant check), `base.rs` what is asked of the base.

use std::hash::{BuildHasherDefault, Hasher};

use super::numbering::{Handle, Line, Pos};
use super::piece::{Leaf, Piece};
use super::piece_tree::{Found, PieceTree};
use super::pos_set::PosSet;
use super::Core;
use crate::capability::{Capabilities, Filter};
use crate::id::Id;

mod added_ids;
mod apply;
mod arena;
mod base;
mod listing;
mod record_log;
mod text_blocks;
mod walk;

use added_ids::AddedIds;
use record_log::{Logged, RecordLog};

pub(crate) use record_log::Changed;

pub(crate) use listing::DepthCounts;

/// Hashes the overlay's handles and positions (`u32` inside) with one multiplication,
/// and takes a `u64` (a SipHash of an id, in `AddedIds`) as it is: neither is
/// attacker-chosen.
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

    /// A key that is a keyed hash already (`AddedIds`): taken as it is.
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

type Numbers<V> = imbl::GenericHashMap<
    Pos,
    V,
    BuildHasherDefault<NumberHasher>,
    imbl::shared_ptr::DefaultSharedPtr,
>;

/// The changes since the base was built. Resellers are [`Handle`]s: a base reseller
/// is its base position (`0..n`), an added one `n..`.
///
/// Every field is persistent (structural sharing), so copying an overlay to change it
/// costs `O(1)` and a change `O(log)`, whatever the overlay holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Overlay {
    pieces: PieceTree,
    /// Ids of the added resellers still present.
    ids: AddedIds,
    /// Base positions removed: a bit each, since every lookup of a base id asks.
    removed: PosSet,
    /// The records of `added` and `updated`, shared by every version over the base.
    log: RecordLog,
    /// Reseller `n + i`'s record is at `added[i]` (the record's `parent` is not used).
    added: imbl::Vector<Logged>,
    /// Base resellers whose name, capabilities or payload changed: where their
    /// records are.
    updated: Numbers<Logged>,
    /// Base resellers ever updated: most resellers of a page are not, and a bit says
    /// so faster than a lookup in `updated`.
    touched: PosSet,
}

impl Overlay {
    /// No changes yet: one run over the whole base.
    pub(crate) fn new(core: &Core) -> Overlay {
        let mut o = Overlay {
            touched: PosSet::new(core.n()),
            removed: PosSet::new(core.n()),
            ..Overlay::default()
        };
        if core.n() > 0 {
            o.pieces = PieceTree::new(vec![core.run_leaf(Pos::new(0), Pos::new(core.n()), 0)]);
        }
        o
    }

    /// Whether no other version over the base shares this one's record arena: it is
    /// the last changed version over it, holding what the changes made.
    pub(crate) fn holds_log_alone(&self) -> bool {
        self.log.held_alone()
    }

    /// How much the overlay holds: what a version pays per query, and what a fold
    /// reclaims (the record log, superseded records included, counts every record
    /// pushed, so it holds at least the added and updated resellers).
    pub(crate) fn weight(&self) -> usize {
        self.pieces.pieces() + self.log.len() + self.removed.len()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.pieces.heap_bytes()
            + self.removed.heap_bytes()
            + self.touched.heap_bytes()
            + self.ids.heap_bytes()
            + (self.added.len() + self.updated.len()) * 16
            + self.log.heap_bytes()
    }

    /// Number of resellers.
    pub(crate) fn len(&self) -> u32 {
        self.pieces.len()
    }

    /// One past the last line.
    pub(crate) fn end_line(&self) -> Line {
        Line::new(self.pieces.len())
    }

    /// The reseller at line `l` (below [`end_line`](Overlay::end_line)).
    pub(crate) fn node_at(&self, l: Line) -> Handle {
        match self.pieces.at(l) {
            Some(Found {
                start,
                leaf:
                    Leaf {
                        piece: Piece::Run { s, .. },
                        ..
                    },
                ..
            }) => Handle::of(s + (l - start)),
            Some(Found {
                leaf:
                    Leaf {
                        piece: Piece::Node { x, .. },
                        ..
                    },
                ..
            }) => x,
            None => Handle::NONE,
        }
    }

    /// The piece of a present reseller, and its line.
    fn locate(&self, x: Handle) -> (Found, Line) {
        let found = self.pieces.piece_of(x).and_then(|id| self.pieces.find(id));
        match found {
            Some(f) => {
                let l = match f.leaf.piece {
                    // A run holds base resellers, whose handles are their positions.
                    Piece::Run { s, .. } => f.start + (x.pos() - s),
                    Piece::Node { .. } => f.start,
                };
                (f, l)
            }
            // Not reached for a present reseller: the maps hold every piece.
            None => (
                Found {
                    id: Default::default(),
                    start: self.end_line(),
                    index: self.pieces.pieces() as u32,
                    before: [0; 4],
                    leaf: Leaf {
                        piece: Piece::Node { x, depth: 0 },
                        matches: [0; 4],
                    },
                },
                self.end_line(),
            ),
        }
    }

    /// The line of a present reseller.
    pub(crate) fn line(&self, x: Handle) -> Line {
        self.locate(x).1
    }

    /// The depth of `x`, in `piece`.
    fn depth_in(core: &Core, piece: Piece, x: Handle) -> u32 {
        match piece {
            Piece::Run { shift, .. } => (i64::from(core.depth_at(x.pos())) + shift) as u32,
            Piece::Node { depth, .. } => depth,
        }
    }

    /// Depth of a present reseller (a root is at 0).
    pub(crate) fn depth(&self, core: &Core, x: Handle) -> u32 {
        self.line_depth(core, x).1
    }

    /// The line and the depth of a present reseller, from one lookup of its piece.
    pub(crate) fn line_depth(&self, core: &Core, x: Handle) -> (Line, u32) {
        let (found, l) = self.locate(x);
        (l, Overlay::depth_in(core, found.leaf.piece, x))
    }

    /// The line of a present reseller, one past the end of its downline, and its
    /// depth, from one lookup of its piece: what a mutation asks about a reseller.
    pub(crate) fn place(&self, core: &Core, x: Handle) -> (Line, Line, u32) {
        let (found, l) = self.locate(x);
        let depth = Overlay::depth_in(core, found.leaf.piece, x);
        (l, self.end_in(core, found, x), depth)
    }

    /// One past the last line of the downline of `x`.
    pub(crate) fn end(&self, core: &Core, x: Handle) -> Line {
        self.extent(core, x).1
    }

    /// The line of a present reseller and one past the end of its downline, from one
    /// lookup of its piece.
    pub(crate) fn extent(&self, core: &Core, x: Handle) -> (Line, Line) {
        let (found, l) = self.locate(x);
        (l, self.end_in(core, found, x))
    }

    fn end_in(&self, core: &Core, found: Found, x: Handle) -> Line {
        let piece = found.leaf.piece;
        if let Piece::Run { s, e, .. } = piece {
            let q = core.end[x.pos().idx()];
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

    /// The first line from `l` (a piece boundary) on at depth `d` or less; the end
    /// when there is none.
    fn first_at_most(&self, core: &Core, l: Line, d: u32) -> Line {
        match self.pieces.first_at_most(l, i64::from(d)) {
            None => self.end_line(),
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

    /// The parent of a present reseller; `Handle::NONE` for a root.
    pub(crate) fn parent(&self, core: &Core, x: Handle) -> Handle {
        let (found, _) = self.locate(x);
        let d = Overlay::depth_in(core, found.leaf.piece, x);
        if d == 0 {
            return Handle::NONE;
        }
        if let Piece::Run { s, .. } = found.leaf.piece {
            let p = core.parent[x.pos().idx()];
            if !p.is_none() && p >= s {
                return Handle::of(p);
            }
        }
        // The last reseller before `x` one level up: every reseller in between is
        // deeper.
        let up = d - 1;
        match self.pieces.last_at_most(found.start, i64::from(up)) {
            None => Handle::NONE,
            Some(f) => match f.leaf.piece {
                Piece::Node { x, .. } => x,
                Piece::Run { s, e, shift, .. } => core
                    .last_at_depth(s, e, i64::from(up) - shift)
                    .map_or(Handle::NONE, Handle::of),
            },
        }
    }

    /// The children of a present reseller, in order.
    pub(crate) fn children(&self, core: &Core, x: Handle) -> Vec<Handle> {
        let (line, end) = self.extent(core, x);
        let mut out = Vec::new();
        let mut l = line + 1;
        while l < end {
            let c = self.node_at(l);
            out.push(c);
            l = self.end(core, c).max(l + 1);
        }
        out
    }

    /// The roots, in order.
    pub(crate) fn roots(&self, core: &Core) -> Vec<Handle> {
        let mut out = Vec::new();
        let mut l = Line::new(0);
        while l < self.end_line() {
            let c = self.node_at(l);
            out.push(c);
            l = self.end(core, c).max(l + 1);
        }
        out
    }

    /// The reseller with this id, if present.
    pub(crate) fn find(&self, core: &Core, id: &Id) -> Option<Handle> {
        // The base first: most ids are its, and its table is cheaper to probe than
        // the persistent map (an id is in at most one of them, a removed base id
        // being added again as a new reseller).
        match core.find(id) {
            Some(p) if !self.removed.contains(p) => Some(Handle::of(p)),
            _ => self.ids.get(id, |x| self.added_id(core, x)),
        }
    }

    /// The id of added reseller `x`.
    #[inline]
    fn added_id(&self, core: &Core, x: Handle) -> Option<&Id> {
        let at = *self.added.get(x.added_index(core.n())? as usize)?;
        Some(self.log.get(at).id())
    }

    /// The record of an added or updated reseller; `None` for one the base describes.
    pub(crate) fn changed(&self, core: &Core, x: Handle) -> Option<Changed<'_>> {
        self.logged(core, x).map(|at| self.log.get(at))
    }

    /// Where the record of an added or updated reseller is in the log.
    #[inline]
    fn logged(&self, core: &Core, x: Handle) -> Option<Logged> {
        match x.added_index(core.n()) {
            Some(i) => self.added.get(i as usize).copied(),
            None if !self.touched.contains(x.pos()) => None,
            None => self.updated.get(&x.pos()).copied(),
        }
    }

    pub(crate) fn caps(&self, core: &Core, x: Handle) -> Capabilities {
        self.caps_at(core, x, self.logged(core, x))
    }

    /// The capabilities of present reseller `x`, whose record is at `logged` in the
    /// log if it was added or updated (from the base otherwise).
    #[inline]
    pub(crate) fn caps_at(&self, core: &Core, x: Handle, logged: Option<Logged>) -> Capabilities {
        logged.map_or_else(
            || core.caps[x.pos().idx()],
            |at| self.log.get(at).capabilities(),
        )
    }

    /// The piece of one reseller with capabilities `caps`.
    fn single(x: Handle, depth: u32, caps: Capabilities) -> Leaf {
        Leaf {
            piece: Piece::Node { x, depth },
            matches: Filter::ALL.map(|f| u32::from(f.matches(caps))),
        }
    }
}
