//! The checks behind the fuzz targets (feature `fuzzing`). Each takes the fuzzer's
//! bytes and panics only on a bug: a wrong answer against the naive [`Model`], a broken
//! invariant, or a panic inside the crate. The targets in `fuzz/` are one line each,
//! and `tests/fuzz_replay.rs` runs every kept crasher through the same functions.

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Value};

use super::Model;
use crate::access::{Principal, Role};
use crate::builder::Builder;
use crate::capability::{Capabilities, FilterFlags};
use crate::hierarchy::{Hierarchy, Start};
use crate::id::ResellerId;
use crate::mutation::{Mutation, Removal};
use crate::paging::{Order, PageRequest};
use crate::record::{Attributes, Record};
use crate::snapshot::Snapshot;
use crate::wire::{jsonapi, page_request_from_query, telecomx};

/// Arbitrary bytes read as NDJSON, as a JSON array, as an ActivePlatform document and
/// sniffed: a snapshot that validates, or a build error; never a panic.
pub fn import(data: &[u8]) {
    type Reader = fn(&mut Builder, &[u8]) -> std::io::Result<()>;
    let readers: [Reader; 4] = [
        |b, d| b.read_ndjson(d),
        |b, d| b.read_json_array(d),
        |b, d| b.read_activeplatform(d),
        |b, d| b.read_any(d).map(drop),
    ];
    for read in readers {
        let mut b = Builder::new();
        read(&mut b, data).expect("reading from memory cannot fail");
        if let Ok(snap) = b.build() {
            snap.validate().expect("a built snapshot is valid");
        }
    }
}

/// One step of [`forest_ops`]: a query, or a batch of mutations.
#[derive(Arbitrary, Debug)]
enum Query {
    Downline(u8, bool, u8, u8),
    Upline(u8),
    IsInDownline(u8, u8),
    Eligible(u8, u8, u8, bool, u8, u8),
    Apply(Vec<Op>),
}

/// A mutation over the small id space.
#[derive(Arbitrary, Debug)]
enum Op {
    Add(u8, Option<u8>, u8),
    Move(u8, Option<u8>),
    Remove(u8, bool),
    Update(u8, u8),
}

impl Op {
    fn mutation(&self) -> Mutation {
        let id = |i: u8| ResellerId::from(u64::from(i % 80));
        match *self {
            Op::Add(i, p, c) => Mutation::Add(Record {
                id: id(i),
                parent: p.map(id),
                capabilities: Capabilities::from_bits(c),
                ..Record::default()
            }),
            Op::Move(i, p) => Mutation::Move {
                id: id(i),
                parent: p.map(id),
            },
            Op::Remove(i, reattach) => Mutation::Remove {
                id: id(i),
                removal: if reattach {
                    Removal::ReattachDownline
                } else {
                    Removal::LeafOnly
                },
            },
            Op::Update(i, c) => Mutation::Update {
                id: id(i),
                name: Some(format!("n{c}")),
                capabilities: Some(Capabilities::from_bits(c)),
                economic_enabled: Some(c & 1 == 1),
                attributes: None,
            },
        }
    }
}

/// Records over a small id space (so duplicates, cycles and unknown parents are
/// common), built and compared with the model: the same problems, or a hierarchy that
/// then takes a sequence of queries and mutation batches, each compared with the model
/// (a refused batch refused by both at the same mutation), `validate()` after each
/// batch.
pub fn forest_ops(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(raw) = Vec::<(u8, Option<u8>, u8)>::arbitrary(&mut u) else {
        return;
    };
    let records: Vec<Record> = raw
        .iter()
        .map(|&(id, parent, caps)| Record {
            id: ResellerId::from(u64::from(id % 64)),
            parent: parent.map(|p| ResellerId::from(u64::from(p % 66))),
            capabilities: Capabilities::from_bits(caps),
            ..Record::default()
        })
        .collect();
    let model = Model::new(&records);
    let snap = match (Snapshot::build(records), model) {
        (Err(err), Err(problems)) => {
            assert_eq!(err.problems(), problems.as_slice());
            return;
        }
        (Ok(snap), Ok(model)) => {
            snap.validate().expect("valid");
            (snap, model)
        }
        (got, want) => panic!(
            "engine {:?}, model {:?}",
            got.map(|s| s.len()),
            want.map(|_| ())
        ),
    };
    let (snap, mut model) = snap;
    let hierarchy = Hierarchy::new(snap);
    let id = |i: u8| ResellerId::from(u64::from(i % 66));
    let ids = |it: &mut dyn Iterator<Item = crate::snapshot::Reseller<'_>>| -> Vec<ResellerId> {
        it.map(|r| r.id().to_owned()).collect()
    };
    let order = |b: bool| {
        if b {
            Order::LevelOrder
        } else {
            Order::PreOrder
        }
    };
    let req = |page: u8, per: u8| {
        PageRequest::new(u64::from(page % 40) + 1, u64::from(per % 12) + 1).expect("in range")
    };
    let Ok(queries) = Vec::<Query>::arbitrary(&mut u) else {
        return;
    };
    for q in queries {
        let snap = hierarchy.snapshot();
        match q {
            Query::Apply(ops) => {
                let batch: Vec<Mutation> = ops.iter().map(Op::mutation).collect();
                match (hierarchy.apply(&batch), model.apply(&batch)) {
                    (Ok(_), Ok(())) => hierarchy.snapshot().validate().expect("valid"),
                    (Err(e), Err(i)) => assert_eq!(e.index(), i, "{e}"),
                    (got, want) => panic!("apply {batch:?}: {got:?} vs {want:?}"),
                }
                let all = PageRequest::new(1, 1000).expect("in range");
                let now = hierarchy.snapshot();
                let page = now
                    .eligible_parents(&Principal::admin(), FilterFlags::NONE, Order::PreOrder, all)
                    .expect("admin");
                assert_eq!(ids(&mut page.iter()), model.all(Order::PreOrder));
            }
            Query::Downline(r, lvl, page, per) => {
                let (r, req) = (id(r), req(page, per));
                match (
                    snap.downline(&r, order(lvl), req),
                    model.downline(&r, order(lvl)),
                ) {
                    (Ok(p), Some(all)) => {
                        assert_eq!(p.total(), all.len());
                        assert_eq!(ids(&mut p.iter()), Model::page(&all, req));
                    }
                    (Err(_), None) => {}
                    (got, want) => {
                        panic!("downline {r:?}: {:?} vs {want:?}", got.map(|p| p.total()))
                    }
                }
            }
            Query::Upline(r) => {
                let r = id(r);
                let got = snap.upline(&r).ok().map(|u| ids(&mut u.into_iter()));
                assert_eq!(got, model.upline(&r));
            }
            Query::IsInDownline(a, r) => {
                let (a, r) = (id(a), id(r));
                assert_eq!(
                    snap.is_in_downline(&a, &r).ok(),
                    model.is_in_downline(&a, &r)
                );
            }
            Query::Eligible(role, who, flags, lvl, page, per) => {
                let role = match role % 5 {
                    0 => Role::Admin,
                    1 | 2 => Role::ResellerAdmin,
                    3 => Role::Reseller,
                    _ => Role::Other("SUPPORT".into()),
                };
                let principal = Principal {
                    role,
                    reseller: (who != 255).then(|| id(who)),
                };
                let flags = FilterFlags {
                    iptv: flags & 1 != 0,
                    iptvprivate: flags & 2 != 0,
                    flexcare: flags & 4 != 0,
                    voip: flags & 8 != 0,
                };
                let req = req(page, per);
                let got = snap.eligible_parents(&principal, flags, order(lvl), req);
                match (got, model.eligible_parents(&principal, flags, order(lvl))) {
                    (Ok(p), Some(all)) => {
                        assert_eq!(p.total(), all.len());
                        assert_eq!(ids(&mut p.iter()), Model::page(&all, req));
                    }
                    (Err(_), None) => {}
                    (got, want) => panic!("eligible: {:?} vs {want:?}", got.map(|p| p.total())),
                }
            }
        }
    }
}

/// The contract's paging rule, written out plainly: `Some(n)` for a plain decimal
/// number that fits in 64 bits.
fn naive_number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: u64 = 0;
    for b in s.bytes() {
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Paging parameters and query strings from arbitrary strings: accepted exactly when
/// the contract says, with the values it says; a refusal names a parameter.
pub fn paging(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let (Ok(page), Ok(per)) = (
        Option::<String>::arbitrary(&mut u),
        Option::<String>::arbitrary(&mut u),
    ) else {
        return;
    };
    let got = PageRequest::parse(page.as_deref(), per.as_deref());
    let want_page = page
        .as_deref()
        .map_or(Some(1), naive_number)
        .filter(|&n| n >= 1);
    let want_per = per
        .as_deref()
        .map_or(Some(50), naive_number)
        .filter(|&n| (1..=1000).contains(&n));
    match (&got, want_page, want_per) {
        (Ok(req), Some(p), Some(q)) => {
            assert_eq!((req.page(), u64::from(req.per_page())), (p, q));
            let last = req.last_page(usize::from(u16::MAX));
            assert!(last >= 1);
        }
        (Err(e), None, _) => assert_eq!(e.parameter(), "page"),
        (Err(e), Some(_), None) => assert_eq!(e.parameter(), "per_page"),
        _ => panic!("{page:?} {per:?} gave {got:?}"),
    }
    if let Err(e) = &got {
        assert!(e.to_string().len() < 300, "messages stay small");
    }
    // The same bytes as a cursor: never a panic; a refusal is a 400 or a 410.
    let h = Hierarchy::with_options(
        Snapshot::build((0..5u64).map(|i| Record::new(i, (i > 0).then_some(0u64)))).expect("valid"),
        2,
        [9; 32],
    );
    let text = String::from_utf8_lossy(data);
    if let Err(e) = h.downline(
        &ResellerId::from(0u64),
        Order::PreOrder,
        Start::Cursor(&text),
    ) {
        assert!(matches!(e.http_status(), 400 | 410), "{e}");
    }
    // A real cursor with one byte changed is refused.
    let first = h
        .downline(
            &ResellerId::from(0u64),
            Order::PreOrder,
            Start::first(1).expect("valid"),
        )
        .expect("exists");
    if let (Some(c), Some(&b)) = (first.next_cursor(), data.first()) {
        let mut bytes = c.as_bytes().to_vec();
        let at = usize::from(b) % bytes.len();
        let flipped = bytes[at] ^ (data.get(1).copied().unwrap_or(1) | 1);
        bytes[at] = flipped;
        if let Ok(altered) = String::from_utf8(bytes) {
            let r = h.downline(
                &ResellerId::from(0u64),
                Order::PreOrder,
                Start::Cursor(&altered),
            );
            assert!(r.is_err(), "an altered cursor {altered:?} was accepted");
        }
    }
    // The same bytes as a whole query string: never a panic, and a success is in range.
    let query = String::from_utf8_lossy(data);
    if let Ok(req) = page_request_from_query(&query) {
        assert!(req.page() >= 1 && (1..=1000).contains(&req.per_page()));
    }
    let _ = telecomx::flags_from_query(&query);
}

/// A valid forest with arbitrary names and attributes, rendered in both wire formats,
/// written as JSON and read back: the same documents, and the JSON:API document
/// imports back to the same forest.
pub fn wire(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(raw) = Vec::<(Option<u16>, String, bool, Vec<(String, String)>)>::arbitrary(&mut u)
    else {
        return;
    };
    // One page of at most 1000 holds them all.
    let records: Vec<Record> = raw
        .iter()
        .take(1000)
        .enumerate()
        .map(|(i, (parent, name, economic, attrs))| {
            let mut map = Map::new();
            for (k, v) in attrs {
                if k != "parent-id" && k != "general" {
                    map.insert(k.clone(), Value::String(v.clone()));
                }
            }
            Record {
                id: ResellerId::from(i as u64),
                parent: parent
                    .filter(|_| i > 0)
                    .map(|p| ResellerId::from(u64::from(p) % i as u64)),
                name: name.clone(),
                capabilities: Capabilities::NONE,
                economic_enabled: *economic,
                attributes: if map.is_empty() {
                    Attributes::none()
                } else {
                    Attributes::from_map(map)
                },
            }
        })
        .collect();
    let snap = Snapshot::build(records.clone()).expect("parents precede children");
    let all = PageRequest::new(1, 1000).expect("in range");
    let page = snap
        .eligible_parents(&Principal::admin(), FilterFlags::NONE, Order::PreOrder, all)
        .expect("admin");
    let doc = jsonapi::document(&page, "http://h/r?x=\u{e9}");
    let text = serde_json::to_string(&doc).expect("serializes");
    let back: jsonapi::Document = serde_json::from_str(&text).expect("parses back");
    assert_eq!(back, doc);
    let list = telecomx::list(&page);
    let back: Vec<telecomx::ResellerItem> =
        serde_json::from_str(&serde_json::to_string(&list).expect("serializes")).expect("parses");
    assert_eq!(back, list);
    let mut b = Builder::new();
    b.read_activeplatform(text.as_bytes()).expect("in memory");
    let again = b.build().expect("a rendered document imports");
    assert_eq!(again.len(), records.len());
    for r in &records {
        let g = again.get(&r.id).expect("every reseller comes back");
        assert_eq!(g.parent(), r.parent.as_deref());
        assert_eq!(g.name(), r.name);
    }
}

/// Snapshot files, damaged: the bytes are loaded as a file as they are, and also read
/// as a recipe that builds a small snapshot, saves it, and damages the real file (bit
/// flips, overwritten bytes, truncation), recomputing its checksum half of the time so
/// that the checks behind the checksum are reached. A load gives a snapshot that
/// validates or a typed error; an undamaged file gives back the same hierarchy; never a
/// panic.
pub fn snapshot_file(data: &[u8]) {
    if let Ok(snap) = Snapshot::load(data) {
        snap.validate().expect("a loaded snapshot is valid");
    }
    let mut u = Unstructured::new(data);
    let n = u.int_in_range(0..=24u8).unwrap_or(0) as usize;
    let mut records = Vec::with_capacity(n);
    for i in 0..n {
        let parent = match u.int_in_range(0..=i as u8).unwrap_or(0) as usize {
            0 => None,
            p => Some(ResellerId::from((p - 1) as u64)),
        };
        let mut r = Record::new(i as u64, parent);
        r.name = format!("n{}é", u.arbitrary::<u8>().unwrap_or(0));
        r.capabilities = Capabilities::from_bits(u.arbitrary().unwrap_or(0));
        r.economic_enabled = u.arbitrary().unwrap_or(false);
        if u.arbitrary().unwrap_or(false) {
            r.attributes = Attributes::from_json(r#"{"general":{"name":"x"},"company":{"a":1}}"#)
                .expect("a JSON object");
        }
        records.push(r);
    }
    let snap = Snapshot::build(records).expect("parents come first: a forest");
    let mut file = Vec::new();
    snap.save(&mut file).expect("writing to memory cannot fail");
    let pristine = file.clone();
    let mut damaged = false;
    while let Ok(true) = u.arbitrary::<bool>() {
        let at = u.arbitrary::<u32>().unwrap_or(0) as usize % file.len();
        match u.int_in_range(0..=2u8).unwrap_or(0) {
            0 => file[at] ^= 1 << (u.arbitrary::<u8>().unwrap_or(0) % 8),
            1 => file[at] = u.arbitrary().unwrap_or(0),
            _ => file.truncate(at),
        }
        damaged |= file != pristine;
        if file.len() < 8 {
            break;
        }
    }
    if damaged && file.len() > 4 && u.arbitrary().unwrap_or(false) {
        let body = file.len() - 4;
        let crc = crc32fast::hash(&file[..body]);
        file[body..].copy_from_slice(&crc.to_le_bytes());
    }
    match Snapshot::load(&file[..]) {
        Ok(loaded) => {
            loaded.validate().expect("a loaded snapshot is valid");
            if !damaged {
                let a: Vec<Record> = snap.iter().map(|r| r.to_record()).collect();
                let b: Vec<Record> = loaded.iter().map(|r| r.to_record()).collect();
                assert_eq!(a, b, "a saved snapshot loads back the same");
            }
        }
        Err(e) => {
            assert!(damaged, "an undamaged file loads: {e}");
            assert!(!e.to_string().is_empty());
        }
    }
}
