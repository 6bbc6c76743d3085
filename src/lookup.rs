//! The one hash index from external ids to dense indices.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;
use rayon::prelude::*;

use crate::id::ResellerId;

/// Maps an id to its dense index without storing the id a second time: the table holds
/// only `u32` indices into the id array, so it costs about 5 bytes a slot.
///
/// SipHash with a random key (the standard library's), so that ids chosen by clients
/// cannot degrade lookups.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdTable {
    table: HashTable<u32>,
    hasher: RandomState,
}

impl IdTable {
    /// Indexes `ids`; returns the table and, for every id seen more than once, the
    /// indices of all its occurrences (ascending; the lists ordered by first occurrence).
    pub(crate) fn build(ids: &[ResellerId]) -> (IdTable, Vec<Vec<usize>>) {
        let hasher = RandomState::new();
        let hashes: Vec<u64> = ids
            .par_iter()
            .with_min_len(4096)
            .map(|id| hasher.hash_one(id.as_str()))
            .collect();
        let mut table = HashTable::with_capacity(ids.len());
        let mut duplicates: Vec<Vec<usize>> = Vec::new();
        // Index of the first occurrence -> slot in `duplicates`.
        let mut dup_slot: std::collections::HashMap<u32, usize> = Default::default();
        for (i, (&h, id)) in hashes.iter().zip(ids).enumerate() {
            match table.find(h, |&j: &u32| ids[j as usize] == *id) {
                Some(&first) => {
                    let slot = *dup_slot.entry(first).or_insert_with(|| {
                        duplicates.push(vec![first as usize]);
                        duplicates.len() - 1
                    });
                    duplicates[slot].push(i);
                }
                None => {
                    let ix = u32::try_from(i).expect("caller checked the size limit");
                    table.insert_unique(h, ix, |&j| hashes[j as usize]);
                }
            }
        }
        duplicates.sort_unstable_by_key(|occurrences| occurrences[0]);
        (IdTable { table, hasher }, duplicates)
    }

    /// The dense index of `id`, if present; `id_at(j)` is the id of dense index `j`.
    #[inline]
    pub(crate) fn get<'a>(&self, id: &str, id_at: impl Fn(u32) -> &'a str) -> Option<u32> {
        let h = self.hasher.hash_one(id);
        self.table.find(h, |&j| id_at(j) == id).copied()
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Bytes of the table itself (slots and control bytes), not of the ids.
    pub(crate) fn heap_bytes(&self) -> usize {
        // hashbrown keeps a power-of-two number of buckets, at most 7/8 full (all but
        // one full below 8 buckets), and one control byte per bucket.
        let cap = self.table.capacity();
        let buckets = if cap < 8 { cap + 1 } else { cap * 8 / 7 };
        buckets.next_power_of_two() * (std::mem::size_of::<u32>() + 1)
    }
}

impl IdTable {
    /// Replaces every stored index `i` by `f(i)` (the ids themselves do not move in the
    /// hash order, so no rehashing is needed).
    pub(crate) fn remap(&mut self, f: impl Fn(u32) -> u32) {
        for v in self.table.iter_mut() {
            *v = f(*v);
        }
    }
}
