//! [`LoadSnapshot`]: which transactions the initial load saw.
//!
//! # How
//!
//! The follower creates its replication slot first and loads the table after, in one
//! `REPEATABLE READ` transaction, noting that transaction's `pg_current_snapshot()`
//! (`xmin:xmax:xip,...`). Every transaction that commits after the slot's start is
//! decoded; those the load already saw must be skipped, the others applied. A
//! transaction is seen by the snapshot when its id is below `xmin`, or below `xmax` and
//! not among the in-progress ids `xip`. The snapshot holds 64-bit ids (`xid8`); decoded
//! transactions carry 32-bit ids, widened here against `xmax` (ids in use are always
//! within 2^31 of each other).

use std::fmt;

/// The snapshot of the initial load (`pg_current_snapshot()` in its transaction).
///
/// Only transactions whose commit record starts before `until` (the log position read
/// in the load's first statement, after its snapshot was taken) can have been seen:
/// any later one is applied without looking at its id, so ids are only ever widened
/// for transactions close to the load, never after the 32-bit ids wrapped around.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LoadSnapshot {
    until: u64,
    xmin: u64,
    xmax: u64,
    /// In progress when the snapshot was taken, sorted.
    xip: Vec<u64>,
}

/// Text that is not a `pg_snapshot`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SnapshotTextError(pub(crate) String);

impl fmt::Display for SnapshotTextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a pg_snapshot (xmin:xmax:xip,...)", self.0)
    }
}

impl LoadSnapshot {
    /// Parses `pg_current_snapshot()::text`, read with the log position `until`.
    pub(crate) fn parse(text: &str, until: u64) -> Result<LoadSnapshot, SnapshotTextError> {
        let bad = || SnapshotTextError(text.to_string());
        let mut parts = text.split(':');
        let (Some(xmin), Some(xmax), Some(xip), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let xmin: u64 = xmin.parse().map_err(|_| bad())?;
        let xmax: u64 = xmax.parse().map_err(|_| bad())?;
        let mut ids = Vec::new();
        for x in xip.split(',').filter(|x| !x.is_empty()) {
            ids.push(x.parse::<u64>().map_err(|_| bad())?);
        }
        if xmin > xmax || ids.iter().any(|&x| x < xmin || x >= xmax) {
            return Err(bad());
        }
        ids.sort_unstable();
        Ok(LoadSnapshot {
            until,
            xmin,
            xmax,
            xip: ids,
        })
    }

    /// Whether the load saw the transaction `xid`, whose commit record starts at
    /// `commit`.
    pub(crate) fn saw(&self, xid: u32, commit: u64) -> bool {
        if commit >= self.until {
            return false;
        }
        // How far below xmax the id lies, modulo 2^32; ids at or above xmax were not seen.
        let below = (self.xmax as u32).wrapping_sub(xid);
        if below == 0 || below > 1 << 31 {
            return false;
        }
        let Some(full) = self.xmax.checked_sub(u64::from(below)) else {
            return false;
        };
        full < self.xmin || self.xip.binary_search(&full).is_err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_below_xmin_and_not_in_progress() {
        let s = LoadSnapshot::parse("100:110:103,105", 1000).unwrap();
        assert!(s.saw(50, 10));
        assert!(s.saw(99, 10));
        assert!(s.saw(100, 10));
        assert!(!s.saw(103, 10));
        assert!(s.saw(104, 10));
        assert!(!s.saw(105, 10));
        assert!(!s.saw(110, 10));
        assert!(!s.saw(200, 10));
    }

    #[test]
    fn ids_widened_across_an_epoch() {
        // xmax just past 2^32: the 32-bit id 0xFFFF_FFF0 is from the epoch before.
        let xmax = (1u64 << 32) + 5;
        let s = LoadSnapshot::parse(&format!("{}:{}:", xmax - 20, xmax), 1000).unwrap();
        assert!(s.saw(0xFFFF_FFF0, 10));
        assert!(s.saw(2, 10));
        assert!(!s.saw(5, 10));
        assert!(!s.saw(6, 10));
    }

    #[test]
    fn commits_after_the_load_are_never_seen() {
        let s = LoadSnapshot::parse("100:110:", 1000).unwrap();
        assert!(s.saw(50, 999));
        assert!(!s.saw(50, 1000));
        // Long after the load, an id that wrapped around is not mistaken for an old one.
        assert!(!s.saw(50u32.wrapping_add(1 << 31), 5000));
    }

    #[test]
    fn malformed_snapshots_refused() {
        for t in ["", "1:2", "1:2:3:4", "a:2:", "5:3:", "1:9:12", "1:9:x"] {
            assert!(LoadSnapshot::parse(t, 0).is_err(), "{t}");
        }
    }
}
