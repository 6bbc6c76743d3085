//! Mutations as JSON (feature `serde`), the change events a service sends or stores:
//! one object a mutation, a batch as a JSON array of them, a change file as one batch a
//! line (NDJSON).
//!
//! ```json
//! {"op": "add", "id": "7", "parent": "3", "name": "Northwind", "capabilities": ["iptv"],
//!  "integrations": {"billing": {"economic": {"enabled": true}}}, "attributes": {...}}
//! {"op": "move", "id": "7", "parent": "5"}
//! {"op": "remove", "id": "7", "downline": "reattach"}
//! {"op": "update", "id": "7", "name": "Northwind A/S", "capabilities": ["iptv", "sip"]}
//! ```
//!
//! - `add` takes a record in the record format (see `serde.rs`).
//! - `move`: `parent` absent or `null` makes the reseller a root.
//! - `remove`: `downline` is `"refuse"` (the default: only a reseller without children
//!   may go, [`Removal::LeafOnly`]) or `"reattach"` (its children take its place,
//!   [`Removal::ReattachDownline`]).
//! - `update`: each of `name`, `capabilities`, `integrations.billing.economic.enabled`
//!   and `attributes` that is present replaces the reseller's; the others stay.
//!   `"attributes": {}` removes its attributes.
//!
//! An unknown `op`, capability or `downline` is an error naming it; members other than
//! these are ignored, as in records.

use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::capability::Capability;
use crate::id::ResellerId;
use crate::mutation::{Mutation, Removal};
use crate::record::{Attributes, Record};

use super::object::read_from_object;
use super::record_in::{CapabilitiesIn, IntegrationsIn};

/// What `downline` says of a removal.
#[derive(Deserialize, Default)]
#[serde(rename_all = "snake_case")]
enum DownlineIn {
    #[default]
    Refuse,
    Reattach,
}

/// A mutation as JSON, tagged by `op`: an object ([`read_from_object!`]).
#[derive(Deserialize)]
#[serde(remote = "Self", tag = "op", rename_all = "snake_case")]
enum MutationIn {
    Add(Record),
    Move {
        id: ResellerId,
        #[serde(default)]
        parent: Option<ResellerId>,
    },
    Remove {
        id: ResellerId,
        #[serde(default)]
        downline: DownlineIn,
    },
    Update {
        id: ResellerId,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        capabilities: Option<CapabilitiesIn>,
        #[serde(default)]
        integrations: Option<IntegrationsIn>,
        #[serde(default)]
        attributes: Option<Map<String, Value>>,
    },
}

read_from_object!(MutationIn, "a mutation");

/// Reads a mutation in the format of the module docs of `serde/mutation.rs`.
impl<'de> Deserialize<'de> for Mutation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match <MutationIn as Deserialize>::deserialize(d)? {
            MutationIn::Add(record) => Mutation::Add(record),
            MutationIn::Move { id, parent } => Mutation::Move { id, parent },
            MutationIn::Remove { id, downline } => Mutation::Remove {
                id,
                removal: match downline {
                    DownlineIn::Refuse => Removal::LeafOnly,
                    DownlineIn::Reattach => Removal::ReattachDownline,
                },
            },
            MutationIn::Update {
                id,
                name,
                capabilities: caps,
                integrations,
                attributes,
            } => Mutation::Update {
                id,
                name,
                capabilities: caps.map(CapabilitiesIn::strict).transpose()?,
                economic_enabled: integrations
                    .as_ref()
                    .and_then(IntegrationsIn::economic_enabled),
                attributes: attributes.map(|m| {
                    if m.is_empty() {
                        Attributes::none()
                    } else {
                        Attributes::from_map(m)
                    }
                }),
            },
        })
    }
}

/// Writes a mutation in the format of the module docs of `serde/mutation.rs`; reading
/// it back gives the same mutation.
impl Serialize for Mutation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Mutation::Add(record) => {
                // The record's members after the tag.
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("op", "add")?;
                let Value::Object(fields) =
                    serde_json::to_value(record).map_err(serde::ser::Error::custom)?
                else {
                    return Err(serde::ser::Error::custom("a record is a JSON object"));
                };
                for (k, v) in &fields {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Mutation::Move { id, parent } => {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("op", "move")?;
                m.serialize_entry("id", id)?;
                m.serialize_entry("parent", parent)?;
                m.end()
            }
            Mutation::Remove { id, removal } => {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("op", "remove")?;
                m.serialize_entry("id", id)?;
                let downline = match removal {
                    Removal::LeafOnly => "refuse",
                    Removal::ReattachDownline => "reattach",
                };
                m.serialize_entry("downline", downline)?;
                m.end()
            }
            Mutation::Update {
                id,
                name,
                capabilities,
                economic_enabled,
                attributes,
            } => {
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("op", "update")?;
                m.serialize_entry("id", id)?;
                if let Some(name) = name {
                    m.serialize_entry("name", name)?;
                }
                if let Some(caps) = capabilities {
                    let names: Vec<&str> = caps.iter().map(Capability::name).collect();
                    m.serialize_entry("capabilities", &names)?;
                }
                if let Some(enabled) = economic_enabled {
                    m.serialize_entry(
                        "integrations",
                        &serde_json::json!({"billing": {"economic": {"enabled": enabled}}}),
                    )?;
                }
                if let Some(attributes) = attributes {
                    m.serialize_entry("attributes", &attributes.to_map())?;
                }
                m.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::Capabilities;

    #[test]
    fn every_kind_reads_as_documented() {
        let batch: Vec<Mutation> = serde_json::from_str(
            r#"[{"op": "add", "id": 7, "parent": "3", "name": "N", "capabilities": ["iptv"]},
                {"op": "move", "id": "7"},
                {"op": "remove", "id": "7", "downline": "reattach"},
                {"op": "remove", "id": "8"},
                {"op": "update", "id": "9", "capabilities": [], "attributes": {}}]"#,
        )
        .unwrap();
        assert_eq!(
            batch,
            [
                Mutation::Add(
                    Record::new("7", Some("3"))
                        .name("N")
                        .capability(Capability::Iptv)
                ),
                Mutation::Move {
                    id: "7".into(),
                    parent: None
                },
                Mutation::Remove {
                    id: "7".into(),
                    removal: Removal::ReattachDownline
                },
                Mutation::Remove {
                    id: "8".into(),
                    removal: Removal::LeafOnly
                },
                Mutation::Update {
                    id: "9".into(),
                    name: None,
                    capabilities: Some(Capabilities::NONE),
                    economic_enabled: None,
                    attributes: Some(Attributes::none()),
                },
            ]
        );
    }

    #[test]
    fn unknown_names_are_errors_naming_them() {
        for (text, names) in [
            (r#"{"op": "rename", "id": "1"}"#, "rename"),
            (
                r#"{"op": "update", "id": "1", "capabilities": ["fax"]}"#,
                "fax",
            ),
            (r#"{"op": "remove", "id": "1", "downline": "drop"}"#, "drop"),
            (r#"{"op": "add", "id": "1", "capabilities": ["tv"]}"#, "tv"),
        ] {
            let err = serde_json::from_str::<Mutation>(text)
                .unwrap_err()
                .to_string();
            assert!(err.contains(names), "{text}: {err}");
        }
        assert!(serde_json::from_str::<Mutation>(r#"{"id": "1"}"#).is_err());
    }

    #[test]
    fn a_mutation_is_an_object_not_an_array_of_its_fields() {
        for text in [
            r#"["move", "7", "5"]"#,
            r#"["remove", "7", "reattach"]"#,
            r#"["update", "7", "Northwind"]"#,
            r#"["add", "7", "3"]"#,
            r#"{"op": "move", "id": ["7"]}"#,
        ] {
            let err = serde_json::from_str::<Mutation>(text);
            assert!(err.is_err(), "{text} read as {err:?}");
        }
        let err = serde_json::from_str::<Mutation>(r#"["move", "7", "5"]"#).unwrap_err();
        assert!(
            err.to_string().contains("a mutation: a JSON object"),
            "{err}"
        );
        // Update's fields and Add's record are objects too.
        assert!(serde_json::from_str::<Mutation>(
            r#"{"op": "update", "id": "7", "integrations": [[[true]]]}"#
        )
        .is_err());
    }
}
