//! Criterion benches of the core, one group per operation, sizes from 10k to 1M, the
//! seeded generators' shapes, and in the same groups a naive baseline (a petgraph
//! `DiGraph` walked depth-first from the reseller on every query, then the page
//! sliced) so that each ratio comes from one run.
//!
//! `cargo bench --features generate --bench queries` runs everything (several minutes);
//! `cargo bench --features generate --bench queries -- downline_page` one group.
//!
//! Your own hierarchy: `RESELLER_HIERARCHY_DATA=path/to/file cargo bench --features generate --bench queries
//! -- your_data` runs the group `your_data` on that file (NDJSON, a JSON array or an
//! ActivePlatform document): pages of the largest and of a typical downline, filtered
//! eligible-parents pages and counts for each flag, `is_in_downline` and upline.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use reseller_hierarchy::generate::{Generator, Shape, SplitMix, Workload};
use reseller_hierarchy::{
    Builder, Filter, FilterFlags, Hierarchy, Mutation, Order, PageRequest, Principal, Record,
    ResellerId, Role, Snapshot,
};

#[path = "common/bodies.rs"]
mod bodies;
#[path = "common/moves.rs"]
mod moves;
#[path = "common/naive.rs"]
mod naive;
use moves::random_move;
use naive::Naive;

const SEED: u64 = 42;

fn records(shape: Shape, n: usize) -> Vec<Record> {
    Generator::new(shape, n).seed(SEED).generate()
}

/// The reseller whose downline size is nearest `target`.
fn with_downline_near(snap: &Snapshot, target: usize) -> ResellerId {
    snap.iter()
        .min_by_key(|r| r.downline_len().abs_diff(target))
        .map(|r| r.id().to_owned())
        .unwrap()
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("build");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for n in [10_000, 100_000, 1_000_000] {
        let input = records(Shape::Random, n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("random", n), &input, |b, input| {
            b.iter_batched(
                || input.clone(),
                |r| Snapshot::build(r).unwrap(),
                BatchSize::LargeInput,
            )
        });
        if n == 100_000 {
            for shape in [Shape::PowerLaw, Shape::Chain, Shape::Star] {
                let input = records(shape, n);
                g.bench_with_input(BenchmarkId::new(shape.name(), n), &input, |b, input| {
                    b.iter_batched(
                        || input.clone(),
                        |r| Snapshot::build(r).unwrap(),
                        BatchSize::LargeInput,
                    )
                });
            }
        }
    }
    g.finish();
}

fn downline_page(c: &mut Criterion) {
    let input = records(Shape::Random, 1_000_000);
    let naive = Naive::new(&input);
    let snap = Snapshot::build(input).unwrap();
    let mut g = c.benchmark_group("downline_page");
    g.throughput(Throughput::Elements(50));
    for target in [100, 10_000, 1_000_000] {
        let id = with_downline_near(&snap, target);
        let size = snap.downline_count(&id).unwrap();
        let last = PageRequest::new(1, 50).unwrap().last_page(size);
        for (at, page) in [("first", 1), ("middle", last.div_ceil(2)), ("last", last)] {
            let req = PageRequest::new(page, 50).unwrap();
            for order in [Order::PreOrder, Order::LevelOrder] {
                let name = format!("{order:?}/{at}");
                g.bench_with_input(BenchmarkId::new(name, size), &req, |b, &req| {
                    b.iter(|| {
                        let page = snap.downline(black_box(&id), order, req).unwrap();
                        page.iter().map(|r| r.id().as_str().len()).sum::<usize>()
                    })
                });
            }
        }
        let req = PageRequest::default();
        g.bench_with_input(BenchmarkId::new("naive/first", size), &req, |b, &req| {
            b.iter(|| naive.downline_page(black_box(&id), req))
        });
    }
    // The other shapes at one million: the root's downline, first page.
    for shape in [Shape::PowerLaw, Shape::Chain, Shape::Star] {
        let snap = Snapshot::build(records(shape, 1_000_000)).unwrap();
        let root = snap.iter().next().unwrap().id().to_owned();
        for order in [Order::PreOrder, Order::LevelOrder] {
            let name = format!("{}/{order:?}/first", shape.name());
            g.bench_function(BenchmarkId::new(name, 999_999), |b| {
                b.iter(|| {
                    let page = snap.downline(black_box(&root), order, PageRequest::default());
                    page.unwrap().len()
                })
            });
        }
    }
    g.finish();
}

fn eligible_filtered_page(c: &mut Criterion) {
    let snap = Snapshot::build(records(Shape::Random, 1_000_000)).unwrap();
    let root = snap.iter().next().unwrap().id().to_owned();
    let me = Principal::new(Role::ResellerAdmin, root);
    let mut g = c.benchmark_group("eligible_filtered_page");
    g.throughput(Throughput::Elements(50));
    for filter in Filter::ALL {
        let flags = FilterFlags::from(filter);
        let total = snap.eligible_count(&me, flags).unwrap();
        let last = PageRequest::default().last_page(total);
        for (at, page) in [("first", 1), ("middle", last / 2), ("last", last)] {
            let req = PageRequest::new(page.max(1), 50).unwrap();
            for order in [Order::PreOrder, Order::LevelOrder] {
                let name = format!("{}/{order:?}/{at}", filter.flag_name());
                g.bench_with_input(BenchmarkId::new(name, total), &req, |b, &req| {
                    b.iter(|| snap.eligible_parents(&me, flags, order, req).unwrap().len())
                });
            }
        }
    }
    g.finish();
}

fn counts(c: &mut Criterion) {
    let snap = Snapshot::build(records(Shape::Random, 1_000_000)).unwrap();
    let root = snap.iter().next().unwrap().id().to_owned();
    let me = Principal::new(Role::ResellerAdmin, root.clone());
    let mut g = c.benchmark_group("count");
    g.bench_function("downline_count/1000000", |b| {
        b.iter(|| snap.downline_count(black_box(&root)).unwrap())
    });
    g.bench_function("eligible_count/unfiltered/1000000", |b| {
        b.iter(|| snap.eligible_count(&me, FilterFlags::NONE).unwrap())
    });
    let voip = FilterFlags::from(Filter::Voip);
    g.bench_function("eligible_count/voip/1000000", |b| {
        b.iter(|| snap.eligible_count(&me, black_box(voip)).unwrap())
    });
    g.finish();
}

fn is_in_downline(c: &mut Criterion) {
    let input = records(Shape::Random, 1_000_000);
    let naive = Naive::new(&input);
    let snap = Snapshot::build(input).unwrap();
    let ids: Vec<ResellerId> = snap
        .iter()
        .step_by(9973)
        .map(|r| r.id().to_owned())
        .collect();
    let pairs: Vec<(ResellerId, ResellerId)> = ids
        .iter()
        .zip(ids.iter().rev())
        .map(|(a, b)| (a.clone(), b.clone()))
        .collect();
    let resolved: Vec<_> = pairs
        .iter()
        .map(|(a, r)| (snap.get(a).unwrap(), snap.get(r).unwrap()))
        .collect();
    let mut g = c.benchmark_group("is_in_downline");
    g.throughput(Throughput::Elements(pairs.len() as u64));
    g.bench_function("resolved/1000000", |b| {
        b.iter(|| {
            resolved
                .iter()
                .filter(|(a, r)| black_box(a).is_in_downline_of(r))
                .count()
        })
    });
    g.bench_function("by_id/1000000", |b| {
        b.iter(|| {
            pairs
                .iter()
                .filter(|(a, r)| snap.is_in_downline(a, r).unwrap())
                .count()
        })
    });
    g.bench_function("naive_walk_up/1000000", |b| {
        // Walk parent links up from `a` in the graph.
        b.iter(|| {
            pairs
                .iter()
                .filter(|(a, r)| {
                    let target = naive.index[r];
                    let mut v = naive.index[a];
                    loop {
                        let up = naive
                            .graph
                            .neighbors_directed(v, petgraph::Direction::Incoming)
                            .next();
                        match up {
                            Some(p) if p == target => break true,
                            Some(p) => v = p,
                            None => break false,
                        }
                    }
                })
                .count()
        })
    });
    g.finish();
}

fn upline(c: &mut Criterion) {
    let mut g = c.benchmark_group("upline");
    for (shape, n) in [(Shape::Random, 1_000_000), (Shape::Chain, 100_000)] {
        let snap = Snapshot::build(records(shape, n)).unwrap();
        let deepest = snap.iter().last().unwrap().id().to_owned();
        let depth = snap.upline(&deepest).unwrap().count();
        g.throughput(Throughput::Elements(depth as u64));
        g.bench_function(
            BenchmarkId::new(format!("{}/depth", shape.name()), depth),
            |b| b.iter(|| snap.upline(black_box(&deepest)).unwrap().count()),
        );
    }
    g.finish();
}

fn materialize(c: &mut Criterion) {
    let input = records(Shape::Random, 1_000_000);
    let naive = Naive::new(&input);
    let snap = Snapshot::build(input).unwrap();
    let root = snap.iter().next().unwrap().id().to_owned();
    let n = snap.downline_count(&root).unwrap();
    let mut g = c.benchmark_group("materialize");
    g.sample_size(10).throughput(Throughput::Elements(n as u64));
    for order in [Order::PreOrder, Order::LevelOrder] {
        g.bench_function(BenchmarkId::new(format!("{order:?}"), n), |b| {
            b.iter(|| {
                let per = PageRequest::new(1, 1000).unwrap();
                let mut ids = Vec::with_capacity(n);
                for p in 1..=per.last_page(n) {
                    let page = snap.downline(&root, order, PageRequest::new(p, 1000).unwrap());
                    ids.extend(page.unwrap().iter().map(|r| r.id()));
                }
                ids.len()
            })
        });
    }
    g.bench_function(BenchmarkId::new("naive", n), |b| {
        b.iter(|| {
            naive
                .downline_page(&root, PageRequest::new(1, 1000).unwrap())
                .len()
        })
    });
    g.finish();
}

/// One mutation applied through a `Hierarchy` until its version is published, against
/// a rebuild of the same forest. Only `apply` is timed; every 256 mutations the changes
/// are folded into a new base with `Hierarchy::compact`, untimed (the steady state of a
/// service whose background folds keep up with its writes; `examples/perf_report.rs`
/// times mutations with real background folds and reports the p99 too).
fn mutation(c: &mut Criterion) {
    let n = 1_000_000;
    let input = records(Shape::Random, n);
    let h = Hierarchy::new(Snapshot::build(input.clone()).unwrap());
    h.set_fold_threshold(usize::MAX);
    let mut rng = SplitMix::new(11);
    let mut g = c.benchmark_group("mutation");
    g.sample_size(20);
    let mut fresh = 0u64;
    let mut timed = |h: &Hierarchy, rng: &mut SplitMix, iters: u64, add: bool| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            fresh += 1;
            if fresh.is_multiple_of(256) {
                h.compact();
            }
            let batch = if add {
                let parent = ResellerId::from(1 + rng.below(n) as u64);
                [Mutation::Add(Record::new(
                    format!("b{fresh}"),
                    Some(parent),
                ))]
            } else {
                [random_move(h, n, rng)]
            };
            let t = std::time::Instant::now();
            black_box(h.apply(&batch).unwrap());
            total += t.elapsed();
        }
        total
    };
    g.bench_function(BenchmarkId::new("leaf_add", n), |b| {
        b.iter_custom(|iters| timed(&h, &mut rng, iters, true))
    });
    g.bench_function(BenchmarkId::new("move", n), |b| {
        b.iter_custom(|iters| timed(&h, &mut rng, iters, false))
    });
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_with_input(BenchmarkId::new("rebuild", n), &input, |b, input| {
        b.iter_batched(
            || input.clone(),
            |r| Snapshot::build(r).unwrap(),
            BatchSize::LargeInput,
        )
    });
    g.finish();

    // First pages of a version 128 mutations past its base (none folded yet).
    h.compact();
    for i in 0..64u64 {
        let parent = ResellerId::from(1 + rng.below(n) as u64);
        h.apply(&[Mutation::Add(Record::new(format!("c{i}"), Some(parent)))])
            .unwrap();
        h.apply(&[random_move(&h, n, &mut rng)]).unwrap();
    }
    let snap = h.snapshot();
    let root = ResellerId::from("1");
    let mut g = c.benchmark_group("changed_version_page");
    for order in [Order::PreOrder, Order::LevelOrder] {
        g.bench_function(BenchmarkId::new(format!("{order:?}"), n), |b| {
            b.iter(|| {
                snap.downline(black_box(&root), order, PageRequest::default())
                    .unwrap()
                    .len()
            })
        });
    }
    g.finish();
}

/// Response bodies at one million resellers with the ActivePlatform attribute set
/// (`common/bodies.rs`): the writers, the reference renderer (serde types through
/// `serde_json`), and copying the same bytes, cycling through 64 random pages, into a
/// reused buffer.
fn body(c: &mut Criterion) {
    use reseller_hierarchy::wire::{jsonapi, telecomx};
    let snap = bodies::snapshot();
    let mut rng = SplitMix::new(SEED);
    let mut g = c.benchmark_group("body");
    for per in [50u64, 1000] {
        let (pages, eligible) = bodies::pages(&snap, per, &mut rng);
        let rendered: Vec<Vec<u8>> = pages
            .iter()
            .map(|p| serde_json::to_vec(&jsonapi::document(p, bodies::BASE)).unwrap())
            .collect();
        let mut out = Vec::with_capacity(1 << 20);
        g.throughput(Throughput::Elements(per));
        g.bench_function(BenchmarkId::new("jsonapi/write", per), |b| {
            let mut i = 0;
            b.iter(|| {
                i += 1;
                out.clear();
                jsonapi::write_document(&pages[i % 64], bodies::BASE, &mut out);
                out.len()
            })
        });
        g.bench_function(BenchmarkId::new("jsonapi/reference", per), |b| {
            let mut i = 0;
            b.iter(|| {
                i += 1;
                serde_json::to_vec(&jsonapi::document(&pages[i % 64], bodies::BASE)).unwrap()
            })
        });
        g.bench_function(BenchmarkId::new("jsonapi/copy", per), |b| {
            let mut i = 0;
            b.iter(|| {
                i += 1;
                out.clear();
                out.extend_from_slice(&rendered[i % 64]);
                out.len()
            })
        });
        g.bench_function(BenchmarkId::new("telecomx/write", per), |b| {
            let mut i = 0;
            b.iter(|| {
                i += 1;
                out.clear();
                telecomx::write_list(&eligible[i % 64], &mut out);
                out.len()
            })
        });
        g.bench_function(BenchmarkId::new("telecomx/reference", per), |b| {
            let mut i = 0;
            b.iter(|| {
                i += 1;
                serde_json::to_vec(&telecomx::list(&eligible[i % 64])).unwrap()
            })
        });
    }
    g.finish();
}

/// The hierarchy in the file `RESELLER_HIERARCHY_DATA` names, if set.
fn your_hierarchy() -> Option<(String, Snapshot)> {
    let path = std::env::var("RESELLER_HIERARCHY_DATA").ok()?;
    let fail = |e: &dyn std::fmt::Display| -> ! { panic!("RESELLER_HIERARCHY_DATA={path}: {e}") };
    let file = std::fs::File::open(&path).unwrap_or_else(|e| fail(&e));
    let mut builder = Builder::new();
    builder
        .read_any(std::io::BufReader::with_capacity(1 << 20, file))
        .unwrap_or_else(|e| fail(&e));
    let snap = builder.build().unwrap_or_else(|e| fail(&e));
    Some((path, snap))
}

fn your_data(c: &mut Criterion) {
    let Some((path, snap)) = your_hierarchy() else {
        return;
    };
    let Some(w) = Workload::of(&snap, 256, SEED) else {
        panic!("RESELLER_HIERARCHY_DATA={path}: no resellers");
    };
    let mut g = c.benchmark_group("your_data");
    for (of, id) in [("largest", &w.largest), ("typical", &w.typical)] {
        let size = snap.downline_count(id).unwrap();
        let last = PageRequest::default().last_page(size);
        for (at, page) in [("first", 1), ("middle", last.div_ceil(2)), ("last", last)] {
            let req = PageRequest::new(page, 50).unwrap();
            for order in [Order::PreOrder, Order::LevelOrder] {
                let name = format!("downline/{of}/{order:?}/{at}");
                g.bench_function(BenchmarkId::new(name, size), |b| {
                    b.iter(|| {
                        let page = snap.downline(black_box(id), order, req).unwrap();
                        page.iter().map(|r| r.id().as_str().len()).sum::<usize>()
                    })
                });
            }
        }
    }
    let me = Principal::new(Role::ResellerAdmin, w.largest.clone());
    let mut rng = SplitMix::new(SEED);
    for filter in Filter::ALL {
        let flags = FilterFlags::from(filter);
        let total = snap.eligible_count(&me, flags).unwrap();
        let last = PageRequest::default().last_page(total) as usize;
        let pages: Vec<PageRequest> = (0..64)
            .map(|_| PageRequest::new(1 + rng.below(last) as u64, 50).unwrap())
            .collect();
        let name = format!("eligible_page/{}", filter.flag_name());
        g.bench_function(BenchmarkId::new(name, total), |b| {
            let mut i = 0;
            b.iter(|| {
                i += 1;
                let req = pages[i % pages.len()];
                let page = snap
                    .eligible_parents(&me, flags, Order::PreOrder, req)
                    .unwrap();
                page.iter().map(|r| r.id().as_str().len()).sum::<usize>()
            })
        });
        let name = format!("eligible_count/{}", filter.flag_name());
        g.bench_function(BenchmarkId::new(name, total), |b| {
            b.iter(|| snap.eligible_count(black_box(&me), flags).unwrap())
        });
    }
    let sample = &w.sample;
    g.bench_function("is_in_downline_by_id", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            let a = &sample[i % sample.len()];
            snap.is_in_downline(black_box(a), &w.largest).unwrap()
        })
    });
    g.bench_function("upline", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            snap.upline(&sample[i % sample.len()]).unwrap().count()
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    your_data,
    body,
    build,
    downline_page,
    eligible_filtered_page,
    counts,
    is_in_downline,
    upline,
    materialize,
    mutation
);
criterion_main!(benches);
