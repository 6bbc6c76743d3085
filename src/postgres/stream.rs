//! [`Stream`]: the replication connection that streams a slot's decoded changes
//! (`START_REPLICATION SLOT … LOGICAL …` with `pgoutput`), driven from the follower's
//! own thread.
//!
//! # How
//!
//! The `pgwire-replication` client speaks the streaming replication protocol on a
//! tokio runtime of one thread, owned by the follower's thread. The server decodes each
//! WAL record once for the session and pushes whole transactions as they commit, so a
//! change is visible about as soon as it is flushed; the applied position this side
//! reports (`ack`) is what moves the slot, and so what the server may recycle. When the
//! server has read past WAL that holds nothing for the publication it says so in a
//! keepalive (`Event::Reached`), which lets the hierarchy's position follow the log
//! without changes of its own.

use std::time::Duration;

use pgwire_replication::client::ReplicationEvent;
use pgwire_replication::{ReplicationClient, ReplicationConfig, TlsConfig};

use super::{FollowError, Lsn, Source};

/// How long connecting and starting the replication session may take (the SQL
/// connection has the same limit).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the stream delivered.
#[derive(Debug)]
pub(crate) enum Event {
    /// A transaction starts; its commit record starts at `commit`.
    Begin { xid: u32, commit: Lsn },
    /// A message inside it (relation, insert, update, delete, truncate), at `lsn`.
    Change { lsn: Lsn, data: Vec<u8> },
    /// The transaction commits, visible at `end`.
    Commit { end: Lsn },
    /// Every commit before `lsn` has been delivered.
    Reached { lsn: Lsn },
}

/// A streaming replication session on the follower's slot.
pub(crate) struct Stream {
    runtime: tokio::runtime::Runtime,
    client: ReplicationClient,
}

pub(super) fn failed(e: impl std::fmt::Display) -> FollowError {
    FollowError::Replication {
        reason: e.to_string(),
    }
}

/// The replication connection's settings from the follower's connection string.
pub(super) fn config(source: &Source, start: Lsn) -> Result<ReplicationConfig, FollowError> {
    let parsed: ::postgres::Config = source.connection.parse()?;
    let user = parsed.get_user().unwrap_or("postgres").to_string();
    let password = parsed
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default();
    let database = parsed.get_dbname().unwrap_or(&user).to_string();
    let port = parsed.get_ports().first().copied().unwrap_or(5432);
    let host = match parsed.get_hosts().first() {
        Some(::postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(::postgres::config::Host::Unix(dir)) => dir.to_string_lossy().into_owned(),
        None => "localhost".to_string(),
    };
    Ok(ReplicationConfig::new(
        host,
        user,
        password,
        database,
        source.slot.clone(),
        source.publication.clone(),
    )
    .with_port(port)
    .with_tls(TlsConfig::disabled())
    .with_start_lsn(pgwire_replication::Lsn::from_u64(start.get()))
    .with_application_name(source.slot.clone())
    // Report the applied position often: the server answers an idle stream's report
    // with a keepalive when it has read further, which moves the position along.
    .with_status_interval(Duration::from_millis(100))
    .with_wakeup_interval(Duration::from_secs(1)))
}

impl Stream {
    /// Starts streaming the slot's changes from `start` (the server starts at the
    /// slot's confirmed position if that is later).
    pub(crate) fn start(source: &Source, start: Lsn) -> Result<Stream, FollowError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(failed)?;
        let cfg = config(source, start)?;
        let started = runtime.block_on(async move {
            tokio::time::timeout(CONNECT_TIMEOUT, async move {
                let mut client = ReplicationClient::connect(cfg).await?;
                client.wait_started().await?;
                Ok::<_, pgwire_replication::PgWireError>(client)
            })
            .await
        });
        let client = match started {
            Ok(client) => client.map_err(failed)?,
            Err(_) => return Err(failed("the replication session did not start in 10 s")),
        };
        Ok(Stream { runtime, client })
    }

    /// The next event, or `None` if there was none within `wait`.
    pub(crate) fn next(&mut self, wait: Duration) -> Result<Option<Event>, FollowError> {
        let client = &mut self.client;
        let received = self
            .runtime
            .block_on(async { tokio::time::timeout(wait, client.recv()).await });
        let event = match received {
            Err(_elapsed) => return Ok(None),
            Ok(Err(e)) => return Err(failed(e)),
            Ok(Ok(None)) => return Err(failed("the replication stream ended")),
            Ok(Ok(Some(event))) => event,
        };
        Ok(Some(match event {
            ReplicationEvent::Begin { xid, final_lsn, .. } => Event::Begin {
                xid,
                commit: Lsn::new(final_lsn.as_u64()),
            },
            ReplicationEvent::XLogData {
                wal_start, data, ..
            } => Event::Change {
                lsn: Lsn::new(wal_start.as_u64()),
                data: data.to_vec(),
            },
            ReplicationEvent::Commit { end_lsn, .. } => Event::Commit {
                end: Lsn::new(end_lsn.as_u64()),
            },
            ReplicationEvent::KeepAlive { wal_end, .. } => Event::Reached {
                lsn: Lsn::new(wal_end.as_u64()),
            },
            ReplicationEvent::StoppedAt { reached } => Event::Reached {
                lsn: Lsn::new(reached.as_u64()),
            },
            // Logical decoding messages (pg_logical_emit_message) carry no rows.
            ReplicationEvent::Message { .. } => return Ok(None),
        }))
    }

    /// Reports that everything up to `lsn` is applied (published), so the slot may
    /// move there.
    pub(crate) fn ack(&self, lsn: Lsn) {
        self.client
            .update_applied_lsn(pgwire_replication::Lsn::from_u64(lsn.get()));
    }

    /// Ends the session cleanly (the slot becomes free).
    pub(crate) fn stop(mut self) {
        self.client.stop();
        let client = &mut self.client;
        let _ = self.runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), async {
                while let Ok(Some(_)) = client.recv().await {}
            })
            .await
        });
    }
}
