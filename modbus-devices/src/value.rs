//! Values, units and readings: what a poll produces.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A decoded value. Numbers are in the service's unit, after scaling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A physical number (already scaled to the service's unit).
    Number(f64),
    /// A coil, discrete input or single bit of a register.
    Bool(bool),
    /// ASCII text (identification strings).
    Text(String),
    /// The raw bits of a bit field.
    Flags(u64),
}

impl Value {
    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(v) => Some(*v),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Flags(f) => Some(*f as f64),
            Value::Text(_) => None,
        }
    }

    /// The text, if this is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Number(_) => "number",
            Value::Bool(_) => "bool",
            Value::Text(_) => "text",
            Value::Flags(_) => "flags",
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Number(v) => write!(f, "{v}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Text(t) => write!(f, "{t}"),
            Value::Flags(x) => write!(f, "{x:#x}"),
        }
    }
}

/// A unit symbol from the workspace's shared list (design.md, "Units").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Unit {
    /// watt-hour
    #[serde(rename = "Wh")]
    Wh,
    /// kilowatt-hour
    #[serde(rename = "kWh")]
    KWh,
    /// megawatt-hour
    #[serde(rename = "MWh")]
    MWh,
    /// joule
    #[serde(rename = "J")]
    J,
    /// gigajoule
    #[serde(rename = "GJ")]
    GJ,
    /// watt
    #[serde(rename = "W")]
    W,
    /// kilowatt
    #[serde(rename = "kW")]
    KW,
    /// megawatt
    #[serde(rename = "MW")]
    MW,
    /// volt-ampere reactive
    #[serde(rename = "var")]
    Var,
    /// kilovar
    #[serde(rename = "kvar")]
    Kvar,
    /// volt-ampere
    #[serde(rename = "VA")]
    VA,
    /// kilovolt-ampere
    #[serde(rename = "kVA")]
    KVA,
    /// var-hour
    #[serde(rename = "varh")]
    Varh,
    /// kilovar-hour
    #[serde(rename = "kvarh")]
    Kvarh,
    /// volt
    #[serde(rename = "V")]
    V,
    /// ampere
    #[serde(rename = "A")]
    A,
    /// hertz
    #[serde(rename = "Hz")]
    Hz,
    /// degree Celsius
    #[serde(rename = "degC")]
    DegC,
    /// kelvin
    #[serde(rename = "K")]
    K,
    /// cubic metre
    #[serde(rename = "m3")]
    M3,
    /// cubic metre per hour
    #[serde(rename = "m3/h")]
    M3PerH,
    /// litre per hour
    #[serde(rename = "l/h")]
    LPerH,
    /// kilogram
    #[serde(rename = "kg")]
    Kg,
    /// kilogram per hour
    #[serde(rename = "kg/h")]
    KgPerH,
    /// bar
    #[serde(rename = "bar")]
    Bar,
    /// second
    #[serde(rename = "s")]
    S,
    /// hour
    #[serde(rename = "h")]
    H,
    /// percent
    #[serde(rename = "%")]
    Percent,
    /// dimensionless (power factor, counts, identification)
    #[serde(rename = "")]
    None,
}

impl Unit {
    /// The symbol as it crosses crate boundaries.
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Wh => "Wh",
            Unit::KWh => "kWh",
            Unit::MWh => "MWh",
            Unit::J => "J",
            Unit::GJ => "GJ",
            Unit::W => "W",
            Unit::KW => "kW",
            Unit::MW => "MW",
            Unit::Var => "var",
            Unit::Kvar => "kvar",
            Unit::VA => "VA",
            Unit::KVA => "kVA",
            Unit::Varh => "varh",
            Unit::Kvarh => "kvarh",
            Unit::V => "V",
            Unit::A => "A",
            Unit::Hz => "Hz",
            Unit::DegC => "degC",
            Unit::K => "K",
            Unit::M3 => "m3",
            Unit::M3PerH => "m3/h",
            Unit::LPerH => "l/h",
            Unit::Kg => "kg",
            Unit::KgPerH => "kg/h",
            Unit::Bar => "bar",
            Unit::S => "s",
            Unit::H => "h",
            Unit::Percent => "%",
            Unit::None => "",
        }
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.symbol())
    }
}

/// Whether a reading can be trusted.
///
/// The rule: `Good` when the device answered and the answer decoded, even when the answer
/// is a "not available" sentinel (the reading then has no value: the device says the
/// quantity does not exist, e.g. L2 on a single-phase meter); `Bad` when the read failed
/// (timeout, exception, CRC error) or the answer could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// Read and decoded (the value may still be absent: "not available").
    Good,
    /// The read failed or did not decode.
    Bad,
}

/// One reading of one service of one device: the poller's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Device instance name.
    pub device: String,
    /// Service id from the catalogue.
    pub service: String,
    /// The value, `None` when not available or not read.
    pub value: Option<Value>,
    /// The value's unit.
    pub unit: Unit,
    /// When the response arrived (UTC).
    pub timestamp: DateTime<Utc>,
    /// Good or bad.
    pub quality: Quality,
}

impl Reading {
    /// The point name `device/service` used across the workspace.
    pub fn point(&self) -> String {
        format!("{}/{}", self.device, self.service)
    }
}
