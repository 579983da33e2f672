//! Building model: totals and distributions by usage, zone, source, panel and circuit, and the
//! 7-day rolling trend.
//!
//! The caller gives each device's place (zones, usage, panel, source, circuit). A device may be
//! in up to 5 measuring zones and counts fully in each (zones may overlap). A device marked
//! `exclude_from_totals` (a sub-meter already counted by its head meter) is left out of the
//! total and of every distribution; its own value stays available to the caller.
//!
//! Trend (Hager dashboard): the 7 local days ending yesterday against the 7 days before,
//! `change_percent = 100 * (recent - previous) / previous`. A positive change is an increase.
//! `better` is true when consumption went down, or when production (a group whose devices are
//! all marked `production`, e.g. solar) went up.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::aggregate::local_midnight;

/// Where a device sits in the building.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceInfo {
    /// Device name.
    pub name: String,
    /// Measuring zones (at most 5).
    #[serde(default)]
    pub zones: Vec<String>,
    /// Usage (heating, lighting, sockets, HVAC, ...).
    #[serde(default)]
    pub usage: Option<String>,
    /// Electrical panel.
    #[serde(default)]
    pub panel: Option<String>,
    /// Energy source (grid, solar, gas, ...).
    #[serde(default)]
    pub source: Option<String>,
    /// Circuit.
    #[serde(default)]
    pub circuit: Option<String>,
    /// A sub-meter already counted by a head meter.
    #[serde(default)]
    pub exclude_from_totals: bool,
    /// Measures production rather than consumption.
    #[serde(default)]
    pub production: bool,
}

/// Grouping dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// By usage.
    Usage,
    /// By measuring zone.
    Zone,
    /// By energy source.
    Source,
    /// By panel.
    Panel,
    /// By circuit.
    Circuit,
}

/// A validated building model.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct BuildingModel {
    devices: Vec<DeviceInfo>,
}

/// Totals over a model.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Totals {
    /// Sum over counted devices.
    pub total: f64,
    /// Per dimension, per group.
    pub by: BTreeMap<Dimension, BTreeMap<String, f64>>,
}

/// One slice of a distribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Share {
    /// Group name.
    pub group: String,
    /// Value.
    pub value: f64,
    /// Percent of the dimension's sum.
    pub percent: f64,
}

/// One trend line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// Dimension (`None` for the building total).
    pub dimension: Option<Dimension>,
    /// Group name (`total` for the building).
    pub group: String,
    /// The 7 days ending yesterday.
    pub recent: f64,
    /// The 7 days before.
    pub previous: f64,
    /// Percent change (`None` when `previous` is 0).
    pub change_percent: Option<f64>,
    /// Production group.
    pub production: bool,
    /// The change is an improvement.
    pub better: bool,
}

impl BuildingModel {
    /// A model from device entries.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a device in more than 5 zones or a name given twice.
    ///
    /// ```
    /// use reports::building::{BuildingModel, DeviceInfo, Dimension};
    /// let m = BuildingModel::new(vec![
    ///     DeviceInfo { name: "head".into(), usage: Some("all".into()), ..Default::default() },
    ///     DeviceInfo { name: "sub".into(), usage: Some("lighting".into()), exclude_from_totals: true, ..Default::default() },
    /// ]).unwrap();
    /// let t = m.totals(&[("head".to_string(), 100.0), ("sub".to_string(), 30.0)].into());
    /// assert_eq!(t.total, 100.0);
    /// assert!(!t.by[&Dimension::Usage].contains_key("lighting"));
    /// ```
    pub fn new(devices: Vec<DeviceInfo>) -> Result<Self, Error> {
        for (i, d) in devices.iter().enumerate() {
            if d.zones.len() > 5 {
                return Err(Error::invalid(
                    format!("device {:?} zones", d.name),
                    "at most 5 measuring zones",
                    d.zones.len(),
                ));
            }
            if devices[..i].iter().any(|o| o.name == d.name) {
                return Err(Error::invalid(
                    "building model",
                    "unique device names",
                    format!("{:?} twice", d.name),
                ));
            }
        }
        Ok(BuildingModel { devices })
    }

    /// The devices.
    pub fn devices(&self) -> &[DeviceInfo] {
        &self.devices
    }

    fn groups(d: &DeviceInfo, dim: Dimension) -> Vec<&str> {
        fn one(o: &Option<String>) -> Vec<&str> {
            o.as_deref().into_iter().collect()
        }
        match dim {
            Dimension::Usage => one(&d.usage),
            Dimension::Zone => d.zones.iter().map(String::as_str).collect(),
            Dimension::Source => one(&d.source),
            Dimension::Panel => one(&d.panel),
            Dimension::Circuit => one(&d.circuit),
        }
    }

    /// Totals of per-device values (devices missing from `values` count nothing).
    pub fn totals(&self, values: &BTreeMap<String, f64>) -> Totals {
        let mut t = Totals::default();
        for d in self.devices.iter().filter(|d| !d.exclude_from_totals) {
            let Some(v) = values.get(&d.name) else {
                continue;
            };
            t.total += v;
            for dim in [
                Dimension::Usage,
                Dimension::Zone,
                Dimension::Source,
                Dimension::Panel,
                Dimension::Circuit,
            ] {
                for g in Self::groups(d, dim) {
                    *t.by
                        .entry(dim)
                        .or_default()
                        .entry(g.to_string())
                        .or_default() += v;
                }
            }
        }
        t
    }

    /// Distribution of per-device values over one dimension, largest first.
    pub fn distribution(&self, values: &BTreeMap<String, f64>, dim: Dimension) -> Vec<Share> {
        let t = self.totals(values);
        let groups = t.by.get(&dim).cloned().unwrap_or_default();
        let sum: f64 = groups.values().sum();
        let mut out: Vec<Share> = groups
            .into_iter()
            .map(|(group, value)| Share {
                group,
                value,
                percent: if sum != 0.0 { 100.0 * value / sum } else { 0.0 },
            })
            .collect();
        out.sort_by(|a, b| b.value.total_cmp(&a.value));
        out
    }

    /// The 7-day trend of usage, zone and source groups and of the total.
    pub fn trend(
        &self,
        recent: &BTreeMap<String, f64>,
        previous: &BTreeMap<String, f64>,
    ) -> Vec<Trend> {
        let (r, p) = (self.totals(recent), self.totals(previous));
        let line = |dimension: Option<Dimension>, group: &str, a: f64, b: f64, production: bool| {
            let change = (b != 0.0).then(|| 100.0 * (a - b) / b.abs());
            let better = if production { a > b } else { a < b };
            Trend {
                dimension,
                group: group.to_string(),
                recent: a,
                previous: b,
                change_percent: change,
                production,
                better,
            }
        };
        let all_production = |dim: Dimension, g: &str| {
            let mut it = self
                .devices
                .iter()
                .filter(|d| !d.exclude_from_totals && Self::groups(d, dim).contains(&g))
                .peekable();
            it.peek().is_some() && it.all(|d| d.production)
        };
        let mut out = vec![line(None, "total", r.total, p.total, false)];
        for dim in [Dimension::Usage, Dimension::Zone, Dimension::Source] {
            let mut names: Vec<&String> =
                r.by.get(&dim).into_iter().flat_map(|m| m.keys()).collect();
            names.extend(p.by.get(&dim).into_iter().flat_map(|m| m.keys()));
            names.sort();
            names.dedup();
            for g in names {
                let get = |t: &Totals| {
                    t.by.get(&dim)
                        .and_then(|m| m.get(g))
                        .copied()
                        .unwrap_or(0.0)
                };
                out.push(line(Some(dim), g, get(&r), get(&p), all_production(dim, g)));
            }
        }
        out
    }
}

/// The two trend windows at `now` in `tz`: the 7 local days ending yesterday, and the 7 before.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let tz = reports::aggregate::parse_tz("Europe/Paris").unwrap();
/// let [recent, previous] = reports::building::trend_windows(Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap(), tz);
/// assert_eq!(recent.1, Utc.with_ymd_and_hms(2026, 3, 30, 22, 0, 0).unwrap()); // today 00:00 CEST
/// assert_eq!((recent.1 - recent.0).num_hours(), 7 * 24 - 1); // includes the 23-hour day
/// assert_eq!(previous.1, recent.0);
/// ```
pub fn trend_windows(now: DateTime<Utc>, tz: Tz) -> [(DateTime<Utc>, DateTime<Utc>); 2] {
    let today = now.with_timezone(&tz).date_naive();
    let at = |days: u64| local_midnight(today - Days::new(days), tz);
    [(at(7), at(0)), (at(14), at(7))]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> BuildingModel {
        let d = |name: &str, zones: &[&str], usage: &str, source: &str, excl: bool, prod: bool| {
            DeviceInfo {
                name: name.into(),
                zones: zones.iter().map(|z| z.to_string()).collect(),
                usage: Some(usage.into()),
                panel: Some("P1".into()),
                source: Some(source.into()),
                circuit: Some(format!("c-{name}")),
                exclude_from_totals: excl,
                production: prod,
            }
        };
        BuildingModel::new(vec![
            d("main", &["building"], "all", "grid", false, false),
            d(
                "light",
                &["floor1", "floor2"],
                "lighting",
                "grid",
                true,
                false,
            ),
            d("hvac", &["floor1"], "hvac", "grid", false, false),
            d("pv", &[], "production", "solar", false, true),
        ])
        .unwrap()
    }

    #[test]
    fn totals_zones_and_exclusion() {
        let m = model();
        let v: BTreeMap<String, f64> = [
            ("main", 100.0),
            ("light", 20.0),
            ("hvac", 30.0),
            ("pv", 10.0),
        ]
        .map(|(k, v)| (k.to_string(), v))
        .into();
        let t = m.totals(&v);
        assert_eq!(t.total, 140.0);
        assert_eq!(
            t.by[&Dimension::Zone]["floor1"],
            30.0,
            "the excluded sub-meter is not counted"
        );
        assert_eq!(t.by[&Dimension::Source]["grid"], 130.0);
        assert_eq!(t.by[&Dimension::Circuit].len(), 3);
        let d = m.distribution(&v, Dimension::Source);
        assert_eq!(d[0].group, "grid");
        assert!((d[0].percent + d[1].percent - 100.0).abs() < 1e-9);
        let many = DeviceInfo {
            name: "x".into(),
            zones: (0..6).map(|i| i.to_string()).collect(),
            ..Default::default()
        };
        assert!(BuildingModel::new(vec![many]).is_err());
    }

    #[test]
    fn trend_signs() {
        let m = model();
        let recent: BTreeMap<String, f64> = [("main", 90.0), ("hvac", 30.0), ("pv", 12.0)]
            .map(|(k, v)| (k.to_string(), v))
            .into();
        let previous: BTreeMap<String, f64> = [("main", 100.0), ("hvac", 20.0), ("pv", 10.0)]
            .map(|(k, v)| (k.to_string(), v))
            .into();
        let t = m.trend(&recent, &previous);
        let find = |g: &str| t.iter().find(|x| x.group == g).unwrap();
        assert_eq!(find("all").change_percent, Some(-10.0));
        assert!(find("all").better, "less consumption is better");
        assert!(!find("hvac").better);
        assert_eq!(find("hvac").change_percent, Some(50.0));
        assert!(
            find("solar").production && find("solar").better,
            "more production is better"
        );
        assert_eq!(find("total").recent, 132.0);
    }
}
