//! Transactions whose steps the engine would refuse one by one but whose end is a
//! forest, checked against a model of the table at the end: rows by id, children and
//! roots in id order, walked with an explicit stack.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use proptest::prelude::*;

use super::Translation;
use crate::postgres::event::{RowChange, RowEvent};
use crate::postgres::row::Row;
use crate::postgres::sibling_order::IdOrder;
use crate::postgres::strays::{StrayChange, Strays};
use crate::postgres::Lsn;
use crate::{Attributes, Capabilities, Capability, Mutation, MutationError, Record, Snapshot};

/// A row of the model: parent and the fields a change sends.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ModelRow {
    parent: Option<u32>,
    name: String,
    caps: Capabilities,
    economic: bool,
}

/// One change to the table.
#[derive(Clone, Debug)]
enum Change {
    Insert(u32, ModelRow),
    /// An update; `name` not sent when `None` (a large value left as it was).
    Update(u32, Option<u32>, Option<String>, Capabilities, bool),
    Delete(u32),
}

fn id(i: u32) -> crate::ResellerId {
    crate::ResellerId::from(u64::from(i))
}

fn snapshot(rows: &BTreeMap<u32, ModelRow>) -> Snapshot {
    // In id order, so that the builder lists siblings in id order too.
    Snapshot::build(rows.iter().map(|(&i, r)| {
        Record::new(id(i), r.parent.map(id))
            .name(r.name.clone())
            .capabilities(r.caps)
            .economic_enabled(r.economic)
    }))
    .unwrap()
}

/// `(id, parent, name, capabilities, economic)` in pre-order, children and roots in
/// id order: the model's listing.
fn model_listing(
    rows: &BTreeMap<u32, ModelRow>,
) -> Vec<(String, Option<String>, String, Capabilities, bool)> {
    let mut children: BTreeMap<Option<u32>, Vec<u32>> = BTreeMap::new();
    for (&i, r) in rows {
        children.entry(r.parent).or_default().push(i);
    }
    let mut out = Vec::new();
    let mut stack: Vec<u32> = children.get(&None).cloned().unwrap_or_default();
    stack.reverse();
    while let Some(i) = stack.pop() {
        let r = &rows[&i];
        out.push((
            i.to_string(),
            r.parent.map(|p| p.to_string()),
            r.name.clone(),
            r.caps,
            r.economic,
        ));
        if let Some(c) = children.get(&Some(i)) {
            stack.extend(c.iter().rev());
        }
    }
    out
}

/// The same listing of a snapshot, in its own sibling order.
fn listing(s: &Snapshot) -> Vec<(String, Option<String>, String, Capabilities, bool)> {
    let mut out = Vec::new();
    let mut stack: Vec<crate::Reseller<'_>> = s.roots().collect();
    stack.reverse();
    while let Some(r) = stack.pop() {
        out.push((
            r.id().as_str().to_owned(),
            r.parent().map(|p| p.as_str().to_owned()),
            r.name().to_owned(),
            r.capabilities(),
            r.economic_enabled(),
        ));
        let mut c: Vec<_> = r.children().collect();
        c.reverse();
        stack.extend(c);
    }
    out
}

fn row(
    i: u32,
    parent: Option<u32>,
    name: Option<String>,
    caps: Capabilities,
    economic: bool,
    attributes: bool,
) -> Row {
    Row {
        id: id(i),
        parent: parent.map(id),
        name,
        capabilities: Some(caps),
        economic_enabled: Some(economic),
        attributes: attributes.then(Attributes::none),
    }
}

/// The batch `changes` translate to against `before`, with no strays.
fn translate(before: &Arc<Snapshot>, changes: &[Change]) -> (Vec<Mutation>, Vec<RowEvent>) {
    let (batch, events, _) = translate_with(before, &Arc::default(), changes);
    (batch, events)
}

/// The batch `changes` translate to against `before` and `strays`, and the changes
/// of the strays.
fn translate_with(
    before: &Arc<Snapshot>,
    strays: &Arc<Strays>,
    changes: &[Change],
) -> (Vec<Mutation>, Vec<RowEvent>, Vec<StrayChange>) {
    let max = before
        .iter()
        .map(|r| r.id().as_str().parse::<u64>().unwrap())
        .max()
        .map(crate::ResellerId::from);
    let mut t = Translation::new(before.clone(), IdOrder::Numeric, max, strays.clone());
    for (k, c) in changes.iter().enumerate() {
        let event = |change, i: u32| RowEvent {
            change,
            id: id(i),
            lsn: Lsn::new(k as u64 + 1),
            xid: 7,
        };
        match c.clone() {
            Change::Insert(i, r) => {
                let e = event(RowChange::Insert, i);
                t.insert(row(i, r.parent, Some(r.name), r.caps, r.economic, true), &e);
            }
            Change::Update(i, parent, name, caps, economic) => {
                let e = event(RowChange::Update, i);
                t.update(row(i, parent, name, caps, economic, false), &e);
            }
            Change::Delete(i) => {
                let e = event(RowChange::Delete, i);
                t.delete(id(i), &e);
            }
        }
    }
    t.finish()
}

/// The version `changes` make of `before` (which the engine accepts), and the strays
/// they leave.
fn applied_with_strays(before: &Arc<Snapshot>, changes: &[Change]) -> (Arc<Snapshot>, Arc<Strays>) {
    let (batch, _, changed) = translate_with(before, &Arc::default(), changes);
    let after = Arc::new(before.with_changes(&batch).unwrap());
    let mut strays = Strays::default();
    strays.apply(changed);
    (after, Arc::new(strays))
}

fn caps_of(bits: u8) -> Capabilities {
    Capability::ALL
        .iter()
        .enumerate()
        .filter(|(k, _)| (bits >> k) & 1 == 1)
        .map(|(_, &c)| c)
        .collect()
}

/// A forest over `present` ids (a parent before its child in `rank`), with fields.
fn forest(
    present: &[u32],
    parents: &[Option<usize>],
    fields: &[(u8, u8, bool)],
) -> BTreeMap<u32, ModelRow> {
    present
        .iter()
        .enumerate()
        .map(|(k, &i)| {
            let parent = parents[k].filter(|_| k > 0).map(|p| present[p % k]);
            let (name, caps, economic) = fields[k];
            (
                i,
                ModelRow {
                    parent,
                    name: format!("n{}", name % 3),
                    caps: caps_of(caps),
                    economic,
                },
            )
        })
        .collect()
}

/// A transaction from `before` to `after`: per id, a few changes through states
/// the engine would refuse (another parent, a cycle, a child before its parent, a
/// delete and insert again), interleaved across ids by `mix`.
fn transaction(
    before: &BTreeMap<u32, ModelRow>,
    after: &BTreeMap<u32, ModelRow>,
    detour: &[(u8, u32)],
    mix: &[usize],
) -> Vec<Change> {
    let mut per_id: Vec<Vec<Change>> = Vec::new();
    let ids: std::collections::BTreeSet<u32> = before.keys().chain(after.keys()).copied().collect();
    for (k, &i) in ids.iter().enumerate() {
        let (how, other) = detour[k % detour.len()];
        let other = Some(other % 14).filter(|&o| o != i && o != 0);
        let mut seq = Vec::new();
        let send = |r: &ModelRow, name: bool| {
            Change::Update(
                i,
                r.parent,
                name.then(|| r.name.clone()),
                r.caps,
                r.economic,
            )
        };
        match (before.get(&i), after.get(&i)) {
            (Some(b), Some(a)) => match how % 4 {
                0 => seq.push(send(a, true)),
                1 => {
                    seq.push(Change::Update(i, other, None, b.caps, b.economic));
                    seq.push(send(a, true));
                }
                2 => {
                    seq.push(Change::Delete(i));
                    seq.push(Change::Insert(i, a.clone()));
                }
                // The name left unsent where it does not change.
                _ => seq.push(send(a, a.name != b.name)),
            },
            (Some(b), None) => {
                if how % 2 == 1 {
                    seq.push(Change::Update(i, other, None, b.caps, b.economic));
                }
                seq.push(Change::Delete(i));
            }
            (None, Some(a)) => match how % 3 {
                0 => seq.push(Change::Insert(i, a.clone())),
                1 => {
                    let mut first = a.clone();
                    first.parent = other;
                    seq.push(Change::Insert(i, first));
                    seq.push(send(a, true));
                }
                _ => {
                    seq.push(Change::Insert(i, a.clone()));
                    seq.push(Change::Delete(i));
                    seq.push(Change::Insert(i, a.clone()));
                }
            },
            (None, None) => {}
        }
        per_id.push(seq);
    }
    // Interleave, each id's changes in their order.
    let mut out = Vec::new();
    let mut next = vec![0usize; per_id.len()];
    let mut m = mix.iter().cycle();
    while out.len() < per_id.iter().map(Vec::len).sum::<usize>() {
        let start = m.next().copied().unwrap_or(0) % per_id.len();
        let k = (0..per_id.len())
            .map(|d| (start + d) % per_id.len())
            .find(|&k| next[k] < per_id[k].len())
            .expect("a change left");
        out.push(per_id[k][next[k]].clone());
        next[k] += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Whatever the steps, a transaction whose end is a forest ends as that forest,
    /// siblings in id order.
    #[test]
    fn a_transaction_ends_as_the_table_does(
        before_ids in proptest::sample::subsequence((1u32..14).collect::<Vec<_>>(), 0..10),
        after_ids in proptest::sample::subsequence((1u32..14).collect::<Vec<_>>(), 0..10),
        shuffle in proptest::collection::vec(any::<prop::sample::Index>(), 14),
        before_parents in proptest::collection::vec(proptest::option::weighted(0.8, 0usize..14), 14),
        after_parents in proptest::collection::vec(proptest::option::weighted(0.8, 0usize..14), 14),
        before_fields in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<bool>()), 14),
        after_fields in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<bool>()), 14),
        detour in proptest::collection::vec((any::<u8>(), any::<u32>()), 1..14),
        mix in proptest::collection::vec(any::<usize>(), 1..40),
    ) {
        // The end's parents in an order of its own, so that a child may have a
        // smaller id than its parent, and a parent of before a child of after.
        let mut after_ids = after_ids;
        for (k, ix) in shuffle.iter().enumerate().take(after_ids.len()) {
            let j = ix.index(after_ids.len());
            after_ids.swap(k, j);
        }
        let before = forest(&before_ids, &before_parents, &before_fields);
        let after = forest(&after_ids, &after_parents, &after_fields);
        let snap = Arc::new(snapshot(&before));
        prop_assert_eq!(listing(&snap), model_listing(&before));
        let changes = transaction(&before, &after, &detour, &mix);
        let (batch, events) = translate(&snap, &changes);
        prop_assert_eq!(batch.len(), events.len());
        let applied = snap.with_changes(&batch);
        prop_assert!(applied.is_ok(), "{:?}\nchanges {:?}\nbatch {:?}", applied.err(), changes, batch);
        prop_assert_eq!(listing(&applied.unwrap()), model_listing(&after), "changes {:?}", changes);
    }
}

/// Changes drawn at random: an insert of an absent id, an update or a delete of a
/// present one, under a present parent mostly (one of any id now and then, so that
/// the steps pass through states a forest never is).
fn random_changes(
    before: &BTreeMap<u32, ModelRow>,
    draws: &[(u8, u32, u32, u8, bool)],
) -> Vec<Change> {
    let mut present: std::collections::BTreeSet<u32> = before.keys().copied().collect();
    let mut parent_of: HashMap<u32, Option<u32>> =
        before.iter().map(|(&i, r)| (i, r.parent)).collect();
    let mut out = Vec::new();
    for &(kind, i, parent, name, economic) in draws {
        let i = 1 + i % 12;
        let choices: Vec<u32> = present.iter().copied().filter(|&p| p != i).collect();
        let parent = match parent % 8 {
            0 => None,
            1 => Some(1 + (parent / 8) % 12).filter(|&p| p != i),
            _ if choices.is_empty() => None,
            _ => Some(choices[(parent / 8) as usize % choices.len()]),
        };
        let caps = caps_of(name);
        if present.contains(&i) {
            match kind % 4 {
                0 => {
                    present.remove(&i);
                    out.push(Change::Delete(i));
                }
                1 => {
                    parent_of.insert(i, parent);
                    out.push(Change::Update(i, parent, None, caps, economic));
                }
                // Its own parent sent again (a row naming a missing one included).
                2 => out.push(Change::Update(i, parent_of[&i], None, caps, economic)),
                _ => {
                    parent_of.insert(i, parent);
                    let name = Some(format!("m{}", name % 3));
                    out.push(Change::Update(i, parent, name, caps, economic));
                }
            }
        } else {
            present.insert(i);
            parent_of.insert(i, parent);
            let r = ModelRow {
                parent,
                name: format!("m{}", name % 3),
                caps,
                economic,
            };
            out.push(Change::Insert(i, r));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, max_global_rejects: 20_000, ..ProptestConfig::default() })]

    /// Changes at random, rows left under deleted ones included: whenever the end is
    /// a forest, the batch reaches it.
    #[test]
    fn random_changes_end_as_the_model_of_the_table(
        before_ids in proptest::sample::subsequence((1u32..13).collect::<Vec<_>>(), 0..12),
        shuffle in proptest::collection::vec(any::<prop::sample::Index>(), 12),
        parents in proptest::collection::vec(proptest::option::weighted(0.85, 0usize..12), 12),
        fields in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<bool>()), 12),
        draws in proptest::collection::vec((any::<u8>(), any::<u32>(), any::<u32>(), any::<u8>(), any::<bool>()), 0..12),
    ) {
        // Parents of any id order: a parent's id may be above its child's.
        let mut before_ids = before_ids;
        for (k, ix) in shuffle.iter().enumerate().take(before_ids.len()) {
            let j = ix.index(before_ids.len());
            before_ids.swap(k, j);
        }
        let before = forest(&before_ids, &parents, &fields);
        let changes = random_changes(&before, &draws);
        // One transaction from a forest: a row left under a deleted one goes under
        // the parent that one had when deleted.
        let end = TableModel { rows: before.clone(), shown: HashMap::new() }.transact(&changes);
        prop_assume!(end.is_some());
        let snap = Arc::new(snapshot(&before));
        let (batch, _) = translate(&snap, &changes);
        let applied = snap.with_changes(&batch);
        prop_assert!(applied.is_ok(), "{:?}\nchanges {:?}\nbatch {:?}", applied.err(), changes, batch);
        prop_assert_eq!(listing(&applied.unwrap()), model_listing(&end.unwrap()), "changes {:?}", changes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, max_global_rejects: 20_000, ..ProptestConfig::default() })]

    /// Transactions one after another: rows left naming a missing parent stay where
    /// the replica put them when a later change sends that parent again, and go back
    /// under it when it is inserted again.
    #[test]
    fn transactions_in_a_row_end_as_the_model_of_the_table(
        before_ids in proptest::sample::subsequence((1u32..13).collect::<Vec<_>>(), 0..12),
        parents in proptest::collection::vec(proptest::option::weighted(0.85, 0usize..12), 12),
        fields in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<bool>()), 12),
        transactions in proptest::collection::vec(
            proptest::collection::vec((any::<u8>(), any::<u32>(), any::<u32>(), any::<u8>(), any::<bool>()), 0..6),
            1..5,
        ),
    ) {
        let before = forest(&before_ids, &parents, &fields);
        let mut table = TableModel { rows: before.clone(), shown: HashMap::new() };
        let mut snap = Arc::new(snapshot(&before));
        let mut strays: Arc<Strays> = Arc::default();
        for draws in &transactions {
            let changes = random_changes(&table.rows, draws);
            // A table the follower stops on (an unknown parent, no forest even so)
            // ends the sequence.
            let Some(end) = table.transact(&changes) else { break };
            let (batch, _, settled) = translate_with(&snap, &strays, &changes);
            let applied = snap.with_changes(&batch);
            prop_assert!(applied.is_ok(), "{:?}\nchanges {:?}\nbatch {:?}", applied.err(), changes, batch);
            let applied = Arc::new(applied.unwrap());
            prop_assert_eq!(listing(&applied), model_listing(&end), "changes {:?}", changes);
            Arc::make_mut(&mut strays).apply(settled);
            // The strays are the rows naming a missing parent.
            prop_assert_eq!(strays.len(), table.shown.len());
            for &i in table.shown.keys() {
                let named = table.rows[&i].parent.map(id);
                prop_assert_eq!(strays.named(&id(i)), named.as_ref());
            }
            snap = applied;
        }
    }
}

#[test]
fn a_row_left_naming_a_deleted_parent_stays_then_goes_back_under_it() {
    // No foreign key. 1 → 2 → 3; DELETE 2 leaves 3 naming 2: a root in the replica,
    // as in a load of the table.
    let before = rows(&[(1, None), (2, Some(1)), (3, Some(2))]);
    let (snap, strays) = applied_with_strays(&Arc::new(snapshot(&before)), &[Change::Delete(2)]);
    assert_eq!(strays.named(&id(3)), Some(&id(2)));
    // A rename of 3 sends parent 2 again: 3 stays a root.
    let rename = [Change::Update(
        3,
        Some(2),
        Some("x".into()),
        Capabilities::NONE,
        false,
    )];
    let (batch, _, settled) = translate_with(&snap, &strays, &rename);
    let snap = Arc::new(snap.with_changes(&batch).unwrap());
    assert_eq!(snap.get(&id(3)).unwrap().parent(), None);
    assert_eq!(snap.get(&id(3)).unwrap().name(), "x");
    assert!(settled.is_empty());
    // 2 inserted again: the table has 3 under it again, and so does the replica.
    let r = ModelRow {
        parent: Some(1),
        name: String::new(),
        caps: Capabilities::NONE,
        economic: false,
    };
    let (batch, _, settled) = translate_with(&snap, &strays, &[Change::Insert(2, r)]);
    let snap = snap.with_changes(&batch).unwrap();
    assert_eq!(
        snap.get(&id(3)).unwrap().parent().map(|p| p.as_str()),
        Some("2")
    );
    let mut strays = (*strays).clone();
    strays.apply(settled);
    assert_eq!(strays.len(), 0);
}

/// A table without a foreign key over several transactions, and what a replica
/// shows of it: a row naming a missing parent (a stray) as a root, as a load of the
/// table would, until that parent is inserted again.
struct TableModel {
    rows: BTreeMap<u32, ModelRow>,
    /// Each stray and the parent the replica shows it under (always none: a root).
    shown: HashMap<u32, Option<u32>>,
}

impl TableModel {
    /// Applies `changes`; the replica's rows after them, or `None` where the follower
    /// stops (a row naming a missing parent that was not deleted by these changes
    /// and that it did not name before).
    fn transact(&mut self, changes: &[Change]) -> Option<BTreeMap<u32, ModelRow>> {
        let named_before: HashMap<u32, u32> = self
            .shown
            .keys()
            .map(|&i| (i, self.rows[&i].parent.expect("a stray names a parent")))
            .collect();
        let mut deleted = std::collections::HashSet::new();
        for c in changes {
            match c.clone() {
                Change::Insert(i, r) => {
                    deleted.remove(&i);
                    self.rows.insert(i, r);
                }
                Change::Update(i, parent, name, caps, economic) => {
                    let r = self.rows.get_mut(&i).expect("generated for a present row");
                    r.parent = parent;
                    if let Some(n) = name {
                        r.name = n;
                    }
                    r.caps = caps;
                    r.economic = economic;
                }
                Change::Delete(i) => {
                    deleted.insert(i);
                    self.rows.remove(&i);
                }
            }
        }
        // A row naming a missing parent is a stray, a root, if that parent was
        // deleted here or it named that same one before; naming another the follower
        // stops.
        let mut shown = HashMap::new();
        for (&i, r) in &self.rows {
            let Some(p) = r.parent.filter(|p| !self.rows.contains_key(p)) else {
                continue;
            };
            if !deleted.contains(&p) && named_before.get(&i) != Some(&p) {
                return None;
            }
            shown.insert(i, None);
        }
        self.shown = shown;
        let mut end = self.rows.clone();
        for (i, &s) in &self.shown {
            end.get_mut(i).expect("a row").parent = s;
        }
        // No cycle: every chain of parents ends at a root within as many steps.
        for &i in end.keys() {
            let mut at = Some(i);
            for _ in 0..=end.len() {
                at = at.and_then(|a| end[&a].parent);
            }
            if at.is_some() {
                return None;
            }
        }
        Some(end)
    }
}

fn rows(list: &[(u32, Option<u32>)]) -> BTreeMap<u32, ModelRow> {
    list.iter()
        .map(|&(i, parent)| {
            let r = ModelRow {
                parent,
                name: String::new(),
                caps: Capabilities::NONE,
                economic: false,
            };
            (i, r)
        })
        .collect()
}

#[test]
fn a_child_inserted_before_its_parent_and_a_swap_through_a_cycle() {
    // INSERT ... VALUES (11, 10), (10, 1): the child first.
    let before = rows(&[(1, None)]);
    let snap = Arc::new(snapshot(&before));
    let r = |parent| ModelRow {
        parent,
        name: String::new(),
        caps: Capabilities::NONE,
        economic: false,
    };
    let changes = [
        Change::Insert(11, r(Some(10))),
        Change::Insert(10, r(Some(1))),
    ];
    let (batch, _) = translate(&snap, &changes);
    let after = snap.with_changes(&batch).unwrap();
    assert_eq!(
        listing(&after),
        model_listing(&rows(&[(1, None), (10, Some(1)), (11, Some(10))]))
    );
    // 1 → 2 → 3 becomes 1 → 3 → 2: 2 goes under 3 first, which is still under 2.
    let before = rows(&[(1, None), (2, Some(1)), (3, Some(2))]);
    let snap = Arc::new(snapshot(&before));
    let changes = [
        Change::Update(2, Some(3), None, Capabilities::NONE, false),
        Change::Update(3, Some(1), None, Capabilities::NONE, false),
    ];
    let (batch, _) = translate(&snap, &changes);
    let after = snap.with_changes(&batch).unwrap();
    assert_eq!(
        listing(&after),
        model_listing(&rows(&[(1, None), (3, Some(1)), (2, Some(3))]))
    );
}

#[test]
fn a_row_deleted_and_inserted_again_keeps_its_children() {
    // Without a foreign key (or a deferred one): 3 stays under the new 2.
    let before = rows(&[(1, None), (2, Some(1)), (3, Some(2))]);
    let snap = Arc::new(snapshot(&before));
    let mut again = before[&2].clone();
    again.name = "Acme v2".into();
    let changes = [Change::Delete(2), Change::Insert(2, again.clone())];
    let (batch, _) = translate(&snap, &changes);
    let after = snap.with_changes(&batch).unwrap();
    let mut end = before.clone();
    end.insert(2, again);
    assert_eq!(listing(&after), model_listing(&end));
}

#[test]
fn children_left_under_a_deleted_row_become_roots_in_id_order() {
    // No foreign key: 4 and 6 are left naming the deleted 2; they become roots, among
    // the roots in id order, as a load of the table lists them.
    let before = rows(&[
        (1, None),
        (2, Some(1)),
        (4, Some(2)),
        (5, Some(1)),
        (6, Some(2)),
    ]);
    let snap = Arc::new(snapshot(&before));
    let (batch, _) = translate(&snap, &[Change::Delete(2)]);
    let after = snap.with_changes(&batch).unwrap();
    assert_eq!(
        listing(&after),
        model_listing(&rows(&[(1, None), (4, None), (5, Some(1)), (6, None)]))
    );
}

#[test]
fn rows_put_under_a_row_deleted_later_go_where_its_children_go() {
    // No foreign key: 10 inserted under 2, 3 moved under 2, then 2 deleted: both
    // become roots, as 2's own child 4 does.
    let before = rows(&[(1, None), (2, Some(1)), (3, Some(1)), (4, Some(2))]);
    let snap = Arc::new(snapshot(&before));
    let r = ModelRow {
        parent: Some(2),
        name: String::new(),
        caps: Capabilities::NONE,
        economic: false,
    };
    let changes = [
        Change::Insert(10, r),
        Change::Update(3, Some(2), None, Capabilities::NONE, false),
        Change::Delete(2),
    ];
    let (batch, _) = translate(&snap, &changes);
    let after = snap.with_changes(&batch).unwrap();
    assert_eq!(
        listing(&after),
        model_listing(&rows(&[(1, None), (3, None), (4, None), (10, None)]))
    );
    // 2 moved under 3, then deleted: its child 5 becomes a root.
    let before = rows(&[(1, None), (3, None), (2, Some(1)), (5, Some(2))]);
    let snap = Arc::new(snapshot(&before));
    let changes = [
        Change::Update(2, Some(3), None, Capabilities::NONE, false),
        Change::Delete(2),
    ];
    let (batch, _) = translate(&snap, &changes);
    let after = snap.with_changes(&batch).unwrap();
    assert_eq!(
        listing(&after),
        model_listing(&rows(&[(1, None), (3, None), (5, None)]))
    );
}

#[test]
fn a_change_the_state_before_it_rules_out_is_refused_by_the_engine_naming_it() {
    let before = rows(&[(1, None), (2, Some(1))]);
    let snap = Arc::new(snapshot(&before));
    let r = ModelRow {
        parent: Some(1),
        name: String::new(),
        caps: Capabilities::NONE,
        economic: false,
    };
    for (changes, refused) in [
        // An id inserted twice: the second insert, after the first took effect.
        (
            vec![Change::Insert(5, r.clone()), Change::Insert(5, r.clone())],
            MutationError::DuplicateId {
                index: 0,
                id: id(5),
            },
        ),
        (
            vec![Change::Insert(2, r.clone())],
            MutationError::DuplicateId {
                index: 0,
                id: id(2),
            },
        ),
        (
            vec![
                Change::Delete(2),
                Change::Update(2, Some(1), None, Capabilities::NONE, false),
            ],
            MutationError::UnknownId {
                index: 0,
                id: id(2),
            },
        ),
        (
            vec![Change::Delete(9)],
            MutationError::UnknownId {
                index: 0,
                id: id(9),
            },
        ),
    ] {
        let (batch, events) = translate(&snap, &changes);
        let err = snap.with_changes(&batch).unwrap_err();
        assert_eq!(err.index(), batch.len() - 1, "{changes:?}");
        let named = match (&err, &refused) {
            (
                MutationError::DuplicateId { id: a, .. },
                MutationError::DuplicateId { id: b, .. },
            )
            | (MutationError::UnknownId { id: a, .. }, MutationError::UnknownId { id: b, .. }) => {
                a == b
            }
            _ => false,
        };
        assert!(named, "{err:?} for {changes:?}");
        // The event is the last change, the one ruled out.
        assert_eq!(events[err.index()].lsn, Lsn::new(changes.len() as u64));
    }
}

#[test]
fn a_row_left_under_a_cycle_of_deleted_rows_becomes_a_root() {
    // 2 moved under 3 (a cycle 2 -> 3 -> 2 within the transaction), then both deleted:
    // 4 names the missing 3 and becomes a root, as after deleting 2 and 3 alone.
    let snap = Arc::new(snapshot(&rows(&[
        (1, None),
        (2, Some(1)),
        (3, Some(2)),
        (4, Some(3)),
    ])));
    let changes = [
        Change::Update(2, Some(3), None, Capabilities::NONE, false),
        Change::Delete(2),
        Change::Delete(3),
    ];
    let (batch, _, strays) = translate_with(&snap, &Arc::default(), &changes);
    let after = snap.with_changes(&batch).expect("the table is a forest");
    assert_eq!(
        listing(&after),
        model_listing(&rows(&[(1, None), (4, None)]))
    );
    assert!(strays.contains(&(id(4), Some(id(3)))), "{strays:?}");
}

#[test]
fn a_row_moved_by_its_parents_delete_names_the_delete_as_its_source() {
    // 3 renamed, then its parent 2 deleted: 3 moves to 1 because of the delete.
    let snap = Arc::new(snapshot(&rows(&[(1, None), (2, Some(1)), (3, Some(2))])));
    let changes = [
        Change::Update(3, Some(2), Some("x".into()), Capabilities::NONE, false),
        Change::Delete(2),
    ];
    let (batch, events) = translate(&snap, &changes);
    let moved = batch
        .iter()
        .position(|m| matches!(m, Mutation::Move { id: i, .. } if *i == id(3)))
        .expect("3 moves to its heir");
    assert_eq!(events[moved].lsn, Lsn::new(2), "{:?}", events[moved]);
    assert_eq!(events[moved].id, id(2));
}

#[test]
fn a_stray_sent_away_and_back_in_one_transaction_stays_a_stray() {
    // 3 names the missing 2 and is shown under 1; in one transaction it is sent to 4
    // and back to 2, or deleted and inserted again as it was: the table ends as it
    // began, and so does the replica.
    let snap = Arc::new(snapshot(&rows(&[
        (1, None),
        (2, Some(1)),
        (3, Some(2)),
        (4, None),
    ])));
    let (snap, strays) = applied_with_strays(&snap, &[Change::Delete(2)]);
    let again = ModelRow {
        parent: Some(2),
        name: String::new(),
        caps: Capabilities::NONE,
        economic: false,
    };
    for tx in [
        vec![
            Change::Update(3, Some(4), None, Capabilities::NONE, false),
            Change::Update(3, Some(2), None, Capabilities::NONE, false),
        ],
        vec![Change::Delete(3), Change::Insert(3, again.clone())],
    ] {
        let (batch, _, changed) = translate_with(&snap, &strays, &tx);
        let after = snap.with_changes(&batch).expect("the table is as before");
        assert_eq!(listing(&after), listing(&snap), "{tx:?}");
        let mut s = (*strays).clone();
        s.apply(changed);
        assert_eq!(s.named(&id(3)), Some(&id(2)), "{tx:?}");
    }
}

#[test]
fn a_change_below_a_stray_is_no_cycle_in_the_replica() {
    // 1 → 2 → 3; DELETE 2 leaves 3 naming 2, a root; then 1 goes under 3: a forest
    // in the table (3 names the missing 2) and in the replica.
    let snap = Arc::new(snapshot(&rows(&[(1, None), (2, Some(1)), (3, Some(2))])));
    let (snap, strays) = applied_with_strays(&snap, &[Change::Delete(2)]);
    let up = [Change::Update(1, Some(3), None, Capabilities::NONE, false)];
    let (batch, _, _) = translate_with(&snap, &strays, &up);
    let after = snap.with_changes(&batch).expect("the table has no cycle");
    assert_eq!(
        listing(&after),
        model_listing(&rows(&[(3, None), (1, Some(3))]))
    );
    // In one transaction: 2 moved under 4 (below 3), then deleted; 3 names 2.
    let snap = Arc::new(snapshot(&rows(&[
        (1, None),
        (2, Some(1)),
        (3, Some(2)),
        (4, Some(3)),
    ])));
    let tx = [
        Change::Update(2, Some(4), None, Capabilities::NONE, false),
        Change::Delete(2),
    ];
    let (batch, _, changed) = translate_with(&snap, &Arc::default(), &tx);
    let after = snap.with_changes(&batch).expect("the table has no cycle");
    assert_eq!(
        listing(&after),
        model_listing(&rows(&[(1, None), (3, None), (4, Some(3))]))
    );
    assert!(changed.contains(&(id(3), Some(id(2)))), "{changed:?}");
}
