//! Reseller ids: the external key, owned ([`ResellerId`]) and borrowed ([`Id`]).

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use compact_str::{CompactString, ToCompactString};
use ref_cast::{ref_cast_custom, RefCastCustom};

/// The external key of a reseller, as the embedding service knows it.
///
/// Ids are case-sensitive strings: TelecomX uses 24-hex object ids, ActivePlatform
/// decimal strings. An integer id is the same reseller as its decimal string, so
/// `ResellerId::from(1u64)` equals `ResellerId::from("1")`. With the `serde` feature an
/// id deserializes from a non-empty JSON string or a JSON integer of at most 64 bits
/// (larger integers are refused, not rounded) and serializes as a string.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::ResellerId;
///
/// assert_eq!(ResellerId::from(7u64), ResellerId::from("7"));
/// assert_ne!(ResellerId::from("ab"), ResellerId::from("AB"));
/// assert_eq!(ResellerId::from("52f4fd7734697b28ccaf77ec").as_str().len(), 24);
/// ```
///
/// An id of up to 24 bytes (an object id, a decimal number) is held inline, without an
/// allocation of its own.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResellerId(CompactString);

/// Hashes as its `str`, so that maps keyed by ids can be queried with a `&str`.
impl Hash for ResellerId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl ResellerId {
    /// The id as a string slice.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::ResellerId;
    /// assert_eq!(ResellerId::from(42i64).as_str(), "42");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The string as held: a snapshot's id slots keep the inline ones as they are.
    pub(crate) fn compact(&self) -> &CompactString {
        &self.0
    }
}

impl fmt::Debug for ResellerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for ResellerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ResellerId {
    fn from(s: &str) -> Self {
        ResellerId(CompactString::from(s))
    }
}

impl From<String> for ResellerId {
    fn from(s: String) -> Self {
        ResellerId(CompactString::from(s))
    }
}

impl From<u64> for ResellerId {
    fn from(n: u64) -> Self {
        ResellerId(n.to_compact_string())
    }
}

impl From<i64> for ResellerId {
    fn from(n: i64) -> Self {
        ResellerId(n.to_compact_string())
    }
}

impl From<u32> for ResellerId {
    fn from(n: u32) -> Self {
        ResellerId::from(u64::from(n))
    }
}

/// A borrowed reseller id: what [`ResellerId`] is to an owned id, `str` is to `String`.
///
/// A snapshot keeps its ids in slots of its own (up to 24 bytes inline, longer ones in
/// one string of them all, so that a million ids of any length are two allocations,
/// freed at once), and [`Reseller::id`](crate::Reseller::id) lends them out as `&Id`. Every query that takes an id takes an `&Id`; a
/// `&ResellerId` turns into one by itself (`ResellerId` dereferences to `Id`), and
/// [`Id::new`] makes one from a `&str` without copying. An `Id` compares, orders and
/// hashes as its string, like the `ResellerId` it came from, so maps keyed by
/// `ResellerId` can be queried with an `&Id`.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::{Id, ResellerId};
///
/// let owned = ResellerId::from("52f4fd7734697b28ccaf77ec");
/// let borrowed: &Id = &owned;
/// assert_eq!(borrowed, Id::new("52f4fd7734697b28ccaf77ec"));
/// assert_eq!(borrowed.to_owned(), owned);
/// assert_eq!(borrowed.as_str().len(), 24);
/// assert!(*borrowed == *"52f4fd7734697b28ccaf77ec");
/// let from_str: &Id = "52f4fd7734697b28ccaf77ec".into();
/// assert_eq!(from_str, borrowed);
/// ```
#[derive(PartialEq, Eq, PartialOrd, Ord, Hash, RefCastCustom)]
#[repr(transparent)]
pub struct Id(str);

impl Id {
    /// The id spelled `s`, borrowed (no copy); usable in `const` items.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::{Id, ResellerId};
    /// assert_eq!(Id::new("7"), &*ResellerId::from(7u64));
    ///
    /// const DISTRIBUTOR: &Id = Id::new("distributor-1");
    /// assert_eq!(DISTRIBUTOR.as_str(), "distributor-1");
    /// ```
    #[inline]
    #[ref_cast_custom]
    pub const fn new(s: &str) -> &Id;

    /// The id as a string slice.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::Id;
    /// assert_eq!(Id::new("42").as_str(), "42");
    /// ```
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ToOwned for Id {
    type Owned = ResellerId;

    fn to_owned(&self) -> ResellerId {
        ResellerId::from(&self.0)
    }
}

impl From<&Id> for ResellerId {
    fn from(id: &Id) -> Self {
        id.to_owned()
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<Id> for Id {
    fn as_ref(&self) -> &Id {
        self
    }
}

impl AsRef<Id> for str {
    fn as_ref(&self) -> &Id {
        Id::new(self)
    }
}

impl AsRef<Id> for String {
    fn as_ref(&self) -> &Id {
        Id::new(self)
    }
}

/// `"7".into()` where an `&Id` is expected.
impl<'a> From<&'a str> for &'a Id {
    fn from(s: &'a str) -> &'a Id {
        Id::new(s)
    }
}

impl PartialEq<str> for Id {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Id {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Id> for str {
    fn eq(&self, other: &Id) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<ResellerId> for Id {
    fn eq(&self, other: &ResellerId) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Id> for ResellerId {
    fn eq(&self, other: &Id) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<&Id> for ResellerId {
    fn eq(&self, other: &&Id) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<ResellerId> for &Id {
    fn eq(&self, other: &ResellerId) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Deref for ResellerId {
    type Target = Id;

    #[inline]
    fn deref(&self) -> &Id {
        Id::new(&self.0)
    }
}

impl Borrow<Id> for ResellerId {
    fn borrow(&self) -> &Id {
        self
    }
}

impl AsRef<Id> for ResellerId {
    fn as_ref(&self) -> &Id {
        self
    }
}

impl Borrow<str> for ResellerId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ResellerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

// Inside a snapshot a reseller is a dense `u32`: its position in the forest's pre-order
// (see `Snapshot`). Positions never leave the crate; outside, resellers are named by
// `ResellerId`.

/// The largest number of resellers one snapshot holds (`u32::MAX` and the value below
/// it are reserved as sentinels).
pub(crate) const LIMIT: usize = u32::MAX as usize - 1;

/// Sentinel for "no parent" in the parent array.
pub(crate) const NONE: u32 = u32::MAX;
