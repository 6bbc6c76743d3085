//! Mutations as JSON: every batch the strategies draw survives a round trip through
//! its JSON form, and a change file read back applies as the batches themselves do
//! (checked against the naive model).

use proptest::prelude::*;
use reseller_hierarchy::testing::{self, Mix, Model};
use reseller_hierarchy::{Hierarchy, Mutation, Order, Snapshot};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn batches_round_trip_and_apply_as_the_model_does(
        (records, batches) in testing::evolving_forest(40, 6, 4, Mix::granted(90))
    ) {
        // A change file: one batch a line.
        let mut file = String::new();
        for batch in &batches {
            file.push_str(&serde_json::to_string(batch).unwrap());
            file.push('\n');
        }
        let read: Vec<Vec<Mutation>> = file
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        prop_assert_eq!(&read, &batches);

        let mut model = Model::new(&records).unwrap();
        let h = Hierarchy::new(Snapshot::build(records).unwrap());
        for batch in &read {
            let engine = h.apply(batch).map_err(|e| e.index());
            let want = model.apply(batch);
            prop_assert_eq!(engine.is_ok(), want.is_ok(), "{:?} vs {:?}", engine, want);
            if let (Err(a), Err(b)) = (engine, want) {
                prop_assert_eq!(a, b);
            }
        }
        let snap = h.snapshot();
        let got: Vec<_> = snap.iter().map(|r| r.id().to_owned()).collect();
        prop_assert_eq!(got, model.all(Order::PreOrder));
        for id in model.ids() {
            let got = snap.get(id).unwrap().to_record();
            let want = model.record(id).unwrap();
            prop_assert_eq!(got.parent.as_deref(), model.parent(id));
            prop_assert_eq!(
                (&got.name, got.capabilities, got.economic_enabled, &got.attributes),
                (&want.name, want.capabilities, want.economic_enabled, &want.attributes)
            );
        }
    }
}
