#![doc = include_str!("../README.md")]
//!
//! ## Modules
//!
//! | module | what |
//! |---|---|
//! | [`assessment`] | assessments: the levels an assessor gives, and what they score |
//! | [`building`] | building types (application areas) |
//! | `chart` | (cargo feature `charts`) bar chart of the expected, previous and current class, as SVG and PNG |
//! | [`classes`] | efficiency classes and the tables that map points to them (data file `data/classes.toml`) |
//! | [`confidence`] | how sure a fact in the data is |
//! | [`criteria`] | criteria sets as data (data file `data/criteria.toml`) or a caller's own |
//! | [`derive`](mod@derive) | levels derived from measured data |
//! | [`error`] | the crate's one error type |
//! | [`history`] | successive assessments of one installation: expected, previous and current class |
//! | [`scheme`] | the criteria and class tables together: scoring, classifying, deriving |
//! | [`synoptic`] | the synoptic table: criteria by levels, the achieved level marked, as text, CSV and SVG |
//!
//! ## What is confirmed and what is not
//!
//! The standard's text is not public. This crate ships what public sources state, marks each
//! datum with a [`Confidence`], and states the rest as unknown instead of guessing.
//!
//! **Confirmed** (public sources: ABB's DIN VDE 0100-801 page; building-and-automation.de on
//! VDE 0100-801; elektropraktiker.de; elettronews.com on CEI 64-8 Part 8.1):
//! - 16 assessment criteria; each is placed on one of five levels, level 0 giving 0 points and
//!   level 4 giving 4 points; a measure not considered gives 0 points; the maximum is 64.
//! - The class follows from the sum of the points; the thresholds differ between building
//!   types (application areas).
//! - Criteria are efficiency measures (EM: load profile, main distribution near the load
//!   barycentre, motors, lighting, HVAC, transformers, wiring system, reactive-power
//!   compensation, metering / measurement, renewable or local energy) and energy efficiency
//!   performance levels (EEPL: coverage of the annual consumption, reactive power / power
//!   factor, transformer efficiency).
//! - Commercial, industrial and infrastructure share one criteria set; residential has its
//!   own.
//! - DIN VDE 0100-801:2015 describes five classes EIEC0..EIEC4; the Italian CEI 64-8 Part 8.1
//!   describes six (0..5). The sources disagree; both are offered ([`ClassScale`]).
//!
//! **Vendor-derived, unverified** (Hager energy server manual rev 1.10, 06/2023):
//! - The split into 13 EM and 3 PL (EEPL).
//! - The class boundaries 16, 26, 36, 48 and 58 points. Read as lower bounds of six bands they
//!   give the default table: EIEC0 below 16, EIEC1 16-25, EIEC2 26-35, EIEC3 36-47, EIEC4
//!   48-57, EIEC5 from 58. The five-class variant keeps the boundaries up to EIEC4 from 48.
//!   Both apply to commercial, industrial and infrastructure (the building types the Hager
//!   product offers); the manual does not name the edition.
//!
//! **Inferred** (our reading, no source states it):
//! - Four of the 16 places go to metering (`metering-supply`, `metering-usage`,
//!   `metering-zone`, `metering-analysis`): 10 confirmed EM topics against 13 EM.
//! - The whole residential set (9 criteria, 36 points): only its existence is confirmed.
//!
//! **Unknown** (stated as unknown in the data, never filled in):
//! - What levels 1..4 of any criterion require (transformer class, motor IE class, target
//!   power factor, metering coverage percentages, ...).
//! - Any class thresholds for residential: no table ships, and assessing a residential
//!   building needs a caller's class table ([`ClassTables::from_file`]).
//! - The expected class per building type (the Hager view shows one; its values are not in
//!   our sources): [`AssessmentResult::expected`] is `None` unless a class table sets it, and
//!   a [`History`] can carry a target class.
//!
//! ## Derived and entered criteria
//!
//! `load-profile`, `consumption-coverage` and `power-factor` can be derived from measured
//! data passed as plain numbers (see [`derive`](mod@derive)); all other criteria are
//! entered. Without known thresholds a derivation reports the measured value and leaves the
//! level to the assessor, except that an absent measure (no load profile recorded) is level 0.
//!
//! ## Data files
//!
//! Criteria (`data/criteria.toml`) and class tables (`data/classes.toml`) are embedded and
//! loaded through the same validating code as a caller's replacement files; a malformed file
//! is refused with its name, line, column and field.
#![forbid(unsafe_code)]

pub mod assessment;
pub mod building;
#[cfg(feature = "charts")]
pub mod chart;
pub mod classes;
pub mod confidence;
pub mod criteria;
pub mod derive;
pub mod error;
pub mod history;
#[cfg(feature = "charts")]
mod raster;
pub mod scheme;
mod source;
pub mod synoptic;
// Byte-identical in every crate (see its module doc); not reformatted here.
mod toml_file;

pub use assessment::{
    Assessment, AssessmentResult, CriterionScore, Entry, NextClass, Rating, Step, Summary,
    SummaryCriterion,
};
pub use building::BuildingType;
#[cfg(feature = "charts")]
pub use chart::BarChart;
pub use classes::{BUILTIN_CLASSES, Class, ClassScale, ClassTable, ClassTables};
pub use confidence::Confidence;
pub use criteria::{
    BUILTIN_CRITERIA, CriteriaCatalogue, CriteriaSet, Criterion, CriterionKind, DerivationRule,
    Requirement,
};
pub use derive::{
    Derivation, MeasuredData, MeasuredQuantity, Measurements, MeteredDevice, PowerFactorData,
    measure,
};
pub use error::{Error, Result};
pub use history::{History, HistoryEntry, LevelView};
pub use scheme::Scheme;
pub use synoptic::Synoptic;
