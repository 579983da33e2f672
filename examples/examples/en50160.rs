//! EN 50160 weekly compliance check.
//!
//! ```text
//! cargo run --example en50160 -- --week WEEK.csv [--frequency FREQ.csv] [--nominal 230] [--island]
//! ```
//!
//! Prints one JSON object: `{"overall": "OK" | "KO", "parameters": [{"name", "limit",
//! "within_percent", "required_percent", "pass"}]}`. WEEK.csv holds 10-minute values with the
//! header `time` followed by any of `u1,u2,u3` (V), `thd1,thd2,thd3` (%), `unbalance` (%),
//! `plt1,plt2,plt3` and `hN_P` (harmonic order N 2..25 of phase P, % of fundamental); FREQ.csv
//! holds `time,f` with 10-second means in Hz. Parameters without data are left out; an empty
//! cell is a flagged (excluded) interval, except in the `plt` columns, which hold a value only on
//! the rows that end a 2-hour Plt window. Errors print one line and exit 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use reports::en50160::{Limits, Network, Settings, check, read_frequency_csv, read_week_csv};

#[derive(Debug, Parser)]
#[command(
    name = "en50160",
    about = "EN 50160 weekly compliance of 10-minute values (JSON output)"
)]
struct Args {
    /// 10-minute values (CSV).
    #[arg(long, value_name = "FILE")]
    week: PathBuf,
    /// 10-second frequency means (CSV: time,f).
    #[arg(long, value_name = "FILE")]
    frequency: Option<PathBuf>,
    /// Nominal voltage in volts.
    #[arg(long, default_value_t = 230.0)]
    nominal: f64,
    /// Island network limits instead of interconnected ones.
    #[arg(long)]
    island: bool,
}

fn open(p: &Path) -> Result<std::io::BufReader<std::fs::File>, String> {
    std::fs::File::open(p)
        .map(std::io::BufReader::new)
        .map_err(|e| format!("{}: {e}", p.display()))
}

fn run(args: &Args) -> Result<String, Box<dyn std::error::Error>> {
    if !(args.nominal > 0.0 && args.nominal.is_finite()) {
        return Err(format!("--nominal: expected a voltage > 0, found {}", args.nominal).into());
    }
    let week = read_week_csv(open(&args.week)?, &args.week.display().to_string())?;
    let freq = match &args.frequency {
        Some(p) => Some(read_frequency_csv(open(p)?, &p.display().to_string())?),
        None => None,
    };
    let settings = Settings {
        nominal_voltage: args.nominal,
        network: if args.island {
            Network::Island
        } else {
            Network::Interconnected
        },
        ..Settings::default()
    };
    let c = check(&week, freq.as_deref(), &settings, &Limits::builtin()?);
    if c.parameters.is_empty() {
        return Err("no parameter has data: expected at least one non-empty column".into());
    }
    Ok(serde_json::to_string(&c)?)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("en50160: {e}");
            ExitCode::FAILURE
        }
    }
}
