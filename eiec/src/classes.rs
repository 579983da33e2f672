//! Efficiency classes and the tables that map points to them.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use toml::Spanned;

use crate::building::{self, BuildingType};
use crate::source;
use crate::toml_file::Source;
use crate::{Confidence, Error};

/// The built-in class-table file, embedded at compile time.
pub const BUILTIN_CLASSES: &str = include_str!("../data/classes.toml");

/// An efficiency class, `EIEC0` (lowest) upwards.
///
/// ```
/// use eiec::Class;
/// let c: Class = "EIEC3".parse()?;
/// assert_eq!(c.index(), 3);
/// assert_eq!(c.to_string(), "EIEC3");
/// # Ok::<(), eiec::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Class(u8);

impl Class {
    /// The class with this number.
    pub fn new(index: u8) -> Self {
        Class(index)
    }

    /// The class number (3 for `EIEC3`).
    pub fn index(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EIEC{}", self.0)
    }
}

impl FromStr for Class {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        let digits = t
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("EIEC"))
            .and_then(|_| t.get(4..))
            .unwrap_or("");
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidClass {
                found: s.to_string(),
            });
        }
        digits
            .parse::<u8>()
            .map(Class)
            .map_err(|_| Error::InvalidClass {
                found: s.to_string(),
            })
    }
}

impl Serialize for Class {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Class {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Five or six classes: the sources disagree (German 2015 text: five; Italian CEI 64-8 Part
/// 8.1 and the vendor's boundaries read literally: six). Six is the default.
///
/// ```
/// use eiec::ClassScale;
/// assert_eq!(ClassScale::default().count(), 6);
/// assert_eq!(ClassScale::try_from(5)?, ClassScale::Five);
/// # Ok::<(), eiec::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum ClassScale {
    /// EIEC0..EIEC4.
    Five,
    /// EIEC0..EIEC5.
    #[default]
    Six,
}

impl ClassScale {
    /// The number of classes.
    pub fn count(self) -> u8 {
        match self {
            ClassScale::Five => 5,
            ClassScale::Six => 6,
        }
    }
}

impl TryFrom<u8> for ClassScale {
    type Error = Error;

    fn try_from(n: u8) -> Result<Self, Error> {
        match n {
            5 => Ok(ClassScale::Five),
            6 => Ok(ClassScale::Six),
            other => Err(Error::InvalidClassCount {
                found: u64::from(other),
            }),
        }
    }
}

impl From<ClassScale> for u8 {
    fn from(s: ClassScale) -> u8 {
        s.count()
    }
}

/// One points-to-class table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassTable {
    /// Identifier (e.g. `vendor-six-band`).
    pub id: String,
    /// Edition id.
    pub edition: String,
    /// Building types the table applies to.
    pub building_types: Vec<BuildingType>,
    /// `lower_bounds[n]` is the least total reaching class `n`; `lower_bounds[0]` is 0.
    pub lower_bounds: Vec<u32>,
    /// How sure the numbers are.
    pub confidence: Confidence,
    /// Free text on where the numbers come from.
    pub note: String,
    /// The class expected for the building types, when the data knows it.
    pub expected_class: Option<Class>,
}

impl ClassTable {
    /// The number of classes.
    pub fn scale(&self) -> ClassScale {
        if self.lower_bounds.len() == 5 {
            ClassScale::Five
        } else {
            ClassScale::Six
        }
    }

    /// The class of a total: the highest class whose lower bound the total reaches.
    ///
    /// ```
    /// let tables = eiec::ClassTables::builtin()?;
    /// let t = tables.table_for("2014", eiec::BuildingType::Commercial, eiec::ClassScale::Six)?;
    /// assert_eq!(t.class_for(15).to_string(), "EIEC0");
    /// assert_eq!(t.class_for(16).to_string(), "EIEC1");
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn class_for(&self, total: u32) -> Class {
        let n = self
            .lower_bounds
            .iter()
            .rposition(|&b| total >= b)
            .unwrap_or(0);
        Class(u8::try_from(n).unwrap_or(u8::MAX))
    }

    /// The least total of a class, if the table has the class.
    pub fn lower_bound(&self, class: Class) -> Option<u32> {
        self.lower_bounds.get(usize::from(class.0)).copied()
    }

    /// The class above `class` and its lower bound, if any.
    pub fn next(&self, class: Class) -> Option<(Class, u32)> {
        let n = class.0.checked_add(1)?;
        self.lower_bound(Class(n)).map(|b| (Class(n), b))
    }

    /// The highest class of the table.
    pub fn top(&self) -> Class {
        Class(u8::try_from(self.lower_bounds.len().saturating_sub(1)).unwrap_or(u8::MAX))
    }
}

/// Class tables keyed by edition, building type and number of classes.
///
/// ```
/// use eiec::{BuildingType, ClassScale, ClassTables, Confidence};
/// let tables = ClassTables::builtin()?;
/// let six = tables.table_for("2014", BuildingType::Industrial, ClassScale::Six)?;
/// assert_eq!(six.lower_bounds, [0, 16, 26, 36, 48, 58]);
/// assert_eq!(six.confidence, Confidence::VendorDerivedUnverified);
/// // No residential thresholds are known.
/// assert!(tables.table_for("2014", BuildingType::Residential, ClassScale::Six).is_err());
/// # Ok::<(), eiec::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClassTables {
    tables: Vec<ClassTable>,
}

impl ClassTables {
    /// The built-in tables (`data/classes.toml`), validated like a caller's file.
    ///
    /// ```
    /// assert_eq!(eiec::ClassTables::builtin()?.tables().len(), 2);
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn builtin() -> Result<Self, Error> {
        Self::from_toml_str(&source::builtin_name("classes.toml"), BUILTIN_CLASSES)
    }

    /// Load a class-table file.
    ///
    /// ```no_run
    /// let tables = eiec::ClassTables::from_file("residential-classes.toml".as_ref())?;
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = source::read(path)?;
        Self::from_toml_str(path, &text)
    }

    /// Parse and validate class-table text; `file` names the text in errors.
    ///
    /// ```
    /// let text = "[[table]]\nid = \"r\"\nedition = \"2014\"\nbuilding_types = [\"residential\"]\n\
    ///             lower_bounds = [0, 8, 14, 20, 26]\nconfidence = \"inferred\"\n";
    /// let tables = eiec::ClassTables::from_toml_str("r.toml".as_ref(), text)?;
    /// assert_eq!(tables.tables()[0].scale(), eiec::ClassScale::Five);
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn from_toml_str(file: &Path, text: &str) -> Result<Self, Error> {
        let src = Source::new(file, text);
        let parsed: ClassFile = src.parse()?;
        convert(&src, parsed)
    }

    /// Tables from `other` first, then these: a caller's file overrides built-in tables with
    /// the same key and adds the ones they lack.
    ///
    /// ```
    /// let builtin = eiec::ClassTables::builtin()?;
    /// let merged = eiec::ClassTables::default().overlay(builtin);
    /// assert_eq!(merged.tables().len(), 2);
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn overlay(self, other: ClassTables) -> ClassTables {
        let mut tables = other.tables;
        tables.extend(self.tables);
        ClassTables { tables }
    }

    /// Every table, in lookup order.
    pub fn tables(&self) -> &[ClassTable] {
        &self.tables
    }

    /// The table for an edition, building type and number of classes.
    pub fn table_for(
        &self,
        edition: &str,
        building: BuildingType,
        scale: ClassScale,
    ) -> Result<&ClassTable, Error> {
        self.tables
            .iter()
            .find(|t| {
                t.edition == edition && t.building_types.contains(&building) && t.scale() == scale
            })
            .ok_or_else(|| Error::NoClassTable {
                building: building.to_string(),
                edition: edition.to_string(),
                classes: scale.count(),
                known: if self.tables.is_empty() {
                    "none".to_string()
                } else {
                    self.tables
                        .iter()
                        .map(|t| {
                            format!(
                                "{} ({}, {}, {} classes)",
                                t.id,
                                t.edition,
                                building::join(&t.building_types),
                                t.lower_bounds.len()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                },
            })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassFile {
    table: Vec<Spanned<TableSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableSpec {
    id: Spanned<String>,
    edition: String,
    building_types: Spanned<Vec<BuildingType>>,
    lower_bounds: Spanned<Vec<u32>>,
    confidence: Confidence,
    #[serde(default)]
    note: String,
    expected_class: Option<Spanned<Class>>,
}

fn convert(src: &Source<'_>, file: ClassFile) -> Result<ClassTables, Error> {
    let mut tables = Vec::with_capacity(file.table.len());
    let mut ids = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for (i, spanned) in file.table.into_iter().enumerate() {
        let t = spanned.into_inner();
        let at = |f: &str| format!("table[{i}].{f}");
        if t.id.get_ref().trim().is_empty() || !ids.insert(t.id.get_ref().clone()) {
            return Err(source::invalid(
                src,
                t.id.span(),
                at("id"),
                format!("expected a unique non-empty id, found {:?}", t.id.get_ref()),
            ));
        }
        let bounds = t.lower_bounds.get_ref();
        if !(bounds.len() == 5 || bounds.len() == 6) {
            return Err(source::invalid(
                src,
                t.lower_bounds.span(),
                at("lower_bounds"),
                format!(
                    "expected 5 or 6 lower bounds (one per class), found {}",
                    bounds.len()
                ),
            ));
        }
        if bounds[0] != 0 || bounds.windows(2).any(|w| w[0] >= w[1]) {
            return Err(source::invalid(
                src,
                t.lower_bounds.span(),
                at("lower_bounds"),
                format!("expected 0 first and strictly ascending bounds, found {bounds:?}"),
            ));
        }
        if t.building_types.get_ref().is_empty() {
            return Err(source::invalid(
                src,
                t.building_types.span(),
                at("building_types"),
                "expected at least one building type",
            ));
        }
        for b in t.building_types.get_ref() {
            if !keys.insert((t.edition.clone(), *b, bounds.len())) {
                return Err(source::invalid(
                    src,
                    t.building_types.span(),
                    at("building_types"),
                    format!(
                        "another table already has {} classes for {b} buildings in edition {:?}",
                        bounds.len(),
                        t.edition
                    ),
                ));
            }
        }
        if let Some(e) = &t.expected_class
            && usize::from(e.get_ref().index()) >= bounds.len()
        {
            return Err(source::invalid(
                src,
                e.span(),
                at("expected_class"),
                format!(
                    "expected a class of this table (EIEC0..EIEC{}), found {}",
                    bounds.len() - 1,
                    e.get_ref()
                ),
            ));
        }
        tables.push(ClassTable {
            id: t.id.into_inner(),
            edition: t.edition,
            building_types: t.building_types.into_inner(),
            lower_bounds: t.lower_bounds.into_inner(),
            confidence: t.confidence,
            note: t.note.trim().to_string(),
            expected_class: t.expected_class.map(Spanned::into_inner),
        });
    }
    Ok(ClassTables { tables })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_parse_strictly() {
        assert_eq!("eiec4".parse::<Class>().unwrap(), Class(4));
        assert_eq!(" EIEC0 ".parse::<Class>().unwrap(), Class(0));
        for bad in ["EIEC", "EIEC-1", "EIEC3a", "IEC3", "3", "", "EIEC999"] {
            assert!(bad.parse::<Class>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn class_for_uses_the_highest_reached_bound() {
        let t = ClassTable {
            id: "t".into(),
            edition: "e".into(),
            building_types: vec![BuildingType::Commercial],
            lower_bounds: vec![0, 10, 20, 30, 40],
            confidence: Confidence::Inferred,
            note: String::new(),
            expected_class: None,
        };
        let got: Vec<u8> = [0, 9, 10, 19, 20, 39, 40, 1000]
            .iter()
            .map(|&p| t.class_for(p).index())
            .collect();
        assert_eq!(got, [0, 0, 1, 1, 2, 3, 4, 4]);
        assert_eq!(t.next(Class(3)), Some((Class(4), 40)));
        assert_eq!(t.next(Class(4)), None);
        assert_eq!(t.top(), Class(4));
        assert_eq!(t.scale(), ClassScale::Five);
    }
}
