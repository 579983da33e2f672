//! An ECL Comfort 310 simulator for a given application key (feature `io`), built on the
//! `modbus-devices` simulator, so it serves Modbus/TCP, Modbus RTU on a serial line and RTU
//! over TCP, routed by unit id, with that simulator's fault injection.
//!
//! What it serves, for the controller's key:
//! - **Served ranges**: exactly the key's (and the system's) PNU ranges; a read touching
//!   any other PNU is answered with exception 02, as the real controller fails the whole
//!   request. At most 123 registers per read (exception 03 above).
//! - **Identity and key registers** (PNU 8, 19, 34-39, 2060-2063, 2099) from a
//!   [`SimIdentity`].
//! - **Writable parameters** (FC6) with the catalogue's range checks: a value outside the
//!   range is answered with exception 03 and not stored; a write to a PNU that is not a
//!   writable parameter with exception 02.
//! - **A simple thermal model.** The outdoor temperature (S1) drives the heating circuit's
//!   flow setpoint through the 6-point heat curve (PNU 1n400-1n405, linear between the
//!   points, flat beyond them), shifted by 2 K per kelvin of room setpoint above or below
//!   20 degC and held between the minimum and maximum flow (1n177 / 1n178); it is served
//!   as the desired flow (1n253, 0.01 degC). The flow sensor follows the setpoint with a
//!   10-minute time constant; the return is the room setpoint plus 60 % of the flow's lift
//!   above it; the room sensor reads the room setpoint; a DHW tank follows its setpoint
//!   (1n190 comfort / 1n191 saving) with a 30-minute time constant, its return 8 K below.
//!   The heat-curve slope (1n175) is stored but not used (the 6-point curve decides).
//!   Which input is which comes from the key's sensor meanings; inputs without one read
//!   192.00 degC (not connected).
//! - **Modes and schedules change the setpoints**: mode (4200 + c) 1 follows the weekly
//!   schedule (3n10.., the clock's weekday and time: comfort inside a period, saving
//!   outside), 2 constant comfort, 3 constant saving, 4 frost protection (the room
//!   setpoint becomes the frost-protection temperature 1n093); the status (4210 + c) says
//!   comfort (2) or saving (0).
//! - **Alarms** raised and cleared by the caller: bitmask 1024-1025, status 1040-1071.
//! - The clock (64045-64049) from the simulator's clock (its UTC time as the controller's
//!   local time); outputs: relay 1 on, overrides (4066-4071) forcing relays.
//!
//! Every request the controller receives is recorded ([`EclSim::requests`]), so a test can
//! check that a client's reads stayed inside the served ranges.
//!
//! ```
//! use ecl_appkeys::sim::{EclSim, SimIdentity};
//! use ecl_appkeys::{Catalogue, Controller};
//! use modbus_devices::sim::{SimClock, Simulator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let catalogue = Catalogue::builtin()?;
//! let ecl = Controller::new(&catalogue, "A266.1".parse()?, Some("ecl310"))?;
//! let sim = Simulator::new(SimClock::real());
//! let controller = EclSim::add(&sim, 1, &ecl, SimIdentity::default())?;
//! controller.set_outdoor(-5.0);
//! controller.raise_alarm(3)?;
//! let (addr, _server) = sim.serve_tcp("127.0.0.1:0").await?;
//! println!("an ECL Comfort 310 with A266.1 answers on {addr}");
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Datelike, Timelike, Utc};
use modbus_devices::Product;
use modbus_devices::catalogue::Simulated;
use modbus_devices::sim::{LiveRegisters, RequestSeen, Simulator};

use crate::catalogue::{KeyId, Role};
use crate::controller::Controller;
use crate::error::Error;
use crate::firmware::Version;
use crate::pnu::{Pnu, ServedRanges};
use crate::schedule::{DISABLED, Period, WeeklySchedule, period_pnu};
use crate::system::{self, SENSOR_NOT_CONNECTED};

/// The identity the simulated controller reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimIdentity {
    /// PNU 19: the code number after `087H` (3040: an ECL Comfort 310).
    pub code: u16,
    /// PNU 34: hardware revision (`0x4102` = `A2`).
    pub hardware: u16,
    /// PNU 35: controller software.
    pub software: Version,
    /// PNU 8: software build.
    pub build: u16,
    /// PNU 36-37: serial number.
    pub serial: u32,
    /// PNU 2099: production year − 2000 (high byte) and week (low byte).
    pub production: u16,
    /// PNU 2063: application key version.
    pub key_version: Version,
}

impl Default for SimIdentity {
    /// An ECL Comfort 310 (087H3040, hardware A2) with software 1.56 and key version 1.08,
    /// the versions seen in the field (ECL reference notes, section 4).
    fn default() -> Self {
        SimIdentity {
            code: 3040,
            hardware: 0x4102,
            software: Version::new(1, 56),
            build: 2600,
            serial: 0x0001_0002,
            production: 0x1203,
            key_version: Version::new(1, 8),
        }
    }
}

/// What an input measures in the thermal model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Outdoor,
    Room,
    Flow,
    Return,
    Tank,
    TankReturn,
}

fn classify(meaning: &str) -> Option<Input> {
    let m = meaning.to_ascii_lowercase();
    let dhw = m.contains("dhw") || m.contains("tank");
    Some(if m.contains("outdoor") {
        Input::Outdoor
    } else if m.contains("room") {
        Input::Room
    } else if dhw && m.contains("return") {
        Input::TankReturn
    } else if dhw {
        Input::Tank
    } else if m.contains("return") {
        Input::Return
    } else if m.contains("flow") {
        Input::Flow
    } else {
        return None;
    })
}

/// The fixed part of the model, from the controller's application.
#[derive(Debug)]
struct Layout {
    unit: u8,
    identity: SimIdentity,
    key: KeyId,
    /// Space-heating circuits.
    heating: Vec<u8>,
    /// DHW circuits.
    dhw: Vec<u8>,
    /// Every circuit (for modes and status).
    circuits: Vec<u8>,
    inputs: BTreeMap<u8, Input>,
    served: ServedRanges,
}

/// The changing part.
#[derive(Debug)]
struct State {
    outdoor: f64,
    sensors: BTreeMap<u8, Option<f64>>,
    alarms: u32,
    /// Lagged flow temperature per heating circuit, tank temperature per DHW circuit.
    flow: BTreeMap<u8, f64>,
    tank: BTreeMap<u8, f64>,
    last: Option<DateTime<Utc>>,
    requests: Vec<RequestSeen>,
}

/// Requests kept for [`EclSim::requests`] (the oldest are dropped beyond).
const MAX_RECORDED: usize = 100_000;
/// Time constant of the flow temperature (s).
const FLOW_TAU_S: f64 = 600.0;
/// Time constant of a DHW tank (s).
const TANK_TAU_S: f64 = 1800.0;
/// Outdoor temperatures of the 6-point curve (PNU 1n400-1n405).
const CURVE_OUTDOOR: [f64; 6] = [-30.0, -15.0, -5.0, 0.0, 5.0, 15.0];

#[derive(Debug)]
struct Model {
    layout: Layout,
    state: Mutex<State>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One simulated ECL Comfort 310 behind a unit id of a `modbus-devices` [`Simulator`]: the
/// handle that sets the outdoor temperature, sensors and alarms, and shows the requests.
/// Clones share the controller.
#[derive(Debug, Clone)]
pub struct EclSim {
    model: Arc<Model>,
    product: Arc<Product>,
}

/// Parameter values the simulated controller starts with (in the parameter's unit), by the
/// template id (after `c{n}_`); others start at the bottom of their range.
const START: &[(&str, f64)] = &[
    ("total_stop", 0.0),
    ("frost_protection", 10.0),
    ("heat_curve_slope", 1.8),
    ("min_flow", 10.0),
    ("max_flow", 90.0),
    ("summer_cutout", 20.0),
    ("room_comfort", 21.0),
    ("room_saving", 17.0),
    ("curve_flow_m30", 75.0),
    ("curve_flow_m15", 63.0),
    ("curve_flow_m5", 53.0),
    ("curve_flow_0", 48.0),
    ("curve_flow_p5", 42.0),
    ("curve_flow_p15", 30.0),
    ("anti_bacteria_temp", 70.0),
    ("dhw_comfort", 55.0),
    ("dhw_saving", 45.0),
    ("mode", 1.0),
];

/// The weekly schedule the simulated circuits start with: weekdays 06:00-22:00, weekends
/// 07:00-23:00.
pub fn default_schedule() -> WeeklySchedule {
    let day = |a: &str, b: &str| Period::parse(a, b).map(|p| vec![p]).unwrap_or_default();
    WeeklySchedule {
        monday: day("06:00", "22:00"),
        tuesday: day("06:00", "22:00"),
        wednesday: day("06:00", "22:00"),
        thursday: day("06:00", "22:00"),
        friday: day("06:00", "22:00"),
        saturday: day("07:00", "23:00"),
        sunday: day("07:00", "23:00"),
    }
}

impl EclSim {
    /// Simulate `controller` (which must have its application key) at `unit` of `sim`,
    /// reporting `identity`. The product served is [`Controller::product`] with the
    /// parameters' starting values (see [`default_schedule`] for the schedules).
    pub fn add(
        sim: &Simulator,
        unit: u8,
        controller: &Controller,
        identity: SimIdentity,
    ) -> Result<Self, Error> {
        let key = controller.key().ok_or(Error::InvalidArgument {
            what: "simulated controller",
            expected: "a controller with its application key",
            found: "a controller whose application is not known".into(),
        })?;
        let mut product = controller.product(&format!("ECL310-{key}-unit{unit}"))?;
        start_values(controller, &mut product)?;
        let (mut heating, mut dhw, mut circuits) = (Vec::new(), Vec::new(), Vec::new());
        if let Some((_, st)) = controller.application() {
            for c in &st.circuits {
                circuits.push(c.number);
                if c.role.is_dhw() {
                    dhw.push(c.number);
                } else if c.role == Role::SpaceHeating {
                    heating.push(c.number);
                }
            }
        }
        let inputs = controller
            .sensors()
            .iter()
            .filter_map(|s| Some((s.input, classify(s.meaning.as_deref()?)?)))
            .collect();
        let model = Arc::new(Model {
            layout: Layout {
                unit,
                identity,
                key,
                heating,
                dhw,
                circuits,
                inputs,
                served: controller.served().clone(),
            },
            state: Mutex::new(State {
                outdoor: 5.0,
                sensors: BTreeMap::new(),
                alarms: 0,
                flow: BTreeMap::new(),
                tank: BTreeMap::new(),
                last: None,
                requests: Vec::new(),
            }),
        });
        sim.add_device(unit, product.clone())
            .map_err(|e| Error::Simulator(e.to_string()))?;
        sim.set_live_registers(unit, model.clone());
        Ok(EclSim {
            model,
            product: Arc::new(product),
        })
    }

    /// The unit id.
    pub fn unit(&self) -> u8 {
        self.model.layout.unit
    }

    /// The application key simulated.
    pub fn key(&self) -> KeyId {
        self.model.layout.key
    }

    /// The `modbus-devices` product served (register map, blocks, starting values).
    pub fn product(&self) -> &Product {
        &self.product
    }

    /// Set the outdoor temperature (degC) the model uses and S1 reads.
    pub fn set_outdoor(&self, degc: f64) {
        lock(&self.model.state).outdoor = degc;
    }

    /// The outdoor temperature of the model.
    pub fn outdoor(&self) -> f64 {
        lock(&self.model.state).outdoor
    }

    /// Pin input S`input` (1..=16) to a value (degC), or to "not connected" with `None`,
    /// over what the model gives it.
    pub fn set_sensor(&self, input: u8, value: Option<f64>) -> Result<(), Error> {
        system::sensor_pnu(input)?;
        lock(&self.model.state).sensors.insert(input, value);
        Ok(())
    }

    /// Give input S`input` back to the model.
    pub fn release_sensor(&self, input: u8) {
        lock(&self.model.state).sensors.remove(&input);
    }

    /// Raise controller alarm `n` (1..=32).
    pub fn raise_alarm(&self, n: u8) -> Result<(), Error> {
        system::alarm_status_pnu(n)?;
        lock(&self.model.state).alarms |= 1 << (n - 1);
        Ok(())
    }

    /// Clear controller alarm `n` (1..=32).
    pub fn clear_alarm(&self, n: u8) -> Result<(), Error> {
        system::alarm_status_pnu(n)?;
        lock(&self.model.state).alarms &= !(1 << (n - 1));
        Ok(())
    }

    /// The raised alarms.
    pub fn alarms(&self) -> Vec<u8> {
        let bits = lock(&self.model.state).alarms;
        system::active_alarms((bits >> 16) as u16, bits as u16)
    }

    /// Every request the controller received (the latest 100 000), oldest first.
    pub fn requests(&self) -> Vec<RequestSeen> {
        lock(&self.model.state).requests.clone()
    }

    /// Forget the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.model.state).requests.clear();
    }

    /// The recorded reads (FC3 / FC4) that touch a PNU outside the served ranges: empty
    /// when every client read followed them.
    pub fn reads_outside_served(&self) -> Vec<RequestSeen> {
        let served = &self.model.layout.served;
        self.requests()
            .into_iter()
            .filter(|r| matches!(r.function, 3 | 4))
            .filter(|r| {
                let first = u32::from(r.address) + 1;
                let last = first + u32::from(r.count.max(1)) - 1;
                let range = u16::try_from(last)
                    .ok()
                    .and_then(|l| crate::pnu::PnuRange::new(first as u16, l).ok());
                !range.is_some_and(|range| served.serves_range(&range))
            })
            .collect()
    }
}

/// Put the starting values on the product's parameters (clamped into their write range).
fn start_values(controller: &Controller, product: &mut Product) -> Result<(), Error> {
    let mut by_pnu: BTreeMap<u16, f64> = BTreeMap::new();
    for c in 1..=3u8 {
        for (pnu, raw) in default_schedule().encode(c)? {
            by_pnu.insert(pnu.get(), f64::from(raw));
        }
    }
    for p in &mut product.parameters {
        let Ok(pnu) = Pnu::from_wire_address(p.register.address) else {
            continue;
        };
        let template =
            p.id.split_once('_')
                .filter(|(c, _)| c.starts_with('c'))
                .map_or(p.id.as_str(), |(_, rest)| rest);
        let value = by_pnu.get(&pnu.get()).copied().or_else(|| {
            START
                .iter()
                .find(|(id, _)| *id == template)
                .map(|(_, v)| *v)
        });
        let Some(mut value) = value else {
            continue;
        };
        if let Some(r) = p.register.write_range {
            value = value.clamp(r.min, r.max);
        }
        if controller.parameters().by_pnu(pnu).is_some() {
            p.simulated = Some(Simulated::Number(value));
        }
    }
    Ok(())
}

/// Linear between the points of the 6-point curve, flat beyond its ends.
fn heat_curve(points: [f64; 6], outdoor: f64) -> f64 {
    if outdoor <= CURVE_OUTDOOR[0] {
        return points[0];
    }
    for i in 1..6 {
        if outdoor <= CURVE_OUTDOOR[i] {
            let (x0, x1) = (CURVE_OUTDOOR[i - 1], CURVE_OUTDOOR[i]);
            return points[i - 1] + (points[i] - points[i - 1]) * (outdoor - x0) / (x1 - x0);
        }
    }
    points[5]
}

/// Raw value of a temperature in 0.01 degC (signed).
fn centi(v: f64) -> u16 {
    ((v * 100.0).round().clamp(-32768.0, 32767.0) as i16) as u16
}

/// Reads the stored parameters by PNU.
struct Params<'a>(&'a dyn Fn(u16) -> Option<u16>);

impl Params<'_> {
    fn raw(&self, pnu: u32) -> Option<u16> {
        u16::try_from(pnu.checked_sub(1)?).ok().and_then(self.0)
    }

    /// A signed value × `scale`, or `default` when the controller does not have it.
    fn value(&self, pnu: u32, scale: f64, default: f64) -> f64 {
        self.raw(pnu)
            .map_or(default, |r| f64::from(r as i16) * scale)
    }

    /// Whether circuit `c` is in comfort at `now` (mode, then the weekly schedule).
    fn comfort(&self, c: u8, now: DateTime<Utc>) -> bool {
        match self.raw(4200 + u32::from(c)).unwrap_or(1) {
            2 => true,
            1 => {
                let day = now.weekday().num_days_from_monday() as u8;
                let minutes = now.hour() * 60 + now.minute();
                (0..3u8).any(|p| {
                    let at = |stop| {
                        period_pnu(c, day, p, stop)
                            .ok()
                            .and_then(|pnu| self.raw(u32::from(pnu.get())))
                            .unwrap_or(DISABLED)
                    };
                    let (start, stop) = (at(false), at(true));
                    let m = |hhmm: u16| u32::from(hhmm / 100 * 60 + hhmm % 100);
                    start != stop && m(start) <= minutes && minutes < m(stop)
                })
            }
            _ => false,
        }
    }
}

impl Model {
    /// Room setpoint of heating circuit `c` and its desired flow.
    fn heating_targets(
        &self,
        c: u8,
        outdoor: f64,
        p: &Params<'_>,
        now: DateTime<Utc>,
    ) -> (f64, f64) {
        let base = 10_000 + 1000 * u32::from(c);
        let mode = p.raw(4200 + u32::from(c)).unwrap_or(1);
        let room = if mode == 4 {
            p.value(base + 93, 1.0, 10.0)
        } else if p.comfort(c, now) {
            p.value(base + 180, 0.1, 21.0)
        } else {
            p.value(base + 181, 0.1, 17.0)
        };
        let defaults = [75.0, 63.0, 53.0, 48.0, 42.0, 30.0];
        let mut points = [0.0; 6];
        for (i, point) in points.iter_mut().enumerate() {
            *point = p.value(base + 400 + i as u32, 1.0, defaults[i]);
        }
        let (min, max) = (
            p.value(base + 177, 1.0, 10.0),
            p.value(base + 178, 1.0, 90.0),
        );
        let flow = (heat_curve(points, outdoor) + 2.0 * (room - 20.0)).clamp(min, max.max(min));
        (room, flow)
    }

    fn dhw_target(&self, c: u8, p: &Params<'_>, now: DateTime<Utc>) -> f64 {
        let base = 10_000 + 1000 * u32::from(c);
        if p.raw(4200 + u32::from(c)) == Some(4) {
            p.value(base + 93, 1.0, 10.0)
        } else if p.comfort(c, now) {
            p.value(base + 190, 0.1, 55.0)
        } else {
            p.value(base + 191, 0.1, 45.0)
        }
    }
}

impl LiveRegisters for Model {
    fn holding(
        &self,
        now: DateTime<Utc>,
        parameter: &dyn Fn(u16) -> Option<u16>,
    ) -> Vec<(u16, u16)> {
        let p = Params(parameter);
        let l = &self.layout;
        let mut st = lock(&self.state);
        let dt = match st.last {
            Some(t) if t <= now => (now - t).num_milliseconds() as f64 / 1000.0,
            _ => 0.0,
        };
        st.last = Some(now);
        let outdoor = st.outdoor;
        let mut out: Vec<(u16, u16)> = Vec::with_capacity(128);
        let mut put = |pnu: u32, v: u16| {
            if let Ok(a) = u16::try_from(pnu - 1) {
                out.push((a, v));
            }
        };
        let mut sensors: BTreeMap<u8, f64> = BTreeMap::new();
        for &c in &l.heating {
            let (room, target) = self.heating_targets(c, outdoor, &p, now);
            let flow = st.flow.entry(c).or_insert(target);
            *flow += (target - *flow) * (1.0 - (-dt / FLOW_TAU_S).exp());
            let flow = *flow;
            put(10_000 + 1000 * u32::from(c) + 253, centi(target));
            if c == l.heating[0] {
                sensors.insert(0, room);
                sensors.insert(1, flow);
                sensors.insert(2, room + 0.6 * (flow - room));
            }
        }
        for &c in &l.dhw {
            let target = self.dhw_target(c, &p, now);
            let tank = st.tank.entry(c).or_insert(target);
            *tank += (target - *tank) * (1.0 - (-dt / TANK_TAU_S).exp());
            if c == l.dhw[0] {
                sensors.insert(3, *tank);
            }
        }
        for input in 1..=16u8 {
            let modelled = match l.inputs.get(&input) {
                Some(Input::Outdoor) => Some(outdoor),
                Some(Input::Room) => sensors.get(&0).copied(),
                Some(Input::Flow) => sensors.get(&1).copied(),
                Some(Input::Return) => sensors.get(&2).copied(),
                Some(Input::Tank) => sensors.get(&3).copied(),
                Some(Input::TankReturn) => sensors.get(&3).map(|t| t - 8.0),
                None => None,
            };
            let value = st.sensors.get(&input).copied().unwrap_or(modelled);
            let raw = value.map_or(SENSOR_NOT_CONNECTED as u16, centi);
            put(10_200 + u32::from(input), raw);
        }
        for &c in &l.circuits {
            let comfort = p.raw(4200 + u32::from(c)) != Some(4) && p.comfort(c, now);
            put(4210 + u32::from(c), if comfort { 2 } else { 0 });
        }
        let id = &l.identity;
        for (pnu, v) in [
            (8, id.build),
            (19, id.code),
            (34, id.hardware),
            (35, id.software.raw()),
            (36, (id.serial >> 16) as u16),
            (37, id.serial as u16),
            (38, u16::from(l.unit)),
            (39, 38),
            (2060, u16::from(l.key.prefix as u8)),
            (2061, l.key.number),
            (2062, l.key.subtype),
            (2063, id.key_version.raw()),
            (2099, id.production),
            (10198, 1),
            (5999, 3),
        ] {
            put(pnu, v);
        }
        put(1025, st.alarms as u16);
        put(1024, (st.alarms >> 16) as u16);
        for n in 1..=32u32 {
            put(1039 + n, u16::from(st.alarms & (1 << (n - 1)) != 0));
        }
        for (pnu, v) in [
            (64045, now.hour()),
            (64046, now.minute()),
            (64047, now.day()),
            (64048, now.month()),
            (64049, now.year().clamp(2009, 2099) as u32),
        ] {
            put(pnu, v as u16);
        }
        let mut mask = 0u16;
        for n in 1..=6u32 {
            let on = match p.raw(4065 + n) {
                Some(2) => true,
                Some(1) => false,
                _ => n == 1,
            };
            put(4005 + n, u16::from(on));
            mask |= u16::from(on) << (5 + n);
        }
        put(3999, mask);
        out
    }

    fn request(&self, seen: RequestSeen) {
        let mut st = lock(&self.state);
        if st.requests.len() >= MAX_RECORDED {
            st.requests.remove(0);
        }
        st.requests.push(seen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_interpolates_and_is_flat_beyond_its_ends() {
        let pts = [75.0, 63.0, 53.0, 48.0, 42.0, 30.0];
        assert_eq!(heat_curve(pts, -40.0), 75.0);
        assert_eq!(heat_curve(pts, -30.0), 75.0);
        assert_eq!(heat_curve(pts, -10.0), 58.0);
        assert_eq!(heat_curve(pts, 10.0), 36.0);
        assert_eq!(heat_curve(pts, 25.0), 30.0);
    }

    #[test]
    fn meanings_classify() {
        assert_eq!(classify("outdoor temperature"), Some(Input::Outdoor));
        assert_eq!(classify("heating flow temperature"), Some(Input::Flow));
        assert_eq!(classify("heating return temperature"), Some(Input::Return));
        assert_eq!(classify("DHW tank temperature"), Some(Input::Tank));
        assert_eq!(classify("DHW return temperature"), Some(Input::TankReturn));
        assert_eq!(classify("room temperature"), Some(Input::Room));
        assert_eq!(classify("something else"), None);
    }
}
