//! Engineering units: the workspace unit symbols and their UNECE Recommendation 20 common
//! codes, which OPC UA carries in `EUInformation` (namespace
//! [`UNECE_NAMESPACE_URI`], `unitId` from [`Unit::unece_unit_id`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The `namespaceUri` of `EUInformation` for UNECE codes (OPC UA Part 8, 5.6.3).
pub const UNECE_NAMESPACE_URI: &str = "http://www.opcfoundation.org/UA/units/un/cefact";

/// A unit symbol of the workspace (`ARCHITECTURE.md`, "Unit symbols"), serialised and
/// parsed as that symbol.
///
/// ```
/// use opcua_bridge::Unit;
///
/// let u: Unit = "kWh".parse()?;
/// assert_eq!(u, Unit::KWh);
/// assert_eq!(u.unece_code(), Some("KWH"));
/// assert_eq!(u.unece_unit_id(), 4_937_544);  // 'K' << 16 | 'W' << 8 | 'H'
/// assert_eq!(Unit::DegC.display_name(), "°C");
/// assert_eq!(serde_json::to_string(&Unit::M3PerH)?, r#""m3/h""#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Unit {
    /// watt hour
    Wh,
    /// kilowatt hour
    KWh,
    /// megawatt hour
    MWh,
    /// joule
    J,
    /// gigajoule
    GJ,
    /// watt
    W,
    /// kilowatt
    KW,
    /// megawatt
    MW,
    /// var (reactive power)
    Var,
    /// kilovar
    KVar,
    /// volt ampere (apparent power)
    VA,
    /// kilovolt ampere
    KVA,
    /// var hour (reactive energy)
    Varh,
    /// kilovar hour
    KVarh,
    /// volt
    V,
    /// ampere
    A,
    /// hertz
    Hz,
    /// degree Celsius
    DegC,
    /// kelvin
    K,
    /// cubic metre
    M3,
    /// cubic metre per hour
    M3PerH,
    /// litre per hour
    LPerH,
    /// kilogram
    Kg,
    /// kilogram per hour
    KgPerH,
    /// bar
    Bar,
    /// second
    S,
    /// hour
    H,
    /// percent
    Percent,
    /// dimensionless (symbol `""`)
    None,
}

/// A unit symbol that is not one of the workspace's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown unit symbol {0:?} (known: {known})", known = Unit::known_symbols())]
pub struct UnknownUnit(pub String);

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
        Unit::KVar,
        Unit::VA,
        Unit::KVA,
        Unit::Varh,
        Unit::KVarh,
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

    /// The workspace symbol (`kWh`, `degC`, `m3/h`, `""` for dimensionless).
    pub fn symbol(self) -> &'static str {
        self.facts().0
    }

    /// The UNECE Recommendation 20 common code, or `None` where the recommendation has
    /// none (`varh`) or the value is dimensionless.
    pub fn unece_code(self) -> Option<&'static str> {
        self.facts().1
    }

    /// The `EUInformation.unitId`: the common code's ASCII bytes packed big-endian (OPC UA
    /// Part 8, 5.6.3); `-1` when there is no code.
    pub fn unece_unit_id(self) -> i32 {
        match self.unece_code() {
            Some(code) => code.bytes().fold(0_i32, |id, b| (id << 8) | i32::from(b)),
            None => -1,
        }
    }

    /// The `EUInformation.displayName`: the printed symbol (`°C`, `m³/h`).
    pub fn display_name(self) -> &'static str {
        self.facts().2
    }

    /// The `EUInformation.description`: the unit's name in words.
    pub fn description(self) -> &'static str {
        self.facts().3
    }

    /// (symbol, UNECE code, display name, description)
    fn facts(
        self,
    ) -> (
        &'static str,
        Option<&'static str>,
        &'static str,
        &'static str,
    ) {
        match self {
            Unit::Wh => ("Wh", Some("WHR"), "Wh", "watt hour"),
            Unit::KWh => ("kWh", Some("KWH"), "kWh", "kilowatt hour"),
            Unit::MWh => ("MWh", Some("MWH"), "MWh", "megawatt hour"),
            Unit::J => ("J", Some("JOU"), "J", "joule"),
            Unit::GJ => ("GJ", Some("GV"), "GJ", "gigajoule"),
            Unit::W => ("W", Some("WTT"), "W", "watt"),
            Unit::KW => ("kW", Some("KWT"), "kW", "kilowatt"),
            Unit::MW => ("MW", Some("MAW"), "MW", "megawatt"),
            Unit::Var => ("var", Some("D44"), "var", "var"),
            Unit::KVar => ("kvar", Some("KVR"), "kvar", "kilovar"),
            Unit::VA => ("VA", Some("D46"), "VA", "volt - ampere"),
            Unit::KVA => ("kVA", Some("KVA"), "kVA", "kilovolt - ampere"),
            Unit::Varh => ("varh", None, "varh", "var hour"),
            Unit::KVarh => (
                "kvarh",
                Some("K3"),
                "kvarh",
                "kilovolt ampere (reactive) hour",
            ),
            Unit::V => ("V", Some("VLT"), "V", "volt"),
            Unit::A => ("A", Some("AMP"), "A", "ampere"),
            Unit::Hz => ("Hz", Some("HTZ"), "Hz", "hertz"),
            Unit::DegC => ("degC", Some("CEL"), "°C", "degree Celsius"),
            Unit::K => ("K", Some("KEL"), "K", "kelvin"),
            Unit::M3 => ("m3", Some("MTQ"), "m³", "cubic metre"),
            Unit::M3PerH => ("m3/h", Some("MQH"), "m³/h", "cubic metre per hour"),
            Unit::LPerH => ("l/h", Some("E32"), "l/h", "litre per hour"),
            Unit::Kg => ("kg", Some("KGM"), "kg", "kilogram"),
            Unit::KgPerH => ("kg/h", Some("E93"), "kg/h", "kilogram per hour"),
            Unit::Bar => ("bar", Some("BAR"), "bar", "bar [unit of pressure]"),
            Unit::S => ("s", Some("SEC"), "s", "second [unit of time]"),
            Unit::H => ("h", Some("HUR"), "h", "hour"),
            Unit::Percent => ("%", Some("P1"), "%", "percent"),
            Unit::None => ("", None, "", "dimensionless"),
        }
    }

    fn known_symbols() -> String {
        Unit::ALL
            .iter()
            .map(|u| format!("{:?}", u.symbol()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

impl FromStr for Unit {
    type Err = UnknownUnit;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Unit::ALL
            .into_iter()
            .find(|u| u.symbol() == s)
            .ok_or_else(|| UnknownUnit(s.to_owned()))
    }
}

impl TryFrom<String> for Unit {
    type Error = UnknownUnit;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Unit> for String {
    fn from(u: Unit) -> String {
        u.symbol().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_symbol_round_trips() {
        for u in Unit::ALL {
            assert_eq!(u.symbol().parse::<Unit>(), Ok(u), "{u:?}");
            assert_eq!(u.to_string(), u.symbol());
        }
        assert!("kwh".parse::<Unit>().is_err());
    }

    #[test]
    fn unit_ids_pack_the_code() {
        assert_eq!(Unit::DegC.unece_unit_id(), 4_408_652); // "CEL", OPC UA Part 8 example
        assert_eq!(
            Unit::GJ.unece_unit_id(),
            i32::from(b'G') << 8 | i32::from(b'V')
        );
        assert_eq!(Unit::Varh.unece_unit_id(), -1);
        assert_eq!(Unit::None.unece_unit_id(), -1);
    }

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<_> = Unit::ALL.iter().filter_map(|u| u.unece_code()).collect();
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n);
    }

    #[test]
    fn serde_uses_the_symbol() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::to_string(&Unit::DegC)?, r#""degC""#);
        assert_eq!(serde_json::from_str::<Unit>(r#""m3/h""#)?, Unit::M3PerH);
        assert!(serde_json::from_str::<Unit>(r#""furlong""#).is_err());
        Ok(())
    }
}
