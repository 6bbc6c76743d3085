//! [`FollowError`]: why a follower could not start, had to reload, or stopped.

use std::fmt;

use super::event::RowEvent;
use super::pgoutput::ProtocolError;
use super::Lsn;
use crate::{BuildError, MutationError};

/// Why a follower could not start, had to reload, or stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum FollowError {
    /// The database could not be reached, or a statement failed.
    Database(::postgres::Error),
    /// The replication connection failed or ended.
    Replication {
        /// What happened.
        reason: String,
    },
    /// The database or the table is not as the follower needs it (`wal_level` not
    /// `logical`, a missing table or column, a slot in use by another process).
    Setup {
        /// What is wrong.
        reason: String,
    },
    /// The initial load could not be read.
    LoadRead(std::io::Error),
    /// The table's rows are not a valid hierarchy (a cycle, an unknown parent, a bad
    /// capability): every problem, as a build reports them.
    Load(BuildError),
    /// A committed change the engine refuses: the follower stopped before it, and the
    /// hierarchy keeps serving the last good version.
    Refused {
        /// The row change the refused mutation came from.
        event: RowEvent,
        /// The end LSN of its transaction, which was not applied.
        commit: Lsn,
        /// Why the engine refused it.
        error: MutationError,
    },
    /// A row the follower cannot read (an unknown capability, attributes that are not a
    /// JSON object): stopped as for [`FollowError::Refused`].
    BadRow {
        /// The row change.
        event: RowEvent,
        /// The end LSN of its transaction, which was not applied.
        commit: Lsn,
        /// What is wrong with the row.
        reason: String,
    },
    /// The server sent a change the follower cannot decode.
    Protocol {
        /// Where.
        lsn: Lsn,
        /// What.
        error: ProtocolError,
    },
    /// Changes between the hierarchy's position and the source's can no longer be
    /// read (the slot was dropped or moved on by someone else, the table was truncated
    /// or a row's id changed): the follower reloads the table.
    Gap {
        /// Why.
        reason: String,
    },
}

impl FollowError {
    /// Whether the follower stops on this error (a change it cannot apply), rather
    /// than retrying or reloading.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            FollowError::Refused { .. }
                | FollowError::BadRow { .. }
                | FollowError::Protocol { .. }
                | FollowError::Load(_)
                | FollowError::Setup { .. }
        )
    }
}

impl fmt::Display for FollowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FollowError::Database(e) => write!(f, "database: {e}"),
            FollowError::Replication { reason } => write!(f, "replication: {reason}"),
            FollowError::Setup { reason } => write!(f, "cannot follow: {reason}"),
            FollowError::LoadRead(e) => write!(f, "reading the initial load: {e}"),
            FollowError::Load(e) => write!(f, "the table is not a valid hierarchy: {e}"),
            FollowError::Refused {
                event,
                commit,
                error,
            } => write!(
                f,
                "{event} refused ({error}); the transaction ending at {commit} was not applied"
            ),
            FollowError::BadRow {
                event,
                commit,
                reason,
            } => write!(
                f,
                "{event}: {reason}; the transaction ending at {commit} was not applied"
            ),
            FollowError::Protocol { lsn, error } => write!(f, "at LSN {lsn}: {error}"),
            FollowError::Gap { reason } => write!(f, "changes lost to the follower: {reason}"),
        }
    }
}

impl std::error::Error for FollowError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FollowError::Database(e) => Some(e),
            FollowError::LoadRead(e) => Some(e),
            FollowError::Load(e) => Some(e),
            FollowError::Refused { error, .. } => Some(error),
            FollowError::Protocol { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<::postgres::Error> for FollowError {
    fn from(e: ::postgres::Error) -> FollowError {
        FollowError::Database(e)
    }
}
