//! EN 50160 weekly compliance of the supply voltage (continuous phenomena, low voltage).
//!
//! Input: 10-minute values (voltage per phase, THD, harmonics 2..25, unbalance) and Plt values
//! (one per 2-hour window), plus optional 10-second frequency means, over a week. Output per
//! parameter (and per phase): the limit, the share of valid intervals within it, the share
//! required and pass / fail; the week is OK when every parameter passes.
//!
//! Counting follows the N / N1 / N2 scheme of meter manuals: flagged intervals (a missing value)
//! are left out, `within = 100 * (N - Nout) / N`, and a rule passes when
//! `(N - Nout) / N >= required` computed exactly on counts (so 50 of 1000 outside passes a 95 %
//! rule and 51 fails). Band edges are inside the band. Each quantity has a primary rule named
//! after its column (`u1`, `frequency`, `thd2`, `h5_1`...) and, where EN 50160 has a 100 % band,
//! a second rule named with `_100` (`u1_100`, `frequency_100`). The limits come from the embedded
//! table `data/en50160.toml` (EN 50160:2010), loaded by [`Limits::from_toml`] like a user file.
//!
//! [`aggregate_rms`] turns raw 10/12-cycle (about 200 ms) values into 10-minute values aligned to
//! the UTC 10-minute tick as IEC 61000-4-30 does (square root of the mean of the squares);
//! [`aggregate_mean`] does the plain mean used for 10-second frequency values, and
//! [`plt_from_pst`] builds Plt from twelve Pst values.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::toml_file::Source;

const LIMITS: &str = include_str!("../data/en50160.toml");

/// Network type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// Synchronously connected to an interconnected system.
    #[default]
    Interconnected,
    /// An island (not synchronously connected).
    Island,
}

/// Check settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Nominal phase-to-neutral voltage (230 V by default; 400 V for phase-to-phase data).
    pub nominal_voltage: f64,
    /// Nominal frequency (50 Hz).
    pub nominal_frequency: f64,
    /// Network type.
    pub network: Network,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            nominal_voltage: 230.0,
            nominal_frequency: 50.0,
            network: Network::Interconnected,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct BandRule {
    band: [f64; 2],
    required: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaxRule {
    max: f64,
    required: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkRules {
    frequency: Vec<BandRule>,
    voltage: Vec<BandRule>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Common {
    unbalance: MaxRule,
    thd: MaxRule,
    plt: MaxRule,
    harmonics_required: f64,
    #[serde(deserialize_with = "harmonic_limits")]
    harmonics: Vec<f64>,
}

/// The 24 individual harmonic limits (orders 2..25), checked while the table is read so that a
/// wrong count is reported at the list in the file.
fn harmonic_limits<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let limits = Vec::<f64>::deserialize(d)?;
    if limits.len() == 24 {
        Ok(limits)
    } else {
        Err(serde::de::Error::custom(format!(
            "expected 24 limits (orders 2..25), found {}",
            limits.len()
        )))
    }
}

/// A limits table (one edition of EN 50160).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Edition name.
    pub edition: String,
    interconnected: NetworkRules,
    island: NetworkRules,
    common: Common,
}

impl Limits {
    /// The embedded EN 50160:2010 table.
    ///
    /// # Errors
    /// Only if the embedded file is broken (a test loads it).
    ///
    /// ```
    /// assert_eq!(reports::en50160::Limits::builtin().unwrap().harmonic(5), Some(6.0));
    /// ```
    pub fn builtin() -> Result<Self, Error> {
        Self::from_toml("<builtin>/en50160.toml", LIMITS)
    }
    /// Load a limits table.
    ///
    /// # Errors
    /// [`Error::InvalidFile`] with file, line, column and field.
    pub fn from_toml(file: impl AsRef<std::path::Path>, text: &str) -> Result<Self, Error> {
        Ok(Source::new(file.as_ref(), text).parse()?)
    }
    /// The individual limit of harmonic order `n` (2..=25), % of the fundamental.
    pub fn harmonic(&self, n: usize) -> Option<f64> {
        n.checked_sub(2)
            .and_then(|i| self.common.harmonics.get(i))
            .copied()
    }
}

/// 10-minute values by column name (`u1`, `thd2`, `h5_3`, `unbalance`, `plt1`...), `None` =
/// flagged or absent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WeekData {
    /// Interval times.
    pub times: Vec<DateTime<Utc>>,
    /// Columns, each as long as `times`.
    pub columns: BTreeMap<String, Vec<Option<f64>>>,
}

/// The result of one rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParameterResult {
    /// Rule name (`u1`, `u1_100`, `frequency`, `h5_1`...).
    pub name: String,
    /// The limit, e.g. `207..253 V` or `<= 8 %`.
    pub limit: String,
    /// Share of valid intervals within the limit, percent.
    pub within_percent: f64,
    /// Share required, percent.
    pub required_percent: f64,
    /// Passed.
    pub pass: bool,
    /// Valid intervals (N).
    #[serde(skip)]
    pub valid: u64,
    /// Valid intervals outside the limit.
    #[serde(skip)]
    pub outside: u64,
}

/// The weekly verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compliance {
    /// `OK` or `KO`.
    pub overall: &'static str,
    /// Per rule.
    pub parameters: Vec<ParameterResult>,
}

fn fmt_num(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn evaluate(
    name: String,
    limit: String,
    values: impl Iterator<Item = Option<f64>>,
    lo: f64,
    hi: f64,
    required: f64,
) -> Option<ParameterResult> {
    let (mut n, mut out) = (0u64, 0u64);
    for v in values.flatten() {
        n += 1;
        if !(v >= lo && v <= hi) {
            out += 1;
        }
    }
    if n == 0 {
        return None;
    }
    // Exact on counts: (n - out) / n >= required / 100, required with 0.1 % resolution.
    let req_permille = (required * 10.0).round() as u64;
    let pass = (n - out) * 1000 >= req_permille * n;
    Some(ParameterResult {
        name,
        limit,
        within_percent: 100.0 * (n - out) as f64 / n as f64,
        required_percent: required,
        pass,
        valid: n,
        outside: out,
    })
}

/// Phase suffixes and harmonic columns in report order.
fn ordered_columns(week: &WeekData) -> Vec<&str> {
    let mut cols: Vec<&str> = week.columns.keys().map(String::as_str).collect();
    let rank = |c: &str| -> (u32, u32, u32) {
        if let Some((n, p)) = parse_harmonic(c) {
            return (5, p, n);
        }
        let (base, phase) = c.split_at(c.trim_end_matches(|ch: char| ch.is_ascii_digit()).len());
        let phase = phase.parse().unwrap_or(0);
        match base {
            "u" => (1, phase, 0),
            "unbalance" => (2, 0, 0),
            "thd" => (3, phase, 0),
            "plt" => (4, phase, 0),
            _ => (9, 0, 0),
        }
    };
    cols.sort_by_key(|c| rank(c));
    cols
}

fn parse_harmonic(c: &str) -> Option<(u32, u32)> {
    let rest = c.strip_prefix('h')?;
    let (n, p) = rest.split_once('_')?;
    let (n, p): (u32, u32) = (n.parse().ok()?, p.parse().ok()?);
    ((2..=25).contains(&n) && (1..=3).contains(&p)).then_some((n, p))
}

/// Whether `name` is a column a week file may hold.
pub fn is_known_column(name: &str) -> bool {
    matches!(
        name,
        "u1" | "u2" | "u3" | "thd1" | "thd2" | "thd3" | "unbalance" | "plt1" | "plt2" | "plt3"
    ) || parse_harmonic(name).is_some()
}

/// Check a week.
///
/// ```
/// use reports::en50160::{check, Limits, Settings, WeekData};
/// let mut week = WeekData::default();
/// week.columns.insert("u1".into(), vec![Some(230.0); 1008]);
/// let c = check(&week, None, &Settings::default(), &Limits::builtin().unwrap());
/// assert_eq!(c.overall, "OK");
/// assert_eq!(c.parameters[0].name, "u1");
/// ```
pub fn check(
    week: &WeekData,
    frequency: Option<&[Option<f64>]>,
    settings: &Settings,
    limits: &Limits,
) -> Compliance {
    let rules = match settings.network {
        Network::Interconnected => &limits.interconnected,
        Network::Island => &limits.island,
    };
    let mut out = Vec::new();
    let band = |nominal: f64, r: &BandRule| {
        (
            nominal * (100.0 + r.band[0]) / 100.0,
            nominal * (100.0 + r.band[1]) / 100.0,
        )
    };
    let name_for = |base: &str, r: f64| {
        if r >= 100.0 {
            format!("{base}_100")
        } else {
            base.to_string()
        }
    };
    if let Some(f) = frequency {
        for r in &rules.frequency {
            let (lo, hi) = band(settings.nominal_frequency, r);
            out.extend(evaluate(
                name_for("frequency", r.required),
                format!("{}..{} Hz", fmt_num(lo), fmt_num(hi)),
                f.iter().copied(),
                lo,
                hi,
                r.required,
            ));
        }
    }
    for col in ordered_columns(week) {
        let values = &week.columns[col];
        let max_rule = |m: &MaxRule, unit: &str| {
            (
                f64::NEG_INFINITY,
                m.max,
                m.required,
                format!("<= {} {unit}", fmt_num(m.max)),
            )
        };
        let mut col_rules: Vec<(f64, f64, f64, String)> = Vec::new();
        if col.starts_with("unbalance") {
            col_rules.push(max_rule(&limits.common.unbalance, "%"));
        } else if col.starts_with("thd") {
            col_rules.push(max_rule(&limits.common.thd, "%"));
        } else if col.starts_with("plt") {
            col_rules.push(max_rule(&limits.common.plt, ""));
        } else if let Some((n, _)) = parse_harmonic(col) {
            if let Some(l) = limits.harmonic(n as usize) {
                col_rules.push((
                    f64::NEG_INFINITY,
                    l,
                    limits.common.harmonics_required,
                    format!("<= {} %", fmt_num(l)),
                ));
            }
        } else if col.starts_with('u') {
            for r in &rules.voltage {
                let (lo, hi) = band(settings.nominal_voltage, r);
                col_rules.push((
                    lo,
                    hi,
                    r.required,
                    format!("{}..{} V", fmt_num(lo), fmt_num(hi)),
                ));
            }
        }
        for (lo, hi, req, limit) in col_rules {
            let name = if col.starts_with('u') && !col.starts_with("unbalance") {
                name_for(col, req)
            } else {
                col.to_string()
            };
            out.extend(evaluate(
                name,
                limit.trim_end().to_string(),
                values.iter().copied(),
                lo,
                hi,
                req,
            ));
        }
    }
    let ok = out.iter().all(|p| p.pass);
    Compliance {
        overall: if ok { "OK" } else { "KO" },
        parameters: out,
    }
}

/// Read a week file: header `time` then any known columns; an empty cell is a flagged interval
/// (in `plt` columns: no Plt value on that row).
///
/// # Errors
/// [`Error::Csv`] naming the line and column (unknown columns included).
pub fn read_week_csv(reader: impl std::io::Read, file: &str) -> Result<WeekData, Error> {
    let (times, cols) = read_table(
        reader,
        file,
        &|c| is_known_column(c),
        "time, then u1..u3, thd1..thd3, unbalance, plt1..plt3 or hN_P (N 2..25, P 1..3)",
    )?;
    Ok(WeekData {
        times,
        columns: cols,
    })
}

/// Read a frequency file (`time,f`, 10-second means in Hz; an empty cell is flagged).
///
/// # Errors
/// [`Error::Csv`].
pub fn read_frequency_csv(
    reader: impl std::io::Read,
    file: &str,
) -> Result<Vec<Option<f64>>, Error> {
    let (_, mut cols) = read_table(reader, file, &|c| c == "f", "time,f")?;
    cols.remove("f").ok_or_else(|| Error::Csv {
        file: file.into(),
        line: 1,
        field: "(header)".into(),
        expected: "time,f".into(),
        found: "no f column".into(),
    })
}

type Table = (Vec<DateTime<Utc>>, BTreeMap<String, Vec<Option<f64>>>);

fn read_table(
    reader: impl std::io::Read,
    file: &str,
    known: &dyn Fn(&str) -> bool,
    expected_header: &str,
) -> Result<Table, Error> {
    let mut rd = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(reader);
    let err = |line: u64, field: &str, expected: &str, found: String| Error::Csv {
        file: file.into(),
        line,
        field: field.into(),
        expected: expected.into(),
        found,
    };
    let headers = rd
        .headers()
        .map_err(|e| err(1, "(header)", expected_header, e.to_string()))?
        .clone();
    if headers.get(0) != Some("time") {
        return Err(err(
            1,
            "(header)",
            expected_header,
            headers.iter().collect::<Vec<_>>().join(","),
        ));
    }
    let names: Vec<String> = headers.iter().skip(1).map(str::to_string).collect();
    for n in &names {
        if !known(n) {
            return Err(err(1, n, expected_header, n.clone()));
        }
    }
    let mut times = Vec::new();
    let mut cols: Vec<Vec<Option<f64>>> = vec![Vec::new(); names.len()];
    for rec in rd.records() {
        let rec = rec.map_err(|e| {
            err(
                e.position().map_or(0, |p| p.line()),
                "(row)",
                "as many fields as the header",
                e.to_string(),
            )
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let t = rec.get(0).unwrap_or("");
        let t = DateTime::parse_from_rfc3339(t)
            .map_err(|_| err(line, "time", "an RFC 3339 time", t.into()))?;
        times.push(t.with_timezone(&Utc));
        for (i, name) in names.iter().enumerate() {
            let cell = rec.get(i + 1).unwrap_or("");
            let v = if cell.is_empty() {
                None
            } else {
                Some(
                    cell.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| err(line, name, "a number or an empty cell", cell.into()))?,
                )
            };
            cols[i].push(v);
        }
    }
    Ok((times, names.into_iter().zip(cols).collect()))
}

fn bucket_values(
    raw: &[(DateTime<Utc>, f64)],
    window_secs: i64,
    f: impl Fn(f64, f64, usize) -> f64,
    sq: bool,
) -> Vec<(DateTime<Utc>, f64)> {
    let mut acc: BTreeMap<i64, (f64, usize)> = BTreeMap::new();
    let w = window_secs.max(1) * 1000;
    for (t, v) in raw {
        let ms = t.timestamp_millis();
        let e = acc.entry(ms - ms.rem_euclid(w)).or_default();
        e.0 += if sq { v * v } else { *v };
        e.1 += 1;
    }
    acc.into_iter()
        .map(|(start, (s, n))| {
            (
                DateTime::from_timestamp_millis(start).unwrap_or_default(),
                f(s, s / n as f64, n),
            )
        })
        .collect()
}

/// IEC 61000-4-30 aggregation of raw rms values (10/12-cycle, about 200 ms) into intervals of
/// `window_secs` (600 for 10 minutes) aligned to the UTC clock tick: the square root of the
/// mean of the squared values. Each result is labelled with its interval's start.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
/// let raw: Vec<_> = (0..3000).map(|i| (t0 + chrono::Duration::milliseconds(200 * i), if i % 2 == 0 { 220.0 } else { 240.0 })).collect();
/// let agg = reports::en50160::aggregate_rms(&raw, 600);
/// assert_eq!(agg.len(), 1);
/// assert!((agg[0].1 - ((220.0f64 * 220.0 + 240.0 * 240.0) / 2.0).sqrt()).abs() < 1e-9);
/// ```
pub fn aggregate_rms(raw: &[(DateTime<Utc>, f64)], window_secs: i64) -> Vec<(DateTime<Utc>, f64)> {
    bucket_values(raw, window_secs, |_, mean_sq, _| mean_sq.sqrt(), true)
}

/// Arithmetic mean per `window_secs` interval aligned to the UTC clock (10-second frequency).
pub fn aggregate_mean(raw: &[(DateTime<Utc>, f64)], window_secs: i64) -> Vec<(DateTime<Utc>, f64)> {
    bucket_values(raw, window_secs, |_, mean, _| mean, false)
}

/// Plt from twelve consecutive 10-minute Pst values: the cube root of the mean of the cubes.
pub fn plt_from_pst(pst: &[f64; 12]) -> f64 {
    (pst.iter().map(|p| p * p * p).sum::<f64>() / 12.0).cbrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week(col: &str, n: usize, bad: usize, good_v: f64, bad_v: f64) -> WeekData {
        let mut w = WeekData::default();
        let v: Vec<Option<f64>> = (0..n)
            .map(|i| Some(if i < bad { bad_v } else { good_v }))
            .collect();
        w.columns.insert(col.into(), v);
        w
    }

    fn run(w: &WeekData, f: Option<&[Option<f64>]>, s: Settings) -> Compliance {
        check(w, f, &s, &Limits::builtin().unwrap())
    }

    fn rule<'a>(c: &'a Compliance, name: &str) -> &'a ParameterResult {
        c.parameters
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", c.parameters))
    }

    #[test]
    fn voltage_95_percent_boundary() {
        let s = Settings::default();
        // 1000 intervals, 50 outside +-10 % (200 V is inside -15 %): exactly 95.0 % -> pass.
        let c = run(&week("u1", 1000, 50, 230.0, 200.0), None, s);
        assert!(rule(&c, "u1").pass && rule(&c, "u1").within_percent == 95.0);
        assert!(rule(&c, "u1_100").pass);
        assert_eq!(c.overall, "OK");
        let c = run(&week("u1", 1000, 51, 230.0, 200.0), None, s);
        assert!(!rule(&c, "u1").pass);
        assert_eq!(c.overall, "KO");
        // A real week: 1008 intervals, 50 outside passes, 51 fails (5 % = 50.4).
        assert!(run(&week("u2", 1008, 50, 230.0, 200.0), None, s).parameters[0].pass);
        assert!(!run(&week("u2", 1008, 51, 230.0, 200.0), None, s).parameters[0].pass);
        // Band edges are inside: 207.0 and 253.0 V count as within.
        assert_eq!(
            run(&week("u1", 1000, 1000, 0.0, 207.0), None, s).overall,
            "OK"
        );
        assert_eq!(
            run(&week("u1", 1000, 1000, 0.0, 253.0), None, s).overall,
            "OK"
        );
        assert!(!rule(&run(&week("u1", 1000, 1000, 0.0, 253.01), None, s), "u1").pass);
        assert_eq!(
            rule(&run(&week("u1", 10, 0, 230.0, 0.0), None, s), "u1").limit,
            "207..253 V"
        );
    }

    #[test]
    fn voltage_100_percent_band_and_island() {
        let s = Settings::default();
        let c = run(&week("u3", 1008, 1, 230.0, 195.5), None, s);
        assert!(rule(&c, "u3_100").pass, "195.5 V is the -15 % edge");
        let c = run(&week("u3", 1008, 1, 230.0, 195.49), None, s);
        assert!(!rule(&c, "u3_100").pass);
        assert!(rule(&c, "u3").pass);
        // Island: only the +10/-15 % 100 % rule.
        let island = Settings {
            network: Network::Island,
            ..s
        };
        let c = run(&week("u1", 1008, 100, 230.0, 200.0), None, island);
        assert_eq!(c.parameters.len(), 1);
        assert_eq!(c.overall, "OK");
        // Nominal 400 V.
        let c = run(
            &week("u1", 1000, 50, 400.0, 359.0),
            None,
            Settings {
                nominal_voltage: 400.0,
                ..s
            },
        );
        assert!(rule(&c, "u1").pass && rule(&c, "u1").limit == "360..440 V");
    }

    #[test]
    fn frequency_boundaries() {
        let w = WeekData::default();
        let s = Settings::default();
        let f = |n: usize, bad: usize, v: f64| -> Vec<Option<f64>> {
            (0..n)
                .map(|i| Some(if i < bad { v } else { 50.0 }))
                .collect()
        };
        // 60480 10-second values a week; 0.5 % = 302.4.
        assert!(rule(&run(&w, Some(&f(60480, 302, 49.4)), s), "frequency").pass);
        assert!(!rule(&run(&w, Some(&f(60480, 303, 49.4)), s), "frequency").pass);
        assert!(rule(&run(&w, Some(&f(1000, 1000, 50.5)), s), "frequency").pass);
        let c = run(&w, Some(&f(60480, 1, 46.99)), s);
        assert!(!rule(&c, "frequency_100").pass && rule(&c, "frequency").pass);
        assert!(rule(&run(&w, Some(&f(60480, 1, 47.0)), s), "frequency_100").pass);
        assert!(rule(&run(&w, Some(&f(60480, 1, 52.0)), s), "frequency_100").pass);
        // Island: +-2 % for 95 %.
        let island = Settings {
            network: Network::Island,
            ..s
        };
        assert!(rule(&run(&w, Some(&f(1000, 50, 49.0)), island), "frequency").pass);
        assert!(!rule(&run(&w, Some(&f(1000, 51, 48.99)), island), "frequency").pass);
    }

    #[test]
    fn thd_unbalance_plt_harmonics_boundaries() {
        let s = Settings::default();
        for (col, edge) in [
            ("thd1", 8.0),
            ("unbalance", 2.0),
            ("h5_2", 6.0),
            ("h3_1", 5.0),
            ("h24_3", 0.5),
            ("h25_1", 1.5),
        ] {
            let ok = run(&week(col, 1000, 50, edge, edge + 0.01), None, s);
            assert!(ok.parameters[0].pass, "{col}: 50 over of 1000");
            let ko = run(&week(col, 1000, 51, edge, edge + 0.01), None, s);
            assert!(!ko.parameters[0].pass, "{col}: 51 over of 1000");
        }
        // Plt: one value per 2 hours, 84 a week; 4 over passes (95.2 %), 5 fails (94.0 %).
        let mut w = week("plt1", 1008, 0, 0.0, 0.0);
        let plt = |bad: usize| -> Vec<Option<f64>> {
            (0..1008)
                .map(|i| {
                    if i % 12 == 11 {
                        Some(if i / 12 < bad { 1.01 } else { 1.0 })
                    } else {
                        None
                    }
                })
                .collect()
        };
        w.columns.insert("plt1".into(), plt(4));
        let c = run(&w, None, s);
        assert!(c.parameters[0].pass && c.parameters[0].valid == 84);
        w.columns.insert("plt1".into(), plt(5));
        assert!(!run(&w, None, s).parameters[0].pass);
    }

    #[test]
    fn flagged_intervals_are_excluded() {
        let mut w = week("u1", 1000, 0, 230.0, 0.0);
        let col = w.columns.get_mut("u1").unwrap();
        for v in col.iter_mut().take(100) {
            *v = None; // flagged: a dip made these unreliable
        }
        col[100] = Some(100.0);
        let c = run(&w, None, Settings::default());
        assert_eq!(rule(&c, "u1").valid, 900);
        assert_eq!(rule(&c, "u1").outside, 1);
        // All flagged: the parameter has no data and is left out.
        let w = WeekData {
            times: vec![],
            columns: [("thd1".to_string(), vec![None; 5])].into(),
        };
        assert!(run(&w, None, Settings::default()).parameters.is_empty());
    }

    #[test]
    fn raw_values_aggregate_to_the_same_check() {
        use chrono::TimeZone;
        let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        // Two 10-minute intervals of 200 ms values; the first includes a 5-minute sag.
        let raw: Vec<_> = (0..6000)
            .map(|i| {
                (
                    t0 + chrono::Duration::milliseconds(200 * i),
                    if i < 1500 { 190.0 } else { 230.0 },
                )
            })
            .collect();
        let agg = aggregate_rms(&raw, 600);
        assert_eq!(agg.len(), 2);
        assert_eq!(agg[1].0, t0 + chrono::Duration::minutes(10));
        let expected = ((1500.0 * 190.0f64.powi(2) + 1500.0 * 230.0f64.powi(2)) / 3000.0).sqrt();
        assert!((agg[0].1 - expected).abs() < 1e-9);
        assert!((agg[1].1 - 230.0).abs() < 1e-9);
        let freq = aggregate_mean(
            &[
                (t0, 49.9),
                (t0 + chrono::Duration::seconds(5), 50.1),
                (t0 + chrono::Duration::seconds(10), 50.0),
            ],
            10,
        );
        assert_eq!(freq.len(), 2);
        assert!((freq[0].1 - 50.0).abs() < 1e-12);
        assert!((plt_from_pst(&[1.0; 12]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn csv_inputs() {
        let text = "time,u1,plt1,h5_1\n2026-01-05T00:00:00Z,230,,1.2\n2026-01-05T00:10:00Z,,0.5,\n";
        let w = read_week_csv(text.as_bytes(), "w.csv").unwrap();
        assert_eq!(w.columns["u1"], vec![Some(230.0), None]);
        assert_eq!(w.columns["plt1"], vec![None, Some(0.5)]);
        let e = read_week_csv("time,u4\n".as_bytes(), "w.csv").unwrap_err();
        assert!(e.to_string().starts_with("w.csv:1: field u4"), "{e}");
        let e =
            read_week_csv("time,u1\n2026-01-05T00:00:00Z,abc\n".as_bytes(), "w.csv").unwrap_err();
        assert_eq!(
            e.to_string(),
            "w.csv:2: field u1: expected a number or an empty cell, found \"abc\""
        );
        let f =
            read_frequency_csv("time,f\n2026-01-05T00:00:00Z,50.01\n".as_bytes(), "f.csv").unwrap();
        assert_eq!(f, vec![Some(50.01)]);
    }

    #[test]
    fn builtin_limits_load() {
        let l = Limits::builtin().unwrap();
        assert_eq!(l.edition, "EN 50160:2010");
        assert_eq!((2..=25).filter_map(|n| l.harmonic(n)).count(), 24);
        assert_eq!(l.harmonic(26), None);
        let e = Limits::from_toml(
            "x.toml",
            &LIMITS.replace("harmonics = [2.0, ", "harmonics = ["),
        )
        .unwrap_err();
        assert!(e.to_string().contains("24 limits"), "{e}");
    }

    /// A wrong number of harmonic limits is reported at the list, with its field path.
    #[test]
    fn harmonic_count_is_located() {
        let text = LIMITS.replace("harmonics = [2.0, ", "harmonics = [");
        let line = text
            .lines()
            .position(|l| l.starts_with("harmonics = "))
            .unwrap()
            + 1;
        let e = Limits::from_toml("x.toml", &text).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "x.toml:{line}:13: common.harmonics: expected 24 limits (orders 2..25), found 23"
            )
        );
    }
}
