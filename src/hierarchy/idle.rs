//! Folding after a burst: the idle watcher.
//!
//! A fold starts on its own once the changes of the current version reach the fold
//! threshold (the base's size by default). A burst of changes that stops short of it
//! would leave every later version with its changes unfolded, and so slower to query
//! (pages several times, lookups by id over ten times a fresh build's at a million
//! resellers after 100,000 changes), until enough further changes came.
//!
//! # How
//!
//! When [`Hierarchy::apply`](super::Hierarchy::apply) publishes a version whose change
//! weight reaches [`idle_weight`] (a sixteenth of the fold threshold) and no fold is
//! under way, it notes the time and makes sure one watcher thread is alive. The
//! watcher holds the hierarchy only weakly and sleeps until the writer has been idle
//! for the configured time, measured from the last batch applied (a batch applied
//! meanwhile moves that instant, and the watcher sleeps again for what is left).
//! Then, under the writer lock, if no fold is under way and the current version
//! still weighs that much, it starts the same background fold a threshold starts
//! (`Shared::start_fold`: lowest priority, replay bounded as the fold module says),
//! and ends. So a watcher costs a sleeping thread while changes come, and one thread
//! start per burst.
//!
//! A fold costs about half a build, `O(n)`, off the writer's path. Started from a
//! sixteenth of the threshold on, it spends at most sixteen times the fold work per
//! unit of change that the threshold does, and only when the writer pauses.
//! `set_fold_threshold(usize::MAX)` turns folds off, idle ones included.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::{lock, Shared, Writer};

/// The fold threshold over the idle weight.
const IDLE_SHARE: usize = 16;

/// The change weight from which a version is folded once the writer pauses, for a
/// fold threshold of `fold_at`.
pub(super) fn idle_weight(fold_at: usize) -> usize {
    if fold_at == usize::MAX {
        // Folds turned off: idle ones too.
        return usize::MAX;
    }
    (fold_at / IDLE_SHARE).max(1)
}

impl Shared {
    /// Called by the writer after it published a version of `weight` (at least the
    /// idle weight) with no fold under way: notes the time and makes sure a watcher
    /// is alive.
    pub(super) fn note_idle_candidate(self: &Arc<Self>, writer: &mut Writer) {
        if writer.idle.is_none() || writer.watching {
            return;
        }
        let weak = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("reseller-hierarchy-idle".into())
            .spawn(move || watch(&weak));
        writer.watching = spawned.is_ok();
    }
}

/// The watcher's loop (see the module docs).
fn watch(shared: &Weak<Shared>) {
    loop {
        let wait = {
            // Gone with the hierarchy.
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let mut writer = lock(&shared.writer);
            match rest(&writer, Instant::now()) {
                Some(wait) => wait,
                None => {
                    writer.watching = false;
                    let current = shared.current.load_full();
                    if writer.idle.is_some()
                        && writer.fold.is_none()
                        && current.change_weight() >= idle_weight(writer.fold_at(&current))
                    {
                        shared.start_fold(&mut writer, current);
                    }
                    return;
                }
            }
        };
        std::thread::sleep(wait);
    }
}

/// How much longer the watcher sleeps at `now`; `None`: stop (the writer has been idle
/// long enough, idle folds were turned off, or a fold is under way anyway).
fn rest(writer: &Writer, now: Instant) -> Option<Duration> {
    let idle = writer.idle?;
    if writer.fold.is_some() {
        return None;
    }
    let since = now.saturating_duration_since(writer.last_change);
    idle.checked_sub(since).filter(|left| !left.is_zero())
}

#[cfg(test)]
mod tests {
    use super::super::batch_log::BatchLog;
    use super::super::fold::Fold;
    use super::*;

    fn writer(idle: Option<Duration>, last_change: Instant) -> Writer {
        Writer {
            fold: None,
            fold_at: None,
            generation: 0,
            idle,
            last_change,
            watching: true,
        }
    }

    #[test]
    fn the_watcher_sleeps_for_what_is_left_of_the_pause() {
        let t = Instant::now();
        let second = Duration::from_secs(1);
        let w = writer(Some(second), t);
        assert_eq!(rest(&w, t), Some(second));
        assert_eq!(
            rest(&w, t + Duration::from_millis(300)),
            Some(Duration::from_millis(700))
        );
        // Idle long enough: stop (and fold).
        assert_eq!(rest(&w, t + second), None);
        assert_eq!(rest(&w, t + 2 * second), None);
        // A clock read before the last change (another thread's): the whole pause.
        let later = writer(Some(second), t + second);
        assert_eq!(rest(&later, t), Some(second));
    }

    #[test]
    fn the_watcher_stops_when_turned_off_or_when_a_fold_runs() {
        let t = Instant::now();
        assert_eq!(rest(&writer(None, t), t), None);
        let mut w = writer(Some(Duration::from_secs(1)), t);
        w.fold = Some(Fold::Running(BatchLog::default()));
        assert_eq!(rest(&w, t), None);
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
}
