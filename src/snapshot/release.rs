//! Releasing a snapshot: what a large base, or large changes over one, frees when its
//! last holder lets go is handed to the rayon pool, so that a thread dropping a
//! snapshot does not free them itself.
//!
//! # How
//!
//! Dropping a [`Snapshot`] frees what no other snapshot shares. Usually that is
//! little: a changed version shares its base and all but a few paths of its
//! persistent structures with the versions before and after it. Two kinds of drop
//! free much, and either can happen on any thread, a reader's included:
//!
//! - the last holder of a base frees its columns and indexes (about 2 ms a million
//!   resellers: `base_drop` in `perf_report -- free`);
//! - the last versions over a base that a fold replaced free every piece, map node,
//!   record and text block the changes made (16 ms for 100,000 mutations at a
//!   million: `changes_drop`), shared between them in whatever way the versions
//!   shared their paths.
//!
//! So [`Drop`] hands a snapshot's contents to the pool (it swaps them for a shared
//! empty snapshot and moves them into a rayon task) when it is:
//!
//! - a base of at least [`LARGE_BASE`] resellers: only its last holder drops a
//!   `Snapshot` at all, so this is exact;
//! - a version whose changes weigh at least [`LARGE_CHANGES`] over a base that a fold
//!   or a reload has replaced (a flag on the base's `Core`, which
//!   [`Hierarchy`](crate::Hierarchy) sets when it publishes the new base, before it
//!   hands the replaced versions to the pool): none of these is ever current again,
//!   so every one of them goes to the pool, whichever of them frees what;
//! - such a version over a base not replaced (a hierarchy dropped, or versions
//!   made by hand) that holds the base's record arena alone, so that it is the last
//!   changed version over it. Two such versions dropped by two threads at the same
//!   instant may each see the other and free in place: this case is best effort.
//!
//! Threads of a rayon pool free in place (the pool's tasks end there), and so does
//! a thread that asked to with [`free_in_place_on_this_thread`]: the background fold,
//! at the lowest scheduling priority, frees the version it folded there rather than
//! on the pool's threads at the default priority.

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};

use super::overlay::Overlay;
use super::{Repr, Snapshot};

/// Resellers from which a base is freed on the pool (about 0.1 ms of frees at this
/// size).
const LARGE_BASE: u32 = 1 << 16;

/// Change weight from which the versions over a base are freed on the pool (about
/// 0.6 ms of frees at this weight).
const LARGE_CHANGES: usize = 1 << 12;

thread_local! {
    /// Whether this thread frees what it drops itself.
    static FREES_IN_PLACE: Cell<bool> = const { Cell::new(false) };
}

#[cfg(test)]
thread_local! {
    /// How many snapshots this thread handed to the pool.
    static HANDED: Cell<usize> = const { Cell::new(0) };
}

/// Makes this thread free what it drops itself, large or not.
pub(crate) fn free_in_place_on_this_thread() {
    FREES_IN_PLACE.with(|f| f.set(true));
}

/// Builds what a snapshot handed to the pool leaves behind ([`EMPTY`]), if not built
/// yet. A hierarchy does this when it is made, so that no drop under its writer
/// lock builds it: building it waits for a job on rayon's global pool, which would
/// deadlock if every worker of that pool waited for the lock.
pub(crate) fn prepare_release() {
    LazyLock::force(&EMPTY);
}

/// Contents to leave in a snapshot whose own were moved to the pool: an empty base
/// and empty changes, shared, so that leaving them costs two reference counts. `None`
/// if the empty base could not be built (it always can), and then nothing is moved.
static EMPTY: LazyLock<Option<(Arc<Snapshot>, Arc<Overlay>)>> = LazyLock::new(|| {
    let base = Snapshot::build(std::iter::empty()).ok()?;
    Some((Arc::new(base), Arc::new(Overlay::default())))
});

impl Drop for Snapshot {
    fn drop(&mut self) {
        if !self.frees_much()
            || FREES_IN_PLACE.with(Cell::get)
            || rayon::current_thread_index().is_some()
        {
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
        #[cfg(test)]
        HANDED.with(|h| h.set(h.get() + 1));
        rayon::spawn(move || drop(contents));
    }
}

impl Snapshot {
    /// Marks this version's base as replaced by `next`'s (by a fold or a reload),
    /// unless `next` is over the same base: from then on every version over it whose
    /// changes are large is freed on the pool (see the module docs).
    pub(crate) fn retire_for(&self, next: &Snapshot) {
        if !std::ptr::eq(self.core(), next.core()) {
            self.core().retired.store(true, Ordering::Release);
        }
    }

    /// Whether a fold or a reload replaced this version's base.
    fn retired(&self) -> bool {
        self.core().retired.load(Ordering::Acquire)
    }

    /// Whether dropping this snapshot, by its last holder, is to be handed to the
    /// pool (see the module docs).
    fn frees_much(&self) -> bool {
        match &self.repr {
            Repr::Plain(core) => core.n() >= LARGE_BASE,
            Repr::Changed { base, delta } => {
                delta.weight() >= LARGE_CHANGES
                    && (base.retired()
                        || (Arc::strong_count(delta) == 1 && delta.holds_log_alone()))
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

    /// A tree of `n` resellers, four children each.
    fn tree(n: usize) -> Vec<Record> {
        (0..n)
            .map(|i| {
                let parent = (i > 0).then(|| ((i - 1) / 4).to_string());
                Record::new(i.to_string(), parent).name(format!("R{i}"))
            })
            .collect()
    }

    /// How many snapshots dropping `f`'s result hands to the pool from this thread.
    fn handed(drop_them: impl FnOnce()) -> usize {
        let before = HANDED.with(Cell::get);
        drop_them();
        HANDED.with(Cell::get) - before
    }

    /// A hierarchy over `records`, folds off, after `k` renames; its first version.
    fn changed(records: &[Record], k: usize) -> (Hierarchy, Arc<Snapshot>) {
        let h = Hierarchy::new(Snapshot::build(records.to_vec()).unwrap());
        h.set_fold_threshold(usize::MAX);
        let first = h.snapshot();
        for (i, r) in records.iter().cycle().take(k).enumerate() {
            h.apply(&[rename(&r.id, format!("renamed {i}"))]).unwrap();
        }
        (h, first)
    }

    #[test]
    fn bases_from_the_large_size_on_go_to_the_pool() {
        let small = Snapshot::build(tree(LARGE_BASE as usize - 1)).unwrap();
        assert_eq!(handed(|| drop(small)), 0);
        let large = Snapshot::build(tree(LARGE_BASE as usize)).unwrap();
        assert_eq!(handed(|| drop(large)), 1);
    }

    #[test]
    fn the_last_version_of_large_changes_goes_to_the_pool() {
        let records = tree(1000);
        // Each rename pushes a record and cuts no piece: the weight is one piece, the
        // renames, and nothing removed.
        let (h, first) = changed(&records, LARGE_CHANGES - 1);
        let last = h.snapshot();
        assert_eq!(last.change_weight(), LARGE_CHANGES);
        drop(h);
        // Held by `last` alone, at the threshold.
        assert_eq!(handed(|| drop(last)), 1);
        // One change less: freed in place.
        let (h, _) = changed(&records, LARGE_CHANGES - 2);
        let last = h.snapshot();
        assert_eq!(last.change_weight(), LARGE_CHANGES - 1);
        drop(h);
        assert_eq!(handed(|| drop(last)), 0);
        // A version another one over the same base still shares the arena with is
        // freed in place, the other one then on the pool.
        let (h, _) = changed(&records, LARGE_CHANGES);
        let earlier = h.snapshot();
        h.apply(&[rename(&records[0].id, "again".into())]).unwrap();
        let last = h.snapshot();
        drop(h);
        assert_eq!(handed(|| drop(earlier)), 0);
        assert_eq!(handed(|| drop(last)), 1);
        // The base, held by `first` alone now, is small: in place.
        assert_eq!(handed(|| drop(first)), 0);
    }

    #[test]
    fn every_large_version_over_a_replaced_base_goes_to_the_pool() {
        let records = tree(1000);
        let (h, first) = changed(&records, LARGE_CHANGES);
        let earlier = h.snapshot();
        h.apply(&[rename(&records[0].id, "again".into())]).unwrap();
        let last = h.snapshot();
        // Before the fold, `earlier` shares the arena with `last`: in place.
        assert!(!earlier.frees_much());
        h.compact();
        let now = h.snapshot();
        drop(h);
        // The hierarchy handed the versions it replaced to the pool: wait until the
        // pool let go of them, so that these are the last holders.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while (Arc::strong_count(&earlier) > 1 || Arc::strong_count(&last) > 1)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(
            Arc::strong_count(&earlier),
            1,
            "the pool kept a version 10 s"
        );
        assert_eq!(Arc::strong_count(&last), 1, "the pool kept a version 10 s");
        // Both go to the pool, whichever drops first.
        assert_eq!(handed(|| drop(earlier)), 1);
        assert_eq!(handed(|| drop(last)), 1);
        // The base itself is small, and whole until its last holder lets go.
        assert_eq!(first.len(), records.len());
        for r in records.iter().step_by(97) {
            let name = first.get(&r.id).map(|x| x.name().to_owned());
            assert_eq!(name, Some(r.name.clone()));
        }
        // The folded version reads the renames.
        let name = now.get(&records[0].id).map(|x| x.name().to_owned());
        assert_eq!(name, Some("again".into()));
    }

    #[test]
    fn only_a_base_replaced_by_another_is_retired() {
        let records = tree(100);
        let (h, first) = changed(&records, 10);
        h.compact();
        // Folded: the first base is replaced, the new one is current.
        assert!(first.retired());
        let folded = h.snapshot();
        assert!(!folded.retired());
        // Nothing to fold: the current version is handed back, and stays current.
        h.compact();
        assert!(Arc::ptr_eq(&folded, &h.snapshot()));
        assert!(!h.snapshot().retired());
        // A reload replaces the base.
        let reloaded = Snapshot::build(tree(10)).unwrap();
        h.reload_at(reloaded, crate::Position::new(1));
        assert!(folded.retired());
        assert!(!h.snapshot().retired());
    }

    #[test]
    fn pool_threads_and_threads_that_ask_free_in_place() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let large = Snapshot::build(tree(LARGE_BASE as usize)).unwrap();
        assert_eq!(pool.install(|| handed(|| drop(large))), 0);
        let large = Snapshot::build(tree(LARGE_BASE as usize)).unwrap();
        let on_a_thread = std::thread::spawn(move || {
            free_in_place_on_this_thread();
            handed(|| drop(large))
        });
        assert_eq!(on_a_thread.join().unwrap(), 0);
    }
}
