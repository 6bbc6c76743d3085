//! Every reseller of a changed version in order: what rebuilds, summaries and the
//! invariant check start from.

use std::collections::HashSet;

use super::super::numbering::{Handle, Line, Pos};
use super::super::piece::Piece;
use super::super::Core;
use super::Overlay;
use crate::builder::Columns;
use crate::id::NONE;

impl Overlay {
    /// Every reseller with its parent (`Handle::NONE` for a root) and depth, in the
    /// version's pre-order, in `O(n)`: what a rebuild, `summary` and `validate` start
    /// from.
    pub(crate) fn walk(&self, core: &Core, mut visit: impl FnMut(Handle, Handle, u32)) {
        let mut stack: Vec<Handle> = Vec::new();
        let mut depths: Vec<u32> = Vec::new();
        for (_, leaf) in self.pieces.walk_from(Line::new(0)) {
            match leaf.piece {
                Piece::Node { x, depth } => {
                    stack.truncate(depth as usize);
                    visit(x, stack.last().copied().unwrap_or(Handle::NONE), depth);
                    stack.push(x);
                }
                Piece::Run { s, e, shift, .. } => {
                    depths.clear();
                    for p in Pos::each(s..e) {
                        let q = core.parent[p.idx()];
                        let d = if !q.is_none() && q >= s {
                            depths[(q - s) as usize] + 1
                        } else {
                            (i64::from(core.depth_at(p)) + shift) as u32
                        };
                        depths.push(d);
                        stack.truncate(d as usize);
                        visit(
                            Handle::of(p),
                            stack.last().copied().unwrap_or(Handle::NONE),
                            d,
                        );
                        stack.push(Handle::of(p));
                    }
                }
            }
        }
    }

    /// Every reseller of the version in its pre-order, as a build's columns, and each
    /// one's parent as an index into them (`NONE` for a root): what a fold lays a new
    /// base out from. The names and attributes are copied from the base's payload
    /// chunks and the record log into the columns' two arenas, so a million resellers
    /// are a handful of allocations (ids over 24 bytes aside), not a `Record` and its
    /// strings each; the parents need no lookup by id.
    pub(crate) fn columns(&self, core: &Core) -> (Columns, Vec<u32>) {
        let n = self.len() as usize;
        let mut columns = Columns::linked(n);
        let mut parent: Vec<u32> = Vec::with_capacity(n);
        // The indices of the current reseller's ancestors, by depth.
        let mut above: Vec<u32> = Vec::new();
        // Runs list base resellers by position, so most are told unchanged from one
        // word of the updated bits per 64 of them.
        let mut touched = self.touched.scan();
        self.walk(core, |x, _, d| {
            above.truncate(d as usize);
            parent.push(above.last().copied().unwrap_or(NONE));
            above.push(columns.len() as u32);
            let changed = match x.base(core.n()) {
                Some(p) if !touched.contains(p) => None,
                _ => self.changed(core, x),
            };
            match changed {
                Some(r) => columns.push_fields(
                    r.id().to_owned(),
                    None,
                    r.name(),
                    r.capabilities(),
                    r.economic_enabled(),
                    r.attributes_text(),
                ),
                None => {
                    let p = x.pos();
                    columns.push_fields(
                        core.ids.get(p).to_owned(),
                        None,
                        core.payloads.name(p),
                        core.caps[p.idx()],
                        core.payloads.economic(p),
                        core.payloads.attributes_text(p),
                    );
                }
            }
        });
        (columns, parent)
    }

    /// Checks the overlay against a walk of its pieces. For [`Snapshot::validate`].
    ///
    /// [`Snapshot::validate`]: super::Snapshot::validate
    pub(crate) fn check(&self, core: &Core) -> Result<(), String> {
        self.pieces.check()?;
        let mut seen = HashSet::new();
        let mut at = Line::new(0);
        for (i, (start, leaf)) in self.pieces.walk_from(Line::new(0)).enumerate() {
            let piece = leaf.piece;
            if start != at || piece.len() == 0 {
                return Err(format!("piece {i} starts at {start:?} or is empty"));
            }
            at += piece.len();
            match piece {
                Piece::Run { s, e, shift, .. } => {
                    if leaf != core.run_leaf(s, e, shift) {
                        return Err(format!("piece {i}: wrong depth bounds or matches"));
                    }
                    let changed = |p: &Pos| self.caps(core, Handle::of(*p)) != core.caps[p.idx()];
                    if let Some(p) = Pos::each(s..e).find(changed) {
                        return Err(format!("changed capabilities of {p:?} inside a run"));
                    }
                }
                Piece::Node { x, depth } => {
                    if leaf != Overlay::single(x, depth, self.caps(core, x)) {
                        return Err(format!("piece {i}: wrong matches"));
                    }
                }
            }
        }
        if self.end_line() != at {
            return Err("the length is not the sum of the pieces".into());
        }
        let live = core.n() as usize - self.removed.len() + self.ids.len();
        if at.idx() != live {
            return Err(format!("{} resellers listed, {live} present", at.get()));
        }
        // Depths, parents and downline ends against a plain walk.
        let mut order: Vec<(Handle, Handle, u32)> = Vec::with_capacity(at.idx());
        self.walk(core, |x, parent, d| order.push((x, parent, d)));
        let mut ends = vec![at; order.len()];
        let mut open: Vec<usize> = Vec::new();
        for (l, &(x, parent, d)) in order.iter().enumerate() {
            if !seen.insert(x) {
                return Err(format!("reseller {x:?} listed twice"));
            }
            if x.base(core.n()).is_some_and(|p| self.removed.contains(p)) {
                return Err(format!("removed reseller {x:?} listed"));
            }
            if l == 0 && d != 0 || l > 0 && d > order[l - 1].2 + 1 {
                return Err(format!("depth jumps to {d} at {l}"));
            }
            while open.last().is_some_and(|&o| order[o].2 >= d) {
                ends[open.pop().unwrap_or(0)] = Line::at(l);
            }
            open.push(l);
            if self.line(x) != Line::at(l) || self.node_at(Line::at(l)) != x {
                return Err(format!("reseller {x:?} is not found at {l}"));
            }
            if self.depth(core, x) != d || self.parent(core, x) != parent {
                return Err(format!("depth or parent of {x:?} is wrong"));
            }
        }
        for (l, &(x, ..)) in order.iter().enumerate() {
            if self.end(core, x) != ends[l] {
                return Err(format!("downline of {x:?} should end at {:?}", ends[l]));
            }
        }
        for x in self.ids.handles() {
            let Some(id) = self.added_id(core, x) else {
                return Err(format!("the ids map to {x:?}, which was not added"));
            };
            if self.ids.get(id, |y| self.added_id(core, y)) != Some(x) {
                return Err(format!("id {id:?} does not map to its reseller"));
            }
            if !seen.contains(&x) {
                return Err(format!("the ids map to {x:?}, which is not listed"));
            }
        }
        if let Some(p) = self.updated.keys().find(|&&p| !self.touched.contains(p)) {
            return Err(format!("updated reseller {p:?} has no bit"));
        }
        // Every base reseller is either listed or removed, never both (the count of
        // removed ones above agrees only if their bits do).
        if let Some(p) = (0..core.n())
            .map(Pos::new)
            .find(|&p| self.removed.contains(p) == seen.contains(&Handle::of(p)))
        {
            return Err(format!(
                "base reseller {p:?} is both or neither listed and removed"
            ));
        }
        Ok(())
    }
}
