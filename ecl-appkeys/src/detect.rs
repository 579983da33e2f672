//! Detection: which controller and which application key, from raw register values.
//!
//! [`detect`] is a pure function of the identity registers (PNU 8, 19, 34-37, 2099) and the
//! key registers (PNU 2060-2063, or `None` when they could not be read): it returns the
//! decoded identity, the controller model, the key with its sub-type and version and the
//! matching catalogue entry, or "unknown key" with the raw values. For controllers whose
//! application is not detected (older models, the Leanheat rule), [`commissioned`] takes
//! the application named at commissioning instead.
//!
//! ```
//! use ecl_appkeys::{Catalogue, detect::{detect, KeyMatch}, system::RawIdentity};
//!
//! let catalogue = Catalogue::builtin()?;
//! let identity = RawIdentity { code: 3040, software: 0x0138, ..RawIdentity::default() };
//! let d = detect(&catalogue, &identity, Some([65, 266, 1, 0x0108]));
//! assert_eq!(d.model.map(|m| m.id.as_str()), Some("ecl310"));
//! assert!(matches!(d.key, KeyMatch::Known { .. }));
//! assert_eq!(d.key_id().map(|k| k.to_string()).as_deref(), Some("A266.1"));
//! assert_eq!(d.key_version.map(|v| v.to_string()).as_deref(), Some("1.08"));
//!
//! let unknown = detect(&catalogue, &identity, Some([65, 999, 1, 0x0100]));
//! assert!(matches!(unknown.key, KeyMatch::Unknown { raw: Some(_) }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::Serialize;

use crate::catalogue::{AppKey, Catalogue, ControllerInfo, KeyId, SubType};
use crate::controller::Controller;
use crate::error::Error;
use crate::firmware::{Version, Versions};
use crate::system::{Identity, RawIdentity};

/// The raw key registers, PNU 2060-2063.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RawKey {
    /// PNU 2060: prefix character code.
    pub prefix: u16,
    /// PNU 2061: type number.
    pub number: u16,
    /// PNU 2062: sub-type.
    pub subtype: u16,
    /// PNU 2063: version (high byte major, low byte minor).
    pub version: u16,
}

impl RawKey {
    /// From the four registers 2060-2063 in order.
    pub fn from_registers(raw: [u16; 4]) -> Self {
        let [prefix, number, subtype, version] = raw;
        RawKey {
            prefix,
            number,
            subtype,
            version,
        }
    }

    /// The key id, when the prefix is an upper-case letter and the type is not 0.
    pub fn key_id(&self) -> Option<KeyId> {
        let prefix = u8::try_from(self.prefix)
            .ok()
            .map(char::from)
            .filter(char::is_ascii_uppercase)?;
        (self.number != 0).then_some(KeyId {
            prefix,
            number: self.number,
            subtype: self.subtype,
        })
    }
}

/// How the application became known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectionSource {
    /// Read from the key registers.
    Read,
    /// Named at commissioning.
    Commissioned,
}

/// The key found, against the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "match", rename_all = "snake_case")]
pub enum KeyMatch<'c> {
    /// Key and sub-type are in the catalogue.
    Known {
        /// The key.
        key: KeyId,
        /// Its catalogue entry.
        #[serde(skip)]
        app: &'c AppKey,
        /// The sub-type's entry.
        #[serde(skip)]
        subtype: &'c SubType,
    },
    /// The key is in the catalogue, the sub-type is not.
    UnknownSubtype {
        /// The key.
        key: KeyId,
        /// Its catalogue entry.
        #[serde(skip)]
        app: &'c AppKey,
    },
    /// Unknown key: not in the catalogue, not a valid key, or not read (`raw` is `None`).
    Unknown {
        /// The raw key registers, when read.
        raw: Option<RawKey>,
    },
}

/// What detection found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection<'c> {
    /// The decoded identity, when read.
    pub identity: Option<Identity>,
    /// The controller model, when the code number is in the catalogue.
    #[serde(skip)]
    pub model: Option<&'c ControllerInfo>,
    /// The key against the catalogue.
    pub key: KeyMatch<'c>,
    /// The key version (PNU 2063), when read.
    pub key_version: Option<Version>,
    /// How the application became known.
    pub source: DetectionSource,
}

/// Detect from raw values: `identity` (PNU 8, 19, 34-37, 2099) and the key registers
/// (PNU 2060-2063; `None` when they could not be read).
pub fn detect<'c>(
    catalogue: &'c Catalogue,
    identity: &RawIdentity,
    key: Option<[u16; 4]>,
) -> Detection<'c> {
    let raw = key.map(RawKey::from_registers);
    Detection {
        identity: Some(identity.decode()),
        model: catalogue.controller_by_code(identity.code),
        key: match_key(catalogue, raw),
        key_version: raw.map(|r| Version::from_raw(r.version)),
        source: DetectionSource::Read,
    }
}

/// The application named at commissioning (`A266.1`), for a controller whose key is not
/// detected; `identity` when it could be read, `model` a catalogue controller id when known.
pub fn commissioned<'c>(
    catalogue: &'c Catalogue,
    identity: Option<&RawIdentity>,
    model: Option<&str>,
    application: &str,
) -> Result<Detection<'c>, Error> {
    let id: KeyId = application.parse()?;
    let key = match catalogue.key(id.prefix, id.number) {
        Some(app) => match app.subtype(id.subtype) {
            Some(subtype) => KeyMatch::Known {
                key: id,
                app,
                subtype,
            },
            None => KeyMatch::UnknownSubtype { key: id, app },
        },
        None => {
            return Err(Error::InvalidArgument {
                what: "commissioned application",
                expected: "a key of the catalogue",
                found: application.to_string(),
            });
        }
    };
    let model = match model {
        Some(m) => Some(
            catalogue
                .controller(m)
                .ok_or_else(|| Error::InvalidArgument {
                    what: "controller model",
                    expected: "a controller id of the catalogue",
                    found: m.to_string(),
                })?,
        ),
        None => identity.and_then(|i| catalogue.controller_by_code(i.code)),
    };
    Ok(Detection {
        identity: identity.map(RawIdentity::decode),
        model,
        key,
        key_version: None,
        source: DetectionSource::Commissioned,
    })
}

fn match_key(catalogue: &Catalogue, raw: Option<RawKey>) -> KeyMatch<'_> {
    let Some(id) = raw.and_then(|r| r.key_id()) else {
        return KeyMatch::Unknown { raw };
    };
    match catalogue.key(id.prefix, id.number) {
        Some(app) => match app.subtype(id.subtype) {
            Some(subtype) => KeyMatch::Known {
                key: id,
                app,
                subtype,
            },
            None => KeyMatch::UnknownSubtype { key: id, app },
        },
        None => KeyMatch::Unknown { raw },
    }
}

impl Detection<'_> {
    /// The key id, when the key was read or named (also for a sub-type the catalogue does
    /// not know).
    pub fn key_id(&self) -> Option<KeyId> {
        match &self.key {
            KeyMatch::Known { key, .. } | KeyMatch::UnknownSubtype { key, .. } => Some(*key),
            KeyMatch::Unknown { raw } => raw.and_then(|r| r.key_id()),
        }
    }

    /// The versions the firmware rules check (controller and key software).
    pub fn versions(&self) -> Versions {
        Versions {
            controller: self.identity.as_ref().map(|i| i.software),
            key: self.key_version,
            ..Versions::default()
        }
    }

    /// The controller with its register map: the full map for a known key and sub-type,
    /// otherwise the system ranges only.
    pub fn controller(&self, catalogue: &Catalogue) -> Result<Controller, Error> {
        let model = self.model.map(|m| m.id.as_str());
        match &self.key {
            KeyMatch::Known { key, .. } => Controller::new(catalogue, *key, model),
            _ => Controller::unknown_application(catalogue, model),
        }
    }
}
