//! One report run for a site (`monitor report`, and later the scheduled `[[report]]`
//! entries): the report of a kind over a period for every point of the site's devices,
//! meters and ECLs found in the site's store, in the site's time zone, written as CSV
//! (`reports::export`) plus a chart PNG (`reports::chart`) into an output directory kept by
//! `reports::export::Archive`: the last [`KEEP_REPORTS`] reports (CSV and chart each) stay.
//!
//! ```no_run
//! use examples::gateway::report::{ReportRequest, run_report};
//! use examples::site::Site;
//!
//! let site = Site::demo()?;
//! let request = ReportRequest::parse("energy-consumption", "yesterday")?;
//! let written = run_report(&site, &request, None, chrono::Utc::now())?;
//! println!("{} {}", written.csv.display(), written.chart.display());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use reports::aggregate::Granularity;
use reports::chart::{Chart, Kind};
use reports::export::{Archive, CsvOptions, write_csv};
use reports::report::{
    Period, Point, ReportKind, Table, detailed_report, energy_report, standard_report,
};
use reports::{SqliteStore, Store, StoreOptions};

use crate::site::Site;

/// Reports kept in the output directory (each one CSV and one chart): "the 7-file archive".
pub const KEEP_REPORTS: usize = 7;

/// A report run failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `--kind` is not a report kind this command runs.
    #[error("report kind {found:?}: expected standard, detailed or energy-consumption")]
    Kind {
        /// What was given.
        found: String,
    },
    /// `--period` is not a period name of `reports::report::Period`.
    #[error(
        "report period {found:?}: expected today, yesterday, this-week, last-week, this-month, \
         last-month, this-quarter, last-quarter, this-year or last-year"
    )]
    Period {
        /// What was given.
        found: String,
    },
    /// The store has no point of the site for this report.
    #[error("store {}: no {what} of the site's devices, meters or ECLs", store.display())]
    NoPoints {
        /// The store file.
        store: PathBuf,
        /// What was looked for.
        what: &'static str,
    },
    /// The store file does not exist (the monitor has not recorded anything yet).
    #[error("store {}: no such file (run the monitor first)", .0.display())]
    NoStore(PathBuf),
    /// Store, CSV, chart or archive error.
    #[error(transparent)]
    Reports(#[from] reports::Error),
}

/// What to report: a kind and a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportRequest {
    /// Standard, detailed or energy consumption.
    pub kind: ReportKind,
    /// The period, resolved against "now" in the site's time zone.
    pub period: Period,
}

/// `energy-consumption` / `last-7-days` style names to the serde (snake case) names of
/// `reports::report`.
fn snake(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace('-', "_")
}

impl ReportRequest {
    /// Parses the command-line names: kind `standard|detailed|energy-consumption`, period
    /// any named [`Period`] in kebab case (`yesterday`, `this-month`, `last-quarter`, ...).
    ///
    /// ```
    /// use examples::gateway::report::ReportRequest;
    /// use reports::report::{Period, ReportKind};
    /// let r = ReportRequest::parse("energy-consumption", "last-month").unwrap();
    /// assert_eq!((r.kind, r.period), (ReportKind::EnergyConsumption, Period::LastMonth));
    /// assert!(ReportRequest::parse("cost", "today").is_err());
    /// assert!(ReportRequest::parse("standard", "someday").is_err());
    /// ```
    ///
    /// # Errors
    /// [`ReportError::Kind`], [`ReportError::Period`].
    pub fn parse(kind: &str, period: &str) -> Result<Self, ReportError> {
        let parsed_kind: ReportKind =
            serde_json::from_value(serde_json::Value::String(snake(kind))).map_err(|_| {
                ReportError::Kind {
                    found: kind.to_string(),
                }
            })?;
        if matches!(parsed_kind, ReportKind::Cost | ReportKind::Commissioning) {
            return Err(ReportError::Kind {
                found: kind.to_string(),
            });
        }
        let parsed_period: Period =
            serde_json::from_value(serde_json::json!({ "kind": snake(period) })).map_err(|_| {
                ReportError::Period {
                    found: period.to_string(),
                }
            })?;
        Ok(ReportRequest {
            kind: parsed_kind,
            period: parsed_period,
        })
    }
}

/// The files one run wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenReport {
    /// The CSV file.
    pub csv: PathBuf,
    /// The chart (PNG) beside it.
    pub chart: PathBuf,
    /// The report itself.
    pub table: Table,
}

/// The interval of detailed and energy reports for a period: hours for a day, days for a
/// week or month, months for a quarter or year.
fn granularity(period: Period, from: DateTime<Utc>, to: DateTime<Utc>) -> Granularity {
    match period {
        Period::Today | Period::Yesterday => Granularity::Hour,
        Period::ThisWeek | Period::LastWeek | Period::ThisMonth | Period::LastMonth => {
            Granularity::Day
        }
        Period::ThisQuarter | Period::LastQuarter | Period::ThisYear | Period::LastYear => {
            Granularity::Month
        }
        Period::Custom { .. } if (to - from).num_days() <= 2 => Granularity::Hour,
        Period::Custom { .. } => Granularity::Day,
    }
}

/// The names the site gives its devices, meters and ECLs (the stores' point devices).
fn site_devices(site: &Site) -> Vec<&str> {
    site.devices
        .iter()
        .map(|d| d.name.as_str())
        .chain(site.meters.iter().map(|m| m.name.as_str()))
        .chain(site.ecls.iter().map(|e| e.name.as_str()))
        .collect()
}

/// Builds the report from `store` for the site's points; `now` resolves the period.
///
/// # Errors
/// [`ReportError::NoPoints`] when the store has none of the site's points of that kind; store
/// errors.
pub fn build_report(
    site: &Site,
    store: &dyn Store,
    request: &ReportRequest,
    now: DateTime<Utc>,
) -> Result<Table, ReportError> {
    let tz = site.time_zone();
    let (from, to) = request.period.resolve(now, tz);
    let g = granularity(request.period, from, to);
    let devices = site_devices(site);
    let no_points = |what| ReportError::NoPoints {
        store: site.store_path(),
        what,
    };
    let table = match request.kind {
        ReportKind::EnergyConsumption => {
            let table = energy_report(store, &devices, from, to, g, tz)?;
            if table.columns.is_empty() {
                return Err(no_points("energy or volume counters"));
            }
            table
        }
        _ => {
            let points: Vec<Point> = store
                .channels()?
                .into_iter()
                .filter(|c| devices.contains(&c.spec.device.as_str()))
                .map(|c| Point::new(&c.spec.name(), None))
                .collect();
            if points.is_empty() {
                return Err(no_points("points"));
            }
            if request.kind == ReportKind::Standard {
                standard_report(store, &points, from, to)?
            } else {
                detailed_report(store, &points, from, to, g, tz)?
            }
        }
    };
    Ok(table)
}

/// The chart of a report: lines over time for detailed and energy reports, bars (one per
/// device and column of the first column's unit) for a standard report.
fn chart(table: &Table, kind: ReportKind, site: &Site) -> Chart {
    if kind != ReportKind::Standard {
        return Chart::from_table(table, site.time_zone());
    }
    let unit = table
        .columns
        .first()
        .map(|c| c.unit.clone())
        .unwrap_or_default();
    let bars = table
        .rows
        .iter()
        .flat_map(|r| {
            table
                .columns
                .iter()
                .zip(&r.values)
                .filter(|(c, _)| c.unit == unit)
                .filter_map(|(c, v)| v.map(|v| (format!("{} {}", r.label, c.name), v)))
        })
        .collect();
    Chart::new(&table.title, Kind::Bar { unit, bars })
}

/// Runs one report for the site: opens its store (`[store] path`), builds the report
/// ([`build_report`]), writes `KIND_PERIOD_LOCALTIME.csv` and `.png` into `out` (default: the
/// site's `[output] dir`) through the archive, which keeps the last [`KEEP_REPORTS`]
/// reports.
///
/// # Errors
/// [`ReportError::NoStore`] when the store file does not exist; [`build_report`]'s errors;
/// CSV, chart and file errors.
pub fn run_report(
    site: &Site,
    request: &ReportRequest,
    out: Option<&Path>,
    now: DateTime<Utc>,
) -> Result<WrittenReport, ReportError> {
    let store_path = site.store_path();
    if !store_path.exists() {
        return Err(ReportError::NoStore(store_path));
    }
    let store = SqliteStore::open(&store_path, StoreOptions::default())?;
    let table = build_report(site, &store, request, now)?;
    drop(store);

    let tz = site.time_zone();
    let mut csv = Vec::new();
    write_csv(&table, &mut csv, &CsvOptions::default(), tz)?;
    let png = chart(&table, request.kind, site).png()?;

    let dir = out.map_or_else(|| site.output_dir(), Path::to_path_buf);
    let mut archive = Archive::open(&dir, 2 * KEEP_REPORTS)?;
    let stem = format!(
        "{}_{}_{}",
        snake_name(&request.kind),
        snake_name(&request.period),
        now.with_timezone(&tz).format("%Y%m%d-%H%M%S%.3f")
    )
    .replace('_', "-");
    let csv_path = archive.store(&format!("{stem}.csv"), &csv)?;
    let chart_path = archive.store(&format!("{stem}.png"), &png)?;
    tracing::info!(csv = %csv_path.display(), chart = %chart_path.display(), "report written");
    Ok(WrittenReport {
        csv: csv_path,
        chart: chart_path,
        table,
    })
}

/// The serde name of a kind or period (`energy_consumption`, `yesterday`).
fn snake_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(o)) => o
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("custom")
            .to_string(),
        _ => "report".to_string(),
    }
}
