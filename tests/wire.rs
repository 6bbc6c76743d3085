//! Wire formats: the seeds' examples render to exactly the seeds' fields, and every
//! document the crate writes validates against the official JSON:API 1.0 schema (after
//! checking that the validator agrees with the schema's own upstream tests).

use std::path::{Path, PathBuf};

use reseller_hierarchy::generate::{Generator, Shape};
use reseller_hierarchy::wire::{jsonapi, page_request_from_query, telecomx, ApiError};
use reseller_hierarchy::Id;
use reseller_hierarchy::{
    Builder, FilterFlags, Order, PageRequest, Principal, Record, ResellerId, Role, Snapshot,
};
use serde_json::{json, Value};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn load(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn validator(schema: &str) -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&load(&fixture(schema)))
        .unwrap()
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

#[test]
fn the_validator_agrees_with_the_schemas_upstream_tests() {
    let v = validator("jsonapi-1.0/schema.json");
    let mut checked = 0;
    for (dir, valid) in [("valid", true), ("invalid", false)] {
        let mut files = Vec::new();
        json_files(&fixture("jsonapi-1.0/upstream-tests").join(dir), &mut files);
        assert!(!files.is_empty());
        for f in files {
            assert_eq!(v.is_valid(&load(&f)), valid, "{}", f.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 78);
}

#[test]
fn the_activeplatform_seed_renders_to_its_own_fields() {
    let seed = load(&fixture("activeplatform_seed.json"));
    let mut b = Builder::new();
    b.read_activeplatform(std::fs::File::open(fixture("activeplatform_seed.json")).unwrap())
        .unwrap();
    let snap = b.build().unwrap();
    assert_eq!(snap.len(), 2);
    assert_eq!(
        snap.root_count(),
        1,
        "parent-id equal to the own id is a root"
    );
    for item in seed["data"].as_array().unwrap() {
        let id = ResellerId::from(item["id"].as_str().unwrap());
        let rendered =
            serde_json::to_value(jsonapi::Resource::from(snap.get(&id).unwrap())).unwrap();
        let mut expected = item.clone();
        // The seed writes parent-id as the integer 1; its field table says string, and
        // 1 and "1" are the same id. Everything else must match exactly.
        let parent = &mut expected["attributes"]["parent-id"];
        *parent = Value::String(parent.to_string());
        assert_eq!(rendered, expected);
    }
}

#[test]
fn the_telecomx_seed_example_renders_exactly() {
    // The seed's example response, written as JSON (the page shows JavaScript literals).
    let seed = json!([
        {"_id": "52f4fd7734697b28ccaf77ec", "name": "Anders And & Co",
         "integrations": {"billing": {"economic": {"enabled": true}}}},
        {"_id": "1234567890ABCDEF12345678", "name": "Northwind Industries H.M.B.G",
         "integrations": {"billing": {"economic": {"enabled": true}}}}
    ]);
    let snap = Snapshot::build([
        Record::new("52f4fd7734697b28ccaf77ec", None::<&str>)
            .name("Anders And & Co")
            .economic_enabled(true),
        Record::new("1234567890ABCDEF12345678", Some("52f4fd7734697b28ccaf77ec"))
            .name("Northwind Industries H.M.B.G")
            .economic_enabled(true),
    ])
    .unwrap();
    let me = Principal::new(Role::Reseller, "52f4fd7734697b28ccaf77ec");
    let page = snap
        .eligible_parents(
            &me,
            FilterFlags::NONE,
            Order::PreOrder,
            PageRequest::default(),
        )
        .unwrap();
    let rendered = serde_json::to_value(telecomx::list(&page)).unwrap();
    assert_eq!(rendered, seed);
    assert!(validator("telecomx-shape-b.schema.json").is_valid(&rendered));
    // Field order as on the page.
    let text = serde_json::to_string(&telecomx::list(&page)).unwrap();
    assert!(
        text.starts_with(
            r#"[{"_id":"52f4fd7734697b28ccaf77ec","name":"Anders And & Co","integrations""#
        ),
        "{text}"
    );
}

#[test]
fn every_downline_document_validates_and_its_links_are_right() {
    let v = validator("jsonapi-1.0/schema.json");
    let tv = validator("telecomx-shape-b.schema.json");
    let base = "http://billing.activeplatform.com/api/v3/customer_store/resellers";
    for shape in Shape::ALL {
        let snap = Snapshot::build(
            Generator::new(shape, 400)
                .seed(5)
                .attributes(true)
                .generate(),
        )
        .unwrap();
        for root in ["1", "2", "7"] {
            let root = ResellerId::from(root);
            let total = snap.downline_count(&root).unwrap();
            for per in [1u64, 7, 50] {
                // The contract's last page, max(1, ceil(total / per_page)).
                let last = (total as u64).div_ceil(per).max(1);
                for n in [1, 2, last, last + 1] {
                    let req = PageRequest::new(n, per).unwrap();
                    let page = snap.downline(&root, Order::LevelOrder, req).unwrap();
                    // The fast writer's bytes are the reference's, and valid.
                    let mut body = Vec::new();
                    jsonapi::write_document(&page, base, &mut body);
                    assert_eq!(
                        body,
                        serde_json::to_vec(&jsonapi::document(&page, base)).unwrap()
                    );
                    let doc: Value = serde_json::from_slice(&body).unwrap();
                    let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
                    assert!(errors.is_empty(), "{errors:?}\n{doc}");
                    assert!(tv.is_valid(&serde_json::to_value(telecomx::list(&page)).unwrap()));
                    let link = |k: u64| format!("{base}?page%5Bnumber%5D={k}&page%5Bsize%5D={per}");
                    let links = &doc["links"];
                    assert_eq!(links["self"], link(n));
                    assert_eq!(links["first"], link(1));
                    assert_eq!(links["last"], link(last));
                    assert_eq!(
                        links.get("next").and_then(Value::as_str),
                        (n < last).then(|| link(n + 1)).as_deref()
                    );
                    assert_eq!(
                        links.get("prev").and_then(Value::as_str),
                        (n > 1).then(|| link((n - 1).min(last))).as_deref()
                    );
                    assert_eq!(doc["meta"]["total"], total);
                    // Parsing it back gives the same document.
                    let back: jsonapi::Document = serde_json::from_value(doc.clone()).unwrap();
                    assert_eq!(back, jsonapi::document(&page, base));
                }
            }
        }
    }
}

#[test]
fn error_documents_validate_and_carry_their_status() {
    let v = validator("jsonapi-1.0/schema.json");
    let snap = Snapshot::build([Record::new("1", None::<&str>)]).unwrap();
    let errors: Vec<ApiError> = vec![
        PageRequest::parse(Some("abc"), None).unwrap_err().into(),
        PageRequest::parse(None, Some("1001")).unwrap_err().into(),
        snap.eligible_parents(
            &Principal::new(Role::Reseller, "1"),
            FilterFlags {
                iptv: true,
                ..FilterFlags::NONE
            },
            Order::PreOrder,
            PageRequest::default(),
        )
        .unwrap_err()
        .into(),
        snap.downline(Id::new("9"), Order::PreOrder, PageRequest::default())
            .unwrap_err()
            .into(),
        ApiError::Internal("boom".into()),
        page_request_from_query("page%5Bnumber%5D=0")
            .unwrap_err()
            .into(),
        page_request_from_query("per_page=2&page[size]=x")
            .unwrap_err()
            .into(),
        page_request_from_query("per_page=0").unwrap_err().into(),
    ];
    let want = [
        (400, "bad_request", Some("page")),
        (400, "bad_request", Some("per_page")),
        (403, "access_denied", None),
        (404, "not_found", None),
        (500, "internal_error", None),
        (400, "bad_request", Some("page[number]")),
        (400, "bad_request", Some("page[size]")),
        (400, "bad_request", Some("per_page")),
    ];
    for (e, (status, code, param)) in errors.iter().zip(want) {
        assert_eq!(e.http_status(), status);
        let doc = serde_json::to_value(jsonapi::ErrorDocument::from(e)).unwrap();
        assert!(v.is_valid(&doc), "{doc}");
        assert_eq!(doc["errors"][0]["status"], status.to_string());
        assert_eq!(doc["errors"][0]["code"], code);
        assert_eq!(doc["errors"][0]["source"]["parameter"].as_str(), param);
        if let Some(param) = param {
            assert!(
                doc["errors"][0]["detail"].as_str().unwrap().contains(param),
                "{doc}"
            );
        }
        let body = serde_json::to_value(telecomx::ErrorBody::from(e)).unwrap();
        assert_eq!(body["error"], code);
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
}

#[test]
fn exports_in_every_format_load_the_same_hierarchy() {
    let records = Generator::new(Shape::PowerLaw, 500)
        .seed(9)
        .attributes(true)
        .shuffled(true)
        .generate();
    let ndjson: String = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    let array = serde_json::to_string(&records).unwrap();
    let snap = Snapshot::build(records.clone()).unwrap();
    let all = PageRequest::new(1, 1000).unwrap();
    let doc = serde_json::to_string(&jsonapi::document(
        &snap
            .eligible_parents(&Principal::admin(), FilterFlags::NONE, Order::PreOrder, all)
            .unwrap(),
        "/x",
    ))
    .unwrap();
    for (text, format) in [
        (ndjson, reseller_hierarchy::InputFormat::Ndjson),
        (array, reseller_hierarchy::InputFormat::JsonArray),
        (doc, reseller_hierarchy::InputFormat::ActivePlatform),
    ] {
        let mut b = Builder::new();
        assert_eq!(b.read_any(text.as_bytes()).unwrap(), format);
        let got = b.build().unwrap();
        assert_eq!(got.len(), records.len());
        for r in &records {
            let g = got.get(&r.id).unwrap();
            assert_eq!(g.parent(), r.parent.as_deref(), "{format:?}");
            assert_eq!(g.name(), r.name);
            if format != reseller_hierarchy::InputFormat::ActivePlatform {
                // The JSON:API document carries no capabilities or e-conomic flag.
                assert_eq!(g.to_record(), *r);
            }
        }
    }
}

#[test]
fn cursor_and_mutation_errors_map_to_their_statuses() {
    use reseller_hierarchy::{CursorError, Hierarchy, Mutation, Start};
    let v = validator("jsonapi-1.0/schema.json");
    let h = Hierarchy::new(Snapshot::build([Record::new("1", None::<&str>)]).unwrap());
    let bad: ApiError = h
        .downline(Id::new("1"), Order::PreOrder, Start::Cursor("zz"))
        .unwrap_err()
        .into();
    let moved: ApiError = h
        .apply(&[Mutation::Move {
            id: "9".into(),
            parent: None,
        }])
        .unwrap_err()
        .into();
    let gone = ApiError::Cursor(CursorError::Expired {
        version: 1,
        oldest: 5,
    });
    // A cursor of another hierarchy under the same key (another replica, or this
    // service before a restart): its version number names other contents here.
    let key = [3u8; 32];
    let replica = |ids: [&str; 3]| {
        let records = [
            Record::new(ids[0], None::<&str>),
            Record::new(ids[1], Some(ids[0])),
            Record::new(ids[2], Some(ids[0])),
        ];
        Hierarchy::with_options(Snapshot::build(records).unwrap(), 16, key)
    };
    let (a, b) = (replica(["1", "2", "3"]), replica(["1", "3", "4"]));
    let first = a
        .downline(Id::new("1"), Order::PreOrder, Start::first(1).unwrap())
        .unwrap();
    let elsewhere: ApiError = b
        .downline(
            Id::new("1"),
            Order::PreOrder,
            Start::Cursor(first.next_cursor().unwrap()),
        )
        .unwrap_err()
        .into();
    for (e, status, code) in [
        (bad, 400, "bad_request"),
        (moved, 400, "bad_request"),
        (gone, 410, "cursor_expired"),
        (elsewhere, 410, "cursor_expired"),
    ] {
        assert_eq!((e.http_status(), e.code()), (status, code));
        let doc = serde_json::to_value(jsonapi::ErrorDocument::from(&e)).unwrap();
        assert!(v.is_valid(&doc), "{doc}");
        assert_eq!(doc["errors"][0]["status"], status.to_string());
    }
}

#[test]
fn links_of_a_middle_page_spelled_out() {
    let snap =
        Snapshot::build((1..=11u64).map(|i| Record::new(i, (i > 1).then_some(1u64)))).unwrap();
    let page = snap
        .downline(
            Id::new("1"),
            Order::PreOrder,
            PageRequest::new(2, 4).unwrap(),
        )
        .unwrap();
    let doc = serde_json::to_value(jsonapi::document(&page, "https://h/r")).unwrap();
    assert_eq!(
        doc["links"],
        json!({
            "self": "https://h/r?page%5Bnumber%5D=2&page%5Bsize%5D=4",
            "first": "https://h/r?page%5Bnumber%5D=1&page%5Bsize%5D=4",
            "prev": "https://h/r?page%5Bnumber%5D=1&page%5Bsize%5D=4",
            "next": "https://h/r?page%5Bnumber%5D=3&page%5Bsize%5D=4",
            "last": "https://h/r?page%5Bnumber%5D=3&page%5Bsize%5D=4"
        })
    );
    // Past the end: prev points at the last page, no next.
    let page = snap
        .downline(
            Id::new("1"),
            Order::PreOrder,
            PageRequest::new(9, 4).unwrap(),
        )
        .unwrap();
    let doc = serde_json::to_value(jsonapi::document(&page, "https://h/r?x=1")).unwrap();
    assert_eq!(
        doc["links"]["prev"],
        "https://h/r?x=1&page%5Bnumber%5D=3&page%5Bsize%5D=4"
    );
    assert!(doc["links"].get("next").is_none());
    assert_eq!(doc["data"], json!([]));
}
