//! Read planning: exact plans for hand-computed cases, the cycle-time targets on the
//! built-in Hager ECR380D and on products written as TOML here, and property tests over
//! random products (coverage, limits, gap rule, decoding, optimality against brute force).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use modbus_devices::catalogue::{
    AddressRange, Category, Expect, Product, RequestLimits, Service, SignatureCheck,
};
use modbus_devices::plan::wire::{RtuLine, WireTally};
use modbus_devices::plan::{CostModel, Item, Plan, PlanDevice, PlanError};
use modbus_devices::register::{
    ByteOrder, DataType, FunctionCode, RegisterDef, ScaleRegister, WordOrder,
};
use modbus_devices::{Catalogue, CodecError, Unit, Value};
use proptest::prelude::*;

const BAUD: u32 = 19_200;

// ---------------------------------------------------------------------------------------
// Helpers

fn service(id: &str, register: RegisterDef) -> Service {
    Service::new(id, id, "test", Unit::None, Category::Status, register)
}

fn product(services: Vec<Service>, limits: RequestLimits) -> Product {
    Product {
        references: vec!["TEST".into()],
        vendor: "Test".into(),
        product_code: None,
        family: String::new(),
        model: "Test".into(),
        description: String::new(),
        field_buses: vec![],
        verified: true,
        source: String::new(),
        limits,
        signature: vec![],
        services,
        parameters: vec![],
        alarms: vec![],
    }
}

fn limits(max: u16, gap: u16) -> RequestLimits {
    RequestLimits {
        max_registers_per_read: max,
        max_gap: gap,
        blocks: vec![],
        forbidden: vec![],
    }
}

fn range(fc: FunctionCode, from: u16, to: u16) -> AddressRange {
    AddressRange {
        function_code: fc,
        from,
        to,
    }
}

fn holding(address: u16, t: DataType) -> RegisterDef {
    RegisterDef::new(FunctionCode::Holding, address, t)
}

/// (address, count) of every request of the plan.
fn shape(plan: &Plan<'_>) -> Vec<(u8, u16, u16)> {
    plan.requests()
        .map(|(_, r)| (r.function_code.code(), r.address, r.count))
        .collect()
}

fn one(p: &Product) -> Plan<'_> {
    Plan::build([PlanDevice::new("d", 1, p)]).unwrap()
}

fn load(text: &str) -> Catalogue {
    let mut c = Catalogue::new();
    c.load_str(Path::new("test.toml"), text).unwrap();
    c
}

// ---------------------------------------------------------------------------------------
// Hand-computed plans

#[test]
fn reading_through_a_gap_pays_up_to_ten_registers_at_19200() {
    // Reading through g registers costs 2g characters; a second request costs 8 + 5 bytes
    // plus two t3.5 = 20 characters. Equal at g = 10: the tie goes to fewer requests.
    for (gap, merged) in [(0, true), (9, true), (10, true), (11, false), (30, false)] {
        let p = product(
            vec![
                service("a", holding(100, DataType::U16)),
                service("b", holding(101 + gap, DataType::U16)),
            ],
            limits(125, 100),
        );
        let plan = one(&p);
        let expect = if merged {
            vec![(3, 100, gap + 2)]
        } else {
            vec![(3, 100, 1), (3, 101 + gap, 1)]
        };
        assert_eq!(shape(&plan), expect, "gap {gap}");
    }
}

#[test]
fn max_gap_forbidden_ranges_and_blocks_split_requests() {
    let svcs = || {
        vec![
            service("a", holding(0, DataType::U32)),
            service("b", holding(4, DataType::U16)),
            service("c", holding(10, DataType::U16)),
        ]
    };
    // max_gap 1: the 2-register gap 2..3 cannot be read through.
    let p = product(svcs(), limits(125, 1));
    assert_eq!(shape(&one(&p)), [(3, 0, 2), (3, 4, 1), (3, 10, 1)]);
    // max_gap 5: 2..3 and 5..9 are read through (cheaper than new requests).
    let p = product(svcs(), limits(125, 5));
    assert_eq!(shape(&one(&p)), [(3, 0, 11)]);
    // A forbidden register at 7 splits.
    let mut l = limits(125, 5);
    l.forbidden = vec![range(FunctionCode::Holding, 7, 7)];
    let p = product(svcs(), l);
    assert_eq!(shape(&one(&p)), [(3, 0, 5), (3, 10, 1)]);
    // A forbidden range in another table changes nothing.
    let mut l = limits(125, 5);
    l.forbidden = vec![range(FunctionCode::Input, 0, 100)];
    let p = product(svcs(), l);
    assert_eq!(shape(&one(&p)), [(3, 0, 11)]);
    // Adjacent blocks: no request crosses from one block to the next.
    let mut l = limits(125, 5);
    l.blocks = vec![
        range(FunctionCode::Holding, 0, 4),
        range(FunctionCode::Holding, 5, 20),
    ];
    let p = product(svcs(), l);
    assert_eq!(shape(&one(&p)), [(3, 0, 5), (3, 10, 1)]);
}

#[test]
fn max_registers_per_read_is_respected_with_the_fewest_requests() {
    let svcs: Vec<_> = (0..5)
        .map(|k| service(&format!("s{k}"), holding(k * 2, DataType::U32)))
        .collect();
    let p = product(svcs, limits(4, 0));
    let plan = one(&p);
    let s = shape(&plan);
    assert_eq!(s.len(), 3, "{s:?}");
    assert!(s.iter().all(|&(_, _, c)| c <= 4));
    assert_eq!(s.iter().map(|&(_, _, c)| c).sum::<u16>(), 10);
    // And 125 registers is the protocol's cap even if a product says more.
    let svcs: Vec<_> = (0..100)
        .map(|k| service(&format!("s{k}"), holding(k * 2, DataType::U32)))
        .collect();
    let p = product(svcs, limits(200, 0));
    let plan = one(&p);
    let s = shape(&plan);
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(s.iter().all(|&(_, _, c)| c <= 125 && c % 2 == 0));
}

#[test]
fn bit_tables_merge_by_bytes() {
    let coil = |a| RegisterDef::new(FunctionCode::Coils, a, DataType::Bit);
    // 0, 8 and 16: one 17-bit read (3 data bytes) beats three 1-bit reads.
    let p = product(
        vec![
            service("a", coil(0)),
            service("b", coil(8)),
            service("c", coil(16)),
        ],
        limits(125, 100),
    );
    assert_eq!(shape(&one(&p)), [(1, 0, 17)]);
    // 0, 1000 and 1999: three reads beat one of 2000 bits (250 bytes).
    let p = product(
        vec![
            service("a", coil(0)),
            service("b", coil(1000)),
            service("c", coil(1999)),
        ],
        limits(125, 2000),
    );
    assert_eq!(shape(&one(&p)), [(1, 0, 1), (1, 1000, 1), (1, 1999, 1)]);
    // Bit reads are not limited by max_registers_per_read, only by the protocol's 2000.
    let p = product(
        vec![
            service(
                "a",
                RegisterDef::new(FunctionCode::DiscreteInputs, 0, DataType::Bit),
            ),
            service(
                "b",
                RegisterDef::new(FunctionCode::DiscreteInputs, 40, DataType::Bit),
            ),
        ],
        limits(2, 100),
    );
    assert_eq!(shape(&one(&p)), [(2, 0, 41)]);
}

#[test]
fn latency_and_cost_model_change_the_tradeoff() {
    let p = product(
        vec![
            service("a", holding(0, DataType::U16)),
            service("b", holding(40, DataType::U16)),
        ],
        limits(125, 100),
    );
    // Pure wire time: 39 gap registers (78 characters) cost more than a request (20).
    assert_eq!(shape(&one(&p)).len(), 2);
    // With 50 ms of turnaround per request, reading through is cheaper.
    let slow =
        Plan::build([PlanDevice::new("d", 1, &p).with_latency(Duration::from_millis(50))]).unwrap();
    assert_eq!(shape(&slow), [(3, 0, 41)]);
    assert_eq!(
        slow.wire_time(BAUD),
        RtuLine::new(BAUD).read_transaction(FunctionCode::Holding, 41) + Duration::from_millis(50)
    );
    // Modbus/TCP: fewest requests.
    let tcp =
        Plan::build([PlanDevice::new("d", 1, &p).with_cost(CostModel::FewestRequests)]).unwrap();
    assert_eq!(shape(&tcp), [(3, 0, 41)]);
    // At 115 200 Bd the fixed 1.75 ms t3.5 (18.3 characters) makes a request worth 49.6
    // characters, about 24 registers of data: a 20-register gap is read through...
    let at = |gap: u16| {
        product(
            vec![
                service("a", holding(0, DataType::U16)),
                service("b", holding(1 + gap, DataType::U16)),
            ],
            limits(125, 100),
        )
    };
    let p20 = at(20);
    let fast =
        Plan::build([PlanDevice::new("d", 1, &p20).with_cost(CostModel::Rtu { baud: 115_200 })])
            .unwrap();
    assert_eq!(shape(&fast), [(3, 0, 22)]);
    // ... which does not pay at 19 200 Bd (40 characters against 20) ...
    assert_eq!(shape(&one(&p20)).len(), 2);
    // ... and a 30-register gap does not pay at 115 200 Bd either.
    let p30 = at(30);
    let fast =
        Plan::build([PlanDevice::new("d", 1, &p30).with_cost(CostModel::Rtu { baud: 115_200 })])
            .unwrap();
    assert_eq!(shape(&fast).len(), 2);
}

#[test]
fn wire_time_figures_are_exact() {
    let p = product(
        vec![
            service("a", holding(0, DataType::U16)),
            service("b", holding(1, DataType::U32)),
            service("c", holding(200, DataType::U16)),
        ],
        limits(125, 0),
    );
    let plan = one(&p);
    assert_eq!(shape(&plan), [(3, 0, 3), (3, 200, 1)]);
    // Characters at 19 200 Bd: planned (13 + 6 + 7) + (13 + 2 + 7) = 48;
    // lower bound (one maximal block = the whole table): 13 + 8 + 7 = 28 (2 chars below: 4
    // registers in one request); per service 22 + 24 + 22 = 68.
    let ch = |n: u64| RtuLine::new(BAUD).char_time().as_nanos() as f64 * n as f64;
    let close =
        |d: Duration, chars: u64| (d.as_nanos() as f64 - ch(chars)).abs() < 5.0 * chars as f64;
    assert!(
        close(plan.wire_time(BAUD), 48),
        "{:?}",
        plan.wire_time(BAUD)
    );
    assert!(
        close(plan.lower_bound(BAUD), 28),
        "{:?}",
        plan.lower_bound(BAUD)
    );
    assert!(
        close(plan.per_service(BAUD), 68),
        "{:?}",
        plan.per_service(BAUD)
    );
    // Blocks raise the lower bound: two blocks need two requests.
    let mut l = limits(125, 0);
    l.blocks = vec![
        range(FunctionCode::Holding, 0, 99),
        range(FunctionCode::Holding, 100, 299),
    ];
    let p = product(p.services.clone(), l);
    let plan = one(&p);
    assert_eq!(plan.lower_bound(BAUD), plan.wire_time(BAUD));
    // And the device's latency counts once per request in every figure.
    let lat = Duration::from_millis(3);
    let slow = Plan::build([PlanDevice::new("d", 1, &p).with_latency(lat)]).unwrap();
    assert_eq!(slow.wire_time(BAUD), plan.wire_time(BAUD) + 2 * lat);
    assert_eq!(slow.per_service(BAUD), plan.per_service(BAUD) + 3 * lat);
}

#[test]
fn scale_registers_in_other_requests_and_signatures_decode() {
    let mut v = holding(0, DataType::U16);
    v.scale_register = Some(ScaleRegister {
        function_code: None,
        address: 500,
        pow10: true,
    });
    let mut p = product(
        vec![service("v", v), service("e", holding(2, DataType::U32))],
        limits(125, 2),
    );
    p.signature = vec![SignatureCheck {
        register: holding(600, DataType::String).with_length(2),
        expect: Expect::Text("AB".into()),
    }];
    let plan = Plan::build([PlanDevice::new("d", 7, &p).with_signature()]).unwrap();
    assert_eq!(shape(&plan), [(3, 0, 4), (3, 500, 1), (3, 600, 2)]);
    let dp = &plan.devices()[0];
    assert_eq!(dp.unit(), 7);
    let responses = vec![
        Some(vec![2315u16, 0, 1, 2]),
        Some(vec![(-1i16) as u16]),
        Some(vec![0x4142, 0]),
    ];
    let values = dp.decode(&responses);
    assert_eq!(values[0].service.id, "v");
    assert_eq!(values[0].value(), Some(&Value::Number(231.5)));
    assert_eq!(values[1].value(), Some(&Value::Number(65538.0)));
    let sig = dp.decode_signature(&responses);
    assert_eq!(sig.len(), 1);
    assert!(sig[0].matches());
    // Request-level decode cannot see the scale register of another request.
    let first = &dp.requests()[0];
    let local = first.decode(responses[0].as_deref().unwrap());
    assert!(matches!(
        local[0].1,
        Err(CodecError::ScaleRegisterMissing { .. })
    ));
    assert_eq!(local[1].1, Ok(Some(Value::Number(65538.0))));
    // A failed scale request makes v "not read"; e is unaffected.
    let values = dp.decode(&[responses[0].clone(), None, None]);
    assert_eq!(values[0].result, None);
    assert_eq!(values[0].quality(), modbus_devices::Quality::NoAnswer);
    assert_eq!(values[1].value(), Some(&Value::Number(65538.0)));
    // A short response is a codec error, not a panic; missing entries are "not read".
    let values = dp.decode(&[Some(vec![1u16, 2])]);
    assert_eq!(values[0].result, None);
    assert_eq!(
        values[1].result,
        Some(Err(CodecError::WrongLength {
            address: 2,
            expected: 2,
            found: 0
        }))
    );
    let sig = dp.decode_signature(&[Some(vec![0u16; 4]), None, Some(vec![0x4142])]);
    assert!(!sig[0].matches());
}

#[test]
fn selection_errors_and_unreadable_values() {
    let mut l = limits(10, 0);
    l.blocks = vec![range(FunctionCode::Holding, 0, 9)];
    let p = product(
        vec![
            service("a", holding(0, DataType::U16)),
            service("b", holding(9, DataType::U32)), // crosses the block's end
            service("s", holding(0, DataType::String).with_length(20)),
        ],
        l,
    );
    let e = Plan::build([PlanDevice::new("d", 1, &p).with_services(["a", "x"])]).unwrap_err();
    assert_eq!(
        e,
        PlanError::UnknownService {
            device: "d".into(),
            reference: "TEST".into(),
            service: "x".into()
        }
    );
    let e = Plan::build([PlanDevice::new("d", 1, &p).with_services(["b"])]).unwrap_err();
    assert!(
        matches!(&e, PlanError::Unreadable { what, address: 9, last: 10, .. } if what == "service b"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("cannot be read within the product's limits"),
        "{e}"
    );
    let e = Plan::build([PlanDevice::new("d", 1, &p).with_services(["s"])]).unwrap_err();
    assert!(matches!(e, PlanError::Unreadable { max: 10, .. }));
    // A selection reads only what it names, once, in its order.
    let plan = Plan::build([PlanDevice::new("d", 1, &p).with_services(["a", "a"])]).unwrap();
    assert_eq!(shape(&plan), [(3, 0, 1)]);
    assert_eq!(
        plan.devices()[0]
            .services()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
}

#[test]
fn write_only_services_are_not_polled_by_default() {
    let mut w = holding(5, DataType::U16);
    w.access = modbus_devices::register::Access::Write;
    let p = product(
        vec![service("a", holding(0, DataType::U16)), service("cmd", w)],
        limits(125, 10),
    );
    assert_eq!(shape(&one(&p)), [(3, 0, 1)]);
    let plan = Plan::build([PlanDevice::new("d", 1, &p).with_services(["a", "cmd"])]).unwrap();
    assert_eq!(plan.request_count(), 1);
    assert_eq!(shape(&plan), [(3, 0, 6)]);
}

// ---------------------------------------------------------------------------------------
// Targets: 31 meters at 19 200 Bd, all services

struct Figures {
    planned: Duration,
    lower: Duration,
    per_service: Duration,
}

fn figures(p: &Product, devices: u8, cyclic: bool) -> Figures {
    let plan = Plan::build((1..=devices).map(|u| {
        let d = PlanDevice::new(format!("m{u}"), u, p).on_bus("rs485");
        if cyclic { d.with_cyclic_services() } else { d }
    }))
    .unwrap();
    Figures {
        planned: plan.wire_time(BAUD),
        lower: plan.lower_bound(BAUD),
        per_service: plan.per_service(BAUD),
    }
}

fn print_figures(name: &str, f: &Figures) {
    let (p, l, s) = (
        f.planned.as_secs_f64(),
        f.lower.as_secs_f64(),
        f.per_service.as_secs_f64(),
    );
    println!(
        "{name}: planned {:.1} ms, lower bound {:.1} ms ({:.3}x), one request per service {:.1} ms ({:.2}x the plan)",
        p * 1e3,
        l * 1e3,
        p / l,
        s * 1e3,
        s / p
    );
}

fn assert_within_15_percent(name: &str, f: &Figures) {
    let (p, l) = (f.planned.as_secs_f64(), f.lower.as_secs_f64());
    assert!(
        f.lower <= f.planned,
        "{name}: the lower bound must be below the plan"
    );
    assert!(
        p <= 1.15 * l,
        "{name}: planned {p} s is more than 15 % above the lower bound {l} s"
    );
}

fn assert_4x(name: &str, f: &Figures) {
    let (p, s) = (f.planned.as_secs_f64(), f.per_service.as_secs_f64());
    assert!(
        s >= 4.0 * p,
        "{name}: one request per service {s} s is less than 4x the plan {p} s"
    );
}

fn assert_targets(name: &str, f: &Figures) {
    print_figures(name, f);
    assert_within_15_percent(name, f);
    assert_4x(name, f);
}

/// The issue's targets on the built-in map. The poll cycle reads every service except the
/// static identification block (12 strings and versions, 120 of the ~300 registers, read when
/// the device is identified): within 15 % of the lower bound and at least 4x faster than one
/// request per service. With the identification block in every cycle as well, the plan stays
/// within 15 % of the lower bound, but no plan can be 4x faster than one request per service:
/// those long strings cost about the same read alone or merged, so even the lower bound is
/// only ~3.6x below the per-service baseline (printed here).
#[test]
fn target_31_builtin_ecr380d_at_19200() {
    let catalogue = Catalogue::builtin().unwrap();
    let ecr = catalogue.require("ECR380D").unwrap();
    let cyclic = figures(ecr, 31, true);
    assert_targets("31 x ECR380D, cyclic services", &cyclic);
    let all = figures(ecr, 31, false);
    print_figures("31 x ECR380D, all services incl. identification", &all);
    assert_within_15_percent("31 x ECR380D, all services", &all);
    println!(
        "  (all services: per-service / lower bound = {:.2}x)",
        all.per_service.as_secs_f64() / all.lower.as_secs_f64()
    );
}

/// A Hager-style map written as TOML: documented blocks with holes between them, U16 and
/// U32 values packed inside, a 64-register read limit, a 2-register "not used" hole.
fn blocky_toml() -> String {
    let mut t = String::from(
        r#"
[[product]]
references = ["BLOCKY"]
vendor = "Test"
model = "Blocky"
defaults = { function_code = 3, not_available = "type_max" }
limits = { max_registers_per_read = 64, max_gap = 4, blocks = [
  { from = 0x100, to = 0x130 }, { from = 0x160, to = 0x16B }, { from = 0x1C0, to = 0x1FF },
  { from = 0x240, to = 0x25F }, { from = 0x280, to = 0x297 },
], forbidden = [{ from = 0x131, to = 0x15F }] }
"#,
    );
    let mut add = |id: String, address: u32, ty: &str| {
        t.push_str(&format!(
            "\n[[product.service]]\nid = \"{id}\"\nname = \"{id}\"\nquantity = \"x\"\nunit = \"\"\ncategory = \"energy\"\nregister = {{ address = {address}, type = \"{ty}\" }}\n"
        ));
    };
    // 0x100..=0x106 U16, 0x107..=0x108 unused, then U32 / U16 values up to 0x130.
    for a in 0x100..=0x106 {
        add(format!("u{a:x}"), a, "u16");
    }
    let mut a = 0x109;
    while a < 0x116 {
        add(format!("i{a:x}"), a, "u32");
        a += 2;
    }
    while a < 0x12A {
        add(format!("p{a:x}"), a, "s32");
        a += 2;
    }
    while a <= 0x130 {
        add(format!("f{a:x}"), a, "s16");
        a += 1;
    }
    for (from, to) in [
        (0x160, 0x16B),
        (0x1C0, 0x1FF),
        (0x240, 0x25F),
        (0x280, 0x297),
    ] {
        let mut a = from;
        while a < to {
            add(format!("e{a:x}"), a, "u32");
            a += 2;
        }
    }
    t
}

#[test]
fn target_31_blocky_toml_meters() {
    let c = load(&blocky_toml());
    let p = c.get("BLOCKY").unwrap();
    assert!(p.services.len() > 90);
    let f = figures(p, 31, false);
    assert_targets("31 x BLOCKY", &f);
    // Every request stays in one block and below 64 registers.
    let plan = one(p);
    for (_, r) in plan.requests() {
        assert!(r.count <= 64);
        assert!(p.limits.blocks.iter().any(|b| b.contains(
            r.function_code,
            r.address.into(),
            r.last_address()
        )));
    }
}

/// An Eastron-style float map on input registers: F32 values every two registers with a few
/// small holes, no documented blocks, 80 registers per read.
#[test]
fn target_31_float_toml_meters() {
    let mut t = String::from(
        r#"
[[product]]
references = ["FLOATY"]
vendor = "Test"
model = "Floaty"
defaults = { function_code = 4 }
limits = { max_registers_per_read = 80, max_gap = 8 }
"#,
    );
    let mut addresses: Vec<u32> = (0..0x24).step_by(2).collect();
    addresses.extend((0x2E..0x50).step_by(2));
    addresses.extend((0x54..0x60).step_by(2));
    addresses.extend((0x156..0x180).step_by(2));
    for a in &addresses {
        t.push_str(&format!(
            "\n[[product.service]]\nid = \"f{a:x}\"\nname = \"f\"\nquantity = \"x\"\nunit = \"V\"\ncategory = \"voltage\"\nregister = {{ address = {a}, type = \"f32\" }}\n"
        ));
    }
    let c = load(&t);
    let f = figures(c.get("FLOATY").unwrap(), 31, false);
    assert_targets("31 x FLOATY", &f);
}

#[test]
fn plan_for_an_installation() {
    use modbus_devices::device::{
        Bus, BusKind, DeviceAddress, DeviceInstance, Installation, RtuSettings, TcpSettings,
    };
    let c = load(&blocky_toml());
    let mut site = Installation::default();
    let mut rtu = RtuSettings::new("/dev/null");
    rtu.baud = 9600;
    site.add_bus(Bus {
        name: "rtu".into(),
        kind: BusKind::Rtu(rtu),
    })
    .unwrap();
    site.add_bus(Bus {
        name: "tcp".into(),
        kind: BusKind::Tcp(TcpSettings::new("127.0.0.1", 502)),
    })
    .unwrap();
    site.add_device(DeviceInstance::new(
        "a",
        "BLOCKY",
        "rtu",
        DeviceAddress::Unit(3),
    ))
    .unwrap();
    let mut b = DeviceInstance::new("b", "BLOCKY", "tcp", DeviceAddress::Unit(9));
    b.services = Some(vec!["u100".into(), "e1c0".into()]);
    site.add_device(b).unwrap();
    let plan = Plan::for_installation(&site, &c).unwrap();
    let d = plan.devices();
    assert_eq!((d[0].name(), d[0].bus(), d[0].unit()), ("a", "rtu", 3));
    assert_eq!(d[0].cost_model(), CostModel::Rtu { baud: 9600 });
    assert_eq!(d[1].cost_model(), CostModel::FewestRequests);
    assert_eq!(d[1].requests().len(), 2);
    // An unknown product is reported.
    site.add_device(DeviceInstance::new(
        "c",
        "NOPE",
        "rtu",
        DeviceAddress::Unit(4),
    ))
    .unwrap();
    assert!(matches!(
        Plan::for_installation(&site, &c),
        Err(PlanError::Catalogue(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Property tests

/// The protocol's and the product's limit for one request (independent of the planner).
fn readable(l: &RequestLimits, fc: FunctionCode, a: u32, b: u32) -> bool {
    let max = if fc.is_bit_table() {
        2000
    } else {
        u32::from(l.max_registers_per_read.min(125))
    };
    a <= b && b <= 0xFFFF && b - a < max && l.allows(fc, a, b)
}

/// Everything a device must read: (fc, first, last, item).
fn wanted(p: &Product, selected: &[usize], signature: bool) -> Vec<(FunctionCode, u32, u32, Item)> {
    let mut w = Vec::new();
    for &i in selected {
        let r = &p.services[i].register;
        w.push((
            r.function_code,
            u32::from(r.address),
            r.last_address(),
            Item::Service(i),
        ));
        if let Some(sr) = r.scale_register {
            let fc = sr.function_code.unwrap_or(r.function_code);
            let item = Item::ScaleRegister(sr.address);
            if !w.iter().any(|x| x.0 == fc && x.3 == item) {
                w.push((fc, u32::from(sr.address), u32::from(sr.address), item));
            }
        }
    }
    if signature {
        for (k, c) in p.signature.iter().enumerate() {
            let r = &c.register;
            w.push((
                r.function_code,
                u32::from(r.address),
                r.last_address(),
                Item::Signature(k),
            ));
        }
    }
    w
}

/// Whether the unused runs strictly inside `[a, b]` respect max_gap, given every wanted
/// interval of the table.
fn gaps_ok(wants: &[(u32, u32)], max_gap: u16, a: u32, b: u32) -> bool {
    (a..=b)
        .filter(|x| !wants.iter().any(|&(s, e)| s <= *x && *x <= e))
        .fold((0u32, true, None::<u32>), |(run, ok, last), x| {
            let run = if last == Some(x.wrapping_sub(1)) {
                run + 1
            } else {
                1
            };
            (run, ok && run <= u32::from(max_gap), Some(x))
        })
        .1
}

/// A register image: one table of 256 words per function code; bits are the words' LSB.
#[derive(Debug, Clone)]
struct Image(Vec<Vec<u16>>);

impl Image {
    fn word(&self, fc: FunctionCode, a: u32) -> u16 {
        let w = self.0[usize::from(fc.code() - 1)][a as usize % 256];
        if fc.is_bit_table() { w & 1 } else { w }
    }
    fn words(&self, fc: FunctionCode, a: u32, n: u32) -> Vec<u16> {
        (a..a + n).map(|x| self.word(fc, x)).collect()
    }
}

fn arb_fc() -> impl Strategy<Value = FunctionCode> + Clone {
    prop_oneof![
        1 => Just(FunctionCode::Coils),
        1 => Just(FunctionCode::DiscreteInputs),
        4 => Just(FunctionCode::Holding),
        3 => Just(FunctionCode::Input),
    ]
}

const TYPES: [DataType; 12] = [
    DataType::Bit,
    DataType::U16,
    DataType::S16,
    DataType::U32,
    DataType::S32,
    DataType::U64,
    DataType::S64,
    DataType::F32,
    DataType::F64,
    DataType::Bcd,
    DataType::String,
    DataType::Flags,
];

fn arb_register(
    fc: impl Strategy<Value = FunctionCode>,
    max_address: u16,
) -> impl Strategy<Value = RegisterDef> {
    (
        fc,
        0..max_address,
        0..TYPES.len(),
        1u16..=6,
        0u8..16,
        any::<bool>(),
        any::<bool>(),
        prop::sample::select(vec![1.0, 0.1, 0.01, 1000.0]),
        any::<bool>(),
        prop::option::weighted(0.15, (0..max_address, any::<bool>())),
    )
        .prop_map(|(fc, address, t, length, bit, wo, bo, scale, na, sr)| {
            let data_type = if fc.is_bit_table() {
                DataType::Bit
            } else {
                TYPES[t]
            };
            let mut d = RegisterDef::new(fc, address, data_type).with_scale(scale);
            if data_type.has_length() {
                let max = if data_type == DataType::String { 6 } else { 4 };
                d.length = Some(length.min(max));
            }
            if data_type == DataType::Bit && !fc.is_bit_table() {
                d.bit = Some(bit);
            }
            d.word_order = if wo {
                WordOrder::LowFirst
            } else {
                WordOrder::HighFirst
            };
            d.byte_order = if bo {
                ByteOrder::LowFirst
            } else {
                ByteOrder::HighFirst
            };
            if na {
                d.not_available = RegisterDef::type_max_sentinel(data_type)
                    .into_iter()
                    .collect();
            }
            if let Some((a, pow10)) = sr {
                d.scale_register = Some(ScaleRegister {
                    function_code: None,
                    address: a,
                    pow10,
                });
            }
            d.check().unwrap();
            d
        })
}

fn arb_range(fc: impl Strategy<Value = FunctionCode>) -> impl Strategy<Value = AddressRange> {
    (fc, 0u16..230, 0u16..90).prop_map(|(function_code, from, len)| AddressRange {
        function_code,
        from,
        to: from.saturating_add(len),
    })
}

fn arb_limits(
    fc: impl Strategy<Value = FunctionCode> + Clone,
) -> impl Strategy<Value = RequestLimits> {
    (
        prop_oneof![1u16..=8, 8u16..=40, 40u16..=125],
        0u16..12,
        prop_oneof![
            Just(vec![]),
            prop::collection::vec(arb_range(fc.clone()), 1..4)
        ],
        prop::collection::vec(arb_range(fc), 0..3).prop_map(|v| {
            v.into_iter()
                .map(|mut r| {
                    r.to = r.from.saturating_add((r.to - r.from) % 8);
                    r
                })
                .collect()
        }),
    )
        .prop_map(
            |(max_registers_per_read, max_gap, blocks, forbidden)| RequestLimits {
                max_registers_per_read,
                max_gap,
                blocks,
                forbidden,
            },
        )
}

/// A product whose every service (and scale register, and signature read) is readable on
/// its own, like a loaded catalogue product.
fn build_product(defs: Vec<RegisterDef>, sig: Vec<RegisterDef>, l: RequestLimits) -> Product {
    let ok = |d: &RegisterDef| {
        readable(&l, d.function_code, u32::from(d.address), d.last_address())
            && d.scale_register.is_none_or(|sr| {
                let fc = sr.function_code.unwrap_or(d.function_code);
                readable(&l, fc, u32::from(sr.address), u32::from(sr.address))
            })
    };
    let services = defs
        .into_iter()
        .filter(ok)
        .enumerate()
        .map(|(k, d)| service(&format!("s{k}"), d))
        .collect();
    let mut p = product(services, l.clone());
    p.signature = sig
        .into_iter()
        .filter(|d| d.scale_register.is_none() && ok(d))
        .map(|register| SignatureCheck {
            register,
            expect: Expect::Number(1.0),
        })
        .collect();
    p
}

fn arb_case() -> impl Strategy<Value = (Product, Option<Vec<bool>>, bool, Image, Option<usize>)> {
    (
        prop::collection::vec(arb_register(arb_fc(), 200), 0..24),
        prop::collection::vec(arb_register(arb_fc(), 200), 0..3),
        arb_limits(arb_fc()),
        prop::option::of(prop::collection::vec(any::<bool>(), 24)),
        any::<bool>(),
        prop::collection::vec(prop::collection::vec(any::<u16>(), 256), 4),
        prop::option::weighted(0.3, 0usize..64),
    )
        .prop_map(|(defs, sig, l, mask, signature, image, fail)| {
            (
                build_product(defs, sig, l),
                mask,
                signature,
                Image(image),
                fail,
            )
        })
}

#[allow(
    clippy::too_many_lines,
    reason = "one property check: every invariant of a plan against the brute force, in the order a reader verifies them"
)]
fn check_case(
    p: &Product,
    mask: &Option<Vec<bool>>,
    signature: bool,
    image: &Image,
    fail: Option<usize>,
    cost: CostModel,
) {
    let selected: Vec<usize> = match mask {
        None => (0..p.services.len()).collect(),
        Some(m) => (0..p.services.len()).filter(|i| m[*i]).collect(),
    };
    let mut device = PlanDevice::new("d", 1, p).with_cost(cost);
    if mask.is_some() {
        device = device.with_services(selected.iter().map(|&i| p.services[i].id.clone()));
    }
    if signature {
        device = device.with_signature();
    }
    let plan = Plan::build([device]).unwrap();
    let dp = &plan.devices()[0];
    let l = &p.limits;
    let wants = wanted(p, &selected, signature);

    // Limits: every request is readable (size, forbidden ranges, one block) and keeps the gap rule.
    for r in dp.requests() {
        let (fc, a, b) = (r.function_code, u32::from(r.address), r.last_address());
        assert!(r.count >= 1);
        assert!(readable(l, fc, a, b), "request {fc} {a}..={b} breaks {l:?}");
        assert!(!l.forbidden.iter().any(|f| f.overlaps(fc, a, b)));
        if l.blocks.iter().any(|x| x.function_code == fc) {
            assert!(l.blocks.iter().any(|x| x.contains(fc, a, b)));
        }
        let table: Vec<(u32, u32)> = wants
            .iter()
            .filter(|w| w.0 == fc)
            .map(|w| (w.1, w.2))
            .collect();
        assert!(
            gaps_ok(&table, l.max_gap, a, b),
            "request {a}..={b} reads through a gap above {}",
            l.max_gap
        );
        // Every slot lies inside the request and is a wanted item at that address.
        for s in r.slots() {
            assert!(u32::from(s.offset) + u32::from(s.count) <= u32::from(r.count));
            let w = wants
                .iter()
                .find(|w| w.3 == s.item && w.0 == fc)
                .expect("slot of a wanted item");
            assert_eq!(
                (w.1, w.2),
                (
                    a + u32::from(s.offset),
                    a + u32::from(s.offset) + u32::from(s.count) - 1
                )
            );
        }
        // Requests start and end on wanted registers (nothing useless at the edges).
        assert!(table.iter().any(|&(s, e)| s <= a && a <= e));
        assert!(table.iter().any(|&(s, e)| s <= b && b <= e));
    }
    // Coverage: every wanted item is served exactly once.
    for w in &wants {
        let n = dp
            .requests()
            .iter()
            .filter(|r| r.function_code == w.0)
            .flat_map(|r| r.slots())
            .filter(|s| s.item == w.3)
            .count();
        assert_eq!(n, 1, "{w:?} served {n} times");
    }

    // Decoding through the plan equals decoding each service alone.
    let mut responses: Vec<Option<Vec<u16>>> = dp
        .requests()
        .iter()
        .map(|r| Some(image.words(r.function_code, u32::from(r.address), u32::from(r.count))))
        .collect();
    let failed = fail
        .filter(|_| !responses.is_empty())
        .map(|f| f % responses.len());
    if let Some(f) = failed {
        responses[f] = None;
    }
    let request_of = |item: Item, fc: FunctionCode| {
        dp.requests()
            .iter()
            .position(|r| r.function_code == fc && r.slots().iter().any(|s| s.item == item))
            .expect("every item is in a request")
    };
    let decoded = dp.decode(&responses);
    assert_eq!(decoded.len(), selected.len());
    for (d, &i) in decoded.iter().zip(&selected) {
        let def = &p.services[i].register;
        assert_eq!(d.service.id, p.services[i].id);
        let scale_fc_addr = def
            .scale_register
            .map(|sr| (sr.function_code.unwrap_or(def.function_code), sr.address));
        let own_failed = failed == Some(request_of(Item::Service(i), def.function_code));
        let scale_failed = scale_fc_addr
            .is_some_and(|(fc, a)| failed == Some(request_of(Item::ScaleRegister(a), fc)));
        if own_failed || scale_failed {
            assert_eq!(d.result, None);
            continue;
        }
        let words = image.words(
            def.function_code,
            u32::from(def.address),
            u32::from(def.count()),
        );
        let scale = scale_fc_addr.map(|(fc, a)| image.word(fc, u32::from(a)) as i16);
        assert_eq!(
            d.result,
            Some(def.decode_scaled(&words, scale)),
            "service {}",
            d.service.id
        );
    }
    // Signature reads decode like the same registers read alone.
    let sig = dp.decode_signature(&responses);
    assert_eq!(sig.len(), if signature { p.signature.len() } else { 0 });
    for (k, d) in sig.iter().enumerate() {
        let def = &p.signature[k].register;
        assert_eq!(d.check, &p.signature[k]);
        if failed == Some(request_of(Item::Signature(k), def.function_code)) {
            assert_eq!(d.result, None);
        } else {
            let words = image.words(
                def.function_code,
                u32::from(def.address),
                u32::from(def.count()),
            );
            assert_eq!(d.result, Some(def.decode(&words)));
        }
    }

    // The three figures, on the line the plan was made for.
    if let CostModel::Rtu { baud } = cost {
        let (lb, planned, per) = (
            plan.lower_bound(baud),
            plan.wire_time(baud),
            plan.per_service(baud),
        );
        assert!(
            lb <= planned,
            "lower bound {lb:?} above the plan {planned:?}"
        );
        assert!(
            planned <= per,
            "plan {planned:?} above one request per service {per:?}"
        );
    }
    assert!(plan.request_count() <= wants.len());
}

/// The cheapest partition of a single-table item list into valid hull requests, by brute
/// force over every set partition: (wire time at 19 200 Bd, fewest requests).
fn brute_force(l: &RequestLimits, fc: FunctionCode, items: &[(u32, u32)]) -> (Duration, usize) {
    let n = items.len();
    let line = RtuLine::new(BAUD);
    let mut best_time = Duration::MAX;
    let mut best_count = usize::MAX;
    // Restricted growth strings enumerate set partitions.
    let mut labels = vec![0usize; n];
    loop {
        let blocks = labels.iter().copied().max().map_or(0, |m| m + 1);
        let mut tally = WireTally::default();
        let mut valid = true;
        for b in 0..blocks {
            let members: Vec<_> = (0..n)
                .filter(|&k| labels[k] == b)
                .map(|k| items[k])
                .collect();
            let a = members.iter().map(|m| m.0).min().unwrap();
            let e = members.iter().map(|m| m.1).max().unwrap();
            if !readable(l, fc, a, e) || !gaps_ok(items, l.max_gap, a, e) {
                valid = false;
                break;
            }
            tally.add_read(fc, e - a + 1);
        }
        if valid {
            best_time = best_time.min(tally.time(&line));
            best_count = best_count.min(blocks);
        }
        // Next restricted growth string.
        let mut k = n;
        loop {
            if k <= 1 {
                return (best_time, best_count);
            }
            k -= 1;
            let max_prefix = labels[..k].iter().copied().max().unwrap_or(0);
            if labels[k] <= max_prefix {
                labels[k] += 1;
                for x in &mut labels[k + 1..] {
                    *x = 0;
                }
                break;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn plans_cover_respect_limits_and_decode_like_single_reads(
        (p, mask, signature, image, fail) in arb_case(),
    ) {
        check_case(&p, &mask, signature, &image, fail, CostModel::Rtu { baud: BAUD });
        check_case(&p, &mask, signature, &image, fail, CostModel::FewestRequests);
        check_case(&p, &mask, signature, &image, fail, CostModel::Rtu { baud: 115_200 });
    }

    #[test]
    fn plans_are_optimal_against_brute_force(
        defs in prop::collection::vec(arb_register(Just(FunctionCode::Holding), 60), 1..8),
        l in arb_limits(Just(FunctionCode::Holding)),
    ) {
        let defs: Vec<_> = defs.into_iter().map(|mut d| { d.scale_register = None; d }).collect();
        let p = build_product(defs, vec![], l);
        prop_assume!(!p.services.is_empty());
        let items: Vec<(u32, u32)> = p.services.iter().map(|s| (u32::from(s.register.address), s.register.last_address())).collect();
        let (time, count) = brute_force(&p.limits, FunctionCode::Holding, &items);
        let plan = one(&p);
        prop_assert_eq!(plan.wire_time(BAUD), time);
        let fewest = Plan::build([PlanDevice::new("d", 1, &p).with_cost(CostModel::FewestRequests)]).unwrap();
        prop_assert_eq!(fewest.request_count(), count);
        prop_assert!(plan.request_count() >= count);
    }

    #[test]
    fn products_with_unreadable_values_are_refused_not_planned(
        defs in prop::collection::vec(arb_register(arb_fc(), 250), 1..12),
        l in arb_limits(arb_fc()),
    ) {
        let p = product(defs.into_iter().enumerate().map(|(k, d)| service(&format!("s{k}"), d)).collect(), l);
        let all_ok = p.services.iter().all(|s| {
            let d = &s.register;
            readable(&p.limits, d.function_code, u32::from(d.address), d.last_address())
                && d.scale_register.is_none_or(|sr| readable(&p.limits, sr.function_code.unwrap_or(d.function_code), u32::from(sr.address), u32::from(sr.address)))
        });
        match Plan::build([PlanDevice::new("d", 1, &p)]) {
            Ok(_) => prop_assert!(all_ok),
            Err(PlanError::Unreadable { .. }) => prop_assert!(!all_ok),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}
