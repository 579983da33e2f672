#![doc = include_str!("../README.md")]
//!
//! ## Modules
//!
//! The types are at the crate root; these public modules hold what goes with them:
//!
//! | module | what |
//! |---|---|
//! | [`engine`] | the engine and its semantics: thresholds and hysteresis, delays, samples without a value, out-of-order samples, offline alarms, schedules, the order of transitions, feeding it from a poller |
//! | [`file`](mod@file) | the rules file (TOML): its format, and errors that name file, line, column and field |
//! | [`transport`] | the transports that deliver notifications (console, JSON-lines file; e-mail over SMTP with cargo feature `smtp`, HTTP webhook with `webhook`), their configuration, the message texts and JSON shape, and the [`Outbox`] that retries with backoff |
//! | `testing` | (cargo feature `testing`, for tests, not covered by semver) test doubles: `TestTransport` |
//! | `plain` | (cargo feature `testing`, for tests, not covered by semver) `PlainEngine`, the straightforward reference the engine is tested and benchmarked against |
#![forbid(unsafe_code)]

mod book;
pub mod engine;
mod error;
pub mod file;
mod log;
mod notify;
#[cfg(feature = "testing")]
pub mod plain;
mod point;
mod rule;
mod ruleset;
mod sample;
mod schedule;
mod sink;
mod template;
#[cfg(feature = "testing")]
pub mod testing;
mod texts;
mod time;
mod toml_file;
pub mod transport;
mod tz;

pub use book::{AckState, AlarmEvent, Book, Occurrence, Status};
pub use engine::{
    DetectorState, Engine, InstanceId, InstanceInfo, ProcessReport, Stats, Transition,
    TransitionKind,
};
pub use error::{DeliveryStage, Error};
pub use log::{Action, EventLog, EventType, LogEntry, LogQuery, Origin};
pub use notify::{DigestItem, Notification, Router, Transport};
pub use point::{PointInfo, Selection};
pub use rule::{
    AlarmKind, AppliesTo, Condition, DigestConfig, Direction, Priority, Recipient, Rule,
};
pub use ruleset::RuleSet;
pub use sample::{AlarmSample, PointId, SampleValue};
pub use schedule::{Schedule, Window};
pub use sink::{EventSink, JsonLinesSink, MemorySink};
pub use template::Template;
pub use texts::{SystemEvent, SystemText, SystemTexts};
pub use transport::{DeliveryReport, Outbox, Overflow, RetryPolicy};
