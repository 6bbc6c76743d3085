//! [`Translation`]: one committed transaction's row changes as one batch of
//! [`Mutation`]s, applied atomically at the transaction's end LSN.
//!
//! # How
//!
//! A table checks a transaction's rows as a whole (a foreign key at the end of each
//! statement, or at commit when deferred), so only the end of a transaction need be
//! a forest: within it a child may come before its parent (one `INSERT` of several
//! rows, a `COPY`), two resellers may trade places by way of a cycle, a row may be
//! deleted and inserted again. The engine checks each mutation of a batch against
//! the state the ones before it left, so the changes are not translated one by one
//! in the order they came. The translation gathers what the transaction did to each
//! id it touched: there before it or not, there after it or not, under which parent,
//! with which fields sent (a later change's over an earlier one's; an `INSERT` sends
//! every field, an `UPDATE` all but the large values it left as they were). Then it
//! writes a batch that goes from the version before to that end through valid steps
//! only:
//!
//! A row that the table leaves under a deleted one (there is no foreign key, or it
//! is deferred) counts as moved: to the roots, where a load of the table puts a row
//! naming a missing parent too, so that a replica that followed the delete and one
//! that loaded the table after it list the same (and the replica's links are the
//! table's, less the missing ones, so it has no cycle the table has not). So does an
//! inserted or moved row whose parent the transaction deletes. Such rows go on
//! naming the missing parent in the table ([`Strays`], kept by the follower from one
//! transaction to the next): a later change of one that sends that parent again
//! leaves it a root, and an insert of that parent takes its rows back under it.
//!
//! 1. With two moves or more, each moved reseller is first made a root (always
//!    valid), so that no later move goes under a reseller still hanging below one
//!    that moves.
//! 2. Each reseller there before and not after is removed with
//!    [`Removal::ReattachDownline`]: with a foreign key, its children were moved or
//!    deleted too and it is a leaf by then; otherwise they go in its place, and on
//!    to the roots in step 3.
//! 3. The inserted resellers and the moved ones go under their parents of the end,
//!    parents first: in the order of their depth among those placed, each parent is
//!    there before its children. (A cycle among them, which no table that is a
//!    forest has, is placed last for the engine to refuse.) With a single move, its
//!    reseller's downline holds only links of the end when it moves (the untouched,
//!    the removals' and the placed so far), so its new parent, not in its downline at
//!    the end, is not in it then either.
//! 4. Each reseller there before and after gets an update of the fields whose end
//!    value differs from the version before.
//!
//! A change that the state before it rules out (inserting an id that is there,
//! updating or deleting one that is not) ends the translation: the batch is the end
//! of the changes before it, then that change's own mutation, which the engine
//! refuses, naming it. Each mutation carries the last change of its id as its source.
//!
//! **Sibling order.** A table has no order of its own, so the follower lists siblings
//! in id order ([`IdOrder`]), as the initial load does. The engine puts an added or
//! moved reseller after its new siblings. That is id order when the arrivals under a
//! parent come in id order (step 3 places those of one depth in id order) and the
//! smallest is above every id of the version before: the usual case, which costs
//! nothing more. Otherwise (a transaction that took its id early and committed late,
//! a move, rows left under a deleted one) the batch ends with moves that put the
//! parent's children from the smallest arriving id on back in id order: `O(children of
//! that parent)` lookups, and a move for each child whose id is above the smallest
//! arrival.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::{Attributes, Capabilities, Id, Mutation, Record, Removal, ResellerId, Snapshot};

use super::event::RowEvent;
use super::row::{Row, Sent};
use super::sibling_order::IdOrder;
use super::strays::{StrayChange, Strays};

#[cfg(test)]
mod tests;

/// A parent, or the forest's roots (`None`).
type Parent = Option<ResellerId>;

/// The fields of a row that a transaction's changes sent, a later change's over an
/// earlier one's; a field not sent keeps its value from the version before.
#[derive(Clone, Debug, Default)]
struct Fields {
    name: Sent<String>,
    capabilities: Sent<Capabilities>,
    economic_enabled: Sent<bool>,
    attributes: Sent<Attributes>,
}

impl Fields {
    /// `row`'s id, parent and sent fields.
    fn of(row: Row) -> (ResellerId, Parent, Fields) {
        let fields = Fields {
            name: row.name,
            capabilities: row.capabilities,
            economic_enabled: row.economic_enabled,
            attributes: row.attributes,
        };
        (row.id, row.parent, fields)
    }

    /// These fields with those `later` sent over them.
    fn then(self, later: Fields) -> Fields {
        Fields {
            name: later.name.or(self.name),
            capabilities: later.capabilities.or(self.capabilities),
            economic_enabled: later.economic_enabled.or(self.economic_enabled),
            attributes: later.attributes.or(self.attributes),
        }
    }

    /// The record of a row these fields describe whole (an insert sent every one).
    fn record(self, id: ResellerId, parent: Parent) -> Record {
        Record::new(id, parent)
            .name(self.name.unwrap_or_default())
            .capabilities(self.capabilities.unwrap_or(Capabilities::NONE))
            .economic_enabled(self.economic_enabled.unwrap_or(false))
            .attributes(self.attributes.unwrap_or_else(Attributes::none))
    }

    /// The update of the fields that differ from `before` (every field sent when
    /// there is no `before`); `None` when none does.
    fn update(self, id: ResellerId, before: Option<crate::Reseller<'_>>) -> Option<Mutation> {
        let differs = |same: bool| before.is_none() || !same;
        let name = self
            .name
            .filter(|n| differs(before.is_some_and(|b| b.name() == n)));
        let capabilities = self
            .capabilities
            .filter(|c| differs(before.is_some_and(|b| b.capabilities() == *c)));
        let economic_enabled = self
            .economic_enabled
            .filter(|e| differs(before.is_some_and(|b| b.economic_enabled() == *e)));
        let attributes = self
            .attributes
            .filter(|a| differs(before.is_some_and(|b| b.attributes().as_json() == a.as_json())));
        let nothing = name.is_none()
            && capabilities.is_none()
            && economic_enabled.is_none()
            && attributes.is_none();
        (!nothing).then_some(Mutation::Update {
            id,
            name,
            capabilities,
            economic_enabled,
            attributes,
        })
    }
}

/// Where a touched id is at some point of the transaction.
#[derive(Clone, Debug)]
struct Placed {
    parent: Parent,
    fields: Fields,
}

/// What a transaction did to one id so far.
#[derive(Clone, Debug)]
struct Touched {
    /// Its parent in the version before, if it was there.
    before: Option<Parent>,
    /// Where it is now; `None`: not there.
    now: Option<Placed>,
    /// Its last change.
    event: RowEvent,
}

impl Touched {
    /// Its parent at the end, if it is there.
    fn parent(&self) -> Option<&Parent> {
        self.now.as_ref().map(|p| &p.parent)
    }

    /// There before and after, under another parent.
    fn moved(&self) -> bool {
        matches!((&self.before, self.parent()), (Some(b), Some(a)) if b != a)
    }

    /// There before, not after.
    fn deleted(&self) -> bool {
        self.before.is_some() && self.now.is_none()
    }

    /// There after, not before.
    fn added(&self) -> bool {
        self.before.is_none() && self.now.is_some()
    }
}

/// A reseller placed last under a parent by the batch: its id, and the index of the
/// mutation that placed it.
type Arrival = (ResellerId, usize);

/// A transaction being translated.
pub(crate) struct Translation {
    snap: Arc<Snapshot>,
    order: IdOrder,
    /// The largest id in the version before the batch.
    max_before: Option<ResellerId>,
    /// Every id touched, in the order first touched.
    ids: Vec<ResellerId>,
    touched: HashMap<ResellerId, Touched>,
    /// The first change that the state before it ruled out: its mutation and event.
    ruled_out: Option<(Mutation, RowEvent)>,
    /// Rows the table names a missing parent for, as of the version before.
    strays: Arc<Strays>,
    /// Strays that this transaction gave a parent that is there, or deleted.
    settled: HashSet<ResellerId>,
    mutations: Vec<Mutation>,
    /// The source event of each mutation.
    events: Vec<RowEvent>,
}

impl Translation {
    /// A translation against `snap`, whose largest id is `max_before`, and whose rows
    /// naming a missing parent are `strays`.
    pub(crate) fn new(
        snap: Arc<Snapshot>,
        order: IdOrder,
        max_before: Option<ResellerId>,
        strays: Arc<Strays>,
    ) -> Translation {
        Translation {
            snap,
            order,
            max_before,
            ids: Vec::new(),
            touched: HashMap::new(),
            ruled_out: None,
            strays,
            settled: HashSet::new(),
            mutations: Vec::new(),
            events: Vec::new(),
        }
    }

    /// What the transaction did to `id` so far (nothing yet: where the version before
    /// has it, `event` standing as its last change until the caller records one).
    fn touch(&mut self, id: &ResellerId, event: &RowEvent) -> &mut Touched {
        let (snap, ids) = (&self.snap, &mut self.ids);
        self.touched.entry(id.clone()).or_insert_with(|| {
            let before = snap.get(id).map(|r| r.parent().map(ToOwned::to_owned));
            let now = before.clone().map(|parent| Placed {
                parent,
                fields: Fields::default(),
            });
            ids.push(id.clone());
            Touched {
                before,
                now,
                event: event.clone(),
            }
        })
    }

    pub(crate) fn insert(&mut self, row: Row, event: &RowEvent) {
        if self.ruled_out.is_some() {
            return;
        }
        let (id, parent, fields) = Fields::of(row);
        let t = self.touch(&id, event);
        if t.now.is_some() {
            let m = Mutation::Add(fields.record(id, parent));
            self.ruled_out = Some((m, event.clone()));
            return;
        }
        t.now = Some(Placed { parent, fields });
        t.event = event.clone();
        // Rows that named this id while it was missing are its children again.
        let back: Vec<ResellerId> = self
            .strays
            .naming(&id)
            .filter(|c| !self.settled.contains(*c))
            .cloned()
            .collect();
        for c in back {
            self.settled.insert(c.clone());
            let t = self.touch(&c, event);
            if let Some(now) = t.now.as_mut() {
                now.parent = Some(id.clone());
                t.event = event.clone();
            }
        }
    }

    /// The missing parent `row` names, if it is a stray this transaction has not
    /// settled.
    fn stray_parent(&self, row: &Id) -> Option<&ResellerId> {
        self.strays
            .named(row)
            .filter(|_| !self.settled.contains(row))
    }

    pub(crate) fn update(&mut self, row: Row, event: &RowEvent) {
        if self.ruled_out.is_some() {
            return;
        }
        let (id, mut parent, fields) = Fields::of(row);
        match self.stray_parent(&id) {
            // The missing parent it named: it stays where the replica has it.
            Some(named) if parent.as_ref() == Some(named) => {
                parent = match self.touched.get(&id) {
                    Some(t) => t.parent().cloned().unwrap_or(parent),
                    None => match self.snap.get(&id) {
                        Some(r) => r.parent().map(ToOwned::to_owned),
                        None => parent,
                    },
                };
            }
            Some(_) => {
                self.settled.insert(id.clone());
            }
            None => {}
        }
        let t = self.touch(&id, event);
        match t.now.take() {
            Some(now) => {
                t.now = Some(Placed {
                    parent,
                    fields: now.fields.then(fields),
                });
                t.event = event.clone();
            }
            None => {
                // Not there: the engine refuses the update, naming the id.
                let m = fields.update(id.clone(), None).unwrap_or(Mutation::Update {
                    id,
                    name: None,
                    capabilities: None,
                    economic_enabled: None,
                    attributes: None,
                });
                self.ruled_out = Some((m, event.clone()));
            }
        }
    }

    pub(crate) fn delete(&mut self, id: ResellerId, event: &RowEvent) {
        if self.ruled_out.is_some() {
            return;
        }
        let t = self.touch(&id, event);
        if t.now.take().is_none() {
            let m = Mutation::Remove {
                id,
                removal: Removal::ReattachDownline,
            };
            self.ruled_out = Some((m, event.clone()));
            return;
        }
        t.event = event.clone();
        if self.strays.named(&id).is_some() {
            self.settled.insert(id);
        }
    }

    fn push(&mut self, m: Mutation, event: RowEvent) -> usize {
        self.mutations.push(m);
        self.events.push(event);
        self.mutations.len() - 1
    }

    /// Whether `id` was touched and is not there now.
    fn gone(&self, id: &Id) -> bool {
        self.touched.get(id).is_some_and(|t| t.now.is_none())
    }

    /// Where a row naming `parent` ends: under it, or a root if the transaction
    /// deleted it (the row names a missing parent, a stray).
    fn end_of(&self, parent: &Parent) -> Parent {
        parent.clone().filter(|p| !self.gone(p))
    }

    /// Strays this transaction settled (sent to another parent, or deleted) that end
    /// naming the same missing parent again (sent back, or inserted again as they
    /// were): the table names what it named before, so they stay strays, where the
    /// replica showed them (a root). Not when the transaction touched that parent (inserted it,
    /// perhaps deleted it again): then it is placed as any row under it.
    fn unsettle_returned_strays(&mut self) {
        let settled: Vec<ResellerId> = self.settled.iter().cloned().collect();
        for id in settled {
            let Some(named) = self.strays.named(&id) else {
                continue;
            };
            if self.touched.contains_key(named) {
                continue;
            }
            let Some(t) = self.touched.get_mut(&id) else {
                continue;
            };
            let (Some(now), Some(shown)) = (t.now.as_mut(), t.before.clone()) else {
                continue;
            };
            if now.parent.as_ref() == Some(named) {
                now.parent = shown;
                self.settled.remove(&id);
            }
        }
    }

    /// The batch, the source event of each mutation (see the module docs), and the
    /// changes to the strays once it is applied.
    pub(crate) fn finish(mut self) -> (Vec<Mutation>, Vec<RowEvent>, Vec<StrayChange>) {
        self.unsettle_returned_strays();
        let ids = std::mem::take(&mut self.ids);
        let deleted: Vec<ResellerId> = ids
            .iter()
            .filter(|i| self.touched[*i].deleted())
            .cloned()
            .collect();
        // The resellers to place, each with the parent the table gives it and the
        // event its move or add comes from: the moved and the added, then the rows
        // the table leaves under a deleted one.
        let mut placed: Vec<(ResellerId, Parent, RowEvent)> = ids
            .iter()
            .filter_map(|id| {
                let t = &self.touched[id];
                let parent = t.parent()?.clone();
                (t.moved() || t.added()).then(|| (id.clone(), parent, t.event.clone()))
            })
            .collect();
        for d in &deleted {
            let Some(r) = self.snap.get(d) else { continue };
            let parent = Some(d.clone());
            for c in r.children() {
                let c = c.id().to_owned();
                if self.stays_under(&c, &parent) {
                    // Moved by the delete, whatever else changed it.
                    placed.push((c, parent.clone(), self.touched[d].event.clone()));
                }
            }
        }
        // Where each ends: under that parent, or a root if the transaction deleted it.
        let end: HashMap<ResellerId, Parent> = placed
            .iter()
            .map(|(id, parent, _)| (id.clone(), self.end_of(parent)))
            .collect();
        // The strays settled, then the rows made roots for a deleted parent: the
        // table names their missing parent (a stray already names one, which stays).
        let mut strays: Vec<StrayChange> = self.settled.iter().map(|c| (c.clone(), None)).collect();
        for (id, parent, _) in &placed {
            if let Some(p) = parent.as_ref().filter(|_| end[id] != *parent) {
                if self.stray_parent(id).is_none() {
                    strays.push((id.clone(), Some(p.clone())));
                }
            }
        }
        let there_before = |id: &ResellerId| match self.touched.get(id) {
            Some(t) => t.before.clone(),
            None => self.snap.get(id).map(|r| r.parent().map(ToOwned::to_owned)),
        };
        let before: HashMap<ResellerId, Option<Parent>> = placed
            .iter()
            .map(|(id, _, _)| (id.clone(), there_before(id)))
            .collect();
        let mut arrivals: HashMap<Parent, Vec<Arrival>> = HashMap::new();
        let mut parents: Vec<Parent> = Vec::new();
        let mut arrive = |parent: &Parent, arrival: Arrival| {
            arrivals
                .entry(parent.clone())
                .or_insert_with(|| {
                    parents.push(parent.clone());
                    Vec::new()
                })
                .push(arrival);
        };

        // 1. With two moves or more, the moved resellers out from under one another.
        let moves = placed
            .iter()
            .filter(|(id, _, _)| before[id].is_some())
            .count();
        let detach = moves >= 2;
        if detach {
            for (id, _, event) in &placed {
                match &before[id] {
                    None | Some(None) => continue, // added, or a root already
                    Some(Some(_)) => {}
                }
                let m = Mutation::Move {
                    id: id.clone(),
                    parent: None,
                };
                let at = self.push(m, event.clone());
                if end[id].is_none() {
                    arrive(&None, (id.clone(), at));
                }
            }
        }

        // 2. Removals (a row the table leaves under a removed reseller goes in its
        // place, then to the roots in step 3).
        for id in &deleted {
            let event = self.touched[id].event.clone();
            let m = Mutation::Remove {
                id: id.clone(),
                removal: Removal::ReattachDownline,
            };
            self.push(m, event);
        }

        // 3. Inserted and moved resellers under their parents, parents first.
        let ids_placed: Vec<ResellerId> = placed.iter().map(|(id, _, _)| id.clone()).collect();
        let depth = depths(&ids_placed, |id| {
            end[id].clone().filter(|p| end.contains_key(p))
        });
        let ids_order = self.order;
        placed.sort_by(|a, b| {
            depth[&a.0]
                .cmp(&depth[&b.0])
                .then_with(|| ids_order.cmp(&a.0, &b.0))
        });
        for (id, _, event) in placed {
            let parent = end[&id].clone();
            let m = match &before[&id] {
                Some(Some(_)) if detach && parent.is_none() => continue, // made a root in step 1
                Some(_) => Mutation::Move {
                    id: id.clone(),
                    parent: parent.clone(),
                },
                None => {
                    let Some(now) = self.touched[&id].now.clone() else {
                        continue;
                    };
                    Mutation::Add(now.fields.record(id.clone(), parent.clone()))
                }
            };
            let at = self.push(m, event);
            arrive(&parent, (id, at));
        }

        // 4. Fields that end up differing from the version before.
        for id in &ids {
            let t = &self.touched[id];
            let (Some(_), Some(now)) = (&t.before, &t.now) else {
                continue;
            };
            let event = t.event.clone();
            if let Some(m) = now.fields.clone().update(id.clone(), self.snap.get(id)) {
                self.push(m, event);
            }
        }

        match self.ruled_out.take() {
            // The batch is refused at its last mutation: no order to restore.
            Some((m, event)) => {
                self.push(m, event);
            }
            None => {
                for parent in parents {
                    let group = arrivals.remove(&parent).unwrap_or_default();
                    self.restore_order(parent, group);
                }
            }
        }
        (self.mutations, self.events, strays)
    }

    /// Whether `c`, a child of `parent` in the version before, is still under it.
    fn stays_under(&self, c: &Id, parent: &Parent) -> bool {
        match self.touched.get(c) {
            None => true,
            Some(t) => t.parent() == Some(parent),
        }
    }

    /// Moves that list `parent`'s children in id order again after `arrived`.
    fn restore_order(&mut self, parent: Parent, arrived: Vec<Arrival>) {
        let order = self.order;
        let in_order = arrived
            .windows(2)
            .all(|w| order.cmp(&w[0].0, &w[1].0).is_lt());
        let above_all = match (arrived.first(), &self.max_before) {
            (Some((first, _)), Some(max)) => order.cmp(first, max).is_gt(),
            _ => true,
        };
        if in_order && above_all {
            return;
        }
        let Some((smallest, at)) = arrived.iter().min_by(|a, b| order.cmp(&a.0, &b.0)).cloned()
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
            .filter(|c| self.stays_under(c, &parent) && order.cmp(c, &smallest).is_ge())
            .chain(arrived.into_iter().map(|(id, _)| id))
            .collect();
        tail.sort_by(|a, b| order.cmp(a, b));
        let source = self.events[at].clone();
        for id in tail {
            self.push(
                Mutation::Move {
                    id,
                    parent: parent.clone(),
                },
                source.clone(),
            );
        }
    }
}

/// The depth of each of `ids` among them: 0 for one whose parent (`parent_in`, or
/// `None` when the parent is not one of them) is not one of them, else one more than
/// its parent's. Ids on a cycle (which no forest has) get `usize::MAX`. Walks each
/// chain once, with a stack of its own, not by recursion: a chain may be long.
fn depths(
    ids: &[ResellerId],
    parent_in: impl Fn(&ResellerId) -> Option<ResellerId>,
) -> HashMap<ResellerId, usize> {
    let mut depth: HashMap<ResellerId, usize> = HashMap::with_capacity(ids.len());
    let mut chain: Vec<ResellerId> = Vec::new();
    let mut on_chain: HashSet<ResellerId> = HashSet::new();
    for id in ids {
        let mut at = id.clone();
        let base = loop {
            if let Some(&d) = depth.get(&at) {
                break d.saturating_add(1);
            }
            if !on_chain.insert(at.clone()) {
                break usize::MAX; // a cycle
            }
            chain.push(at.clone());
            match parent_in(&at) {
                Some(p) => at = p,
                None => break 0,
            }
        };
        // `base` is the depth of the chain's last id; those before it are deeper.
        let mut d = base;
        let cycle = base == usize::MAX;
        // Emptied an id at a time: clearing a hash set costs its capacity.
        for id in chain.drain(..).rev() {
            on_chain.remove(&id);
            depth.insert(id, d);
            if !cycle {
                d += 1;
            }
        }
    }
    depth
}
