//! Releasing a snapshot: what the last holder of a large base, or of the changes over
//! one, frees is handed to the rayon pool, so that no thread that drops a snapshot
//! waits for it.
//!
//! # How
//!
//! Dropping a [`Snapshot`] frees what no other snapshot shares. Usually that is
//! little: a changed version shares its base and all but a few paths of its
//! persistent structures with the versions before and after it. Two drops free much:
//!
//! - the last holder of a base frees its columns and indexes (about 2 ms a million
//!   resellers: `base_drop` in `perf_report -- free`);
//! - the last changed version over a base (the one holding its record arena alone)
//!   frees every piece, map node, record and text block the changes made (16 ms for
//!   100,000 mutations at a million: `changes_drop`).
//!
//! Either can be any thread: a reader that still held an old version when a fold
//! published a new base is its last holder once it lets go. So [`Drop`] checks,
//! without walking anything, whether this drop is one of those two and large (a base
//! of at least [`LARGE_BASE`] resellers, changes weighing at least
//! [`LARGE_CHANGES`]); if so it swaps the snapshot's contents for a shared empty
//! one and moves them into a task on the rayon pool, which frees them. A thread of
//! the pool frees in place (the tasks end there, so nothing is handed on twice).
//!
//! The check is exact: a snapshot being dropped has no other holder, and a base or a
//! record arena held by this snapshot alone (`Arc::strong_count` of 1) cannot gain
//! another, since only a holder can clone it.

use std::sync::{Arc, LazyLock};

use super::overlay::Overlay;
use super::{Repr, Snapshot};

/// Resellers from which the last holder of a base frees it on the pool (about 0.1 ms
/// of frees at this size).
const LARGE_BASE: u32 = 1 << 16;

/// Change weight from which the last changed version over a base frees the changes
/// on the pool (about 0.6 ms of frees at this weight).
const LARGE_CHANGES: usize = 1 << 12;

/// Contents to leave in a snapshot whose own were moved to the pool: an empty base
/// and empty changes, shared, so that leaving them costs two reference counts. `None`
/// if the empty base could not be built (it always can), and then nothing is moved.
static EMPTY: LazyLock<Option<(Arc<Snapshot>, Arc<Overlay>)>> = LazyLock::new(|| {
    let base = Snapshot::build(std::iter::empty()).ok()?;
    Some((Arc::new(base), Arc::new(Overlay::default())))
});

impl Drop for Snapshot {
    fn drop(&mut self) {
        if !self.frees_much() || rayon::current_thread_index().is_some() {
            return;
        }
        let Some((base, delta)) = EMPTY.as_ref() else {
            return;
        };
        let empty = Repr::Changed {
            base: base.clone(),
            delta: delta.clone(),
        };
        let contents = std::mem::replace(&mut self.repr, empty);
        rayon::spawn(move || drop(contents));
    }
}

impl Snapshot {
    /// Whether dropping this snapshot, its last holder, frees a large base or the
    /// large changes over one (see the module docs).
    fn frees_much(&self) -> bool {
        match &self.repr {
            Repr::Plain(core) => core.n() >= LARGE_BASE,
            Repr::Changed { base, delta } => {
                let last_of_base =
                    Arc::strong_count(base) == 1 && base.base_len() >= LARGE_BASE as usize;
                let last_of_changes = Arc::strong_count(delta) == 1
                    && delta.holds_log_alone()
                    && delta.weight() >= LARGE_CHANGES;
                last_of_base || last_of_changes
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Hierarchy, Mutation, Record, ResellerId};

    fn rename(id: &ResellerId, name: String) -> Mutation {
        Mutation::Update {
            id: id.clone(),
            name: Some(name),
            capabilities: None,
            economic_enabled: None,
            attributes: None,
        }
    }

    #[test]
    fn a_small_snapshot_is_freed_in_place() {
        let snap = Snapshot::build([Record::new("1", None::<&str>)]).unwrap();
        assert!(!snap.frees_much());
    }

    #[test]
    fn the_last_holder_of_a_large_base_or_of_large_changes_frees_on_the_pool() {
        let n = LARGE_BASE as usize;
        // A tree of four children a reseller.
        let records: Vec<Record> = (0..n)
            .map(|i| {
                Record::new(i.to_string(), (i > 0).then(|| ((i - 1) / 4).to_string()))
                    .name(format!("R{i}"))
            })
            .collect();
        let plain = Snapshot::build(records.clone()).unwrap();
        assert!(plain.frees_much());
        let h = Hierarchy::new(plain);
        h.set_fold_threshold(usize::MAX);
        let first = h.snapshot();
        // Enough updates for the changes to weigh `LARGE_CHANGES`.
        for (i, r) in records.iter().take(LARGE_CHANGES).enumerate() {
            h.apply(&[rename(&r.id, format!("renamed {i}"))]).unwrap();
        }
        let earlier = h.snapshot();
        h.apply(&[rename(&records[0].id, "again".into())]).unwrap();
        let last = h.snapshot();
        drop(h);
        // The base is held by `first`, `earlier` and `last`, the changes' arena by
        // `earlier` and `last`: dropping either of these frees little.
        assert!(!earlier.frees_much());
        assert!(!last.frees_much());
        drop(earlier);
        // The arena is `last`'s alone now: dropping it frees the changes, on the pool.
        assert!(last.frees_much());
        drop(last);
        // The pool drops what `last` held, its hold on the base included, and
        // `first`, the plain base, stays whole.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while Arc::strong_count(&first) > 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(Arc::strong_count(&first), 1);
        assert_eq!(first.len(), n);
        for r in records.iter().step_by(997) {
            let name = first.get(&r.id).map(|x| x.name().to_owned());
            assert_eq!(name, Some(r.name.clone()));
        }
    }
}
