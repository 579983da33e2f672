//! Serve simulated catalogue products until killed (or Ctrl-C, or `--for SECONDS`).
//!
//! ```text
//! cargo run --example modbus-sim -- --listen HOST:PORT --device UNIT=REFERENCE [--device ...]
//!     [--rtu-over-tcp HOST:PORT] [--serial PATH [--baud N] [--parity even|odd|none]]
//!     [--tls CERT,KEY[,CA]] [--catalogue FILE] [--for SECONDS]
//! ```
//!
//! With `--tls`, the `--listen` address serves Modbus/TCP Security (TLS) instead of plain
//! Modbus/TCP: CERT is the server's certificate chain and KEY its private key (PEM files);
//! with CA, clients must present a certificate signed by it (a client whose certificate
//! carries the role `read-only` may read but not write).
//!
//! Every device is a product of the built-in catalogue (plus `--catalogue` files) behind its
//! unit id, with values driven by the simulator's physics on the real clock. One line on
//! stdout says what is served, e.g.
//! `modbus-sim: serving unit 1 = ECR380D, unit 2 = SDM630 on Modbus/TCP 127.0.0.1:1502`.
//! Errors are printed on one line on stderr with exit status 1.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use modbus_devices::Catalogue;
use modbus_devices::poll::tls::ServerTlsConfig;
use modbus_devices::sim::{Parity, SerialSettings, SimClock, Simulator, StopBits};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ParityArg {
    None,
    Even,
    Odd,
}

#[derive(Debug, Parser)]
#[command(
    name = "modbus-sim",
    about = "Serve simulated catalogue products over Modbus/TCP, RTU over TCP and RTU"
)]
struct Args {
    /// Modbus/TCP listen address, HOST:PORT (port 0 picks a free one).
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// A simulated device: unit id and product reference, e.g. 1=ECR380D (repeatable).
    #[arg(long = "device", value_name = "UNIT=REFERENCE", required = true, value_parser = parse_device)]
    devices: Vec<(u8, String)>,
    /// Also serve RTU framing over TCP (serial-gateway mode) at HOST:PORT.
    #[arg(long = "rtu-over-tcp", value_name = "HOST:PORT")]
    rtu_over_tcp: Option<String>,
    /// Also serve Modbus RTU on this serial port or pseudo-terminal.
    #[arg(long, value_name = "PATH")]
    serial: Option<PathBuf>,
    /// Serial baud rate.
    #[arg(long, default_value_t = 19_200, value_name = "BD")]
    baud: u32,
    /// Serial parity (2 stop bits with none, 1 otherwise).
    #[arg(long, value_enum, default_value_t = ParityArg::Even)]
    parity: ParityArg,
    /// Serve --listen as Modbus/TCP Security: server certificate chain, private key and,
    /// to require client certificates, the CA that signs them (PEM files).
    #[arg(long, value_name = "CERT,KEY[,CA]", value_parser = parse_tls)]
    tls: Option<TlsFiles>,
    /// Extra catalogue files (TOML) with custom products.
    #[arg(long, value_name = "FILE")]
    catalogue: Vec<PathBuf>,
    /// Stop after this many seconds instead of running until killed.
    #[arg(long = "for", value_name = "SECONDS")]
    for_seconds: Option<f64>,
}

/// The PEM files of `--tls`.
#[derive(Debug, Clone)]
struct TlsFiles {
    cert: PathBuf,
    key: PathBuf,
    ca: Option<PathBuf>,
}

fn parse_tls(s: &str) -> Result<TlsFiles, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    match parts.as_slice() {
        [cert, key] | [cert, key, _] if !cert.is_empty() && !key.is_empty() => Ok(TlsFiles {
            cert: cert.into(),
            key: key.into(),
            ca: parts.get(2).filter(|c| !c.is_empty()).map(PathBuf::from),
        }),
        _ => Err(format!(
            "expected CERT,KEY or CERT,KEY,CA (PEM files), found {s:?}"
        )),
    }
}

fn parse_device(s: &str) -> Result<(u8, String), String> {
    let (unit, reference) = s
        .split_once('=')
        .ok_or_else(|| format!("expected UNIT=REFERENCE, found {s:?}"))?;
    let unit: u8 = unit
        .trim()
        .parse()
        .map_err(|_| format!("unit id must be a number 1..=255, found {unit:?}"))?;
    if unit == 0 {
        return Err("unit id must be 1..=255 (0 is the broadcast address)".into());
    }
    let reference = reference.trim();
    if reference.is_empty() {
        return Err(format!("expected UNIT=REFERENCE, found {s:?}"));
    }
    Ok((unit, reference.to_string()))
}

async fn run(args: Args) -> anyhow::Result<()> {
    if args.tls.is_some() && args.listen.is_none() {
        bail!("--tls needs --listen HOST:PORT (the address served with TLS)");
    }
    if args.listen.is_none() && args.rtu_over_tcp.is_none() && args.serial.is_none() {
        bail!(
            "nothing to serve on: give --listen HOST:PORT, --rtu-over-tcp HOST:PORT or --serial PATH"
        );
    }
    let mut catalogue = Catalogue::builtin().context("built-in catalogue")?;
    for file in &args.catalogue {
        catalogue.load_file(file)?;
    }
    let sim = Simulator::new(SimClock::real());
    for (unit, reference) in &args.devices {
        let product = catalogue
            .require(reference)
            .with_context(|| format!("--device {unit}={reference}"))?;
        sim.add_device(*unit, product.clone())
            .with_context(|| format!("--device {unit}={reference}"))?;
    }

    let mut handles = Vec::new();
    match (&args.listen, &args.tls) {
        (Some(addr), Some(files)) => {
            let mut config = ServerTlsConfig::from_files(&files.cert, &files.key)
                .context("--tls certificate and key")?;
            if let Some(ca) = &files.ca {
                config = config
                    .require_client_certs_from_files(ca)
                    .context("--tls client CA")?;
            }
            let config = config.build().context("--tls")?;
            let (_, h) = sim.serve_tls(addr.as_str(), config).await?;
            handles.push(h);
        }
        (Some(addr), None) => {
            let (_, h) = sim.serve_tcp(addr.as_str()).await?;
            handles.push(h);
        }
        (None, _) => {}
    }
    if let Some(addr) = &args.rtu_over_tcp {
        let (_, h) = sim.serve_rtu_over_tcp(addr.as_str()).await?;
        handles.push(h);
    }
    if let Some(path) = &args.serial {
        let settings = SerialSettings {
            baud_rate: args.baud,
            parity: match args.parity {
                ParityArg::None => Parity::None,
                ParityArg::Even => Parity::Even,
                ParityArg::Odd => Parity::Odd,
            },
            stop_bits: if args.parity == ParityArg::None {
                StopBits::Two
            } else {
                StopBits::One
            },
            ..SerialSettings::default()
        };
        handles.push(sim.serve_rtu(path, &settings).await?);
    }

    let units: Vec<String> = sim
        .units()
        .iter()
        .map(|(u, r)| format!("unit {u} = {r}"))
        .collect();
    let on: Vec<&str> = handles.iter().map(|h| h.description()).collect();
    println!(
        "modbus-sim: serving {} on {}",
        units.join(", "),
        on.join(", ")
    );

    let run_for = args
        .for_seconds
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64);
    examples::cli::stop_requested(run_for).await;
    for h in handles {
        h.stop().await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    examples::cli::init_logging("warn");
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("modbus-sim: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
