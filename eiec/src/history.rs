//! Successive assessments of one installation: expected, previous and current class.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::assessment::AssessmentResult;
use crate::building::BuildingType;
use crate::classes::Class;

/// One assessment in the history, with the time (UTC) it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When the assessment was made.
    pub at: DateTime<Utc>,
    /// The scored assessment.
    pub result: AssessmentResult,
}

/// The three levels the Hager view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelView {
    /// The class expected for the building: the history's target if set, otherwise the
    /// class table's expected class; `None` when neither is known.
    pub expected: Option<Class>,
    /// The class of the assessment before the latest one.
    pub previous: Option<Class>,
    /// The class of the latest assessment.
    pub current: Option<Class>,
    /// Number of classes of the table used (for drawing).
    pub classes: u8,
}

/// Successive assessments of one installation, oldest first. All records share the building
/// type and the number of classes (classes of different scales cannot be compared).
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use eiec::{Assessment, BuildingType, Class, ClassScale, History, Scheme};
/// let scheme = Scheme::builtin()?;
/// let mut history = History::new();
/// let before = Assessment::from_level_list(BuildingType::Commercial, "lighting=4,hvac=4,motors=4,wiring=4")?;
/// let after = Assessment::from_level_list(BuildingType::Commercial, "lighting=4,hvac=4,motors=4,wiring=4,renewable=4,transformers=4,power-factor=3")?;
/// history.push(Utc.with_ymd_and_hms(2024, 3, 1, 9, 0, 0).unwrap(), scheme.assess(&before, ClassScale::Six)?)?;
/// history.push(Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap(), scheme.assess(&after, ClassScale::Six)?)?;
/// history.set_expected(Some(Class::new(3)));
/// let view = history.view();
/// assert_eq!(view.previous, Some(Class::new(1)));
/// assert_eq!(view.current, Some(Class::new(2)));
/// assert_eq!(view.expected, Some(Class::new(3)));
/// # Ok::<(), eiec::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct History {
    records: Vec<HistoryEntry>,
    expected: Option<Class>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        History::default()
    }

    /// Add an assessment. Records stay in time order (a record with the same time as another
    /// goes after it). Refused when its building type or number of classes differs from the
    /// records already there.
    pub fn push(&mut self, at: DateTime<Utc>, result: AssessmentResult) -> Result<(), Error> {
        if let Some(first) = self.records.first() {
            let (b, n) = (first.result.building, first.result.classes);
            if result.building != b || result.classes != n {
                return Err(Error::HistoryMismatch {
                    expected: describe(b, n),
                    found: describe(result.building, result.classes),
                });
            }
        }
        let pos = self.records.partition_point(|r| r.at <= at);
        self.records.insert(pos, HistoryEntry { at, result });
        Ok(())
    }

    /// Set or clear a target class that overrides the class table's expected class.
    pub fn set_expected(&mut self, expected: Option<Class>) {
        self.expected = expected;
    }

    /// Every record, oldest first.
    pub fn records(&self) -> &[HistoryEntry] {
        &self.records
    }

    /// The latest record.
    pub fn current(&self) -> Option<&HistoryEntry> {
        self.records.last()
    }

    /// The record before the latest.
    pub fn previous(&self) -> Option<&HistoryEntry> {
        self.records.len().checked_sub(2).map(|i| &self.records[i])
    }

    /// Expected, previous and current class.
    pub fn view(&self) -> LevelView {
        let current = self.current();
        LevelView {
            expected: self
                .expected
                .or_else(|| current.and_then(|r| r.result.expected)),
            previous: self.previous().map(|r| r.result.class),
            current: current.map(|r| r.result.class),
            classes: current.map_or(6, |r| r.result.classes),
        }
    }
}

fn describe(b: BuildingType, classes: u8) -> String {
    format!("{b} buildings on {classes} classes")
}
