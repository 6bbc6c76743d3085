//! Laying out a validated forest: [`Builder::build`] and what it runs, the renumbering
//! by pre-order position, the parent and downline-end arrays, the level order and
//! its wavelet matrix, and each filter's indexes.
//!
//! # How
//!
//! Subtree sizes are summed leaves first (over the builder's BFS order reversed);
//! then positions are handed out top down: a root takes the next free position, and
//! each reseller's children take consecutive blocks after it, each as large as its
//! subtree. Everything is then gathered by position; the independent gathers (parent,
//! end, capabilities; ids and payload) run side by side on rayon's pool, as do the
//! level-order wavelet matrix and the four filter indexes.

use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use super::depths::Depths;
use super::ids::Ids;
use super::numbering::{Pos, Rank};
use super::payload::Payloads;
use super::{Core, FilterIndex, Repr, Snapshot};
use crate::builder::{BuildError, Builder, Parts};
use crate::capability::{Capabilities, Filter};
use crate::id::NONE;
use crate::wavelet::{RankBits, WaveletMatrix};

impl Builder {
    /// Validates every record and builds the snapshot.
    ///
    /// # Errors
    ///
    /// [`BuildError`] listing every [`Problem`](crate::Problem) found; nothing is
    /// built then.
    pub fn build(self) -> Result<Snapshot, BuildError> {
        self.validate().map(Snapshot::from_parts)
    }
}

impl Snapshot {
    /// Lays out validated parts.
    pub(crate) fn from_parts(parts: Parts) -> Snapshot {
        let Parts {
            mut lookup,
            parent: in_parent,
            mut records,
            forest,
        } = parts;
        let ids = std::mem::take(&mut records.ids);
        let in_caps = std::mem::take(&mut records.caps);
        let n = ids.len();
        let order = &forest.order;

        // Subtree sizes, leaves first.
        let mut size = vec![1u32; n];
        for &v in order.iter().rev() {
            let p = in_parent[v as usize];
            if p != NONE {
                size[p as usize] += size[v as usize];
            }
        }
        // Pre-order position of every input index, top down.
        let mut pos = vec![Pos::new(0); n];
        let mut next = Pos::new(0);
        for &r in &forest.roots {
            pos[r as usize] = next;
            next += size[r as usize];
        }
        for &v in order {
            let mut p = pos[v as usize] + 1;
            for &c in forest.children_of(v) {
                pos[c as usize] = p;
                p += size[c as usize];
            }
        }
        // Input index by position.
        let mut pre = vec![0u32; n];
        for (i, &p) in pos.iter().enumerate() {
            pre[p.idx()] = i as u32;
        }

        // Renumber everything by position: the ids move, the payload is copied into
        // chunks by position, and the arrays are independent, so they run side by side.
        let ((parent, end, caps), (ids_by_pos, payloads)) = rayon::join(
            || {
                let parent: Vec<Pos> = pre
                    .par_iter()
                    .with_min_len(4096)
                    .map(|&i| match in_parent[i as usize] {
                        NONE => Pos::NONE,
                        p => pos[p as usize],
                    })
                    .collect();
                let end: Vec<Pos> = pre
                    .par_iter()
                    .with_min_len(4096)
                    .map(|&i| pos[i as usize] + size[i as usize])
                    .collect();
                let caps: Vec<Capabilities> = pre.iter().map(|&i| in_caps[i as usize]).collect();
                (parent, end, caps)
            },
            || {
                let payloads = Payloads::build(&pre, &ids, &records);
                let by_pos = Ids::build(&pre, &ids);
                drop(ids);
                (by_pos, payloads)
            },
        );
        drop((records, in_caps));
        lookup.remap(|i| pos[i as usize].get());
        let bfs: Vec<Pos> = order.iter().map(|&v| pos[v as usize]).collect();
        // Rank by position: the values of the level-order wavelet matrix.
        let mut bfs_of = vec![0u32; n];
        for (b, &p) in bfs.iter().enumerate() {
            bfs_of[p.idx()] = b as u32;
        }
        drop((pos, pre, size, forest));

        let (level, filters) = rayon::join(
            || WaveletMatrix::new(&bfs_of, n as u32),
            || {
                let mut built: Vec<FilterIndex> = Filter::ALL
                    .par_iter()
                    .map(|&f| FilterIndex::build(f, &caps, &bfs, &bfs_of))
                    .collect();
                std::array::from_fn(|i| std::mem::take(&mut built[i]))
            },
        );
        let roots = parent.iter().filter(|p| p.is_none()).count();
        let depth = depths(&parent);
        let level_start = level_starts(&depth, &bfs);
        let depths = Depths::build(&depth);
        drop(depth);
        let core = Core {
            ids: ids_by_pos,
            lookup,
            parent,
            end,
            caps,
            payloads,
            bfs,
            level,
            level_start,
            depths,
            filters,
            roots,
            depth_counts: Default::default(),
            retired: AtomicBool::new(false),
        };
        let snapshot = Snapshot {
            repr: Repr::Plain(core),
            version: 0,
        };
        debug_assert_eq!(snapshot.validate(), Ok(()));
        snapshot
    }
}

impl FilterIndex {
    /// The indexes of `filter` over capabilities by position, given the level order
    /// (`bfs`) and its inverse (`bfs_of`, rank by position).
    fn build(filter: Filter, caps: &[Capabilities], bfs: &[Pos], bfs_of: &[u32]) -> FilterIndex {
        let n = caps.len();
        let pre = RankBits::from_fn(n, |p| filter.matches(caps[p]));
        let by_level = RankBits::from_fn(n, |b| filter.matches(caps[bfs[b].idx()]));
        let values: Vec<u32> = (0..n)
            .filter(|&p| pre.get(p))
            .map(|p| by_level.rank1(bfs_of[p] as usize) as u32)
            .collect();
        let level = WaveletMatrix::new(&values, by_level.ones() as u32);
        FilterIndex {
            pre,
            bfs: by_level,
            level,
        }
    }
}

/// The depth of each position (parents precede their children).
fn depths(parent: &[Pos]) -> Vec<u32> {
    let mut depth = vec![0u32; parent.len()];
    for p in 0..parent.len() {
        if !parent[p].is_none() {
            depth[p] = depth[parent[p].idx()] + 1;
        }
    }
    depth
}

/// The level-order index of the first reseller of each depth, then `n`.
fn level_starts(depth: &[u32], bfs: &[Pos]) -> Vec<Rank> {
    let mut starts = vec![Rank::new(0)];
    for (b, &p) in bfs.iter().enumerate() {
        if depth[p.idx()] as usize == starts.len() {
            starts.push(Rank::at(b));
        }
    }
    starts.push(Rank::at(bfs.len()));
    if bfs.is_empty() {
        starts.truncate(1);
    }
    starts
}
