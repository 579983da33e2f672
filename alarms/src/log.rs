//! The event log: every transition with its time, queryable, bounded in memory.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::book::{AckState, Status};
use crate::rule::{AlarmKind, Priority};

/// The type of an event, as operators filter them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// An alarm (needs acknowledgement).
    Alarm,
    /// An error message.
    Error,
    /// A warning (pre-alarms, warning-priority alarms, warning messages).
    Warning,
    /// Information.
    Information,
}

/// Where an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A group alarm summarising its children.
    Hierarchical,
    /// A rule on process values (threshold, band, binary, rate).
    Process,
    /// The system itself (communication, storage, users, offline alarms).
    Internal,
    /// A device's own alarm (controller alarms).
    Product,
}

/// What a log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The alarm became active.
    Raised,
    /// The pre-alarm became active.
    PreAlarm,
    /// The pre-alarm became inactive.
    PreAlarmCleared,
    /// The alarm became inactive.
    Cleared,
    /// An operator saw the occurrence.
    Read,
    /// An operator acknowledged it (user, comment).
    Acknowledged,
    /// Cleared and acknowledged: no longer open.
    Closed,
    /// An informational event (no acknowledgement).
    Message,
}

/// One line of the event log (and of the JSON-lines file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    /// Sequence number, increasing.
    pub seq: u64,
    /// When it happened (UTC).
    pub time: DateTime<Utc>,
    /// What happened.
    pub action: Action,
    /// Alarm, error, warning or information.
    pub event_type: EventType,
    /// Where it comes from.
    pub origin: Origin,
    /// Kind of alarm (`system` for messages).
    pub kind: AlarmKind,
    /// The occurrence, for alarms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<u64>,
    /// The alarm (rule id), or the system event code for messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<String>,
    /// The point or device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The occurrence's priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// The occurrence's status after this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The occurrence's acknowledgement state after this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AckState>,
    /// Who read or acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The acknowledgement comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The alarm text or the message.
    pub text: String,
    /// The point's value, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

/// A filter on the log; `None` fields match everything. The period is `[from, to)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    /// Inclusive start.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive end.
    pub to: Option<DateTime<Utc>>,
    /// Event type.
    pub event_type: Option<EventType>,
    /// Acknowledgement state (after the event).
    pub state: Option<AckState>,
    /// Origin.
    pub origin: Option<Origin>,
    /// Alarm kind.
    pub kind: Option<AlarmKind>,
    /// Alarm status (after the event).
    pub status: Option<Status>,
    /// One alarm (rule id).
    pub alarm: Option<String>,
}

impl LogQuery {
    /// Whether an entry passes the filter.
    pub fn matches(&self, e: &LogEntry) -> bool {
        self.from.is_none_or(|f| e.time >= f)
            && self.to.is_none_or(|t| e.time < t)
            && self.event_type.is_none_or(|x| e.event_type == x)
            && self.state.is_none_or(|x| e.state == Some(x))
            && self.origin.is_none_or(|x| e.origin == x)
            && self.kind.is_none_or(|x| e.kind == x)
            && self.status.is_none_or(|x| e.status == Some(x))
            && self
                .alarm
                .as_ref()
                .is_none_or(|x| e.alarm.as_ref() == Some(x))
    }
}

/// The in-memory log: the newest `capacity` entries; older ones are dropped (and counted)
/// here but kept by the [`crate::EventSink`].
#[derive(Debug, Clone)]
pub struct EventLog {
    entries: VecDeque<LogEntry>,
    capacity: usize,
    dropped: u64,
}

impl EventLog {
    /// A log keeping at most `capacity` entries (at least 1).
    ///
    /// ```
    /// let log = alarms::EventLog::new(1000);
    /// assert!(log.is_empty());
    /// ```
    pub fn new(capacity: usize) -> EventLog {
        let capacity = capacity.max(1);
        EventLog {
            entries: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
            dropped: 0,
        }
    }

    pub(crate) fn push(&mut self, e: LogEntry) {
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
            self.dropped += 1;
        }
        self.entries.push_back(e);
    }

    /// Entries matching `q`, oldest first.
    pub fn query<'a>(&'a self, q: &'a LogQuery) -> impl Iterator<Item = &'a LogEntry> + 'a {
        self.entries.iter().filter(move |e| q.matches(e))
    }

    /// All entries kept, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &LogEntry> {
        self.entries.iter()
    }

    /// Number of entries kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries dropped because of the bound.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}
