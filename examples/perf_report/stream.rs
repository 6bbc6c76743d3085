//! `perf_report -- stream [--n N] [--deep | --chain LEN] [--batch N] [--fold-threshold
//! W]`: a live hierarchy under a stream of changes, as issue 10 measures it, every
//! figure beside `build` of the same run (`--deep`: chains 100,000 deep, one per root;
//! `--chain LEN`: chains `LEN` deep, so that with `LEN` over 100,000 the deep shape has
//! subtrees of over 100,000 to move; `--fold-threshold`:
//! `Hierarchy::set_fold_threshold`, so that folds run during the stream).
//!
//! - `stream_mutation_p50`/`_p99`/`_p999`/`_max`, `stream_mutations_per_s`: 100,000
//!   one-mutation batches through `Hierarchy::apply`, back to back, from
//!   `generate::MutationStream` (50% add, 25% move, 10% remove re-attaching, 15%
//!   capability updates), with a move of a subtree of over 100,000 resellers once per
//!   1,000 mutations where one exists;
//! - `batch_mutation_mean`: the first `--batch N` of the accepted mutations (all
//!   100,000 by default, as the issue asks) as one batch, on the same start;
//! - `reader_page_p50` (no stream) and `stream_reader_page_p50`/`_p99`/`_p999`/`_max`:
//!   a reader paging the root's downline on another thread (the quantiles from a
//!   uniform sample of up to 2^20 of its pages, the maximum over all of them);
//! - `after_stream_*` beside `fresh_*`: queries of the version after the stream and of
//!   a fresh build of the same records;
//! - `stream_peak_rss_ratio`: the largest resident size seen during the stream over the
//!   one after the build;
//! - `burst_change_weight` and `idle_fold_after_burst`: the batch's change weight, and
//!   the time from the batch's end until its changes were folded by the idle fold
//!   (`Hierarchy::set_idle_fold`; the stream runs with idle folds on, as a service
//!   would, and they are turned off once it ends, so that no fold runs beside the
//!   measurements of the version it left).
//!
//! The five slowest mutations of the stream, with their kind, go to stderr, so that a
//! stall of the writer's own making can be told from the scheduler's; and
//! `machine_spin_gap_max` is the longest a thread doing nothing but read the clock
//! went without a core, beside another doing the same, for five seconds: what the
//! machine itself makes a thread wait, which `stream_mutation_max` includes.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use reseller_hierarchy::generate::{Generator, MutationStream, Shape, SplitMix};
use reseller_hierarchy::{
    Filter, FilterFlags, Hierarchy, Mutation, Order, PageRequest, Principal, Record, ResellerId,
    Role, Snapshot,
};

use super::{emit, median, per_call_ns, quantile, rss};

const MUTATIONS: usize = 100_000;

/// Page times the reader keeps (a uniform sample of all of them).
const READER_SAMPLES: usize = 1 << 20;

fn records(n: usize, chain: Option<usize>) -> Vec<Record> {
    let g = match chain {
        // Chains `len` deep, one per root.
        Some(len) => Generator::new(Shape::Chain, n).roots((n / len.max(1)).max(1)),
        None => Generator::new(Shape::Random, n),
    };
    g.seed(42).generate()
}

/// A move of one of `big` that still has over 100,000 resellers below it, under one
/// of `ids` outside its downline, if there is one.
fn large_move(
    snap: &Snapshot,
    big: &[ResellerId],
    ids: &[ResellerId],
    rng: &mut SplitMix,
) -> Option<Mutation> {
    let large = |b: &&ResellerId| snap.downline_count(b).is_ok_and(|k| k > 100_000);
    // A few random draws first (the deep shape has hundreds of thousands of
    // candidates), then all of them.
    let drawn = (0..64)
        .filter_map(|_| big.get(rng.below(big.len().max(1))))
        .find(large);
    let who = match drawn {
        Some(who) => who,
        None => {
            let live: Vec<&ResellerId> = big.iter().filter(large).collect();
            *live.get(rng.below(live.len().max(1)))?
        }
    };
    (0..64).find_map(|_| {
        let to = &ids[rng.below(ids.len())];
        // A target removed meanwhile reads as "inside": draw again.
        let inside = to == who || snap.is_in_downline(to, who).unwrap_or(true);
        (!inside).then(|| Mutation::Move {
            id: who.clone(),
            parent: Some(to.clone()),
        })
    })
}

/// Median time of the first pre-order page of the root's downline, per call.
fn page_ns(snap: &Snapshot, root: &ResellerId) -> f64 {
    per_call_ns(101, 200, |_| {
        let page = snap
            .downline(black_box(root), Order::PreOrder, PageRequest::default())
            .unwrap();
        black_box(page.iter().map(|r| r.id().as_str().len()).sum::<usize>());
    })
}

/// The queries issue 10 compares, on `snap`, each a median per call.
fn queries(snap: &Snapshot, root: &ResellerId, sample: &[ResellerId]) -> [(&'static str, f64); 5] {
    let me = Principal::new(Role::ResellerAdmin, root.clone());
    let voip = FilterFlags::from(Filter::Voip);
    let total = snap.eligible_count(&me, voip).unwrap();
    let last = PageRequest::default().last_page(total);
    let pages: Vec<PageRequest> = (0..64u64)
        .map(|i| PageRequest::new(1 + (i * 7919) % last, 50).unwrap())
        .collect();
    let level = per_call_ns(101, 20, |_| {
        let page = snap
            .downline(root, Order::LevelOrder, PageRequest::default())
            .unwrap();
        black_box(page.len());
    });
    [
        ("downline_page_first", page_ns(snap, root)),
        (
            "eligible_filtered_page",
            per_call_ns(101, 64, |i| {
                let page = snap
                    .eligible_parents(&me, voip, Order::PreOrder, pages[i % 64])
                    .unwrap();
                black_box(page.len());
            }),
        ),
        (
            "eligible_filtered_count",
            per_call_ns(101, 200, |_| {
                black_box(snap.eligible_count(&me, voip).unwrap());
            }),
        ),
        (
            "is_in_downline_by_id",
            per_call_ns(101, 200, |i| {
                let a = &sample[i % sample.len()];
                black_box(snap.is_in_downline(a, root).unwrap());
            }),
        ),
        ("downline_page_first_level_order", level),
    ]
}

/// The longest gap between two readings of the clock seen by either of two threads that
/// do nothing else for `seconds`: how long this machine takes a core away from a busy
/// thread (two of them busy, as the writer and the reader are during the stream). No
/// stall of the stream can be told apart from the library's own below this.
fn spin_gap_ns(seconds: f64) -> f64 {
    let spin = move || {
        let start = Instant::now();
        let (mut last, mut longest) = (start, 0u128);
        while last.duration_since(start).as_secs_f64() < seconds {
            let now = Instant::now();
            longest = longest.max(now.duration_since(last).as_nanos());
            last = now;
        }
        longest
    };
    let other = std::thread::spawn(spin);
    let mine = spin();
    mine.max(other.join().unwrap()) as f64
}

/// What a mutation of the stream was, for the list of the slowest.
fn kind(m: &Mutation, ok: bool) -> &'static str {
    match (m, ok) {
        (_, false) => "refused",
        (Mutation::Add(_), _) => "add",
        (Mutation::Move { .. }, _) => "move",
        (Mutation::Remove { .. }, _) => "remove",
        (Mutation::Update { .. }, _) => "update",
    }
}

/// Prints the five slowest mutations of the stream (to stderr), so that a long stall
/// can be told from the rest.
fn slowest(times: &[f64], kinds: &[&str]) {
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by(|&a, &b| times[b].total_cmp(&times[a]));
    for &i in order.iter().take(5) {
        eprintln!(
            "slow: mutation #{i} ({}) took {:.1} µs",
            kinds[i],
            times[i] / 1e3
        );
    }
}

pub(crate) fn run(n: usize, chain: Option<usize>, batch: usize, fold: Option<usize>) {
    let shape = if chain.is_some() { "deep" } else { "random" };
    let input = records(n, chain);
    let builds: Vec<f64> = (0..3)
        .map(|_| {
            let copy = input.clone();
            let t = Instant::now();
            let s = Snapshot::build(copy).unwrap();
            let ns = t.elapsed().as_nanos() as f64;
            drop(s);
            ns
        })
        .collect();
    emit("build", shape, n, None, median(builds), "ns");
    emit(
        "machine_spin_gap_max",
        shape,
        n,
        None,
        spin_gap_ns(5.0),
        "ns",
    );
    // The first snapshot is built by the thread that will write, as the simplest
    // service would.
    let start = Snapshot::build(input.clone()).unwrap();
    let root = start.iter().next().unwrap().id().to_owned();
    emit(
        "reader_page_p50",
        shape,
        n,
        None,
        page_ns(&start, &root),
        "ns",
    );
    // The reader keeps a uniform sample of its page times (reservoir sampling), so
    // that its memory stays the same however long the stream runs; allocated and
    // written once (so that its pages are resident) before the static size is read.
    let mut times: Vec<f64> = Vec::with_capacity(READER_SAMPLES);
    times.resize(READER_SAMPLES, 0.0);
    times.clear();
    let static_rss = rss();
    let h = Arc::new(Hierarchy::new(start));
    if let Some(weight) = fold {
        h.set_fold_threshold(weight);
    }

    // A reader paging the root's downline on another thread, sampling RSS too.
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new((Vec::new(), static_rss, 0.0)));
    let reader = {
        let (h, stop, seen, root) = (h.clone(), stop.clone(), seen.clone(), root.clone());
        std::thread::spawn(move || {
            let mut times = times;
            let mut pick = SplitMix::new(3);
            let mut peak: f64 = 0.0;
            // The sample keeps a uniform share of the pages, not the slowest one.
            let mut longest: f64 = 0.0;
            let mut k = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let snap = h.snapshot();
                let t = Instant::now();
                let page = snap
                    .downline(
                        &root,
                        Order::PreOrder,
                        PageRequest::new(1 + k % 100, 50).unwrap(),
                    )
                    .unwrap();
                black_box(page.iter().map(|r| r.id().as_str().len()).sum::<usize>());
                let ns = t.elapsed().as_nanos() as f64;
                longest = longest.max(ns);
                if times.len() < READER_SAMPLES {
                    times.push(ns);
                } else if let Some(slot) = times.get_mut(pick.below(k as usize + 1)) {
                    *slot = ns;
                }
                k += 1;
                if k.is_multiple_of(256) {
                    peak = peak.max(rss());
                }
            }
            let mut s = seen.lock().unwrap();
            s.0 = times;
            s.1 = s.1.max(peak);
            s.2 = longest;
        })
    };

    // The stream.
    let mut rng = SplitMix::new(7);
    let (big, ids): (Vec<ResellerId>, Vec<ResellerId>) = {
        let snap = h.snapshot();
        let big = snap
            .iter()
            .filter(|r| r.downline_len() > 100_000 && r.parent().is_some())
            .map(|r| r.id().to_owned())
            .collect();
        (big, snap.iter().map(|r| r.id().to_owned()).collect())
    };
    let mut stream = MutationStream::new(&h.snapshot(), 11);
    let mut applied = Vec::with_capacity(MUTATIONS);
    let mut times = Vec::with_capacity(MUTATIONS);
    let mut kinds = Vec::with_capacity(MUTATIONS);
    let mut refused = 0usize;
    let mut large = 0usize;
    for i in 0..MUTATIONS {
        let current = h.snapshot();
        // One large move per 1,000 mutations, drawn again at the next mutation when
        // none was found.
        let m = match (large < (i + 1) / 1000 && !big.is_empty())
            .then(|| large_move(&current, &big, &ids, &mut rng))
            .flatten()
        {
            Some(m) => {
                large += 1;
                m
            }
            // The reader pages the first root's downline and the queries after the
            // stream ask about it: it is never removed (drawn again instead).
            None => loop {
                let m = stream.next_for(&current);
                if !matches!(&m, Mutation::Remove { id, .. } if *id == root) {
                    break m;
                }
            },
        };
        drop(current);
        let t = Instant::now();
        let ok = h.apply(std::slice::from_ref(&m)).is_ok();
        times.push(t.elapsed().as_nanos() as f64);
        kinds.push(kind(&m, ok));
        if ok {
            applied.push(m);
        } else {
            refused += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    slowest(&times, &kinds);
    let total: f64 = times.iter().sum();
    for (metric, q) in [
        ("stream_mutation_p50", 0.5),
        ("stream_mutation_p99", 0.99),
        ("stream_mutation_p999", 0.999),
        ("stream_mutation_max", 1.0),
    ] {
        emit(metric, shape, n, None, quantile(times.clone(), q), "ns");
    }
    emit(
        "stream_mutations_per_s",
        shape,
        n,
        None,
        MUTATIONS as f64 / (total / 1e9),
        "1/s",
    );
    emit("stream_large_moves", shape, n, None, large as f64, "count");
    emit("stream_refused", shape, n, None, refused as f64, "count");
    let (reader_times, peak, longest) = std::mem::take(&mut *seen.lock().unwrap());
    if !reader_times.is_empty() {
        for (metric, q) in [
            ("stream_reader_page_p50", 0.5),
            ("stream_reader_page_p99", 0.99),
            ("stream_reader_page_p999", 0.999),
        ] {
            emit(
                metric,
                shape,
                n,
                None,
                quantile(reader_times.clone(), q),
                "ns",
            );
        }
        emit("stream_reader_page_max", shape, n, None, longest, "ns");
    }
    emit(
        "stream_peak_rss_ratio",
        shape,
        n,
        None,
        peak / static_rss.max(1.0),
        "ratio",
    );

    // After the stream, no compaction asked for: the current version against a fresh
    // build of the same records. The stream ran as a service would (idle folds on);
    // they are turned off now, so that no fold runs beside the measurements below
    // (the batch's burst measures the idle fold).
    h.set_idle_fold(None);
    let after = h.snapshot();
    let sample: Vec<ResellerId> = {
        let ids: Vec<ResellerId> = after.iter().map(|r| r.id().to_owned()).collect();
        (0..4096)
            .map(|_| ids[rng.below(ids.len())].clone())
            .collect()
    };
    let fresh = Snapshot::build(after.iter().map(|r| r.to_record()).collect::<Vec<_>>()).unwrap();
    for ((metric, a), (_, f)) in queries(&after, &root, &sample)
        .into_iter()
        .zip(queries(&fresh, &root, &sample))
    {
        emit(&format!("after_stream_{metric}"), shape, n, None, a, "ns");
        emit(&format!("fresh_{metric}"), shape, n, None, f, "ns");
    }
    drop((after, fresh, h));

    // The same mutations as one batch, on the same start.
    applied.truncate(batch);
    let h = Hierarchy::new(Snapshot::build(input).unwrap());
    if let Some(weight) = fold {
        h.set_fold_threshold(weight);
    }
    let t = Instant::now();
    let ok = h.apply(&applied).is_ok();
    let mean = t.elapsed().as_nanos() as f64 / applied.len().max(1) as f64;
    emit(
        "batch_mutation_mean",
        shape,
        n,
        Some(applied.len()),
        mean,
        "ns",
    );
    if !ok {
        eprintln!("the batch of the stream's accepted mutations was refused");
    }

    // Then the writer pauses: a burst under the fold threshold is folded once it has
    // been idle for `Hierarchy::DEFAULT_IDLE_FOLD`.
    let ended = Instant::now();
    let weight = h.snapshot().change_weight();
    emit(
        "burst_change_weight",
        shape,
        n,
        None,
        weight as f64,
        "count",
    );
    let threshold = fold.unwrap_or(n.max(Hierarchy::DEFAULT_FOLD_AT));
    if weight == 0 {
        eprintln!("the batch left nothing unfolded: no idle fold to time");
        return;
    }
    if weight >= threshold {
        eprintln!(
            "the batch weighs {weight}, over the fold threshold {threshold}: no idle fold to time"
        );
        return;
    }
    // The pause from a sixteenth of the threshold on; as many pauses as a lighter
    // version is lighter (`Hierarchy::set_idle_fold`).
    let sixteenth = (threshold / 16).max(1);
    let pauses = (sixteenth as f64 / weight as f64).max(1.0);
    if pauses > 600.0 {
        eprintln!(
            "the batch weighs {weight}, {pauses:.0} times under a sixteenth of the fold threshold {threshold}: its idle fold comes too late to time"
        );
        return;
    }
    let limit = Hierarchy::DEFAULT_IDLE_FOLD.mul_f64(pauses + 60.0);
    while h.snapshot().change_weight() > 0 && ended.elapsed() < limit {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    if h.snapshot().change_weight() == 0 {
        emit(
            "idle_fold_after_burst",
            shape,
            n,
            None,
            ended.elapsed().as_nanos() as f64,
            "ns",
        );
    } else {
        eprintln!("no idle fold within {limit:?} (weight {weight}, {pauses:.1} pauses)");
    }
}
