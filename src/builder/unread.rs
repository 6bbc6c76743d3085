//! [`Unread`]: the ids of the records a reader could not read, so that a build reports
//! them as what they are and not as the absence of a record.

use std::collections::HashMap;

use crate::id::ResellerId;
use crate::lookup::IdTable;

use super::{Place, Problem};

/// The malformed records that still named an id (a JSON object with a valid `id` and a
/// member of the wrong type, say), by id, each with its input position (records and
/// malformed records counted together) and its place.
///
/// Such a record is reported as malformed and left out of the build, but its id is in
/// the input: a record naming it as its parent is not reported again for a parent that
/// does not exist (the fix is to the malformed record, which the build names), and a
/// well-formed record with the same id, or another malformed one, is a duplicate the
/// build reports with it, where it used to come out only once the malformed record
/// was fixed.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::{Builder, Place, Problem};
///
/// let mut b = Builder::new();
/// b.read_ndjson(&br#"{"id": "a", "name": 5}
/// {"id": "b", "parent": "a"}
/// {"id": "a"}
/// "#[..]).unwrap();
/// let problems = b.build().unwrap_err().problems().to_vec();
/// // Malformed, and a duplicate: no "unknown parent" for `b`.
/// assert_eq!(problems.len(), 2);
/// assert!(matches!(&problems[0], Problem::Malformed { at: Place::Line(1), .. }));
/// assert!(matches!(&problems[1], Problem::DuplicateId { at, .. } if at == &[Place::Line(1), Place::Line(3)]));
/// ```
#[derive(Debug, Default)]
pub(crate) struct Unread {
    by_id: HashMap<ResellerId, Vec<(usize, Place)>>,
}

impl Unread {
    /// The ids of the malformed records among `problems`, whose input positions are
    /// `malformed_at`: a builder pushes one [`Problem::Malformed`] per malformed
    /// position, both in input order.
    pub(crate) fn new(problems: &[Problem], malformed_at: &[usize]) -> Unread {
        let mut by_id: HashMap<ResellerId, Vec<(usize, Place)>> = HashMap::new();
        let malformed = problems.iter().filter_map(|p| match p {
            Problem::Malformed { at, id, .. } => Some((at, id)),
            _ => None,
        });
        for ((at, id), &position) in malformed.zip(malformed_at) {
            if let Some(id) = id {
                by_id.entry(id.clone()).or_default().push((position, *at));
            }
        }
        Unread { by_id }
    }

    /// Whether a malformed record named `id`.
    pub(crate) fn contains(&self, id: &str) -> bool {
        !self.by_id.is_empty() && self.by_id.contains_key(id)
    }

    /// Every duplicate id, as problems ordered by the first occurrence: the well-formed
    /// records' `groups` (record indices of `ids`, from [`IdTable::build`]) joined by
    /// the malformed records with their id, and the malformed records whose id one
    /// other record has, malformed or not. `position` and `place` give a well-formed
    /// record's input position and place; each problem lists its places in input
    /// order.
    pub(crate) fn duplicates(
        &self,
        ids: &[ResellerId],
        lookup: &IdTable,
        groups: Vec<Vec<usize>>,
        position: impl Fn(usize) -> usize,
        place: impl Fn(usize) -> Place,
    ) -> Vec<Problem> {
        let occurrence = |i: usize| (position(i), place(i));
        let mut joined = std::collections::HashSet::new();
        let mut found: Vec<(ResellerId, Vec<(usize, Place)>)> = groups
            .into_iter()
            .map(|group| {
                let id = ids[group[0]].clone();
                let mut at: Vec<(usize, Place)> = group.into_iter().map(occurrence).collect();
                if let Some(unread) = self.by_id.get(id.as_str()) {
                    at.extend(unread);
                    joined.insert(id.clone());
                }
                (id, at)
            })
            .collect();
        for (id, unread) in &self.by_id {
            if joined.contains(id) {
                continue;
            }
            let mut at = unread.clone();
            if let Some(i) = lookup.get(id.as_str(), |j| ids[j as usize].as_str()) {
                at.push(occurrence(i as usize));
            }
            if at.len() > 1 {
                found.push((id.clone(), at));
            }
        }
        for (_, at) in &mut found {
            at.sort_unstable_by_key(|&(position, _)| position);
        }
        found.sort_unstable_by_key(|(_, at)| at[0].0);
        found
            .into_iter()
            .map(|(id, at)| Problem::DuplicateId {
                id,
                at: at.into_iter().map(|(_, place)| place).collect(),
            })
            .collect()
    }
}
