//! Serve a simulated site: catalogue Modbus meters over Modbus/TCP, RTU over TCP and TLS,
//! ECL Comfort 310 controllers running their application keys, and M-Bus heat meters over
//! TCP measuring the controllers' circuits, with faults injected on demand.
//!
//! ```text
//! cargo run --example meter-server -- [--site FILE] [--fault NAME=FAULT[@START][+DURATION]]...
//!     [--control HOST:PORT] [--ephemeral-ports] [--for SECONDS]
//! ```
//!
//! Without `--site` it serves the built-in demo site (`examples/data/demo-site.toml`: Modbus/TCP
//! on 127.0.0.1:15020, RTU over TCP on 15021, TLS on 15802, M-Bus on 15030, control on 15099).
//! FAULT is `none`, `silent`, `slow:MS` or `exception:CODE` (M-Bus meters: silent or slow), e.g.
//! `--fault main=silent@30s+20s`. The control port takes one command per line and answers
//! one line (`ok ...` / `error ...`): `fault NAME silent`, `fault NAME slow 500`,
//! `fault NAME exception 4`, `fault NAME none`, `list`, `outdoor -5`, `outdoor auto`.
//!
//! It prints one line per endpoint (`meter-server: serving lan: Modbus/TCP 127.0.0.1:15020`),
//! one per device, meter and controller, then `meter-server: ready`, and runs until Ctrl-C,
//! SIGTERM or `--for SECONDS`. Errors are printed on one line on stderr with exit status 1.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use examples::simulation::{ScheduledFault, SimOptions, SimulatedSite};
use examples::site::Site;

#[derive(Debug, Parser)]
#[command(
    name = "meter-server",
    about = "Serve a simulated site (Modbus meters, ECL controllers, M-Bus heat meters) with fault injection"
)]
struct Args {
    /// The site file (TOML); the built-in demo site when absent.
    #[arg(long, value_name = "FILE")]
    site: Option<PathBuf>,
    /// A fault: NAME=FAULT[@START][+DURATION], FAULT = none | silent | slow:MS |
    /// exception:CODE (repeatable), e.g. main=silent@30s+20s.
    #[arg(long, value_name = "SPEC")]
    fault: Vec<ScheduledFault>,
    /// The fault-control port, HOST:PORT (overrides [simulation] control).
    #[arg(long, value_name = "HOST:PORT")]
    control: Option<String>,
    /// Serve every endpoint on a free port (the bound ports are printed).
    #[arg(long)]
    ephemeral_ports: bool,
    /// Stop after this many seconds.
    #[arg(long = "for", value_name = "SECONDS")]
    for_seconds: Option<u64>,
}

fn main() -> ExitCode {
    examples::cli::init_logging("warn");
    let args = Args::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("meter-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meter-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let site = match &args.site {
        Some(path) => Site::load(path)?,
        None => Site::demo()?,
    };
    let site = if args.ephemeral_ports {
        site.with_ephemeral_ports()
    } else {
        site
    };
    let options = SimOptions {
        control: args.control.clone(),
        ..SimOptions::default()
    };
    let mut sim = SimulatedSite::start(&site, options)
        .await
        .context("starting the simulated site")?;
    sim.schedule(&args.fault)?;
    print_site(&sim);
    println!("meter-server: ready");

    examples::cli::stop_requested(args.for_seconds.map(Duration::from_secs)).await;
    sim.stop().await;
    println!("meter-server: stopped");
    Ok(())
}

fn print_site(sim: &SimulatedSite) {
    let site = sim.site();
    println!(
        "meter-server: site {:?} from {}",
        site.site.name,
        site.file.display()
    );
    for e in sim.endpoints() {
        println!("meter-server: serving {e}");
        if sim.generated_certificate(&e.bus).is_some() {
            println!(
                "meter-server: {}: self-signed certificate generated in memory (clients without a CA accept it)",
                e.bus
            );
        }
    }
    for d in &site.devices {
        println!(
            "meter-server: device {} = {} at unit {} on {}",
            d.name, d.product, d.unit, d.bus
        );
    }
    for e in &site.ecls {
        let measured = e
            .heat_meter
            .as_deref()
            .map(|m| format!(", measured by {m}"))
            .unwrap_or_default();
        println!(
            "meter-server: ecl {} = ECL Comfort 310 running {} at unit {} on {}{measured}",
            e.name, e.key, e.unit, e.bus
        );
    }
    for m in &site.meters {
        println!(
            "meter-server: meter {} = heat meter {} {} at primary {} on {}",
            m.name, m.manufacturer, m.secondary, m.primary, m.bus
        );
    }
}
