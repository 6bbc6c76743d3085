//! Snapshot files: what is saved loads back as the same hierarchy (checked against the
//! naive model of the records, not against the saved snapshot), and every damaged file
//! is refused with the error that names its damage.

use proptest::prelude::*;
use reseller_hierarchy::testing::{self, Model};
use reseller_hierarchy::Id;
use reseller_hierarchy::{
    Attributes, Hierarchy, LoadError, Mutation, Order, Problem, Record, ResellerId, Snapshot,
};

fn saved(snap: &Snapshot) -> Vec<u8> {
    let mut file = Vec::new();
    snap.save(&mut file).unwrap();
    file
}

/// Sets the trailing checksum to match the content, so that the checks behind it are
/// reached.
fn fix_checksum(file: &mut [u8]) {
    let body = file.len() - 4;
    let crc = crc32fast::hash(&file[..body]);
    file[body..].copy_from_slice(&crc.to_le_bytes());
}

fn small() -> Snapshot {
    let attrs =
        Attributes::from_json(r#"{"company":{"vat":"DK1"},"general":{"name":"A"}}"#).unwrap();
    Snapshot::build([
        Record::new("1", None::<&str>).name("Top"),
        Record::new("2", Some("1")).name("Änne").attributes(attrs),
        Record::new("3", Some("2")).name("C").economic_enabled(true),
        Record::new("4", None::<&str>).name("Other root"),
    ])
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_saved_snapshot_loads_as_the_model_of_its_records(records in testing::forest(60)) {
        let model = Model::new(&records).unwrap();
        let snap = Snapshot::build(records.clone()).unwrap();
        let loaded = Snapshot::load(&saved(&snap)[..]).unwrap();
        loaded.validate().unwrap();
        prop_assert_eq!(loaded.len(), records.len());
        for order in [Order::PreOrder, Order::LevelOrder] {
            // The whole forest in this order (an ADMIN's eligible parents).
            let all: Vec<ResellerId> = loaded
                .eligible_parents(
                    &reseller_hierarchy::Principal::admin(),
                    reseller_hierarchy::FilterFlags::NONE,
                    order,
                    reseller_hierarchy::PageRequest::new(1, 1000).unwrap(),
                )
                .unwrap()
                .iter()
                .map(|r| r.id().to_owned())
                .collect();
            prop_assert_eq!(&all, &model.all(order));
            if order == Order::PreOrder {
                let iterated: Vec<ResellerId> = loaded.iter().map(|r| r.id().to_owned()).collect();
                prop_assert_eq!(&iterated, &all);
            }
            for r in &records {
                let want = model.downline(&r.id, order).unwrap();
                let got: Vec<ResellerId> = loaded
                    .downline(&r.id, order, reseller_hierarchy::PageRequest::new(1, 1000).unwrap())
                    .unwrap()
                    .iter()
                    .map(|x| x.id().to_owned())
                    .collect();
                prop_assert_eq!(got, want);
            }
        }
        for r in &records {
            let got = loaded.get(&r.id).unwrap().to_record();
            let mut want = model.record(&r.id).unwrap().clone();
            if want.parent.as_ref() == Some(&want.id) {
                want.parent = None;
            }
            prop_assert_eq!(got, want);
        }
    }
}

#[test]
fn the_version_of_a_hierarchy_is_kept() {
    let h = Hierarchy::new(small());
    h.apply(&[Mutation::Add(Record::new("5", Some("4")))])
        .unwrap();
    let snap = h.snapshot();
    let loaded = Snapshot::load(&saved(&snap)[..]).unwrap();
    assert_eq!(loaded.version(), snap.version());
    assert_eq!(loaded.len(), 5);
    assert_eq!(loaded.downline_count(Id::new("4")).unwrap(), 1);
}

#[test]
fn attributes_and_names_round_trip_byte_for_byte() {
    let snap = small();
    let loaded = Snapshot::load(&saved(&snap)[..]).unwrap();
    for r in snap.iter() {
        assert_eq!(loaded.get(r.id()).unwrap().to_record(), r.to_record());
    }
    // Saving what was loaded gives the same file.
    assert_eq!(saved(&loaded), saved(&snap));
}

#[test]
fn an_empty_id_saves_and_loads() {
    let snap =
        Snapshot::build([Record::new("", None::<&str>), Record::new("x", Some(""))]).unwrap();
    let loaded = Snapshot::load(&saved(&snap)[..]).unwrap();
    assert_eq!(loaded.downline_count(Id::new("")).unwrap(), 1);
}

#[test]
fn every_truncation_is_refused() {
    let file = saved(&small());
    for len in 0..file.len() {
        let err = Snapshot::load(&file[..len]).unwrap_err();
        assert!(
            matches!(
                err,
                LoadError::NotASnapshot | LoadError::Truncated { .. } | LoadError::Checksum { .. }
            ),
            "{len}: {err:?}"
        );
    }
}

#[test]
fn every_bit_flip_is_refused() {
    let file = saved(&small());
    for byte in 0..file.len() {
        for bit in 0..8 {
            let mut bad = file.clone();
            bad[byte] ^= 1 << bit;
            assert!(Snapshot::load(&bad[..]).is_err(), "byte {byte} bit {bit}");
        }
    }
}

#[test]
fn a_file_of_another_format_version_is_named_so() {
    let mut file = saved(&small());
    file[8..12].copy_from_slice(&2u32.to_le_bytes());
    let err = Snapshot::load(&file[..]).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::Version {
                found: 2,
                supported: 1
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("format version 2"), "{err}");
}

/// The offset of the parents in a file of `small()`: after the 32-byte header.
const PARENTS: usize = 32;

#[test]
fn damage_behind_a_valid_checksum_is_named() {
    let file = saved(&small());
    let n = 4;
    let corrupt = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut bad = file.clone();
        edit(&mut bad);
        fix_checksum(&mut bad);
        Snapshot::load(&bad[..]).unwrap_err()
    };
    // A parent index past the last record.
    let err = corrupt(&|f| f[PARENTS + 4..PARENTS + 8].copy_from_slice(&9u32.to_le_bytes()));
    assert!(matches!(err, LoadError::Corrupt { .. }), "{err:?}");
    // A cycle: the root made its own grandchild's child.
    let err = corrupt(&|f| f[PARENTS..PARENTS + 4].copy_from_slice(&2u32.to_le_bytes()));
    match err {
        LoadError::Invalid(e) => assert!(matches!(e.problems()[0], Problem::Cycle { .. }), "{e:?}"),
        other => panic!("{other:?}"),
    }
    // A record that is its own parent.
    let err = corrupt(&|f| f[PARENTS + 8..PARENTS + 12].copy_from_slice(&2u32.to_le_bytes()));
    match err {
        LoadError::Invalid(e) => assert_eq!(
            e.problems(),
            [Problem::Cycle {
                members: vec!["3".into()]
            }]
        ),
        other => panic!("{other:?}"),
    }
    // Capability bits no capability has.
    let err = corrupt(&|f| f[PARENTS + 4 * n] = 0xE0);
    assert!(matches!(err, LoadError::Corrupt { .. }), "{err:?}");
    // A count of resellers the file cannot hold.
    let err = corrupt(&|f| f[16..24].copy_from_slice(&u64::MAX.to_le_bytes()));
    assert!(matches!(err, LoadError::Corrupt { .. }), "{err:?}");
    // The same id twice: the ids are "1".."4", one byte each; make the second "1".
    let ids_bytes = PARENTS + 4 * n + 2 * n + 4 * n;
    assert_eq!(&file[ids_bytes..ids_bytes + 4], b"1234");
    let err = corrupt(&|f| f[ids_bytes + 1] = b'1');
    match err {
        LoadError::Invalid(e) => assert!(
            matches!(e.problems()[0], Problem::DuplicateId { .. }),
            "{e:?}"
        ),
        other => panic!("{other:?}"),
    }
    // Every problem at once: the same id twice and a cycle.
    let err = corrupt(&|f| {
        f[ids_bytes + 1] = b'1';
        f[PARENTS..PARENTS + 4].copy_from_slice(&2u32.to_le_bytes());
    });
    match err {
        LoadError::Invalid(e) => {
            let kinds: Vec<bool> = e
                .problems()
                .iter()
                .map(|p| matches!(p, Problem::DuplicateId { .. }))
                .collect();
            assert_eq!(kinds, [true, false], "{e:?}");
            assert!(
                matches!(&e.problems()[1], Problem::Cycle { members } if members.len() == 3),
                "{e:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // An id that is not UTF-8.
    let err = corrupt(&|f| f[ids_bytes + 2] = 0xFF);
    assert!(matches!(err, LoadError::Corrupt { .. }), "{err:?}");
    // Anything else is not a snapshot file.
    assert!(matches!(
        Snapshot::load(&b"{\"id\": 1}\n"[..]),
        Err(LoadError::NotASnapshot)
    ));
}
