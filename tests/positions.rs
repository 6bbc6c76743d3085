//! Source positions and read-your-writes: a reader waiting for a position gets a
//! version holding every change up to it, whichever thread applied them; a change
//! delivered twice is applied once; a refused batch leaves the position where it was.

use std::sync::Arc;
use std::time::Duration;

use reseller_hierarchy::Id;
use reseller_hierarchy::{Applied, Hierarchy, Mutation, MutationError, Position, Record, Snapshot};

fn hierarchy() -> Arc<Hierarchy> {
    Arc::new(Hierarchy::new(
        Snapshot::build([Record::new("root", None::<&str>)]).unwrap(),
    ))
}

fn add(i: u64) -> [Mutation; 1] {
    [Mutation::Add(Record::new(format!("r{i}"), Some("root")))]
}

#[test]
fn readers_waiting_for_a_position_see_every_change_up_to_it() {
    const N: u64 = 2_000;
    let h = hierarchy();
    let readers: Vec<_> = (0..4u64)
        .map(|k| {
            let h = h.clone();
            std::thread::spawn(move || {
                // Each reader waits for a spread of positions, in its own order.
                for j in 0..50u64 {
                    let p = 1 + (j * 37 + k * 11) % N;
                    let snap = h
                        .wait_for(Position::new(p), Duration::from_secs(60))
                        .unwrap();
                    for i in 1..=p {
                        assert!(
                            snap.get(Id::new(&format!("r{i}"))).is_some(),
                            "waited for {p}, r{i} missing at version {}",
                            snap.version()
                        );
                    }
                    assert!(h.position().unwrap() >= Position::new(p));
                }
            })
        })
        .collect();
    for i in 1..=N {
        assert!(matches!(
            h.apply_at(&add(i), Position::new(i)).unwrap(),
            Applied::New { .. }
        ));
    }
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(
        h.snapshot().downline_count(Id::new("root")).unwrap(),
        N as usize
    );
}

#[test]
fn a_change_delivered_again_is_applied_once() {
    let h = hierarchy();
    h.apply_at(&add(1), Position::new(100)).unwrap();
    h.apply_at(&add(2), Position::new(200)).unwrap();
    // Redelivered from an earlier position after a reconnect: all recognised.
    for p in [100, 150, 200] {
        assert_eq!(
            h.apply_at(&add(1), Position::new(p)).unwrap(),
            Applied::Already {
                position: Position::new(200)
            }
        );
    }
    assert_eq!(h.snapshot().version(), 3);
    assert_eq!(h.snapshot().downline_count(Id::new("root")).unwrap(), 2);
}

#[test]
fn a_refused_batch_leaves_the_position_and_the_version() {
    let h = hierarchy();
    h.apply_at(&add(1), Position::new(1)).unwrap();
    let bad = [Mutation::Move {
        id: "root".into(),
        parent: Some("r1".into()),
    }];
    let err = h.apply_at(&bad, Position::new(2)).unwrap_err();
    assert!(
        matches!(err, MutationError::MoveUnderOwnDownline { .. }),
        "{err:?}"
    );
    assert_eq!(h.position(), Some(Position::new(1)));
    assert_eq!(h.snapshot().version(), 2);
    let timeout = h
        .wait_for(Position::new(2), Duration::from_millis(20))
        .unwrap_err();
    assert_eq!(timeout.reached, Some(Position::new(1)));
    assert!(timeout.to_string().contains("position 2"), "{timeout}");
}

#[test]
fn advancing_without_changes_wakes_the_waiters_and_never_goes_back() {
    let h = hierarchy();
    let waiter = {
        let h = h.clone();
        std::thread::spawn(move || h.wait_for(Position::new(9), Duration::from_secs(60)))
    };
    h.advance_to(Position::new(9));
    assert_eq!(waiter.join().unwrap().unwrap().version(), 1);
    h.advance_to(Position::new(4));
    assert_eq!(h.position(), Some(Position::new(9)));
    // A batch at a position at or before that is already reflected.
    assert_eq!(
        h.apply_at(&add(1), Position::new(9)).unwrap(),
        Applied::Already {
            position: Position::new(9)
        }
    );
}

#[test]
fn a_reload_at_an_earlier_position_takes_the_changes_after_it_again() {
    let h = hierarchy();
    for i in 1..=3 {
        h.apply_at(&add(i), Position::new(i * 100)).unwrap();
    }
    // A load of the source as it stood at 150 (a standby, a file saved then): r1 only.
    let earlier = Snapshot::build([
        Record::new("root", None::<&str>),
        Record::new("r1", Some("root")),
    ])
    .unwrap();
    h.reload_at(earlier, Position::new(150));
    assert_eq!(h.position(), Some(Position::new(150)));
    // The change at 200 is not in the load: it is applied again, not taken for applied.
    assert!(h.wait_for(Position::new(200), Duration::ZERO).is_err());
    assert!(matches!(
        h.apply_at(&add(2), Position::new(200)).unwrap(),
        Applied::New { .. }
    ));
    let snap = h.wait_for(Position::new(200), Duration::ZERO).unwrap();
    assert!(snap.get(Id::new("r2")).is_some());
    assert!(snap.get(Id::new("r3")).is_none());
}
