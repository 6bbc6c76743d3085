//! Folding after a burst: the idle watcher.
//!
//! A fold starts on its own once the changes of the current version reach the fold
//! threshold (the base's size by default). A burst of changes that stops short of it
//! would leave every later version with its changes unfolded, and so slower to query
//! (pages several times, lookups by id over ten times a fresh build's at a million
//! resellers after 100,000 changes), until enough further changes came: at ten
//! million resellers, 100,000 changes weigh a tenth of the threshold or less. So would a
//! burst that ends while a fold runs, with more than a little applied meanwhile, and
//! one that ends while the writer replays a handed-over fold (`fold.rs`), which the
//! writer finishes only as it applies more.
//!
//! # How
//!
//! Whenever [`Hierarchy::apply`](super::Hierarchy::apply) (a refused batch too) or a
//! setter leaves a fold under way, or a current version with any change (and folds
//! not turned off), it makes sure that one watcher thread is alive. Every accepted
//! batch records the instant it was published. The watcher holds the hierarchy weakly
//! and parks until the writer has been idle for the wait ([`idle_wait`]), measured
//! from that instant (a batch applied meanwhile moves it). The wait is the configured
//! pause for a version whose change weight reaches the idle weight ([`idle_weight`], a
//! sixteenth of the fold threshold), and as many times the pause as a lighter version
//! is lighter than that: twice the pause at half the idle weight, a hundred times at a
//! hundredth. The watcher parks for at most one pause at a time and looks again, so
//! that a batch that makes the version heavier (and the wait shorter) is seen within
//! a pause. Then, under the writer lock ([`next_step`]):
//!
//! - a fold running on its thread: the watcher looks again a pause later;
//! - a fold handed over to the writer: the watcher hands its backlog back to a fold
//!   thread (`Shared::resume_fold`; not again while that thread runs), and looks
//!   again a pause later;
//! - no fold: if the current version has changes, the watcher starts the same
//!   background fold a threshold starts and looks again (to fold what is applied
//!   meanwhile); an unchanged version ends it.
//!   A version still current and still changed after three folds of it (no thread
//!   to be had, or a panic) is left as it is, and the watcher ends. A base that
//!   cannot be built (over `u32::MAX` bytes of names) weighs nothing towards a fold
//!   until its changes double (`Writer::weight_to_fold`), so the watcher ends at once.
//!
//! Pauses shorter than 10 ms count as 10 ms, so that the watcher never spins on the
//! writer lock.
//!
//! The setters and the hierarchy's drop unpark the watcher, so that a new pause, a
//! new threshold, idle folds turned off or the hierarchy gone take effect at once.
//! A watcher costs a thread, parked and waking once a pause, for as long as the current
//! version has unfolded changes (8.7 hours by default after one rename at a million
//! resellers), and a thread start per fold that left none.
//!
//! A fold costs about half a build, `O(n)`, off the writer's path. From a sixteenth of
//! the threshold on, an idle fold spends at most sixteen times the fold work per unit
//! of change that the threshold does, and only when the writer pauses; under it, a
//! version of weight `w` waits `pause · W / w` (`W` the idle weight), so the fold work
//! per second of the writer's idleness is at most what one fold per pause of a
//! version of the idle weight would spend, scaled by `w / W`. A version whose one change
//! is a rename (weight 2: its piece and the new record) at a million resellers (idle
//! weight 62,500) waits 31,250 pauses, 8.7 hours by default.
//! `set_fold_threshold(usize::MAX)` starts no fold, idle ones included; a fold under
//! way is still finished.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::fold::Fold;
use super::{lock, Shared, Writer};

/// The fold threshold over the idle weight.
const IDLE_SHARE: usize = 16;

/// The shortest pause: a shorter one counts as this, so that the watcher never spins
/// on the writer lock while changes come or a fold runs.
const LEAST_PAUSE: Duration = Duration::from_millis(10);

/// The change weight from which a version is folded once the writer pauses, for a
/// fold threshold of `fold_at`.
pub(super) fn idle_weight(fold_at: usize) -> usize {
    if fold_at == usize::MAX {
        // Folds turned off: idle ones too.
        return usize::MAX;
    }
    (fold_at / IDLE_SHARE).max(1)
}

/// How long the writer must have been idle before a version of change weight `weight`
/// is folded, for the pause `pause` and the fold threshold `fold_at` (see the module
/// docs): `None` for an unchanged version and when folds are turned off.
pub(super) fn idle_wait(pause: Duration, weight: usize, fold_at: usize) -> Option<Duration> {
    if !foldable(weight, fold_at) {
        return None;
    }
    let heavy = idle_weight(fold_at);
    if weight >= heavy {
        return Some(pause);
    }
    // pause · heavy / weight, in nanoseconds, saturating at u64::MAX (584 years).
    let nanos = pause.as_nanos().saturating_mul(heavy as u128) / weight as u128;
    Some(Duration::from_nanos(
        u64::try_from(nanos).unwrap_or(u64::MAX),
    ))
}

/// Whether a version of change weight `weight` is folded in a pause, in the end, for
/// the fold threshold `fold_at`: it has changes, and folds are not turned off.
fn foldable(weight: usize, fold_at: usize) -> bool {
    weight > 0 && fold_at != usize::MAX
}

/// What the watcher does next.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Park this long, then look again.
    Park(Duration),
    /// Stop watching: idle folds are off, or the hierarchy is gone.
    Stop,
    /// The writer paused with a handed-over fold: give it back to a fold thread.
    Resume,
    /// The writer paused for as long as the version's weight asks, with no fold under
    /// way: fold it.
    Fold,
}

/// What the watcher does at `now`, the current version weighing `weight` and the fold
/// threshold being `fold_at` (see the module docs).
fn next_step(writer: &Writer, now: Instant, weight: usize, fold_at: usize) -> Step {
    let Some(pause) = pause(writer) else {
        return Step::Stop;
    };
    let wait = match writer.fold {
        // Nothing to fold, or folds turned off: nothing to watch for.
        None => match idle_wait(pause, weight, fold_at) {
            Some(wait) => wait,
            None => return Step::Stop,
        },
        Some(_) => pause,
    };
    let since = now.saturating_duration_since(writer.last_change);
    match wait.checked_sub(since) {
        // At most a pause at a time: a batch meanwhile may shorten the wait.
        Some(left) if !left.is_zero() => Step::Park(left.min(pause)),
        _ => match writer.fold {
            None => Step::Fold,
            Some(Fold::Running(_)) => Step::Park(pause),
            Some(Fold::CatchingUp { .. }) => Step::Resume,
        },
    }
}

/// The pause the writer must make, at least [`LEAST_PAUSE`]; `None` when idle folds
/// are off or the hierarchy is gone.
fn pause(writer: &Writer) -> Option<Duration> {
    let pause = writer.idle.filter(|_| !writer.closed)?;
    Some(pause.max(LEAST_PAUSE))
}

impl Shared {
    /// After the writer published or refused a batch: makes sure a watcher is alive
    /// when a fold is under way or the current version, weighing `weight`, has
    /// changes to fold under the threshold `fold_at`.
    pub(super) fn watch_for_pause(
        self: &Arc<Self>,
        writer: &mut Writer,
        weight: usize,
        fold_at: usize,
    ) {
        let wanted = writer.fold.is_some() || foldable(weight, fold_at);
        if !wanted || writer.idle.is_none() || writer.closed || writer.watcher.is_some() {
            return;
        }
        let weak = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("reseller-hierarchy-idle".into())
            .spawn(move || watch(&weak));
        writer.watcher = spawned.ok().map(|t| t.thread().clone());
    }

    /// After a setting changed: wakes the watcher to look again, or starts one if the
    /// current version calls for it.
    pub(super) fn settings_changed(self: &Arc<Self>, writer: &mut Writer) {
        match &writer.watcher {
            Some(t) => t.unpark(),
            None => {
                let current = self.current.load();
                let fold_at = writer.threshold_for(&current);
                let weight = writer.weight_to_fold(&current);
                self.watch_for_pause(writer, weight, fold_at);
            }
        }
    }
}

/// The watcher's loop (see the module docs).
fn watch(hierarchy: &Weak<Shared>) {
    // A panic here must not leave the hierarchy believing a watcher is alive.
    let _clear = ClearOnPanic(hierarchy);
    let mut tries = Tries::default();
    // The thread of the last fold this watcher resumed: no other while it runs.
    let mut resuming: Option<std::thread::JoinHandle<()>> = None;
    loop {
        let nap = {
            let Some(shared) = hierarchy.upgrade() else {
                return; // gone with the hierarchy
            };
            let mut writer = lock(&shared.writer);
            let pause = pause(&writer).unwrap_or(LEAST_PAUSE);
            let current = shared.current.load_full();
            let fold_at = writer.threshold_for(&current);
            let weight = writer.weight_to_fold(&current);
            match next_step(&writer, Instant::now(), weight, fold_at) {
                Step::Park(nap) => nap,
                Step::Resume => {
                    if resuming.as_ref().is_none_or(|t| t.is_finished()) {
                        resuming = shared.resume_fold(&writer);
                    }
                    pause
                }
                Step::Fold => {
                    if tries.another(current.version()) {
                        shared.start_fold(&mut writer, current);
                        pause
                    } else {
                        writer.watcher = None;
                        return;
                    }
                }
                Step::Stop => {
                    writer.watcher = None;
                    return;
                }
            }
        };
        std::thread::park_timeout(nap);
    }
}

/// Folds a watcher started of one version, which stays current and changed only if
/// they failed: no thread to be had, or a panic (a base that cannot be built stops
/// the watcher through `Writer::weight_to_fold` instead).
#[derive(Default)]
struct Tries {
    version: u64,
    count: u32,
}

impl Tries {
    /// The most folds of one version.
    const MOST: u32 = 3;

    /// Whether to start another fold of `version` (and count it).
    fn another(&mut self, version: u64) -> bool {
        if self.version != version {
            *self = Tries { version, count: 0 };
        }
        self.count += 1;
        self.count <= Tries::MOST
    }
}

/// Clears the hierarchy's watcher when the watcher panics.
struct ClearOnPanic<'a>(&'a Weak<Shared>);

impl Drop for ClearOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(shared) = self.0.upgrade() {
                lock(&shared.writer).watcher = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::batch_log::BatchLog;
    use super::*;
    use crate::{Hierarchy, Record, Snapshot};

    fn writer(idle: Option<Duration>, last_change: Instant) -> Writer {
        Writer {
            fold: None,
            fold_at: None,
            generation: 0,
            idle,
            last_change,
            watcher: None,
            closed: false,
            failed_at: None,
        }
    }

    /// The watcher's next step for a version of the idle weight at a threshold of a
    /// million.
    fn heavy(w: &Writer, now: Instant) -> Step {
        next_step(w, now, 62_500, 1_000_000)
    }

    #[test]
    fn the_idle_weight_is_a_sixteenth_of_the_threshold() {
        assert_eq!(idle_weight(1_000_000), 62_500);
        assert_eq!(idle_weight(256), 16);
        // Never zero: an unchanged version is never folded.
        assert_eq!(idle_weight(4), 1);
        assert_eq!(idle_weight(1), 1);
        // Folds off, idle ones too.
        assert_eq!(idle_weight(usize::MAX), usize::MAX);
    }

    #[test]
    fn a_lighter_version_waits_as_many_pauses_as_it_is_lighter() {
        let second = Duration::from_secs(1);
        // At and over the idle weight: the pause.
        assert_eq!(idle_wait(second, 62_500, 1_000_000), Some(second));
        assert_eq!(idle_wait(second, 900_000, 1_000_000), Some(second));
        // Under it, in proportion.
        assert_eq!(idle_wait(second, 31_250, 1_000_000), Some(2 * second));
        assert_eq!(idle_wait(second, 625, 1_000_000), Some(100 * second));
        assert_eq!(
            idle_wait(second, 270_000, 10_000_000),
            Some(Duration::from_nanos(2_314_814_814))
        );
        assert_eq!(idle_wait(second, 1, 1_000_000), Some(62_500 * second));
        // Nothing to fold, or folds off.
        assert_eq!(idle_wait(second, 0, 1_000_000), None);
        assert_eq!(idle_wait(second, 5, usize::MAX), None);
        // Saturating, not overflowing.
        let long = idle_wait(Duration::MAX, 1, usize::MAX - 1).unwrap();
        assert_eq!(long, Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn the_watcher_of_a_light_version_parks_a_pause_at_a_time() {
        let t = Instant::now();
        let second = Duration::from_secs(1);
        let w = writer(Some(second), t);
        // A tenth of the idle weight: ten pauses, looked at once a pause.
        let light = |now| next_step(&w, now, 6_250, 1_000_000);
        assert_eq!(light(t), Step::Park(second));
        assert_eq!(light(t + 5 * second), Step::Park(second));
        assert_eq!(
            light(t + Duration::from_millis(9_400)),
            Step::Park(Duration::from_millis(600))
        );
        assert_eq!(light(t + 10 * second), Step::Fold);
        // Heavier by then (a batch at t): the pause from t.
        assert_eq!(heavy(&w, t + 2 * second), Step::Fold);
        // Unchanged, or folds off: the watcher stops.
        assert_eq!(next_step(&w, t + 10 * second, 0, 1_000_000), Step::Stop);
        assert_eq!(next_step(&w, t + 10 * second, 9, usize::MAX), Step::Stop);
        // A fold under way is awaited whatever the weight.
        let mut running = writer(Some(second), t);
        running.fold = Some(Fold::Running(BatchLog::default()));
        assert_eq!(
            next_step(&running, t + 10 * second, 0, 1_000_000),
            Step::Park(second)
        );
    }

    #[test]
    fn one_version_is_folded_three_times_at_most() {
        let mut tries = Tries::default();
        assert!(tries.another(7));
        assert!(tries.another(7));
        assert!(tries.another(7));
        assert!(!tries.another(7));
        assert!(!tries.another(7));
        // A new version starts afresh.
        assert!(tries.another(8));
        assert!(tries.another(7));
    }

    #[test]
    fn pauses_under_ten_milliseconds_count_as_ten() {
        let t = Instant::now();
        let w = writer(Some(Duration::ZERO), t);
        assert_eq!(heavy(&w, t), Step::Park(LEAST_PAUSE));
        assert_eq!(heavy(&w, t + LEAST_PAUSE), Step::Fold);
        let w = writer(Some(Duration::from_millis(1)), t);
        assert_eq!(
            heavy(&w, t + Duration::from_millis(4)),
            Step::Park(Duration::from_millis(6))
        );
    }

    #[test]
    fn the_watcher_parks_for_what_is_left_of_the_pause() {
        let t = Instant::now();
        let second = Duration::from_secs(1);
        let w = writer(Some(second), t);
        assert_eq!(heavy(&w, t), Step::Park(second));
        assert_eq!(
            heavy(&w, t + Duration::from_millis(300)),
            Step::Park(Duration::from_millis(700))
        );
        // Idle long enough, no fold under way.
        assert_eq!(heavy(&w, t + second), Step::Fold);
        assert_eq!(heavy(&w, t + 2 * second), Step::Fold);
        // A clock read before the last change (another thread's): the whole pause.
        let later = writer(Some(second), t + second);
        assert_eq!(heavy(&later, t), Step::Park(second));
    }

    #[test]
    fn the_watcher_stops_when_turned_off_or_closed() {
        let t = Instant::now();
        let late = t + Duration::from_secs(5);
        assert_eq!(heavy(&writer(None, t), late), Step::Stop);
        let mut w = writer(Some(Duration::from_secs(1)), t);
        w.closed = true;
        assert_eq!(heavy(&w, t), Step::Stop);
        assert_eq!(heavy(&w, late), Step::Stop);
    }

    #[test]
    fn after_the_pause_a_running_fold_is_awaited_and_a_handed_over_one_resumed() {
        let t = Instant::now();
        let late = t + Duration::from_secs(5);
        let mut w = writer(Some(Duration::from_secs(1)), t);
        w.fold = Some(Fold::Running(BatchLog::default()));
        assert_eq!(heavy(&w, late), Step::Park(Duration::from_secs(1)));
        // Before the pause is over, the pause first.
        assert_eq!(heavy(&w, t), Step::Park(Duration::from_secs(1)));
        // A pause of zero does not spin while a fold runs.
        w.idle = Some(Duration::ZERO);
        assert_eq!(heavy(&w, late), Step::Park(LEAST_PAUSE));
        let folded = Arc::new(Snapshot::build([Record::new("1", None::<&str>)]).unwrap());
        w.fold = Some(Fold::CatchingUp {
            folded,
            backlog: BatchLog::default(),
        });
        assert_eq!(heavy(&w, late), Step::Resume);
    }

    /// 200 resellers under `r0`, four children each.
    fn tree() -> Vec<Record> {
        (0..200)
            .map(|k| Record::new(format!("r{k}"), (k > 0).then(|| format!("r{}", k / 4))))
            .collect()
    }

    /// Waits until `h`'s watcher ended, for at most a minute.
    fn watcher_ends(h: &Hierarchy) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while lock(&h.shared.writer).watcher.is_some() {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// A burst that ends while a fold runs: the watcher waits for it, then folds what
    /// was applied meanwhile (the fold here stands in for one that could not be built,
    /// or was dropped), then ends.
    #[test]
    fn a_burst_ending_during_a_fold_is_folded_after_it() {
        let records = tree();
        let h = Hierarchy::new(Snapshot::build(records).unwrap());
        h.set_idle_fold(Some(Duration::from_millis(5)));
        lock(&h.shared.writer).fold = Some(Fold::Running(BatchLog::default()));
        // 40 adds weigh over 256 / 16 and under 256 (the threshold for 200).
        for k in 0..40 {
            let add = crate::Mutation::Add(Record::new(format!("n{k}"), Some("r0")));
            h.apply(&[add]).unwrap();
        }
        let weight = h.snapshot().change_weight();
        assert!((16..256).contains(&weight), "weight {weight}");
        // While the fold runs, nothing else is folded, however long the pause.
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(h.snapshot().change_weight(), weight);
        assert!(
            lock(&h.shared.writer).watcher.is_some(),
            "the watcher gave up"
        );
        // The fold ends without publishing: the watcher folds the changes.
        lock(&h.shared.writer).fold = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        while h.snapshot().change_weight() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(h.snapshot().change_weight(), 0, "not folded after the fold");
        // The 199 others from the start, and the 40 added.
        assert_eq!(h.snapshot().downline_count("r0".into()).unwrap(), 239);
        assert!(watcher_ends(&h), "the watcher did not end");
    }

    /// A fold handed over to the writer, which then pauses: the watcher gives it back
    /// to a fold thread, which publishes it (a new base, the same contents).
    #[test]
    fn a_handed_over_fold_is_finished_once_the_writer_pauses() {
        let records = tree();
        let h = Hierarchy::new(Snapshot::build(records.clone()).unwrap());
        h.set_fold_threshold(usize::MAX);
        let add = |k: usize| {
            vec![crate::Mutation::Add(Record::new(
                format!("n{k}"),
                Some(format!("r{}", k % 200)),
            ))]
        };
        h.apply(&add(0)).unwrap();
        // A fold of version 2 handed over with batches 3 to 6 to replay, as a fold
        // thread that could not catch up leaves it.
        let folded = h.snapshot().compacted().unwrap();
        let mut backlog = BatchLog::default();
        for k in 1..5 {
            h.apply(&add(k)).unwrap();
            backlog.push_back(add(k));
        }
        let before = h.snapshot();
        {
            let mut writer = lock(&h.shared.writer);
            writer.fold = Some(Fold::CatchingUp { folded, backlog });
            writer.idle = Some(Duration::from_millis(5));
            h.shared.settings_changed(&mut writer);
            assert!(writer.watcher.is_some());
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while Arc::ptr_eq(&h.snapshot(), &before) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let after = h.snapshot();
        assert!(
            !Arc::ptr_eq(&after, &before),
            "the backlog was never replayed"
        );
        assert_eq!(after.version(), before.version());
        assert!(!after.shares_base(&before));
        let ids = |s: &Snapshot| {
            let mut v: Vec<(String, Option<String>)> = s
                .iter()
                .map(|r| (r.id().to_string(), r.parent().map(|p| p.to_string())))
                .collect();
            v.sort();
            v
        };
        let mut want: Vec<(String, Option<String>)> = records
            .iter()
            .map(|r| (r.id.to_string(), r.parent.as_ref().map(|p| p.to_string())))
            .chain((0..5).map(|k| (format!("n{k}"), Some(format!("r{}", k % 200)))))
            .collect();
        want.sort();
        assert_eq!(ids(&after), want);
        after.validate().unwrap();
        assert!(lock(&h.shared.writer).fold.is_none());
        // No fold left to wait for, nothing that weighs enough: the watcher ends.
        assert!(watcher_ends(&h), "the watcher did not end");
    }
}
