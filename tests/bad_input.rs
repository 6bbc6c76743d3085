//! One test per class of bad input, asserting the exact ids and record indices
//! reported; and the deep and wide inputs that must build without overflow.

use reseller_hierarchy::generate::{Generator, Shape};
use reseller_hierarchy::Id;
use reseller_hierarchy::{
    Builder, Order, PageRequest, Place, Principal, Problem, Record, ResellerId, Role, Snapshot,
};

fn rec(id: &str, parent: Option<&str>) -> Record {
    Record::new(id, parent)
}

fn problems(records: Vec<Record>) -> Vec<Problem> {
    Snapshot::build(records).unwrap_err().into_problems()
}

#[test]
fn duplicate_ids_name_every_occurrence() {
    let got = problems(vec![
        rec("a", None),
        rec("b", Some("a")),
        rec("a", Some("b")),
        rec("c", None),
        rec("b", None),
        rec("a", None),
    ]);
    assert_eq!(
        got,
        [
            Problem::DuplicateId {
                id: "a".into(),
                at: vec![Place::Record(0), Place::Record(2), Place::Record(5)]
            },
            Problem::DuplicateId {
                id: "b".into(),
                at: vec![Place::Record(1), Place::Record(4)]
            },
        ]
    );
}

#[test]
fn unknown_parents_name_the_record_and_the_parent() {
    let got = problems(vec![
        rec("1", None),
        rec("2", Some("1")),
        rec("3", Some("99")),
        rec("4", Some("3")),
        rec("5", Some("")),
    ]);
    assert_eq!(
        got,
        [
            Problem::UnknownParent {
                at: Place::Record(2),
                id: "3".into(),
                parent: "99".into()
            },
            Problem::UnknownParent {
                at: Place::Record(4),
                id: "5".into(),
                parent: "".into()
            },
        ]
    );
}

#[test]
fn cycles_list_every_member_of_every_cycle() {
    let got = problems(vec![
        rec("root", None),
        rec("x", Some("z")),
        rec("y", Some("x")),
        rec("z", Some("y")),
        rec("hanging", Some("y")), // under a cycle, not on it
        rec("p", Some("q")),
        rec("q", Some("p")),
        rec("ok", Some("root")),
    ]);
    assert_eq!(
        got,
        [
            Problem::Cycle {
                members: vec!["x".into(), "z".into(), "y".into()]
            },
            Problem::Cycle {
                members: vec!["p".into(), "q".into()]
            },
        ]
    );
}

#[test]
fn a_parent_equal_to_the_own_id_is_a_root_not_a_cycle() {
    let snap = Snapshot::build([rec("1", Some("1")), rec("2", Some("1"))]).unwrap();
    assert_eq!(snap.root_count(), 1);
    assert!(snap.get(Id::new("1")).unwrap().parent().is_none());
}

#[test]
fn every_problem_is_reported_at_once_and_nothing_is_built() {
    let mut b = Builder::new();
    b.push(rec("1", None));
    b.push_malformed("line 2: expected value");
    b.push(rec("1", None));
    b.push(rec("3", Some("404")));
    b.push(rec("4", Some("5")));
    b.push(rec("5", Some("4")));
    let err = b.build().unwrap_err();
    assert_eq!(err.http_status(), 400);
    assert_eq!(
        err.problems(),
        [
            Problem::Malformed {
                at: Place::Record(1),
                id: None,
                message: "line 2: expected value".into()
            },
            Problem::DuplicateId {
                id: "1".into(),
                at: vec![Place::Record(0), Place::Record(2)]
            },
            Problem::UnknownParent {
                at: Place::Record(3),
                id: "3".into(),
                parent: "404".into()
            },
            Problem::Cycle {
                members: vec!["4".into(), "5".into()]
            },
        ]
    );
    let text = err.to_string();
    assert!(text.contains("4 problem(s)"), "{text}");
    assert!(text.contains("\"404\""), "{text}");
}

#[cfg(feature = "serde")]
mod json {
    use super::*;

    fn from_ndjson(text: &str) -> Result<Snapshot, Vec<Problem>> {
        let mut b = Builder::new();
        b.read_ndjson(text.as_bytes()).unwrap();
        b.build().map_err(|e| e.into_problems())
    }

    #[test]
    fn unknown_capability_names_the_record_id_and_name() {
        let got = from_ndjson(
            r#"{"id": "1"}
{"id": "2", "parent": "1", "capabilities": ["iptv", "fax", "tv"]}
"#,
        )
        .unwrap_err();
        assert_eq!(
            got,
            [
                Problem::UnknownCapability {
                    at: Place::Line(2),
                    id: "2".into(),
                    name: "fax".into()
                },
                Problem::UnknownCapability {
                    at: Place::Line(2),
                    id: "2".into(),
                    name: "tv".into()
                },
            ]
        );
    }

    #[test]
    fn malformed_lines_are_named_by_line_and_the_rest_still_checked() {
        let got = from_ndjson(
            "{\"id\": \"1\"}\n\n{\"id\": \n{\"name\": \"no id\"}\n{\"id\": 2.5}\n{\"id\": \"3\", \"parent\": \"9\"}\n",
        )
        .unwrap_err();
        assert_eq!(got.len(), 4, "{got:#?}");
        let msg = |i: usize| match &got[i] {
            Problem::Malformed { at, .. } => got[i].to_string() + &format!(" @{at:?}"),
            other => panic!("expected malformed, got {other:?}"),
        };
        assert!(msg(0).starts_with("line 3 is malformed:"), "{}", msg(0));
        assert!(
            msg(1).starts_with("line 4 is malformed:") && msg(1).contains("id"),
            "{}",
            msg(1)
        );
        assert!(msg(2).starts_with("line 5 is malformed:"), "{}", msg(2));
        assert_eq!(
            got[3],
            Problem::UnknownParent {
                at: Place::Line(6),
                id: "3".into(),
                parent: "9".into()
            }
        );
    }

    /// "Each naming the offending ids": a record that is JSON with a readable `id` but
    /// not a record names that id; text with no readable id names none.
    #[test]
    fn a_malformed_record_names_its_id_when_its_text_gives_one() {
        let got = from_ndjson(concat!(
            "{\"id\": \"7\", \"name\": 5}\n",
            "{\"capabilities\": \"iptv\", \"id\": 8}\n",
            "{\"id\": \"9\", \"integrations\": {\"billing\": 1}, \"attributes\": {\"x\": [1, {}]}}\n",
            "{\"id\": \n",
            "{\"name\": 5}\n",
            "{\"id\": 2.5, \"name\": 1}\n",
            "{\"id\": \"\", \"name\": 1}\n",
            "[\"id\", \"10\"]\n",
            // An array names no id, even one of a single string.
            "[\"11\"]\n",
        ))
        .unwrap_err();
        let ids: Vec<Option<&str>> = got
            .iter()
            .map(|p| match p {
                Problem::Malformed { id, .. } => id.as_ref().map(|i| i.as_str()),
                other => panic!("expected malformed, got {other:?}"),
            })
            .collect();
        assert_eq!(
            ids,
            [
                Some("7"),
                Some("8"),
                Some("9"),
                None,
                None,
                None,
                None,
                None,
                None
            ]
        );
        assert!(
            got[0]
                .to_string()
                .starts_with("line 1 (id \"7\") is malformed:"),
            "{}",
            got[0]
        );
        assert!(got[3].to_string().starts_with("line 4 is malformed:"));
        // A JSON array's element, the same.
        let mut b = Builder::new();
        b.read_json_array(r#"[{"id": "a"}, {"id": "b", "parent": "a", "name": []}]"#.as_bytes())
            .unwrap();
        let got = b.build().unwrap_err().into_problems();
        assert!(
            matches!(&got[..], [Problem::Malformed { at: Place::Element(1), id: Some(id), .. }] if id.as_str() == "b"),
            "{got:?}"
        );
    }

    /// A record is a JSON object: an array of field values (which derived serde code
    /// would take in field order, `["7", "3"]` as the record 7 under 3) is malformed,
    /// in every reader and through `Record`'s own `Deserialize`.
    #[test]
    fn an_array_of_field_values_is_no_record() {
        let got = from_ndjson("{\"id\": \"3\"}\n[\"7\", \"3\"]\n").unwrap_err();
        assert!(
            matches!(&got[..], [Problem::Malformed { at: Place::Line(2), message, .. }] if message.contains("a record: a JSON object")),
            "{got:?}"
        );
        let mut b = Builder::new();
        b.read_json_array(r#"[{"id": "3"}, ["7", "3"]]"#.as_bytes())
            .unwrap();
        let got = b.build().unwrap_err().into_problems();
        assert!(
            matches!(
                &got[..],
                [Problem::Malformed {
                    at: Place::Element(1),
                    ..
                }]
            ),
            "{got:?}"
        );
        let mut b = Builder::new();
        b.read_activeplatform(
            r#"{"data": [{"id": "3", "attributes": {}}, ["7", {"parent-id": "3"}]]}"#.as_bytes(),
        )
        .unwrap();
        let got = b.build().unwrap_err().into_problems();
        assert!(
            matches!(&got[..], [Problem::Malformed { message, .. }] if message.contains("a resource: a JSON object")),
            "{got:?}"
        );
        assert!(serde_json::from_str::<reseller_hierarchy::Record>(r#"["7", "3"]"#).is_err());
        // Nor are the levels of `integrations` arrays of their fields.
        let got = from_ndjson("{\"id\": \"7\", \"integrations\": [[[true]]]}\n").unwrap_err();
        assert!(
            matches!(&got[..], [Problem::Malformed { at: Place::Line(1), message, .. }] if message.contains("integrations: a JSON object")),
            "{got:?}"
        );
        // Objects still read, borrowed names and all.
        let r: reseller_hierarchy::Record =
            serde_json::from_str(r#"{"id": "7", "parent": "3", "name": "Northwind"}"#).unwrap();
        assert_eq!((r.id.as_str(), r.name.as_str()), ("7", "Northwind"));
    }

    #[test]
    fn a_line_that_is_not_utf8_is_reported_by_line_not_as_io_error() {
        let mut b = Builder::new();
        b.read_ndjson(&b"{\"id\": 1}\n{\"id\": \"\xff\xfe\"}\n{\"id\": 2}\n"[..])
            .unwrap();
        let got = b.build().unwrap_err().into_problems();
        assert_eq!(got.len(), 1);
        assert!(
            matches!(
                &got[0],
                Problem::Malformed {
                    at: Place::Line(2),
                    ..
                }
            ),
            "{got:?}"
        );
    }

    #[test]
    fn sniffing_keeps_reporting_every_bad_line() {
        // A first line without `id` (or broken) is still NDJSON: every line is checked.
        for first in ["{\"Id\": 1}", "{\"id\": 1", "{}"] {
            let text =
                format!("{first}\n{{\"id\": 2, \"parent\": 9}}\n{{\"id\": 3}}\n{{\"id\": 3}}\n");
            let mut b = Builder::new();
            assert_eq!(
                b.read_any(text.as_bytes()).unwrap(),
                reseller_hierarchy::InputFormat::Ndjson,
                "{first}"
            );
            let problems = b.build().unwrap_err().into_problems();
            assert_eq!(problems.len(), 3, "{first}: {problems:#?}");
            assert!(matches!(
                &problems[0],
                Problem::Malformed {
                    at: Place::Line(1),
                    ..
                }
            ));
            assert!(matches!(&problems[1], Problem::DuplicateId { .. }));
            assert!(matches!(&problems[2], Problem::UnknownParent { .. }));
        }
        // Pretty-printed and one-line documents are documents.
        for doc in [
            "{\n  \"data\": [{\"id\": 1}]\n}\n",
            "{\"data\": [{\"id\": 1}], \"links\": {}}\n",
            "{ \"data\": [\n{\"id\": 1}]}",
        ] {
            let mut b = Builder::new();
            assert_eq!(
                b.read_any(doc.as_bytes()).unwrap(),
                reseller_hierarchy::InputFormat::ActivePlatform,
                "{doc}"
            );
            assert_eq!(b.build().unwrap().len(), 1);
        }
    }

    #[test]
    fn integer_and_string_ids_are_the_same_reseller() {
        let snap = from_ndjson(
            r#"{"id": 1, "name": "Company 1"}
{"id": "2", "parent": 1}
{"id": 3, "parent": "2", "parent_unknown_member_is_ignored": true}
"#,
        )
        .unwrap();
        let three = snap.get(&ResellerId::from(3u64)).unwrap();
        let up: Vec<&str> = snap
            .upline(three.id())
            .unwrap()
            .map(|r| r.id().as_str())
            .collect();
        assert_eq!(up, ["2", "1"]);
        // ... and a duplicate when both spellings are used.
        let dup = from_ndjson("{\"id\": 7}\n{\"id\": \"7\"}\n").unwrap_err();
        assert_eq!(
            dup,
            [Problem::DuplicateId {
                id: "7".into(),
                at: vec![Place::Line(1), Place::Line(2)]
            }]
        );
    }

    #[test]
    fn json_array_reports_bad_elements_and_truncation() {
        let mut b = Builder::new();
        b.read_json_array(r#"[{"id": "a"}, 17, {"id": "b", "parent": "a"}, {"id": "#.as_bytes())
            .unwrap();
        let got = b.build().unwrap_err().into_problems();
        // The element that is no record, the element cut short, and the missing `]`.
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(
            matches!(&got[2], Problem::Malformed { at: Place::Input, message, .. } if message.contains("no closing")),
            "{got:?}"
        );
        assert!(
            matches!(
                &got[0],
                Problem::Malformed {
                    at: Place::Element(1),
                    ..
                }
            ),
            "{got:?}"
        );
        assert!(
            matches!(
                &got[1],
                Problem::Malformed {
                    at: Place::Element(3),
                    ..
                }
            ),
            "{got:?}"
        );
        assert!(
            got[1].to_string().starts_with("[3] is malformed:"),
            "{}",
            got[1]
        );
    }

    #[test]
    fn empty_inputs_build_empty_hierarchies() {
        let snap = from_ndjson("").unwrap();
        assert!(snap.is_empty());
        let mut b = Builder::new();
        b.read_json_array("[]".as_bytes()).unwrap();
        assert!(b.build().unwrap().is_empty());
    }
}

#[test]
fn a_million_deep_chain_builds_and_answers() {
    let n = 1_000_000;
    let records = Generator::new(Shape::Chain, n).seed(3).generate();
    let top = records[0].id.clone();
    let bottom = records[n - 1].id.clone();
    let snap = Snapshot::build(records).unwrap();
    assert_eq!(snap.downline_count(&top).unwrap(), n - 1);
    assert_eq!(snap.upline(&bottom).unwrap().count(), n - 1);
    assert!(snap.is_in_downline(&bottom, &top).unwrap());
    let last = PageRequest::new(20_000, 50).unwrap();
    for order in [Order::PreOrder, Order::LevelOrder] {
        let page = snap.downline(&top, order, last).unwrap();
        assert_eq!(page.len(), 49);
        assert_eq!(page.iter().last().unwrap().id(), &bottom);
    }
    let me = Principal::new(Role::Reseller, bottom.clone());
    let page = snap
        .eligible_parents(
            &me,
            Default::default(),
            Order::PreOrder,
            PageRequest::default(),
        )
        .unwrap();
    assert_eq!(page.total(), 1);
    drop(page);
    drop(snap); // dropping a deep hierarchy must not recurse either
}

#[test]
fn a_cycle_through_a_million_resellers_is_reported_whole() {
    let n = 1_000_000u64;
    let records = (0..n).map(|i| Record::new(i, Some((i + 1) % n)));
    let got = problems(records.collect());
    assert_eq!(got.len(), 1);
    match &got[0] {
        Problem::Cycle { members } => {
            assert_eq!(members.len(), n as usize);
            assert_eq!(members[0], ResellerId::from(0u64));
            assert_eq!(members[1], ResellerId::from(1u64));
            assert_eq!(members[members.len() - 1], ResellerId::from(n - 1));
        }
        other => panic!("expected a cycle, got {other:?}"),
    }
}

#[test]
fn an_activeplatform_name_that_is_no_string_is_malformed() {
    let doc =
        r#"{"data": [{"id": "1", "attributes": {"parent-id": "1", "general": {"name": 5}}}]}"#;
    let mut b = Builder::new();
    b.read_activeplatform(doc.as_bytes()).unwrap();
    let err = b.build().unwrap_err();
    assert!(
        matches!(err.problems(), [Problem::Malformed { at: Place::Resource(0), id: Some(id), message }]
            if id.as_str() == "1" && message.contains("general.name")),
        "{:?}",
        err.problems()
    );
    // Absent or null, it is the empty name.
    for general in [r#"{}"#, r#"{"name": null}"#] {
        let doc = format!(r#"{{"data": [{{"id": "1", "attributes": {{"general": {general}}}}}]}}"#);
        let mut b = Builder::new();
        b.read_activeplatform(doc.as_bytes()).unwrap();
        let snap = b.build().unwrap();
        assert_eq!(snap.get(Id::new("1")).unwrap().name(), "");
    }
}

#[test]
fn a_malformed_record_is_not_reported_again_as_a_missing_parent_and_its_duplicates_are() {
    // "a" is malformed (a name that is no string) but its id is in the input: its
    // child is not told its parent does not exist, and the well-formed "a" after it
    // is a duplicate. Two malformed records with one id are a duplicate too.
    let text = concat!(
        "{\"id\": \"a\", \"name\": 5}\n",
        "{\"id\": \"b\", \"parent\": \"a\"}\n",
        "{\"id\": \"a\"}\n",
        "{\"id\": \"c\", \"name\": []}\n",
        "{\"id\": \"c\", \"capabilities\": 1}\n",
        "{\"id\": \"d\", \"parent\": \"zz\"}\n",
    );
    let mut b = Builder::new();
    b.read_ndjson(text.as_bytes()).unwrap();
    let err = b.build().unwrap_err();
    let problems = err.problems();
    let malformed: Vec<Place> = problems
        .iter()
        .filter_map(|p| match p {
            Problem::Malformed { at, .. } => Some(*at),
            _ => None,
        })
        .collect();
    assert_eq!(malformed, [Place::Line(1), Place::Line(4), Place::Line(5)]);
    let duplicates: Vec<(&str, &[Place])> = problems
        .iter()
        .filter_map(|p| match p {
            Problem::DuplicateId { id, at } => Some((id.as_str(), &at[..])),
            _ => None,
        })
        .collect();
    assert_eq!(
        duplicates,
        [
            ("a", &[Place::Line(1), Place::Line(3)][..]),
            ("c", &[Place::Line(4), Place::Line(5)][..])
        ]
    );
    let unknown: Vec<&str> = problems
        .iter()
        .filter_map(|p| match p {
            Problem::UnknownParent { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(unknown, ["d"]);
    assert_eq!(problems.len(), 6, "{problems:?}");
}
