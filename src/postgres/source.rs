//! [`Source`]: where a follower reads from and how.

use super::{FollowError, Table};

/// A PostgreSQL reseller table to follow, and how: the connection, the table's layout,
/// the names of the replication slot and publication.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::postgres::{Source, Table};
///
/// let source = Source::new("host=127.0.0.1 user=app dbname=crm", Table::new("resellers"))
///     .slot("reseller_hierarchy_web_1");
/// assert_eq!(source.slot_name(), "reseller_hierarchy_web_1");
/// ```
#[derive(Clone, Debug)]
pub struct Source {
    pub(crate) connection: String,
    pub(crate) table: Table,
    pub(crate) slot: String,
    pub(crate) publication: String,
}

impl Source {
    /// Follows `table` on the server `connection` names, as a URL
    /// (`postgresql://user@host/db`) or `key=value` pairs (`host=… user=… dbname=…`);
    /// without TLS (a password is sent by SCRAM). The user needs the `REPLICATION`
    /// attribute (or to be a superuser), `SELECT` on the table, and, unless it exists,
    /// the right to create the publication.
    pub fn new(connection: &str, table: Table) -> Source {
        Source {
            connection: connection.to_string(),
            table,
            slot: "reseller_hierarchy".into(),
            publication: "reseller_hierarchy".into(),
        }
    }

    /// The replication slot (default `reseller_hierarchy`). **Every replica needs its
    /// own**: a slot holds one reader's position. Lowercase letters, digits and `_`.
    pub fn slot(mut self, name: &str) -> Source {
        self.slot = name.to_string();
        self
    }

    /// The publication that lists the table (default `reseller_hierarchy`; created if
    /// missing, shared by every replica). Lowercase letters, digits and `_`.
    pub fn publication(mut self, name: &str) -> Source {
        self.publication = name.to_string();
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
