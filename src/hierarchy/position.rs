//! [`Position`]: how far into its source of changes a hierarchy is, and [`Progress`],
//! which lets a caller wait until a position is reached (read-your-writes).
//!
//! # How
//!
//! The writer publishes a version first and records its position after, both under the
//! writer lock, so a position never runs ahead of the versions: once [`Progress`]
//! says `p` is reached, the current version holds every change up to `p`. Changes
//! only move it forward; a reload sets it to the position of its load, earlier ones
//! included, since the reloaded contents reflect that position and no later one. A
//! waiter reads the current version while it holds the position's lock, and a reload
//! publishes and sets the position under that lock, so that a waiter released by a
//! later position never reads an earlier load. Waiting is a
//! [`Condvar`] over the position; the writer wakes every waiter when it moves.

use std::fmt;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A place in the source of a hierarchy's changes: a PostgreSQL LSN, an outbox
/// sequence number, a line of a change file. Later changes have larger positions.
///
/// A [`Hierarchy`](crate::Hierarchy) records the position its current version reflects
/// ([`apply_at`](crate::Hierarchy::apply_at), [`advance_to`](crate::Hierarchy::advance_to)),
/// and a caller that just wrote a change at some position can wait until it is visible
/// ([`wait_for`](crate::Hierarchy::wait_for)), as Zanzibar's zookies allow.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::Position;
///
/// assert!(Position::new(0x16_B374_D848) > Position::new(7));
/// assert_eq!(Position::new(7).get(), 7);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(u64);

impl Position {
    /// The position numbered `n` in its source.
    pub const fn new(n: u64) -> Position {
        Position(n)
    }

    /// Its number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What [`Hierarchy::apply_at`](crate::Hierarchy::apply_at) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The batch was applied and published as this version.
    New {
        /// The new version's number.
        version: u64,
    },
    /// The hierarchy already reflects this position (a change delivered again after a
    /// reconnect): nothing was applied.
    Already {
        /// The position the hierarchy is at.
        position: Position,
    },
}

/// A wait for a position ended before the position was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeout {
    /// The position waited for.
    pub wanted: Position,
    /// Where the hierarchy stood when the wait ended (`None`: no position yet).
    pub reached: Option<Position>,
}

impl fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reached {
            Some(p) => write!(f, "position {} not reached in time (at {p})", self.wanted),
            None => write!(
                f,
                "position {} not reached in time (no position yet)",
                self.wanted
            ),
        }
    }
}

impl std::error::Error for WaitTimeout {}

/// The position of a hierarchy's current version, and the waiters for it.
#[derive(Debug, Default)]
pub(super) struct Progress {
    at: Mutex<Option<Position>>,
    moved: Condvar,
}

impl Progress {
    fn lock(&self) -> MutexGuard<'_, Option<Position>> {
        self.at.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The position reached, if any.
    pub(super) fn get(&self) -> Option<Position> {
        *self.lock()
    }

    /// Moves to `to` if that is later (a position never goes back), waking the waiters.
    pub(super) fn advance(&self, to: Position) {
        let mut at = self.lock();
        if at.is_none_or(|p| p < to) {
            *at = Some(to);
            self.moved.notify_all();
        }
    }

    /// Runs `publish` and sets the position to `to`, earlier or later (a whole new
    /// load reflects its own position, not the changes applied before it), as one
    /// step for the waiters, whom it wakes: a waiter that saw a later position reads
    /// its version before the load replaces it (see [`Progress::wait_for`]).
    pub(super) fn set_with(&self, to: Position, publish: impl FnOnce()) {
        let mut at = self.lock();
        publish();
        *at = Some(to);
        self.moved.notify_all();
    }

    /// Waits until `wanted` is reached or `timeout` passes, then returns what `read`
    /// reads while the position still stands (a reload at an earlier one, which sets
    /// it with [`Progress::set_with`], cannot come in between).
    pub(super) fn wait_for<T>(
        &self,
        wanted: Position,
        timeout: Duration,
        read: impl FnOnce() -> T,
    ) -> Result<T, WaitTimeout> {
        let deadline = Instant::now().checked_add(timeout);
        let mut at = self.lock();
        loop {
            if at.is_some_and(|p| p >= wanted) {
                return Ok(read());
            }
            let left = match deadline {
                // A timeout too long to represent: wait without one.
                None => Duration::MAX,
                Some(d) => d.saturating_duration_since(Instant::now()),
            };
            if left.is_zero() {
                return Err(WaitTimeout {
                    wanted,
                    reached: *at,
                });
            }
            at = self
                .moved
                .wait_timeout(at, left)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }
}
