//! `resellers bench`: the engine's costs measured on the user's own hierarchy.
//!
//! Every query is timed over many samples, after one warm-up pass over its inputs (so
//! that figures are those of a warm cache, as criterion's), and reported as p50 and
//! p99. A call that
//! takes under a microsecond is below what the clock can time alone, so such a sample
//! is the mean of a batch of consecutive calls (the `batch` column), each on another
//! input (another page, another reseller); slower calls are timed one by one. The
//! mutation stream times each `Hierarchy::apply` alone and adds p99.9 and the maximum.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use reseller_hierarchy::generate::{MutationStream, SplitMix, Workload};
use reseller_hierarchy::wire::{jsonapi, telecomx};
use reseller_hierarchy::{
    Filter, FilterFlags, Hierarchy, Id, Order, PageRequest, Principal, ResellerId, Role, Snapshot,
};
use serde_json::json;

/// What `bench` was asked to do.
pub(crate) struct Options {
    /// Samples per query.
    pub samples: usize,
    /// Mutations in the stream (0: none).
    pub mutations: usize,
    /// The random seed of pages, samples and mutations.
    pub seed: u64,
    /// One JSON object a line instead of a table.
    pub json: bool,
    /// What the data is called in the output (the file's name, or `demo`).
    pub source: String,
    /// How long reading and building took.
    pub load: Duration,
}

/// A distribution of times, in nanoseconds.
struct Stats {
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
    /// Calls per sample.
    batch: usize,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn stats(mut v: Vec<f64>, batch: usize) -> Stats {
    v.sort_by(f64::total_cmp);
    Stats {
        p50: quantile(&v, 0.5),
        p99: quantile(&v, 0.99),
        p999: quantile(&v, 0.999),
        max: v[v.len() - 1],
        batch,
    }
}

/// Times `samples` samples of `f(i)`, `i` counting calls, after a warm-up pass over
/// the `inputs` distinct inputs `f` cycles through; a sample is one call, or the mean
/// of a batch of calls long enough to last a microsecond.
fn time_calls(samples: usize, inputs: usize, mut f: impl FnMut(usize)) -> Stats {
    for i in 0..inputs {
        f(i);
    }
    let start = Instant::now();
    let mut calls = 0;
    while calls < 10_000 && (calls < 3 || start.elapsed() < Duration::from_micros(200)) {
        f(calls);
        calls += 1;
    }
    let per_call = start.elapsed().as_nanos() as f64 / calls as f64;
    let batch = ((1_000.0 / per_call.max(1.0)).ceil() as usize).clamp(1, 1_000);
    let mut out = Vec::with_capacity(samples);
    let mut i = 0;
    for _ in 0..samples.max(1) {
        let t = Instant::now();
        for _ in 0..batch {
            f(i);
            i += 1;
        }
        out.push(t.elapsed().as_nanos() as f64 / batch as f64);
    }
    stats(out, batch)
}

/// One measured query.
struct Row {
    metric: String,
    /// Which reseller it is about (`largest`, `typical`, `sample`), if one.
    of: &'static str,
    /// The size of the listing or downline concerned, if one.
    subtree: Option<usize>,
    stats: Stats,
}

/// Sums the ids' lengths of a listing, so that the optimiser cannot skip its items.
fn consume<'a>(ids: impl Iterator<Item = &'a Id>) -> usize {
    black_box(ids.map(|id| id.as_str().len()).sum())
}

/// `count` page requests of 50 drawn uniformly over a listing of `total`.
fn random_pages(total: usize, count: usize, rng: &mut SplitMix) -> Vec<PageRequest> {
    let last = PageRequest::default().last_page(total) as usize;
    (0..count)
        .map(|_| PageRequest::new(1 + rng.below(last) as u64, 50).unwrap_or_default())
        .collect()
}

fn query_rows(snap: &Snapshot, w: &Workload, opts: &Options) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut rng = SplitMix::new(opts.seed);
    let n = opts.samples;
    for (of, id) in [("largest", &w.largest), ("typical", &w.typical)] {
        let size = snap.downline_count(id).unwrap_or(0);
        let last = PageRequest::default().last_page(size);
        let pages = [("first", 1), ("middle", last.div_ceil(2)), ("last", last)];
        for (which, number) in pages {
            let req = PageRequest::new(number, 50).unwrap_or_default();
            let stats = time_calls(n, 1, |_| {
                let page = snap.downline(id, Order::PreOrder, req).unwrap();
                consume(page.iter().map(|r| r.id()));
            });
            rows.push(Row {
                metric: format!("downline_page_{which}"),
                of,
                subtree: Some(size),
                stats,
            });
        }
        let stats = time_calls(n, 1, |_| {
            let page = snap
                .downline(id, Order::LevelOrder, PageRequest::default())
                .unwrap();
            consume(page.iter().map(|r| r.id()));
        });
        rows.push(Row {
            metric: "downline_page_first_level_order".into(),
            of,
            subtree: Some(size),
            stats,
        });
    }
    let me = Principal::new(Role::ResellerAdmin, w.largest.clone());
    for filter in Filter::ALL {
        let (name, flags) = (filter.flag_name(), FilterFlags::from(filter));
        let total = snap.eligible_count(&me, flags).unwrap_or(0);
        let pages = random_pages(total, 64, &mut rng);
        let stats = time_calls(n, pages.len(), |i| {
            let page = snap
                .eligible_parents(&me, flags, Order::PreOrder, pages[i % pages.len()])
                .unwrap();
            consume(page.iter().map(|r| r.id()));
        });
        rows.push(Row {
            metric: format!("eligible_page_{name}"),
            of: "largest",
            subtree: Some(total),
            stats,
        });
        let stats = time_calls(n, 1, |_| {
            black_box(snap.eligible_count(&me, flags).unwrap());
        });
        rows.push(Row {
            metric: format!("eligible_count_{name}"),
            of: "largest",
            subtree: Some(total),
            stats,
        });
    }
    let sample = &w.sample;
    let k = sample.len();
    let stats = time_calls(n, k, |i| {
        black_box(snap.downline_count(&sample[i % k]).unwrap());
    });
    rows.push(Row {
        metric: "downline_count".into(),
        of: "sample",
        subtree: None,
        stats,
    });
    // Half the pairs about the largest downline (mostly true), half random (mostly
    // false).
    let pairs: Vec<(&ResellerId, &ResellerId)> = (0..256)
        .map(|j| {
            let a = &sample[rng.below(k)];
            let of = if j % 2 == 0 {
                &w.largest
            } else {
                &sample[rng.below(k)]
            };
            (a, of)
        })
        .collect();
    let stats = time_calls(n, pairs.len(), |i| {
        let (a, of) = pairs[i % pairs.len()];
        black_box(snap.is_in_downline(a, of).unwrap());
    });
    rows.push(Row {
        metric: "is_in_downline_by_id".into(),
        of: "sample",
        subtree: None,
        stats,
    });
    let stats = time_calls(n, k, |i| {
        consume(snap.upline(&sample[i % k]).unwrap().map(|r| r.id()));
    });
    rows.push(Row {
        metric: "upline".into(),
        of: "sample",
        subtree: None,
        stats,
    });
    rows.extend(body_rows(snap, w, opts));
    rows
}

/// A page of 50 rendered to body bytes into a reused buffer, query included: the
/// JSON:API downline of the largest reseller, and the TelecomX eligible parents (iptv)
/// of its RESELLER_ADMIN; each with the body writers and with the reference renderer
/// (the serde types through `serde_json`).
fn body_rows(snap: &Snapshot, w: &Workload, opts: &Options) -> Vec<Row> {
    const BASE: &str = "/api/v3/customer_store/resellers";
    let size = snap.downline_count(&w.largest).unwrap_or(0);
    let downline = || {
        snap.downline(&w.largest, Order::PreOrder, PageRequest::default())
            .unwrap()
    };
    let me = Principal::new(Role::ResellerAdmin, w.largest.clone());
    let iptv = FilterFlags::from(Filter::Iptv);
    let total = snap.eligible_count(&me, iptv).unwrap_or(0);
    let eligible = || {
        snap.eligible_parents(&me, iptv, Order::PreOrder, PageRequest::default())
            .unwrap()
    };
    let mut out = Vec::with_capacity(1 << 16);
    let mut rows = Vec::new();
    let mut row = |metric: &str, subtree: usize, stats: Stats| {
        rows.push(Row {
            metric: metric.into(),
            of: "largest",
            subtree: Some(subtree),
            stats,
        });
    };
    let stats = time_calls(opts.samples, 1, |_| {
        out.clear();
        jsonapi::write_document(&downline(), BASE, &mut out);
        black_box(out.len());
    });
    row("body_jsonapi_page", size, stats);
    let stats = time_calls(opts.samples, 1, |_| {
        let body = serde_json::to_vec(&jsonapi::document(&downline(), BASE)).unwrap_or_default();
        black_box(body.len());
    });
    row("body_jsonapi_page_reference", size, stats);
    let stats = time_calls(opts.samples, 1, |_| {
        out.clear();
        telecomx::write_list(&eligible(), &mut out);
        black_box(out.len());
    });
    row("body_telecomx_page", total, stats);
    let stats = time_calls(opts.samples, 1, |_| {
        let body = serde_json::to_vec(&telecomx::list(&eligible())).unwrap_or_default();
        black_box(body.len());
    });
    row("body_telecomx_page_reference", total, stats);
    rows
}

/// Applies `count` one-mutation batches from a [`MutationStream`], each timed alone;
/// the distribution and the throughput (mutations a second of apply time).
fn stream(snap: Snapshot, count: usize, seed: u64) -> (Stats, f64) {
    let h = Hierarchy::new(snap);
    let mut stream = MutationStream::new(&h.snapshot(), seed);
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let m = stream.next_for(&h.snapshot());
        let t = Instant::now();
        let applied = h.apply(std::slice::from_ref(&m));
        times.push(t.elapsed().as_nanos() as f64);
        // The stream only draws valid mutations; a refusal is a bug to report.
        if let Err(e) = applied {
            eprintln!(
                "{}",
                json!({"error": "internal_error", "message": format!("{m:?}: {e}")})
            );
        }
    }
    let total: f64 = times.iter().sum();
    let per_s = count as f64 / (total / 1e9);
    (stats(times, 1), per_s)
}

/// Cores and processor of this machine, as Linux reports them.
fn machine() -> (usize, String) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    (cores, cpu)
}

fn duration(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// Runs the whole benchmark on `snap` and renders the report.
pub(crate) fn run(snap: Snapshot, opts: &Options) -> String {
    let summary = snap.summary();
    let (cores, cpu) = machine();
    let rows = match Workload::of(&snap, 1_000, opts.seed) {
        Some(w) => query_rows(&snap, &w, opts),
        None => Vec::new(),
    };
    let streamed = (opts.mutations > 0).then(|| stream(snap, opts.mutations, opts.seed));
    let n = summary.resellers;
    let mut out = String::new();
    if opts.json {
        let line = |out: &mut String, v: serde_json::Value| {
            let _ = writeln!(out, "{v}");
        };
        let shape = &opts.source;
        line(
            &mut out,
            json!({"metric": "machine", "shape": shape, "n": n, "value": cores, "unit": "cores", "cpu": cpu}),
        );
        for (metric, value) in [
            ("roots", summary.roots),
            ("max_depth", summary.max_depth),
            ("widest_fan_out", summary.widest_fan_out),
        ] {
            line(
                &mut out,
                json!({"metric": metric, "shape": shape, "n": n, "value": value, "unit": "count"}),
            );
        }
        line(
            &mut out,
            json!({"metric": "load", "shape": shape, "n": n, "value": opts.load.as_secs_f64() * 1e3, "unit": "ms"}),
        );
        for r in &rows {
            let s = &r.stats;
            line(
                &mut out,
                json!({"metric": r.metric, "shape": shape, "n": n, "subtree": r.subtree, "of": r.of,
                       "value": s.p50, "p50": s.p50, "p99": s.p99, "batch": s.batch, "unit": "ns"}),
            );
        }
        if let Some((s, per_s)) = &streamed {
            line(
                &mut out,
                json!({"metric": "stream_mutation", "shape": shape, "n": n, "count": opts.mutations,
                       "value": s.p50, "p50": s.p50, "p99": s.p99, "p999": s.p999, "max": s.max, "unit": "ns"}),
            );
            line(
                &mut out,
                json!({"metric": "stream_mutations_per_s", "shape": shape, "n": n, "value": per_s.round(), "unit": "1/s"}),
            );
        }
        return out;
    }
    let _ = writeln!(out, "machine:   {cpu}, {cores} cores");
    let _ = writeln!(
        out,
        "hierarchy: {}: {n} resellers, roots {}, depth {}, widest fan-out {}; read and built in {}",
        opts.source,
        summary.roots,
        summary.max_depth,
        summary.widest_fan_out,
        duration(opts.load.as_nanos() as f64)
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<34} {:<8} {:>10} {:>10} {:>10} {:>6}",
        "query", "of", "listing", "p50", "p99", "batch"
    );
    for r in &rows {
        let listing = r.subtree.map_or(String::new(), |s| s.to_string());
        let _ = writeln!(
            out,
            "{:<34} {:<8} {:>10} {:>10} {:>10} {:>6}",
            r.metric,
            r.of,
            listing,
            duration(r.stats.p50),
            duration(r.stats.p99),
            r.stats.batch
        );
    }
    if let Some((s, per_s)) = &streamed {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "mutation stream: {} one-mutation batches (50% add, 25% move, 10% remove, 15% update): \
             p50 {}, p99 {}, p99.9 {}, max {}; {:.0} mutations/s",
            opts.mutations,
            duration(s.p50),
            duration(s.p99),
            duration(s.p999),
            duration(s.max),
            per_s
        );
    }
    let _ = write!(
        out,
        "\nTimes under a microsecond are means over `batch` consecutive calls, each on another input."
    );
    out
}
