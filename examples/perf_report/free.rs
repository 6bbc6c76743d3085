//! `perf_report -- free [--n N]`: does freeing a base stall the thread that built it?
//!
//! With glibc's allocator, chunks freed by another thread are handed back to the arena
//! of the thread that allocated them. A writer that had built the first snapshot used
//! to stall once that base was folded away and freed. This mode measures it: for each
//! of two first snapshots, one built by the writer's thread and one built by another
//! thread, the writer applies mutations, folds (`Hierarchy::compact`), lets the old
//! base be freed on the rayon pool, and applies 4,000 more, timed. Every id is made
//! longer than 24 bytes (a 24-byte prefix before the number): each was an allocation of its own, a million small allocations in
//! the base, the case that stalled. Since a base keeps ids of over 24 bytes in one
//! string of them all, they are allocations only in the records the build is given.
//!
//! Metrics `free_mutation_p50`, `free_mutation_p999`, `free_mutation_max`, each with
//! `_built_here` and `_built_apart`, beside `build`; `base_drop`, how long the
//! thread that built a base takes to drop it (its ids, payload and indexes); and
//! `long_ids_downline_page_first` (the whole forest and a downline of about 1,000,
//! pre-order) and `long_ids_is_in_downline_by_id`, the queries that read ids, over
//! these long ids. `changes_drop`: how long the thread that applied 100,000 mutations
//! (one per batch, the stream's mix) takes to drop the version they made, its base
//! kept alive elsewhere: the pieces, maps and records of the changes; and before it,
//! `compact`: how long folding that version into a new base takes (`Hierarchy::compact`,
//! on the same thread), beside `build`, and `compact_peak_rss_ratio`, the largest
//! resident size while it runs over the size before it.
//!
//! Since a snapshot's last holder hands a large base or large changes to the rayon
//! pool to free, `base_drop` and `changes_drop` time that hand-over: what the dropping
//! thread waits for, not the freeing itself.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reseller_hierarchy::generate::{Generator, MutationStream, Shape, SplitMix};
use reseller_hierarchy::{Hierarchy, Order, PageRequest, Record, ResellerId, Snapshot};

use super::{emit, page_ids, per_call_ns, quantile, rss};

/// Mutations timed after the fold.
const TIMED: usize = 4_000;

fn records(n: usize) -> Vec<Record> {
    // 24 bytes of prefix: every id is over 24 bytes, whatever its number.
    let long = |id: &ResellerId| ResellerId::from(format!("reseller-0000-0000-0000-{id}"));
    let mut records = Generator::new(Shape::Random, n).seed(42).generate();
    for r in &mut records {
        r.id = long(&r.id);
        r.parent = r.parent.as_ref().map(long);
    }
    records
}

/// Queries whose cost reads ids, over ids of over 24 bytes: pre-order pages (which
/// read every item's id) of the whole forest and of a downline of about 1,000, and
/// `is_in_downline` by id over random pairs (two hash lookups, each comparing ids).
fn long_id_queries(snap: &Snapshot, input: &[Record]) {
    let n = snap.len();
    let root = input[0].id.clone();
    let small = snap
        .iter()
        .min_by_key(|r| r.downline_len().abs_diff(1_000))
        .map(|r| r.id().to_owned())
        .unwrap();
    for id in [&root, &small] {
        let k = snap.downline_count(id).unwrap();
        let ns = per_call_ns(201, 1000, |_| {
            black_box(page_ids(
                snap,
                black_box(id),
                Order::PreOrder,
                PageRequest::default(),
            ));
        });
        emit(
            "long_ids_downline_page_first",
            "random",
            n,
            Some(k),
            ns,
            "ns",
        );
    }
    let mut rng = SplitMix::new(7);
    let ids: Vec<ResellerId> = (0..4096).map(|_| input[rng.below(n)].id.clone()).collect();
    let ns = per_call_ns(201, 4096, |i| {
        black_box(
            snap.is_in_downline(&ids[i % 4096], &ids[(i * 7 + 1) % 4096])
                .unwrap(),
        );
    });
    emit("long_ids_is_in_downline_by_id", "random", n, None, ns, "ns");
}

/// Resets the process's resident high-water mark (Linux: `VmHWM`); whether it could.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The process's resident high-water mark in bytes, since the last reset.
fn peak_rss() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

/// Mutations whose changes `changes_drop` drops.
const CHANGES: usize = 100_000;

/// Applies [`CHANGES`] mutations over a base built from `input`, then times dropping
/// the last version on the thread that applied them (the base outlives it).
fn changes_drop(input: &[Record]) {
    let n = input.len();
    let h = Hierarchy::new(Snapshot::build(input.to_vec()).unwrap());
    // The first version is the base every later one is over.
    let first = h.snapshot();
    h.set_fold_threshold(usize::MAX);
    let mut stream = MutationStream::new(&h.snapshot(), 13);
    for _ in 0..CHANGES {
        let m = stream.next_for(&h.snapshot());
        let _ = h.apply(std::slice::from_ref(&m));
    }
    let last = h.snapshot();
    // Folding them, on this thread, beside `build`; and the largest resident size
    // while it runs over the size before it.
    let before = rss();
    let reset = reset_peak_rss();
    let t = Instant::now();
    h.compact();
    emit(
        "compact",
        "random",
        n,
        Some(CHANGES),
        t.elapsed().as_nanos() as f64,
        "ns",
    );
    if let Some(peak) = peak_rss().filter(|_| reset) {
        emit(
            "compact_peak_rss_ratio",
            "random",
            n,
            Some(CHANGES),
            peak / before.max(1.0),
            "ratio",
        );
    }
    drop(h);
    // The versions the fold evicted are freed on the rayon pool: wait until `last` is
    // the one version left holding the changes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Arc::strong_count(&last) > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let t = Instant::now();
    drop(last);
    emit(
        "changes_drop",
        "random",
        n,
        Some(CHANGES),
        t.elapsed().as_nanos() as f64,
        "ns",
    );
    drop(first);
}

pub(crate) fn run(n: usize) {
    let input = records(n);
    let copy = input.clone();
    let t = Instant::now();
    let base = Snapshot::build(copy).unwrap();
    emit(
        "build",
        "random",
        n,
        None,
        t.elapsed().as_nanos() as f64,
        "ns",
    );
    let t = Instant::now();
    drop(base);
    emit(
        "base_drop",
        "random",
        n,
        None,
        t.elapsed().as_nanos() as f64,
        "ns",
    );
    // On a base of its own, so that the drop above is timed straight after a build.
    let base = Snapshot::build(input.clone()).unwrap();
    long_id_queries(&base, &input);
    drop(base);
    changes_drop(&input);
    for apart in [false, true] {
        let builder = if apart { "built_apart" } else { "built_here" };
        let copy = input.clone();
        let first = if apart {
            std::thread::spawn(move || Snapshot::build(copy).unwrap())
                .join()
                .unwrap()
        } else {
            Snapshot::build(copy).unwrap()
        };
        let h = Hierarchy::new(first);
        h.set_fold_threshold(usize::MAX);
        let mut stream = MutationStream::new(&h.snapshot(), 11);
        let mut apply = |h: &Hierarchy| {
            let m = stream.next_for(&h.snapshot());
            let t = Instant::now();
            let _ = h.apply(std::slice::from_ref(&m));
            t.elapsed().as_nanos() as f64
        };
        for _ in 0..1_000 {
            apply(&h);
        }
        h.compact();
        // Evict every version over the first base (the default retention is 16), so
        // that the pool frees it, and give the pool time to.
        for _ in 0..2 * Hierarchy::DEFAULT_RETENTION {
            apply(&h);
        }
        std::thread::sleep(Duration::from_millis(500));
        let times: Vec<f64> = (0..TIMED).map(|_| apply(&h)).collect();
        for (metric, q) in [
            ("free_mutation_p50", 0.5),
            ("free_mutation_p999", 0.999),
            ("free_mutation_max", 1.0),
        ] {
            let metric = format!("{metric}_{builder}");
            emit(&metric, "random", n, None, quantile(times.clone(), q), "ns");
        }
    }
}
