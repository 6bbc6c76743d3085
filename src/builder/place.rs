//! [`Place`]: where a record was in the input, as a [`Problem`](crate::Problem) names it,
//! and [`Places`], how a builder finds the place of each record it holds.

use std::fmt;

/// Where a record was in the input.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::Place;
///
/// assert_eq!(Place::Line(10).to_string(), "line 10");
/// assert_eq!(Place::Element(3).to_string(), "[3]");
/// assert_eq!(Place::Resource(3).to_string(), "data[3]");
/// assert_eq!(Place::Record(0).to_string(), "record 0");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Place {
    /// The record given `n`-th (0-based) to [`Builder::push`](crate::Builder::push) or
    /// [`Snapshot::build`](crate::Snapshot::build).
    Record(usize),
    /// A line of NDJSON input, 1-based as editors count.
    Line(usize),
    /// An element of a JSON array of records, 0-based: its path `[n]`.
    Element(usize),
    /// A resource of an ActivePlatform document, 0-based: its path `data[n]`.
    Resource(usize),
    /// The input as a whole (it is not the document it should be).
    Input,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Record(n) => write!(f, "record {n}"),
            Place::Line(n) => write!(f, "line {n}"),
            Place::Element(n) => write!(f, "[{n}]"),
            Place::Resource(n) => write!(f, "data[{n}]"),
            Place::Input => f.write_str("the input"),
        }
    }
}

/// The place of every input position of a builder (records and malformed records
/// together): runs of positions whose places follow each other, each run starting where
/// a reader began or where NDJSON skipped blank lines.
#[derive(Clone, Debug, Default)]
pub(crate) struct Places {
    /// `(first input position, its place)`, ascending; positions before the first run
    /// are `Place::Record`.
    runs: Vec<(usize, Place)>,
}

impl Places {
    /// From input position `at` on, places count up from `place` (until the next run).
    pub(crate) fn start(&mut self, at: usize, place: Place) {
        if let Some(last) = self.runs.last_mut() {
            if last.0 == at {
                last.1 = place;
                return;
            }
            // A run that goes on as this one would: nothing to record.
            if last.1.plus(at - last.0) == place {
                return;
            }
        }
        self.runs.push((at, place));
    }

    /// The place of input position `at`.
    pub(crate) fn of(&self, at: usize) -> Place {
        let i = self.runs.partition_point(|&(first, _)| first <= at);
        match i.checked_sub(1) {
            None => Place::Record(at),
            Some(i) => {
                let (first, place) = self.runs[i];
                place.plus(at - first)
            }
        }
    }
}

impl Place {
    fn plus(self, k: usize) -> Place {
        match self {
            Place::Record(n) => Place::Record(n + k),
            Place::Line(n) => Place::Line(n + k),
            Place::Element(n) => Place::Element(n + k),
            Place::Resource(n) => Place::Resource(n + k),
            Place::Input => Place::Input,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_follow_runs() {
        let mut p = Places::default();
        assert_eq!(p.of(3), Place::Record(3));
        p.start(0, Place::Line(1));
        p.start(2, Place::Line(3)); // no gap: nothing new
        p.start(4, Place::Line(7)); // two blank lines
        p.start(6, Place::Element(0));
        assert_eq!(p.runs.len(), 3);
        let got: Vec<Place> = (0..8).map(|i| p.of(i)).collect();
        use Place::*;
        assert_eq!(
            got,
            [
                Line(1),
                Line(2),
                Line(3),
                Line(4),
                Line(7),
                Line(8),
                Element(0),
                Element(1)
            ]
        );
    }
}
