//! Meter profiles: the records of known meters mapped to standard [`Channel`]s (heat energy,
//! volume, power, volume flow, flow and return temperature, temperature difference, error
//! flags, fabrication number, operating hours).
//!
//! Profiles are data: a TOML file (`src/profiles.toml`, embedded with `include_str!` and
//! loaded by [`ProfileSet::builtin`] through the same [`ProfileSet::from_toml`] as a user's
//! file) keyed by manufacturer, version and medium. Each built-in profile names the corpus
//! frame it was written from and claims only the channels that frame shows. A meter without a
//! profile gets the [generic mapping](ProfileSet::generic): for each channel the first
//! instantaneous record of storage 0, tariff 0, subunit 0 and no combinable VIFE with the
//! channel's quantity (heat energy only for the heat media 0x04, 0x0C and 0x0D).
//!
//! Values are in the record's base unit (Wh, m3, W, m3/h, degC, K), except operating hours,
//! which are converted from seconds to hours (`h`).
//!
//! ```
//! use mbus_meters::profile::{Channel, ProfileSet};
//!
//! let profiles = ProfileSet::builtin()?;
//! let hex = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"),
//!     "/tests/corpus/libmbus/test-frames/engelmann_sensostar2c.hex")).unwrap();
//! let frame = mbus_meters::decode(&mbus_meters::hex::parse_hex(&hex)?)?;
//! let mapped = profiles.map(&frame);
//! assert_eq!(mapped.profile.as_deref(), Some("Engelmann SensoStar 2C"));
//! let energy = mapped.get(Channel::HeatEnergy).unwrap();
//! assert_eq!((energy.value, energy.unit), (800_000.0, "Wh"));
//! # Ok::<(), mbus_meters::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::owned::{OwnedFrame, OwnedRecord, OwnedValue};
use crate::toml_file::Source;
use crate::{Error, Function, Manufacturer, Quantity};

/// The built-in profiles (TOML).
pub const BUILTIN_TOML: &str = include_str!("profiles.toml");

/// A standard channel of a heat (or water) meter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Channel {
    /// Heat energy (Wh).
    HeatEnergy,
    /// Volume (m3).
    Volume,
    /// Power (W).
    Power,
    /// Volume flow (m3/h).
    VolumeFlow,
    /// Flow temperature (degC).
    FlowTemperature,
    /// Return temperature (degC).
    ReturnTemperature,
    /// Temperature difference (K).
    TemperatureDifference,
    /// Error flags (the meter's error bit field, as a number).
    ErrorFlags,
    /// Fabrication number.
    FabricationNumber,
    /// Operating hours (h).
    OperatingHours,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 10] = [
        Channel::HeatEnergy,
        Channel::Volume,
        Channel::Power,
        Channel::VolumeFlow,
        Channel::FlowTemperature,
        Channel::ReturnTemperature,
        Channel::TemperatureDifference,
        Channel::ErrorFlags,
        Channel::FabricationNumber,
        Channel::OperatingHours,
    ];

    /// The stable snake_case name (the service id of the point `device/service`).
    pub const fn name(self) -> &'static str {
        match self {
            Channel::HeatEnergy => "heat_energy",
            Channel::Volume => "volume",
            Channel::Power => "power",
            Channel::VolumeFlow => "volume_flow",
            Channel::FlowTemperature => "flow_temperature",
            Channel::ReturnTemperature => "return_temperature",
            Channel::TemperatureDifference => "temperature_difference",
            Channel::ErrorFlags => "error_flags",
            Channel::FabricationNumber => "fabrication_number",
            Channel::OperatingHours => "operating_hours",
        }
    }

    /// The quantity the generic mapping takes for this channel.
    pub const fn generic_quantity(self) -> Quantity {
        match self {
            Channel::HeatEnergy => Quantity::Energy,
            Channel::Volume => Quantity::Volume,
            Channel::Power => Quantity::Power,
            Channel::VolumeFlow => Quantity::VolumeFlow,
            Channel::FlowTemperature => Quantity::FlowTemperature,
            Channel::ReturnTemperature => Quantity::ReturnTemperature,
            Channel::TemperatureDifference => Quantity::TemperatureDifference,
            Channel::ErrorFlags => Quantity::ErrorFlags,
            Channel::FabricationNumber => Quantity::FabricationNumber,
            Channel::OperatingHours => Quantity::OperatingTime,
        }
    }
}

/// Which record feeds a channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// The record's quantity (a [`Quantity`] name).
    pub quantity: String,
    /// The record's function (a [`Function`] name; default "instantaneous").
    #[serde(default = "instantaneous")]
    pub function: String,
    /// Storage number.
    #[serde(default)]
    pub storage: u64,
    /// Tariff.
    #[serde(default)]
    pub tariff: u32,
    /// Subunit.
    #[serde(default)]
    pub subunit: u16,
    /// The record's combinable VIFE names, exactly (default: none).
    #[serde(default)]
    pub modifiers: Vec<String>,
    /// The exact DIB and VIB bytes (hex, spaced as in the decode JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dif_vif: Option<String>,
}

fn instantaneous() -> String {
    "instantaneous".into()
}

impl Selector {
    /// The generic selector for a quantity.
    pub fn generic(quantity: Quantity) -> Selector {
        Selector {
            quantity: quantity.name().into(),
            function: instantaneous(),
            storage: 0,
            tariff: 0,
            subunit: 0,
            modifiers: Vec::new(),
            dif_vif: None,
        }
    }

    /// Whether the record is the one this selector picks.
    pub fn matches(&self, r: &OwnedRecord) -> bool {
        r.quantity.name() == self.quantity
            && r.function.name() == self.function
            && r.storage == self.storage
            && r.tariff == self.tariff
            && r.subunit == self.subunit
            && r.modifiers == self.modifiers
            && self
                .dif_vif
                .as_deref()
                .is_none_or(|d| d.eq_ignore_ascii_case(&r.dif_vif))
    }
}

/// The profile of one meter type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Product name.
    pub name: String,
    /// Manufacturer (three letters).
    pub manufacturer: String,
    /// Version field of the header.
    pub version: u8,
    /// Medium code of the header.
    pub medium: u8,
    /// The frame or document the profile was written from.
    pub source: String,
    /// The channels the meter sends.
    pub channels: BTreeMap<Channel, Selector>,
}

/// A profile file as written, with the positions of the values the loader checks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    profile: Vec<ProfileSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileSpec {
    name: String,
    manufacturer: Spanned<String>,
    version: u8,
    medium: u8,
    source: String,
    // keyed by name, not by `Channel`: the field path of an error inside an entry names the
    // channel only for string keys
    channels: BTreeMap<String, Spanned<SelectorSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SelectorSpec {
    quantity: Spanned<String>,
    function: Option<Spanned<String>>,
    #[serde(default)]
    storage: u64,
    #[serde(default)]
    tariff: u32,
    #[serde(default)]
    subunit: u16,
    #[serde(default)]
    modifiers: Vec<String>,
    dif_vif: Option<String>,
}

/// The functions a selector may name.
const FUNCTIONS: [Function; 4] = [
    Function::Instantaneous,
    Function::Maximum,
    Function::Minimum,
    Function::Error,
];

impl SelectorSpec {
    /// Checks the quantity and function names of `profile[i].channels.<channel>`.
    fn resolve(self, src: &Source<'_>, at: &str) -> Result<Selector, Error> {
        if Quantity::from_name(self.quantity.get_ref()).is_none() {
            return Err(src
                .at(
                    self.quantity.span(),
                    format!("{at}.quantity"),
                    format!(
                        "expected a quantity name, found {:?}",
                        self.quantity.get_ref()
                    ),
                )
                .into());
        }
        let function = match self.function {
            None => instantaneous(),
            Some(f) if FUNCTIONS.iter().any(|g| g.name() == f.get_ref()) => f.into_inner(),
            Some(f) => {
                return Err(src
                    .at(
                        f.span(),
                        format!("{at}.function"),
                        format!(
                            "expected instantaneous, maximum, minimum or error, found {:?}",
                            f.get_ref()
                        ),
                    )
                    .into());
            }
        };
        Ok(Selector {
            quantity: self.quantity.into_inner(),
            function,
            storage: self.storage,
            tariff: self.tariff,
            subunit: self.subunit,
            modifiers: self.modifiers,
            dif_vif: self.dif_vif,
        })
    }
}

impl ProfileSpec {
    /// Checks `profile[i]` and gives the profile.
    fn resolve(self, src: &Source<'_>, i: usize) -> Result<Profile, Error> {
        let at = format!("profile[{i}]");
        if Manufacturer::from_letters(self.manufacturer.get_ref()).is_err() {
            return Err(src
                .at(
                    self.manufacturer.span(),
                    format!("{at}.manufacturer"),
                    format!(
                        "expected three letters A-Z, found {:?}",
                        self.manufacturer.get_ref()
                    ),
                )
                .into());
        }
        let mut channels = BTreeMap::new();
        for (name, selector) in self.channels {
            let at = format!("{at}.channels.{name}");
            let Some(channel) = Channel::ALL.into_iter().find(|c| c.name() == name) else {
                let names: Vec<&str> = Channel::ALL.iter().map(|c| c.name()).collect();
                return Err(src
                    .at(
                        selector.span(),
                        at,
                        format!(
                            "expected a channel name ({}), found {name:?}",
                            names.join(", ")
                        ),
                    )
                    .into());
            };
            channels.insert(channel, selector.into_inner().resolve(src, &at)?);
        }
        Ok(Profile {
            name: self.name,
            manufacturer: self.manufacturer.into_inner(),
            version: self.version,
            medium: self.medium,
            source: self.source,
            channels,
        })
    }
}

/// One mapped channel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChannelValue {
    /// The channel.
    pub channel: Channel,
    /// The value in `unit`.
    pub value: f64,
    /// The unit symbol (`Wh`, `m3`, `W`, `m3/h`, `degC`, `K`, `h`, or `""`).
    pub unit: &'static str,
    /// Index of the record in the frame's records.
    pub record: usize,
}

/// The channels of one frame.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Mapped {
    /// The profile used (None: the generic mapping).
    pub profile: Option<String>,
    /// The channels found, in [`Channel`] order.
    pub channels: Vec<ChannelValue>,
}

impl Mapped {
    /// The value of a channel, if mapped.
    pub fn get(&self, channel: Channel) -> Option<&ChannelValue> {
        self.channels.iter().find(|c| c.channel == channel)
    }
}

/// A set of profiles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileSet {
    /// The profiles.
    pub profiles: Vec<Profile>,
}

impl ProfileSet {
    /// The built-in profiles (named `<builtin>/profiles.toml` in errors).
    pub fn builtin() -> Result<ProfileSet, Error> {
        ProfileSet::from_toml("<builtin>/profiles.toml", BUILTIN_TOML)
    }

    /// Profiles from TOML text; `file` names it in errors. Checks every manufacturer,
    /// quantity and function name, and that no two profiles share a key; a file that fails
    /// is [`Error::InvalidFile`] with its line, column (in characters) and field.
    ///
    /// ```
    /// use mbus_meters::profile::ProfileSet;
    /// let text = "[[profile]]\nname = \"Zähler\"\nmanufacturer = \"L1G\"\nversion = 7\n\
    ///             medium = 4\nsource = \"survey\"\nchannels.volume = { quantity = \"volume\" }\n";
    /// let err = ProfileSet::from_toml("site.toml", text).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "site.toml:3:16: profile[0].manufacturer: expected three letters A-Z, found \"L1G\""
    /// );
    /// ```
    pub fn from_toml(file: impl AsRef<Path>, text: &str) -> Result<ProfileSet, Error> {
        let src = Source::new(file.as_ref(), text);
        let parsed: ProfileFile = src.parse()?;
        let mut profiles: Vec<Profile> = Vec::with_capacity(parsed.profile.len());
        for (i, spec) in parsed.profile.into_iter().enumerate() {
            let span = spec.manufacturer.span();
            let p = spec.resolve(&src, i)?;
            if profiles.iter().any(|q| {
                q.manufacturer == p.manufacturer && q.version == p.version && q.medium == p.medium
            }) {
                return Err(src
                    .at(
                        span,
                        format!("profile[{i}]"),
                        format!(
                            "expected one profile per manufacturer, version and medium, found a second for {} {} {}",
                            p.manufacturer, p.version, p.medium
                        ),
                    )
                    .into());
            }
            profiles.push(p);
        }
        Ok(ProfileSet { profiles })
    }

    /// Adds (or, for the same key, replaces) the profiles of `other`.
    pub fn extend(&mut self, other: ProfileSet) {
        for p in other.profiles {
            self.profiles.retain(|q| {
                !(q.manufacturer == p.manufacturer
                    && q.version == p.version
                    && q.medium == p.medium)
            });
            self.profiles.push(p);
        }
    }

    /// The profile for a manufacturer, version and medium.
    pub fn find(&self, manufacturer: &str, version: u8, medium: u8) -> Option<&Profile> {
        self.profiles
            .iter()
            .find(|p| p.manufacturer == manufacturer && p.version == version && p.medium == medium)
    }

    /// The generic selectors for a medium.
    pub fn generic(medium: Option<u8>) -> BTreeMap<Channel, Selector> {
        let heat = matches!(medium, Some(0x04 | 0x0C | 0x0D));
        Channel::ALL
            .into_iter()
            .filter(|c| heat || *c != Channel::HeatEnergy)
            .map(|c| (c, Selector::generic(c.generic_quantity())))
            .collect()
    }

    /// Maps a decoded frame: its profile if there is one, else the generic mapping.
    pub fn map(&self, frame: &OwnedFrame) -> Mapped {
        let header = frame.header.as_ref();
        let profile =
            header.and_then(|h| self.find(h.manufacturer.as_deref()?, h.version?, h.medium?));
        let generic;
        let (name, selectors) = match profile {
            Some(p) => (Some(p.name.clone()), &p.channels),
            None => {
                generic = ProfileSet::generic(header.and_then(|h| h.medium));
                (None, &generic)
            }
        };
        let channels = selectors
            .iter()
            .filter_map(|(&channel, s)| {
                let (i, r) = frame
                    .records
                    .iter()
                    .enumerate()
                    .find(|(_, r)| s.matches(r))?;
                let OwnedValue::Number(v) = r.value else {
                    return None;
                };
                let (value, unit) = if channel == Channel::OperatingHours && r.unit.symbol() == "s"
                {
                    (v / 3600.0, "h")
                } else {
                    (v, r.unit.symbol())
                };
                Some(ChannelValue {
                    channel,
                    value,
                    unit,
                    record: i,
                })
            })
            .collect();
        Mapped {
            profile: name,
            channels,
        }
    }
}
