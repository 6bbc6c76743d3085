//! [`RecordLog`]: the records that the changes since a base bring, in one arena.

use std::fmt;
use std::sync::Arc;

use crate::record::Record;

/// Where a record sits in a [`RecordLog`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Logged(u32);

/// The records of the resellers added since the base, and the new records of base
/// resellers updated since, in the order the changes brought them.
///
/// **How.** Every version over one base shares one log (an `Arc` of a
/// [`boxcar::Vec`]): a mutation pushes its record, and the version's maps keep only
/// where it sits ([`Logged`]). The log only grows: a record superseded by a later
/// update, or pushed by a batch that was then refused, stays until the log goes,
/// which is when the last version over that base goes (a fold starts a new one).
/// The entries live in buckets that double in size, so a log of a million records is
/// some twenty allocations, pushing never copies what is there, and dropping it
/// frees the buckets instead of an `Arc` per record. A record's own strings are still
/// allocations of their own: a non-empty name (a `String`), attributes (a boxed
/// text), an id over 24 bytes. Reads are lock-free, and a version only reads entries
/// pushed before it was published.
///
/// Because superseded records, and those of refused batches, stay, the log's length
/// counts towards the change weight, which decides when a fold starts (a refused
/// batch checks it too): the log cannot outgrow the changes a fold would reclaim.
/// The log is shared, so the weight and the memory a version reports include what
/// later versions over the same base pushed.
#[derive(Clone, Default)]
pub(crate) struct RecordLog {
    records: Arc<boxcar::Vec<Record>>,
}

impl RecordLog {
    /// Appends `r`; `None` when the log already holds `u32::MAX` records.
    pub(crate) fn push(&self, r: Record) -> Option<Logged> {
        if self.records.count() >= u32::MAX as usize {
            return None;
        }
        u32::try_from(self.records.push(r)).ok().map(Logged)
    }

    /// The record at `at`, which a push into this log returned.
    #[inline]
    pub(crate) fn get(&self, at: Logged) -> &Record {
        &self.records[at.0 as usize]
    }

    /// How many records were pushed, superseded ones included.
    pub(crate) fn len(&self) -> usize {
        self.records.count()
    }
}

impl fmt::Debug for RecordLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordLog")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_where_they_were_pushed() {
        let log = RecordLog::default();
        let at: Vec<Logged> = (0..100)
            .map(|i| {
                log.push(Record::new(format!("r{i}"), None::<&str>))
                    .unwrap()
            })
            .collect();
        // A copy shares the log: what either pushes, both see.
        let copy = log.clone();
        let last = copy.push(Record::new("last", None::<&str>)).unwrap();
        for (i, &a) in at.iter().enumerate() {
            assert_eq!(log.get(a).id.as_str(), format!("r{i}"));
        }
        assert_eq!(log.get(last).id.as_str(), "last");
        assert_eq!(log.len(), 101);
    }
}
