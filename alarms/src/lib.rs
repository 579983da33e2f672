//! # `alarms`
//!
//! Threshold / pre-alarm / hysteresis / delay alarm engine, binary, controller, rate and
//! offline alarms, schedules, hierarchy, acknowledgement, an event log and notification
//! routing.
//!
//! The pieces, in the order data flows through them:
//!
//! 1. [`RuleSet`] — rules loaded from TOML ([`RuleSet::from_toml`], format in [`file`]) or
//!    built in code, validated; the group hierarchy, recipients and digest time.
//! 2. [`Engine`] — deterministic and clock-free: [`AlarmSample`]s and ticks in, [`Transition`]s
//!    out (semantics in [`engine`]).
//! 3. [`Book`] — occurrences (new → read → acknowledged, active → cleared), group alarms,
//!    and the [`EventLog`], mirrored to an [`EventSink`] such as [`JsonLinesSink`] and
//!    restored by [`Book::replay`].
//! 4. [`SystemTexts`] — parameterised system event texts, as data.
//! 5. [`Router`] — notifications: critical at once plus the relay flag, a daily digest per
//!    recipient for the rest; [`Transport`] for delivery.
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

pub use book::{AckState, AlarmEvent, Book, Occurrence, Status};
pub use engine::{
    DetectorState, Engine, InstanceId, InstanceInfo, ProcessReport, Stats, Transition,
    TransitionKind,
};
pub use error::Error;
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
