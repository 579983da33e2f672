#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! | module | what it holds |
//! |---|---|
//! | [`pnu`] | parameter numbers (wire address = PNU − 1 at the edge only), served ranges, read blocks of at most 123 registers, transport constants (unit 1, service unit 254, TCP port 502, FC 3/4/6) |
//! | [`system`] | the system PNUs every controller has: identity, key, sensors S1..S16 (192.00 degC = not connected), modes and status, alarms, clock (with a safe write order), outputs and override, M-Bus and the meter blocks (offsets as caller data) |
//! | [`catalogue`] | the application-key catalogue as data: keys, sub-types, circuits and roles, sensor and output meanings, served ranges, circuit parameter templates, controller models, each fact with its [`Confidence`] |
//! | [`detect`](mod@detect) | detection from raw identity and key registers, or the application named at commissioning |
//! | [`firmware`] | the firmware rules, one typed [`Verdict`](firmware::Verdict) per rule |
//! | [`controller`] | a controller with its application: served ranges, [`ParameterMap`], sensors, configurable inputs, and its register map as a `modbus_devices` [`Product`](modbus_devices::Product) |
//! | [`params`] | parameter definitions and safe write preparation (range-checked, scaled, refused when read-only or unknown) |
//! | [`schedule`] | weekly schedules (3 comfort periods a day, HHMM registers) and holidays (through the mode register) |
//! | [`snapshot`] | the commissioning snapshot: every served parameter, serialisable |
#![cfg_attr(
    feature = "io",
    doc = "| [`sim`] | (feature `io`) an ECL Comfort 310 simulator for a given key, on the `modbus-devices` simulator: served ranges, identity and key, writable parameters with range checks, a thermal model, modes, schedules, alarms |",
    doc = "| [`ops`] | (feature `io`) operations over the wire through the `modbus-devices` poller: detection, safe writes with read-back, group settings, area schedules and holidays, data relay, snapshot |"
)]
#![cfg_attr(
    not(feature = "io"),
    doc = "| `sim` | (feature `io`) an ECL Comfort 310 simulator for a given key, on the `modbus-devices` simulator: served ranges, identity and key, writable parameters with range checks, a thermal model, modes, schedules, alarms |",
    doc = "| `ops` | (feature `io`) operations over the wire through the `modbus-devices` poller: detection, safe writes with read-back, group settings, area schedules and holidays, data relay, snapshot |"
)]
//! | [`error`] | the crate's [`Error`] |
#![forbid(unsafe_code)]

pub mod catalogue;
pub mod controller;
pub mod detect;
pub mod error;
pub mod firmware;
#[cfg(feature = "io")]
pub mod ops;
pub mod params;
pub mod pnu;
pub mod schedule;
#[cfg(feature = "io")]
pub mod sim;
pub mod snapshot;
pub mod system;
mod toml_file;

pub use catalogue::{AppKey, Catalogue, Confidence, KeyId, Role, SubType};
pub use controller::{ConfigurableInput, Controller, InputKind};
pub use detect::{Detection, KeyMatch, commissioned, detect};
pub use error::Error;
pub use firmware::{Verdict, Version};
pub use params::{ParameterDef, ParameterMap, PreparedWrite};
pub use pnu::{Pnu, PnuRange, ServedRanges};
pub use schedule::{Holiday, HolidayMode, Period, WeeklySchedule};
pub use snapshot::Snapshot;
