//! [`Workload`]: the resellers of a hierarchy worth benchmarking on.

use crate::id::ResellerId;
use crate::snapshot::Snapshot;

use super::SplitMix;

/// Representative resellers of a hierarchy, for benchmarks on any data (the tool's
/// `bench` command, the criterion benches on a user's file): the one with the largest
/// downline, a typical one, and a uniform sample.
///
/// "Typical" is the reseller whose downline size is the median among the resellers
/// that have a downline at all (leaves would make every listing empty). Two passes over
/// the snapshot, holding 4 bytes per reseller with a downline; the sample is drawn by
/// reservoir sampling.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::generate::{generate, Shape, Workload};
/// use reseller_hierarchy::Snapshot;
///
/// let snap = Snapshot::build(generate(Shape::Random, 10_000, 1))?;
/// let w = Workload::of(&snap, 100, 7).unwrap();
/// assert_eq!(w.largest.as_str(), "1"); // the only root
/// assert_eq!(snap.downline_count(&w.largest)?, 9_999);
/// assert!(snap.downline_count(&w.typical)? >= 1);
/// assert_eq!(w.sample.len(), 100);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// The reseller with the largest downline (the first such in pre-order).
    pub largest: ResellerId,
    /// A reseller whose downline size is the median of the non-empty ones (the largest
    /// when every other reseller is a leaf).
    pub typical: ResellerId,
    /// Up to `samples` resellers drawn uniformly, without repetition.
    pub sample: Vec<ResellerId>,
}

impl Workload {
    /// The workload of `snapshot`, with `samples` resellers drawn from `seed`; `None`
    /// when the snapshot is empty.
    pub fn of(snapshot: &Snapshot, samples: usize, seed: u64) -> Option<Workload> {
        let mut rng = SplitMix::new(seed);
        let mut largest: Option<(usize, ResellerId)> = None;
        let mut sizes: Vec<u32> = Vec::new();
        let mut sample: Vec<ResellerId> = Vec::with_capacity(samples.min(snapshot.len()));
        for (i, r) in snapshot.iter().enumerate() {
            let size = r.downline_len();
            if largest.as_ref().is_none_or(|(best, _)| size > *best) {
                largest = Some((size, r.id().to_owned()));
            }
            if size > 0 {
                sizes.push(u32::try_from(size).unwrap_or(u32::MAX));
            }
            if sample.len() < samples {
                sample.push(r.id().to_owned());
            } else {
                let j = rng.below(i + 1);
                if j < samples {
                    sample[j] = r.id().to_owned();
                }
            }
        }
        let (_, largest) = largest?;
        let typical = match sizes.len() {
            0 => largest.clone(),
            len => {
                let median = *sizes.select_nth_unstable(len / 2).1 as usize;
                snapshot
                    .iter()
                    .find(|r| r.downline_len() == median)
                    .map_or_else(|| largest.clone(), |r| r.id().to_owned())
            }
        };
        Some(Workload {
            largest,
            typical,
            sample,
        })
    }
}
