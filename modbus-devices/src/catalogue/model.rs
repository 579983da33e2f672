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

/// The recording intervals a stored service may use, in minutes (products.md: Hager).
pub const RECORDING_INTERVALS_MIN: [u32; 6] = [5, 10, 15, 20, 30, 50];

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
    /// Default recording interval in minutes (one of [`RECORDING_INTERVALS_MIN`]).
    pub recording_interval_min: u32,
    /// Optional longer description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
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
    /// `false` when part of the map is uncertain (confidence C or D in registers.md).
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
