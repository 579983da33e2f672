//! The validated, in-memory product model (what the rest of the crate uses).

use serde::{Deserialize, Serialize};

use crate::register::{FunctionCode, RegisterDef};
use crate::value::{Unit, Value};

/// Field buses a product can be connected by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldBus {
    /// Modbus RTU on RS-485.
    Rtu,
    /// Modbus/TCP.
    Tcp,
    /// Modbus/TCP Security (TLS, port 802).
    TcpTls,
    /// Hager agardio (RJ45 link to an agardio manager; Modbus RTU framing).
    Agardio,
}

/// What kind of quantity a service measures; used to group and filter services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Energy counters (active, reactive, apparent; total, partial, per tariff or phase).
    Energy,
    /// Active, reactive and apparent power.
    Power,
    /// Phase-to-neutral and phase-to-phase voltages.
    Voltage,
    /// Phase and neutral currents.
    Current,
    /// Network frequency.
    Frequency,
    /// Power factor and cos phi.
    PowerFactor,
    /// Total harmonic distortion.
    Thd,
    /// Individual harmonic orders.
    Harmonic,
    /// Device status, alarms, tariffs, counters of events.
    Status,
    /// Temperatures.
    Temperature,
    /// Pulse counters.
    Pulse,
    /// Identification (vendor, product code, serial, versions).
    Identification,
    /// Configuration read back from the device.
    Configuration,
}

/// The recording intervals a stored service may use, in minutes: the values of the
/// `reports` crate's `RecordingInterval` (5, 10, 15, 20, 30 or 50).
pub const RECORDING_INTERVALS_MIN: [u32; 6] = [5, 10, 15, 20, 30, 50];

/// What a service's value is, from a fixed list: the data the simulator takes its physics
/// from, and what an integrator can rely on instead of the free-text
/// [`quantity`](Service::quantity). Written in snake_case in a catalogue file
/// (`measurand = "active_energy"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Measurand {
    /// Voltage: phase to neutral, or phase to phase with a pair of phases (V).
    Voltage,
    /// Current (A).
    Current,
    /// Active power (W).
    ActivePower,
    /// Reactive power (var).
    ReactivePower,
    /// Apparent power (VA).
    ApparentPower,
    /// Power factor, P / S (ratio or %).
    PowerFactor,
    /// cos phi, the displacement power factor (ratio or %).
    CosPhi,
    /// Network frequency (Hz).
    Frequency,
    /// Total harmonic distortion of a voltage (%).
    ThdVoltage,
    /// Total harmonic distortion of a current (%).
    ThdCurrent,
    /// One harmonic order of a voltage (% of the fundamental, or V); needs `harmonic`.
    HarmonicVoltage,
    /// One harmonic order of a current (% of the fundamental, or A); needs `harmonic`.
    HarmonicCurrent,
    /// Temperature (degC or K).
    Temperature,
    /// Active energy counter (Wh, kWh, MWh, J, GJ).
    ActiveEnergy,
    /// Reactive energy counter (varh, kvarh).
    ReactiveEnergy,
    /// Apparent energy counter.
    ApparentEnergy,
    /// A pulse counter.
    PulseCount,
    /// The tariff in use (1-based).
    ActiveTariff,
    /// The maker's name (text).
    Vendor,
    /// The model or product code (text).
    Model,
    /// The serial number.
    SerialNumber,
    /// The firmware (software) version.
    FirmwareVersion,
    /// The hardware version.
    HardwareVersion,
    /// The device's own Modbus unit id (address).
    UnitId,
}

impl Measurand {
    /// Every measurand, in declaration order.
    pub const ALL: [Measurand; 24] = [
        Measurand::Voltage,
        Measurand::Current,
        Measurand::ActivePower,
        Measurand::ReactivePower,
        Measurand::ApparentPower,
        Measurand::PowerFactor,
        Measurand::CosPhi,
        Measurand::Frequency,
        Measurand::ThdVoltage,
        Measurand::ThdCurrent,
        Measurand::HarmonicVoltage,
        Measurand::HarmonicCurrent,
        Measurand::Temperature,
        Measurand::ActiveEnergy,
        Measurand::ReactiveEnergy,
        Measurand::ApparentEnergy,
        Measurand::PulseCount,
        Measurand::ActiveTariff,
        Measurand::Vendor,
        Measurand::Model,
        Measurand::SerialNumber,
        Measurand::FirmwareVersion,
        Measurand::HardwareVersion,
        Measurand::UnitId,
    ];

    /// The name written in catalogue files.
    pub fn name(self) -> &'static str {
        match self {
            Measurand::Voltage => "voltage",
            Measurand::Current => "current",
            Measurand::ActivePower => "active_power",
            Measurand::ReactivePower => "reactive_power",
            Measurand::ApparentPower => "apparent_power",
            Measurand::PowerFactor => "power_factor",
            Measurand::CosPhi => "cos_phi",
            Measurand::Frequency => "frequency",
            Measurand::ThdVoltage => "thd_voltage",
            Measurand::ThdCurrent => "thd_current",
            Measurand::HarmonicVoltage => "harmonic_voltage",
            Measurand::HarmonicCurrent => "harmonic_current",
            Measurand::Temperature => "temperature",
            Measurand::ActiveEnergy => "active_energy",
            Measurand::ReactiveEnergy => "reactive_energy",
            Measurand::ApparentEnergy => "apparent_energy",
            Measurand::PulseCount => "pulse_count",
            Measurand::ActiveTariff => "active_tariff",
            Measurand::Vendor => "vendor",
            Measurand::Model => "model",
            Measurand::SerialNumber => "serial_number",
            Measurand::FirmwareVersion => "firmware_version",
            Measurand::HardwareVersion => "hardware_version",
            Measurand::UnitId => "unit_id",
        }
    }

    /// Whether it is an energy counter (active, reactive, apparent).
    pub fn is_energy(self) -> bool {
        matches!(
            self,
            Measurand::ActiveEnergy | Measurand::ReactiveEnergy | Measurand::ApparentEnergy
        )
    }

    /// Whether it is a power (active, reactive, apparent).
    pub fn is_power(self) -> bool {
        matches!(
            self,
            Measurand::ActivePower | Measurand::ReactivePower | Measurand::ApparentPower
        )
    }

    /// Whether it is measured on a voltage (voltage, its THD or harmonics).
    pub fn is_voltage(self) -> bool {
        matches!(
            self,
            Measurand::Voltage | Measurand::ThdVoltage | Measurand::HarmonicVoltage
        )
    }

    /// Whether it is measured on a current (current, its THD or harmonics).
    pub fn is_current(self) -> bool {
        matches!(
            self,
            Measurand::Current | Measurand::ThdCurrent | Measurand::HarmonicCurrent
        )
    }

    /// Whether it is about one or several conductors (so a `phase` may be given).
    pub fn has_phases(self) -> bool {
        self.is_voltage()
            || self.is_current()
            || self.is_power()
            || self.is_energy()
            || matches!(self, Measurand::PowerFactor | Measurand::CosPhi)
    }

    /// The units a service with this measurand may have.
    pub fn units(self) -> &'static [Unit] {
        use Unit as U;
        match self {
            Measurand::Voltage => &[U::V],
            Measurand::Current => &[U::A],
            Measurand::ActivePower => &[U::W, U::KW, U::MW],
            Measurand::ReactivePower => &[U::Var, U::Kvar],
            Measurand::ApparentPower => &[U::VA, U::KVA],
            Measurand::PowerFactor | Measurand::CosPhi => &[U::None, U::Percent],
            Measurand::Frequency => &[U::Hz],
            Measurand::ThdVoltage | Measurand::ThdCurrent => &[U::Percent, U::None],
            Measurand::HarmonicVoltage => &[U::Percent, U::None, U::V],
            Measurand::HarmonicCurrent => &[U::Percent, U::None, U::A],
            Measurand::Temperature => &[U::DegC, U::K],
            Measurand::ActiveEnergy => &[U::Wh, U::KWh, U::MWh, U::J, U::GJ],
            Measurand::ReactiveEnergy => &[U::Varh, U::Kvarh],
            // No apparent-energy unit symbol yet: the counter is read in its raw unit.
            Measurand::ApparentEnergy
            | Measurand::PulseCount
            | Measurand::ActiveTariff
            | Measurand::Vendor
            | Measurand::Model
            | Measurand::SerialNumber
            | Measurand::FirmwareVersion
            | Measurand::HardwareVersion
            | Measurand::UnitId => &[],
        }
    }
}

impl std::fmt::Display for Measurand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The conductor(s) a value is about. Written `"L1"`, `"L2"`, `"L3"`, `"N"`, `"L1-L2"`,
/// `"L2-L3"`, `"L3-L1"`, `"L-L"`, `"total"` or `"average"` in a catalogue file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Phase {
    /// Phase 1 (to neutral, for a voltage).
    #[serde(rename = "L1")]
    L1,
    /// Phase 2.
    #[serde(rename = "L2")]
    L2,
    /// Phase 3.
    #[serde(rename = "L3")]
    L3,
    /// The neutral conductor (a neutral current).
    #[serde(rename = "N")]
    N,
    /// Between phases 1 and 2 (a line-to-line voltage).
    #[serde(rename = "L1-L2")]
    L1L2,
    /// Between phases 2 and 3.
    #[serde(rename = "L2-L3")]
    L2L3,
    /// Between phases 3 and 1.
    #[serde(rename = "L3-L1")]
    L3L1,
    /// Line to line, averaged over the three pairs.
    #[serde(rename = "L-L")]
    LineToLine,
    /// The sum over the phases (a total power, energy or current).
    #[serde(rename = "total")]
    Total,
    /// The mean over the phases (an average voltage, current, power factor or THD).
    #[serde(rename = "average")]
    Average,
}

impl Phase {
    /// The name written in catalogue files.
    pub fn name(self) -> &'static str {
        match self {
            Phase::L1 => "L1",
            Phase::L2 => "L2",
            Phase::L3 => "L3",
            Phase::N => "N",
            Phase::L1L2 => "L1-L2",
            Phase::L2L3 => "L2-L3",
            Phase::L3L1 => "L3-L1",
            Phase::LineToLine => "L-L",
            Phase::Total => "total",
            Phase::Average => "average",
        }
    }

    /// The 0-based phase of `L1`, `L2`, `L3`.
    pub fn single(self) -> Option<usize> {
        match self {
            Phase::L1 => Some(0),
            Phase::L2 => Some(1),
            Phase::L3 => Some(2),
            _ => None,
        }
    }

    /// The 0-based phases of a pair (`L1-L2`: `(0, 1)`).
    pub fn pair(self) -> Option<(usize, usize)> {
        match self {
            Phase::L1L2 => Some((0, 1)),
            Phase::L2L3 => Some((1, 2)),
            Phase::L3L1 => Some((2, 0)),
            _ => None,
        }
    }

    /// Whether it is between phases (a pair or `L-L`).
    pub fn is_line_to_line(self) -> bool {
        self.pair().is_some() || self == Phase::LineToLine
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which way the energy of a power or counter flows. Written `"import"`, `"export"`,
/// `"import+export"` or `"import-export"` in a catalogue file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Direction {
    /// Consumed (delivered to the load): positive power, "+" counters.
    #[serde(rename = "import")]
    Import,
    /// Delivered to the network (generated): negative power, "-" counters.
    #[serde(rename = "export")]
    Export,
    /// Import plus export (a counter of the energy that flowed either way).
    #[serde(rename = "import+export")]
    Sum,
    /// Import minus export.
    #[serde(rename = "import-export")]
    Net,
}

impl Direction {
    /// The name written in catalogue files.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Import => "import",
            Direction::Export => "export",
            Direction::Sum => "import+export",
            Direction::Net => "import-export",
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a service's values are stored, in the words of the `reports` crate's `ChannelKind`:
/// a cumulative `counter` (consumption is its increase) or an `instantaneous` value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A cumulative counter (an index: energy, pulses).
    Counter,
    /// An instantaneous value (voltage, power, status).
    #[default]
    Instantaneous,
}

impl ChannelKind {
    /// `"counter"` or `"instantaneous"`, the name `reports` stores.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Counter => "counter",
            ChannelKind::Instantaneous => "instantaneous",
        }
    }
}

impl std::fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value the simulator serves for a service or starts a parameter with: a number (in
/// the value's unit) or a text. Written `simulated = 4` or `simulated = "Hager"`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Simulated {
    /// A number, in the service's or parameter's unit.
    Number(f64),
    /// A text (string registers).
    Text(String),
}

impl<'de> Deserialize<'de> for Simulated {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberOrText;
        impl serde::de::Visitor<'_> for NumberOrText {
            type Value = Simulated;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a text")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Simulated, E> {
                Ok(Simulated::Number(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Simulated, E> {
                Ok(Simulated::Number(v as f64))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Simulated, E> {
                Ok(Simulated::Number(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Simulated, E> {
                Ok(Simulated::Text(v.to_string()))
            }
        }
        deserializer.deserialize_any(NumberOrText)
    }
}

impl std::fmt::Display for Simulated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Simulated::Number(n) => write!(f, "{n}"),
            Simulated::Text(t) => write!(f, "{t:?}"),
        }
    }
}

/// A measured value a product offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// Stable id, unique within the product (`v_l1_n`); points are named `device/id`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Physical quantity (`voltage`, `active_power`, `active_energy_import`, ...).
    pub quantity: String,
    /// Unit of the decoded value.
    pub unit: Unit,
    /// Category.
    pub category: Category,
    /// Where it lives and how it decodes.
    pub register: RegisterDef,
    /// Default recording interval in minutes (one of [`RECORDING_INTERVALS_MIN`], the values
    /// of `reports::RecordingInterval`).
    pub recording_interval_min: u32,
    /// Optional longer description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// What the value is, from a fixed list (`None` when the file does not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurand: Option<Measurand>,
    /// The conductor(s) it is about (`None`: the device as a whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Which way the energy flows (powers and energy counters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// The tariff (1-based) an energy counter counts in; `None` for all tariffs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tariff: Option<u8>,
    /// The harmonic order (1 = fundamental) of a harmonic measurand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harmonic: Option<u8>,
    /// A partial (user-resettable) energy counter.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// How `reports` stores it: a counter or an instantaneous value.
    #[serde(default)]
    pub channel_kind: ChannelKind,
    /// What the simulator serves (a constant), when the value is not physics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated: Option<Simulated>,
}

impl Service {
    /// A service built in code (a product made from other data, as `ecl-appkeys` does), with
    /// the defaults a catalogue file gives what it leaves out: a 15-minute recording
    /// interval, an instantaneous value, no description, and nothing said about measurand,
    /// phase, direction, tariff, harmonic or simulated value.
    ///
    /// ```
    /// use modbus_devices::catalogue::{Category, ChannelKind, Service};
    /// use modbus_devices::register::{DataType, FunctionCode, RegisterDef};
    /// use modbus_devices::Unit;
    ///
    /// let register = RegisterDef::new(FunctionCode::Holding, 10200, DataType::S16);
    /// let s1 = Service::new("s1", "Outdoor temperature", "temperature", Unit::DegC, Category::Temperature, register);
    /// assert_eq!(s1.recording_interval_min, 15);
    /// assert_eq!(s1.channel_kind, ChannelKind::Instantaneous);
    /// ```
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        quantity: impl Into<String>,
        unit: Unit,
        category: Category,
        register: RegisterDef,
    ) -> Service {
        Service {
            id: id.into(),
            name: name.into(),
            quantity: quantity.into(),
            unit,
            category,
            register,
            recording_interval_min: 15,
            description: String::new(),
            measurand: None,
            phase: None,
            direction: None,
            tariff: None,
            harmonic: None,
            partial: false,
            channel_kind: ChannelKind::Instantaneous,
            simulated: None,
        }
    }
}

/// A writable setting of a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    /// Stable id, unique within the product.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Unit of the value.
    pub unit: Unit,
    /// Where it lives; always writable, usually with a write range.
    pub register: RegisterDef,
    /// Optional longer description (allowed values, side effects).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `Some(Measurand::UnitId)` when it holds the device's own unit id (the simulator
    /// starts it there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurand: Option<Measurand>,
    /// What the simulator starts it with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated: Option<Simulated>,
}

/// Kinds of alarm a product proposes for its services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    /// Active above the threshold, inactive below threshold - hysteresis.
    High,
    /// Active below the threshold, inactive above threshold + hysteresis.
    Low,
    /// Active when the value is true (or false with `on_false`).
    Binary,
}

/// Alarm priorities (Hager).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Mailed at once, switches the relay.
    Critical,
    /// Major.
    Major,
    /// Minor.
    Minor,
    /// Warning.
    Warning,
}

/// A default alarm a product proposes for one of its services. Plain data in the words of
/// the `alarms` crate: its fields map one to one onto `alarms::Template` (the delay as a
/// `Duration` of `delay_s` seconds), and `alarms::Rule::from_template` makes the rule in one
/// call; `examples::alarm_templates::rule_for` is that glue, for one device instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmTemplate {
    /// Stable id, unique within the product.
    pub id: String,
    /// The service it watches.
    pub service: String,
    /// Kind.
    pub kind: AlarmKind,
    /// Alarm text.
    pub text: String,
    /// Priority.
    pub priority: Priority,
    /// Trigger threshold (threshold kinds), in the service's unit.
    pub threshold: Option<f64>,
    /// Pre-alarm (warning) threshold, before the trigger threshold.
    pub pre_alarm: Option<f64>,
    /// Hysteresis (>= 0).
    pub hysteresis: f64,
    /// Activation delay in seconds.
    pub delay_s: u32,
    /// Binary alarms: raise on false instead of true.
    pub on_false: bool,
}

/// What a signature read must find.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// Text equal to this (after trimming padding).
    Text(String),
    /// Text starting with this.
    Prefix(String),
    /// Text equal to one of these.
    AnyText(Vec<String>),
    /// A number equal to this.
    Number(f64),
    /// A number equal to one of these.
    AnyNumber(Vec<f64>),
    /// A number within `min..=max`: a plausibility read, for products that publish no
    /// identification value (it proves a register answers sensibly, not which product it is).
    Within {
        /// Smallest plausible value.
        min: f64,
        /// Largest plausible value.
        max: f64,
    },
}

impl Expect {
    /// Whether a decoded value satisfies the expectation.
    pub fn matches(&self, value: Option<&Value>) -> bool {
        match (self, value) {
            (Expect::Text(t), Some(Value::Text(v))) => v == t,
            (Expect::Prefix(p), Some(Value::Text(v))) => v.starts_with(p.as_str()),
            (Expect::AnyText(ts), Some(Value::Text(v))) => ts.iter().any(|t| t == v),
            (Expect::Number(n), Some(v)) => v.as_f64().is_some_and(|x| x == *n),
            (Expect::AnyNumber(ns), Some(v)) => v.as_f64().is_some_and(|x| ns.contains(&x)),
            (Expect::Within { min, max }, Some(v)) => {
                v.as_f64().is_some_and(|x| (*min..=*max).contains(&x))
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Text(t) => write!(f, "{t:?}"),
            Expect::Prefix(p) => write!(f, "{p:?}..."),
            Expect::AnyText(ts) => write!(f, "one of {ts:?}"),
            Expect::Number(n) => write!(f, "{n}"),
            Expect::AnyNumber(ns) => write!(f, "one of {ns:?}"),
            Expect::Within { min, max } => write!(f, "a value within {min}..={max}"),
        }
    }
}

/// One read of a signature and what it must find.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignatureCheck {
    /// What to read.
    pub register: RegisterDef,
    /// What it must hold.
    pub expect: Expect,
}

/// An inclusive range of 0-based addresses in one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressRange {
    /// The table.
    pub function_code: FunctionCode,
    /// First address.
    pub from: u16,
    /// Last address (inclusive).
    pub to: u16,
}

impl AddressRange {
    /// Whether `[first, last]` overlaps this range in the same table.
    pub fn overlaps(&self, fc: FunctionCode, first: u32, last: u32) -> bool {
        fc == self.function_code && first <= u32::from(self.to) && last >= u32::from(self.from)
    }

    /// Whether `[first, last]` lies entirely inside this range.
    pub fn contains(&self, fc: FunctionCode, first: u32, last: u32) -> bool {
        fc == self.function_code && first >= u32::from(self.from) && last <= u32::from(self.to)
    }
}

/// How a product may be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestLimits {
    /// Largest number of registers in one read (1..=125).
    pub max_registers_per_read: u16,
    /// Largest number of unused registers a read may span between two wanted values.
    pub max_gap: u16,
    /// Documented blocks: when not empty, every read lies inside one block.
    pub blocks: Vec<AddressRange>,
    /// Ranges no read may touch.
    pub forbidden: Vec<AddressRange>,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_registers_per_read: 125,
            max_gap: 0,
            blocks: Vec::new(),
            forbidden: Vec::new(),
        }
    }
}

impl RequestLimits {
    /// Whether a read of `[first, last]` in table `fc` is allowed.
    pub fn allows(&self, fc: FunctionCode, first: u32, last: u32) -> bool {
        let count = last.saturating_sub(first) + 1;
        let max = if fc.is_bit_table() {
            2000
        } else {
            u32::from(self.max_registers_per_read)
        };
        count <= max
            && !self.forbidden.iter().any(|r| r.overlaps(fc, first, last))
            && (self.blocks.iter().all(|b| b.function_code != fc)
                || self.blocks.iter().any(|b| b.contains(fc, first, last)))
    }
}

/// The longest value one object of "Read Device Identification" (FC43 / MEI type 14) can
/// carry: a response PDU holds at most 253 bytes, 7 of them header and 2 the object's id and
/// length.
pub const DEVICE_ID_OBJECT_MAX_LEN: usize = 253 - 7 - 2;

/// Whether `text` can be sent as an object of "Read Device Identification": 1 to
/// [`DEVICE_ID_OBJECT_MAX_LEN`] printable ASCII characters (0x20 to 0x7E).
///
/// ```
/// use modbus_devices::catalogue::is_device_id_text;
///
/// assert!(is_device_id_text("ECR380D"));
/// assert!(!is_device_id_text(""));
/// assert!(!is_device_id_text("Zähler"));
/// assert!(!is_device_id_text(&"x".repeat(245)));
/// ```
pub fn is_device_id_text(text: &str) -> bool {
    (1..=DEVICE_ID_OBJECT_MAX_LEN).contains(&text.len())
        && text.bytes().all(|b| (0x20..=0x7E).contains(&b))
}

/// A product of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Order references; the first is the main one. Unique across the catalogue.
    pub references: Vec<String>,
    /// Maker.
    pub vendor: String,
    /// The product code the device itself reports as object 0x01 (ProductCode) of Modbus
    /// "Read Device Identification" (FC43 / MEI type 14), when its maker documents that
    /// function for it; `None` otherwise. Printable ASCII, at most
    /// [`DEVICE_ID_OBJECT_MAX_LEN`] bytes. The simulator answers FC43 / MEI 14 only for
    /// products that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_code: Option<String>,
    /// Product family.
    pub family: String,
    /// Model name.
    pub model: String,
    /// Description.
    pub description: String,
    /// Supported field buses.
    pub field_buses: Vec<FieldBus>,
    /// `false` when part of the map is uncertain (confidence C or D in the project's register reference).
    pub verified: bool,
    /// Where the map comes from, with its confidence.
    pub source: String,
    /// How it may be read.
    pub limits: RequestLimits,
    /// Reads that identify it.
    pub signature: Vec<SignatureCheck>,
    /// Measured values.
    pub services: Vec<Service>,
    /// Writable settings.
    pub parameters: Vec<Parameter>,
    /// Proposed alarms.
    pub alarms: Vec<AlarmTemplate>,
}

impl Product {
    /// The main reference.
    pub fn reference(&self) -> &str {
        self.references.first().map_or("", String::as_str)
    }

    /// A service by id.
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    /// A parameter by id.
    pub fn parameter(&self, id: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.id == id)
    }
}
