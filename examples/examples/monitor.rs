//! `monitor`: monitors a site described by a site file (the same file `meter-server`
//! simulates; see `examples::site`): polls the Modbus devices and M-Bus meters, stores each
//! value at its recording interval in the embedded SQLite store, evaluates alarms (catalogue
//! templates, offline alarms, the site's rules file), delivers notifications and serves
//! values and alarms over OPC UA. The composition is `examples::gateway`; this binary parses
//! arguments, sets up logging and shows progress.
//!
//! ```text
//! cargo run --example meter-server &            # the demo site on loopback
//! cargo run --example monitor -- run            # monitor the built-in demo site
//! cargo run --example monitor -- run --site plant.toml --for 60
//! ```
//!
//! Logs go to stderr through `tracing` (`RUST_LOG=info`, default `warn`). On a terminal the
//! status of the last cycle is shown on one updated line; otherwise each cycle prints one
//! plain line. Ctrl-C or SIGTERM stop it after the cycle in progress (every cycle's samples
//! are committed when written).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use examples::gateway::{CycleStatus, Monitor, MonitorOptions};
use examples::site::Site;

#[derive(Parser, Debug)]
#[command(
    name = "monitor",
    about = "Monitor a site: poll, store, alarms, notifications, OPC UA"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the monitor until Ctrl-C / SIGTERM (or `--for`).
    Run(RunArgs),
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The site file (default: the built-in demo site).
    #[arg(long, value_name = "FILE")]
    site: Option<PathBuf>,
    /// Stop after this many seconds.
    #[arg(long = "for", value_name = "SECONDS")]
    for_seconds: Option<u64>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("monitor: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match args.command {
        Command::Run(run_args) => rt.block_on(run(run_args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("monitor: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let site = match &args.site {
        Some(path) => Site::load(path)?,
        None => Site::demo()?,
    };
    println!(
        "monitor: site {:?} from {}",
        site.site.name,
        site.file.display()
    );
    let mut monitor = Monitor::start(&site, MonitorOptions::default()).await?;
    println!("monitor: store {}", site.store_path().display());
    match monitor.opcua_endpoint() {
        Some(url) => println!("monitor: OPC UA at {url}"),
        None => println!("monitor: OPC UA off (no [opcua] section)"),
    }
    println!(
        "monitor: live every {}, recording every {}",
        humantime::format_duration(monitor.live()),
        humantime::format_duration(site.poll.record)
    );
    println!("monitor: running");

    let stop = async {
        let timer = async {
            match args.for_seconds {
                Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = timer => {}
            _ = tokio::signal::ctrl_c() => {}
            () = sigterm() => {}
        }
    };
    let terminal = std::io::stdout().is_terminal();
    monitor
        .run(stop, |s: &CycleStatus| {
            let mut out = std::io::stdout().lock();
            // a closed stdout is not a reason to stop monitoring
            let _ = if terminal {
                write!(out, "\r\x1b[2K{}", s.line()).and_then(|()| out.flush())
            } else {
                writeln!(out, "{}", s.line())
            };
        })
        .await;
    if terminal {
        println!();
    }
    monitor.shutdown().await?;
    println!("monitor: stopped");
    Ok(())
}

#[cfg(unix)]
async fn sigterm() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn sigterm() {
    std::future::pending().await
}
