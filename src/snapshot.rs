//! The immutable, shareable hierarchy and its queries.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::access::{authorize, AccessError, Principal, Scope};
use crate::builder::{BuildError, Builder};
use crate::capability::{Capabilities, Capability, Filter, FilterFlags};
use crate::id::{Id, ResellerId};
use crate::lookup::IdTable;
use crate::mutation::{Mutation, MutationError};
use crate::paging::{Order, PageRequest};
use crate::record::{Attributes, Record};
use crate::wavelet::{RankBits, WaveletMatrix};

mod depths;
mod file;
mod ids;
mod layout;
mod numbering;
mod overlay;
mod page;
mod payload;
mod persistent_array;
mod piece;
mod piece_tree;
mod pos_set;
mod release;
mod validate;

pub(crate) use release::{free_in_place_on_this_thread, prepare_release};

pub use file::{LoadError, FORMAT_VERSION};

use ids::Ids;
pub(crate) use numbering::{Handle, Pos};
use numbering::{Line, Rank};
use overlay::Overlay;
pub use page::Page;
pub(crate) use page::{Gathered, Items};
use payload::Payloads;

#[cfg(feature = "serde")]
pub(crate) use payload::is_plain;
pub use validate::InvariantError;

/// A validated reseller hierarchy with every traversal order precomputed.
///
/// A snapshot is immutable, `Send + Sync`, and meant to be shared behind an
/// [`Arc`](std::sync::Arc): every query takes `&self`, never blocks, and allocates at
/// most its page (none for pages of up to 64).
///
/// Dropping one does not free much on the dropping thread: a base of 65,536 resellers
/// or more, dropped by its last holder, and the versions of a
/// [`Hierarchy`](crate::Hierarchy) whose changes weigh 4,096 or more once a fold
/// replaced them, are handed to the rayon pool, which frees them shortly after.
///
/// # Invariants
///
/// Inside, a reseller is its position in the forest's depth-first pre-order (roots in
/// input order, siblings in input order). So a reseller's downline is the contiguous
/// range of positions just after it, `pos+1..end[pos]`, and:
///
/// - `parent[p] < p` for every non-root `p`, and `p < end[p] <= end[parent[p]]`;
/// - `bfs` lists the positions by (depth, position): the forest in level order;
/// - the level-order wavelet matrix maps position `p` to `p`'s index in `bfs`;
/// - for each [`Filter`], `pre` lists the matching positions ascending, `bfs` the
///   matching level-order indices ascending, and its wavelet matrix maps the `i`-th
///   match in pre-order to the index in `bfs` of its level-order index.
///
/// [`Snapshot::validate`] checks all of them.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::{Id, Order, PageRequest, Record, ResellerId, Snapshot};
///
/// let snap = Snapshot::build([
///     Record::new("1", None::<&str>).name("Distributor"),
///     Record::new("2", Some("1")).name("Reseller A"),
///     Record::new("3", Some("2")).name("Sub-reseller"),
///     Record::new("4", Some("1")).name("Reseller B"),
/// ])
/// .unwrap();
/// let one = ResellerId::from("1");
/// let page = snap.downline(&one, Order::LevelOrder, PageRequest::default()).unwrap();
/// let names: Vec<&str> = page.iter().map(|r| r.name()).collect();
/// assert_eq!(names, ["Reseller A", "Reseller B", "Sub-reseller"]);
/// assert!(snap.is_in_downline(Id::new("3"), &one).unwrap());
/// ```
pub struct Snapshot {
    repr: Repr,
    /// Which version of a [`Hierarchy`](crate::Hierarchy) this is; 0 for a plain build.
    version: u64,
}

/// A snapshot is an indexed forest, or changes over one (shared by every version
/// changing it). The plain case keeps its indexes inline: no indirection on the
/// queries of a built or folded snapshot.
// Inline on purpose: boxing `Core` would put one more load on every plain query.
#[allow(clippy::large_enum_variant)]
enum Repr {
    Plain(Core),
    Changed {
        /// A plain snapshot.
        base: Arc<Snapshot>,
        delta: Arc<Overlay>,
    },
}

/// The indexed forest, immutable once built: positions in pre-order and every index
/// over them.
pub(crate) struct Core {
    /// By position.
    ids: Ids,
    lookup: IdTable,
    /// Parent position, or `Pos::NONE` for a root.
    parent: Vec<Pos>,
    /// One past the last position of the reseller's downline.
    end: Vec<Pos>,
    caps: Vec<Capabilities>,
    payloads: Payloads,
    /// Level-order rank -> position.
    bfs: Vec<Pos>,
    /// Position -> level-order index.
    level: WaveletMatrix,
    /// `level_start[d]`: the level-order index of the first reseller at depth `d`;
    /// the last entry is `n`.
    level_start: Vec<Rank>,
    /// Depth by position in about a byte a reseller, and the smallest depth of any
    /// range of positions.
    depths: depths::Depths,
    filters: [FilterIndex; 4],
    roots: usize,
    /// Depth counts of the runs that changed versions over this base list in level
    /// order, computed on first use (see `overlay.rs`).
    depth_counts: std::sync::RwLock<overlay::DepthCounts>,
    /// Set once a fold or a reload replaced this base: every large version over it
    /// is then freed on the rayon pool (see `release.rs`).
    retired: AtomicBool,
}

/// The positions matching one filter, in both orders, as bit vectors (about 1/8 byte a
/// reseller each) and a wavelet matrix over the matches.
#[derive(Default)]
struct FilterIndex {
    /// Bit `p` set when position `p` matches.
    pre: RankBits,
    /// Bit `b` set when the reseller of level-order rank `b` matches.
    bfs: RankBits,
    /// The `i`-th match in pre-order -> its index among the matches in level order.
    level: WaveletMatrix,
}

impl FilterIndex {
    fn heap_bytes(&self) -> usize {
        self.pre.heap_bytes() + self.bfs.heap_bytes() + self.level.heap_bytes()
    }
}

/// An id that names no reseller: answer 404 Not Found.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::{QueryError, Record, ResellerId, Snapshot};
///
/// let snap = Snapshot::build([Record::new("1", None::<&str>)]).unwrap();
/// let err = snap.upline(&ResellerId::from("9")).unwrap_err();
/// assert_eq!(err, QueryError::NotFound { id: "9".into() });
/// assert_eq!(err.http_status(), 404);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryError {
    /// No reseller has this id.
    NotFound {
        /// The id asked for.
        id: ResellerId,
    },
}

impl QueryError {
    /// The HTTP status an embedding service answers: 404.
    pub const fn http_status(&self) -> u16 {
        404
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::NotFound { id } => write!(f, "no reseller has id {id:?}"),
        }
    }
}

impl std::error::Error for QueryError {}

impl Snapshot {
    /// Validates `records` and builds a snapshot; see [`Builder`] for the algorithm.
    ///
    /// Costs `O(n)` (plus `O(n log n)` for the level-order index), with the
    /// independent parts in parallel on rayon's pool.
    ///
    /// # Errors
    ///
    /// [`BuildError`] listing every problem (duplicate ids, unknown parents, cycles);
    /// nothing is built then.
    pub fn build(records: impl IntoIterator<Item = Record>) -> Result<Snapshot, BuildError> {
        let records = records.into_iter();
        let mut b = Builder::with_capacity(records.size_hint().0);
        for r in records {
            b.push(r);
        }
        b.build()
    }

    /// Number of resellers.
    pub fn len(&self) -> usize {
        match self.delta() {
            None => self.core().ids.len(),
            Some(o) => o.len() as usize,
        }
    }

    /// Which version of a [`Hierarchy`](crate::Hierarchy) this snapshot is: 0 for a
    /// snapshot built directly; a hierarchy numbers its first version 1 and each
    /// accepted batch the next number.
    pub fn version(&self) -> u64 {
        self.version
    }

    pub(crate) fn set_version(&mut self, version: u64) {
        self.version = version;
    }

    /// The indexed forest: this snapshot's, or the one its changes are over.
    #[inline]
    pub(crate) fn core(&self) -> &Core {
        // A loop, not recursion, so that this inlines; a base is always plain, so it
        // turns at most once.
        let mut s = self;
        loop {
            match &s.repr {
                Repr::Plain(core) => return core,
                Repr::Changed { base, .. } => s = base,
            }
        }
    }

    /// The changes over the base, if any.
    #[inline]
    pub(crate) fn delta(&self) -> Option<&Overlay> {
        match &self.repr {
            Repr::Plain(_) => None,
            Repr::Changed { delta, .. } => Some(delta),
        }
    }

    /// The plain snapshot this one's indexes come from.
    fn base(self: &Arc<Self>) -> Arc<Snapshot> {
        match &self.repr {
            Repr::Plain(_) => self.clone(),
            Repr::Changed { base, .. } => base.clone(),
        }
    }

    /// This version with `batch` applied on top, sharing the base: `O(k log n)` a
    /// mutation for `k` pieces of change (see ARCHITECTURE.md), none of it `O(n)`.
    pub(crate) fn with_changes(
        self: &Arc<Self>,
        batch: &[Mutation],
    ) -> Result<Snapshot, MutationError> {
        let base = self.base();
        let core = base.core();
        let mut delta = match self.delta() {
            Some(o) => o.clone(),
            None => Overlay::new(core),
        };
        for (i, m) in batch.iter().enumerate() {
            delta.apply(core, i, m)?;
        }
        Ok(Snapshot {
            repr: Repr::Changed {
                base,
                delta: Arc::new(delta),
            },
            version: self.version,
        })
    }

    /// The same forest with its changes laid out as a new base: `O(n)`, about half a
    /// build, since the version's walk gives the pre-order, every parent as an index
    /// and the strings to copy (see `Overlay::columns`), where a build starts from
    /// records to validate and link by id. This version itself when it has no
    /// changes; `None` when the base cannot be built.
    pub(crate) fn compacted(self: &Arc<Self>) -> Option<Arc<Snapshot>> {
        let Some(o) = self.delta() else {
            return Some(self.clone());
        };
        // The records come from a valid forest, so the build fails only on size: more
        // than `u32::MAX` bytes of names or of ids added by the changes. Keeping the
        // changes as they are is then still correct, only not folded.
        let (columns, parent) = o.columns(self.core());
        let parts = crate::builder::validate_linked(columns, parent).ok()?;
        let mut built = Snapshot::from_parts(parts);
        built.version = self.version;
        Some(Arc::new(built))
    }

    /// Whether this is a changed version over the same indexed base as `other`, so that
    /// dropping it frees only its changes.
    pub(crate) fn shares_base(&self, other: &Snapshot) -> bool {
        match (&self.repr, &other.repr) {
            (Repr::Changed { base: a, .. }, Repr::Changed { base: b, .. }) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// How many resellers the indexed base holds (this snapshot's own count when it
    /// has no changes).
    pub(crate) fn base_len(&self) -> usize {
        self.core().n() as usize
    }

    /// How much this version has changed over the indexed forest it shares with its
    /// predecessors, not yet folded into one of its own: pieces of the changed
    /// pre-order, plus resellers removed, plus records added or updated (superseded
    /// ones included, and those a refused batch pushed before its refusal; what
    /// counts may change between releases). 0 for a built
    /// snapshot and for the new base of a fold, which query at the speed of a fresh
    /// build (a fold that replays batches applied while it ran publishes that base
    /// with those batches over it); the larger, the slower a changed version's
    /// queries (`O(log k)` more for `k` pieces). [`Hierarchy`](crate::Hierarchy)
    /// folds by it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::{Hierarchy, Mutation, Record, Snapshot};
    /// let h = Hierarchy::new(Snapshot::build([Record::new("1", None::<&str>)])?);
    /// assert_eq!(h.snapshot().change_weight(), 0);
    /// h.apply(&[Mutation::Add(Record::new("2", Some("1")))])?;
    /// assert!(h.snapshot().change_weight() > 0);
    /// h.compact();
    /// assert_eq!(h.snapshot().change_weight(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn change_weight(&self) -> usize {
        self.delta().map_or(0, |o| o.weight())
    }

    /// Parent of reseller `h`, or `Handle::NONE`.
    #[inline]
    fn parent_of(&self, h: Handle) -> Handle {
        match &self.repr {
            Repr::Plain(core) => Handle::of(core.parent[h.pos().idx()]),
            Repr::Changed { delta, .. } => delta.parent(self.core(), h),
        }
    }

    /// The line of reseller `h` and one past the end of its downline.
    #[inline]
    fn extent(&self, h: Handle) -> (Line, Line) {
        match &self.repr {
            Repr::Plain(core) => (Line::of(h.pos()), Line::of(core.end[h.pos().idx()])),
            Repr::Changed { delta, .. } => delta.extent(self.core(), h),
        }
    }

    /// The base positions `from`, `end[from]`, `end[end[from]]`, … below `to`: the
    /// children of `p` for `p + 1 .. end[p]`, the roots for `0 .. n`.
    fn hops(&self, from: Pos, to: Pos) -> impl Iterator<Item = Pos> + '_ {
        let mut next = from;
        std::iter::from_fn(move || {
            (next < to).then(|| {
                let c = next;
                next = self.core().end[c.idx()];
                c
            })
        })
    }

    /// Whether there are no resellers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of roots.
    pub fn root_count(&self) -> usize {
        match self.delta() {
            None => self.core().roots,
            Some(o) => o.count_at_depth(self.core(), Line::new(0)..o.end_line(), 0),
        }
    }

    /// The roots, in sibling order (the order they were added), in `O(roots)`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::{Record, Snapshot};
    /// let snap = Snapshot::build([
    ///     Record::new("1", None::<&str>),
    ///     Record::new("2", Some("1")),
    ///     Record::new("3", None::<&str>),
    /// ])?;
    /// let roots: Vec<&str> = snap.roots().map(|r| r.id().as_str()).collect();
    /// assert_eq!(roots, ["1", "3"]);
    /// # Ok::<(), reseller_hierarchy::BuildError>(())
    /// ```
    pub fn roots(&self) -> impl Iterator<Item = Reseller<'_>> + '_ {
        let (base, changed) = match self.delta() {
            None => (
                Some(self.hops(Pos::new(0), Pos::at(self.len())).map(Handle::of)),
                None,
            ),
            Some(o) => (None, Some(o.roots(self.core()).into_iter())),
        };
        base.into_iter()
            .flatten()
            .chain(changed.into_iter().flatten())
            .map(move |c| self.reseller(c))
    }

    /// The reseller with this id.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::{Record, ResellerId, Snapshot};
    /// let snap = Snapshot::build([Record::new("1", None::<&str>).name("Company 1")]).unwrap();
    /// assert_eq!(snap.get(&ResellerId::from(1u64)).unwrap().name(), "Company 1");
    /// assert!(snap.get(&ResellerId::from("2")).is_none());
    /// ```
    pub fn get(&self, id: &Id) -> Option<Reseller<'_>> {
        self.position(id).map(|p| self.reseller(p))
    }

    /// Every reseller in pre-order: roots in input order, each tree depth-first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Reseller<'_>> + '_ {
        let reseller = self.resolver();
        let delta = self.delta();
        Line::each(Line::new(0)..Line::at(self.len())).map(move |l| {
            reseller(delta.map_or_else(|| Handle::of(l.plain_pos()), |o| o.node_at(l)))
        })
    }

    /// The reseller with this id.
    #[inline]
    pub(crate) fn position(&self, id: &Id) -> Option<Handle> {
        match &self.repr {
            Repr::Plain(core) => core.find(id).map(Handle::of),
            Repr::Changed { delta, .. } => delta.find(self.core(), id),
        }
    }

    fn find(&self, id: &Id) -> Result<Handle, QueryError> {
        self.position(id)
            .ok_or_else(|| QueryError::NotFound { id: id.to_owned() })
    }

    #[inline]
    pub(crate) fn reseller(&self, h: Handle) -> Reseller<'_> {
        self.resolver()(h)
    }

    /// [`reseller`](Snapshot::reseller) with the base and the changes looked up once,
    /// for a page's worth of resellers.
    #[inline]
    pub(crate) fn resolver<'s>(&'s self) -> impl Fn(Handle) -> Reseller<'s> + Copy + 's {
        let core = self.core();
        let delta = self.delta();
        move |h| Reseller {
            snap: self,
            core,
            delta,
            h,
        }
    }

    /// One page of the downline of `id`: every strict descendant, all levels, in
    /// `order`.
    ///
    /// Costs `O(log n + per_page)` in pre-order, whatever the downline's size; in level
    /// order `O((1 + L) log n + per_page)` where `L` is the number of levels the page
    /// crosses.
    ///
    /// # Errors
    ///
    /// [`QueryError::NotFound`] when no reseller has this id.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::{Id, Order, PageRequest, Record, ResellerId, Snapshot};
    /// let snap = Snapshot::build([
    ///     Record::new("1", None::<&str>),
    ///     Record::new("2", Some("1")),
    ///     Record::new("3", Some("2")),
    ///     Record::new("4", Some("1")),
    /// ]).unwrap();
    /// let page = snap.downline(Id::new("1"), Order::PreOrder, PageRequest::default()).unwrap();
    /// let ids: Vec<&str> = page.iter().map(|r| r.id().as_str()).collect();
    /// assert_eq!(ids, ["2", "3", "4"]);
    /// ```
    pub fn downline(
        &self,
        id: &Id,
        order: Order,
        page: PageRequest,
    ) -> Result<Page<'_>, QueryError> {
        let (pos, end) = self.extent(self.find(id)?);
        Ok(self.listing(Line::span(pos + 1..end), None, order, page))
    }

    /// Size of the downline of `id`, in `O(1)`.
    ///
    /// # Errors
    ///
    /// [`QueryError::NotFound`] when no reseller has this id.
    pub fn downline_count(&self, id: &Id) -> Result<usize, QueryError> {
        let (pos, end) = self.extent(self.find(id)?);
        Ok((end - pos - 1) as usize)
    }

    /// Whether `a` is a strict descendant of `of`, in `O(1)` after the two id lookups.
    ///
    /// # Errors
    ///
    /// [`QueryError::NotFound`] naming the first of the two ids that does not exist.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::{Id, Record, ResellerId, Snapshot};
    /// let snap = Snapshot::build([Record::new("1", None::<&str>), Record::new("2", Some("1"))]).unwrap();
    /// assert!(snap.is_in_downline(Id::new("2"), Id::new("1")).unwrap());
    /// assert!(!snap.is_in_downline(Id::new("1"), Id::new("1")).unwrap());
    /// assert!(snap.is_in_downline(Id::new("3"), Id::new("1")).is_err());
    /// ```
    pub fn is_in_downline(&self, a: &Id, of: &Id) -> Result<bool, QueryError> {
        let a = self.find(a)?;
        let r = self.find(of)?;
        Ok(self.contains(r, a))
    }

    /// Whether reseller `a` lies in the strict downline of reseller `r`.
    #[inline]
    fn contains(&self, r: Handle, a: Handle) -> bool {
        match &self.repr {
            Repr::Plain(core) => {
                let (r, a) = (r.pos(), a.pos());
                r < a && a < core.end[r.idx()]
            }
            Repr::Changed { delta, .. } => {
                let (pos, end) = self.extent(r);
                (pos + 1..end).contains(&delta.line(a))
            }
        }
    }

    /// The ancestors of `id`, nearest first, in `O(depth)`.
    ///
    /// # Errors
    ///
    /// [`QueryError::NotFound`] when no reseller has this id.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::{Id, Record, ResellerId, Snapshot};
    /// let snap = Snapshot::build([
    ///     Record::new("1", None::<&str>),
    ///     Record::new("2", Some("1")),
    ///     Record::new("3", Some("2")),
    /// ]).unwrap();
    /// let up: Vec<&str> = snap.upline(Id::new("3")).unwrap().map(|r| r.id().as_str()).collect();
    /// assert_eq!(up, ["2", "1"]);
    /// ```
    pub fn upline(&self, id: &Id) -> Result<Upline<'_>, QueryError> {
        let p = self.find(id)?;
        Ok(Upline {
            snap: self,
            next: self.parent_of(p),
        })
    }

    /// One page of the upline of `id` (nearest first); costs `O(depth)`.
    ///
    /// # Errors
    ///
    /// [`QueryError::NotFound`] when no reseller has this id.
    pub fn upline_page(&self, id: &Id, page: PageRequest) -> Result<Page<'_>, QueryError> {
        let total = self.upline(id)?.count();
        let window = page.window(total);
        let items = self.upline(id)?.skip(window.start).take(window.len());
        Ok(Page {
            snapshot: self,
            items: Items::Owned(items.map(|r| r.h).collect()),
            total,
            request: page,
        })
    }

    /// One page of the resellers `principal` may set as a customer's parent.
    ///
    /// - `ADMIN`: every reseller: in pre-order, roots in input order, each tree
    ///   depth-first; in level order, the whole forest level by level (all roots,
    ///   then all their children, …).
    /// - `RESELLER_ADMIN`, `RESELLER`: the principal's own reseller first, then its
    ///   downline.
    /// - `flags`: only the first true one of `iptv`, `iptvprivate`, `flexcare`, `voip`
    ///   counts ([`FilterFlags::effective`]); it applies to every listed reseller, the
    ///   principal's own included. A `RESELLER` may set none.
    ///
    /// Costs `O(log n + per_page)` in pre-order whatever the size of the listing,
    /// unfiltered or with a filter that matches at least one reseller in 512 along
    /// the listing; with sparser matches, up to `O(log n)` per item. The page's
    /// [`total`](Page::total) costs `O(1)` more.
    ///
    /// # Errors
    ///
    /// [`AccessError`] (403) for any other role, a `RESELLER` with a flag, or a reseller
    /// role whose reseller is missing or does not exist.
    ///
    /// # Examples
    ///
    /// ```
    /// use reseller_hierarchy::{Capability, FilterFlags, Order, PageRequest, Principal, Record, Role, Snapshot};
    ///
    /// let snap = Snapshot::build([
    ///     Record::new("1", None::<&str>).capability(Capability::Iptv),
    ///     Record::new("2", Some("1")),
    ///     Record::new("3", Some("2")).capability(Capability::Iptv),
    /// ]).unwrap();
    /// let me = Principal::new(Role::ResellerAdmin, "2");
    /// let iptv = FilterFlags { iptv: true, ..FilterFlags::NONE };
    /// let page = snap.eligible_parents(&me, iptv, Order::PreOrder, PageRequest::default()).unwrap();
    /// let ids: Vec<&str> = page.iter().map(|r| r.id().as_str()).collect();
    /// assert_eq!(ids, ["3"]); // "2" itself has no IPTV
    /// ```
    pub fn eligible_parents(
        &self,
        principal: &Principal,
        flags: FilterFlags,
        order: Order,
        page: PageRequest,
    ) -> Result<Page<'_>, AccessError> {
        let (range, filter) = self.eligible_scope(principal, flags)?;
        Ok(self.listing(range, filter, order, page))
    }

    /// The number of resellers [`eligible_parents`](Snapshot::eligible_parents) lists,
    /// in `O(log n)`.
    ///
    /// # Errors
    ///
    /// As [`eligible_parents`](Snapshot::eligible_parents).
    pub fn eligible_count(
        &self,
        principal: &Principal,
        flags: FilterFlags,
    ) -> Result<usize, AccessError> {
        let (range, filter) = self.eligible_scope(principal, flags)?;
        Ok(match (self.delta(), filter) {
            (Some(o), _) => o.count(
                self.core(),
                Line::at(range.start)..Line::at(range.end),
                filter,
            ),
            (None, None) => range.len(),
            (None, Some(f)) => self.filter_span(f, &range).len(),
        })
    }

    fn eligible_scope(
        &self,
        principal: &Principal,
        flags: FilterFlags,
    ) -> Result<(Range<usize>, Option<Filter>), AccessError> {
        let (scope, filter) = authorize(principal, flags)?;
        let range = match scope {
            Scope::All => 0..self.len(),
            Scope::SelfAndDownline(id) => {
                let p = self
                    .position(id)
                    .ok_or_else(|| AccessError::UnknownReseller { id: id.clone() })?;
                let (pos, end) = self.extent(p);
                Line::span(pos..end)
            }
        };
        Ok((range, filter))
    }

    /// Pre-order match indices of the matches of `f` within the positions `range`.
    fn filter_span(&self, f: Filter, range: &Range<usize>) -> Range<usize> {
        let core = self.core();
        let pre = &core.filters[f.slot()].pre;
        pre.rank1(range.start)..pre.rank1(range.end)
    }

    /// The page of the resellers at positions `range` (a subtree, or a subtree and its
    /// root, or everything) that pass `filter`, in `order`.
    fn listing(
        &self,
        range: Range<usize>,
        filter: Option<Filter>,
        order: Order,
        request: PageRequest,
    ) -> Page<'_> {
        let core = match &self.repr {
            Repr::Plain(core) => core,
            Repr::Changed { delta, .. } => {
                return self.changed_listing(delta, range, filter, order, request)
            }
        };
        let (total, items) = match (filter, order) {
            (None, Order::PreOrder) => {
                let w = request.window(range.len());
                let start = range.start + w.start;
                let end = range.start + w.end;
                (range.len(), Items::Range(Pos::at(start)..Pos::at(end)))
            }
            (None, Order::LevelOrder) => {
                let total = range.len();
                let w = request.window(total);
                if range.start == 0 && range.end == self.len() {
                    (total, Items::Slice(&core.bfs[w]))
                } else {
                    let items = core.level_page(range, w);
                    (total, Items::Owned(items))
                }
            }
            (Some(f), Order::PreOrder) => {
                let span = self.filter_span(f, &range);
                let w = request.window(span.len());
                let pre = &core.filters[f.slot()].pre;
                let mut items = Gathered::with_capacity(w.len());
                let mut next = pre.select1(span.start + w.start);
                while let Some(p) = next.filter(|_| items.len() < w.len()) {
                    items.push(Handle::of(Pos::at(p)));
                    next = pre.next_one(p + 1);
                }
                (span.len(), Items::Owned(items))
            }
            (Some(f), Order::LevelOrder) => {
                let span = self.filter_span(f, &range);
                let w = request.window(span.len());
                let items =
                    core.filtered_level_page(&core.filters[f.slot()], span.clone(), range, w);
                (span.len(), Items::Owned(items))
            }
        };
        Page {
            snapshot: self,
            items,
            total,
            request,
        }
    }

    /// [`listing`](Snapshot::listing) of a changed version: `range` is of logical
    /// positions. Kept out of line, off the plain path.
    #[inline(never)]
    fn changed_listing(
        &self,
        delta: &Overlay,
        range: Range<usize>,
        filter: Option<Filter>,
        order: Order,
        request: PageRequest,
    ) -> Page<'_> {
        let range = Line::at(range.start)..Line::at(range.end);
        let (total, items) = delta.listing(self.core(), range, filter, order, request);
        Page {
            snapshot: self,
            items: Items::Owned(items),
            total,
            request,
        }
    }

    /// Facts about the whole hierarchy, in `O(n)`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::{Capability, Record, Snapshot};
    /// let snap = Snapshot::build([
    ///     Record::new("1", None::<&str>),
    ///     Record::new("2", Some("1")).capability(Capability::Sip),
    ///     Record::new("3", Some("1")),
    ///     Record::new("4", Some("3")),
    /// ]).unwrap();
    /// let s = snap.summary();
    /// assert_eq!((s.resellers, s.roots, s.max_depth, s.widest_fan_out), (4, 1, 2, 2));
    /// assert_eq!(s.capability_counts[Capability::Sip as usize], (Capability::Sip, 1));
    /// ```
    pub fn summary(&self) -> Summary {
        let mut capability_counts = Capability::ALL.map(|c| (c, 0usize));
        let mut count = |caps: Capabilities| {
            for (c, count) in capability_counts.iter_mut() {
                *count += usize::from(caps.contains(*c));
            }
        };
        let (max_depth, widest_fan_out);
        match self.delta() {
            None => {
                let core = self.core();
                let n = self.len();
                let mut children = vec![0u32; n];
                for q in &core.parent {
                    if !q.is_none() {
                        children[q.idx()] += 1;
                    }
                }
                core.caps.iter().for_each(|&c| count(c));
                max_depth = core.deepest() as usize;
                widest_fan_out = children.iter().max().map_or(0, |&c| c as usize);
            }
            Some(o) => {
                let core = self.core();
                let mut children: std::collections::HashMap<Handle, usize> = Default::default();
                let mut deepest = 0;
                o.walk(core, |x, parent, d| {
                    count(o.caps(core, x));
                    deepest = deepest.max(d as usize);
                    *children.entry(parent).or_default() += 1;
                });
                children.remove(&Handle::NONE);
                max_depth = deepest;
                widest_fan_out = children.values().copied().max().unwrap_or(0);
            }
        }
        Summary {
            resellers: self.len(),
            roots: self.root_count(),
            max_depth,
            widest_fan_out,
            capability_counts,
            index_bytes: self.index_bytes(),
        }
    }

    /// Bytes of the index beyond the payload (ids, names, attributes): parent and
    /// subtree arrays, capability bits, level order, the per-filter indexes and the id
    /// hash table.
    pub fn index_bytes(&self) -> usize {
        let core = self.core();
        core.parent.capacity() * 4
            + core.end.capacity() * 4
            + core.caps.capacity()
            + core.bfs.capacity() * 4
            + core.level.heap_bytes()
            + core
                .filters
                .iter()
                .map(FilterIndex::heap_bytes)
                .sum::<usize>()
            + core.lookup.heap_bytes()
            + core.level_start.capacity() * 4
            + core.depths.heap_bytes()
            + self.delta().map_or(0, |o| o.heap_bytes())
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("len", &self.len())
            .field("roots", &self.root_count())
            .finish_non_exhaustive()
    }
}

impl Core {
    /// Items `window` of the level-order listing of the positions `scope`.
    ///
    /// The `k`-th item is the reseller of the `k`-th smallest level-order rank among
    /// the positions in `scope`: a quantile of the level-order wavelet matrix. The next
    /// item is very often the next entry of the global level order, taken without a
    /// quantile when it still lies in `scope`.
    fn level_page(&self, scope: Range<usize>, window: Range<usize>) -> Gathered {
        let in_scope = |p: Pos| scope.contains(&p.idx());
        let mut items = Gathered::with_capacity(window.len());
        let mut last: Option<usize> = None;
        for k in window {
            let next = last
                .map(|r| r + 1)
                .filter(|&r| r < self.bfs.len() && in_scope(self.bfs[r]));
            let quantile = || {
                self.level
                    .quantile(scope.start, scope.end, k)
                    .map(|r| r as usize)
            };
            let Some(rank) = next.or_else(quantile) else {
                break;
            };
            items.push(Handle::of(self.bfs[rank]));
            last = Some(rank);
        }
        items
    }

    /// The same for the matches of one filter: `span` is the scope's range of
    /// pre-order match indices; the wavelet matrix yields indices among the matches in
    /// level order, which select turns into level-order ranks.
    fn filtered_level_page(
        &self,
        fi: &FilterIndex,
        span: Range<usize>,
        scope: Range<usize>,
        window: Range<usize>,
    ) -> Gathered {
        let in_scope = |p: Pos| scope.contains(&p.idx());
        let mut items = Gathered::with_capacity(window.len());
        let mut last: Option<usize> = None; // level-order rank of the last item
        for k in window {
            let next = last
                .and_then(|r| fi.bfs.next_one(r + 1))
                .filter(|&r| in_scope(self.bfs[r]));
            let quantile = || {
                let j = fi.level.quantile(span.start, span.end, k)?;
                fi.bfs.select1(j as usize)
            };
            let Some(rank) = next.or_else(quantile) else {
                break;
            };
            items.push(Handle::of(self.bfs[rank]));
            last = Some(rank);
        }
        items
    }
}

/// Facts about a whole hierarchy; see [`Snapshot::summary`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// Number of resellers.
    pub resellers: usize,
    /// Number of roots.
    pub roots: usize,
    /// The largest depth (a root is at 0).
    pub max_depth: usize,
    /// The largest number of children of one reseller.
    pub widest_fan_out: usize,
    /// How many resellers have each capability, in the order of [`Capability::ALL`].
    pub capability_counts: [(Capability, usize); 5],
    /// [`Snapshot::index_bytes`].
    pub index_bytes: usize,
}

/// A reseller of a [`Snapshot`]: a cheap view (references and an index).
#[derive(Clone, Copy)]
pub struct Reseller<'s> {
    snap: &'s Snapshot,
    /// `snap`'s indexed forest.
    core: &'s Core,
    /// `snap`'s changes over it, if any.
    delta: Option<&'s Overlay>,
    h: Handle,
}

/// What a reseller carries: from the base's arrays, or its changed record.
macro_rules! carried {
    ($self:ident, $core:ident, $p:ident => $plain:expr, $r:ident => $changed:expr) => {
        match $self.delta.and_then(|o| o.changed($self.core, $self.h)) {
            // Not changed: a base reseller, whose handle is its base position.
            None => {
                let $core = $self.core;
                let $p = $self.h.pos();
                $plain
            }
            Some($r) => $changed,
        }
    };
}

impl<'s> Reseller<'s> {
    /// Its id.
    // Always: a page's loop reads it per item, and with the lookup of a changed record
    // it carries, the compiler's estimate sits at its inlining threshold: some builds
    // of the same code called it out of line from a page's loop, making a fresh page
    // 1.4x slower in `perf_report`.
    #[inline(always)]
    pub fn id(&self) -> &'s Id {
        carried!(self, core, p => core.ids.get(p), r => r.id())
    }

    /// Its parent's id; `None` for a root.
    #[inline]
    pub fn parent(&self) -> Option<&'s Id> {
        let q = self.snap.parent_of(self.h);
        (!q.is_none()).then(|| self.snap.reseller(q).id())
    }

    /// Its name.
    #[inline]
    pub fn name(&self) -> &'s str {
        carried!(self, core, p => core.payloads.name(p), r => r.name())
    }

    /// Its capabilities.
    #[inline]
    pub fn capabilities(&self) -> Capabilities {
        carried!(self, core, p => core.caps[p.idx()], r => r.capabilities())
    }

    /// TelecomX `integrations.billing.economic.enabled`.
    #[inline]
    pub fn economic_enabled(&self) -> bool {
        carried!(
            self,
            core, p => core.payloads.economic(p),
            r => r.economic_enabled()
        )
    }

    /// The payload attributes (a copy of the stored text).
    pub fn attributes(&self) -> Attributes {
        carried!(self, core, p => core.payloads.attributes(p), r => r.attributes())
    }

    /// What the body writers copy: id, name, attributes text and splices, borrowed.
    #[cfg(feature = "serde")]
    // Always: a body writer calls it per item, and returned out of line its parts go
    // through memory (measured: 10–20% of a page body).
    #[inline(always)]
    pub(crate) fn wire(&self) -> payload::WireParts<'s> {
        carried!(self, core, p => core.payloads.get(p, core.ids.get(p).as_str()), r => {
            let attributes = r.attributes_text();
            payload::WireParts {
                id: r.id().as_str(),
                name: r.name(),
                attributes: attributes.map(|(text, _)| text.as_bytes()),
                splices: attributes.map_or(crate::record::Splices::NONE, |(_, splices)| splices),
                economic: r.economic_enabled(),
                id_plain: payload::is_plain(r.id().as_str()),
                name_plain: payload::is_plain(r.name()),
                name_in_place: false,
            }
        })
    }

    /// The parent's id as the body writers copy it, and whether it is plain; `None`
    /// for a root.
    #[cfg(feature = "serde")]
    #[inline]
    pub(crate) fn parent_wire_id(&self) -> Option<(&'s str, bool)> {
        let q = self.snap.parent_of(self.h);
        (!q.is_none()).then(|| self.snap.reseller(q).wire_id())
    }

    /// [`wire`](Reseller::wire)'s `id` and `id_plain` alone.
    #[cfg(feature = "serde")]
    #[inline]
    fn wire_id(&self) -> (&'s str, bool) {
        carried!(self, core, p => (core.ids.get(p).as_str(), core.payloads.id_plain(p)), r => (r.id().as_str(), payload::is_plain(r.id().as_str())))
    }

    /// Whether this reseller is a strict descendant of `of`: two comparisons when both
    /// come from the same snapshot (resolve ids once with [`Snapshot::get`], then ask
    /// as often as needed); `of` is looked up by id otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::{Id, Record, ResellerId, Snapshot};
    /// let snap = Snapshot::build([Record::new("1", None::<&str>), Record::new("2", Some("1"))]).unwrap();
    /// let (one, two) = (snap.get(Id::new("1")).unwrap(), snap.get(Id::new("2")).unwrap());
    /// assert!(two.is_in_downline_of(&one));
    /// assert!(!one.is_in_downline_of(&two));
    /// assert!(!one.is_in_downline_of(&one));
    /// ```
    #[inline]
    pub fn is_in_downline_of(&self, of: &Reseller<'_>) -> bool {
        if std::ptr::eq(self.snap, of.snap) {
            match self.delta {
                None => {
                    let (of, me) = (of.h.pos(), self.h.pos());
                    of < me && me < self.core.end[of.idx()]
                }
                Some(_) => self.snap.contains(of.h, self.h),
            }
        } else {
            self.snap
                .position(of.id())
                .is_some_and(|r| self.snap.contains(r, self.h))
        }
    }

    /// Size of its downline, in `O(1)` (`O(k log n)` on a version with `k` pieces of
    /// change).
    pub fn downline_len(&self) -> usize {
        let (pos, end) = self.snap.extent(self.h);
        (end - pos - 1) as usize
    }

    /// Its depth (a root is at 0), in `O(depth)` (`O(log n)` on a changed version).
    pub fn depth(&self) -> usize {
        match self.snap.delta() {
            None => Upline {
                snap: self.snap,
                next: Handle::of(self.snap.core().parent[self.h.pos().idx()]),
            }
            .count(),
            Some(o) => o.depth(self.snap.core(), self.h) as usize,
        }
    }

    /// Its children, in sibling order, in `O(children)`.
    pub fn children(&self) -> impl Iterator<Item = Reseller<'s>> + 's {
        let snap = self.snap;
        let (base, changed) = match snap.delta() {
            None => {
                let p = self.h.pos();
                (
                    Some(snap.hops(p + 1, snap.core().end[p.idx()]).map(Handle::of)),
                    None,
                )
            }
            Some(o) => (None, Some(o.children(snap.core(), self.h).into_iter())),
        };
        base.into_iter()
            .flatten()
            .chain(changed.into_iter().flatten())
            .map(move |c| snap.reseller(c))
    }

    /// The record this reseller was built from (or changed to).
    pub fn to_record(&self) -> Record {
        Record {
            id: self.id().to_owned(),
            parent: self.parent().map(ToOwned::to_owned),
            name: self.name().to_string(),
            capabilities: self.capabilities(),
            economic_enabled: self.economic_enabled(),
            attributes: self.attributes(),
        }
    }
}

impl fmt::Debug for Reseller<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reseller")
            .field("id", &self.id())
            .field("parent", &self.parent())
            .field("name", &self.name())
            .field("capabilities", &self.capabilities())
            .finish()
    }
}

impl PartialEq for Reseller<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.snap, other.snap) && self.h == other.h
    }
}

impl Eq for Reseller<'_> {}

/// The ancestors of a reseller, nearest first. See [`Snapshot::upline`].
#[derive(Clone, Debug)]
pub struct Upline<'s> {
    snap: &'s Snapshot,
    next: Handle,
}

impl<'s> Iterator for Upline<'s> {
    type Item = Reseller<'s>;

    #[inline]
    fn next(&mut self) -> Option<Reseller<'s>> {
        let h = self.next;
        if h.is_none() {
            return None;
        }
        self.next = self.snap.parent_of(h);
        Some(self.snap.reseller(h))
    }
}

impl std::iter::FusedIterator for Upline<'_> {}
