//! Mutations, versions and cursors: random batches against the naive model with every
//! query checked after each step; cursors that are forged, cut, altered, reused for
//! another query or expired; and readers paging with cursors while a writer applies
//! batches.

use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::Index;
use reseller_hierarchy::testing::{self, Model};
use reseller_hierarchy::Id;
use reseller_hierarchy::{
    Capabilities, CursorError, FilterFlags, Hierarchy, ListError, Mutation, Order, PageRequest,
    Principal, Record, Removal, ResellerId, Role, Snapshot, Start,
};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// A mutation chosen against whatever ids exist when it is applied.
#[derive(Clone, Debug)]
enum Op {
    Add {
        parent: Option<Index>,
        caps: u8,
        reuse: Option<Index>,
    },
    Move {
        who: Index,
        to: Option<Index>,
    },
    Remove {
        who: Index,
        reattach: bool,
    },
    Update {
        who: Index,
        caps: u8,
    },
    Unknown,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (prop::option::weighted(0.9, any::<Index>()), any::<u8>(), prop::option::weighted(0.15, any::<Index>()))
            .prop_map(|(parent, caps, reuse)| Op::Add { parent, caps, reuse }),
        4 => (any::<Index>(), prop::option::weighted(0.9, any::<Index>())).prop_map(|(who, to)| Op::Move { who, to }),
        2 => (any::<Index>(), any::<bool>()).prop_map(|(who, reattach)| Op::Remove { who, reattach }),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(who, caps)| Op::Update { who, caps }),
        1 => Just(Op::Unknown),
    ]
}

/// `ids` are the present ids; `ever`, every id known so far, removed ones included, is
/// where an add that reuses an id picks it (a present one is refused as a duplicate, a
/// removed one comes back as a new reseller).
fn resolve(op: &Op, ids: &[ResellerId], ever: &[ResellerId], fresh: &mut u64) -> Mutation {
    let pick = |i: &Index| -> ResellerId {
        if ids.is_empty() {
            ResellerId::from("none")
        } else {
            ids[i.index(ids.len())].clone()
        }
    };
    match op {
        Op::Add {
            parent,
            caps: c,
            reuse,
        } => {
            *fresh += 1;
            let id = match reuse {
                Some(i) if !ever.is_empty() => ever[i.index(ever.len())].clone(),
                Some(i) => pick(i),
                None => ResellerId::from(format!("n{fresh}")),
            };
            let parent = parent.as_ref().map(pick);
            Mutation::Add(
                Record::new(id, parent)
                    .capabilities(Capabilities::from_bits(*c))
                    .name(format!("new {fresh}")),
            )
        }
        Op::Move { who, to } => Mutation::Move {
            id: pick(who),
            parent: to.as_ref().map(pick),
        },
        Op::Remove { who, reattach } => Mutation::Remove {
            id: pick(who),
            removal: if *reattach {
                Removal::ReattachDownline
            } else {
                Removal::LeafOnly
            },
        },
        Op::Update { who, caps: c } => Mutation::Update {
            id: pick(who),
            name: Some(format!("renamed {}", c)),
            capabilities: Some(Capabilities::from_bits(*c)),
            economic_enabled: Some(c % 2 == 0),
            attributes: None,
        },
        Op::Unknown => Mutation::Move {
            id: ResellerId::from("ghost"),
            parent: None,
        },
    }
}

fn ids_of(page: &reseller_hierarchy::Page<'_>) -> Vec<ResellerId> {
    page.iter().map(|r| r.id().to_owned()).collect()
}

/// Every query of `snap` against `model`.
fn check(snap: &Snapshot, model: &Model, principals: &[Principal]) -> Result<(), TestCaseError> {
    prop_assert_eq!(snap.validate(), Ok(()));
    let all = PageRequest::new(1, 1000).unwrap();
    for order in [Order::PreOrder, Order::LevelOrder] {
        let page = snap
            .eligible_parents(&Principal::admin(), FilterFlags::NONE, order, all)
            .unwrap();
        prop_assert_eq!(ids_of(&page), model.all(order));
        // What a page's items carry (a base's, or an added or updated record) and how
        // they relate, item by item.
        let items: Vec<_> = page.iter().collect();
        for (k, r) in items.iter().enumerate() {
            let rec = model.record(r.id()).unwrap();
            prop_assert_eq!(r.name(), rec.name.as_str());
            prop_assert_eq!(r.capabilities(), rec.capabilities);
            prop_assert_eq!(r.economic_enabled(), rec.economic_enabled);
            let of = &items[(k * 7 + 1) % items.len()];
            prop_assert_eq!(
                r.is_in_downline_of(of),
                model.is_in_downline(r.id(), of.id()).unwrap()
            );
        }
    }
    for id in model.ids() {
        let r = snap.get(id).unwrap();
        prop_assert_eq!(r.parent(), model.parent(id));
        let rec = model.record(id).unwrap();
        prop_assert_eq!(r.name(), rec.name.as_str());
        prop_assert_eq!(r.capabilities(), rec.capabilities);
        prop_assert_eq!(r.economic_enabled(), rec.economic_enabled);
        prop_assert_eq!(
            snap.downline_count(id).unwrap(),
            model.downline(id, Order::PreOrder).unwrap().len()
        );
        let up: Vec<ResellerId> = snap
            .upline(id)
            .unwrap()
            .map(|r| r.id().to_owned())
            .collect();
        prop_assert_eq!(&up, &model.upline(id).unwrap());
        prop_assert_eq!(r.depth(), up.len());
        let kids: Vec<ResellerId> = r.children().map(|c| c.id().to_owned()).collect();
        prop_assert_eq!(kids, model.children(id));
        // Every page of every downline, in pages of 3: offsets inside pieces.
        for order in [Order::PreOrder, Order::LevelOrder] {
            let want = model.downline(id, order).unwrap();
            for number in 1..=want.len().div_ceil(3).max(1) as u64 + 1 {
                let req = PageRequest::new(number, 3).unwrap();
                let page = snap.downline(id, order, req).unwrap();
                prop_assert_eq!(page.total(), want.len());
                prop_assert_eq!(ids_of(&page), Model::page(&want, req).to_vec());
            }
        }
    }
    let ids: Vec<&ResellerId> = model.ids().collect();
    for a in &ids {
        for b in ids.iter().step_by(3) {
            prop_assert_eq!(
                snap.is_in_downline(a, b).unwrap(),
                model.is_in_downline(a, b).unwrap()
            );
            let (ra, rb) = (snap.get(a).unwrap(), snap.get(b).unwrap());
            prop_assert_eq!(
                ra.is_in_downline_of(&rb),
                model.is_in_downline(a, b).unwrap()
            );
        }
    }
    let roots = ids.iter().filter(|id| model.parent(id).is_none()).count();
    prop_assert_eq!(snap.root_count(), roots);
    prop_assert_eq!(snap.summary().resellers, ids.len());
    let deepest = ids
        .iter()
        .map(|id| model.upline(id).map_or(0, |up| up.len()))
        .max()
        .unwrap_or(0);
    prop_assert_eq!(snap.summary().max_depth, deepest);
    let flag_sets = [
        FilterFlags::NONE,
        FilterFlags {
            iptv: true,
            ..FilterFlags::NONE
        },
        FilterFlags {
            iptvprivate: true,
            ..FilterFlags::NONE
        },
        FilterFlags {
            flexcare: true,
            ..FilterFlags::NONE
        },
        FilterFlags {
            voip: true,
            ..FilterFlags::NONE
        },
    ];
    for p in principals.iter().chain([&Principal::admin()]) {
        for flags in flag_sets {
            for order in [Order::PreOrder, Order::LevelOrder] {
                let want = model.eligible_parents(p, flags, order);
                let got = snap
                    .eligible_parents(p, flags, order, all)
                    .ok()
                    .map(|pg| ids_of(&pg));
                prop_assert_eq!(&got, &want);
                let Some(want) = want else { continue };
                prop_assert_eq!(snap.eligible_count(p, flags).unwrap(), want.len());
                let req = PageRequest::new(2, 2).unwrap();
                let page = snap.eligible_parents(p, flags, order, req).unwrap();
                prop_assert_eq!(ids_of(&page), Model::page(&want, req).to_vec());
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Random batches: accepted exactly when the model accepts them (refusals name the
    /// same mutation and change nothing), and after each step every query agrees with
    /// the model and the snapshot validates.
    #[test]
    fn random_batches_match_the_model(
        records in testing::forest(60),
        batches in prop::collection::vec(prop::collection::vec(op(), 1..5), 1..8),
        who in prop::collection::vec(testing::principal(60), 3),
        fold_at in 1usize..40,
        compact_at in 0usize..4,
    ) {
        let mut model = Model::new(&records).unwrap();
        let h = Hierarchy::new(Snapshot::build(records).unwrap());
        // Small thresholds: background folds (and the replay of the batches applied
        // while they run) happen between the steps, at whatever moment.
        h.set_fold_threshold(fold_at);
        let mut fresh = 0;
        let mut ever: Vec<ResellerId> = model.ids().cloned().collect();
        for (step, batch) in batches.iter().enumerate() {
            if step == compact_at {
                let before = h.snapshot().version();
                h.compact();
                prop_assert_eq!(h.snapshot().version(), before);
                check(&h.snapshot(), &model, &who)?;
            }
            let ids: Vec<ResellerId> = model.ids().cloned().collect();
            let batch: Vec<Mutation> = batch.iter().map(|o| resolve(o, &ids, &ever, &mut fresh)).collect();
            for m in &batch {
                if let Mutation::Add(r) = m {
                    if !ever.contains(&r.id) {
                        ever.push(r.id.clone());
                    }
                }
            }
            let before = h.snapshot().version();
            match (h.apply(&batch), model.apply(&batch)) {
                (Ok(v), Ok(())) => prop_assert_eq!(v, before + 1),
                (Err(e), Err(i)) => {
                    prop_assert_eq!(e.index(), i, "{}", e);
                    prop_assert_eq!(h.snapshot().version(), before);
                }
                (got, want) => prop_assert!(false, "engine {:?}, model {:?} for {:?}", got, want, batch),
            }
            check(&h.snapshot(), &model, &who)?;
        }
    }

    /// A client following cursors sees every reseller of its version exactly once,
    /// whatever is applied between its pages.
    #[test]
    fn cursors_see_their_version_exactly_once(
        records in testing::forest(80),
        per in 1u64..6,
        ops in prop::collection::vec(op(), 0..20),
        order in testing::order(),
    ) {
        let model = Model::new(&records).unwrap();
        // Keeps more versions than the test applies batches, so no cursor expires.
        let h = Hierarchy::with_options(Snapshot::build(records).unwrap(), 32, [3; 32]);
        let want = model.all(order);
        let mut got = Vec::new();
        let mut page = h.eligible_parents(&Principal::admin(), FilterFlags::NONE, order, Start::first(per).unwrap()).unwrap();
        let version = page.version();
        let mut fresh = 0;
        let mut ops = ops.into_iter();
        loop {
            prop_assert_eq!(page.version(), version);
            got.extend(ids_of(&page.page()));
            // Change the hierarchy between pages (refused batches are fine too).
            if let Some(o) = ops.next() {
                let ids: Vec<ResellerId> = h.snapshot().iter().map(|r| r.id().to_owned()).collect();
                let _ = h.apply(&[resolve(&o, &ids, &ids, &mut fresh)]);
            }
            let Some(next) = page.next_cursor().map(str::to_owned) else { break };
            page = h.eligible_parents(&Principal::admin(), FilterFlags::NONE, order, Start::Cursor(&next)).unwrap();
        }
        prop_assert_eq!(got, want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases() / 10))]

    /// Long runs of changes that are never folded: the changed version's pieces grow
    /// into a tree of several levels, and every query still agrees with the model.
    #[test]
    fn unfolded_changes_match_the_model(
        records in testing::forest(300),
        batches in prop::collection::vec(prop::collection::vec(op(), 1..12), 20..40),
        who in prop::collection::vec(testing::principal(300), 3),
    ) {
        unfolded(records, &batches, 4, |snap, model| check(snap, model, &who))?;
    }
}

/// Chains `lens` deep, each followed by `singles` lone roots, numbered in order: the
/// end of a chain shares a block of the base's positions with the roots after it, so
/// some depths sit 255 or more below their block's smallest (and are read from the
/// level order) while the rest are bytes over the block's smallest.
fn chains(lens: &[usize], singles: usize) -> Vec<Record> {
    let mut records = Vec::new();
    let mut next = 0u64;
    for &len in lens {
        for i in 0..len {
            let parent = (i > 0).then(|| next - 1);
            records.push(Record::new(next, parent));
            next += 1;
        }
        for _ in 0..singles {
            records.push(Record::new(next, None::<u64>));
            next += 1;
        }
    }
    records
}

/// What deep versions must get right, without `check`'s every page of every downline
/// (quadratic in a chain's length): the invariants (depths by position included),
/// both whole listings, every reseller's parent, depth and downline size, and the
/// first and last pages of some downlines in both orders.
fn check_deep(snap: &Snapshot, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(snap.validate(), Ok(()));
    for order in [Order::PreOrder, Order::LevelOrder] {
        // Pages of 1,000 (the most a page holds), all of them.
        let mut got = Vec::new();
        for number in 1.. {
            let req = PageRequest::new(number, 1000).unwrap();
            let page = snap
                .eligible_parents(&Principal::admin(), FilterFlags::NONE, order, req)
                .unwrap();
            if page.is_empty() {
                break;
            }
            got.extend(ids_of(&page));
        }
        prop_assert_eq!(got, model.all(order));
    }
    for (i, id) in model.ids().enumerate() {
        let r = snap.get(id).unwrap();
        prop_assert_eq!(r.parent(), model.parent(id));
        prop_assert_eq!(
            r.depth(),
            model.upline(id).unwrap().len(),
            "depth of {}",
            id
        );
        let want = model.downline(id, Order::PreOrder).unwrap();
        prop_assert_eq!(snap.downline_count(id).unwrap(), want.len());
        if i % 37 == 0 {
            for order in [Order::PreOrder, Order::LevelOrder] {
                let want = model.downline(id, order).unwrap();
                let last = want.len().div_ceil(50).max(1) as u64;
                for req in [
                    PageRequest::new(1, 50).unwrap(),
                    PageRequest::new(last, 50).unwrap(),
                ] {
                    let page = snap.downline(id, order, req).unwrap();
                    prop_assert_eq!(ids_of(&page), Model::page(&want, req).to_vec());
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases((cases() / 50).max(4)))]

    /// Forests deeper than 255, changed without folding: depths read as bytes over a
    /// block's smallest and depths read from the level order both agree with the model.
    #[test]
    fn deep_chains_under_changes_match_the_model(
        lens in prop::collection::vec(256usize..700, 1..4),
        singles in 1usize..4,
        batches in prop::collection::vec(prop::collection::vec(op(), 1..8), 4..12),
    ) {
        let records = chains(&lens, singles);
        check_deep(&Snapshot::build(records.clone()).unwrap(), &Model::new(&records).unwrap())?;
        unfolded(records, &batches, 3, check_deep)?;
    }
}

/// Applies `batches` (resolved against the model's ids) to a hierarchy over `records`
/// that never folds, and to the model; both accept or refuse each batch alike, and
/// after every `every`-th batch and the last `check` compares them.
fn unfolded(
    records: Vec<Record>,
    batches: &[Vec<Op>],
    every: usize,
    check: impl Fn(&Snapshot, &Model) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let mut model = Model::new(&records).unwrap();
    let h = Hierarchy::new(Snapshot::build(records).unwrap());
    h.set_fold_threshold(usize::MAX);
    let mut fresh = 0;
    for (step, batch) in batches.iter().enumerate() {
        let ids: Vec<ResellerId> = model.ids().cloned().collect();
        let batch: Vec<Mutation> = batch
            .iter()
            .map(|o| resolve(o, &ids, &ids, &mut fresh))
            .collect();
        match (h.apply(&batch), model.apply(&batch)) {
            (Ok(_), Ok(())) | (Err(_), Err(_)) => {}
            (got, want) => {
                prop_assert!(false, "engine {:?}, model {:?} for {:?}", got, want, batch)
            }
        }
        if step % every == every - 1 || step + 1 == batches.len() {
            check(&h.snapshot(), &model)?;
        }
    }
    Ok(())
}

fn small() -> Hierarchy {
    Hierarchy::with_options(
        Snapshot::build((1..=10u64).map(|i| Record::new(i, (i > 1).then_some(1u64)))).unwrap(),
        2,
        [7; 32],
    )
}

/// Two hundred consecutive resellers that no longer match a filter sit between its
/// matches, each a piece of its own: every filtered page that crosses the stretch
/// (the listing steps over a few such pieces, then descends for the next match)
/// lists exactly the model's matches, in pages of every size.
#[test]
fn filtered_pages_cross_long_stretches_without_a_match() {
    let iptv = Capabilities::NONE.with(reseller_hierarchy::Capability::Iptv);
    let records: Vec<Record> = std::iter::once(Record::new("0", None::<&str>))
        .chain((1..=300).map(|k| Record::new(k.to_string(), Some("0")).capabilities(iptv)))
        .collect();
    let mut model = Model::new(&records).unwrap();
    let h = Hierarchy::new(Snapshot::build(records).unwrap());
    h.set_fold_threshold(usize::MAX);
    let batch: Vec<Mutation> = (50..250)
        .map(|k| Mutation::Update {
            id: ResellerId::from(k.to_string()),
            name: None,
            capabilities: Some(Capabilities::NONE),
            economic_enabled: None,
            attributes: None,
        })
        .collect();
    h.apply(&batch).unwrap();
    model.apply(&batch).unwrap();
    let snap = h.snapshot();
    assert!(snap.change_weight() >= 200, "each update its own piece");
    let flags = FilterFlags {
        iptv: true,
        ..FilterFlags::NONE
    };
    for p in [Principal::admin(), Principal::new(Role::ResellerAdmin, "0")] {
        for order in [Order::PreOrder, Order::LevelOrder] {
            let want = model.eligible_parents(&p, flags, order).unwrap();
            assert_eq!(want.len(), 100, "the children still with iptv");
            for per_page in [1u64, 3, 7, 49, 1000] {
                let mut got = Vec::new();
                for number in 1..=want.len().div_ceil(per_page as usize) as u64 {
                    let req = PageRequest::new(number, per_page).unwrap();
                    let page = snap.eligible_parents(&p, flags, order, req).unwrap();
                    got.extend(ids_of(&page));
                }
                assert_eq!(got, want, "{p:?}, {order:?}, pages of {per_page}");
            }
        }
    }
}

#[test]
fn refused_mutations_name_the_problem_and_change_nothing() {
    let h = small();
    let cases: Vec<(Vec<Mutation>, &str)> = vec![
        (
            vec![Mutation::Move {
                id: "99".into(),
                parent: None,
            }],
            "no reseller has id \"99\"",
        ),
        (
            vec![Mutation::Add(Record::new("3", None::<&str>))],
            "already taken",
        ),
        (
            vec![Mutation::Add(Record::new("x", Some("nope")))],
            "\"nope\" of \"x\"",
        ),
        (
            vec![Mutation::Move {
                id: "2".into(),
                parent: Some("2".into()),
            }],
            "its own parent",
        ),
        (
            vec![
                Mutation::Add(Record::new("c", Some("2"))),
                Mutation::Move {
                    id: "2".into(),
                    parent: Some("c".into()),
                },
            ],
            "in its own downline",
        ),
        (
            vec![Mutation::Remove {
                id: "1".into(),
                removal: Removal::LeafOnly,
            }],
            "has 9 children",
        ),
    ];
    for (batch, needle) in cases {
        let err = h.apply(&batch).unwrap_err();
        assert_eq!(err.http_status(), 400);
        assert!(err.to_string().contains(needle), "{err}");
        assert!(err.to_string().contains("nothing applied"), "{err}");
        assert_eq!(h.snapshot().version(), 1);
        assert_eq!(h.snapshot().len(), 10);
    }
    // A batch whose second mutation is refused leaves the first unapplied too.
    let err = h
        .apply(&[
            Mutation::Add(Record::new("11", Some("1"))),
            Mutation::Move {
                id: "zz".into(),
                parent: None,
            },
        ])
        .unwrap_err();
    assert_eq!(err.index(), 1);
    assert!(h.snapshot().get(Id::new("11")).is_none());
}

#[test]
fn readers_keep_their_version() {
    let h = small();
    let held = h.snapshot();
    h.apply(&[Mutation::Remove {
        id: "5".into(),
        removal: Removal::LeafOnly,
    }])
    .unwrap();
    assert_eq!(held.version(), 1);
    assert!(held.get(Id::new("5")).is_some());
    assert!(h.snapshot().get(Id::new("5")).is_none());
    let page = held
        .downline(Id::new("1"), Order::PreOrder, PageRequest::default())
        .unwrap();
    assert_eq!((page.version(), page.total()), (1, 9));
}

#[test]
fn bad_cursors_are_bad_requests_never_panics() {
    let h = small();
    let first = h
        .downline(Id::new("1"), Order::PreOrder, Start::first(2).unwrap())
        .unwrap();
    let good = first.next_cursor().unwrap().to_owned();
    let follow = |c: &str| h.downline(Id::new("1"), Order::PreOrder, Start::Cursor(c));
    assert!(follow(&good).is_ok());
    // Truncated, extended, altered in every position, garbage, empty, huge.
    let mut bad: Vec<String> = vec![
        good[..good.len() - 1].to_owned(),
        good[..10].to_owned(),
        format!("{good}A"),
        String::new(),
        "not a cursor!".into(),
        "é".repeat(100),
        "A".repeat(1 << 20),
    ];
    for i in 0..good.len() {
        let mut bytes = good.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        bad.push(String::from_utf8(bytes).unwrap());
    }
    for c in &bad {
        match follow(c) {
            Err(ListError::Cursor(e @ (CursorError::Malformed { .. } | CursorError::Forged))) => {
                assert_eq!(e.http_status(), 400)
            }
            other => panic!("{c:?} gave {other:?}"),
        }
    }
    // A cursor of another query, and of another hierarchy's key.
    let other = h.downline(Id::new("2"), Order::PreOrder, Start::Cursor(&good));
    assert_eq!(
        other.unwrap_err(),
        ListError::Cursor(CursorError::OtherQuery)
    );
    let level = h.downline(Id::new("1"), Order::LevelOrder, Start::Cursor(&good));
    assert_eq!(
        level.unwrap_err(),
        ListError::Cursor(CursorError::OtherQuery)
    );
    let stranger = Hierarchy::new(Snapshot::build([Record::new("1", None::<&str>)]).unwrap());
    let forged = stranger.downline(Id::new("1"), Order::PreOrder, Start::Cursor(&good));
    assert_eq!(forged.unwrap_err(), ListError::Cursor(CursorError::Forged));
    // Principal-bound: an eligible-parents cursor does not serve another principal.
    let me = Principal::new(Role::ResellerAdmin, "1");
    let page = h
        .eligible_parents(
            &me,
            FilterFlags::NONE,
            Order::PreOrder,
            Start::first(3).unwrap(),
        )
        .unwrap();
    let c = page.next_cursor().unwrap();
    let you = Principal::new(Role::ResellerAdmin, "2");
    assert_eq!(
        h.eligible_parents(&you, FilterFlags::NONE, Order::PreOrder, Start::Cursor(c))
            .unwrap_err(),
        ListError::Cursor(CursorError::OtherQuery)
    );
}

#[test]
fn an_expired_cursor_says_so() {
    let h = small(); // keeps 2 versions
    let first = h
        .downline(Id::new("1"), Order::PreOrder, Start::first(2).unwrap())
        .unwrap();
    let c = first.next_cursor().unwrap().to_owned();
    for i in 0..2 {
        h.apply(&[Mutation::Add(Record::new(format!("a{i}"), Some("1")))])
            .unwrap();
    }
    let err = h
        .downline(Id::new("1"), Order::PreOrder, Start::Cursor(&c))
        .unwrap_err();
    assert_eq!(
        err,
        ListError::Cursor(CursorError::Expired {
            version: 1,
            oldest: 2
        })
    );
    assert_eq!(err.http_status(), 410);
    assert!(err.to_string().contains("start again"), "{err}");
}

/// Access is decided before paging: a principal the current version refuses learns
/// nothing of the cursor it sends (malformed, forged, of another query or expired),
/// only that it is refused; one with access still hears what is wrong with its cursor.
#[test]
fn a_refused_principal_learns_nothing_of_its_cursor() {
    let h = small(); // keeps 2 versions
    let admin = Principal::admin();
    let all =
        |p: &Principal, start| h.eligible_parents(p, FilterFlags::NONE, Order::PreOrder, start);
    let of_admin = all(&admin, Start::first(2).unwrap()).unwrap();
    let of_admin = of_admin.next_cursor().unwrap().to_owned();
    let guest = Principal::new(Role::Other("GUEST".into()), "1");
    for cursor in ["", "zz", "AAAA", of_admin.as_str()] {
        let e = all(&guest, Start::Cursor(cursor)).unwrap_err();
        assert!(matches!(e, ListError::Access(_)), "{cursor:?}: {e:?}");
        assert_eq!(e.http_status(), 403);
    }
    // A reseller's own cursor, once its reseller is gone and its version expired.
    let two = Principal::new(Role::ResellerAdmin, "2");
    let first = all(&two, Start::first(1).unwrap());
    assert!(first.is_ok(), "reseller 2 lists itself");
    h.apply(&[Mutation::Add(Record::new("11", Some("2")))])
        .unwrap();
    let mine = all(&two, Start::first(1).unwrap()).unwrap();
    let mine = mine.next_cursor().unwrap().to_owned();
    h.apply(&[Mutation::Remove {
        id: ResellerId::from("11"),
        removal: Removal::LeafOnly,
    }])
    .unwrap();
    h.apply(&[Mutation::Remove {
        id: ResellerId::from("2"),
        removal: Removal::LeafOnly,
    }])
    .unwrap();
    let e = all(&two, Start::Cursor(&mine)).unwrap_err();
    assert!(matches!(e, ListError::Access(_)), "{e:?}");
    // With access, the cursor's own fault is told.
    let e = all(&admin, Start::Cursor("zz")).unwrap_err();
    assert!(
        matches!(e, ListError::Cursor(CursorError::Malformed { .. })),
        "{e:?}"
    );
    let e = all(&admin, Start::Cursor(&mine)).unwrap_err();
    assert!(matches!(e, ListError::Cursor(_)), "{e:?}");
}

/// Readers page with cursors on their own threads while a writer applies batches;
/// every completed listing equals the model of the version it pinned, that model
/// being the writer's accepted batches replayed on the model of the records (not the
/// version's own records). Each reader's first listing waits, after its first page,
/// for the writer to publish a later version, so that listings do span changes.
#[test]
fn readers_paging_while_a_writer_applies_batches() {
    let records = reseller_hierarchy::generate::Generator::new(
        reseller_hierarchy::generate::Shape::Random,
        2000,
    )
    .seed(5)
    .generate();
    let h = Arc::new(Hierarchy::with_options(
        Snapshot::build(records.clone()).unwrap(),
        // More than the writer's 200 batches: a batch takes microseconds, so a smaller
        // bound could expire a reader's version mid-listing (a correct 410, which
        // `an_expired_cursor_says_so` covers; here every listing must complete).
        256,
        [1; 32],
    ));
    let first_version = h.snapshot().version();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Readers that took their first page: the writer starts once both have (or after
    // ten seconds, should one have failed), so that it cannot be done before them.
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writer = {
        let (h, stop, started) = (h.clone(), stop.clone(), started.clone());
        std::thread::spawn(move || {
            let waiting = std::time::Instant::now();
            while started.load(std::sync::atomic::Ordering::Acquire) < 2
                && waiting.elapsed() < std::time::Duration::from_secs(10)
            {
                std::thread::yield_now();
            }
            let mut accepted = Vec::new();
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 200 {
                i += 1;
                let p = ResellerId::from(1 + i % 500);
                let batch = vec![
                    Mutation::Add(Record::new(format!("w{i}"), Some(p.clone()))),
                    Mutation::Move {
                        id: ResellerId::from(600 + i % 700),
                        parent: Some(ResellerId::from(1 + (i * 7) % 300)),
                    },
                ];
                if let Ok(version) = h.apply(&batch) {
                    accepted.push((version, batch));
                }
            }
            accepted
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|t| {
            let (h, started) = (h.clone(), started.clone());
            std::thread::spawn(move || {
                let mut listings = Vec::new();
                for round in 0..6 {
                    let order = if (t + round) % 2 == 0 {
                        Order::PreOrder
                    } else {
                        Order::LevelOrder
                    };
                    let mut page = h
                        .downline(Id::new("1"), order, Start::first(97).unwrap())
                        .unwrap();
                    let version = page.version();
                    if round == 0 {
                        started.fetch_add(1, std::sync::atomic::Ordering::Release);
                        let waiting = std::time::Instant::now();
                        while h.snapshot().version() == version {
                            assert!(
                                waiting.elapsed() < std::time::Duration::from_secs(30),
                                "the writer published nothing in 30 s"
                            );
                            std::thread::yield_now();
                        }
                    }
                    let mut got = Vec::new();
                    loop {
                        assert_eq!(page.version(), version);
                        got.extend(page.page().iter().map(|r| r.id().to_owned()));
                        let Some(c) = page.next_cursor().map(str::to_owned) else {
                            break;
                        };
                        page = h.downline(Id::new("1"), order, Start::Cursor(&c)).unwrap();
                    }
                    let spanned = h.snapshot().version() > version;
                    listings.push((version, order, got, spanned));
                }
                listings
            })
        })
        .collect();
    let listings: Vec<_> = readers
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let accepted = writer.join().unwrap();
    assert_eq!(listings.len(), 12);
    assert!(
        listings.iter().filter(|l| l.3).count() >= 2,
        "no listing spanned a change"
    );
    // The model of every version, from the batches the writer saw accepted.
    let mut model = Model::new(&records).unwrap();
    let mut models = std::collections::HashMap::new();
    models.insert(first_version, model.clone());
    for (version, batch) in &accepted {
        model.apply(batch).unwrap();
        models.insert(*version, model.clone());
    }
    for (version, order, got, _) in listings {
        let model = &models[&version];
        assert_eq!(
            got,
            model.downline(Id::new("1"), order).unwrap(),
            "version {version}"
        );
    }
}

/// A writer that never pauses while background folds run: a fold cannot catch up
/// with it and hands its replay over to the writer (debug builds replay 4 batches a
/// chunk, so this happens within a few), and every version still agrees with the
/// model, before and after.
#[test]
fn folds_under_a_writer_that_never_pauses() -> Result<(), TestCaseError> {
    use reseller_hierarchy::generate::{Generator, MutationStream, Shape};
    let records = Generator::new(Shape::Random, 100).seed(5).generate();
    let mut model = Model::new(&records).unwrap();
    let who: Vec<Principal> = records
        .iter()
        .step_by(25)
        .map(|r| Principal::new(Role::ResellerAdmin, r.id.clone()))
        .collect();
    let h = Hierarchy::new(Snapshot::build(records).unwrap());
    h.set_fold_threshold(4);
    let mut stream = MutationStream::new(&h.snapshot(), 9);
    for step in 1..=1200 {
        let m = stream.next_for(&h.snapshot());
        let batch = std::slice::from_ref(&m);
        match (h.apply(batch), model.apply(batch)) {
            (Ok(_), Ok(())) | (Err(_), Err(_)) => {}
            (got, want) => prop_assert!(false, "engine {:?}, model {:?} for {:?}", got, want, m),
        }
        if step % 200 == 0 {
            // `check` lists everyone on one page of 1,000.
            prop_assert!(model.ids().count() <= 1000);
            check(&h.snapshot(), &model, &who)?;
        }
    }
    Ok(())
}

/// A fold lays its new base out from the version itself (the base's payload and the
/// changes' records, copied column by column): every field of every reseller, base or
/// changed, attributes included, is the model's, before the fold and after it.
#[test]
fn a_fold_keeps_every_field() {
    use reseller_hierarchy::generate::{Generator, MutationStream, Shape};
    let records = Generator::new(Shape::Random, 300)
        .seed(21)
        .attributes(true)
        .generate();
    let mut model = Model::new(&records).unwrap();
    let h = Hierarchy::new(Snapshot::build(records.clone()).unwrap());
    h.set_fold_threshold(usize::MAX);
    let mut stream = MutationStream::new(&h.snapshot(), 4);
    for step in 0..600 {
        let who = &records[(step * 7) % records.len()];
        let m = if step % 4 == 0 && model.contains(&who.id) {
            // Another record's attributes, name and flags.
            let from = &records[(step * 13 + 5) % records.len()];
            Mutation::Update {
                id: who.id.clone(),
                name: Some(format!("renamed {step}")),
                capabilities: Some(from.capabilities),
                economic_enabled: Some(step % 8 == 0),
                attributes: Some(from.attributes.clone()),
            }
        } else {
            stream.next_for(&h.snapshot())
        };
        let batch = std::slice::from_ref(&m);
        assert_eq!(h.apply(batch).is_ok(), model.apply(batch).is_ok(), "{m:?}");
    }
    let before = h.snapshot();
    h.compact();
    let after = h.snapshot();
    assert_eq!(after.version(), before.version());
    assert!(after.index_bytes() != before.index_bytes(), "not folded");
    for snap in [&before, &after] {
        assert_eq!(snap.len(), model.ids().count());
        for id in model.ids() {
            let want = model.record(id).unwrap();
            let got = snap.get(id).unwrap();
            assert_eq!(got.name(), want.name, "{id:?}");
            assert_eq!(got.capabilities(), want.capabilities, "{id:?}");
            assert_eq!(got.economic_enabled(), want.economic_enabled, "{id:?}");
            assert_eq!(got.attributes(), want.attributes, "{id:?}");
            assert_eq!(got.parent(), model.parent(id), "{id:?}");
        }
    }
}

/// Ids that were removed, of base resellers and of added ones, come back as new
/// resellers when added again: lookups, listings and a fold agree with the model at
/// every step.
#[test]
fn removed_ids_come_back() -> Result<(), TestCaseError> {
    let records: Vec<Record> = (0..30)
        .map(|k| Record::new(format!("r{k}"), (k > 0).then(|| format!("r{}", k / 3))))
        .collect();
    let mut model = Model::new(&records).unwrap();
    let h = Hierarchy::new(Snapshot::build(records).unwrap());
    h.set_fold_threshold(usize::MAX);
    let who = [
        Principal::admin(),
        Principal::new(Role::ResellerAdmin, ResellerId::from("r1")),
    ];
    let add = |id: &str, parent: Option<&str>| Mutation::Add(Record::new(id, parent));
    let remove = |id: &str, removal| Mutation::Remove {
        id: ResellerId::from(id),
        removal,
    };
    let batches = [
        vec![add("n1", Some("r0"))],
        vec![remove("n1", Removal::LeafOnly)],
        vec![add("n1", Some("r3"))],
        vec![remove("r5", Removal::ReattachDownline)],
        vec![add("r5", Some("n1")), add("n2", Some("r5"))],
        vec![Mutation::Update {
            id: ResellerId::from("n1"),
            name: Some("back".into()),
            capabilities: None,
            economic_enabled: None,
            attributes: None,
        }],
        vec![remove("n1", Removal::ReattachDownline)],
        vec![
            add("n1", None),
            remove("r5", Removal::ReattachDownline),
            add("r5", Some("r2")),
        ],
    ];
    for batch in &batches {
        prop_assert!(h.apply(batch).is_ok(), "{:?}", batch);
        prop_assert!(model.apply(batch).is_ok(), "{:?}", batch);
        check(&h.snapshot(), &model, &who)?;
    }
    h.compact();
    check(&h.snapshot(), &model, &who)?;
    Ok(())
}

/// The names, attributes and long ids of changed records live in shared text blocks,
/// which each version extends for itself: texts of every length (empty, short, one
/// short of a block, longer than a block, characters of several bytes), written by
/// adds, by updates of a name, of attributes (set or cleared) or of neither, by the
/// first update of a base reseller whose id is over 24 bytes, and pushed by batches that
/// are then refused, read back as the model's in every version kept along the way and
/// after a fold lays them out into a new base.
#[test]
fn every_version_keeps_its_own_texts() {
    // Every fifth base id is over 24 bytes, so that the first update of such a base
    // reseller writes its id as a text.
    let base = |k: usize| match k % 5 {
        4 => format!("a base reseller id over 24 bytes long, {k}"),
        _ => format!("r{k}"),
    };
    let records: Vec<Record> = (0..40)
        .map(|k| Record::new(base(k), (k > 0).then(|| base(k / 3))))
        .collect();
    let mut model = Model::new(&records).unwrap();
    let h = Hierarchy::new(Snapshot::build(records).unwrap());
    h.set_fold_threshold(usize::MAX);
    let text = |step: usize| -> String {
        let len = [0, 1, 17, 4095, 4096, 5000, 300][step % 7];
        let c = ['a', 'é', '€', '𝄞'][step % 4];
        std::iter::repeat_n(c, len / c.len_utf8()).collect()
    };
    #[cfg(feature = "serde")]
    let attributes = |step: usize| {
        // Every other time, attributes cleared.
        Some(match step % 2 {
            0 => reseller_hierarchy::Attributes::none(),
            _ => reseller_hierarchy::Attributes::from_json(&format!(
                r#"{{"company":{{"note":"{}"}}}}"#,
                text(step + 3)
            ))
            .unwrap(),
        })
    };
    #[cfg(not(feature = "serde"))]
    let attributes = |_: usize| None;
    let mut kept: Vec<(Arc<Snapshot>, Model)> = Vec::new();
    for step in 0..840 {
        let ids: Vec<ResellerId> = model.ids().cloned().collect();
        let who = ids[(step * 7) % ids.len()].clone();
        let batch = match step % 6 {
            // Ids over 24 bytes are texts too.
            0 => vec![Mutation::Add(
                Record::new(format!("an id over 24 bytes long, {step}"), Some(who))
                    .name(text(step)),
            )],
            1 => vec![Mutation::Add(
                Record::new(format!("n{step}"), Some(who)).name(text(step)),
            )],
            2 => vec![Mutation::Update {
                id: who,
                name: Some(text(step)),
                capabilities: None,
                economic_enabled: None,
                attributes: None,
            }],
            3 => vec![Mutation::Update {
                id: who,
                name: None,
                capabilities: Some(Capabilities::from_bits((step % 32) as u8)),
                economic_enabled: Some(step % 3 == 0),
                attributes: attributes(step / 6),
            }],
            // Neither a name nor attributes: the texts stay where they are.
            4 => vec![Mutation::Update {
                id: who,
                name: None,
                capabilities: Some(Capabilities::from_bits((step % 32) as u8)),
                economic_enabled: None,
                attributes: None,
            }],
            // Refused after its first mutation pushed a text.
            _ => vec![
                Mutation::Add(Record::new(format!("gone{step}"), Some(who)).name(text(step))),
                Mutation::Add(Record::new("r0", None::<&str>)),
            ],
        };
        assert_eq!(
            h.apply(&batch).is_ok(),
            model.apply(&batch).is_ok(),
            "{batch:?}"
        );
        if step % 50 == 0 {
            kept.push((h.snapshot(), model.clone()));
        }
    }
    kept.push((h.snapshot(), model.clone()));
    // A fold lays the texts out into a new base.
    h.compact();
    kept.push((h.snapshot(), model));
    for (snap, model) in &kept {
        snap.validate().unwrap();
        assert_eq!(snap.len(), model.ids().count());
        for id in model.ids() {
            let want = model.record(id).unwrap();
            let got = snap.get(id).unwrap();
            assert_eq!(
                got.name(),
                want.name,
                "{id:?} in version {}",
                snap.version()
            );
            assert_eq!(got.attributes(), want.attributes, "{id:?}");
            assert_eq!(got.capabilities(), want.capabilities, "{id:?}");
            assert_eq!(got.economic_enabled(), want.economic_enabled, "{id:?}");
        }
    }
}

/// Sibling order after changes, worked by hand (not by the model): a removed
/// reseller's children take its place among its siblings, a moved reseller becomes
/// the last child of its new parent (the last root when moved to the top), and a
/// record added with its own id as parent is a root, after the others. The model
/// must agree, since the property tests hold the engine to it.
#[test]
fn sibling_order_after_changes_worked_by_hand() {
    let records = vec![
        Record::new("1", None::<&str>),
        Record::new("2", Some("1")),
        Record::new("3", Some("1")),
        Record::new("4", Some("1")),
        Record::new("5", Some("3")),
        Record::new("6", Some("3")),
    ];
    let h = Hierarchy::new(Snapshot::build(records.clone()).unwrap());
    let mut model = reseller_hierarchy::testing::Model::new(&records).unwrap();
    let ids = |v: &[&str]| -> Vec<ResellerId> { v.iter().map(|s| ResellerId::from(*s)).collect() };
    // A mutation, then the whole forest in pre-order and in level order, and the
    // children of "1".
    type Step<'a> = (Mutation, &'a [&'a str], &'a [&'a str], &'a [&'a str]);
    let steps: Vec<Step<'_>> = vec![
        (
            Mutation::Remove {
                id: "3".into(),
                removal: Removal::ReattachDownline,
            },
            &["1", "2", "5", "6", "4"],
            &["1", "2", "5", "6", "4"],
            &["2", "5", "6", "4"],
        ),
        (
            Mutation::Move {
                id: "2".into(),
                parent: Some("1".into()),
            },
            &["1", "5", "6", "4", "2"],
            &["1", "5", "6", "4", "2"],
            &["5", "6", "4", "2"],
        ),
        (
            Mutation::Move {
                id: "5".into(),
                parent: None,
            },
            &["1", "6", "4", "2", "5"],
            &["1", "5", "6", "4", "2"],
            &["6", "4", "2"],
        ),
        (
            Mutation::Add(Record::new("7", Some("7"))),
            &["1", "6", "4", "2", "5", "7"],
            &["1", "5", "7", "6", "4", "2"],
            &["6", "4", "2"],
        ),
    ];
    for (m, pre, level, children_of_1) in steps {
        h.apply(std::slice::from_ref(&m)).unwrap();
        model.apply(std::slice::from_ref(&m)).unwrap();
        let snap = h.snapshot();
        let listed = |order| -> Vec<ResellerId> {
            let admin = Principal::admin();
            snap.eligible_parents(
                &admin,
                FilterFlags::NONE,
                order,
                PageRequest::new(1, 1000).unwrap(),
            )
            .unwrap()
            .iter()
            .map(|r| r.id().to_owned())
            .collect()
        };
        assert_eq!(listed(Order::PreOrder), ids(pre), "{m:?}");
        assert_eq!(listed(Order::LevelOrder), ids(level), "{m:?}");
        assert_eq!(model.all(Order::PreOrder), ids(pre), "model, {m:?}");
        assert_eq!(model.all(Order::LevelOrder), ids(level), "model, {m:?}");
        let kids: Vec<ResellerId> = snap
            .get(Id::new("1"))
            .unwrap()
            .children()
            .map(|c| c.id().to_owned())
            .collect();
        assert_eq!(kids, ids(children_of_1), "{m:?}");
        assert_eq!(
            model.children(Id::new("1")),
            ids(children_of_1),
            "model, {m:?}"
        );
    }
    assert!(h.snapshot().get(Id::new("7")).unwrap().parent().is_none());
}
