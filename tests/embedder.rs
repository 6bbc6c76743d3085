//! A property test written as an embedder writes one: only the crate's public API, a
//! rule of the embedder's own layered on the engine, and the `testing` strategies that
//! draw queries and mutations from the forest under test. It also checks that those
//! strategies spend most cases on granted queries and valid mutations, as they promise.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use reseller_hierarchy::testing::{check, evolving_forest, scenario, Mix, Model, Query};
use reseller_hierarchy::{
    AccessError, Attributes, FilterFlags, Hierarchy, Id, Order, PageRequest, Principal, Record,
    ResellerId, Role, Snapshot,
};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

const CURRENCIES: [&str; 3] = ["EUR", "USD", "DKK"];

/// Gives each record a currency, as the embedder's data would carry it.
fn with_currencies(mut records: Vec<Record>) -> Vec<Record> {
    for (i, r) in records.iter_mut().enumerate() {
        let json = format!(r#"{{"general": {{"currency": "{}"}}}}"#, CURRENCIES[i % 3]);
        r.attributes = Attributes::from_json(&json).unwrap();
    }
    records
}

/// The embedder's data access: the currency a reseller bills in.
fn currency(snap: &Snapshot, id: &Id) -> Option<String> {
    let attributes = snap.get(id)?.attributes().to_map();
    let general = attributes.get("general")?;
    general.get("currency")?.as_str().map(str::to_owned)
}

/// The embedder's rule: the engine's eligible parents, and for a RESELLER_ADMIN only
/// those billing in the currency of its own reseller.
fn pickable_parents(
    snap: &Snapshot,
    me: &Principal,
    flags: FilterFlags,
) -> Result<Vec<ResellerId>, AccessError> {
    let total = snap.eligible_count(me, flags)?;
    let own = me.reseller.as_ref().and_then(|r| currency(snap, r));
    let mut out = Vec::new();
    let last = total.div_ceil(1000).max(1) as u64;
    for number in 1..=last {
        let req = PageRequest::new(number, 1000).unwrap();
        for r in snap
            .eligible_parents(me, flags, Order::PreOrder, req)?
            .iter()
        {
            if me.role != Role::ResellerAdmin || currency(snap, r.id()) == own {
                out.push(r.id().to_owned());
            }
        }
    }
    Ok(out)
}

/// The rule never shows a reseller outside the principal's scope, never one in another
/// currency to a RESELLER_ADMIN, and misses none of the others; refusals stay refusals.
/// Most drawn queries are granted, as `Mix::granted(90)` asks.
#[test]
fn the_currency_rule_holds() {
    let queries = AtomicUsize::new(0);
    let granted = AtomicUsize::new(0);
    proptest!(ProptestConfig::with_cases(cases()), |(s in scenario(200, 8, Mix::granted(90)))| {
        let records = with_currencies(s.records);
        let model = Model::new(&records).unwrap();
        let snap = Snapshot::build(records).unwrap();
        for q in &s.queries {
            queries.fetch_add(1, Ordering::Relaxed);
            // The engine itself agrees with the model on every drawn query.
            let answer = check(&snap, &model, q).map_err(|d| TestCaseError::fail(d.to_string()))?;
            if answer.is_granted() {
                granted.fetch_add(1, Ordering::Relaxed);
            }
            let Query::EligibleParents { principal, flags, .. } = q else { continue };
            let got = pickable_parents(&snap, principal, *flags);
            let Some(listing) = model.eligible_parents(principal, *flags, Order::PreOrder) else {
                prop_assert!(got.is_err(), "{}: refused by the model, granted by the rule", q);
                continue;
            };
            let got = got.map_err(|e| TestCaseError::fail(format!("{q}: {e}")))?;
            let own = principal.reseller.as_ref().and_then(|r| currency(&snap, r));
            let expected: Vec<ResellerId> = listing
                .into_iter()
                .filter(|id| principal.role != Role::ResellerAdmin || currency(&snap, id) == own)
                .collect();
            prop_assert_eq!(got, expected, "{}", q);
        }
    });
    let (q, g) = (queries.into_inner(), granted.into_inner());
    eprintln!("granted {g} of {q}");
    assert!(g * 100 >= q * 80, "only {g} of {q} queries were granted");
}

/// Valid batches are accepted and invalid ones refused, exactly as the model decides,
/// and queries still agree after each batch. Most drawn mutations are valid, as
/// `Mix::granted(95)` asks.
#[test]
fn batches_apply_as_the_model_says() {
    let mutations = AtomicUsize::new(0);
    let valid = AtomicUsize::new(0);
    proptest!(ProptestConfig::with_cases(cases()), |((records, batches) in evolving_forest(100, 6, 4, Mix::granted(95)))| {
        let mut model = Model::new(&records).unwrap();
        let h = Hierarchy::new(Snapshot::build(records).unwrap());
        for batch in &batches {
            mutations.fetch_add(batch.len(), Ordering::Relaxed);
            let accepted = model.apply(batch).is_ok();
            prop_assert_eq!(h.apply(batch).is_ok(), accepted, "{:?}", batch);
            if accepted {
                valid.fetch_add(batch.len(), Ordering::Relaxed);
            }
            let snap = h.snapshot();
            for id in model.ids().take(20) {
                for order in [Order::PreOrder, Order::LevelOrder] {
                    let q = Query::Downline { id: id.clone(), order, page: PageRequest::default() };
                    check(&snap, &model, &q).map_err(|d| TestCaseError::fail(d.to_string()))?;
                }
            }
        }
    });
    let (m, v) = (mutations.into_inner(), valid.into_inner());
    eprintln!("valid {v} of {m}");
    assert!(
        v * 100 >= m * 75,
        "only {v} of {m} mutations were in accepted batches"
    );
}
