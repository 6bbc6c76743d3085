//! [`Page`]: one page of a listing, borrowed from the [`Snapshot`] it came from, and
//! [`Items`], the resellers on it (a range, a slice of a precomputed order, or
//! gathered).

use std::ops::Range;

use super::numbering::{Handle, Pos};
use super::{Reseller, Snapshot};
use crate::paging::PageRequest;

/// One page of a listing: its resellers, the listing's total and the paging facts.
///
/// Borrowed from the [`Snapshot`] it came from, so it stays consistent with it.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::{Order, PageRequest, Record, ResellerId, Snapshot};
///
/// let snap = Snapshot::build((0..7u64).map(|i| Record::new(i, (i > 0).then(|| 0u64)))).unwrap();
/// let req = PageRequest::new(2, 4).unwrap();
/// let page = snap.downline(&ResellerId::from("0"), Order::PreOrder, req).unwrap();
/// assert_eq!(page.total(), 6);
/// assert_eq!(page.last_page(), 2);
/// assert!(!page.has_next());
/// let ids: Vec<&str> = page.iter().map(|r| r.id().as_str()).collect();
/// assert_eq!(ids, ["5", "6"]);
/// ```
#[derive(Clone, Debug)]
pub struct Page<'s> {
    pub(crate) snapshot: &'s Snapshot,
    pub(crate) items: Items<'s>,
    pub(crate) total: usize,
    pub(crate) request: PageRequest,
}

impl<'s> Page<'s> {
    /// Number of resellers on this page.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the page is empty (the listing is empty, or the page is past its end).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The resellers on this page, in listing order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Reseller<'s>> + '_ {
        let reseller = self.snapshot.resolver();
        (0..self.items.len()).map(move |i| reseller(self.items.get(i)))
    }

    /// Size of the whole listing.
    pub fn total(&self) -> usize {
        self.total
    }

    /// This page's 1-based number.
    pub fn number(&self) -> u64 {
        self.request.page()
    }

    /// Items per page.
    pub fn per_page(&self) -> u32 {
        self.request.per_page()
    }

    /// The request this page answers.
    pub fn request(&self) -> PageRequest {
        self.request
    }

    /// The last page number: `max(1, ceil(total / per_page))`.
    pub fn last_page(&self) -> u64 {
        self.request.last_page(self.total)
    }

    /// The version of the hierarchy this page came from ([`Snapshot::version`]).
    pub fn version(&self) -> u64 {
        self.snapshot.version()
    }

    /// Whether a page follows this one.
    pub fn has_next(&self) -> bool {
        self.request.page() < self.last_page()
    }
}

/// Resellers gathered for one page; pages of up to 64 (the default is 50) need no
/// heap allocation.
pub(crate) type Gathered = smallvec::SmallVec<[Handle; 64]>;

/// The resellers on a page: a run of consecutive base positions, a slice of a
/// precomputed order (both of a plain snapshot, whose handles are its base positions),
/// resellers gathered for the page (level order within a subtree, upline, changed
/// versions), or borrowed from a page kept whole (a cursor page).
// The inline buffer is the point: a page lives on the caller's stack, and a level-order
// page of up to 64 needs no allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(crate) enum Items<'s> {
    Range(Range<Pos>),
    Slice(&'s [Pos]),
    Owned(Gathered),
    Kept(&'s [Handle]),
}

impl Items<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Items::Range(r) => (r.end - r.start) as usize,
            Items::Slice(s) => s.len(),
            Items::Owned(v) => v.len(),
            Items::Kept(v) => v.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Handle {
        match self {
            Items::Range(r) => Handle::of(r.start + i as u32),
            Items::Slice(s) => Handle::of(s[i]),
            Items::Owned(v) => v[i],
            Items::Kept(v) => v[i],
        }
    }
}
