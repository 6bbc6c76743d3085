//! Arbitrary bytes read as NDJSON and as a JSON array: a snapshot that validates, or a
//! build error; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reseller_hierarchy::Builder;

fuzz_target!(|data: &[u8]| {
    let mut b = Builder::new();
    if b.read_ndjson(data).is_ok() {
        if let Ok(snap) = b.build() {
            snap.validate().unwrap();
        }
    }
    let mut b = Builder::new();
    if b.read_json_array(data).is_ok() {
        if let Ok(snap) = b.build() {
            snap.validate().unwrap();
        }
    }
});
