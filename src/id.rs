//! Reseller ids: the external key ([`ResellerId`]) and the dense internal index ([`Ix`]).

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};

use compact_str::{CompactString, ToCompactString};

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
