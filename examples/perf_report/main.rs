//! `cargo run --release --features generate --example perf_report`: the key figures, one JSON object a line,
//! (`-- bodies`: only the response bodies; `-- stream [--n N] [--deep | --chain LEN]
//! [--batch N] [--fold-threshold W]`: a live hierarchy under 100,000 changes, see `stream.rs`;
//! `-- free [--n N]`: whether freeing a base stalls the thread that built it, see
//! `free.rs`; `-- growth [--n N] [--updates K]`: whether the storage of changes grows
//! without stalls, see `growth.rs`; `-- startup [--n N] [--ids object-id]`:
//! import, snapshot files and memory, see `startup.rs`; `-- postgres [--n N]`: a replica
//! that follows PostgreSQL, under `.ci/with-postgres`, see `postgres.rs`),
//! `{"metric", "shape", "n", "subtree", "value", "unit"}`, measured in one run (so that
//! ratios compare like with like on a shared, noisy machine). Takes about a minute on
//! two cores.
//!
//! Timings of sub-microsecond operations are medians over samples, each sample the mean
//! of a batch of calls (the clock is too coarse for one call).

use std::hint::black_box;
use std::time::{Duration, Instant};

use reseller_hierarchy::generate::{Generator, Shape, SplitMix};
use reseller_hierarchy::wire::{jsonapi, telecomx};
use reseller_hierarchy::{
    Filter, FilterFlags, Hierarchy, Mutation, Order, Page, PageRequest, Principal, Record,
    ResellerId, Role, Snapshot,
};
use serde_json::json;

#[path = "../../benches/common/bodies.rs"]
mod bodies;
mod free;
mod growth;
#[path = "../../benches/common/moves.rs"]
mod moves;
#[path = "../../benches/common/naive.rs"]
mod naive;
#[cfg(feature = "postgres")]
mod postgres;
mod startup;
mod stream;
use moves::random_move;
use naive::Naive;

const N: usize = 1_000_000;
const SEED: u64 = 42;

fn emit(metric: &str, shape: &str, n: usize, subtree: Option<usize>, value: f64, unit: &str) {
    let v = json!({"metric": metric, "shape": shape, "n": n, "subtree": subtree,
                   "value": (value * 10.0).round() / 10.0, "unit": unit});
    println!("{v}");
}

/// Resident set size of this process, in bytes (Linux).
pub(crate) fn rss() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |pages| pages * 4096.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median over `samples` of the mean time of one call, calls batched `batch` at a time.
fn per_call_ns(samples: usize, batch: usize, mut f: impl FnMut(usize)) -> f64 {
    let mut out = Vec::with_capacity(samples);
    for s in 0..samples {
        let t = Instant::now();
        for i in 0..batch {
            f(s * batch + i);
        }
        out.push(t.elapsed().as_nanos() as f64 / batch as f64);
    }
    median(out)
}

/// The value below which a fraction `q` of the samples fall.
fn quantile(mut v: Vec<f64>, q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// The listing size and the median time of an eligible-parents page of 50 for `me`
/// with `flags` in `order`, over `count` random pages of the listing.
fn eligible_page_ns(
    snap: &Snapshot,
    me: &Principal,
    flags: FilterFlags,
    order: Order,
    rng: &mut SplitMix,
    count: usize,
) -> (usize, f64) {
    let total = snap.eligible_count(me, flags).unwrap();
    let last = PageRequest::default().last_page(total);
    let pages: Vec<PageRequest> = (0..count)
        .map(|_| PageRequest::new(1 + rng.below(last as usize) as u64, 50).unwrap())
        .collect();
    let ns = per_call_ns(101, count, |i| {
        let page = snap
            .eligible_parents(me, flags, order, pages[i % count])
            .unwrap();
        black_box(page.iter().map(|r| r.id().as_str().len()).sum::<usize>());
    });
    (total, ns)
}

fn time_once(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn page_ids(snap: &Snapshot, id: &ResellerId, order: Order, req: PageRequest) -> usize {
    let page = snap.downline(id, order, req).unwrap();
    page.iter().map(|r| r.id().as_str().len()).sum()
}

/// The value after `name` on the command line, parsed; `None` when absent or unreadable.
pub(crate) fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.parse().ok()
}

fn main() {
    let started = Instant::now();
    let args: Vec<String> = std::env::args().collect();
    // `-- stream [--n N] [--deep | --chain LEN] [--batch N] [--fold-threshold W]`: a
    // live hierarchy under a stream of changes.
    if args.iter().any(|a| a == "stream") {
        let chain =
            arg(&args, "--chain").or_else(|| args.iter().any(|a| a == "--deep").then_some(100_000));
        stream::run(
            arg(&args, "--n").unwrap_or(N),
            chain,
            arg(&args, "--batch").unwrap_or(100_000),
            arg(&args, "--fold-threshold"),
        );
        eprintln!("perf_report took {:.1?}", started.elapsed());
        return;
    }
    // `-- postgres [--n N] [--rate R] [--seconds S] [--replicas 1,4]`: a replica that
    // follows PostgreSQL (run under .ci/with-postgres).
    if args.iter().any(|a| a == "postgres") {
        #[cfg(feature = "postgres")]
        postgres::run(&args);
        #[cfg(not(feature = "postgres"))]
        eprintln!("perf_report -- postgres needs --features postgres");
        eprintln!("perf_report took {:.1?}", started.elapsed());
        return;
    }
    if args.iter().any(|a| a == "startup-child") {
        startup::child(&args);
        return;
    }
    // `-- growth [--n N] [--updates K]`: whether the changes' storage grows without
    // stalls.
    if args.iter().any(|a| a == "growth") {
        growth::run(
            arg(&args, "--n").unwrap_or(N),
            arg(&args, "--updates").unwrap_or(growth::UPDATES),
        );
        eprintln!("perf_report took {:.1?}", started.elapsed());
        return;
    }
    // `-- free [--n N]`: whether freeing a base stalls the thread that built it.
    if args.iter().any(|a| a == "free") {
        free::run(arg(&args, "--n").unwrap_or(N));
        eprintln!("perf_report took {:.1?}", started.elapsed());
        return;
    }
    if args.iter().any(|a| a == "startup") {
        startup::run(&args);
        eprintln!("perf_report took {:.1?}", started.elapsed());
        return;
    }
    // `-- bodies` runs only the response-body section.
    if args.iter().any(|a| a == "bodies") {
        bodies();
        eprintln!("perf_report took {:.1?}", started.elapsed());
        return;
    }
    let shape = Shape::Random;
    let name = shape.name();
    let records = Generator::new(shape, N).seed(SEED).generate();

    // Build from records in memory: all cores, then one thread, alternating; median of
    // 5 each. Dropping the snapshot is not timed.
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let (mut all, mut single) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        for (pool, out) in [(None, &mut all), (Some(&one), &mut single)] {
            let input = records.clone();
            let mut built = None;
            let t = match pool {
                None => time_once(|| built = Some(Snapshot::build(input).unwrap())),
                Some(p) => {
                    p.install(|| time_once(|| built = Some(Snapshot::build(input).unwrap())))
                }
            };
            out.push(t.as_nanos() as f64);
            drop(black_box(built));
        }
    }
    emit("build", name, N, None, median(all), "ns");
    emit("build_1thread", name, N, None, median(single), "ns");
    let naive = Naive::new(&records);
    let snap = Snapshot::build(records).unwrap();

    // Downline pages.
    let near = |target: usize| {
        snap.iter()
            .min_by_key(|r| r.downline_len().abs_diff(target))
            .map(|r| r.id().to_owned())
            .unwrap()
    };
    let small = near(1_000);
    let root = ResellerId::from("1");
    let first = PageRequest::default();
    for (id, metric_order) in [(&small, Order::PreOrder), (&root, Order::PreOrder)] {
        let k = snap.downline_count(id).unwrap();
        let ns = per_call_ns(201, 1000, |_| {
            black_box(page_ids(&snap, black_box(id), metric_order, first));
        });
        emit("downline_page_first", name, N, Some(k), ns, "ns");
    }
    let k = snap.downline_count(&root).unwrap();
    let last = PageRequest::new(first.last_page(k), 50).unwrap();
    let ns = per_call_ns(201, 1000, |_| {
        black_box(page_ids(&snap, black_box(&root), Order::PreOrder, last));
    });
    emit("downline_page_last", name, N, Some(k), ns, "ns");
    for (id, metric) in [
        (&small, "downline_page_first_level_order"),
        (&root, "downline_page_first_level_order"),
    ] {
        let k = snap.downline_count(id).unwrap();
        let ns = per_call_ns(201, 1000, |_| {
            black_box(page_ids(&snap, black_box(id), Order::LevelOrder, first));
        });
        emit(metric, name, N, Some(k), ns, "ns");
    }
    let ns = per_call_ns(201, 1000, |_| {
        black_box(page_ids(&snap, black_box(&root), Order::LevelOrder, last));
    });
    emit("downline_page_last_level_order", name, N, Some(k), ns, "ns");
    let naive_ns = per_call_ns(7, 1, |_| {
        black_box(naive.downline_page(black_box(&root), first));
    });
    emit(
        "naive_downline_page_first",
        name,
        N,
        Some(k),
        naive_ns,
        "ns",
    );

    // Filtered eligible parents: RESELLER_ADMIN of the root with a flag, at random
    // offsets through the whole listing.
    let me = Principal::new(Role::ResellerAdmin, root.clone());
    let mut rng = SplitMix::new(7);
    for (order, metric) in [
        (Order::PreOrder, "eligible_filtered_page"),
        (Order::LevelOrder, "eligible_filtered_page_level_order"),
    ] {
        let mut all = Vec::new();
        for filter in Filter::ALL {
            let flags = FilterFlags::from(filter);
            all.push(eligible_page_ns(&snap, &me, flags, order, &mut rng, 1000).1);
        }
        emit(
            metric,
            name,
            N,
            Some(N),
            all.iter().copied().fold(0.0, f64::max),
            "ns",
        );
    }
    let voip = FilterFlags::from(Filter::Voip);
    let ns = per_call_ns(201, 1000, |_| {
        black_box(snap.eligible_count(&me, black_box(voip)).unwrap());
    });
    emit("eligible_filtered_count", name, N, Some(N), ns, "ns");

    // is_in_downline over random pairs: of resellers resolved once (the O(1) check),
    // and of ids (two hash lookups each time).
    let ids: Vec<ResellerId> = (0..4096)
        .map(|_| ResellerId::from(1 + rng.below(N) as u64))
        .collect();
    let resolved: Vec<_> = ids.iter().map(|id| snap.get(id).unwrap()).collect();
    let ns = per_call_ns(201, 4096, |i| {
        black_box(resolved[i % 4096].is_in_downline_of(&resolved[(i * 7 + 1) % 4096]));
    });
    emit("is_in_downline", name, N, None, ns, "ns");
    let ns = per_call_ns(201, 4096, |i| {
        black_box(
            snap.is_in_downline(&ids[i % 4096], &ids[(i * 7 + 1) % 4096])
                .unwrap(),
        );
    });
    emit("is_in_downline_by_id", name, N, None, ns, "ns");

    let deepest = snap
        .iter()
        .max_by_key(|r| r.depth())
        .map(|r| r.id().to_owned())
        .unwrap();
    let depth = snap.upline(&deepest).unwrap().count();
    let ns = per_call_ns(201, 1000, |_| {
        black_box(snap.upline(black_box(&deepest)).unwrap().count());
    });
    emit("upline", name, N, Some(depth), ns, "ns");

    // Mutations through a Hierarchy, each timed until its version is published (then
    // visible to readers). The default fold threshold applies: folds into a new base
    // run in the background during the run, as they would in a service.
    let index_bytes = snap.index_bytes();
    let h = Hierarchy::new(snap);
    let (mut add, mut mv) = (Vec::new(), Vec::new());
    for i in 0..401u64 {
        let parent = ResellerId::from(1 + rng.below(N) as u64);
        let batch = [Mutation::Add(Record::new(format!("new{i}"), Some(parent)))];
        add.push(
            time_once(|| {
                black_box(h.apply(&batch).unwrap());
            })
            .as_nanos() as f64,
        );
        let batch = [random_move(&h, N, &mut rng)];
        mv.push(
            time_once(|| {
                black_box(h.apply(&batch).unwrap());
            })
            .as_nanos() as f64,
        );
    }
    emit(
        "mutation_leaf_add",
        name,
        N,
        None,
        median(add.clone()),
        "ns",
    );
    emit(
        "mutation_leaf_add_p99",
        name,
        N,
        None,
        quantile(add, 0.99),
        "ns",
    );
    emit("mutation_move", name, N, None, median(mv.clone()), "ns");
    emit("mutation_move_p99", name, N, None, quantile(mv, 0.99), "ns");
    // A large subtree moved back and forth between two children of the root.
    let cur = h.snapshot();
    let mut kids = cur.get(&root).unwrap().children();
    let (a, b) = (
        kids.next().unwrap().id().to_owned(),
        kids.next().unwrap().id().to_owned(),
    );
    let big = cur
        .get(&a)
        .unwrap()
        .children()
        .max_by_key(|r| r.downline_len())
        .unwrap();
    let (big, size) = (big.id().to_owned(), big.downline_len() + 1);
    drop(kids);
    let large: Vec<f64> = (0..41)
        .map(|i| {
            let to = if i % 2 == 0 { &b } else { &a };
            let batch = [Mutation::Move {
                id: big.clone(),
                parent: Some(to.clone()),
            }];
            time_once(|| {
                black_box(h.apply(&batch).unwrap());
            })
            .as_nanos() as f64
        })
        .collect();
    emit(
        "mutation_move_large",
        name,
        N,
        Some(size),
        median(large),
        "ns",
    );
    drop(cur);

    // What a fold costs: the changed forest built into a new base (as a background
    // fold does), and a build from records.
    h.set_fold_threshold(usize::MAX);
    let fold: Vec<f64> = (0..3)
        .map(|_| {
            h.apply(&[random_move(&h, N, &mut rng)]).unwrap();
            time_once(|| h.compact()).as_nanos() as f64
        })
        .collect();
    emit("fold", name, N, None, median(fold), "ns");
    let snap = h.snapshot();
    let records: Vec<Record> = snap.iter().map(|r| r.to_record()).collect();
    let rebuild: Vec<f64> = (0..3)
        .map(|_| {
            let input = records.clone();
            let mut built = None;
            let t = time_once(|| built = Some(Snapshot::build(input).unwrap()));
            drop(black_box(built));
            t.as_nanos() as f64
        })
        .collect();
    emit("rebuild", name, N, None, median(rebuild), "ns");
    drop((snap, records));

    // Queries of a changed version: 128 mutations (64 leaf adds, 64 moves) over its
    // base, none folded yet.
    for i in 0..64u64 {
        let parent = ResellerId::from(1 + rng.below(N) as u64);
        h.apply(&[Mutation::Add(Record::new(format!("late{i}"), Some(parent)))])
            .unwrap();
        h.apply(&[random_move(&h, N, &mut rng)]).unwrap();
    }
    let snap = h.snapshot();
    for (id, order, metric) in [
        (&small, Order::PreOrder, "changed_downline_page_first"),
        (&root, Order::PreOrder, "changed_downline_page_first"),
        (
            &small,
            Order::LevelOrder,
            "changed_downline_page_first_level_order",
        ),
        (
            &root,
            Order::LevelOrder,
            "changed_downline_page_first_level_order",
        ),
    ] {
        let k = snap.downline_count(id).unwrap();
        let ns = per_call_ns(101, 100, |_| {
            black_box(page_ids(&snap, black_box(id), order, first));
        });
        emit(metric, name, N, Some(k), ns, "ns");
    }
    for (order, metric) in [
        (Order::PreOrder, "changed_eligible_filtered_page"),
        (
            Order::LevelOrder,
            "changed_eligible_filtered_page_level_order",
        ),
    ] {
        let flags = FilterFlags::from(Filter::Voip);
        let (total, ns) = eligible_page_ns(&snap, &me, flags, order, &mut rng, 100);
        emit(metric, name, N, Some(total), ns, "ns");
    }
    let ns = per_call_ns(101, 1000, |i| {
        black_box(
            snap.is_in_downline(&ids[i % 4096], &ids[(i * 7 + 1) % 4096])
                .unwrap(),
        );
    });
    emit("changed_is_in_downline_by_id", name, N, None, ns, "ns");

    emit(
        "index_bytes_per_reseller",
        name,
        N,
        None,
        index_bytes as f64 / N as f64,
        "bytes",
    );
    drop((h, snap));
    bodies();
    eprintln!("perf_report took {:.1?}", started.elapsed());
}

/// A body format under test: its metric name, the prefix of its copy metrics, its
/// pages, its writer and its reference renderer.
type BodyFormat<'a, 's> = (
    &'a str,
    &'a str,
    &'a [Page<'s>],
    &'a dyn Fn(&Page<'s>, &mut Vec<u8>),
    &'a dyn Fn(&Page<'s>) -> Vec<u8>,
);

/// Response bodies at one million resellers carrying the ActivePlatform attribute set:
/// the writers against the reference renderer (serde types through `serde_json`), and
/// against copying the same bytes (from the rendered bodies, and from a buffer larger
/// than the caches). Each figure is the median over samples cycling through 64 random
/// pages (`benches/common/bodies.rs`), rendered into a reused buffer as a server would.
fn bodies() {
    let name = "random_attributes";
    let snap = bodies::snapshot();
    let mut rng = SplitMix::new(SEED);
    let mut out = Vec::with_capacity(1 << 20);
    let cold_src = vec![7u8; 1 << 30];
    for per in [50u64, 1000] {
        let (downline, eligible) = bodies::pages(&snap, per, &mut rng);
        let jsonapi_write =
            |p: &Page<'_>, out: &mut Vec<u8>| jsonapi::write_document(p, bodies::BASE, out);
        let jsonapi_reference =
            |p: &Page<'_>| serde_json::to_vec(&jsonapi::document(p, bodies::BASE)).unwrap();
        let telecomx_write = |p: &Page<'_>, out: &mut Vec<u8>| telecomx::write_list(p, out);
        let telecomx_reference = |p: &Page<'_>| serde_json::to_vec(&telecomx::list(p)).unwrap();
        let formats: [BodyFormat<'_, '_>; 2] = [
            ("jsonapi", "", &downline, &jsonapi_write, &jsonapi_reference),
            (
                "telecomx",
                "telecomx_",
                &eligible,
                &telecomx_write,
                &telecomx_reference,
            ),
        ];
        for (format, copy_prefix, pages, write, reference) in formats {
            let batch = if per == 50 { 64 } else { 8 };
            let fast = per_call_ns(101, batch, |i| {
                out.clear();
                write(&pages[i % 64], &mut out);
                black_box(out.len());
            });
            let slow = per_call_ns(21, batch.min(8), |i| {
                black_box(reference(&pages[i % 64]).len());
            });
            let rendered: Vec<Vec<u8>> = pages.iter().map(reference).collect();
            let copy = per_call_ns(101, batch, |i| {
                out.clear();
                out.extend_from_slice(&rendered[i % 64]);
                black_box(out.len());
            });
            let bytes = rendered.iter().map(Vec::len).sum::<usize>() as f64 / 64.0;
            // The same number of bytes from 64 random places of a buffer larger than
            // the caches: the writers read a random page's payload from memory as cold.
            let offsets: Vec<usize> = (0..64)
                .map(|_| rng.below(cold_src.len() - (1 << 20)))
                .collect();
            let len = bytes as usize;
            let cold = per_call_ns(101, batch, |i| {
                out.clear();
                let at = offsets[i % 64];
                out.extend_from_slice(&cold_src[at..at + len]);
                black_box(out.len());
            });
            let suffix = if per == 50 { "" } else { "_1000" };
            let page = format!("body_{format}_page{suffix}");
            let id = Some(per as usize);
            emit(&page, name, N, id, fast, "ns");
            emit(&format!("{page}_reference"), name, N, id, slow, "ns");
            emit(
                &format!("body_{copy_prefix}copy_{per}"),
                name,
                N,
                id,
                copy,
                "ns",
            );
            emit(
                &format!("body_{copy_prefix}copy_{per}_cold"),
                name,
                N,
                id,
                cold,
                "ns",
            );
            emit(
                &format!("body_{copy_prefix}bytes_{per}"),
                name,
                N,
                id,
                bytes,
                "bytes",
            );
            emit(
                &format!("{page}_vs_copy"),
                name,
                N,
                id,
                fast / copy,
                "ratio",
            );
            emit(
                &format!("{page}_vs_cold_copy"),
                name,
                N,
                id,
                fast / cold,
                "ratio",
            );
        }
    }
}
