//! Thin target: see `reseller_hierarchy::testing::fuzz::snapshot_file`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reseller_hierarchy::testing::fuzz::snapshot_file(data));
