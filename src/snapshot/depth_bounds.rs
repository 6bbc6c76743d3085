//! [`DepthBounds`]: the smallest and largest depth among any range of base positions,
//! in `O(1)`, from the one-byte depths a base keeps by position.
//!
//! # How
//!
//! Positions are grouped in blocks of [`BLOCK`]. For every `k`, level `k` of a sparse
//! table holds, for each block `b`, the smallest (and the largest) byte of blocks
//! `b..b + 2^k`. A range is its partial first block, its partial last block (each a
//! scan of at most `BLOCK` bytes, which the compiler vectorizes) and the whole blocks
//! between, which two overlapping table entries of the largest `2^k` that fits cover.
//! At a million resellers the tables take about 0.4 byte a reseller; a wavelet-matrix
//! quantile, which answered the same question before, reads a cache line per bit of the
//! rank (twenty at a million) and dominated cutting a run in two.
//!
//! A byte holds depths below [`Core::DEEP`](super::Core::DEEP) exactly and every deeper
//! one as `DEEP`; a bound that comes out as `DEEP` is therefore not exact, and the
//! caller asks the level order instead ([`DepthBounds::min`] and [`DepthBounds::max`]
//! return `None`).

use super::numbering::Pos;

/// Positions per block.
const BLOCK: usize = 64;

/// Range minima and maxima over one-byte depths by position (see the module docs).
#[derive(Clone, Debug, Default)]
pub(crate) struct DepthBounds {
    /// `lows[k][b]`: the smallest byte of blocks `b..b + 2^k`.
    lows: Vec<Vec<u8>>,
    /// `highs[k][b]`: the largest byte of blocks `b..b + 2^k`.
    highs: Vec<Vec<u8>>,
}

/// Whether a bound is exact: below `DEEP`.
const DEEP: u8 = u8::MAX;

impl DepthBounds {
    /// The tables over `shallow` (one byte a position).
    pub(crate) fn build(shallow: &[u8]) -> DepthBounds {
        let first =
            |pick: fn(&[u8]) -> u8| -> Vec<u8> { shallow.chunks(BLOCK).map(pick).collect() };
        DepthBounds {
            lows: Self::levels(first(|c| c.iter().copied().min().unwrap_or(DEEP)), u8::min),
            highs: Self::levels(first(|c| c.iter().copied().max().unwrap_or(0)), u8::max),
        }
    }

    /// The sparse table's levels over the block values `base`.
    fn levels(base: Vec<u8>, pick: fn(u8, u8) -> u8) -> Vec<Vec<u8>> {
        let mut levels = vec![base];
        let mut width = 1;
        while 2 * width <= levels[0].len() {
            let last = &levels[levels.len() - 1];
            let next = (0..=last.len() - 1 - width)
                .map(|b| pick(last[b], last[b + width]))
                .collect();
            levels.push(next);
            width *= 2;
        }
        levels
    }

    /// The smallest depth among positions `s..e` (not empty) of `shallow`, `None` when
    /// it is `DEEP` or more.
    pub(crate) fn min(&self, shallow: &[u8], s: Pos, e: Pos) -> Option<u32> {
        let v = Self::fold(&self.lows, shallow, s, e, DEEP, u8::min, |c| {
            c.iter().copied().min().unwrap_or(DEEP)
        });
        (v < DEEP).then_some(u32::from(v))
    }

    /// The largest depth among positions `s..e` (not empty) of `shallow`, `None` when
    /// it is `DEEP` or more.
    pub(crate) fn max(&self, shallow: &[u8], s: Pos, e: Pos) -> Option<u32> {
        let v = Self::fold(&self.highs, shallow, s, e, 0, u8::max, |c| {
            c.iter().copied().max().unwrap_or(0)
        });
        (v < DEEP).then_some(u32::from(v))
    }

    /// `pick` over the bytes `s..e`: scans of the partial blocks at both ends and two
    /// entries of `levels` for the whole blocks between.
    fn fold(
        levels: &[Vec<u8>],
        shallow: &[u8],
        s: Pos,
        e: Pos,
        none: u8,
        pick: fn(u8, u8) -> u8,
        scan: impl Fn(&[u8]) -> u8,
    ) -> u8 {
        let (s, e) = (s.idx(), e.idx().min(shallow.len()));
        if s >= e {
            return none;
        }
        // Whole blocks `a..b`.
        let a = s.div_ceil(BLOCK);
        let b = e / BLOCK;
        if a >= b {
            return scan(&shallow[s..e]);
        }
        let ends = pick(scan(&shallow[s..a * BLOCK]), scan(&shallow[b * BLOCK..e]));
        let k = (b - a).ilog2() as usize;
        let Some(level) = levels.get(k) else {
            return ends;
        };
        let middle = pick(level[a], level[b - (1 << k)]);
        pick(ends, middle)
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.lows.iter().chain(&self.highs).map(Vec::capacity).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The bounds a scan of every byte gives.
    fn naive(shallow: &[u8], s: usize, e: usize) -> (Option<u32>, Option<u32>) {
        let lo = shallow[s..e].iter().copied().min().unwrap();
        let hi = shallow[s..e].iter().copied().max().unwrap();
        (
            (lo < DEEP).then_some(u32::from(lo)),
            (hi < DEEP).then_some(u32::from(hi)),
        )
    }

    proptest! {
        #[test]
        fn bounds_match_a_scan(
            shallow in prop::collection::vec(prop_oneof![0u8..6, Just(DEEP), any::<u8>()], 1..1500),
            cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..40),
        ) {
            let bounds = DepthBounds::build(&shallow);
            for (x, y) in cuts {
                let (i, j) = (x.index(shallow.len()), y.index(shallow.len()));
                let (s, e) = (i.min(j), i.max(j) + 1);
                let (lo, hi) = naive(&shallow, s, e);
                prop_assert_eq!(bounds.min(&shallow, Pos::at(s), Pos::at(e)), lo, "min of {}..{}", s, e);
                prop_assert_eq!(bounds.max(&shallow, Pos::at(s), Pos::at(e)), hi, "max of {}..{}", s, e);
            }
        }
    }

    #[test]
    fn every_range_of_a_long_sawtooth() {
        let shallow: Vec<u8> = (0..700u32).map(|i| ((i * 7919) % 251) as u8).collect();
        let bounds = DepthBounds::build(&shallow);
        for s in (0..700).step_by(13) {
            for e in (s + 1..=700).step_by(11) {
                assert_eq!(
                    (
                        bounds.min(&shallow, Pos::at(s), Pos::at(e)),
                        bounds.max(&shallow, Pos::at(s), Pos::at(e))
                    ),
                    naive(&shallow, s, e),
                    "{s}..{e}"
                );
            }
        }
    }
}
