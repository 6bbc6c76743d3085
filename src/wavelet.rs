//! A wavelet matrix over `u32` values: the k-th smallest value in a range of positions
//! in `O(log σ)`, which is what makes level-order pages independent of the downline's
//! size (see ARCHITECTURE.md, "Level order").

/// A bit vector with constant-time rank.
#[derive(Clone, Debug, Default)]
struct RankBits {
    words: Vec<u64>,
    /// `ones_before[w]`: number of one bits in `words[..w]`.
    ones_before: Vec<u32>,
}

impl RankBits {
    fn from_words(mut words: Vec<u64>) -> RankBits {
        // One spare word so that `rank1(len)` never reads past the end.
        words.push(0);
        let mut ones_before = Vec::with_capacity(words.len());
        let mut acc = 0u32;
        for w in &words {
            ones_before.push(acc);
            acc += w.count_ones();
        }
        RankBits { words, ones_before }
    }

    /// Number of one bits in positions `0..i`.
    #[inline]
    fn rank1(&self, i: usize) -> usize {
        let (w, b) = (i / 64, i % 64);
        let mask = (1u64 << b) - 1;
        self.ones_before[w] as usize + (self.words[w] & mask).count_ones() as usize
    }

    #[inline]
    fn get(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8 + self.ones_before.capacity() * 4
    }
}

/// Wavelet matrix (Claude, Navarro and Ordóñez, 2015) of a sequence of values below
/// `2^bits`.
#[derive(Clone, Debug, Default)]
pub(crate) struct WaveletMatrix {
    len: usize,
    /// One bit vector per bit of the values, most significant first.
    levels: Vec<RankBits>,
    /// Number of zero bits in each level.
    zeros: Vec<usize>,
}

impl WaveletMatrix {
    /// Builds the matrix of `values`, each below `bound`.
    pub(crate) fn new(values: &[u32], bound: u32) -> WaveletMatrix {
        let bits = (u32::BITS - bound.leading_zeros()).max(1) as usize;
        let len = values.len();
        let mut cur = values.to_vec();
        let mut next = vec![0u32; len];
        let mut levels = Vec::with_capacity(bits);
        let mut zeros = Vec::with_capacity(bits);
        for level in 0..bits {
            let shift = bits - 1 - level;
            let mut words = vec![0u64; len.div_ceil(64)];
            let mut z = 0usize;
            for (i, &v) in cur.iter().enumerate() {
                if (v >> shift) & 1 == 1 {
                    words[i / 64] |= 1 << (i % 64);
                } else {
                    z += 1;
                }
            }
            // Stable partition: zeros first, then ones.
            let (mut zi, mut oi) = (0usize, z);
            for &v in &cur {
                if (v >> shift) & 1 == 1 {
                    next[oi] = v;
                    oi += 1;
                } else {
                    next[zi] = v;
                    zi += 1;
                }
            }
            std::mem::swap(&mut cur, &mut next);
            levels.push(RankBits::from_words(words));
            zeros.push(z);
        }
        WaveletMatrix { len, levels, zeros }
    }

    /// Number of values.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The value at position `i`.
    pub(crate) fn get(&self, mut i: usize) -> u32 {
        let mut v = 0u32;
        for (level, bits) in self.levels.iter().enumerate() {
            v <<= 1;
            if bits.get(i) {
                v |= 1;
                i = self.zeros[level] + bits.rank1(i);
            } else {
                i -= bits.rank1(i);
            }
        }
        v
    }

    /// The `k`-th smallest (0-based) value among positions `lo..hi`, or `None` when
    /// the range holds `k` values or fewer.
    pub(crate) fn quantile(&self, mut lo: usize, mut hi: usize, mut k: usize) -> Option<u32> {
        if hi > self.len || lo >= hi || k >= hi - lo {
            return None;
        }
        let mut v = 0u32;
        for (level, bits) in self.levels.iter().enumerate() {
            let (ones_lo, ones_hi) = (bits.rank1(lo), bits.rank1(hi));
            let zeros_in = (hi - lo) - (ones_hi - ones_lo);
            v <<= 1;
            if k < zeros_in {
                lo -= ones_lo;
                hi -= ones_hi;
            } else {
                k -= zeros_in;
                v |= 1;
                lo = self.zeros[level] + ones_lo;
                hi = self.zeros[level] + ones_hi;
            }
        }
        Some(v)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.levels.iter().map(RankBits::heap_bytes).sum::<usize>() + self.zeros.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::WaveletMatrix;

    #[test]
    fn quantile_matches_sorting() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for len in [0usize, 1, 2, 63, 64, 65, 150] {
            let values: Vec<u32> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % 97) as u32
                })
                .collect();
            let wm = WaveletMatrix::new(&values, 97);
            assert_eq!(wm.len(), len);
            for (i, &v) in values.iter().enumerate() {
                assert_eq!(wm.get(i), v);
            }
            for lo in 0..=len {
                for hi in lo..=len {
                    let mut sorted = values[lo..hi].to_vec();
                    sorted.sort_unstable();
                    for k in 0..=(hi - lo) {
                        assert_eq!(wm.quantile(lo, hi, k), sorted.get(k).copied());
                    }
                }
            }
        }
    }
}
