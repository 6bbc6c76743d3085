//! A wavelet matrix over `u32` values: the k-th smallest value in a range of positions
//! in `O(log σ)`, which is what makes level-order pages independent of the downline's
//! size (see ARCHITECTURE.md, "Level order").

/// Words per rank block: 512 bits, one cache line.
const BLOCK_WORDS: usize = 8;

/// A bit vector with constant-time rank and logarithmic-time select, at 1/16 bit of
/// directory per bit (one `u32` count per 512-bit block).
///
/// # How
///
/// `rank1(i)` is the count before `i`'s block plus the popcounts of at most eight
/// words of that block (one cache line); `select1(j)` binary-searches the block counts
/// for the block holding the `j`-th one, then scans its words.
#[derive(Clone, Debug, Default)]
pub(crate) struct RankBits {
    len: usize,
    words: Vec<u64>,
    /// `blocks[b]`: number of one bits in `words[..b * BLOCK_WORDS]`; one extra entry
    /// at the end holds the total.
    blocks: Vec<u32>,
}

impl RankBits {
    /// The bit vector of `len` bits whose bit `i` is `bit(i)`, built a word at a time
    /// without branching on the bits.
    pub(crate) fn from_fn(len: usize, bit: impl Fn(usize) -> bool) -> RankBits {
        let mut words = vec![0u64; RankBits::words_for(len)];
        for (k, word) in words.iter_mut().enumerate().take(len.div_ceil(64)) {
            let base = k * 64;
            *word = (base..(base + 64).min(len))
                .fold(0u64, |w, i| w | (u64::from(bit(i)) << (i - base)));
        }
        RankBits::from_words(len, words)
    }

    /// Whole blocks, with at least one spare word so that `rank1(len)` reads in bounds.
    fn words_for(len: usize) -> usize {
        (len / 64 + 1).div_ceil(BLOCK_WORDS) * BLOCK_WORDS
    }

    fn from_words(len: usize, words: Vec<u64>) -> RankBits {
        debug_assert_eq!(words.len(), RankBits::words_for(len));
        let mut blocks = Vec::with_capacity(words.len() / BLOCK_WORDS + 1);
        let mut acc = 0u32;
        for chunk in words.chunks(BLOCK_WORDS) {
            blocks.push(acc);
            acc += chunk.iter().map(|w| w.count_ones()).sum::<u32>();
        }
        blocks.push(acc);
        RankBits { len, words, blocks }
    }

    /// Number of bits.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Number of one bits.
    pub(crate) fn ones(&self) -> usize {
        self.blocks.last().copied().unwrap_or(0) as usize
    }

    /// Number of one bits in positions `0..i` (`i <= len`).
    #[inline]
    pub(crate) fn rank1(&self, i: usize) -> usize {
        let (w, b) = (i / 64, i % 64);
        let block = w / BLOCK_WORDS;
        let mut r = self.blocks[block] as usize;
        for word in &self.words[block * BLOCK_WORDS..w] {
            r += word.count_ones() as usize;
        }
        r + (self.words[w] & ((1u64 << b) - 1)).count_ones() as usize
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    /// Position of the `k`-th (0-based) one bit, or `None` if there are `k` or fewer.
    pub(crate) fn select1(&self, k: usize) -> Option<usize> {
        if k >= self.ones() {
            return None;
        }
        // The last block whose count before it is <= k.
        let block = self.blocks.partition_point(|&c| c as usize <= k) - 1;
        let mut left = k - self.blocks[block] as usize;
        for w in block * BLOCK_WORDS..(block + 1) * BLOCK_WORDS {
            let mut word = self.words[w];
            let ones = word.count_ones() as usize;
            if left < ones {
                for _ in 0..left {
                    word &= word - 1;
                }
                return Some(w * 64 + word.trailing_zeros() as usize);
            }
            left -= ones;
        }
        None
    }

    /// Position of the first one bit at or after `i`, or `None`. Scans at most the rest
    /// of `i`'s block, then jumps with select.
    #[inline]
    pub(crate) fn next_one(&self, i: usize) -> Option<usize> {
        if i >= self.len {
            return None;
        }
        let w = i / 64;
        let word = self.words[w] & (u64::MAX << (i % 64));
        if word != 0 {
            return Some(w * 64 + word.trailing_zeros() as usize);
        }
        let block_end = (w / BLOCK_WORDS + 1) * BLOCK_WORDS;
        for (j, &word) in self.words[w + 1..block_end].iter().enumerate() {
            if word != 0 {
                return Some((w + 1 + j) * 64 + word.trailing_zeros() as usize);
            }
        }
        self.select1(self.blocks[block_end / BLOCK_WORDS] as usize)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8 + self.blocks.capacity() * 4
    }
}

/// Wavelet matrix (Claude, Navarro and Ordóñez, 2015) of a sequence of values below
/// `2^bits`.
///
/// # How
///
/// Level 0 holds the most significant bit of every value, in sequence order. The
/// sequence is then stably partitioned by that bit, zeros first, and level 1 holds the
/// next bit of every value in that order; and so on, `bits` levels of `n` bits each,
/// with rank directories ([`RankBits`]). A range `lo..hi` of one level maps to two
/// ranges of the next: its zeros to `rank0(lo)..rank0(hi)`, its ones to
/// `zeros + rank1(lo)..zeros + rank1(hi)`. So, with two ranks per level:
///
/// - [`get`](WaveletMatrix::get) follows one position down, reading its bits;
/// - [`quantile`](WaveletMatrix::quantile) (the `k`-th smallest in a range) goes to
///   the zeros when the range holds more than `k` zeros at this bit, else to the ones
///   with `k` less those zeros;
/// - [`count_less`](WaveletMatrix::count_less) follows the bits of the bound, adding
///   the zeros of the range wherever the bound has a one.
///
/// Each is `O(bits)` = `O(log n)` rank queries, whatever the range's length.
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
            // The level's bits, a word of 64 values at a time, without branches.
            let mut words = Vec::with_capacity(RankBits::words_for(len));
            words.extend(cur.chunks(64).map(|chunk| {
                chunk
                    .iter()
                    .enumerate()
                    .fold(0u64, |w, (j, &v)| w | (u64::from((v >> shift) & 1) << j))
            }));
            words.resize(RankBits::words_for(len), 0);
            let ones: usize = words.iter().map(|w| w.count_ones() as usize).sum();
            let z = len - ones;
            // Stable partition, zeros first, then ones: each value goes to one of two
            // cursors chosen arithmetically (the bits are random: a branch on them
            // would be mispredicted half the time).
            let (mut zi, mut oi) = (0usize, z);
            for &v in &cur {
                let one = ((v >> shift) & 1) as usize;
                let at = if one == 1 { oi } else { zi };
                next[at] = v;
                oi += one;
                zi += 1 - one;
            }
            std::mem::swap(&mut cur, &mut next);
            levels.push(RankBits::from_words(len, words));
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

    /// How many of the values at positions `lo..hi` are below `bound`.
    pub(crate) fn count_less(&self, mut lo: usize, mut hi: usize, bound: usize) -> usize {
        let bits = self.levels.len();
        if hi > self.len || lo >= hi || bound == 0 {
            return 0;
        }
        if bits < usize::BITS as usize && bound >= 1 << bits {
            return hi - lo;
        }
        let mut below = 0;
        for (level, rank) in self.levels.iter().enumerate() {
            let (ones_lo, ones_hi) = (rank.rank1(lo), rank.rank1(hi));
            if (bound >> (bits - 1 - level)) & 1 == 1 {
                below += (hi - lo) - (ones_hi - ones_lo);
                lo = self.zeros[level] + ones_lo;
                hi = self.zeros[level] + ones_hi;
            } else {
                lo -= ones_lo;
                hi -= ones_hi;
            }
        }
        below
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.levels.iter().map(RankBits::heap_bytes).sum::<usize>() + self.zeros.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::{RankBits, WaveletMatrix};

    #[test]
    fn rank_select_and_next_match_a_scan() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for (len, density) in [
            (0usize, 2u64),
            (1, 2),
            (64, 2),
            (511, 3),
            (512, 2),
            (513, 5),
            (3000, 97),
            (5000, 2),
        ] {
            let bits: Vec<bool> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state.is_multiple_of(density)
                })
                .collect();
            let rb = RankBits::from_fn(len, |i| bits[i]);
            let ones: Vec<usize> = (0..len).filter(|&i| bits[i]).collect();
            assert_eq!(rb.len(), len);
            assert_eq!(rb.ones(), ones.len());
            for i in 0..=len {
                assert_eq!(rb.rank1(i), ones.iter().filter(|&&o| o < i).count());
                assert_eq!(rb.next_one(i), ones.iter().copied().find(|&o| o >= i));
            }
            for (i, &bit) in bits.iter().enumerate() {
                assert_eq!(rb.get(i), bit);
            }
            for (k, &o) in ones.iter().enumerate() {
                assert_eq!(rb.select1(k), Some(o));
            }
            assert_eq!(rb.select1(ones.len()), None);
        }
    }

    #[test]
    fn count_less_matches_a_scan() {
        let values: Vec<u32> = (0..700u32).map(|i| (i * 7919 + 13) % 301).collect();
        let wm = WaveletMatrix::new(&values, 301);
        for (lo, hi) in [(0, 700), (3, 9), (100, 650), (699, 700), (5, 5)] {
            for bound in [0usize, 1, 2, 150, 300, 301, 512, 100_000] {
                let want = values[lo..hi]
                    .iter()
                    .filter(|&&v| (v as usize) < bound)
                    .count();
                assert_eq!(wm.count_less(lo, hi, bound), want, "{lo}..{hi} < {bound}");
            }
        }
    }

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
