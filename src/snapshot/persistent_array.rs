//! [`PersistentArray`]: a growable array of small `Copy` values with structural sharing,
//! for the tables a changed version keeps by number (the piece tree's parent table, its
//! free ids, the words of a `PosSet`: which base resellers were removed or updated).
//!
//! # How
//!
//! A radix tree: leaves hold [`LEAF`] (256) values, inner nodes [`INNER`] (32) children,
//! all behind `Arc`. Element `i` is found by its index's digits from the root down (8
//! bits for the leaf, 5 for each inner level), one pointer per level (4 levels reach
//! 8,388,608 values): an inner node's children are an array inside its own allocation
//! (children past the length are placeholders), not a `Vec` behind it, which would be
//! a second pointer per level to follow — the walk up the piece tree's parent table
//! and a page's check of updated resellers are chains of these lookups. A change
//! copies the leaf and the inner nodes on its path when another version still holds
//! them (`Arc::make_mut`) and changes them in place otherwise, so a version's first
//! change to a path costs a copy of about 2 KB and later ones nothing. Cloning the
//! array clones one `Arc`. `imbl::Vector` does the same with relaxed (RRB) nodes,
//! whose size tables a table written by index never needs; this one reads and writes
//! with shifts and masks only.
//!
//! **Why wide leaves and narrow inner nodes.** Copying an inner node clones the `Arc`
//! of each of its children, and dropping the version that held the old copy releases
//! them again: an atomic write to each child's own cache line, where copying a leaf
//! is one `memcpy`. With the 64-way nodes this array had first, the first write to a
//! path of the piece tree's parent table (some 200,000 ids after 100,000 mutations:
//! two inner levels) touched 128 reference counts, and profiles of the stream put a
//! fifth of the writer's time under these writes. With 256-value leaves and 32-way
//! inner nodes that table still has two inner levels, and a path's copy touches 64
//! counts and copies a 1 KB leaf: the stream's p50 1.10–1.15× faster, a batch
//! unchanged, at a million resellers (ARCHITECTURE.md, *Versions*).

use std::sync::Arc;

const LEAF_BITS: u32 = 8;
/// Values per leaf.
pub(crate) const LEAF: usize = 1 << LEAF_BITS;
const LEAF_MASK: usize = LEAF - 1;
const INNER_BITS: u32 = 5;
/// Children per inner node.
pub(crate) const INNER: usize = 1 << INNER_BITS;
const INNER_MASK: usize = INNER - 1;

/// How far an index is shifted for the digit of a node `height` levels above the
/// leaves (meaningless for `height == 0`, a leaf).
#[inline]
const fn shift(height: u32) -> u32 {
    LEAF_BITS.wrapping_add(INNER_BITS.wrapping_mul(height.wrapping_sub(1)))
}

/// A node. An inner node's children sit inside its `Arc` allocation, so that each level
/// of a lookup is one pointer to follow; children past the array's length are
/// placeholders (a leaf of default values), never read.
#[derive(Clone, Debug)]
enum Node<T: Copy> {
    Leaf(Arc<[T; LEAF]>),
    Inner(Arc<[Node<T>; INNER]>),
}

impl<T: Copy + Default> Node<T> {
    /// An inner node of placeholders.
    fn inner() -> Node<T> {
        let empty = Arc::new([T::default(); LEAF]);
        Node::Inner(Arc::new(std::array::from_fn(|_| Node::Leaf(empty.clone()))))
    }
}

/// A growable persistent array: see the module docs.
#[derive(Clone, Debug)]
pub(crate) struct PersistentArray<T: Copy + Default> {
    root: Node<T>,
    /// Levels above the leaves.
    height: u32,
    len: usize,
}

impl<T: Copy + Default> Default for PersistentArray<T> {
    fn default() -> Self {
        PersistentArray {
            root: Node::Leaf(Arc::new([T::default(); LEAF])),
            height: 0,
            len: 0,
        }
    }
}

impl<T: Copy + Default> PersistentArray<T> {
    /// An array of `len` default values.
    pub(crate) fn filled(len: usize) -> Self {
        let mut a = PersistentArray::default();
        a.resize(len);
        a
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Value `i`, if `i < len`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<T> {
        if i >= self.len {
            return None;
        }
        let mut node = &self.root;
        // The shift of the root's digit (unused when the root is a leaf).
        let mut shift = shift(self.height);
        loop {
            match node {
                Node::Leaf(values) => return Some(values[i & LEAF_MASK]),
                Node::Inner(children) => {
                    node = &children[(i >> shift) & INNER_MASK];
                    shift = shift.wrapping_sub(INNER_BITS);
                }
            }
        }
    }

    /// Sets value `i < len`; nothing for `i >= len`.
    pub(crate) fn set(&mut self, i: usize, value: T) {
        if i >= self.len {
            return;
        }
        let mut node = &mut self.root;
        let mut height = self.height;
        loop {
            match node {
                Node::Leaf(values) => {
                    Arc::make_mut(values)[i & LEAF_MASK] = value;
                    return;
                }
                Node::Inner(children) => {
                    node = &mut Arc::make_mut(children)[(i >> shift(height)) & INNER_MASK];
                    height -= 1;
                }
            }
        }
    }

    /// Appends a value.
    pub(crate) fn push(&mut self, value: T) {
        self.resize(self.len + 1);
        self.set(self.len - 1, value);
    }

    /// Removes and returns the last value.
    pub(crate) fn pop(&mut self) -> Option<T> {
        let last = self.get(self.len.checked_sub(1)?)?;
        self.len -= 1;
        Some(last)
    }

    /// Grows to `len` values (new ones default); never shrinks.
    fn resize(&mut self, len: usize) {
        while len > LEAF << (INNER_BITS * self.height) {
            let mut root = Node::inner();
            let Node::Inner(children) = &mut root else {
                unreachable!("Node::inner is inner")
            };
            Arc::make_mut(children)[0] = std::mem::replace(&mut self.root, Node::inner());
            self.root = root;
            self.height += 1;
        }
        if len > self.len {
            // Make sure every leaf up to `len` exists.
            let mut i = self.len.next_multiple_of(LEAF).max(LEAF);
            while i < len {
                Self::ensure(&mut self.root, self.height, i);
                i += LEAF;
            }
            self.len = len;
        }
    }

    /// Creates the inner nodes down to the leaf of value `i` (`node` is `height` levels
    /// above the leaves; a placeholder is already a leaf of default values).
    fn ensure(node: &mut Node<T>, height: u32, i: usize) {
        if height < 2 {
            return;
        }
        let Node::Inner(children) = node else { return };
        let digit = (i >> shift(height)) & INNER_MASK;
        let child = &mut Arc::make_mut(children)[digit];
        if matches!(child, Node::Leaf(_)) {
            *child = Node::inner();
        }
        Self::ensure(child, height - 1, i);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn matches_a_vector(ops in prop::collection::vec((0u8..4, any::<u32>(), any::<u32>()), 1..3000)) {
            let mut a: PersistentArray<u32> = PersistentArray::default();
            let mut v: Vec<u32> = Vec::new();
            let mut kept = Vec::new();
            for (op, i, x) in ops {
                match op {
                    0 | 1 => {
                        a.push(x);
                        v.push(x);
                    }
                    2 if !v.is_empty() => {
                        let i = i as usize % v.len();
                        a.set(i, x);
                        v[i] = x;
                    }
                    _ => {
                        prop_assert_eq!(a.pop(), v.pop());
                    }
                }
                if x % 97 == 0 {
                    kept.push((a.clone(), v.clone()));
                }
                prop_assert_eq!(a.len(), v.len());
            }
            for (a, v) in kept.iter().chain([(a.clone(), v.clone())].iter()) {
                for (i, x) in v.iter().enumerate() {
                    prop_assert_eq!(a.get(i), Some(*x));
                }
                prop_assert_eq!(a.get(v.len()), None);
            }
        }

        #[test]
        fn filled_is_default(n in 0usize..20_000) {
            let a: PersistentArray<u64> = PersistentArray::filled(n);
            prop_assert_eq!(a.len(), n);
            prop_assert_eq!(a.get(n.saturating_sub(1)), (n > 0).then_some(0));
            prop_assert_eq!(a.get(n), None);
        }
    }

    /// Past the sizes the vector test reaches: three inner levels, writes and
    /// pops on copies taken at every height.
    #[test]
    fn three_inner_levels_match_a_vector() {
        let seed = 0x9E37_79B9_7F4A_7C15u64;
        let n = LEAF * INNER * INNER + 1_000;
        let mut a: PersistentArray<u32> = PersistentArray::default();
        let mut v: Vec<u32> = Vec::new();
        let mut kept = Vec::new();
        for i in 0..n as u32 {
            a.push(i);
            v.push(i);
            if [LEAF, LEAF * INNER, LEAF * INNER * INNER].contains(&v.len()) {
                kept.push((a.clone(), v.clone()));
            }
        }
        let mut x = seed | 1;
        for _ in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % v.len() as u64) as usize;
            a.set(i, x as u32);
            v[i] = x as u32;
        }
        for _ in 0..2_000 {
            assert_eq!(a.pop(), v.pop());
        }
        for (a, v) in kept.iter().chain([(a, v)].iter()) {
            assert_eq!(a.len(), v.len());
            for (i, x) in v.iter().enumerate() {
                assert_eq!(a.get(i), Some(*x));
            }
            assert_eq!(a.get(v.len()), None);
        }
    }
}
