//! Model-based property tests: every query and every page of the engine against the
//! naive parent-map model of `reseller_hierarchy::testing`.

use proptest::prelude::*;
use proptest::sample::Index;
use reseller_hierarchy::testing::{self, Model};
use reseller_hierarchy::wire::{telecomx, ApiError};
use reseller_hierarchy::{
    AccessError, FilterFlags, Order, PageRequest, Principal, QueryError, Record, ResellerId, Role,
    Snapshot,
};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

fn ids_of<'a>(it: impl Iterator<Item = reseller_hierarchy::Reseller<'a>>) -> Vec<ResellerId> {
    it.map(|r| r.id().to_owned()).collect()
}

/// Every page of a listing, 1 to last, concatenated; checks the paging facts of each.
fn all_pages<'s>(
    per_page: u64,
    mut fetch: impl FnMut(PageRequest) -> reseller_hierarchy::Page<'s>,
) -> Result<Vec<ResellerId>, TestCaseError> {
    let first = fetch(PageRequest::new(1, per_page).unwrap());
    let total = first.total();
    let last = first.last_page();
    prop_assert_eq!(last, (total as u64).div_ceil(per_page).max(1));
    let mut out = Vec::new();
    for n in 1..=last {
        let page = fetch(PageRequest::new(n, per_page).unwrap());
        prop_assert_eq!(page.total(), total);
        prop_assert_eq!(page.number(), n);
        prop_assert_eq!(page.has_next(), n < last);
        if n < last {
            prop_assert_eq!(page.len() as u64, per_page);
        }
        out.extend(ids_of(page.iter()));
    }
    let past = fetch(PageRequest::new(last + 1, per_page).unwrap());
    prop_assert!(past.is_empty());
    prop_assert_eq!(past.total(), total);
    prop_assert_eq!(out.len(), total);
    Ok(out)
}

/// A build of `records` succeeds exactly when the model finds them valid (and then
/// validates), and otherwise reports exactly the model's problems.
fn build_matches_model(records: &[Record]) -> Result<(), TestCaseError> {
    match (Snapshot::build(records.to_vec()), Model::new(records)) {
        (Ok(snap), Ok(_)) => prop_assert_eq!(snap.validate(), Ok(())),
        (Err(err), Err(problems)) => prop_assert_eq!(err.problems(), problems.as_slice()),
        (Ok(_), Err(problems)) => prop_assert!(false, "built despite {:?}", problems),
        (Err(err), Ok(_)) => prop_assert!(false, "valid records refused: {}", err),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// A build succeeds exactly when the model finds the records valid, and otherwise
    /// reports exactly the model's problems.
    #[test]
    fn build_reports_exactly_the_models_problems(records in testing::records(24)) {
        build_matches_model(&records)?;
    }

    /// The same with every id distinct, so that the problems are the cycles and the
    /// unknown parents of up to 200 records (from a small pool of ids, nearly every
    /// draw above holds a duplicate, and the rest are a handful of records).
    #[test]
    fn build_reports_exactly_the_models_cycles_and_unknown_parents(
        parents in prop::collection::vec(prop::option::weighted(0.9, 0usize..210), 0..200),
    ) {
        let records: Vec<Record> = parents
            .iter()
            .enumerate()
            .map(|(i, p)| Record::new(i.to_string(), p.map(|p| p.to_string())))
            .collect();
        build_matches_model(&records)?;
    }

    /// Downline, upline, is_in_downline and counts of sampled resellers, both orders,
    /// against the model; every page of each downline.
    #[test]
    fn queries_match_the_model(
        records in testing::forest(3000),
        picks in prop::collection::vec((any::<Index>(), any::<Index>()), 1..8),
        order in testing::order(),
        per_page in 1u64..9,
    ) {
        let model = Model::new(&records).unwrap();
        let snap = Snapshot::build(records.clone()).unwrap();
        prop_assert_eq!(snap.validate(), Ok(()));
        prop_assert_eq!(snap.len(), records.len());
        let all = ids_of(snap.iter());
        prop_assert_eq!(&all, &model.all(Order::PreOrder));
        if records.is_empty() {
            return Ok(());
        }
        for (a, b) in picks {
            let r = &records[a.index(records.len())].id;
            let other = &records[b.index(records.len())].id;
            let expected = model.downline(r, order).unwrap();
            prop_assert_eq!(snap.downline_count(r).unwrap(), expected.len());
            let got = all_pages(per_page, |req| snap.downline(r, order, req).unwrap())?;
            prop_assert_eq!(got, expected);
            let up: Vec<ResellerId> = snap.upline(r).unwrap().map(|x| x.id().to_owned()).collect();
            prop_assert_eq!(&up, &model.upline(r).unwrap());
            let up_pages = all_pages(per_page, |req| snap.upline_page(r, req).unwrap())?;
            prop_assert_eq!(&up_pages, &up);
            prop_assert_eq!(snap.get(r).unwrap().depth(), up.len());
            prop_assert_eq!(
                snap.is_in_downline(other, r).unwrap(),
                model.is_in_downline(other, r).unwrap()
            );
            let kids: Vec<ResellerId> =
                snap.get(r).unwrap().children().map(|c| c.id().to_owned()).collect();
            prop_assert_eq!(kids, model.children(r));
        }
        let missing = ResellerId::from("not-a-reseller");
        prop_assert_eq!(
            snap.downline(&missing, order, PageRequest::default()).unwrap_err(),
            QueryError::NotFound { id: missing.clone() }
        );
        prop_assert!(snap.upline(&missing).is_err());
        prop_assert!(snap.is_in_downline(&missing, &records[0].id).is_err());
        prop_assert!(snap.is_in_downline(&records[0].id, &missing).is_err());
    }

    /// Eligible parents of random principals, flags, orders and pages: the same page as
    /// the model's, the same total, and access denied exactly when the model denies.
    #[test]
    fn eligible_parents_match_the_model(
        records in testing::forest(2000),
        principal in testing::principal(2000),
        flags in testing::flags(),
        order in testing::order(),
        req in testing::page_request(),
    ) {
        let model = Model::new(&records).unwrap();
        let snap = Snapshot::build(records).unwrap();
        let expected = model.eligible_parents(&principal, flags, order);
        match (snap.eligible_parents(&principal, flags, order, req), expected) {
            (Ok(page), Some(listing)) => {
                prop_assert_eq!(page.total(), listing.len());
                prop_assert_eq!(snap.eligible_count(&principal, flags).unwrap(), listing.len());
                prop_assert_eq!(ids_of(page.iter()), Model::page(&listing, req).to_vec());
            }
            (Err(e), None) => prop_assert_eq!(e.http_status(), 403),
            (got, want) => prop_assert!(false, "engine {:?}, model {:?}", got.map(|p| p.total()), want),
        }
    }

    /// A malformed flag in a TelecomX query is a 400 only for a principal who has
    /// access by the model, given the flags the query sets `true` (a `RESELLER` may set
    /// none; a flag given twice, once `true`, is set); anyone else gets the 403 every
    /// refusal gets, whatever the rest of the query says and in whatever order. The
    /// 400 names the flag, before any fault of the order or the paging.
    #[test]
    fn malformed_flags_are_read_after_access(
        records in testing::forest(200),
        principal in testing::principal(200),
        flag in 0..4usize,
        value in "[a-z0-9]{0,6}",
        also_true in prop::option::of(0..4usize),
        true_first in any::<bool>(),
        paging in prop::sample::select(vec!["", "&page=0", "&per_page=5000", "&order=x"]),
    ) {
        prop_assume!(value != "true" && value != "false");
        let names = ["iptv", "iptvprivate", "flexcare", "voip"];
        let bad = format!("{}={value}", names[flag]);
        let query = match also_true {
            None => format!("{bad}{paging}"),
            Some(t) if true_first => format!("{}=true&{bad}{paging}", names[t]),
            Some(t) => format!("{bad}&{}=true{paging}", names[t]),
        };
        let mut set = [false; 4];
        if let Some(t) = also_true {
            set[t] = true;
        }
        let flags = FilterFlags {
            iptv: set[0],
            iptvprivate: set[1],
            flexcare: set[2],
            voip: set[3],
        };
        let model = Model::new(&records).unwrap();
        let snap = Snapshot::build(records).unwrap();
        let e = telecomx::eligible_parents(&snap, &principal, &query).unwrap_err();
        let allowed = model
            .eligible_parents(&principal, flags, Order::PreOrder)
            .is_some();
        prop_assert_eq!(e.http_status(), if allowed { 400 } else { 403 }, "{}", query);
        if allowed {
            let named = matches!(&e, ApiError::BadParameter { parameter, .. } if parameter == names[flag]);
            prop_assert!(named, "{}: {:?}", query, e);
        }
    }

    /// Pages partition every eligible-parents listing: concatenated, they are the
    /// model's whole listing (its filter and order, at every position, also past the
    /// first page's), and no principal ever receives a reseller outside its own
    /// reseller and downline (everything, for ADMIN).
    #[test]
    fn eligible_pages_partition_and_stay_in_scope(
        records in testing::forest(2000),
        principal in testing::principal(2000),
        flags in testing::flags(),
        order in testing::order(),
        per_page in 1u64..12,
    ) {
        let model = Model::new(&records).unwrap();
        let snap = Snapshot::build(records).unwrap();
        let Ok(first) = snap.eligible_parents(&principal, flags, order, PageRequest::default()) else {
            return Ok(());
        };
        drop(first);
        let got = all_pages(per_page, |req| {
            snap.eligible_parents(&principal, flags, order, req).unwrap()
        })?;
        let listing = model.eligible_parents(&principal, flags, order);
        prop_assert_eq!(Some(&got), listing.as_ref());
        let mut seen = std::collections::HashSet::new();
        for id in &got {
            prop_assert!(seen.insert(id.clone()), "{:?} listed twice", id);
            if principal.role != Role::Admin {
                let own = principal.reseller.as_ref().unwrap();
                prop_assert!(
                    id == own || model.is_in_downline(id, own).unwrap(),
                    "{:?} is outside {:?}'s downline", id, own
                );
            }
        }
    }

    /// Only the first true flag counts: adding lower-priority flags changes nothing;
    /// and the filter applies to the principal's own reseller.
    #[test]
    fn first_flag_wins_and_filters_the_own_reseller(
        records in testing::forest(200),
        who in any::<Index>(),
        first in 0usize..4,
        extra in any::<[bool; 4]>(),
        order in testing::order(),
    ) {
        if records.is_empty() {
            return Ok(());
        }
        let snap = Snapshot::build(records.clone()).unwrap();
        let own = records[who.index(records.len())].clone();
        let me = Principal::new(Role::ResellerAdmin, own.id.clone());
        let mut only = [false; 4];
        only[first] = true;
        let mut more = only;
        for (i, e) in extra.iter().enumerate() {
            if i > first {
                more[i] |= *e;
            }
        }
        let as_flags = |f: [bool; 4]| FilterFlags { iptv: f[0], iptvprivate: f[1], flexcare: f[2], voip: f[3] };
        let req = PageRequest::new(1, 1000).unwrap();
        let a = ids_of(snap.eligible_parents(&me, as_flags(only), order, req).unwrap().iter());
        let b = ids_of(snap.eligible_parents(&me, as_flags(more), order, req).unwrap().iter());
        prop_assert_eq!(&a, &b);
        let filter = as_flags(only).effective().unwrap();
        prop_assert_eq!(a.first() == Some(&own.id), filter.matches(own.capabilities));
        prop_assert_eq!(a.contains(&own.id), filter.matches(own.capabilities));
        // A RESELLER may not filter at all.
        let plain = Principal::new(Role::Reseller, own.id.clone());
        prop_assert!(
            matches!(
                snap.eligible_parents(&plain, as_flags(more), order, req),
                Err(AccessError::FlagNeedsResellerAdmin { .. })
            ),
            "a RESELLER with a flag must be denied"
        );
    }
}

/// The model itself is checked once by hand, so that the properties above cannot pass
/// by a shared mistake.
#[test]
fn model_agrees_with_a_hand_worked_example() {
    // 1 ─┬─ 2 ─── 4
    //    └─ 3 ─┬─ 5
    //          └─ 6        7 (second root)
    let records = vec![
        Record::new("1", None::<&str>),
        Record::new("3", Some("1")),
        Record::new("5", Some("3")),
        Record::new("2", Some("1")),
        Record::new("4", Some("2")),
        Record::new("7", Some("7")),
        Record::new("6", Some("3")),
    ];
    let model = Model::new(&records).unwrap();
    let ids = |v: Vec<ResellerId>| v.into_iter().map(|i| i.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ids(model.all(Order::PreOrder)),
        ["1", "3", "5", "6", "2", "4", "7"]
    );
    assert_eq!(
        ids(model.all(Order::LevelOrder)),
        ["1", "7", "3", "2", "5", "6", "4"]
    );
    let one = ResellerId::from("1");
    assert_eq!(
        ids(model.downline(&one, Order::LevelOrder).unwrap()),
        ["3", "2", "5", "6", "4"]
    );
    let snap = Snapshot::build(records).unwrap();
    let all = |order| {
        snap.eligible_parents(
            &Principal::admin(),
            FilterFlags::NONE,
            order,
            PageRequest::default(),
        )
        .unwrap()
        .iter()
        .map(|r| r.id().to_string())
        .collect::<Vec<_>>()
    };
    assert_eq!(all(Order::PreOrder), ["1", "3", "5", "6", "2", "4", "7"]);
    assert_eq!(all(Order::LevelOrder), ["1", "7", "3", "2", "5", "6", "4"]);
    let level: Vec<String> = snap
        .downline(&one, Order::LevelOrder, PageRequest::new(2, 2).unwrap())
        .unwrap()
        .iter()
        .map(|r| r.id().to_string())
        .collect();
    assert_eq!(level, ["5", "6"]);
}
