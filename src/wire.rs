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
//! use reseller_hierarchy::{Id, Order, Record, Snapshot};
//!
//! let snap = Snapshot::build([
//!     Record::new("1", None::<&str>).name("Company 1"),
//!     Record::new("2", Some("1")).name("Company 2").economic_enabled(true),
//! ])?;
//! let req = page_request_from_query("page%5Bnumber%5D=1&page%5Bsize%5D=50")?;
//! let page = snap.downline(Id::new("1"), Order::PreOrder, req)?;
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
use crate::paging::{Order, PageError, PageRequest};
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
    /// 401: the request carries no credentials the service reads.
    Unauthenticated(String),
    /// 403: the request's credentials are unknown.
    UnknownCredentials,
    /// 404 `not_found`: no resource at this path.
    UnknownPath(String),
    /// 405 `method_not_allowed`: the path is there, the method is not.
    MethodNotAllowed(String),
    /// An id that names no reseller: 404 `not_found`.
    NotFound(QueryError),
    /// A cursor that cannot be followed: 400 `bad_request`, or 410 `cursor_expired`.
    Cursor(crate::cursor::CursorError),
    /// A version the request pinned (the HTTP service's `version` parameter) that the
    /// hierarchy no longer keeps, or that an earlier run of the service made: 410
    /// `version_expired`.
    VersionExpired {
        /// The version asked for.
        version: u64,
        /// The current version.
        current: u64,
    },
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
            ApiError::VersionExpired { .. } => 410,
            ApiError::Mutation(e) => e.http_status(),
            ApiError::AccessDenied(e) => e.http_status(),
            ApiError::Unauthenticated(_) => 401,
            ApiError::UnknownCredentials => 403,
            ApiError::UnknownPath(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::NotFound(e) => e.http_status(),
            ApiError::InvalidHierarchy(_) | ApiError::Internal(_) => 500,
        }
    }

    /// The machine-readable code: `bad_request`, `unauthorized`, `access_denied`,
    /// `not_found`, `method_not_allowed`, `cursor_expired`, `version_expired`,
    /// `invalid_hierarchy` or `internal_error`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Cursor(
                crate::cursor::CursorError::Expired { .. }
                | crate::cursor::CursorError::OtherHierarchy,
            ) => "cursor_expired",
            ApiError::VersionExpired { .. } => "version_expired",
            ApiError::BadRequest(_)
            | ApiError::BadParameter { .. }
            | ApiError::Cursor(_)
            | ApiError::Mutation(_) => "bad_request",
            ApiError::AccessDenied(_) | ApiError::UnknownCredentials => "access_denied",
            ApiError::Unauthenticated(_) => "unauthorized",
            ApiError::UnknownPath(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::NotFound(_) => "not_found",
            ApiError::InvalidHierarchy(_) => "invalid_hierarchy",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The HTTP reason phrase of the status.
    pub fn title(&self) -> &'static str {
        match self.http_status() {
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            410 => "Gone",
            404 => "Not Found",
            405 => "Method Not Allowed",
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
            ApiError::Unauthenticated(m) => write!(f, "unauthorized: {m}"),
            ApiError::UnknownCredentials => f.write_str("access denied: unknown credentials"),
            ApiError::UnknownPath(path) => write!(f, "no resource at {path:?}"),
            ApiError::MethodNotAllowed(method) => {
                write!(f, "method {method} is not allowed here; use GET")
            }
            ApiError::NotFound(e) => e.fmt(f),
            ApiError::Cursor(e) => e.fmt(f),
            ApiError::VersionExpired { version, current } => write!(
                f,
                "version {version} is no longer kept (or an earlier run of the service \
                 made it); the current version is {current}: start again without `version`"
            ),
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
/// percent-encoded or not. Other parameters are ignored.
///
/// # Errors
///
/// [`PageError`] naming the bad parameter: [`PageError::parameter`] gives `page` or
/// `per_page`, [`PageError::parameter_as_sent`] the spelling the query used. A
/// parameter given more than once, in one spelling or both (`page=2&page=3`,
/// `page=2&page[number]=3`), is an error too: the request is ambiguous.
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
/// let e = page_request_from_query("page=2&page%5Bnumber%5D=3").unwrap_err();
/// assert_eq!(e.parameter_as_sent(), "page[number]");
/// assert!(e.to_string().contains("more than once"));
/// ```
pub fn page_request_from_query(query: &str) -> Result<PageRequest, PageError> {
    // The value of each parameter and the spelling it came in.
    type Given = Option<(String, &'static str)>;
    let (mut page, mut size): (Given, Given) = (None, None);
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let (slot, name, per_page) = match &*k {
            "page" => (&mut page, "page", false),
            "page[number]" => (&mut page, "page[number]", false),
            "per_page" => (&mut size, "per_page", true),
            "page[size]" => (&mut size, "page[size]", true),
            _ => continue,
        };
        if slot.is_some() {
            return Err(PageError::repeated(per_page, &v).sent_as(name));
        }
        *slot = Some((v.into_owned(), name));
    }
    let page_name = page.as_ref().map_or("page", |p| p.1);
    let size_name = size.as_ref().map_or("per_page", |s| s.1);
    PageRequest::parse(
        page.as_ref().map(|p| p.0.as_str()),
        size.as_ref().map(|s| s.0.as_str()),
    )
    .map_err(|e| {
        let name = if e.parameter() == "page" {
            page_name
        } else {
            size_name
        };
        e.sent_as(name)
    })
}

/// Reads the listing order from a URL query string: `order=pre` (the default when
/// absent) or `order=level`.
///
/// # Errors
///
/// [`ApiError::BadParameter`] naming `order` for any other value, or when it is given
/// more than once.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::wire::order_from_query;
/// use reseller_hierarchy::Order;
///
/// assert_eq!(order_from_query("page=2").unwrap(), Order::PreOrder);
/// assert_eq!(order_from_query("order=level").unwrap(), Order::LevelOrder);
/// assert!(order_from_query("order=bfs").is_err());
/// ```
pub fn order_from_query(query: &str) -> Result<Order, ApiError> {
    let order = single_parameter(
        query,
        "order",
        |v| match v {
            "pre" => Some(Order::PreOrder),
            "level" => Some(Order::LevelOrder),
            _ => None,
        },
        "is not an order; expected pre or level",
    )?;
    Ok(order.unwrap_or(Order::PreOrder))
}

/// The query parameter by which the HTTP service pins a version (`http/pin.rs`), named
/// by the `source` of a `version_expired` error.
pub(crate) const VERSION_PARAMETER: &str = "version";

/// The parameter `name` of a URL query string, read by `read`: `None` when absent. In
/// the order the query gives them, a second occurrence is a 400 naming `name` ("given
/// more than once"), and a value `read` refuses is a 400 that quotes it (its first 64
/// characters) followed by `refused`.
pub(crate) fn single_parameter<T>(
    query: &str,
    name: &str,
    read: impl Fn(&str) -> Option<T>,
    refused: &str,
) -> Result<Option<T>, ApiError> {
    let mut found = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != name {
            continue;
        }
        let bad = |message: String| ApiError::BadParameter {
            parameter: name.into(),
            message,
        };
        if found.is_some() {
            return Err(bad("given more than once".into()));
        }
        found = Some(read(&v).ok_or_else(|| {
            let shown: String = v.chars().take(64).collect();
            bad(format!("{shown:?} {refused}"))
        })?);
    }
    Ok(found)
}
