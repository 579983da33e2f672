//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in this crate. Messages say what was expected and what was
/// found; file errors name the file, line, column and field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A criteria or class-table file could not be read.
    #[error("cannot read {}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A data file is malformed or inconsistent: where, and what was wrong.
    #[error("{}:{line}:{column}: {field}: {message}", file.display())]
    InvalidFile {
        /// The file (built-in files are named `<builtin>/NAME`).
        file: std::path::PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The field path as written in the file, e.g. `product[2].service[4].type`; `(file)` when no field.
        field: String,
        /// What was expected and what was found.
        message: String,
    },
    /// A building type name that is not one of the four.
    #[error(
        "unknown building type `{found}`: expected residential, commercial, industrial or infrastructure"
    )]
    UnknownBuildingType {
        /// The text given.
        found: String,
    },
    /// A class name that is not `EIEC0`..`EIEC9`.
    #[error("invalid class `{found}`: expected EIEC followed by a class number, e.g. EIEC3")]
    InvalidClass {
        /// The text given.
        found: String,
    },
    /// The edition has no criteria set for the building type.
    #[error(
        "no criteria set for {building} buildings in edition `{edition}` (editions known: {known})"
    )]
    NoCriteriaSet {
        /// Building type.
        building: String,
        /// Edition asked for.
        edition: String,
        /// Editions that have sets.
        known: String,
    },
    /// A criterion id in no criteria set of the edition.
    #[error("unknown criterion `{id}` for {building} buildings: expected one of {expected}")]
    UnknownCriterion {
        /// The id given.
        id: String,
        /// Building type assessed.
        building: String,
        /// Ids of the building type's set.
        expected: String,
    },
    /// A criterion id that belongs to another building type's set.
    #[error(
        "criterion `{id}` belongs to the `{other_set}` set ({other_buildings}), not to the `{set}` set used for {building} buildings"
    )]
    WrongBuildingType {
        /// The id given.
        id: String,
        /// Building type assessed.
        building: String,
        /// The set used for that building type.
        set: String,
        /// The set the id belongs to.
        other_set: String,
        /// The building types of that set.
        other_buildings: String,
    },
    /// A level above 4.
    #[error("criterion `{id}`: level {found} is out of range: expected 0..=4 or not considered")]
    LevelOutOfRange {
        /// The criterion.
        id: String,
        /// The level given.
        found: u64,
    },
    /// A `ID=LEVEL,...` list item that cannot be read.
    #[error("level list item `{item}`: {expected}")]
    InvalidLevelList {
        /// The item as given.
        item: String,
        /// What was expected.
        expected: String,
    },
    /// The same criterion given twice in one list.
    #[error("criterion `{id}` is given twice")]
    DuplicateCriterion {
        /// The criterion.
        id: String,
    },
    /// No class table for the edition, building type and number of classes.
    #[error(
        "no {classes}-class table for {building} buildings in edition `{edition}`: the thresholds are not known; supply a class-table file (tables known: {known})"
    )]
    NoClassTable {
        /// Building type.
        building: String,
        /// Edition.
        edition: String,
        /// Number of classes asked for.
        classes: u8,
        /// Tables that exist, as `id (edition, types, n classes)`.
        known: String,
    },
    /// A number of classes other than five or six.
    #[error("invalid number of classes {found}: expected 5 or 6")]
    InvalidClassCount {
        /// The number given.
        found: u64,
    },
    /// A measured value that cannot be used.
    #[error("measured {quantity}: expected {expected}, found {found}")]
    InvalidMeasurement {
        /// What was measured.
        quantity: String,
        /// What was expected.
        expected: String,
        /// What was given.
        found: String,
    },
    /// An assessment that does not belong in a history.
    #[error("history of {expected}: cannot add an assessment of {found}")]
    HistoryMismatch {
        /// What the history holds (building type and number of classes).
        expected: String,
        /// What was offered.
        found: String,
    },
    /// Writing an output (CSV, chart) failed.
    #[error("cannot write the {what}: {message}")]
    Output {
        /// Which output.
        what: &'static str,
        /// Why.
        message: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
