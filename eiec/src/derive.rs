//! Levels derived from measured data.
//!
//! Three quantities can be measured by an energy server, so three kinds of criteria can be
//! derived rather than entered (the criteria data names them with `derived_from`):
//!
//! | quantity | from | built-in criteria |
//! |---|---|---|
//! | [`MeasuredQuantity::MeteringCoverage`] | the devices' annual consumption over the site's annual consumption (the `reports` totals), in % | `consumption-coverage` |
//! | [`MeasuredQuantity::PowerFactor`] | active and reactive energy over the period, or power-factor samples | `power-factor` (non-residential) |
//! | [`MeasuredQuantity::LoadProfiles`] | the share of the annual consumption whose devices record load profiles, in % | `load-profile` |
//!
//! Every other criterion is entered by the assessor.
//!
//! A quantity gives a level only where the data knows the level thresholds (`thresholds`
//! in the criteria file). The built-in data knows none, because none is public: a derivation
//! then reports the measured value, with `level: None`. One rule needs no threshold: a
//! measure that is absent (no load profile recorded, no consumption metered) was not applied,
//! and scores level 0.
//!
//! All inputs are plain numbers, so the caller converts from other crates.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::criteria::CriteriaSet;

/// A measured quantity a criterion can be derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MeasuredQuantity {
    /// Share of the annual consumption covered by metered devices, in %.
    MeteringCoverage,
    /// Average power factor over the period, 0..=1.
    PowerFactor,
    /// Share of the annual consumption covered by devices that record load profiles, in %.
    LoadProfiles,
}

impl MeasuredQuantity {
    /// Unit symbol (from the workspace's unit list).
    pub fn unit(self) -> &'static str {
        match self {
            MeasuredQuantity::MeteringCoverage | MeasuredQuantity::LoadProfiles => "%",
            MeasuredQuantity::PowerFactor => "",
        }
    }
}

impl fmt::Display for MeasuredQuantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MeasuredQuantity::MeteringCoverage => "metering coverage",
            MeasuredQuantity::PowerFactor => "average power factor",
            MeasuredQuantity::LoadProfiles => "load-profile coverage",
        })
    }
}

/// One metered device (or pulse channel) and its annual consumption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeteredDevice {
    /// Device name (`device` of `device/service`).
    pub name: String,
    /// Active energy over the year, kWh. Leave out sub-meters whose consumption a listed
    /// device already counts ("exclude from totals").
    pub annual_kwh: f64,
    /// Whether the device's consumption is stored as a load profile (interval values).
    pub load_profile: bool,
}

/// How the average power factor is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PowerFactorData {
    /// Active and reactive energy over the same period (kWh and kvarh; either sign of
    /// reactive energy). PF = P / sqrt(P² + Q²): the energy-weighted average.
    Energies {
        /// Active energy, kWh.
        active_kwh: f64,
        /// Reactive energy, kvarh.
        reactive_kvarh: f64,
    },
    /// Stored power-factor values (kW / kVA, as the energy server computes it), averaged by
    /// their absolute value; each must lie in -1..=1.
    Samples(Vec<f64>),
}

/// Measured data, as plain numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasuredData {
    /// The site's annual consumption, kWh (the `reports` total of the head meter or grid).
    pub annual_consumption_kwh: f64,
    /// The metered devices counted towards the coverage.
    pub devices: Vec<MeteredDevice>,
    /// Power factor, when measured.
    pub power_factor: Option<PowerFactorData>,
}

/// The quantities measured from [`MeasuredData`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurements {
    /// Metered share of the annual consumption, % (capped at 100).
    pub metering_coverage_percent: f64,
    /// True when the devices add up to more than the annual consumption (the coverage was
    /// capped; a sub-meter may be counted twice).
    pub metering_over_total: bool,
    /// Share of the annual consumption covered by devices with load profiles, % (capped).
    pub load_profile_coverage_percent: f64,
    /// Whether any device records a load profile.
    pub load_profiles_present: bool,
    /// Average power factor, when measured.
    pub average_power_factor: Option<f64>,
}

impl Measurements {
    /// The value of a quantity, if measured.
    pub fn value(&self, q: MeasuredQuantity) -> Option<f64> {
        match q {
            MeasuredQuantity::MeteringCoverage => Some(self.metering_coverage_percent),
            MeasuredQuantity::LoadProfiles => Some(self.load_profile_coverage_percent),
            MeasuredQuantity::PowerFactor => self.average_power_factor,
        }
    }
}

fn invalid(quantity: &str, expected: &str, found: impl fmt::Display) -> Error {
    Error::InvalidMeasurement {
        quantity: quantity.to_string(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// Measure the quantities, refusing numbers that cannot be right.
///
/// ```
/// use eiec::{measure, MeasuredData, MeteredDevice, PowerFactorData};
/// let m = measure(&MeasuredData {
///     annual_consumption_kwh: 200_000.0,
///     devices: vec![
///         MeteredDevice { name: "hvac".into(), annual_kwh: 90_000.0, load_profile: true },
///         MeteredDevice { name: "lighting".into(), annual_kwh: 60_000.0, load_profile: false },
///     ],
///     power_factor: Some(PowerFactorData::Energies { active_kwh: 300.0, reactive_kvarh: 400.0 }),
/// })?;
/// assert_eq!(m.metering_coverage_percent, 75.0);
/// assert_eq!(m.load_profile_coverage_percent, 45.0);
/// assert!((m.average_power_factor.unwrap() - 0.6).abs() < 1e-12);
/// # Ok::<(), eiec::Error>(())
/// ```
pub fn measure(data: &MeasuredData) -> Result<Measurements, Error> {
    let total = data.annual_consumption_kwh;
    if !(total.is_finite() && total > 0.0) {
        return Err(invalid(
            "annual consumption",
            "a finite number of kWh above 0",
            total,
        ));
    }
    let mut metered = 0.0;
    let mut profiled = 0.0;
    for d in &data.devices {
        if !(d.annual_kwh.is_finite() && d.annual_kwh >= 0.0) {
            return Err(invalid(
                &format!("annual consumption of device `{}`", d.name),
                "a finite number of kWh, 0 or more",
                d.annual_kwh,
            ));
        }
        metered += d.annual_kwh;
        if d.load_profile {
            profiled += d.annual_kwh;
        }
    }
    let share = |part: f64| (part * 100.0 / total).min(100.0);
    let average_power_factor = match &data.power_factor {
        None => None,
        Some(PowerFactorData::Energies {
            active_kwh,
            reactive_kvarh,
        }) => {
            if !(active_kwh.is_finite() && *active_kwh >= 0.0) {
                return Err(invalid(
                    "active energy",
                    "a finite number of kWh, 0 or more",
                    active_kwh,
                ));
            }
            if !reactive_kvarh.is_finite() {
                return Err(invalid(
                    "reactive energy",
                    "a finite number of kvarh",
                    reactive_kvarh,
                ));
            }
            let apparent = active_kwh.hypot(*reactive_kvarh);
            if apparent == 0.0 {
                return Err(invalid(
                    "power factor",
                    "some active or reactive energy",
                    "0 kWh and 0 kvarh",
                ));
            }
            Some(active_kwh / apparent)
        }
        Some(PowerFactorData::Samples(samples)) => {
            if samples.is_empty() {
                return Err(invalid("power factor", "at least one sample", "none"));
            }
            if let Some(bad) = samples
                .iter()
                .find(|s| !(s.is_finite() && (-1.0..=1.0).contains(*s)))
            {
                return Err(invalid("power factor sample", "a value in -1..=1", bad));
            }
            Some(samples.iter().map(|s| s.abs()).sum::<f64>() / samples.len() as f64)
        }
    };
    Ok(Measurements {
        metering_coverage_percent: share(metered),
        metering_over_total: metered > total,
        load_profile_coverage_percent: share(profiled),
        load_profiles_present: data.devices.iter().any(|d| d.load_profile),
        average_power_factor,
    })
}

/// A criterion's derived value and, when the thresholds are known, its level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Derivation {
    /// Criterion id.
    pub criterion: String,
    /// The quantity.
    pub quantity: MeasuredQuantity,
    /// Its measured value (`None`: not measured, e.g. no power-factor data).
    pub value: Option<f64>,
    /// The derived level; `None` when it cannot be derived (thresholds unknown, or no value).
    pub level: Option<u8>,
    /// Why, in words (becomes the evidence when applied).
    pub reason: String,
}

/// Derive what the measurements allow for every derivable criterion of a set.
pub(crate) fn derive(set: &CriteriaSet, m: &Measurements) -> Vec<Derivation> {
    set.criteria
        .iter()
        .filter_map(|c| c.derivation.as_ref().map(|rule| (c, rule)))
        .map(|(c, rule)| {
            let q = rule.quantity;
            let value = m.value(q);
            let shown = |v: f64| match q.unit() {
                "%" => format!("{q} {v:.1} %"),
                _ => format!("{q} {v:.3}"),
            };
            let absent = match q {
                MeasuredQuantity::LoadProfiles => !m.load_profiles_present,
                MeasuredQuantity::MeteringCoverage => m.metering_coverage_percent == 0.0,
                MeasuredQuantity::PowerFactor => false,
            };
            let (level, reason) = match (value, rule.thresholds) {
                (None, _) => (None, format!("{q} not measured")),
                (Some(v), _) if absent => (
                    Some(0),
                    format!("{}: the measure is absent, level 0", shown(v)),
                ),
                (Some(v), Some(t)) => {
                    let level = t.iter().filter(|&&min| v >= min).count();
                    let level = u8::try_from(level).unwrap_or(4);
                    (
                        Some(level),
                        format!("{}: level {level} by the data's thresholds", shown(v)),
                    )
                }
                (Some(v), None) => (
                    None,
                    format!(
                        "{}: the level thresholds are unknown, enter the level",
                        shown(v)
                    ),
                ),
            };
            Derivation {
                criterion: c.id.clone(),
                quantity: q,
                value,
                level,
                reason,
            }
        })
        .collect()
}
