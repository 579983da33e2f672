//! Operations on controllers over the wire (feature `io`), through the `modbus-devices`
//! poller: detection, safe writes with read-back, group settings, area schedules and
//! holidays, the data relay and the commissioning snapshot.
//!
//! A [`Site`] is a set of ECL controllers on buses: each controller's register map becomes
//! a `modbus-devices` product (so every read follows its served ranges) and one
//! [`Poller`] carries every request (one connection per bus: an ECL drops a second TCP
//! client). Its polls read the configuration each time, so a read-back or a snapshot sees
//! the values of now.
//!
//! - **Safe write** ([`Site::write`]): the value, in the parameter's unit, is range-checked
//!   and scaled against the catalogue ([`crate::ParameterMap::prepare_write`]) before
//!   anything is sent; a read-only or unknown parameter is refused with its typed error;
//!   after the write the parameter is read back and must hold the raw value written
//!   ([`Error::NotConfirmed`] otherwise).
//! - **Group settings** ([`Site::apply_group`]): one change to many controllers, one
//!   [`DeviceResult`] per controller: written, refused (with the reason), unreachable, or
//!   not confirmed. Nothing is left out: a result for every controller asked.
//! - **Area schedules** ([`Site::apply_schedule`], [`Site::apply_holiday`]): a weekly
//!   schedule or a holiday applied to a set of controllers, each checked whole before any
//!   register is written, verified by read-back, with a result per controller.
//! - **Data relay** ([`Relay`]): a value of one controller (S1, the outdoor temperature) is
//!   written to a parameter of others on a period, with the relay's health per run: the
//!   source fresh or stale (and since when), a result per target.
//! - **Snapshot** ([`Site::snapshot`]): every parameter of the controller's map read now.
//! - **Detection** ([`detect_on`]): identity, key, firmware verdicts and sensors of a
//!   controller whose application is not known yet, reading only the system ranges.
//!
//! ```
//! use ecl_appkeys::ops::{DeviceResult, EclDevice, Outcome, Site};
//! use ecl_appkeys::sim::{EclSim, SimIdentity};
//! use ecl_appkeys::{Catalogue, Controller};
//! use modbus_devices::device::{Bus, BusKind, TcpSettings};
//! use modbus_devices::sim::{SimClock, Simulator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let catalogue = Catalogue::builtin()?;
//! let ecl = Controller::new(&catalogue, "A266.1".parse()?, Some("ecl310"))?;
//! let sim = Simulator::new(SimClock::real());
//! EclSim::add(&sim, 1, &ecl, SimIdentity::default())?;
//! let (addr, _server) = sim.serve_tcp("127.0.0.1:0").await?;
//!
//! let bus = Bus { name: "lan".into(), kind: BusKind::Tcp(TcpSettings::new("127.0.0.1", addr.port())) };
//! let site = Site::new(vec![bus], vec![EclDevice::new("sub-7", "lan", 1, ecl)])?;
//! let written = site.write("sub-7", "c1_room_comfort", 22.5).await?;
//! assert_eq!(written.raw, 225);
//! let results = site.apply_group(&["sub-7", "sub-8"], "c1_room_saving", 16.0).await;
//! assert!(matches!(results[0].outcome, Outcome::Written { .. }));
//! assert!(matches!(results[1].outcome, Outcome::Refused { .. }), "no sub-8 in the site");
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use modbus_devices::device::{Bus, BusKind, DeviceAddress, DeviceInstance, Installation};
use modbus_devices::poll::{PollError, Poller};
use modbus_devices::{Quality, Reading, Value};
use serde::{Deserialize, Serialize};

use crate::catalogue::Catalogue;
use crate::controller::Controller;
use crate::detect::detect;
use crate::error::Error;
use crate::firmware::{self, Verdict};
use crate::params::PreparedWrite;
use crate::pnu::Pnu;
use crate::schedule::{Holiday, WeeklySchedule, schedule_pnus};
use crate::snapshot::Snapshot;
use crate::system::{self, RawIdentity};

/// One controller of a [`Site`]: a name, its bus and unit id, and the controller with its
/// application (its register map).
#[derive(Debug, Clone)]
pub struct EclDevice {
    /// Unique name; the device name of its readings.
    pub name: String,
    /// The bus it is on.
    pub bus: String,
    /// Its Modbus unit id (1 by default on an ECL).
    pub unit: u8,
    /// The controller.
    pub controller: Controller,
}

impl EclDevice {
    /// A controller `name` at `unit` on `bus`.
    pub fn new(
        name: impl Into<String>,
        bus: impl Into<String>,
        unit: u8,
        controller: Controller,
    ) -> Self {
        EclDevice {
            name: name.into(),
            bus: bus.into(),
            unit,
            controller,
        }
    }
}

/// What an operation did on one controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// Every register was written and read back with the value written.
    Written {
        /// The registers written: (PNU, raw value).
        registers: Vec<(Pnu, u16)>,
    },
    /// Nothing was written, or the controller refused a write: the reason (out of range,
    /// read-only, unknown parameter, not served, an exception answer, no such device).
    Refused {
        /// Why.
        reason: String,
    },
    /// The controller did not answer (timeout, connection refused, broken frames).
    Unreachable {
        /// What failed.
        reason: String,
    },
    /// The writes were answered but a read-back disagrees.
    NotConfirmed {
        /// What was read back.
        reason: String,
    },
}

impl Outcome {
    fn from_error(e: &Error) -> Self {
        let reason = e.to_string();
        match e {
            Error::Poll(p) if p.is_no_answer() => Outcome::Unreachable { reason },
            Error::NotConfirmed { .. } => Outcome::NotConfirmed { reason },
            Error::Poll(PollError::WriteNotApplied { .. }) => Outcome::NotConfirmed { reason },
            _ => Outcome::Refused { reason },
        }
    }

    /// `written`, `refused`, `unreachable` or `not_confirmed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Written { .. } => "written",
            Outcome::Refused { .. } => "refused",
            Outcome::Unreachable { .. } => "unreachable",
            Outcome::NotConfirmed { .. } => "not_confirmed",
        }
    }
}

/// The result of an operation on one controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceResult {
    /// The controller.
    pub device: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// A write done and confirmed by read-back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Written {
    /// The parameter id.
    pub id: String,
    /// Its PNU.
    pub pnu: Pnu,
    /// The raw value written and read back.
    pub raw: u16,
    /// The value in the parameter's unit.
    pub value: f64,
}

/// ECL controllers on buses, with one poller for every request.
#[derive(Debug)]
pub struct Site {
    poller: Poller,
    controllers: BTreeMap<String, Controller>,
}

impl Site {
    /// A site of `devices` on `buses`. Each controller's register map becomes a
    /// `modbus-devices` product named `ecl:<device name>`; names, buses and addresses follow
    /// the `modbus-devices` installation rules.
    pub fn new(buses: Vec<Bus>, devices: Vec<EclDevice>) -> Result<Self, Error> {
        let mut installation = Installation::default();
        for b in buses {
            installation.add_bus(b).map_err(PollError::from)?;
        }
        let mut catalogue = modbus_devices::Catalogue::new();
        let mut controllers = BTreeMap::new();
        for d in devices {
            let reference = format!("ecl:{}", d.name);
            catalogue.add(d.controller.product(&reference)?)?;
            installation
                .add_device(DeviceInstance::new(
                    d.name.clone(),
                    reference,
                    d.bus,
                    DeviceAddress::Unit(d.unit),
                ))
                .map_err(PollError::from)?;
            controllers.insert(d.name, d.controller);
        }
        let poller = Poller::new(&installation, &catalogue)?.with_config_refresh(Duration::ZERO);
        Ok(Site {
            poller,
            controllers,
        })
    }

    /// The poller (for statistics, device states, cyclic polling).
    pub fn poller(&self) -> &Poller {
        &self.poller
    }

    /// A controller by device name.
    pub fn controller(&self, device: &str) -> Result<&Controller, Error> {
        self.controllers
            .get(device)
            .ok_or_else(|| Error::UnknownDevice(device.to_string()))
    }

    /// The device names, sorted.
    pub fn devices(&self) -> impl Iterator<Item = &str> {
        self.controllers.keys().map(String::as_str)
    }

    /// Read every register of the controller's map now: raw values by PNU (what was read
    /// with a value) and the readings.
    pub async fn read(&self, device: &str) -> Result<(BTreeMap<Pnu, u16>, Vec<Reading>), Error> {
        let ctl = self.controller(device)?;
        let readings = self.poller.poll_device(device).await?;
        if let Some(r) = readings.iter().find(|r| r.quality == Quality::NoAnswer) {
            return Err(self.no_answer(device, &r.service));
        }
        let mut raw = BTreeMap::new();
        for r in &readings {
            let (Some(p), Some(v)) = (
                ctl.parameters().get(&r.service),
                r.value.as_ref().and_then(Value::as_f64),
            ) else {
                continue;
            };
            if let Ok(w) = p.to_raw(v) {
                raw.insert(p.pnu, w);
            }
        }
        Ok((raw, readings))
    }

    /// The error of a poll that got no answer: the poller's last error for the device.
    fn no_answer(&self, device: &str, service: &str) -> Error {
        let message = self
            .poller
            .stats()
            .device(device)
            .and_then(|d| d.last_error.clone())
            .unwrap_or_else(|| "no answer".into());
        Error::Poll(PollError::Transport {
            device: device.to_string(),
            request: format!("read of {service}"),
            message,
        })
    }

    /// Write `value` (in the parameter's unit) to parameter `id` of `device`, safely:
    /// checked and scaled against the catalogue before anything is sent, then read back.
    pub async fn write(&self, device: &str, id: &str, value: f64) -> Result<Written, Error> {
        let w = self
            .controller(device)?
            .parameters()
            .prepare_write(id, value)?;
        self.write_prepared(device, std::slice::from_ref(&w))
            .await?;
        Ok(Written {
            id: w.id,
            pnu: w.pnu,
            raw: w.raw,
            value: w.value,
        })
    }

    /// Send prepared writes in order, then read the controller back once and check each.
    async fn write_prepared(&self, device: &str, writes: &[PreparedWrite]) -> Result<(), Error> {
        for w in writes {
            self.poller
                .write_parameter(device, &w.id, &Value::Number(w.value))
                .await?;
        }
        let (raw, _) = self.read(device).await?;
        for w in writes {
            let found = raw.get(&w.pnu).copied();
            if found != Some(w.raw) {
                return Err(Error::NotConfirmed {
                    device: device.to_string(),
                    id: w.id.clone(),
                    pnu: w.pnu,
                    wanted: w.raw,
                    found,
                });
            }
        }
        Ok(())
    }

    /// Register writes (PNU, raw) checked whole against the controller's map first.
    async fn write_registers(&self, device: &str, regs: &[(Pnu, u16)]) -> Outcome {
        let result = async {
            let ctl = self.controller(device)?;
            let writes = regs
                .iter()
                .map(|(pnu, raw)| {
                    let p = ctl
                        .parameters()
                        .by_pnu(*pnu)
                        .ok_or_else(|| Error::UnknownParameter(format!("PNU {pnu}")))?;
                    ctl.parameters().prepare_write_pnu(*pnu, p.decode(*raw))
                })
                .collect::<Result<Vec<_>, Error>>()?;
            self.write_prepared(device, &writes).await
        }
        .await;
        match result {
            Ok(()) => Outcome::Written {
                registers: regs.to_vec(),
            },
            Err(e) => Outcome::from_error(&e),
        }
    }

    /// One parameter change to many controllers: a result for each, in the order asked
    /// (controllers on different buses are written at the same time).
    pub async fn apply_group(&self, devices: &[&str], id: &str, value: f64) -> Vec<DeviceResult> {
        let each = devices.iter().map(|d| async move {
            let outcome = match self.write(d, id, value).await {
                Ok(w) => Outcome::Written {
                    registers: vec![(w.pnu, w.raw)],
                },
                Err(e) => Outcome::from_error(&e),
            };
            DeviceResult {
                device: (*d).to_string(),
                outcome,
            }
        });
        futures::future::join_all(each).await
    }

    /// A weekly schedule applied to circuit `circuit` of many controllers (an area): the
    /// 42 schedule registers of each, checked whole before any is written, then read back.
    pub async fn apply_schedule(
        &self,
        devices: &[&str],
        circuit: u8,
        schedule: &WeeklySchedule,
    ) -> Vec<DeviceResult> {
        let regs = schedule.encode(circuit);
        let each = devices.iter().map(|d| {
            let regs = &regs;
            async move {
                let outcome = match regs {
                    Ok(regs) => self.write_registers(d, regs).await,
                    Err(e) => Outcome::from_error(e),
                };
                DeviceResult {
                    device: (*d).to_string(),
                    outcome,
                }
            }
        });
        futures::future::join_all(each).await
    }

    /// The mode writes a holiday makes on `date` (see [`Holiday::writes_on`]) applied to
    /// many controllers; a date with nothing to write gives `Written` with no registers.
    pub async fn apply_holiday(
        &self,
        devices: &[&str],
        holiday: &Holiday,
        date: NaiveDate,
    ) -> Vec<DeviceResult> {
        let regs = holiday.writes_on(date);
        let each = devices.iter().map(|d| {
            let regs = &regs;
            async move {
                let outcome = match regs {
                    Ok(regs) if regs.is_empty() => Outcome::Written {
                        registers: Vec::new(),
                    },
                    Ok(regs) => self.write_registers(d, regs).await,
                    Err(e) => Outcome::from_error(e),
                };
                DeviceResult {
                    device: (*d).to_string(),
                    outcome,
                }
            }
        });
        futures::future::join_all(each).await
    }

    /// The weekly schedule of circuit `circuit`, read from the controller.
    pub async fn read_schedule(&self, device: &str, circuit: u8) -> Result<WeeklySchedule, Error> {
        let (raw, _) = self.read(device).await?;
        let values = schedule_pnus(circuit)?
            .into_iter()
            .map(|p| raw.get(&p).copied().ok_or(Error::MissingRegister(p)))
            .collect::<Result<Vec<u16>, Error>>()?;
        WeeklySchedule::decode(circuit, &values)
    }

    /// The commissioning snapshot: every parameter of the controller's map, read now.
    pub async fn snapshot(&self, device: &str) -> Result<Snapshot, Error> {
        let (raw, _) = self.read(device).await?;
        Ok(Snapshot::build(
            self.controller(device)?,
            device,
            Utc::now(),
            |p| raw.get(&p).copied(),
        ))
    }

    /// The value of input S`input` of `device`, read now: `Ok(None)` when the sensor is
    /// not connected.
    pub async fn sensor(&self, device: &str, input: u8) -> Result<Option<f64>, Error> {
        system::sensor_pnu(input)?;
        let (_, readings) = self.read(device).await?;
        let id = format!("s{input}");
        let r = readings
            .iter()
            .find(|r| r.service == id)
            .ok_or_else(|| Error::NotServed(system::sensor_pnu(input).unwrap_or(system::BUILD)))?;
        match (r.quality, r.value.as_ref().and_then(Value::as_f64)) {
            (Quality::Good, Some(v)) => Ok(system::decode_sensor(centi_raw(v))),
            (Quality::NotAvailable, _) => Ok(None),
            (q, _) => Err(Error::BadRegister {
                pnu: system::sensor_pnu(input)?,
                raw: 0,
                expected: match q {
                    Quality::Invalid => "a sensor value (the controller refused the read)",
                    _ => "a sensor value",
                },
            }),
        }
    }
}

/// The raw register of a sensor value in degC.
fn centi_raw(v: f64) -> u16 {
    ((v * 100.0).round().clamp(-32768.0, 32767.0) as i16) as u16
}

/// Where a relay writes: a parameter of a target controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayTarget {
    /// The target controller.
    pub device: String,
    /// The parameter id written (its PNU is site knowledge; see
    /// [`Controller::with_parameter`]).
    pub parameter: String,
}

/// A data relay: input S`input` of `source` copied to `targets` every `period`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relay {
    /// The source controller.
    pub source: String,
    /// The input read (1 = S1, the outdoor temperature).
    pub input: u8,
    /// The targets.
    pub targets: Vec<RelayTarget>,
    /// The period.
    pub period: Duration,
}

/// The health of a relay's source in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SourceHealth {
    /// Read this run.
    Fresh {
        /// The value relayed.
        value: f64,
    },
    /// Not read this run: nothing was written (a stale value is never relayed as new).
    Stale {
        /// Why (no answer, sensor not connected, ...).
        reason: String,
        /// The last value read, when there was one.
        last_value: Option<f64>,
        /// When it was read.
        last_read: Option<DateTime<Utc>>,
    },
}

/// One run of a relay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayReport {
    /// When the run started.
    pub at: DateTime<Utc>,
    /// The source.
    pub source: SourceHealth,
    /// A result per target (empty when the source was stale).
    pub targets: Vec<DeviceResult>,
}

impl RelayReport {
    /// Whether the source was fresh and every target written.
    pub fn healthy(&self) -> bool {
        matches!(self.source, SourceHealth::Fresh { .. })
            && self
                .targets
                .iter()
                .all(|t| matches!(t.outcome, Outcome::Written { .. }))
    }
}

/// What a relay remembers between runs: the last value read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelayState {
    last: Option<(f64, DateTime<Utc>)>,
}

impl Relay {
    /// One run: read the source, write each target (the value rounded to the target
    /// parameter's step), report.
    pub async fn run_once(&self, site: &Site, state: &mut RelayState) -> RelayReport {
        let at = Utc::now();
        let value = match site.sensor(&self.source, self.input).await {
            Ok(Some(v)) => v,
            Ok(None) => {
                return self.stale(at, state, format!("S{} is not connected", self.input));
            }
            Err(e) => return self.stale(at, state, e.to_string()),
        };
        state.last = Some((value, at));
        let each = self.targets.iter().map(|t| async move {
            let outcome = async {
                let step = site
                    .controller(&t.device)?
                    .parameters()
                    .get(&t.parameter)
                    .map_or(1.0, |p| p.scale);
                let v = (value / step).round() * step;
                site.write(&t.device, &t.parameter, v).await
            }
            .await
            .map_or_else(
                |e| Outcome::from_error(&e),
                |w| Outcome::Written {
                    registers: vec![(w.pnu, w.raw)],
                },
            );
            DeviceResult {
                device: t.device.clone(),
                outcome,
            }
        });
        RelayReport {
            at,
            source: SourceHealth::Fresh { value },
            targets: futures::future::join_all(each).await,
        }
    }

    fn stale(&self, at: DateTime<Utc>, state: &RelayState, reason: String) -> RelayReport {
        tracing::warn!(source = %self.source, %reason, "relay source stale");
        RelayReport {
            at,
            source: SourceHealth::Stale {
                reason,
                last_value: state.last.map(|(v, _)| v),
                last_read: state.last.map(|(_, t)| t),
            },
            targets: Vec::new(),
        }
    }

    /// Run every period until `tx` is closed, sending each run's report.
    pub async fn run(&self, site: &Site, tx: tokio::sync::mpsc::Sender<RelayReport>) {
        let mut state = RelayState::default();
        let mut ticker = tokio::time::interval(self.period.max(Duration::from_millis(1)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let report = self.run_once(site, &mut state).await;
            if tx.send(report).await.is_err() {
                return;
            }
        }
    }
}

/// One firmware rule's verdict, as `ecl detect` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compatibility {
    /// The rule (`controller_software`, `key_software`, ...).
    pub rule: firmware::Rule,
    /// `ok`, `will_update` or `unsupported`.
    pub verdict: Verdict,
    /// The versions and what they mean.
    pub detail: String,
}

/// One input, as `ecl detect` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorValue {
    /// `S1`..`S16`.
    pub input: String,
    /// Its meaning for the application, when known.
    pub meaning: Option<String>,
    /// Its value (`None`: not connected).
    pub value: Option<f64>,
    /// The unit symbol.
    pub unit: String,
}

/// What detection over the wire found: the `ecl detect --json` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectReport {
    /// The key with its sub-type (`A266.1`), when read and valid.
    pub key: Option<String>,
    /// The key version (`1.08`), when read.
    pub key_version: Option<String>,
    /// The controller software (`1.56`).
    pub software: String,
    /// One verdict per firmware rule that applies.
    pub compatibility: Vec<Compatibility>,
    /// The inputs with a known meaning, and any other input that reads a connected sensor.
    pub sensors: Vec<SensorValue>,
}

/// Detect the controller at `unit` on `bus`: identity (PNU 8, 19, 34-37, 2099) and key
/// (2060-2063) read through a poller that knows only the system ranges, the firmware
/// verdicts, and the sensors with the meanings of the detected application.
pub async fn detect_on(
    catalogue: &Catalogue,
    bus: BusKind,
    unit: u8,
) -> Result<DetectReport, Error> {
    let probe = Controller::unknown_application(catalogue, None)?;
    let site = Site::new(
        vec![Bus {
            name: "detect".into(),
            kind: bus,
        }],
        vec![EclDevice::new("ecl", "detect", unit, probe)],
    )?;
    let readings = site.poller.poll_device("ecl").await;
    site.poller.shutdown().await;
    let readings = readings?;
    let number = |id: &str| {
        readings
            .iter()
            .find(|r| r.service == id && r.quality == Quality::Good)
            .and_then(|r| r.value.as_ref().and_then(Value::as_f64))
    };
    let word = |id: &str| number(id).map(|v| v as u16);
    if let Some(r) = readings.iter().find(|r| r.quality == Quality::NoAnswer) {
        return Err(site.no_answer("ecl", &r.service));
    }
    let serial = number("serial").map_or(0, |v| v as u32);
    let identity = RawIdentity::from_fn(|p| {
        let id = match p.get() {
            8 => "build",
            19 => "code_number",
            34 => "hardware",
            35 => "software",
            36 => return Some((serial >> 16) as u16),
            37 => return Some(serial as u16),
            2099 => "production",
            _ => return None,
        };
        word(id)
    })?;
    let key = match (
        word("key_prefix"),
        word("key_type"),
        word("key_subtype"),
        word("key_version"),
    ) {
        (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
        _ => None,
    };
    let found = detect(catalogue, &identity, key);
    let controller = found.controller(catalogue)?;
    let compatibility = firmware::check(&found.versions())
        .into_iter()
        .map(|c| Compatibility {
            rule: c.rule,
            verdict: c.verdict,
            detail: c.detail,
        })
        .collect();
    let sensors = controller
        .sensors()
        .into_iter()
        .filter_map(|s| {
            let r = readings
                .iter()
                .find(|r| r.service == format!("s{}", s.input))?;
            let value = match (r.quality, r.value.as_ref().and_then(Value::as_f64)) {
                (Quality::Good, Some(v)) => system::decode_sensor(centi_raw(v)),
                _ => None,
            };
            (s.meaning.is_some() || value.is_some()).then(|| SensorValue {
                input: format!("S{}", s.input),
                meaning: s.meaning,
                value,
                unit: s.unit.symbol().to_string(),
            })
        })
        .collect();
    Ok(DetectReport {
        key: found.key_id().map(|k| k.to_string()),
        key_version: found.key_version.map(|v| v.to_string()),
        software: identity.decode().software.to_string(),
        compatibility,
        sensors,
    })
}
