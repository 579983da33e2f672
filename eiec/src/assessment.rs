//! Assessments: the levels an assessor gives, and what they score.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::building::BuildingType;
use crate::classes::{Class, ClassTable};
use crate::criteria::{CriteriaSet, CriterionKind, MAX_LEVEL};
use crate::derive::Derivation;
use crate::{Confidence, Error};

/// What an assessor gives one criterion: a level 0..=4, or "not considered" (0 points).
///
/// In files and JSON a level is a number and "not considered" is the string `"nc"`.
///
/// ```
/// use eiec::Rating;
/// assert_eq!(Rating::Level(3).points(), 3);
/// assert_eq!(Rating::NotConsidered.points(), 0);
/// assert_eq!("nc".parse::<Rating>()?, Rating::NotConsidered);
/// # Ok::<(), eiec::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Rating {
    /// The measure was not considered: 0 points (confirmed).
    #[default]
    NotConsidered,
    /// Level 0..=4, worth as many points (confirmed: EM0 = 0 points, EM4 = 4 points). Values
    /// above 4 are refused when the assessment is scored.
    Level(u8),
}

impl Rating {
    /// Points: the level, 0 when not considered.
    pub fn points(self) -> u32 {
        u32::from(self.level())
    }

    /// The level, 0 when not considered.
    pub fn level(self) -> u8 {
        match self {
            Rating::NotConsidered => 0,
            Rating::Level(l) => l,
        }
    }

    /// The level, `None` when not considered.
    pub fn as_level(self) -> Option<u8> {
        match self {
            Rating::NotConsidered => None,
            Rating::Level(l) => Some(l),
        }
    }
}

impl fmt::Display for Rating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rating::NotConsidered => f.write_str("nc"),
            Rating::Level(l) => write!(f, "{l}"),
        }
    }
}

impl std::str::FromStr for Rating {
    type Err = Error;

    /// `0`..`4`, or `nc` / `-` for not considered.
    fn from_str(s: &str) -> Result<Self, Error> {
        parse_rating("?", s)
    }
}

fn parse_rating(id: &str, s: &str) -> Result<Rating, Error> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("nc") || t == "-" {
        return Ok(Rating::NotConsidered);
    }
    match t.parse::<u64>() {
        Ok(n) if n <= u64::from(MAX_LEVEL) => Ok(Rating::Level(n as u8)),
        Ok(n) => Err(Error::LevelOutOfRange {
            id: id.to_string(),
            found: n,
        }),
        Err(_) => Err(Error::InvalidLevelList {
            item: format!("{id}={s}"),
            expected: "expected a level 0..=4 or `nc` (not considered)".into(),
        }),
    }
}

impl Serialize for Rating {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Rating::NotConsidered => s.serialize_str("nc"),
            Rating::Level(l) => s.serialize_u8(*l),
        }
    }
}

impl<'de> Deserialize<'de> for Rating {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Number(u8),
            Text(String),
        }
        match Repr::deserialize(d)? {
            Repr::Number(n) => Ok(Rating::Level(n)),
            Repr::Text(t) if t.eq_ignore_ascii_case("nc") => Ok(Rating::NotConsidered),
            Repr::Text(t) => Err(serde::de::Error::custom(format!(
                "expected a level 0..=4 or \"nc\", found {t:?}"
            ))),
        }
    }
}

/// One criterion's entry in an assessment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The level given.
    pub rating: Rating,
    /// Optional evidence: what was seen, measured or documented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// An assessment as entered: building type, edition and an entry per criterion. Criteria
/// without an entry count as not considered.
///
/// ```
/// use eiec::{Assessment, BuildingType, ClassScale, Scheme};
/// let mut a = Assessment::new(BuildingType::Commercial);
/// a.set_level("lighting", 3).set_level("hvac", 2);
/// a.set_evidence("lighting", "LED with presence detection, audit 2024");
/// let result = Scheme::builtin()?.assess(&a, ClassScale::Six)?;
/// assert_eq!(result.total, 5);
/// # Ok::<(), eiec::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    /// Building type.
    pub building: BuildingType,
    /// Edition id; `None` uses the criteria catalogue's default edition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edition: Option<String>,
    /// Entries by criterion id.
    #[serde(default)]
    pub criteria: BTreeMap<String, Entry>,
}

impl Assessment {
    /// An empty assessment (every criterion not considered).
    pub fn new(building: BuildingType) -> Self {
        Assessment {
            building,
            edition: None,
            criteria: BTreeMap::new(),
        }
    }

    /// Parse `ID=LEVEL,ID=LEVEL,...` (levels 0..=4, or `nc`); an empty text gives no entry.
    /// Ids are checked against the criteria only when the assessment is scored.
    ///
    /// ```
    /// use eiec::{Assessment, BuildingType, Rating};
    /// let a = Assessment::from_level_list(BuildingType::Industrial, "motors=4, lighting=nc")?;
    /// assert_eq!(a.criteria["motors"].rating, Rating::Level(4));
    /// assert_eq!(a.criteria["lighting"].rating, Rating::NotConsidered);
    /// assert!(Assessment::from_level_list(BuildingType::Industrial, "motors=7").is_err());
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn from_level_list(building: BuildingType, list: &str) -> Result<Self, Error> {
        let mut a = Assessment::new(building);
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (id, level) = item
                .split_once('=')
                .ok_or_else(|| Error::InvalidLevelList {
                    item: item.to_string(),
                    expected: "expected ID=LEVEL".into(),
                })?;
            let id = id.trim();
            if id.is_empty() {
                return Err(Error::InvalidLevelList {
                    item: item.to_string(),
                    expected: "expected a criterion id before '='".into(),
                });
            }
            let rating = parse_rating(id, level)?;
            if a.criteria.contains_key(id) {
                return Err(Error::DuplicateCriterion { id: id.to_string() });
            }
            a.criteria.insert(
                id.to_string(),
                Entry {
                    rating,
                    evidence: None,
                },
            );
        }
        Ok(a)
    }

    /// Give a criterion a level (checked when scored).
    pub fn set_level(&mut self, id: &str, level: u8) -> &mut Self {
        self.criteria.entry(id.to_string()).or_default().rating = Rating::Level(level);
        self
    }

    /// Mark a criterion as not considered.
    pub fn set_not_considered(&mut self, id: &str) -> &mut Self {
        self.criteria.entry(id.to_string()).or_default().rating = Rating::NotConsidered;
        self
    }

    /// Attach evidence text to a criterion (keeps its rating).
    pub fn set_evidence(&mut self, id: &str, evidence: &str) -> &mut Self {
        self.criteria.entry(id.to_string()).or_default().evidence = Some(evidence.to_string());
        self
    }

    /// Take the levels that derivations could determine (see [`crate::derive`]); the evidence
    /// of those criteria becomes the derivation's reason. Derivations without a level (unknown
    /// thresholds) change nothing. Returns how many levels were set.
    ///
    /// ```
    /// use eiec::{Assessment, BuildingType, MeasuredData, MeteredDevice, Scheme};
    /// let scheme = Scheme::builtin()?;
    /// let data = MeasuredData {
    ///     annual_consumption_kwh: 1000.0,
    ///     devices: vec![MeteredDevice { name: "main".into(), annual_kwh: 1000.0, load_profile: false }],
    ///     power_factor: None,
    /// };
    /// let derived = scheme.derive(BuildingType::Commercial, None, &data)?;
    /// let mut a = Assessment::new(BuildingType::Commercial);
    /// // No load profile recorded: the load-profile measure is absent, level 0.
    /// assert_eq!(a.apply_derivations(&derived), 1);
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn apply_derivations(&mut self, derivations: &[Derivation]) -> usize {
        let mut n = 0;
        for d in derivations {
            if let Some(level) = d.level {
                let e = self.criteria.entry(d.criterion.clone()).or_default();
                e.rating = Rating::Level(level);
                e.evidence = Some(d.reason.clone());
                n += 1;
            }
        }
        n
    }
}

/// One criterion's score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CriterionScore {
    /// Criterion id.
    pub id: String,
    /// EM or EEPL.
    pub kind: CriterionKind,
    /// The rating given (not considered when the assessment had no entry).
    pub rating: Rating,
    /// Points (the level; 0 when not considered).
    pub points: u32,
    /// Evidence text, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// One level step of a plan: raise a criterion from its rating to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Criterion id.
    pub id: String,
    /// Current rating.
    pub from: Rating,
    /// Level to reach.
    pub to: u8,
    /// Points gained (= level steps).
    pub points: u32,
}

/// The class above the current one, and how to get there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextClass {
    /// The next class.
    pub class: Class,
    /// Its lower bound.
    pub lower_bound: u32,
    /// Points missing.
    pub points_missing: u32,
    /// Whether raising levels can reach it (the bound may exceed the maximum total).
    pub reachable: bool,
    /// The cheapest plan: exactly `points_missing` level steps (each step is one point, so no
    /// plan has fewer), spread over the fewest criteria; ties go to the set's order. Empty when
    /// unreachable.
    pub plan: Vec<Step>,
}

/// The scored assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssessmentResult {
    /// Building type.
    pub building: BuildingType,
    /// Edition id.
    pub edition: String,
    /// Id of the criteria set used.
    pub set: String,
    /// Every criterion of the set, in the set's order.
    pub criteria: Vec<CriterionScore>,
    /// Sum of the points before clamping.
    pub raw_total: u32,
    /// The total, clamped to `max`.
    pub total: u32,
    /// The set's maximum total.
    pub max: u32,
    /// Id of the class table used.
    pub table: String,
    /// How sure the class table is.
    pub table_confidence: Confidence,
    /// The number of classes of the table.
    pub classes: u8,
    /// The class of `total`.
    pub class: Class,
    /// The next class, `None` at the top class.
    pub next: Option<NextClass>,
    /// The class expected for the building type, when the class table states one.
    pub expected: Option<Class>,
}

impl AssessmentResult {
    /// Whether the total was clamped.
    pub fn clamped(&self) -> bool {
        self.raw_total > self.total
    }

    /// The next class, `None` at the top class.
    pub fn next_class(&self) -> Option<Class> {
        self.next.as_ref().map(|n| n.class)
    }

    /// Points missing to the next class; 0 at the top class.
    pub fn points_to_next(&self) -> u32 {
        self.next.as_ref().map_or(0, |n| n.points_missing)
    }

    /// The machine-readable summary printed by `eiec --json`.
    ///
    /// ```
    /// use eiec::{Assessment, BuildingType, ClassScale, Scheme};
    /// let a = Assessment::from_level_list(BuildingType::Commercial, "lighting=4")?;
    /// let r = Scheme::builtin()?.assess(&a, ClassScale::Six)?;
    /// let s = r.summary();
    /// assert_eq!((s.total, s.max, s.class.as_str()), (4, 64, "EIEC0"));
    /// assert_eq!(s.next_class.as_deref(), Some("EIEC1"));
    /// assert_eq!(s.points_to_next, 12);
    /// # Ok::<(), eiec::Error>(())
    /// ```
    pub fn summary(&self) -> Summary {
        Summary {
            building: self.building.to_string(),
            total: self.total,
            max: self.max,
            class: self.class.to_string(),
            next_class: self.next_class().map(|c| c.to_string()),
            points_to_next: self.points_to_next(),
            criteria: self
                .criteria
                .iter()
                .map(|c| SummaryCriterion {
                    id: c.id.clone(),
                    level: c.rating.as_level(),
                    points: c.points,
                })
                .collect(),
        }
    }
}

/// The `--json` contract: `{"building", "total", "max", "class", "next_class",
/// "points_to_next", "criteria": [{"id", "level", "points"}]}`, keys in this order.
/// `next_class` is `null` at the top class (then `points_to_next` is 0); `level` is `null`
/// for a criterion not considered. Every criterion of the set is listed, in the set's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Building type.
    pub building: String,
    /// Clamped total.
    pub total: u32,
    /// Maximum total.
    pub max: u32,
    /// Class, e.g. `EIEC3`.
    pub class: String,
    /// Next class or `None`.
    pub next_class: Option<String>,
    /// Points missing to the next class.
    pub points_to_next: u32,
    /// Per criterion.
    pub criteria: Vec<SummaryCriterion>,
}

/// One criterion in [`Summary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryCriterion {
    /// Criterion id.
    pub id: String,
    /// Level, `None` when not considered.
    pub level: Option<u8>,
    /// Points.
    pub points: u32,
}

/// Validate the entries against the set (ids and levels); the caller has checked the set.
pub(crate) fn score(
    assessment: &Assessment,
    set: &CriteriaSet,
    check_id: impl Fn(&str) -> Result<(), Error>,
) -> Result<Vec<CriterionScore>, Error> {
    for (id, entry) in &assessment.criteria {
        check_id(id)?;
        if let Rating::Level(l) = entry.rating
            && l > MAX_LEVEL
        {
            return Err(Error::LevelOutOfRange {
                id: id.clone(),
                found: u64::from(l),
            });
        }
    }
    Ok(set
        .criteria
        .iter()
        .map(|c| {
            let entry = assessment.criteria.get(&c.id);
            let rating = entry.map(|e| e.rating).unwrap_or_default();
            CriterionScore {
                id: c.id.clone(),
                kind: c.kind,
                rating,
                points: rating.points(),
                evidence: entry.and_then(|e| e.evidence.clone()),
            }
        })
        .collect())
}

/// Total, class, next class and plan.
pub(crate) fn classify(
    assessment: &Assessment,
    edition: &str,
    set: &CriteriaSet,
    scores: Vec<CriterionScore>,
    table: &ClassTable,
) -> AssessmentResult {
    let raw_total: u32 = scores.iter().map(|s| s.points).sum();
    let total = raw_total.min(set.max_points);
    let class = table.class_for(total);
    let next = table.next(class).map(|(next, bound)| {
        let missing = bound.saturating_sub(total);
        let headroom: u32 = scores
            .iter()
            .map(|s| u32::from(MAX_LEVEL) - s.points.min(u32::from(MAX_LEVEL)))
            .sum();
        let reachable = bound <= set.max_points && raw_total == total && headroom >= missing;
        NextClass {
            class: next,
            lower_bound: bound,
            points_missing: missing,
            reachable,
            plan: if reachable {
                plan(&scores, missing)
            } else {
                Vec::new()
            },
        }
    });
    AssessmentResult {
        building: assessment.building,
        edition: edition.to_string(),
        set: set.id.clone(),
        criteria: scores,
        raw_total,
        total,
        max: set.max_points,
        table: table.id.clone(),
        table_confidence: table.confidence,
        classes: table.scale().count(),
        class,
        next,
        expected: table.expected_class,
    }
}

/// `missing` level steps over the fewest criteria: largest headroom first (stable, so ties
/// keep the set's order).
fn plan(scores: &[CriterionScore], missing: u32) -> Vec<Step> {
    let mut room: Vec<(usize, u32)> = scores
        .iter()
        .enumerate()
        .map(|(i, s)| (i, u32::from(MAX_LEVEL).saturating_sub(s.points)))
        .filter(|&(_, r)| r > 0)
        .collect();
    room.sort_by_key(|r| std::cmp::Reverse(r.1));
    let mut left = missing;
    let mut steps = Vec::new();
    for (i, r) in room {
        if left == 0 {
            break;
        }
        let take = r.min(left);
        let s = &scores[i];
        steps.push(Step {
            id: s.id.clone(),
            from: s.rating,
            to: u8::try_from(s.points + take).unwrap_or(MAX_LEVEL),
            points: take,
        });
        left -= take;
    }
    steps
}
