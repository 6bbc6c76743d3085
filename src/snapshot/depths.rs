//! [`Depths`]: a base's depth by position in about one byte a reseller, and the
//! smallest depth among any range of positions, both in `O(1)`.
//!
//! # How
//!
//! Positions are grouped in blocks of [`BLOCK`]. Each block keeps its smallest depth
//! (a `u32`), and each position its depth less that smallest one in a byte. In
//! pre-order a step down the tree adds one to the depth, so a block's depths rise at
//! most 63 above its smallest after it; the byte is short only for positions *before*
//! the block's shallowest that sit 255 levels or more deeper (the end of a long chain
//! followed, in the same block, by a shallow reseller), and holds [`FAR`] then: their
//! depth is read from the level order. So all depths of a forest less than 255 deep,
//! and all of a chain millions deep but its last 63 at most, are one byte and one
//! block minimum away.
//!
//! For ranges, level `k` of a sparse table holds the smallest depth of blocks
//! `b..b + 2^k` for every block `b` (level 0 is the blocks' own minima). The smallest
//! depth of a range is that of its partial first block and its partial last block
//! (each a scan of at most `BLOCK` bytes, which the compiler vectorizes) and of the
//! whole blocks between, which two overlapping entries of the largest `2^k` that fits
//! cover. A partial block whose bytes are all `FAR` only bounds its depths from below
//! (by its block's smallest plus 255); when that bound could be the answer, the range
//! asks the level order ([`Depths::min`] returns `None`). At a million resellers the
//! table takes about 0.8 byte a reseller; a wavelet-matrix quantile, which answered
//! the same question before, reads a cache line per bit of the rank (twenty at a
//! million) and dominated cutting a run in two.

use std::ops::Range;

use super::numbering::Pos;

/// Positions per block.
const BLOCK: usize = 64;

/// The byte of a position 255 levels or more below its block's smallest depth.
pub(crate) const FAR: u8 = u8::MAX;

/// Depths by position and range minima (see the module docs).
#[derive(Clone, Debug, Default)]
pub(crate) struct Depths {
    /// By position: its depth less its block's smallest, or [`FAR`].
    rel: Vec<u8>,
    /// `lows[k][b]`: the smallest depth of blocks `b..b + 2^k`.
    lows: Vec<Vec<u32>>,
}

impl Depths {
    /// The index of `depth` (by position).
    pub(crate) fn build(depth: &[u32]) -> Depths {
        let base: Vec<u32> = depth
            .chunks(BLOCK)
            .map(|c| c.iter().copied().min().unwrap_or(0))
            .collect();
        let rel = depth
            .iter()
            .enumerate()
            .map(|(p, &d)| (d - base[p / BLOCK]).min(u32::from(FAR)) as u8)
            .collect();
        Depths {
            rel,
            lows: Self::levels(base),
        }
    }

    /// The sparse table's levels over the blocks' minima `base`.
    fn levels(base: Vec<u32>) -> Vec<Vec<u32>> {
        let mut levels = vec![base];
        let mut width = 1;
        while 2 * width <= levels[0].len() {
            let last = &levels[levels.len() - 1];
            let next = (0..=last.len() - 1 - width)
                .map(|b| last[b].min(last[b + width]))
                .collect();
            levels.push(next);
            width *= 2;
        }
        levels
    }

    /// The depth of position `p`, `None` when its byte is [`FAR`] (or `p` is past the
    /// end).
    #[inline]
    pub(crate) fn get(&self, p: Pos) -> Option<u32> {
        let r = *self.rel.get(p.idx())?;
        (r < FAR).then(|| self.lows[0][p.idx() / BLOCK] + u32::from(r))
    }

    /// The smallest depth among positions `s..e`, `None` when the range is empty or
    /// only the level order can tell.
    pub(crate) fn min(&self, s: Pos, e: Pos) -> Option<u32> {
        let (s, e) = (s.idx(), e.idx().min(self.rel.len()));
        if s >= e {
            return None;
        }
        // Whole blocks `a..b`, partial ones around them.
        let (a, b) = (s.div_ceil(BLOCK), e / BLOCK);
        let (head, tail) = if a <= b {
            (s..a * BLOCK, b * BLOCK..e)
        } else {
            // `s..e` inside one block.
            (s..e, e..e)
        };
        // The smallest exact depth seen, and the lowest bound of a `FAR` stretch.
        let (mut exact, mut bound) = (u32::MAX, u32::MAX);
        for part in [head, tail] {
            match self.part(part) {
                Some(Ok(d)) => exact = exact.min(d),
                Some(Err(at_least)) => bound = bound.min(at_least),
                None => {}
            }
        }
        if a < b {
            let k = (b - a).ilog2() as usize;
            let level = &self.lows[k];
            exact = exact.min(level[a].min(level[b - (1 << k)]));
        }
        (exact < bound).then_some(exact)
    }

    /// The smallest depth of positions `r` (inside one block): `Ok` when exact,
    /// `Err` with a lower bound when all their bytes are `FAR`; `None` when `r` is
    /// empty.
    fn part(&self, r: Range<usize>) -> Option<Result<u32, u32>> {
        let m = self.rel.get(r.clone())?.iter().copied().min()?;
        let low = self.lows[0][r.start / BLOCK];
        Some(if m < FAR {
            Ok(low + u32::from(m))
        } else {
            Err(low + u32::from(FAR))
        })
    }

    /// Whether this holds what [`Depths::build`] makes of `depth`, or what differs.
    pub(crate) fn check(&self, depth: &[u32]) -> Result<(), String> {
        let want = Depths::build(depth);
        if self.rel != want.rel {
            return Err("depth bytes differ from the depths".into());
        }
        if self.lows != want.lows {
            return Err("block minima differ from the depths".into());
        }
        Ok(())
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.rel.capacity() + self.lows.iter().map(|l| l.capacity() * 4).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The depths of a forest given as steps of a pre-order walk: each step goes one
    /// level down (`None`) or climbs to some depth at most the current one.
    fn walk(steps: &[Option<u32>]) -> Vec<u32> {
        let mut depth = Vec::with_capacity(steps.len());
        let mut d = 0u32;
        for (i, step) in steps.iter().enumerate() {
            if i > 0 {
                d = match step {
                    None => d + 1,
                    Some(up) => d.saturating_sub(*up),
                };
            }
            depth.push(d);
        }
        depth
    }

    /// The smallest depth of the block of position `p`, by a scan.
    fn block_min(depth: &[u32], p: usize) -> u32 {
        let start = p / BLOCK * BLOCK;
        *depth[start..(start + BLOCK).min(depth.len())]
            .iter()
            .min()
            .unwrap()
    }

    /// Checks every position's depth and the ranges `cuts` against a scan; with
    /// `always`, every range must be answered.
    fn agrees(depth: &[u32], cuts: &[(usize, usize)], always: bool) -> Result<(), TestCaseError> {
        let index = Depths::build(depth);
        for (p, &d) in depth.iter().enumerate() {
            match index.get(Pos::at(p)) {
                Some(got) => prop_assert_eq!(got, d, "depth of {}", p),
                None => prop_assert!(
                    d >= block_min(depth, p) + u32::from(FAR),
                    "no depth for {}",
                    p
                ),
            }
        }
        for &(s, e) in cuts {
            let want = *depth[s..e].iter().min().unwrap();
            match index.min(Pos::at(s), Pos::at(e)) {
                Some(got) => prop_assert_eq!(got, want, "min of {}..{}", s, e),
                // Only a range holding a position 255 or more below its block's
                // smallest depth may go unanswered.
                None => {
                    let far = (s..e).any(|p| depth[p] >= block_min(depth, p) + u32::from(FAR));
                    prop_assert!(!always && far, "no answer for {}..{}", s, e);
                }
            }
        }
        Ok(())
    }

    fn cut_pairs(
        len: usize,
        raw: &[(prop::sample::Index, prop::sample::Index)],
    ) -> Vec<(usize, usize)> {
        raw.iter()
            .map(|(x, y)| {
                let (i, j) = (x.index(len), y.index(len));
                (i.min(j), i.max(j) + 1)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn shallow_forests_match_a_scan(
            steps in prop::collection::vec(prop_oneof![Just(None), (0u32..4).prop_map(Some)], 1..1500),
            raw in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..40),
        ) {
            // Climbs of at most 3 a step: no block holds a depth 255 above its
            // smallest, so every range is answered.
            let depth = walk(&steps);
            agrees(&depth, &cut_pairs(depth.len(), &raw), true)?;
        }

        #[test]
        fn chains_and_long_climbs_match_a_scan(
            steps in prop::collection::vec(prop_oneof![8 => Just(None), 1 => (0u32..600).prop_map(Some)], 1..3000),
            raw in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..40),
        ) {
            let depth = walk(&steps);
            agrees(&depth, &cut_pairs(depth.len(), &raw), false)?;
        }
    }

    #[test]
    fn a_deep_chain_is_all_bytes() {
        // Ten chains 1,024 deep, each starting a block: every depth and every range
        // minimum is answered.
        let depth: Vec<u32> = (0..10_240u32).map(|i| i % 1024).collect();
        let index = Depths::build(&depth);
        for (p, &d) in depth.iter().enumerate() {
            assert_eq!(index.get(Pos::at(p)), Some(d));
        }
        for s in (0..10_240).step_by(37) {
            for e in (s + 1..=10_240).step_by(101) {
                let want = *depth[s..e].iter().min().unwrap();
                assert_eq!(index.min(Pos::at(s), Pos::at(e)), Some(want), "{s}..{e}");
            }
        }
    }

    #[test]
    fn the_end_of_a_long_chain_before_a_root_is_far() {
        // A chain 300 deep, then a root: the chain's last positions share a block with
        // the root and sit 255 or more below it.
        let depth: Vec<u32> = (0..300u32).chain([0]).collect();
        let index = Depths::build(&depth);
        assert_eq!(index.get(Pos::at(299)), None);
        assert_eq!(index.get(Pos::at(300)), Some(0));
        assert_eq!(index.min(Pos::at(290), Pos::at(299)), None);
        assert_eq!(index.min(Pos::at(290), Pos::at(301)), Some(0));
        assert_eq!(index.min(Pos::at(0), Pos::at(299)), Some(0));
    }
}
