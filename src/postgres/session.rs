//! [`Session`]: one connection to the source, and every statement the follower runs.

use std::io::BufReader;
use std::time::Duration;

use ::postgres::types::PgLsn;
use ::postgres::{Client, Config, IsolationLevel, NoTls};

use super::copy::for_each_row;
use super::row::loaded_record;
use super::sibling_order::IdOrder;
use super::table::quote;
use super::visibility::LoadSnapshot;
use super::{FollowError, Lsn, Source};
use crate::{Builder, Snapshot};

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

    /// Checks the server and the table, and finds how ids sort.
    pub(crate) fn check(&mut self, source: &Source) -> Result<IdOrder, FollowError> {
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
        let found = self
            .client
            .query_opt("SELECT to_regclass($1)::oid::int8", &[&table.qualified()])?;
        if found.and_then(|r| r.get::<_, Option<i64>>(0)).is_none() {
            return Err(setup(format!("no table {}", table.qualified())));
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
        Ok(match id_type {
            Some(t) if INTEGER_TYPES.contains(&t) => IdOrder::Numeric,
            _ => IdOrder::Text,
        })
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
                "CREATE PUBLICATION {} FOR TABLE {table}",
                quote(&source.publication)
            ))?;
        } else {
            let listed = tx
                .query_opt(
                    "SELECT 1 FROM pg_publication_tables \
                     WHERE pubname = $1 AND schemaname = $2 AND tablename = $3",
                    &[
                        &source.publication,
                        &source.table.schema,
                        &source.table.name,
                    ],
                )?
                .is_some();
            if !listed {
                return Err(setup(format!(
                    "publication {:?} does not list {table}",
                    source.publication
                )));
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Creates the slot afresh (dropping a slot of that name no process uses) and
    /// returns the position from which it decodes.
    pub(crate) fn create_slot(&mut self, source: &Source) -> Result<Lsn, FollowError> {
        let active: Option<bool> = self
            .client
            .query_opt(
                "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
                &[&source.slot],
            )?
            .map(|r| r.get(0));
        match active {
            Some(true) => {
                return Err(setup(format!(
                "replication slot {:?} is in use by another process: give every replica its own",
                source.slot
            )))
            }
            Some(false) => {
                self.client
                    .execute("SELECT pg_drop_replication_slot($1)", &[&source.slot])?;
            }
            None => {}
        }
        let lsn: PgLsn = self
            .client
            .query_one(
                "SELECT lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')",
                &[&source.slot],
            )?
            .get(0);
        Ok(lsn.into())
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
    /// slot is gone.
    pub(crate) fn slot_position(&mut self, source: &Source) -> Result<Option<Lsn>, FollowError> {
        Ok(self
            .client
            .query_opt(
                "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1",
                &[&source.slot],
            )?
            .and_then(|r| r.get::<_, Option<PgLsn>>(0))
            .map(Lsn::from))
    }

    /// Reads the whole table in one `REPEATABLE READ` snapshot, streaming the rows (a
    /// binary COPY of plain columns: the server does no JSON) into records, and returns
    /// the hierarchy with the snapshot it saw.
    pub(crate) fn load(
        &mut self,
        source: &Source,
        order: IdOrder,
    ) -> Result<(Snapshot, LoadSnapshot), FollowError> {
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        // The first statement fixes the transaction's snapshot; the COPY reads the same.
        let text: String = tx
            .query_one("SELECT pg_current_snapshot()::text", &[])?
            .get(0);
        let seen = LoadSnapshot::parse(&text).map_err(|e| setup(e.to_string()))?;
        let query = source.table.load_query(order == IdOrder::Numeric);
        let mut builder = Builder::new();
        {
            let reader = tx.copy_out(&format!("COPY ({query}) TO STDOUT (FORMAT binary)"))?;
            let reader = BufReader::with_capacity(1 << 20, reader);
            for_each_row(reader, 6, |fields| match loaded_record(fields) {
                Ok(record) => builder.push(record),
                Err(reason) => builder.push_malformed(reason),
            })
            .map_err(FollowError::LoadRead)?;
        }
        tx.commit()?;
        let snapshot = builder.build().map_err(FollowError::Load)?;
        Ok((snapshot, seen))
    }
}
