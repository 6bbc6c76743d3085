//! [`Arena`]: an append-only arena of fixed-size segments that several threads may push
//! into and read from, reads without locks, where a push allocates at most one segment.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Bits of an index that pick a slot in its segment.
const SEGMENT_BITS: u32 = 8;
/// Slots in a segment.
const SEGMENT: usize = 1 << SEGMENT_BITS;
/// Bits of an index that pick a segment in its directory.
const DIRECTORY_BITS: u32 = 13;
/// Segments in a directory.
const DIRECTORY: usize = 1 << DIRECTORY_BITS;
/// Directories: enough for every `u32` index.
const DIRECTORIES: usize = 1 << (32 - SEGMENT_BITS - DIRECTORY_BITS);

type Segment<T> = Box<[OnceLock<T>; SEGMENT]>;
type Directory<T> = Box<[OnceLock<Segment<T>>; DIRECTORY]>;

/// Values pushed once and never moved, each at the index its push returned.
///
/// **How.** Three levels of fixed size: a table of [`DIRECTORIES`] directories, each
/// of [`DIRECTORY`] segments, each of [`SEGMENT`] slots (`std::sync::OnceLock`s, set
/// once). A push takes the next index from an atomic counter, so concurrent pushes
/// get distinct indices, then sets that slot, allocating its segment (and, once per
/// two million values, its directory) if it is the first to reach it. So a push
/// allocates at most one segment of [`SEGMENT`] slots (and rarely a directory of
/// [`DIRECTORY`] pointers), however long the arena is,
/// where a vector that doubles (or an arena of buckets that double, as
/// `boxcar::Vec`, which zeroes each new bucket whole when a push reaches seven
/// eighths of the one before) makes one push in so many
/// pay for a copy or a clearing of everything so far (2.4–3.0 ms at 61,408 records,
/// measured by `perf_report -- growth`), and each such push comes later and costs
/// more the longer a base goes without a fold. A read is three indexed
/// loads, each checking that its slot is set, and takes no lock; a push that reaches
/// a segment (or directory) that another push is allocating waits for it. A value is
/// visible to a thread once the push that set it happened before (a slot's set
/// releases, its read acquires). An arena starts with its table of directories (32 KB)
/// and its first push allocates a directory (128 KB): one new base's first change.
pub(crate) struct Arena<T> {
    /// Indices handed out so far (some possibly not set yet by a concurrent push).
    reserved: AtomicU64,
    /// The most values this arena takes.
    limit: u64,
    directories: Box<[OnceLock<Directory<T>>]>,
}

impl<T> Arena<T> {
    /// An empty arena that takes up to `u32::MAX` values (indices `0..u32::MAX`).
    pub(crate) fn new() -> Arena<T> {
        Arena::with_limit(u32::MAX)
    }

    /// An empty arena that takes up to `limit` values.
    fn with_limit(limit: u32) -> Arena<T> {
        Arena {
            reserved: AtomicU64::new(0),
            limit: u64::from(limit),
            directories: slots(DIRECTORIES).into_boxed_slice(),
        }
    }

    /// Appends `value` and returns its index; `None`, and nothing appended, when the
    /// arena already holds as many values as it takes.
    pub(crate) fn push(&self, value: T) -> Option<u32> {
        let at = self.reserved.fetch_add(1, Ordering::Relaxed);
        if at >= self.limit {
            return None;
        }
        let i = usize::try_from(at).ok()?;
        let directory = self.directories[i >> (SEGMENT_BITS + DIRECTORY_BITS)]
            .get_or_init(|| fixed(slots(DIRECTORY)));
        let segment =
            directory[(i >> SEGMENT_BITS) & (DIRECTORY - 1)].get_or_init(|| fixed(slots(SEGMENT)));
        // The index is this push's alone, so the slot is empty.
        let set = segment[i & (SEGMENT - 1)].set(value);
        debug_assert!(set.is_ok(), "index {i} handed out twice");
        u32::try_from(at).ok()
    }

    /// The value at index `i`, if a push returned `i` (and happened before this read).
    #[inline]
    pub(crate) fn get(&self, i: u32) -> Option<&T> {
        let i = i as usize;
        let directory = self
            .directories
            .get(i >> (SEGMENT_BITS + DIRECTORY_BITS))?
            .get()?;
        let segment = directory[(i >> SEGMENT_BITS) & (DIRECTORY - 1)].get()?;
        segment[i & (SEGMENT - 1)].get()
    }

    /// How many values were pushed (or are being pushed by another thread).
    pub(crate) fn len(&self) -> usize {
        let reserved = self.reserved.load(Ordering::Relaxed).min(self.limit);
        usize::try_from(reserved).unwrap_or(usize::MAX)
    }

    /// Bytes of the segments and directories allocated (the values' own allocations
    /// not included).
    pub(crate) fn heap_bytes(&self) -> usize {
        let segments = self.len().div_ceil(SEGMENT);
        let directories = segments.div_ceil(DIRECTORY);
        DIRECTORIES * std::mem::size_of::<OnceLock<Directory<T>>>()
            + directories * DIRECTORY * std::mem::size_of::<OnceLock<Segment<T>>>()
            + segments * SEGMENT * std::mem::size_of::<OnceLock<T>>()
    }
}

impl<T> Default for Arena<T> {
    fn default() -> Arena<T> {
        Arena::new()
    }
}

/// `n` empty slots.
fn slots<U>(n: usize) -> Vec<OnceLock<U>> {
    std::iter::repeat_with(OnceLock::new).take(n).collect()
}

/// `slots` as a boxed array, built on the heap (a segment is too large for a stack).
fn fixed<U, const N: usize>(slots: Vec<OnceLock<U>>) -> Box<[OnceLock<U>; N]> {
    match slots.into_boxed_slice().try_into() {
        Ok(array) => array,
        // Every caller passes `N` slots.
        Err(_) => unreachable!("a segment or directory of the wrong length"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn values_stay_where_they_were_pushed_across_segments() {
        let arena = Arena::new();
        let n = 3 * SEGMENT + 17;
        for v in 0..n {
            assert_eq!(arena.push(v * 7), u32::try_from(v).ok());
        }
        assert_eq!(arena.len(), n);
        for v in 0..n {
            assert_eq!(arena.get(v as u32), Some(&(v * 7)));
        }
        // Past the end, in an allocated segment and in none.
        assert_eq!(arena.get(n as u32), None);
        assert_eq!(arena.get((8 * SEGMENT) as u32), None);
        assert_eq!(arena.get(u32::MAX), None);
    }

    #[test]
    fn a_full_arena_refuses_and_keeps_what_it_holds() {
        let arena = Arena::with_limit(3);
        assert_eq!(arena.push("a"), Some(0));
        assert_eq!(arena.push("b"), Some(1));
        assert_eq!(arena.push("c"), Some(2));
        assert_eq!(arena.push("d"), None);
        assert_eq!(arena.push("e"), None);
        assert_eq!(arena.len(), 3);
        assert_eq!(arena.get(2), Some(&"c"));
        assert_eq!(arena.get(3), None);
    }

    #[test]
    fn concurrent_pushes_get_distinct_indices() {
        let arena = Arc::new(Arena::new());
        let per = 2 * SEGMENT + 5;
        let threads: Vec<_> = (0..4usize)
            .map(|t| {
                let arena = arena.clone();
                std::thread::spawn(move || {
                    (0..per)
                        .map(|k| (arena.push((t, k)).unwrap(), (t, k)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        for t in threads {
            for (at, value) in t.join().unwrap() {
                assert!(seen.insert(at), "index {at} handed out twice");
                assert_eq!(arena.get(at), Some(&value));
            }
        }
        assert_eq!(arena.len(), 4 * per);
    }

    #[test]
    fn the_last_indices_fill_the_last_directory() {
        // The top of the `u32` range, reached by setting the counter: every index up
        // to `u32::MAX - 1` has a slot, and the arena then refuses.
        let arena = Arena::new();
        arena
            .reserved
            .store(u64::from(u32::MAX) - 2, Ordering::Relaxed);
        assert_eq!(arena.push('a'), Some(u32::MAX - 2));
        assert_eq!(arena.push('b'), Some(u32::MAX - 1));
        assert_eq!(arena.push('c'), None);
        assert_eq!(arena.get(u32::MAX - 2), Some(&'a'));
        assert_eq!(arena.get(u32::MAX - 1), Some(&'b'));
        assert_eq!(arena.get(u32::MAX), None);
        assert_eq!(arena.len(), u32::MAX as usize);
    }

    #[test]
    fn indices_cross_into_a_second_directory() {
        // The first index of the second directory, reached without pushing two
        // million values: a directory is only a table, so set the counter.
        let arena = Arena::new();
        let first = (DIRECTORY * SEGMENT) as u64;
        arena.reserved.store(first - 1, Ordering::Relaxed);
        assert_eq!(arena.push(1u8), u32::try_from(first - 1).ok());
        assert_eq!(arena.push(2u8), u32::try_from(first).ok());
        assert_eq!(arena.get((first - 1) as u32), Some(&1));
        assert_eq!(arena.get(first as u32), Some(&2));
        assert_eq!(arena.get(0), None);
    }
}
