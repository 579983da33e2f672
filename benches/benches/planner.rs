//! Read planning (issue 2, sections 5 and 10): the cycle-time figures of 31 Hager ECR380D at
//! 19 200 Bd, and the time to plan 247 devices.
//!
//! Before the timed runs it prints, for 31 ECR380D on one 19 200 Bd line, the planned
//! cycle's wire time, the lower bound (per device and maximal block, the fewest requests
//! carrying only the wanted registers) and one request per service, with their ratios;
//! once for the cyclic services (everything but the static identification block) and once
//! for all services including identification.
#![allow(clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use modbus_devices::plan::{Plan, PlanDevice};
use modbus_devices::{Catalogue, Product};

const BAUD: u32 = 19_200;

fn devices(product: &Product, n: u8, cyclic: bool) -> Vec<PlanDevice<'_>> {
    (1..=n)
        .map(|u| {
            let d = PlanDevice::new(format!("ecr-{u}"), u, product).on_bus("rs485-1");
            if cyclic { d.with_cyclic_services() } else { d }
        })
        .collect()
}

fn print_figures(label: &str, plan: &Plan<'_>) {
    let planned = plan.wire_time(BAUD).as_secs_f64() * 1e3;
    let lower = plan.lower_bound(BAUD).as_secs_f64() * 1e3;
    let per = plan.per_service(BAUD).as_secs_f64() * 1e3;
    println!("{label}");
    println!("  requests per cycle          {:>10}", plan.request_count());
    println!("  planned cycle wire time     {planned:>10.1} ms");
    println!(
        "  lower bound                 {lower:>10.1} ms   planned / lower bound = {:.3} (target <= 1.15)",
        planned / lower
    );
    println!(
        "  one request per service     {per:>10.1} ms   per service / planned = {:.2} (target >= 4)",
        per / planned
    );
}

fn planner(c: &mut Criterion) {
    let catalogue = Catalogue::builtin().expect("the built-in catalogue loads");
    let ecr = catalogue.require("ECR380D").expect("ECR380D is built in");

    let cyclic = Plan::build(devices(ecr, 31, true)).expect("plan");
    let all = Plan::build(devices(ecr, 31, false)).expect("plan");
    println!();
    print_figures(
        "31 x ECR380D at 19200 Bd, cyclic services (all but identification):",
        &cyclic,
    );
    print_figures(
        "31 x ECR380D at 19200 Bd, all services including the identification strings:",
        &all,
    );
    println!();

    let mut g = c.benchmark_group("planner");
    g.throughput(Throughput::Elements(31));
    g.bench_function("plan 31 x ECR380D", |b| {
        b.iter(|| Plan::build(black_box(devices(ecr, 31, false))).expect("plan"))
    });
    // 247 devices: the most an RTU line addresses.
    g.throughput(Throughput::Elements(247));
    g.bench_function("plan 247 x ECR380D", |b| {
        b.iter(|| Plan::build(black_box(devices(ecr, 247, false))).expect("plan"))
    });
    let products = catalogue.products();
    let mixed = |n: u8| -> Vec<PlanDevice<'_>> {
        (1..=n)
            .map(|u| {
                let p = &products[usize::from(u) % products.len()];
                PlanDevice::new(format!("dev-{u}"), u, p).with_signature()
            })
            .collect()
    };
    println!(
        "247 devices over the {} built-in products: {} requests per cycle",
        products.len(),
        Plan::build(mixed(247)).expect("plan").request_count()
    );
    g.bench_function("plan 247 mixed catalogue products with signature", |b| {
        b.iter(|| Plan::build(black_box(mixed(247))).expect("plan"))
    });
    g.finish();
}

criterion_group!(benches, planner);
criterion_main!(benches);
