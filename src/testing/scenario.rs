//! Scenario strategies: queries and mutation batches drawn from the forest they run
//! against, granted and refused (valid and invalid) in proportions the test chooses, so
//! that a property test spends its cases on what it means to test.
//!
//! Strategies that depend on a forest take the records and draw
//! [`Index`](proptest::sample::Index)es into them, so that cases shrink towards the
//! first resellers and the smallest batches.

use proptest::prelude::*;
use proptest::sample::Index;

use crate::access::{Principal, Role};
use crate::capability::{Capabilities, FilterFlags};
use crate::id::ResellerId;
use crate::mutation::{Mutation, Removal};
use crate::record::Record;

use super::query::Query;
use super::{flags, forest, order, page_request, Model};

/// How often a drawn case is granted (a query answered rather than refused with 403 or
/// 404; a mutation the contract accepts rather than refuses), in percent.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::testing::Mix;
///
/// let mostly_granted = Mix::granted(90);
/// assert_eq!(mostly_granted.granted_percent(), 90);
/// assert_eq!(Mix::granted(250).granted_percent(), 100); // capped
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix {
    granted: u32,
}

impl Mix {
    /// `percent` of the cases granted (valid), the rest refused (invalid); capped at 100.
    pub const fn granted(percent: u32) -> Mix {
        Mix {
            granted: if percent > 100 { 100 } else { percent },
        }
    }

    /// The share of granted cases, in percent.
    pub const fn granted_percent(self) -> u32 {
        self.granted
    }

    fn refused(self) -> u32 {
        100 - self.granted
    }
}

impl Default for Mix {
    /// 90% granted.
    fn default() -> Mix {
        Mix::granted(90)
    }
}

/// A forest and queries drawn from it.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// A valid forest, in input order.
    pub records: Vec<Record>,
    /// Queries about it.
    pub queries: Vec<Query>,
}

/// A valid forest of 1 to `max` resellers (as [`forest`]) with 1 to `queries` queries
/// drawn from it by [`query`], `mix` of them granted.
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use reseller_hierarchy::testing::{check, scenario, Mix, Model};
/// use reseller_hierarchy::Snapshot;
///
/// proptest!(ProptestConfig::with_cases(32), |(s in scenario(100, 8, Mix::granted(90)))| {
///     let model = Model::new(&s.records).unwrap();
///     let snap = Snapshot::build(s.records).unwrap();
///     for q in &s.queries {
///         if let Err(diff) = check(&snap, &model, q) {
///             return Err(TestCaseError::fail(diff.to_string()));
///         }
///     }
/// });
/// ```
pub fn scenario(max: usize, queries: usize, mix: Mix) -> impl Strategy<Value = Scenario> {
    non_empty_forest(max).prop_flat_map(move |records| {
        let qs = prop::collection::vec(query(&records, mix), 1..=queries.max(1));
        (Just(records), qs).prop_map(|(records, queries)| Scenario { records, queries })
    })
}

/// As [`forest`], with at least one reseller.
fn non_empty_forest(max: usize) -> impl Strategy<Value = Vec<Record>> {
    forest(max.max(1)).prop_filter("at least one reseller", |r| !r.is_empty())
}

/// Queries about `records` (a valid forest): `mix` of them granted (ids that exist,
/// principals whose role and flags the rules accept; over an empty forest, an
/// `ADMIN`'s eligible parents), the rest refused (an unknown
/// role, a `RESELLER` with a flag, a reseller role without a reseller or with one that
/// does not exist, an id that names no reseller).
///
/// Every kind of query is drawn: eligible parents and their count, downline pages and
/// counts, upline pages, `is_in_downline`, in both orders, with small pages so that
/// listings span several.
pub fn query(records: &[Record], mix: Mix) -> BoxedStrategy<Query> {
    let ids: Vec<ResellerId> = records.iter().map(|r| r.id.clone()).collect();
    if mix.granted == 0 {
        return refused_query(ids).boxed();
    }
    if ids.is_empty() {
        // Only an ADMIN is granted anything over an empty forest.
        let admin = (flags(), order(), page_request()).prop_map(|(flags, order, page)| {
            Query::EligibleParents {
                principal: Principal::admin(),
                flags,
                order,
                page,
            }
        });
        if mix.refused() == 0 {
            return admin.boxed();
        }
        return prop_oneof![
            mix.granted => admin,
            mix.refused() => refused_query(ids),
        ]
        .boxed();
    }
    if mix.refused() == 0 {
        return granted_query(ids).boxed();
    }
    prop_oneof![
        mix.granted => granted_query(ids.clone()),
        mix.refused() => refused_query(ids),
    ]
    .boxed()
}

fn pick(ids: &[ResellerId], i: &Index) -> ResellerId {
    ids[i.index(ids.len())].clone()
}

fn granted_query(ids: Vec<ResellerId>) -> impl Strategy<Value = Query> {
    let principal = {
        let ids = ids.clone();
        (0u8..3, any::<Index>()).prop_map(move |(role, i)| match role {
            0 => Principal::admin(),
            1 => Principal::new(Role::ResellerAdmin, pick(&ids, &i)),
            _ => Principal::new(Role::Reseller, pick(&ids, &i)),
        })
    };
    let eligible = (principal, flags(), order(), page_request())
        .prop_map(|(principal, flags, order, page)| {
            // A RESELLER may set no flag: drop them to stay granted.
            let flags = if principal.role == Role::Reseller {
                FilterFlags::NONE
            } else {
                flags
            };
            (principal, flags, order, page)
        })
        .boxed();
    let ids2 = ids.clone();
    prop_oneof![
        4 => eligible.clone().prop_map(|(principal, flags, order, page)| Query::EligibleParents {
            principal, flags, order, page,
        }),
        1 => eligible.prop_map(|(principal, flags, ..)| Query::EligibleCount { principal, flags }),
        4 => (any::<Index>(), order(), page_request()).prop_map({
            let ids = ids.clone();
            move |(i, order, page)| Query::Downline { id: pick(&ids, &i), order, page }
        }),
        1 => any::<Index>().prop_map({
            let ids = ids.clone();
            move |i| Query::DownlineCount { id: pick(&ids, &i) }
        }),
        1 => (any::<Index>(), page_request()).prop_map({
            let ids = ids.clone();
            move |(i, page)| Query::Upline { id: pick(&ids, &i), page }
        }),
        2 => (any::<Index>(), any::<Index>()).prop_map(move |(a, b)| Query::IsInDownline {
            id: pick(&ids2, &a),
            of: pick(&ids2, &b),
        }),
    ]
}

/// An id no generated forest uses.
fn unknown_id() -> ResellerId {
    ResellerId::from("no-such-reseller")
}

/// Refused queries; `ids` (possibly empty) are the forest's, for refusals that name a
/// reseller that exists (a `RESELLER` with a flag, an unknown id beside a known one).
fn refused_query(ids: Vec<ResellerId>) -> impl Strategy<Value = Query> {
    let known = move |i: &Index| {
        if ids.is_empty() {
            unknown_id()
        } else {
            pick(&ids, i)
        }
    };
    let known_too = known.clone();
    let denied = (0u8..5, any::<Index>()).prop_map(move |(kind, i)| match kind {
        // A role the rules do not know, even with a reseller that exists.
        0 => Principal {
            role: Role::Other("SUPPORT".to_owned()),
            reseller: Some(known(&i)),
        },
        // A RESELLER with a flag (set below).
        1 => Principal::new(Role::Reseller, known(&i)),
        // A reseller role without a reseller, or with one that does not exist.
        2 => Principal {
            role: Role::ResellerAdmin,
            reseller: None,
        },
        3 => Principal::new(Role::ResellerAdmin, unknown_id()),
        _ => Principal::new(Role::Reseller, unknown_id()),
    });
    let eligible = (denied, flags(), order(), page_request())
        .prop_map(|(principal, mut flags, order, page)| {
            if principal.role == Role::Reseller && flags.effective().is_none() {
                flags.voip = true;
            }
            (principal, flags, order, page)
        })
        .boxed();
    let named = (any::<Index>(), any::<bool>()).prop_map({
        move |(i, first)| {
            let other = known_too(&i);
            if first {
                (unknown_id(), other)
            } else {
                (other, unknown_id())
            }
        }
    });
    prop_oneof![
        3 => eligible.clone().prop_map(|(principal, flags, order, page)| Query::EligibleParents {
            principal, flags, order, page,
        }),
        1 => eligible.prop_map(|(principal, flags, ..)| Query::EligibleCount { principal, flags }),
        1 => (order(), page_request()).prop_map(|(order, page)| Query::Downline {
            id: unknown_id(), order, page,
        }),
        1 => Just(Query::DownlineCount { id: unknown_id() }),
        1 => page_request().prop_map(|page| Query::Upline { id: unknown_id(), page }),
        1 => named.prop_map(|(id, of)| Query::IsInDownline { id, of }),
    ]
}

/// What one drawn mutation becomes once resolved against the forest as it then is.
#[derive(Clone, Debug)]
struct Draw {
    valid: bool,
    kind: u8,
    a: Index,
    b: Index,
    caps: u8,
    coin: bool,
}

fn draw(mix: Mix) -> impl Strategy<Value = Draw> {
    // Drawn as "invalid" so that shrinking (which turns `true` into `false`) makes a
    // case valid, never the other way; `Mix::granted(100)` never draws an invalid one.
    (
        prop::bool::weighted(f64::from(mix.refused()) / 100.0).prop_map(|invalid| !invalid),
        0u8..100,
        any::<Index>(),
        any::<Index>(),
        0u8..32,
        any::<bool>(),
    )
        .prop_map(|(valid, kind, a, b, caps, coin)| Draw {
            valid,
            kind,
            a,
            b,
            caps,
            coin,
        })
}

/// A valid forest of up to `max` resellers and up to `batches` batches of 1 to
/// `batch_len` mutations drawn against it by [`mutation_batches`].
///
/// # Examples
///
/// ```
/// use proptest::prelude::*;
/// use reseller_hierarchy::testing::{evolving_forest, Mix, Model};
/// use reseller_hierarchy::{Hierarchy, Snapshot};
///
/// proptest!(ProptestConfig::with_cases(16), |((records, batches) in evolving_forest(40, 5, 4, Mix::granted(80)))| {
///     let mut model = Model::new(&records).unwrap();
///     let h = Hierarchy::new(Snapshot::build(records).unwrap());
///     for batch in &batches {
///         // The engine accepts a batch exactly when the model does.
///         prop_assert_eq!(h.apply(batch).is_ok(), model.apply(batch).is_ok());
///     }
///     prop_assert_eq!(h.snapshot().len(), model.ids().count());
/// });
/// ```
pub fn evolving_forest(
    max: usize,
    batches: usize,
    batch_len: usize,
    mix: Mix,
) -> impl Strategy<Value = (Vec<Record>, Vec<Vec<Mutation>>)> {
    forest(max).prop_flat_map(move |records| {
        let b = mutation_batches(&records, batches, batch_len, mix);
        (Just(records), b)
    })
}

/// Up to `batches` batches of 1 to `batch_len` mutations for the forest `records`,
/// each drawn against the forest as the batches before it leave it.
///
/// Each mutation is, with the probability `mix` gives, one the contract accepts at its
/// place in the batch, else one it refuses. The valid ones follow the workload of a
/// live hierarchy: 50% adds (under a random reseller, 6% as roots), 25% moves of a
/// random reseller under one outside its own downline (or to the roots), 10% removals
/// (a leaf, or with the downline re-attached), 15% updates of capabilities, name and
/// economic flag. The invalid ones: an add of an id that exists or under a parent that
/// does not, a move into the reseller's own downline, a removal of a reseller with a
/// downline as a leaf, any change of an id that does not exist. A batch with an invalid
/// mutation is refused whole, so the next batch is drawn against the forest as it was.
/// Added resellers get ids `"new-1"`, `"new-2"`, … that no record uses.
///
/// # Panics
///
/// If `records` is not a valid forest.
pub fn mutation_batches(
    records: &[Record],
    batches: usize,
    batch_len: usize,
    mix: Mix,
) -> impl Strategy<Value = Vec<Vec<Mutation>>> {
    let model = Model::new(records).expect("mutation_batches needs a valid forest");
    let one = prop::collection::vec(draw(mix), 1..=batch_len.max(1));
    prop::collection::vec(one, 0..=batches).prop_map(move |draws| {
        let mut model = model.clone();
        let mut fresh = 0u64;
        draws
            .iter()
            .map(|batch| {
                let mut trial = model.clone();
                let mut ok = true;
                let out: Vec<Mutation> = batch
                    .iter()
                    .map(|d| {
                        if d.valid {
                            let m = valid_mutation(&trial, d, &mut fresh);
                            let applied = trial.apply_one(&m);
                            debug_assert!(applied, "drew an invalid mutation as valid: {m:?}");
                            m
                        } else {
                            ok = false;
                            invalid_mutation(&trial, d)
                        }
                    })
                    .collect();
                if ok {
                    model = trial;
                }
                out
            })
            .collect()
    })
}

fn fresh_id(model: &Model, fresh: &mut u64) -> ResellerId {
    loop {
        *fresh += 1;
        let id = ResellerId::from(format!("new-{fresh}"));
        if !model.contains(&id) {
            return id;
        }
    }
}

/// A mutation `model` accepts.
fn valid_mutation(model: &Model, d: &Draw, fresh: &mut u64) -> Mutation {
    let ids = &model.order;
    let kind = if ids.is_empty() { 0 } else { d.kind };
    let who = || pick(ids, &d.a);
    match kind {
        0..50 => {
            let parent = (!ids.is_empty() && !d.kind.is_multiple_of(20)).then(|| pick(ids, &d.b));
            Mutation::Add(
                Record::new(fresh_id(model, fresh), parent)
                    .name(format!("Added {fresh}"))
                    .capabilities(Capabilities::from_bits(d.caps)),
            )
        }
        50..75 => {
            let id = who();
            // Walk the candidates from the drawn one: the first outside the downline
            // (a reseller is in its own subtree), or the roots if there is none.
            let start = d.b.index(ids.len());
            let parent = (0..ids.len().min(8))
                .map(|k| &ids[(start + k) % ids.len()])
                .find(|q| **q != id && model.is_in_downline(q, &id) == Some(false))
                .cloned();
            Mutation::Move { id, parent }
        }
        75..85 => {
            let id = who();
            let removal = if d.coin && model.children(&id).is_empty() {
                Removal::LeafOnly
            } else {
                Removal::ReattachDownline
            };
            Mutation::Remove { id, removal }
        }
        _ => Mutation::Update {
            id: who(),
            name: d.coin.then(|| format!("Renamed {}", d.caps)),
            capabilities: Some(Capabilities::from_bits(d.caps)),
            economic_enabled: (!d.coin).then_some(d.caps.is_multiple_of(2)),
            attributes: None,
        },
    }
}

/// A mutation `model` refuses.
fn invalid_mutation(model: &Model, d: &Draw) -> Mutation {
    let ids = &model.order;
    let unknown = Mutation::Update {
        id: unknown_id(),
        name: None,
        capabilities: Some(Capabilities::from_bits(d.caps)),
        economic_enabled: None,
        attributes: None,
    };
    if ids.is_empty() {
        return unknown;
    }
    let who = pick(ids, &d.a);
    let candidate = match d.kind % 6 {
        // An id that exists already.
        0 => Mutation::Add(Record::new(who, None::<ResellerId>)),
        // A parent that does not exist.
        1 => Mutation::Add(Record::new(unknown_id(), Some("no-such-parent"))),
        // Into its own downline (or under itself).
        2 => {
            let below = model
                .downline(&who, crate::paging::Order::PreOrder)
                .unwrap_or_default();
            let parent = if below.is_empty() {
                who.clone()
            } else {
                pick(&below, &d.b)
            };
            Mutation::Move {
                id: who,
                parent: Some(parent),
            }
        }
        // A reseller with a downline, as a leaf: the first of a few candidates that has
        // children.
        3 => {
            let start = d.a.index(ids.len());
            let id = (0..ids.len().min(8))
                .map(|k| &ids[(start + k) % ids.len()])
                .find(|x| !model.children(x).is_empty())
                .unwrap_or(&who)
                .clone();
            Mutation::Remove {
                id,
                removal: Removal::LeafOnly,
            }
        }
        4 => Mutation::Move {
            id: unknown_id(),
            parent: None,
        },
        _ => Mutation::Remove {
            id: unknown_id(),
            removal: Removal::ReattachDownline,
        },
    };
    if model.clone().apply_one(&candidate) {
        // Accepted after all (a leaf removed as a leaf): an id that exists, added again.
        Mutation::Add(Record::new(pick(ids, &d.a), None::<ResellerId>))
    } else {
        candidate
    }
}
