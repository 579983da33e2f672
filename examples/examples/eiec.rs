//! Assess an electrical installation's efficiency class (IEC 60364-8-1 / DIN VDE 0100-801).
//!
//! ```text
//! cargo run --example eiec -- --building TYPE --levels ID=LEVEL,... [--classes 5|6] [--json]
//! cargo run --example eiec -- --building commercial --levels lighting=4,hvac=3,power-factor=2
//! cargo run --example eiec -- --building industrial --levels motors=4 --classes 5 --json
//! ```
//!
//! `TYPE` is residential, commercial, industrial or infrastructure. `LEVEL` is 0..4 or `nc`
//! (not considered); criteria not named count as not considered. `--classes 6` (the default)
//! uses the six-band class table, `--classes 5` the five-class one; both are vendor-derived
//! and unverified, and none exists for residential buildings (pass `--class-tables FILE`).
//!
//! Output: the synoptic table (criteria x levels, the rating marked) with the total, class,
//! points to the next class and the cheapest criteria to get there. With `--json`, exactly:
//! `{"building": ..., "total": n, "max": n, "class": "EIEC3", "next_class": "EIEC4" or null,
//! "points_to_next": n, "criteria": [{"id", "level", "points"}]}`, every criterion of the
//! building type's set in order, `level` null when not considered, `points_to_next` 0 at the
//! top class.
//!
//! Optional files: `--synoptic-csv`, `--synoptic-svg`, and a bar chart of the expected,
//! previous and current class with `--chart-svg` / `--chart-png` (`--previous LEVELS` scores
//! an earlier assessment, `--expected CLASS` sets the target class, which is otherwise
//! unknown). `--criteria FILE` replaces the built-in criteria, `--class-tables FILE` adds
//! class tables ahead of the built-in ones. Errors print one line and exit 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{Duration, Utc};
use clap::Parser;
use eiec::{
    Assessment, BarChart, BuildingType, Class, ClassScale, ClassTables, CriteriaCatalogue, History,
    Scheme,
};

#[derive(Debug, Parser)]
#[command(
    name = "eiec",
    about = "Score an installation on the IEC 60364-8-1 efficiency criteria and classify it"
)]
struct Args {
    /// Building type: residential, commercial, industrial or infrastructure.
    #[arg(long, value_name = "TYPE")]
    building: BuildingType,
    /// Levels as ID=LEVEL,... (LEVEL 0..4 or nc); criteria not named are not considered.
    #[arg(long, value_name = "ID=LEVEL,...", default_value = "")]
    levels: String,
    /// Number of classes: 6 (six-band table, default) or 5.
    #[arg(long, value_name = "5|6", default_value_t = 6, value_parser = clap::value_parser!(u8).range(5..=6))]
    classes: u8,
    /// Print the JSON summary instead of the table.
    #[arg(long)]
    json: bool,
    /// Edition id (default: the criteria file's default edition).
    #[arg(long, value_name = "ID")]
    edition: Option<String>,
    /// Criteria file replacing the built-in criteria.
    #[arg(long, value_name = "FILE")]
    criteria: Option<PathBuf>,
    /// Class-table file whose tables take precedence over the built-in ones.
    #[arg(long, value_name = "FILE")]
    class_tables: Option<PathBuf>,
    /// Levels of an earlier assessment, for the previous class.
    #[arg(long, value_name = "ID=LEVEL,...")]
    previous: Option<String>,
    /// Expected (target) class, e.g. EIEC3.
    #[arg(long, value_name = "CLASS")]
    expected: Option<Class>,
    /// Write the synoptic table as CSV.
    #[arg(long, value_name = "FILE")]
    synoptic_csv: Option<PathBuf>,
    /// Write the synoptic table as SVG.
    #[arg(long, value_name = "FILE")]
    synoptic_svg: Option<PathBuf>,
    /// Write the expected / previous / current bar chart as SVG.
    #[arg(long, value_name = "FILE")]
    chart_svg: Option<PathBuf>,
    /// Write the expected / previous / current bar chart as PNG.
    #[arg(long, value_name = "FILE")]
    chart_png: Option<PathBuf>,
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let criteria = match &args.criteria {
        Some(file) => CriteriaCatalogue::from_file(file)?,
        None => CriteriaCatalogue::builtin()?,
    };
    let mut classes = ClassTables::builtin()?;
    if let Some(file) = &args.class_tables {
        classes = classes.overlay(ClassTables::from_file(file)?);
    }
    let scheme = Scheme::new(criteria, classes);
    let scale = ClassScale::try_from(args.classes)?;

    let mut assessment = Assessment::from_level_list(args.building, &args.levels)?;
    assessment.edition = args.edition.clone();
    let result = scheme.assess(&assessment, scale)?;

    let mut history = History::new();
    if let Some(list) = &args.previous {
        let mut earlier = Assessment::from_level_list(args.building, list)?;
        earlier.edition = args.edition.clone();
        let earlier = scheme
            .assess(&earlier, scale)
            .context("previous assessment")?;
        // Only the order matters for the view; the earlier one is a day before.
        history.push(Utc::now() - Duration::days(1), earlier)?;
    }
    history.push(Utc::now(), result.clone())?;
    if args.expected.is_some() {
        history.set_expected(args.expected);
    }
    let view = history.view();

    let synoptic = scheme.synoptic(&result)?;
    if let Some(path) = &args.synoptic_csv {
        write(path, synoptic.csv()?.as_bytes())?;
    }
    if let Some(path) = &args.synoptic_svg {
        write(path, synoptic.svg().as_bytes())?;
    }
    if args.chart_svg.is_some() || args.chart_png.is_some() {
        let chart = BarChart::new(view).note(&format!(
            "class table {}: {}; expected class: {}",
            result.table,
            result.table_confidence,
            if args.expected.is_some() {
                "target given"
            } else if result.expected.is_some() {
                "from the class table"
            } else {
                "unknown (no source gives it)"
            }
        ));
        if let Some(path) = &args.chart_svg {
            write(path, chart.svg()?.as_bytes())?;
        }
        if let Some(path) = &args.chart_png {
            write(path, &chart.png()?)?;
        }
    }

    if args.json {
        println!("{}", serde_json::to_string(&result.summary())?);
    } else {
        print!("{}", synoptic.text());
        let show = |c: Option<Class>| c.map_or_else(|| "unknown".to_string(), |c| c.to_string());
        println!(
            "levels: expected {}{}, previous {}, current {}",
            show(view.expected),
            if args.expected.is_some() {
                " (target given)"
            } else {
                ""
            },
            show(view.previous),
            show(view.current)
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("eiec: {} (see --help)", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("eiec: error: {msg}");
            ExitCode::FAILURE
        }
    }
}
