//! Cost of a consumption series under a tariff file.
//!
//! ```text
//! cargo run --example cost -- --tariffs TARIFFS.toml --consumption CONSUMPTION.csv
//! ```
//!
//! Prints one JSON object:
//! `{"currency": "EUR", "total": number, "by_tariff": {name: number}, "energy": {name: number}}`
//! (cost and energy per tariff name; energy in the source's unit). CONSUMPTION.csv has the header
//! `start,source,quantity`; each row is the consumption of the interval from `start` (RFC 3339) to
//! the next row of the same source (the last row lasts as long as the one before it). Intervals
//! are priced per local hour of the tariff file's time zone, split in proportion to time.
//! Errors print one line and exit 1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use reports::tariff::{Tariffs, read_consumption_csv};

#[derive(Debug, Parser)]
#[command(
    name = "cost",
    about = "Cost of a consumption series under a tariff file (JSON output)"
)]
struct Args {
    /// Tariff file (TOML).
    #[arg(long, value_name = "FILE")]
    tariffs: PathBuf,
    /// Consumption CSV with the header start,source,quantity.
    #[arg(long, value_name = "FILE")]
    consumption: PathBuf,
}

fn round(v: f64) -> f64 {
    (v * 1e9).round() / 1e9
}

fn run(args: &Args) -> Result<String, Box<dyn std::error::Error>> {
    let tariffs = Tariffs::load(&args.tariffs)?;
    let file = std::fs::File::open(&args.consumption)
        .map_err(|e| format!("{}: {e}", args.consumption.display()))?;
    let consumption = read_consumption_csv(
        std::io::BufReader::new(file),
        &args.consumption.display().to_string(),
    )?;
    let s = tariffs.cost(&consumption)?;
    let map = |m: &std::collections::BTreeMap<String, f64>| {
        serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), serde_json::json!(round(*v))))
                .collect(),
        )
    };
    let out = serde_json::json!({
        "currency": s.currency,
        "total": round(s.total),
        "by_tariff": map(&s.by_tariff),
        "energy": map(&s.energy),
    });
    Ok(out.to_string())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cost: {e}");
            ExitCode::FAILURE
        }
    }
}
