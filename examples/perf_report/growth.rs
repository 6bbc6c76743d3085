//! `perf_report -- growth [--n N] [--updates K]`: does the storage of a version's
//! changes grow without stalling the writer?
//!
//! The records that changes bring accumulate over a base until a fold. This mode turns
//! folding off and applies `K` one-update batches (600,000 by default, each a new name
//! for a random reseller, so each pushes one record and one text) at `n` resellers,
//! timing each, so that a step that grows with the records gathered (a doubling
//! buffer copied or cleared whole) shows as a slowest update at a count where the
//! storage grows, and as a maximum that rises with `K`.
//!
//! Metrics `growth_update_p50`, `growth_update_p999`, `growth_update_max` (`subtree`:
//! `K`) and `growth_update_max_at`, the number of records logged before the slowest
//! update; the five slowest go to stderr with theirs.

use std::time::Instant;

use reseller_hierarchy::generate::{Generator, Shape, SplitMix};
use reseller_hierarchy::{Hierarchy, Mutation, ResellerId, Snapshot};

use super::{emit, quantile};

/// Updates applied by default.
pub(crate) const UPDATES: usize = 600_000;

pub(crate) fn run(n: usize, updates: usize) {
    let input = Generator::new(Shape::Random, n).seed(42).generate();
    let t = Instant::now();
    let h = Hierarchy::new(Snapshot::build(input).unwrap());
    emit(
        "build",
        "random",
        n,
        None,
        t.elapsed().as_nanos() as f64,
        "ns",
    );
    h.set_fold_threshold(usize::MAX);
    let ids: Vec<ResellerId> = h.snapshot().iter().map(|r| r.id().to_owned()).collect();
    let mut rng = SplitMix::new(9);
    let times: Vec<f64> = (0..updates)
        .map(|i| {
            let m = Mutation::Update {
                id: ids[rng.below(ids.len())].clone(),
                name: Some(format!("renamed {i}")),
                capabilities: None,
                economic_enabled: None,
                attributes: None,
            };
            let t = Instant::now();
            let ok = h.apply(std::slice::from_ref(&m)).is_ok();
            let ns = t.elapsed().as_nanos() as f64;
            assert!(ok, "an update of a present reseller was refused");
            ns
        })
        .collect();
    for (metric, q) in [
        ("growth_update_p50", 0.5),
        ("growth_update_p999", 0.999),
        ("growth_update_max", 1.0),
    ] {
        emit(
            metric,
            "random",
            n,
            Some(updates),
            quantile(times.clone(), q),
            "ns",
        );
    }
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by(|&a, &b| times[b].total_cmp(&times[a]));
    emit(
        "growth_update_max_at",
        "random",
        n,
        Some(updates),
        order[0] as f64,
        "count",
    );
    for &i in order.iter().take(5) {
        eprintln!(
            "slow: update after {i} records took {:.1} µs",
            times[i] / 1e3
        );
    }
}
