//! One report run for a site (`monitor report`, and later the scheduled `[[report]]`
//! entries): the report of a kind over a period for every point of the site's devices,
//! meters and ECLs found in the site's store, in the site's time zone, written as CSV
//! (`reports::export`) plus a chart PNG (`reports::chart`) into an output directory kept by
//! `reports::export::Archive`: the last [`KEEP_REPORTS`] reports (CSV and chart each) stay.
//!
//! The scheduled `[[report]]` entries run through [`Scheduler`] ([`super::schedule`] decides
//! when): each writes into its own folder `[output] dir/NAME/` (the last [`KEEP_REPORTS`]
//! runs kept) and its CSV is copied to the `[[publication]]` folders that name it; the
//! publications with a destination are then sent by [`Publishing`] ([`super::publish`]).
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

use crate::site::{ReportEntry, Site};

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
    build_report_of(site, store, request, now, &site_devices(site))
}

/// [`build_report`] for some of the site's devices, meters and ECLs only.
fn build_report_of(
    site: &Site,
    store: &dyn Store,
    request: &ReportRequest,
    now: DateTime<Utc>,
    devices: &[&str],
) -> Result<Table, ReportError> {
    let tz = site.time_zone();
    let (from, to) = request.period.resolve(now, tz);
    let g = granularity(request.period, from, to);
    let no_points = |what| ReportError::NoPoints {
        store: site.store_path(),
        what,
    };
    let table = match request.kind {
        ReportKind::EnergyConsumption => {
            let table = energy_report(store, devices, from, to, g, tz)?;
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

/// The outcome of one scheduled report run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledRun {
    /// The `[[report]]` name.
    pub report: String,
    /// The scheduled instant it ran for (its period ends at or before it).
    pub due: DateTime<Utc>,
    /// The files written (report CSV, chart, publication copies), or what went wrong.
    pub result: Result<Vec<PathBuf>, String>,
}

impl ScheduledRun {
    /// One plain line: `report NAME written: FILE` or `report NAME failed: ERROR`.
    pub fn line(&self) -> String {
        match &self.result {
            Ok(files) => format!(
                "report {} written: {}",
                self.report,
                files
                    .first()
                    .map_or_else(String::new, |f| f.display().to_string())
            ),
            Err(e) => format!("report {} failed: {e}", self.report),
        }
    }
}

/// Runs one `[[report]]` entry for the scheduled instant `due`: the report of its kind over
/// its period (the previous complete one at `due`, in the site's time zone) for its devices
/// (all of the site's by default), written as `NAME_FROM.csv` (FROM = the period's local
/// start date) and `.png` (when `chart`) into `[output] dir/NAME/`, which keeps the last
/// [`KEEP_REPORTS`] runs; then the CSV is copied into every `[[publication]]` naming the
/// report. Returns the files written, the report's CSV first.
///
/// # Errors
/// As [`run_report`].
pub fn run_entry(
    site: &Site,
    entry: &ReportEntry,
    due: DateTime<Utc>,
) -> Result<Vec<PathBuf>, ReportError> {
    let store_path = site.store_path();
    if !store_path.exists() {
        return Err(ReportError::NoStore(store_path));
    }
    let request = ReportRequest {
        kind: entry.kind,
        period: entry.period.period(),
    };
    let devices: Vec<&str> = if entry.devices.is_empty() {
        site_devices(site)
    } else {
        entry.devices.iter().map(String::as_str).collect()
    };
    let store = SqliteStore::open(&store_path, StoreOptions::default())?;
    let table = build_report_of(site, &store, &request, due, &devices)?;
    drop(store);

    let tz = site.time_zone();
    let mut csv = Vec::new();
    write_csv(&table, &mut csv, &CsvOptions::default(), tz)?;
    let (from, _) = request.period.resolve(due, tz);
    let stem = format!(
        "{}_{}",
        entry.name,
        from.with_timezone(&tz).format("%Y-%m-%d")
    );
    let files_per_run = if entry.chart { 2 } else { 1 };
    let mut archive = Archive::open(
        site.output_dir().join(&entry.name),
        files_per_run * KEEP_REPORTS,
    )?;
    let mut written = vec![archive.store(&format!("{stem}.csv"), &csv)?];
    if entry.chart {
        // a period without values makes no chart: the CSV still goes out
        match chart(&table, request.kind, site).png() {
            Ok(png) => written.push(archive.store(&format!("{stem}.png"), &png)?),
            Err(e) => tracing::warn!(report = %entry.name, "no chart: {e}"),
        }
    }
    for p in site
        .publications
        .iter()
        .filter(|p| p.reports.contains(&entry.name))
    {
        let name = reports::export::render_file_name(&p.file, due, tz, &entry.name);
        let mut published = Archive::open(site.output_dir().join(&p.folder), p.keep)?;
        written.push(published.store(&name, &csv)?);
    }
    tracing::info!(report = %entry.name, csv = %written[0].display(), files = written.len(), "scheduled report written");
    Ok(written)
}

/// The site's `[[report]]` schedule with its state file ([`super::schedule::State`] in
/// `[output] dir`): which reports are due, running them, remembering the runs.
///
/// ```no_run
/// use examples::gateway::report::Scheduler;
/// use examples::site::Site;
///
/// let site = Site::load("plant.toml")?;
/// let mut scheduler = Scheduler::open(&site);
/// for run in scheduler.run_due(&site, chrono::Utc::now()) {
///     println!("{}", run.line());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Scheduler {
    path: PathBuf,
    state: super::schedule::State,
}

impl Scheduler {
    /// The schedule of `site`, its last runs read from `[output] dir/.schedule.json`.
    pub fn open(site: &Site) -> Scheduler {
        let path = super::schedule::State::path(&site.output_dir());
        let state = super::schedule::State::load(&path);
        Scheduler { path, state }
    }

    /// The last scheduled instant `report` ran for.
    pub fn last_run(&self, report: &str) -> Option<DateTime<Utc>> {
        self.state.last_run.get(report).copied()
    }

    /// The reports due at `now` and the scheduled instant each is due for.
    pub fn due(&self, site: &Site, now: DateTime<Utc>) -> Vec<(ReportEntry, DateTime<Utc>)> {
        let tz = site.time_zone();
        site.reports
            .iter()
            .filter_map(|r| {
                super::schedule::due(r.period, r.at, tz, self.last_run(&r.name), now)
                    .map(|d| (r.clone(), d))
            })
            .collect()
    }

    /// Runs every report due at `now` ([`run_entry`]) and records each run (a failed run is
    /// recorded too: it is logged and tried again at its next scheduled instant, not every
    /// cycle). The state file is written after the runs.
    pub fn run_due(&mut self, site: &Site, now: DateTime<Utc>) -> Vec<ScheduledRun> {
        let mut runs = Vec::new();
        for (entry, due) in self.due(site, now) {
            let result = run_entry(site, &entry, due).map_err(|e| e.to_string());
            if let Err(e) = &result {
                tracing::warn!(report = %entry.name, "scheduled report failed: {e}");
            }
            self.state.last_run.insert(entry.name.clone(), due);
            runs.push(ScheduledRun {
                report: entry.name,
                due,
                result,
            });
        }
        if !runs.is_empty()
            && let Err(e) = self.state.save(&self.path)
        {
            tracing::warn!(file = %self.path.display(), "report schedule state not saved: {e}");
        }
        runs
    }
}

/// The scheduled reports of a running monitor: each cycle ([`Background::step`]) collects
/// the runs that finished and starts the due ones on a blocking thread
/// (`tokio::task::spawn_blocking`), so a long report never delays the live cycle; at most
/// one batch of runs is in flight. The `[[publication]]` entries with a destination run the
/// same way, in a batch of their own ([`Publishing`]).
#[derive(Debug)]
pub struct Background {
    idle: Option<Scheduler>,
    job: Option<tokio::task::JoinHandle<(Scheduler, Vec<ScheduledRun>)>>,
    publishing: Publishing,
}

impl Background {
    /// The site's schedule, nothing running.
    pub fn new(site: &Site) -> Background {
        Background {
            idle: Some(Scheduler::open(site)),
            job: None,
            publishing: Publishing::open(site),
        }
    }

    /// The runs finished since the last step; then the reports due at `now` start in the
    /// background (their outcome comes with a later step, or [`Background::finish`]).
    /// Publications: see [`Publishing::step`] (their outcome is logged and in the attempt
    /// log).
    pub async fn step(&mut self, site: &Site, now: DateTime<Utc>) -> Vec<ScheduledRun> {
        let mut done = Vec::new();
        if self.job.as_ref().is_some_and(|j| j.is_finished()) {
            done = self.collect(site).await;
        }
        self.publishing.reports_written(site, &done, now);
        self.publishing.step(site, now).await;
        if let Some(scheduler) = self
            .idle
            .take_if(|s| !site.reports.is_empty() && !s.due(site, now).is_empty())
        {
            let site = site.clone();
            let mut scheduler = scheduler;
            self.job = Some(tokio::task::spawn_blocking(move || {
                let runs = scheduler.run_due(&site, now);
                (scheduler, runs)
            }));
        }
        done
    }

    /// Waits for the runs in flight (at shutdown) and returns them; the publications in
    /// flight are waited for too, those due after the reports' runs wait for the next start.
    pub async fn finish(&mut self, site: &Site) -> Vec<ScheduledRun> {
        let done = self.collect(site).await;
        self.publishing.reports_written(site, &done, Utc::now());
        self.publishing.finish(site).await;
        done
    }

    async fn collect(&mut self, site: &Site) -> Vec<ScheduledRun> {
        let Some(job) = self.job.take() else {
            return Vec::new();
        };
        match job.await {
            Ok((scheduler, runs)) => {
                self.idle = Some(scheduler);
                runs
            }
            Err(e) => {
                tracing::error!("scheduled reports stopped: {e}");
                self.idle = Some(Scheduler::open(site));
                Vec::new()
            }
        }
    }
}

type PublishJob = tokio::task::JoinHandle<Vec<(String, super::publish::PublicationRun)>>;

/// The publications of a running monitor ([`super::schedule::Publications`] decides when,
/// [`super::publish::run`] sends): the due ones run in one batch on a blocking thread; the
/// state (`[output] dir/.publications.json`) is saved after each change.
#[derive(Debug)]
pub struct Publishing {
    path: PathBuf,
    state: super::schedule::Publications,
    job: Option<PublishJob>,
}

impl Publishing {
    /// The site's publication state, nothing running.
    pub fn open(site: &Site) -> Publishing {
        let path = super::schedule::Publications::path(&site.output_dir());
        Publishing {
            state: super::schedule::Publications::load(&path),
            path,
            job: None,
        }
    }

    /// The state (what is pending, the last scheduled runs).
    pub fn state(&self) -> &super::schedule::Publications {
        &self.state
    }

    fn save(&self) {
        if let Err(e) = self.state.save(&self.path) {
            tracing::warn!(file = %self.path.display(), "publication state not saved: {e}");
        }
    }

    /// The reports of `runs` that were written make their publications (without a
    /// schedule) pending.
    pub fn reports_written(&mut self, site: &Site, runs: &[ScheduledRun], now: DateTime<Utc>) {
        let before = self.state.clone();
        for r in runs.iter().filter(|r| r.result.is_ok()) {
            self.state.report_written(site, &r.report, now);
        }
        if self.state != before {
            self.save();
        }
    }

    /// Collects the batch that finished (its runs are logged; failed ones wait their
    /// backoff), then starts the publications due at `now`; returns the finished runs.
    pub async fn step(
        &mut self,
        site: &Site,
        now: DateTime<Utc>,
    ) -> Vec<super::publish::PublicationRun> {
        let mut done = Vec::new();
        if self.job.as_ref().is_some_and(|j| j.is_finished()) {
            done = self.finish(site).await;
        }
        if self.job.is_none() {
            let before = self.state.clone();
            let due = self.state.due(site, now);
            if self.state != before {
                self.save();
            }
            if !due.is_empty() {
                let site = site.clone();
                self.job = Some(tokio::task::spawn_blocking(move || {
                    due.into_iter()
                        .filter_map(|name| {
                            let p = site.publications.iter().find(|p| p.name == name)?;
                            let run = super::publish::run(&site, p, now).unwrap_or_else(|e| {
                                super::publish::PublicationRun {
                                    publication: name.clone(),
                                    destination: String::new(),
                                    files: Vec::new(),
                                    result: Err(e.to_string()),
                                    attempts: Vec::new(),
                                }
                            });
                            Some((name, run))
                        })
                        .collect()
                }));
            }
        }
        done
    }

    /// Waits for the batch in flight (at shutdown) and records its runs.
    pub async fn finish(&mut self, site: &Site) -> Vec<super::publish::PublicationRun> {
        let Some(job) = self.job.take() else {
            return Vec::new();
        };
        let runs = match job.await {
            Ok(runs) => runs,
            Err(e) => {
                tracing::error!("publications stopped: {e}");
                return Vec::new();
            }
        };
        let now = Utc::now();
        for (name, run) in &runs {
            let retry = site
                .publications
                .iter()
                .find(|p| &p.name == name)
                .map(|p| p.retry)
                .unwrap_or_default();
            self.state.finished(name, run.result.is_ok(), &retry, now);
            if run.result.is_ok() {
                tracing::info!("{}", run.line());
            }
        }
        self.save();
        runs.into_iter().map(|(_, r)| r).collect()
    }
}

/// What commissioning found for one device, meter or ECL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommissionedDevice {
    /// The site's name for it.
    pub name: String,
    /// `modbus`, `ecl` or `m-bus`.
    pub kind: &'static str,
    /// The catalogue product, the ECL key polled, or `heat meter`.
    pub product: String,
    /// `BUS unit N` or `BUS primary N`.
    pub address: String,
    /// Whether it answered (at least one good value; for an M-Bus meter, a telegram).
    pub answered: bool,
    /// Findings in order: identity (serial, firmware, M-Bus id and manufacturer, ECL key
    /// detected vs configured and firmware verdicts), then every value read with its unit
    /// (`value SERVICE`).
    pub parameters: Vec<(String, String)>,
}

/// The commissioning report of a site: every `[[device]]`, `[[ecl]]` and `[[meter]]` once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommissioningReport {
    /// When the devices were read.
    pub taken_at: DateTime<Utc>,
    /// In site order: devices, ECLs, meters.
    pub devices: Vec<CommissionedDevice>,
}

impl CommissioningReport {
    /// The names of those that did not answer.
    pub fn silent(&self) -> Vec<&str> {
        self.devices
            .iter()
            .filter(|d| !d.answered)
            .map(|d| d.name.as_str())
            .collect()
    }

    /// As the `reports` crate's commissioning snapshot (device -> parameter -> value; the
    /// `kind`, `product`, `address` and `answered` parameters first in each device's rows).
    pub fn snapshot(&self) -> reports::report::Commissioning {
        let devices = self
            .devices
            .iter()
            .map(|d| {
                let mut params = std::collections::BTreeMap::new();
                params.insert("kind".to_string(), d.kind.to_string());
                params.insert("product".to_string(), d.product.clone());
                params.insert("address".to_string(), d.address.clone());
                params.insert(
                    "answered".to_string(),
                    if d.answered { "yes" } else { "no" }.to_string(),
                );
                for (k, v) in &d.parameters {
                    params.insert(k.clone(), v.clone());
                }
                (d.name.clone(), params)
            })
            .collect();
        reports::report::Commissioning {
            taken_at: self.taken_at,
            devices,
        }
    }

    /// A plain-text summary: one header line per device (`NAME  KIND  PRODUCT  ADDRESS
    /// answered|NO ANSWER`), its findings indented below.
    pub fn summary(&self, tz: chrono_tz::Tz) -> String {
        let mut out = format!(
            "commissioning report, taken {}\n{} device(s), {} did not answer\n",
            self.taken_at
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S %Z"),
            self.devices.len(),
            self.silent().len()
        );
        for d in &self.devices {
            out.push_str(&format!(
                "\n{}  {}  {}  {}  {}\n",
                d.name,
                d.kind,
                d.product,
                d.address,
                if d.answered { "answered" } else { "NO ANSWER" }
            ));
            for (k, v) in &d.parameters {
                out.push_str(&format!("    {k}: {v}\n"));
            }
        }
        out
    }

    /// Writes `commissioning_LOCALTIME.csv` (the `reports` crate's commissioning CSV) and
    /// `.txt` ([`CommissioningReport::summary`]) into `dir`, which keeps the last
    /// [`KEEP_REPORTS`] reports; returns the two paths.
    ///
    /// # Errors
    /// File errors.
    pub fn write(&self, dir: &Path, tz: chrono_tz::Tz) -> Result<(PathBuf, PathBuf), ReportError> {
        let mut csv = Vec::new();
        self.snapshot().write_csv(&mut csv, b',')?;
        let stem = format!(
            "commissioning_{}",
            self.taken_at.with_timezone(&tz).format("%Y%m%d-%H%M%S")
        );
        let mut archive = Archive::open(dir, 2 * KEEP_REPORTS)?;
        let csv_path = archive.store(&format!("{stem}.csv"), &csv)?;
        let txt_path = archive.store(&format!("{stem}.txt"), self.summary(tz).as_bytes())?;
        Ok((csv_path, txt_path))
    }
}

/// `value with unit`, or the quality when there is no value.
fn shown(r: &modbus_devices::Reading) -> String {
    match (&r.value, r.quality) {
        (Some(v), modbus_devices::Quality::Good) => {
            let unit = r.unit.to_string();
            if unit.is_empty() {
                v.to_string()
            } else {
                format!("{v} {unit}")
            }
        }
        (_, modbus_devices::Quality::NoAnswer) => "(no answer)".into(),
        (_, modbus_devices::Quality::NotAvailable) => "(not available)".into(),
        (_, _) => "(invalid)".into(),
    }
}

/// Identity services of a catalogue product (serial number, firmware, versions).
fn is_identity(service: &str) -> bool {
    let s = service.to_ascii_lowercase();
    [
        "serial", "firmware", "version", "software", "hardware", "model",
    ]
    .iter()
    .any(|w| s.contains(w))
}

/// Connects to every device of the site once and reports what answers: ECL detection (key
/// detected vs configured, firmware verdicts), one poll of the Modbus devices and ECLs (the
/// gateway's poller), one readout of each M-Bus meter (its id, manufacturer and medium from
/// the telegram header, compared with the site file). `progress(done, total, step)` is called
/// before each step and at the end.
///
/// # Errors
/// The site's installation or the poller refusing it ([`super::GatewayError`]); devices
/// that do not answer are findings, not errors.
pub async fn commissioning(
    site: &Site,
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<CommissioningReport, super::GatewayError> {
    let total = 2 + site.meters.len();
    progress(0, total, "ECL detection");
    let taken_at = Utc::now();
    let (poller, ecl_status, _) = super::poller_with_ecls(site).await?;
    progress(1, total, "Modbus poll");
    let readings = poller.poll_once().await;
    poller.shutdown().await;
    let values = |name: &str| -> (bool, Vec<(String, String)>) {
        let mine: Vec<&modbus_devices::Reading> =
            readings.iter().filter(|r| r.device == name).collect();
        let answered = mine
            .iter()
            .any(|r| r.quality == modbus_devices::Quality::Good);
        let mut params: Vec<(String, String)> = mine
            .iter()
            .filter(|r| r.quality == modbus_devices::Quality::Good && is_identity(&r.service))
            .map(|r| (r.service.clone(), shown(r)))
            .collect();
        params.extend(
            mine.iter()
                .map(|r| (format!("value {}", r.service), shown(r))),
        );
        (answered, params)
    };

    let mut devices = Vec::new();
    for d in &site.devices {
        let (answered, parameters) = values(&d.name);
        devices.push(CommissionedDevice {
            name: d.name.clone(),
            kind: "modbus",
            product: d.product.clone(),
            address: format!("{} unit {}", d.bus, d.unit),
            answered,
            parameters,
        });
    }
    for e in &site.ecls {
        let (answered, values) = values(&e.name);
        let status = ecl_status.iter().find(|s| s.name == e.name);
        let mut parameters = vec![("key configured".to_string(), e.key.clone())];
        if let Some(s) = status {
            parameters.push((
                "key detected".into(),
                s.detected.clone().unwrap_or_else(|| "none".into()),
            ));
            parameters.push(("key polled".into(), s.polled.clone()));
            if let Some(sw) = &s.software {
                parameters.push(("software".into(), sw.clone()));
            }
            parameters.push((
                "firmware".into(),
                if s.firmware.is_empty() {
                    "ok".into()
                } else {
                    s.firmware.join("; ")
                },
            ));
            if let Some(err) = &s.error {
                parameters.push(("detection error".into(), err.clone()));
            }
        }
        parameters.extend(values);
        devices.push(CommissionedDevice {
            name: e.name.clone(),
            kind: "ecl",
            product: status.map_or_else(|| e.key.clone(), |s| s.polled.clone()),
            address: format!("{} unit {}", e.bus, e.unit),
            answered,
            parameters,
        });
    }

    devices.extend(read_meters(site, |done, step| progress(done, total, step)).await);
    progress(total, total, "done");
    Ok(CommissioningReport { taken_at, devices })
}

/// One readout of every M-Bus meter: the telegram header's id (compared with the site
/// file's secondary address), manufacturer, medium and version, and each current value.
async fn read_meters(
    site: &Site,
    mut progress: impl FnMut(usize, &str),
) -> Vec<CommissionedDevice> {
    use mbus_meters::master::{Master, MasterConfig};

    let mut devices = Vec::new();
    let mut done = 2;
    for bus in &site.mbus_buses {
        let mut master = Master::connect_tcp(&bus.address, MasterConfig::default())
            .await
            .map_err(|e| e.to_string());
        for m in site.meters.iter().filter(|m| m.bus == bus.name) {
            progress(done, &format!("M-Bus {}", m.name));
            done += 1;
            let read = match master.as_mut() {
                Ok(master) => master
                    .read(mbus_meters::Address(m.primary))
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.clone()),
            };
            let mut parameters = Vec::new();
            let answered = match read {
                Ok(frames) => {
                    if let Some(h) = frames.iter().find_map(|f| f.header.as_ref()) {
                        let id = h.id.clone().unwrap_or_default();
                        let mut shown_id = id.clone();
                        if m.secondary != id {
                            shown_id.push_str(&format!(" (site file: {})", m.secondary));
                        }
                        parameters.push(("id".to_string(), shown_id));
                        parameters.push((
                            "manufacturer".to_string(),
                            h.manufacturer.clone().unwrap_or_default(),
                        ));
                        if let Some(medium) = &h.medium_name {
                            parameters.push(("medium".to_string(), medium.clone()));
                        }
                        if let Some(v) = h.version {
                            parameters.push(("version".to_string(), v.to_string()));
                        }
                    }
                    let mut seen = std::collections::BTreeSet::new();
                    for r in frames.iter().flat_map(|f| &f.records) {
                        if r.storage != 0 || r.tariff != 0 || r.subunit != 0 {
                            continue;
                        }
                        let name = r.quantity.name();
                        if !seen.insert(name.to_string()) {
                            continue;
                        }
                        let value = match &r.value {
                            mbus_meters::OwnedValue::Number(x) => format!("{x} {}", r.unit),
                            mbus_meters::OwnedValue::Text(t) => t.clone(),
                            mbus_meters::OwnedValue::Null => "(none)".into(),
                        };
                        parameters.push((format!("value {name}"), value.trim().to_string()));
                    }
                    true
                }
                Err(e) => {
                    parameters.push(("error".to_string(), e));
                    false
                }
            };
            devices.push(CommissionedDevice {
                name: m.name.clone(),
                kind: "m-bus",
                product: "heat meter".into(),
                address: format!("{} primary {}", bus.name, m.primary),
                answered,
                parameters,
            });
        }
    }
    devices
}
