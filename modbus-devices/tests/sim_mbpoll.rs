//! Interop: Debian's `mbpoll` (libmodbus) reads the simulator over Modbus/TCP and over RTU
//! on a socat pseudo-terminal pair. The words it prints, decoded with the catalogue's
//! register definitions, must equal what the simulator says it serves at that (frozen)
//! instant. Skipped with a printed reason when mbpoll or socat is missing, unless
//! `EMKIT_REQUIRE_PEERS=1`.
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;
mod sim_support;

use std::collections::HashMap;
use std::process::Command;

use modbus_devices::sim::{SerialSettings, SimClock, Simulator};
use modbus_devices::{FunctionCode, Product, Value};
use sim_support::*;

/// Run mbpoll once; the words (or bits) it printed, or its error output.
async fn mbpoll(args: Vec<String>) -> Result<Vec<u16>, String> {
    let out = tokio::task::spawn_blocking(move || Command::new("mbpoll").args(&args).output())
        .await
        .unwrap()
        .expect("mbpoll runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            stdout.lines().last().unwrap_or_default()
        ));
    }
    let words: Vec<u16> = stdout
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix('[')?;
            let (_, value) = rest.split_once("]:")?;
            let value = value.trim();
            match value.strip_prefix("0x") {
                Some(hex) => u16::from_str_radix(hex, 16).ok(),
                None => value.parse().ok(),
            }
        })
        .collect();
    Ok(words)
}

/// mbpoll arguments for one read (0-based addresses with `-0`, once with `-1`).
fn read_args(
    target: &[String],
    unit: u8,
    fc: FunctionCode,
    address: u16,
    count: u16,
) -> Vec<String> {
    let table = match fc {
        FunctionCode::Coils => "0",
        FunctionCode::DiscreteInputs => "1",
        FunctionCode::Input => "3:hex",
        FunctionCode::Holding => "4:hex",
    };
    let mut args: Vec<String> = [
        "-a".to_string(),
        unit.to_string(),
        "-r".into(),
        address.to_string(),
        "-c".into(),
        count.to_string(),
        "-t".into(),
        table.into(),
        "-0".into(),
        "-1".into(),
        "-o".into(),
        "2".into(),
    ]
    .to_vec();
    args.extend_from_slice(target);
    args
}

/// Read every service of `product` at `unit` with mbpoll and compare with what the
/// simulator serves; returns how many services were compared.
async fn compare_product(sim: &Simulator, target: &[String], unit: u8, product: &Product) -> usize {
    let served: HashMap<String, Option<Value>> =
        sim.served_values(unit).unwrap().into_iter().collect();
    let mut compared = 0;
    for s in &product.services {
        let d = &s.register;
        if d.scale_register.is_some() {
            continue; // needs a second read; the codec is covered elsewhere
        }
        let words = mbpoll(read_args(
            target,
            unit,
            d.function_code,
            d.address,
            d.count(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{} {}: mbpoll failed: {e}", product.reference(), s.id));
        assert_eq!(words.len(), usize::from(d.count()), "{}: {words:?}", s.id);
        let value = d.decode(&words).unwrap();
        assert_eq!(value, served[&s.id], "{} {}", product.reference(), s.id);
        plausible(s, &value).unwrap_or_else(|e| panic!("{} {}: {e}", product.reference(), s.id));
        compared += 1;
    }
    for check in &product.signature {
        let d = &check.register;
        let words = mbpoll(read_args(
            target,
            unit,
            d.function_code,
            d.address,
            d.count(),
        ))
        .await
        .unwrap();
        let value = d.decode(&words).unwrap();
        assert!(
            check.expect.matches(value.as_ref()),
            "{}: signature {value:?}",
            product.reference()
        );
    }
    compared
}

fn tcp_target(port: u16) -> Vec<String> {
    vec![
        "-m".into(),
        "tcp".into(),
        "-p".into(),
        port.to_string(),
        "127.0.0.1".into(),
    ]
}

#[tokio::test]
async fn mbpoll_reads_what_the_catalogue_says_over_tcp() {
    if !peers::mbpoll() {
        return;
    }
    let catalogue = catalogue();
    let ecr = catalogue.require("ECR380D").unwrap().clone();
    let sim3p = catalogue.require("SIM-3P").unwrap().clone();
    // A frozen manual clock: every read sees the same instant as `served_values`.
    let sim = Simulator::new(SimClock::manual(t0()))
        .with_device(1, ecr.clone())
        .unwrap()
        .with_device(2, sim3p.clone())
        .unwrap();
    let (addr, _handle) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let target = tcp_target(addr.port());
    assert!(compare_product(&sim, &target, 1, &ecr).await >= 5);
    assert!(compare_product(&sim, &target, 2, &sim3p).await >= 40);

    // Hager identification words, as printed by mbpoll.
    let w = mbpoll(read_args(&target, 1, FunctionCode::Holding, 0x1000, 3))
        .await
        .unwrap();
    assert_eq!(w, vec![0x4861, 0x6765, 0x7200], "\"Hager\" high byte first");
}

#[tokio::test]
async fn mbpoll_sees_the_simulator_exceptions_and_writes_parameters() {
    if !peers::mbpoll() {
        return;
    }
    let sim = Simulator::new(SimClock::manual(t0()))
        .with_device(2, product("SIM-3P"))
        .unwrap();
    let (addr, _handle) = sim.serve_tcp("127.0.0.1:0").await.unwrap();
    let target = tcp_target(addr.port());
    let h = FunctionCode::Holding;

    let e = mbpoll(read_args(&target, 9, h, 0, 1)).await.unwrap_err();
    assert!(e.contains("Target device failed to respond"), "{e}");
    let e = mbpoll(read_args(&target, 2, h, 0x0060, 1))
        .await
        .unwrap_err();
    assert!(e.contains("Illegal data address"), "{e}");

    let write = |value: &str| {
        let mut args: Vec<String> = ["-a", "2", "-r", "112", "-t", "4", "-0", "-1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(tcp_target(addr.port()));
        args.push(value.to_string());
        args
    };
    mbpoll(write("42")).await.unwrap();
    assert_eq!(
        mbpoll(read_args(&target, 2, h, 0x0070, 1)).await.unwrap(),
        vec![42]
    );
    let e = mbpoll(write("300")).await.unwrap_err();
    assert!(e.contains("Illegal data value"), "{e}");
    assert_eq!(
        mbpoll(read_args(&target, 2, h, 0x0070, 1)).await.unwrap(),
        vec![42]
    );
}

#[tokio::test]
async fn mbpoll_reads_over_rtu_on_a_pseudo_terminal() {
    if !peers::mbpoll() {
        return;
    }
    let Some(pty) = PtyPair::new() else { return };
    let p = product("SIM-3P");
    let sim = Simulator::new(SimClock::manual(t0()))
        .with_device(4, p.clone())
        .unwrap();
    let _handle = sim
        .serve_rtu(&pty.a, &SerialSettings::default())
        .await
        .unwrap();
    // mbpoll's RTU defaults are the simulator's: 19 200 Bd, 8 bits, even parity, 1 stop bit.
    let target: Vec<String> = vec![
        "-m".into(),
        "rtu".into(),
        "-b".into(),
        "19200".into(),
        "-P".into(),
        "even".into(),
        pty.b.to_string_lossy().to_string(),
    ];
    assert!(compare_product(&sim, &target, 4, &p).await >= 40);
    // A unit nobody has: mbpoll times out.
    let e = mbpoll(read_args(&target, 5, FunctionCode::Holding, 0, 1))
        .await
        .unwrap_err();
    assert!(
        e.to_lowercase().contains("timed out") || e.contains("failed"),
        "{e}"
    );
}
