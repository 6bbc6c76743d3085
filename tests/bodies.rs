//! The fast body writers (`jsonapi::write_document`, `telecomx::write_list`) against the
//! reference renderer (the serde types written by `serde_json`): byte for byte, on
//! random hierarchies whose ids, names and attribute payloads hold nested objects,
//! unicode, escapes and numbers, before and after mutations; and every written
//! document validates against the official JSON:API 1.0 schema.

use std::path::Path;

use proptest::prelude::*;
use reseller_hierarchy::testing::{forest, mutation_batches, Mix};
use reseller_hierarchy::wire::{jsonapi, telecomx};
use reseller_hierarchy::{
    Attributes, FilterFlags, Hierarchy, Mutation, Order, PageRequest, Principal, Record,
    ResellerId, Role, Snapshot,
};
use serde_json::{Map, Value};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jsonapi-1.0/schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

/// Text with the characters JSON must escape, non-ASCII, and plain runs.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ]{0,12}",
        "[\"\\\\/\u{0}-\u{1f}\u{7f}a-z\u{e9}\u{2028}\u{1f600}]{0,10}",
        any::<String>(),
    ]
}

/// Keys, among them the ones the renderer splices in (`general`, `name`, `parent-id`)
/// and their neighbours in sort order.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => prop::sample::select(vec![
            "general", "name", "parent-id", "parent", "parent-idz", "generaL", "gen", "a",
            "company", "zz", "nam", "namez", "created-at", "Z", "0",
        ])
        .prop_map(str::to_owned),
        1 => text(),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(serde_json::from_str("123456789012345678901234567890").unwrap()),
        Just(serde_json::from_str("1e-7").unwrap()),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A payload: no attributes, or an object whose `general` is often an object (with or
/// without a `name`) and sometimes anything else.
fn attributes() -> impl Strategy<Value = Option<Map<String, Value>>> {
    let general = prop_oneof![
        3 => prop::collection::vec((key(), value()), 0..4)
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        1 => value(),
    ];
    prop::option::weighted(
        0.85,
        (
            prop::collection::vec((key(), value()), 0..6),
            prop::option::weighted(0.7, general),
        )
            .prop_map(|(kv, general)| {
                let mut m: Map<String, Value> = kv.into_iter().collect();
                if let Some(g) = general {
                    m.insert("general".into(), g);
                }
                m
            }),
    )
}

/// A forest whose ids, names and payloads are rewritten with the strings above.
fn hierarchy() -> impl Strategy<Value = Vec<Record>> {
    forest(60).prop_flat_map(|records| {
        let n = records.len();
        (
            Just(records),
            prop::collection::vec((text(), text(), attributes(), any::<bool>()), n),
        )
            .prop_map(|(mut records, payload)| {
                // A suffix that needs escaping keeps every id distinct and unusual.
                let rename = |id: &ResellerId, extra: &str| -> ResellerId {
                    ResellerId::from(format!("{}\"{extra}", id.as_str()))
                };
                let extras: std::collections::HashMap<ResellerId, String> = records
                    .iter()
                    .zip(&payload)
                    .map(|(r, (extra, _, _, _))| (r.id.clone(), extra.clone()))
                    .collect();
                for (r, (_, name, mut attrs, same_name)) in records.iter_mut().zip(payload) {
                    r.id = rename(&r.id, &extras[&r.id]);
                    r.parent = r.parent.as_ref().map(|p| rename(p, &extras[p]));
                    // Often the payload's general.name is the name itself, as in
                    // ActivePlatform data (the writers copy it through then).
                    if let (true, Some(m)) = (same_name, attrs.as_mut()) {
                        if let Some(Value::Object(g)) = m.get_mut("general") {
                            g.insert("name".into(), Value::String(name.clone()));
                        }
                    }
                    r.name = name;
                    r.attributes = attrs.map_or(Attributes::none(), Attributes::from_map);
                }
                records
            })
    })
}

/// Whether every object key in `v` is a JSON:API 1.0 member name
/// (`^[a-zA-Z0-9](?:[-\w]*[a-zA-Z0-9])?$`, read here as ASCII), and none of the top-level
/// ones is a name the schema reserves.
fn member_names_ok(v: &Value) -> bool {
    fn name_ok(k: &str) -> bool {
        let b = k.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
    }
    fn all_ok(v: &Value) -> bool {
        match v {
            Value::Object(m) => m.iter().all(|(k, v)| name_ok(k) && all_ok(v)),
            Value::Array(a) => a.iter().all(all_ok),
            _ => true,
        }
    }
    let reserved = ["id", "type", "relationships", "links"];
    v.as_object()
        .is_some_and(|m| m.keys().all(|k| !reserved.contains(&k.as_str())))
        && all_ok(v)
}

/// Every page of every listing in `snap`, checked byte for byte; documents validated.
fn check_bodies(snap: &Snapshot, v: &jsonschema::Validator) -> Result<(), TestCaseError> {
    // A configured base URL as a service has it (checked against the schema), and one
    // that needs escaping (checked for bytes only: it is no URI).
    let bases = [
        (
            "http://billing.example.com/api/v3/customer_store/resellers",
            true,
        ),
        ("/resellers?x=\"1\"&q=\u{e9}\\", false),
    ];
    let ids: Vec<ResellerId> = snap.iter().map(|r| r.id().to_owned()).collect();
    for id in ids.iter().take(6) {
        let total = snap.downline_count(id).unwrap();
        for per in [1u64, 3, 50] {
            // The contract's last page, max(1, ceil(total / per_page)).
            let last = (total as u64).div_ceil(per).max(1);
            for n in 1..=last + 1 {
                let req = PageRequest::new(n, per).unwrap();
                for (order, (base, is_uri)) in
                    [Order::PreOrder, Order::LevelOrder].into_iter().zip(bases)
                {
                    let page = snap.downline(id, order, req).unwrap();
                    let mut fast = Vec::new();
                    jsonapi::write_document(&page, base, &mut fast);
                    let reference = serde_json::to_vec(&jsonapi::document(&page, base)).unwrap();
                    prop_assert_eq!(
                        String::from_utf8_lossy(&fast),
                        String::from_utf8_lossy(&reference)
                    );
                    let doc: Value = serde_json::from_slice(&fast).unwrap();
                    // The schema also asks every attribute name to be a valid member
                    // name, which payloads with arbitrary keys are not.
                    if is_uri
                        && doc["data"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .all(|d| member_names_ok(&d["attributes"]))
                    {
                        let errors: Vec<String> =
                            v.iter_errors(&doc).map(|e| e.to_string()).collect();
                        prop_assert!(errors.is_empty(), "{:?}\n{}", errors, doc);
                    }
                    let mut fast = Vec::new();
                    telecomx::write_list(&page, &mut fast);
                    let reference = serde_json::to_vec(&telecomx::list(&page)).unwrap();
                    prop_assert_eq!(fast, reference);
                }
            }
        }
    }
    // Filtered eligible parents of an ADMIN, in pages of 7.
    let admin = Principal {
        role: Role::Admin,
        reseller: None,
    };
    let voip = FilterFlags {
        voip: true,
        ..FilterFlags::NONE
    };
    for flags in [FilterFlags::NONE, voip] {
        let total = snap.eligible_count(&admin, flags).unwrap();
        // The contract's last page, max(1, ceil(total / per_page)).
        let last = (total as u64).div_ceil(7).max(1);
        for n in 1..=last {
            let req = PageRequest::new(n, 7).unwrap();
            let page = snap
                .eligible_parents(&admin, flags, Order::PreOrder, req)
                .unwrap();
            let mut fast = Vec::new();
            telecomx::write_list(&page, &mut fast);
            prop_assert_eq!(fast, serde_json::to_vec(&telecomx::list(&page)).unwrap());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Fresh builds: the fast bodies are the reference's bytes.
    #[test]
    fn bodies_equal_the_reference_renderers(records in hierarchy()) {
        let v = validator();
        let snap = Snapshot::build(records).unwrap();
        check_bodies(&snap, &v)?;
    }

    /// After mutations (moves change parent ids; updates change names and payloads),
    /// on changed versions and folded ones.
    #[test]
    fn bodies_equal_the_reference_after_mutations(
        (records, batches, updates) in hierarchy().prop_flat_map(|r| {
            let b = mutation_batches(&r, 4, 4, Mix::granted(100));
            let u = prop::collection::vec((text(), attributes()), 4);
            (Just(r), b, u)
        })
    ) {
        let v = validator();
        let h = Hierarchy::new(Snapshot::build(records).unwrap());
        h.set_fold_threshold(3);
        for (batch, (name, attrs)) in batches.iter().zip(updates) {
            h.apply(batch).unwrap();
            // Give one reseller a new name and payload.
            let snap = h.snapshot();
            if let Some(r) = snap.iter().next() {
                let id = r.id().to_owned();
                h.apply(&[Mutation::Update {
                    id,
                    name: Some(name),
                    capabilities: None,
                    economic_enabled: None,
                    attributes: Some(attrs.map_or(Attributes::none(), Attributes::from_map)),
                }])
                .unwrap();
            }
            check_bodies(&h.snapshot(), &v)?;
        }
    }
}
