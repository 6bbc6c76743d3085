//! Roles, principals and the access rules of eligible-parents listings.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use crate::capability::{Filter, FilterFlags};
use crate::id::ResellerId;

/// The access level of the user asking.
///
/// Parsing never fails: a string that is not `ADMIN`, `RESELLER_ADMIN` or `RESELLER`
/// (exactly, upper case) becomes [`Role::Other`], which every listing denies.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::Role;
///
/// assert_eq!("RESELLER_ADMIN".parse::<Role>(), Ok(Role::ResellerAdmin));
/// assert_eq!("admin".parse::<Role>(), Ok(Role::Other("admin".into())));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sees every reseller; needs no reseller of its own.
    Admin,
    /// Sees its own reseller and its downline; may filter by capability.
    ResellerAdmin,
    /// Sees its own reseller and its downline; may not filter.
    Reseller,
    /// Any other role: always denied.
    Other(String),
}

impl Role {
    /// The role's name as the API writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Role::Admin => "ADMIN",
            Role::ResellerAdmin => "RESELLER_ADMIN",
            Role::Reseller => "RESELLER",
            Role::Other(s) => s,
        }
    }
}

impl FromStr for Role {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "ADMIN" => Role::Admin,
            "RESELLER_ADMIN" => Role::ResellerAdmin,
            "RESELLER" => Role::Reseller,
            other => Role::Other(other.to_owned()),
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is asking: a role and, for reseller roles, the user's own reseller.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::{Principal, Role};
///
/// let admin = Principal::admin();
/// let user = Principal::new(Role::Reseller, "52f4fd7734697b28ccaf77ec");
/// assert_eq!(user.reseller.as_ref().unwrap().as_str(), "52f4fd7734697b28ccaf77ec");
/// assert!(admin.reseller.is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The access level.
    pub role: Role,
    /// The user's own reseller (required for `RESELLER` and `RESELLER_ADMIN`).
    pub reseller: Option<ResellerId>,
}

impl Principal {
    /// A principal with a role and its own reseller.
    pub fn new(role: Role, reseller: impl Into<ResellerId>) -> Principal {
        Principal {
            role,
            reseller: Some(reseller.into()),
        }
    }

    /// An `ADMIN` with no reseller of its own.
    pub fn admin() -> Principal {
        Principal {
            role: Role::Admin,
            reseller: None,
        }
    }
}

/// What an eligible-parents listing covers once access is granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope<'a> {
    /// Every reseller.
    All,
    /// The given reseller and its whole downline.
    SelfAndDownline(&'a ResellerId),
}

/// Why an eligible-parents request was refused: answer 403 Forbidden
/// (TelecomX `access_denied`).
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::{AccessError, Principal, Role};
/// # use reseller_hierarchy::{FilterFlags, Order, PageRequest, Snapshot, Record};
/// # let snap = Snapshot::build([Record::new("1", None::<&str>)]).unwrap();
/// let user = Principal::new(Role::Reseller, "1");
/// let flags = FilterFlags { iptv: true, ..FilterFlags::NONE };
/// let err = snap.eligible_parents(&user, flags, Order::PreOrder, PageRequest::default()).unwrap_err();
/// assert!(matches!(err, AccessError::FlagNeedsResellerAdmin { .. }));
/// assert_eq!(err.http_status(), 403);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessError {
    /// The role is none of `ADMIN`, `RESELLER_ADMIN`, `RESELLER`.
    RoleNotAllowed {
        /// The role given.
        role: String,
    },
    /// A `RESELLER` set a capability flag; flags are for `RESELLER_ADMIN` and up.
    FlagNeedsResellerAdmin {
        /// The first flag set.
        flag: &'static str,
    },
    /// A reseller role without a reseller of its own.
    NoReseller {
        /// The role.
        role: Role,
    },
    /// A reseller role whose reseller does not exist.
    UnknownReseller {
        /// The reseller id given.
        id: ResellerId,
    },
}

impl AccessError {
    /// The HTTP status an embedding service answers: 403.
    pub const fn http_status(&self) -> u16 {
        403
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessError::RoleNotAllowed { role } => write!(
                f,
                "access denied: role {role:?} may not list resellers (RESELLER, RESELLER_ADMIN or ADMIN only)"
            ),
            AccessError::FlagNeedsResellerAdmin { flag } => write!(
                f,
                "access denied: the {flag} filter is for RESELLER_ADMIN and up, not RESELLER"
            ),
            AccessError::NoReseller { role } => write!(
                f,
                "access denied: a {role} principal needs a reseller of its own"
            ),
            AccessError::UnknownReseller { id } => {
                write!(f, "access denied: the principal's reseller {id:?} does not exist")
            }
        }
    }
}

impl std::error::Error for AccessError {}

/// Applies the access rules: which scope the principal may list, with which filter.
/// Whether the principal's reseller exists is checked by the caller.
pub(crate) fn authorize(
    principal: &Principal,
    flags: FilterFlags,
) -> Result<(Scope<'_>, Option<Filter>), AccessError> {
    match &principal.role {
        Role::Admin => Ok((Scope::All, flags.effective())),
        Role::ResellerAdmin => Ok((reseller_scope(principal)?, flags.effective())),
        Role::Reseller => match flags.effective() {
            Some(f) => Err(AccessError::FlagNeedsResellerAdmin {
                flag: f.flag_name(),
            }),
            None => Ok((reseller_scope(principal)?, None)),
        },
        Role::Other(role) => Err(AccessError::RoleNotAllowed { role: role.clone() }),
    }
}

fn reseller_scope(principal: &Principal) -> Result<Scope<'_>, AccessError> {
    match &principal.reseller {
        Some(id) => Ok(Scope::SelfAndDownline(id)),
        None => Err(AccessError::NoReseller {
            role: principal.role.clone(),
        }),
    }
}
