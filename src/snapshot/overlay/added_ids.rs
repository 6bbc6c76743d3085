//! [`AddedIds`]: which reseller added since the base has a given id.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, BuildHasherDefault};

use super::NumberHasher;
use crate::id::{Id, ResellerId};
use crate::snapshot::numbering::Handle;

/// A persistent hash map of `u64` keys that are hashes already.
type ByHash = imbl::GenericHashMap<
    u64,
    Handle,
    BuildHasherDefault<NumberHasher>,
    imbl::shared_ptr::DefaultSharedPtr,
>;

/// The handles of the resellers added since the base (and still present), by id.
///
/// **How.** The ids themselves are in the added resellers' records (the record log),
/// so the map does not keep a second copy: it maps a keyed hash of the id (SipHash
/// with keys drawn when the overlay starts, so that ids cannot be chosen to collide)
/// to the handle, and a lookup compares the id of the handle it finds. An id whose
/// hash another present id already has goes to a second map keyed by the id itself,
/// which is asked only when the first one has no match and the second is not empty
/// (with 64-bit hashes, that is never in practice). The entries are two integers, so
/// copying a path to change it and dropping the map read no id.
#[derive(Clone, Debug, Default)]
pub(crate) struct AddedIds {
    keys: RandomState,
    by_hash: ByHash,
    collided: imbl::HashMap<ResellerId, Handle>,
    /// Tests keep only these bits of each hash, so that ids collide often.
    #[cfg(test)]
    hash_bits: Option<u64>,
}

impl AddedIds {
    fn hash(&self, id: &Id) -> u64 {
        let h = self.keys.hash_one(id.as_str());
        #[cfg(test)]
        let h = h & self.hash_bits.unwrap_or(u64::MAX);
        h
    }

    /// The added reseller with this id; `id_of` gives an added reseller's id.
    #[inline]
    pub(crate) fn get<'a>(
        &self,
        id: &Id,
        id_of: impl Fn(Handle) -> Option<&'a Id>,
    ) -> Option<Handle> {
        // Most versions add nobody: no hashing then. (`collided` may hold ids when
        // `by_hash` is empty: the other id of their hash was removed.)
        if self.by_hash.is_empty() && self.collided.is_empty() {
            return None;
        }
        match self.by_hash.get(&self.hash(id)) {
            Some(&x) if id_of(x) == Some(id) => Some(x),
            _ if self.collided.is_empty() => None,
            _ => self.collided.get(id).copied(),
        }
    }

    /// Records that `x`, added, has `id` (which no present reseller has).
    pub(crate) fn insert(&mut self, id: &Id, x: Handle) {
        let h = self.hash(id);
        if self.by_hash.contains_key(&h) {
            self.collided.insert(id.to_owned(), x);
        } else {
            self.by_hash.insert(h, x);
        }
    }

    /// Forgets `x`, the added reseller with `id`.
    pub(crate) fn remove(&mut self, id: &Id, x: Handle) {
        let h = self.hash(id);
        match self.by_hash.get(&h) {
            Some(&held) if held == x => {
                // Another id of this hash, if any, stays in `collided`, where
                // lookups still find it.
                self.by_hash.remove(&h);
            }
            _ => {
                self.collided.remove(id);
            }
        }
    }

    /// How many ids it holds.
    pub(crate) fn len(&self) -> usize {
        self.by_hash.len() + self.collided.len()
    }

    /// Every handle it holds, in no particular order.
    pub(crate) fn handles(&self) -> impl Iterator<Item = Handle> + '_ {
        self.by_hash.values().chain(self.collided.values()).copied()
    }

    /// What its entries take on the heap, roughly.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.by_hash.len() * 16 + self.collided.len() * 40
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a plain map, with every hash forced into `collided` or not.
    #[test]
    fn finds_what_a_map_finds_through_collisions() {
        let ids: Vec<ResellerId> = (0..500)
            .map(|i| ResellerId::from(format!("a{i}")))
            .collect();
        let id_of = |x: Handle| Some(&*ids[x.get() as usize]);
        let mut m = AddedIds::default();
        let mut want = std::collections::HashMap::new();
        for (i, id) in ids.iter().enumerate().step_by(2) {
            let x = Handle::new(i as u32);
            m.insert(id, x);
            want.insert(id.clone(), x);
        }
        // Collisions: the same hash taken by another id, forced.
        for (i, id) in ids.iter().enumerate().skip(1).step_by(2).take(50) {
            let x = Handle::new(i as u32);
            m.collided.insert(id.clone(), x);
            want.insert(id.clone(), x);
        }
        for (i, id) in ids.iter().enumerate() {
            if i % 7 == 0 {
                if let Some(x) = want.remove(id) {
                    m.remove(id, x);
                }
            }
        }
        for id in &ids {
            assert_eq!(m.get(id, id_of), want.get(id).copied(), "{id:?}");
        }
        assert_eq!(m.len(), want.len());
        let mut got: Vec<Handle> = m.handles().collect();
        let mut all: Vec<Handle> = want.values().copied().collect();
        got.sort_by_key(|x| x.get());
        all.sort_by_key(|x| x.get());
        assert_eq!(got, all);
    }

    /// Random adds and removals of 64 ids whose hashes keep 2 bits (so most ids
    /// collide), against a plain map: every lookup agrees after every step.
    #[test]
    fn agrees_with_a_map_when_most_ids_collide() {
        let ids: Vec<ResellerId> = (0..64).map(|i| ResellerId::from(format!("c{i}"))).collect();
        // Handles are never reused: handle `k` is the `k`-th add, of id `owner[k]`.
        let mut owner: Vec<usize> = Vec::new();
        let mut m = AddedIds {
            hash_bits: Some(0b11),
            ..AddedIds::default()
        };
        let mut want: std::collections::HashMap<usize, Handle> = Default::default();
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..5_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let i = (state >> 33) as usize % ids.len();
            match want.get(&i) {
                Some(&x) => {
                    m.remove(&ids[i], x);
                    want.remove(&i);
                }
                None => {
                    let x = Handle::new(owner.len() as u32);
                    owner.push(i);
                    m.insert(&ids[i], x);
                    want.insert(i, x);
                }
            }
            let id_of = |x: Handle| Some(&*ids[owner[x.get() as usize]]);
            for (j, id) in ids.iter().enumerate() {
                assert_eq!(m.get(id, id_of), want.get(&j).copied(), "{id:?}");
            }
            assert_eq!(m.len(), want.len());
        }
        assert!(!m.collided.is_empty() || want.len() <= 4);
    }

    /// An id whose hash's slot holds another id is found through `collided`, and
    /// removing either leaves the other.
    #[test]
    fn an_id_whose_hash_is_taken_is_still_found() {
        let ids = [ResellerId::from("x"), ResellerId::from("y")];
        let id_of = |x: Handle| Some(&*ids[x.get() as usize]);
        let (x, y) = (Handle::new(0), Handle::new(1));
        let mut m = AddedIds::default();
        m.insert(&ids[0], x);
        // As if "y" hashed as "x" does: the slot of its hash holds "x", and "y" is in
        // `collided`.
        let h = m.hash(&ids[1]);
        m.by_hash.insert(h, x);
        m.collided.insert(ids[1].clone(), y);
        assert_eq!(m.get(&ids[0], id_of), Some(x));
        assert_eq!(m.get(&ids[1], id_of), Some(y));
        m.remove(&ids[1], y);
        assert_eq!(m.get(&ids[1], id_of), None);
        assert_eq!(m.get(&ids[0], id_of), Some(x));
        m.collided.insert(ids[1].clone(), y);
        m.remove(&ids[0], x);
        assert_eq!(m.get(&ids[0], id_of), None);
        assert_eq!(m.get(&ids[1], id_of), Some(y));
        // Nothing left by hash, one id in `collided`: still found.
        m.by_hash.remove(&h);
        assert!(m.by_hash.is_empty());
        assert_eq!(m.get(&ids[1], id_of), Some(y));
        assert_eq!(m.len(), 1);
    }
}
