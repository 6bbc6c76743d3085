//! [`RowEvent`]: one change of one row of the source table, as errors name it.

use std::fmt;

use super::Lsn;
use crate::ResellerId;

/// What happened to a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RowChange {
    /// `INSERT`.
    Insert,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
}

/// One change of one row of the source table: what a refused change names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RowEvent {
    /// What happened.
    pub change: RowChange,
    /// The row's id.
    pub id: ResellerId,
    /// Where the change is in the write-ahead log.
    pub lsn: Lsn,
    /// Its transaction's id.
    pub xid: u32,
}

impl fmt::Display for RowEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let change = match self.change {
            RowChange::Insert => "INSERT",
            RowChange::Update => "UPDATE",
            RowChange::Delete => "DELETE",
        };
        write!(
            f,
            "{change} of id {:?} at LSN {} (transaction {})",
            self.id.as_str(),
            self.lsn,
            self.xid
        )
    }
}
