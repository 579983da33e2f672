//! The simulator over Modbus/TCP, read with the tokio-modbus client: catalogue products
//! served with plausible values and their signatures, physical coherence, energy
//! integration on a manual clock, unit-id routing, address rules, parameter writes and
//! fault injection.
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;
mod sim_support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use modbus_devices::sim::{Fault, SimClock, Simulator, SimulatorHandle};
use modbus_devices::{FunctionCode, Product, Value};
use sim_support::*;
use tokio_modbus::client::{Client, Context, Reader, Writer};
use tokio_modbus::prelude::SlaveContext;
use tokio_modbus::{ExceptionCode, Request, Slave};

async fn connect(addr: SocketAddr, unit: u8) -> Context {
    tokio_modbus::client::tcp::connect_slave(addr, Slave(unit))
        .await
        .unwrap()
}

async fn serve(sim: &Simulator) -> (SocketAddr, SimulatorHandle) {
    sim.serve_tcp("127.0.0.1:0").await.unwrap()
}

/// Every service of `product`, read one by one and decoded with the catalogue.
async fn read_all(ctx: &mut Context, product: &Product) -> HashMap<String, Option<Value>> {
    let mut out = HashMap::new();
    for s in &product.services {
        out.insert(s.id.clone(), read_def(ctx, &s.register).await);
    }
    out
}

/// A block read of the SIM-3P holding registers 0x00..0x3D, decoded per service.
async fn snapshot_3p(ctx: &mut Context, product: &Product) -> HashMap<String, f64> {
    let words = read(ctx, FunctionCode::Holding, 0, 0x3E).await.unwrap();
    product
        .services
        .iter()
        .filter(|s| s.register.function_code == FunctionCode::Holding && s.register.address < 0x3E)
        .map(|s| {
            let a = usize::from(s.register.address);
            let w = &words[a..a + usize::from(s.register.count())];
            (s.id.clone(), num(&s.register.decode(w).unwrap()))
        })
        .collect()
}

#[tokio::test]
async fn every_catalogue_product_serves_plausible_values_and_its_signature() {
    let catalogue = catalogue();
    let sim = Simulator::new(SimClock::real());
    let products: Vec<&Product> = catalogue.products().iter().take(250).collect();
    for (i, p) in products.iter().enumerate() {
        sim.add_device(i as u8 + 1, (*p).clone()).unwrap();
    }
    let (addr, handle) = serve(&sim).await;
    let mut ctx = connect(addr, 1).await;
    let mut failures = Vec::new();
    for (i, p) in products.iter().enumerate() {
        ctx.set_slave(Slave(i as u8 + 1));
        for check in &p.signature {
            let v = read_def(&mut ctx, &check.register).await;
            if !check.expect.matches(v.as_ref()) {
                failures.push(format!(
                    "{}: signature at {:#06x} expects {}, served {v:?}",
                    p.reference(),
                    check.register.address,
                    check.expect
                ));
            }
        }
        let values = read_all(&mut ctx, p).await;
        for s in &p.services {
            if let Err(why) = plausible(s, &values[&s.id]) {
                failures.push(format!("{} {}: {why}", p.reference(), s.id));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Routing: each unit answers as its own product (the signature differs per product).
    assert!(sim.request_count(1) > 0 && sim.request_count(products.len() as u8) > 0);
    handle.stop().await;
}

#[tokio::test]
async fn hager_identification_is_served_at_0x1000_and_0x1010() {
    let catalogue = catalogue();
    let ecr = catalogue.require("ECR380D").unwrap();
    let sim = Simulator::new(SimClock::real())
        .with_device(5, ecr.clone())
        .unwrap();
    let (addr, _handle) = serve(&sim).await;
    let mut ctx = connect(addr, 5).await;
    let text = |w: Vec<u16>| {
        let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_be_bytes()).collect();
        String::from_utf8(bytes)
            .unwrap()
            .trim_end_matches('\0')
            .to_string()
    };
    let vendor = read(&mut ctx, FunctionCode::Holding, 0x1000, 16)
        .await
        .unwrap();
    assert!(text(vendor).starts_with("Hager"));
    let code = read(&mut ctx, FunctionCode::Holding, 0x1010, 16)
        .await
        .unwrap();
    assert_eq!(text(code), "ECR380D");
    // The 3.5-digit voltage of the same meter sits at 0xB000.
    let v = read(&mut ctx, FunctionCode::Holding, 0xB000, 1)
        .await
        .unwrap();
    assert!((22_000..24_000).contains(&v[0]), "{v:?}");
}

#[tokio::test]
async fn three_phase_values_are_physically_coherent() {
    let p = product("SIM-3P");
    let clock = SimClock::manual(t0());
    let sim = Simulator::new(clock.clone())
        .with_device(1, p.clone())
        .unwrap();
    let (addr, _handle) = serve(&sim).await;
    let mut ctx = connect(addr, 1).await;
    for step in 0..20 {
        let m = snapshot_3p(&mut ctx, &p).await;
        let f = |id: &str| m[id];
        for k in 1..=3 {
            let (v, i, pf) = (
                f(&format!("v_l{k}_n")),
                f(&format!("i_l{k}")),
                f(&format!("pf_l{k}")),
            );
            let (pw, q, s) = (
                f(&format!("p_l{k}")),
                f(&format!("q_l{k}")),
                f(&format!("s_l{k}")),
            );
            assert!((220.0..240.0).contains(&v), "V{k} = {v}");
            assert!((0.85..=0.99).contains(&pf), "PF{k} = {pf}");
            assert!(i > 0.5 && i < 60.0, "I{k} = {i}");
            assert!(
                (s - v * i).abs() <= 0.002 * s + 0.5,
                "S{k} {s} vs V*I {}",
                v * i
            );
            assert!(
                (pw - s * pf).abs() <= 0.002 * s + 0.5,
                "P{k} {pw} vs S*PF {}",
                s * pf
            );
            let q_expected = (s * s - pw * pw).sqrt();
            assert!(
                (q - q_expected).abs() <= 0.01 * s,
                "Q{k} {q} vs {q_expected}"
            );
        }
        let sum = |x: &str| (1..=3).map(|k| f(&format!("{x}_l{k}"))).sum::<f64>();
        assert!(
            (f("p_total") - sum("p")).abs() < 0.5,
            "P total = sum of phases"
        );
        assert!(
            (f("q_total") * 1000.0 - sum("q")).abs() < 0.5,
            "Q total (kvar) = sum"
        );
        assert!(
            (f("s_total") - sum("s")).abs() < 0.5,
            "S total = sum of phases"
        );
        let pf_total = f("p_total") / f("s_total") * 100.0;
        assert!(
            (f("pf_total") - pf_total).abs() <= 0.11,
            "PF total in % = P/S"
        );
        for (ll, a, b) in [("v_l1_l2", 1, 2), ("v_l2_l3", 2, 3), ("v_l3_l1", 3, 1)] {
            let (va, vb) = (f(&format!("v_l{a}_n")), f(&format!("v_l{b}_n")));
            let expected = (va * va + vb * vb + va * vb).sqrt();
            assert!(
                (f(ll) - expected).abs() < 0.05,
                "{ll} {} vs {expected}",
                f(ll)
            );
            assert!((380.0..420.0).contains(&f(ll)));
        }
        let i_max = (1..=3).map(|k| f(&format!("i_l{k}"))).fold(0.0, f64::max);
        assert!(
            f("i_n") >= 0.0 && f("i_n") < i_max,
            "neutral current {}",
            f("i_n")
        );
        assert!((49.9..=50.1).contains(&f("freq")));
        assert!((1.0..=4.0).contains(&f("thd_v_l1")));
        assert!((5.0..=30.0).contains(&f("thd_i_l1")));
        assert!(f("v_h3_l1") > 0.0 && f("v_h3_l1") < f("thd_v_l1"));
        assert!(f("i_h5_l1") > 0.0 && f("i_h5_l1") < f("thd_i_l1"));
        assert!((15.0..60.0).contains(&f("temperature")));
        // The float input registers (low word first) agree with the integer ones.
        let vf = num(&read_def(&mut ctx, &p.service("v_l1_n_f").unwrap().register).await);
        assert!((vf - f("v_l1_n")).abs() < 0.006, "{vf} vs {}", f("v_l1_n"));
        let pkw = num(&read_def(&mut ctx, &p.service("p_total_kw").unwrap().register).await);
        assert!((pkw * 1000.0 - f("p_total")).abs() < 0.1);
        clock.advance(Duration::from_secs(97 * 60 + step));
    }
}

#[tokio::test]
async fn values_are_reproducible_at_one_instant_and_move_with_time() {
    let p = product("SIM-3P");
    let clock = SimClock::manual(t0());
    let sim = Simulator::new(clock.clone())
        .with_device(1, p.clone())
        .unwrap();
    let (addr, _handle) = serve(&sim).await;
    let mut ctx = connect(addr, 1).await;
    let a = read(&mut ctx, FunctionCode::Holding, 0, 0x32)
        .await
        .unwrap();
    let b = read(&mut ctx, FunctionCode::Holding, 0, 0x32)
        .await
        .unwrap();
    assert_eq!(a, b, "same instant, same registers");
    clock.advance(Duration::from_secs(30));
    let c = read(&mut ctx, FunctionCode::Holding, 0, 0x32)
        .await
        .unwrap();
    assert_ne!(a, c, "values move with time");
}

#[tokio::test]
async fn energy_counters_integrate_power_over_manual_time() {
    let p = product("SIM-3P");
    let clock = SimClock::manual(t0());
    let sim = Simulator::new(clock.clone())
        .with_device(1, p.clone())
        .unwrap();
    let (addr, _handle) = serve(&sim).await;
    let mut ctx = connect(addr, 1).await;

    let first = snapshot_3p(&mut ctx, &p).await;
    let mut p_prev = first["p_total"];
    let mut q_prev = first["q_total"] * 1000.0;
    let (mut integral_p, mut integral_q) = (0.0, 0.0);
    let dt = 10.0;
    let mut last = first.clone();
    for _ in 0..60 {
        clock.advance(Duration::from_secs(10));
        let m = snapshot_3p(&mut ctx, &p).await;
        let (pn, qn) = (m["p_total"], m["q_total"] * 1000.0);
        integral_p += (p_prev + pn) / 2.0 * dt / 3600.0;
        integral_q += (q_prev + qn) / 2.0 * dt / 3600.0;
        (p_prev, q_prev) = (pn, qn);
        for id in [
            "ea_import",
            "er_import",
            "ea_import_partial",
            "ea_import_t1",
        ] {
            assert!(m[id] >= last[id], "{id} never decreases");
        }
        last = m;
    }
    let gained = last["ea_import"] - first["ea_import"];
    assert!(
        integral_p > 500.0,
        "ten minutes of a few kW: {integral_p} Wh"
    );
    assert!(
        (gained - integral_p).abs() <= 0.01 * integral_p + 2.0,
        "E2 - E1 = {gained} Wh, integral of P dt = {integral_p} Wh"
    );
    let gained_q = last["er_import"] - first["er_import"];
    assert!((gained_q - integral_q).abs() <= 0.02 * integral_q + 2.0);
    let gained_partial = last["ea_import_partial"] - first["ea_import_partial"];
    assert!(
        (gained_partial - gained).abs() <= 2.0,
        "partial runs with the total"
    );
    let gained_t1 = last["ea_import_t1"] - first["ea_import_t1"];
    assert!((gained_t1 - gained).abs() <= 2.0, "10:00 UTC is tariff 1");
    assert_eq!(
        last["ea_import_t2"], first["ea_import_t2"],
        "tariff 2 idle by day"
    );
    assert_eq!(
        last["ea_export"], first["ea_export"],
        "a consumer exports nothing"
    );
    assert!(
        (last["ea_import_t1"] + last["ea_import_t2"] - last["ea_import"]).abs() <= 2.0,
        "the tariffs add up to the total"
    );

    // A clock set back does not run the counters backwards.
    clock.set(t0());
    let back = snapshot_3p(&mut ctx, &p).await;
    assert_eq!(back["ea_import"], last["ea_import"]);

    // At night, tariff 2 counts.
    clock.set(t0() + chrono::Duration::hours(13)); // 23:00 UTC
    let n1 = snapshot_3p(&mut ctx, &p).await;
    clock.advance(Duration::from_secs(1800));
    let n2 = snapshot_3p(&mut ctx, &p).await;
    assert!(n2["ea_import_t2"] > n1["ea_import_t2"]);
    assert_eq!(n2["ea_import_t1"], n1["ea_import_t1"]);
}

#[tokio::test]
async fn single_phase_product_behaves_single_phase() {
    let p = product("SIM-1P");
    let sim = Simulator::new(SimClock::manual(t0()))
        .with_device(9, p.clone())
        .unwrap();
    let (addr, _handle) = serve(&sim).await;
    let mut ctx = connect(addr, 9).await;
    let v = read_all(&mut ctx, &p).await;
    assert_eq!(
        num(&v["p_total"]),
        num(&v["p_l1"]),
        "total = the only phase"
    );
    let expected = num(&v["v_l1_n"]) * num(&v["i_l1"]) * num(&v["pf"]);
    assert!((num(&v["p_l1"]) - expected).abs() <= 0.003 * expected + 1.0);
    for s in &p.services {
        plausible(s, &v[&s.id]).unwrap();
    }
    // No blocks and "type max" sentinels: an undocumented register reads 0xFFFF.
    let w = read(&mut ctx, FunctionCode::Input, 0x0020, 2)
        .await
        .unwrap();
    assert_eq!(w, vec![0xFFFF, 0xFFFF]);
}

#[tokio::test]
async fn unknown_unit_id_gets_gateway_exception_0x0b_on_tcp() {
    let sim = Simulator::new(SimClock::real())
        .with_device(1, product("SIM-3P"))
        .unwrap();
    let (addr, _handle) = serve(&sim).await;
    let mut ctx = connect(addr, 42).await;
    let r = read(&mut ctx, FunctionCode::Holding, 0, 1).await;
    assert_eq!(r, Err(ExceptionCode::GatewayTargetDevice));
    ctx.set_slave(Slave(1));
    assert!(read(&mut ctx, FunctionCode::Holding, 0, 1).await.is_ok());
    assert_eq!(sim.request_count(42), 0, "unknown units are not counted");
}

#[tokio::test]
async fn address_rules_follow_the_product_limits() {
    let sim = Simulator::new(SimClock::real())
        .with_device(1, product("SIM-3P"))
        .unwrap();
    let (addr, _handle) = serve(&sim).await;
    let mut ctx = connect(addr, 1).await;
    let h = FunctionCode::Holding;
    // Forbidden range, also when a read only overlaps it.
    assert_eq!(
        read(&mut ctx, h, 0x0060, 1).await,
        Err(ExceptionCode::IllegalDataAddress)
    );
    assert_eq!(
        read(&mut ctx, h, 0x0058, 10).await,
        Err(ExceptionCode::IllegalDataAddress)
    );
    // Outside every block of the table.
    assert_eq!(
        read(&mut ctx, h, 0x0200, 1).await,
        Err(ExceptionCode::IllegalDataAddress)
    );
    assert_eq!(
        read(&mut ctx, h, 0x007E, 4).await,
        Err(ExceptionCode::IllegalDataAddress)
    );
    assert_eq!(
        read(&mut ctx, FunctionCode::Input, 0x0010, 1).await,
        Err(ExceptionCode::IllegalDataAddress)
    );
    // Inside a block but undocumented: 0 (the product has no all-ones sentinels).
    assert_eq!(read(&mut ctx, h, 0x003E, 2).await, Ok(vec![0, 0]));
    // More than the product's 100 registers per read.
    assert_eq!(
        read(&mut ctx, h, 0x0000, 101).await,
        Err(ExceptionCode::IllegalDataValue)
    );
    assert_eq!(
        read(&mut ctx, h, 0x0000, 0x60).await.map(|w| w.len()),
        Ok(0x60)
    );
    // The signature block is readable.
    assert!(read(&mut ctx, h, 0x1000, 32).await.is_ok());
    // Unsupported function: 01.
    let r = ctx
        .call(Request::MaskWriteRegister(0x0070, 0xFFFF, 0))
        .await
        .unwrap();
    assert_eq!(r, Err(ExceptionCode::IllegalFunction));
}

#[tokio::test]
async fn parameter_writes_are_range_checked_stored_and_read_back() {
    let clock = SimClock::manual(t0());
    let p = product("SIM-3P");
    let sim = Simulator::new(clock.clone())
        .with_device(3, p.clone())
        .unwrap();
    let (addr, _handle) = serve(&sim).await;
    let mut ctx = connect(addr, 3).await;
    let h = FunctionCode::Holding;

    // The Modbus address parameter starts at the unit id.
    assert_eq!(read(&mut ctx, h, 0x0070, 1).await, Ok(vec![3]));
    assert_eq!(ctx.write_single_register(0x0070, 17).await.unwrap(), Ok(()));
    assert_eq!(read(&mut ctx, h, 0x0070, 1).await, Ok(vec![17]));
    assert_eq!(
        ctx.write_single_register(0x0070, 300).await.unwrap(),
        Err(ExceptionCode::IllegalDataValue)
    );
    assert_eq!(
        read(&mut ctx, h, 0x0070, 1).await,
        Ok(vec![17]),
        "unchanged"
    );

    // A u32 parameter with FC16; half of it is refused.
    assert_eq!(
        ctx.write_multiple_registers(0x0072, &[0, 500])
            .await
            .unwrap(),
        Ok(())
    );
    assert_eq!(read(&mut ctx, h, 0x0072, 2).await, Ok(vec![0, 500]));
    assert_eq!(
        ctx.write_single_register(0x0073, 7).await.unwrap(),
        Err(ExceptionCode::IllegalDataValue)
    );
    assert_eq!(
        ctx.write_multiple_registers(0x0072, &[1, 0]).await.unwrap(),
        Err(ExceptionCode::IllegalDataValue),
        "65536 is above the range 1..10000"
    );
    // Writes outside parameters.
    assert_eq!(
        ctx.write_single_register(0x0000, 1).await.unwrap(),
        Err(ExceptionCode::IllegalDataAddress)
    );
    assert_eq!(
        ctx.write_multiple_registers(0x006F, &[1, 2]).await.unwrap(),
        Err(ExceptionCode::IllegalDataAddress)
    );
    assert_eq!(
        read(&mut ctx, h, 0x0070, 1).await,
        Ok(vec![17]),
        "nothing half-written"
    );
    // FC23 writes, then reads.
    assert_eq!(
        ctx.read_write_multiple_registers(0x0070, 1, 0x0070, &[18])
            .await
            .unwrap(),
        Ok(vec![18])
    );

    // A coil parameter.
    assert_eq!(read(&mut ctx, FunctionCode::Coils, 3, 1).await, Ok(vec![0]));
    assert_eq!(ctx.write_single_coil(3, true).await.unwrap(), Ok(()));
    assert_eq!(read(&mut ctx, FunctionCode::Coils, 3, 1).await, Ok(vec![1]));
    assert_eq!(
        ctx.write_single_coil(4, true).await.unwrap(),
        Err(ExceptionCode::IllegalDataAddress)
    );

    // A write-only command: resetting the partial energy, which reads back as 0.
    let partial = p.service("ea_import_partial").unwrap();
    assert!(num(&read_def(&mut ctx, &partial.register).await) > 100.0);
    assert_eq!(ctx.write_single_register(0x0074, 1).await.unwrap(), Ok(()));
    assert_eq!(num(&read_def(&mut ctx, &partial.register).await), 0.0);
    assert_eq!(read(&mut ctx, h, 0x0074, 1).await, Ok(vec![0]));
    clock.advance(Duration::from_secs(600));
    assert!(num(&read_def(&mut ctx, &partial.register).await) > 0.0);

    // Selecting tariff 2 by Modbus sends the energy to tariff 2, by day too.
    let t1 = p.service("ea_import_t1").unwrap().register.clone();
    let t2 = p.service("ea_import_t2").unwrap().register.clone();
    assert_eq!(ctx.write_single_register(0x0075, 2).await.unwrap(), Ok(()));
    let (a1, a2) = (
        num(&read_def(&mut ctx, &t1).await),
        num(&read_def(&mut ctx, &t2).await),
    );
    clock.advance(Duration::from_secs(600));
    let (b1, b2) = (
        num(&read_def(&mut ctx, &t1).await),
        num(&read_def(&mut ctx, &t2).await),
    );
    assert_eq!(a1, b1);
    assert!(b2 > a2);
}

async fn timed(
    ctx: &mut Context,
    ms: u64,
) -> Result<tokio_modbus::Result<Vec<u16>>, tokio::time::error::Elapsed> {
    tokio::time::timeout(Duration::from_millis(ms), ctx.read_holding_registers(0, 1)).await
}

#[tokio::test]
async fn faults_are_injected_per_unit_and_cleared_at_run_time() {
    let sim = Simulator::new(SimClock::real())
        .with_device(1, product("SIM-3P"))
        .unwrap()
        .with_device(2, product("SIM-1P"))
        .unwrap();
    let (addr, handle) = serve(&sim).await;
    let mut one = connect(addr, 1).await;
    let mut two = connect(addr, 2).await;

    // No answer: the client times out; the other unit still answers.
    handle.set_fault(1, Fault::NoAnswer);
    assert!(timed(&mut one, 300).await.is_err(), "no answer -> timeout");
    assert!(read(&mut two, FunctionCode::Input, 0, 1).await.is_ok());
    handle.clear_fault(1);
    let mut one = connect(addr, 1).await;
    assert!(
        timed(&mut one, 2000).await.unwrap().unwrap().is_ok(),
        "recovered"
    );

    // A given exception code.
    sim.set_fault(1, Fault::Exception(4));
    assert_eq!(
        read(&mut one, FunctionCode::Holding, 0, 1).await,
        Err(ExceptionCode::ServerDeviceFailure)
    );
    sim.set_fault(1, Fault::Exception(6));
    assert_eq!(
        read(&mut one, FunctionCode::Holding, 0, 1).await,
        Err(ExceptionCode::ServerDeviceBusy)
    );

    // A slow answer: correct, but late.
    sim.set_fault(1, Fault::Delay(Duration::from_millis(400)));
    let start = Instant::now();
    let v = read(&mut one, FunctionCode::Holding, 0, 1).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(400));
    assert!((20_000..26_000).contains(&v[0]));
    assert!(
        timed(&mut one, 150).await.is_err(),
        "a short timeout misses it"
    );

    // Bad CRC has no meaning on Modbus/TCP: the answer is lost.
    sim.set_fault(1, Fault::BadCrc);
    let mut one = connect(addr, 1).await;
    assert!(timed(&mut one, 300).await.is_err());
    sim.clear_fault(1);
    assert_eq!(sim.fault(1), Fault::None);
    let mut one = connect(addr, 1).await;
    assert!(read(&mut one, FunctionCode::Holding, 0, 1).await.is_ok());
    assert!(sim.request_count(1) >= 8);
}

#[tokio::test]
async fn stopping_the_handle_closes_the_server() {
    let sim = Simulator::new(SimClock::real())
        .with_device(1, product("SIM-1P"))
        .unwrap();
    let (addr, handle) = serve(&sim).await;
    assert!(handle.is_running());
    let mut ctx = connect(addr, 1).await;
    assert!(read(&mut ctx, FunctionCode::Input, 0, 1).await.is_ok());
    handle.stop().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
    let r = tokio::time::timeout(Duration::from_secs(2), ctx.read_input_registers(0, 1)).await;
    assert!(
        !matches!(r, Ok(Ok(Ok(_)))),
        "an open connection is closed too: {r:?}"
    );

    // Dropping the handle stops the server as well.
    let (addr, handle) = serve(&sim).await;
    drop(handle);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn setup_errors_are_reported() {
    let sim = Simulator::new(SimClock::real());
    assert!(
        sim.add_device(0, product("SIM-1P")).is_err(),
        "0 is broadcast"
    );
    sim.add_device(7, product("SIM-1P")).unwrap();
    let e = sim.add_device(7, product("SIM-3P")).unwrap_err();
    assert!(e.to_string().contains("SIM-1P"), "{e}");
    let (addr, _h) = serve(&sim).await;
    let e = sim.serve_tcp(addr).await.unwrap_err();
    assert!(e.to_string().contains(&addr.to_string()), "{e}");
    assert_eq!(
        sim.remove_device(7).map(|p| p.reference().to_string()),
        Some("SIM-1P".into())
    );
    assert!(sim.units().is_empty());
}
