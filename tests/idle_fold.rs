//! Folding after a burst: a version whose changes stay under the fold threshold is
//! folded in the background once the writer pauses (`Hierarchy::set_idle_fold`), into
//! the same version with the same contents (checked against the naive model), burst
//! after burst; not while changes keep coming; under a sixteenth of the threshold only
//! after a pause as many times longer as the version is lighter; not when turned off;
//! settings take effect at once; a parked watcher keeps nothing alive.

#![cfg(all(feature = "proptest", feature = "generate"))]

use std::sync::Arc;
use std::time::{Duration, Instant};

use reseller_hierarchy::generate::{Generator, MutationStream, Shape};
use reseller_hierarchy::testing::Model;
use reseller_hierarchy::{
    FilterFlags, Hierarchy, Mutation, Order, PageRequest, Principal, Record, ResellerId, Snapshot,
};

fn records(n: usize) -> Vec<Record> {
    Generator::new(Shape::Random, n).seed(5).generate()
}

/// Applies `k` one-mutation batches of the generator's mix to `h` and to `model`, which
/// accept or refuse each alike, waiting `gap` after each.
fn burst(h: &Hierarchy, model: &mut Model, stream: &mut MutationStream, k: usize, gap: Duration) {
    for _ in 0..k {
        let m = stream.next_for(&h.snapshot());
        let batch = std::slice::from_ref(&m);
        assert_eq!(h.apply(batch).is_ok(), model.apply(batch).is_ok(), "{m:?}");
        if !gap.is_zero() {
            std::thread::sleep(gap);
        }
    }
}

/// A rename of each of the first `k` of `records` ("renamed 0", "renamed 1", ...).
fn renames(records: &[Record], k: usize) -> Vec<Mutation> {
    records
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, r)| Mutation::Update {
            id: r.id.clone(),
            name: Some(format!("renamed {i}")),
            capabilities: None,
            economic_enabled: None,
            attributes: None,
        })
        .collect()
}

/// The current version once its changes are folded, or `None` after `limit`.
fn folded_within(h: &Hierarchy, limit: Duration) -> Option<Arc<Snapshot>> {
    let deadline = Instant::now() + limit;
    loop {
        let snap = h.snapshot();
        if snap.change_weight() == 0 {
            return Some(snap);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Every reseller's parent and downline size, and the whole forest in pre-order and
/// level order, as the model has them.
fn same_as_model(snap: &Snapshot, model: &Model) {
    assert_eq!(snap.len(), model.ids().count());
    for id in model.ids() {
        let r = snap.get(id).unwrap();
        assert_eq!(r.parent(), model.parent(id), "{id:?}");
        let want = model.downline(id, Order::PreOrder).unwrap();
        assert_eq!(snap.downline_count(id).unwrap(), want.len(), "{id:?}");
    }
    for order in [Order::PreOrder, Order::LevelOrder] {
        let mut got: Vec<ResellerId> = Vec::new();
        for page in 1.. {
            let req = PageRequest::new(page, 1000).unwrap();
            let listed = snap
                .eligible_parents(&Principal::admin(), FilterFlags::NONE, order, req)
                .unwrap();
            got.extend(listed.iter().map(|r| r.id().to_owned()));
            if !listed.has_next() {
                break;
            }
        }
        assert_eq!(got, model.all(order), "{order:?}");
    }
}

#[test]
fn a_burst_under_the_threshold_is_folded_once_the_writer_pauses() {
    let records = records(2_000);
    let mut model = Model::new(&records).unwrap();
    let h = Hierarchy::new(Snapshot::build(records).unwrap());
    // Long enough that the burst, applied back to back, is not taken for a pause.
    h.set_idle_fold(Some(Duration::from_millis(500)));
    let mut stream = MutationStream::new(&h.snapshot(), 3);
    // Two bursts, each folded once the writer pauses: the watcher of the first ends,
    // and the second starts another. 300 changes weigh over a sixteenth of the
    // default threshold (the base's 2,000 resellers), and under the threshold itself.
    for _ in 0..2 {
        burst(&h, &mut model, &mut stream, 300, Duration::ZERO);
        let changed = h.snapshot();
        let weight = changed.change_weight();
        assert!((125..2_000).contains(&weight), "weight {weight}");
        let folded = folded_within(&h, Duration::from_secs(60)).expect("no idle fold in 60 s");
        assert_eq!(folded.version(), changed.version());
        same_as_model(&changed, &model);
        same_as_model(&folded, &model);
        folded.validate().unwrap();
        // Long enough for the watcher to look once more after its fold, find nothing
        // to fold and end.
        std::thread::sleep(Duration::from_millis(1_500));
    }
}

#[test]
fn no_idle_fold_while_changes_keep_coming() {
    let records = records(4_000);
    let mut model = Model::new(&records).unwrap();
    let h = Hierarchy::new(Snapshot::build(records).unwrap());
    // The default pause, a second; 400 changes 5 ms apart (two seconds or more), each
    // version over a sixteenth of the threshold once the first 100 or so are in.
    assert_eq!(Hierarchy::DEFAULT_IDLE_FOLD, Duration::from_secs(1));
    let mut stream = MutationStream::new(&h.snapshot(), 4);
    let mut heavy = 0;
    for _ in 0..400 {
        burst(&h, &mut model, &mut stream, 1, Duration::ZERO);
        let published = h.snapshot();
        std::thread::sleep(Duration::from_millis(5));
        // Nothing replaced the version published 5 ms ago (only a fold would).
        assert!(
            Arc::ptr_eq(&h.snapshot(), &published),
            "folded while changes kept coming"
        );
        let w = published.change_weight();
        if w >= 4_000 / 16 {
            heavy += 1;
        }
        assert!(w < 4_000, "the threshold itself was reached: weight {w}");
    }
    assert!(
        heavy > 0,
        "the changes never reached a sixteenth of the threshold"
    );
    // Then a pause: folded.
    let folded = folded_within(&h, Duration::from_secs(60)).expect("no idle fold in 60 s");
    same_as_model(&folded, &model);
}

#[test]
fn under_a_sixteenth_of_the_threshold_folded_later_in_proportion_and_never_when_off() {
    let records = records(2_000);
    let idle = Duration::from_millis(20);
    // Time enough for a fold at the lowest priority on a busy machine to be seen.
    let wait = Duration::from_millis(1_000);
    // A few renames weigh a few units, under 2,000 / 16: the version waits the pause
    // times 125 over its weight, 250 ms at a weight of 10.
    let h = Hierarchy::new(Snapshot::build(records.clone()).unwrap());
    h.set_idle_fold(Some(idle));
    let mut few = renames(&records, 10);
    let mut model = Model::new(&records).unwrap();
    model.apply(&few).unwrap();
    let final_rename = few.pop().unwrap();
    for rename in few {
        h.apply(&[rename]).unwrap();
    }
    // Before the last batch: the writer's last change comes after this instant.
    let last = Instant::now();
    h.apply(&[final_rename]).unwrap();
    let changed = h.snapshot();
    let w = changed.change_weight();
    assert!(w > 0 && w < 2_000 / 16, "weight {w}");
    let light_wait = idle * (2_000 / 16) as u32 / w as u32;
    assert!(light_wait >= 10 * idle, "weight {w}");
    // Looked at every few milliseconds: unchanged as long as the look came before the
    // wait was over (timed after the look, so a slow look only skips the check).
    let deadline = last + Duration::from_secs(60);
    let mut unfolded_looks = 0;
    let folded = loop {
        let snap = h.snapshot();
        let looked = last.elapsed();
        if snap.change_weight() == 0 {
            break snap;
        }
        if looked < light_wait {
            unfolded_looks += 1;
        }
        assert!(Instant::now() < deadline, "a light version never folded");
        std::thread::sleep(Duration::from_millis(2));
    };
    assert!(
        last.elapsed() >= light_wait,
        "folded after {:?}, before the wait of {light_wait:?}",
        last.elapsed()
    );
    assert!(unfolded_looks > 0);
    assert_eq!(folded.version(), changed.version());
    same_as_model(&folded, &model);

    // Over it, with idle folds turned off.
    let heavy = renames(&records, 300);
    let h = Hierarchy::new(Snapshot::build(records.clone()).unwrap());
    h.set_idle_fold(None);
    h.apply(&heavy).unwrap();
    let w = h.snapshot().change_weight();
    assert!(w >= 2_000 / 16, "weight {w}");
    std::thread::sleep(wait);
    assert_eq!(
        h.snapshot().change_weight(),
        w,
        "folded although turned off"
    );

    // Over it, with every fold turned off by the threshold.
    let h = Hierarchy::new(Snapshot::build(records.clone()).unwrap());
    h.set_idle_fold(Some(idle));
    h.set_fold_threshold(usize::MAX);
    h.apply(&heavy).unwrap();
    let w = h.snapshot().change_weight();
    std::thread::sleep(wait);
    assert_eq!(h.snapshot().change_weight(), w, "folded with folds off");

    // Turned off while the watcher parks: it stops without folding.
    let h = Hierarchy::new(Snapshot::build(records).unwrap());
    h.set_idle_fold(Some(Duration::from_millis(300)));
    h.apply(&heavy).unwrap();
    let w = h.snapshot().change_weight();
    std::thread::sleep(Duration::from_millis(50));
    h.set_idle_fold(None);
    std::thread::sleep(wait);
    assert_eq!(h.snapshot().change_weight(), w, "folded once turned off");
}

/// A setting takes effect at once, for the changes already applied: a shorter pause
/// wakes a watcher parked for an hour, and turning idle folds on after a burst folds
/// it with nothing more applied.
#[test]
fn settings_take_effect_at_once() {
    let records = records(2_000);
    let renamed = renames(&records, 300);
    let mut model = Model::new(&records).unwrap();
    model.apply(&renamed).unwrap();

    let h = Hierarchy::new(Snapshot::build(records.clone()).unwrap());
    h.set_idle_fold(Some(Duration::from_secs(3_600)));
    h.apply(&renamed).unwrap();
    // Time for the watcher to take its first look and park for the hour.
    std::thread::sleep(Duration::from_millis(200));
    assert!(h.snapshot().change_weight() > 0);
    h.set_idle_fold(Some(Duration::from_millis(5)));
    let folded = folded_within(&h, Duration::from_secs(60)).expect("the watcher kept its hour");
    same_as_model(&folded, &model);
    assert_eq!(folded.get(&records[0].id).unwrap().name(), "renamed 0");

    let h = Hierarchy::new(Snapshot::build(records).unwrap());
    h.set_idle_fold(None);
    h.apply(&renamed).unwrap();
    assert!(h.snapshot().change_weight() > 0);
    h.set_idle_fold(Some(Duration::from_millis(5)));
    let folded = folded_within(&h, Duration::from_secs(60)).expect("not folded once turned on");
    same_as_model(&folded, &model);
}

#[test]
fn a_sleeping_watcher_does_not_keep_the_hierarchy_alive() {
    let records = records(2_000);
    let h = Hierarchy::new(Snapshot::build(records.clone()).unwrap());
    h.set_idle_fold(Some(Duration::from_secs(3_600)));
    let adds: Vec<Mutation> = (0..300)
        .map(|k| Mutation::Add(Record::new(format!("new {k}"), Some(records[k].id.clone()))))
        .collect();
    h.apply(&adds).unwrap();
    let snap = h.snapshot();
    assert!(snap.change_weight() >= 2_000 / 16);
    // The watcher parks for an hour, holding the hierarchy weakly: dropping it drops
    // every version it kept. (The watcher may hold it for the instant it looks at
    // it, woken by the drop: allow it that.)
    drop(h);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Arc::strong_count(&snap) > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        Arc::strong_count(&snap),
        1,
        "a watcher kept the hierarchy 10 s"
    );
}
