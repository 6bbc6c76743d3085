//! The response-body workload shared by the criterion benches and
//! `examples/perf_report.rs`: a million resellers with the ActivePlatform attribute
//! set, and 64 random pages of the root's downline (JSON:API) and of the eligible
//! parents with iptv of the root's RESELLER_ADMIN (TelecomX).

use reseller_hierarchy::generate::{Generator, Shape, SplitMix};
use reseller_hierarchy::{
    Filter, FilterFlags, Order, Page, PageRequest, Principal, ResellerId, Role, Snapshot,
};

/// The base URL of the JSON:API links.
pub(crate) const BASE: &str = "https://billing.example.com/api/v3/customer_store/resellers";

/// One million resellers of the random shape (seed 42) with attributes.
pub(crate) fn snapshot() -> Snapshot {
    let records = Generator::new(Shape::Random, 1_000_000)
        .seed(42)
        .attributes(true)
        .generate();
    Snapshot::build(records).unwrap()
}

/// 64 random pages of `per` of the root's downline, and of its RESELLER_ADMIN's
/// eligible parents with iptv.
pub(crate) fn pages<'s>(
    snap: &'s Snapshot,
    per: u64,
    rng: &mut SplitMix,
) -> (Vec<Page<'s>>, Vec<Page<'s>>) {
    let root = ResellerId::from("1");
    let me = Principal::new(Role::ResellerAdmin, root.clone());
    let iptv = FilterFlags::from(Filter::Iptv);
    let mut draw = |total: usize| {
        let last = PageRequest::new(1, per).unwrap().last_page(total) as usize;
        PageRequest::new(1 + rng.below(last) as u64, per).unwrap()
    };
    let total = snap.downline_count(&root).unwrap();
    let downline = (0..64)
        .map(|_| snap.downline(&root, Order::PreOrder, draw(total)).unwrap())
        .collect();
    let total = snap.eligible_count(&me, iptv).unwrap();
    let eligible = (0..64)
        .map(|_| {
            snap.eligible_parents(&me, iptv, Order::PreOrder, draw(total))
                .unwrap()
        })
        .collect();
    (downline, eligible)
}
