//! The simulated site `meter-server` runs: a [`SimulatedSite`] built from a
//! [`crate::site::Site`].
//!
//! - Every `[[bus]]` is one `modbus_devices::sim::Simulator` served on its endpoint
//!   (Modbus/TCP, RTU over TCP, Modbus/TCP Security, or an RTU serial line); its catalogue
//!   devices and its ECL Comfort 310 controllers (`ecl_appkeys::sim::EclSim`, running the
//!   site's key) sit behind their unit ids.
//! - Every `[[mbus_bus]]` is an `mbus_meters::sim::SimulatedBus` behind a TCP listener (a
//!   transparent M-Bus gateway): SND_NKE, REQ_UD2 and selection by secondary address. Each
//!   heat meter's RSP_UD telegram is rebuilt from its model just before every REQ_UD2 that
//!   reaches it (and every second in the background, so that energy integrates while
//!   nobody reads).
//! - **Thermal model.** The outdoor temperature (`[simulation] outdoor`, a daily sine over
//!   the clock, or a value set on the control port) is pushed into every ECL model, whose
//!   heat curve sets the flow temperature; its return follows (see `ecl_appkeys::sim`). The
//!   heat meter of an ECL (`heat_meter`) measures that circuit: flow and return temperatures
//!   are the controller's heating flow and return sensors; the building draws
//!   [`UA_W_PER_K`] per kelvin between 20 degC and outdoors, which sets the volume flow
//!   `q = P / (rho * cp * dT)`; the power is then computed back from the encoded flow and
//!   temperatures, `P = q * rho * cp * (T_flow - T_return)` with [`DENSITY`] and
//!   [`HEAT_CAPACITY`], so the telegram is coherent to its resolution. Energy and volume
//!   integrate power and flow over the clock (left rectangles, from the previous rebuild)
//!   and never decrease. A meter without an ECL measures a fixed circuit (flow
//!   `40 + (20 - outdoor)` degC up to 75, return 60 % of the lift above 20 degC).
//! - The telegram: energy (VIF 0x04, 10 Wh, 8-digit BCD), volume (VIF 0x13, litres, 8-digit
//!   BCD), power (VIF 0x2B, W), volume flow (VIF 0x3B, l/h), flow and return temperatures
//!   (VIF 0x59 / 0x5D, 0.01 degC) and their difference (VIF 0x61, 0.01 K); long header with
//!   the site's id, manufacturer, version 1, medium heat; the access number counts rebuilds.
//! - **Faults** by device, meter or ECL name ([`DeviceFault`]): Modbus devices and ECLs go
//!   silent, slow or answer an exception (the Modbus simulator's faults); M-Bus meters go
//!   silent or slow. From the command line ([`ScheduledFault`]) or the control port's line
//!   protocol ([`SimulatedSite::command`]): `fault NAME none|silent|slow MS|exception CODE`,
//!   `list`, `outdoor DEGC|auto`; each answered by one line `ok ...` or `error ...`.
//!
//! ```
//! use examples::simulation::{DeviceFault, SimOptions, SimulatedSite};
//! use examples::site::Site;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let site = Site::demo()?.with_ephemeral_ports();
//! let sim = SimulatedSite::start(&site, SimOptions::default()).await?;
//! for e in sim.endpoints() {
//!     println!("{e}");
//! }
//! sim.set_fault("main", DeviceFault::Silent)?;
//! assert!(sim.command("list").contains("main=silent"));
//! assert!(sim.command("fault hm1 slow 200").starts_with("ok"));
//! sim.stop().await;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ecl_appkeys::sim::{EclSim, SimIdentity};
use mbus_meters::encode::{DataSpec, HeaderSpec, LongHeader, RecordSpec, Telegram, VifSpec};
use mbus_meters::link::{LinkFunction, parse_link, parse_link_prefix};
use mbus_meters::sim::{SimMeter, SimulatedBus};
use mbus_meters::{Address, DecodeError, Id, Manufacturer, Medium, Status};
use modbus_devices::poll::tls::ServerTlsConfig;
use modbus_devices::sim::{Fault, SerialSettings, SimClock, Simulator, SimulatorHandle};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::site::{BusKind, Site, SiteError};

/// Density of the circulating water, kg/m3 (at about 50 degC).
pub const DENSITY: f64 = 988.0;
/// Specific heat capacity of the water, J/(kg K).
pub const HEAT_CAPACITY: f64 = 4180.0;
/// Heat loss of each simulated building, W per kelvin between 20 degC and outdoors.
pub const UA_W_PER_K: f64 = 1200.0;
/// Largest volume flow of a simulated circuit, m3/h.
pub const MAX_FLOW_M3H: f64 = 10.0;

/// Errors of starting and controlling a simulated site.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimulationError {
    /// The site file is invalid.
    #[error(transparent)]
    Site(#[from] SiteError),
    /// An endpoint could not be served (address in use, serial port missing, TLS files).
    #[error("cannot serve {what}: {message}")]
    Serve {
        /// The bus or port.
        what: String,
        /// Why.
        message: String,
    },
    /// A device could not be simulated.
    #[error("cannot simulate {device:?}: {message}")]
    Device {
        /// The device name.
        device: String,
        /// Why.
        message: String,
    },
    /// No device, meter or ECL has this name.
    #[error("no device, meter or ECL is named {0:?}")]
    UnknownDevice(String),
    /// The fault cannot be shown by this kind of device.
    #[error("{device:?} is an M-Bus meter: it can be silent or slow, not {fault}")]
    Unsupported {
        /// The device.
        device: String,
        /// The fault asked for.
        fault: DeviceFault,
    },
    /// A fault or command could not be parsed.
    #[error("expected {expected}, found {found:?}")]
    Parse {
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: String,
    },
}

fn parse_err(expected: &'static str, found: &str) -> SimulationError {
    SimulationError::Parse {
        expected,
        found: found.to_string(),
    }
}

/// A fault a simulated device shows until it is changed.
///
/// ```
/// use examples::simulation::DeviceFault;
/// use std::time::Duration;
///
/// assert_eq!("slow 250".parse::<DeviceFault>().unwrap(), DeviceFault::Slow(Duration::from_millis(250)));
/// assert_eq!("exception:4".parse::<DeviceFault>().unwrap(), DeviceFault::Exception(4));
/// assert_eq!(DeviceFault::Slow(Duration::from_millis(250)).to_string(), "slow 250");
/// assert!("loud".parse::<DeviceFault>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceFault {
    /// Answers normally.
    #[default]
    None,
    /// Never answers.
    Silent,
    /// Answers after this extra delay.
    Slow(Duration),
    /// Answers every request with this Modbus exception code (Modbus devices and ECLs).
    Exception(u8),
}

impl fmt::Display for DeviceFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceFault::None => f.write_str("none"),
            DeviceFault::Silent => f.write_str("silent"),
            DeviceFault::Slow(d) => write!(f, "slow {}", d.as_millis()),
            DeviceFault::Exception(c) => write!(f, "exception {c}"),
        }
    }
}

impl FromStr for DeviceFault {
    type Err = SimulationError;

    /// `none`, `silent`, `slow MS`, `exception CODE` (a colon may replace the space).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const EXPECTED: &str = "a fault: none, silent, slow MS or exception CODE";
        let mut words = s.split([' ', ':']).filter(|w| !w.is_empty());
        let fault = match (words.next(), words.next()) {
            (Some("none"), None) => DeviceFault::None,
            (Some("silent"), None) => DeviceFault::Silent,
            (Some("slow"), Some(ms)) => DeviceFault::Slow(Duration::from_millis(
                ms.parse().map_err(|_| parse_err(EXPECTED, s))?,
            )),
            (Some("exception"), Some(code)) => match code.parse::<u8>() {
                Ok(c) if c > 0 => DeviceFault::Exception(c),
                _ => return Err(parse_err(EXPECTED, s)),
            },
            _ => return Err(parse_err(EXPECTED, s)),
        };
        if words.next().is_some() {
            return Err(parse_err(EXPECTED, s));
        }
        Ok(fault)
    }
}

/// A fault from the command line: `NAME=FAULT[@START][+DURATION]`, e.g.
/// `main=silent@30s+20s` (from 30 s after start, for 20 s), `hm1=slow:800`, or
/// `ecl1=exception:4@1min`. Without `@START` the fault starts at once; without `+DURATION`
/// it lasts until changed.
///
/// ```
/// use examples::simulation::{DeviceFault, ScheduledFault};
/// use std::time::Duration;
///
/// let f: ScheduledFault = "main=silent@30s+20s".parse().unwrap();
/// assert_eq!(f.device, "main");
/// assert_eq!(f.fault, DeviceFault::Silent);
/// assert_eq!((f.start, f.duration), (Duration::from_secs(30), Some(Duration::from_secs(20))));
/// assert!("main".parse::<ScheduledFault>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledFault {
    /// Device, meter or ECL name.
    pub device: String,
    /// The fault.
    pub fault: DeviceFault,
    /// When it starts, after the simulation started.
    pub start: Duration,
    /// How long it lasts (then `none`); `None`: until changed.
    pub duration: Option<Duration>,
}

impl FromStr for ScheduledFault {
    type Err = SimulationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const EXPECTED: &str = "NAME=FAULT[@START][+DURATION], e.g. main=silent@30s+20s";
        let (device, rest) = s.split_once('=').ok_or_else(|| parse_err(EXPECTED, s))?;
        let (rest, duration) = match rest.split_once('+') {
            Some((r, d)) => (
                r,
                Some(humantime::parse_duration(d).map_err(|_| parse_err(EXPECTED, s))?),
            ),
            None => (rest, None),
        };
        let (fault, start) = match rest.split_once('@') {
            Some((f, t)) => (
                f,
                humantime::parse_duration(t).map_err(|_| parse_err(EXPECTED, s))?,
            ),
            None => (rest, Duration::ZERO),
        };
        if device.is_empty() {
            return Err(parse_err(EXPECTED, s));
        }
        Ok(ScheduledFault {
            device: device.to_string(),
            fault: fault.parse()?,
            start,
            duration,
        })
    }
}

/// What an endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    /// Modbus/TCP.
    ModbusTcp,
    /// Modbus RTU framing over TCP.
    RtuOverTcp,
    /// Modbus/TCP Security.
    Tls,
    /// Modbus RTU on a serial line.
    Rtu,
    /// M-Bus over TCP.
    MbusTcp,
    /// The fault-control line protocol.
    Control,
}

impl EndpointKind {
    fn label(self) -> &'static str {
        match self {
            EndpointKind::ModbusTcp => "Modbus/TCP",
            EndpointKind::RtuOverTcp => "Modbus RTU over TCP",
            EndpointKind::Tls => "Modbus/TCP Security",
            EndpointKind::Rtu => "Modbus RTU",
            EndpointKind::MbusTcp => "M-Bus over TCP",
            EndpointKind::Control => "fault control",
        }
    }
}

/// One served endpoint with the address actually bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The bus name (`control` for the control port).
    pub bus: String,
    /// What it serves.
    pub kind: EndpointKind,
    /// The bound address (TCP kinds), or the serial device.
    pub address: String,
}

impl fmt::Display for Endpoint {
    /// `lan: Modbus/TCP 127.0.0.1:15020`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.bus, self.kind.label(), self.address)
    }
}

/// The last values a simulated heat meter's telegram carried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeatReading {
    /// When the telegram was built (simulation clock).
    pub time: DateTime<Utc>,
    /// Flow temperature, degC (0.01 resolution).
    pub flow_temperature: f64,
    /// Return temperature, degC.
    pub return_temperature: f64,
    /// Volume flow, m3/h (0.001 resolution).
    pub volume_flow: f64,
    /// Power, W.
    pub power: f64,
    /// Energy, kWh (as encoded: 0.01 resolution).
    pub energy_kwh: f64,
    /// Volume, m3 (as encoded: 0.001 resolution).
    pub volume: f64,
}

/// Options of [`SimulatedSite::start`].
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The clock every simulated device runs on (a manual clock gives reproducible values).
    pub clock: SimClock,
    /// Control port `HOST:PORT` overriding `[simulation] control`.
    pub control: Option<String>,
    /// Time an M-Bus meter waits before answering (before any `slow` fault).
    pub mbus_turnaround: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            clock: SimClock::real(),
            control: None,
            mbus_turnaround: Duration::from_millis(3),
        }
    }
}

/// A running simulated site. Dropping it stops every server.
pub struct SimulatedSite {
    site: Site,
    endpoints: Vec<Endpoint>,
    inner: Arc<Inner>,
    certificates: BTreeMap<String, String>,
    _handles: Vec<SimulatorHandle>,
    tasks: Vec<JoinHandle<()>>,
}

impl fmt::Debug for SimulatedSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedSite")
            .field("site", &self.site.site.name)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl Drop for SimulatedSite {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Where a named device lives.
enum Target {
    Modbus { sim: Simulator, unit: u8 },
    Meter { bus: Arc<MbusShared>, index: usize },
}

/// What every task shares.
struct Inner {
    clock: SimClock,
    outdoor: crate::site::Outdoor,
    outdoor_override: Mutex<Option<f64>>,
    targets: BTreeMap<String, Target>,
    /// Names in site order, for `list`.
    order: Vec<String>,
    faults: Mutex<BTreeMap<String, DeviceFault>>,
    ecls: BTreeMap<String, EclSim>,
    mbus: Vec<Arc<MbusShared>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Inner {
    fn outdoor_at(&self, now: DateTime<Utc>) -> f64 {
        lock(&self.outdoor_override).unwrap_or_else(|| self.outdoor.at(now))
    }

    /// Push the outdoor temperature into every ECL; rebuild every heat meter's telegram.
    fn tick(&self) {
        let now = self.clock.now();
        let outdoor = self.outdoor_at(now);
        for e in self.ecls.values() {
            e.set_outdoor(outdoor);
        }
        for bus in &self.mbus {
            let mut st = lock(&bus.state);
            for i in 0..st.models.len() {
                st.refresh(i, now, outdoor);
            }
        }
    }

    fn set_fault(&self, name: &str, fault: DeviceFault) -> Result<(), SimulationError> {
        let target = self
            .targets
            .get(name)
            .ok_or_else(|| SimulationError::UnknownDevice(name.to_string()))?;
        match target {
            Target::Modbus { sim, unit } => sim.set_fault(
                *unit,
                match fault {
                    DeviceFault::None => Fault::None,
                    DeviceFault::Silent => Fault::NoAnswer,
                    DeviceFault::Slow(d) => Fault::Delay(d),
                    DeviceFault::Exception(c) => Fault::Exception(c),
                },
            ),
            Target::Meter { bus, index } => {
                let mut st = lock(&bus.state);
                let (silent, delay) = match fault {
                    DeviceFault::None => (false, Duration::ZERO),
                    DeviceFault::Silent => (true, Duration::ZERO),
                    DeviceFault::Slow(d) => (false, d),
                    DeviceFault::Exception(_) => {
                        return Err(SimulationError::Unsupported {
                            device: name.to_string(),
                            fault,
                        });
                    }
                };
                st.bus.meters[*index].silent = silent;
                st.delays[*index] = delay;
            }
        }
        let mut faults = lock(&self.faults);
        if fault == DeviceFault::None {
            faults.remove(name);
        } else {
            faults.insert(name.to_string(), fault);
        }
        Ok(())
    }

    fn command(&self, line: &str) -> String {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["fault", name, fault @ ..] if !fault.is_empty() => {
                match fault
                    .join(" ")
                    .parse::<DeviceFault>()
                    .and_then(|f| self.set_fault(name, f).map(|()| f))
                {
                    Ok(f) => format!("ok {name} {f}"),
                    Err(e) => format!("error {e}"),
                }
            }
            ["list"] => {
                let faults = lock(&self.faults);
                let items: Vec<String> = self
                    .order
                    .iter()
                    .map(|n| {
                        let f = faults.get(n).copied().unwrap_or_default();
                        format!("{n}={}", f.to_string().replace(' ', ":"))
                    })
                    .collect();
                format!("ok {}", items.join(" "))
            }
            ["outdoor", "auto"] => {
                *lock(&self.outdoor_override) = None;
                self.tick();
                format!("ok outdoor auto {:.1}", self.outdoor_at(self.clock.now()))
            }
            ["outdoor", v] => match v.parse::<f64>() {
                Ok(t) if t.is_finite() && (-60.0..=60.0).contains(&t) => {
                    *lock(&self.outdoor_override) = Some(t);
                    self.tick();
                    format!("ok outdoor {t:.1}")
                }
                _ => format!(
                    "error expected an outdoor temperature -60..60 degC or auto, found {v:?}"
                ),
            },
            _ => format!(
                "error expected `fault NAME none|silent|slow MS|exception CODE`, `list` or `outdoor DEGC|auto`, found {:?}",
                line.trim()
            ),
        }
    }
}

/// Where a heat meter's temperatures come from.
struct EclSource {
    sim: Simulator,
    unit: u8,
    flow: String,
    ret: String,
}

/// One simulated heat meter.
struct HeatModel {
    primary: u8,
    header: LongHeader,
    source: Option<EclSource>,
    energy_wh: f64,
    volume_m3: f64,
    power_w: f64,
    flow_m3h: f64,
    last: Option<DateTime<Utc>>,
    reading: Option<HeatReading>,
}

impl HeatModel {
    /// Flow and return temperatures now (degC).
    fn temperatures(&self, outdoor: f64) -> (f64, f64) {
        if let Some(src) = &self.source
            && let Some(values) = src.sim.served_values(src.unit)
        {
            let get = |id: &str| {
                values
                    .iter()
                    .find(|(s, _)| s == id)
                    .and_then(|(_, v)| v.as_ref())
                    .and_then(modbus_devices::Value::as_f64)
            };
            if let (Some(f), Some(r)) = (get(&src.flow), get(&src.ret)) {
                return (f, r);
            }
        }
        let flow = (40.0 + (20.0 - outdoor).max(0.0)).min(75.0);
        (flow, 20.0 + 0.6 * (flow - 20.0))
    }

    /// Integrate up to `now`, take the new operating point, and build the telegram.
    fn rebuild(&mut self, now: DateTime<Utc>, outdoor: f64) -> Result<Vec<u8>, mbus_meters::Error> {
        if let Some(last) = self.last
            && now > last
        {
            let hours = (now - last).num_milliseconds() as f64 / 3_600_000.0;
            self.energy_wh += self.power_w * hours;
            self.volume_m3 += self.flow_m3h * hours;
        }
        if self.last.is_none_or(|l| now > l) {
            self.last = Some(now);
        }
        let (tf, tr) = self.temperatures(outdoor);
        let (tf_c, tr_c) = ((tf * 100.0).round() as i64, (tr * 100.0).round() as i64);
        let dt = (tf_c - tr_c) as f64 / 100.0;
        let demand = UA_W_PER_K * (20.0 - outdoor).max(0.0);
        let joule_per_m3_k = DENSITY * HEAT_CAPACITY;
        let flow_lph = if dt >= 0.5 && demand > 0.0 {
            let q = (demand / (joule_per_m3_k * dt / 3600.0)).min(MAX_FLOW_M3H);
            (q * 1000.0).round() as i64
        } else {
            0
        };
        self.flow_m3h = flow_lph as f64 / 1000.0;
        let power = (self.flow_m3h / 3600.0 * joule_per_m3_k * dt.max(0.0)).round() as i64;
        self.power_w = power as f64;
        let energy_10wh = (self.energy_wh / 10.0).floor() as i64 % 100_000_000;
        let litres = (self.volume_m3 * 1000.0).floor() as i64 % 100_000_000;
        self.reading = Some(HeatReading {
            time: now,
            flow_temperature: tf_c as f64 / 100.0,
            return_temperature: tr_c as f64 / 100.0,
            volume_flow: self.flow_m3h,
            power: self.power_w,
            energy_kwh: energy_10wh as f64 / 100.0,
            volume: litres as f64 / 1000.0,
        });
        self.header.access_number = self.header.access_number.wrapping_add(1);
        let int = |size: u8, value: i64| DataSpec::Integer { size, value };
        let records = vec![
            RecordSpec::new(VifSpec::Primary(0x04), DataSpec::bcd(8, energy_10wh)?),
            RecordSpec::new(VifSpec::Primary(0x13), DataSpec::bcd(8, litres)?),
            RecordSpec::new(VifSpec::Primary(0x2B), int(4, power)),
            RecordSpec::new(VifSpec::Primary(0x3B), int(4, flow_lph)),
            RecordSpec::new(VifSpec::Primary(0x59), int(2, tf_c)),
            RecordSpec::new(VifSpec::Primary(0x5D), int(2, tr_c)),
            RecordSpec::new(VifSpec::Primary(0x61), int(2, tf_c - tr_c)),
        ];
        Telegram::rsp_ud(
            Address(self.primary),
            HeaderSpec::Long(self.header),
            records,
        )
        .encode()
    }
}

/// One M-Bus bus: the slaves, their models and their `slow` delays (index-aligned).
struct MbusShared {
    state: Mutex<MbusState>,
}

struct MbusState {
    bus: SimulatedBus,
    models: Vec<HeatModel>,
    delays: Vec<Duration>,
}

impl MbusState {
    fn refresh(&mut self, i: usize, now: DateTime<Utc>, outdoor: f64) {
        match self.models[i].rebuild(now, outdoor) {
            Ok(t) => self.bus.meters[i].telegrams = vec![t],
            Err(e) => tracing::warn!(error = %e, "cannot encode a heat meter telegram"),
        }
    }

    /// The meters a request to `address` reaches.
    fn addressed(&self, address: u8) -> Vec<usize> {
        (0..self.models.len())
            .filter(|&i| match address {
                0..=250 => self.bus.meters[i].primary == address,
                253 => self.bus.meters[i].is_selected(),
                254 => true,
                _ => false,
            })
            .collect()
    }

    /// Answer one request frame: rebuild the addressed meters' telegrams before a REQ_UD2;
    /// the answer and the longest `slow` delay of the meters that took part.
    fn handle(
        &mut self,
        frame: &[u8],
        now: DateTime<Utc>,
        outdoor: f64,
    ) -> (Option<Vec<u8>>, Duration) {
        let link = parse_link(frame).ok();
        let address = link.as_ref().and_then(|l| l.address).map(|a| a.0);
        let function = link.as_ref().and_then(|l| l.control).map(|c| c.function());
        if let (Some(a), Some(LinkFunction::ReqUd2)) = (address, function) {
            for i in self.addressed(a) {
                self.refresh(i, now, outdoor);
            }
        }
        let before = address.map(|a| self.addressed(a)).unwrap_or_default();
        let answer = self.bus.handle(frame);
        let after = address.map(|a| self.addressed(a)).unwrap_or_default();
        let delay = before
            .iter()
            .chain(&after)
            .map(|&i| self.delays[i])
            .max()
            .unwrap_or_default();
        (answer, delay)
    }
}

/// Serve one M-Bus over TCP connection until the peer closes it.
async fn serve_mbus(
    bus: Arc<MbusShared>,
    inner: Arc<Inner>,
    mut stream: TcpStream,
    turnaround: Duration,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(600);
    let mut chunk = [0u8; 300];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut at = 0;
        while at < buf.len() {
            match parse_link_prefix(&buf[at..]) {
                Ok(link) => {
                    let frame = buf[at..at + link.len].to_vec();
                    at += link.len;
                    let now = inner.clock.now();
                    let outdoor = inner.outdoor_at(now);
                    let (answer, delay) = lock(&bus.state).handle(&frame, now, outdoor);
                    if let Some(answer) = answer {
                        tokio::time::sleep(turnaround + delay).await;
                        if stream.write_all(&answer).await.is_err() {
                            return;
                        }
                    }
                }
                Err(DecodeError::Truncated { .. }) => break,
                Err(_) => at += 1,
            }
        }
        buf.drain(..at);
        if buf.len() > 1200 {
            buf.clear();
        }
    }
}

async fn bind(what: &str, address: &str) -> Result<(TcpListener, SocketAddr), SimulationError> {
    let err = |e: std::io::Error| SimulationError::Serve {
        what: format!("{what} on {address}"),
        message: e.to_string(),
    };
    let listener = TcpListener::bind(address).await.map_err(err)?;
    let local = listener.local_addr().map_err(err)?;
    Ok((listener, local))
}

fn serve_err(what: &str, e: impl fmt::Display) -> SimulationError {
    SimulationError::Serve {
        what: what.to_string(),
        message: e.to_string(),
    }
}

impl SimulatedSite {
    /// Build the site's devices, meters and controllers and serve every endpoint.
    #[allow(
        clippy::too_many_lines,
        reason = "one pass over the site's sections, in order"
    )]
    pub async fn start(site: &Site, options: SimOptions) -> Result<Self, SimulationError> {
        let clock = options.clock.clone();
        let mut bound = site.clone();
        let mut targets: BTreeMap<String, Target> = BTreeMap::new();
        let mut sims: BTreeMap<String, Simulator> = BTreeMap::new();
        for b in &site.buses {
            sims.insert(b.name.clone(), Simulator::new(clock.clone()));
        }
        let dev_err = |device: &str, e: &dyn fmt::Display| SimulationError::Device {
            device: device.to_string(),
            message: e.to_string(),
        };
        for d in &site.devices {
            let product = site
                .catalogue()
                .require(&d.product)
                .map_err(|e| dev_err(&d.name, &e))?;
            let sim = sims
                .get(&d.bus)
                .ok_or_else(|| dev_err(&d.name, &"its bus is not in the site"))?;
            sim.add_device(d.unit, product.clone())
                .map_err(|e| dev_err(&d.name, &e))?;
            targets.insert(
                d.name.clone(),
                Target::Modbus {
                    sim: sim.clone(),
                    unit: d.unit,
                },
            );
        }

        // ECL controllers, and which heat meter measures which controller
        let ecl_catalogue =
            ecl_appkeys::Catalogue::builtin().map_err(|e| dev_err("ECL catalogue", &e))?;
        let mut ecls = BTreeMap::new();
        let mut sources: BTreeMap<String, EclSource> = BTreeMap::new();
        for (n, e) in site.ecls.iter().enumerate() {
            let key = e
                .key_id()
                .ok_or_else(|| dev_err(&e.name, &format!("invalid key {:?}", e.key)))?;
            let controller = ecl_appkeys::Controller::new(&ecl_catalogue, key, Some("ecl310"))
                .map_err(|err| dev_err(&e.name, &err))?;
            let sim = sims
                .get(&e.bus)
                .ok_or_else(|| dev_err(&e.name, &"its bus is not in the site"))?;
            let identity = SimIdentity {
                serial: 0x0001_0000 + n as u32 + 1,
                ..SimIdentity::default()
            };
            let ecl = EclSim::add(sim, e.unit, &controller, identity)
                .map_err(|err| dev_err(&e.name, &err))?;
            if let Some(meter) = &e.heat_meter {
                let sensors = controller.sensors();
                let find = |word: &str| {
                    sensors.iter().find_map(|s| {
                        let m = s.meaning.as_deref()?.to_ascii_lowercase();
                        (m.contains(word) && !m.contains("dhw") && !m.contains("tank"))
                            .then(|| format!("s{}", s.input))
                    })
                };
                let (Some(flow), Some(ret)) = (find("flow"), find("return")) else {
                    return Err(dev_err(
                        meter,
                        &format!(
                            "ECL {:?} runs {key}, whose heating circuit has no flow and return sensors to measure",
                            e.name
                        ),
                    ));
                };
                sources.insert(
                    meter.clone(),
                    EclSource {
                        sim: sim.clone(),
                        unit: e.unit,
                        flow,
                        ret,
                    },
                );
            }
            targets.insert(
                e.name.clone(),
                Target::Modbus {
                    sim: sim.clone(),
                    unit: e.unit,
                },
            );
            ecls.insert(e.name.clone(), ecl);
        }

        // M-Bus buses and heat meters
        let mut mbus = Vec::new();
        let mut mbus_by_name = BTreeMap::new();
        for b in &site.mbus_buses {
            let mut meters = Vec::new();
            let mut models = Vec::new();
            for m in site.meters.iter().filter(|m| m.bus == b.name) {
                let id = m
                    .secondary
                    .parse::<u32>()
                    .ok()
                    .and_then(Id::from_decimal)
                    .ok_or_else(|| dev_err(&m.name, &"invalid secondary address"))?;
                let header = LongHeader {
                    id,
                    manufacturer: Manufacturer::from_letters(&m.manufacturer)
                        .map_err(|e| dev_err(&m.name, &e))?,
                    version: 1,
                    medium: Medium::HEAT,
                    access_number: 0,
                    status: Status(0),
                    signature: 0,
                };
                let mut model = HeatModel {
                    primary: m.primary,
                    header,
                    source: sources.remove(&m.name),
                    energy_wh: 20_000_000.0 + 1_000_000.0 * f64::from(m.primary),
                    volume_m3: 1_000.0 + 100.0 * f64::from(m.primary),
                    power_w: 0.0,
                    flow_m3h: 0.0,
                    last: None,
                    reading: None,
                };
                let now = clock.now();
                let outdoor = site.simulation.outdoor.at(now);
                let telegram = model
                    .rebuild(now, outdoor)
                    .map_err(|e| dev_err(&m.name, &e))?;
                let mut meter =
                    SimMeter::new(m.primary, vec![(HeaderSpec::Long(header), Vec::new())])
                        .map_err(|e| dev_err(&m.name, &e))?;
                meter.telegrams = vec![telegram];
                meters.push(meter);
                models.push(model);
                mbus_by_name.insert(m.name.clone(), models.len() - 1);
            }
            let n = models.len();
            let shared = Arc::new(MbusShared {
                state: Mutex::new(MbusState {
                    bus: SimulatedBus::new(meters),
                    models,
                    delays: vec![Duration::ZERO; n],
                }),
            });
            for m in site.meters.iter().filter(|m| m.bus == b.name) {
                if let Some(&index) = mbus_by_name.get(&m.name) {
                    targets.insert(
                        m.name.clone(),
                        Target::Meter {
                            bus: Arc::clone(&shared),
                            index,
                        },
                    );
                }
            }
            mbus.push((b.name.clone(), b.address.clone(), shared));
        }

        let inner = Arc::new(Inner {
            clock: clock.clone(),
            outdoor: site.simulation.outdoor,
            outdoor_override: Mutex::new(None),
            targets,
            order: site
                .names()
                .into_iter()
                .map(|(n, _)| n.to_string())
                .collect(),
            faults: Mutex::new(BTreeMap::new()),
            ecls,
            mbus: mbus.iter().map(|(_, _, s)| Arc::clone(s)).collect(),
        });
        inner.tick();

        let mut endpoints = Vec::new();
        let mut handles = Vec::new();
        let mut tasks = Vec::new();
        let mut certificates = BTreeMap::new();
        for b in &site.buses {
            let Some(sim) = sims.get(&b.name) else {
                continue;
            };
            let address = b.address.clone().unwrap_or_default();
            let what = format!("bus {:?}", b.name);
            let (kind, local, handle) = match b.kind {
                BusKind::Tcp => {
                    let (a, h) = sim
                        .serve_tcp(address.as_str())
                        .await
                        .map_err(|e| serve_err(&what, e))?;
                    (EndpointKind::ModbusTcp, a.to_string(), h)
                }
                BusKind::RtuOverTcp => {
                    let (a, h) = sim
                        .serve_rtu_over_tcp(address.as_str())
                        .await
                        .map_err(|e| serve_err(&what, e))?;
                    (EndpointKind::RtuOverTcp, a.to_string(), h)
                }
                BusKind::Tls => {
                    let (config, generated) = tls_config(site, b)?;
                    let config = config.build().map_err(|e| serve_err(&what, e))?;
                    if let Some(pem) = generated {
                        certificates.insert(b.name.clone(), pem);
                    }
                    let (a, h) = sim
                        .serve_tls(address.as_str(), config)
                        .await
                        .map_err(|e| serve_err(&what, e))?;
                    (EndpointKind::Tls, a.to_string(), h)
                }
                BusKind::Rtu => {
                    let path = b.path.clone().unwrap_or_default();
                    let mut settings = SerialSettings {
                        baud_rate: b.baud.unwrap_or(19_200),
                        ..SerialSettings::default()
                    };
                    settings.parity = match b.parity.unwrap_or_default() {
                        modbus_devices::device::Parity::None => {
                            settings.stop_bits = modbus_devices::sim::StopBits::Two;
                            modbus_devices::sim::Parity::None
                        }
                        modbus_devices::device::Parity::Even => modbus_devices::sim::Parity::Even,
                        modbus_devices::device::Parity::Odd => modbus_devices::sim::Parity::Odd,
                    };
                    let h = sim
                        .serve_rtu(&path, &settings)
                        .await
                        .map_err(|e| serve_err(&what, e))?;
                    (EndpointKind::Rtu, path.display().to_string(), h)
                }
            };
            if b.kind != BusKind::Rtu {
                bound.set_address(&b.name, &local);
            }
            endpoints.push(Endpoint {
                bus: b.name.clone(),
                kind,
                address: local,
            });
            handles.push(handle);
        }
        for (name, address, shared) in &mbus {
            let (listener, local) = bind(&format!("M-Bus bus {name:?}"), address).await?;
            bound.set_address(name, &local.to_string());
            endpoints.push(Endpoint {
                bus: name.clone(),
                kind: EndpointKind::MbusTcp,
                address: local.to_string(),
            });
            let (shared, inner) = (Arc::clone(shared), Arc::clone(&inner));
            let turnaround = options.mbus_turnaround;
            tasks.push(tokio::spawn(async move {
                let mut connections = tokio::task::JoinSet::new();
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            if let Ok((stream, _)) = accepted {
                                let _ = stream.set_nodelay(true);
                                connections.spawn(serve_mbus(Arc::clone(&shared), Arc::clone(&inner), stream, turnaround));
                            }
                        }
                        Some(_) = connections.join_next(), if !connections.is_empty() => {}
                    }
                }
            }));
        }
        if let Some(control) = options
            .control
            .clone()
            .or_else(|| site.simulation.control.clone())
        {
            let (listener, local) = bind("the control port", &control).await?;
            bound.simulation.control = Some(local.to_string());
            endpoints.push(Endpoint {
                bus: "control".into(),
                kind: EndpointKind::Control,
                address: local.to_string(),
            });
            tasks.push(tokio::spawn(serve_control(listener, Arc::clone(&inner))));
        }
        {
            let inner = Arc::clone(&inner);
            tasks.push(tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(1));
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    inner.tick();
                }
            }));
        }
        Ok(SimulatedSite {
            site: bound,
            endpoints,
            inner,
            certificates,
            _handles: handles,
            tasks,
        })
    }

    /// The site with the addresses actually bound (ports picked for port 0).
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// Every served endpoint, Modbus buses first, then M-Bus buses, then the control port.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The bound address of the bus (or `control`) named `bus`.
    pub fn address(&self, bus: &str) -> Option<SocketAddr> {
        self.endpoints
            .iter()
            .find(|e| e.bus == bus)
            .and_then(|e| e.address.parse().ok())
    }

    /// The self-signed certificate (PEM) generated for a TLS bus that names none.
    pub fn generated_certificate(&self, bus: &str) -> Option<&str> {
        self.certificates.get(bus).map(String::as_str)
    }

    /// The simulated ECL controller named `name`.
    pub fn ecl(&self, name: &str) -> Option<&EclSim> {
        self.inner.ecls.get(name)
    }

    /// The values the heat meter `name` carried in its latest telegram.
    pub fn heat_reading(&self, name: &str) -> Option<HeatReading> {
        match self.inner.targets.get(name)? {
            Target::Meter { bus, index } => lock(&bus.state).models[*index].reading,
            Target::Modbus { .. } => None,
        }
    }

    /// The simulation clock.
    pub fn clock(&self) -> &SimClock {
        &self.inner.clock
    }

    /// Push the outdoor temperature into the ECLs and rebuild every heat meter's telegram
    /// now (the background task does it every second).
    pub fn tick(&self) {
        self.inner.tick();
    }

    /// Set the fault of a device, meter or ECL (effective from its next request).
    pub fn set_fault(&self, name: &str, fault: DeviceFault) -> Result<(), SimulationError> {
        self.inner.set_fault(name, fault)
    }

    /// The fault a device currently shows (`None` for an unknown name).
    pub fn fault(&self, name: &str) -> Option<DeviceFault> {
        self.inner.targets.get(name)?;
        Some(
            lock(&self.inner.faults)
                .get(name)
                .copied()
                .unwrap_or_default(),
        )
    }

    /// Run faults from the command line: each starts `start` after now and ends after its
    /// duration. Every name is checked first.
    pub fn schedule(&mut self, faults: &[ScheduledFault]) -> Result<(), SimulationError> {
        for f in faults {
            match self.inner.targets.get(&f.device) {
                None => return Err(SimulationError::UnknownDevice(f.device.clone())),
                Some(Target::Meter { .. }) if matches!(f.fault, DeviceFault::Exception(_)) => {
                    return Err(SimulationError::Unsupported {
                        device: f.device.clone(),
                        fault: f.fault,
                    });
                }
                Some(_) => {}
            }
        }
        for f in faults.iter().cloned() {
            // a fault from the start is in place before this returns (no first answer slips
            // through)
            if f.start.is_zero() {
                self.inner.set_fault(&f.device, f.fault)?;
                if f.duration.is_none() {
                    continue;
                }
            }
            let inner = Arc::clone(&self.inner);
            self.tasks.push(tokio::spawn(async move {
                tokio::time::sleep(f.start).await;
                if let Err(e) = inner.set_fault(&f.device, f.fault) {
                    tracing::warn!(error = %e, "scheduled fault");
                }
                tracing::info!(device = %f.device, fault = %f.fault, "fault injected");
                if let Some(d) = f.duration {
                    tokio::time::sleep(d).await;
                    let _ = inner.set_fault(&f.device, DeviceFault::None);
                    tracing::info!(device = %f.device, "fault cleared");
                }
            }));
        }
        Ok(())
    }

    /// Run one control-port command and give its one-line answer: `fault NAME FAULT`,
    /// `list` (`ok NAME=FAULT ...`, with `slow:MS` and `exception:CODE`), `outdoor DEGC` or
    /// `outdoor auto`.
    pub fn command(&self, line: &str) -> String {
        self.inner.command(line)
    }

    /// Stop every server.
    pub async fn stop(mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
        for h in self._handles.drain(..) {
            h.stop().await;
        }
    }
}

/// The TLS server configuration of a bus, and the PEM of a generated certificate.
fn tls_config(
    site: &Site,
    bus: &crate::site::Bus,
) -> Result<(ServerTlsConfig, Option<String>), SimulationError> {
    let what = format!("TLS bus {:?}", bus.name);
    let (config, generated) = match (&bus.certificate, &bus.key) {
        (Some(c), Some(k)) => (
            ServerTlsConfig::from_files(site.resolve(c), site.resolve(k))
                .map_err(|e| serve_err(&what, e))?,
            None,
        ),
        _ => {
            let host = bus.host_port().map(|(h, _)| h).unwrap_or_default();
            let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
            if !names.contains(&host) && !host.is_empty() {
                names.push(host);
            }
            let certified =
                rcgen::generate_simple_self_signed(names).map_err(|e| serve_err(&what, e))?;
            let pem = certified.cert.pem();
            let key = certified.signing_key.serialize_pem();
            (
                ServerTlsConfig::from_pem(pem.as_bytes(), key.as_bytes())
                    .map_err(|e| serve_err(&what, e))?,
                Some(pem),
            )
        }
    };
    let config = match &bus.client_ca {
        Some(ca) => config
            .require_client_certs_from_files(site.resolve(ca))
            .map_err(|e| serve_err(&what, e))?,
        None => config,
    };
    Ok((config, generated))
}

/// Serve the control port: one command per line, one answer line each.
async fn serve_control(listener: TcpListener, inner: Arc<Inner>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let inner = Arc::clone(&inner);
                connections.spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        if line.trim().is_empty() {
                            continue;
                        }
                        let answer = inner.command(&line);
                        tracing::info!(command = %line.trim(), %answer, "control");
                        if write.write_all(format!("{answer}\n").as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use mbus_meters::encode::short_frame;
    use mbus_meters::{Control, OwnedValue, Quantity};

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z")
            .unwrap()
            .to_utc()
            + chrono::Duration::minutes(h)
    }

    fn model(primary: u8) -> HeatModel {
        HeatModel {
            primary,
            header: LongHeader {
                id: Id::from_decimal(1000 + u32::from(primary)).unwrap(),
                manufacturer: Manufacturer::from_letters("KAM").unwrap(),
                version: 1,
                medium: Medium::HEAT,
                access_number: 0,
                status: Status(0),
                signature: 0,
            },
            source: None,
            energy_wh: 1_000_000.0,
            volume_m3: 10.0,
            power_w: 0.0,
            flow_m3h: 0.0,
            last: None,
            reading: None,
        }
    }

    fn values(telegram: &[u8]) -> std::collections::HashMap<Quantity, f64> {
        let frame = mbus_meters::decode(telegram).unwrap();
        frame
            .records
            .iter()
            .filter_map(|r| match r.value {
                OwnedValue::Number(v) => Some((r.quantity, v)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn faults_parse_and_print() {
        for (text, fault) in [
            ("none", DeviceFault::None),
            ("silent", DeviceFault::Silent),
            ("slow 250", DeviceFault::Slow(Duration::from_millis(250))),
            ("slow:250", DeviceFault::Slow(Duration::from_millis(250))),
            ("exception 4", DeviceFault::Exception(4)),
        ] {
            assert_eq!(text.parse::<DeviceFault>().unwrap(), fault, "{text}");
            assert_eq!(fault.to_string().parse::<DeviceFault>().unwrap(), fault);
        }
        for bad in [
            "",
            "slow",
            "slow fast",
            "exception 0",
            "exception 300",
            "silent 3",
            "loud",
        ] {
            assert!(bad.parse::<DeviceFault>().is_err(), "{bad:?}");
        }
        let f: ScheduledFault = "hm1=slow:800@5s".parse().unwrap();
        assert_eq!(
            (f.device.as_str(), f.fault, f.start, f.duration),
            (
                "hm1",
                DeviceFault::Slow(Duration::from_millis(800)),
                Duration::from_secs(5),
                None
            )
        );
        let f: ScheduledFault = "ecl1=exception:4".parse().unwrap();
        assert_eq!(
            (f.fault, f.start),
            (DeviceFault::Exception(4), Duration::ZERO)
        );
        for bad in [
            "=silent",
            "main=silent@soon",
            "main=silent+ever",
            "main",
            "main=off",
        ] {
            assert!(bad.parse::<ScheduledFault>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_heat_meter_is_coherent_and_its_energy_never_decreases() {
        let mut m = model(1);
        let first = values(&m.rebuild(t(0), -5.0).unwrap());
        let (tf, tr) = (
            first[&Quantity::FlowTemperature],
            first[&Quantity::ReturnTemperature],
        );
        // standalone circuit: flow 40 + 25 = 65 degC, return 20 + 0.6 * 45 = 47 degC
        assert!(
            (tf - 65.0).abs() < 1e-9 && (tr - 47.0).abs() < 1e-9,
            "{tf} {tr}"
        );
        assert!((first[&Quantity::TemperatureDifference] - 18.0).abs() < 1e-9);
        let q = first[&Quantity::VolumeFlow];
        let p = first[&Quantity::Power];
        // the demand UA * (20 - outdoor) = 30 kW, to the flow's resolution
        assert!((p - 30_000.0).abs() < 20.0, "{p}");
        assert!((p - (q / 3600.0 * DENSITY * HEAT_CAPACITY * (tf - tr)).round()).abs() < 1e-9);
        assert_eq!(first[&Quantity::Energy], 1_000_000.0);
        // 30 minutes later: energy and volume grew by the power and flow of the first point
        let second = values(&m.rebuild(t(30), -5.0).unwrap());
        assert!((second[&Quantity::Energy] - (1_000_000.0 + p / 2.0)).abs() <= 10.0);
        assert!((second[&Quantity::Volume] - (10.0 + q / 2.0)).abs() <= 0.001 + 1e-9);
        // summer: no demand, no flow, no power; the counters stay put (and never go back,
        // also when the clock does)
        let summer = values(&m.rebuild(t(60), 25.0).unwrap());
        assert!(summer[&Quantity::Energy] >= second[&Quantity::Energy]);
        let still = values(&m.rebuild(t(120), 25.0).unwrap());
        assert_eq!(still[&Quantity::Power], 0.0);
        assert_eq!(still[&Quantity::VolumeFlow], 0.0);
        assert_eq!(still[&Quantity::Energy], summer[&Quantity::Energy]);
        let back = values(&m.rebuild(t(10), 25.0).unwrap());
        assert_eq!(back[&Quantity::Energy], still[&Quantity::Energy]);
        assert_eq!(
            m.reading.unwrap().energy_kwh * 1000.0,
            back[&Quantity::Energy]
        );
    }

    #[test]
    fn slow_meters_delay_only_their_own_answers() {
        let mut models = vec![model(1), model(2)];
        let meters = models
            .iter_mut()
            .map(|m| {
                let mut s =
                    SimMeter::new(m.primary, vec![(HeaderSpec::Long(m.header), Vec::new())])
                        .unwrap();
                s.telegrams = vec![m.rebuild(t(0), 0.0).unwrap()];
                s
            })
            .collect();
        let mut st = MbusState {
            bus: SimulatedBus::new(meters),
            models,
            delays: vec![Duration::ZERO, Duration::from_millis(100)],
        };
        let nke = |a: u8| short_frame(Control::SND_NKE, Address(a));
        assert_eq!(
            st.handle(&nke(1), t(0), 0.0),
            (Some(vec![0xE5]), Duration::ZERO)
        );
        assert_eq!(
            st.handle(&nke(2), t(0), 0.0),
            (Some(vec![0xE5]), Duration::from_millis(100))
        );
        // selected by secondary address: the REQ_UD2 to 253 is slow, and rebuilt at its time
        let mask = st.models[1].header.secondary_address();
        let select = mbus_meters::encode::select_frame(false, &mask);
        assert_eq!(st.handle(&select, t(0), 0.0).1, Duration::from_millis(100));
        let req = short_frame(Control::req_ud2(true), Address::SELECTED);
        let (answer, delay) = st.handle(&req, t(60), 0.0);
        assert_eq!(delay, Duration::from_millis(100));
        let v = values(&answer.unwrap());
        assert!(v[&Quantity::Energy] > 1_000_000.0, "{v:?}");
        assert_eq!(st.models[0].last, Some(t(0)), "meter 1 was not rebuilt");
    }

    #[test]
    fn control_commands_answer_one_line() {
        let inner = Inner {
            clock: SimClock::manual(t(0)),
            outdoor: crate::site::Outdoor::default(),
            outdoor_override: Mutex::new(None),
            targets: BTreeMap::new(),
            order: Vec::new(),
            faults: Mutex::new(BTreeMap::new()),
            ecls: BTreeMap::new(),
            mbus: Vec::new(),
        };
        assert_eq!(inner.command("outdoor 5"), "ok outdoor 5.0");
        assert_eq!(inner.outdoor_at(t(0)), 5.0);
        // back to the sine: 00:00 UTC is mean - amplitude * cos(-pi/3) = 2 - 3
        assert_eq!(inner.command("outdoor auto"), "ok outdoor auto -1.0");
        assert!(inner.command("outdoor 99").starts_with("error "));
        assert!(
            inner
                .command("fault ghost silent")
                .starts_with("error no device")
        );
        assert!(
            inner
                .command("fault ghost")
                .starts_with("error expected `fault NAME")
        );
        assert_eq!(inner.command("list"), "ok ");
        assert!(!inner.command("").contains('\n'));
    }
}
