//! Report kinds, periods and saved selections (presets).
//!
//! - Standard report: one value per device and column for the whole period.
//! - Detailed report: one row per data interval (for "yesterday" at 15 minutes: 96 rows, 92 or
//!   100 on a daylight-saving day).
//! - Energy consumption report: the consumption of every counter channel (energy, volume) of the
//!   chosen meters per interval.
//! - Cost report: cost per period, source and tariff ([`cost_report`]).
//! - Commissioning report: a snapshot of device settings the caller passes in.
//!
//! All reports produce a [`Table`], which [`crate::export`] writes as CSV and [`crate::chart`]
//! draws.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::aggregate::{
    Aggregation, CounterRule, Granularity, aggregate_edges, bin_edges, bin_start,
};
use crate::store::{Channel, ChannelKind, Store};
use crate::tariff::{Consumption, PeriodCost, Tariffs};

/// A report period, resolved against "now" in a time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Period {
    /// Today so far (the whole local day).
    Today,
    /// Yesterday.
    Yesterday,
    /// This week (Monday first).
    ThisWeek,
    /// Last week.
    LastWeek,
    /// This month.
    ThisMonth,
    /// Last month.
    LastMonth,
    /// This quarter.
    ThisQuarter,
    /// Last quarter.
    LastQuarter,
    /// This year.
    ThisYear,
    /// Last year.
    LastYear,
    /// A custom range `[from, to)`.
    Custom {
        /// Start.
        from: DateTime<Utc>,
        /// End (exclusive).
        to: DateTime<Utc>,
    },
}

impl Period {
    /// `[from, to)` in UTC.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use reports::report::Period;
    /// let tz = reports::aggregate::parse_tz("Europe/Paris").unwrap();
    /// let now = Utc.with_ymd_and_hms(2026, 3, 30, 10, 0, 0).unwrap();
    /// let (from, to) = Period::Yesterday.resolve(now, tz);
    /// assert_eq!((to - from).num_hours(), 23); // 29 March 2026: clocks go forward
    /// ```
    pub fn resolve(&self, now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let span = |g: Granularity, back: bool| {
            let this = bin_start(now, g, tz);
            let start = if back {
                bin_start(this - chrono::Duration::seconds(1), g, tz)
            } else {
                this
            };
            let edges = bin_edges(start, start + chrono::Duration::seconds(1), g, tz);
            (
                DateTime::from_timestamp(edges[0], 0).unwrap_or(start),
                DateTime::from_timestamp(edges[1], 0).unwrap_or(start),
            )
        };
        match *self {
            Period::Today => span(Granularity::Day, false),
            Period::Yesterday => span(Granularity::Day, true),
            Period::ThisWeek => span(Granularity::Week, false),
            Period::LastWeek => span(Granularity::Week, true),
            Period::ThisMonth => span(Granularity::Month, false),
            Period::LastMonth => span(Granularity::Month, true),
            Period::ThisQuarter => span(Granularity::Quarter, false),
            Period::LastQuarter => span(Granularity::Quarter, true),
            Period::ThisYear => span(Granularity::Year, false),
            Period::LastYear => span(Granularity::Year, true),
            Period::Custom { from, to } => (from, to),
        }
    }
}

/// Report kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// One value per device and column.
    Standard,
    /// One row per interval.
    Detailed,
    /// Consumption per meter and interval.
    EnergyConsumption,
    /// Cost per period, source and tariff.
    Cost,
    /// Device settings snapshot.
    Commissioning,
}

/// A saved selection: points, period, granularity and function. Serialisable (JSON, TOML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ReportKind,
    /// Points `device/service`.
    pub points: Vec<String>,
    /// Period.
    pub period: Period,
    /// Interval of detailed reports.
    #[serde(default = "default_granularity")]
    pub granularity: Granularity,
    /// Function; by default `delta` for counters and `mean` otherwise.
    #[serde(default)]
    pub aggregation: Option<Aggregation>,
    /// Time zone name.
    pub timezone: String,
}

fn default_granularity() -> Granularity {
    Granularity::QuarterHour
}

impl Preset {
    /// Parse a preset from JSON.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the line, column and problem.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|e| {
            Error::invalid(
                "preset",
                "a preset JSON object",
                format!("line {} column {}: {e}", e.line(), e.column()),
            )
        })
    }
    /// As JSON.
    ///
    /// # Errors
    /// Never in practice (serde_json on plain data).
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::invalid("preset", "serialisable data", e))
    }
    /// Run the preset (standard, detailed or energy consumption) against a store.
    ///
    /// # Errors
    /// [`Error::UnknownChannel`], store errors, [`Error::Invalid`] for cost and commissioning
    /// presets (they need tariffs or settings: use [`cost_report`] / [`Commissioning`]).
    pub fn run(&self, store: &dyn Store, now: DateTime<Utc>) -> Result<Table, Error> {
        let tz = crate::aggregate::parse_tz(&self.timezone)?;
        let (from, to) = self.period.resolve(now, tz);
        let points: Vec<Point> = self
            .points
            .iter()
            .map(|p| Point::new(p, self.aggregation))
            .collect();
        match self.kind {
            ReportKind::Standard => standard_report(store, &points, from, to),
            ReportKind::Detailed => detailed_report(store, &points, from, to, self.granularity, tz),
            ReportKind::EnergyConsumption => {
                let devices: Vec<&str> = self
                    .points
                    .iter()
                    .map(|p| p.split('/').next().unwrap_or(p))
                    .collect();
                energy_report(store, &devices, from, to, self.granularity, tz)
            }
            ReportKind::Cost | ReportKind::Commissioning => Err(Error::invalid(
                "preset kind",
                "standard, detailed or energy_consumption for Preset::run",
                format!("{:?}", self.kind),
            )),
        }
    }
}

/// A point and the function to apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    /// `device/service`.
    pub name: String,
    /// Function (`None`: by channel kind).
    pub aggregation: Option<Aggregation>,
}

impl Point {
    /// A point.
    pub fn new(name: &str, aggregation: Option<Aggregation>) -> Self {
        Point {
            name: name.to_string(),
            aggregation,
        }
    }
}

/// A column of a [`Table`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    /// Header (`device/service` or a service).
    pub name: String,
    /// Unit symbol.
    pub unit: String,
    /// Function.
    pub aggregation: Aggregation,
}

/// A row of a [`Table`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Label (device name, or the interval start for detailed reports).
    pub label: String,
    /// Interval start, for rows that are intervals.
    pub time: Option<DateTime<Utc>>,
    /// One value per column; `None` = no data.
    pub values: Vec<Option<f64>>,
}

/// Report output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// Title.
    pub title: String,
    /// Period start.
    pub from: DateTime<Utc>,
    /// Period end.
    pub to: DateTime<Utc>,
    /// Columns.
    pub columns: Vec<Column>,
    /// Rows.
    pub rows: Vec<Row>,
}

fn find(store: &dyn Store, name: &str) -> Result<Channel, Error> {
    store
        .channel(name)?
        .ok_or_else(|| Error::UnknownChannel(name.to_string()))
}

/// Standard report: one row per device, one column per service, one value for `[from, to)`.
///
/// # Errors
/// [`Error::UnknownChannel`] and store errors.
pub fn standard_report(
    store: &dyn Store,
    points: &[Point],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Table, Error> {
    let mut devices: Vec<String> = Vec::new();
    let mut services: Vec<(String, Aggregation, String)> = Vec::new();
    let mut cells: BTreeMap<(String, String), Option<f64>> = BTreeMap::new();
    for p in points {
        let ch = find(store, &p.name)?;
        let agg = p
            .aggregation
            .unwrap_or(Aggregation::default_for(ch.spec.kind));
        let bins = aggregate_edges(
            store,
            &ch,
            vec![from.timestamp(), to.timestamp()],
            CounterRule::default(),
        )?;
        if !devices.contains(&ch.spec.device) {
            devices.push(ch.spec.device.clone());
        }
        if !services
            .iter()
            .any(|s| s.0 == ch.spec.service && s.1 == agg)
        {
            services.push((ch.spec.service.clone(), agg, ch.spec.unit.clone()));
        }
        cells.insert(
            (
                ch.spec.device.clone(),
                format!("{}|{agg:?}", ch.spec.service),
            ),
            bins.first().and_then(|b| b.value(agg)),
        );
    }
    let rows = devices
        .iter()
        .map(|d| Row {
            label: d.clone(),
            time: None,
            values: services
                .iter()
                .map(|(s, a, _)| {
                    cells
                        .get(&(d.clone(), format!("{s}|{a:?}")))
                        .copied()
                        .flatten()
                })
                .collect(),
        })
        .collect();
    Ok(Table {
        title: "standard".into(),
        from,
        to,
        columns: services
            .into_iter()
            .map(|(name, aggregation, unit)| Column {
                name,
                unit,
                aggregation,
            })
            .collect(),
        rows,
    })
}

/// Detailed report: one row per `g` interval of `tz`, one column per point.
///
/// # Errors
/// [`Error::UnknownChannel`] and store errors.
pub fn detailed_report(
    store: &dyn Store,
    points: &[Point],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    g: Granularity,
    tz: Tz,
) -> Result<Table, Error> {
    let edges = bin_edges(from, to, g, tz);
    let mut columns = Vec::new();
    let mut data: Vec<Vec<Option<f64>>> = Vec::new();
    for p in points {
        let ch = find(store, &p.name)?;
        let agg = p
            .aggregation
            .unwrap_or(Aggregation::default_for(ch.spec.kind));
        let bins = aggregate_edges(store, &ch, edges.clone(), CounterRule::default())?;
        data.push(bins.iter().map(|b| b.value(agg)).collect());
        columns.push(Column {
            name: p.name.clone(),
            unit: ch.spec.unit.clone(),
            aggregation: agg,
        });
    }
    let rows = edges[..edges.len() - 1]
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let time = DateTime::from_timestamp(t, 0).unwrap_or(from);
            Row {
                label: time.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
                time: Some(time),
                values: data.iter().map(|c| c[i]).collect(),
            }
        })
        .collect();
    Ok(Table {
        title: "detailed".into(),
        from,
        to,
        columns,
        rows,
    })
}

/// Energy consumption report: the consumption of every counter channel of `devices` whose unit
/// is an energy or a volume, per `g` interval.
///
/// # Errors
/// Store errors.
pub fn energy_report(
    store: &dyn Store,
    devices: &[&str],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    g: Granularity,
    tz: Tz,
) -> Result<Table, Error> {
    const UNITS: [&str; 9] = ["Wh", "kWh", "MWh", "J", "GJ", "varh", "kvarh", "m3", "l"];
    let mut points = Vec::new();
    for ch in store.channels()? {
        if devices.contains(&ch.spec.device.as_str())
            && ch.spec.kind == ChannelKind::Counter
            && UNITS.contains(&ch.spec.unit.as_str())
        {
            points.push(Point::new(&ch.spec.name(), Some(Aggregation::Delta)));
        }
    }
    let mut t = detailed_report(store, &points, from, to, g, tz)?;
    t.title = "energy consumption".into();
    Ok(t)
}

/// Consumption intervals of a counter channel over `[from, to)`: one per pair of consecutive
/// readings, with the reset rule of [`crate::aggregate`] (a drop contributes nothing).
///
/// # Errors
/// Store errors.
pub fn consumption_intervals(
    store: &dyn Store,
    channel: &Channel,
    source: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Consumption>, Error> {
    let mut out = Vec::new();
    let mut prev: Option<crate::Sample> = None;
    store.scan(channel.id, from.timestamp(), to.timestamp() + 1, &mut |s| {
        for &r in s {
            if let Some(p) = prev
                && r.v >= p.v
            {
                out.push(Consumption {
                    start: p.time(),
                    end: r.time(),
                    source: source.to_string(),
                    quantity: r.v - p.v,
                });
            }
            prev = Some(r);
        }
    })?;
    Ok(out)
}

/// Cost report: per `g` period (day, week, month), source and tariff, for counter points each
/// mapped to a tariff source (`(point, source)`).
///
/// # Errors
/// [`Error::UnknownChannel`], store and tariff errors.
pub fn cost_report(
    store: &dyn Store,
    tariffs: &Tariffs,
    points: &[(&str, &str)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    g: Granularity,
) -> Result<Vec<PeriodCost>, Error> {
    let mut all = Vec::new();
    for (point, source) in points {
        let ch = find(store, point)?;
        all.extend(consumption_intervals(store, &ch, source, from, to)?);
    }
    tariffs.cost_by_period(&all, g)
}

/// Commissioning report: the settings of devices at the time the report runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commissioning {
    /// When the snapshot was taken.
    pub taken_at: DateTime<Utc>,
    /// Device -> parameter -> value.
    pub devices: BTreeMap<String, BTreeMap<String, String>>,
}

impl Commissioning {
    /// Write as CSV `device<sep>parameter<sep>value` with a header.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn write_csv(&self, w: impl std::io::Write, separator: u8) -> Result<(), Error> {
        let mut wr = csv::WriterBuilder::new()
            .delimiter(separator)
            .from_writer(w);
        let io = |e: csv::Error| Error::Io {
            path: "(commissioning csv)".into(),
            source: std::io::Error::other(e),
        };
        wr.write_record(["device", "parameter", "value"])
            .map_err(io)?;
        for (d, params) in &self.devices {
            for (k, v) in params {
                wr.write_record([d, k, v]).map_err(io)?;
            }
        }
        wr.flush().map_err(|e| Error::Io {
            path: "(commissioning csv)".into(),
            source: e,
        })
    }
}
