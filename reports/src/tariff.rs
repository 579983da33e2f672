//! Tariffs and costs.
//!
//! Per energy source (electricity, gas, water, heat, ...) up to 4 tariffs; each local hour of each
//! day type (weekday, Saturday, Sunday, holiday) is assigned a tariff by name. Prices are per
//! `price_unit` (by default the source's unit); a price may change over time (`prices`, each
//! valid from a local date). Gas volume is converted to energy with `conversion_factor`
//! (kWh per m3, from the gas supplier: volume correction factor x calorific value).
//!
//! The cost of a consumption interval is computed per local hour: an interval spanning an hour
//! boundary is split in proportion to time. On a daylight-saving day the repeated hour is priced
//! twice with the same hour's tariff and the skipped hour does not occur. A date listed in
//! `holidays` uses the `holiday` schedule (or the `sunday` one when no `holiday` schedule is
//! given).
//!
//! File form (TOML):
//! ```toml
//! currency = "EUR"
//! timezone = "Europe/Paris"
//! [[source]]
//! name = "electricity"
//! unit = "kWh"
//! tariffs = [ { name = "peak", price = 0.25 }, { name = "offpeak", price = 0.15,
//!               prices = [ { from = "2026-07-01", price = 0.17 } ] } ]
//! weekday  = ["offpeak", "..."]   # 24 names, local hours 00..23
//! saturday = ["..."]
//! sunday   = ["..."]
//! holiday  = ["..."]              # optional
//! holidays = ["2026-05-01"]       # optional
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::Error;
use crate::aggregate::{Granularity, bin_start, parse_tz};
use crate::toml_file::{Located, Source};

const ISO4217: &str = include_str!("../data/iso4217.csv");

/// An ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Currency {
    /// Alphabetic code (`EUR`).
    pub code: String,
    /// Numeric code, zero-padded (`978`).
    pub numeric: String,
    /// Minor-unit decimals.
    pub decimals: u8,
}

fn currencies() -> &'static Result<BTreeMap<String, Currency>, String> {
    static TABLE: OnceLock<Result<BTreeMap<String, Currency>, String>> = OnceLock::new();
    TABLE.get_or_init(|| load_currencies(ISO4217).map_err(|e| e.to_string()))
}

/// Load a currency table (`code,numeric,decimals` CSV; the embedded ISO 4217 list uses this too).
///
/// # Errors
/// [`Error::Csv`] naming the line and field.
pub fn load_currencies(text: &str) -> Result<BTreeMap<String, Currency>, Error> {
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let mut out = BTreeMap::new();
    for (i, rec) in rd.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|e| Error::Csv {
            file: "iso4217.csv".into(),
            line,
            field: "(row)".into(),
            expected: "3 fields".into(),
            found: e.to_string(),
        })?;
        let field = |k: usize,
                     name: &str,
                     ok: &dyn Fn(&str) -> bool,
                     expected: &str|
         -> Result<String, Error> {
            let v = rec.get(k).unwrap_or("");
            if ok(v) {
                Ok(v.to_string())
            } else {
                Err(Error::Csv {
                    file: "iso4217.csv".into(),
                    line,
                    field: name.into(),
                    expected: expected.into(),
                    found: v.into(),
                })
            }
        };
        let code = field(
            0,
            "code",
            &|v| v.len() == 3 && v.bytes().all(|b| b.is_ascii_uppercase()),
            "3 upper-case letters",
        )?;
        let numeric = field(
            1,
            "numeric",
            &|v| v.len() == 3 && v.bytes().all(|b| b.is_ascii_digit()),
            "3 digits",
        )?;
        let decimals = field(
            2,
            "decimals",
            &|v| matches!(v, "0" | "2" | "3" | "4"),
            "0, 2, 3 or 4",
        )?;
        out.insert(
            code.clone(),
            Currency {
                code,
                numeric,
                decimals: decimals.parse().unwrap_or(2),
            },
        );
    }
    Ok(out)
}

/// Look up an ISO 4217 code.
///
/// # Errors
/// [`Error::UnknownCurrency`].
///
/// ```
/// assert_eq!(reports::tariff::currency("JPY").unwrap().decimals, 0);
/// assert!(reports::tariff::currency("EURO").is_err());
/// ```
pub fn currency(code: &str) -> Result<Currency, Error> {
    match currencies() {
        Ok(t) => t.get(code).cloned().ok_or_else(|| Error::UnknownCurrency {
            found: code.to_string(),
        }),
        Err(e) => Err(Error::invalid(
            "embedded currency table",
            "a valid table",
            e,
        )),
    }
}

/// Day types a schedule distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayType {
    /// Monday to Friday.
    Weekday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
    /// A listed holiday.
    Holiday,
}

impl DayType {
    fn name(self) -> &'static str {
        match self {
            DayType::Weekday => "weekday",
            DayType::Saturday => "saturday",
            DayType::Sunday => "sunday",
            DayType::Holiday => "holiday",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    currency: String,
    timezone: String,
    source: Vec<SourceSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceSpec {
    name: Spanned<String>,
    unit: Spanned<String>,
    price_unit: Option<String>,
    conversion_factor: Option<Spanned<f64>>,
    #[serde(deserialize_with = "tariff_list")]
    tariffs: Vec<TariffSpec>,
    #[serde(deserialize_with = "day_hours")]
    weekday: Vec<String>,
    #[serde(deserialize_with = "day_hours")]
    saturday: Vec<String>,
    #[serde(deserialize_with = "day_hours")]
    sunday: Vec<String>,
    #[serde(default, deserialize_with = "optional_day_hours")]
    holiday: Option<Vec<String>>,
    #[serde(default)]
    holidays: Vec<NaiveDate>,
}

// The checks of a list's length and names run while the file is read, so a failure is
// reported at the list, with its field path. (A `toml::Spanned` around a list would lose the
// element index of errors inside it from the path.)

/// 1 to 4 tariffs with unique names.
fn tariff_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<TariffSpec>, D::Error> {
    let tariffs = Vec::<TariffSpec>::deserialize(d)?;
    if tariffs.is_empty() || tariffs.len() > 4 {
        return Err(serde::de::Error::custom(format!(
            "expected 1 to 4 tariffs, found {}",
            tariffs.len()
        )));
    }
    for (i, t) in tariffs.iter().enumerate() {
        if tariffs[..i].iter().any(|o| o.name == t.name) {
            return Err(serde::de::Error::custom(format!(
                "expected unique tariff names, found {:?} twice",
                t.name
            )));
        }
    }
    Ok(tariffs)
}

/// 24 tariff names, local hours 00..23.
fn day_hours<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    if names.len() == 24 {
        Ok(names)
    } else {
        Err(serde::de::Error::custom(format!(
            "expected 24 tariff names (local hours 00..23), found {}",
            names.len()
        )))
    }
}

/// [`day_hours`] for an optional day type.
fn optional_day_hours<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    day_hours(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TariffSpec {
    name: String,
    price: f64,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    prices: Vec<PriceSpec>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceSpec {
    from: NaiveDate,
    price: f64,
}

impl SourceSpec {
    /// The checked tariffs of source `si` of the file (`earlier`: the sources before it).
    fn resolve(
        self,
        src: &Source<'_>,
        si: usize,
        earlier: &[SourceTariffs],
    ) -> Result<SourceTariffs, Error> {
        let at = |span: std::ops::Range<usize>, key: &str, message: String| -> Located {
            src.at(span, format!("source[{si}].{key}"), message)
        };
        let name = self.name.get_ref().clone();
        let tariffs = resolve_tariffs(&name, &self.tariffs)?;
        let schedule = self.resolve_schedule(&name, &tariffs)?;
        let unit = self.unit.get_ref().clone();
        let price_unit = self.price_unit.unwrap_or_else(|| unit.clone());
        let factor_kwh_per_m3 = match self.conversion_factor {
            Some(f) if !(*f.get_ref() > 0.0 && f.get_ref().is_finite()) => {
                return Err(at(
                    f.span(),
                    "conversion_factor",
                    format!("expected kWh per m3 > 0, found {}", f.get_ref()),
                )
                .into());
            }
            f => f.map(Spanned::into_inner),
        };
        let factor = conversion(&unit, &price_unit, factor_kwh_per_m3)
            .map_err(|m| at(self.unit.span(), "unit", format!("expected {m}")))?;
        if earlier.iter().any(|o| o.name == name) {
            return Err(at(
                self.name.span(),
                "name",
                format!("expected unique source names, found {:?} twice", name),
            )
            .into());
        }
        Ok(SourceTariffs {
            name,
            unit,
            price_unit,
            factor,
            tariffs,
            schedule,
            holidays: self.holidays.into_iter().collect(),
        })
    }

    /// The tariff index of each local hour of each day type (24 hours each, checked while
    /// reading): every hour's tariff exists and is enabled.
    fn resolve_schedule(
        &self,
        source: &str,
        tariffs: &[Tariff],
    ) -> Result<[[usize; 24]; 4], Error> {
        let mut schedule = [[0usize; 24]; 4];
        let days = [
            (DayType::Weekday, &self.weekday),
            (DayType::Saturday, &self.saturday),
            (DayType::Sunday, &self.sunday),
            (
                DayType::Holiday,
                self.holiday.as_ref().unwrap_or(&self.sunday),
            ),
        ];
        for (day, names) in days {
            for (h, n) in names.iter().enumerate() {
                let idx = tariffs.iter().position(|t| &t.name == n);
                let why = match idx {
                    None => Some("missing"),
                    Some(i) if !tariffs[i].enabled => Some("disabled"),
                    Some(_) => None,
                };
                if let Some(why) = why {
                    return Err(Error::TariffAssignment {
                        source_name: source.to_string(),
                        day: day.name().into(),
                        hour: h,
                        tariff: n.clone(),
                        why,
                    });
                }
                schedule[day as usize][h] = idx.unwrap_or(0);
            }
        }
        Ok(schedule)
    }
}

/// The tariffs of a source (1 to 4 with unique names, checked while reading): prices >= 0,
/// price history sorted.
fn resolve_tariffs(source: &str, specs: &[TariffSpec]) -> Result<Vec<Tariff>, Error> {
    let mut tariffs: Vec<Tariff> = Vec::new();
    for t in specs {
        for p in std::iter::once(t.price).chain(t.prices.iter().map(|p| p.price)) {
            if !(p >= 0.0 && p.is_finite()) {
                return Err(Error::NegativePrice {
                    source_name: source.to_string(),
                    tariff: t.name.clone(),
                    price: p,
                });
            }
        }
        let mut history: Vec<(NaiveDate, f64)> =
            t.prices.iter().map(|p| (p.from, p.price)).collect();
        history.sort_by_key(|h| h.0);
        tariffs.push(Tariff {
            name: t.name.clone(),
            enabled: t.enabled,
            price: t.price,
            history,
        });
    }
    Ok(tariffs)
}

/// One tariff of a source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tariff {
    /// Name.
    pub name: String,
    /// Enabled (a disabled tariff may not be assigned to an hour).
    pub enabled: bool,
    /// Price per price unit before the first dated change.
    pub price: f64,
    /// Dated prices, ascending: `(valid from local date, price)`.
    pub history: Vec<(NaiveDate, f64)>,
}

impl Tariff {
    /// The price in force on local date `d`.
    pub fn price_on(&self, d: NaiveDate) -> f64 {
        let i = self.history.partition_point(|(from, _)| *from <= d);
        if i == 0 {
            self.price
        } else {
            self.history[i - 1].1
        }
    }
}

/// Tariffs of one energy source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceTariffs {
    /// Source name.
    pub name: String,
    /// Unit of the consumption quantities.
    pub unit: String,
    /// Unit prices refer to.
    pub price_unit: String,
    /// Price units per consumption unit.
    pub factor: f64,
    /// Up to 4 tariffs.
    pub tariffs: Vec<Tariff>,
    /// Tariff index per local hour, for weekday, Saturday, Sunday, holiday.
    pub schedule: [[usize; 24]; 4],
    /// Local holiday dates.
    pub holidays: BTreeSet<NaiveDate>,
}

impl SourceTariffs {
    /// Day type of local date `d`: holiday first, then Saturday / Sunday, then weekday.
    pub fn day_type(&self, d: NaiveDate) -> DayType {
        if self.holidays.contains(&d) {
            DayType::Holiday
        } else {
            match d.weekday() {
                Weekday::Sat => DayType::Saturday,
                Weekday::Sun => DayType::Sunday,
                _ => DayType::Weekday,
            }
        }
    }
    /// The tariff applying at local date `d`, hour `h`.
    pub fn tariff_at(&self, d: NaiveDate, h: u32) -> &Tariff {
        let idx = self.schedule[self.day_type(d) as usize][h as usize % 24];
        &self.tariffs[idx]
    }
}

/// A tariff set: currency, time zone and sources.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tariffs {
    /// Currency.
    pub currency: Currency,
    /// Time zone of the hours and dates.
    #[serde(serialize_with = "ser_tz")]
    pub tz: Tz,
    /// Sources.
    pub sources: Vec<SourceTariffs>,
}

fn ser_tz<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

/// Energy in joules or volume in litres per unit; `None` for unknown units.
fn unit_base(unit: &str) -> Option<(bool, f64)> {
    Some(match unit {
        "Wh" => (true, 3600.0),
        "kWh" => (true, 3.6e6),
        "MWh" => (true, 3.6e9),
        "J" => (true, 1.0),
        "kJ" => (true, 1e3),
        "MJ" => (true, 1e6),
        "GJ" => (true, 1e9),
        "l" => (false, 1.0),
        "m3" => (false, 1000.0),
        _ => return None,
    })
}

/// Price units per consumption unit: same kind scales, volume to energy uses `factor_kwh_per_m3`.
fn conversion(unit: &str, price_unit: &str, factor_kwh_per_m3: Option<f64>) -> Result<f64, String> {
    if unit == price_unit {
        return Ok(1.0);
    }
    let (ue, uf) = unit_base(unit)
        .ok_or_else(|| format!("a known unit (Wh kWh MWh J kJ MJ GJ l m3), found {unit:?}"))?;
    let (pe, pf) = unit_base(price_unit).ok_or_else(|| {
        format!("a known price unit (Wh kWh MWh J kJ MJ GJ l m3), found {price_unit:?}")
    })?;
    match (ue, pe) {
        (true, true) | (false, false) => Ok(uf / pf),
        (false, true) => {
            let k = factor_kwh_per_m3
                .ok_or("conversion_factor (kWh per m3) to convert a volume into energy")?;
            // unit -> m3 -> kWh -> price unit
            Ok(uf / 1000.0 * k * 3.6e6 / pf)
        }
        (true, false) => {
            let k = factor_kwh_per_m3
                .ok_or("conversion_factor (kWh per m3) to convert energy into a volume")?;
            Ok(uf / 3.6e6 / k * 1000.0 / pf)
        }
    }
}

impl Tariffs {
    /// Parse a tariff file (TOML). `file` names it in errors.
    ///
    /// # Errors
    /// [`Error::InvalidFile`] for syntax, type and unknown fields, with line, column and field;
    /// [`Error::UnknownCurrency`], [`Error::TariffAssignment`] (an hour assigned to a missing or
    /// disabled tariff), [`Error::NegativePrice`], [`Error::TimeZone`], and [`Error::InvalidFile`] for
    /// more than 4 tariffs, a schedule without 24 hours or a missing conversion factor.
    ///
    /// ```
    /// let text = r#"
    /// currency = "EUR"
    /// timezone = "Europe/Paris"
    /// [[source]]
    /// name = "electricity"
    /// unit = "kWh"
    /// tariffs = [ { name = "flat", price = 0.2 } ]
    /// weekday = ["flat","flat","flat","flat","flat","flat","flat","flat","flat","flat","flat","flat",
    ///            "flat","flat","flat","flat","flat","flat","flat","flat","flat","flat","flat","flat"]
    /// saturday = ["flat","flat","flat","flat","flat","flat","flat","flat","flat","flat","flat","flat",
    ///            "flat","flat","flat","flat","flat","flat","flat","flat","flat","flat","flat","flat"]
    /// sunday = ["flat","flat","flat","flat","flat","flat","flat","flat","flat","flat","flat","flat",
    ///            "flat","flat","flat","flat","flat","flat","flat","flat","flat","flat","flat","flat"]
    /// "#;
    /// let t = reports::tariff::Tariffs::from_toml("tariffs.toml", text).unwrap();
    /// assert_eq!(t.currency.code, "EUR");
    /// ```
    pub fn from_toml(file: impl AsRef<std::path::Path>, text: &str) -> Result<Self, Error> {
        let src = Source::new(file.as_ref(), text);
        let spec: FileSpec = src.parse()?;
        let currency = currency(&spec.currency)?;
        let tz = parse_tz(&spec.timezone)?;
        let mut sources: Vec<SourceTariffs> = Vec::new();
        for (si, s) in spec.source.into_iter().enumerate() {
            let s = s.resolve(&src, si, &sources)?;
            sources.push(s);
        }
        Ok(Tariffs {
            currency,
            tz,
            sources,
        })
    }

    /// Load a tariff file from disk.
    ///
    /// # Errors
    /// [`Error::Io`] and as [`Tariffs::from_toml`].
    pub fn load(path: &std::path::Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(path, &text)
    }

    /// The source named `name`.
    pub fn source(&self, name: &str) -> Option<&SourceTariffs> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// Split consumption intervals into local-hour pieces and price each.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a source without tariffs or an interval that ends before it starts.
    pub fn price(&self, intervals: &[Consumption]) -> Result<Vec<PricedPiece>, Error> {
        let mut out = Vec::new();
        for c in intervals {
            let src = self.source(&c.source).ok_or_else(|| {
                Error::invalid(
                    "consumption source",
                    "a source of the tariff file",
                    format!("{:?}", c.source),
                )
            })?;
            let (start, end) = (c.start.timestamp(), c.end.timestamp());
            if end < start {
                return Err(Error::invalid(
                    "consumption interval",
                    "end after start",
                    format!("{} .. {}", c.start, c.end),
                ));
            }
            if end == start {
                out.push(self.piece(src, c, start, end, c.quantity));
                continue;
            }
            let dt = (end - start) as f64;
            let mut t = start;
            while t < end {
                let local = c.start.with_timezone(&self.tz) + chrono::Duration::seconds(t - start);
                let into_hour = i64::from(local.minute() * 60 + local.second());
                let next = (t + 3600 - into_hour).min(end);
                out.push(self.piece(src, c, t, next, c.quantity * (next - t) as f64 / dt));
                t = next;
            }
        }
        Ok(out)
    }

    fn piece(
        &self,
        src: &SourceTariffs,
        c: &Consumption,
        t: i64,
        t_end: i64,
        quantity: f64,
    ) -> PricedPiece {
        let local = DateTime::from_timestamp(t, 0)
            .unwrap_or(c.start)
            .with_timezone(&self.tz);
        let date = local.date_naive();
        let tariff = src.tariff_at(date, local.hour());
        let cost = quantity * src.factor * tariff.price_on(date);
        PricedPiece {
            start: DateTime::from_timestamp(t, 0).unwrap_or(c.start),
            end: DateTime::from_timestamp(t_end, 0).unwrap_or(c.end),
            source: src.name.clone(),
            tariff: tariff.name.clone(),
            quantity,
            cost,
        }
    }

    /// Total cost, cost and energy per tariff name (the `cost` command's contract).
    ///
    /// # Errors
    /// As [`Tariffs::price`].
    pub fn cost(&self, intervals: &[Consumption]) -> Result<CostSummary, Error> {
        let mut s = CostSummary {
            currency: self.currency.code.clone(),
            total: 0.0,
            by_tariff: BTreeMap::new(),
            energy: BTreeMap::new(),
        };
        for p in self.price(intervals)? {
            s.total += p.cost;
            *s.by_tariff.entry(p.tariff.clone()).or_default() += p.cost;
            *s.energy.entry(p.tariff).or_default() += p.quantity;
        }
        Ok(s)
    }

    /// Cost per local period (day, week or month ...), source and tariff: the daily, weekly and
    /// monthly cost reports.
    ///
    /// # Errors
    /// As [`Tariffs::price`].
    pub fn cost_by_period(
        &self,
        intervals: &[Consumption],
        g: Granularity,
    ) -> Result<Vec<PeriodCost>, Error> {
        let mut acc: BTreeMap<(i64, String, String), (f64, f64)> = BTreeMap::new();
        for p in self.price(intervals)? {
            let start = bin_start(p.start, g, self.tz).timestamp();
            let e = acc.entry((start, p.source, p.tariff)).or_default();
            e.0 += p.quantity;
            e.1 += p.cost;
        }
        Ok(acc
            .into_iter()
            .map(|((start, source, tariff), (quantity, cost))| PeriodCost {
                start: DateTime::from_timestamp(start, 0).unwrap_or_default(),
                source,
                tariff,
                quantity,
                cost,
            })
            .collect())
    }
}

/// Consumption of one source over `[start, end)`, in the source's unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Consumption {
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// Source name.
    pub source: String,
    /// Quantity in the source's unit.
    pub quantity: f64,
}

/// A priced piece of consumption inside one local hour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PricedPiece {
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// Source.
    pub source: String,
    /// Tariff name.
    pub tariff: String,
    /// Quantity (source unit).
    pub quantity: f64,
    /// Cost (currency).
    pub cost: f64,
}

/// Cost of a period, source and tariff.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodCost {
    /// Period start.
    pub start: DateTime<Utc>,
    /// Source.
    pub source: String,
    /// Tariff.
    pub tariff: String,
    /// Quantity (source unit).
    pub quantity: f64,
    /// Cost.
    pub cost: f64,
}

/// The `cost` command's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostSummary {
    /// ISO 4217 code.
    pub currency: String,
    /// Total cost.
    pub total: f64,
    /// Cost per tariff name.
    pub by_tariff: BTreeMap<String, f64>,
    /// Energy (source unit) per tariff name.
    pub energy: BTreeMap<String, f64>,
}

/// Read a consumption CSV (`start,source,quantity`). Each row is the consumption of the
/// interval from `start` (RFC 3339, any offset) to the next row of the same source; the last row
/// of a source lasts as long as the one before it (15 minutes when a source has one row).
///
/// # Errors
/// [`Error::Csv`] naming the line and column.
///
/// ```
/// let csv = "start,source,quantity\n2026-01-05T00:00:00Z,electricity,1.5\n2026-01-05T00:15:00+00:00,electricity,2\n";
/// let c = reports::tariff::read_consumption_csv(csv.as_bytes(), "c.csv").unwrap();
/// assert_eq!(c[1].end - c[1].start, chrono::Duration::minutes(15));
/// ```
pub fn read_consumption_csv(
    reader: impl std::io::Read,
    file: &str,
) -> Result<Vec<Consumption>, Error> {
    let mut rd = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(reader);
    let err = |line: u64, field: &str, expected: &str, found: String| Error::Csv {
        file: file.to_string(),
        line,
        field: field.to_string(),
        expected: expected.to_string(),
        found,
    };
    let headers = rd
        .headers()
        .map_err(|e| err(1, "(header)", "start,source,quantity", e.to_string()))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(ci), Some(cs), Some(cq)) = (col("start"), col("source"), col("quantity")) else {
        return Err(err(
            1,
            "(header)",
            "start,source,quantity",
            headers.iter().collect::<Vec<_>>().join(","),
        ));
    };
    let mut rows: BTreeMap<String, Vec<(DateTime<Utc>, f64)>> = BTreeMap::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| {
            err(
                e.position().map_or(0, |p| p.line()),
                "(row)",
                "3 fields",
                e.to_string(),
            )
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let start = rec.get(ci).unwrap_or("");
        let start = DateTime::parse_from_rfc3339(start)
            .map_err(|_| {
                err(
                    line,
                    "start",
                    "an RFC 3339 time such as 2026-01-05T00:00:00+01:00",
                    start.into(),
                )
            })?
            .with_timezone(&Utc);
        let source = rec.get(cs).unwrap_or("").to_string();
        if source.is_empty() {
            return Err(err(line, "source", "a source name", String::new()));
        }
        let q = rec.get(cq).unwrap_or("");
        let quantity: f64 = q
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| err(line, "quantity", "a number", q.into()))?;
        rows.entry(source).or_default().push((start, quantity));
    }
    let mut out = Vec::new();
    for (source, mut r) in rows {
        r.sort_by_key(|x| x.0);
        for i in 0..r.len() {
            let end = if i + 1 < r.len() {
                r[i + 1].0
            } else if i > 0 {
                r[i].0 + (r[i].0 - r[i - 1].0)
            } else {
                r[i].0 + chrono::Duration::minutes(15)
            };
            out.push(Consumption {
                start: r[i].0,
                end,
                source: source.clone(),
                quantity: r[i].1,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn hours(spec: &[(&str, usize)]) -> String {
        let names: Vec<String> = spec
            .iter()
            .flat_map(|(n, k)| std::iter::repeat_n(format!("\"{n}\""), *k))
            .collect();
        format!("[{}]", names.join(", "))
    }

    fn file(extra: &str) -> String {
        let wd = hours(&[("offpeak", 6), ("peak", 16), ("offpeak", 2)]);
        let we = hours(&[("offpeak", 24)]);
        format!(
            r#"currency = "EUR"
timezone = "Europe/Paris"
[[source]]
name = "electricity"
unit = "kWh"
tariffs = [ {{ name = "peak", price = 0.25, prices = [ {{ from = "2026-07-01", price = 0.30 }} ] }}, {{ name = "offpeak", price = 0.15 }} ]
weekday = {wd}
saturday = {we}
sunday = {we}
holidays = ["2026-05-01"]
{extra}
[[source]]
name = "gas"
unit = "m3"
price_unit = "kWh"
conversion_factor = 11.2
tariffs = [ {{ name = "gas", price = 0.1 }} ]
weekday = {g}
saturday = {g}
sunday = {g}
"#,
            g = hours(&[("gas", 24)])
        )
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn hours_day_types_holidays_and_history() {
        let t = Tariffs::from_toml("t.toml", &file("")).unwrap();
        let c = |s: &str, q: f64| Consumption {
            start: at(s),
            end: at(s) + chrono::Duration::minutes(60),
            source: "electricity".into(),
            quantity: q,
        };
        // Tuesday 2026-05-05, 10:00 Paris = peak; 05:00 = offpeak.
        let s = t
            .cost(&[
                c("2026-05-05T10:00:00+02:00", 10.0),
                c("2026-05-05T05:00:00+02:00", 10.0),
            ])
            .unwrap();
        assert!((s.by_tariff["peak"] - 2.5).abs() < 1e-12);
        assert!((s.by_tariff["offpeak"] - 1.5).abs() < 1e-12);
        assert!((s.total - 4.0).abs() < 1e-12);
        // Friday 1 May is a holiday: the Sunday schedule (all offpeak).
        let s = t.cost(&[c("2026-05-01T10:00:00+02:00", 10.0)]).unwrap();
        assert_eq!(s.by_tariff.keys().collect::<Vec<_>>(), vec!["offpeak"]);
        // From July the peak price is 0.30.
        let s = t.cost(&[c("2026-07-07T10:00:00+02:00", 10.0)]).unwrap();
        assert!((s.total - 3.0).abs() < 1e-12);
        // Gas m3 priced per kWh with the conversion factor.
        let g = Consumption {
            start: at("2026-05-05T10:00:00Z"),
            end: at("2026-05-05T11:00:00Z"),
            source: "gas".into(),
            quantity: 2.0,
        };
        assert!((t.cost(&[g]).unwrap().total - 2.0 * 11.2 * 0.1).abs() < 1e-12);
    }

    #[test]
    fn interval_spanning_an_hour_boundary_is_split() {
        let t = Tariffs::from_toml("t.toml", &file("")).unwrap();
        // 05:30..06:30 Paris on a weekday: half offpeak, half peak.
        let c = Consumption {
            start: at("2026-05-05T05:30:00+02:00"),
            end: at("2026-05-05T06:30:00+02:00"),
            source: "electricity".into(),
            quantity: 4.0,
        };
        let s = t.cost(&[c]).unwrap();
        assert_eq!(s.energy["peak"], 2.0);
        assert_eq!(s.energy["offpeak"], 2.0);
    }

    #[test]
    fn dst_days_price_local_hours() {
        let t = Tariffs::from_toml("t.toml", &file("")).unwrap();
        // Monday 2026-10-26? no: the fall-back day is Sunday 25 Oct; use a weekday schedule check
        // on the spring day Sunday 29 March (all offpeak) vs Monday 30 March 06:00 local = peak.
        let start = Utc.with_ymd_and_hms(2026, 3, 28, 23, 0, 0).unwrap(); // 29 March 00:00 Paris
        let day: Vec<Consumption> = (0..23)
            .map(|h| Consumption {
                start: start + chrono::Duration::hours(h),
                end: start + chrono::Duration::hours(h + 1),
                source: "electricity".into(),
                quantity: 1.0,
            })
            .collect();
        let p = t.price(&day).unwrap();
        assert_eq!(p.len(), 23, "23 local hours");
        // Monday 30 March: local hour 06 is the first peak hour = 04:00 UTC (CEST).
        let c = Consumption {
            start: at("2026-03-30T04:00:00Z"),
            end: at("2026-03-30T05:00:00Z"),
            source: "electricity".into(),
            quantity: 1.0,
        };
        assert_eq!(t.price(&[c]).unwrap()[0].tariff, "peak");
        // Monday 26 October (CET again): 06:00 local = 05:00 UTC is peak, 04:00 UTC is offpeak.
        let c = Consumption {
            start: at("2026-10-26T04:00:00Z"),
            end: at("2026-10-26T06:00:00Z"),
            source: "electricity".into(),
            quantity: 2.0,
        };
        let p = t.price(&[c]).unwrap();
        assert_eq!(
            (p[0].tariff.as_str(), p[1].tariff.as_str()),
            ("offpeak", "peak")
        );
    }

    #[test]
    fn named_errors() {
        let e = Tariffs::from_toml("t.toml", &file("").replace("\"EUR\"", "\"EUX\"")).unwrap_err();
        assert!(matches!(e, Error::UnknownCurrency { .. }), "{e}");
        let e = Tariffs::from_toml("t.toml", &file("").replace("price = 0.15", "price = -0.15"))
            .unwrap_err();
        assert!(
            matches!(e, Error::NegativePrice { ref tariff, .. } if tariff == "offpeak"),
            "{e}"
        );
        let e = Tariffs::from_toml(
            "t.toml",
            &file("").replace(
                "{ name = \"offpeak\", price = 0.15 }",
                "{ name = \"offpeak\", price = 0.15, enabled = false }",
            ),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::TariffAssignment {
                    why: "disabled",
                    hour: 0,
                    ..
                }
            ),
            "{e}"
        );
        let e = Tariffs::from_toml(
            "t.toml",
            &file("").replacen("\"offpeak\", \"offpeak\"", "\"offpeak\", \"night\"", 1),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::TariffAssignment {
                    why: "missing",
                    hour: 1,
                    ..
                }
            ),
            "{e}"
        );
        let e = Tariffs::from_toml("t.toml", &file("colour = 3")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("t.toml:") && msg.contains("colour"),
            "{msg}"
        );
        let five = "tariffs = [ { name = \"a\", price = 1 }, { name = \"b\", price = 1 }, { name = \"c\", price = 1 }, { name = \"d\", price = 1 }, { name = \"e\", price = 1 } ]";
        let e = Tariffs::from_toml(
            "t.toml",
            &file("").replace("tariffs = [ { name = \"gas\", price = 0.1 } ]", five),
        )
        .unwrap_err();
        assert!(e.to_string().contains("1 to 4 tariffs"), "{e}");
        let e = Tariffs::from_toml(
            "t.toml",
            &file("").replace("conversion_factor = 11.2\n", ""),
        )
        .unwrap_err();
        assert!(e.to_string().contains("conversion_factor"), "{e}");
    }

    /// A bad value after multi-byte characters: line, column in characters, field path.
    #[test]
    fn bad_field_after_multibyte_characters_is_located() {
        let text = file("").replace(
            "{ name = \"peak\", price = 0.25,",
            "{ name = \"Hochtarif °C ä\", price = \"viel\",",
        );
        let e = Tariffs::from_toml("tarife/zähler.toml", &text).unwrap_err();
        // Line 6 is `tariffs = [ { name = "Hochtarif °C ä", price = "viel", ...`: the value
        // starts at character 48 (byte 50).
        assert_eq!(
            e.to_string(),
            "tarife/zähler.toml:6:48: source[0].tariffs[0].price: invalid type: string \"viel\", expected f64"
        );
        assert!(
            matches!(
                &e,
                Error::InvalidFile { file, line: 6, column: 48, field, .. }
                    if field == "source[0].tariffs[0].price"
                        && file == std::path::Path::new("tarife/zähler.toml")
            ),
            "{e:?}"
        );
    }

    /// Checks made after reading (here a conversion factor) point at the value in the file.
    #[test]
    fn semantic_errors_point_at_the_value() {
        let text = file("").replace("conversion_factor = 11.2", "conversion_factor = -2.0");
        let line = text
            .lines()
            .position(|l| l.starts_with("conversion_factor"))
            .unwrap()
            + 1;
        let e = Tariffs::from_toml("t.toml", &text).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "t.toml:{line}:21: source[1].conversion_factor: expected kWh per m3 > 0, found -2"
            )
        );
        let text = file("").replace("weekday = [\"gas\", ", "weekday = [");
        let e = Tariffs::from_toml("t.toml", &text).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidFile { column: 11, field, message, .. }
                if field == "source[1].weekday" && message.ends_with("found 23")),
            "{e:?}"
        );
    }

    #[test]
    fn consumption_csv() {
        let csv = "start,source,quantity\n2026-01-05T00:30:00+01:00,gas,1\n2026-01-05T00:00:00+01:00,gas,2\n2026-01-05T00:00:00Z,electricity,5\n";
        let c = read_consumption_csv(csv.as_bytes(), "c.csv").unwrap();
        let gas: Vec<_> = c.iter().filter(|c| c.source == "gas").collect();
        assert_eq!(gas[0].end - gas[0].start, chrono::Duration::minutes(30));
        assert_eq!(gas[1].end - gas[1].start, chrono::Duration::minutes(30));
        let e = read_consumption_csv(
            "start,source,quantity\nyesterday,gas,1\n".as_bytes(),
            "c.csv",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.csv:2: field start: expected an RFC 3339 time such as 2026-01-05T00:00:00+01:00, found \"yesterday\""
        );
        assert!(read_consumption_csv("a,b\n".as_bytes(), "c.csv").is_err());
    }

    #[test]
    fn embedded_currency_table_loads() {
        let t = load_currencies(ISO4217).unwrap();
        assert!(t.len() > 150);
        assert_eq!(t["AUD"].numeric, "036");
        assert_eq!(t["BHD"].decimals, 3);
    }
}
