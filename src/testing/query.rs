//! Queries as data: every question the engine answers, asked of a [`Snapshot`] and of
//! the [`Model`] alike, and [`check`], which compares the two answers and describes the
//! first difference.

use std::fmt;

use crate::access::Principal;
use crate::capability::FilterFlags;
use crate::id::ResellerId;
use crate::paging::{Order, PageRequest};
use crate::snapshot::Page;
use crate::snapshot::{QueryError, Snapshot};

use super::Model;

/// One question the engine answers, as a value: drawn by the scenario strategies
/// ([`scenario`](super::scenario), [`query`](super::query)), asked of the engine with
/// [`Query::ask`] and of the model with [`Model::answer`].
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::testing::{Answer, Model, Query};
/// use reseller_hierarchy::{Order, PageRequest, Record, Snapshot};
///
/// let records = [Record::new("1", None::<&str>), Record::new("2", Some("1"))];
/// let q = Query::Downline { id: "1".into(), order: Order::PreOrder, page: PageRequest::default() };
/// let snap = Snapshot::build(records.clone()).unwrap();
/// let model = Model::new(&records).unwrap();
/// assert_eq!(q.ask(&snap), model.answer(&q));
/// assert!(matches!(model.answer(&q), Answer::Page { total: 1, .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// [`Snapshot::eligible_parents`].
    EligibleParents {
        /// Who asks.
        principal: Principal,
        /// The capability flags of the request.
        flags: FilterFlags,
        /// The listing's order.
        order: Order,
        /// Which page.
        page: PageRequest,
    },
    /// [`Snapshot::eligible_count`].
    EligibleCount {
        /// Who asks.
        principal: Principal,
        /// The capability flags of the request.
        flags: FilterFlags,
    },
    /// [`Snapshot::downline`].
    Downline {
        /// The reseller whose downline is listed.
        id: ResellerId,
        /// The listing's order.
        order: Order,
        /// Which page.
        page: PageRequest,
    },
    /// [`Snapshot::downline_count`].
    DownlineCount {
        /// The reseller.
        id: ResellerId,
    },
    /// [`Snapshot::upline_page`].
    Upline {
        /// The reseller whose ancestors are listed.
        id: ResellerId,
        /// Which page.
        page: PageRequest,
    },
    /// [`Snapshot::is_in_downline`].
    IsInDownline {
        /// The reseller that may be below.
        id: ResellerId,
        /// The reseller that may be above.
        of: ResellerId,
    },
}

/// What a [`Query`] gets back, from the engine or the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// One page of a listing.
    Page {
        /// The ids on the page, in order.
        ids: Vec<ResellerId>,
        /// The size of the whole listing.
        total: usize,
        /// The last page number, `max(1, ceil(total / per_page))`.
        last_page: u64,
    },
    /// A count.
    Count(usize),
    /// A yes or no.
    Bool(bool),
    /// 403: the principal may not see this listing.
    AccessDenied,
    /// 404: an id names no reseller.
    NotFound,
}

impl Answer {
    /// Whether the query was answered (not refused with 403 or 404).
    pub fn is_granted(&self) -> bool {
        !matches!(self, Answer::AccessDenied | Answer::NotFound)
    }
}

impl Query {
    /// The engine's answer: the query run on `snapshot`.
    pub fn ask(&self, snapshot: &Snapshot) -> Answer {
        match self {
            Query::EligibleParents {
                principal,
                flags,
                order,
                page,
            } => match snapshot.eligible_parents(principal, *flags, *order, *page) {
                Ok(p) => page_answer(&p),
                Err(_) => Answer::AccessDenied,
            },
            Query::EligibleCount { principal, flags } => {
                match snapshot.eligible_count(principal, *flags) {
                    Ok(n) => Answer::Count(n),
                    Err(_) => Answer::AccessDenied,
                }
            }
            Query::Downline { id, order, page } => found(
                snapshot
                    .downline(id, *order, *page)
                    .map(|p| page_answer(&p)),
            ),
            Query::DownlineCount { id } => found(snapshot.downline_count(id).map(Answer::Count)),
            Query::Upline { id, page } => {
                found(snapshot.upline_page(id, *page).map(|p| page_answer(&p)))
            }
            Query::IsInDownline { id, of } => {
                found(snapshot.is_in_downline(id, of).map(Answer::Bool))
            }
        }
    }
}

fn page_answer(page: &Page<'_>) -> Answer {
    Answer::Page {
        ids: page.iter().map(|r| r.id().to_owned()).collect(),
        total: page.total(),
        last_page: page.last_page(),
    }
}

fn found(answer: Result<Answer, QueryError>) -> Answer {
    answer.unwrap_or(Answer::NotFound)
}

impl Model {
    /// The model's answer to `query`, straight from the contract.
    pub fn answer(&self, query: &Query) -> Answer {
        match query {
            Query::EligibleParents {
                principal,
                flags,
                order,
                page,
            } => match self.eligible_parents(principal, *flags, *order) {
                Some(listing) => Self::page_of(&listing, *page),
                None => Answer::AccessDenied,
            },
            Query::EligibleCount { principal, flags } => {
                match self.eligible_parents(principal, *flags, Order::PreOrder) {
                    Some(listing) => Answer::Count(listing.len()),
                    None => Answer::AccessDenied,
                }
            }
            Query::Downline { id, order, page } => match self.downline(id, *order) {
                Some(listing) => Self::page_of(&listing, *page),
                None => Answer::NotFound,
            },
            Query::DownlineCount { id } => match self.downline(id, Order::PreOrder) {
                Some(listing) => Answer::Count(listing.len()),
                None => Answer::NotFound,
            },
            Query::Upline { id, page } => match self.upline(id) {
                Some(listing) => Self::page_of(&listing, *page),
                None => Answer::NotFound,
            },
            Query::IsInDownline { id, of } => match self.is_in_downline(id, of) {
                Some(yes) => Answer::Bool(yes),
                None => Answer::NotFound,
            },
        }
    }

    fn page_of(listing: &[ResellerId], page: PageRequest) -> Answer {
        let per = page.per_page() as usize;
        Answer::Page {
            ids: Model::page(listing, page).to_vec(),
            total: listing.len(),
            last_page: listing.len().div_ceil(per).max(1) as u64,
        }
    }
}

/// The engine and the model disagree on a query: [`Display`](fmt::Display) says where,
/// first difference first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The query.
    pub query: Query,
    /// The engine's answer.
    pub engine: Answer,
    /// The model's answer.
    pub model: Answer,
}

/// Asks `query` of `snapshot` and of `model`; the answer when they agree.
///
/// # Errors
///
/// The [`Difference`] when they do not, whose message names the query and the first
/// item, total or status that differs.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::testing::{check, Model, Query};
/// use reseller_hierarchy::{Mutation, Record, Snapshot};
///
/// let records = vec![Record::new("1", None::<&str>), Record::new("2", Some("1"))];
/// let snap = Snapshot::build(records.clone()).unwrap();
/// let mut model = Model::new(&records).unwrap();
/// let q = Query::DownlineCount { id: "1".into() };
/// assert!(check(&snap, &model, &q).is_ok());
///
/// // The model moves on, the snapshot does not: the check names the difference.
/// model.apply(&[Mutation::Add(Record::new("3", Some("1")))]).unwrap();
/// let diff = check(&snap, &model, &q).unwrap_err();
/// assert_eq!(diff.to_string(), "downline count of \"1\": the engine says 1, the model 2");
/// ```
pub fn check(snapshot: &Snapshot, model: &Model, query: &Query) -> Result<Answer, Box<Difference>> {
    let engine = query.ask(snapshot);
    let expected = model.answer(query);
    if engine == expected {
        Ok(engine)
    } else {
        Err(Box::new(Difference {
            query: query.clone(),
            engine,
            model: expected,
        }))
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = |o: &Order| match o {
            Order::PreOrder => "pre-order",
            Order::LevelOrder => "level order",
        };
        let page = |p: &PageRequest| format!("page {} of {}", p.page(), p.per_page());
        match self {
            Query::EligibleParents {
                principal,
                flags,
                order: o,
                page: p,
            } => write!(
                f,
                "eligible parents for {} with {:?}, {}, {}",
                principal_text(principal),
                flags,
                order(o),
                page(p)
            ),
            Query::EligibleCount { principal, flags } => write!(
                f,
                "eligible-parents count for {} with {:?}",
                principal_text(principal),
                flags
            ),
            Query::Downline {
                id,
                order: o,
                page: p,
            } => {
                write!(
                    f,
                    "downline of {:?}, {}, {}",
                    id.as_str(),
                    order(o),
                    page(p)
                )
            }
            Query::DownlineCount { id } => write!(f, "downline count of {:?}", id.as_str()),
            Query::Upline { id, page: p } => write!(f, "upline of {:?}, {}", id.as_str(), page(p)),
            Query::IsInDownline { id, of } => write!(
                f,
                "is {:?} in the downline of {:?}",
                id.as_str(),
                of.as_str()
            ),
        }
    }
}

fn principal_text(p: &Principal) -> String {
    match &p.reseller {
        Some(r) => format!("{} of {:?}", p.role.as_str(), r.as_str()),
        None => format!("{} without a reseller", p.role.as_str()),
    }
}

fn answer_text(a: &Answer) -> String {
    match a {
        Answer::Page { total, .. } => format!("a page of a listing of {total}"),
        Answer::Count(n) => n.to_string(),
        Answer::Bool(b) => b.to_string(),
        Answer::AccessDenied => "access denied".to_owned(),
        Answer::NotFound => "not found".to_owned(),
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.query)?;
        let (
            Answer::Page {
                ids: a,
                total: ta,
                last_page: la,
            },
            Answer::Page {
                ids: b,
                total: tb,
                last_page: lb,
            },
        ) = (&self.engine, &self.model)
        else {
            return write!(
                f,
                "the engine says {}, the model {}",
                answer_text(&self.engine),
                answer_text(&self.model)
            );
        };
        if ta != tb {
            return write!(f, "the engine's total is {ta}, the model's {tb}");
        }
        if la != lb {
            return write!(f, "the engine's last page is {la}, the model's {lb}");
        }
        match a.iter().zip(b).position(|(x, y)| x != y) {
            Some(i) => write!(
                f,
                "item {i} of the page is {:?} in the engine, {:?} in the model",
                a[i].as_str(),
                b[i].as_str()
            ),
            None => write!(
                f,
                "the engine's page has {} items, the model's {}",
                a.len(),
                b.len()
            ),
        }
    }
}

impl std::error::Error for Difference {}
