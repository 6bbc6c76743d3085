//! Adversarial inputs: each gets a correct answer or a clear error, with bounded
//! memory, and nothing panics or overflows the stack.

use reseller_hierarchy::testing::Model;
use reseller_hierarchy::wire::page_request_from_query;
use reseller_hierarchy::Id;
use reseller_hierarchy::{
    Builder, FilterFlags, Hierarchy, Mutation, Order, PageRequest, Principal, Problem, Record,
    Removal, ResellerId, Role, Snapshot,
};

fn ndjson(text: &[u8]) -> Result<Snapshot, Vec<Problem>> {
    let mut b = Builder::new();
    b.read_ndjson(text).unwrap();
    b.build().map_err(|e| e.into_problems())
}

#[test]
fn a_ten_million_reseller_star() {
    let n = 10_000_000u64;
    let records = (0..n).map(|i| Record::new(i, (i > 0).then_some(0u64)));
    let snap = Snapshot::build(records).unwrap();
    let root = ResellerId::from(0u64);
    assert_eq!(snap.downline_count(&root).unwrap(), (n - 1) as usize);
    let last = PageRequest::new(1, 1000)
        .unwrap()
        .last_page((n - 1) as usize);
    let page = snap
        .downline(
            &root,
            Order::LevelOrder,
            PageRequest::new(last, 1000).unwrap(),
        )
        .unwrap();
    assert_eq!(page.iter().last().unwrap().id(), &ResellerId::from(n - 1));
    assert_eq!(snap.summary().widest_fan_out, (n - 1) as usize);
    // Bounded memory: the index stays near its per-reseller budget.
    assert!(
        snap.index_bytes() / n as usize <= 32,
        "{}",
        snap.index_bytes()
    );
}

#[test]
fn thousands_of_duplicate_ids() {
    let mut records: Vec<Record> = (0..5000u64)
        .map(|i| Record::new(i % 1000, None::<&str>))
        .collect();
    records.push(Record::new("x", Some("999")));
    let problems = Snapshot::build(records).unwrap_err().into_problems();
    assert_eq!(problems.len(), 1000);
    for (i, p) in problems.iter().enumerate() {
        let want: Vec<reseller_hierarchy::Place> = (0..5)
            .map(|k| reseller_hierarchy::Place::Record(i + 1000 * k))
            .collect();
        assert_eq!(
            p,
            &Problem::DuplicateId {
                id: ResellerId::from(i as u64),
                at: want
            }
        );
    }
}

#[test]
fn ids_of_a_megabyte_and_non_ascii_ids() {
    let big = "é".repeat(512 * 1024); // 1 MiB of UTF-8
    let snap = Snapshot::build([
        Record::new(big.as_str(), None::<&str>),
        Record::new("Ålborg-Øst-𝔘𝔫𝔦𝔠𝔬𝔡𝔢", Some(big.as_str())),
        Record::new("ÅLBORG-ØST-𝔘𝔫𝔦𝔠𝔬𝔡𝔢", Some(big.as_str())),
    ])
    .unwrap();
    assert_eq!(
        snap.downline_count(&ResellerId::from(big.as_str()))
            .unwrap(),
        2
    );
    assert!(snap
        .is_in_downline(
            Id::new("Ålborg-Øst-𝔘𝔫𝔦𝔠𝔬𝔡𝔢"),
            &ResellerId::from(big.as_str())
        )
        .unwrap());
    // Ids are case-sensitive: both spellings exist.
    assert_eq!(snap.len(), 3);
    // An error about a huge id stays readable.
    let err = snap.downline(
        &ResellerId::from(big.repeat(2)),
        Order::PreOrder,
        PageRequest::default(),
    );
    assert!(err.is_err());
    let json = format!("{{\"id\": \"{big}\"}}\n{{\"id\": \"é\", \"parent\": \"{big}x\"}}\n");
    let problems = ndjson(json.as_bytes()).unwrap_err();
    assert!(matches!(
        &problems[0],
        Problem::UnknownParent {
            at: reseller_hierarchy::Place::Line(2),
            ..
        }
    ));
}

/// Twenty thousand ids, 4 in 15 short (inline in the base's slots) and the rest of 36
/// to 44 bytes (UUID-like, some multibyte: in the base's shared string), in a random
/// forest: in a built version, a changed one, the same folded, and saved and loaded,
/// every reseller is found by its id and has the id, parent and name the naive model
/// of the same records gives it, and the whole listing is the model's pre-order.
#[test]
fn short_and_long_ids_read_back_as_given() {
    let id = |i: u64| {
        let uuid = format!(
            "{:08x}-{:04x}-4000-8000-{:012x}",
            i * 2_654_435_761 % (1 << 32),
            i % 65_536,
            i
        );
        match i % 15 {
            0 => format!("{uuid}-ø{i}"),
            k if k % 3 == 0 => i.to_string(),
            _ => uuid,
        }
    };
    // Each parent an earlier id spread over all of them: fan-outs and depths vary.
    let records: Vec<Record> = (0..20_000u64)
        .map(|i| {
            Record::new(id(i), (i > 0).then(|| id(i * 7_919 % 1_000_003 % i)))
                .name(format!("name {i}"))
        })
        .collect();
    let mut model = Model::new(&records).unwrap();
    let h = Hierarchy::new(Snapshot::build(records).unwrap());
    // Parents are earlier ids, so moving 19,000 + k under k (k < 500, never moved)
    // never moves a reseller under its own downline.
    let batch: Vec<Mutation> = (0..500u64)
        .map(|k| match k % 3 {
            0 => Mutation::Add(
                Record::new(id(100_000 + k), Some(id(k * 37 % 9_000))).name(format!("new {k}")),
            ),
            1 => Mutation::Move {
                id: id(19_000 + k).into(),
                parent: Some(id(k).into()),
            },
            _ => Mutation::Remove {
                id: id(10_000 + k).into(),
                removal: Removal::ReattachDownline,
            },
        })
        .collect();
    let check = |snap: &Snapshot, model: &Model| {
        assert_eq!(snap.len(), model.ids().count());
        for want in model.ids() {
            let got = snap.get(want).unwrap_or_else(|| panic!("{want} missing"));
            assert_eq!(got.id(), want);
            assert_eq!(got.parent(), model.parent(want), "{want}");
            assert_eq!(got.name(), model.record(want).unwrap().name, "{want}");
        }
        let listed: Vec<ResellerId> = snap.iter().map(|r| r.id().to_owned()).collect();
        assert_eq!(listed, model.all(Order::PreOrder));
        let removed = id(10_002);
        let removed = Id::new(&removed);
        assert_eq!(snap.get(removed).is_some(), model.contains(removed));
    };
    check(&h.snapshot(), &model);
    model.apply(&batch).unwrap();
    h.apply(&batch).unwrap();
    assert!(!model.contains(Id::new(&id(10_002))));
    check(&h.snapshot(), &model);
    h.compact();
    check(&h.snapshot(), &model);
    let mut file = Vec::new();
    h.snapshot().save(&mut file).unwrap();
    check(&Snapshot::load(file.as_slice()).unwrap(), &model);
}

#[test]
fn integers_beyond_64_bits() {
    // As ids: a clear, per-line error.
    let problems = ndjson(b"{\"id\": 18446744073709551616}\n{\"id\": 1, \"parent\": 99999999999999999999999}\n{\"id\": -9223372036854775808}\n").unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    for (p, line) in problems
        .iter()
        .zip(["line 1 is malformed", "line 2 (id \"1\") is malformed"])
    {
        assert!(p.to_string().starts_with(line), "{p:?}");
    }
    // i64 and u64 extremes are ordinary ids.
    let snap = ndjson(b"{\"id\": 18446744073709551615}\n{\"id\": -9223372036854775808, \"parent\": \"18446744073709551615\"}\n").unwrap();
    assert_eq!(snap.len(), 2);
    // As pages and sizes: a bad request naming the parameter.
    for q in [
        "page=18446744073709551616",
        "page=340282366920938463463374607431768211456",
    ] {
        assert_eq!(
            page_request_from_query(q).unwrap_err().parameter(),
            "page",
            "{q}"
        );
    }
    assert_eq!(
        page_request_from_query("per_page=18446744073709551616")
            .unwrap_err()
            .parameter(),
        "per_page"
    );
    // The largest page is accepted and simply past the end.
    let snap = Snapshot::build([Record::new("1", None::<&str>)]).unwrap();
    let req = PageRequest::parse(Some("18446744073709551615"), Some("1000")).unwrap();
    let page = snap
        .eligible_parents(
            &Principal::admin(),
            FilterFlags::NONE,
            Order::LevelOrder,
            req,
        )
        .unwrap();
    assert!(page.is_empty());
    assert_eq!((page.total(), page.last_page()), (1, 1));
}

#[test]
fn bad_page_values_name_their_parameter() {
    for (page, per, param) in [
        (Some("0"), None, "page"),
        (Some("-1"), None, "page"),
        (Some("abc"), None, "page"),
        (Some("18446744073709551616"), None, "page"),
        (Some("1.5"), None, "page"),
        (Some(""), None, "page"),
        (None, Some("1001"), "per_page"),
        (None, Some("0"), "per_page"),
        (None, Some("-5"), "per_page"),
        (None, Some("ten"), "per_page"),
    ] {
        let err = PageRequest::parse(page, per).unwrap_err();
        assert_eq!(err.parameter(), param, "{page:?} {per:?}");
        assert_eq!(err.http_status(), 400);
        assert!(err.to_string().contains(param), "{err}");
    }
    assert_eq!(
        PageRequest::parse(None, Some("1000")).unwrap().per_page(),
        1000
    );
}

#[test]
fn json_nested_a_hundred_thousand_deep() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let line = format!("{{\"id\": 1, \"attributes\": {{\"x\": {deep}}}}}\n");
    let problems = ndjson(line.as_bytes()).unwrap_err();
    assert!(
        matches!(&problems[0], Problem::Malformed { message, .. } if message.contains("recursion")),
        "{problems:?}"
    );
    let mut b = Builder::new();
    b.read_json_array(deep.as_bytes()).unwrap();
    assert!(b.build().is_err());
    let mut b = Builder::new();
    b.read_activeplatform(format!("{{\"data\": {deep}}}").as_bytes())
        .unwrap();
    assert!(b.build().is_err());
    let mut b = Builder::new();
    b.read_any(deep.as_bytes()).unwrap();
    assert!(b.build().is_err());
}

#[test]
fn truncated_and_empty_files() {
    let full = b"{\"id\": 1}\n{\"id\": 2, \"parent\": 1}\n{\"id\": 3, \"parent\": 2}\n";
    for cut in 1..full.len() {
        let part = &full[..cut];
        // What a cut leaves, by serde_json line by line: the records of its whole
        // lines, and a problem when a line is cut inside its object (a cut after a
        // line's `}` leaves that line whole).
        let lines: Vec<&[u8]> = part
            .split(|&b| b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .collect();
        let whole = lines
            .iter()
            .filter(|l| serde_json::from_slice::<serde_json::Value>(l).is_ok())
            .count();
        let cut_inside = whole < lines.len();
        let mut b = Builder::new();
        b.read_any(part).unwrap();
        for built in [
            ndjson(part).map_err(|p| p.len()),
            b.build().map_err(|e| e.problems().len()),
        ] {
            match built {
                Ok(snap) => {
                    assert!(!cut_inside, "a line cut inside was accepted: {cut}");
                    assert_eq!(snap.len(), whole, "{cut}");
                    snap.validate().unwrap();
                }
                Err(problems) => {
                    assert!(cut_inside, "whole lines refused: {cut}");
                    assert_eq!(problems, 1, "{cut}");
                }
            }
        }
    }
    let array = br#"[{"id": 1}, {"id": 2, "parent": 1}]"#;
    for cut in 1..array.len() {
        let mut b = Builder::new();
        b.read_json_array(&array[..cut]).unwrap();
        assert!(b.build().is_err(), "a truncated array is reported: {cut}");
    }
    for empty in [&b""[..], b"\n\n", b"   "] {
        let mut b = Builder::new();
        b.read_any(empty).unwrap();
        assert!(b.build().unwrap().is_empty());
    }
    let mut b = Builder::new();
    b.read_json_array(&b""[..]).unwrap();
    assert!(b.build().is_err(), "an empty file is not a JSON array");
}

#[test]
fn a_principal_with_a_huge_or_odd_id_is_simply_denied() {
    let snap = Snapshot::build([Record::new("1", None::<&str>)]).unwrap();
    for id in ["", "\u{0}", &"9".repeat(100_000)] {
        let me = Principal::new(Role::ResellerAdmin, id);
        let err = snap.eligible_parents(
            &me,
            FilterFlags::NONE,
            Order::PreOrder,
            PageRequest::default(),
        );
        assert_eq!(err.unwrap_err().http_status(), 403);
    }
}
