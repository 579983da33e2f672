//! An OPC UA server with a demo site: `N` meter points with engineering units changing every
//! second, grouped into devices in areas, and one writable setpoint per device.
//!
//! ```text
//! cargo run --example opcua-demo -- --listen 127.0.0.1:PORT --points N --user NAME:PASSWORD
//!     [--operator NAME:PASSWORD] [--allow-anonymous] [--pki DIR] [--for SECONDS]
//! ```
//!
//! The site's layout and values are those of `examples::opcua_demo`. Endpoints: Basic256Sha256
//! and Aes128_Sha256_RsaOaep (Sign, SignAndEncrypt) and, for this demo only, None. The
//! `--user` is read-only; the `--operator` may write the setpoints (`device/t_set`, 5 to
//! 95 degC); accepted writes are logged on stderr. `--allow-anonymous` admits anonymous
//! read-only sessions. The server's certificate is created at first start in `--pki`
//! (default: `emkit-opcua-demo-pki` in the system's temporary folder); client certificates
//! are trusted only from its `trusted/` folder.
//!
//! The first line on stdout is the endpoint URL, e.g. `opc.tcp://127.0.0.1:4840/`; a
//! second line says what is served. It runs until killed (SIGTERM, SIGINT or Ctrl-C shut the
//! server down cleanly) or for `--for SECONDS`. Errors are printed on one line on stderr
//! with exit status 1.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use examples::opcua_demo::{DemoSite, MAX_POINTS, write_setpoint};
use opcua_bridge::server::{Bridge, Role, ServerConfig, WriteHandler};

#[derive(Debug, Parser)]
#[command(
    name = "opcua-demo",
    about = "Serve a demo site of N changing meter points over OPC UA"
)]
struct Args {
    /// Listen address HOST:PORT; the host is also the advertised endpoint (not 0.0.0.0).
    #[arg(long, value_name = "HOST:PORT")]
    listen: String,
    /// The number of meter points (1 to 1 000 000), 10 per device, 50 devices per area.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_POINTS as i64))]
    points: u32,
    /// The read-only user.
    #[arg(long, value_name = "NAME:PASSWORD")]
    user: String,
    /// A user who may also write the setpoints.
    #[arg(long, value_name = "NAME:PASSWORD")]
    operator: Option<String>,
    /// Accept anonymous (read-only) sessions.
    #[arg(long)]
    allow_anonymous: bool,
    /// The PKI folder (own certificate, trusted and rejected client certificates).
    #[arg(long, value_name = "DIR")]
    pki: Option<PathBuf>,
    /// Stop after this many seconds.
    #[arg(long = "for", value_name = "SECONDS")]
    run_for: Option<u64>,
}

fn credentials(s: &str, what: &str) -> anyhow::Result<(String, String)> {
    match s.split_once(':') {
        Some((name, password)) if !name.is_empty() && !password.is_empty() => {
            Ok((name.to_owned(), password.to_owned()))
        }
        _ => bail!("{what}: expected NAME:PASSWORD (both non-empty), found {s:?}"),
    }
}

fn host_port(s: &str) -> anyhow::Result<(String, u16)> {
    let (host, port) = s
        .rsplit_once(':')
        .with_context(|| format!("--listen: expected HOST:PORT, found {s:?}"))?;
    let port: u16 = port
        .parse()
        .with_context(|| format!("--listen: expected a port number, found {port:?} in {s:?}"))?;
    let host = host.trim_matches(['[', ']']);
    if host.is_empty() || host == "0.0.0.0" || host == "::" {
        bail!(
            "--listen: the host {host:?} is also the advertised endpoint: give an address clients can reach"
        );
    }
    Ok((host.to_owned(), port))
}

fn config(args: &Args) -> anyhow::Result<ServerConfig> {
    let (host, port) = host_port(&args.listen)?;
    let pki = args
        .pki
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("emkit-opcua-demo-pki"));
    let (name, password) = credentials(&args.user, "--user")?;
    let mut config = ServerConfig::new(host, port, pki).with_user(name, password, Role::ReadOnly);
    if let Some(op) = &args.operator {
        let (name, password) = credentials(op, "--operator")?;
        config = config.with_user(name, password, Role::Operator);
    }
    config.allow_none = true;
    config.allow_anonymous = args.allow_anonymous;
    config.application_name = "emkit opcua-demo".to_owned();
    Ok(config)
}

async fn run(args: Args) -> anyhow::Result<()> {
    let config = config(&args)?;
    let site = Arc::new(DemoSite::new(args.points as usize)?);
    let handler: Arc<dyn WriteHandler> = Arc::new(write_setpoint);
    let bridge = Bridge::start(config, site.tree()?, Some(handler))
        .await
        .context("starting the OPC UA server")?;
    // Every point has a value before the endpoint is announced, so a client that connects
    // at once never reads "waiting for initial data".
    let now = chrono::Utc::now();
    for batch in [site.initial_setpoints(now), site.updates(now)] {
        let report = bridge.update(batch);
        if let Some(first) = report.rejected.first() {
            bail!("the demo's first values were rejected: {first:?}");
        }
    }
    let bridge = Arc::new(bridge);
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", bridge.endpoint_url())?;
        writeln!(
            out,
            "opcua-demo: {} meter points and {} setpoints on {} devices in {} areas, namespace {}",
            site.points(),
            site.devices(),
            site.devices(),
            site.areas(),
            bridge.namespace_index()
        )?;
        out.flush()?;
    }
    let feed = examples::opcua_demo::spawn_feed(bridge.clone(), site);
    examples::cli::stop_requested(args.run_for.map(Duration::from_secs)).await;
    feed.abort();
    let _ = feed.await;
    match Arc::try_unwrap(bridge) {
        Ok(bridge) => bridge.shutdown().await,
        Err(_) => bail!("the server is still in use at shutdown"),
    }
    eprintln!("opcua-demo: stopped");
    Ok(())
}

fn main() -> ExitCode {
    examples::cli::init_logging("warn,opcua_demo=info,examples=info");
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("opcua-demo: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("opcua-demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}
