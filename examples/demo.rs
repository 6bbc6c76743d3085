//! `cargo run --release --features generate --example demo`: builds the default hierarchy (100,000
//! resellers from the seeded generator), prints a downline page and a filtered
//! eligible-parents page, and how long the build and each query took.

use std::time::{Duration, Instant};

use reseller_hierarchy::generate::demo_dataset;
use reseller_hierarchy::{
    FilterFlags, Order, Page, PageRequest, Principal, ResellerId, Role, Snapshot,
};

/// The median of `runs` timings of `f`.
fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn show(title: &str, page: &Page<'_>) {
    println!(
        "{title}: page {} of {}, {} of {} resellers",
        page.number(),
        page.last_page(),
        page.len(),
        page.total()
    );
    for r in page.iter().take(10) {
        let caps: Vec<_> = r.capabilities().iter().map(|c| c.name()).collect();
        println!(
            "  {:>7}  parent {:>7}  {:<44} [{}]",
            r.id().as_str(),
            r.parent().map_or("-", |p| p.as_str()),
            r.name(),
            caps.join(", ")
        );
    }
    if page.len() > 10 {
        println!("  … {} more on this page", page.len() - 10);
    }
}

fn main() {
    let t = Instant::now();
    let records = demo_dataset();
    let generated = t.elapsed();
    let n = records.len();

    let t = Instant::now();
    let snap = Snapshot::build(records).expect("the demo dataset is valid");
    let built = t.elapsed();
    println!("generated {n} resellers in {generated:.2?}; built the snapshot in {built:.2?}");

    // A mid-level reseller with a sizeable downline.
    let reseller: ResellerId = snap
        .iter()
        .filter(|r| r.parent().is_some())
        .max_by_key(|r| r.downline_len())
        .map(|r| r.id().to_owned())
        .expect("non-empty");
    let req = PageRequest::new(2, 20).expect("valid page");
    let page = snap
        .downline(&reseller, Order::PreOrder, req)
        .expect("exists");
    println!();
    show(&format!("downline of {reseller} (pre-order)"), &page);

    let me = Principal::new(Role::ResellerAdmin, reseller.clone());
    let voip = FilterFlags {
        voip: true,
        ..FilterFlags::NONE
    };
    let eligible = snap
        .eligible_parents(&me, voip, Order::LevelOrder, PageRequest::default())
        .expect("allowed");
    println!();
    show(
        &format!("eligible parents for RESELLER_ADMIN of {reseller}, voip=true (level order)"),
        &eligible,
    );

    let root = ResellerId::from("1");
    let deep = snap.iter().last().expect("non-empty").id().to_owned();
    let runs = 1001;
    println!();
    println!("median of {runs} runs each:");
    let timings = [
        (
            "downline page (50) of the root, pre-order, page 1",
            median(runs, || {
                snap.downline(&root, Order::PreOrder, PageRequest::default())
                    .map(|p| p.iter().count())
            }),
        ),
        (
            "downline page (50) of the root, level order, page 1000",
            median(runs, || {
                let req = PageRequest::new(1000, 50).expect("valid");
                snap.downline(&root, Order::LevelOrder, req)
                    .map(|p| p.iter().count())
            }),
        ),
        (
            "eligible parents (50), RESELLER_ADMIN, voip, pre-order",
            median(runs, || {
                snap.eligible_parents(&me, voip, Order::PreOrder, PageRequest::default())
                    .map(|p| p.iter().count())
            }),
        ),
        (
            "eligible parents count, ADMIN, voip",
            median(runs, || snap.eligible_count(&Principal::admin(), voip)),
        ),
        (
            "is_in_downline",
            median(runs, || snap.is_in_downline(&deep, &reseller)),
        ),
        (
            "upline of the last reseller",
            median(runs, || snap.upline(&deep).map(Iterator::count)),
        ),
    ];
    for (what, d) in timings {
        println!("  {what:<58} {d:>10.2?}");
    }
}
