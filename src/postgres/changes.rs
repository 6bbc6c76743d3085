//! [`Translation`]: one committed transaction's row changes as one batch of
//! [`Mutation`]s, applied atomically at the transaction's end LSN.
//!
//! # How
//!
//! Changes arrive in the order the transaction made them, and are translated against
//! the version before the batch plus what the batch did so far (`now`: the parent each
//! touched id has at this point of the batch, or its removal):
//!
//! - `INSERT` is [`Mutation::Add`].
//! - `UPDATE` is a [`Mutation::Move`] when the parent changed, and a
//!   [`Mutation::Update`] of the fields that differ from the version before the batch
//!   (all sent fields when the batch already added, moved or updated the row: a
//!   second update may undo the first). A large value the update did not send stays.
//! - `DELETE` is [`Mutation::Remove`] with [`Removal::ReattachDownline`]: with a foreign
//!   key the children were moved or deleted first and the reseller is a leaf; without
//!   one its children take its place, as the table now says (their parent is gone).
//!
//! **Sibling order.** A table has no order of its own, so the follower lists siblings
//! in id order ([`IdOrder`]), as the initial load does. The engine puts an added or
//! moved reseller after its new siblings. That is id order when its id is above every id
//! seen so far and the batch's arrivals under that parent come in id order: the usual
//! case, which costs nothing more. Otherwise (a transaction that took its id early
//! and committed late, a move, children re-attached by a removal) the batch ends with
//! moves that put the parent's children from the smallest arriving id on back in id
//! order: `O(children of that parent)` lookups, and a move for each child whose id is
//! above the smallest arrival.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{Id, Mutation, Removal, ResellerId, Snapshot};

use super::event::RowEvent;
use super::row::Row;
use super::sibling_order::IdOrder;

/// A parent, or the forest's roots (`None`).
type Parent = Option<ResellerId>;

/// A transaction being translated.
pub(crate) struct Translation {
    snap: Arc<Snapshot>,
    order: IdOrder,
    /// The largest id in the version before the batch.
    max_before: Option<ResellerId>,
    mutations: Vec<Mutation>,
    /// The source event of each mutation.
    events: Vec<RowEvent>,
    /// Where each id touched by the batch is now: `Some(parent)`, or `None` if removed.
    now: HashMap<ResellerId, Option<Parent>>,
    /// Ids whose fields the batch updated: a later update of one sends every field,
    /// since the version before the batch no longer says what the fields are.
    updated: std::collections::HashSet<ResellerId>,
    /// Ids placed under a parent by the batch, in order: id, the parent, whether it went
    /// in the middle (re-attached) rather than last, and the event.
    arrivals: Vec<(ResellerId, Parent, bool, usize)>,
}

impl Translation {
    /// A translation against `snap`, whose largest id is `max_before`.
    pub(crate) fn new(
        snap: Arc<Snapshot>,
        order: IdOrder,
        max_before: Option<ResellerId>,
    ) -> Translation {
        Translation {
            snap,
            order,
            max_before,
            mutations: Vec::new(),
            events: Vec::new(),
            now: HashMap::new(),
            updated: std::collections::HashSet::new(),
            arrivals: Vec::new(),
        }
    }

    /// Where `id` is at this point of the batch: `None` if absent.
    fn parent_of(&self, id: &Id) -> Option<Parent> {
        match self.now.get(id) {
            Some(now) => now.clone(),
            None => self.snap.get(id).map(|r| r.parent().map(ToOwned::to_owned)),
        }
    }

    fn push(&mut self, m: Mutation, event: &RowEvent) {
        self.mutations.push(m);
        self.events.push(event.clone());
    }

    fn arrive(&mut self, id: ResellerId, parent: Parent, middle: bool) {
        self.now.insert(id.clone(), Some(parent.clone()));
        self.arrivals
            .push((id, parent, middle, self.mutations.len().saturating_sub(1)));
    }

    pub(crate) fn insert(&mut self, row: Row, event: &RowEvent) {
        let (id, parent) = (row.id.clone(), row.parent.clone());
        let known = self.parent_of(&id).is_some();
        self.push(Mutation::Add(row.into_record()), event);
        // A duplicate is refused by the engine; do not pretend it arrived.
        if !known {
            self.arrive(id, parent, false);
        }
    }

    pub(crate) fn update(&mut self, row: Row, event: &RowEvent) {
        let Some(parent) = self.parent_of(&row.id) else {
            // Not there: the engine refuses the update, naming the id.
            self.push(update(row, None), event);
            return;
        };
        if parent != row.parent {
            let m = Mutation::Move {
                id: row.id.clone(),
                parent: row.parent.clone(),
            };
            self.push(m, event);
            self.arrive(row.id.clone(), row.parent.clone(), false);
        }
        let touched = self.now.contains_key(&row.id) || !self.updated.insert(row.id.clone());
        let before = match touched {
            true => None,
            false => self.snap.get(&row.id),
        };
        let m = update(row, before);
        if let Mutation::Update {
            name: None,
            capabilities: None,
            economic_enabled: None,
            attributes: None,
            ..
        } = m
        {
            return;
        }
        self.push(m, event);
    }

    pub(crate) fn delete(&mut self, id: ResellerId, event: &RowEvent) {
        // Children still under it take its place (no foreign key made them go).
        let reattached = self.parent_of(&id).map(|parent| {
            let mut children: Vec<ResellerId> = match self.snap.get(&id) {
                Some(r) => r
                    .children()
                    .map(|c| c.id().to_owned())
                    .filter(|c| !self.now.contains_key(c))
                    .collect(),
                None => Vec::new(),
            };
            let mut seen = std::collections::HashSet::new();
            for (c, _, _, _) in self.arrivals.iter().rev() {
                if seen.insert(c) && self.now.get(c) == Some(&Some(Some(id.clone()))) {
                    children.push(c.clone());
                }
            }
            (parent, children)
        });
        self.push(
            Mutation::Remove {
                id: id.clone(),
                removal: Removal::ReattachDownline,
            },
            event,
        );
        if let Some((parent, children)) = reattached {
            for c in children {
                self.arrive(c, parent.clone(), true);
            }
        }
        self.now.insert(id, None);
    }

    /// The batch, with the moves that restore id order among siblings, and the source
    /// event of each mutation.
    pub(crate) fn finish(mut self) -> (Vec<Mutation>, Vec<RowEvent>) {
        // The last arrival of each id that is still where it arrived, grouped by parent
        // in arrival order.
        let mut last = std::collections::HashSet::new();
        let mut groups: HashMap<Parent, Vec<(ResellerId, bool, usize)>> = HashMap::new();
        let mut parents: Vec<Parent> = Vec::new();
        for (id, parent, middle, event) in std::mem::take(&mut self.arrivals).into_iter().rev() {
            if !last.insert(id.clone()) || self.now.get(&id) != Some(&Some(parent.clone())) {
                continue;
            }
            let group = groups.entry(parent.clone()).or_insert_with(|| {
                parents.push(parent.clone());
                Vec::new()
            });
            group.push((id, middle, event));
        }
        parents.reverse();
        for parent in parents {
            let mut group = groups.remove(&parent).unwrap_or_default();
            group.reverse();
            self.restore_order(parent, group);
        }
        (self.mutations, self.events)
    }

    /// Moves that list `parent`'s children in id order again after `arrived`.
    fn restore_order(&mut self, parent: Parent, arrived: Vec<(ResellerId, bool, usize)>) {
        let order = self.order;
        let in_order = arrived
            .windows(2)
            .all(|w| order.cmp(&w[0].0, &w[1].0).is_lt());
        let above_all = match (arrived.first(), &self.max_before) {
            (Some((first, _, _)), Some(max)) => order.cmp(first, max).is_gt(),
            _ => true,
        };
        if in_order && above_all && arrived.iter().all(|(_, middle, _)| !middle) {
            return;
        }
        let Some((smallest, _, event)) =
            arrived.iter().min_by(|a, b| order.cmp(&a.0, &b.0)).cloned()
        else {
            return;
        };
        let snap = &self.snap;
        let old: Vec<ResellerId> = match &parent {
            None => snap.roots().map(|r| r.id().to_owned()).collect(),
            Some(p) => match snap.get(p) {
                Some(r) => r.children().map(|c| c.id().to_owned()).collect(),
                None => Vec::new(),
            },
        };
        let mut tail: Vec<ResellerId> = old
            .into_iter()
            .filter(|c| !self.now.contains_key(c) && order.cmp(c, &smallest).is_ge())
            .chain(arrived.into_iter().map(|(id, _, _)| id))
            .collect();
        tail.sort_by(|a, b| order.cmp(a, b));
        let source = self.events[event].clone();
        for id in tail {
            self.push(
                Mutation::Move {
                    id,
                    parent: parent.clone(),
                },
                &source,
            );
        }
    }
}

/// The update of `row`'s sent fields that differ from `before` (every sent field when
/// there is no `before`).
fn update(row: Row, before: Option<crate::Reseller<'_>>) -> Mutation {
    let differs = |same: bool| before.is_none() || !same;
    Mutation::Update {
        name: row
            .name
            .filter(|n| differs(before.is_some_and(|b| b.name() == n))),
        capabilities: row
            .capabilities
            .filter(|c| differs(before.is_some_and(|b| b.capabilities() == *c))),
        economic_enabled: row
            .economic_enabled
            .filter(|e| differs(before.is_some_and(|b| b.economic_enabled() == *e))),
        attributes: row
            .attributes
            .filter(|a| differs(before.is_some_and(|b| b.attributes().as_json() == a.as_json()))),
        id: row.id,
    }
}
