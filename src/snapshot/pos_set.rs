//! [`PosSet`]: a persistent set of base positions, a bit each.
//!
//! # How
//!
//! Bit `p % 64` of word `p / 64` of a [`PersistentArray`] of `u64` words, one per 64
//! base positions, with the number of members beside. A lookup is a walk down the
//! radix array (shifts and masks, one pointer a level) and one bit test, where a
//! persistent hash set hashes, then follows its own trie and compares keys; an insert
//! copies one path (a leaf of 64 words, 16-way inner nodes) the first time a version
//! writes it. An empty set is inner nodes over placeholder leaves of zeros (about
//! 13 KB at a million positions); each block of 4,096 positions written gets a leaf
//! of its own (512 bytes), so the words take at most `n / 8` bytes, shared by every
//! version that did not change them.

use super::numbering::Pos;
use super::persistent_array::PersistentArray;

/// A set of base positions, copied in `O(1)` and changed along one path (see the
/// module docs).
#[derive(Clone, Debug, Default)]
pub(crate) struct PosSet {
    words: PersistentArray<u64>,
    len: usize,
}

impl PosSet {
    /// The empty set over positions `0..n`.
    pub(crate) fn new(n: u32) -> PosSet {
        PosSet {
            words: PersistentArray::filled((n as usize).div_ceil(64)),
            len: 0,
        }
    }

    /// Whether `p` is a member (`false` past the positions the set was made for).
    #[inline]
    pub(crate) fn contains(&self, p: Pos) -> bool {
        bit(self.word(p.idx() / 64), p)
    }

    /// A reader for lookups of mostly consecutive positions: it keeps the last word
    /// it read, so a walk over positions in order reads one word per 64 of them.
    pub(crate) fn scan(&self) -> Scan<'_> {
        Scan {
            set: self,
            at: usize::MAX,
            word: 0,
        }
    }

    /// The members among positions `64 * i .. 64 * i + 64` (0 past the positions the
    /// set was made for).
    #[inline]
    fn word(&self, i: usize) -> u64 {
        self.words.get(i).unwrap_or(0)
    }

    /// Adds `p`, one of the positions the set was made for.
    pub(crate) fn insert(&mut self, p: Pos) {
        let i = p.idx() / 64;
        // Past the words, `set` would write nothing and `len` would still count it.
        debug_assert!(i < self.words.len(), "position {} past the set", p.get());
        let word = self.word(i);
        if !bit(word, p) {
            self.words.set(i, word | 1 << (p.get() % 64));
            self.len += 1;
        }
    }

    /// Number of members.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes of the words (shared ones included): the inner nodes over them all, and a
    /// 512-byte leaf per block of 4,096 positions written, at most one per member.
    pub(crate) fn heap_bytes(&self) -> usize {
        let leaves = self.words.len().div_ceil(64);
        self.words.inner_bytes() + self.len.min(leaves) * 64 * 8
    }
}

/// Whether `p`'s bit is set in `word`, the word of its block of 64.
#[inline]
fn bit(word: u64, p: Pos) -> bool {
    word & (1 << (p.get() % 64)) != 0
}

/// Lookups in a [`PosSet`] through the last word read: see [`PosSet::scan`].
pub(crate) struct Scan<'a> {
    set: &'a PosSet,
    /// The index of `word`; `usize::MAX` before the first lookup.
    at: usize,
    word: u64,
}

impl Scan<'_> {
    /// Whether `p` is a member.
    #[inline]
    pub(crate) fn contains(&mut self, p: Pos) -> bool {
        let i = p.idx() / 64;
        if i != self.at {
            (self.at, self.word) = (i, self.set.word(i));
        }
        bit(self.word, p)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Against a `BTreeSet`, with a copy taken halfway that must not see later inserts.
    #[test]
    fn members_as_a_btree_set_and_copies_apart() {
        let n = 10_000u32;
        let mut set = PosSet::new(n);
        let mut model = BTreeSet::new();
        let mut copy = None;
        // 12,000 inserts over 10,000 positions: some land on members already there.
        for k in 0..12_000u32 {
            let p = (k * 7_919 + k / 3) % n;
            set.insert(Pos::new(p));
            model.insert(p);
            assert_eq!(set.len(), model.len(), "after inserting {p}");
            if k == 6_000 {
                copy = Some((set.clone(), model.clone()));
            }
        }
        let check = |set: &PosSet, model: &BTreeSet<u32>| {
            assert_eq!(set.len(), model.len());
            let mut scan = set.scan();
            for p in 0..n + 70 {
                assert_eq!(set.contains(Pos::new(p)), model.contains(&p), "{p}");
                assert_eq!(scan.contains(Pos::new(p)), model.contains(&p), "scan {p}");
            }
            // Out of order too: back and forth between blocks.
            for p in (0..n).rev().step_by(37) {
                assert_eq!(scan.contains(Pos::new(p)), model.contains(&p), "back {p}");
            }
        };
        check(&set, &model);
        let (copy, then) = copy.unwrap();
        check(&copy, &then);
    }
}
