//! [`Health`]: what a follower is doing, for a service's health endpoint.

use std::fmt;
use std::sync::Arc;

use super::{FollowError, Lsn};

/// What a follower is doing. Every state serves a version (a follower exists once its
/// first load is done); only [`Health::Following`] promises it is current.
#[derive(Clone, Debug)]
pub enum Health {
    /// Following the source; the hierarchy reflects it up to `position`.
    Following {
        /// The source position the current version reflects.
        position: Lsn,
    },
    /// The connection was lost; retrying. The last version is served meanwhile.
    Reconnecting {
        /// Attempts so far.
        attempts: u32,
        /// The last error.
        error: String,
    },
    /// Changes were lost to the follower ([`FollowError::Gap`]); loading the table
    /// again while the last version is served.
    Reloading {
        /// Why.
        reason: String,
    },
    /// Stopped on a change it cannot apply; the last good version is served, and the
    /// service should say it is stale (and an operator fix the data). The slot stays,
    /// holding the server's log from that change on, until the follower is stopped
    /// or dropped: do not leave a stopped replica running for long.
    Stopped {
        /// Why.
        error: Arc<FollowError>,
    },
}

impl Health {
    /// Whether the follower is current (following the source).
    ///
    /// # Examples
    ///
    /// ```
    /// use reseller_hierarchy::postgres::{Health, Lsn};
    ///
    /// assert!(Health::Following { position: Lsn::new(1) }.is_following());
    /// assert!(!Health::Reloading { reason: "slot dropped".into() }.is_following());
    /// ```
    pub fn is_following(&self) -> bool {
        matches!(self, Health::Following { .. })
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Following { position } => write!(f, "following at {position}"),
            Health::Reconnecting { attempts, error } => {
                write!(f, "reconnecting (attempt {attempts}): {error}")
            }
            Health::Reloading { reason } => write!(f, "reloading: {reason}"),
            Health::Stopped { error } => write!(f, "stopped: {error}"),
        }
    }
}
