//! Replays every input kept under `tests/fuzz_crashes/TARGET/` through the same check
//! its fuzz target runs, so that a fixed crash stays fixed.

use std::path::Path;

use reseller_hierarchy::testing::fuzz;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_crashes")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|f| f == ".keep") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        eprintln!("replaying {}", path.display());
        check(&data);
        n += 1;
    }
    n
}

#[test]
fn kept_crashers_stay_fixed() {
    let mut total = 0;
    total += replay("import", fuzz::import);
    total += replay("forest_ops", fuzz::forest_ops);
    total += replay("paging", fuzz::paging);
    total += replay("wire", fuzz::wire);
    total += replay("snapshot_file", fuzz::snapshot_file);
    eprintln!("{total} kept inputs replayed");
}

/// The checks themselves run on a few fixed inputs, so that they are exercised even
/// while no crasher is kept.
#[test]
fn the_checks_run_on_fixed_inputs() {
    let inputs: [&[u8]; 5] = [
        b"",
        b"{\"id\": 1}\n{\"id\": 2, \"parent\": 1}\n",
        b"[{\"id\": \"a\"}, {\"id\": \"b\", \"parent\": \"a\"}]",
        b"{\"data\": [{\"id\": \"1\", \"attributes\": {\"parent-id\": 1}}]}",
        &[
            7, 1, 3, 9, 200, 4, 4, 1, 0, 255, 2, 8, 16, 32, 64, 128, 1, 2, 3, 4, 5, 6, 7, 8,
        ],
    ];
    for data in inputs {
        fuzz::import(data);
        fuzz::forest_ops(data);
        fuzz::paging(data);
        fuzz::wire(data);
        fuzz::snapshot_file(data);
    }
}
