//! Mutations on the overlay: each one a few cuts, shifts and pastes of the piece tree.

use super::super::numbering::{Handle, Line};
use super::super::piece::{Leaf, Piece};
use super::super::Core;
use super::record_log::Fields;
use super::Overlay;
use crate::id::{Id, LIMIT};
use crate::mutation::{Mutation, MutationError, Removal};
use crate::record::Attributes;

/// The two pieces `leaf` makes when cut `off` resellers in.
fn cut(core: &Core, leaf: Leaf, off: u32) -> (Leaf, Leaf) {
    match leaf.piece {
        Piece::Run { s, e, shift, .. } => (
            core.run_leaf(s, s + off, shift),
            core.run_leaf(s + off, e, shift),
        ),
        // A single reseller has no inside to split.
        Piece::Node { .. } => (leaf, leaf),
    }
}

impl Overlay {
    /// Makes a boundary between pieces at line `l`.
    fn split(&mut self, core: &Core, l: Line) {
        if l.get() == 0 || l >= self.end_line() {
            return;
        }
        self.pieces.split_at(l, |leaf, off| cut(core, leaf, off));
    }

    /// Joins the pieces on both sides of line `l` when they are runs that continue
    /// each other, so that moving a subtree back does not leave them split.
    fn merge(&mut self, core: &Core, l: Line) {
        self.pieces.merge_at(l, |a, b| match (a.piece, b.piece) {
            (
                Piece::Run {
                    s,
                    e: e0,
                    shift: h0,
                    ..
                },
                Piece::Run {
                    s: s1, e, shift, ..
                },
            ) if e0 == s1 && h0 == shift => Some(core.run_leaf(s, e, shift)),
            _ => None,
        });
    }

    /// Takes out the one reseller at line `l`.
    fn cut_one(&mut self, core: &Core, l: Line) {
        self.pieces.remove_one(l, |leaf, off| cut(core, leaf, off));
    }

    /// Puts one reseller's single piece at line `l`. A single piece joins no other
    /// (only runs that continue each other do), so nothing is merged after it.
    fn insert(&mut self, core: &Core, l: Line, leaf: Leaf) {
        debug_assert!(matches!(leaf.piece, Piece::Node { .. }));
        self.pieces
            .insert_cutting(l, leaf, |leaf, off| cut(core, leaf, off));
    }

    /// Changes the depth of lines `lo..hi` by `by`.
    fn shift(&mut self, core: &Core, lo: Line, hi: Line, by: i64) {
        if lo >= hi || by == 0 {
            return;
        }
        self.split(core, lo);
        self.split(core, hi);
        self.pieces.shift(lo, hi, by);
        self.merge(core, lo);
        self.merge(core, hi);
    }

    /// Moves lines `lo..hi` to `to` (a line of the forest without them), `by` levels
    /// deeper.
    fn relocate(&mut self, core: &Core, lo: Line, hi: Line, to: Line, by: i64) {
        self.split(core, lo);
        self.split(core, hi);
        // Boundaries are the same positions once the pieces are out.
        self.split(core, if to < lo { to } else { to + (hi - lo) });
        self.pieces.relocate(lo, hi, to, by);
        let gap = if to >= lo { lo } else { hi };
        self.merge(core, gap);
        self.merge(core, to);
        self.merge(core, to + (hi - lo));
    }

    fn existing(&self, core: &Core, index: usize, id: &Id) -> Result<Handle, MutationError> {
        self.find(core, id).ok_or_else(|| MutationError::UnknownId {
            index,
            id: id.to_owned(),
        })
    }

    /// A new parent: `None`, or a present reseller.
    fn new_parent(
        &self,
        core: &Core,
        index: usize,
        id: &Id,
        parent: Option<&Id>,
    ) -> Result<Handle, MutationError> {
        match parent {
            None => Ok(Handle::NONE),
            Some(p) => self
                .find(core, p)
                .ok_or_else(|| MutationError::UnknownParent {
                    index,
                    id: id.to_owned(),
                    parent: p.to_owned(),
                }),
        }
    }

    /// Where a new last child of `q` goes (`Handle::NONE`: a new last root), and its
    /// depth; with `q`'s own line (none for no `q`).
    fn slot_under(&self, core: &Core, q: Handle) -> (Line, u32, Option<Line>) {
        if q.is_none() {
            (self.end_line(), 0, None)
        } else {
            let (line, end, depth) = self.place(core, q);
            (end, depth + 1, Some(line))
        }
    }

    /// Applies mutation `index` of a batch. On an error the overlay may be half
    /// changed: the caller drops it.
    pub(crate) fn apply(
        &mut self,
        core: &Core,
        index: usize,
        m: &Mutation,
    ) -> Result<(), MutationError> {
        match m {
            Mutation::Add(r) => {
                if self.find(core, &r.id).is_some() {
                    return Err(MutationError::DuplicateId {
                        index,
                        id: r.id.clone(),
                    });
                }
                // A record naming itself as parent is a root, as when building.
                let parent = r.parent.as_deref().filter(|&p| *p != r.id);
                let q = self.new_parent(core, index, &r.id, parent)?;
                if core.n() as usize + self.added.len() >= LIMIT {
                    return Err(MutationError::TooMany { index });
                }
                // The parent is where the piece goes; the record does not keep it.
                let at = self
                    .log
                    .push(Fields {
                        id: &r.id,
                        name: &r.name,
                        attributes: r.attributes.stored(),
                        capabilities: r.capabilities,
                        economic_enabled: r.economic_enabled,
                    })
                    .ok_or(MutationError::TooMany { index })?;
                let x = Handle::added(core.n(), self.added.len() as u32);
                self.added.push_back(at);
                self.ids.insert(&r.id, x);
                let (l, depth, _) = self.slot_under(core, q);
                self.insert(core, l, Overlay::single(x, depth, r.capabilities));
            }
            Mutation::Move { id, parent } => {
                let x = self.existing(core, index, id)?;
                if parent.as_ref() == Some(id) {
                    return Err(MutationError::OwnParent {
                        index,
                        id: id.clone(),
                    });
                }
                let q = self.new_parent(core, index, id, parent.as_deref())?;
                let (lo, hi, from) = self.place(core, x);
                let (l, to, q_line) = self.slot_under(core, q);
                if q_line.is_some_and(|ql| (lo..hi).contains(&ql)) {
                    return Err(MutationError::MoveUnderOwnDownline {
                        index,
                        id: id.clone(),
                        parent: parent.clone().unwrap_or_default(),
                    });
                }
                // `q` is outside `lo..hi`, so its slot is not inside it either, and
                // neither its slot's depth nor, after it, anything but its position
                // changes when the range is out.
                let l = if l >= hi { l - (hi - lo) } else { l };
                self.relocate(core, lo, hi, l, i64::from(to) - i64::from(from));
            }
            Mutation::Remove { id, removal } => {
                let x = self.existing(core, index, id)?;
                let (lo, hi, depth) = self.place(core, x);
                if *removal == Removal::LeafOnly && hi > lo + 1 {
                    let d = depth + 1;
                    return Err(MutationError::HasDownline {
                        index,
                        id: id.clone(),
                        children: self.count_at_depth(core, lo + 1..hi, d),
                    });
                }
                self.cut_one(core, lo);
                // The children take its place, one level up.
                self.shift(core, lo, hi - 1, -1);
                match x.base(core.n()) {
                    None => {
                        self.ids.remove(id, x);
                    }
                    Some(p) => {
                        self.removed.insert(p);
                        self.updated.remove(&p);
                    }
                }
            }
            Mutation::Update {
                id,
                name,
                capabilities,
                economic_enabled,
                attributes,
            } => {
                let x = self.existing(core, index, id)?;
                // One lookup of its record, for its capabilities and the push.
                let logged = self.logged(core, x);
                let before = self.caps_at(core, x, logged);
                let caps = capabilities.unwrap_or(before);
                let pushed = match logged {
                    Some(at) => self.log.push_changed(
                        at,
                        name.as_deref(),
                        attributes.as_ref(),
                        caps,
                        *economic_enabled,
                    ),
                    // A base reseller's first change: its record from the base.
                    None => {
                        let p = x.pos();
                        let stored = attributes.as_ref().map(Attributes::stored);
                        self.log.push(Fields {
                            id: core.ids.get(p),
                            name: name.as_deref().unwrap_or_else(|| core.payloads.name(p)),
                            attributes: stored.unwrap_or_else(|| core.payloads.attributes_text(p)),
                            capabilities: caps,
                            economic_enabled: economic_enabled
                                .unwrap_or_else(|| core.payloads.economic(p)),
                        })
                    }
                };
                let at = pushed.ok_or(MutationError::TooMany { index })?;
                match x.added_index(core.n()) {
                    Some(i) => {
                        self.added.set(i as usize, at);
                    }
                    None => {
                        self.updated.insert(x.pos(), at);
                        self.touched.insert(x.pos());
                    }
                }
                // A run reads capabilities from the base, and a single piece counts
                // its matches: either way the reseller gets a new single piece.
                if caps != before {
                    let (l, depth) = self.line_depth(core, x);
                    self.cut_one(core, l);
                    self.insert(core, l, Overlay::single(x, depth, caps));
                }
            }
        }
        Ok(())
    }
}
