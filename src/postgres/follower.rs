//! [`Follower`]: a hierarchy loaded from a PostgreSQL table and kept current with its
//! committed changes by a thread of its own.
//!
//! # How
//!
//! **Start.** Create the replication slot first, then load the table in one snapshot
//! (`Session::load`): every transaction that commits after the slot's start is decoded,
//! and those the load already saw are skipped ([`LoadSnapshot`]). The hierarchy starts
//! at the slot's start position.
//!
//! **Follow.** Each round reads the server's flushed position `upto`, then peeks the
//! slot's decoded transactions that committed before `upto`, in commit order, without
//! consuming them. Each transaction becomes one batch ([`Translation`]), applied with
//! [`Hierarchy::apply_at`] at its end LSN: a transaction at or below the hierarchy's
//! position (delivered again after a reconnect) is recognised and not applied twice.
//! When the round read everything before `upto`, the hierarchy advances to `upto`, so
//! that a writer waiting for a position after its commit is released even when the log
//! moved on for other reasons. Only then is the slot advanced to the hierarchy's
//! position: the slot never runs ahead of what was published, so a crash loses nothing.
//! Between rounds the thread waits for the wake-up trigger's `NOTIFY`, or the poll
//! interval.
//!
//! **Faults.** A lost connection is retried with backoff (health `Reconnecting`); on
//! reconnecting, a slot that is gone or that moved past the hierarchy's position means
//! changes were lost to this replica: it loads the table again (`Reloading`) and
//! publishes the load as the next version. A truncate or a change of a row's id does
//! the same. A change the engine refuses, or a row it cannot read, stops the thread
//! (`Stopped`); the last good version stays current and the slot stays before it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::changes::Translation;
use super::event::{RowChange, RowEvent};
use super::health::Health;
use super::pgoutput::Message;
use super::row::ColumnMap;
use super::session::Session;
use super::sibling_order::IdOrder;
use super::visibility::LoadSnapshot;
use super::{FollowError, Lsn, Source};
use crate::{Hierarchy, Mutation, Position, ResellerId, Snapshot, WaitTimeout};

/// A hierarchy that follows a PostgreSQL table: loaded once, then kept current with
/// every committed change, in commit order, by a thread of its own. Serve from
/// [`hierarchy`](Follower::hierarchy); report [`health`](Follower::health).
///
/// Dropping it (or [`stop`](Follower::stop)) stops the thread and drops its replication
/// slot (the hierarchy stays usable, frozen).
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use reseller_hierarchy::postgres::{Follower, Lsn, Source, Table};
/// use reseller_hierarchy::{FilterFlags, Order, PageRequest, Principal, Role};
///
/// let source = Source::new("host=/run/postgresql dbname=crm", Table::new("resellers"))
///     .slot("reseller_hierarchy_web_1");
/// let follower = Follower::start(source)?;
///
/// // A request after the caller's own write: wait until the replica shows it.
/// let written: Lsn = "0/16B3748".parse()?; // SELECT pg_current_wal_lsn() after COMMIT
/// let snap = follower.wait_for(written, Duration::from_secs(2))?;
/// let me = Principal::new(Role::ResellerAdmin, "7");
/// let page = snap.eligible_parents(&me, FilterFlags::NONE, Order::PreOrder, PageRequest::default())?;
/// println!("{} eligible parents; {}", page.total(), follower.health());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Follower {
    hierarchy: Arc<Hierarchy>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    health: Mutex<Health>,
    stop: AtomicBool,
}

impl Shared {
    fn health(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, health: Health) {
        *self.health() = health;
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

impl Follower {
    /// Connects, checks the server and the table, installs the publication (and the
    /// wake-up trigger), creates the slot, loads the table, and starts following.
    ///
    /// # Errors
    ///
    /// [`FollowError`]: the server cannot be reached or is not set up for logical
    /// decoding, the table or a column is missing, the slot is in use, or the rows are
    /// not a valid hierarchy ([`FollowError::Load`], every problem named).
    pub fn start(source: Source) -> Result<Follower, FollowError> {
        source.check()?;
        let mut session = Session::connect(&source)?;
        let order = session.check(&source)?;
        session.install(&source)?;
        let start = session.create_slot(&source)?;
        let (snapshot, seen) = match session.load(&source, order) {
            Ok(loaded) => loaded,
            Err(e) => {
                let _ = session.drop_slot(&source);
                return Err(e);
            }
        };
        let max_id = largest_id(&snapshot, order);
        let hierarchy = Arc::new(Hierarchy::new(snapshot));
        hierarchy.advance_to(start.into());
        let shared = Arc::new(Shared {
            health: Mutex::new(Health::Following { position: start }),
            stop: AtomicBool::new(false),
        });
        let mut worker = Worker {
            source,
            session: Some(session),
            hierarchy: hierarchy.clone(),
            shared: shared.clone(),
            order,
            seen,
            max_id,
            slot_at: start,
            attempts: 0,
        };
        let thread = std::thread::Builder::new()
            .name("reseller-follower".into())
            .spawn(move || worker.run())
            .map_err(|e| FollowError::Setup {
                reason: format!("cannot start the follower thread: {e}"),
            })?;
        Ok(Follower {
            hierarchy,
            shared,
            thread: Some(thread),
        })
    }

    /// The hierarchy, to serve from (and to hand to `http::router`).
    pub fn hierarchy(&self) -> &Arc<Hierarchy> {
        &self.hierarchy
    }

    /// What the follower is doing.
    pub fn health(&self) -> Health {
        self.shared.health().clone()
    }

    /// The source position the current version reflects.
    pub fn position(&self) -> Option<Lsn> {
        self.hierarchy.position().map(Lsn::from)
    }

    /// Waits until the hierarchy reflects the source up to `lsn` (read-your-writes:
    /// pass `SELECT pg_current_wal_lsn()` taken after your commit), then returns the
    /// current version.
    ///
    /// # Errors
    ///
    /// [`WaitTimeout`] when `timeout` passes first (the follower may be behind, or
    /// stopped: see [`health`](Follower::health)).
    pub fn wait_for(&self, lsn: Lsn, timeout: Duration) -> Result<Arc<Snapshot>, WaitTimeout> {
        self.hierarchy.wait_for(lsn.into(), timeout)
    }

    /// Stops the thread and drops the replication slot; the hierarchy stays as it is.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.halt();
    }
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("health", &self.health())
            .field("version", &self.hierarchy.snapshot().version())
            .finish_non_exhaustive()
    }
}

/// The largest id of `snap` in `order`.
fn largest_id(snap: &Snapshot, order: IdOrder) -> Option<ResellerId> {
    snap.iter()
        .map(|r| r.id())
        .max_by(|a, b| order.cmp(a, b))
        .cloned()
}

/// How a round of reading ended.
enum Round {
    /// Everything before the server's flushed position was read.
    CaughtUp,
    /// There is more to read now.
    More,
}

/// The follower's thread.
struct Worker {
    source: Source,
    session: Option<Session>,
    hierarchy: Arc<Hierarchy>,
    shared: Arc<Shared>,
    order: IdOrder,
    seen: LoadSnapshot,
    /// The largest id in the current version.
    max_id: Option<ResellerId>,
    /// Where the slot was last advanced to.
    slot_at: Lsn,
    /// Failed connection attempts in a row.
    attempts: u32,
}

/// The transaction being read.
struct Open {
    xid: u32,
    /// The load saw it: skip it.
    seen: bool,
    translation: Translation,
    /// The first row the follower could not read.
    bad: Option<(RowEvent, String)>,
    /// The first change that cannot be applied as a change.
    gap: Option<String>,
}

impl Worker {
    fn position(&self) -> Lsn {
        self.hierarchy.position().map_or(Lsn::new(0), Lsn::from)
    }

    fn run(&mut self) {
        while !self.shared.stopping() {
            let step = match self.session {
                None => self.reconnect().map(|()| Round::More),
                Some(_) => self.round(),
            };
            match step {
                Ok(Round::More) => {}
                Ok(Round::CaughtUp) => {
                    self.attempts = 0;
                    self.shared.set(Health::Following {
                        position: self.position(),
                    });
                    let poll = self.source.poll;
                    if let Some(s) = &mut self.session {
                        if self.source.notify {
                            if s.wait(poll).is_err() {
                                self.session = None;
                            }
                        } else {
                            self.sleep(poll);
                        }
                    }
                }
                Err(FollowError::Gap { reason }) => {
                    self.shared.set(Health::Reloading {
                        reason: reason.clone(),
                    });
                    match self.reload() {
                        Ok(()) => self.attempts = 0,
                        Err(e) if e.is_fatal() => return self.stopped(e),
                        Err(e) => self.retry(e),
                    }
                }
                Err(e) if e.is_fatal() => return self.stopped(e),
                Err(e) => self.retry(e),
            }
        }
        if let Some(s) = &mut self.session {
            let _ = s.drop_slot(&self.source);
        }
    }

    fn stopped(&mut self, error: FollowError) {
        self.shared.set(Health::Stopped {
            error: Arc::new(error),
        });
        // Idle until asked to stop, then drop the slot as on any stop.
        while !self.shared.stopping() {
            self.sleep(Duration::from_millis(100));
        }
        if let Some(s) = &mut self.session {
            let _ = s.drop_slot(&self.source);
        }
    }

    /// After a failure: drop the connection if it is gone, and back off.
    fn retry(&mut self, error: FollowError) {
        if self.session.as_ref().is_none_or(Session::is_closed) {
            self.session = None;
        }
        self.attempts = self.attempts.saturating_add(1);
        self.shared.set(Health::Reconnecting {
            attempts: self.attempts,
            error: error.to_string(),
        });
        let backoff = Duration::from_millis(25) * 2u32.saturating_pow(self.attempts.min(7));
        self.sleep(backoff.min(Duration::from_secs(2)));
    }

    fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.shared.stopping() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    /// Connects again and checks that the slot still holds every change after the
    /// hierarchy's position.
    fn reconnect(&mut self) -> Result<(), FollowError> {
        let mut session = Session::connect(&self.source)?;
        let position = self.position();
        match session.slot_position(&self.source)? {
            None => {
                self.session = Some(session);
                return Err(FollowError::Gap {
                    reason: format!("replication slot {:?} no longer exists", self.source.slot),
                });
            }
            Some(at) if at > position => {
                self.session = Some(session);
                return Err(FollowError::Gap {
                    reason: format!(
                        "replication slot {:?} moved on to {at} while this replica is at {position}",
                        self.source.slot
                    ),
                });
            }
            Some(at) => self.slot_at = at,
        }
        session.listen(&self.source)?;
        self.session = Some(session);
        Ok(())
    }

    /// Loads the table again on a new slot and publishes it as the next version.
    fn reload(&mut self) -> Result<(), FollowError> {
        if self.session.as_ref().is_none_or(Session::is_closed) {
            self.session = Some(Session::connect(&self.source)?);
        }
        let Some(session) = &mut self.session else {
            return Ok(());
        };
        let start = session.create_slot(&self.source)?;
        let (snapshot, seen) = session.load(&self.source, self.order)?;
        session.listen(&self.source)?;
        self.max_id = largest_id(&snapshot, self.order);
        self.seen = seen;
        self.slot_at = start;
        self.hierarchy.reload_at(snapshot, start.into());
        Ok(())
    }

    /// One round: apply every transaction committed before the flushed position (or
    /// the first `changes_per_read` changes' transactions), then advance the slot.
    fn round(&mut self) -> Result<Round, FollowError> {
        let Some(mut session) = self.session.take() else {
            return Ok(Round::More);
        };
        let result = self.read(&mut session);
        self.session = Some(session);
        result
    }

    fn read(&mut self, session: &mut Session) -> Result<Round, FollowError> {
        let upto = session.flushed()?;
        let mut relations: HashMap<u32, Option<ColumnMap>> = HashMap::new();
        let mut open: Option<Open> = None;
        let source = self.source.clone();
        let rows = session.peek(&source, upto, |lsn, data| {
            let message =
                Message::parse(data).map_err(|error| FollowError::Protocol { lsn, error })?;
            self.message(message, lsn, &mut relations, &mut open)
        })?;
        let caught_up = rows < self.source.changes_per_read as usize;
        if caught_up && open.is_none() {
            self.hierarchy.advance_to(upto.into());
        }
        let position = self.position();
        if position > self.slot_at {
            session.advance_slot(&self.source, position)?;
            self.slot_at = position;
        }
        Ok(if caught_up {
            Round::CaughtUp
        } else {
            Round::More
        })
    }

    fn message(
        &mut self,
        message: Message<'_>,
        lsn: Lsn,
        relations: &mut HashMap<u32, Option<ColumnMap>>,
        open: &mut Option<Open>,
    ) -> Result<(), FollowError> {
        let table = &self.source.table;
        match message {
            Message::Begin { xid } => {
                *open = Some(Open {
                    xid,
                    seen: self.seen.saw(xid),
                    translation: Translation::new(
                        self.hierarchy.snapshot(),
                        self.order,
                        self.max_id.clone(),
                    ),
                    bad: None,
                    gap: None,
                });
            }
            Message::Relation(r) => {
                let ours = r.schema == table.schema && r.name == table.name;
                let map = match ours {
                    true => Some(
                        ColumnMap::resolve(table, &r)
                            .map_err(|reason| FollowError::Setup { reason })?,
                    ),
                    false => None,
                };
                relations.insert(r.oid, map);
            }
            Message::Insert { relation, new } => {
                if let (Some(Some(map)), Some(txn)) = (relations.get(&relation), open.as_mut()) {
                    if !txn.seen && txn.bad.is_none() {
                        match map.row(&new) {
                            Ok(row) => {
                                let event = event(RowChange::Insert, row.id.clone(), lsn, txn.xid);
                                txn.translation.insert(row, &event);
                            }
                            Err(reason) => {
                                let id = map.id(&new).unwrap_or_else(|_| ResellerId::from(""));
                                txn.bad =
                                    Some((event(RowChange::Insert, id, lsn, txn.xid), reason));
                            }
                        }
                    }
                }
            }
            Message::Update { relation, old, new } => {
                if let (Some(Some(map)), Some(txn)) = (relations.get(&relation), open.as_mut()) {
                    if !txn.seen && txn.bad.is_none() {
                        match map.row(&new) {
                            Ok(row) => {
                                if let Some(old_id) = old.as_ref().and_then(|o| map.id(o).ok()) {
                                    if old_id != row.id {
                                        txn.gap.get_or_insert(format!(
                                            "the id of row {:?} changed to {:?}",
                                            old_id.as_str(),
                                            row.id.as_str()
                                        ));
                                    }
                                }
                                let event = event(RowChange::Update, row.id.clone(), lsn, txn.xid);
                                txn.translation.update(row, &event);
                            }
                            Err(reason) => {
                                let id = map.id(&new).unwrap_or_else(|_| ResellerId::from(""));
                                txn.bad =
                                    Some((event(RowChange::Update, id, lsn, txn.xid), reason));
                            }
                        }
                    }
                }
            }
            Message::Delete { relation, old } => {
                if let (Some(Some(map)), Some(txn)) = (relations.get(&relation), open.as_mut()) {
                    if !txn.seen && txn.bad.is_none() {
                        match map.id(&old) {
                            Ok(id) => {
                                let event = event(RowChange::Delete, id.clone(), lsn, txn.xid);
                                txn.translation.delete(id, &event);
                            }
                            Err(reason) => {
                                txn.bad = Some((
                                    event(RowChange::Delete, ResellerId::from(""), lsn, txn.xid),
                                    reason,
                                ));
                            }
                        }
                    }
                }
            }
            Message::Truncate {
                relations: truncated,
            } => {
                if let Some(txn) = open.as_mut() {
                    let ours = truncated
                        .iter()
                        .any(|oid| matches!(relations.get(oid), Some(Some(_))));
                    if ours && !txn.seen {
                        txn.gap.get_or_insert_with(|| {
                            format!("table {} was truncated", table.qualified())
                        });
                    }
                }
            }
            Message::Commit { end } => {
                if let Some(txn) = open.take() {
                    self.commit(txn, end)?;
                }
            }
            Message::Other => {}
        }
        Ok(())
    }

    /// Applies a committed transaction at its end position (unless already reflected).
    fn commit(&mut self, txn: Open, end: Lsn) -> Result<(), FollowError> {
        if end <= self.position() {
            return Ok(()); // delivered again after a reconnect
        }
        if let Some(reason) = txn.gap {
            return Err(FollowError::Gap { reason });
        }
        if let Some((event, reason)) = txn.bad {
            return Err(FollowError::BadRow {
                event,
                commit: end,
                reason,
            });
        }
        if txn.seen {
            self.hierarchy.advance_to(end.into());
            return Ok(());
        }
        let (batch, events) = txn.translation.finish();
        if batch.is_empty() {
            self.hierarchy.advance_to(end.into());
            return Ok(());
        }
        match self.hierarchy.apply_at(&batch, Position::from(end)) {
            Ok(_) => {
                for m in &batch {
                    if let Mutation::Add(r) = m {
                        let bigger = match &self.max_id {
                            None => true,
                            Some(max) => self.order.cmp(&r.id, max).is_gt(),
                        };
                        if bigger {
                            self.max_id = Some(r.id.clone());
                        }
                    }
                }
                Ok(())
            }
            Err(error) => Err(FollowError::Refused {
                event: events[error.index().min(events.len() - 1)].clone(),
                commit: end,
                error,
            }),
        }
    }
}

fn event(change: RowChange, id: ResellerId, lsn: Lsn, xid: u32) -> RowEvent {
    RowEvent {
        change,
        id,
        lsn,
        xid,
    }
}
