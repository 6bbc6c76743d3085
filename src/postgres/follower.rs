//! [`Follower`]: a hierarchy loaded from a PostgreSQL table and kept current with its
//! committed changes by a thread of its own.
//!
//! # How
//!
//! **Start.** Create the replication slot on a replication session that exports its
//! snapshot ([`NewSlot`]), then load the table in that snapshot (`Session::load`):
//! the load sees every transaction the slot will not decode and none it will, and
//! those the stream delivers that the load saw anyway are skipped ([`LoadSnapshot`]).
//! The hierarchy starts at the slot's start position.
//!
//! **Follow.** A streaming replication session ([`Stream`]) on the slot delivers each
//! committed transaction whole, in commit order. Each becomes one batch
//! ([`Translation`]) applied with [`Hierarchy::apply_at`] at its end LSN: a
//! transaction at or below the hierarchy's position (delivered again after a
//! reconnect) is recognised and not applied twice. When the server says it has read
//! the log up to some point with nothing more for the publication, the hierarchy
//! advances to it, so that a writer waiting for a position after its commit is
//! released even when the log moved on for other tables: once a check on an ordinary
//! connection (at most every 50 ms) finds the table's name still naming the followed
//! table, listed in the publication (`Worker::check_table`). The position reported back
//! to the server (which moves the slot) is the hierarchy's, after publishing: the
//! slot never runs ahead of what was published, so a crash loses nothing.
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
use super::slot::NewSlot;
use super::strays::{StrayChange, Strays};
use super::stream::{Event, Stream};
use super::visibility::LoadSnapshot;
use super::{FollowError, Lsn, Source};
use crate::{Hierarchy, Mutation, Position, ResellerId, Snapshot, WaitTimeout};

/// How long the thread waits for an event before looking whether it should stop.
const WAIT: Duration = Duration::from_millis(100);

/// How often at most the follower looks up, before a keepalive moves the position,
/// whether the table it follows is still the one the source names
/// ([`Worker::check_table`]).
const CHECK_EVERY: Duration = Duration::from_millis(50);

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
/// let written: Lsn = "0/16B3748".parse()?; // SELECT pg_current_wal_insert_lsn() after COMMIT
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
    /// Connects, checks the server and the table, installs the publication, creates
    /// the slot, loads the table, and starts following.
    ///
    /// # Errors
    ///
    /// [`FollowError`]: the server cannot be reached or is not set up for logical
    /// decoding, the table or a column is missing, the slot is in use, or the rows are
    /// not a valid hierarchy ([`FollowError::Load`], every problem named).
    pub fn start(source: Source) -> Result<Follower, FollowError> {
        source.check()?;
        let mut session = Session::connect(&source)?;
        let (order, table_oid) = session.check(&source)?;
        session.install(&source)?;
        let (start, (snapshot, seen, strays)) = load_on_new_slot(session, &source, order)?;
        let stream = match Stream::start(&source, start) {
            Ok(stream) => stream,
            Err(e) => {
                drop_slot(&source);
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
            stream: Some(stream),
            hierarchy: hierarchy.clone(),
            shared: shared.clone(),
            order,
            table_oid,
            seen,
            max_id,
            strays: Arc::new(strays),
            relations: HashMap::new(),
            open: None,
            attempts: 0,
            checker: None,
            reached: None,
            checked: None,
        };
        let cleanup = worker.source.clone();
        let thread = std::thread::Builder::new()
            .name("reseller-follower".into())
            .spawn(move || worker.run())
            .map_err(|e| {
                drop_slot(&cleanup);
                FollowError::Setup {
                    reason: format!("cannot start the follower thread: {e}"),
                }
            })?;
        Ok(Follower {
            hierarchy,
            shared,
            thread: Some(thread),
        })
    }

    /// The hierarchy, to serve from (and to hand to `http::router`). The follower owns
    /// its writes: changes applied to it by anyone else would be lost at the next
    /// reload and could make the table's changes refused.
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
    /// pass `SELECT pg_current_wal_insert_lsn()` taken after your commit: with
    /// `synchronous_commit = off` a commit returns before its log is written, and
    /// `pg_current_wal_lsn()`, the position written, can lie before it), then returns
    /// the current version.
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
        .map(ToOwned::to_owned)
}

/// Drops the slot, waiting a moment for a session that just ended to let go of it.
/// Creates the slot afresh ([`NewSlot`]), loads the table in its exported snapshot
/// (`Session::load`), and returns where the slot starts with what the load read. Any
/// failure once the slot may exist drops it (after `session` is closed), so that no
/// slot is left holding the server's log: not at a start that fails, and not while
/// the replica serves its last version after a reload that fails (a table that is no
/// valid hierarchy stops the follower).
fn load_on_new_slot(
    mut session: Session,
    source: &Source,
    order: IdOrder,
) -> Result<(Lsn, (Snapshot, LoadSnapshot, Strays)), FollowError> {
    session.clear_slot(source)?;
    let loaded = NewSlot::create(source).and_then(|slot| {
        let start = slot.start;
        let loaded = session.load(source, order, slot.snapshot());
        slot.end();
        let loaded = loaded?;
        session.wait_slot_free(source)?;
        Ok((start, loaded))
    });
    drop(session);
    if loaded.is_err() {
        drop_slot(source);
    }
    loaded
}

fn drop_slot(source: &Source) {
    for _ in 0..50 {
        let Ok(mut session) = Session::connect(source) else {
            return;
        };
        match session.slot_active(source) {
            Ok(None) => return,
            Ok(Some(false)) => {
                if session.drop_slot(source).is_ok() {
                    return;
                }
            }
            Ok(Some(true)) => {}
            Err(_) => return,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The follower's thread.
struct Worker {
    source: Source,
    stream: Option<Stream>,
    hierarchy: Arc<Hierarchy>,
    shared: Arc<Shared>,
    order: IdOrder,
    /// The followed table's oid (how the stream names it). A table of another oid
    /// under the source's name (dropped and created again, or renamed into place), or
    /// this one under another name, is a gap: the table is loaded again.
    table_oid: u32,
    seen: LoadSnapshot,
    /// The largest id in the current version.
    max_id: Option<ResellerId>,
    /// Rows the table names a missing parent for (see `strays.rs`).
    strays: Arc<Strays>,
    /// The layouts the stream sent, by table oid (`None`: not the followed table).
    relations: HashMap<u32, Option<ColumnMap>>,
    /// The transaction being received.
    open: Option<Open>,
    /// Failed connection attempts in a row.
    attempts: u32,
    /// A connection for [`Worker::check_table`], kept between checks.
    checker: Option<Session>,
    /// The last keepalive's position, not yet reflected: the table is checked first.
    reached: Option<Lsn>,
    /// When the table was last checked.
    checked: Option<Instant>,
}

/// The transaction being received.
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
    /// Makes the stray changes of a transaction once it is applied. The translation's
    /// handle on the set is gone by then, so `make_mut` copies nothing; a transaction
    /// that changes no stray does not touch the set.
    fn settle_strays(&mut self, changes: Vec<StrayChange>) {
        if !changes.is_empty() {
            Arc::make_mut(&mut self.strays).apply(changes);
        }
    }

    fn position(&self) -> Lsn {
        self.hierarchy.position().map_or(Lsn::new(0), Lsn::from)
    }

    fn following(&self) {
        self.shared.set(Health::Following {
            position: self.position(),
        });
    }

    fn run(&mut self) {
        while !self.shared.stopping() {
            let step = match self.stream {
                None => self.reconnect(),
                Some(_) => self.step(),
            };
            match step {
                Ok(()) => {}
                Err(FollowError::Gap { reason }) => {
                    self.shared.set(Health::Reloading { reason });
                    match self.reload() {
                        Ok(()) => {
                            self.attempts = 0;
                            self.following();
                        }
                        Err(e) if e.is_fatal() => return self.stopped(e),
                        Err(e) => self.retry(e),
                    }
                }
                Err(e) if e.is_fatal() => return self.stopped(e),
                Err(e) => self.retry(e),
            }
        }
        self.finish();
    }

    /// Ends the stream and drops the slot: the hierarchy stays as it is.
    fn finish(&mut self) {
        if let Some(stream) = self.stream.take() {
            stream.stop();
        }
        drop_slot(&self.source);
    }

    fn stopped(&mut self, error: FollowError) {
        // Nothing more is applied or acknowledged: the slot stays before the change.
        if let Some(stream) = self.stream.take() {
            stream.stop();
        }
        self.checker = None;
        self.shared.set(Health::Stopped {
            error: Arc::new(error),
        });
        // Idle until asked to stop, then drop the slot as on any stop.
        while !self.shared.stopping() {
            self.sleep(Duration::from_millis(100));
        }
        self.finish();
    }

    /// After a failure: start again from the hierarchy's position, after a backoff.
    fn retry(&mut self, error: FollowError) {
        if let Some(stream) = self.stream.take() {
            stream.stop();
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

    /// Connects again, checks that the slot still holds every change after the
    /// hierarchy's position, and streams from there.
    fn reconnect(&mut self) -> Result<(), FollowError> {
        let mut session = Session::connect(&self.source)?;
        let position = self.position();
        match session.slot_position(&self.source)? {
            None => {
                return Err(FollowError::Gap {
                    reason: format!(
                        "replication slot {:?} no longer exists or lost the log it needs",
                        self.source.slot
                    ),
                })
            }
            Some(at) if at > position => {
                return Err(FollowError::Gap {
                    reason: format!(
                    "replication slot {:?} moved on to {at} while this replica is at {position}",
                    self.source.slot
                ),
                })
            }
            Some(_) => {}
        }
        drop(session);
        self.relations.clear();
        self.open = None;
        self.stream = Some(Stream::start(&self.source, position)?);
        self.attempts = 0;
        self.following();
        Ok(())
    }

    /// Loads the table again on a new slot and publishes it as the next version.
    fn reload(&mut self) -> Result<(), FollowError> {
        if let Some(stream) = self.stream.take() {
            stream.stop();
        }
        // The ended session may hold the slot a moment longer: wait for it and drop it.
        drop_slot(&self.source);
        let mut session = Session::connect(&self.source)?;
        // The table may have been dropped and created again: check it afresh, and list
        // it in the publication again (dropping it took it out).
        // Kept only once it is listed: a reload that fails before then lists it at
        // its next try.
        let (order, oid) = session.check(&self.source)?;
        if oid != self.table_oid {
            session.relist(&self.source)?;
        }
        (self.order, self.table_oid) = (order, oid);
        let (start, (snapshot, seen, strays)) =
            load_on_new_slot(session, &self.source, self.order)?;
        self.max_id = largest_id(&snapshot, self.order);
        self.strays = Arc::new(strays);
        self.seen = seen;
        self.relations.clear();
        self.open = None;
        self.reached = None;
        self.hierarchy.reload_at(snapshot, start.into());
        self.stream = Some(Stream::start(&self.source, start)?);
        Ok(())
    }

    /// Handles the stream's next event, if one comes soon.
    fn step(&mut self) -> Result<(), FollowError> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        let Some(event) = stream.next(WAIT)? else {
            if self.open.is_none() {
                self.reach()?;
                self.following();
            }
            return Ok(());
        };
        match event {
            Event::Begin { xid, commit } => {
                self.open = Some(Open {
                    xid,
                    seen: self.seen.saw(xid, commit.get()),
                    translation: Translation::new(
                        self.hierarchy.snapshot(),
                        self.order,
                        self.max_id.clone(),
                        self.strays.clone(),
                    ),
                    bad: None,
                    gap: None,
                });
            }
            Event::Change { lsn, data } => {
                let message =
                    Message::parse(&data).map_err(|error| FollowError::Protocol { lsn, error })?;
                self.message(message, lsn)?;
            }
            Event::Commit { end } => {
                if let Some(txn) = self.open.take() {
                    self.commit(txn, end)?;
                }
                self.acknowledge();
            }
            Event::Reached { lsn } => {
                if self.open.is_none() {
                    self.reached_by(lsn)?;
                }
            }
        }
        Ok(())
    }

    /// The log was read up to `lsn` with no change to the hierarchy (a keepalive, a
    /// transaction of another table or one the load saw): moves the position there
    /// through [`Worker::reach`].
    fn reached_by(&mut self, lsn: Lsn) -> Result<(), FollowError> {
        self.reached = Some(self.reached.map_or(lsn, |r| r.max(lsn)));
        self.reach()
    }

    /// Moves the position to the last keepalive's once the table has been checked
    /// since it came, at most every [`CHECK_EVERY`] (a keepalive held back meanwhile
    /// is reflected at the next keepalive or the next wait for one).
    fn reach(&mut self) -> Result<(), FollowError> {
        let Some(lsn) = self.reached else {
            return Ok(());
        };
        if self.checked.is_some_and(|at| at.elapsed() < CHECK_EVERY) {
            return Ok(());
        }
        self.check_table()?;
        self.checked = Some(Instant::now());
        self.reached = None;
        self.hierarchy.advance_to(lsn.into());
        self.acknowledge();
        Ok(())
    }

    /// Checks that the source's name still names the followed table and that the
    /// publication lists it. A keepalive (or a transaction without a change of the
    /// table) says that nothing of the publication came up to its position; a table
    /// dropped and created again (or renamed into
    /// place, or out of it) is not in the publication's stream, so nothing of it would
    /// ever come and the position would run ahead of it. Another table under the
    /// name, or none, is a gap (the reload loads the new table, or stops on a missing
    /// one); the same table no longer listed stops the follower.
    fn check_table(&mut self) -> Result<(), FollowError> {
        // A connection idle since the last check may have been closed (an idle
        // timeout, a pooler): one fresh connection is tried before the error restarts
        // the stream.
        let kept = self.checker.take();
        let fresh = kept.is_none();
        let mut session = match kept {
            Some(s) => s,
            None => Session::connect(&self.source)?,
        };
        let (oid, listed) = match session.table_now(&self.source) {
            Ok(found) => found,
            Err(_) if !fresh => {
                session = Session::connect(&self.source)?;
                session.table_now(&self.source)?
            }
            Err(e) => return Err(e),
        };
        self.checker = Some(session);
        let table = self.source.table.qualified();
        match oid {
            None => Err(FollowError::Gap {
                reason: format!("table {table} no longer exists"),
            }),
            Some(oid) if oid != self.table_oid => Err(replaced(&table)),
            Some(_) if !listed => Err(FollowError::Setup {
                reason: format!(
                    "publication {:?} no longer lists {table}: none of its changes would come",
                    self.source.publication
                ),
            }),
            Some(_) => Ok(()),
        }
    }

    /// Tells the server how far the published versions reach.
    fn acknowledge(&self) {
        if let Some(stream) = &self.stream {
            stream.ack(self.position());
        }
    }

    /// The followed table's layout and the open transaction, when a change of
    /// `relation` is one to read (the load did not see its transaction, and no row of
    /// it was unreadable so far).
    fn reading(&mut self, relation: u32) -> Option<(&ColumnMap, &mut Open)> {
        match (self.relations.get(&relation), self.open.as_mut()) {
            (Some(Some(map)), Some(txn)) if !txn.seen && txn.bad.is_none() => Some((map, txn)),
            _ => None,
        }
    }

    fn message(&mut self, message: Message<'_>, lsn: Lsn) -> Result<(), FollowError> {
        match message {
            Message::Relation(r) => {
                let named =
                    r.schema == self.source.table.schema && r.name == self.source.table.name;
                if named != (r.oid == self.table_oid) {
                    let table = self.source.table.qualified();
                    return Err(if named {
                        replaced(&table)
                    } else {
                        FollowError::Gap {
                            reason: format!("{table} was renamed to {:?}.{:?}", r.schema, r.name),
                        }
                    });
                }
                let map = match r.oid == self.table_oid {
                    true => Some(
                        ColumnMap::resolve(&self.source.table, &r)
                            .map_err(|reason| FollowError::Setup { reason })?,
                    ),
                    false => None,
                };
                self.relations.insert(r.oid, map);
            }
            Message::Insert { relation, new } => {
                if let Some((map, txn)) = self.reading(relation) {
                    let xid = txn.xid;
                    match map.row(&new) {
                        Ok(row) => {
                            let event = event(RowChange::Insert, row.id.clone(), lsn, xid);
                            txn.translation.insert(row, &event);
                        }
                        Err(reason) => {
                            let id = map.id(&new).unwrap_or_else(|_| ResellerId::from(""));
                            txn.bad = Some((event(RowChange::Insert, id, lsn, xid), reason));
                        }
                    }
                }
            }
            Message::Update { relation, old, new } => {
                if let Some((map, txn)) = self.reading(relation) {
                    let xid = txn.xid;
                    match map.row(&new) {
                        Ok(row) => {
                            let old_id = old.as_ref().and_then(|o| map.id(o).ok());
                            if let Some(old_id) = old_id.filter(|o| *o != row.id) {
                                txn.gap.get_or_insert(format!(
                                    "the id of row {:?} changed to {:?}",
                                    old_id.as_str(),
                                    row.id.as_str()
                                ));
                            }
                            let event = event(RowChange::Update, row.id.clone(), lsn, xid);
                            txn.translation.update(row, &event);
                        }
                        Err(reason) => {
                            let id = map.id(&new).unwrap_or_else(|_| ResellerId::from(""));
                            txn.bad = Some((event(RowChange::Update, id, lsn, xid), reason));
                        }
                    }
                }
            }
            Message::Delete { relation, old } => {
                if let Some((map, txn)) = self.reading(relation) {
                    let xid = txn.xid;
                    let (id, reason) = match map.id(&old) {
                        Ok(id) => (id, None),
                        Err(reason) => (ResellerId::from(""), Some(reason)),
                    };
                    let event = event(RowChange::Delete, id.clone(), lsn, xid);
                    match reason {
                        None => txn.translation.delete(id, &event),
                        Some(reason) => txn.bad = Some((event, reason)),
                    }
                }
            }
            Message::Truncate {
                relations: truncated,
            } => {
                let table = &self.source.table;
                if let Some(txn) = self.open.as_mut() {
                    let ours = truncated.contains(&self.table_oid);
                    if ours && !txn.seen {
                        txn.gap.get_or_insert_with(|| {
                            format!("table {} was truncated", table.qualified())
                        });
                    }
                }
            }
            // Boundaries come as their own events; types and origins carry no rows.
            Message::Begin { .. } | Message::Commit { .. } | Message::Other => {}
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
            return self.reached_by(end);
        }
        let (batch, events, strays) = txn.translation.finish();
        if batch.is_empty() {
            self.settle_strays(strays);
            return self.reached_by(end);
        }
        match self.hierarchy.apply_at(&batch, Position::from(end)) {
            Ok(_) => {
                self.settle_strays(strays);
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

/// The gap of another table under the followed one's name.
fn replaced(table: &str) -> FollowError {
    FollowError::Gap {
        reason: format!(
            "{table} is another table now (dropped and created again, or renamed into place)"
        ),
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
