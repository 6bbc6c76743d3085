//! Page requests and their validation; the pages queries return are
//! [`Page`](crate::Page)s, next to the snapshot they borrow (`snapshot/page.rs`).

use std::fmt;

/// Which precomputed traversal order a listing follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Order {
    /// Depth-first pre-order: a reseller, then each child's whole downline in turn,
    /// children in the order they were added. Roots in the order they were added.
    #[default]
    PreOrder,
    /// Level order: nearest levels first; within a level, in the order of the parents
    /// (and of the siblings under one parent).
    LevelOrder,
}

/// A validated page request: `page` from 1, `per_page` from 1 to
/// [`PageRequest::MAX_PER_PAGE`].
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::PageRequest;
///
/// let req = PageRequest::parse(Some("3"), None).unwrap();
/// assert_eq!((req.page(), req.per_page()), (3, 50));
/// assert_eq!(PageRequest::default(), PageRequest::new(1, 50).unwrap());
/// let err = PageRequest::parse(Some("2"), Some("1001")).unwrap_err();
/// assert_eq!(err.parameter(), "per_page");
/// assert_eq!(err.http_status(), 400);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageRequest {
    page: u64,
    per_page: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            page: 1,
            per_page: PageRequest::DEFAULT_PER_PAGE,
        }
    }
}

impl PageRequest {
    /// `per_page` when the request gives none.
    pub const DEFAULT_PER_PAGE: u32 = 50;
    /// The largest `per_page` accepted.
    pub const MAX_PER_PAGE: u32 = 1000;

    /// A request for page `page` (1-based) of `per_page` items.
    ///
    /// # Errors
    ///
    /// [`PageError`] naming `page` when it is 0, or `per_page` when it is not from 1 to
    /// [`PageRequest::MAX_PER_PAGE`].
    pub fn new(page: u64, per_page: u64) -> Result<PageRequest, PageError> {
        if page == 0 {
            return Err(PageError::new(Param::Page, page.to_string(), Reason::Zero));
        }
        let per_page = match u32::try_from(per_page) {
            Ok(0) => {
                return Err(PageError::new(Param::PerPage, "0".into(), Reason::Zero));
            }
            Ok(p) if p <= PageRequest::MAX_PER_PAGE => p,
            _ => {
                return Err(PageError::new(
                    Param::PerPage,
                    per_page.to_string(),
                    Reason::OverMax,
                ))
            }
        };
        Ok(PageRequest { page, per_page })
    }

    /// Parses the query-string values of `page` and `per_page`; an absent value takes
    /// its default (1 and 50).
    ///
    /// Values must be plain decimal digits. `0`, negative numbers, anything that is not
    /// a number and numbers beyond 64 bits are errors.
    ///
    /// # Errors
    ///
    /// [`PageError`] naming the first bad parameter, `page` checked first.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::PageRequest;
    /// for bad in ["0", "-1", "abc", "", "18446744073709551616", " 1"] {
    ///     assert_eq!(PageRequest::parse(Some(bad), None).unwrap_err().parameter(), "page");
    /// }
    /// ```
    pub fn parse(page: Option<&str>, per_page: Option<&str>) -> Result<PageRequest, PageError> {
        let page = match page {
            None => 1,
            Some(s) => parse_number(Param::Page, s)?,
        };
        if page == 0 {
            // Checked before `per_page` is read, so that `page` is reported first.
            return Err(PageError::new(Param::Page, "0".into(), Reason::Zero));
        }
        let per_page = match per_page {
            None => u64::from(PageRequest::DEFAULT_PER_PAGE),
            Some(s) => parse_number(Param::PerPage, s)?,
        };
        PageRequest::new(page, per_page)
    }

    /// The 1-based page number.
    pub const fn page(&self) -> u64 {
        self.page
    }

    /// Items per page.
    pub const fn per_page(&self) -> u32 {
        self.per_page
    }

    /// Index of the page's first item in the whole listing (saturating).
    pub fn offset(&self) -> usize {
        let offset = (self.page - 1).saturating_mul(u64::from(self.per_page));
        usize::try_from(offset).unwrap_or(usize::MAX)
    }

    /// The positions `offset..offset + len` of this page within a listing of `total`.
    pub(crate) fn window(&self, total: usize) -> std::ops::Range<usize> {
        let start = self.offset().min(total);
        let end = start.saturating_add(self.per_page as usize).min(total);
        start..end
    }

    /// The last page number of a listing of `total` items: `max(1, ceil(total / per_page))`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reseller_hierarchy::PageRequest;
    /// let req = PageRequest::new(1, 50).unwrap();
    /// assert_eq!(req.last_page(0), 1);
    /// assert_eq!(req.last_page(50), 1);
    /// assert_eq!(req.last_page(51), 2);
    /// ```
    pub fn last_page(&self, total: usize) -> u64 {
        let per = self.per_page as usize;
        (total.div_ceil(per) as u64).max(1)
    }
}

fn parse_number(param: Param, s: &str) -> Result<u64, PageError> {
    let reason = if s.starts_with('-') && s.len() > 1 && s[1..].bytes().all(|b| b.is_ascii_digit())
    {
        Reason::Negative
    } else if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        Reason::NotANumber
    } else {
        match s.parse::<u64>() {
            Ok(n) => return Ok(n),
            Err(_) => Reason::Overflow,
        }
    };
    Err(PageError::new(param, truncate(s), reason))
}

/// Keeps error messages small whatever the client sent.
fn truncate(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Param {
    Page,
    PerPage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    Zero,
    Negative,
    NotANumber,
    Overflow,
    OverMax,
    /// Given more than once (in either spelling); only query strings can say that.
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    Repeated,
}

/// A bad `page` or `per_page`: answer 400 Bad Request.
///
/// The message names the parameter, the value given (cut to 64 bytes) and the range
/// expected.
///
/// # Examples
///
/// ```
/// # use reseller_hierarchy::PageRequest;
/// let err = PageRequest::parse(Some("abc"), None).unwrap_err();
/// assert_eq!(err.to_string(), r#"bad page "abc": not a whole number; expected an integer from 1"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageError {
    param: Param,
    value: String,
    reason: Reason,
    /// The parameter's name as the client wrote it, when that differs.
    sent_as: Option<&'static str>,
}

impl PageError {
    fn new(param: Param, value: String, reason: Reason) -> PageError {
        PageError {
            param,
            value,
            reason,
            sent_as: None,
        }
    }

    /// `page` (or `per_page` when `per_page` is true) given more than once, in either
    /// spelling; `value` is the later one.
    #[cfg(feature = "serde")]
    pub(crate) fn repeated(per_page: bool, value: &str) -> PageError {
        let param = if per_page {
            Param::PerPage
        } else {
            Param::Page
        };
        PageError::new(param, truncate(value), Reason::Repeated)
    }

    /// The same error, naming the parameter as the client wrote it (for example
    /// `page[size]` for `per_page`).
    #[must_use]
    pub fn sent_as(mut self, name: &'static str) -> PageError {
        self.sent_as = Some(name);
        self
    }

    /// The parameter's name as the client wrote it: the name given to
    /// [`sent_as`](PageError::sent_as), else [`parameter`](PageError::parameter).
    pub fn parameter_as_sent(&self) -> &'static str {
        self.sent_as.unwrap_or_else(|| self.parameter())
    }

    /// The parameter at fault: `"page"` or `"per_page"`.
    pub fn parameter(&self) -> &'static str {
        match self.param {
            Param::Page => "page",
            Param::PerPage => "per_page",
        }
    }

    /// The value given (cut to 64 bytes).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The HTTP status an embedding service answers: 400.
    pub const fn http_status(&self) -> u16 {
        400
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.reason {
            Reason::Zero => "must be at least 1",
            Reason::Negative => "must not be negative",
            Reason::NotANumber => "not a whole number",
            Reason::Overflow => "too large",
            Reason::OverMax => "over the maximum",
            Reason::Repeated => "given more than once (page and page[number], per_page and page[size] are one parameter each)",
        };
        let expected = match (self.reason, self.param) {
            (Reason::Repeated, _) => "it once".to_owned(),
            (_, Param::Page) => "an integer from 1".to_owned(),
            (_, Param::PerPage) => format!("an integer from 1 to {}", PageRequest::MAX_PER_PAGE),
        };
        // Quoted and escaped, then cut: control characters escape to several
        // characters each, and the message must stay short whatever was sent.
        let quoted = format!("{:?}", self.value);
        let shown: String = if quoted.chars().count() > 80 {
            quoted.chars().take(79).chain("…\"".chars()).collect()
        } else {
            quoted
        };
        write!(
            f,
            "bad {} {shown}: {why}; expected {expected}",
            self.parameter_as_sent(),
        )
    }
}

impl std::error::Error for PageError {}
