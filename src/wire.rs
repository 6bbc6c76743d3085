//! Wire formats of the two APIs (feature `serde`): what an embedding service sends.
//!
//! - [`telecomx`]: `GET /customer/resellers/list`, a JSON array of
//!   `{"_id", "name", "integrations": {"billing": {"economic": {"enabled"}}}}` and
//!   `{"error": "access_denied", "message": …}` errors.
//! - [`jsonapi`]: ActivePlatform `GET /resellers`, a JSON:API document with `data`,
//!   `links` (`self`, `first`, `prev`, `next`, `last`) and `meta.total`, and JSON:API
//!   error objects.
//!
//! Both share [`ApiError`], the one error type at the edge, and
//! [`page_request_from_query`], which reads `page`/`per_page` or
//! `page[number]`/`page[size]` from a query string.
//!
//! # Examples
//!
//! ```
//! use reseller_hierarchy::wire::{jsonapi, page_request_from_query, telecomx};
//! use reseller_hierarchy::{Order, Record, Snapshot};
//!
//! let snap = Snapshot::build([
//!     Record::new("1", None::<&str>).name("Company 1"),
//!     Record::new("2", Some("1")).name("Company 2").economic_enabled(true),
//! ])?;
//! let req = page_request_from_query("page%5Bnumber%5D=1&page%5Bsize%5D=50")?;
//! let page = snap.downline(&"1".into(), Order::PreOrder, req)?;
//!
//! let list = serde_json::to_value(telecomx::list(&page))?;
//! assert_eq!(list[0]["_id"], "2");
//! assert_eq!(list[0]["integrations"]["billing"]["economic"]["enabled"], true);
//!
//! let doc = jsonapi::document(&page, "http://billing.example.com/api/v3/customer_store/resellers");
//! let doc = serde_json::to_value(doc)?;
//! assert_eq!(doc["data"][0]["attributes"]["parent-id"], "1");
//! assert_eq!(doc["meta"]["total"], 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use crate::access::AccessError;
use crate::builder::BuildError;
use crate::paging::{PageError, PageRequest};
use crate::snapshot::QueryError;

pub mod jsonapi;
pub mod telecomx;
mod write;

/// Every error an API edge answers with, with its HTTP status and machine code.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// A bad paging parameter: 400 `bad_request`.
    BadRequest(PageError),
    /// Another bad request parameter: 400 `bad_request`.
    BadParameter {
        /// The parameter's name.
        parameter: String,
        /// What is wrong with it.
        message: String,
    },
    /// The access rules refuse: 403 `access_denied`.
    AccessDenied(AccessError),
    /// An id that names no reseller: 404 `not_found`.
    NotFound(QueryError),
    /// A cursor that cannot be followed: 400 `bad_request`, or 410 `cursor_expired`.
    Cursor(crate::cursor::CursorError),
    /// A refused batch of mutations: 400 `bad_request`.
    Mutation(crate::mutation::MutationError),
    /// The data is not a valid hierarchy: 500 `invalid_hierarchy` at a service (the
    /// service's own data is wrong), reported as such by the command-line tool.
    InvalidHierarchy(BuildError),
    /// Anything else: 500 `internal_error`.
    Internal(String),
}

impl ApiError {
    /// The HTTP status to answer.
    pub fn http_status(&self) -> u16 {
        match self {
            ApiError::BadRequest(e) => e.http_status(),
            ApiError::BadParameter { .. } => 400,
            ApiError::Cursor(e) => e.http_status(),
            ApiError::Mutation(e) => e.http_status(),
            ApiError::AccessDenied(e) => e.http_status(),
            ApiError::NotFound(e) => e.http_status(),
            ApiError::InvalidHierarchy(_) | ApiError::Internal(_) => 500,
        }
    }

    /// The machine-readable code: `bad_request`, `access_denied`, `not_found`,
    /// `cursor_expired`, `invalid_hierarchy` or `internal_error`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Cursor(crate::cursor::CursorError::Expired { .. }) => "cursor_expired",
            ApiError::BadRequest(_)
            | ApiError::BadParameter { .. }
            | ApiError::Cursor(_)
            | ApiError::Mutation(_) => "bad_request",
            ApiError::AccessDenied(_) => "access_denied",
            ApiError::NotFound(_) => "not_found",
            ApiError::InvalidHierarchy(_) => "invalid_hierarchy",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The HTTP reason phrase of the status.
    pub fn title(&self) -> &'static str {
        match self.http_status() {
            400 => "Bad Request",
            403 => "Forbidden",
            410 => "Gone",
            404 => "Not Found",
            _ => "Internal Server Error",
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::BadRequest(e) => e.fmt(f),
            ApiError::BadParameter { parameter, message } => {
                write!(f, "bad {parameter}: {message}")
            }
            ApiError::AccessDenied(e) => e.fmt(f),
            ApiError::NotFound(e) => e.fmt(f),
            ApiError::Cursor(e) => e.fmt(f),
            ApiError::Mutation(e) => e.fmt(f),
            ApiError::InvalidHierarchy(e) => e.fmt(f),
            ApiError::Internal(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<PageError> for ApiError {
    fn from(e: PageError) -> Self {
        ApiError::BadRequest(e)
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        ApiError::AccessDenied(e)
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        ApiError::NotFound(e)
    }
}

impl From<crate::hierarchy::ListError> for ApiError {
    fn from(e: crate::hierarchy::ListError) -> Self {
        use crate::hierarchy::ListError;
        match e {
            ListError::NotFound(e) => ApiError::NotFound(e),
            ListError::Access(e) => ApiError::AccessDenied(e),
            ListError::Cursor(e) => ApiError::Cursor(e),
        }
    }
}

impl From<crate::mutation::MutationError> for ApiError {
    fn from(e: crate::mutation::MutationError) -> Self {
        ApiError::Mutation(e)
    }
}

impl From<BuildError> for ApiError {
    fn from(e: BuildError) -> Self {
        ApiError::InvalidHierarchy(e)
    }
}

/// Reads the page request from a URL query string (without the `?`), accepting
/// `page` and `per_page` or their JSON:API spellings `page[number]` and `page[size]`,
/// percent-encoded or not. Where both spellings of one parameter are given, the
/// JSON:API one wins. Other parameters are ignored.
///
/// # Errors
///
/// [`PageError`] naming the bad parameter: [`PageError::parameter`] gives `page` or
/// `per_page`, [`PageError::parameter_as_sent`] the spelling the query used.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::wire::page_request_from_query;
///
/// let req = page_request_from_query("page=2&per_page=10&iptv=true").unwrap();
/// assert_eq!((req.page(), req.per_page()), (2, 10));
/// let req = page_request_from_query("page%5Bnumber%5D=3&page[size]=5").unwrap();
/// assert_eq!((req.page(), req.per_page()), (3, 5));
/// assert_eq!(page_request_from_query("per_page=0").unwrap_err().parameter(), "per_page");
/// ```
pub fn page_request_from_query(query: &str) -> Result<PageRequest, PageError> {
    let (mut page, mut per_page) = (None, None);
    let (mut number, mut size) = (None, None);
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "page" => page = Some(v.into_owned()),
            "per_page" => per_page = Some(v.into_owned()),
            "page[number]" => number = Some(v.into_owned()),
            "page[size]" => size = Some(v.into_owned()),
            _ => {}
        }
    }
    let page_name = if number.is_some() {
        "page[number]"
    } else {
        "page"
    };
    let size_name = if size.is_some() {
        "page[size]"
    } else {
        "per_page"
    };
    PageRequest::parse(number.or(page).as_deref(), size.or(per_page).as_deref()).map_err(|e| {
        let name = if e.parameter() == "page" {
            page_name
        } else {
            size_name
        };
        e.sent_as(name)
    })
}
