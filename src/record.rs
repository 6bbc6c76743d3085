//! The input record of one reseller.

use crate::capability::Capabilities;
use crate::id::ResellerId;

/// One reseller as it arrives from the embedding service, before validation.
///
/// Records become a [`Snapshot`](crate::Snapshot) through
/// [`Snapshot::build`](crate::Snapshot::build) or a [`Builder`](crate::Builder), which
/// validate all of them together.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::{Capability, Record};
///
/// let root = Record::new("1", None::<&str>).name("Company 1");
/// let child = Record::new("2", Some("1"))
///     .name("Company 2")
///     .capability(Capability::Iptv)
///     .economic_enabled(true);
/// assert_eq!(child.parent.as_ref().map(|p| p.as_str()), Some("1"));
/// assert!(root.parent.is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The reseller's id. Required and unique.
    pub id: ResellerId,
    /// The parent's id. `None`, or the record's own id, makes the reseller a root.
    pub parent: Option<ResellerId>,
    /// Display name (TelecomX `name`, ActivePlatform `general.name`); may be empty.
    pub name: String,
    /// What the reseller provides; the eligible-parents filters look at these.
    pub capabilities: Capabilities,
    /// TelecomX `integrations.billing.economic.enabled`; default false.
    pub economic_enabled: bool,
    /// Further payload carried for the wire formats (ActivePlatform `attributes`).
    pub attributes: Attributes,
}

impl Default for ResellerId {
    fn default() -> Self {
        ResellerId::from("")
    }
}

impl Record {
    /// A record with the given id and parent, no name, no capabilities.
    pub fn new(id: impl Into<ResellerId>, parent: Option<impl Into<ResellerId>>) -> Record {
        Record {
            id: id.into(),
            parent: parent.map(Into::into),
            ..Record::default()
        }
    }

    /// Sets the name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Record {
        self.name = name.into();
        self
    }

    /// Adds a capability.
    #[must_use]
    pub fn capability(mut self, c: crate::Capability) -> Record {
        self.capabilities.insert(c);
        self
    }

    /// Sets all capabilities.
    #[must_use]
    pub fn capabilities(mut self, caps: Capabilities) -> Record {
        self.capabilities = caps;
        self
    }

    /// Sets `integrations.billing.economic.enabled`.
    #[must_use]
    pub fn economic_enabled(mut self, enabled: bool) -> Record {
        self.economic_enabled = enabled;
        self
    }

    /// Sets the payload attributes.
    #[must_use]
    pub fn attributes(mut self, attributes: Attributes) -> Record {
        self.attributes = attributes;
        self
    }
}

/// Opaque payload of a reseller: the ActivePlatform attributes other than the parent
/// and the name (`created-at`, `updated-at`, `general`, `company`, `contacts`,
/// `custom-attributes`), kept as the text of one JSON object.
///
/// The engine never looks inside; the wire formats render it. Without the `serde`
/// feature only empty attributes can be made.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::Attributes;
///
/// assert!(Attributes::none().is_none());
/// # #[cfg(feature = "serde")] {
/// let a = Attributes::from_json(r#"{"created-at": "2017-06-09T15:44:51.694+03:00"}"#).unwrap();
/// assert_eq!(a.as_json(), Some(r#"{"created-at":"2017-06-09T15:44:51.694+03:00"}"#));
/// assert!(Attributes::from_json("[1]").is_err());
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attributes {
    /// Compact JSON object text, keys sorted (as `serde_json` writes a `Map`).
    pub(crate) text: Option<Box<str>>,
    /// Where a rendered resource's `general.name` and `parent-id` go in `text`
    /// (derived from `text`, so equality stays that of the text).
    pub(crate) splices: Splices,
}

/// Where the per-request members of a JSON:API resource's attributes go in the stored
/// attributes text, so that a body is written by copying the text around two short
/// insertions instead of parsing and re-serializing it (see `wire::write`).
///
/// The rendered attributes are the stored object with `general.name` set to the
/// reseller's name and `parent-id` set to its parent's id. Since `"general"` sorts
/// before `"parent-id"`, the general splice always lies before the parent splice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Splices {
    /// Where `general.name` goes.
    pub(crate) general: Splice,
    /// Where `parent-id` goes.
    pub(crate) parent: Splice,
}

/// A span `start..end` of the stored text that a rendered member replaces (an empty
/// span is an insertion point).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Splice {
    /// First byte replaced.
    pub(crate) start: u32,
    /// One past the last byte replaced.
    pub(crate) end: u32,
    /// What is written in its place.
    pub(crate) kind: SpliceKind,
}

/// What a [`Splice`] writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
// Only the `serde` feature makes attributes, and so these splices.
#[cfg_attr(not(feature = "serde"), allow(dead_code))]
pub(crate) enum SpliceKind {
    /// Insert a member `"key":value` (with the commas its neighbours need).
    #[default]
    InsertMember,
    /// Replace the member `"key":value` that the span covers.
    ReplaceMember,
    /// `general` is there but not an object: replace its value with `{"name":…}`.
    ReplaceGeneralValue,
    /// No `general`: insert the member `"general":{"name":…}`.
    InsertGeneral,
}

impl Splices {
    /// Where the members go in no attributes (`{}`, written as an insertion).
    pub(crate) const NONE: Splices = Splices {
        general: Splice {
            start: 1,
            end: 1,
            kind: SpliceKind::InsertGeneral,
        },
        parent: Splice {
            start: 1,
            end: 1,
            kind: SpliceKind::InsertMember,
        },
    };
}

impl Default for Attributes {
    /// No attributes.
    fn default() -> Attributes {
        Attributes::none()
    }
}

impl Attributes {
    /// No attributes.
    pub const fn none() -> Attributes {
        Attributes {
            text: None,
            splices: Splices::NONE,
        }
    }

    /// Whether there are no attributes.
    pub const fn is_none(&self) -> bool {
        self.text.is_none()
    }

    /// The attributes as compact JSON object text, if any.
    pub fn as_json(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The text and its splices, as a build's columns store them; `None` for none.
    pub(crate) fn stored(&self) -> Option<(&str, Splices)> {
        self.as_json().map(|t| (t, self.splices))
    }

    /// Attributes owning a copy of what [`stored`](Attributes::stored) gave.
    pub(crate) fn from_stored(stored: Option<(&str, Splices)>) -> Attributes {
        match stored {
            Some((text, splices)) => Attributes {
                text: Some(text.into()),
                splices,
            },
            None => Attributes::none(),
        }
    }
}
