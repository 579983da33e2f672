//! Base units of decoded values.

use core::fmt;

use serde::{Deserialize, Serialize};

/// The base unit a decoded value is expressed in.
///
/// Every value is scaled to one of these, whatever the VIF's decimal exponent or time unit was:
/// energy in Wh (electrical and heat VIFs in Wh) or J (VIFs in J, GJ, MCal), volume in m3,
/// durations in seconds, and so on. The symbols are those of the workspace convention
/// (listed in the repository's ARCHITECTURE.md); [`Unit::None`] (`""`) is used for dimensionless values, for values the
/// convention has no symbol for (the quantity's documentation names their implied unit) and for
/// dates, text and manufacturer data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Unit {
    /// Watt-hour.
    #[serde(rename = "Wh")]
    WattHour,
    /// Joule.
    #[serde(rename = "J")]
    Joule,
    /// Cubic metre.
    #[serde(rename = "m3")]
    CubicMetre,
    /// Kilogram.
    #[serde(rename = "kg")]
    Kilogram,
    /// Watt.
    #[serde(rename = "W")]
    Watt,
    /// Joule per hour.
    #[serde(rename = "J/h")]
    JoulePerHour,
    /// Cubic metre per hour.
    #[serde(rename = "m3/h")]
    CubicMetrePerHour,
    /// Kilogram per hour.
    #[serde(rename = "kg/h")]
    KilogramPerHour,
    /// Degree Celsius.
    #[serde(rename = "degC")]
    Celsius,
    /// Kelvin (temperature differences).
    #[serde(rename = "K")]
    Kelvin,
    /// Bar.
    #[serde(rename = "bar")]
    Bar,
    /// Second (every duration).
    #[serde(rename = "s")]
    Second,
    /// Volt.
    #[serde(rename = "V")]
    Volt,
    /// Ampere.
    #[serde(rename = "A")]
    Ampere,
    /// Heat cost allocator units.
    #[serde(rename = "HCA")]
    Hca,
    /// No unit: dimensionless, a date, text or raw data.
    #[serde(rename = "")]
    None,
}

impl Unit {
    /// The unit's symbol (`"Wh"`, `"m3"`, `"degC"`, ... or `""`).
    pub const fn symbol(self) -> &'static str {
        match self {
            Unit::WattHour => "Wh",
            Unit::Joule => "J",
            Unit::CubicMetre => "m3",
            Unit::Kilogram => "kg",
            Unit::Watt => "W",
            Unit::JoulePerHour => "J/h",
            Unit::CubicMetrePerHour => "m3/h",
            Unit::KilogramPerHour => "kg/h",
            Unit::Celsius => "degC",
            Unit::Kelvin => "K",
            Unit::Bar => "bar",
            Unit::Second => "s",
            Unit::Volt => "V",
            Unit::Ampere => "A",
            Unit::Hca => "HCA",
            Unit::None => "",
        }
    }

    /// Every unit, in declaration order.
    pub const ALL: [Unit; 16] = [
        Unit::WattHour,
        Unit::Joule,
        Unit::CubicMetre,
        Unit::Kilogram,
        Unit::Watt,
        Unit::JoulePerHour,
        Unit::CubicMetrePerHour,
        Unit::KilogramPerHour,
        Unit::Celsius,
        Unit::Kelvin,
        Unit::Bar,
        Unit::Second,
        Unit::Volt,
        Unit::Ampere,
        Unit::Hca,
        Unit::None,
    ];
}

impl fmt::Display for Unit {
    /// The symbol, as [`Unit::symbol`] gives it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

impl core::str::FromStr for Unit {
    type Err = UnknownUnit;

    /// The unit of a symbol, exactly as [`Unit::symbol`] writes it.
    ///
    /// ```
    /// use mbus_meters::Unit;
    /// assert_eq!("m3/h".parse::<Unit>(), Ok(Unit::CubicMetrePerHour));
    /// assert_eq!(Unit::Celsius.to_string(), "degC");
    /// assert!("kWh".parse::<Unit>().is_err()); // values are in base units: Wh
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Unit::ALL
            .into_iter()
            .find(|u| u.symbol() == s)
            .ok_or_else(|| UnknownUnit(s.to_string()))
    }
}

/// A symbol that is not one of the [`Unit`] symbols.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown unit symbol {0:?}")]
pub struct UnknownUnit(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_symbol_parses_back_to_its_unit() {
        for u in Unit::ALL {
            assert_eq!(u.symbol().parse::<Unit>(), Ok(u));
            assert_eq!(u.to_string(), u.symbol());
        }
        assert_eq!("W h".parse::<Unit>(), Err(UnknownUnit("W h".into())));
    }
}
