//! [`Hierarchy`]: a hierarchy that changes while it is served, as a series of immutable
//! versions.

use std::collections::VecDeque;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::access::{AccessError, Principal};
use crate::capability::FilterFlags;
use crate::cursor::{self, CursorData, CursorError};
use crate::id::Id;
use crate::mutation::{Mutation, MutationError};
use crate::paging::{Order, PageRequest};
use crate::snapshot::{Handle, Items, Page, QueryError, Snapshot};

mod batch_log;
mod fold;
mod idle;
mod position;

use fold::Fold;
use position::Progress;
pub use position::{Applied, Position, WaitTimeout};

/// A reseller hierarchy that changes while it is served.
///
/// Each batch of [`Mutation`]s that [`apply`](Hierarchy::apply) accepts publishes a new
/// immutable version ([`Snapshot`]) atomically: a reader holds the `Arc<Snapshot>` it
/// took and sees exactly that version for as long as it keeps it; readers never wait
/// for the writer (the current version sits in an [`ArcSwap`]); writers are serialized.
///
/// Pages of [`downline`](Hierarchy::downline) and
/// [`eligible_parents`](Hierarchy::eligible_parents) carry an opaque, authenticated
/// cursor to the next page that pins their version, so that a client following cursors
/// sees every reseller of that version exactly once, whatever is applied meanwhile. The
/// last [`retention`](Hierarchy::retention) versions are kept for cursors (16 by
/// default); a cursor of an older version gets [`CursorError::Expired`].
///
/// A mutation costs `O(log k · log n)` for `k` pieces of change not yet folded, never
/// `O(n)`: the new version is the previous one's indexed forest plus an overlay of the
/// changes, held in persistent structures that the new version shares with the previous
/// one but for a few paths. A background thread of the lowest scheduling priority folds
/// the overlay into a new indexed forest once it reaches the
/// [fold threshold](Hierarchy::set_fold_threshold), and publishes that in place of the
/// same version (see ARCHITECTURE.md); the writer never waits for a fold to be built
/// or replayed, and replays at most twice its own batch's work (its mutations, at
/// least one) of the batches applied meanwhile when a fold could not catch up with
/// it. Changes under
/// the threshold are folded too once the writer pauses, the longer the lighter they
/// are ([`set_idle_fold`](Hierarchy::set_idle_fold)), watched by a thread that parks,
/// waking once a pause, while the current version has unfolded changes.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::{Id, Hierarchy, Mutation, Order, Record, Snapshot, Start};
///
/// let h = Hierarchy::new(Snapshot::build([
///     Record::new("1", None::<&str>),
///     Record::new("2", Some("1")),
///     Record::new("3", Some("1")),
/// ])?);
/// let first = h.downline(Id::new("1"), Order::PreOrder, Start::first(1)?)?;
/// assert_eq!(first.page().iter().next().unwrap().id().as_str(), "2");
/// let cursor = first.next_cursor().unwrap().to_owned();
///
/// // The hierarchy changes; the cursor still reads its own version.
/// let v = h.apply(&[Mutation::Add(Record::new("4", Some("1")))])?;
/// assert_eq!(v, first.version() + 1);
/// let second = h.downline(Id::new("1"), Order::PreOrder, Start::Cursor(&cursor))?;
/// assert_eq!(second.page().iter().next().unwrap().id().as_str(), "3");
/// assert!(second.next_cursor().is_none());
/// assert_eq!(h.snapshot().downline_count(Id::new("1"))?, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Hierarchy {
    shared: Arc<Shared>,
}

/// What the writer, the readers and a background fold share.
struct Shared {
    current: ArcSwap<Snapshot>,
    /// The source position the current version reflects.
    progress: Progress,
    kept: Mutex<VecDeque<Arc<Snapshot>>>,
    writer: Mutex<Writer>,
    retention: usize,
    key: [u8; 32],
    /// Drawn at random when the hierarchy is made and written into its cursors: its
    /// version numbers are its own (see `cursor.rs`).
    lineage: u64,
    /// Tests: every fold's base fails to build, as one over `u32::MAX` bytes would.
    #[cfg(test)]
    fail_folds: std::sync::atomic::AtomicBool,
    /// Tests: the fold builds begun.
    #[cfg(test)]
    folds_built: std::sync::atomic::AtomicUsize,
}

/// The writer's state.
struct Writer {
    /// The fold under way, if any.
    fold: Option<Fold>,
    /// The change weight at which a fold starts; `None`: the base's size, at least
    /// [`Hierarchy::DEFAULT_FOLD_AT`].
    fold_at: Option<usize>,
    /// Counts the compactions begun, the bases published and the reloads; a fold
    /// begun under an older count is dropped.
    generation: u64,
    /// How long the writer must pause before a version under the fold threshold is
    /// folded anyway (see `idle.rs`); `None`: never.
    idle: Option<Duration>,
    /// When the last batch was published.
    last_change: Instant,
    /// The idle watcher's thread, while one watches.
    watcher: Option<std::thread::Thread>,
    /// The hierarchy was dropped (fold threads may still hold what it shared).
    closed: bool,
    /// The change weight of the last fold of the current base that could not be
    /// built (more than `u32::MAX` bytes of names or ids): none is started again
    /// until the changes weigh twice that ([`Writer::weight_to_fold`]), so that a
    /// base too large to build costs `O(1)` fold work per unit of change amortized,
    /// not a fold of `O(n)` after every apply.
    failed_at: Option<usize>,
}

impl Writer {
    /// The change weight of `snap` that counts towards a fold: none while it is
    /// under twice the weight at which a fold of the same base failed.
    fn weight_to_fold(&self, snap: &Snapshot) -> usize {
        let weight = snap.change_weight();
        match self.failed_at {
            Some(failed) if weight < failed.saturating_mul(2) => 0,
            _ => weight,
        }
    }

    /// The change weight at which a fold of `snap` starts.
    fn threshold_for(&self, snap: &Snapshot) -> usize {
        self.fold_at
            .unwrap_or_else(|| Hierarchy::DEFAULT_FOLD_AT.max(snap.base_len()))
    }
}

impl Drop for Hierarchy {
    /// Tells the idle watcher, if one parks, to stop now rather than at its next look
    /// (fold threads may still hold what the hierarchy shared while they finish).
    fn drop(&mut self) {
        let mut writer = lock(&self.shared.writer);
        writer.closed = true;
        if let Some(t) = &writer.watcher {
            t.unpark();
        }
    }
}

impl fmt::Debug for Hierarchy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hierarchy")
            .field("version", &self.shared.current.load().version())
            .field("retention", &self.shared.retention)
            .finish_non_exhaustive()
    }
}

/// Where a cursor-paged listing starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start<'a> {
    /// This page of the current version.
    Page(PageRequest),
    /// The page a cursor points to, in the version it pins.
    Cursor(&'a str),
}

impl Start<'_> {
    /// The first page, `per_page` items.
    ///
    /// # Errors
    ///
    /// [`PageError`](crate::PageError) when `per_page` is not from 1 to 1000.
    pub fn first(per_page: u64) -> Result<Start<'static>, crate::PageError> {
        Ok(Start::Page(PageRequest::new(1, per_page)?))
    }
}

/// Why a cursor-paged listing failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListError {
    /// The reseller does not exist: 404.
    NotFound(QueryError),
    /// Access denied: 403.
    Access(AccessError),
    /// The cursor cannot be followed: 400, or 410 when expired or of another
    /// hierarchy.
    Cursor(CursorError),
}

impl ListError {
    /// The HTTP status to answer.
    pub fn http_status(&self) -> u16 {
        match self {
            ListError::NotFound(e) => e.http_status(),
            ListError::Access(e) => e.http_status(),
            ListError::Cursor(e) => e.http_status(),
        }
    }
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListError::NotFound(e) => e.fmt(f),
            ListError::Access(e) => e.fmt(f),
            ListError::Cursor(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ListError {}

impl From<QueryError> for ListError {
    fn from(e: QueryError) -> Self {
        ListError::NotFound(e)
    }
}

impl From<AccessError> for ListError {
    fn from(e: AccessError) -> Self {
        ListError::Access(e)
    }
}

impl From<CursorError> for ListError {
    fn from(e: CursorError) -> Self {
        ListError::Cursor(e)
    }
}

/// One page of a cursor-paged listing, with the version it holds and the cursor to the
/// next page.
#[derive(Clone)]
pub struct CursorPage {
    snapshot: Arc<Snapshot>,
    items: Vec<Handle>,
    total: usize,
    request: PageRequest,
    next: Option<String>,
}

impl fmt::Debug for CursorPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CursorPage")
            .field("version", &self.version())
            .field("len", &self.items.len())
            .field("total", &self.total)
            .field("next", &self.next)
            .finish()
    }
}

impl CursorPage {
    /// The page, borrowed from the version it came from.
    pub fn page(&self) -> Page<'_> {
        Page {
            snapshot: &self.snapshot,
            items: Items::Kept(&self.items),
            total: self.total,
            request: self.request,
        }
    }

    /// The version this page came from.
    pub fn version(&self) -> u64 {
        self.snapshot.version()
    }

    /// The version itself.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// The cursor to the next page of the same version; `None` on the last page.
    pub fn next_cursor(&self) -> Option<&str> {
        self.next.as_deref()
    }
}

impl Shared {
    /// Makes `next` the current version and keeps it for cursors.
    fn publish(&self, next: Arc<Snapshot>) {
        let mut evicted = Vec::new();
        {
            let mut kept = lock(&self.kept);
            kept.push_back(next.clone());
            while kept.len() > self.retention {
                evicted.extend(kept.pop_front());
            }
        }
        let cheap = evicted.iter().all(|old| old.shares_base(&next));
        self.current.store(next);
        // A version over the current base frees only the paths of the persistent
        // structures it did not share with the next: here, by the thread that
        // allocated them (freed by another, glibc's allocator takes this thread's arena
        // lock for each). A base takes a while to free: not on the writer's path.
        // (Readers still holding a version keep it alive anyway.)
        if cheap {
            drop(evicted);
        } else {
            rayon::spawn(move || drop(evicted));
        }
    }

    /// Publishes `folded` in place of the current version, which has the same number
    /// and the same contents, under the writer lock; a fold still running is dropped.
    /// The versions it replaced are the caller's to free once the lock is released.
    fn replace(&self, writer: &mut Writer, folded: Arc<Snapshot>) -> Replaced {
        writer.generation += 1;
        writer.fold = None;
        writer.failed_at = None;
        let old = {
            let mut kept = lock(&self.kept);
            let slot = kept.iter_mut().find(|s| s.version() == folded.version());
            slot.map(|s| std::mem::replace(s, folded.clone()))
        };
        let previous = self.current.swap(folded.clone());
        // No version over the replaced base is current again: whoever drops the last
        // of them, readers included, hands them to the pool. (A fold with nothing to
        // fold hands back the current version itself: its base is not replaced.)
        previous.retire_for(&folded);
        Replaced(old, Some(previous))
    }
}

/// Versions that publishing a fold replaced (or a fold dropped), to be freed on the
/// pool once the writer lock is released: on a fold thread of the lowest priority,
/// a `rayon::spawn`, or a free in place, under the lock could lose the thread its
/// core (to the worker it wakes, or to anything else) while the writer waits for the
/// lock.
#[must_use = "free it once the writer lock is released"]
struct Replaced(Option<Arc<Snapshot>>, Option<Arc<Snapshot>>);

impl Replaced {
    /// Hands what was replaced to the pool (nothing to hand: nothing happens).
    fn free(self) {
        if self.0.is_some() || self.1.is_some() {
            rayon::spawn(move || drop(self));
        }
    }
}

/// `N` bytes from the operating system's random source or, without one (practically
/// never), from the standard library's per-process random hash keys, which no one who
/// does not see this process's memory can guess.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if getrandom::fill(&mut out).is_err() {
        let rs = RandomState::new();
        for (i, chunk) in out.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&rs.hash_one(i).to_le_bytes()[..chunk.len()]);
        }
    }
    out
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the data half-changed (every change
    // is one push or pop), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hierarchy {
    /// Versions kept for cursors by default.
    pub const DEFAULT_RETENTION: usize = 16;

    /// A hierarchy whose first version is `snapshot` (numbered 1), with a cursor key
    /// from the operating system's random source and the default retention.
    pub fn new(snapshot: Snapshot) -> Hierarchy {
        Hierarchy::with_options(snapshot, Hierarchy::DEFAULT_RETENTION, random_bytes())
    }

    /// A hierarchy keeping `retention` versions (at least 1) for cursors, and signing
    /// cursors with `key`. A cursor is followed only by the hierarchy that issued it:
    /// each hierarchy numbers its versions itself, so another replica's cursor, or
    /// one from before a restart, is refused as [`CursorError::OtherHierarchy`] (410:
    /// start again) under the same key, and as [`CursorError::Forged`] (400) under
    /// another (as with [`Hierarchy::new`]'s key, drawn afresh), never read as a page of
    /// other contents.
    ///
    /// # Examples
    ///
    /// ```
    /// use reseller_hierarchy::{CursorError, Hierarchy, Id, ListError, Order, Record, Snapshot, Start};
    ///
    /// let records = || Snapshot::build([
    ///     Record::new("1", None::<&str>),
    ///     Record::new("2", Some("1")),
    ///     Record::new("3", Some("1")),
    /// ]);
    /// let key = [7u8; 32];
    /// let a = Hierarchy::with_options(records()?, 16, key);
    /// let b = Hierarchy::with_options(records()?, 16, key);
    /// let first = a.downline(Id::new("1"), Order::PreOrder, Start::first(1)?)?;
    /// let next = first.next_cursor().unwrap();
    /// assert!(a.downline(Id::new("1"), Order::PreOrder, Start::Cursor(next)).is_ok());
    /// assert_eq!(
    ///     b.downline(Id::new("1"), Order::PreOrder, Start::Cursor(next)).unwrap_err(),
    ///     ListError::Cursor(CursorError::OtherHierarchy),
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_options(mut snapshot: Snapshot, retention: usize, key: [u8; 32]) -> Hierarchy {
        crate::snapshot::prepare_release();
        snapshot.set_version(1);
        let first = Arc::new(snapshot);
        Hierarchy {
            shared: Arc::new(Shared {
                current: ArcSwap::new(first.clone()),
                progress: Progress::default(),
                kept: Mutex::new(VecDeque::from([first])),
                writer: Mutex::new(Writer {
                    fold: None,
                    fold_at: None,
                    generation: 0,
                    idle: Some(Hierarchy::DEFAULT_IDLE_FOLD),
                    last_change: Instant::now(),
                    watcher: None,
                    closed: false,
                    failed_at: None,
                }),
                retention: retention.max(1),
                key,
                lineage: u64::from_le_bytes(random_bytes()),
                #[cfg(test)]
                fail_folds: std::sync::atomic::AtomicBool::new(false),
                #[cfg(test)]
                folds_built: std::sync::atomic::AtomicUsize::new(0),
            }),
        }
    }

    /// The random number drawn when this hierarchy was made, which its cursors carry:
    /// version numbers are this hierarchy's own (the HTTP service's pins carry it too).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn lineage(&self) -> u64 {
        self.shared.lineage
    }

    /// How many versions are kept for cursors.
    pub fn retention(&self) -> usize {
        self.shared.retention
    }

    /// The least change weight at which a background fold starts by default: until
    /// [`set_fold_threshold`](Hierarchy::set_fold_threshold) says otherwise, a fold
    /// starts once the changes weigh as much as the indexed base has resellers, or
    /// this much for a smaller base. A fold costs about half a build, so that is `O(1)`
    /// of fold work per change, and the changes never outweigh the base by much.
    pub const DEFAULT_FOLD_AT: usize = 256;

    /// Sets when the changes of the current version are folded into a new indexed
    /// base, on a background thread: once their weight (pieces of the changed
    /// pre-order, plus resellers removed, plus records added or updated, superseded
    /// ones included, since a fold is what frees them) reaches `weight` (at least
    /// 1). A lower value keeps queries of changed versions nearer the speed of a fresh
    /// build and folds more often (each fold costs about half a build and, while it
    /// runs, the memory of a second base, off the writer's path); a higher one the
    /// opposite. Changes cost the writer `O(log)` either way. It also sets the weight
    /// from which changes are folded after the writer's pause, a sixteenth of it
    /// (lighter ones wait longer: [`set_idle_fold`](Hierarchy::set_idle_fold)); with
    /// `usize::MAX` no fold starts, idle ones included (one under way is still
    /// finished). The idle weight takes effect at once; a fold by the threshold starts
    /// at the next batch.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::{Hierarchy, Record, Snapshot};
    /// let h = Hierarchy::new(Snapshot::build([Record::new("1", None::<&str>)])?);
    /// h.set_fold_threshold(1024);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_fold_threshold(&self, weight: usize) {
        let mut writer = lock(&self.shared.writer);
        writer.fold_at = Some(weight.max(1));
        self.shared.settings_changed(&mut writer);
    }

    /// How long the writer must apply nothing before a version whose changes stay
    /// under the [fold threshold](Hierarchy::set_fold_threshold) is folded anyway, by
    /// default (see [`set_idle_fold`](Hierarchy::set_idle_fold)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use reseller_hierarchy::{Hierarchy, Record, Snapshot};
    /// assert_eq!(Hierarchy::DEFAULT_IDLE_FOLD, Duration::from_secs(1));
    /// let h = Hierarchy::new(Snapshot::build([Record::new("1", None::<&str>)])?);
    /// h.set_idle_fold(Some(Hierarchy::DEFAULT_IDLE_FOLD * 5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const DEFAULT_IDLE_FOLD: Duration = Duration::from_secs(1);

    /// Sets how long the writer must apply nothing before the changes of the current
    /// version are folded in the background although they weigh less than the
    /// [fold threshold](Hierarchy::set_fold_threshold): this pause from a sixteenth of
    /// it on (see [`Snapshot::change_weight`]), and as many times this pause as a
    /// lighter version is lighter than that, so that every change is folded in the
    /// end: at ten million resellers, 100,000 changes (a weight of 190,000 to 290,000
    /// against a sixteenth of 625,000) are folded after 2.1 to 3.3 pauses, one rename
    /// (weight 2) after 312,500. Once the writer has paused for the pause, a fold
    /// left to the writer to finish is also finished in the background. `None` turns
    /// this off; a threshold of `usize::MAX` starts no fold, idle ones included (one
    /// under way is still finished). The setting takes effect at once, for the
    /// changes already applied too. Pauses under 10 ms count as 10 ms: a writer that
    /// applies less often than that is taken to pause between batches, and its
    /// changes are folded 10 ms after its last batch once they weigh a sixteenth of
    /// the threshold (proportionally later when lighter).
    ///
    /// A burst of changes that stops short of the threshold would otherwise leave
    /// every later version slower to query until more changes came: at a million
    /// resellers, 100,000 changes leave pages several times and lookups by id over ten
    /// times slower than a fresh build's. A fold costs about half a build, on a
    /// background thread at the lowest priority, as any fold; from a sixteenth of the
    /// threshold on, that is at most sixteen times the threshold's fold work per
    /// change, and only when the writer pauses; under it, the longer wait keeps the
    /// fold work per second of pause at most what a version of a sixteenth would cost,
    /// in proportion to the weight. A pause is measured from the last batch accepted
    /// (a refused one changes nothing), by a thread that parks while the current
    /// version has changes, and wakes once a pause.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// # use reseller_hierarchy::{Id, Hierarchy, Mutation, Record, Snapshot};
    /// let h = Hierarchy::new(Snapshot::build([Record::new("1", None::<&str>)])?);
    /// h.set_idle_fold(Some(Duration::from_millis(10)));
    /// // A burst of 20 adds: under the default threshold (256 for so small a base),
    /// // over a sixteenth of it.
    /// let adds: Vec<Mutation> = (2..22)
    ///     .map(|k| Mutation::Add(Record::new(k.to_string(), Some("1"))))
    ///     .collect();
    /// h.apply(&adds)?;
    /// // Nothing applied for 10 ms: the changes are folded in the background, into
    /// // the same version.
    /// let deadline = Instant::now() + Duration::from_secs(30);
    /// while h.snapshot().change_weight() > 0 && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// assert_eq!(h.snapshot().change_weight(), 0);
    /// assert_eq!(h.snapshot().version(), 2);
    /// assert_eq!(h.snapshot().downline_count(Id::new("1"))?, 20);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_idle_fold(&self, after: Option<Duration>) {
        let mut writer = lock(&self.shared.writer);
        writer.idle = after;
        self.shared.settings_changed(&mut writer);
    }

    /// Folds the changes of the current version into a new indexed base now, on this
    /// thread at its priority (`O(n)`, about half a build), and publishes it in place
    /// of the version then current: the same version number and the same contents,
    /// only faster to query. Neither readers nor writers wait for it: batches applied
    /// meanwhile are replayed onto the new base as a background fold replays them
    /// (and if a writer that never pauses outpaces that replay, the writer finishes
    /// it, a bounded part per batch it applies, so the fold may be published after
    /// this returns). With no batch applied and no other compaction begun meanwhile,
    /// the current version has no changes left when this returns, unless its new base
    /// cannot be built (more than `u32::MAX` bytes of names or of ids): the version
    /// then stays as it is, and no fold is started again by itself until its changes
    /// weigh twice as much. A fold under way,
    /// in the background or by an earlier `compact` still building, is dropped for
    /// this one. [`apply`](Hierarchy::apply) folds by itself in the background,
    /// at the lowest scheduling priority; calling this is useful before a burst of
    /// reads, or on a machine whose cores stay busy, where a background fold builds
    /// slowly.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::{Id, Hierarchy, Mutation, Record, Snapshot};
    /// let h = Hierarchy::new(Snapshot::build([Record::new("1", None::<&str>)])?);
    /// h.apply(&[Mutation::Add(Record::new("2", Some("1")))])?;
    /// h.compact();
    /// assert_eq!(h.snapshot().version(), 2);
    /// assert_eq!(h.snapshot().downline_count(Id::new("1"))?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compact(&self) {
        self.shared.fold_here();
    }

    /// The current version. Never blocks.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.current.load_full()
    }

    /// A kept version by number (named apart from [`Snapshot::version`], which says
    /// which version a snapshot is).
    pub fn snapshot_at(&self, version: u64) -> Option<Arc<Snapshot>> {
        lock(&self.shared.kept)
            .iter()
            .find(|s| s.version() == version)
            .cloned()
    }

    /// Applies a batch of mutations atomically and publishes the result as the next
    /// version; returns its number. Readers keep the version they hold.
    ///
    /// # Errors
    ///
    /// [`MutationError`] naming the first mutation refused; nothing is applied then.
    pub fn apply(&self, batch: &[Mutation]) -> Result<u64, MutationError> {
        let mut writer = lock(&self.shared.writer);
        self.apply_locked(&mut writer, batch)
    }

    /// Applies a batch read at `position` of the source of changes (see [`Position`]),
    /// then records that the current version reflects `position`, waking
    /// [`wait_for`](Hierarchy::wait_for)ers. A batch at a position the hierarchy already
    /// reflects (delivered again after a reconnect) is not applied twice:
    /// [`Applied::Already`].
    ///
    /// # Errors
    ///
    /// [`MutationError`] naming the first mutation refused; nothing is applied and the
    /// position stays where it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use reseller_hierarchy::{Applied, Hierarchy, Mutation, Position, Record, Snapshot};
    ///
    /// let h = Hierarchy::new(Snapshot::build([Record::new("1", None::<&str>)])?);
    /// let add = [Mutation::Add(Record::new("2", Some("1")))];
    /// assert_eq!(h.apply_at(&add, Position::new(10))?, Applied::New { version: 2 });
    /// // The same change delivered again is recognised, not applied twice.
    /// assert_eq!(h.apply_at(&add, Position::new(10))?, Applied::Already { position: Position::new(10) });
    /// assert_eq!(h.position(), Some(Position::new(10)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_at(
        &self,
        batch: &[Mutation],
        position: Position,
    ) -> Result<Applied, MutationError> {
        let mut writer = lock(&self.shared.writer);
        if let Some(at) = self.shared.progress.get().filter(|&at| at >= position) {
            return Ok(Applied::Already { position: at });
        }
        let version = self.apply_locked(&mut writer, batch)?;
        // Published first, then the position: it never runs ahead of the versions.
        self.shared.progress.advance(position);
        Ok(Applied::New { version })
    }

    /// Records that the current version reflects the source up to `position` (the
    /// source moved on with no change to the hierarchy, or the hierarchy was loaded at
    /// that position); it never moves a position back (only
    /// [`reload_at`](Hierarchy::reload_at) does).
    ///
    /// # Examples
    ///
    /// ```
    /// use reseller_hierarchy::{Hierarchy, Position, Record, Snapshot};
    ///
    /// let h = Hierarchy::new(Snapshot::build([Record::new("1", None::<&str>)])?);
    /// assert_eq!(h.position(), None);
    /// h.advance_to(Position::new(5));
    /// h.advance_to(Position::new(3));
    /// assert_eq!(h.position(), Some(Position::new(5)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn advance_to(&self, position: Position) {
        let _writer = lock(&self.shared.writer);
        self.shared.progress.advance(position);
    }

    /// Publishes `snapshot`, a whole new load of the source at `position`, as the next
    /// version, in place of the changes applied so far: what a follower does when it
    /// cannot bridge a gap in its source. Cursors of earlier versions stay valid while
    /// those versions are kept. The position becomes `position`, even an earlier one
    /// than the hierarchy had (a load from a standby, or from a file saved earlier):
    /// the contents reflect it and no later change, so later changes are applied again
    /// by [`apply_at`](Hierarchy::apply_at) rather than taken for applied, and
    /// [`wait_for`](Hierarchy::wait_for) a later position waits for them.
    ///
    /// # Examples
    ///
    /// ```
    /// use reseller_hierarchy::{Id, Hierarchy, Position, Record, Snapshot};
    ///
    /// let h = Hierarchy::new(Snapshot::build([Record::new("1", None::<&str>)])?);
    /// let reloaded = Snapshot::build([Record::new("2", None::<&str>)])?;
    /// assert_eq!(h.reload_at(reloaded, Position::new(40)), 2);
    /// assert!(h.snapshot().get(Id::new("1")).is_none());
    /// assert_eq!(h.position(), Some(Position::new(40)));
    /// // A load at an earlier position sets it back.
    /// let earlier = Snapshot::build([Record::new("3", None::<&str>)])?;
    /// assert_eq!(h.reload_at(earlier, Position::new(30)), 3);
    /// assert_eq!(h.position(), Some(Position::new(30)));
    /// # Ok::<(), reseller_hierarchy::BuildError>(())
    /// ```
    pub fn reload_at(&self, mut snapshot: Snapshot, position: Position) -> u64 {
        let mut writer = lock(&self.shared.writer);
        // A fold of the replaced contents still running must not be published (its
        // queued batches are freed once the lock is released).
        writer.generation += 1;
        let dropped = writer.fold.take();
        writer.failed_at = None;
        let previous = self.shared.current.load_full();
        let version = previous.version() + 1;
        snapshot.set_version(version);
        let next = Arc::new(snapshot);
        // Published and positioned as one step for `wait_for`: a waiter released by
        // the position before reads the version before.
        self.shared
            .progress
            .set_with(position, || self.shared.publish(next.clone()));
        previous.retire_for(&next);
        drop(writer);
        drop(dropped);
        version
    }

    /// The source position the current version reflects, if one was recorded.
    pub fn position(&self) -> Option<Position> {
        self.shared.progress.get()
    }

    /// Waits until the hierarchy reflects `position` (or later), then returns the
    /// current version, which holds every change up to `position`: a service that just
    /// committed a change at `position` answers from a replica that shows it.
    ///
    /// # Errors
    ///
    /// [`WaitTimeout`] when `timeout` passes first, with where the hierarchy stood.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use reseller_hierarchy::{Id, Hierarchy, Mutation, Position, Record, Snapshot};
    ///
    /// let h = Arc::new(Hierarchy::new(Snapshot::build([Record::new("1", None::<&str>)])?));
    /// let writer = {
    ///     let h = h.clone();
    ///     std::thread::spawn(move || {
    ///         h.apply_at(&[Mutation::Add(Record::new("2", Some("1")))], Position::new(7))
    ///     })
    /// };
    /// let snap = h.wait_for(Position::new(7), Duration::from_secs(10))?;
    /// assert!(snap.get(Id::new("2")).is_some());
    /// writer.join().unwrap()?;
    /// assert!(h.wait_for(Position::new(8), Duration::from_millis(1)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for(
        &self,
        position: Position,
        timeout: Duration,
    ) -> Result<Arc<Snapshot>, WaitTimeout> {
        self.shared
            .progress
            .wait_for(position, timeout, || self.snapshot())
    }

    /// [`apply`](Hierarchy::apply) under the writer lock.
    fn apply_locked(
        &self,
        writer: &mut MutexGuard<'_, Writer>,
        batch: &[Mutation],
    ) -> Result<u64, MutationError> {
        let writer = &mut **writer;
        let base = self.shared.current.load_full();
        let fold_at = writer.threshold_for(&base);
        let mut next = match base.with_changes(batch) {
            Ok(next) => next,
            Err(e) => {
                // Records that the refused batch pushed before its refusal stay in
                // the record log every version over this base shares (nothing refers
                // to them): they weigh towards a fold like superseded ones, so that
                // refused batches cannot grow it without bound either.
                let weight = writer.weight_to_fold(&base);
                if writer.fold.is_none() && weight >= fold_at {
                    self.shared.start_fold(writer, base.clone());
                }
                self.shared.watch_for_pause(writer, weight, fold_at);
                return Err(e);
            }
        };
        let version = base.version() + 1;
        next.set_version(version);
        let next = Arc::new(next);
        self.shared.publish(next.clone());
        writer.last_change = Instant::now();
        if writer.fold.is_some() {
            self.shared.fold_step(writer, batch);
        } else if writer.weight_to_fold(&next) >= fold_at {
            self.shared.start_fold(writer, next.clone());
        }
        // The current version: a fold the writer just finished replaced `next`.
        let weight = writer.weight_to_fold(&self.shared.current.load());
        self.shared.watch_for_pause(writer, weight, fold_at);
        Ok(version)
    }

    /// The snapshot and page request that `start` designates for the query `digest`.
    fn resolve(
        &self,
        start: Start<'_>,
        digest: [u8; 16],
    ) -> Result<(Arc<Snapshot>, PageRequest), CursorError> {
        match start {
            Start::Page(req) => Ok((self.snapshot(), req)),
            Start::Cursor(text) => {
                let d = cursor::decode(&self.shared.key, text)?;
                if d.query != digest {
                    return Err(CursorError::OtherQuery);
                }
                if d.lineage != self.shared.lineage {
                    return Err(CursorError::OtherHierarchy);
                }
                let req = PageRequest::new(d.page, u64::from(d.per_page))
                    .map_err(|_| CursorError::Malformed { reason: "bad page" })?;
                match self.snapshot_at(d.version) {
                    Some(s) => Ok((s, req)),
                    None => {
                        let oldest = lock(&self.shared.kept).front().map_or(0, |s| s.version());
                        Err(CursorError::Expired {
                            version: d.version,
                            oldest,
                        })
                    }
                }
            }
        }
    }

    fn finish(&self, snapshot: &Arc<Snapshot>, page: &Page<'_>, digest: [u8; 16]) -> CursorPage {
        let request = page.request();
        let next = page.has_next().then(|| {
            cursor::encode(
                &self.shared.key,
                &CursorData {
                    lineage: self.shared.lineage,
                    version: snapshot.version(),
                    page: request.page() + 1,
                    per_page: request.per_page(),
                    query: digest,
                },
            )
        });
        CursorPage {
            snapshot: snapshot.clone(),
            items: (0..page.items.len()).map(|i| page.items.get(i)).collect(),
            total: page.total(),
            request,
            next,
        }
    }

    /// A page of the downline of `id` ([`Snapshot::downline`]) with a cursor to the
    /// next page.
    ///
    /// # Errors
    ///
    /// [`ListError`]: the reseller does not exist in the version read, or the cursor
    /// cannot be followed.
    pub fn downline(
        &self,
        id: &Id,
        order: Order,
        start: Start<'_>,
    ) -> Result<CursorPage, ListError> {
        let digest = cursor::query_digest(&[b"downline", &[order as u8], id.as_str().as_bytes()]);
        let (snap, req) = self.resolve(start, digest)?;
        let page = snap.downline(id, order, req)?;
        Ok(self.finish(&snap, &page, digest))
    }

    /// A page of eligible parents ([`Snapshot::eligible_parents`]) with a cursor to the
    /// next page. The cursor is bound to the principal, the flags and the order: it
    /// continues only that query.
    ///
    /// # Errors
    ///
    /// [`ListError`]: access denied in the version read, or the cursor cannot be
    /// followed (a cursor that cannot be followed from a principal the current
    /// version refuses is access denied too: access comes before paging).
    pub fn eligible_parents(
        &self,
        principal: &Principal,
        flags: FilterFlags,
        order: Order,
        start: Start<'_>,
    ) -> Result<CursorPage, ListError> {
        let reseller = principal
            .reseller
            .as_ref()
            .map_or(&b""[..], |r| r.as_str().as_bytes());
        let filter = flags.effective().map_or(0u8, |f| f as u8 + 1);
        let digest = cursor::query_digest(&[
            b"eligible",
            principal.role.as_str().as_bytes(),
            &[u8::from(principal.reseller.is_some())],
            reseller,
            &[filter, u8::from(flags.any()), order as u8],
        ]);
        let (snap, req) = match self.resolve(start, digest) {
            Ok(resolved) => resolved,
            Err(e) => {
                // Access is decided before paging: a caller the current version
                // refuses learns nothing of the cursor it sent, not even that it
                // expired (which would tell the versions kept).
                self.snapshot().eligible_count(principal, flags)?;
                return Err(e.into());
            }
        };
        let page = snap.eligible_parents(principal, flags, order, req)?;
        Ok(self.finish(&snap, &page, digest))
    }
}
