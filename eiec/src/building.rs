//! Building types (application areas).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The four application areas of IEC 60364-8-1. Residential uses its own criteria set;
/// commercial, industrial and infrastructure share one (confirmed).
///
/// ```
/// use eiec::BuildingType;
/// let b: BuildingType = "industrial".parse()?;
/// assert_eq!(b, BuildingType::Industrial);
/// assert!(!b.is_residential());
/// # Ok::<(), eiec::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildingType {
    /// Dwellings, from single-family houses to large multi-family buildings.
    Residential,
    /// Offices, shops, museums, hospitals, hotels.
    Commercial,
    /// Workshops, production.
    Industrial,
    /// Stations, tunnels, airports.
    Infrastructure,
}

impl BuildingType {
    /// All four, in a fixed order.
    pub const ALL: [BuildingType; 4] = [
        BuildingType::Residential,
        BuildingType::Commercial,
        BuildingType::Industrial,
        BuildingType::Infrastructure,
    ];

    /// The lower-case name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildingType::Residential => "residential",
            BuildingType::Commercial => "commercial",
            BuildingType::Industrial => "industrial",
            BuildingType::Infrastructure => "infrastructure",
        }
    }

    /// Whether this is the residential type (which has its own criteria set).
    pub fn is_residential(self) -> bool {
        self == BuildingType::Residential
    }
}

impl fmt::Display for BuildingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BuildingType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let lower = s.trim().to_ascii_lowercase();
        BuildingType::ALL
            .into_iter()
            .find(|b| b.as_str() == lower)
            .ok_or_else(|| Error::UnknownBuildingType {
                found: s.to_string(),
            })
    }
}

/// Join building type names for messages: `commercial, industrial`.
pub(crate) fn join(types: &[BuildingType]) -> String {
    types
        .iter()
        .map(|b| b.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
