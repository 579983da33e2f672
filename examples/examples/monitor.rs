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
//! cargo run --example monitor -- catalogue list [--site plant.toml] [--json]
//! cargo run --example monitor -- catalogue validate my-products.toml
//! cargo run --example monitor -- report --site plant.toml --kind energy-consumption --period yesterday
//! cargo run --example monitor -- commissioning-report --site plant.toml [--out DIR]
//! cargo run --example monitor -- publish --now NAME [--site plant.toml]
//! ```
//!
//! `report` (kinds standard, detailed, energy-consumption; named periods of
//! `reports::report::Period` such as yesterday, this-month, last-quarter) reads the site's
//! store and writes a CSV and a chart PNG into the site's `[output] dir` (or `--out DIR`),
//! which keeps the last 7 reports; it prints the two paths (`examples::gateway::report`).
//! A report over more than two days shows a spinner on a terminal while it is built.
//!
//! `run` also runs the site's `[[report]]` entries on their schedule and copies them to the
//! `[[publication]]` folders (`examples::gateway::schedule`); the cycle line after a run
//! ends with `; report NAME written: FILE`.
//!
//! `run` also sends the `[[publication]]` folders that have a `[publication.destination]`
//! (folder, FTP/FTPS, SFTP, SCP) on their `schedule`, or after their reports were written
//! (`examples::gateway::publish`); a failed run leaves the files waiting and is tried again
//! later with backoff. `publish --now NAME` sends one publication's folder at once, prints
//! one line per attempt and the result, and exits with status 1 when it failed (every
//! attempt is also in the publication's attempt log, default `[output] dir/publications.jsonl`).
//!
//! `commissioning-report` connects to every device of the site once (ECL detection, one
//! poll, one M-Bus readout per meter), writes `commissioning_TIME.csv` (device, parameter,
//! value: product, address, answered, serial/firmware where the product has them, ECL key
//! detected vs configured and firmware verdicts, M-Bus id and manufacturer, every value
//! with its unit) and a `.txt` summary into `[output] dir/commissioning/` (or `--out DIR`;
//! the last 7 kept), prints the summary and the two paths, and exits with status 1 when a
//! device did not answer (2 for other errors), so a script can tell a finished
//! commissioning from one with silent devices.
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
    /// Scan the Modbus and M-Bus buses of the site (or one bus) and compare with the file.
    Scan(ScanArgs),
    /// The catalogue: list the site's products, or validate a catalogue file.
    #[command(subcommand)]
    Catalogue(CatalogueCommand),
    /// Write a report of the site's store (CSV + chart PNG) into the output archive.
    Report(ReportArgs),
    /// Connect to every device once and write the commissioning report (CSV + summary);
    /// exit status 1 when a device did not answer.
    CommissioningReport(CommissioningArgs),
    /// Send a `[[publication]]`'s folder to its destination at once; exit status 1 when
    /// the delivery failed.
    Publish(PublishArgs),
}

#[derive(clap::Args, Debug)]
struct PublishArgs {
    /// The publication to send now (its `name`).
    #[arg(long, value_name = "NAME")]
    now: String,
    /// The site file (default: the built-in demo site).
    #[arg(long, value_name = "FILE")]
    site: Option<PathBuf>,
}

/// `monitor publish --now NAME`: one run, one line per attempt, then the result line.
fn publish(args: PublishArgs) -> anyhow::Result<bool> {
    use examples::gateway::publish::{attempt_line, publish_now};
    let site = match &args.site {
        Some(path) => Site::load(path)?,
        None => Site::demo()?,
    };
    let run = publish_now(&site, &args.now, chrono::Utc::now())?;
    let mut text = String::new();
    if run.files.is_empty() {
        text.push_str(&format!(
            "publication {}: no file in its folder yet, nothing sent\n",
            run.publication
        ));
    }
    for a in &run.attempts {
        text.push_str(&attempt_line(a, site.time_zone()));
        text.push('\n');
    }
    text.push_str(&run.line());
    text.push('\n');
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    Ok(run.result.is_ok())
}

#[derive(clap::Args, Debug)]
struct CommissioningArgs {
    /// The site file (default: the built-in demo site).
    #[arg(long, value_name = "FILE")]
    site: Option<PathBuf>,
    /// Output directory (default: `[output] dir`/commissioning).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// A progress bar on stderr when it is a terminal (`None` otherwise).
fn bar(len: u64, prefix: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let b = if len == 0 {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::new(len)
    };
    let template = if len == 0 {
        "{prefix} {spinner} {msg} ({elapsed})"
    } else {
        "{prefix} {bar:30} {pos}/{len} {msg}"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        b.set_style(style);
    }
    b.set_prefix(prefix.to_string());
    if len == 0 {
        b.enable_steady_tick(Duration::from_millis(120));
    }
    Some(b)
}

/// `monitor commissioning-report`: the report, its files, and whether every device answered.
async fn commissioning(args: CommissioningArgs) -> anyhow::Result<bool> {
    use examples::gateway::report::commissioning;
    let site = match &args.site {
        Some(path) => Site::load(path)?,
        None => Site::demo()?,
    };
    let progress = bar(0, "commissioning");
    let report = commissioning(&site, |done, total, step| match &progress {
        Some(b) => {
            b.set_length(total as u64);
            b.set_position(done as u64);
            b.set_message(step.to_string());
        }
        None => eprintln!("commissioning: {done}/{total} {step}"),
    })
    .await?;
    if let Some(b) = progress {
        b.finish_and_clear();
    }
    let dir = args
        .out
        .unwrap_or_else(|| site.output_dir().join("commissioning"));
    let (csv, txt) = report.write(&dir, site.time_zone())?;
    let mut text = report.summary(site.time_zone());
    text.push_str(&format!("\n{}\n{}\n", csv.display(), txt.display()));
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    let silent = report.silent();
    if !silent.is_empty() {
        eprintln!("monitor: no answer from {}", silent.join(", "));
    }
    Ok(silent.is_empty())
}

#[derive(clap::Args, Debug)]
struct ReportArgs {
    /// The site file (default: the built-in demo site).
    #[arg(long, value_name = "FILE")]
    site: Option<PathBuf>,
    /// standard, detailed or energy-consumption.
    #[arg(long, value_name = "KIND")]
    kind: String,
    /// today, yesterday, this-week, last-week, this-month, last-month, this-quarter,
    /// last-quarter, this-year or last-year (in the site's time zone).
    #[arg(long, value_name = "PERIOD")]
    period: String,
    /// Output directory (default: the site's `[output] dir`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// `monitor report`: one report run, printing the files written.
fn report(args: ReportArgs) -> anyhow::Result<()> {
    use examples::gateway::report::{ReportRequest, run_report};
    let request = ReportRequest::parse(&args.kind, &args.period)?;
    let site = match &args.site {
        Some(path) => Site::load(path)?,
        None => Site::demo()?,
    };
    // a report over more than two days may take a while: a spinner on a terminal
    let now = chrono::Utc::now();
    let (from, to) = request.period.resolve(now, site.time_zone());
    let spinner = if (to - from).num_days() > 2 {
        bar(0, "report")
    } else {
        None
    };
    if let Some(b) = &spinner {
        b.set_message(format!("{} {}", args.kind, args.period));
    }
    let written = run_report(&site, &request, args.out.as_deref(), now);
    if let Some(b) = spinner {
        b.finish_and_clear();
    }
    let written = written?;
    println!("{}", written.csv.display());
    println!("{}", written.chart.display());
    Ok(())
}

#[derive(Subcommand, Debug)]
enum CatalogueCommand {
    /// The built-in products plus the site's `[catalogue] files`.
    List {
        /// The site file (default: the built-in demo site).
        #[arg(long, value_name = "FILE")]
        site: Option<PathBuf>,
        /// Print the JSON listing (`examples::catalogue_json`) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Load a catalogue TOML file (beside the built-in products) and list what it defines.
    Validate {
        /// The catalogue file.
        file: PathBuf,
    },
}

/// `monitor catalogue list|validate`.
fn catalogue(command: CatalogueCommand) -> anyhow::Result<()> {
    use examples::catalogue_json::{listing, summary_table};
    let text = match command {
        CatalogueCommand::List { site, json } => {
            let site = match &site {
                Some(path) => Site::load(path)?,
                None => Site::demo()?,
            };
            if json {
                serde_json::to_string_pretty(&listing(site.catalogue()))? + "\n"
            } else {
                summary_table(site.catalogue().products())
            }
        }
        CatalogueCommand::Validate { file } => {
            let mut catalogue = modbus_devices::Catalogue::builtin()?;
            let added = catalogue.load_file(&file)?;
            let products = added.iter().filter_map(|r| catalogue.get(r));
            format!(
                "{}: {} product(s)\n{}",
                file.display(),
                added.len(),
                summary_table(products)
            )
        }
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

#[derive(clap::Args, Debug)]
struct ScanArgs {
    /// The site file (default: the built-in demo site).
    #[arg(long, value_name = "FILE")]
    site: Option<PathBuf>,
    /// Only this bus: a `[[bus]]` / `[[mbus_bus]]` name of the site, or an address scanned
    /// without a site file: tcp:HOST:PORT, rtu-over-tcp:HOST:PORT, tls:HOST:PORT, mbus:HOST:PORT.
    #[arg(long, value_name = "NAME|ADDRESS")]
    bus: Option<String>,
    /// Modbus unit ids to probe.
    #[arg(long, value_name = "FIRST-LAST", default_value = "1-247", value_parser = parse_units)]
    units: std::ops::RangeInclusive<u8>,
    /// M-Bus primary addresses to probe.
    #[arg(long, value_name = "FIRST-LAST", default_value = "0-250", value_parser = parse_units)]
    primary: std::ops::RangeInclusive<u8>,
    /// Per-unit Modbus response timeout in milliseconds (20..=10000).
    #[arg(long, value_name = "MS", default_value_t = 250)]
    timeout_ms: u64,
    /// Skip the M-Bus wildcard secondary search.
    #[arg(long)]
    no_secondary: bool,
    /// Print the report as JSON on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

/// `1-247` (or a single `5`) as an inclusive range.
fn parse_units(s: &str) -> Result<std::ops::RangeInclusive<u8>, String> {
    let number = |t: &str| {
        t.trim()
            .parse::<u8>()
            .map_err(|_| format!("expected FIRST-LAST with numbers 0..=255, found {s:?}"))
    };
    let (first, last) = match s.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => (number(s)?, number(s)?),
    };
    if first > last {
        return Err(format!("{s:?}: the first address is after the last"));
    }
    Ok(first..=last)
}

/// Scans, prints the report (table or JSON), and fails when an expected device is missing or
/// different or a bus could not be scanned.
async fn scan(args: ScanArgs) -> anyhow::Result<()> {
    use examples::scan::{EntryStatus, ProgressDisplay, ScanOptions, scan_address, scan_site};
    let options = ScanOptions {
        units: args.units.clone(),
        timeout: Duration::from_millis(args.timeout_ms),
        primary: args.primary.clone(),
        secondary: !args.no_secondary,
        ..ScanOptions::default()
    };
    let mut display = ProgressDisplay::new();
    // `--bus KIND:HOST:PORT` scans that one address; a plain name is a bus of the site.
    let is_address = args.bus.as_deref().is_some_and(|b| b.contains(':'));
    let report = if is_address && args.site.is_none() {
        let address = args.bus.as_deref().unwrap_or_default();
        let catalogue = modbus_devices::Catalogue::builtin()?;
        scan_address(address, &catalogue, &options, |p| display.show(p)).await?
    } else {
        let site = match &args.site {
            Some(path) => Site::load(path)?,
            None => Site::demo()?,
        };
        let options = ScanOptions {
            bus: args.bus.clone(),
            ..options
        };
        scan_site(&site, &options, |p| display.show(p)).await?
    };
    display.finish();
    let text = if args.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        report.table()
    };
    // A reader that stops early (`| head`) is not an error.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    let wrong = report
        .entries
        .iter()
        .filter(|e| matches!(e.status, EntryStatus::Missing | EntryStatus::Mismatch))
        .count();
    let failed = report.buses.iter().filter(|b| b.error.is_some()).count();
    if wrong > 0 || failed > 0 {
        anyhow::bail!(
            "{wrong} expected device(s) missing or different, {failed} bus(es) not scanned"
        );
    }
    Ok(())
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
    examples::cli::init_logging("warn");
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
        Command::Scan(scan_args) => rt.block_on(scan(scan_args)),
        Command::Catalogue(command) => catalogue(command),
        Command::Report(report_args) => report(report_args),
        Command::Publish(args) => {
            return match publish(args) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("monitor: {e:#}");
                    ExitCode::from(2)
                }
            };
        }
        Command::CommissioningReport(args) => {
            return match rt.block_on(commissioning(args)) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("monitor: {e:#}");
                    ExitCode::from(2)
                }
            };
        }
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

    let stop = examples::cli::stop_requested(args.for_seconds.map(Duration::from_secs));
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
