//! [`Snapshot::validate`]: every structural invariant, recomputed from the parent
//! array alone.

use std::fmt;

use super::numbering::{Pos, Rank};
use super::Snapshot;
use crate::capability::Filter;

/// A broken snapshot invariant, found by `Snapshot::validate`. Seeing one is a bug in
/// this crate: please report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvariantError {
    message: String,
}

impl fmt::Display for InvariantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "snapshot invariant broken: {}", self.message)
    }
}

impl std::error::Error for InvariantError {}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(InvariantError { message: format!($($fmt)+) });
        }
    };
}

impl Snapshot {
    /// Checks every internal invariant (see the type docs), recomputing the traversal
    /// orders from the parent links alone. `O(n log n)`; meant for tests, property
    /// tests and fuzz targets, and run by debug builds after every build.
    ///
    /// # Errors
    ///
    /// [`InvariantError`] describing the first broken invariant.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::{Record, Snapshot};
    /// let snap = Snapshot::build([Record::new("1", None::<&str>), Record::new("2", Some("1"))]).unwrap();
    /// assert_eq!(snap.validate(), Ok(()));
    /// ```
    // Hidden from the docs: a check of this crate's own invariants, for its tests and
    // fuzz targets (and those of anyone testing it), not a query of a hierarchy.
    #[doc(hidden)]
    pub fn validate(&self) -> Result<(), InvariantError> {
        let n = self.core().ids.len();
        for (name, len) in [
            ("parent", self.core().parent.len()),
            ("end", self.core().end.len()),
            ("caps", self.core().caps.len()),
            ("payload", self.core().payloads.len()),
            ("bfs", self.core().bfs.len()),
            ("level", self.core().level.len()),
        ] {
            ensure!(len == n, "{name} has {len} entries for {n} resellers");
        }
        ensure!(
            self.core().lookup.len() == n,
            "id table holds {} of {n}",
            self.core().lookup.len()
        );
        for (p, id) in self.core().ids.iter().enumerate() {
            let found = self
                .core()
                .lookup
                .get(id.as_str(), |j| self.core().ids.get(Pos::new(j)).as_str());
            ensure!(
                found == Some(p as u32),
                "id {id:?} at {p} looks up as {found:?}"
            );
        }

        // Depths and subtree sizes from the parent array alone.
        let mut depth = vec![0u32; n];
        let mut children = vec![0u32; n];
        for p in 0..n {
            let q = self.core().parent[p];
            if !q.is_none() {
                ensure!(q.idx() < p, "parent {q} of {p} does not precede it");
                depth[p] = depth[q.idx()] + 1;
                children[q.idx()] += 1;
            }
        }
        let mut size = vec![1u32; n];
        for p in (0..n).rev() {
            let q = self.core().parent[p];
            if !q.is_none() {
                size[q.idx()] += size[p];
            }
        }
        let mut roots = 0;
        for r in self.hops(Pos::new(0), Pos::at(n)) {
            ensure!(
                self.core().parent[r.idx()].is_none(),
                "position {r} should be a root"
            );
            roots += 1;
        }
        ensure!(
            roots == self.core().roots,
            "{roots} roots counted, {} recorded",
            self.core().roots
        );
        for p in 0..n {
            ensure!(
                self.core().end[p].idx() == p + size[p] as usize,
                "end of {p} is {}, its subtree has {}",
                self.core().end[p],
                size[p]
            );
            let mut count = 0;
            for c in self.hops(Pos::at(p) + 1, self.core().end[p]) {
                ensure!(
                    self.core().parent[c.idx()] == Pos::at(p),
                    "{c} should be a child of {p}"
                );
                count += 1;
            }
            ensure!(
                count == children[p],
                "{p} has {} children, {count} laid out",
                children[p]
            );
        }

        // Level order: a permutation sorted by (depth, position).
        let mut bfs_of = vec![u32::MAX; n];
        for (b, &p) in self.core().bfs.iter().enumerate() {
            ensure!(
                p.idx() < n && bfs_of[p.idx()] == u32::MAX,
                "bfs repeats {p}"
            );
            bfs_of[p.idx()] = b as u32;
        }
        for w in self.core().bfs.windows(2) {
            let (a, b) = (w[0].idx(), w[1].idx());
            ensure!(
                (depth[a], a) < (depth[b], b),
                "level order has {a} before {b}"
            );
        }
        for (p, &b) in bfs_of.iter().enumerate() {
            ensure!(self.core().level.get(p) == b, "level index of {p} is wrong");
        }
        let levels = depth.iter().max().map_or(0, |&d| d as usize + 1);
        let ls = &self.core().level_start;
        ensure!(
            ls.len() == levels + 1 && ls.last() == Some(&Rank::at(n)),
            "{} level starts for {levels} levels",
            ls.len()
        );
        self.core()
            .depths
            .check(&depth)
            .map_err(|message| InvariantError { message })?;
        for (b, &p) in self.core().bfs.iter().enumerate() {
            let d = depth[p.idx()] as usize;
            ensure!(
                ls[d].idx() <= b && b < ls[d + 1].idx(),
                "level order rank {b} is outside depth {d}"
            );
        }

        for f in Filter::ALL {
            let fi = &self.core().filters[f.slot()];
            ensure!(
                fi.pre.len() == n && fi.bfs.len() == n,
                "{f:?} bit vectors have the wrong length"
            );
            let pre: Vec<usize> = (0..n).filter(|&p| f.matches(self.core().caps[p])).collect();
            ensure!(
                fi.pre.ones() == pre.len(),
                "{f:?} counts {} matches",
                fi.pre.ones()
            );
            for &p in &pre {
                ensure!(fi.pre.get(p), "{f:?} misses position {p}");
            }
            let mut ranks: Vec<u32> = pre.iter().map(|&p| bfs_of[p]).collect();
            ranks.sort_unstable();
            ensure!(
                fi.bfs.ones() == ranks.len(),
                "{f:?} level-order bits are wrong"
            );
            for (j, &r) in ranks.iter().enumerate() {
                ensure!(
                    fi.bfs.select1(j) == Some(r as usize),
                    "{f:?} level-order bit {r} is wrong"
                );
            }
            ensure!(
                fi.level.len() == pre.len(),
                "{f:?} level index has the wrong length"
            );
            for (i, &p) in pre.iter().enumerate() {
                let j = fi.level.get(i) as usize;
                ensure!(
                    ranks.get(j) == Some(&bfs_of[p]),
                    "{f:?} level index of match {i} is wrong"
                );
            }
        }
        if let Some(delta) = self.delta() {
            delta.check(self.core()).map_err(|e| InvariantError {
                message: format!("changes: {e}"),
            })?;
        }
        Ok(())
    }
}
