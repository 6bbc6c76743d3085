//! Follow a PostgreSQL reseller table (feature `postgres`): load it once, then apply
//! every committed change in commit order, across reconnects and server restarts, so
//! that each replica of a service serves the table as it is.
//!
//! ```no_run
//! use reseller_hierarchy::postgres::{Follower, Source, Table};
//!
//! let follower = Follower::start(
//!     Source::new("postgresql://app@db/crm", Table::new("resellers")).slot("web_1"),
//! )?;
//! let snap = follower.hierarchy().snapshot();
//! println!("{} resellers, {}", snap.len(), follower.health());
//! # Ok::<(), reseller_hierarchy::postgres::FollowError>(())
//! ```
//!
//! # What the server needs
//!
//! - `wal_level = logical`, and a free replication slot per replica
//!   (`max_replication_slots`).
//! - A user with the `REPLICATION` attribute (or a superuser) and `SELECT` on the table;
//!   to follow a table dropped and created again, also the ownership of the
//!   publication (dropping a table takes it out of the publication, which the reload
//!   puts it back into; without it the follower stops with [`FollowError::Setup`]
//!   naming the statement to run).
//! - Besides the replication session, one ordinary connection, kept open: before a
//!   keepalive (or a transaction of another table) moves the position, the follower
//!   checks on it, at most every 50 ms, that the table's name still names the table
//!   it follows and that the publication lists it.
//! - PostgreSQL 13 or later (`pg_current_snapshot`, slots' `wal_status`).
//! - The table ([`Table`] gives the layout it expects and maps an existing one): an
//!   ordinary table with its id as primary key (or `REPLICA IDENTITY FULL`), so that
//!   deletes name the row. A start refuses anything else with [`FollowError::Setup`],
//!   since changes that do not reach the replica whole would make it drift.
//!
//! # What it installs
//!
//! - `CREATE PUBLICATION reseller_hierarchy FOR TABLE ONLY resellers` (once, shared by
//!   the replicas; the name is [`Source::publication`]). An existing publication of
//!   that name must publish every operation on the table, without a row filter or a
//!   column list.
//! - Per replica, a logical replication slot with the built-in `pgoutput` plugin
//!   (`pg_create_logical_replication_slot(slot, 'pgoutput')`). **A slot keeps the
//!   server's write-ahead log until its reader moves on**: [`Follower::stop`] (or
//!   dropping the follower) drops it, and starting a replica again with the same slot
//!   name replaces an abandoned one. Drop slots of replicas that will not come back
//!   (`SELECT pg_drop_replication_slot('…')`).
//!
//! Nothing is installed on the write path: no trigger, no outbox.
//!
//! # Guarantees
//!
//! - **Commit order, exactly once.** Logical replication (a streaming replication
//!   session on the slot) delivers whole transactions in commit order, so a transaction that took its id early and committed late is
//!   neither skipped nor reordered. Each transaction is one atomic batch; each version
//!   records the LSN it reflects; a transaction delivered again after a reconnect is
//!   recognised by its LSN. See [`Follower`] for how.
//! - **Read-your-writes.** After committing, take `SELECT pg_current_wal_insert_lsn()`
//!   (not `pg_current_wal_lsn()`, the position written, which an asynchronous commit
//!   may not have reached) and pass it to [`Follower::wait_for`].
//! - **Gaps reload.** Changes the slot no longer holds (it was dropped, or moved on by
//!   another reader), a `TRUNCATE`, a changed id, or another table under the name (the
//!   table dropped and created again, or one renamed into its place): the table is
//!   loaded again and published as the next version ([`Health::Reloading`]
//!   meanwhile). The table taken out of the publication stops the follower: none of
//!   its changes would come.
//! - **Transactions, not statements.** A transaction is applied as the table ends it:
//!   steps a table accepts inside one (a child inserted before its parent in one
//!   statement, two resellers trading places, a row deleted and inserted again under
//!   a deferred key) need not each be a forest.
//! - **Bad changes stop.** A change the engine refuses (a move under the reseller's own
//!   downline, an unknown parent without a foreign key to prevent it) stops the
//!   follower with [`FollowError::Refused`] naming the row change and its LSN; the last
//!   good version stays current and [`Health::Stopped`] says so.
//! - **Rows left without a parent.** Without a foreign key, a `DELETE` can leave rows
//!   whose `parent_id` names no row: no forest. The follower shows them as roots, and
//!   so does a load of such a table (at the start, or a reload), so that every
//!   replica at one position lists the same; it remembers the parent they name: a
//!   later change of such a row that sends that `parent_id` again (or, in one
//!   transaction, sends it away and back) leaves it a root, and that id inserted again
//!   takes its rows back, as the table has them. A new row, or a moved one, naming a
//!   row that is not there (and that its own transaction did not delete) is refused
//!   as an unknown parent. A foreign key avoids all of it.
//! - **Sibling order is id order** (see [`Table`]): the initial load and every
//!   version after a change list siblings the same way, so a replica equals a fresh
//!   load of the table, listing for listing (rows left without a parent included:
//!   roots in both).

mod changes;
mod copy;
mod error;
mod event;
mod follower;
mod health;
mod lsn;
mod pgoutput;
mod row;
mod session;
mod sibling_order;
mod slot;
mod source;
mod strays;
mod stream;
mod table;
mod visibility;

pub use error::FollowError;
pub use event::{RowChange, RowEvent};
pub use follower::Follower;
pub use health::Health;
pub use lsn::{Lsn, LsnError};
pub use pgoutput::ProtocolError;
pub use source::Source;
pub use table::{CapabilityColumns, Table};
