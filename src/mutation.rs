//! Changes to a hierarchy: [`Mutation`]s, validated together and applied as one batch,
//! all or nothing.
//!
//! # Sibling order under change
//!
//! Siblings are listed in the order they became children of their parent:
//!
//! - an added reseller becomes the last child of its parent (the last root, without
//!   one);
//! - a moved reseller, with its whole downline, becomes the last child of its new
//!   parent (the last root, without one);
//! - a reseller removed with [`Removal::ReattachDownline`] is replaced, in its parent's
//!   list of children, by its own children in their order (they take its place); its
//!   parent gains them, and the rest of the hierarchy is untouched.
//!
//! # Cost
//!
//! A batch does not rebuild anything: the new version shares the indexed base of the
//! one it changes and adds an overlay, a piece table over the base's pre-order (see
//! ARCHITECTURE.md). One mutation costs `O(k log n)` for `k` pieces of change so far,
//! plus copying the overlay once per batch; a [`Hierarchy`](crate::Hierarchy) folds the
//! overlay into a new base in the background once it grows.

use std::fmt;

use crate::capability::Capabilities;
use crate::id::ResellerId;
use crate::record::{Attributes, Record};

/// What to do with the downline of a removed reseller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Removal {
    /// Only a reseller without children may be removed; otherwise
    /// [`MutationError::HasDownline`].
    LeafOnly,
    /// The reseller's children take its place under its parent (or become roots).
    ReattachDownline,
}

/// One change.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::{Id, Hierarchy, Mutation, Record, Removal, Snapshot};
///
/// let h = Hierarchy::new(Snapshot::build([
///     Record::new("1", None::<&str>),
///     Record::new("2", Some("1")),
///     Record::new("3", Some("1")),
///     Record::new("4", Some("3")),
/// ])?);
/// h.apply(&[
///     Mutation::Add(Record::new("9", Some("1")).name("New reseller")),
///     Mutation::Move { id: "9".into(), parent: Some("2".into()) },
///     Mutation::Remove { id: "3".into(), removal: Removal::ReattachDownline },
/// ])?;
/// let snap = h.snapshot();
/// let kids: Vec<&str> = snap.get(Id::new("1")).unwrap().children().map(|r| r.id().as_str()).collect();
/// assert_eq!(kids, ["2", "4"]); // "4" took the place of "3"
/// assert_eq!(snap.get(Id::new("9")).unwrap().parent().unwrap().as_str(), "2");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// Add a reseller (its `parent` must exist; `None` makes it a root).
    Add(Record),
    /// Move a reseller and its whole downline under another parent (`None`: make it a
    /// root).
    Move {
        /// The reseller to move.
        id: ResellerId,
        /// Its new parent.
        parent: Option<ResellerId>,
    },
    /// Remove a reseller.
    Remove {
        /// The reseller to remove.
        id: ResellerId,
        /// What happens to its downline.
        removal: Removal,
    },
    /// Change what a reseller carries; `None` fields stay as they are.
    Update {
        /// The reseller to change.
        id: ResellerId,
        /// A new name.
        name: Option<String>,
        /// New capabilities.
        capabilities: Option<Capabilities>,
        /// A new `integrations.billing.economic.enabled`.
        economic_enabled: Option<bool>,
        /// New attributes.
        attributes: Option<Attributes>,
    },
}

impl Mutation {
    /// The id the mutation is about.
    pub fn id(&self) -> &ResellerId {
        match self {
            Mutation::Add(r) => &r.id,
            Mutation::Move { id, .. }
            | Mutation::Remove { id, .. }
            | Mutation::Update { id, .. } => id,
        }
    }
}

/// Why a batch was refused: answer 400 Bad Request (409 Conflict fits too). Nothing of
/// the batch is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MutationError {
    /// The id names no reseller (at that point of the batch).
    UnknownId {
        /// Index of the mutation in the batch.
        index: usize,
        /// The id.
        id: ResellerId,
    },
    /// A new or new parent id names no reseller.
    UnknownParent {
        /// Index of the mutation in the batch.
        index: usize,
        /// The reseller.
        id: ResellerId,
        /// The parent that does not exist.
        parent: ResellerId,
    },
    /// An added id is already taken.
    DuplicateId {
        /// Index of the mutation in the batch.
        index: usize,
        /// The id.
        id: ResellerId,
    },
    /// A reseller would become its own parent.
    OwnParent {
        /// Index of the mutation in the batch.
        index: usize,
        /// The reseller.
        id: ResellerId,
    },
    /// A move under the reseller's own downline (which would make a cycle).
    MoveUnderOwnDownline {
        /// Index of the mutation in the batch.
        index: usize,
        /// The reseller.
        id: ResellerId,
        /// The new parent, a member of its downline.
        parent: ResellerId,
    },
    /// [`Removal::LeafOnly`] of a reseller that has children.
    HasDownline {
        /// Index of the mutation in the batch.
        index: usize,
        /// The reseller.
        id: ResellerId,
        /// How many children it has.
        children: usize,
    },
    /// More resellers than one snapshot can index, or more records added and updated
    /// since the last fold than a changed version keeps (`u32::MAX`; a fold starts
    /// long before, unless the fold threshold was raised that far), or a name or
    /// attributes text of `u32::MAX` bytes or more.
    TooMany {
        /// Index of the mutation in the batch.
        index: usize,
    },
}

impl MutationError {
    /// The index in the batch of the mutation refused.
    pub fn index(&self) -> usize {
        match self {
            MutationError::UnknownId { index, .. }
            | MutationError::UnknownParent { index, .. }
            | MutationError::DuplicateId { index, .. }
            | MutationError::OwnParent { index, .. }
            | MutationError::MoveUnderOwnDownline { index, .. }
            | MutationError::HasDownline { index, .. }
            | MutationError::TooMany { index } => *index,
        }
    }

    /// The HTTP status an embedding service answers: 400.
    pub const fn http_status(&self) -> u16 {
        400
    }
}

impl fmt::Display for MutationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mutation {} refused, nothing applied: ", self.index())?;
        match self {
            MutationError::UnknownId { id, .. } => write!(f, "no reseller has id {id:?}"),
            MutationError::UnknownParent { id, parent, .. } => {
                write!(f, "parent {parent:?} of {id:?} is no reseller's id")
            }
            MutationError::DuplicateId { id, .. } => write!(f, "id {id:?} is already taken"),
            MutationError::OwnParent { id, .. } => {
                write!(f, "{id:?} cannot be its own parent")
            }
            MutationError::MoveUnderOwnDownline { id, parent, .. } => write!(
                f,
                "{id:?} cannot move under {parent:?}, which is in its own downline"
            ),
            MutationError::HasDownline { id, children, .. } => write!(
                f,
                "{id:?} has {children} children; remove them first or re-attach its downline"
            ),
            MutationError::TooMany { .. } => {
                f.write_str("too many resellers, or too many records changed since the last fold")
            }
        }
    }
}

impl std::error::Error for MutationError {}
