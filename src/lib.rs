//! # reseller-hierarchy
//!
//! An in-memory engine for reseller hierarchies — telecom and cloud resellers under a
//! distributor, affiliate and multi-level sales networks with millions of members —
//! that answers the two questions such services are asked all day, in microseconds,
//! whatever the size of the hierarchy:
//!
//! - **eligible parents** (TelecomX `customer/resellers/list`): which resellers may a
//!   user set as a customer's parent? Its own reseller and the whole downline, or every
//!   reseller for an `ADMIN`, optionally filtered by capability (`iptv`,
//!   `iptvprivate`, `flexcare`, `voip`; the first true flag wins).
//! - **downline** (ActivePlatform `GET /resellers`): every reseller below one, all
//!   levels, paged.
//!
//! You hand it records; it validates all of them at once and builds an immutable
//! [`Snapshot`] with every traversal order precomputed. Queries borrow the snapshot and
//! return a [`Page`].
//!
//! ```
//! use reseller_hierarchy::{
//!     Capability, FilterFlags, Id, Order, PageRequest, Principal, Record, Role, Snapshot,
//! };
//!
//! let snap = Snapshot::build([
//!     Record::new("1", None::<&str>).name("Distributor"),
//!     Record::new("2", Some("1")).name("Anders And & Co").capability(Capability::Iptv),
//!     Record::new("3", Some("2")).name("Northwind Industries H.M.B.G"),
//!     Record::new("4", Some("1")).name("Fabrikam").capability(Capability::Iptv),
//! ])?;
//!
//! // The downline of "1", all levels, pre-order, first page of 50.
//! let page = snap.downline(Id::new("1"), Order::PreOrder, PageRequest::default())?;
//! assert_eq!(page.iter().map(|r| r.name()).collect::<Vec<_>>(),
//!            ["Anders And & Co", "Northwind Industries H.M.B.G", "Fabrikam"]);
//!
//! // What a RESELLER_ADMIN of "1" may pick as a parent, iptv=true.
//! let me = Principal::new(Role::ResellerAdmin, "1");
//! let iptv = FilterFlags { iptv: true, ..FilterFlags::NONE };
//! let page = snap.eligible_parents(&me, iptv, Order::PreOrder, PageRequest::default())?;
//! assert_eq!(page.iter().map(|r| r.id().as_str()).collect::<Vec<_>>(), ["2", "4"]);
//! assert_eq!(page.total(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Which type do I need?
//!
//! | you have | you want | use |
//! | --- | --- | --- |
//! | records in memory | a hierarchy | [`Snapshot::build`] |
//! | NDJSON or a JSON array (feature `serde`) | a hierarchy, every bad line reported | [`Builder::read_ndjson`], [`Builder::read_json_array`], then [`Builder::build`] |
//! | `page` / `per_page` query strings | a checked request, or a 400 | [`PageRequest::parse`] |
//! | a user's role and reseller | eligible parents, or a 403 | [`Principal`], [`FilterFlags`], [`Snapshot::eligible_parents`] |
//! | an id | its downline, upline, or a 404 | [`Snapshot::downline`], [`Snapshot::upline`], [`Snapshot::is_in_downline`] |
//! | a hierarchy that changes while served | atomic batches, versions, cursors that pin a version | [`Hierarchy`], [`Mutation`], [`Start`] |
//! | either API's JSON bodies (feature `serde`) | rendered pages and errors | `wire::telecomx`, `wire::jsonapi`, `wire::ApiError` |
//! | test data | realistic hierarchies from a seed | [`generate`] |
//! | property tests of your rules (feature `proptest`) | strategies and a naive model | `testing` |
//!
//! ## Guarantees
//!
//! | operation | cost |
//! | --- | --- |
//! | build `n` resellers | `O(n)` plus `O(n log n)` for the level-order index, parallel where independent |
//! | a downline or eligible-parents page, pre-order | `O(log n + per_page)`; filtered, up to `O(log n)` per item when matches are sparser than 1 in 512 |
//! | the same in level order | `O((1 + L) log n + per_page)`, `L` = levels the page crosses |
//! | a listing's total (every page carries it) | `O(log n)` |
//! | `is_in_downline` | `O(1)` after the id lookups |
//! | `upline` | `O(depth)` |
//!
//! - **Validation is all-or-nothing.** A build reports every problem — duplicate ids,
//!   unknown parents, every member of every cycle, unknown capabilities, malformed
//!   records — each naming the ids concerned and where they were (line, element or
//!   record index), and builds nothing.
//! - **No panics, no recursion.** Nothing recurses: a chain one million deep, or a
//!   cycle through one million resellers, is ordinary input.
//! - **Determinism.** Siblings and roots are listed in the order they were added;
//!   every listing is the same on every run.
//! - **Every error maps to an HTTP status** (`http_status()`): [`PageError`] 400,
//!   [`BuildError`] 400, [`MutationError`] 400, [`CursorError`] 400 (410 when
//!   expired or from another hierarchy), [`AccessError`] 403, [`QueryError`] 404.
//! - **Versions** ([`Hierarchy`]): batches apply atomically; readers never block and
//!   keep the version they hold; cursors pin theirs. A batch is an overlay on the
//!   previous version's indexes (tens of microseconds at a million resellers), folded
//!   into new indexes in the background.
//!
//! ## Features
//!
//! - `serde` (default): JSON records (ids from strings or integers, `1` and `"1"` the
//!   same reseller), NDJSON and JSON-array readers, JSON attributes payload.
//! - `proptest`: the `testing` module — strategies and a naive reference model for
//!   your own property tests.
//! - `fuzzing`: `testing::fuzz`, the checks the fuzz targets run.
//! - `cli`: the `resellers` command-line tool.
//!
//! ## Minimum Rust version
//!
//! 1.88 (the `rust-version` in Cargo.toml, set by the `proptest` dependency; CI builds
//! with the current stable only, so older compilers are not checked).

#![doc(html_root_url = "https://docs.rs/reseller-hierarchy/0.1.0")]

mod access;
mod builder;
mod capability;
mod cursor;
#[cfg(feature = "generate")]
pub mod generate;
mod hierarchy;
#[cfg(feature = "http")]
pub mod http;
mod id;
mod lookup;
mod mutation;
mod paging;
#[cfg(feature = "postgres")]
pub mod postgres;
mod record;
#[cfg(feature = "serde")]
mod serde;
mod snapshot;
#[cfg(feature = "proptest")]
pub mod testing;
mod wavelet;
#[cfg(feature = "serde")]
pub mod wire;

#[cfg(feature = "serde")]
pub use crate::serde::InputFormat;
pub use access::{AccessError, Principal, Role};
pub use builder::{BuildError, Builder, Place, Problem};
pub use capability::{Capabilities, Capability, Filter, FilterFlags, UnknownCapability};
pub use cursor::CursorError;
pub use hierarchy::{Applied, CursorPage, Hierarchy, ListError, Position, Start, WaitTimeout};
pub use id::{Id, ResellerId};
pub use mutation::{Mutation, MutationError, Removal};
pub use paging::{Order, PageError, PageRequest};
pub use record::{Attributes, Record};
#[doc(hidden)]
pub use snapshot::InvariantError;
pub use snapshot::{
    LoadError, Page, QueryError, Reseller, Snapshot, Summary, Upline, FORMAT_VERSION,
};

/// The README's examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn snapshot_is_send_and_sync() {
        assert_send_sync::<Snapshot>();
        assert_send_sync::<std::sync::Arc<Snapshot>>();
    }
}
