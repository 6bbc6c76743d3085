//! [`NewSlot`]: the follower's replication slot, created on a replication session that
//! exports the slot's snapshot and holds it while the table is loaded in it.
//!
//! # Why not `pg_create_logical_replication_slot`
//!
//! A slot made through SQL exports no snapshot, so the load took a snapshot of its
//! own afterwards and skipped, from the stream, the transactions that snapshot saw
//! ([`LoadSnapshot`](super::visibility::LoadSnapshot)). That leaves one gap: a
//! transaction that committed before the slot's consistent point (so the stream never
//! sends it) but was still listed as running when the load took its snapshot (so the
//! load does not see it) is in neither. Under synchronous replication a committed
//! transaction stays listed as running until its standby confirms it, so the gap is
//! real there. `CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT` on a replication session
//! returns the snapshot of exactly the consistent point; a transaction that imports
//! it (`SET TRANSACTION SNAPSHOT`) sees every transaction the stream will not send and
//! none it will. The snapshot lives as long as the session runs no other command, so
//! the session is held, idle, until the load has read the table, then ended.

use std::time::Duration;

use pgwire_replication::ReplicationClient;

use super::stream::{config, failed};
use super::{FollowError, Lsn, Source};

/// How long connecting and authenticating may take. Creating the slot itself is not
/// timed: PostgreSQL makes it wait until every transaction running on the server
/// (with an id) has ended, which a long batch job makes minutes, and a replica that
/// gave up would try again and wait anew.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A slot just created, with the session that holds its exported snapshot.
pub(crate) struct NewSlot {
    /// Where the slot starts decoding: its consistent point.
    pub(crate) start: Lsn,
    /// The exported snapshot's name, for `SET TRANSACTION SNAPSHOT`.
    snapshot: String,
    // Dropped in this order: the session ends, then its runtime.
    client: ReplicationClient,
    runtime: tokio::runtime::Runtime,
}

impl NewSlot {
    /// Creates `source`'s slot (logical, `pgoutput`) on a replication session and
    /// keeps the session open, holding the slot's exported snapshot. The slot must not
    /// exist (`Session::clear_slot`).
    ///
    /// # Errors
    ///
    /// [`FollowError::Replication`] when the session cannot be opened or the server
    /// refuses the slot (no `REPLICATION` privilege, too many slots, one of that name).
    pub(crate) fn create(source: &Source) -> Result<NewSlot, FollowError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(failed)?;
        // The start position is the stream's business; this session never streams.
        let cfg = config(source, Lsn::new(0))?;
        // Slot names are lowercase letters, digits and `_` (`Source::check`): an
        // identifier as it is.
        let command = format!(
            "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput EXPORT_SNAPSHOT",
            source.slot
        );
        let created = runtime.block_on(async move {
            // IDENTIFY_SYSTEM answers once the session is connected and authenticated.
            let connected = tokio::time::timeout(CONNECT_TIMEOUT, async move {
                let mut client = ReplicationClient::connect_gated(cfg).await?;
                client.identify_system().await?;
                Ok::<_, pgwire_replication::PgWireError>(client)
            })
            .await;
            let Ok(connected) = connected else {
                return Err(failed("the replication session did not connect in 10 s"));
            };
            let mut client = connected.map_err(failed)?;
            let rows = client.simple_query(&command).await.map_err(failed)?;
            Ok((client, rows))
        });
        let (client, rows) = created?;
        // One row: slot_name, consistent_point, snapshot_name, output_plugin.
        let column = |i: usize| -> Option<String> {
            let row = rows.first()?;
            let bytes = row.get(i)?.as_ref()?;
            Some(String::from_utf8_lossy(bytes).into_owned())
        };
        let start = column(1)
            .and_then(|text| text.parse::<Lsn>().ok())
            .ok_or_else(|| failed("CREATE_REPLICATION_SLOT returned no consistent point"))?;
        let snapshot = column(2)
            .filter(|name| is_snapshot_name(name))
            .ok_or_else(|| failed("CREATE_REPLICATION_SLOT exported no snapshot"))?;
        Ok(NewSlot {
            start,
            snapshot,
            client,
            runtime,
        })
    }

    /// The exported snapshot's name: hexadecimal digits and `-` (checked when read,
    /// so that it goes into `SET TRANSACTION SNAPSHOT '...'` as it is).
    pub(crate) fn snapshot(&self) -> &str {
        &self.snapshot
    }

    /// Ends the session, releasing the snapshot: its connection is closed (a gated
    /// session ends cleanly only when its client is dropped inside a runtime that goes
    /// on running, which this one does not). The server may hold the slot a moment
    /// longer (`Session::wait_slot_free`).
    pub(crate) fn end(self) {
        let NewSlot {
            mut client,
            runtime,
            ..
        } = self;
        client.abort();
        drop(client);
        drop(runtime);
    }
}

/// Whether `name` is a snapshot name as PostgreSQL exports them (`00000003-0000001B-1`).
fn is_snapshot_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::{is_snapshot_name, NewSlot};
    use crate::postgres::session::Session;
    use crate::postgres::stream::{Event, Stream};
    use crate::postgres::{Source, Table};

    /// A transaction committed after the slot was made, before the load read the
    /// table: the load (in the slot's snapshot) does not see it, and the stream
    /// delivers it. With a snapshot of the load's own, taken after the commit, it was
    /// in the load and skipped from the stream, and the one case neither held was a
    /// transaction committed before the slot but still listed as running then.
    /// Needs the server `.ci/with-postgres` starts (`RESELLERS_PG_URL`).
    #[test]
    fn the_load_reads_the_slots_snapshot_and_the_stream_the_rest() {
        let server = std::env::var("RESELLERS_PG_URL")
            .expect("RESELLERS_PG_URL is not set: run the tests under .ci/with-postgres");
        let mut admin = ::postgres::Client::connect(&server, ::postgres::NoTls).unwrap();
        for statement in [
            "DROP DATABASE IF EXISTS slot_snapshot WITH (FORCE)",
            "CREATE DATABASE slot_snapshot",
        ] {
            admin.batch_execute(statement).unwrap();
        }
        let url = format!(
            "{} dbname=slot_snapshot",
            server.replace("dbname=postgres", "")
        );
        let mut other = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
        other
            .batch_execute(
                "CREATE TABLE resellers (id bigint PRIMARY KEY, parent_id bigint \
                 REFERENCES resellers, name text NOT NULL DEFAULT '', capabilities text[] \
                 NOT NULL DEFAULT '{}', economic_enabled boolean NOT NULL DEFAULT false, \
                 attributes jsonb); INSERT INTO resellers (id) VALUES (1)",
            )
            .unwrap();
        let source = Source::new(&url, Table::new("resellers")).slot("slot_snapshot");
        let mut session = Session::connect(&source).unwrap();
        let (order, _) = session.check(&source).unwrap();
        session.install(&source).unwrap();
        session.clear_slot(&source).unwrap();
        let slot = NewSlot::create(&source).unwrap();
        other
            .batch_execute("INSERT INTO resellers (id, parent_id) VALUES (2, 1)")
            .unwrap();
        let loaded = session.load(&source, order, slot.snapshot());
        let start = slot.start;
        slot.end();
        let (snapshot, _, _) = loaded.unwrap();
        assert_eq!(
            snapshot.len(),
            1,
            "the load saw a commit after the slot's snapshot"
        );
        session.wait_slot_free(&source).unwrap();
        let mut stream = Stream::start(&source, start).unwrap();
        let since = std::time::Instant::now();
        let mut committed = false;
        while !committed && since.elapsed() < std::time::Duration::from_secs(10) {
            committed = matches!(
                stream.next(std::time::Duration::from_millis(100)).unwrap(),
                Some(Event::Commit { .. })
            );
        }
        stream.stop();
        assert!(committed, "the stream did not deliver the insert");
        session.wait_slot_free(&source).unwrap();
        session.drop_slot(&source).unwrap();
    }

    #[test]
    fn snapshot_names_are_hex_and_dashes_only() {
        assert!(is_snapshot_name("00000003-0000001B-1"));
        for bad in ["", "x'; DROP TABLE t; --", "0000 0003", "00000003'"] {
            assert!(!is_snapshot_name(bad), "{bad}");
        }
    }
}
