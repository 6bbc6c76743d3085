//! [`PersistentArray`]: a growable array of small `Copy` values with structural sharing,
//! for the tables a changed version keeps by number (the piece tree's parent table, its
//! free ids, the words of a `PosSet`: which base resellers were removed or updated).
//!
//! # How
//!
//! A radix tree: leaves hold 64 values, inner nodes 16 children, all behind `Arc`.
//! Element `i` is found by its index's low 6 bits in its leaf and 4-bit digits above
//! them from the root down, one pointer per level (three inner levels reach 262,144
//! values, four 4,194,304): an inner node's children
//! are an array inside its own allocation (children past the length are placeholders),
//! not a `Vec` behind it, which would be a second pointer per level to follow — the
//! walk up the piece tree's parent table and a page's check of updated resellers are
//! chains of these lookups. A change copies the leaf
//! and the inner nodes on its path when another version still holds them
//! (`Arc::make_mut`) and changes them in place otherwise, so a version's first change
//! to a path costs a leaf (256 bytes of `u32`s) and 256 bytes per inner level, and later ones
//! nothing. Inner nodes are narrower than leaves because copying one clones every
//! child `Arc` (an atomic increment on the child's own cache line, and a decrement
//! when the replaced version goes): for the piece tree's parent table at a million
//! resellers (about 150,000 ids), 16 children make a path's copy touch 48 counts at
//! three levels where 64 made it touch 128 at two, for up to one more pointer to
//! follow per lookup (the stream's p50 0.87×, queries of a changed version within
//! 1.10×; see ARCHITECTURE.md). Cloning the array
//! clones one `Arc`. `imbl::Vector` does the same with relaxed (RRB) nodes, whose
//! size tables a table written by index never needs; this one reads and writes with
//! shifts and masks only.

use std::sync::Arc;

/// Values in a leaf.
const LEAF_BITS: u32 = 6;
const LEAF_FAN: usize = 1 << LEAF_BITS;
const LEAF_MASK: usize = LEAF_FAN - 1;
/// Children of an inner node.
const INNER_BITS: u32 = 4;
const INNER_FAN: usize = 1 << INNER_BITS;
const INNER_MASK: usize = INNER_FAN - 1;

/// A node. An inner node's children sit inside its `Arc` allocation, so that each level
/// of a lookup is one pointer to follow; children past the array's length are
/// placeholders (a leaf of default values), never read.
#[derive(Clone, Debug)]
enum Node<T: Copy> {
    Leaf(Arc<[T; LEAF_FAN]>),
    Inner(Arc<[Node<T>; INNER_FAN]>),
}

impl<T: Copy + Default> Node<T> {
    /// An inner node of placeholders.
    fn inner() -> Node<T> {
        let empty = Arc::new([T::default(); LEAF_FAN]);
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
            root: Node::Leaf(Arc::new([T::default(); LEAF_FAN])),
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
        let mut shift = Self::shift(self.height);
        loop {
            match node {
                Node::Leaf(values) => return Some(values[i & LEAF_MASK]),
                Node::Inner(children) => {
                    node = &children[(i >> shift) & INNER_MASK];
                    shift = shift.saturating_sub(INNER_BITS);
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
        let mut shift = Self::shift(self.height);
        loop {
            match node {
                Node::Leaf(values) => {
                    Arc::make_mut(values)[i & LEAF_MASK] = value;
                    return;
                }
                Node::Inner(children) => {
                    node = &mut Arc::make_mut(children)[(i >> shift) & INNER_MASK];
                    shift = shift.saturating_sub(INNER_BITS);
                }
            }
        }
    }

    /// The shift of the digit that picks a child of the root, `height` levels above the
    /// leaves.
    #[inline]
    fn shift(height: u32) -> u32 {
        LEAF_BITS + INNER_BITS * height.saturating_sub(1)
    }

    /// How many values `height` levels of inner nodes reach.
    fn capacity(height: u32) -> usize {
        LEAF_FAN << (INNER_BITS * height)
    }

    /// Bytes of the inner nodes over the values, each with the placeholder leaf it was
    /// made with (shared nodes included): for estimates of a table's size.
    pub(crate) fn inner_bytes(&self) -> usize {
        let node = INNER_FAN * std::mem::size_of::<Node<T>>() + LEAF_FAN * std::mem::size_of::<T>();
        let mut width = self.len.div_ceil(LEAF_FAN);
        let mut nodes = 0;
        for _ in 0..self.height {
            width = width.div_ceil(INNER_FAN);
            nodes += width;
        }
        nodes * node
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
        while len > Self::capacity(self.height) {
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
            let mut i = self.len.next_multiple_of(LEAF_FAN).max(LEAF_FAN);
            while i < len {
                Self::ensure(&mut self.root, self.height, i);
                i += LEAF_FAN;
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
        let digit = (i >> Self::shift(height)) & INNER_MASK;
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

    /// Past the sizes the vector test reaches: four inner levels, writes and pops,
    /// copies taken at each capacity from a lone leaf to three inner levels read back
    /// as they were.
    #[test]
    fn four_inner_levels_match_a_vector() {
        let n = PersistentArray::<u32>::capacity(3) + 1_000;
        let caps: Vec<usize> = (0..4).map(PersistentArray::<u32>::capacity).collect();
        let mut a: PersistentArray<u32> = PersistentArray::default();
        let mut v: Vec<u32> = Vec::new();
        let mut kept = Vec::new();
        for i in 0..n as u32 {
            a.push(i);
            v.push(i);
            if caps.contains(&v.len()) {
                kept.push((a.clone(), v.clone()));
            }
        }
        assert_eq!(kept.len(), 4);
        assert_eq!(a.height, 4);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
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

    /// `filled` grows several levels at once (as `PosSet::new` does), then every leaf
    /// is its own: random writes read back against a vector, and a copy taken before
    /// them reads back as it was.
    #[test]
    fn filled_then_written_matches_a_vector() {
        let n = 300_000;
        let mut a: PersistentArray<u64> = PersistentArray::filled(n);
        assert_eq!(a.height, 4);
        let mut v = vec![0u64; n];
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut before = None;
        for k in 0..20_000 {
            if k == 10_000 {
                before = Some((a.clone(), v.clone()));
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % n as u64) as usize;
            a.set(i, x);
            v[i] = x;
        }
        for (a, v) in [before.unwrap(), (a, v)] {
            for (i, x) in v.iter().enumerate() {
                assert_eq!(a.get(i), Some(*x), "value {i}");
            }
        }
    }
}
