//! Thin target: see `reseller_hierarchy::testing::fuzz::forest_ops`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| reseller_hierarchy::testing::fuzz::forest_ops(data));
