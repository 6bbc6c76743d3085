//! [`RecordIn`]: a record as JSON holds it, read straight from the text: the id and
//! parent into inline [`ResellerId`]s, the name borrowed where it has no escapes, the
//! capability names checked as they are read. Only attributes build a map.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::builder::Columns;
use crate::capability::{Capabilities, Capability};
use crate::id::ResellerId;
use crate::record::{Attributes, Record};

use super::object::{object, read_from_object, FromFields};

/// A record in the record format, before its capability names are reported: a JSON
/// object ([`object`]).
#[derive(Deserialize)]
#[serde(remote = "Self")]
pub(super) struct RecordIn<'a> {
    id: ResellerId,
    #[serde(default)]
    parent: Option<ResellerId>,
    // `borrow` alone would not borrow through the `Option`.
    #[serde(default, borrow, deserialize_with = "borrowed")]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    capabilities: Option<CapabilitiesIn>,
    #[serde(default)]
    integrations: Option<IntegrationsIn>,
    #[serde(default)]
    attributes: Option<Map<String, Value>>,
}

impl<'de> FromFields<'de> for RecordIn<'de> {
    const WHAT: &'static str = "a record";

    fn from_fields<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RecordIn::deserialize(d)
    }
}

impl<'de> Deserialize<'de> for RecordIn<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        object(d)
    }
}

/// An optional string, borrowed from the input when it has no escapes.
fn borrowed<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct Text;
    impl<'de> Visitor<'de> for Text {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
    }
    d.deserialize_option(Text)
}

/// Capability names as they are read: the known ones as a set, the others kept to be
/// reported.
#[derive(Default)]
pub(super) struct CapabilitiesIn {
    known: Capabilities,
    unknown: Vec<String>,
}

impl CapabilitiesIn {
    /// The set, or an error naming the first name that is no capability (for readers
    /// that refuse rather than report it).
    pub(super) fn strict<E: serde::de::Error>(self) -> Result<Capabilities, E> {
        match self.unknown.first() {
            Some(name) => Err(unknown_capability(name)),
            None => Ok(self.known),
        }
    }
}

/// The error for a capability name that is not known.
pub(super) fn unknown_capability<E: serde::de::Error>(name: &str) -> E {
    E::custom(format!(
        "unknown capability {name:?}: expected one of iptv, iptv_private, flexcare, sip, mvno"
    ))
}

impl<'de> Deserialize<'de> for CapabilitiesIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Names;
        impl<'de> Visitor<'de> for Names {
            type Value = CapabilitiesIn;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of capability names")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CapabilitiesIn, A::Error> {
                let mut out = CapabilitiesIn::default();
                while let Some(name) = seq.next_element::<Cow<'de, str>>()? {
                    match name.parse::<Capability>() {
                        Ok(c) => out.known.insert(c),
                        Err(_) => out.unknown.push(name.into_owned()),
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Names)
    }
}

/// `integrations.billing.economic.enabled`, each level optional and an object
/// ([`object`]).
#[derive(Deserialize, Default)]
#[serde(remote = "Self")]
pub(super) struct IntegrationsIn {
    #[serde(default)]
    billing: Option<BillingIn>,
}

read_from_object!(IntegrationsIn, "integrations");

impl IntegrationsIn {
    /// The flag, if given.
    pub(super) fn economic_enabled(&self) -> Option<bool> {
        self.billing.as_ref()?.economic.as_ref()?.enabled
    }
}

#[derive(Deserialize, Default)]
#[serde(remote = "Self")]
struct BillingIn {
    #[serde(default)]
    economic: Option<EconomicIn>,
}

read_from_object!(BillingIn, "integrations.billing");

#[derive(Deserialize, Default)]
#[serde(remote = "Self")]
struct EconomicIn {
    #[serde(default)]
    enabled: Option<bool>,
}

read_from_object!(EconomicIn, "integrations.billing.economic");

impl RecordIn<'_> {
    fn economic(&self) -> bool {
        self.integrations
            .as_ref()
            .and_then(IntegrationsIn::economic_enabled)
            .unwrap_or(false)
    }

    /// The record, and the capability names that are not known.
    pub(super) fn into_record(self) -> (Record, Vec<String>) {
        let economic = self.economic();
        let caps = self.capabilities.unwrap_or_default();
        let record = Record {
            id: self.id,
            parent: self.parent,
            name: self.name.map(Cow::into_owned).unwrap_or_default(),
            capabilities: caps.known,
            economic_enabled: economic,
            attributes: self
                .attributes
                .map_or(Attributes::none(), Attributes::from_map),
        };
        (record, caps.unknown)
    }

    /// Appends the record to `columns` without building a [`Record`]; returns its id
    /// (when some capability names are not known) and those names.
    pub(super) fn push_into(self, columns: &mut Columns) -> Option<(ResellerId, Vec<String>)> {
        let economic = self.economic();
        let caps = self.capabilities.unwrap_or_default();
        let attributes = self.attributes.map(|m| super::splice_text(&m));
        let unknown = (!caps.unknown.is_empty()).then(|| (self.id.clone(), caps.unknown));
        columns.push_fields(
            self.id,
            self.parent,
            self.name.as_deref().unwrap_or(""),
            caps.known,
            economic,
            attributes
                .as_ref()
                .map(|(text, splices)| (text.as_str(), *splices)),
        );
        unknown
    }
}
