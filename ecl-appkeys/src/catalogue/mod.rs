//! The application-key catalogue: keys, sub-types, controller models, circuit parameter
//! templates and the system PNU ranges every controller serves, as data.
//!
//! The built-in catalogue is a set of TOML files embedded in the crate
//! (`ecl-appkeys/data/*.toml`) and loaded through [`Catalogue::load_str`], the same path as
//! a user's file, so both are validated by the same code. Every fact carries a
//! [`Confidence`]; what is not known is not filled in (empty lists, `None`, and the
//! `unknowns` notes of keys and sub-types).
//!
//! ```
//! use ecl_appkeys::{Catalogue, KeyId};
//!
//! let catalogue = Catalogue::builtin()?;
//! let (key, subtype) = catalogue.lookup(&"A266.1".parse::<KeyId>()?).ok_or("no A266.1")?;
//! assert_eq!(key.name(), "A266");
//! assert_eq!(subtype.circuits.len(), 2);
//! assert_eq!(subtype.sensor(1).map(|s| s.meaning.as_str()), Some("outdoor temperature"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod file;
mod model;

pub use model::*;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The embedded data files: (name, text), in load order.
pub const BUILTIN_FILES: &[(&str, &str)] = &[
    (
        "controllers.toml",
        include_str!("../../data/controllers.toml"),
    ),
    ("system.toml", include_str!("../../data/system.toml")),
    (
        "parameters.toml",
        include_str!("../../data/parameters.toml"),
    ),
    ("keys.toml", include_str!("../../data/keys.toml")),
];

/// An application key with its sub-type, as installed: `A266.1` (prefix, type, sub-type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId {
    /// Prefix letter (`A`).
    pub prefix: char,
    /// Type number (`266`).
    pub number: u16,
    /// Sub-type (`1`).
    pub subtype: u16,
}

impl KeyId {
    /// `A266`, without the sub-type.
    pub fn key_name(&self) -> String {
        format!("{}{}", self.prefix, self.number)
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}.{}", self.prefix, self.number, self.subtype)
    }
}

impl std::str::FromStr for KeyId {
    type Err = Error;

    /// Parses `A266.1` (prefix letter, type number, `.`, sub-type number).
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidArgument {
            what: "application key",
            expected: "a prefix letter, a type number, '.', a sub-type number (A266.1)",
            found: format!("{s:?}"),
        };
        let t = s.trim();
        let mut chars = t.chars();
        let prefix = chars
            .next()
            .filter(char::is_ascii_uppercase)
            .ok_or_else(bad)?;
        let (number, subtype) = chars.as_str().split_once('.').ok_or_else(bad)?;
        let digits = |x: &str| {
            if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                x.parse::<u16>().ok()
            }
        };
        Ok(KeyId {
            prefix,
            number: digits(number).ok_or_else(bad)?,
            subtype: digits(subtype).ok_or_else(bad)?,
        })
    }
}

impl TryFrom<String> for KeyId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<KeyId> for String {
    fn from(k: KeyId) -> String {
        k.to_string()
    }
}

/// One key of the catalogue in a line: what `ecl keys --json` prints for it.
///
/// ```
/// use ecl_appkeys::Catalogue;
///
/// let catalogue = Catalogue::builtin()?;
/// let a266 = catalogue.summaries().into_iter().find(|k| k.key == "A266").ok_or("no A266")?;
/// assert_eq!(a266.subtypes, [1, 2, 9, 10]);
/// assert_eq!(a266.circuits, 2);
/// assert_eq!(serde_json::to_value(&a266)?["confidence"], "confirmed");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySummary {
    /// The key without sub-type (`A266`).
    pub key: String,
    /// The known sub-type numbers (`[1, 2, 9, 10]`).
    pub subtypes: Vec<u16>,
    /// The controller model ids it runs on (empty when not known).
    pub controllers: Vec<String>,
    /// The most circuits any known sub-type has (0 when no sub-type's circuits are known).
    pub circuits: usize,
    /// How sure it is that the key exists as listed.
    pub confidence: Confidence,
}

/// The catalogue: keys, controller models, parameter templates, system ranges.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    controllers: Vec<ControllerInfo>,
    served: Vec<ServedRange>,
    parameters: Vec<ParameterTemplate>,
    keys: Vec<AppKey>,
    /// key name (`A266`) -> origin file
    origin: BTreeMap<String, String>,
}

impl Catalogue {
    /// An empty catalogue.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in catalogue. It is tested to load, so an error here is a build defect,
    /// still reported rather than panicking.
    pub fn builtin() -> Result<Self, Error> {
        let mut c = Self::new();
        for (name, text) in BUILTIN_FILES {
            c.load_str(Path::new(&format!("<builtin>/{name}")), text)?;
        }
        Ok(c)
    }

    /// Load a data file's text; `file` names it in errors. All-or-nothing: on any error
    /// nothing is added. A key already in the catalogue is [`Error::DuplicateKey`]; a
    /// parameter template or controller with an existing id is an [`Error::InvalidFile`].
    pub fn load_str(&mut self, file: &Path, text: &str) -> Result<(), Error> {
        let known: BTreeSet<String> = self.controllers.iter().map(|c| c.id.clone()).collect();
        let parsed = file::parse(file, text, &known)?;
        let origin = file.display().to_string();
        let mut names = BTreeSet::new();
        for k in &parsed.keys {
            let name = k.name();
            if let Some(existing) = self.origin.get(&name) {
                return Err(Error::DuplicateKey {
                    file: file.to_path_buf(),
                    key: name,
                    existing: existing.clone(),
                });
            }
            if !names.insert(name.clone()) {
                return Err(Error::DuplicateKey {
                    file: file.to_path_buf(),
                    key: name,
                    existing: origin,
                });
            }
        }
        if let Some(t) = parsed
            .parameters
            .iter()
            .find(|t| self.parameters.iter().any(|p| p.id == t.id))
        {
            return Err(Error::InvalidFile {
                file: file.to_path_buf(),
                line: 1,
                column: 1,
                field: "parameter.id".into(),
                message: format!("parameter id {:?} is already defined by another file", t.id),
            });
        }
        for k in &parsed.keys {
            self.origin.insert(k.name(), origin.clone());
        }
        self.controllers.extend(parsed.controllers);
        self.served.extend(parsed.served);
        self.parameters.extend(parsed.parameters);
        self.keys.extend(parsed.keys);
        Ok(())
    }

    /// Load a user data file from disk.
    pub fn load_file(&mut self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            file: PathBuf::from(path),
            message: e.to_string(),
        })?;
        self.load_str(path, &text)
    }

    /// Every key, in load order.
    pub fn keys(&self) -> &[AppKey] {
        &self.keys
    }

    /// Every key in a line, in load order (see [`KeySummary`]).
    pub fn summaries(&self) -> Vec<KeySummary> {
        self.keys
            .iter()
            .map(|k| KeySummary {
                key: k.name(),
                subtypes: k.subtypes.iter().map(|s| s.number).collect(),
                controllers: k
                    .controllers
                    .as_ref()
                    .map(|f| f.value.clone())
                    .unwrap_or_default(),
                circuits: k
                    .subtypes
                    .iter()
                    .map(|s| s.circuits.len())
                    .max()
                    .unwrap_or(0),
                confidence: k.confidence,
            })
            .collect()
    }

    /// A key by prefix and type number.
    pub fn key(&self, prefix: char, number: u16) -> Option<&AppKey> {
        self.keys
            .iter()
            .find(|k| k.prefix == prefix && k.number == number)
    }

    /// The key and sub-type of an installed key id, when both are in the catalogue.
    pub fn lookup(&self, id: &KeyId) -> Option<(&AppKey, &SubType)> {
        let key = self.key(id.prefix, id.number)?;
        Some((key, key.subtype(id.subtype)?))
    }

    /// Every controller model.
    pub fn controllers(&self) -> &[ControllerInfo] {
        &self.controllers
    }

    /// A controller model by id (`ecl310`).
    pub fn controller(&self, id: &str) -> Option<&ControllerInfo> {
        self.controllers.iter().find(|c| c.id == id)
    }

    /// The controller model with this code number (PNU 19, the digits after `087H`).
    pub fn controller_by_code(&self, code: u16) -> Option<&ControllerInfo> {
        self.controllers
            .iter()
            .find(|c| c.code_numbers.iter().any(|n| n.value == code))
    }

    /// The circuit parameter templates.
    pub fn parameter_templates(&self) -> &[ParameterTemplate] {
        &self.parameters
    }

    /// The system PNU ranges every controller serves (identity, key, sensors, alarms, date
    /// and time, M-Bus where the model has it).
    pub fn system_served(&self) -> &[ServedRange] {
        &self.served
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_parse_and_print() {
        let k: KeyId = "A266.1".parse().unwrap_or(KeyId {
            prefix: 'Z',
            number: 0,
            subtype: 0,
        });
        assert_eq!((k.prefix, k.number, k.subtype), ('A', 266, 1));
        assert_eq!(k.to_string(), "A266.1");
        assert_eq!(k.key_name(), "A266");
        for bad in [
            "", "A266", "a266.1", "A.1", "A266.", "A26x.1", "A266.1.2", "A70000.1",
        ] {
            assert!(bad.parse::<KeyId>().is_err(), "{bad:?} parsed");
        }
    }
}
