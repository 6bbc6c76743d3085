//! [`Strays`]: the rows a table without a foreign key left naming a parent that is
//! not there, kept from one transaction to the next.
//!
//! A `DELETE` of a row with children, with no foreign key to stop it, leaves them
//! naming a missing parent. The replica makes them roots (see `changes.rs`; a load
//! finds them in the table and does the same), but the table goes on naming the
//! missing parent, so the follower remembers it: a later `UPDATE` of such a row that
//! sends that parent again leaves the row a root, and an `INSERT` of that id takes
//! its rows back, as the table has them. A row leaves the set once it names a parent
//! that is there, or is deleted (and not inserted again, in the same transaction,
//! naming the same missing parent).

use std::collections::{HashMap, HashSet};

use crate::{Id, ResellerId};

/// Rows naming a missing parent, each with the parent it names.
#[derive(Clone, Debug, Default)]
pub(crate) struct Strays {
    named: HashMap<ResellerId, ResellerId>,
    by_parent: HashMap<ResellerId, HashSet<ResellerId>>,
}

/// A change of the set, made once the transaction that brings it is applied.
pub(crate) type StrayChange = (ResellerId, Option<ResellerId>);

impl Strays {
    /// The missing parent `row` names, if it is a stray.
    pub(crate) fn named(&self, row: &Id) -> Option<&ResellerId> {
        self.named.get(row)
    }

    /// The strays that name `parent`.
    pub(crate) fn naming(&self, parent: &Id) -> impl Iterator<Item = &ResellerId> + '_ {
        self.by_parent.get(parent).into_iter().flatten()
    }

    /// Makes `row` a stray naming `parent`, or (`None`) no stray.
    fn set(&mut self, row: ResellerId, parent: Option<ResellerId>) {
        if let Some(old) = self.named.remove(&row) {
            if let Some(rows) = self.by_parent.get_mut(&old) {
                rows.remove(&row);
                if rows.is_empty() {
                    self.by_parent.remove(&old);
                }
            }
        }
        if let Some(parent) = parent {
            self.by_parent
                .entry(parent.clone())
                .or_default()
                .insert(row.clone());
            self.named.insert(row, parent);
        }
    }

    /// Makes the changes of an applied transaction, in order.
    pub(crate) fn apply(&mut self, changes: Vec<StrayChange>) {
        for (row, parent) in changes {
            self.set(row, parent);
        }
    }

    /// How many rows name a missing parent.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.named.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_names_one_parent_at_a_time() {
        let id = |s: &str| ResellerId::from(s);
        let mut s = Strays::default();
        s.apply(vec![(id("3"), Some(id("2"))), (id("4"), Some(id("2")))]);
        assert_eq!(s.named(&id("3")), Some(&id("2")));
        let mut rows: Vec<&ResellerId> = s.naming(&id("2")).collect();
        rows.sort();
        assert_eq!(rows, [&id("3"), &id("4")]);
        s.apply(vec![(id("3"), Some(id("9"))), (id("4"), None)]);
        assert_eq!(s.naming(&id("2")).count(), 0);
        assert_eq!(s.named(&id("3")), Some(&id("9")));
        assert_eq!(s.named(&id("4")), None);
        assert_eq!(s.len(), 1);
    }
}
