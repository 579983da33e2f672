//! Read planning (issue 2, sections 5 and 10; issue 9, section 1): the cycle-time figures of
//! the plan the poller really runs for 31 Hager ECR380D on one 19 200 Bd RTU line, and the
//! time to plan 31 and 247 devices.
//!
//! Before the timed runs it builds an `Installation` (one RTU bus at 19 200 Bd, 31 x
//! ECR380D with no service list, i.e. the poller's default) and a `Poller` over it, takes
//! `Poller::plan()` (the plan of the poller's regular cycle, built by the same path as the
//! requests it sends, and checked equal to its per-device request counts) and prints its
//! requests and wire time against two baselines computed on the same selection of services:
//! the wire lower bound (per device and maximal block, the fewest requests carrying only
//! the wanted registers: a floor no plan can beat) and one request per service (what a
//! naive poller does). A second table does the same for the device's first poll, which
//! also reads the identification and configuration services.
#![allow(clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use modbus_devices::catalogue::Refresh;
use modbus_devices::device::{
    Bus, BusKind, DeviceAddress, DeviceInstance, Installation, RtuSettings,
};
use modbus_devices::plan::{Plan, PlanDevice};
use modbus_devices::poll::Poller;
use modbus_devices::{Catalogue, Product};

const BAUD: u32 = 19_200;

/// `n` ECR380D at units 1..=n on one RTU line at [`BAUD`], with the poller's default
/// service selection.
fn installation(n: u8) -> Installation {
    let mut rtu = RtuSettings::new("/dev/ttyUSB0");
    rtu.baud = BAUD;
    let mut site = Installation::default();
    site.add_bus(Bus {
        name: "rs485-1".into(),
        kind: BusKind::Rtu(rtu),
    })
    .expect("bus");
    for u in 1..=n {
        site.add_device(DeviceInstance::new(
            format!("ecr-{u}"),
            "ECR380D",
            "rs485-1",
            DeviceAddress::Unit(u),
        ))
        .expect("device");
    }
    site
}

/// With `targets`, the targets are checked (they apply to the regular cycle).
fn print_figures(label: &str, plan: &Plan<'_>, targets: bool) {
    let planned = plan.wire_time(BAUD).as_secs_f64() * 1e3;
    let lower = plan.lower_bound(BAUD).as_secs_f64() * 1e3;
    let per = plan.per_service(BAUD).as_secs_f64() * 1e3;
    let services: usize = plan.devices().iter().map(|d| d.services().count()).sum();
    let verdict = |what: &str, ok: bool| match (targets, ok) {
        (false, _) => String::new(),
        (true, true) => format!(" (target {what}: met)"),
        (true, false) => format!(" (target {what}: MISSED)"),
    };
    println!("{label}");
    println!(
        "  {:<44} {:>9} {:>14} {:>22}",
        "", "requests", "wire time", "ratio"
    );
    println!(
        "  {:<44} {:>9} {:>11.1} ms",
        "planned (ours)",
        plan.request_count(),
        planned
    );
    println!(
        "  {:<44} {:>9} {:>11.1} ms   planned / bound = {:.3}{}",
        "lower bound (floor, no plan can beat it)",
        "",
        lower,
        planned / lower,
        verdict("<= 1.15", planned / lower <= 1.15)
    );
    println!(
        "  {:<44} {:>9} {:>11.1} ms   per service / planned = {:.2}{}",
        "one request per service (naive baseline)",
        services,
        per,
        per / planned,
        verdict(">= 4", per / planned >= 4.0)
    );
}

fn planner(c: &mut Criterion) {
    let catalogue = Catalogue::builtin().expect("the built-in catalogue loads");
    let site = installation(31);
    let poller = Poller::new(&site, &catalogue).expect("poller");
    let cycle = poller.plan().expect("the poller's plan");
    let sent: usize = site
        .devices
        .iter()
        .map(|d| poller.requests_per_cycle(&d.name).expect("device"))
        .sum();
    assert_eq!(
        cycle.request_count(),
        sent,
        "the plan is the one the poller sends"
    );
    // The first poll of each device, built by the same path with every refresh class.
    let first_poll = Plan::build(site.devices.iter().map(|d| {
        PlanDevice::for_instance(
            d,
            &site.buses[0].kind,
            poller.product(&d.name).expect("device"),
            &Refresh::ALL,
        )
    }))
    .expect("plan");
    let first_sent: usize = site
        .devices
        .iter()
        .map(|d| poller.requests_per_poll(&d.name).expect("device"))
        .sum();
    assert_eq!(first_poll.request_count(), first_sent);

    println!();
    print_figures(
        "31 x ECR380D at 19200 Bd, the poller's regular cycle (Poller::plan: measurements, energies, states, alarms):",
        &cycle,
        true,
    );
    print_figures(
        "31 x ECR380D at 19200 Bd, the first poll of each device (also identification and configuration):",
        &first_poll,
        false,
    );
    println!();

    let mut g = c.benchmark_group("planner");
    g.throughput(Throughput::Elements(31));
    g.bench_function("plan the poller's cycle, 31 x ECR380D", |b| {
        b.iter(|| black_box(&poller).plan().expect("plan"))
    });
    // 247 devices: the most an RTU line addresses.
    let site_247 = installation(247);
    let poller_247 = Poller::new(&site_247, &catalogue).expect("poller");
    g.throughput(Throughput::Elements(247));
    g.bench_function("plan the poller's cycle, 247 x ECR380D", |b| {
        b.iter(|| black_box(&poller_247).plan().expect("plan"))
    });
    let products = catalogue.products();
    let mixed = |n: u8| -> Vec<PlanDevice<'_>> {
        (1..=n)
            .map(|u| {
                let p: &Product = &products[usize::from(u) % products.len()];
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
