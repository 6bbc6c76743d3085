//! Folding a version's changes into a new indexed base, off the writer's path.
//!
//! A fold lays one version out as a new base (`O(n)`, about half a build: see
//! `Snapshot::compacted`) on a
//! background thread of the lowest scheduling priority, then brings it level with the
//! batches the writer applied meanwhile and publishes it in place of the current
//! version (same number, same contents, faster to query). Bringing it level is where
//! the writer could wait, so it is bounded, in work counted in mutations (a batch of
//! many is not one unit: see [`BatchLog`]):
//!
//! 1. the fold thread replays them without any lock, [`REPLAY_CHUNK`] at a time, and
//!    takes the writer lock only to pick up what the writer queued meanwhile and, once
//!    nothing is left, to publish (a few pointer swaps; what they replace is handed to
//!    the pool after the lock is released): the lock is never held for a replay, nor
//!    for a spawn or a free, so a writer never waits on a thread of the lowest
//!    priority doing work. It can wait on one the scheduler preempted inside those
//!    few instructions (a mutex lends no priority): on busy cores, for up to the few
//!    milliseconds a thread at `nice` 19 may wait for its next turn (not measured
//!    apart from the stream's other stalls);
//! 2. as soon as the writer queued, during a chunk, at least as much work as the chunk
//!    replayed, the fold thread is not gaining on it (a writer that never
//!    pauses, or a fold thread starved of CPU by its low priority) and hands what it
//!    has to the writer, which replays [`CATCH_UP`] times its own batch's work per
//!    batch it applies until none is left: each apply then costs at most
//!    `1 + CATCH_UP` times its own work, never more, however large the batches
//!    queued. A writer that pauses with a backlog left would leave it
//!    there; the idle watcher (`idle.rs`) then hands it back to a fold thread
//!    ([`Shared::resume_fold`]), which goes on from step 1.
//!
//! The writer therefore never waits for a replay, nor does more than [`CATCH_UP`]
//! times its own work of replay per apply.

use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use super::batch_log::{work_of, BatchLog};
use super::{lock, Replaced, Shared, Writer};
use crate::mutation::Mutation;
use crate::snapshot::Snapshot;

/// Work (mutations, at least one a batch) the fold thread replays without the lock
/// between two looks at how much the writer queued meanwhile (4 in debug builds, so
/// that tests take every path).
pub(super) const REPLAY_CHUNK: usize = if cfg!(debug_assertions) { 4 } else { 256 };

/// Work of a handed-over fold the writer replays per unit of work of the batch it
/// applies (so that the backlog shrinks by `CATCH_UP - 1` times that batch's work per
/// apply, its own batch being queued too).
pub(super) const CATCH_UP: usize = 2;

/// A fold under way, as the writer sees it.
pub(super) enum Fold {
    /// The fold thread is building the base or replaying: the batches applied since
    /// the version it folds, which it will replay.
    Running(BatchLog),
    /// The fold thread could not catch up with the writer and handed over: `folded`
    /// holds the changes up to the front of `backlog` (into its first batch, if that
    /// was replayed in part); the writer replays the rest, [`CATCH_UP`] times its own
    /// work per apply.
    CatchingUp {
        folded: Arc<Snapshot>,
        backlog: BatchLog,
    },
}

impl Shared {
    /// Starts the background fold of `snap` (the version just published) on a thread
    /// of its own.
    pub(super) fn start_fold(self: &Arc<Self>, writer: &mut Writer, snap: Arc<Snapshot>) {
        writer.fold = Some(Fold::Running(BatchLog::default()));
        let spawned = self.fold_thread(writer.generation, move |shared, generation| {
            // The fold is this thread's from the start.
            let _drop = DropOnPanic(shared, generation);
            let weight = snap.change_weight();
            let built = on_fold_pool(move || shared.build_base(&snap));
            shared.after_build(built, weight, generation);
        });
        if spawned.is_none() {
            // No thread to be had: no fold now; the next apply tries again.
            writer.fold = None;
        }
    }

    /// Folds the current version on this thread, at its priority, as a background
    /// fold does (what [`Hierarchy::compact`](crate::Hierarchy::compact) runs): the
    /// writer goes on meanwhile and queues its batches, which are replayed as a
    /// fold thread replays them. A fold under way is dropped for this one.
    pub(super) fn fold_here(&self) {
        let (snap, generation, dropped) = {
            let mut writer = lock(&self.writer);
            writer.generation += 1;
            let dropped = writer.fold.replace(Fold::Running(BatchLog::default()));
            (self.current.load_full(), writer.generation, dropped)
        };
        // The fold is this thread's from here on; the batches queued for one dropped
        // here are freed with the lock released.
        let _drop = DropOnPanic(self, generation);
        drop(dropped);
        self.after_build(self.build_base(&snap), snap.change_weight(), generation);
    }

    /// The new base of `snap` (`None` if it cannot be built: see
    /// `Snapshot::compacted`).
    fn build_base(&self, snap: &Arc<Snapshot>) -> Option<Arc<Snapshot>> {
        #[cfg(test)]
        {
            use std::sync::atomic::Ordering::Relaxed;
            self.folds_built.fetch_add(1, Relaxed);
            if self.fail_folds.load(Relaxed) {
                return None;
            }
        }
        snap.compacted()
    }

    /// After the build of the fold numbered `generation` of a version weighing
    /// `weight`: brings the new base level and publishes it, or, if it could not be
    /// built, ends the fold.
    fn after_build(&self, built: Option<Arc<Snapshot>>, weight: usize, generation: u64) {
        match built {
            Some(folded) => self.catch_up(folded, BatchLog::default(), generation),
            None => self.fold_failed(generation, weight),
        }
    }

    /// Ends the fold numbered `generation` of a version weighing `weight`, whose base
    /// could not be built: no version is published (replaying the queued batches
    /// onto the version folded would only copy them), and none is folded by itself
    /// again until the changes weigh twice as much (`Writer::failed_at`).
    fn fold_failed(&self, generation: u64, weight: usize) {
        let mut writer = lock(&self.writer);
        if writer.generation != generation {
            return;
        }
        let dropped = writer.fold.take();
        writer.failed_at = Some(weight);
        // The batches it queued are freed with the lock released.
        drop(writer);
        drop(dropped);
    }

    /// Takes a fold handed over to the writer back to a thread of its own, which
    /// replays the backlog as a fold thread does: for a writer that paused, which
    /// replays a backlog only as it applies more (the idle watcher calls this). The
    /// thread takes the fold over when it starts, so that if no thread can be had,
    /// or the writer finished the fold meanwhile, nothing changes.
    pub(super) fn resume_fold(self: &Arc<Self>, writer: &Writer) -> Option<JoinHandle<()>> {
        self.fold_thread(writer.generation, |shared, generation| {
            let (folded, backlog) = {
                let mut writer = lock(&shared.writer);
                if writer.generation != generation {
                    return;
                }
                match writer.fold.take() {
                    Some(Fold::CatchingUp { folded, backlog }) => {
                        writer.fold = Some(Fold::Running(BatchLog::default()));
                        (folded, backlog)
                    }
                    other => {
                        writer.fold = other;
                        return;
                    }
                }
            };
            // The fold is this thread's from here on.
            let _drop = DropOnPanic(shared, generation);
            shared.catch_up(folded, backlog, generation);
        })
    }

    /// Runs `work` on a fold thread of the lowest priority for the fold numbered
    /// `generation`; `None` if no thread could be had.
    fn fold_thread(
        self: &Arc<Self>,
        generation: u64,
        work: impl FnOnce(&Shared, u64) + Send + 'static,
    ) -> Option<JoinHandle<()>> {
        let shared = self.clone();
        std::thread::Builder::new()
            .name("reseller-hierarchy-fold".into())
            .spawn(move || {
                lowest_priority();
                // What this thread drops (the version it folds, the base it built
                // when a newer one overtook it) it frees itself, at its low priority.
                crate::snapshot::free_in_place_on_this_thread();
                work(&shared, generation);
            })
            .ok()
    }

    /// Brings `folded`, a fold numbered `generation`, level with the batches
    /// `pending` and those the writer queues meanwhile, and publishes it (see the
    /// module docs).
    fn catch_up(&self, mut folded: Arc<Snapshot>, mut pending: BatchLog, generation: u64) {
        // How much work the last chunk replayed (none before the first).
        let mut replayed: Option<usize> = None;
        loop {
            let mut writer = lock(&self.writer);
            if writer.generation != generation {
                return; // a newer base was published meanwhile
            }
            let fresh = match writer.fold.as_mut() {
                Some(Fold::Running(log)) => std::mem::take(log),
                _ => return,
            };
            let outpaced = replayed.is_some_and(|done| fresh.work() >= done);
            // Moves the chunks, not the batches: the writer waits on this lock.
            pending.append(fresh);
            if pending.is_empty() {
                let replaced = self.replace_if_level(&mut writer, folded);
                drop(writer);
                replaced.free();
                return;
            }
            if outpaced {
                writer.fold = Some(Fold::CatchingUp {
                    folded,
                    backlog: pending,
                });
                return;
            }
            drop(writer);
            let before = pending.work();
            match replay(folded, &mut pending, REPLAY_CHUNK) {
                Some(f) => folded = f,
                None => {
                    let mut writer = lock(&self.writer);
                    let dropped = if writer.generation == generation {
                        writer.fold.take()
                    } else {
                        None
                    };
                    // Its queued batches are freed with the lock released.
                    drop(writer);
                    drop(dropped);
                    return;
                }
            }
            replayed = Some(before - pending.work());
        }
    }

    /// The writer's part of a fold, after it published `batch`: queues the batch for
    /// a running fold, or replays [`CATCH_UP`] times the batch's work of a
    /// handed-over one and publishes it once it is level.
    pub(super) fn fold_step(&self, writer: &mut Writer, batch: &[Mutation]) {
        match writer.fold.take() {
            None => {}
            Some(Fold::Running(mut log)) => {
                log.push_back(batch.to_vec());
                writer.fold = Some(Fold::Running(log));
            }
            Some(Fold::CatchingUp {
                mut folded,
                mut backlog,
            }) => {
                backlog.push_back(batch.to_vec());
                let budget = CATCH_UP * work_of(batch);
                match replay(folded, &mut backlog, budget) {
                    Some(f) => folded = f,
                    None => return, // dropped; a later fold starts afresh
                }
                if backlog.is_empty() {
                    // The writer's own thread: it may hand them to the pool under
                    // its lock.
                    self.replace_if_level(writer, folded).free();
                } else {
                    writer.fold = Some(Fold::CatchingUp { folded, backlog });
                }
            }
        }
    }

    /// Publishes `folded` in place of the current version if it has the current
    /// version's number (it always does when every batch was replayed); otherwise
    /// drops the fold. What it replaced, or the fold, is the caller's to free once
    /// the lock is released.
    fn replace_if_level(&self, writer: &mut Writer, folded: Arc<Snapshot>) -> Replaced {
        if folded.version() == self.current.load().version() {
            self.replace(writer, folded)
        } else {
            writer.fold = None;
            Replaced(Some(folded), None)
        }
    }
}

/// Drops the fold numbered `.1` when its thread panics, if it is still the current one.
///
/// Made once the thread owns the fold, and before any writer lock the thread takes,
/// so that it drops after that lock is released (a poisoned lock is still usable).
struct DropOnPanic<'a>(&'a Shared, u64);

impl Drop for DropOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut writer = lock(&self.0.writer);
            let dropped = if writer.generation == self.1 {
                writer.fold.take()
            } else {
                None
            };
            // The batches it queued are freed with the lock released.
            drop(writer);
            drop(dropped);
        }
    }
}

/// At most `budget` work of `log` replayed onto `folded`, a batch at a time or the
/// part of one the budget leaves (at least one mutation, or one empty batch); the
/// version number moves on as each batch ends. Every batch was accepted on the same
/// contents, so it (and each part of it: a batch is its mutations in order) is
/// accepted again; if one were not, `None`, and the current version simply stays as
/// it is.
fn replay(mut folded: Arc<Snapshot>, log: &mut BatchLog, budget: usize) -> Option<Arc<Snapshot>> {
    let mut left = budget;
    while left > 0 {
        let Some((part, ends)) = log.front(left) else {
            break;
        };
        let (taken, cost) = (part.len(), work_of(part));
        let mut next = folded.with_changes(part).ok()?;
        next.set_version(folded.version() + u64::from(ends));
        folded = Arc::new(next);
        log.consume(taken);
        left = left.saturating_sub(cost);
    }
    Some(folded)
}

/// Runs `work` on the fold pool: threads of their own at the lowest scheduling
/// priority (see [`lowest_priority`]), one per core, started on the first fold, which
/// run the parallel parts of a fold's build. On rayon's global pool they would run at
/// the default priority, taking cores from the writer and readers, wait behind the
/// application's own jobs there, and could deadlock with a job blocked on the writer
/// lock. Runs `work` on this thread if no pool can be had.
fn on_fold_pool<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("reseller-hierarchy-fold-{i}"))
            .start_handler(|_| lowest_priority())
            .build()
            .ok()
    });
    match pool {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// Lowers this thread's scheduling priority as far as it goes (`nice` 19 on Linux,
/// which any thread may do to itself): a fold is throughput work, and on a machine
/// whose cores are all busy it must not take a core from the writer or a reader for a
/// scheduler slice (measured at a million resellers, two cores: the stream's p99.9
/// went from about 4 ms to 0.2 ms). Elsewhere, or if the call fails, the fold runs
/// at the default priority.
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        // A thread id names just that thread to setpriority(2) on Linux.
        let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19);
    }
}

#[cfg(all(test, feature = "proptest"))]
mod tests {
    use super::*;
    use crate::testing::Model;
    use crate::{FilterFlags, Hierarchy, Order, PageRequest, Principal, Record, ResellerId};

    /// Every reseller of `s` in pre-order, a page of 1,000 at a time.
    fn listing(s: &Snapshot) -> Vec<ResellerId> {
        let mut out = Vec::new();
        for number in 1.. {
            let req = PageRequest::new(number, 1000).unwrap();
            let page = s
                .eligible_parents(&Principal::admin(), FilterFlags::NONE, Order::PreOrder, req)
                .unwrap();
            out.extend(page.iter().map(|r| r.id().to_owned()));
            if !page.has_next() {
                return out;
            }
        }
        unreachable!()
    }

    /// Twenty resellers, `r{k}` under `r{k / 3}`.
    fn twenty() -> Vec<Record> {
        (0..20)
            .map(|k| Record::new(format!("r{k}"), (k > 0).then(|| format!("r{}", k / 3))))
            .collect()
    }

    /// The current version once `done` holds of it (a background fold published),
    /// waiting at most 30 seconds.
    fn published(h: &Hierarchy, done: impl Fn(&Snapshot) -> bool) -> Arc<Snapshot> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let current = h.snapshot();
            if done(&current) {
                return current;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no fold was published"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Batch `i`: an add under an earlier reseller, or every third a move of one.
    fn batch(i: usize) -> Vec<Mutation> {
        let id = |k: usize| ResellerId::from(format!("r{k}"));
        if i % 3 == 2 && i > 8 {
            vec![Mutation::Move {
                id: id(i - 1),
                parent: Some(id(i / 4)),
            }]
        } else {
            vec![Mutation::Add(Record::new(
                format!("r{}", i + 20),
                Some(id(i / 2)),
            ))]
        }
    }

    /// Applies `batch` to `h` and to `model`; the version it makes, checked against
    /// the model and validated.
    fn apply_checked(h: &Hierarchy, model: &mut Model, batch: &[Mutation]) -> Arc<Snapshot> {
        h.apply(batch).unwrap();
        model.apply(batch).unwrap();
        let current = h.snapshot();
        assert_eq!(
            listing(&current),
            model.all(Order::PreOrder),
            "after {batch:?}"
        );
        current.validate().unwrap();
        current
    }

    /// A fold handed over to the writer: each apply replays at most `CATCH_UP`
    /// batches of the backlog, every version still equals the model, and the fold is
    /// published, in place of the current version, once the backlog is empty.
    #[test]
    fn the_writer_catches_up_a_handed_over_fold() {
        let records = twenty();
        let mut model = Model::new(&records).unwrap();
        let h = Hierarchy::new(Snapshot::build(records).unwrap());
        h.set_fold_threshold(usize::MAX);
        for i in 0..4 {
            h.apply(&batch(i)).unwrap();
            model.apply(&batch(i)).unwrap();
        }
        let folded = h.snapshot().compacted().unwrap();
        let mut backlog = BatchLog::default();
        for i in 4..14 {
            h.apply(&batch(i)).unwrap();
            model.apply(&batch(i)).unwrap();
            backlog.push_back(batch(i));
        }
        let generation = {
            let mut writer = lock(&h.shared.writer);
            writer.fold = Some(Fold::CatchingUp {
                folded: folded.clone(),
                backlog,
            });
            writer.generation
        };
        let mut applies = 0;
        for i in 14..40 {
            let current = apply_checked(&h, &mut model, &batch(i));
            applies += 1;
            let writer = lock(&h.shared.writer);
            match &writer.fold {
                Some(Fold::CatchingUp { folded, backlog }) => {
                    // Net one batch of the backlog per apply, none skipped.
                    assert_eq!(backlog.len(), 10 - applies * (CATCH_UP - 1));
                    assert_eq!(folded.version() + backlog.len() as u64, current.version());
                    assert_eq!(writer.generation, generation);
                    assert_eq!(current.base_len(), 20, "still over the first base");
                }
                Some(Fold::Running(_)) => panic!("no fold was started"),
                None => {
                    // Published in place of the current version: a new base.
                    assert_eq!(applies, 10 / (CATCH_UP - 1));
                    assert_eq!(writer.generation, generation + 1);
                    assert_eq!(current.base_len(), folded.len(), "over the folded base");
                    break;
                }
            }
        }
        assert_eq!(applies, 10);
    }

    /// A backlog holding one large batch is replayed a part at a time: each
    /// one-mutation apply replays `CATCH_UP` mutations of it, not the whole batch, the
    /// version numbers stay in step (a batch counts until all of it is replayed), and
    /// every version equals the model throughout.
    #[test]
    fn a_large_batch_in_the_backlog_is_replayed_a_part_at_a_time() {
        let records = twenty();
        let mut model = Model::new(&records).unwrap();
        let h = Hierarchy::new(Snapshot::build(records).unwrap());
        h.set_fold_threshold(usize::MAX);
        h.set_idle_fold(None);
        let pre = [Mutation::Add(Record::new("pre", Some("r0")))];
        h.apply(&pre).unwrap();
        model.apply(&pre).unwrap();
        let folded = h.snapshot().compacted().unwrap();
        assert_eq!(folded.base_len(), 21, "a new base");
        let big: Vec<Mutation> = (0..30)
            .map(|k| Mutation::Add(Record::new(format!("big{k}"), Some(format!("r{}", k % 20)))))
            .collect();
        h.apply(&big).unwrap();
        model.apply(&big).unwrap();
        let mut backlog = BatchLog::default();
        backlog.push_back(big);
        lock(&h.shared.writer).fold = Some(Fold::CatchingUp {
            folded: folded.clone(),
            backlog,
        });
        let mut applies = 0;
        for i in 0..40 {
            let current = apply_checked(&h, &mut model, &batch(i));
            applies += 1;
            let writer = lock(&h.shared.writer);
            match &writer.fold {
                Some(Fold::CatchingUp { folded, backlog }) => {
                    assert_eq!(backlog.work(), 30 - applies * (CATCH_UP - 1));
                    assert_eq!(folded.version() + backlog.len() as u64, current.version());
                    assert_eq!(current.base_len(), 20, "still over the first base");
                }
                Some(Fold::Running(_)) => panic!("no fold was started"),
                None => {
                    assert_eq!(applies, 30 / (CATCH_UP - 1));
                    assert_eq!(current.base_len(), 21, "over the folded base");
                    break;
                }
            }
        }
        assert_eq!(applies, 30);
    }

    /// `compact` while a writer applies batches on another thread: the writer is not
    /// held up (its batches are queued and replayed onto the new base), every version
    /// it publishes equals the model, and the last compaction's new base is
    /// published, by `compact`, the writer or the idle watcher.
    #[test]
    fn compact_folds_while_the_writer_goes_on() {
        // Big enough that a fold's build takes a while in a debug build.
        let records: Vec<Record> = (0..5000)
            .map(|k| Record::new(format!("r{k}"), (k > 0).then(|| format!("r{}", k / 3))))
            .collect();
        let model = Model::new(&records).unwrap();
        let h = Arc::new(Hierarchy::new(Snapshot::build(records).unwrap()));
        h.set_fold_threshold(usize::MAX);
        let (started, go) = std::sync::mpsc::channel();
        let writer = {
            let h = h.clone();
            std::thread::spawn(move || {
                let mut model = model;
                // Adds under the first twenty, and every third a move of the reseller
                // just added (a leaf) under another of them: valid however long.
                let steady = |i: usize| {
                    let id = |k: usize| ResellerId::from(format!("r{k}"));
                    if i % 3 == 2 {
                        vec![Mutation::Move {
                            id: id(5000 + i - 1),
                            parent: Some(id(i * 7 % 20)),
                        }]
                    } else {
                        vec![Mutation::Add(Record::new(
                            id(5000 + i),
                            Some(id(i * 3 % 20)),
                        ))]
                    }
                };
                for i in 0..200 {
                    if i == 50 {
                        started.send(()).unwrap();
                    }
                    h.apply(&steady(i)).unwrap();
                    model.apply(&steady(i)).unwrap();
                    let current = h.snapshot();
                    assert_eq!(listing(&current), model.all(Order::PreOrder), "after {i}");
                }
                model
            })
        };
        go.recv().unwrap();
        for _ in 0..3 {
            h.compact();
        }
        let model = writer.join().unwrap();
        let last = published(&h, |_| lock(&h.shared.writer).fold.is_none());
        assert!(
            last.base_len() > 5000,
            "a new base, with the first fifty batches"
        );
        assert_eq!(listing(&last), model.all(Order::PreOrder));
        last.validate().unwrap();
    }

    /// Every update of one reseller leaves a superseded record in the record log,
    /// which only a fold reclaims: they count towards the change weight, so they
    /// start one, and the fold leaves a version with none.
    #[test]
    fn superseded_records_weigh_towards_a_fold() {
        let records = twenty();
        let h = Hierarchy::new(Snapshot::build(records).unwrap());
        h.set_fold_threshold(usize::MAX);
        let rename = |i: usize| {
            [Mutation::Update {
                id: ResellerId::from("r3"),
                name: Some(format!("name {i}")),
                capabilities: None,
                economic_enabled: None,
                attributes: None,
            }]
        };
        for i in 0..300 {
            h.apply(&rename(i)).unwrap();
        }
        let changed = h.snapshot();
        assert!(
            changed.change_weight() >= 300,
            "{}",
            changed.change_weight()
        );
        assert_eq!(changed.get("r3".into()).unwrap().name(), "name 299");
        h.set_fold_threshold(256);
        h.apply(&rename(300)).unwrap();
        let folded = published(&h, |s| s.change_weight() < 256);
        assert_eq!(folded.get("r3".into()).unwrap().name(), "name 300");
        folded.validate().unwrap();
    }

    /// A refused batch leaves the records it pushed before its refusal in the record
    /// log: they weigh towards a fold, and refusals start one, so that a stream of
    /// refused batches cannot grow the log without bound.
    #[test]
    fn refused_batches_weigh_towards_a_fold() {
        let records = twenty();
        let h = Hierarchy::new(Snapshot::build(records).unwrap());
        h.set_fold_threshold(256);
        // A changed version, whose log the refused batches push into.
        h.apply(&[Mutation::Add(Record::new("kept", Some("r0")))])
            .unwrap();
        for i in 0..300 {
            let batch = [
                Mutation::Add(Record::new(format!("new{i}"), Some("r1"))),
                Mutation::Add(Record::new("r2", Some("r1"))), // a duplicate: refused
            ];
            assert!(h.apply(&batch).is_err());
        }
        let folded = published(&h, |s| s.change_weight() == 0);
        assert_eq!(folded.len(), 21);
        assert!(folded.get("kept".into()).is_some());
        assert!(folded.get("new0".into()).is_none());
        folded.validate().unwrap();
    }

    /// A fold whose base cannot be built (over `u32::MAX` bytes of names, in real
    /// use) publishes nothing, and none is started again until the changes weigh
    /// twice as much: a few builds over hundreds of applies, where every apply after
    /// the first failure started another build of `O(n)`. Once a base can be built
    /// again, a fold publishes it.
    #[test]
    fn a_fold_that_cannot_be_built_waits_for_twice_the_changes() {
        use std::sync::atomic::Ordering::Relaxed;
        let records = twenty();
        let mut model = Model::new(&records).unwrap();
        let h = Hierarchy::new(Snapshot::build(records).unwrap());
        h.set_idle_fold(None);
        h.set_fold_threshold(16);
        h.shared.fail_folds.store(true, Relaxed);
        let settled = |h: &Hierarchy| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while lock(&h.shared.writer).fold.is_some() {
                assert!(std::time::Instant::now() < deadline, "the fold never ended");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        };
        let add = |i: usize| {
            [Mutation::Add(Record::new(
                format!("a{i}"),
                Some(format!("r{}", i % 20)),
            ))]
        };
        for i in 0..300 {
            let current = apply_checked(&h, &mut model, &add(i));
            assert_eq!(current.base_len(), 20, "a failed fold published a base");
            settled(&h);
        }
        let weight = h.snapshot().change_weight();
        let built = h.shared.folds_built.load(Relaxed);
        // Tried at 16 and then at each doubling of the weight at most.
        let most = 1 + (usize::BITS - (weight / 16).leading_zeros()) as usize;
        assert!(
            built >= 2 && built <= most,
            "{built} builds for a weight of {weight}"
        );
        // Buildable again: the next fold (at twice the last failure) publishes a base.
        h.shared.fail_folds.store(false, Relaxed);
        for i in 300..3000 {
            let current = apply_checked(&h, &mut model, &add(i));
            settled(&h);
            if h.snapshot().base_len() > 20 {
                break;
            }
            assert!(
                current.change_weight() < 4 * weight,
                "no fold after the weight doubled"
            );
        }
        let current = h.snapshot();
        assert!(current.base_len() > 20, "never folded");
        assert_eq!(listing(&current), model.all(Order::PreOrder));
    }
}
