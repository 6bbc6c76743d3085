//! [`Ids`]: a base's ids by position, the short ones inline and the long ones back to
//! back in one block.
//!
//! # Layout
//!
//! One 24-byte slot per position. An id that a `CompactString` holds inline (up to 24
//! bytes: object ids, decimal numbers) is that `CompactString`, so reading it touches
//! only its slot, as when the base kept an array of `ResellerId`s. A longer id (a UUID,
//! a prefixed key) is a start and a length into one string that holds every long id of
//! the base back to back: the slot is the same 24 bytes (the enum's tag sits in the
//! `CompactString`'s spare byte) and reading the id is the slot, then its bytes, the two
//! loads a heap-allocated id took. What changes is the allocations: a `ResellerId` of
//! over 24 bytes is an allocation of its own, so a million UUID ids were a million
//! allocations, each freed alone when the base was dropped, by whichever thread dropped
//! it (glibc hands a chunk freed by another thread back to the arena of the thread that
//! allocated it, under that arena's lock). Here a base's ids are two allocations
//! whatever their lengths. [`Ids::get`] lends an id as an [`Id`], which the id table
//! compares against and `Reseller::id` hands out.
//!
//! The build fills the slots in parallel, [`CHUNK`] positions a task, each task
//! gathering its long ids into a string of its own at an offset known beforehand (a
//! first pass sums each task's long bytes), then joins the strings: one copy of the long
//! ids' bytes. Offsets are `u32`: the builder refuses more than `u32::MAX` bytes of ids.

use std::mem::ManuallyDrop;

use compact_str::CompactString;
use rayon::prelude::*;

use super::numbering::Pos;
use crate::id::{Id, ResellerId};

/// Positions per build task.
const CHUNK: usize = 4096;

/// One position's id.
#[derive(Clone, Debug)]
enum Slot {
    /// An id held inline, never one on the heap: so it owns nothing, and dropping it
    /// would be a check that finds nothing to free. `ManuallyDrop` drops that check,
    /// so that dropping the slots frees their one allocation without reading them
    /// (reading a million slots took 5 ms).
    Inline(ManuallyDrop<CompactString>),
    /// `long[start..start + len]`.
    Long { start: u32, len: u32 },
}

/// A base's ids by position (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Ids {
    slots: Vec<Slot>,
    /// The long ids back to back.
    long: Box<str>,
}

/// Whether `id` would be a `Slot::Long`.
fn is_long(id: &ResellerId) -> bool {
    id.compact().is_heap_allocated()
}

impl Ids {
    /// The ids by position, `pre[p]` being the input index of position `p` (see the
    /// module docs). The ids total at most `u32::MAX` bytes (the builder checks).
    pub(crate) fn build(pre: &[u32], ids: &[ResellerId]) -> Ids {
        let long_bytes = |inputs: &[u32]| -> usize {
            inputs
                .iter()
                .map(|&i| &ids[i as usize])
                .filter(|id| is_long(id))
                .map(|id| id.as_str().len())
                .sum()
        };
        let sizes: Vec<usize> = pre.par_chunks(CHUNK).map(long_bytes).collect();
        let starts: Vec<usize> = sizes
            .iter()
            .scan(0, |at, &size| {
                let start = *at;
                *at += size;
                Some(start)
            })
            .collect();
        let mut slots = vec![Slot::Long { start: 0, len: 0 }; pre.len()];
        let texts: Vec<String> = slots
            .par_chunks_mut(CHUNK)
            .zip(pre.par_chunks(CHUNK))
            .zip(starts.par_iter().zip(sizes.par_iter()))
            .map(|((out, inputs), (&start, &size))| {
                let mut text = String::with_capacity(size);
                for (slot, &i) in out.iter_mut().zip(inputs) {
                    let id = &ids[i as usize];
                    *slot = if is_long(id) {
                        let at = start + text.len();
                        text.push_str(id.as_str());
                        Slot::Long {
                            start: at as u32,
                            len: id.as_str().len() as u32,
                        }
                    } else {
                        let inline = id.compact().clone();
                        // `ManuallyDrop` frees nothing: the slot must own nothing.
                        debug_assert!(!inline.is_heap_allocated());
                        Slot::Inline(ManuallyDrop::new(inline))
                    };
                }
                text
            })
            .collect();
        let mut long = String::with_capacity(sizes.iter().sum());
        for text in &texts {
            long.push_str(text);
        }
        Ids {
            slots,
            long: long.into_boxed_str(),
        }
    }

    /// Number of positions.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The id of position `p`, which must be below [`len`](Ids::len).
    #[inline]
    pub(crate) fn get(&self, p: Pos) -> &Id {
        self.id(&self.slots[p.idx()])
    }

    /// The id a slot holds.
    #[inline]
    fn id<'a>(&'a self, slot: &'a Slot) -> &'a Id {
        match slot {
            Slot::Inline(s) => Id::new(s.as_str()),
            &Slot::Long { start, len } => self.long_id(start, len),
        }
    }

    /// The long id at `start`, `len` bytes; cold, so that the inline path of a page's
    /// loop stays short (out of line as well, it cost long ids 10–17% on pages).
    #[cold]
    #[inline]
    fn long_id(&self, start: u32, len: u32) -> &Id {
        let start = start as usize;
        let id = self.long.get(start..start + len as usize);
        // Slots of long ids are those of whole ids, so the slice always is one.
        debug_assert!(id.is_some(), "long id slot {start}+{len} is no id");
        Id::new(id.unwrap_or(""))
    }

    /// The ids in position order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Id> + '_ {
        self.slots.iter().map(|s| self.id(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_as_wide_as_a_reseller_id_and_has_nothing_to_drop() {
        assert_eq!(
            std::mem::size_of::<Slot>(),
            std::mem::size_of::<ResellerId>()
        );
        assert!(!std::mem::needs_drop::<Slot>());
    }

    /// Ids of up to 24 bytes inline, longer ones in the shared string, none of the
    /// inline ones on the heap.
    #[test]
    fn short_ids_inline_long_ones_shared() {
        let ids: Vec<ResellerId> = (1..=40).map(|len| "x".repeat(len).into()).collect();
        let pre: Vec<u32> = (0..ids.len() as u32).collect();
        let column = Ids::build(&pre, &ids);
        for (slot, id) in column.slots.iter().zip(&ids) {
            match slot {
                Slot::Inline(s) => {
                    assert!(id.as_str().len() <= 24);
                    assert!(!s.is_heap_allocated());
                }
                Slot::Long { .. } => assert!(id.as_str().len() > 24),
            }
        }
        assert_eq!(column.long.len(), (25..=40).sum::<usize>());
    }

    /// Ids of 4 to 104 bytes (inline and not, multibyte included),
    /// gathered along a permutation over several chunks, read back against the input.
    #[test]
    fn every_position_reads_back_its_input_id() {
        let n = 3 * CHUNK + 17;
        let ids: Vec<ResellerId> = (0..n)
            .map(|i| {
                let stem = format!("{i}-ø");
                ResellerId::from(stem.repeat(1 + i % 13))
            })
            .collect();
        // A permutation that is not the identity: a stride coprime with n.
        let pre: Vec<u32> = (0..n).map(|p| ((p * 7919) % n) as u32).collect();
        let column = Ids::build(&pre, &ids);
        assert_eq!(column.len(), n);
        for (p, &i) in pre.iter().enumerate() {
            assert_eq!(column.get(Pos::at(p)), &ids[i as usize], "position {p}");
        }
        let listed: Vec<&Id> = column.iter().collect();
        assert_eq!(listed.len(), n);
        for (p, id) in listed.into_iter().enumerate() {
            assert_eq!(id, &ids[pre[p] as usize]);
        }
    }

    #[test]
    fn an_empty_column_lists_nothing() {
        let column = Ids::build(&[], &[]);
        assert_eq!(column.len(), 0);
        assert_eq!(column.iter().count(), 0);
    }
}
