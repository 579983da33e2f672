//! Read every service of one Modbus/TCP device once.
//!
//! ```text
//! cargo run --example modbus-read -- --tcp HOST:PORT --unit N --product REFERENCE [--identify] [--json]
//! ```
//!
//! Human output is a table; `--json` prints the document described in
//! `examples::read_json`. Exits 1 with a one-line error only when nothing at all could be
//! read (every service failed), or when the arguments are wrong.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;
use examples::read_json;
use modbus_devices::catalogue::Refresh;
use modbus_devices::device::{
    Bus, BusKind, DeviceAddress, DeviceInstance, Installation, TcpSettings,
};
use modbus_devices::poll::{Identification, Poller};
use modbus_devices::{Catalogue, Product, Quality, Reading, Value};

#[derive(Debug, Parser)]
#[command(
    name = "modbus-read",
    about = "Read every service of one Modbus/TCP device once"
)]
struct Args {
    /// The device's Modbus/TCP endpoint, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    tcp: String,
    /// Modbus unit id (0..=255).
    #[arg(long, value_name = "N")]
    unit: u8,
    /// Product reference from the catalogue (e.g. ECR380D).
    #[arg(long, value_name = "REFERENCE")]
    product: String,
    /// Also read the product's signature and report whether it matches.
    #[arg(long)]
    identify: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Extra catalogue files (TOML) with custom products.
    #[arg(long, value_name = "FILE")]
    catalogue: Vec<PathBuf>,
    /// Response timeout in milliseconds (250..=10000).
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Retries after the first try.
    #[arg(long, default_value_t = 1)]
    retries: u8,
}

fn split_endpoint(s: &str) -> anyhow::Result<(String, u16)> {
    let (host, port) = s
        .rsplit_once(':')
        .with_context(|| format!("--tcp: expected HOST:PORT, found {s:?}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        bail!("--tcp: expected HOST:PORT, found an empty host in {s:?}");
    }
    let port: u16 = port
        .parse()
        .with_context(|| format!("--tcp: expected a port 1..=65535, found {port:?}"))?;
    Ok((host.to_string(), port))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mut catalogue = Catalogue::builtin()?;
    for f in &args.catalogue {
        catalogue.load_file(f)?;
    }
    let name = "device";
    let site = installation(&args, &catalogue, name)?;
    let poller = Poller::new(&site, &catalogue)?;
    let product = poller.product(name)?.clone();

    let identification = if args.identify {
        Some(poller.identify(name).await?)
    } else {
        None
    };
    let readings = poller.poll_device(name).await?;
    poller.shutdown().await;

    if !read_json::anything_read(&readings) {
        let why = poller
            .stats()
            .device(name)
            .and_then(|d| d.last_error.clone());
        match why {
            Some(e) => bail!(
                "nothing could be read from unit {} at {}: {e}",
                args.unit,
                args.tcp
            ),
            None => bail!(
                "nothing could be read from unit {} at {} (product {} has no readable service)",
                args.unit,
                args.tcp,
                args.product
            ),
        }
    }

    if args.json {
        let doc = read_json::document(&product, &readings, identification.as_ref());
        let mut out = serde_json::to_string_pretty(&doc)?;
        out.push('\n');
        return write_stdout(&out);
    }
    write_stdout(&table(&product, &readings, identification.as_ref())?)
}

/// One TCP bus with the one device `name`, which reads every readable service of its
/// product whatever its refresh class (an explicit list, read as it is).
fn installation(args: &Args, catalogue: &Catalogue, name: &str) -> anyhow::Result<Installation> {
    let (host, port) = split_endpoint(&args.tcp)?;
    let mut tcp = TcpSettings::new(host, port);
    tcp.timeout_ms = args.timeout_ms;
    tcp.retries = args.retries;
    let mut site = Installation::default();
    site.add_bus(Bus {
        name: "tcp".into(),
        kind: BusKind::Tcp(tcp),
    })?;
    let mut device = DeviceInstance::new(
        name,
        args.product.clone(),
        "tcp",
        DeviceAddress::Unit(args.unit),
    );
    device.services = Some(
        catalogue
            .require(&args.product)?
            .services_refreshed(&Refresh::ALL)
            .map(|s| s.id.clone())
            .collect(),
    );
    site.add_device(device)?;
    Ok(site)
}

/// The human table: identification, then service, name, value and unit per reading.
fn table(
    product: &Product,
    readings: &[Reading],
    identification: Option<&Identification>,
) -> anyhow::Result<String> {
    let mut out = String::new();
    if let Some(id) = identification {
        writeln!(out, "identification: {} - {}\n", id.status(), id.detail())?;
    }
    let rows: Vec<[String; 4]> = readings
        .iter()
        .map(|r| {
            let s = product.service(&r.service);
            let value = match (&r.value, r.quality) {
                (Some(Value::Number(v)), _) => read_json::tidy(*v).to_string(),
                (Some(v), _) => v.to_string(),
                (None, Quality::Good | Quality::NotAvailable) => "not available".into(),
                (None, Quality::NoAnswer) => "no answer".into(),
                (None, Quality::Invalid) => "invalid".into(),
            };
            [
                r.service.clone(),
                s.map_or(String::new(), |s| s.name.clone()),
                value,
                r.unit.symbol().to_string(),
            ]
        })
        .collect();
    let headers = ["service", "name", "value", "unit"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([headers[i].len()])
            .max()
            .unwrap_or(0)
    };
    let w = [width(0), width(1), width(2), width(3)];
    let mut line = |c: [&str; 4]| {
        writeln!(
            out,
            "{:<a$}  {:<b$}  {:>c$}  {}",
            c[0],
            c[1],
            c[2],
            c[3],
            a = w[0],
            b = w[1],
            c = w[2]
        )
    };
    line(headers)?;
    line([
        "-".repeat(w[0]).as_str(),
        "-".repeat(w[1]).as_str(),
        "-".repeat(w[2]).as_str(),
        "----",
    ])?;
    for r in &rows {
        line([r[0].as_str(), r[1].as_str(), r[2].as_str(), r[3].as_str()])?;
    }
    Ok(out)
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("modbus-read: error: {msg}");
            ExitCode::FAILURE
        }
    }
}
