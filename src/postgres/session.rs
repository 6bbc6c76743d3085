//! [`Session`]: one connection to the source, and every statement the follower runs.

use std::io::BufReader;
use std::time::Duration;

use ::postgres::types::PgLsn;
use ::postgres::{Client, Config, IsolationLevel, NoTls};

use super::copy::for_each_row;
use super::row::loaded_record;
use super::sibling_order::IdOrder;
use super::strays::Strays;
use super::table::quote;
use super::visibility::LoadSnapshot;
use super::{FollowError, Lsn, Source};
use crate::{Builder, ResellerId, Snapshot};

/// SQL: whether the publication `$1` lists the table `$2`.`$3` (a macro, so that each
/// statement that asks is one literal).
macro_rules! listed {
    () => {
        "EXISTS (SELECT 1 FROM pg_publication_tables \
           WHERE pubname = $1 AND schemaname = $2 AND tablename = $3)"
    };
}

/// Integer type oids (`smallint`, `integer`, `bigint`): ids of these types sort as numbers.
const INTEGER_TYPES: [i64; 3] = [21, 23, 20];

/// A connection to the source.
pub(crate) struct Session {
    client: Client,
}

fn setup(reason: impl Into<String>) -> FollowError {
    FollowError::Setup {
        reason: reason.into(),
    }
}

impl Session {
    /// Connects, naming the connection after the slot (`application_name`), so that an
    /// operator sees which replica it is.
    pub(crate) fn connect(source: &Source) -> Result<Session, FollowError> {
        let mut config: Config = source.connection.parse()?;
        config.application_name(&source.slot);
        config.connect_timeout(Duration::from_secs(10));
        Ok(Session {
            client: config.connect(NoTls)?,
        })
    }

    /// Checks the server and the table, and finds how ids sort and the table's oid
    /// (how the replication stream names it).
    pub(crate) fn check(&mut self, source: &Source) -> Result<(IdOrder, u32), FollowError> {
        let level: String = self
            .client
            .query_one("SELECT current_setting('wal_level')", &[])?
            .get(0);
        if level != "logical" {
            return Err(setup(format!(
                "wal_level is {level:?}; logical decoding needs wal_level = logical"
            )));
        }
        let table = &source.table;
        let found = self.client.query_opt(
            "SELECT oid::int8, relkind::text, relreplident::text FROM pg_class \
             WHERE oid = to_regclass($1)",
            &[&table.qualified()],
        )?;
        let Some(found) = found else {
            return Err(setup(format!("no table {}", table.qualified())));
        };
        let (oid, kind, identity): (i64, String, String) =
            (found.get(0), found.get(1), found.get(2));
        if kind != "r" {
            return Err(setup(format!(
                "{} is not an ordinary table (relkind {kind:?}; partitioned tables and views cannot be followed)",
                table.qualified()
            )));
        }
        // Deletes must name the row by its id: the replica identity must hold the id.
        let identity_has_id = match identity.as_str() {
            "f" => true,
            "d" | "i" => self
                .client
                .query_opt(
                    "SELECT 1 FROM pg_index i JOIN pg_attribute a \
                       ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                     WHERE i.indrelid = $1::int8::oid AND a.attname = $2 \
                       AND CASE WHEN $3 = 'd' THEN i.indisprimary ELSE i.indisreplident END",
                    &[&oid, &table.id, &identity],
                )?
                .is_some(),
            _ => false,
        };
        if !identity_has_id {
            return Err(setup(format!(
                "the replica identity of {} does not hold {:?}: make it the primary key, or set REPLICA IDENTITY FULL",
                table.qualified(),
                table.id
            )));
        }
        let mut id_type = None;
        for column in table.columns() {
            let ty: Option<i64> = self
                .client
                .query_opt(
                    "SELECT atttypid::int8 FROM pg_attribute \
                     WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped",
                    &[&table.qualified(), &column],
                )?
                .map(|r| r.get(0));
            let Some(ty) = ty else {
                return Err(setup(format!(
                    "table {} has no column {column:?}",
                    table.qualified()
                )));
            };
            if column == table.id {
                id_type = Some(ty);
            }
        }
        let order = match id_type {
            Some(t) if INTEGER_TYPES.contains(&t) => IdOrder::Numeric,
            _ => IdOrder::Text,
        };
        let oid = u32::try_from(oid).map_err(|_| setup("a table oid out of range"))?;
        Ok((order, oid))
    }

    /// Lists the table in the publication again: it was dropped and created again
    /// since it was listed, which took it out (a role that may not alter the
    /// publication gets a [`FollowError::Setup`] saying what to run). Then checks it as
    /// [`Session::install`] does.
    pub(crate) fn relist(&mut self, source: &Source) -> Result<(), FollowError> {
        let table = source.table.qualified();
        let unlisted = self
            .client
            .query_one(
                concat!(
                    "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1) AND NOT ",
                    listed!()
                ),
                &[
                    &source.publication,
                    &source.table.schema,
                    &source.table.name,
                ],
            )?
            .get(0);
        if unlisted {
            let add = format!(
                "ALTER PUBLICATION {} ADD TABLE ONLY {table}",
                quote(&source.publication)
            );
            if let Err(e) = self.client.batch_execute(&add) {
                if e.code() == Some(&::postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) {
                    return Err(setup(format!(
                        "{table} was created again, which took it out of publication {:?}, and this role may not add it back: run {add}",
                        source.publication
                    )));
                }
                return Err(e.into());
            }
        }
        self.install(source)
    }

    /// Creates the publication if missing (checking that an existing one lists the
    /// table); serialized between followers.
    pub(crate) fn install(&mut self, source: &Source) -> Result<(), FollowError> {
        let table = source.table.qualified();
        let mut tx = self.client.transaction()?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('reseller_hierarchy install'))",
            &[],
        )?;
        let exists = tx
            .query_opt(
                "SELECT 1 FROM pg_publication WHERE pubname = $1",
                &[&source.publication],
            )?
            .is_some();
        if !exists {
            tx.batch_execute(&format!(
                "CREATE PUBLICATION {} FOR TABLE ONLY {table}",
                quote(&source.publication)
            ))?;
        } else {
            let listed: bool = tx
                .query_one(
                    concat!("SELECT ", listed!()),
                    &[
                        &source.publication,
                        &source.table.schema,
                        &source.table.name,
                    ],
                )?
                .get(0);
            if !listed {
                return Err(setup(format!(
                    "publication {:?} does not list {table}",
                    source.publication
                )));
            }
            let every_change: bool = tx
                .query_one(
                    "SELECT pubinsert AND pubupdate AND pubdelete AND pubtruncate \
                     FROM pg_publication WHERE pubname = $1",
                    &[&source.publication],
                )?
                .get(0);
            // Row filters and column lists came with PostgreSQL 15; before it the
            // columns are not there, and naming them fails the statement whatever a
            // version test in it says.
            let version: i32 = tx
                .query_one("SELECT current_setting('server_version_num')::int", &[])?
                .get(0);
            let filtered: bool = version >= 150_000
                && tx
                    .query_one(
                        "SELECT EXISTS (\
                           SELECT 1 FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid \
                           WHERE p.pubname = $1 AND r.prrelid = to_regclass($2) \
                             AND (r.prqual IS NOT NULL OR r.prattrs IS NOT NULL))",
                        &[&source.publication, &table],
                    )?
                    .get(0);
            if !every_change || filtered {
                return Err(setup(format!(
                    "publication {:?} leaves out some changes of {table} (operations, a row filter or a column list): the replicas would drift",
                    source.publication
                )));
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The oid of the table the source names now (`None`: there is none), and whether
    /// the publication lists that name, both read in the statement's one snapshot.
    /// `to_regclass` was used for the oid: it resolves the name through the backend's
    /// catalog cache, which may not yet have taken in a `DROP TABLE` that the
    /// statement's snapshot (which the publication's listing is read in) already
    /// sees, so a table dropped and created again could read as the old oid no longer
    /// listed, which stops the follower, where the new oid reloads the table.
    pub(crate) fn table_now(
        &mut self,
        source: &Source,
    ) -> Result<(Option<u32>, bool), FollowError> {
        let row = self.client.query_one(
            concat!(
                "SELECT (SELECT c.oid::int8 FROM pg_catalog.pg_class c \
                   JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace \
                   WHERE s.nspname = $2 AND c.relname = $3), ",
                listed!()
            ),
            &[
                &source.publication,
                &source.table.schema,
                &source.table.name,
            ],
        )?;
        let oid: Option<i64> = row.get(0);
        Ok((oid.and_then(|o| u32::try_from(o).ok()), row.get(1)))
    }

    /// Makes room for the slot: drops a slot of that name that no process uses, and
    /// refuses one in use. The slot itself is created on a replication session, which
    /// exports its snapshot for the load ([`NewSlot`](super::slot::NewSlot)).
    pub(crate) fn clear_slot(&mut self, source: &Source) -> Result<(), FollowError> {
        match self.slot_active(source)? {
            Some(true) => Err(setup(format!(
                "replication slot {:?} is in use by another process: give every replica its own",
                source.slot
            ))),
            Some(false) => self.drop_slot(source),
            None => Ok(()),
        }
    }

    /// Waits (at most five seconds) until no process holds the slot, as the session
    /// that created it may a moment after it ended.
    pub(crate) fn wait_slot_free(&mut self, source: &Source) -> Result<(), FollowError> {
        let since = std::time::Instant::now();
        while self.slot_active(source)? == Some(true)
            && since.elapsed() < std::time::Duration::from_secs(5)
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Ok(())
    }

    /// Whether the slot is in use (`None`: there is no such slot).
    pub(crate) fn slot_active(&mut self, source: &Source) -> Result<Option<bool>, FollowError> {
        Ok(self
            .client
            .query_opt(
                "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
                &[&source.slot],
            )?
            .map(|r| r.get(0)))
    }

    /// Drops the slot if it exists and no process uses it.
    pub(crate) fn drop_slot(&mut self, source: &Source) -> Result<(), FollowError> {
        self.client.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
             WHERE slot_name = $1 AND NOT active",
            &[&source.slot],
        )?;
        Ok(())
    }

    /// The position up to which the slot's reader confirmed it read, or `None` if the
    /// slot is gone or the server invalidated it (`wal_status` `lost`: the log it
    /// needed was removed, `max_slot_wal_keep_size`).
    pub(crate) fn slot_position(&mut self, source: &Source) -> Result<Option<Lsn>, FollowError> {
        Ok(self
            .client
            .query_opt(
                "SELECT confirmed_flush_lsn FROM pg_replication_slots \
                 WHERE slot_name = $1 AND wal_status IS DISTINCT FROM 'lost'",
                &[&source.slot],
            )?
            .and_then(|r| r.get::<_, Option<PgLsn>>(0))
            .map(Lsn::from))
    }

    /// Reads the whole table in one `REPEATABLE READ` transaction on the slot's
    /// exported snapshot (`snapshot`, from [`NewSlot`](super::slot::NewSlot)),
    /// streaming the rows (a binary COPY of plain columns: the server does no JSON)
    /// into records, and returns the hierarchy with the snapshot it saw and the rows
    /// naming a missing parent.
    ///
    /// Those rows (a table without a foreign key, after the delete of a parent) are
    /// loaded as roots and returned as [`Strays`], as the follower shows and keeps the
    /// rows a delete leaves naming a missing parent. Refusing them, as a build refuses
    /// an unknown parent, stopped a follower for good at its first reload after such
    /// a delete, and a service could not start on the table.
    pub(crate) fn load(
        &mut self,
        source: &Source,
        order: IdOrder,
        snapshot: &str,
    ) -> Result<(Snapshot, LoadSnapshot, Strays), FollowError> {
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        // The slot's snapshot, before any query: the load sees what the stream will
        // not send, and nothing it will (`postgres/slot.rs`). Its name is hexadecimal
        // digits and dashes, checked when read.
        tx.batch_execute(&format!("SET TRANSACTION SNAPSHOT '{snapshot}'"))?;
        // The first query reads the transaction's snapshot (the slot's); the COPY
        // reads the same.
        // Read in the same statement, after the snapshot: every commit the snapshot saw
        // starts before this log position. The position inserted, not written: with
        // `synchronous_commit = off` a transaction is visible once its commit record is
        // inserted, before it is written, and a commit the load saw but placed after
        // the position written would be applied a second time.
        let row = tx.query_one(
            "SELECT pg_current_snapshot()::text, pg_current_wal_insert_lsn()",
            &[],
        )?;
        let (text, until): (String, PgLsn) = (row.get(0), row.get(1));
        let seen =
            LoadSnapshot::parse(&text, u64::from(until)).map_err(|e| setup(e.to_string()))?;
        // A validated foreign key from the parent column to the table rules such rows
        // out: the anti-join (about a fifth of a load at a million rows) is skipped.
        let keyed: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_constraint k \
                   JOIN pg_attribute p ON p.attrelid = k.conrelid AND p.attname = $2 \
                   JOIN pg_attribute i ON i.attrelid = k.conrelid AND i.attname = $3 \
                   WHERE k.conrelid = to_regclass($1) AND k.confrelid = k.conrelid \
                     AND k.contype = 'f' AND k.convalidated \
                     AND k.conkey = ARRAY[p.attnum] AND k.confkey = ARRAY[i.attnum])",
                &[
                    &source.table.qualified(),
                    &source.table.parent,
                    &source.table.id,
                ],
            )?
            .get(0);
        let rows = if keyed {
            Vec::new()
        } else {
            tx.query(&source.table.strays_query(), &[])?
        };
        let mut strays = Strays::default();
        strays.apply(
            rows.iter()
                .map(|r| {
                    let (row, parent): (String, String) = (r.get(0), r.get(1));
                    (ResellerId::from(row), Some(ResellerId::from(parent)))
                })
                .collect(),
        );
        let query = source.table.load_query(order == IdOrder::Numeric);
        let mut builder = Builder::new();
        {
            let reader = tx.copy_out(&format!("COPY ({query}) TO STDOUT (FORMAT binary)"))?;
            let reader = BufReader::with_capacity(1 << 20, reader);
            for_each_row(reader, 6, |fields| match loaded_record(fields) {
                Ok(mut record) => {
                    if strays.named(&record.id).is_some() {
                        record.parent = None;
                    }
                    builder.push(record)
                }
                Err(reason) => {
                    // Named by its id when that much is readable.
                    let id = fields[0]
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .map(ResellerId::from);
                    builder.push_malformed_id(id, reason)
                }
            })
            .map_err(FollowError::LoadRead)?;
        }
        tx.commit()?;
        let snapshot = builder.build().map_err(FollowError::Load)?;
        Ok((snapshot, seen, strays))
    }
}
