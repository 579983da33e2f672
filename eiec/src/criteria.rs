//! Criteria sets as data: the built-in TOML file or a caller's own.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::building::{self, BuildingType};
use crate::derive::MeasuredQuantity;
use crate::source;
use crate::toml_file::Source;
use crate::{Confidence, Error};

/// The built-in criteria file, embedded at compile time.
pub const BUILTIN_CRITERIA: &str = include_str!("../data/criteria.toml");

/// The number of levels of every criterion (0..=4).
pub const LEVELS: usize = 5;
/// The highest level; it gives 4 points (confirmed).
pub const MAX_LEVEL: u8 = 4;

/// The two kinds of criteria.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CriterionKind {
    /// Efficiency measure (EM).
    #[serde(rename = "EM")]
    Em,
    /// Energy efficiency performance level (EEPL; "PL" in the Hager manual).
    #[serde(rename = "EEPL", alias = "PL")]
    Eepl,
}

impl fmt::Display for CriterionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CriterionKind::Em => "EM",
            CriterionKind::Eepl => "EEPL",
        })
    }
}

/// What one level of a criterion requires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Requirement {
    /// The requirement, as the data states it.
    Known(String),
    /// Not known: the data file says `"unknown"`. Never replaced by a guess.
    Unknown,
}

impl Requirement {
    /// The text, or `None` when unknown.
    pub fn text(&self) -> Option<&str> {
        match self {
            Requirement::Known(t) => Some(t),
            Requirement::Unknown => None,
        }
    }

    /// Whether the requirement is known.
    pub fn is_known(&self) -> bool {
        matches!(self, Requirement::Known(_))
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().unwrap_or("unknown"))
    }
}

/// How a criterion's level can be derived from measured data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DerivationRule {
    /// The measured quantity.
    pub quantity: MeasuredQuantity,
    /// Least value of the quantity for levels 1, 2, 3 and 4 (ascending), when known. The
    /// built-in data has none: the thresholds are not public.
    pub thresholds: Option<[f64; 4]>,
}

/// One criterion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    /// Identifier, unique within its set (e.g. `lighting`).
    pub id: String,
    /// EM or EEPL.
    pub kind: CriterionKind,
    /// Short title.
    pub title: String,
    /// What the criterion is about.
    pub description: String,
    /// How sure the criterion itself (its topic and place in the set) is.
    pub confidence: Confidence,
    /// Requirements of levels 0..=4.
    pub levels: [Requirement; LEVELS],
    /// Set when the level can be derived from measured data; `None` for entered criteria.
    pub derivation: Option<DerivationRule>,
}

/// The criteria that apply to some building types in one edition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriteriaSet {
    /// Identifier (e.g. `non-residential`).
    pub id: String,
    /// Edition id (e.g. `2014`).
    pub edition: String,
    /// Title.
    pub title: String,
    /// The building types the set applies to.
    pub building_types: Vec<BuildingType>,
    /// Maximum total; totals are clamped to it. At most 4 points per criterion.
    pub max_points: u32,
    /// How sure the set's membership is.
    pub confidence: Confidence,
    /// Free text on what is known.
    pub note: String,
    /// The criteria, in display order.
    pub criteria: Vec<Criterion>,
}

impl CriteriaSet {
    /// The criterion with this id.
    pub fn get(&self, id: &str) -> Option<&Criterion> {
        self.criteria.iter().find(|c| c.id == id)
    }

    /// Whether the set applies to the building type.
    pub fn applies_to(&self, building: BuildingType) -> bool {
        self.building_types.contains(&building)
    }

    /// Comma-separated ids, for messages.
    pub(crate) fn ids(&self) -> String {
        self.criteria
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// All criteria sets, keyed by edition and building type.
///
/// ```
/// use eiec::{BuildingType, CriteriaCatalogue, CriterionKind};
/// let catalogue = CriteriaCatalogue::builtin()?;
/// let set = catalogue.set_for(BuildingType::Commercial, None)?;
/// assert_eq!(set.criteria.len(), 16);
/// assert_eq!(set.max_points, 64);
/// assert_eq!(set.criteria.iter().filter(|c| c.kind == CriterionKind::Eepl).count(), 3);
/// # Ok::<(), eiec::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriteriaCatalogue {
    default_edition: String,
    editions: BTreeMap<String, String>,
    sets: Vec<CriteriaSet>,
}

impl CriteriaCatalogue {
    /// The built-in criteria (`data/criteria.toml`), validated like a caller's file.
    ///
    /// ```
    /// let catalogue = eiec::CriteriaCatalogue::builtin()?;
    /// assert_eq!(catalogue.default_edition(), "2014");
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn builtin() -> Result<Self, Error> {
        Self::from_toml_str(&source::builtin_name("criteria.toml"), BUILTIN_CRITERIA)
    }

    /// Load a criteria file, replacing the built-in criteria.
    ///
    /// ```no_run
    /// let catalogue = eiec::CriteriaCatalogue::from_file("my-criteria.toml".as_ref())?;
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = source::read(path)?;
        Self::from_toml_str(path, &text)
    }

    /// Parse and validate criteria text; `file` names the text in errors.
    ///
    /// ```
    /// let text = eiec::BUILTIN_CRITERIA.replace("kind = \"EEPL\"", "kind = \"XX\"");
    /// let err = eiec::CriteriaCatalogue::from_toml_str("c.toml".as_ref(), &text).unwrap_err();
    /// assert!(err.to_string().starts_with("c.toml:"));
    /// ```
    pub fn from_toml_str(file: &Path, text: &str) -> Result<Self, Error> {
        let src = Source::new(file, text);
        let parsed: CriteriaFile = src.parse()?;
        convert(src, parsed)
    }

    /// The edition used when an assessment names none.
    pub fn default_edition(&self) -> &str {
        &self.default_edition
    }

    /// Edition ids and titles, as the file lists them.
    pub fn editions(&self) -> &BTreeMap<String, String> {
        &self.editions
    }

    /// Every set.
    pub fn sets(&self) -> &[CriteriaSet] {
        &self.sets
    }

    /// The set for a building type in an edition (`None`: the default edition).
    pub fn set_for(
        &self,
        building: BuildingType,
        edition: Option<&str>,
    ) -> Result<&CriteriaSet, Error> {
        let edition = edition.unwrap_or(&self.default_edition);
        self.sets
            .iter()
            .find(|s| s.edition == edition && s.applies_to(building))
            .ok_or_else(|| Error::NoCriteriaSet {
                building: building.to_string(),
                edition: edition.to_string(),
                known: self
                    .sets
                    .iter()
                    .map(|s| s.edition.as_str())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Check a criterion id against a building type's set, naming it in the error: unknown
    /// everywhere, or from another building type's set.
    pub fn check_id(
        &self,
        building: BuildingType,
        edition: Option<&str>,
        id: &str,
    ) -> Result<&Criterion, Error> {
        let set = self.set_for(building, edition)?;
        if let Some(c) = set.get(id) {
            return Ok(c);
        }
        if let Some(other) = self
            .sets
            .iter()
            .find(|s| s.edition == set.edition && s.id != set.id && s.get(id).is_some())
        {
            return Err(Error::WrongBuildingType {
                id: id.to_string(),
                building: building.to_string(),
                set: set.id.clone(),
                other_set: other.id.clone(),
                other_buildings: building::join(&other.building_types),
            });
        }
        Err(Error::UnknownCriterion {
            id: id.to_string(),
            building: building.to_string(),
            expected: set.ids(),
        })
    }
}

// ----- file format --------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CriteriaFile {
    default_edition: Spanned<String>,
    #[serde(default)]
    editions: BTreeMap<String, String>,
    set: Vec<Spanned<SetSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetSpec {
    id: Spanned<String>,
    edition: String,
    title: String,
    building_types: Spanned<Vec<BuildingType>>,
    max_points: Option<Spanned<u32>>,
    confidence: Confidence,
    #[serde(default)]
    note: String,
    criterion: Vec<Spanned<CriterionSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CriterionSpec {
    id: Spanned<String>,
    kind: CriterionKind,
    title: String,
    description: String,
    confidence: Confidence,
    derived_from: Option<MeasuredQuantity>,
    thresholds: Option<Spanned<Vec<f64>>>,
    levels: Spanned<LevelsSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelsSpec {
    #[serde(rename = "0")]
    l0: String,
    #[serde(rename = "1")]
    l1: String,
    #[serde(rename = "2")]
    l2: String,
    #[serde(rename = "3")]
    l3: String,
    #[serde(rename = "4")]
    l4: String,
}

/// Ids appear in `ID=LEVEL,...` lists: keep them free of the separators.
fn check_id_text(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("expected a non-empty id".into());
    }
    if id
        .chars()
        .any(|c| c.is_whitespace() || c == ',' || c == '=')
    {
        return Err(format!(
            "expected an id without spaces, ',' or '=', found {id:?}"
        ));
    }
    Ok(())
}

/// The resolve steps of a criteria file share the source (for positions) and what the
/// sets before the current one claimed.
struct Resolver<'a> {
    src: Source<'a>,
    /// Set ids seen so far.
    set_ids: BTreeSet<String>,
    /// Which set covers each (edition, building type).
    coverage: BTreeMap<(String, BuildingType), String>,
}

fn convert(src: Source<'_>, file: CriteriaFile) -> Result<CriteriaCatalogue, Error> {
    let mut r = Resolver {
        src,
        set_ids: BTreeSet::new(),
        coverage: BTreeMap::new(),
    };
    let sets = file
        .set
        .into_iter()
        .enumerate()
        .map(|(si, s)| r.set(&format!("set[{si}]"), s))
        .collect::<Result<Vec<_>, _>>()?;
    let default_edition = file.default_edition.get_ref().clone();
    if !sets.iter().any(|s| s.edition == default_edition) {
        return Err(r.err(
            file.default_edition.span(),
            "default_edition",
            format!("no set has the edition {default_edition:?}"),
        ));
    }
    Ok(CriteriaCatalogue {
        default_edition,
        editions: file.editions,
        sets,
    })
}

impl Resolver<'_> {
    /// An [`Error::InvalidFile`] at `span`.
    fn err(
        &self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Error {
        source::invalid(&self.src, span, field, message)
    }

    /// One set, at field path `at` (`set[N]`).
    fn set(&mut self, at: &str, spanned: Spanned<SetSpec>) -> Result<CriteriaSet, Error> {
        let span = spanned.span();
        let s = spanned.into_inner();
        self.set_id(at, &s.id)?;
        self.coverage(at, &s)?;
        if s.criterion.is_empty() {
            return Err(self.err(
                span,
                format!("{at}.criterion"),
                "expected at least one criterion",
            ));
        }
        let mut criteria = Vec::with_capacity(s.criterion.len());
        let mut ids = BTreeSet::new();
        for (ci, cs) in s.criterion.into_iter().enumerate() {
            let at = format!("{at}.criterion[{ci}]");
            let c = cs.into_inner();
            check_id_text(c.id.get_ref())
                .map_err(|m| self.err(c.id.span(), format!("{at}.id"), m))?;
            if !ids.insert(c.id.get_ref().clone()) {
                return Err(self.err(
                    c.id.span(),
                    format!("{at}.id"),
                    format!("duplicate criterion id {:?} in set", c.id.get_ref()),
                ));
            }
            criteria.push(self.criterion(&at, c)?);
        }
        let max_points = self.max_points(at, s.max_points, criteria.len())?;
        Ok(CriteriaSet {
            id: s.id.into_inner(),
            edition: s.edition,
            title: s.title,
            building_types: s.building_types.into_inner(),
            max_points,
            confidence: s.confidence,
            note: s.note.trim().to_string(),
            criteria,
        })
    }

    /// A set id: usable in level lists and not used by an earlier set.
    fn set_id(&mut self, at: &str, id: &Spanned<String>) -> Result<(), Error> {
        check_id_text(id.get_ref()).map_err(|m| self.err(id.span(), format!("{at}.id"), m))?;
        if !self.set_ids.insert(id.get_ref().clone()) {
            return Err(self.err(
                id.span(),
                format!("{at}.id"),
                format!("duplicate set id {:?}", id.get_ref()),
            ));
        }
        Ok(())
    }

    /// The set's building types: at least one, none covered by another set of the edition.
    fn coverage(&mut self, at: &str, s: &SetSpec) -> Result<(), Error> {
        let field = format!("{at}.building_types");
        if s.building_types.get_ref().is_empty() {
            return Err(self.err(
                s.building_types.span(),
                field,
                "expected at least one building type",
            ));
        }
        for b in s.building_types.get_ref() {
            let key = (s.edition.clone(), *b);
            if let Some(other) = self.coverage.insert(key, s.id.get_ref().clone()) {
                return Err(self.err(
                    s.building_types.span(),
                    field,
                    format!(
                        "{b} buildings already have the set {other:?} in edition {:?}",
                        s.edition
                    ),
                ));
            }
        }
        Ok(())
    }

    /// One criterion, at field path `at` (`set[N].criterion[M]`); its id is checked by the set.
    fn criterion(&self, at: &str, c: CriterionSpec) -> Result<Criterion, Error> {
        let levels = self.levels(at, c.levels)?;
        let thresholds = self.thresholds(at, c.thresholds, c.derived_from)?;
        Ok(Criterion {
            id: c.id.into_inner(),
            kind: c.kind,
            title: c.title,
            description: c.description,
            confidence: c.confidence,
            levels,
            derivation: c.derived_from.map(|quantity| DerivationRule {
                quantity,
                thresholds,
            }),
        })
    }

    /// The five requirement texts: each given, `unknown` where nobody knows it.
    fn levels(
        &self,
        at: &str,
        levels: Spanned<LevelsSpec>,
    ) -> Result<[Requirement; LEVELS], Error> {
        let span = levels.span();
        let l = levels.into_inner();
        let mut out: [Requirement; LEVELS] = std::array::from_fn(|_| Requirement::Unknown);
        for (n, text) in [l.l0, l.l1, l.l2, l.l3, l.l4].into_iter().enumerate() {
            let text = text.trim().to_string();
            if text.is_empty() {
                return Err(self.err(
                    span.clone(),
                    format!("{at}.levels.{n}"),
                    "expected the requirement text or \"unknown\", found an empty text",
                ));
            }
            out[n] = if text.eq_ignore_ascii_case("unknown") {
                Requirement::Unknown
            } else {
                Requirement::Known(text)
            };
        }
        Ok(out)
    }

    /// The derivation thresholds: only with `derived_from`, four finite ascending values.
    fn thresholds(
        &self,
        at: &str,
        thresholds: Option<Spanned<Vec<f64>>>,
        derived_from: Option<MeasuredQuantity>,
    ) -> Result<Option<[f64; 4]>, Error> {
        let field = format!("{at}.thresholds");
        let Some(t) = thresholds else {
            return Ok(None);
        };
        if derived_from.is_none() {
            return Err(self.err(
                t.span(),
                field,
                "thresholds need `derived_from` (the quantity they apply to)",
            ));
        }
        let span = t.span();
        let v = t.into_inner();
        let arr: [f64; 4] = v.as_slice().try_into().map_err(|_| {
            self.err(
                span.clone(),
                field.clone(),
                format!(
                    "expected 4 values (least value for levels 1..4), found {}",
                    v.len()
                ),
            )
        })?;
        if arr.iter().any(|x| !x.is_finite()) || arr.windows(2).any(|w| w[0] > w[1]) {
            return Err(self.err(
                span,
                field,
                format!("expected finite values in ascending order, found {arr:?}"),
            ));
        }
        Ok(Some(arr))
    }

    /// The set's maximum: given, between 1 and 4 points per criterion; else 4 per criterion.
    fn max_points(
        &self,
        at: &str,
        max_points: Option<Spanned<u32>>,
        criteria: usize,
    ) -> Result<u32, Error> {
        let full = u32::try_from(criteria)
            .unwrap_or(u32::MAX)
            .saturating_mul(u32::from(MAX_LEVEL));
        let Some(m) = max_points else {
            return Ok(full);
        };
        let v = *m.get_ref();
        if v == 0 || v > full {
            return Err(self.err(
                m.span(),
                format!("{at}.max_points"),
                format!(
                    "expected 1..={full} (4 points for each of the {criteria} criteria), found {v}"
                ),
            ));
        }
        Ok(v)
    }
}
