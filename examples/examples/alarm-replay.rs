//! Replay samples through the alarm engine and print every event as one JSON object per line.
//!
//! ```text
//! cargo run --example alarm-replay -- --rules RULES.toml --samples SAMPLES.csv [--until TIME]
//! ```
//!
//! `SAMPLES.csv` has the header `time,point,value`: RFC 3339 times, point names
//! `device/service`, and a number, `true`/`false`, or an empty cell for a missing value. Rows
//! are replayed in time order (rows with equal times in file order); the engine is ticked at
//! every new time so events come out in time order. `--until` ticks once more at that time,
//! so delays still running after the last sample can fire.
//!
//! Each output line is exactly
//! `{"time": RFC 3339 (UTC, "Z"), "rule": id, "point": name, "event": "pre_alarm" |
//! "pre_alarm_cleared" | "raised" | "cleared", "priority": "critical" | "major" | "minor" |
//! "warning", "value": number or null}`.
//! `priority` is the rule's priority for `raised`/`cleared` and `warning` for the pre-alarm
//! events (a pre-alarm is a warning state). `point` is the device name for offline alarms,
//! whose `value` is null. Group (hierarchical) rules produce no lines here. Errors print
//! one line on stderr and exit 1.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use alarms::{AlarmSample, Engine, PointInfo, RuleSet, SampleValue, TransitionKind};
use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Parser;
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(
    name = "alarm-replay",
    about = "Replay samples through the alarm engine; one JSON event per line"
)]
struct Args {
    /// The rules file (TOML).
    #[arg(long, value_name = "RULES.toml")]
    rules: PathBuf,
    /// The samples (CSV with header time,point,value).
    #[arg(long, value_name = "SAMPLES.csv")]
    samples: PathBuf,
    /// Tick the engine at this RFC 3339 time after the last sample.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    until: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    rule: &'a str,
    point: &'a str,
    event: &'static str,
    priority: &'static str,
    value: Option<f64>,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("expected an RFC 3339 time such as 2024-01-08T06:00:00Z, found {s:?} ({e})")
        })
}

fn parse_reading(s: &str) -> Result<SampleValue, String> {
    let s = s.trim();
    match s {
        "" => Ok(SampleValue::NoAnswer),
        "true" => Ok(SampleValue::Bool(true)),
        "false" => Ok(SampleValue::Bool(false)),
        _ => s
            .parse::<f64>()
            .map(SampleValue::Number)
            .map_err(|_| format!("expected a number, true, false or an empty cell, found {s:?}")),
    }
}

struct Row {
    time: DateTime<Utc>,
    point: String,
    reading: SampleValue,
}

fn read_samples(path: &PathBuf) -> anyhow::Result<Vec<Row>> {
    let name = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("{name}: cannot read"))?;
    let header: Vec<String> = reader
        .headers()
        .with_context(|| format!("{name}: cannot read the header"))?
        .iter()
        .map(str::to_string)
        .collect();
    if header != ["time", "point", "value"] {
        bail!(
            "{name}:1: expected the header time,point,value, found {}",
            header.join(",")
        );
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| anyhow!("{name}: {e}"))?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("");
        let time = parse_time(field(0)).map_err(|e| anyhow!("{name}:{line}: time: {e}"))?;
        let point = field(1).to_string();
        if point.is_empty() {
            bail!(
                "{name}:{line}: point: expected a point name \"device/service\", found an empty cell"
            );
        }
        let reading = parse_reading(field(2)).map_err(|e| anyhow!("{name}:{line}: value: {e}"))?;
        rows.push(Row {
            time,
            point,
            reading,
        });
    }
    Ok(rows)
}

fn run(args: &Args) -> anyhow::Result<()> {
    let rules = RuleSet::load(&args.rules)?;
    let mut rows = read_samples(&args.samples)?;
    rows.sort_by_key(|r| r.time);
    let mut points: Vec<PointInfo> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in &rows {
        if seen.insert(r.point.clone()) {
            points.push(PointInfo::named(&r.point));
        }
    }
    let mut engine = Engine::new(&rules, &points)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut transitions = Vec::new();
    let mut print =
        |engine: &Engine, transitions: &mut Vec<alarms::Transition>| -> anyhow::Result<()> {
            for t in transitions.drain(..) {
                let info = engine
                    .instance(t.instance())
                    .context("transition of an unknown alarm")?;
                let pre = matches!(
                    t.kind(),
                    TransitionKind::PreAlarm | TransitionKind::PreAlarmCleared
                );
                let line = Line {
                    time: t.time().to_rfc3339_opts(SecondsFormat::AutoSi, true),
                    rule: &info.rule.id,
                    point: info.target,
                    event: t.kind().as_str(),
                    priority: if pre {
                        "warning"
                    } else {
                        info.rule.priority.as_str()
                    },
                    value: t.value(),
                };
                serde_json::to_writer(&mut out, &line)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        };
    let mut last: Option<DateTime<Utc>> = None;
    let mut rejected = 0u64;
    for r in &rows {
        if last.is_none_or(|l| r.time > l) {
            engine.tick(r.time, &mut transitions);
            last = Some(r.time);
        }
        let id = engine
            .point_id(&r.point)
            .context("point missing from the engine")?;
        rejected += engine
            .process_one(AlarmSample::new(id, r.time, r.reading), &mut transitions)
            .rejected();
        print(&engine, &mut transitions)?;
    }
    if let Some(until) = args.until {
        engine.tick(until, &mut transitions);
        print(&engine, &mut transitions)?;
    }
    out.flush()?;
    let stats = engine.stats();
    if rejected > 0 || stats.stale_ticks > 0 {
        eprintln!(
            "alarm-replay: {rejected} sample(s) rejected as out of order, {} tick(s) ignored",
            stats.stale_ticks
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("alarm-replay: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
