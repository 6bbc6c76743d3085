//! Validation of records and construction of the forest.
//!
//! # Algorithm
//!
//! 1. Hash every id (in parallel), index them in one table; repeated ids are
//!    collected with every place they occur at.
//! 2. Resolve every parent (in parallel). A parent equal to the record's own id, or no
//!    parent, makes a root; a parent that is no record's id is reported.
//! 3. Lay the children out in one array grouped by parent (a counting sort, so siblings
//!    keep input order), and walk the forest breadth-first from the roots.
//! 4. Resellers the walk does not reach lie on a cycle or under one. Their parent links
//!    go into a petgraph graph whose strongly connected components of more than one
//!    member are the cycles (`kosaraju_scc`, which is iterative; petgraph's
//!    `tarjan_scc` recurses and would overflow on a long cycle).
//!
//! # Behaviour on bad input
//!
//! Every problem is reported, each naming the ids concerned and where they were (`Place`), and
//! nothing is built. Nothing here recurses: a chain or a cycle one million long is
//! ordinary input.

use std::fmt;

use petgraph::graph::{DiGraph, NodeIndex};
use rayon::prelude::*;

use crate::id::{ResellerId, LIMIT, NONE};
use crate::lookup::IdTable;
use crate::record::Record;
use unread::Unread;

mod columns;
mod place;
mod unread;

pub(crate) use columns::Columns;
pub use place::Place;
pub(crate) use place::Places;

/// Collects records, then validates them all at once and builds a [`Snapshot`](crate::Snapshot).
///
/// [`Snapshot::build`](crate::Snapshot::build) does the same from any iterator of records; a `Builder` is for
/// callers that also have records they could not parse (see
/// [`Builder::push_malformed`]), so that those are reported together with every other
/// problem.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::{Builder, Place, Problem, Record};
///
/// let mut b = Builder::new();
/// b.push(Record::new("1", None::<&str>));
/// b.push(Record::new("2", Some("1")));
/// b.push_malformed("expected `}` at column 17");
/// b.push(Record::new("3", Some("9")));
/// let err = b.build().unwrap_err();
/// assert_eq!(err.problems().len(), 2);
/// assert!(matches!(&err.problems()[0], Problem::Malformed { at: Place::Record(2), .. }));
/// assert!(matches!(&err.problems()[1], Problem::UnknownParent { at: Place::Record(3), .. }));
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    records: Columns,
    /// Input positions of the malformed records, ascending.
    malformed_at: Vec<usize>,
    early: Vec<Problem>,
    places: Places,
}

impl Builder {
    /// An empty builder.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// An empty builder with room for `n` records.
    pub fn with_capacity(n: usize) -> Builder {
        Builder {
            records: Columns::with_capacity(n),
            ..Builder::default()
        }
    }

    /// Adds a record. Problems name it by its record index, the number of records and
    /// malformed records before it ([`Place::Record`]), whatever a reader read before
    /// (the readers name their records by line or element).
    pub fn push(&mut self, record: Record) {
        let at = self.next_index();
        self.places.start(at, Place::Record(at));
        self.records.push(record);
    }

    /// Counts a record that could not be read, so that the build fails and reports it
    /// at its position ([`Place::Record`]) with `message`.
    pub fn push_malformed(&mut self, message: impl Into<String>) {
        let at = self.next_index();
        self.places.start(at, Place::Record(at));
        self.push_malformed_at(Place::Record(at), message);
    }

    /// As [`push_malformed`](Builder::push_malformed), naming the record's `id` when
    /// it could be read (a table row whose other columns could not be), so that its
    /// children are not also reported for a missing parent.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn push_malformed_id(&mut self, id: Option<ResellerId>, message: impl Into<String>) {
        let at = self.next_index();
        self.places.start(at, Place::Record(at));
        self.push_malformed_named(Place::Record(at), id, message);
    }

    /// Adds a record a reader read: its place follows the reader's.
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) fn push_read(&mut self, record: Record) {
        self.records.push(record);
    }

    /// Counts a record a reader could not read, at the reader's place.
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) fn push_malformed_read(
        &mut self,
        id: Option<ResellerId>,
        message: impl Into<String>,
    ) {
        let place = self.places.of(self.next_index());
        self.push_malformed_named(place, id, message);
    }

    /// As [`push_malformed`](Builder::push_malformed), named by `place`.
    pub(crate) fn push_malformed_at(&mut self, place: Place, message: impl Into<String>) {
        self.push_malformed_named(place, None, message);
    }

    /// As [`push_malformed_at`](Builder::push_malformed_at), naming the record's `id`
    /// when it has one.
    fn push_malformed_named(
        &mut self,
        place: Place,
        id: Option<ResellerId>,
        message: impl Into<String>,
    ) {
        let at = self.next_index();
        self.malformed_at.push(at);
        self.early.push(Problem::Malformed {
            at: place,
            id,
            message: message.into(),
        });
    }

    /// From input position `at` (records and malformed records counted together) on,
    /// places count up from `place`: a reader calls this as it starts, and NDJSON after
    /// blank lines.
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) fn start_place(&mut self, at: usize, place: Place) {
        self.places.start(at, place);
    }

    /// Appends what a reader parsed elsewhere, in input order: its records, its
    /// problems (their places set), and the input positions of its malformed records
    /// (ascending, all at or after [`len`](Builder::len)).
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) fn append(
        &mut self,
        records: Columns,
        problems: Vec<Problem>,
        malformed: impl IntoIterator<Item = usize>,
    ) {
        self.records.append(records);
        self.early.extend(problems);
        self.malformed_at.extend(malformed);
    }

    /// Number of records pushed so far, malformed ones included.
    pub fn len(&self) -> usize {
        self.records.len() + self.malformed_at.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn next_index(&self) -> usize {
        self.len()
    }

    /// Validates every record: the parts of a snapshot ([`Builder::build`] lays them
    /// out, in `snapshot/layout.rs`), or every [`Problem`] found.
    pub(crate) fn validate(self) -> Result<Parts, BuildError> {
        let Builder {
            records,
            malformed_at,
            mut early,
            places,
        } = self;
        // The input position of the `i`-th well-formed record: `i` plus the number of
        // malformed records before it. The `k`-th malformed record (at `m_k`) comes
        // before it exactly when `m_k - k <= i`, which grows with `k`: a binary search.
        let shifted: Vec<usize> = malformed_at
            .iter()
            .enumerate()
            .map(|(k, &m)| m - k)
            .collect();
        let place = |i: usize| places.of(i + shifted.partition_point(|&s| s <= i));
        let n = records.len();
        if n > LIMIT {
            early.push(Problem::TooMany {
                count: n,
                limit: LIMIT,
            });
            return Err(BuildError { problems: early });
        }
        if let Some(p) = text_too_large(&records) {
            early.push(p);
            return Err(BuildError { problems: early });
        }
        let Columns {
            ids,
            parents: parent_ids,
            ..
        } = &records;
        let (lookup, duplicates) = IdTable::build(ids);
        let unread = Unread::new(&early, &malformed_at);
        let mut problems = early;
        let position = |i: usize| i + shifted.partition_point(|&s| s <= i);
        problems.extend(unread.duplicates(ids, &lookup, duplicates, position, place));

        // NONE: a root. UNKNOWN: a parent that is no record's id (walked as a root so
        // that it is not also reported as a cycle), or a malformed record's (reported
        // as malformed already).
        const UNKNOWN: u32 = NONE - 1;
        let parent: Vec<u32> = parent_ids
            .par_iter()
            .with_min_len(4096)
            .enumerate()
            .map(|(i, p)| match p {
                None => NONE,
                Some(p) if *p == ids[i] => NONE,
                Some(p) => lookup
                    .get(p.as_str(), |j| ids[j as usize].as_str())
                    .unwrap_or(UNKNOWN),
            })
            .collect();
        let mut parent = parent;
        for (i, p) in parent.iter_mut().enumerate() {
            if *p == UNKNOWN {
                *p = NONE;
                if parent_ids[i]
                    .as_ref()
                    .is_some_and(|p| unread.contains(p.as_str()))
                {
                    continue;
                }
                problems.push(Problem::UnknownParent {
                    at: place(i),
                    id: ids[i].clone(),
                    parent: parent_ids[i].clone().unwrap_or_default(),
                });
            }
        }
        let forest = Forest::new(&parent);
        problems.extend(cycle_problems(&forest, &parent, ids));
        if !problems.is_empty() {
            return Err(BuildError { problems });
        }
        let mut records = records;
        // The parent ids are resolved: free them before the snapshot is laid out.
        records.parents = Vec::new();
        Ok(Parts {
            lookup,
            parent,
            records,
            forest,
        })
    }
}

/// More bytes of names, or of ids, than a snapshot's chunks address (`u32` offsets).
fn text_too_large(records: &Columns) -> Option<Problem> {
    let names = records.names.text_len();
    let ids = records
        .ids
        .par_iter()
        .with_min_len(4096)
        .map(|id| id.as_str().len())
        .sum();
    [("names", names), ("ids", ids)]
        .into_iter()
        .find(|&(_, bytes)| bytes > u32::MAX as usize)
        .map(|(what, bytes)| Problem::TooLarge {
            what,
            bytes,
            limit: u32::MAX as usize,
        })
}

/// Every cycle among the resellers `forest`'s walk did not reach (none when it reached
/// them all), each as a problem naming its members.
fn cycle_problems(forest: &Forest, parent: &[u32], ids: &[ResellerId]) -> Vec<Problem> {
    if forest.order.len() == parent.len() {
        return Vec::new();
    }
    forest
        .cycles(parent)
        .into_iter()
        .map(|members| Problem::Cycle {
            members: members
                .into_iter()
                .map(|i| ids[i as usize].clone())
                .collect(),
        })
        .collect()
}

/// Validates records whose parents are already given as record indices (`NONE` for a
/// root), as a snapshot file holds them: checks that the ids are unique and that the
/// parents form a forest. Its callers make their columns [`linked`](Columns::linked)
/// (no parent ids).
pub(crate) fn validate_linked(records: Columns, parent: Vec<u32>) -> Result<Parts, BuildError> {
    if let Some(p) = text_too_large(&records) {
        return Err(BuildError { problems: vec![p] });
    }
    let (lookup, duplicates) = IdTable::build(&records.ids);
    let mut problems: Vec<Problem> = duplicates
        .into_iter()
        .map(|occurrences| Problem::DuplicateId {
            id: records.ids[occurrences[0]].clone(),
            at: occurrences.into_iter().map(Place::Record).collect(),
        })
        .collect();
    // A record that is its own parent is a cycle of one (records built from ids make
    // it a root instead; indices come only from files). The walk below leaves it out,
    // as it does every member of a longer cycle, which it reports with these.
    for (i, &p) in parent.iter().enumerate() {
        if p as usize == i {
            problems.push(Problem::Cycle {
                members: vec![records.ids[i].clone()],
            });
        }
    }
    let forest = Forest::new(&parent);
    problems.extend(cycle_problems(&forest, &parent, &records.ids));
    if !problems.is_empty() {
        return Err(BuildError { problems });
    }
    Ok(Parts {
        lookup,
        parent,
        records,
        forest,
    })
}

/// Everything a validated build hands to the snapshot.
pub(crate) struct Parts {
    pub(crate) lookup: IdTable,
    /// Parent input index by input index, `NONE` for a root.
    pub(crate) parent: Vec<u32>,
    /// The records by input index (their parent ids dropped).
    pub(crate) records: Columns,
    pub(crate) forest: Forest,
}

/// Children grouped by parent, and the breadth-first order of the forest.
pub(crate) struct Forest {
    /// `children[child_start[p]..child_start[p + 1]]`: the children of `p`, in input
    /// order.
    pub(crate) child_start: Vec<u32>,
    pub(crate) children: Vec<u32>,
    /// Roots in input order.
    pub(crate) roots: Vec<u32>,
    /// Breadth-first order: roots, then their children, level by level. Holds every
    /// reseller reachable from a root.
    pub(crate) order: Vec<u32>,
}

impl Forest {
    pub(crate) fn new(parent: &[u32]) -> Forest {
        let n = parent.len();
        let mut child_start = vec![0u32; n + 1];
        for &p in parent {
            if p != NONE {
                child_start[p as usize + 1] += 1;
            }
        }
        for i in 0..n {
            child_start[i + 1] += child_start[i];
        }
        let mut fill = child_start.clone();
        let mut children = vec![0u32; child_start[n] as usize];
        let mut roots = Vec::new();
        for (i, &p) in parent.iter().enumerate() {
            let i = i as u32;
            if p == NONE {
                roots.push(i);
            } else {
                let slot = &mut fill[p as usize];
                children[*slot as usize] = i;
                *slot += 1;
            }
        }
        let mut order = Vec::with_capacity(n);
        order.extend_from_slice(&roots);
        let mut head = 0;
        while head < order.len() {
            let v = order[head] as usize;
            head += 1;
            order
                .extend_from_slice(&children[child_start[v] as usize..child_start[v + 1] as usize]);
        }
        Forest {
            child_start,
            children,
            roots,
            order,
        }
    }

    pub(crate) fn children_of(&self, v: u32) -> &[u32] {
        let v = v as usize;
        &self.children[self.child_start[v] as usize..self.child_start[v + 1] as usize]
    }

    /// The cycles among the resellers the walk did not reach, each starting at its
    /// member of lowest index and following parent links; ordered by that member.
    fn cycles(&self, parent: &[u32]) -> Vec<Vec<u32>> {
        let n = parent.len();
        let mut reached = vec![false; n];
        for &v in &self.order {
            reached[v as usize] = true;
        }
        let unreached: Vec<u32> = (0..n as u32).filter(|&v| !reached[v as usize]).collect();
        let mut node_of = vec![NodeIndex::end(); n];
        let mut graph: DiGraph<u32, ()> = DiGraph::with_capacity(unreached.len(), unreached.len());
        for &v in &unreached {
            node_of[v as usize] = graph.add_node(v);
        }
        for &v in &unreached {
            // An unreached reseller always has a parent, itself unreached.
            let p = parent[v as usize];
            graph.add_edge(node_of[v as usize], node_of[p as usize], ());
        }
        let mut cycles: Vec<Vec<u32>> = petgraph::algo::kosaraju_scc(&graph)
            .into_iter()
            .filter(|scc| scc.len() > 1)
            .map(|scc| {
                let start = scc.iter().map(|&ni| graph[ni]).min().unwrap_or(0);
                let mut members = Vec::with_capacity(scc.len());
                let mut v = start;
                loop {
                    members.push(v);
                    v = parent[v as usize];
                    if v == start || members.len() > scc.len() {
                        break;
                    }
                }
                members
            })
            .collect();
        cycles.sort_unstable_by_key(|c| c[0]);
        cycles
    }
}

/// One thing wrong with the records given to a build.
///
/// Each names where the records concerned were: their NDJSON line, their path in a
/// JSON document, or their index among the records given (see [`Place`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A record could not be read.
    Malformed {
        /// Where it was.
        at: Place,
        /// Its id, when its text is a JSON object whose `id` reads as one (a record
        /// with a member of the wrong type, say); `None` when it does not (text that is
        /// no JSON, no `id`, a bad `id`) or the record came from elsewhere.
        id: Option<ResellerId>,
        /// What was wrong.
        message: String,
    },
    /// A record names a capability that does not exist.
    UnknownCapability {
        /// Where it was.
        at: Place,
        /// Its id.
        id: ResellerId,
        /// The unknown name.
        name: String,
    },
    /// Several records have the same id.
    DuplicateId {
        /// The id.
        id: ResellerId,
        /// Every place it occurs at, in input order.
        at: Vec<Place>,
    },
    /// A record's parent is no record's id.
    UnknownParent {
        /// Where it was.
        at: Place,
        /// Its id.
        id: ResellerId,
        /// The parent id that does not exist.
        parent: ResellerId,
    },
    /// Parent links that go round in a circle.
    Cycle {
        /// Every member, starting at the earliest in input order and following parent
        /// links.
        members: Vec<ResellerId>,
    },
    /// More records than one snapshot can index.
    TooMany {
        /// Records given.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// More text of one kind than one snapshot can hold.
    TooLarge {
        /// Which text (`"names"`, `"ids"`).
        what: &'static str,
        /// Bytes given.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Malformed {
                at,
                id: None,
                message,
            } => write!(f, "{at} is malformed: {message}"),
            Problem::Malformed {
                at,
                id: Some(id),
                message,
            } => write!(f, "{at} (id {id:?}) is malformed: {message}"),
            Problem::UnknownCapability { at, id, name } => write!(
                f,
                "{at} (id {id:?}) has unknown capability {name:?}; \
                 known: iptv, iptv_private, flexcare, sip, mvno"
            ),
            Problem::DuplicateId { id, at } => {
                write!(f, "id {id:?} is used by {} records: ", at.len())?;
                write_list(f, at.iter(), 10)
            }
            Problem::UnknownParent { at, id, parent } => write!(
                f,
                "{at} (id {id:?}) has parent {parent:?}, which is no reseller's id"
            ),
            Problem::Cycle { members } => {
                write!(f, "cycle of {} resellers: ", members.len())?;
                write_list(f, members.iter().map(|m| format!("{m:?}")), 10)?;
                f.write_str("; make one of them a root or give it another parent")
            }
            Problem::TooMany { count, limit } => {
                write!(f, "{count} records, more than the limit of {limit}")
            }
            Problem::TooLarge { what, bytes, limit } => {
                write!(f, "{bytes} bytes of {what}, more than the limit of {limit}")
            }
        }
    }
}

fn write_list<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: impl ExactSizeIterator<Item = T>,
    max: usize,
) -> fmt::Result {
    let len = items.len();
    for (i, item) in items.take(max).enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    if len > max {
        write!(f, ", … ({} more)", len - max)?;
    }
    Ok(())
}

/// The records do not form a valid hierarchy: answer 400 Bad Request.
///
/// Carries every [`Problem`] found.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::{Place, Problem, Record, ResellerId, Snapshot};
///
/// let err = Snapshot::build([
///     Record::new("a", Some("b")),
///     Record::new("b", Some("a")),
///     Record::new("c", None::<&str>),
///     Record::new("c", None::<&str>),
/// ])
/// .unwrap_err();
/// assert_eq!(err.http_status(), 400);
/// assert_eq!(
///     err.problems(),
///     [
///         Problem::DuplicateId { id: "c".into(), at: vec![Place::Record(2), Place::Record(3)] },
///         Problem::Cycle { members: vec!["a".into(), "b".into()] },
///     ]
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError {
    problems: Vec<Problem>,
}

impl BuildError {
    /// Every problem found: malformed records and unknown capabilities in input order,
    /// then duplicate ids, unknown parents, and cycles.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Takes the problems out.
    pub fn into_problems(self) -> Vec<Problem> {
        self.problems
    }

    /// The HTTP status an embedding service answers: 400.
    pub const fn http_status(&self) -> u16 {
        400
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid hierarchy, {} problem(s)", self.problems.len())?;
        for p in self.problems.iter().take(20) {
            write!(f, "\n  - {p}")?;
        }
        if self.problems.len() > 20 {
            write!(f, "\n  - … and {} more", self.problems.len() - 20)?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {}
