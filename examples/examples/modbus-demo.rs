//! The emkit Modbus demo: a simulated installation on loopback, polled live.
//!
//! ```text
//! cargo run --example modbus-demo [-- --for SECONDS] [--interval SECONDS] [--device UNIT=REFERENCE ...]
//! ```
//!
//! It starts the simulator on Modbus/TCP at 127.0.0.1 (a free port) with a handful of
//! built-in catalogue products (Hager ECR380D and ECR140D, Eastron SDM630, Carlo Gavazzi
//! EM340, ABB B23 by default), builds an installation with one TCP bus and one device per
//! unit, identifies each device against its signature, then runs the poller's default
//! cycle (the services that change every cycle; identification at first contact and
//! configuration hourly, see `modbus_devices::poll`) and prints a table of the main values
//! with their units at every cycle, until Ctrl-C or `--for`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use modbus_devices::catalogue::Category;
use modbus_devices::device::{
    Bus, BusKind, DeviceAddress, DeviceInstance, Installation, TcpSettings,
};
use modbus_devices::poll::{Cycle, Poller};
use modbus_devices::sim::{SimClock, Simulator};
use modbus_devices::{Catalogue, Product};

#[derive(Debug, Parser)]
#[command(
    name = "modbus-demo",
    about = "Poll a simulated installation and print live values"
)]
struct Args {
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long = "for", value_name = "SECONDS")]
    for_seconds: Option<f64>,
    /// Seconds between two polls and table refreshes.
    #[arg(long, default_value_t = 3.0, value_name = "SECONDS")]
    interval: f64,
    /// Simulated devices, UNIT=REFERENCE (repeatable; replaces the default set).
    #[arg(long = "device", value_name = "UNIT=REFERENCE", value_parser = parse_device)]
    devices: Vec<(u8, String)>,
}

fn parse_device(s: &str) -> Result<(u8, String), String> {
    let (unit, reference) = s
        .split_once('=')
        .ok_or_else(|| format!("expected UNIT=REFERENCE, found {s:?}"))?;
    let unit: u8 = unit
        .trim()
        .parse()
        .map_err(|_| format!("unit must be 1..=247, found {unit:?}"))?;
    if !(1..=247).contains(&unit) {
        return Err(format!("unit must be 1..=247, found {unit}"));
    }
    Ok((unit, reference.trim().to_string()))
}

/// The columns of the table: a category and the keywords that pick the service shown
/// (the first service of that category whose id contains one of them).
const COLUMNS: &[(&str, Category, &[&str])] = &[
    ("V L1-N", Category::Voltage, &["l1_n", "l1n", "v_l1", "l1"]),
    ("I L1", Category::Current, &["l1"]),
    (
        "P total",
        Category::Power,
        &["p_total", "p_sum", "active_power_total", "p_tot", "p"],
    ),
    ("PF", Category::PowerFactor, &["total", "sum", "pf"]),
    ("f", Category::Frequency, &[""]),
    (
        "E import",
        Category::Energy,
        &["ea_import", "import_total", "ea_plus", "import", "ea"],
    ),
];

fn pick<'a>(product: &'a Product, category: Category, keys: &[&str]) -> Option<&'a str> {
    let of_category: Vec<_> = product
        .services
        .iter()
        .filter(|s| s.category == category)
        .collect();
    keys.iter()
        .find_map(|k| of_category.iter().find(|s| s.id.contains(k)))
        .or(of_category.first())
        .map(|s| s.id.as_str())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("modbus-demo: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("modbus-demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    if !(args.interval.is_finite() && args.interval >= 0.2) {
        bail!("--interval must be at least 0.2 s, found {}", args.interval);
    }
    let catalogue = Catalogue::builtin().context("loading the built-in catalogue")?;
    let devices = if args.devices.is_empty() {
        vec![
            (1, "ECR380D".into()),
            (2, "ECR140D".into()),
            (3, "SDM630".into()),
            (4, "EM340".into()),
            (5, "B23".into()),
        ]
    } else {
        args.devices.clone()
    };

    let sim = Simulator::new(SimClock::real());
    for (unit, reference) in &devices {
        let product = catalogue.require(reference)?;
        sim.add_device(*unit, product.clone())
            .with_context(|| format!("unit {unit}"))?;
    }
    let (addr, server) = sim
        .serve_tcp("127.0.0.1:0")
        .await
        .context("starting the simulator")?;

    let mut site = Installation::default();
    site.add_bus(Bus {
        name: "lan".into(),
        kind: BusKind::Tcp(TcpSettings::new("127.0.0.1", addr.port())),
    })?;
    for (unit, reference) in &devices {
        let product = catalogue.require(reference)?;
        // No service list: the poller's default cycle.
        site.add_device(DeviceInstance::new(
            format!("{}-{unit}", product.reference()),
            reference.clone(),
            "lan",
            DeviceAddress::Unit(*unit),
        ))?;
    }
    let poller = Arc::new(Poller::new(&site, &catalogue)?);
    println!(
        "modbus-demo: simulator on Modbus/TCP {addr}; polling {} devices every {} s",
        site.devices.len(),
        args.interval
    );
    for d in &site.devices {
        let id = poller.identify(&d.name).await?;
        println!(
            "  {:<14} unit {:<3} {:<10} identification: {}",
            d.name,
            d.address,
            d.product,
            id.status()
        );
    }

    let deadline = args
        .for_seconds
        .map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let terminal = std::io::stdout().is_terminal();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Cycle>(1);
    let task = poller
        .clone()
        .spawn(Duration::from_secs_f64(args.interval), tx);
    loop {
        tokio::select! {
            cycle = rx.recv() => match cycle {
                Some(cycle) => print_table(&site, &catalogue, &cycle, terminal),
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = sleep_until(deadline) => break,
        }
    }
    // Dropping the receiver ends the run, which closes the connections.
    drop(rx);
    task.await.context("the poller task")?;
    let stats = poller.stats();
    println!(
        "modbus-demo: stopped; {}",
        serde_json::to_string(&stats.buses)?
    );
    server.stop().await;
    Ok(())
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn print_table(site: &Installation, catalogue: &Catalogue, cycle: &Cycle, terminal: bool) {
    let readings = &cycle.readings;
    let mut out = String::new();
    if terminal {
        out.push_str("\x1b[2J\x1b[H");
    }
    out.push_str(&format!(
        "{}  cycle {}  (Ctrl-C to stop)\n",
        cycle.started.format("%Y-%m-%d %H:%M:%S UTC"),
        cycle.number
    ));
    out.push_str(&format!("{:<14}", "device"));
    for (title, _, _) in COLUMNS {
        out.push_str(&format!("{title:>18}"));
    }
    out.push('\n');
    for d in &site.devices {
        out.push_str(&format!("{:<14}", d.name));
        let Some(product) = catalogue.get(&d.product) else {
            continue;
        };
        for (_, category, keys) in COLUMNS {
            let cell = pick(product, *category, keys)
                .and_then(|id| {
                    readings
                        .iter()
                        .find(|r| r.device == d.name && r.service == id)
                })
                .map(|r| match r.value.as_ref().and_then(|v| v.as_f64()) {
                    Some(v) => format!("{v:.2} {}", r.unit),
                    None => format!("n/a ({})", r.quality),
                })
                .unwrap_or_else(|| "-".into());
            out.push_str(&format!("{cell:>18}"));
        }
        out.push('\n');
    }
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (e.g. `| head`) ends the output quietly.
    let _ = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush());
}
