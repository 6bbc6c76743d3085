//! The mutation workload shared by the criterion benches and `examples/perf_report.rs`.

use reseller_hierarchy::generate::SplitMix;
use reseller_hierarchy::{Hierarchy, Mutation, ResellerId};

/// A move of a random reseller (ids `2..=n`) under a random new parent (ids `1..=n`)
/// outside its downline.
pub(crate) fn random_move(h: &Hierarchy, n: usize, rng: &mut SplitMix) -> Mutation {
    let cur = h.snapshot();
    loop {
        let who = ResellerId::from(2 + rng.below(n - 1) as u64);
        let to = ResellerId::from(1 + rng.below(n) as u64);
        if who != to && !cur.is_in_downline(&to, &who).unwrap() {
            return Mutation::Move {
                id: who,
                parent: Some(to),
            };
        }
    }
}
