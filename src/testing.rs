//! Testing support (feature `proptest`): proptest strategies for forests, queries and
//! mutation batches, and [`Model`], a deliberately naive reference model of the
//! contract, for property tests of your own access rules.
//!
//! The model shares no code with the engine: it keeps a parent map and walks it. It is
//! slow (`O(n)` and worse per query) and obviously right, which is the point.
//!
//! | you want to test | draw | then |
//! | --- | --- | --- |
//! | a rule over queries | [`scenario`] (a forest and queries drawn from it, a [`Mix`] of them granted), or [`query`] for a forest you have | [`check`] each [`Query`] against the model, or [`Query::ask`] the engine and test your rule on the [`Answer`] |
//! | a rule under change | [`evolving_forest`], or [`mutation_batches`] for a forest you have (valid batches, a [`Mix`] of invalid ones) | apply each batch to a [`Hierarchy`](crate::Hierarchy) and to the [`Model`] |
//! | the engine on raw input | [`forest`], [`records`] (often invalid), [`principal`], [`flags`], [`order`], [`page_request`] | compare with [`Model::new`] |
//!
//! # Examples
//!
//! ```
//! use proptest::prelude::*;
//! use reseller_hierarchy::testing::{forest, Model};
//! use reseller_hierarchy::{Order, Snapshot};
//!
//! proptest!(ProptestConfig::with_cases(16), |(records in forest(50))| {
//!     let model = Model::new(&records).unwrap();
//!     let snap = Snapshot::build(records).unwrap();
//!     for r in model.ids() {
//!         let count = snap.downline_count(r).unwrap();
//!         prop_assert_eq!(count, model.downline(r, Order::PreOrder).unwrap().len());
//!     }
//! });
//! ```

#[cfg(feature = "fuzzing")]
pub mod fuzz;
mod query;
mod scenario;

pub use query::{check, Answer, Difference, Query};
pub use scenario::{evolving_forest, mutation_batches, query, scenario, Mix, Scenario};

use std::collections::{HashMap, HashSet, VecDeque};

use proptest::prelude::*;
use proptest::sample::Index;

use crate::access::{Principal, Role};
use crate::builder::Problem;
use crate::capability::{Capabilities, Capability, FilterFlags};
use crate::id::{Id, ResellerId};
use crate::mutation::{Mutation, Removal};
use crate::paging::{Order, PageRequest};
use crate::record::Record;

/// A naive reference model of a valid hierarchy: a parent map, walked on every query.
#[derive(Clone, Debug)]
pub struct Model {
    /// Every id, in the order it was added.
    order: Vec<ResellerId>,
    parent: HashMap<ResellerId, Option<ResellerId>>,
    records: HashMap<ResellerId, Record>,
    /// Children of each reseller, in sibling order.
    kids: HashMap<ResellerId, Vec<ResellerId>>,
    /// Roots, in order.
    roots: Vec<ResellerId>,
}

impl Model {
    /// The model of `records`, or the problems the contract says a build reports, in
    /// the order it reports them (duplicates by first occurrence, unknown parents by
    /// record, cycles by their earliest member).
    ///
    /// # Errors
    ///
    /// The expected problems when the records are not a valid forest.
    pub fn new(records: &[Record]) -> Result<Model, Vec<Problem>> {
        let mut occurrences: HashMap<&ResellerId, Vec<usize>> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            occurrences.entry(&r.id).or_default().push(i);
        }
        let first = |id: &ResellerId| occurrences.get(id).map(|v| v[0]);
        let mut problems = Vec::new();
        let mut dups: Vec<&Vec<usize>> = occurrences.values().filter(|v| v.len() > 1).collect();
        dups.sort();
        for d in dups {
            problems.push(Problem::DuplicateId {
                id: records[d[0]].id.clone(),
                at: d.iter().copied().map(crate::Place::Record).collect(),
            });
        }
        // Parent of record i as a record index (first occurrence); None for a root or
        // an unknown parent.
        let mut up: Vec<Option<usize>> = vec![None; records.len()];
        for (i, r) in records.iter().enumerate() {
            match &r.parent {
                None => {}
                Some(p) if *p == r.id => {}
                Some(p) => match first(p) {
                    Some(j) => up[i] = Some(j),
                    None => problems.push(Problem::UnknownParent {
                        at: crate::Place::Record(i),
                        id: r.id.clone(),
                        parent: p.clone(),
                    }),
                },
            }
        }
        let mut seen_on_cycle = HashSet::new();
        for start in 0..records.len() {
            if seen_on_cycle.contains(&start) {
                continue;
            }
            // Is `start` on a cycle? Walk at most n steps.
            let mut v = start;
            let mut on_cycle = false;
            for _ in 0..records.len() {
                match up[v] {
                    Some(p) if p == start => {
                        on_cycle = true;
                        break;
                    }
                    Some(p) => v = p,
                    None => break,
                }
            }
            if on_cycle {
                let mut members = vec![start];
                let mut v = up[start].unwrap_or(start);
                while v != start {
                    members.push(v);
                    v = up[v].unwrap_or(start);
                }
                seen_on_cycle.extend(members.iter().copied());
                problems.push(Problem::Cycle {
                    members: members.iter().map(|&i| records[i].id.clone()).collect(),
                });
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let parent: HashMap<ResellerId, Option<ResellerId>> = records
            .iter()
            .map(|r| {
                let p = r.parent.clone().filter(|p| *p != r.id);
                (r.id.clone(), p)
            })
            .collect();
        let mut kids: HashMap<ResellerId, Vec<ResellerId>> = HashMap::new();
        let mut roots = Vec::new();
        for r in records {
            match &parent[&r.id] {
                Some(p) => kids.entry(p.clone()).or_default().push(r.id.clone()),
                None => roots.push(r.id.clone()),
            }
        }
        Ok(Model {
            order: records.iter().map(|r| r.id.clone()).collect(),
            parent,
            kids,
            roots,
            records: records.iter().map(|r| (r.id.clone(), r.clone())).collect(),
        })
    }

    /// Every id, in input order.
    pub fn ids(&self) -> impl Iterator<Item = &ResellerId> {
        self.order.iter()
    }

    /// Whether `id` exists.
    pub fn contains(&self, id: &Id) -> bool {
        self.parent.contains_key(id)
    }

    /// The children of `id` in input order.
    pub fn children(&self, id: &Id) -> Vec<ResellerId> {
        self.kids.get(id).cloned().unwrap_or_default()
    }

    fn roots(&self) -> Vec<ResellerId> {
        self.roots.clone()
    }

    /// The record of `id` as it stands (its `parent` as given when added).
    pub fn record(&self, id: &Id) -> Option<&Record> {
        self.records.get(id)
    }

    /// The parent of `id`; `None` for a root or an unknown id.
    pub fn parent(&self, id: &Id) -> Option<&Id> {
        self.parent.get(id).and_then(Option::as_deref)
    }

    /// Applies a batch all or nothing, straight from the contract; on refusal, the
    /// index of the first mutation refused, and the model unchanged.
    ///
    /// # Errors
    ///
    /// The index of the first mutation the contract refuses.
    pub fn apply(&mut self, batch: &[Mutation]) -> Result<(), usize> {
        // One mutation checks everything before it changes anything: no copy needed.
        if let [m] = batch {
            return if self.apply_one(m) { Ok(()) } else { Err(0) };
        }
        let mut next = self.clone();
        for (i, m) in batch.iter().enumerate() {
            if !next.apply_one(m) {
                return Err(i);
            }
        }
        *self = next;
        Ok(())
    }

    fn list_of(&mut self, parent: Option<&ResellerId>) -> &mut Vec<ResellerId> {
        match parent {
            None => &mut self.roots,
            Some(p) => self.kids.entry(p.clone()).or_default(),
        }
    }

    fn apply_one(&mut self, m: &Mutation) -> bool {
        match m {
            Mutation::Add(r) => {
                if self.contains(&r.id) {
                    return false;
                }
                let parent = r.parent.clone().filter(|p| *p != r.id);
                if parent.as_ref().is_some_and(|p| !self.contains(p)) {
                    return false;
                }
                self.list_of(parent.as_ref()).push(r.id.clone());
                self.parent.insert(r.id.clone(), parent);
                self.records.insert(r.id.clone(), r.clone());
                self.order.push(r.id.clone());
            }
            Mutation::Move { id, parent } => {
                if !self.contains(id) || parent.as_ref() == Some(id) {
                    return false;
                }
                if let Some(p) = parent {
                    if !self.contains(p) || self.is_in_downline(p, id) == Some(true) {
                        return false;
                    }
                }
                let old = self.parent[id].clone();
                self.list_of(old.as_ref()).retain(|c| c != id);
                self.list_of(parent.as_ref()).push(id.clone());
                self.parent.insert(id.clone(), parent.clone());
            }
            Mutation::Remove { id, removal } => {
                if !self.contains(id) {
                    return false;
                }
                let kids = self.children(id);
                if *removal == Removal::LeafOnly && !kids.is_empty() {
                    return false;
                }
                let p = self.parent[id].clone();
                for c in &kids {
                    self.parent.insert(c.clone(), p.clone());
                }
                let list = self.list_of(p.as_ref());
                let at = list.iter().position(|c| c == id).unwrap_or(list.len());
                list.splice(at..(at + 1).min(list.len()), kids);
                self.kids.remove(id);
                self.parent.remove(id);
                self.records.remove(id);
                self.order.retain(|x| x != id);
            }
            Mutation::Update {
                id,
                name,
                capabilities,
                economic_enabled,
                attributes,
            } => {
                let Some(r) = self.records.get_mut(id) else {
                    return false;
                };
                if let Some(n) = name {
                    r.name = n.clone();
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
            }
        }
        true
    }

    /// Ancestors of `id`, nearest first; `None` if `id` does not exist.
    pub fn upline(&self, id: &Id) -> Option<Vec<ResellerId>> {
        let mut v = self.parent.get(id)?.clone();
        let mut out = Vec::new();
        while let Some(p) = v {
            v = self.parent[&p].clone();
            out.push(p);
        }
        Some(out)
    }

    /// Whether `a` is a strict descendant of `r` (walking up from `a`); `None` if
    /// either does not exist.
    pub fn is_in_downline(&self, a: &Id, r: &Id) -> Option<bool> {
        if !self.contains(r) {
            return None;
        }
        Some(self.upline(a)?.iter().any(|u| u == r))
    }

    /// The strict descendants of `id` in `order`; `None` if `id` does not exist.
    pub fn downline(&self, id: &Id, order: Order) -> Option<Vec<ResellerId>> {
        if !self.contains(id) {
            return None;
        }
        Some(self.walk(self.children(id), order))
    }

    /// The whole forest in `order`, roots in input order.
    pub fn all(&self, order: Order) -> Vec<ResellerId> {
        self.walk(self.roots(), order)
    }

    /// The given starting resellers and all their descendants, in `order`.
    fn walk(&self, start: Vec<ResellerId>, order: Order) -> Vec<ResellerId> {
        let mut out = Vec::new();
        match order {
            Order::PreOrder => {
                let mut stack: Vec<ResellerId> = start.into_iter().rev().collect();
                while let Some(v) = stack.pop() {
                    stack.extend(self.children(&v).into_iter().rev());
                    out.push(v);
                }
            }
            Order::LevelOrder => {
                let mut queue: VecDeque<ResellerId> = start.into();
                while let Some(v) = queue.pop_front() {
                    queue.extend(self.children(&v));
                    out.push(v);
                }
            }
        }
        out
    }

    /// The whole eligible-parents listing, straight from the contract; `None` when
    /// access is denied.
    pub fn eligible_parents(
        &self,
        principal: &Principal,
        flags: FilterFlags,
        order: Order,
    ) -> Option<Vec<ResellerId>> {
        let flag_set = flags.iptv || flags.iptvprivate || flags.flexcare || flags.voip;
        let listing = match principal.role {
            Role::Admin => self.all(order),
            Role::ResellerAdmin | Role::Reseller => {
                if principal.role == Role::Reseller && flag_set {
                    return None;
                }
                let own = principal.reseller.as_ref()?;
                let mut v = vec![own.clone()];
                v.extend(self.downline(own, order)?);
                v
            }
            Role::Other(_) => return None,
        };
        let keep = |caps: Capabilities| -> bool {
            if flags.iptv {
                caps.contains(Capability::Iptv)
            } else if flags.iptvprivate {
                caps.contains(Capability::IptvPrivate)
            } else if flags.flexcare {
                caps.contains(Capability::Flexcare)
            } else if flags.voip {
                caps.contains(Capability::Sip) && caps.contains(Capability::Mvno)
            } else {
                true
            }
        };
        Some(
            listing
                .into_iter()
                .filter(|id| keep(self.records[id].capabilities))
                .collect(),
        )
    }

    /// The slice of `listing` that page `req` shows.
    pub fn page<T>(listing: &[T], req: PageRequest) -> &[T] {
        let per = req.per_page() as usize;
        let skip = usize::try_from(req.page() - 1)
            .ok()
            .and_then(|p| p.checked_mul(per))
            .unwrap_or(usize::MAX);
        let start = skip.min(listing.len());
        let end = start.saturating_add(per).min(listing.len());
        &listing[start..end]
    }
}

/// How a generated forest is shaped.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Random,
    Chains,
    Stars,
    ManyRoots,
}

/// Valid forests of up to `max` resellers: random trees, long chains, wide stars and
/// many roots, listed in a random order, with random capabilities.
pub fn forest(max: usize) -> impl Strategy<Value = Vec<Record>> {
    let kind = prop_oneof![
        Just(Kind::Random),
        Just(Kind::Chains),
        Just(Kind::Stars),
        Just(Kind::ManyRoots),
    ];
    let node = (
        any::<Index>(),
        0u8..32,
        prop::bool::weighted(0.03),
        any::<bool>(),
    );
    (kind, prop::collection::vec(node, 0..=max), any::<u64>()).prop_map(|(kind, nodes, seed)| {
        let n = nodes.len();
        let parents: Vec<Option<usize>> = nodes
            .iter()
            .enumerate()
            .map(|(i, (pick, _, root, coin))| {
                if i == 0 || *root {
                    return None;
                }
                Some(match kind {
                    Kind::Random => pick.index(i),
                    Kind::Chains => i - 1 - pick.index(i.min(2)),
                    Kind::Stars => pick.index(i.min(3)),
                    Kind::ManyRoots if *coin => return None,
                    Kind::ManyRoots => pick.index(i),
                })
            })
            .collect();
        let mut records: Vec<Record> = (0..n)
            .map(|i| Record {
                id: ResellerId::from(format!("{}", i + 1)),
                parent: parents[i].map(|p| ResellerId::from(format!("{}", p + 1))),
                name: format!("Reseller {}", i + 1),
                capabilities: Capabilities::from_bits(nodes[i].1),
                economic_enabled: nodes[i].3,
                attributes: crate::record::Attributes::none(),
            })
            .collect();
        shuffle(&mut records, seed);
        records
    })
}

/// Records that are often not a valid forest: ids from a small pool (duplicates),
/// parents from the pool and beyond it (cycles, unknown parents, self-parents).
pub fn records(max: usize) -> impl Strategy<Value = Vec<Record>> {
    let pool = (max / 2).max(2);
    let rec = (0..pool, prop::option::weighted(0.85, 0..pool + 2), 0u8..32);
    prop::collection::vec(rec, 0..=max).prop_map(|v| {
        v.into_iter()
            .map(|(id, parent, caps)| Record {
                id: ResellerId::from(id as u64),
                parent: parent.map(|p| ResellerId::from(p as u64)),
                capabilities: Capabilities::from_bits(caps),
                ..Record::default()
            })
            .collect()
    })
}

fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut rng = crate::generate::SplitMix::new(seed);
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i + 1));
    }
}

/// Any combination of the four flags.
pub fn flags() -> impl Strategy<Value = FilterFlags> {
    any::<[bool; 4]>().prop_map(|[iptv, iptvprivate, flexcare, voip]| FilterFlags {
        iptv,
        iptvprivate,
        flexcare,
        voip,
    })
}

/// Principals over the ids `1..=n`: every role (and an unknown one), with an existing
/// reseller, a missing one, or none.
///
/// The ids are drawn independently of any forest, so many of the cases are refusals;
/// to draw principals (and whole queries) from a forest, with the share of granted
/// cases under control, use [`scenario`] or [`query`].
pub fn principal(n: usize) -> impl Strategy<Value = Principal> {
    let role = prop_oneof![
        3 => Just(Role::Admin),
        4 => Just(Role::ResellerAdmin),
        4 => Just(Role::Reseller),
        1 => Just(Role::Other("SUPPORT".to_owned())),
    ];
    let reseller = prop_oneof![
        8 => (1..=n.max(1) as u64).prop_map(|i| Some(ResellerId::from(i))),
        1 => Just(Some(ResellerId::from("no-such-reseller"))),
        1 => Just(None),
    ];
    (role, reseller).prop_map(|(role, reseller)| Principal { role, reseller })
}

/// Page requests with small pages (so that listings span several), pages past the end
/// included.
pub fn page_request() -> impl Strategy<Value = PageRequest> {
    (1u64..12, 1u64..8).prop_map(|(page, per)| PageRequest::new(page, per).unwrap_or_default())
}

/// Either order.
pub fn order() -> impl Strategy<Value = Order> {
    prop_oneof![Just(Order::PreOrder), Just(Order::LevelOrder)]
}
