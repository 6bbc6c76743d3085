//! TelecomX `GET /customer/resellers/list`.

use serde::{Deserialize, Serialize};

use super::{order_from_query, page_request_from_query, write, ApiError};
use crate::access::Principal;
use crate::capability::FilterFlags;
use crate::snapshot::Page;
use crate::snapshot::{Reseller, Snapshot};

/// One entry of the list: `{"_id", "name", "integrations": {"billing": {"economic":
/// {"enabled"}}}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResellerItem {
    /// Unique reseller id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Name of the reseller.
    pub name: String,
    /// Third-party integrations (only e-conomic for now).
    pub integrations: Integrations,
}

/// `integrations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Integrations {
    /// Billing integrations.
    pub billing: Billing,
}

/// `integrations.billing`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Billing {
    /// Visma e-conomic.
    pub economic: Economic,
}

/// `integrations.billing.economic`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Economic {
    /// True if the integration is enabled; default false.
    #[serde(default)]
    pub enabled: bool,
}

impl From<Reseller<'_>> for ResellerItem {
    fn from(r: Reseller<'_>) -> Self {
        ResellerItem {
            id: r.id().to_string(),
            name: r.name().to_owned(),
            integrations: Integrations {
                billing: Billing {
                    economic: Economic {
                        enabled: r.economic_enabled(),
                    },
                },
            },
        }
    }
}

/// The response body for one page: a JSON array of [`ResellerItem`].
pub fn list(page: &Page<'_>) -> Vec<ResellerItem> {
    page.iter().map(ResellerItem::from).collect()
}

/// Writes the body of [`list`]`(page)` into `out`: the same bytes as
/// `serde_json::to_vec(&list(page))`, without building the items (ids and names are
/// copied between quotes unless they need escaping).
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::wire::telecomx::{list, write_list};
/// use reseller_hierarchy::{Id, Order, PageRequest, Record, Snapshot};
///
/// let snap = Snapshot::build([
///     Record::new("1", None::<&str>),
///     Record::new("2", Some("1")).name("Anders \"And\" & Co").economic_enabled(true),
/// ])?;
/// let page = snap.downline(Id::new("1"), Order::PreOrder, PageRequest::default())?;
/// let mut body = Vec::new();
/// write_list(&page, &mut body);
/// assert_eq!(body, serde_json::to_vec(&list(&page))?);
/// assert_eq!(
///     std::str::from_utf8(&body)?,
///     r#"[{"_id":"2","name":"Anders \"And\" & Co","integrations":{"billing":{"economic":{"enabled":true}}}}]"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_list(page: &Page<'_>, out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, r) in page.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let w = r.wire();
        out.extend_from_slice(b"{\"_id\":");
        write::known_string(out, w.id, w.id_plain);
        out.extend_from_slice(b",\"name\":");
        write::known_string(out, w.name, w.name_plain);
        out.extend_from_slice(if w.economic {
            b",\"integrations\":{\"billing\":{\"economic\":{\"enabled\":true}}}}"
        } else {
            b",\"integrations\":{\"billing\":{\"economic\":{\"enabled\":false}}}}"
        });
    }
    out.push(b']');
}

/// A TelecomX error body: `{"error": "access_denied", "message": "…"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `bad_request`, `access_denied`, `not_found`, `invalid_hierarchy` or
    /// `internal_error`.
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
}

impl From<&ApiError> for ErrorBody {
    fn from(e: &ApiError) -> Self {
        ErrorBody {
            error: e.code().to_owned(),
            message: e.to_string(),
        }
    }
}

/// Reads the flags `iptv`, `iptvprivate`, `flexcare` and `voip` from a URL query string
/// (without the `?`). Each is `true` or `false`; absent is false. Other parameters are
/// ignored.
///
/// # Errors
///
/// [`ApiError::BadParameter`] naming a flag with any other value (`1`, `yes`, `TRUE`),
/// or given more than once.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::wire::telecomx::flags_from_query;
/// use reseller_hierarchy::Filter;
///
/// let flags = flags_from_query("voip=true&page=2").unwrap();
/// assert_eq!(flags.effective(), Some(Filter::Voip));
/// assert!(flags_from_query("iptv=yes").is_err());
/// assert!(flags_from_query("voip=1").is_err());
/// assert!(flags_from_query("voip=true&voip=false").is_err());
/// ```
pub fn flags_from_query(query: &str) -> Result<FilterFlags, ApiError> {
    match read_flags(query) {
        (flags, None) => Ok(flags),
        (_, Some(fault)) => Err(fault),
    }
}

/// The flags of `query` read leniently, and the first fault [`flags_from_query`]
/// reports: a flag is set when any of its values is `true` (what access is decided
/// on: a `RESELLER` that sends `voip=true` is refused whatever else it sends), and a
/// malformed value sets nothing.
fn read_flags(query: &str) -> (FilterFlags, Option<ApiError>) {
    let mut flags = FilterFlags::NONE;
    let mut fault = None;
    let mut seen = [false; 4];
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let (slot, i) = match &*k {
            "iptv" => (&mut flags.iptv, 0),
            "iptvprivate" => (&mut flags.iptvprivate, 1),
            "flexcare" => (&mut flags.flexcare, 2),
            "voip" => (&mut flags.voip, 3),
            _ => continue,
        };
        if std::mem::replace(&mut seen[i], true) {
            fault.get_or_insert_with(|| ApiError::BadParameter {
                parameter: k.clone().into_owned(),
                message: "given more than once".into(),
            });
        }
        match &*v {
            "true" => *slot = true,
            "false" => {}
            other => {
                let shown: String = other.chars().take(64).collect();
                fault.get_or_insert_with(|| ApiError::BadParameter {
                    parameter: k.into_owned(),
                    message: format!("{shown:?} is not a boolean; expected true or false"),
                });
            }
        }
    }
    (flags, fault)
}

/// A `customer/resellers/list` request read from its query string in the contract's
/// order: access is decided (on the role, the principal's reseller and the flags set
/// `true`, which a `RESELLER` may not set), then a malformed flag is reported, and only
/// then `order` (`pre` or `level`)
/// and `page`/`per_page` (or `page[number]`/`page[size]`). A caller refused access
/// gets a 403 whatever its other parameters say, so that a denied request learns
/// nothing about the listing, not even whether its flags or its paging were well
/// formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListRequest {
    /// The capability flags.
    pub flags: FilterFlags,
    /// The listing's order.
    pub order: crate::Order,
    /// Which page.
    pub page: crate::PageRequest,
}

impl ListRequest {
    /// Reads the request of `principal` from `query` (see the type's docs).
    ///
    /// # Errors
    ///
    /// As [`eligible_parents`].
    pub fn read(
        snapshot: &Snapshot,
        principal: &Principal,
        query: &str,
    ) -> Result<ListRequest, ApiError> {
        // Access first, O(log n), and the same checks eligible_parents makes, on the
        // flags set true: a malformed flag is told only to a caller who has access.
        let (flags, fault) = read_flags(query);
        snapshot.eligible_count(principal, flags)?;
        if let Some(fault) = fault {
            return Err(fault);
        }
        Ok(ListRequest {
            flags,
            order: order_from_query(query)?,
            page: page_request_from_query(query)?,
        })
    }
}

/// The whole `customer/resellers/list` request: [`ListRequest::read`], then the page.
///
/// # Errors
///
/// [`ApiError::AccessDenied`] (403) when the rules refuse the principal, whatever the
/// rest of the query says (access is decided on the flags set `true`);
/// [`ApiError::BadParameter`] (400) for a flag that is not a boolean, or is given twice,
/// from a principal who has access; and
/// [`ApiError::BadParameter`] or [`ApiError::BadRequest`] (400) for a bad order or bad
/// paging from a principal who has access.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::wire::telecomx;
/// use reseller_hierarchy::{Principal, Record, Role, Snapshot};
///
/// let snap = Snapshot::build([Record::new("1", None::<&str>), Record::new("2", Some("1"))])?;
/// let admin = Principal::new(Role::ResellerAdmin, "1");
/// let page = telecomx::eligible_parents(&snap, &admin, "per_page=1&page=2")?;
/// assert_eq!(page.iter().next().unwrap().id().as_str(), "2");
///
/// // Bad paging from a caller with access: 400.
/// let e = telecomx::eligible_parents(&snap, &admin, "page=0").unwrap_err();
/// assert_eq!(e.http_status(), 400);
///
/// // The same bad paging from a caller without access: 403, as any refusal.
/// let guest = Principal::new(Role::Other("GUEST".into()), "1");
/// let e = telecomx::eligible_parents(&snap, &guest, "page=0&order=bfs").unwrap_err();
/// assert_eq!(e.http_status(), 403);
/// // And a malformed flag from it: 403 too.
/// let e = telecomx::eligible_parents(&snap, &guest, "iptv=yes").unwrap_err();
/// assert_eq!(e.http_status(), 403);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn eligible_parents<'s>(
    snapshot: &'s Snapshot,
    principal: &Principal,
    query: &str,
) -> Result<Page<'s>, ApiError> {
    let r = ListRequest::read(snapshot, principal, query)?;
    Ok(snapshot.eligible_parents(principal, r.flags, r.order, r.page)?)
}
