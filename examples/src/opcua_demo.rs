//! The demo site the `opcua-demo` command serves (and the OPC UA benchmark measures): `N`
//! meter points with engineering units whose values change every second, grouped into
//! devices in areas, and one writable setpoint per device.
//!
//! Layout (the benchmark's peer servers build the same one):
//!
//! - the site `Demo`, with areas `Area 001`, `Area 002`, ... of [`DEVICES_PER_AREA`] devices;
//! - devices `dev00001`, `dev00002`, ... of [`MEASURES`]`.len()` meter points each (the last
//!   device may have fewer), named `device/service` with the services of [`MEASURES`] in
//!   order: energy in kWh (rising), active power in W, voltage in V, current in A, frequency
//!   in Hz, supply and return temperatures in degC, flow in m3/h, volume in m3 (rising),
//!   heat power in kW;
//! - on each device the writable setpoint `device/t_set` (degC, range [`SETPOINT_RANGE`]),
//!   60 degC at start, not counted in `N` and not changed by the generator.
//!
//! Values are a pure function of the point and the time ([`DemoSite::value`]), so every
//! server built from this module, and every peer, serves the same numbers; no value stays
//! the same from one second to the next.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use examples::opcua_demo::DemoSite;
//!
//! let site = DemoSite::new(25)?;
//! assert_eq!((site.devices(), site.areas()), (3, 1));
//! let tree = site.tree()?;
//! assert_eq!(tree.points().len(), 25 + 3); // meter points and one setpoint per device
//! let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
//! let batch = site.updates(t);
//! assert_eq!(batch.len(), 25);
//! assert_eq!(batch[0].point, "dev00001/e_import");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::f64::consts::TAU;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use opcua_bridge::server::{Bridge, WriteRefusal, WriteRequest};
use opcua_bridge::{Area, Device, ModelError, Point, PointTree, PointValue, Site, Unit, Update};
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// Devices per area.
pub const DEVICES_PER_AREA: usize = 50;

/// The most points a demo site may have.
pub const MAX_POINTS: usize = 1_000_000;

/// The service of each device's writable setpoint.
pub const SETPOINT: &str = "t_set";

/// The setpoints' range (degC), inclusive.
pub const SETPOINT_RANGE: (f64, f64) = (5.0, 95.0);

/// The setpoints' value at start (degC).
pub const SETPOINT_START: f64 = 60.0;

/// How a meter value moves with time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// A counter: `base` plus `rate` per hour (so it rises every second).
    Rising {
        /// Start value.
        base: f64,
        /// Increase per hour.
        rate: f64,
    },
    /// `mean` plus a sine of amplitude `swing` (period of about a minute, different per
    /// point, so consecutive seconds never give the same value).
    Wave {
        /// Middle value.
        mean: f64,
        /// Amplitude.
        swing: f64,
    },
}

/// One kind of meter point of a demo device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    /// The service id (the point is `device/service`).
    pub service: &'static str,
    /// Its unit.
    pub unit: Unit,
    /// Its description.
    pub description: &'static str,
    /// How its value moves.
    pub shape: Shape,
}

/// The meter points of a demo device, in order.
pub const MEASURES: [Measure; 10] = [
    Measure {
        service: "e_import",
        unit: Unit::KWh,
        description: "imported active energy",
        shape: Shape::Rising {
            base: 12_000.0,
            rate: 40.0,
        },
    },
    Measure {
        service: "p_total",
        unit: Unit::W,
        description: "active power",
        shape: Shape::Wave {
            mean: 40_000.0,
            swing: 8_000.0,
        },
    },
    Measure {
        service: "u_l1_n",
        unit: Unit::V,
        description: "voltage L1-N",
        shape: Shape::Wave {
            mean: 230.0,
            swing: 3.0,
        },
    },
    Measure {
        service: "i_l1",
        unit: Unit::A,
        description: "current L1",
        shape: Shape::Wave {
            mean: 58.0,
            swing: 12.0,
        },
    },
    Measure {
        service: "f",
        unit: Unit::Hz,
        description: "frequency",
        shape: Shape::Wave {
            mean: 50.0,
            swing: 0.05,
        },
    },
    Measure {
        service: "t_supply",
        unit: Unit::DegC,
        description: "supply temperature",
        shape: Shape::Wave {
            mean: 70.0,
            swing: 4.0,
        },
    },
    Measure {
        service: "t_return",
        unit: Unit::DegC,
        description: "return temperature",
        shape: Shape::Wave {
            mean: 45.0,
            swing: 3.0,
        },
    },
    Measure {
        service: "flow",
        unit: Unit::M3PerH,
        description: "volume flow",
        shape: Shape::Wave {
            mean: 2.5,
            swing: 0.6,
        },
    },
    Measure {
        service: "v_total",
        unit: Unit::M3,
        description: "volume",
        shape: Shape::Rising {
            base: 3_400.0,
            rate: 2.5,
        },
    },
    Measure {
        service: "p_heat",
        unit: Unit::KW,
        description: "heat power",
        shape: Shape::Wave {
            mean: 70.0,
            swing: 15.0,
        },
    },
];

/// A demo site that cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The number of points is 0 or above [`MAX_POINTS`].
    #[error("the number of points must be 1 to {MAX_POINTS}, found {0}")]
    Points(usize),
    /// The point model refused the tree (a bug in this module).
    #[error("demo tree: {0}")]
    Model(#[from] ModelError),
}

/// The device name of device `d` (from 0): `dev00001`, ...
pub fn device_name(d: usize) -> String {
    format!("dev{:05}", d + 1)
}

/// The area name of area `a` (from 0): `Area 001`, ...
pub fn area_name(a: usize) -> String {
    format!("Area {:03}", a + 1)
}

/// The demo site of `N` meter points.
#[derive(Debug, Clone)]
pub struct DemoSite {
    /// The meter points' names, `device/service`, device by device.
    names: Vec<String>,
}

impl DemoSite {
    /// A site of `points` meter points (1 to [`MAX_POINTS`]).
    ///
    /// # Errors
    /// [`DemoError::Points`] outside that range.
    pub fn new(points: usize) -> Result<DemoSite, DemoError> {
        if points == 0 || points > MAX_POINTS {
            return Err(DemoError::Points(points));
        }
        let names = (0..points)
            .map(|i| {
                let (d, m) = (i / MEASURES.len(), i % MEASURES.len());
                format!("{}/{}", device_name(d), MEASURES[m].service)
            })
            .collect();
        Ok(DemoSite { names })
    }

    /// The number of meter points (`N`).
    pub fn points(&self) -> usize {
        self.names.len()
    }

    /// The number of devices (each with one setpoint).
    pub fn devices(&self) -> usize {
        self.names.len().div_ceil(MEASURES.len())
    }

    /// The number of areas.
    pub fn areas(&self) -> usize {
        self.devices().div_ceil(DEVICES_PER_AREA)
    }

    /// The meter points' names, `device/service`, in the order of [`DemoSite::updates`].
    pub fn meter_points(&self) -> &[String] {
        &self.names
    }

    /// The setpoints' names, `device/t_set`, one per device.
    pub fn setpoints(&self) -> Vec<String> {
        (0..self.devices())
            .map(|d| format!("{}/{SETPOINT}", device_name(d)))
            .collect()
    }

    /// The site as the point model's tree description.
    pub fn site(&self) -> Site {
        let mut site = Site::new("Demo").with_description("emkit opcua-demo site");
        let devices = self.devices();
        for a in 0..self.areas() {
            let mut area = Area::new(area_name(a));
            let first = a * DEVICES_PER_AREA;
            for d in first..devices.min(first + DEVICES_PER_AREA) {
                area = area.with_device(self.device(d));
            }
            site = site.with_area(area);
        }
        site
    }

    fn device(&self, d: usize) -> Device {
        let mut device = Device::new(device_name(d)).with_description("demo meter");
        let first = d * MEASURES.len();
        for m in MEASURES.iter().take(self.names.len().saturating_sub(first)) {
            device =
                device.with_point(Point::number(m.service, m.unit).with_description(m.description));
        }
        let (low, high) = SETPOINT_RANGE;
        device.with_point(
            Point::number(SETPOINT, Unit::DegC)
                .with_description("supply temperature setpoint")
                .with_range(low, high)
                .writable(),
        )
    }

    /// The point tree of [`DemoSite::site`].
    ///
    /// # Errors
    /// [`DemoError::Model`] if the point model refuses it (it does not for any `N`).
    pub fn tree(&self) -> Result<PointTree, DemoError> {
        Ok(PointTree::new(self.site())?)
    }

    /// The value of meter point `index` (in [`DemoSite::meter_points`]) at `t` (taken in whole
    /// milliseconds since 1970).
    pub fn value(&self, index: usize, t: DateTime<Utc>) -> f64 {
        let m = &MEASURES[index % MEASURES.len()];
        let device = (index / MEASURES.len()) as f64;
        // Whole milliseconds, so that other languages (the benchmark's peers) compute the
        // same number from the same source timestamp.
        let secs = t.timestamp_millis() as f64 / 1000.0;
        match m.shape {
            Shape::Rising { base, rate } => {
                // Hours since 2026-01-01T00:00:00Z; each device its own rate.
                let hours = (secs - 1_767_225_600.0) / 3600.0;
                let rate = rate * (1.0 + (device % 7.0) / 10.0);
                base + device * 10.0 + rate * hours
            }
            Shape::Wave { mean, swing } => {
                let period = 47.0 + (index % 29) as f64;
                let phase = (index % 360) as f64 / 360.0;
                mean + swing * (TAU * (secs / period + phase)).sin()
            }
        }
    }

    /// One batch: every meter point's value at `t` (good quality, source time `t`).
    pub fn updates(&self, t: DateTime<Utc>) -> Vec<Update> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, name)| Update::good(name.clone(), PointValue::Number(self.value(i, t)), t))
            .collect()
    }

    /// Every setpoint at [`SETPOINT_START`], source time `t`.
    pub fn initial_setpoints(&self, t: DateTime<Utc>) -> Vec<Update> {
        self.setpoints()
            .into_iter()
            .map(|name| Update::good(name, PointValue::Number(SETPOINT_START), t))
            .collect()
    }
}

/// The demo's write handler: accepts a setpoint within [`SETPOINT_RANGE`] and logs it
/// (tracing, level info); refuses anything else with [`WriteRefusal::OutOfRange`] or
/// [`WriteRefusal::NotAllowed`]. (The bridge has already checked the user's role and the
/// point's range; this is the controller's own check.)
///
/// ```
/// use examples::opcua_demo::write_setpoint;
/// use opcua_bridge::PointValue;
/// use opcua_bridge::server::{WriteRefusal, WriteRequest};
///
/// let w = |v| WriteRequest { point: "dev00001/t_set".into(), value: PointValue::Number(v), user: Some("op".into()) };
/// assert_eq!(write_setpoint(&w(65.0)), Ok(()));
/// assert_eq!(write_setpoint(&w(120.0)), Err(WriteRefusal::OutOfRange));
/// ```
///
/// # Errors
/// The refusal the client gets.
pub fn write_setpoint(w: &WriteRequest) -> Result<(), WriteRefusal> {
    if !w.point.ends_with(&format!("/{SETPOINT}")) {
        return Err(WriteRefusal::NotAllowed);
    }
    let (low, high) = SETPOINT_RANGE;
    match w.value {
        PointValue::Number(x) if (low..=high).contains(&x) => {
            info!(point = %w.point, value = x, user = ?w.user, "setpoint written");
            Ok(())
        }
        _ => Err(WriteRefusal::OutOfRange),
    }
}

/// Feeds `bridge` with `site`'s values: the setpoints once, then every meter point at each
/// whole second (one batch per second, built and applied on a blocking thread). A batch
/// that takes longer than a second skips the missed ticks. The task runs until aborted.
pub fn spawn_feed(bridge: Arc<Bridge>, site: Arc<DemoSite>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let report = bridge.update(site.initial_setpoints(Utc::now()));
        if !report.rejected.is_empty() {
            warn!(rejected = ?report.rejected.first(), "setpoints rejected");
        }
        // Start at the next whole second, so source times are whole seconds.
        let now = Utc::now();
        let to_next = 1000 - u64::from(now.timestamp_subsec_millis().min(999));
        let start = tokio::time::Instant::now() + Duration::from_millis(to_next);
        let mut ticks = tokio::time::interval_at(start, Duration::from_secs(1));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticks.tick().await;
            let (bridge, site) = (bridge.clone(), site.clone());
            let applied = tokio::task::spawn_blocking(move || {
                let report = bridge.update(site.updates(Utc::now()));
                if let Some(first) = report.rejected.first() {
                    warn!(count = report.rejected.len(), ?first, "updates rejected");
                }
            })
            .await;
            if let Err(e) = applied {
                warn!("demo feed: {e}");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn layout_counts_and_names() {
        let site = DemoSite::new(50_000).unwrap();
        assert_eq!(site.devices(), 5_000);
        assert_eq!(site.areas(), 100);
        let tree = site.tree().unwrap();
        assert_eq!(tree.points().len(), 55_000);
        assert_eq!(site.meter_points()[49_999], "dev05000/p_heat");
        let odd = DemoSite::new(23).unwrap();
        assert_eq!(odd.devices(), 3);
        assert_eq!(odd.meter_points()[22], "dev00003/u_l1_n");
        assert_eq!(odd.tree().unwrap().points().len(), 26);
        assert!(odd.tree().unwrap().point("dev00003/i_l1").is_none());
        let set = odd
            .tree()
            .unwrap()
            .point("dev00003/t_set")
            .cloned()
            .unwrap();
        assert_eq!(set.unit, Unit::DegC);
        assert_eq!(set.range.map(|r| (r.low, r.high)), Some(SETPOINT_RANGE));
    }

    #[test]
    fn refuses_zero_and_too_many() {
        assert!(matches!(DemoSite::new(0), Err(DemoError::Points(0))));
        assert!(DemoSite::new(MAX_POINTS + 1).is_err());
    }

    #[test]
    fn every_value_changes_every_second_and_counters_rise() {
        let site = DemoSite::new(300).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap();
        for s in 0..120 {
            let (a, b) = (
                t + chrono::Duration::seconds(s),
                t + chrono::Duration::seconds(s + 1),
            );
            for i in 0..site.points() {
                let (x, y) = (site.value(i, a), site.value(i, b));
                assert_ne!(x, y, "{} at {a}", site.meter_points()[i]);
                if matches!(MEASURES[i % 10].shape, Shape::Rising { .. }) {
                    assert!(y > x, "{} rises", site.meter_points()[i]);
                }
            }
        }
        let f = site.value(4, t);
        assert!((49.9..=50.1).contains(&f), "frequency {f}");
    }

    #[test]
    fn setpoint_handler_checks_range_and_point() {
        let w = |p: &str, v| WriteRequest {
            point: p.into(),
            value: PointValue::Number(v),
            user: None,
        };
        assert_eq!(write_setpoint(&w("dev00002/t_set", 5.0)), Ok(()));
        assert_eq!(write_setpoint(&w("dev00002/t_set", 95.0)), Ok(()));
        assert_eq!(
            write_setpoint(&w("dev00002/t_set", 4.9)),
            Err(WriteRefusal::OutOfRange)
        );
        assert_eq!(
            write_setpoint(&w("dev00002/f", 50.0)),
            Err(WriteRefusal::NotAllowed)
        );
    }
}
