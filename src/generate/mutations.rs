//! [`MutationStream`]: an endless, seeded stream of mutations valid against a live
//! hierarchy, in the proportions of a busy service.

use crate::capability::Capabilities;
use crate::id::ResellerId;
use crate::mutation::{Mutation, Removal};
use crate::record::Record;
use crate::snapshot::Snapshot;

use super::SplitMix;

/// Seeded mutations for load tests and benchmarks: 50% adds under a random reseller,
/// 25% moves of a random reseller (with its downline) under a random reseller outside
/// that downline, 10% removals with the downline re-attached, 15% capability updates.
///
/// Each mutation is valid against the snapshot passed to
/// [`next_for`](MutationStream::next_for), provided every mutation drawn before it was
/// applied. The stream keeps the live ids itself (`O(1)` per draw); a move asks the
/// snapshot whether its target lies in the moved downline (an `is_in_downline` by id),
/// drawing again up to 16 times and making the reseller a root if every draw fell
/// inside. Added resellers get ids `"s<seed>-<k>"` that the hierarchy does not use yet.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::generate::{generate, MutationStream, Shape};
/// use reseller_hierarchy::{Hierarchy, Snapshot};
///
/// let h = Hierarchy::new(Snapshot::build(generate(Shape::Random, 1_000, 1))?);
/// let mut stream = MutationStream::new(&h.snapshot(), 7);
/// for _ in 0..200 {
///     let m = stream.next_for(&h.snapshot());
///     h.apply(&[m])?; // never refused
/// }
/// assert_eq!(h.snapshot().len(), stream.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct MutationStream {
    rng: SplitMix,
    seed: u64,
    /// The ids alive after every mutation drawn so far, in no particular order.
    ids: Vec<ResellerId>,
    fresh: u64,
}

impl MutationStream {
    /// A stream for the hierarchy `snapshot` holds now, from `seed`.
    pub fn new(snapshot: &Snapshot, seed: u64) -> MutationStream {
        MutationStream {
            rng: SplitMix::new(seed),
            seed,
            ids: snapshot.iter().map(|r| r.id().to_owned()).collect(),
            fresh: 0,
        }
    }

    /// The number of resellers once every mutation drawn so far is applied.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether that number is zero.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn random_id(&mut self) -> ResellerId {
        self.ids[self.rng.below(self.ids.len())].clone()
    }

    /// The next mutation, valid against `current`: the hierarchy after every mutation
    /// drawn so far.
    pub fn next_for(&mut self, current: &Snapshot) -> Mutation {
        let roll = self.rng.below(100);
        if self.ids.is_empty() || roll < 50 {
            return self.add(current);
        }
        if roll < 75 {
            let id = self.random_id();
            let parent = (0..16).find_map(|_| {
                let to = self.random_id();
                let inside = to == id || current.is_in_downline(&to, &id).unwrap_or(true);
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
            id: self.random_id(),
            name: None,
            capabilities: Some(Capabilities::from_bits(self.rng.below(32) as u8)),
            economic_enabled: None,
            attributes: None,
        }
    }

    fn add(&mut self, current: &Snapshot) -> Mutation {
        let id = loop {
            self.fresh += 1;
            let id = ResellerId::from(format!("s{}-{}", self.seed, self.fresh));
            if current.get(&id).is_none() {
                break id;
            }
        };
        let parent = (!self.ids.is_empty()).then(|| self.random_id());
        let caps = Capabilities::from_bits(self.rng.below(32) as u8);
        self.ids.push(id.clone());
        Mutation::Add(
            Record::new(id, parent)
                .name(format!("Stream reseller {}", self.fresh))
                .capabilities(caps),
        )
    }
}
