//! Soak: a long random stream of one-mutation batches, with readers paging and
//! following cursors on other threads, the hierarchy checked against the naive model at
//! intervals and its resident memory watched.
//!
//! `soak_in_ci` is the CI-sized form (20,000 resellers, 100,000 mutations);
//! `cargo test --release --all-features --test soak -- --ignored` runs the full form
//! (100,000 resellers, 1,000,000 mutations).

#![cfg(all(feature = "proptest", feature = "generate"))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use reseller_hierarchy::generate::{Generator, Shape, SplitMix};
use reseller_hierarchy::testing::Model;
use reseller_hierarchy::{
    Capabilities, FilterFlags, Hierarchy, Mutation, Order, PageRequest, Principal, Record, Removal,
    ResellerId, Role, Snapshot, Start,
};

/// Resident bytes of this process.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// A sample of the model's ids.
fn sample(model: &Model, rng: &mut SplitMix, k: usize) -> Vec<ResellerId> {
    let ids: Vec<&ResellerId> = model.ids().collect();
    (0..k).map(|_| ids[rng.below(ids.len())].clone()).collect()
}

/// Every query about a sample of resellers against the model: listings in both orders
/// (first page, a later page, the count), eligible parents with each filter,
/// `is_in_downline`, upline; and the whole forest's size.
fn check(snap: &Snapshot, model: &Model, rng: &mut SplitMix) {
    assert_eq!(snap.len(), model.ids().count());
    snap.validate().unwrap();
    let ids = sample(model, rng, 40);
    for (i, id) in ids.iter().enumerate() {
        for order in [Order::PreOrder, Order::LevelOrder] {
            let want = model.downline(id, order).unwrap();
            assert_eq!(snap.downline_count(id).unwrap(), want.len(), "{id:?}");
            for page in [1, 2 + (i as u64) % 5] {
                let req = PageRequest::new(page, 25).unwrap();
                let got: Vec<ResellerId> = snap
                    .downline(id, order, req)
                    .unwrap()
                    .iter()
                    .map(|r| r.id().to_owned())
                    .collect();
                assert_eq!(got, Model::page(&want, req), "{id:?} {order:?} page {page}");
            }
        }
        let who = Principal::new(Role::ResellerAdmin, id.clone());
        let flags = FilterFlags {
            iptv: i % 4 == 0,
            iptvprivate: i % 4 == 1,
            flexcare: i % 4 == 2,
            voip: i % 4 == 3,
        };
        let want = model
            .eligible_parents(&who, flags, Order::LevelOrder)
            .unwrap();
        let req = PageRequest::new(1, 30).unwrap();
        let got: Vec<ResellerId> = snap
            .eligible_parents(&who, flags, Order::LevelOrder, req)
            .unwrap()
            .iter()
            .map(|r| r.id().to_owned())
            .collect();
        assert_eq!(got, Model::page(&want, req), "{id:?} {flags:?}");
        assert_eq!(snap.eligible_count(&who, flags).unwrap(), want.len());
        let other = &ids[(i + 1) % ids.len()];
        assert_eq!(
            snap.is_in_downline(other, id).unwrap(),
            model.is_in_downline(other, id).unwrap()
        );
        let up: Vec<ResellerId> = snap
            .upline(id)
            .unwrap()
            .map(|r| r.id().to_owned())
            .collect();
        assert_eq!(up, model.upline(id).unwrap());
    }
}

/// Random mutations valid against the model, keeping the hierarchy near `size`
/// resellers: adds under a random reseller, moves of a random reseller (a subtree of
/// any size) outside its downline, removals re-attaching the downline, capability
/// updates.
struct Stream {
    ids: Vec<ResellerId>,
    rng: SplitMix,
    fresh: u64,
    size: usize,
}

impl Stream {
    fn random(&mut self) -> ResellerId {
        self.ids[self.rng.below(self.ids.len())].clone()
    }

    fn next(&mut self, model: &Model) -> Mutation {
        let roll = self.rng.below(100);
        let grow = if self.ids.len() < self.size { 30 } else { 10 };
        if self.ids.len() < 2 || roll < grow {
            self.fresh += 1;
            let id = ResellerId::from(format!("soak-{}", self.fresh));
            let parent = (!self.ids.is_empty()).then(|| self.random());
            let caps = Capabilities::from_bits(self.rng.below(32) as u8);
            self.ids.push(id.clone());
            return Mutation::Add(Record::new(id, parent).capabilities(caps));
        }
        if roll < 65 {
            let id = self.random();
            let parent = (0..16).find_map(|_| {
                let to = self.random();
                let inside = to == id || model.is_in_downline(&to, &id) != Some(false);
                (!inside).then_some(to)
            });
            return Mutation::Move { id, parent };
        }
        if roll < 85 {
            let id = self.ids.swap_remove(self.rng.below(self.ids.len()));
            return Mutation::Remove {
                id,
                removal: Removal::ReattachDownline,
            };
        }
        Mutation::Update {
            id: self.random(),
            name: Some(format!("renamed {}", self.rng.below(1000))),
            capabilities: Some(Capabilities::from_bits(self.rng.below(32) as u8)),
            economic_enabled: None,
            attributes: None,
        }
    }
}

/// A listing a reader completed: its version, order and reseller, and its ids as a
/// hash and a count (whole listings of every version would not fit in memory).
type Listing = (u64, Order, ResellerId, u64, usize);

fn digest(ids: &[ResellerId]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ids.hash(&mut h);
    h.finish()
}

fn soak(n: usize, mutations: usize, every: usize) {
    let records = Generator::new(Shape::Random, n).seed(11).generate();
    let mut model = Model::new(&records).unwrap();
    let h = Arc::new(Hierarchy::with_options(
        Snapshot::build(records.clone()).unwrap(),
        64,
        [7; 32],
    ));
    let first_version = h.snapshot().version();
    let root = h.snapshot().iter().next().unwrap().id().to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    // Readers follow cursors through whole listings of the root while the writer
    // runs; each listing must be its pinned version's, exactly once and in order,
    // which the end checks against the model replayed to that version.
    let readers: Vec<_> = (0..2)
        .map(|t| {
            let (h, stop, mut root) = (h.clone(), stop.clone(), root.clone());
            std::thread::spawn(move || {
                let mut listings: Vec<Listing> = Vec::new();
                let mut round = t;
                while !stop.load(Ordering::Relaxed) {
                    round += 1;
                    let order = [Order::PreOrder, Order::LevelOrder][round % 2];
                    let first = Start::first(500).unwrap();
                    let Ok(mut page) = h.downline(&root, order, first) else {
                        // Removed meanwhile: follow the first reseller there is now.
                        root = h.snapshot().iter().next().unwrap().id().to_owned();
                        continue;
                    };
                    let version = page.version();
                    let mut got: Vec<ResellerId> = Vec::new();
                    let complete = loop {
                        got.extend(page.page().iter().map(|r| r.id().to_owned()));
                        let Some(c) = page.next_cursor().map(str::to_owned) else {
                            break true;
                        };
                        match h.downline(&root, order, Start::Cursor(&c)) {
                            Ok(p) => page = p,
                            // The version left the retention window: a correct refusal.
                            Err(_) => break false,
                        }
                    };
                    if complete {
                        listings.push((version, order, root.clone(), digest(&got), got.len()));
                    }
                }
                listings
            })
        })
        .collect();

    let mut stream = Stream {
        ids: model.ids().cloned().collect(),
        rng: SplitMix::new(99),
        fresh: 0,
        size: n,
    };
    let mut rng = SplitMix::new(3);
    let start_rss = rss();
    let mut peak = start_rss;
    eprintln!("start: {n} resellers, resident {} MiB", start_rss >> 20);
    for i in 1..=mutations {
        let m = stream.next(&model);
        let batch = [m];
        assert!(h.apply(&batch).is_ok(), "mutation {i} refused: {batch:?}");
        assert_eq!(
            model.apply(&batch),
            Ok(()),
            "the model refused mutation {i}"
        );
        if i % every == 0 {
            check(&h.snapshot(), &model, &mut rng);
            peak = peak.max(rss());
            eprintln!(
                "{i} mutations: {} resellers, resident {} MiB",
                h.snapshot().len(),
                rss() >> 20
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut listings: Vec<Listing> = readers
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();
    assert!(!listings.is_empty(), "no reader completed a listing");
    assert!(
        listings.iter().any(|l| l.0 > first_version),
        "no reader listed a changed version"
    );
    // The model replayed version by version (every batch was accepted, so the
    // `i`-th made version `first + i`; the stream draws the same mutations from the
    // same model), each listing compared with its version's.
    listings.sort_by_key(|l| l.0);
    let mut replay = Model::new(&records).unwrap();
    let mut again = Stream {
        ids: replay.ids().cloned().collect(),
        rng: SplitMix::new(99),
        fresh: 0,
        size: n,
    };
    let mut pending = listings.iter().peekable();
    for i in 0..=mutations {
        if i > 0 {
            let m = again.next(&replay);
            replay.apply(&[m]).unwrap();
        }
        let version = first_version + i as u64;
        while let Some((_, order, root, hash, len)) = pending.next_if(|l| l.0 == version) {
            let want = replay.downline(root, *order).unwrap();
            assert_eq!(
                (digest(&want), want.len()),
                (*hash, *len),
                "a listing of {root:?} at version {version} ({order:?})"
            );
        }
    }
    assert!(
        pending.next().is_none(),
        "a listing of a version never made"
    );
    // Memory stays bounded: versions are shared but for their paths, at most 64 are
    // kept, and folds replace the base rather than add to it.
    assert!(
        peak <= 4 * start_rss + (256 << 20),
        "resident memory grew from {start_rss} to {peak} bytes"
    );
}

#[test]
fn soak_in_ci() {
    soak(20_000, 100_000, 10_000);
}

#[test]
#[ignore = "the full soak: minutes in release"]
fn soak_full() {
    soak(100_000, 1_000_000, 50_000);
}
