//! `demo`: the whole system in one command. Starts the built-in demo site simulated on
//! loopback (Modbus meters over TCP, RTU over TCP and TLS, two M-Bus heat meters, two ECL
//! Comfort 310 controllers) and the monitor against it in the same process, shows a compact
//! live view (key values with units, the communication state of every device, the open
//! alarms), makes one device stop answering after a while so that its offline alarm is
//! raised and then cleared, writes a first report (CSV) and its chart (PNG), and at the end
//! says where everything is. The composition is `examples::demo`.
//!
//! ```text
//! cargo run --release --example demo                    # until Ctrl-C
//! cargo run --release --example demo -- --for 60        # one minute
//! cargo run --release --example demo -- --out /tmp/demo --live 1s --fault-after 10s
//! ```
//!
//! Everything is written into the output folder (default `demo-output/`): the store
//! `emkit.sqlite`, `notifications.jsonl`, the reports and charts, the OPC UA PKI `pki/`.
//! On a terminal the screen is redrawn each cycle (header and view); otherwise each cycle
//! prints one plain block.
//! Logs go to stderr (`RUST_LOG`, default `error`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use examples::demo::{Demo, DemoOptions};

/// Seconds (`20`, `1.5`) or a duration (`20s`, `2min`, `500ms`).
fn duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.trim().parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"));
    }
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?}: expected seconds or a duration such as 20s ({e})"))
}

#[derive(Parser, Debug)]
#[command(
    name = "demo",
    about = "The demo site simulated on loopback and monitored: live view, a fault, a report"
)]
struct Args {
    /// The output folder (store, notifications, reports, charts, OPC UA PKI).
    #[arg(long, value_name = "DIR", default_value = "demo-output")]
    out: PathBuf,
    /// Stop after this long (default: until Ctrl-C or SIGTERM).
    #[arg(long = "for", value_name = "SECONDS", value_parser = duration)]
    run_for: Option<Duration>,
    /// The live period (values are recorded as often, in whole seconds).
    #[arg(long, value_name = "SECONDS", value_parser = duration, default_value = "2s")]
    live: Duration,
    /// When a device stops answering, after the start.
    #[arg(long, value_name = "SECONDS", value_parser = duration, default_value = "20s")]
    fault_after: Duration,
    /// For how long it stays silent (longer than `--offline` to see the alarm).
    #[arg(long, value_name = "SECONDS", value_parser = duration, default_value = "20s")]
    fault_for: Duration,
    /// The device that stops answering (a device, meter or ECL of the demo site).
    #[arg(long, value_name = "NAME", default_value = "lighting")]
    fault_device: String,
    /// How long a device is silent before its offline alarm.
    #[arg(long, value_name = "SECONDS", value_parser = duration, default_value = "10s")]
    offline: Duration,
    /// The OPC UA port (0: a free one; default: 4840 when free, else a free one).
    #[arg(long, value_name = "PORT")]
    opcua_port: Option<u16>,
}

/// Prints lines to stdout; a closed pipe is not an error worth dying for.
fn print(lines: &[String]) {
    let mut out = std::io::stdout().lock();
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    let _ = out.flush();
}

async fn run(args: Args) -> anyhow::Result<()> {
    let options = DemoOptions {
        out: args.out,
        live: args.live,
        offline: args.offline,
        fault_device: args.fault_device,
        fault_after: args.fault_after,
        fault_for: args.fault_for,
        opcua_port: args.opcua_port,
    };
    let mut demo = Demo::start(options).await?;
    let mut header = demo.header();
    header.push(match args.run_for {
        Some(d) => format!("  runs for {} s (Ctrl-C stops it earlier)", d.as_secs_f64()),
        None => "  Ctrl-C stops it".to_string(),
    });
    header.push(String::new());
    print(&header);

    let tty = std::io::stdout().is_terminal();
    demo.run(examples::cli::stop_requested(args.run_for), |view| {
        if tty {
            // the whole screen again (home, clear): wrapped lines cannot leave stale rows
            let mut frame = vec![format!("\x1b[H\x1b[2J{}", header[0])];
            frame.extend_from_slice(&header[1..]);
            frame.extend_from_slice(view);
            print(&frame);
        } else {
            let mut block = view.to_vec();
            block.push(String::new());
            print(&block);
        }
    })
    .await;
    if tty {
        print(&[String::new()]);
    }
    let summary = demo.finish().await?;
    print(&summary.lines());
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    examples::cli::init_logging("error");
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}
