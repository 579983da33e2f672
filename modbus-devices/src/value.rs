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
    /// The value as a number: a number as is, a bool as 0 or 1, flags as their bits;
    /// `None` for text.
    ///
    /// ```
    /// use modbus_devices::Value;
    ///
    /// assert_eq!(Value::Number(231.5).as_f64(), Some(231.5));
    /// assert_eq!(Value::Bool(true).as_f64(), Some(1.0));
    /// assert_eq!(Value::Text("ECR380D".into()).as_f64(), None);
    /// ```
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

/// A unit from the workspace's list of unit symbols (ARCHITECTURE.md, "Conventions").
///
/// [`Unit::symbol`] gives the symbol, `Display` prints it and `FromStr` parses it back; the
/// serde form is the symbol too.
///
/// ```
/// use modbus_devices::Unit;
///
/// assert_eq!(Unit::KWh.symbol(), "kWh");
/// assert_eq!(Unit::M3PerH.to_string(), "m3/h");
/// assert_eq!("degC".parse::<Unit>(), Ok(Unit::DegC));
/// assert_eq!("".parse::<Unit>(), Ok(Unit::None));
/// assert!("kwh".parse::<Unit>().is_err(), "symbols are case-sensitive");
/// ```
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
    /// Every unit, in declaration order.
    pub const ALL: [Unit; 29] = [
        Unit::Wh,
        Unit::KWh,
        Unit::MWh,
        Unit::J,
        Unit::GJ,
        Unit::W,
        Unit::KW,
        Unit::MW,
        Unit::Var,
        Unit::Kvar,
        Unit::VA,
        Unit::KVA,
        Unit::Varh,
        Unit::Kvarh,
        Unit::V,
        Unit::A,
        Unit::Hz,
        Unit::DegC,
        Unit::K,
        Unit::M3,
        Unit::M3PerH,
        Unit::LPerH,
        Unit::Kg,
        Unit::KgPerH,
        Unit::Bar,
        Unit::S,
        Unit::H,
        Unit::Percent,
        Unit::None,
    ];

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

impl std::str::FromStr for Unit {
    type Err = UnknownUnit;

    /// The unit of a symbol, exactly as [`Unit::symbol`] writes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Unit::ALL
            .into_iter()
            .find(|u| u.symbol() == s)
            .ok_or_else(|| UnknownUnit(s.to_string()))
    }
}

/// A symbol that is not in the workspace's list of unit symbols.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown unit symbol {0:?}")]
pub struct UnknownUnit(pub String);

/// What a reading is worth: the workspace's quality words (ARCHITECTURE.md, "Quality").
///
/// A reading has a value exactly when it is [`Quality::Good`]. The other three say why not:
/// the device said it has no value ([`Quality::NotAvailable`], communication is fine), no
/// usable answer came ([`Quality::NoAnswer`]), or an answer came that cannot be used
/// ([`Quality::Invalid`]). A caller passing readings on to `alarms` maps each word to the
/// variant of the same name.
///
/// ```
/// use modbus_devices::Quality;
///
/// assert!(Quality::Good.is_good());
/// assert!(!Quality::NotAvailable.is_good());
/// assert_eq!(Quality::NoAnswer.to_string(), "no_answer");
/// assert_eq!("not_available".parse::<Quality>(), Ok(Quality::NotAvailable));
/// assert_eq!(serde_json::to_string(&Quality::Invalid).unwrap(), r#""invalid""#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// A value was read and decoded.
    Good,
    /// The device answered and says it has no value: a "not available" sentinel or a NaN
    /// (e.g. L2 on a single-phase meter). Communication is fine.
    NotAvailable,
    /// Nothing usable arrived: a timeout, a connection or transport failure, a CRC error, or
    /// an answer that does not match the request (another unit, function or size), on
    /// every try; also a request skipped because the device did not answer an earlier one
    /// of the same poll.
    NoAnswer,
    /// The device answered but the value cannot be used: an exception answer, or words
    /// that do not decode (invalid BCD, a scale register out of range, fewer words than the
    /// value needs).
    Invalid,
}

impl Quality {
    /// Every quality, in declaration order.
    pub const ALL: [Quality; 4] = [
        Quality::Good,
        Quality::NotAvailable,
        Quality::NoAnswer,
        Quality::Invalid,
    ];

    /// Whether a value was read (the reading then has one).
    pub fn is_good(self) -> bool {
        self == Quality::Good
    }

    /// The word as in the serde form: `good`, `not_available`, `no_answer`, `invalid`.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Good => "good",
            Quality::NotAvailable => "not_available",
            Quality::NoAnswer => "no_answer",
            Quality::Invalid => "invalid",
        }
    }
}

impl std::fmt::Display for Quality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Quality {
    type Err = UnknownQuality;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quality::ALL
            .into_iter()
            .find(|q| q.as_str() == s)
            .ok_or_else(|| UnknownQuality(s.to_string()))
    }
}

/// A quality word that is not one of `good`, `not_available`, `no_answer`, `invalid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown quality {0:?} (expected good, not_available, no_answer or invalid)")]
pub struct UnknownQuality(pub String);

/// One reading of one service of one device: the poller's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Device instance name.
    pub device: String,
    /// Service id from the catalogue.
    pub service: String,
    /// The value: `Some` exactly when the quality is [`Quality::Good`].
    pub value: Option<Value>,
    /// The value's unit.
    pub unit: Unit,
    /// When the response arrived (UTC).
    pub timestamp: DateTime<Utc>,
    /// Good, or why there is no value.
    pub quality: Quality,
}

impl Reading {
    /// The point name `device/service` used across the workspace.
    pub fn point(&self) -> String {
        format!("{}/{}", self.device, self.service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_symbol_parses_back_and_matches_serde() {
        let mut seen = std::collections::BTreeSet::new();
        for u in Unit::ALL {
            assert!(seen.insert(u.symbol()), "{u:?}: symbol listed twice");
            assert_eq!(u.symbol().parse::<Unit>(), Ok(u));
            assert_eq!(u.to_string(), u.symbol());
            let json = serde_json::to_string(&u).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", u.symbol()), "{u:?}");
        }
        assert_eq!("W/m2".parse::<Unit>(), Err(UnknownUnit("W/m2".to_string())));
    }

    #[test]
    fn every_quality_word_parses_back_and_matches_serde() {
        for q in Quality::ALL {
            assert_eq!(q.as_str().parse::<Quality>(), Ok(q));
            let json = serde_json::to_string(&q).unwrap_or_default();
            assert_eq!(json, format!("\"{q}\""));
            assert_eq!(q.is_good(), q == Quality::Good);
        }
        assert!("bad".parse::<Quality>().is_err(), "the old word is gone");
    }
}
