//! Danfoss ECL Comfort controllers: the application-key catalogue, detection of a controller
//! over Modbus/TCP, and a simulated ECL Comfort 310 to try it against.
//!
//! ```text
//! cargo run --example ecl -- keys [--json]
//! cargo run --example ecl -- detect --tcp HOST:PORT [--unit N] [--json]
//! cargo run --example ecl -- sim --listen HOST:PORT --key A266.1 [--unit N] [--outdoor DEGC]
//!     [--software 1.56] [--key-version 1.08] [--rtu-over-tcp HOST:PORT] [--for SECONDS]
//! ```
//!
//! `keys --json` prints a JSON array with one object per key:
//! `{"key": "A266", "subtypes": [1, 2, 9, 10], "controllers": ["ecl210", ...], "circuits": 2,
//! "confidence": "confirmed"}` (`confidence` is `confirmed`, `one_source` or `inferred`).
//!
//! `detect --json` reads the controller (only the system ranges every controller serves) and
//! prints `{"key": "A266.1", "key_version": "1.08", "software": "1.56", "compatibility":
//! [{"rule": "controller_software", "verdict": "ok", "detail": "..."}], "sensors": [{"input":
//! "S1", "meaning": "outdoor temperature", "value": -3.5, "unit": "degC"}]}`; `verdict` is
//! `ok`, `will_update` or `unsupported`; a disconnected sensor has a null value; `key` is
//! null when the key registers cannot be read or hold no valid key.
//!
//! `sim` serves one simulated controller with the key until killed (or `--for SECONDS`), and
//! prints one line saying where, e.g.
//! `ecl sim: serving A266.1 at unit 1 on Modbus/TCP 127.0.0.1:5021`.
//!
//! Errors are printed on one line on stderr with exit status 1.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use ecl_appkeys::ops::{DetectReport, detect_on};
use ecl_appkeys::sim::{EclSim, SimIdentity};
use ecl_appkeys::{Catalogue, Controller, KeyId, Version};
use modbus_devices::device::{BusKind, TcpSettings};
use modbus_devices::sim::{SimClock, Simulator};

#[derive(Debug, Parser)]
#[command(
    name = "ecl",
    about = "Danfoss ECL Comfort: key catalogue, detection, simulator"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the application keys of the catalogue.
    Keys {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read a controller over Modbus/TCP: key, versions, firmware verdicts, sensors.
    Detect {
        /// The controller, HOST:PORT (port 502 on a real ECL 296 / 310).
        #[arg(long, value_name = "HOST:PORT")]
        tcp: String,
        /// Its unit id.
        #[arg(long, default_value_t = 1)]
        unit: u8,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve a simulated ECL Comfort 310 with an application key.
    Sim {
        /// Modbus/TCP listen address, HOST:PORT (port 0 picks a free one).
        #[arg(long, value_name = "HOST:PORT")]
        listen: String,
        /// The application key with its sub-type (A266.1).
        #[arg(long)]
        key: KeyId,
        /// Its unit id.
        #[arg(long, default_value_t = 1)]
        unit: u8,
        /// The outdoor temperature, degC.
        #[arg(long, default_value_t = 5.0, allow_negative_numbers = true)]
        outdoor: f64,
        /// The controller software it reports.
        #[arg(long, default_value = "1.56")]
        software: Version,
        /// The key version it reports.
        #[arg(long = "key-version", default_value = "1.08")]
        key_version: Version,
        /// Also serve RTU framing over TCP at HOST:PORT.
        #[arg(long = "rtu-over-tcp", value_name = "HOST:PORT")]
        rtu_over_tcp: Option<String>,
        /// Stop after this many seconds.
        #[arg(long = "for", value_name = "SECONDS")]
        run_for: Option<u64>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ecl: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ecl: {:#}", e);
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let catalogue = Catalogue::builtin().context("built-in catalogue")?;
    match args.command {
        Command::Keys { json } => keys(&catalogue, json),
        Command::Detect { tcp, unit, json } => detect(&catalogue, &tcp, unit, json).await,
        Command::Sim {
            listen,
            key,
            unit,
            outdoor,
            software,
            key_version,
            rtu_over_tcp,
            run_for,
        } => {
            let identity = SimIdentity {
                software,
                key_version,
                ..SimIdentity::default()
            };
            let controller = Controller::new(&catalogue, key, Some("ecl310"))
                .with_context(|| format!("key {key}"))?;
            let sim = Simulator::new(SimClock::real());
            let ecl = EclSim::add(&sim, unit, &controller, identity)?;
            ecl.set_outdoor(outdoor);
            let (addr, _tcp) = sim.serve_tcp(listen.as_str()).await?;
            let mut line = format!("ecl sim: serving {key} at unit {unit} on Modbus/TCP {addr}");
            let _rtu = match rtu_over_tcp {
                Some(a) => {
                    let (addr, handle) = sim.serve_rtu_over_tcp(a.as_str()).await?;
                    line.push_str(&format!(" and RTU over TCP {addr}"));
                    Some(handle)
                }
                None => None,
            };
            println!("{line}");
            match run_for {
                Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                None => tokio::signal::ctrl_c().await?,
            }
            Ok(())
        }
    }
}

fn keys(catalogue: &Catalogue, json: bool) -> anyhow::Result<()> {
    let keys = catalogue.summaries();
    if json {
        println!("{}", serde_json::to_string_pretty(&keys)?);
        return Ok(());
    }
    println!(
        "{:<6} {:<14} {:<22} {:>8}  confidence",
        "key", "sub-types", "controllers", "circuits"
    );
    for k in keys {
        let subtypes: Vec<String> = k.subtypes.iter().map(|s| format!(".{s}")).collect();
        println!(
            "{:<6} {:<14} {:<22} {:>8}  {}",
            k.key,
            if subtypes.is_empty() {
                "-".into()
            } else {
                subtypes.join(" ")
            },
            if k.controllers.is_empty() {
                "-".into()
            } else {
                k.controllers.join(" ")
            },
            k.circuits,
            k.confidence
        );
    }
    Ok(())
}

async fn detect(catalogue: &Catalogue, tcp: &str, unit: u8, json: bool) -> anyhow::Result<()> {
    let Some((host, port)) = tcp.rsplit_once(':') else {
        bail!("--tcp: expected HOST:PORT, found {tcp:?}");
    };
    let port: u16 = port
        .parse()
        .with_context(|| format!("--tcp: bad port in {tcp:?}"))?;
    let report = detect_on(catalogue, BusKind::Tcp(TcpSettings::new(host, port)), unit)
        .await
        .with_context(|| format!("detect {tcp} unit {unit}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(r: &DetectReport) {
    println!(
        "key {}  version {}  controller software {}",
        r.key.as_deref().unwrap_or("unknown"),
        r.key_version.as_deref().unwrap_or("-"),
        r.software
    );
    for c in &r.compatibility {
        println!("  {:<12} {}", c.verdict.as_str(), c.detail);
    }
    for s in &r.sensors {
        let value = s.value.map_or("not connected".to_string(), |v| {
            format!("{v:.2} {}", s.unit)
        });
        println!(
            "  {:<4} {:<32} {value}",
            s.input,
            s.meaning.as_deref().unwrap_or("-")
        );
    }
}
