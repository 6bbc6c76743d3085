//! [`Source`]: where a follower reads from and how.

use std::time::Duration;

use super::{FollowError, Table};

/// A PostgreSQL reseller table to follow, and how: the connection, the table's layout,
/// the names of the replication slot and publication, how often to look for changes.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reseller_hierarchy::postgres::{Source, Table};
///
/// let source = Source::new("host=127.0.0.1 user=app dbname=crm", Table::new("resellers"))
///     .slot("reseller_hierarchy_web_1")
///     .poll_interval(Duration::from_millis(250));
/// assert_eq!(source.slot_name(), "reseller_hierarchy_web_1");
/// ```
#[derive(Clone, Debug)]
pub struct Source {
    pub(crate) connection: String,
    pub(crate) table: Table,
    pub(crate) slot: String,
    pub(crate) publication: String,
    pub(crate) poll: Duration,
    pub(crate) notify: bool,
    pub(crate) changes_per_read: u32,
}

impl Source {
    /// Follows `table` on the server `connection` names, as a URL
    /// (`postgresql://user@host/db`) or `key=value` pairs (`host=… user=… dbname=…`);
    /// without TLS. The user needs the `REPLICATION` attribute (or to be a superuser),
    /// `SELECT` on the table, and, unless it exists, the right to create the
    /// publication and the wake-up trigger.
    pub fn new(connection: &str, table: Table) -> Source {
        Source {
            connection: connection.to_string(),
            table,
            slot: "reseller_hierarchy".into(),
            publication: "reseller_hierarchy".into(),
            poll: Duration::from_millis(500),
            notify: true,
            changes_per_read: 10_000,
        }
    }

    /// The replication slot (default `reseller_hierarchy`). **Every replica needs its
    /// own**: a slot holds one reader's position. Lowercase letters, digits and `_`.
    pub fn slot(mut self, name: &str) -> Source {
        self.slot = name.to_string();
        self
    }

    /// The publication that lists the table (default `reseller_hierarchy`; created if
    /// missing, shared by every replica). Lowercase letters, digits and `_`; it is
    /// also the `LISTEN` channel of the wake-up trigger.
    pub fn publication(mut self, name: &str) -> Source {
        self.publication = name.to_string();
        self
    }

    /// How long to wait for a wake-up before looking for changes anyway (default
    /// 500 ms); without the trigger, how often to look.
    pub fn poll_interval(mut self, every: Duration) -> Source {
        self.poll = every;
        self
    }

    /// Whether to install the statement trigger that wakes followers on commit
    /// (`NOTIFY`; default true). Without it, changes are seen at the next poll.
    pub fn wake_on_notify(mut self, on: bool) -> Source {
        self.notify = on;
        self
    }

    /// How many decoded changes to read at once (default 10,000; a larger transaction
    /// is read whole).
    pub fn changes_per_read(mut self, n: u32) -> Source {
        self.changes_per_read = n.max(1);
        self
    }

    /// The replication slot's name.
    pub fn slot_name(&self) -> &str {
        &self.slot
    }

    /// The table.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Refuses names PostgreSQL would refuse or that would need quoting.
    pub(crate) fn check(&self) -> Result<(), FollowError> {
        for (what, name) in [("slot", &self.slot), ("publication", &self.publication)] {
            let ok = !name.is_empty()
                && name.len() <= 63
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Err(FollowError::Setup {
                    reason: format!(
                        "{what} name {name:?}: use 1 to 63 lowercase letters, digits and _"
                    ),
                });
            }
        }
        Ok(())
    }
}
