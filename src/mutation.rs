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
//! This version applies a batch by rebuilding the snapshot from the changed forest:
//! `O(n)` per batch, however small. The layout that would make one mutation sublinear
//! (an overlay of recent changes on an immutable base) is not built yet; see
//! ARCHITECTURE.md.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::builder::Builder;
use crate::capability::Capabilities;
use crate::id::{ResellerId, NONE};
use crate::record::{Attributes, Record};
use crate::snapshot::Snapshot;

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
/// use reseller_hierarchy::{Hierarchy, Mutation, Record, Removal, Snapshot};
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
/// let kids: Vec<&str> = snap.get(&"1".into()).unwrap().children().map(|r| r.id().as_str()).collect();
/// assert_eq!(kids, ["2", "4"]); // "4" took the place of "3"
/// assert_eq!(snap.get(&"9".into()).unwrap().parent().unwrap().as_str(), "2");
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
    /// More resellers than one snapshot can index.
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
            MutationError::TooMany { .. } => f.write_str("too many resellers"),
        }
    }
}

impl std::error::Error for MutationError {}

/// The forest being changed: the snapshot's positions `0..n`, then added resellers.
/// Children are read from the snapshot until a parent's list changes, then kept here.
struct Work<'s> {
    snap: &'s Snapshot,
    ids: HashMap<ResellerId, u32>,
    removed: HashSet<u32>,
    parent: HashMap<u32, u32>,
    children: HashMap<u32, Vec<u32>>,
    roots: Option<Vec<u32>>,
    added: Vec<Record>,
    updates: HashMap<u32, Record>,
}

impl<'s> Work<'s> {
    fn new(snap: &'s Snapshot) -> Work<'s> {
        Work {
            snap,
            ids: HashMap::new(),
            removed: HashSet::new(),
            parent: HashMap::new(),
            children: HashMap::new(),
            roots: None,
            added: Vec::new(),
            updates: HashMap::new(),
        }
    }

    fn n(&self) -> u32 {
        self.snap.len() as u32
    }

    fn find(&self, id: &ResellerId) -> Option<u32> {
        if let Some(&x) = self.ids.get(id) {
            return (!self.removed.contains(&x)).then_some(x);
        }
        let p = self.snap.position(id)?;
        (!self.removed.contains(&p)).then_some(p)
    }

    /// `find`, or the error that mutation `index` names an id that does not exist.
    fn existing(&self, index: usize, id: &ResellerId) -> Result<u32, MutationError> {
        self.find(id).ok_or_else(|| MutationError::UnknownId {
            index,
            id: id.clone(),
        })
    }

    fn parent_of(&self, x: u32) -> u32 {
        match self.parent.get(&x) {
            Some(&p) => p,
            None => self.snap.parent_at(x),
        }
    }

    /// The child list of `p` (`NONE`: the roots), materialized for change.
    fn kids_mut(&mut self, p: u32) -> &mut Vec<u32> {
        let snap = self.snap;
        if p == NONE {
            return self.roots.get_or_insert_with(|| snap.root_positions());
        }
        let n = self.n();
        self.children.entry(p).or_insert_with(|| {
            if p < n {
                snap.children_at(p)
            } else {
                Vec::new()
            }
        })
    }

    fn kids(&self, p: u32) -> Vec<u32> {
        if p == NONE {
            return self
                .roots
                .clone()
                .unwrap_or_else(|| self.snap.root_positions());
        }
        match self.children.get(&p) {
            Some(v) => v.clone(),
            None if p < self.n() => self.snap.children_at(p),
            None => Vec::new(),
        }
    }

    fn kid_count(&self, p: u32) -> usize {
        match self.children.get(&p) {
            Some(v) => v.len(),
            None if p < self.n() => self.snap.children_at(p).len(),
            None => 0,
        }
    }

    fn detach(&mut self, x: u32) {
        let p = self.parent_of(x);
        self.kids_mut(p).retain(|&c| c != x);
    }

    fn apply(&mut self, index: usize, m: &Mutation) -> Result<(), MutationError> {
        match m {
            Mutation::Add(r) => {
                if self.find(&r.id).is_some() {
                    return Err(MutationError::DuplicateId {
                        index,
                        id: r.id.clone(),
                    });
                }
                let parent = match &r.parent {
                    None => NONE,
                    Some(p) if *p == r.id => NONE,
                    Some(p) => self.find(p).ok_or_else(|| MutationError::UnknownParent {
                        index,
                        id: r.id.clone(),
                        parent: p.clone(),
                    })?,
                };
                let x = self.n() as usize + self.added.len();
                if x >= crate::id::LIMIT {
                    return Err(MutationError::TooMany { index });
                }
                let x = x as u32;
                self.added.push(r.clone());
                self.ids.insert(r.id.clone(), x);
                self.parent.insert(x, parent);
                self.kids_mut(parent).push(x);
            }
            Mutation::Move { id, parent } => {
                let x = self.existing(index, id)?;
                let q = match parent {
                    None => NONE,
                    Some(p) if p == id => {
                        return Err(MutationError::OwnParent {
                            index,
                            id: id.clone(),
                        })
                    }
                    Some(p) => self.find(p).ok_or_else(|| MutationError::UnknownParent {
                        index,
                        id: id.clone(),
                        parent: p.clone(),
                    })?,
                };
                // Walk up from the new parent: meeting `x` means a cycle.
                let mut v = q;
                while v != NONE {
                    if v == x {
                        return Err(MutationError::MoveUnderOwnDownline {
                            index,
                            id: id.clone(),
                            parent: parent.clone().unwrap_or_default(),
                        });
                    }
                    v = self.parent_of(v);
                }
                self.detach(x);
                self.parent.insert(x, q);
                self.kids_mut(q).push(x);
            }
            Mutation::Remove { id, removal } => {
                let x = self.existing(index, id)?;
                let count = self.kid_count(x);
                if *removal == Removal::LeafOnly && count > 0 {
                    return Err(MutationError::HasDownline {
                        index,
                        id: id.clone(),
                        children: count,
                    });
                }
                let p = self.parent_of(x);
                let kids = self.kids(x);
                for &c in &kids {
                    self.parent.insert(c, p);
                }
                let list = self.kids_mut(p);
                if let Some(at) = list.iter().position(|&c| c == x) {
                    list.splice(at..=at, kids);
                }
                self.children.remove(&x);
                self.removed.insert(x);
            }
            Mutation::Update {
                id,
                name,
                capabilities,
                economic_enabled,
                attributes,
            } => {
                let x = self.existing(index, id)?;
                let mut r = self.record(x);
                if let Some(name) = name {
                    r.name = name.clone();
                }
                if let Some(c) = capabilities {
                    r.capabilities = *c;
                }
                if let Some(e) = economic_enabled {
                    r.economic_enabled = *e;
                }
                if let Some(a) = attributes {
                    r.attributes = a.clone();
                }
                let n = self.n();
                if x >= n {
                    self.added[(x - n) as usize] = r;
                } else {
                    self.updates.insert(x, r);
                }
            }
        }
        Ok(())
    }

    /// The current record of `x` (its parent field is set when emitting).
    fn record(&self, x: u32) -> Record {
        if x >= self.n() {
            return self.added[(x - self.n()) as usize].clone();
        }
        match self.updates.get(&x) {
            Some(r) => r.clone(),
            None => self.snap.record_at(x),
        }
    }

    fn id(&self, x: u32) -> ResellerId {
        if x >= self.n() {
            self.added[(x - self.n()) as usize].id.clone()
        } else {
            self.snap.id_at(x).clone()
        }
    }

    /// Every reseller in the new pre-order, as records: building them gives the new
    /// forest with the sibling order described in the module docs.
    fn into_records(self) -> Vec<Record> {
        let mut out = Vec::with_capacity(self.snap.len() + self.added.len());
        let mut stack: Vec<u32> = self.kids(NONE).into_iter().rev().collect();
        while let Some(x) = stack.pop() {
            let mut r = self.record(x);
            let p = self.parent_of(x);
            r.parent = (p != NONE).then(|| self.id(p));
            out.push(r);
            stack.extend(self.kids(x).into_iter().rev());
        }
        out
    }
}

/// Applies `batch` to `snap`: the new snapshot, or the first mutation refused.
pub(crate) fn apply(snap: &Snapshot, batch: &[Mutation]) -> Result<Snapshot, MutationError> {
    let mut work = Work::new(snap);
    for (i, m) in batch.iter().enumerate() {
        work.apply(i, m)?;
    }
    let records = work.into_records();
    let mut b = Builder::with_capacity(records.len());
    for r in records {
        b.push(r);
    }
    // Every change was checked above; a failure here would be a bug of this module.
    Ok(b.build()
        .unwrap_or_else(|e| unreachable!("a validated batch built badly: {e}")))
}
