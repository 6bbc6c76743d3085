//! [`Hierarchy`]: a hierarchy that changes while it is served, as a series of immutable
//! versions.

use std::collections::VecDeque;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;

use crate::access::{AccessError, Principal};
use crate::capability::FilterFlags;
use crate::cursor::{self, CursorData, CursorError};
use crate::id::ResellerId;
use crate::mutation::{self, Mutation, MutationError};
use crate::paging::{Items, Order, Page, PageRequest};
use crate::snapshot::{QueryError, Snapshot};

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
/// # Examples
///
/// ```
/// use reseller_hierarchy::{Hierarchy, Mutation, Order, Record, Snapshot, Start};
///
/// let h = Hierarchy::new(Snapshot::build([
///     Record::new("1", None::<&str>),
///     Record::new("2", Some("1")),
///     Record::new("3", Some("1")),
/// ])?);
/// let first = h.downline(&"1".into(), Order::PreOrder, Start::first(1)?)?;
/// assert_eq!(first.page().iter().next().unwrap().id().as_str(), "2");
/// let cursor = first.next_cursor().unwrap().to_owned();
///
/// // The hierarchy changes; the cursor still reads its own version.
/// let v = h.apply(&[Mutation::Add(Record::new("4", Some("1")))])?;
/// assert_eq!(v, first.version() + 1);
/// let second = h.downline(&"1".into(), Order::PreOrder, Start::Cursor(&cursor))?;
/// assert_eq!(second.page().iter().next().unwrap().id().as_str(), "3");
/// assert!(second.next_cursor().is_none());
/// assert_eq!(h.snapshot().downline_count(&"1".into())?, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Hierarchy {
    current: ArcSwap<Snapshot>,
    /// The most recent versions, oldest first; the current one is the last.
    kept: Mutex<VecDeque<Arc<Snapshot>>>,
    writer: Mutex<()>,
    retention: usize,
    key: [u8; 32],
}

impl fmt::Debug for Hierarchy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hierarchy")
            .field("version", &self.current.load().version())
            .field("retention", &self.retention)
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
    /// The cursor cannot be followed: 400, or 410 when expired.
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
    items: Vec<u32>,
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
            items: Items::Slice(&self.items),
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
        let mut key = [0u8; 32];
        if getrandom::fill(&mut key).is_err() {
            // No OS randomness at all (practically never): fall back to the standard
            // library's per-process random hash keys, so that cursors still cannot be
            // forged by anyone who does not see this process's memory.
            let rs = RandomState::new();
            for (i, chunk) in key.chunks_mut(8).enumerate() {
                chunk.copy_from_slice(&rs.hash_one(i).to_le_bytes());
            }
        }
        Hierarchy::with_options(snapshot, Hierarchy::DEFAULT_RETENTION, key)
    }

    /// A hierarchy keeping `retention` versions (at least 1) for cursors, and signing
    /// cursors with `key` (give every replica of a service the same key, so that a
    /// cursor issued by one is honoured by all).
    pub fn with_options(mut snapshot: Snapshot, retention: usize, key: [u8; 32]) -> Hierarchy {
        snapshot.set_version(1);
        let first = Arc::new(snapshot);
        Hierarchy {
            current: ArcSwap::new(first.clone()),
            kept: Mutex::new(VecDeque::from([first])),
            writer: Mutex::new(()),
            retention: retention.max(1),
            key,
        }
    }

    /// How many versions are kept for cursors.
    pub fn retention(&self) -> usize {
        self.retention
    }

    /// The current version. Never blocks.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// A kept version by number.
    pub fn version(&self, version: u64) -> Option<Arc<Snapshot>> {
        lock(&self.kept)
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
        let _writer = lock(&self.writer);
        let base = self.current.load_full();
        let mut next = mutation::apply(&base, batch)?;
        let version = base.version() + 1;
        next.set_version(version);
        let next = Arc::new(next);
        let mut evicted = Vec::new();
        {
            let mut kept = lock(&self.kept);
            kept.push_back(next.clone());
            while kept.len() > self.retention {
                evicted.extend(kept.pop_front());
            }
        }
        self.current.store(next);
        // Freeing a large version takes a while: not on the writer's path. (Readers
        // still holding it keep it alive anyway.)
        if !evicted.is_empty() {
            rayon::spawn(move || drop(evicted));
        }
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
                let d = cursor::decode(&self.key, text)?;
                if d.query != digest {
                    return Err(CursorError::OtherQuery);
                }
                let req = PageRequest::new(d.page, u64::from(d.per_page))
                    .map_err(|_| CursorError::Malformed { reason: "bad page" })?;
                match self.version(d.version) {
                    Some(s) => Ok((s, req)),
                    None => {
                        let oldest = lock(&self.kept).front().map_or(0, |s| s.version());
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
                &self.key,
                &CursorData {
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
        id: &ResellerId,
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
    /// followed.
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
        let (snap, req) = self.resolve(start, digest)?;
        let page = snap.eligible_parents(principal, flags, order, req)?;
        Ok(self.finish(&snap, &page, digest))
    }
}
