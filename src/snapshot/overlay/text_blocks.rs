//! [`TextBlocks`]: the names, attributes texts and long ids of a version's changed
//! records, back to back in a few large blocks instead of an allocation each.
//!
//! # How
//!
//! Texts are appended to an *open* block of [`BLOCK`] bytes; a [`Text`] is where one
//! sits (block number, start, length). A text that does not fit closes the open block,
//! which joins the *full* ones (a persistent vector of `Arc`s, never written again) and
//! is shared from then on by every later version; a text of a block's size or more
//! gets a full block of its own.
//!
//! Versions are persistent: a version's blocks are the ones it was made from plus what
//! its own changes appended. The open block is an `Arc` too, shared with the version it
//! was made from until the first append, which copies it (at most `BLOCK` bytes, into
//! one allocation of `BLOCK`) unless no other version holds it, in which case it grows
//! in place, as within one batch. So a version only ever reads texts its own line of
//! versions wrote, whatever other versions were made from the same one (such as the
//! changes of a batch that was then refused).
//!
//! Dropping a version frees the blocks no other version holds: its open block, and
//! the full ones that only its own changes closed (those of a refused batch, or of the
//! last version of a line). The rest go with the last version that holds them, a few
//! hundred large allocations for a million changed records rather than millions of
//! small ones (see issue 10's item 2, and ARCHITECTURE.md, *Versions*).

use std::sync::Arc;

/// The bytes an open block takes before it is full.
pub(crate) const BLOCK: usize = 4096;

/// Where a text sits in a [`TextBlocks`]: meaningful only to the blocks of the version
/// that appended it and of the versions made from that one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Text {
    block: u32,
    start: u32,
    len: u32,
}

impl Text {
    /// The empty text, which no block holds.
    pub(crate) const EMPTY: Text = Text {
        block: 0,
        start: 0,
        len: 0,
    };
}

/// The texts of one version's changed records (see the module docs).
#[derive(Clone, Debug, Default)]
pub(crate) struct TextBlocks {
    /// Blocks no text is appended to any more, number `i` at `i`.
    full: imbl::Vector<Arc<String>>,
    /// The block texts are appended to, number `full.len()`.
    open: Arc<String>,
    /// Bytes allocated for `full` (their capacity).
    full_bytes: usize,
}

impl TextBlocks {
    /// Appends `s`; `None` when it is over `u32::MAX` bytes long or `u32::MAX` blocks
    /// are full.
    pub(crate) fn push(&mut self, s: &str) -> Option<Text> {
        if s.is_empty() {
            return Some(Text::EMPTY);
        }
        let len = u32::try_from(s.len()).ok()?;
        if self.open.len() + s.len() > BLOCK {
            self.close();
        }
        if s.len() >= BLOCK {
            // A block of its own, full at once: the open one, empty now, keeps its
            // place after it.
            let block = u32::try_from(self.full.len()).ok()?;
            self.full_bytes += s.len();
            self.full.push_back(Arc::new(s.to_owned()));
            return Some(Text {
                block,
                start: 0,
                len,
            });
        }
        let block = u32::try_from(self.full.len()).ok()?;
        if Arc::get_mut(&mut self.open).is_none_or(|open| open.capacity() == 0) {
            // Held by another version too (or not allocated yet): a copy into one
            // allocation of a block, which this version's appends fill.
            let mut copy = String::with_capacity(BLOCK);
            copy.push_str(&self.open);
            self.open = Arc::new(copy);
        }
        // Held by this version alone now: no copy.
        let open = Arc::make_mut(&mut self.open);
        let start = u32::try_from(open.len()).ok()?;
        open.push_str(s);
        Some(Text { block, start, len })
    }

    /// Closes the open block (if it holds anything) and starts an empty one.
    fn close(&mut self) {
        if self.open.is_empty() {
            return;
        }
        let full = std::mem::take(&mut self.open);
        self.full_bytes += full.capacity();
        self.full.push_back(full);
    }

    /// The text at `t`, which this version or one it was made from appended.
    #[inline]
    pub(crate) fn get(&self, t: Text) -> &str {
        if t.len == 0 {
            return "";
        }
        let block = match self.full.get(t.block as usize) {
            Some(full) => full.as_str(),
            None => self.open.as_str(),
        };
        let (start, end) = (t.start as usize, t.start as usize + t.len as usize);
        let text = block.get(start..end);
        debug_assert!(text.is_some(), "{t:?} is not a text of these blocks");
        text.unwrap_or_default()
    }

    /// Bytes allocated for the blocks: the full ones and the open one.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.full_bytes + self.open.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `i`-th text: lengths from 0 to well over a block.
    fn text(i: usize) -> String {
        let len = match i % 7 {
            0 => 0,
            1 => BLOCK + i % 13,
            2 => BLOCK - 1,
            _ => i % 200,
        };
        (0..len)
            .map(|k| char::from(b'a' + ((i + k) % 26) as u8))
            .collect()
    }

    /// Every text reads back as it was pushed, in the version that pushed it and in
    /// every later one; a copy taken earlier, and a second line of versions made from
    /// it, read their own texts, never the other line's.
    #[test]
    fn texts_read_back_in_every_version_of_their_line() {
        let mut line = TextBlocks::default();
        let mut pushed: Vec<(Text, String)> = Vec::new();
        let mut copies: Vec<(TextBlocks, usize)> = Vec::new();
        for i in 0..2_000 {
            let s = text(i);
            let t = line.push(&s).unwrap();
            pushed.push((t, s));
            if i % 37 == 0 {
                copies.push((line.clone(), pushed.len()));
            }
        }
        for (t, s) in &pushed {
            assert_eq!(line.get(*t), s);
        }
        // A second line from each copy: its own texts, and the copy's earlier ones.
        for (k, (copy, upto)) in copies.iter().enumerate() {
            let mut other = copy.clone();
            // Texts of every length, so that the second line closes the block it
            // shares with the first and pushes long ones of its own.
            let own: Vec<(Text, String)> = (0..50)
                .map(|j| {
                    let s = format!("other {k} {j} {}", text(j + k));
                    (other.push(&s).unwrap(), s)
                })
                .collect();
            for (t, s) in &pushed[..*upto] {
                assert_eq!(copy.get(*t), s);
                assert_eq!(other.get(*t), s);
            }
            for (t, s) in &own {
                assert_eq!(other.get(*t), s);
            }
        }
        // The first line is untouched by the others.
        for (t, s) in &pushed {
            assert_eq!(line.get(*t), s);
        }
    }
}
