//! Arbitrary records (small id space, so duplicates, cycles and unknown parents are
//! common) built by the engine and checked against the naive model: the same problems
//! reported, or a snapshot that validates and answers like the model.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use reseller_hierarchy::testing::Model;
use reseller_hierarchy::{Capabilities, Capability, Order, Record, ResellerId, Snapshot};

#[derive(Arbitrary, Debug)]
struct Input {
    records: Vec<(u8, Option<u8>, u8)>,
}

fuzz_target!(|input: Input| {
    let records: Vec<Record> = input
        .records
        .iter()
        .map(|&(id, parent, caps)| Record {
            id: ResellerId::from(u64::from(id)),
            parent: parent.map(|p| ResellerId::from(u64::from(p))),
            capabilities: Capability::ALL
                .into_iter()
                .enumerate()
                .filter(|(i, _)| caps >> i & 1 == 1)
                .map(|(_, c)| c)
                .collect::<Capabilities>(),
            ..Record::default()
        })
        .collect();
    let model = Model::new(&records);
    match (Snapshot::build(records), model) {
        (Ok(snap), Ok(model)) => {
            snap.validate().unwrap();
            assert_eq!(
                snap.iter().map(|r| r.id().clone()).collect::<Vec<_>>(),
                model.all(Order::PreOrder)
            );
            for id in model.ids() {
                assert_eq!(
                    snap.downline_count(id).unwrap(),
                    model.downline(id, Order::PreOrder).unwrap().len()
                );
            }
        }
        (Err(err), Err(problems)) => assert_eq!(err.problems(), problems.as_slice()),
        (got, want) => panic!("engine {:?} but model {:?}", got.map(|s| s.len()), want.map(|_| ())),
    }
});
