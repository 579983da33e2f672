//! The validated catalogue model: keys, sub-types, controllers, parameter templates.

use serde::{Deserialize, Serialize};

use crate::pnu::{Pnu, PnuRange};

/// How sure a fact is, in the words of the project's ECL reference notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// An official Danfoss document says it, or two or more independent sources agree.
    Confirmed,
    /// One source only (usually one community project, sometimes tested on a live
    /// controller): likely.
    OneSource,
    /// Inferred from indirect evidence: verify before relying on it.
    Inferred,
}

impl Confidence {
    /// `confirmed`, `one_source` or `inferred`.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Confirmed => "confirmed",
            Confidence::OneSource => "one_source",
            Confidence::Inferred => "inferred",
        }
    }
}

impl std::fmt::Display for Confidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value and how sure it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fact<T> {
    /// The value.
    pub value: T,
    /// How sure.
    pub confidence: Confidence,
}

/// What a control circuit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// Space heating (weather-compensated flow temperature).
    SpaceHeating,
    /// Domestic hot water with a storage tank (tank charging).
    DhwTank,
    /// Domestic hot water through a heat exchanger (instantaneous).
    DhwExchanger,
    /// Ventilation / air-handling heating.
    Ventilation,
    /// Boiler-based heating.
    Boiler,
}

impl Role {
    /// The name written in data files.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SpaceHeating => "space_heating",
            Role::DhwTank => "dhw_tank",
            Role::DhwExchanger => "dhw_exchanger",
            Role::Ventilation => "ventilation",
            Role::Boiler => "boiler",
        }
    }

    /// Whether the circuit makes domestic hot water.
    pub fn is_dhw(self) -> bool {
        matches!(self, Role::DhwTank | Role::DhwExchanger)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One control circuit of an application (circuit n's parameters are at 1n000 + offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Circuit {
    /// 1, 2 or 3 (the thousands digit of its PNUs, 11xxx / 12xxx / 13xxx).
    pub number: u8,
    /// What it does.
    pub role: Role,
    /// How sure.
    pub confidence: Confidence,
}

/// What one physical input S1..S16 measures for an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensor {
    /// The input number, 1..=16 (S1 is PNU 10201).
    pub input: u8,
    /// What it measures (`outdoor temperature`).
    pub meaning: String,
    /// How sure.
    pub confidence: Confidence,
}

/// What one output (triac, relay) drives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// The output as printed on the terminals (`relay 1`, `triac 2`).
    pub output: String,
    /// What it drives.
    pub meaning: String,
    /// How sure.
    pub confidence: Confidence,
}

/// A range of PNUs an application serves, with how sure that is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedRange {
    /// The PNUs.
    pub range: PnuRange,
    /// How sure.
    pub confidence: Confidence,
    /// Served only on controllers with an M-Bus port (ECL 296 / 310 / 310B).
    pub needs_mbus: bool,
    /// Where it comes from.
    pub source: String,
}

/// The meaning of one controller alarm number, when the application's guide is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmMeaning {
    /// The alarm number (1..=32).
    pub number: u8,
    /// What it means.
    pub text: String,
    /// How sure.
    pub confidence: Confidence,
}

/// One sub-type of an application key (`A266.1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubType {
    /// The sub-type number (`1` of `A266.1`).
    pub number: u16,
    /// What it controls, when known.
    pub function: Option<Fact<String>>,
    /// The control circuits; empty when unknown.
    pub circuits: Vec<Circuit>,
    /// Sensor meanings; empty when unknown.
    pub sensors: Vec<Sensor>,
    /// Inputs the application leaves unused (free for configurable inputs), when known.
    pub unused_inputs: Option<Fact<Vec<u8>>>,
    /// Output meanings; empty when unknown.
    pub outputs: Vec<Output>,
    /// PNU ranges this sub-type serves beyond the system ranges every controller serves.
    pub served: Vec<ServedRange>,
    /// Known alarm meanings.
    pub alarms: Vec<AlarmMeaning>,
    /// What is not known about it.
    pub unknowns: Vec<String>,
}

impl SubType {
    /// The circuit with this number.
    pub fn circuit(&self, number: u8) -> Option<&Circuit> {
        self.circuits.iter().find(|c| c.number == number)
    }

    /// The meaning of input S`input`.
    pub fn sensor(&self, input: u8) -> Option<&Sensor> {
        self.sensors.iter().find(|s| s.input == input)
    }
}

/// An application key of the catalogue (`A266`), with its sub-types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppKey {
    /// The prefix letter (`A`).
    pub prefix: char,
    /// The type number (`266`).
    pub number: u16,
    /// How sure it is that the key exists as listed (its name and guide).
    pub confidence: Confidence,
    /// What it controls, when known.
    pub function: Option<Fact<String>>,
    /// Controller model ids it runs on (`ecl310`), when known.
    pub controllers: Option<Fact<Vec<String>>>,
    /// The operating guide, where one was identified.
    pub guide: Option<String>,
    /// Where the facts come from.
    pub source: String,
    /// The known sub-types.
    pub subtypes: Vec<SubType>,
    /// What is not known about the key.
    pub unknowns: Vec<String>,
}

impl AppKey {
    /// `A266`.
    pub fn name(&self) -> String {
        format!("{}{}", self.prefix, self.number)
    }

    /// A sub-type by number.
    pub fn subtype(&self, number: u16) -> Option<&SubType> {
        self.subtypes.iter().find(|s| s.number == number)
    }
}

/// An ECL Comfort controller model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerInfo {
    /// Stable id (`ecl310`).
    pub id: String,
    /// Display name (`ECL Comfort 310`).
    pub name: String,
    /// Code numbers (the digits after `087H`, PNU 19) known to be this model.
    pub code_numbers: Vec<Fact<u16>>,
    /// Whether it has an M-Bus master port (energy meters).
    pub mbus: bool,
    /// Whether it has Ethernet (Modbus/TCP).
    pub ethernet: bool,
    /// Whether the monitor detects the application key automatically (ECL 296 / 310);
    /// otherwise the application is named at commissioning.
    pub detects_key: bool,
    /// How sure.
    pub confidence: Confidence,
    /// Where it comes from.
    pub source: String,
}

/// How a circuit parameter's register is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawType {
    /// Unsigned 16-bit.
    U16,
    /// Signed 16-bit (temperatures).
    S16,
}

/// What kind of value a parameter holds (how an operation should treat it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterKind {
    /// A setting (setpoint, limit, curve point).
    Setting,
    /// A value the controller computes (read-only).
    Computed,
    /// A weekly-schedule register (HHMM).
    Schedule,
}

/// A parameter every circuit of some roles has, at `1n000 + offset` for circuit n.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParameterTemplate {
    /// Id, unique among templates; a circuit's parameter is `c{n}_{id}`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// PNU offset within the circuit's thousand (`175` for 11175 / 12175 / 13175).
    pub offset: u16,
    /// The circuit roles that have it.
    pub roles: Vec<Role>,
    /// Register type.
    pub raw_type: RawType,
    /// Value = raw × scale.
    pub scale: f64,
    /// Unit symbol of the value.
    pub unit: modbus_devices::Unit,
    /// Range a write must respect, in the unit; `None` = read-only (no known range).
    pub range: Option<(f64, f64)>,
    /// Whether writes are allowed (only with a range).
    pub writable: bool,
    /// Setting, computed value or schedule register.
    pub kind: ParameterKind,
    /// How sure.
    pub confidence: Confidence,
    /// Where it comes from.
    pub source: String,
    /// Notes (allowed values, encodings).
    pub description: String,
}

impl ParameterTemplate {
    /// The PNU of this parameter for circuit `circuit` (1..=3).
    pub fn pnu(&self, circuit: u8) -> Option<Pnu> {
        let base = 10_000u32 + 1000 * u32::from(circuit) + u32::from(self.offset);
        u16::try_from(base).ok().and_then(|p| Pnu::new(p).ok())
    }
}
