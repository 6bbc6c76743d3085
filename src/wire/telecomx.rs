//! TelecomX `GET /customer/resellers/list`.

use serde::{Deserialize, Serialize};

use super::ApiError;
use crate::capability::FilterFlags;
use crate::paging::Page;
use crate::snapshot::Reseller;

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
/// (without the `?`). Each is `true` or `false` (also `1`, `0`); absent is false. Other
/// parameters are ignored.
///
/// # Errors
///
/// [`ApiError::BadParameter`] naming a flag with any other value.
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
/// ```
pub fn flags_from_query(query: &str) -> Result<FilterFlags, ApiError> {
    let mut flags = FilterFlags::NONE;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match &*k {
            "iptv" => &mut flags.iptv,
            "iptvprivate" => &mut flags.iptvprivate,
            "flexcare" => &mut flags.flexcare,
            "voip" => &mut flags.voip,
            _ => continue,
        };
        *slot = match &*v {
            "true" | "1" => true,
            "false" | "0" => false,
            other => {
                let shown: String = other.chars().take(64).collect();
                return Err(ApiError::BadParameter {
                    parameter: k.into_owned(),
                    message: format!("{shown:?} is not a boolean; expected true or false"),
                });
            }
        };
    }
    Ok(flags)
}
