//! A Modbus gateway: Modbus/TCP (or Modbus/TCP Security) clients reach devices on RTU
//! serial lines, RTU-over-TCP serial servers and Modbus/TCP devices, chosen by unit id.
//!
//! ```text
//! cargo run --example modbus-gateway -- --listen HOST:PORT [--tls CERT,KEY[,CA]]
//!     (--serial PATH[:BAUD[:PARITY]] | --rtu-over-tcp HOST:PORT | --tcp HOST:PORT)...
//!     [--route UNITS=BUS]... [--cache-ms N]
//! ```
//!
//! Buses are numbered from 0 in the order given (whatever their kind). `--route UNITS=BUS`
//! sends the units `N` or `N-M` to bus `BUS` (`UNITS=BUS@U` also renumbers: the range's
//! first unit becomes `U` downstream); without `--route` every unit goes to bus 0. A serial
//! line defaults to 19 200 Bd, even parity (PARITY is `N`, `E` or `O`). `--cache-ms N`
//! serves repeated reads from a cache for up to N ms (writes invalidate what they touch).
//! With `--tls`, CERT and KEY are the server's PEM certificate chain and key; with CA,
//! clients must present a certificate it signs, and a client whose certificate carries the
//! role `read-only` gets exception 01 on writes.
//!
//! The first line on stdout says where it listens, e.g.
//! `modbus-gateway: listening on 127.0.0.1:1502 (Modbus/TCP), 2 buses`. It runs until
//! killed (SIGTERM, SIGINT or Ctrl-C) and then prints its statistics per client and per bus
//! (JSON) on stdout. Forwarded writes are logged on stderr (`RUST_LOG=info`). Errors are
//! printed on one line on stderr with exit status 1.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{CommandFactory, FromArgMatches, Parser};
use modbus_devices::device::{Bus, BusKind, Parity, RtuSettings, TcpSettings};
use modbus_devices::gateway::{CacheConfig, Gateway, GatewayConfig, Route, RoutingTable};
use modbus_devices::poll::tls::ServerTlsConfig;

#[derive(Debug, Parser)]
#[command(
    name = "modbus-gateway",
    about = "Serve Modbus/TCP (or TLS) clients from RTU and TCP buses, by unit id"
)]
struct Args {
    /// Modbus/TCP listen address, HOST:PORT (port 0 picks a free one).
    #[arg(long, value_name = "HOST:PORT")]
    listen: String,
    /// Serve Modbus/TCP Security: server certificate chain, private key and, to require
    /// client certificates, the CA that signs them (PEM files).
    #[arg(long, value_name = "CERT,KEY[,CA]")]
    tls: Option<String>,
    /// An RTU serial line (or pseudo-terminal): PATH[:BAUD[:PARITY]], PARITY N, E or O.
    #[arg(long, value_name = "PATH[:BAUD[:PARITY]]")]
    serial: Vec<String>,
    /// A serial server speaking RTU framing over TCP.
    #[arg(long = "rtu-over-tcp", value_name = "HOST:PORT")]
    rtu_over_tcp: Vec<String>,
    /// A downstream Modbus/TCP device or gateway.
    #[arg(long, value_name = "HOST:PORT")]
    tcp: Vec<String>,
    /// Units to a bus: N=BUS or N-M=BUS (optionally @U to renumber), repeatable.
    #[arg(long = "route", value_name = "UNITS=BUS")]
    routes: Vec<String>,
    /// Serve repeated reads from a cache for up to N ms.
    #[arg(long = "cache-ms", value_name = "N")]
    cache_ms: Option<u64>,
}

fn host_port(s: &str, what: &str) -> anyhow::Result<TcpSettings> {
    let (host, port) = s
        .rsplit_once(':')
        .with_context(|| format!("{what}: expected HOST:PORT, found {s:?}"))?;
    let port: u16 = port
        .parse()
        .with_context(|| format!("{what}: expected a port number, found {port:?} in {s:?}"))?;
    Ok(TcpSettings::new(host.trim_matches(['[', ']']), port))
}

fn serial(s: &str) -> anyhow::Result<RtuSettings> {
    let mut parts = s.split(':');
    let path = parts.next().filter(|p| !p.is_empty());
    let Some(path) = path else {
        bail!("--serial: expected PATH[:BAUD[:PARITY]], found {s:?}");
    };
    let mut line = RtuSettings::new(PathBuf::from(path));
    if let Some(baud) = parts.next() {
        line.baud = baud
            .parse()
            .with_context(|| format!("--serial: expected a baud rate, found {baud:?} in {s:?}"))?;
    }
    if let Some(parity) = parts.next() {
        line.parity = match parity.to_ascii_uppercase().as_str() {
            "N" | "NONE" => Parity::None,
            "E" | "EVEN" => Parity::Even,
            "O" | "ODD" => Parity::Odd,
            _ => bail!("--serial: expected parity N, E or O, found {parity:?} in {s:?}"),
        };
    }
    if let Some(extra) = parts.next() {
        bail!("--serial: unexpected {extra:?} after PATH:BAUD:PARITY in {s:?}");
    }
    line.validate().with_context(|| format!("--serial {s}"))?;
    Ok(line)
}

/// The buses in command-line order, whatever their kind.
fn buses(args: &Args, matches: &clap::ArgMatches) -> anyhow::Result<Vec<Bus>> {
    let mut given: Vec<(usize, BusKind)> = Vec::new();
    let indices = |id: &str| -> Vec<usize> {
        matches
            .indices_of(id)
            .map(Iterator::collect)
            .unwrap_or_default()
    };
    for (i, s) in indices("serial").into_iter().zip(&args.serial) {
        given.push((i, BusKind::Rtu(serial(s)?)));
    }
    for (i, s) in indices("rtu_over_tcp").into_iter().zip(&args.rtu_over_tcp) {
        given.push((i, BusKind::RtuOverTcp(host_port(s, "--rtu-over-tcp")?)));
    }
    for (i, s) in indices("tcp").into_iter().zip(&args.tcp) {
        given.push((i, BusKind::Tcp(host_port(s, "--tcp")?)));
    }
    if given.is_empty() {
        bail!("no downstream bus: give at least one --serial, --rtu-over-tcp or --tcp");
    }
    given.sort_by_key(|(i, _)| *i);
    Ok(given
        .into_iter()
        .enumerate()
        .map(|(n, (_, kind))| Bus {
            name: format!("bus{n}"),
            kind,
        })
        .collect())
}

fn config(args: &Args, matches: &clap::ArgMatches) -> anyhow::Result<GatewayConfig> {
    let mut config = GatewayConfig::new(buses(args, matches)?);
    config.routes = RoutingTable {
        routes: args
            .routes
            .iter()
            .map(|r| RoutingTable::parse_route(r))
            .collect::<Result<Vec<Route>, _>>()?,
    };
    if let Some(ms) = args.cache_ms {
        config.cache = CacheConfig::all(ms);
    }
    Ok(config)
}

async fn run(args: Args, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    let config = config(&args, matches)?;
    let buses = config.buses.len();
    let gateway = Gateway::start(config)?;
    let (addr, server, what) = match &args.tls {
        None => {
            let (a, s) = gateway.serve_tcp(args.listen.as_str()).await?;
            (a, s, "Modbus/TCP")
        }
        Some(files) => {
            let parts: Vec<&str> = files.split(',').map(str::trim).collect();
            let (cert, key, ca) = match parts.as_slice() {
                [c, k] if !c.is_empty() && !k.is_empty() => (*c, *k, None),
                [c, k, ca] if !c.is_empty() && !k.is_empty() => (*c, *k, Some(*ca)),
                _ => bail!("--tls: expected CERT,KEY or CERT,KEY,CA (PEM files), found {files:?}"),
            };
            let mut tls = ServerTlsConfig::from_files(cert, key)?;
            if let Some(ca) = ca {
                tls = tls.require_client_certs_from_files(ca)?;
            }
            let (a, s) = gateway
                .serve_tls(args.listen.as_str(), tls.build()?)
                .await?;
            (a, s, "Modbus/TCP Security")
        }
    };
    println!("modbus-gateway: listening on {addr} ({what}), {buses} buses");
    examples::cli::stop_requested(None).await;
    server.stop().await;
    println!("modbus-gateway: statistics");
    println!("{}", serde_json::to_string_pretty(&gateway.stats())?);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    examples::cli::init_logging("warn");
    let matches = Args::command().get_matches();
    let args = match Args::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    match run(args, &matches).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("modbus-gateway: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
