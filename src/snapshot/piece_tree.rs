//! [`PieceTree`]: the pieces of a changed version as a persistent B+tree, so that a
//! change costs `O(log k)` for `k` pieces, and a version is a clone of `O(1)`.
//!
//! # How
//!
//! - **Shape.** Leaves ([`Leaf`]: a piece and its filter matches) sit in bottom nodes of
//!   up to [`WIDE`] leaves; inner nodes hold up to `WIDE` children. Every node but the
//!   root holds at least `WIDE / 2`, and every leaf is at the same depth, so the height
//!   is at most `log_16 k + 1`. Each child entry carries the sums of its subtree
//!   ([`Sum`]: resellers, matches of each filter, smallest and largest depth), so the
//!   piece at a line, the piece of the `i`-th match of a filter and the
//!   first piece at most as deep as some depth after a position are each found by one
//!   descent.
//! - **Depth shifts are lazy.** A child entry also carries a `shift` added to every
//!   depth below it: moving a subtree of any size changes one entry. A node's shift is
//!   pushed into its own entries whenever the node is copied to be changed, so that
//!   every algorithm works on roots that have none.
//! - **Persistence by path copying.** Nodes are shared between versions behind `Arc`;
//!   a change copies the nodes on its paths (`Arc::make_mut` copies only nodes another
//!   version still holds) and shares the rest. Cloning a tree clones a handful of
//!   `Arc`s.
//! - **Large changes are split and join.** An `insert` of more than `FEW` pieces, a
//!   `remove` of more than one, a `relocate` of more than `FEW` or across bottom nodes
//!   (and the small ones a bottom node cannot take: one left under half full) cut
//!   the tree at piece boundaries into trees (`split`: one descent, each level's
//!   remains joined back, `O(log k)` in all) and join trees again (`join`: the
//!   shorter root's entries merged into the taller tree's spine node of its height, a
//!   node that overflows split in two, up to a new root), so moving a subtree of a
//!   million resellers costs what moving a leaf costs.
//! - **Small changes are in place.** Cutting a piece in two (`split_at`), joining two
//!   (`merge_at`), inserting a few pieces and removing one change one bottom node on
//!   one path; moving a few pieces (`relocate` of at most `FEW`, out of a node that
//!   stays half full) changes two, the pieces keeping their ids and keys; `shift`
//!   changes the entries inside its range and the two paths to its ends. A piece cut
//!   in two leaves its id and key with its first half, and two joined keep the first
//!   one's (a run's key is its first position, so both always start where it did),
//!   so that only the other half enters or leaves the maps.
//! - **From a piece to its position.** Pieces and nodes have ids ([`PieceId`]), stable
//!   for as long as they exist, and a persistent parent table by id. The position of
//!   a piece is a walk up the table, then one descent along that path summing what
//!   lies before it: `O(WIDE × height)`. Moving entries between nodes updates the
//!   table for the entries moved, at most `WIDE` per node split or merged; a node cut
//!   in two, or two merged into one, leaves its id with the part holding more of its
//!   entries, so that fewer of them move (these writes were a quarter of a change's
//!   time). Every
//!   piece is also in an ordered map by its key (a run's first base position, a
//!   single reseller's number), so that a reseller's piece is the one with the
//!   largest key at most its number: one lookup.
//!
//! Depths are `i64` inside (sums of shifts); every piece's absolute depth is a valid
//! `u32` depth of the forest.

use std::ops::Range;
use std::sync::Arc;

use imbl::OrdMap;
use smallvec::SmallVec;

use super::persistent_array::PersistentArray;

use super::numbering::{Handle, Line};
use super::piece::{Leaf, Piece};

/// The most entries a node holds; every node but the root holds at least half as many.
pub(crate) const WIDE: usize = 32;
const HALF: usize = WIDE / 2;
const NO_PARENT: u32 = u32::MAX;
/// The most pieces a change moves in place (more are split and joined).
const FEW: usize = 4;

/// A piece's or a node's id, stable while it exists: what the parent table and the
/// maps to pieces hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct PieceId(u32);

/// What a subtree sums: resellers, pieces, matches of each filter, smallest and largest
/// depth (in the frame of the node holding the entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sum {
    len: u32,
    pieces: u32,
    matches: [u32; 4],
    min: i64,
    max: i64,
}

impl Sum {
    const EMPTY: Sum = Sum {
        len: 0,
        pieces: 0,
        matches: [0; 4],
        min: i64::MAX,
        max: i64::MIN,
    };

    fn of(leaf: &Leaf) -> Sum {
        Sum {
            len: leaf.piece.len(),
            pieces: 1,
            matches: leaf.matches,
            min: i64::from(leaf.piece.min_depth()),
            max: i64::from(leaf.piece.max_depth()),
        }
    }

    fn add(&mut self, other: &Sum) {
        self.len += other.len;
        self.pieces += other.pieces;
        for (m, o) in self.matches.iter_mut().zip(other.matches) {
            *m += o;
        }
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    fn shifted(self, by: i64) -> Sum {
        if self.len == 0 {
            return self;
        }
        Sum {
            min: self.min + by,
            max: self.max + by,
            ..self
        }
    }
}

/// A leaf in a bottom node.
#[derive(Clone, Copy, Debug)]
struct Slot {
    id: u32,
    leaf: Leaf,
}

/// A child entry of an inner node: the child, its id, its sums (shift included) and
/// the shift of every depth below it.
#[derive(Clone, Debug)]
struct Child {
    id: u32,
    sum: Sum,
    shift: i64,
    node: Arc<Node>,
}

#[derive(Clone, Debug)]
enum Kids {
    Leaves(Vec<Slot>),
    Nodes(Vec<Child>),
}

#[derive(Clone, Debug)]
struct Node {
    id: u32,
    kids: Kids,
}

impl Node {
    fn count(&self) -> usize {
        match &self.kids {
            Kids::Leaves(s) => s.len(),
            Kids::Nodes(c) => c.len(),
        }
    }

    fn sum(&self) -> Sum {
        let mut sum = Sum::EMPTY;
        match &self.kids {
            Kids::Leaves(s) => s.iter().for_each(|s| sum.add(&Sum::of(&s.leaf))),
            Kids::Nodes(c) => c.iter().for_each(|c| sum.add(&c.sum)),
        }
        sum
    }

    fn kid_ids(&self) -> Vec<u32> {
        match &self.kids {
            Kids::Leaves(s) => s.iter().map(|s| s.id).collect(),
            Kids::Nodes(c) => c.iter().map(|c| c.id).collect(),
        }
    }

    /// Adds `by` to every depth below this node's entries.
    fn shift_kids(&mut self, by: i64) {
        if by == 0 {
            return;
        }
        match &mut self.kids {
            Kids::Leaves(s) => s.iter_mut().for_each(|s| s.leaf = s.leaf.shifted(by)),
            Kids::Nodes(c) => c.iter_mut().for_each(|c| {
                c.shift += by;
                c.sum = c.sum.shifted(by);
            }),
        }
    }
}

/// Which of the two parts of node `id` cut in two (`left` and `right` entries) keeps
/// its id: the larger, so that fewer entries move to the new node and change parent in
/// the parent table (the most frequent writes of a change).
fn larger_keeps(id: u32, left: usize, right: usize) -> (Option<u32>, Option<u32>) {
    if left >= right {
        (Some(id), None)
    } else {
        (None, Some(id))
    }
}

/// Adds `by` to the depths of lines `lo..hi` of `node` (relative to it, piece
/// boundaries, `lo < hi`): see [`PieceTree::shift`]. Enters only the children across
/// `lo` and `hi` (at most two a level, `O(log k)` levels deep), pushing their shifts
/// down first.
fn shift_in(node: &mut Arc<Node>, lo: u32, hi: u32, by: i64) {
    let n = Arc::make_mut(node);
    let mut at = 0u32;
    match &mut n.kids {
        Kids::Leaves(slots) => {
            for s in slots.iter_mut() {
                let len = s.leaf.piece.len();
                if lo <= at && at + len <= hi {
                    s.leaf = s.leaf.shifted(by);
                }
                debug_assert!(at + len <= lo || at >= hi || (lo <= at && at + len <= hi));
                at += len;
            }
        }
        Kids::Nodes(children) => {
            for c in children.iter_mut() {
                let (start, end) = (at, at + c.sum.len);
                at = end;
                if end <= lo || start >= hi {
                    continue;
                }
                if lo <= start && end <= hi {
                    c.shift += by;
                    c.sum = c.sum.shifted(by);
                } else {
                    // Its shift pushed down first, as `edit_in` does, so that the
                    // depths of a bottom node entered are absolute (a piece's depth
                    // is a `u32` relative to the shifts above it).
                    if c.shift != 0 {
                        Arc::make_mut(&mut c.node).shift_kids(c.shift);
                        c.shift = 0;
                    }
                    let (a, b) = (lo.saturating_sub(start), hi.min(end) - start);
                    shift_in(&mut c.node, a, b, by);
                    c.sum = c.node.sum();
                }
            }
        }
    }
}

fn own(node: Arc<Node>) -> Node {
    Arc::try_unwrap(node).unwrap_or_else(|shared| (*shared).clone())
}

fn child_of(node: Arc<Node>) -> Child {
    Child {
        id: node.id,
        sum: node.sum(),
        shift: 0,
        node,
    }
}

/// A child's node with the child's shift pushed into it.
fn unshift(child: Child) -> Arc<Node> {
    let mut node = child.node;
    if child.shift != 0 {
        Arc::make_mut(&mut node).shift_kids(child.shift);
    }
    node
}

/// `n` items in `ceil(n / WIDE)` groups of nearly equal size: each at least `HALF`
/// when `n > WIDE`.
fn groups<T>(items: Vec<T>) -> Vec<Vec<T>> {
    let n = items.len();
    let k = n.div_ceil(WIDE).max(1);
    let mut out = Vec::with_capacity(k);
    let mut rest = items.into_iter();
    for i in 0..k {
        let size = n / k + usize::from(i < n % k);
        out.push(rest.by_ref().take(size).collect());
    }
    out
}

/// A tree without a shift above it, and its height (1: the root holds leaves).
struct Part {
    node: Arc<Node>,
    height: u32,
}

/// A piece found in the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) id: PieceId,
    /// Its first line.
    pub(crate) start: Line,
    /// How many pieces come before it.
    pub(crate) index: u32,
    /// Matches of each filter in the pieces before it.
    pub(crate) before: [u32; 4],
    /// The piece, depths absolute.
    pub(crate) leaf: Leaf,
}

impl Found {
    /// `slot`, preceded by `acc`, under shifts summing to `shift`.
    fn new(slot: &Slot, acc: &Acc, shift: i64) -> Found {
        Found {
            id: PieceId(slot.id),
            start: acc.start,
            index: acc.index,
            before: acc.before,
            leaf: slot.leaf.shifted(shift),
        }
    }
}

/// What precedes an entry during a descent.
#[derive(Clone, Copy, Default)]
struct Acc {
    start: Line,
    index: u32,
    before: [u32; 4],
}

impl Acc {
    fn add(&mut self, sum: &Sum) {
        self.start += sum.len;
        self.index += sum.pieces;
        for (b, m) in self.before.iter_mut().zip(sum.matches) {
            *b += m;
        }
    }
}

/// The pieces of a changed version in the version's pre-order. See the module docs.
#[derive(Clone, Debug)]
pub(crate) struct PieceTree {
    root: Option<Arc<Node>>,
    height: u32,
    total: Sum,
    /// By id: the node holding it, or `NO_PARENT` (the root, or a free id).
    parent: PersistentArray<u32>,
    free: PersistentArray<u32>,
    /// Every piece by its key: a run's first base position, a single reseller's
    /// number. Keys are distinct (runs cover distinct base positions, and a single
    /// base reseller is in no run), so the piece of reseller `x` has the largest key
    /// at most `x`.
    keys: OrdMap<Handle, PieceId>,
}

impl Default for PieceTree {
    fn default() -> PieceTree {
        PieceTree {
            root: None,
            height: 0,
            total: Sum::EMPTY,
            parent: PersistentArray::default(),
            free: PersistentArray::default(),
            keys: OrdMap::new(),
        }
    }
}

impl PieceTree {
    /// A tree of `leaves`, in order.
    pub(crate) fn new(leaves: Vec<Leaf>) -> PieceTree {
        let mut t = PieceTree::default();
        let part = t.build(leaves);
        t.set_root(part);
        t
    }

    /// Resellers listed.
    pub(crate) fn len(&self) -> u32 {
        self.total.len
    }

    /// Pieces.
    pub(crate) fn pieces(&self) -> usize {
        self.keys.len()
    }

    /// Matches of filter slot `f` in all pieces.
    pub(crate) fn total_matches(&self, f: usize) -> u32 {
        self.total.matches[f]
    }

    /// Bytes of the nodes and tables this version holds (shared ones included).
    pub(crate) fn heap_bytes(&self) -> usize {
        let pieces = self.pieces();
        pieces * (std::mem::size_of::<Slot>() + 2 * 24)
            + self.parent.len() * 4
            + pieces / HALF * std::mem::size_of::<Child>()
    }

    // ----- ids -----

    fn alloc(&mut self) -> u32 {
        match self.free.pop() {
            Some(id) => id,
            None => {
                let id = self.parent.len() as u32;
                self.parent.push(NO_PARENT);
                id
            }
        }
    }

    fn release(&mut self, id: u32) {
        self.parent.set(id as usize, NO_PARENT);
        self.free.push(id);
    }

    fn set_parent(&mut self, id: u32, parent: u32) {
        self.parent.set(id as usize, parent);
    }

    /// Records `node` as the parent of its entries `which`.
    fn adopt(&mut self, node: &Node, which: Range<usize>) {
        let id = node.id;
        match &node.kids {
            Kids::Leaves(s) => {
                for s in &s[which] {
                    self.parent.set(s.id as usize, id);
                }
            }
            Kids::Nodes(c) => {
                for c in &c[which] {
                    self.parent.set(c.id as usize, id);
                }
            }
        }
    }

    fn register(&mut self, id: u32, leaf: &Leaf) {
        self.keys.insert(key(leaf), PieceId(id));
    }

    fn unregister(&mut self, leaf: &Leaf) {
        self.keys.remove(&key(leaf));
    }

    /// A node with a new id over `kids`, adopting them.
    fn fresh(&mut self, kids: Kids) -> Arc<Node> {
        let node = Node {
            id: self.alloc(),
            kids,
        };
        self.adopt(&node, 0..node.count());
        Arc::new(node)
    }

    /// Node `id` over `kids`, adopting those of `moved` (the others already are its).
    fn keep(&mut self, id: u32, kids: Kids, moved: Range<usize>) -> Arc<Node> {
        let node = Node { id, kids };
        self.adopt(&node, moved);
        Arc::new(node)
    }

    /// Node `id` (when given, already the parent of `kids`) or a new one.
    fn node(&mut self, id: Option<u32>, kids: Kids) -> Arc<Node> {
        match id {
            Some(id) => self.keep(id, kids, 0..0),
            None => self.fresh(kids),
        }
    }

    fn set_root(&mut self, part: Option<Part>) {
        match part {
            None => {
                self.root = None;
                self.height = 0;
                self.total = Sum::EMPTY;
            }
            Some(p) => {
                self.set_parent(p.node.id, NO_PARENT);
                self.total = p.node.sum();
                self.root = Some(p.node);
                self.height = p.height;
            }
        }
    }

    fn take_root(&mut self) -> Option<Part> {
        let height = self.height;
        self.total = Sum::EMPTY;
        self.height = 0;
        self.root.take().map(|node| Part { node, height })
    }

    // ----- building, splitting, joining -----

    /// New leaves as a tree, each with a new id.
    fn build(&mut self, leaves: Vec<Leaf>) -> Option<Part> {
        if leaves.is_empty() {
            return None;
        }
        let slots: Vec<Slot> = leaves
            .into_iter()
            .map(|leaf| {
                let id = self.alloc();
                self.register(id, &leaf);
                Slot { id, leaf }
            })
            .collect();
        let mut nodes: Vec<Arc<Node>> = groups(slots)
            .into_iter()
            .map(|g| self.fresh(Kids::Leaves(g)))
            .collect();
        let mut height = 1;
        while nodes.len() > 1 {
            let children: Vec<Child> = nodes.into_iter().map(child_of).collect();
            nodes = groups(children)
                .into_iter()
                .map(|g| self.fresh(Kids::Nodes(g)))
                .collect();
            height += 1;
        }
        nodes.pop().map(|node| Part { node, height })
    }

    /// A root over `slots` (id `id` or a new one); none when empty.
    fn leaves_part(&mut self, id: Option<u32>, slots: Vec<Slot>) -> Option<Part> {
        if slots.is_empty() {
            if let Some(id) = id {
                self.release(id);
            }
            return None;
        }
        Some(Part {
            node: self.node(id, Kids::Leaves(slots)),
            height: 1,
        })
    }

    /// A root over `children` at `height`; its one child when there is one.
    fn nodes_part(
        &mut self,
        id: Option<u32>,
        mut children: Vec<Child>,
        height: u32,
    ) -> Option<Part> {
        if children.len() < 2 {
            if let Some(id) = id {
                self.release(id);
            }
            return children.pop().map(|c| Part {
                node: unshift(c),
                height: height - 1,
            });
        }
        Some(Part {
            node: self.node(id, Kids::Nodes(children)),
            height,
        })
    }

    /// Splits `part` at offset `l` (from its first line), a piece boundary.
    fn split(&mut self, part: Part, l: u32) -> (Option<Part>, Option<Part>) {
        let Part { node, height } = part;
        let Node { id, kids } = own(node);
        match kids {
            Kids::Leaves(mut slots) => {
                let (mut at, mut i) = (0, 0);
                while i < slots.len() && at < l {
                    at += slots[i].leaf.piece.len();
                    i += 1;
                }
                debug_assert_eq!(at.min(l), l, "split inside a piece");
                let right = slots.split_off(i);
                let (lid, rid) = larger_keeps(id, slots.len(), right.len());
                (self.leaves_part(lid, slots), self.leaves_part(rid, right))
            }
            Kids::Nodes(mut children) => {
                let (mut at, mut i) = (0, 0);
                while i < children.len() && at + children[i].sum.len <= l {
                    at += children[i].sum.len;
                    i += 1;
                }
                if i == children.len() || at == l {
                    let right = children.split_off(i);
                    let (lid, rid) = larger_keeps(id, children.len(), right.len());
                    return (
                        self.nodes_part(lid, children, height),
                        self.nodes_part(rid, right, height),
                    );
                }
                let mut rest = children.split_off(i);
                let middle = rest.remove(0);
                self.set_parent(middle.id, NO_PARENT);
                let inner = Part {
                    node: unshift(middle),
                    height: height - 1,
                };
                let (cl, cr) = self.split(inner, l - at);
                let (lid, rid) = larger_keeps(id, children.len(), rest.len());
                let left = self.nodes_part(lid, children, height);
                let right = self.nodes_part(rid, rest, height);
                (self.join(left, cl), self.join(cr, right))
            }
        }
    }

    /// `a` then `b` as one tree.
    fn join(&mut self, a: Option<Part>, b: Option<Part>) -> Option<Part> {
        let (a, b) = match (a, b) {
            (None, x) | (x, None) => return x,
            (Some(a), Some(b)) => (a, b),
        };
        let height = a.height.max(b.height);
        let (first, second) = if a.height == b.height {
            self.merge_nodes(a.node, b.node)
        } else if a.height > b.height {
            self.join_right(a.node, a.height, b)
        } else {
            self.join_left(a, b.node, b.height)
        };
        Some(match second {
            None => Part {
                node: first,
                height,
            },
            Some(second) => Part {
                node: self.fresh(Kids::Nodes(vec![child_of(first), child_of(second)])),
                height: height + 1,
            },
        })
    }

    /// The entries of `a` then `b` (same height, no shifts above them) as one node, or
    /// as two of at least `HALF` each when they do not fit in one.
    fn merge_nodes(&mut self, a: Arc<Node>, b: Arc<Node>) -> (Arc<Node>, Option<Arc<Node>>) {
        let (a, b) = (own(a), own(b));
        let (aid, bid, na) = (a.id, b.id, a.count());
        match (a.kids, b.kids) {
            (Kids::Leaves(mut x), Kids::Leaves(y)) => {
                x.extend(y);
                self.spread(aid, bid, na, x, Kids::Leaves)
            }
            (Kids::Nodes(mut x), Kids::Nodes(y)) => {
                x.extend(y);
                self.spread(aid, bid, na, x, Kids::Nodes)
            }
            _ => unreachable!("nodes of one height hold the same kind of entries"),
        }
    }

    /// `items`, the first `na` from node `aid` and the rest from node `bid`, in one
    /// node (`aid`, `bid` released) or two (`aid`, `bid`).
    fn spread<T>(
        &mut self,
        aid: u32,
        bid: u32,
        na: usize,
        mut items: Vec<T>,
        kids: fn(Vec<T>) -> Kids,
    ) -> (Arc<Node>, Option<Arc<Node>>) {
        let n = items.len();
        if n <= WIDE {
            // The node that gave more entries keeps its id: fewer entries change parent.
            if na >= n - na {
                self.release(bid);
                return (self.keep(aid, kids(items), na..n), None);
            }
            self.release(aid);
            return (self.keep(bid, kids(items), 0..na), None);
        }
        // The cut closest to where `a`'s entries end that leaves both nodes between
        // half full and full: the fewest entries change node (and parent).
        // (Two nodes hold at most `2 × WIDE`; past that, halves.)
        let (lo, hi) = (HALF.max(n - WIDE), WIDE.min(n - HALF));
        let h = if lo <= hi { na.clamp(lo, hi) } else { n / 2 };
        let second = items.split_off(h);
        (
            self.keep(aid, kids(items), na.min(h)..h),
            Some(self.keep(bid, kids(second), 0..na.saturating_sub(h))),
        )
    }

    /// `b` (shorter) joined after the tree under `node` (height `height`): the node,
    /// and a new right sibling when it overflowed.
    fn join_right(
        &mut self,
        node: Arc<Node>,
        height: u32,
        b: Part,
    ) -> (Arc<Node>, Option<Arc<Node>>) {
        let mut n = own(node);
        let Kids::Nodes(children) = &mut n.kids else {
            unreachable!("a taller tree's root has children")
        };
        let Some(last) = children.pop() else {
            unreachable!("an inner node is never empty")
        };
        let child = unshift(last);
        let (x, y) = if height - 1 == b.height {
            self.merge_nodes(child, b.node)
        } else {
            self.join_right(child, height - 1, b)
        };
        self.set_parent(x.id, n.id);
        if let Some(y) = &y {
            self.set_parent(y.id, n.id);
        }
        let Kids::Nodes(children) = &mut n.kids else {
            unreachable!("a taller tree's root has children")
        };
        children.push(child_of(x));
        children.extend(y.map(child_of));
        self.overflow(n)
    }

    /// `a` (shorter) joined before the tree under `node`.
    fn join_left(
        &mut self,
        a: Part,
        node: Arc<Node>,
        height: u32,
    ) -> (Arc<Node>, Option<Arc<Node>>) {
        let mut n = own(node);
        let Kids::Nodes(children) = &mut n.kids else {
            unreachable!("a taller tree's root has children")
        };
        let first = children.remove(0);
        let child = unshift(first);
        let (x, y) = if height - 1 == a.height {
            self.merge_nodes(a.node, child)
        } else {
            self.join_left(a, child, height - 1)
        };
        self.set_parent(x.id, n.id);
        if let Some(y) = &y {
            self.set_parent(y.id, n.id);
        }
        let Kids::Nodes(children) = &mut n.kids else {
            unreachable!("a taller tree's root has children")
        };
        let mut front = vec![child_of(x)];
        front.extend(y.map(child_of));
        children.splice(0..0, front);
        self.overflow(n)
    }

    /// A changed node, split in two when it holds more than `WIDE` entries.
    fn overflow(&mut self, n: Node) -> (Arc<Node>, Option<Arc<Node>>) {
        let Node { id, kids } = n;
        match kids {
            Kids::Nodes(mut c) if c.len() > WIDE => {
                let second = c.split_off(c.len() / 2);
                (
                    self.keep(id, Kids::Nodes(c), 0..0),
                    Some(self.fresh(Kids::Nodes(second))),
                )
            }
            kids => (self.keep(id, kids, 0..0), None),
        }
    }

    /// Takes out pieces `lo..hi` (piece boundaries): the rest of the tree is joined.
    fn cut(&mut self, lo: Line, hi: Line) -> Option<Part> {
        let root = self.take_root();
        let (a, rest) = match root {
            Some(r) => self.split(r, lo.get()),
            None => (None, None),
        };
        let (m, c) = match rest {
            Some(r) => self.split(r, hi - lo),
            None => (None, None),
        };
        let joined = self.join(a, c);
        self.set_root(joined);
        m
    }

    /// Puts `part` at line `l` (a piece boundary).
    fn paste(&mut self, l: Line, part: Option<Part>) {
        let root = self.take_root();
        let (a, b) = match root {
            Some(r) => self.split(r, l.get()),
            None => (None, None),
        };
        let left = self.join(a, part);
        let joined = self.join(left, b);
        self.set_root(joined);
    }

    /// Changes the bottom node holding line `l` in place (the nodes on
    /// its path copied where shared, their shifts pushed down, so that the node's
    /// depths are absolute). `change` gets the tree, the node's id and leaves, `l`
    /// relative to the node, and whether the node is the root; it says whether it
    /// did what it was asked (`false`: it declined, and changed nothing). A node left
    /// with more than `WIDE` entries is split, up to a new root. Changes that could
    /// leave a node less than half full are `change`'s to decline.
    fn edit(
        &mut self,
        l: Line,
        change: impl FnOnce(&mut PieceTree, u32, &mut Vec<Slot>, u32, bool) -> bool,
    ) -> bool {
        let Some(mut part) = self.take_root() else {
            return false;
        };
        let (done, over) = self.edit_in(&mut part.node, l.get(), part.height == 1, change);
        let root = match over {
            None => part,
            Some(over) => Part {
                node: self.fresh(Kids::Nodes(vec![child_of(part.node), child_of(over)])),
                height: part.height + 1,
            },
        };
        self.set_root(Some(root));
        done
    }

    fn edit_in(
        &mut self,
        node: &mut Arc<Node>,
        l: u32,
        root: bool,
        change: impl FnOnce(&mut PieceTree, u32, &mut Vec<Slot>, u32, bool) -> bool,
    ) -> (bool, Option<Arc<Node>>) {
        let n = Arc::make_mut(node);
        let id = n.id;
        match &mut n.kids {
            Kids::Leaves(slots) => {
                let done = change(self, id, slots, l, root);
                if slots.len() > WIDE {
                    let second = slots.split_off(slots.len() / 2);
                    return (done, Some(self.fresh(Kids::Leaves(second))));
                }
                (done, None)
            }
            Kids::Nodes(children) => {
                let (mut at, mut i) = (0, 0);
                while i + 1 < children.len() && at + children[i].sum.len <= l {
                    at += children[i].sum.len;
                    i += 1;
                }
                let c = &mut children[i];
                if c.shift != 0 {
                    Arc::make_mut(&mut c.node).shift_kids(c.shift);
                    c.shift = 0;
                }
                let (done, over) = self.edit_in(&mut c.node, l - at, false, change);
                c.sum = c.node.sum();
                if let Some(over) = over {
                    self.set_parent(over.id, id);
                    children.insert(i + 1, child_of(over));
                }
                if children.len() > WIDE {
                    let second = children.split_off(children.len() / 2);
                    return (done, Some(self.fresh(Kids::Nodes(second))));
                }
                (done, None)
            }
        }
    }

    /// A new slot of bottom node `parent`.
    fn new_slot(&mut self, leaf: Leaf, parent: u32) -> Slot {
        let id = self.alloc();
        self.register(id, &leaf);
        self.set_parent(id, parent);
        Slot { id, leaf }
    }

    /// Takes a slot out of the maps and frees its id.
    fn drop_slot(&mut self, slot: &Slot) {
        self.unregister(&slot.leaf);
        self.release(slot.id);
    }

    // ----- changes -----

    /// Puts `leaves` at line `l`, a piece boundary.
    pub(crate) fn insert(&mut self, l: Line, leaves: Vec<Leaf>) {
        if leaves.len() <= FEW && self.root.is_some() {
            // In place: one path.
            let done = self.edit(l, |t, id, slots, rel, _| {
                let (i, _) = slot_at(slots, rel);
                let new: Vec<Slot> = leaves
                    .into_iter()
                    .map(|leaf| t.new_slot(leaf, id))
                    .collect();
                slots.splice(i..i, new);
                true
            });
            debug_assert!(done);
            return;
        }
        let part = self.build(leaves);
        self.paste(l, part);
    }

    /// Takes out the pieces of `lo..hi` (piece boundaries) for good: their leaves,
    /// depths absolute.
    pub(crate) fn remove(&mut self, lo: Line, hi: Line) -> Vec<Leaf> {
        // One piece out of a node that stays at least half full: in place.
        let mut taken = None;
        self.edit(lo, |t, _, slots, rel, root| {
            let (i, at) = slot_at(slots, rel);
            let fits = i < slots.len() && at == rel && slots[i].leaf.piece.len() == hi - lo;
            if !fits || slots.len() <= if root { 1 } else { HALF } {
                return false;
            }
            let slot = slots.remove(i);
            t.drop_slot(&slot);
            taken = Some(slot.leaf);
            true
        });
        if let Some(leaf) = taken {
            return vec![leaf];
        }
        let Some(part) = self.cut(lo, hi) else {
            return Vec::new();
        };
        let mut leaves = Vec::new();
        let mut stack = vec![(part.node, 0i64)];
        while let Some((node, shift)) = stack.pop() {
            self.release(node.id);
            match &node.kids {
                Kids::Leaves(s) => {
                    for slot in s {
                        self.release(slot.id);
                        self.unregister(&slot.leaf);
                        leaves.push(slot.leaf.shifted(shift));
                    }
                }
                Kids::Nodes(c) => {
                    // Pushed in reverse, so that leaves come out in order.
                    for c in c.iter().rev() {
                        stack.push((c.node.clone(), shift + c.shift));
                    }
                }
            }
        }
        leaves
    }

    /// Adds `by` to the depth of every reseller in `lo..hi` (piece boundaries), in
    /// place: the entries wholly inside the range take the shift (a child entry's lazy
    /// `shift`, a leaf's depths), and only the nodes across its two ends are copied and
    /// entered, so no entry moves and no id or map changes (`O(WIDE × height)`).
    pub(crate) fn shift(&mut self, lo: Line, hi: Line, by: i64) {
        if lo >= hi || by == 0 {
            return;
        }
        let Some(mut part) = self.take_root() else {
            return;
        };
        shift_in(&mut part.node, lo.get(), hi.get(), by);
        self.set_root(Some(part));
    }

    /// Moves the pieces of `lo..hi` (piece boundaries), `by` levels deeper, to
    /// line `to` of the tree without them (a piece boundary there).
    pub(crate) fn relocate(&mut self, lo: Line, hi: Line, to: Line, by: i64) {
        // A few pieces out of a bottom node that stays at least half full: in place,
        // and in place again at `to`, keeping their ids and keys.
        let mut taken: Option<SmallVec<[Slot; FEW]>> = None;
        self.edit(lo, |_, _, slots, rel, root| {
            let (i, at) = slot_at(slots, rel);
            if i >= slots.len() || at != rel {
                return false;
            }
            let (mut j, mut len) = (i, 0);
            while j < slots.len() && j - i < FEW && len < hi - lo {
                len += slots[j].leaf.piece.len();
                j += 1;
            }
            if len != hi - lo || slots.len() - (j - i) < if root { 1 } else { HALF } {
                return false;
            }
            taken = Some(slots.drain(i..j).collect());
            true
        });
        if let Some(moved) = taken {
            let done = self.edit(to, |t, id, slots, rel, _| {
                let (i, _) = slot_at(slots, rel);
                let moved = moved.into_iter().map(|mut s| {
                    t.set_parent(s.id, id);
                    s.leaf = s.leaf.shifted(by);
                    s
                });
                slots.splice(i..i, moved);
                true
            });
            debug_assert!(done, "the tree kept at least one piece");
            return;
        }
        let part = self.cut(lo, hi).map(|p| {
            let mut n = own(p.node);
            n.shift_kids(by);
            Part {
                node: Arc::new(n),
                height: p.height,
            }
        });
        self.paste(to, part);
    }

    /// Makes a piece boundary at line `l`: the piece across it is
    /// replaced by the two halves `cut` makes of it (given the piece, depths absolute,
    /// and the offset of `l` in it).
    pub(crate) fn split_at(&mut self, l: Line, cut: impl FnOnce(Leaf, u32) -> (Leaf, Leaf)) {
        if l.get() == 0 || l.get() >= self.len() {
            return;
        }
        self.edit(l, |t, id, slots, rel, _| {
            let (i, at) = slot_at(slots, rel);
            if i < slots.len() && at < rel {
                t.cut_slot(id, slots, i, rel - at, cut);
            }
            true
        });
    }

    /// Replaces slot `i` of bottom node `id` by the two halves `cut` makes of its
    /// piece at offset `off`. The first half starts where the piece did, so it keeps
    /// the piece's key, and with it the slot's id and its place in the maps.
    fn cut_slot(
        &mut self,
        id: u32,
        slots: &mut Vec<Slot>,
        i: usize,
        off: u32,
        cut: impl FnOnce(Leaf, u32) -> (Leaf, Leaf),
    ) {
        let old = slots[i];
        let (a, b) = cut(old.leaf, off);
        if key(&a) == key(&old.leaf) {
            slots[i].leaf = a;
            let second = self.new_slot(b, id);
            slots.insert(i + 1, second);
        } else {
            self.drop_slot(&old);
            let new = [self.new_slot(a, id), self.new_slot(b, id)];
            slots.splice(i..=i, new);
        }
    }

    /// Puts `leaf` at line `l`, first cutting the piece across `l` (if any) in two as
    /// `split_at` does: one path, where `split_at` and `insert` take two.
    pub(crate) fn insert_cutting(
        &mut self,
        l: Line,
        leaf: Leaf,
        cut: impl FnOnce(Leaf, u32) -> (Leaf, Leaf),
    ) {
        if self.root.is_none() {
            self.insert(l, vec![leaf]);
            return;
        }
        let done = self.edit(l, |t, id, slots, rel, _| {
            let (mut i, at) = slot_at(slots, rel);
            if i < slots.len() && at < rel {
                t.cut_slot(id, slots, i, rel - at, cut);
                i += 1;
            }
            let new = t.new_slot(leaf, id);
            slots.insert(i, new);
            true
        });
        debug_assert!(done, "a tree with a root takes a leaf");
    }

    /// Takes out the one reseller at line `l`, cutting the piece holding it with `cut`
    /// (given the piece and an offset in it) when it holds others, as `split_at` at
    /// `l` and at `l + 1` would: one path, unless the piece is the reseller alone and
    /// its bottom node would be left under half full, or `cut` moves the first part's
    /// key; then `split_at` twice and `remove`.
    pub(crate) fn remove_one(&mut self, l: Line, cut: impl Fn(Leaf, u32) -> (Leaf, Leaf)) {
        if l.get() >= self.len() {
            return;
        }
        let done = self.edit(l, |t, id, slots, rel, root| {
            let (i, at) = slot_at(slots, rel);
            let Some(&old) = slots.get(i) else {
                return false;
            };
            let (off, len) = (rel - at, old.leaf.piece.len());
            if len == 1 {
                if slots.len() <= if root { 1 } else { HALF } {
                    return false;
                }
                slots.remove(i);
                t.drop_slot(&old);
            } else if off == 0 {
                // The rest starts one later: a new key.
                let (_, rest) = cut(old.leaf, 1);
                t.drop_slot(&old);
                slots[i] = t.new_slot(rest, id);
            } else {
                let (a, rest) = cut(old.leaf, off);
                if key(&a) != key(&old.leaf) {
                    return false;
                }
                slots[i].leaf = a;
                if off + 1 < len {
                    let (_, b) = cut(rest, 1);
                    let new = t.new_slot(b, id);
                    slots.insert(i + 1, new);
                }
            }
            true
        });
        if !done {
            self.split_at(l, &cut);
            self.split_at(l + 1, &cut);
            self.remove(l, l + 1);
        }
    }

    /// Replaces the pieces ending and starting at `l` by one, when `join` makes one of
    /// them.
    pub(crate) fn merge_at(&mut self, l: Line, join: impl Fn(&Leaf, &Leaf) -> Option<Leaf>) {
        if l.get() == 0 || l.get() >= self.len() {
            return;
        }
        // Both in one node that stays at least half full: in place.
        let done = self.edit(l, |t, id, slots, rel, root| {
            let (i, at) = slot_at(slots, rel);
            if i == 0 || i == slots.len() || at != rel {
                return false;
            }
            let Some(joined) = join(&slots[i - 1].leaf, &slots[i].leaf) else {
                return true;
            };
            if slots.len() <= if root { 1 } else { HALF } {
                return false;
            }
            let (a, b) = (slots[i - 1], slots[i]);
            if key(&joined) == key(&a.leaf) {
                // The joined piece starts where the first did: it keeps its id.
                t.drop_slot(&b);
                slots[i - 1].leaf = joined;
                slots.remove(i);
            } else {
                t.drop_slot(&a);
                t.drop_slot(&b);
                let new = t.new_slot(joined, id);
                slots.splice(i - 1..=i, [new]);
            }
            true
        });
        if done {
            return;
        }
        let (Some(a), Some(b)) = (self.at(l - 1), self.at(l)) else {
            return;
        };
        if b.start != l {
            return;
        }
        if let Some(joined) = join(&a.leaf, &b.leaf) {
            let end = b.start + b.leaf.piece.len();
            self.remove(a.start, end);
            self.insert(a.start, vec![joined]);
        }
    }

    // ----- queries -----

    /// One descent: `enter(acc, sum)` says whether the wanted piece is within an entry
    /// preceded by `acc`.
    fn descend(&self, enter: impl Fn(&Acc, &Sum) -> bool) -> Option<Found> {
        let mut node = self.root.as_deref()?;
        let mut acc = Acc::default();
        let mut shift = 0i64;
        loop {
            match &node.kids {
                Kids::Leaves(slots) => {
                    for slot in slots {
                        let sum = Sum::of(&slot.leaf);
                        if enter(&acc, &sum) {
                            return Some(Found::new(slot, &acc, shift));
                        }
                        acc.add(&sum);
                    }
                    return None;
                }
                Kids::Nodes(children) => {
                    let next = children.iter().find(|c| {
                        let inside = enter(&acc, &c.sum);
                        if !inside {
                            acc.add(&c.sum);
                        }
                        inside
                    })?;
                    shift += next.shift;
                    node = &next.node;
                }
            }
        }
    }

    /// The piece holding line `l`.
    pub(crate) fn at(&self, l: Line) -> Option<Found> {
        self.descend(|acc, sum| l < acc.start + sum.len)
    }

    /// How many pieces hold the resellers of lines `lo..hi`.
    pub(crate) fn pieces_in(&self, lo: Line, hi: Line) -> u32 {
        match (
            self.at(lo),
            hi.get()
                .checked_sub(1)
                .and_then(|last| self.at(Line::new(last))),
        ) {
            (Some(a), Some(b)) if lo < hi => b.index + 1 - a.index,
            _ => 0,
        }
    }

    /// The piece holding the `g`-th match (from 0) of filter slot `f`.
    pub(crate) fn match_at(&self, f: usize, g: u32) -> Option<Found> {
        self.descend(|acc, sum| g < acc.before[f] + sum.matches[f])
    }

    /// The piece with this id.
    pub(crate) fn find(&self, id: PieceId) -> Option<Found> {
        let mut path: SmallVec<[u32; 16]> = smallvec::smallvec![id.0];
        loop {
            let up = self.parent.get(*path.last()? as usize)?;
            if up == NO_PARENT {
                break;
            }
            path.push(up);
            if path.len() > 64 {
                return None;
            }
        }
        let mut node = self.root.as_deref()?;
        if path.pop() != Some(node.id) {
            return None;
        }
        let mut acc = Acc::default();
        let mut shift = 0i64;
        while let Some(want) = path.pop() {
            match &node.kids {
                Kids::Leaves(slots) => {
                    for slot in slots {
                        if slot.id == want {
                            return Some(Found::new(slot, &acc, shift));
                        }
                        acc.add(&Sum::of(&slot.leaf));
                    }
                    return None;
                }
                Kids::Nodes(children) => {
                    let c = children.iter().find(|c| {
                        let hit = c.id == want;
                        if !hit {
                            acc.add(&c.sum);
                        }
                        hit
                    })?;
                    shift += c.shift;
                    node = &c.node;
                }
            }
        }
        None
    }

    /// The piece that holds reseller `x` if any does: the one with the largest key at
    /// most `x` (a run whose first position is at most `x`, or `x`'s single piece;
    /// the caller checks that it holds `x`).
    pub(crate) fn piece_of(&self, x: Handle) -> Option<PieceId> {
        self.keys.get_prev(&x).map(|(_, &id)| id)
    }

    /// The first piece starting at or after `l` (a piece boundary) with a reseller at
    /// depth `d` or less.
    pub(crate) fn first_at_most(&self, l: Line, d: i64) -> Option<Found> {
        fn go(node: &Node, mut acc: Acc, shift: i64, l: Line, d: i64) -> Option<Found> {
            match &node.kids {
                Kids::Leaves(slots) => {
                    for slot in slots {
                        let sum = Sum::of(&slot.leaf);
                        if acc.start >= l && sum.min + shift <= d {
                            return Some(Found::new(slot, &acc, shift));
                        }
                        acc.add(&sum);
                    }
                }
                Kids::Nodes(children) => {
                    for c in children {
                        if acc.start + c.sum.len > l && c.sum.min + shift <= d {
                            if let Some(found) = go(&c.node, acc, shift + c.shift, l, d) {
                                return Some(found);
                            }
                        }
                        acc.add(&c.sum);
                    }
                }
            }
            None
        }
        go(self.root.as_deref()?, Acc::default(), 0, l, d)
    }

    /// The last piece ending at or before `l` (a piece boundary) with a reseller at
    /// depth `d` or less.
    pub(crate) fn last_at_most(&self, l: Line, d: i64) -> Option<Found> {
        fn go(node: &Node, acc: Acc, shift: i64, l: Line, d: i64) -> Option<Found> {
            let sum = |i: usize| match &node.kids {
                Kids::Leaves(s) => Sum::of(&s[i].leaf),
                Kids::Nodes(c) => c[i].sum,
            };
            let count = node.count();
            let mut accs: SmallVec<[Acc; WIDE]> = SmallVec::with_capacity(count);
            let mut a = acc;
            for i in 0..count {
                accs.push(a);
                a.add(&sum(i));
            }
            for i in (0..count).rev() {
                if accs[i].start >= l || sum(i).min + shift > d {
                    continue;
                }
                match &node.kids {
                    Kids::Leaves(s) => return Some(Found::new(&s[i], &accs[i], shift)),
                    Kids::Nodes(c) => {
                        if let Some(found) = go(&c[i].node, accs[i], shift + c[i].shift, l, d) {
                            return Some(found);
                        }
                    }
                }
            }
            None
        }
        go(self.root.as_deref()?, Acc::default(), 0, l, d)
    }

    /// The pieces from the one holding line `l` on, each with its start.
    pub(crate) fn walk_from(&self, l: Line) -> Walk<'_> {
        let mut walk = Walk {
            stack: SmallVec::new(),
            start: Line::new(0),
        };
        let Some(mut node) = self.root.as_deref() else {
            return walk;
        };
        let mut at = Line::new(0);
        let mut shift = 0i64;
        loop {
            match &node.kids {
                Kids::Leaves(slots) => {
                    let mut i = 0;
                    while i < slots.len() && at + slots[i].leaf.piece.len() <= l {
                        at += slots[i].leaf.piece.len();
                        i += 1;
                    }
                    walk.stack.push((node, i, shift));
                    walk.start = at;
                    return walk;
                }
                Kids::Nodes(children) => {
                    let mut i = 0;
                    while i + 1 < children.len() && at + children[i].sum.len <= l {
                        at += children[i].sum.len;
                        i += 1;
                    }
                    walk.stack.push((node, i + 1, shift));
                    shift += children[i].shift;
                    node = &children[i].node;
                }
            }
        }
    }

    /// Checks the shape, the sums, the parent table and the maps. For `validate`.
    pub(crate) fn check(&self) -> Result<(), String> {
        let mut leaves = 0usize;
        // Nodes of the tree (each holds an id, as every piece does).
        let mut nodes = 0usize;
        if let Some(root) = &self.root {
            if self.parent.get(root.id as usize) != Some(NO_PARENT) {
                return Err("the root has a parent".into());
            }
            if root.sum() != self.total {
                return Err("the total is not the root's sum".into());
            }
            let mut stack = vec![(root.clone(), self.height, true)];
            while let Some((node, height, is_root)) = stack.pop() {
                nodes += 1;
                let count = node.count();
                if count > WIDE
                    || (!is_root && count < HALF)
                    || (is_root && height > 1 && count < 2)
                {
                    return Err(format!("node {} holds {count} entries", node.id));
                }
                for k in node.kid_ids() {
                    if self.parent.get(k as usize) != Some(node.id) {
                        return Err(format!("entry {k} of node {} has another parent", node.id));
                    }
                }
                match &node.kids {
                    Kids::Leaves(s) => {
                        if height != 1 {
                            return Err("leaves at different depths".into());
                        }
                        for slot in s {
                            leaves += 1;
                            let found = self.keys.get(&key(&slot.leaf));
                            if found != Some(&PieceId(slot.id)) || slot.leaf.piece.len() == 0 {
                                return Err(format!("piece {} is not in its map", slot.id));
                            }
                        }
                    }
                    Kids::Nodes(c) => {
                        if height < 2 {
                            return Err("children below the bottom".into());
                        }
                        for c in c {
                            if c.id != c.node.id || c.sum != c.node.sum().shifted(c.shift) {
                                return Err(format!("entry of node {} is stale", c.id));
                            }
                            stack.push((c.node.clone(), height - 1, false));
                        }
                    }
                }
            }
        } else if self.total != Sum::EMPTY {
            return Err("an empty tree with a total".into());
        }
        if leaves != self.pieces() {
            return Err(format!("{leaves} pieces, {} in the maps", self.pieces()));
        }
        // Every other id is free, once, with no parent: none leaked, none held twice.
        let mut free = std::collections::HashSet::new();
        for i in 0..self.free.len() {
            let id = self.free.get(i).unwrap_or(NO_PARENT);
            if !free.insert(id) || self.parent.get(id as usize) != Some(NO_PARENT) {
                return Err(format!("free id {id} is in use or freed twice"));
            }
        }
        if leaves + nodes + free.len() != self.parent.len() {
            return Err(format!(
                "{} ids: {leaves} pieces, {nodes} nodes, {} free",
                self.parent.len(),
                free.len()
            ));
        }
        Ok(())
    }
}

/// A piece's key in the map to pieces: a run's first base position, a single
/// reseller's number.
fn key(leaf: &Leaf) -> Handle {
    match leaf.piece {
        Piece::Run { s, .. } => Handle::of(s),
        Piece::Node { x, .. } => x,
    }
}

/// The slot of `slots` holding relative position `l`, and where it starts; the count
/// and the total when `l` is past them all.
fn slot_at(slots: &[Slot], l: u32) -> (usize, u32) {
    let mut at = 0;
    for (i, s) in slots.iter().enumerate() {
        let len = s.leaf.piece.len();
        if l < at + len {
            return (i, at);
        }
        at += len;
    }
    (slots.len(), at)
}

/// The pieces in order from some line: see [`PieceTree::walk_from`].
pub(crate) struct Walk<'t> {
    stack: SmallVec<[(&'t Node, usize, i64); 8]>,
    start: Line,
}

impl Iterator for Walk<'_> {
    /// A piece's first line, and the piece (depths absolute).
    type Item = (Line, Leaf);

    fn next(&mut self) -> Option<(Line, Leaf)> {
        loop {
            let (node, i, shift) = self.stack.last_mut()?;
            let (node, shift) = (*node, *shift);
            if *i >= node.count() {
                self.stack.pop();
                continue;
            }
            let at = *i;
            *i += 1;
            match &node.kids {
                Kids::Leaves(slots) => {
                    let leaf = slots[at].leaf.shifted(shift);
                    let start = self.start;
                    self.start += leaf.piece.len();
                    return Some((start, leaf));
                }
                Kids::Nodes(children) => {
                    let c = &children[at];
                    self.stack.push((&c.node, 0, shift + c.shift));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
