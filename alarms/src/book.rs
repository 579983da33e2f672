//! Occurrences, acknowledgement, group alarms and the event log.
//!
//! An occurrence is one episode of an alarm on one target. It goes `new` → `read` →
//! `acknowledged` (operators) and, separately, `pre_alarm` / `active` → `cleared` (the
//! process). Acknowledgement needs a user and a comment and records both with the time;
//! an occurrence that is both cleared and acknowledged is closed. A pre-alarm that never
//! reached the alarm has priority `warning`.
//!
//! Group alarms (kind `group`) summarise their children: a group's occurrence is active
//! while any child is active (a child's pre-alarm does not count); its priority is its own.
//! A group occurrence cannot be acknowledged while one of its active children is
//! unacknowledged; [`Book::causing_children`] drills down.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::engine::{Engine, Transition, TransitionKind};
use crate::log::{Action, EventLog, EventType, LogEntry, Origin};
use crate::rule::{AlarmKind, Priority};
use crate::ruleset::RuleSet;
use crate::sink::EventSink;
use crate::texts::SystemEvent;

/// The process side of an occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The alarm is active.
    Active,
    /// Only the pre-alarm is active.
    PreAlarm,
    /// Neither (the occurrence stays open until acknowledged).
    Cleared,
}

/// The operator side of an occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckState {
    /// Raised, nobody looked yet.
    New,
    /// Seen by an operator.
    Read,
    /// Acknowledged with a comment.
    Acknowledged,
}

/// Who acknowledged, why and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// The user.
    pub user: String,
    /// The comment.
    pub comment: String,
    /// When.
    pub time: DateTime<Utc>,
}

/// One episode of an alarm on one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    /// Unique, increasing id.
    pub id: u64,
    /// The alarm (rule id).
    pub alarm: String,
    /// The point or device (empty for group alarms).
    pub target: String,
    /// Kind of alarm.
    pub kind: AlarmKind,
    /// Where it comes from.
    pub origin: Origin,
    /// The rule's priority once the alarm was raised; `warning` for a pre-alarm only.
    pub priority: Priority,
    /// The rule's text.
    pub text: String,
    /// When it opened (pre-alarm or alarm).
    pub opened_at: DateTime<Utc>,
    /// When the alarm was first raised, if it was.
    pub raised_at: Option<DateTime<Utc>>,
    /// When it cleared.
    pub cleared_at: Option<DateTime<Utc>>,
    /// The alarm detector is on.
    pub alarm_active: bool,
    /// The pre-alarm detector is on.
    pub pre_alarm_active: bool,
    /// Operator state.
    pub state: AckState,
    /// Who read it, when.
    pub read_by: Option<(String, DateTime<Utc>)>,
    /// The acknowledgement.
    pub acknowledgement: Option<Acknowledgement>,
    /// The latest value seen with a transition.
    pub value: Option<f64>,
}

impl Occurrence {
    /// Active, pre-alarm or cleared.
    pub fn status(&self) -> Status {
        if self.alarm_active {
            Status::Active
        } else if self.pre_alarm_active {
            Status::PreAlarm
        } else {
            Status::Cleared
        }
    }

    fn event_type(&self) -> EventType {
        if self.raised_at.is_some() && self.priority != Priority::Warning {
            EventType::Alarm
        } else {
            EventType::Warning
        }
    }
}

/// A transition named by alarm and target, as the book takes it (from the engine, or from
/// anything else producing transitions).
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmEvent {
    /// When.
    pub time: DateTime<Utc>,
    /// The alarm (rule id).
    pub alarm: String,
    /// The point or device.
    pub target: String,
    /// What happened.
    pub kind: TransitionKind,
    /// The value, if any.
    pub value: Option<f64>,
}

impl AlarmEvent {
    /// Name an engine transition.
    pub fn from_transition(engine: &Engine, t: &Transition) -> Option<AlarmEvent> {
        let info = engine.instance(t.instance())?;
        Some(AlarmEvent {
            time: t.time(),
            alarm: info.rule.id.clone(),
            target: info.target.to_string(),
            kind: t.kind(),
            value: t.value(),
        })
    }
}

#[derive(Debug, Clone)]
struct Meta {
    priority: Priority,
    kind: AlarmKind,
    text: String,
    parent: Option<String>,
}

pub(crate) fn origin_of(kind: AlarmKind) -> Origin {
    match kind {
        AlarmKind::Group => Origin::Hierarchical,
        AlarmKind::Controller => Origin::Product,
        AlarmKind::Offline | AlarmKind::System => Origin::Internal,
        _ => Origin::Process,
    }
}

/// Occurrences and the event log of a rule set.
pub struct Book {
    meta: HashMap<String, Meta>,
    children: HashMap<String, Vec<String>>,
    open: BTreeMap<u64, Occurrence>,
    current: HashMap<(String, String), u64>,
    active_children: HashMap<String, usize>,
    log: EventLog,
    sink: Option<Box<dyn EventSink>>,
    next_id: u64,
    next_seq: u64,
}

impl std::fmt::Debug for Book {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Book")
            .field("open", &self.open.len())
            .field("log", &self.log.len())
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

impl Book {
    /// A book for `rules` keeping at most `log_capacity` entries in memory.
    ///
    /// ```
    /// use alarms::{AlarmEvent, Book, Condition, Priority, Rule, RuleSet, TransitionKind};
    /// use chrono::{TimeZone, Utc};
    /// let mut rules = RuleSet::new();
    /// rules.add(Rule::new("pump", Condition::Controller, Priority::Major, &["p1/fault"]))?;
    /// let mut book = Book::new(&rules, 10_000);
    /// let t = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
    /// book.apply(&AlarmEvent { time: t, alarm: "pump".into(), target: "p1/fault".into(), kind: TransitionKind::Raised, value: Some(1.0) })?;
    /// let id = book.open().next().unwrap().id;
    /// book.acknowledge(id, "ann", "pump restarted", t)?;
    /// assert_eq!(book.occurrence(id).unwrap().state, alarms::AckState::Acknowledged);
    /// # Ok::<(), alarms::Error>(())
    /// ```
    pub fn new(rules: &RuleSet, log_capacity: usize) -> Book {
        let meta = rules
            .rules()
            .iter()
            .map(|r| {
                (
                    r.id.clone(),
                    Meta {
                        priority: r.priority,
                        kind: r.kind.alarm_kind(),
                        text: r.text.clone(),
                        parent: rules.parent_of(&r.id).map(str::to_string),
                    },
                )
            })
            .collect();
        let children = rules
            .rules()
            .iter()
            .map(|r| (r.id.clone(), rules.children_of(&r.id).to_vec()))
            .collect();
        Book {
            meta,
            children,
            open: BTreeMap::new(),
            current: HashMap::new(),
            active_children: HashMap::new(),
            log: EventLog::new(log_capacity),
            sink: None,
            next_id: 1,
            next_seq: 1,
        }
    }

    /// Mirror every new entry to `sink`.
    pub fn with_sink(mut self, sink: Box<dyn EventSink>) -> Book {
        self.sink = Some(sink);
        self
    }

    /// Replace the sink.
    pub fn set_sink(&mut self, sink: Option<Box<dyn EventSink>>) {
        self.sink = sink;
    }

    /// The event log.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Open occurrences (not both cleared and acknowledged), by id.
    pub fn open(&self) -> impl Iterator<Item = &Occurrence> {
        self.open.values()
    }

    /// An open occurrence.
    pub fn occurrence(&self, id: u64) -> Option<&Occurrence> {
        self.open.get(&id)
    }

    /// The current (not yet cleared) occurrence of an alarm on a target.
    pub fn current(&self, alarm: &str, target: &str) -> Option<&Occurrence> {
        self.current
            .get(&(alarm.to_string(), target.to_string()))
            .and_then(|id| self.open.get(id))
    }

    /// Record engine transitions; returns the new log entries (for a [`crate::Router`]).
    pub fn apply_transitions(
        &mut self,
        engine: &Engine,
        transitions: &[Transition],
    ) -> Result<Vec<LogEntry>, Error> {
        let mut out = Vec::new();
        for t in transitions {
            if let Some(ev) = AlarmEvent::from_transition(engine, t) {
                self.transition(&ev.alarm, &ev.target, ev.kind, ev.time, ev.value, &mut out)?;
            }
        }
        Ok(out)
    }

    /// Record one transition; returns the new log entries (the group alarms it moves
    /// included). A clear for an alarm with no current occurrence is ignored.
    pub fn apply(&mut self, ev: &AlarmEvent) -> Result<Vec<LogEntry>, Error> {
        let mut out = Vec::new();
        self.transition(&ev.alarm, &ev.target, ev.kind, ev.time, ev.value, &mut out)?;
        Ok(out)
    }

    fn transition(
        &mut self,
        alarm: &str,
        target: &str,
        kind: TransitionKind,
        time: DateTime<Utc>,
        value: Option<f64>,
        out: &mut Vec<LogEntry>,
    ) -> Result<(), Error> {
        let meta = self
            .meta
            .get(alarm)
            .cloned()
            .ok_or_else(|| Error::UnknownAlarm(alarm.to_string()))?;
        let key = (alarm.to_string(), target.to_string());
        let raising = matches!(kind, TransitionKind::Raised | TransitionKind::PreAlarm);
        let id = match self.current.get(&key) {
            Some(&id) => id,
            None if raising => {
                let id = self.next_id;
                self.next_id += 1;
                self.open.insert(
                    id,
                    Occurrence {
                        id,
                        alarm: alarm.to_string(),
                        target: target.to_string(),
                        kind: meta.kind,
                        origin: origin_of(meta.kind),
                        priority: Priority::Warning,
                        text: meta.text.clone(),
                        opened_at: time,
                        raised_at: None,
                        cleared_at: None,
                        alarm_active: false,
                        pre_alarm_active: false,
                        state: AckState::New,
                        read_by: None,
                        acknowledgement: None,
                        value,
                    },
                );
                self.current.insert(key.clone(), id);
                id
            }
            None => return Ok(()),
        };
        let Some(occ) = self.open.get_mut(&id) else {
            return Ok(());
        };
        let was_active = occ.alarm_active;
        match kind {
            TransitionKind::Raised => {
                occ.alarm_active = true;
                occ.priority = meta.priority;
                occ.raised_at.get_or_insert(time);
            }
            TransitionKind::PreAlarm => occ.pre_alarm_active = true,
            TransitionKind::Cleared => occ.alarm_active = false,
            TransitionKind::PreAlarmCleared => occ.pre_alarm_active = false,
        }
        if value.is_some() {
            occ.value = value;
        }
        let ended = !occ.alarm_active && !occ.pre_alarm_active;
        if ended {
            occ.cleared_at = Some(time);
        }
        let action = match kind {
            TransitionKind::Raised => Action::Raised,
            TransitionKind::PreAlarm => Action::PreAlarm,
            TransitionKind::Cleared => Action::Cleared,
            TransitionKind::PreAlarmCleared => Action::PreAlarmCleared,
        };
        let entry = self.entry_for(id, action, time, value, None, None);
        let now_active = occ_active(&self.open, id);
        self.record(entry, out)?;
        if ended {
            self.current.remove(&key);
        }
        if now_active != was_active {
            self.child_changed(alarm, now_active, time, out)?;
        }
        if ended
            && self
                .open
                .get(&id)
                .is_some_and(|o| o.state == AckState::Acknowledged)
        {
            self.close(id, time, out)?;
        }
        Ok(())
    }

    /// A child's alarm went on or off: move its parent group.
    fn child_changed(
        &mut self,
        child: &str,
        active: bool,
        time: DateTime<Utc>,
        out: &mut Vec<LogEntry>,
    ) -> Result<(), Error> {
        let Some(parent) = self.meta.get(child).and_then(|m| m.parent.clone()) else {
            return Ok(());
        };
        let count = self.active_children.entry(parent.clone()).or_insert(0);
        if active {
            *count += 1;
            if *count == 1 {
                self.transition(&parent, "", TransitionKind::Raised, time, None, out)?;
            }
        } else {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.transition(&parent, "", TransitionKind::Cleared, time, None, out)?;
            }
        }
        Ok(())
    }

    fn entry_for(
        &mut self,
        id: u64,
        action: Action,
        time: DateTime<Utc>,
        value: Option<f64>,
        user: Option<&str>,
        comment: Option<&str>,
    ) -> LogEntry {
        let seq = self.next_seq;
        self.next_seq += 1;
        let o = &self.open[&id];
        LogEntry {
            seq,
            time,
            action,
            event_type: o.event_type(),
            origin: o.origin,
            kind: o.kind,
            occurrence: Some(id),
            alarm: Some(o.alarm.clone()),
            target: Some(o.target.clone()),
            priority: Some(o.priority),
            status: Some(o.status()),
            state: Some(o.state),
            user: user.map(str::to_string),
            comment: comment.map(str::to_string),
            text: o.text.clone(),
            value,
        }
    }

    fn record(&mut self, entry: LogEntry, out: &mut Vec<LogEntry>) -> Result<(), Error> {
        self.log.push(entry.clone());
        let written = match &mut self.sink {
            Some(s) => s.write(&entry),
            None => Ok(()),
        };
        out.push(entry);
        written
    }

    fn close(
        &mut self,
        id: u64,
        time: DateTime<Utc>,
        out: &mut Vec<LogEntry>,
    ) -> Result<(), Error> {
        let entry = self.entry_for(id, Action::Closed, time, None, None, None);
        self.open.remove(&id);
        self.record(entry, out)
    }

    /// An operator has seen the occurrence (`new` → `read`; no change otherwise).
    pub fn read(
        &mut self,
        id: u64,
        user: &str,
        time: DateTime<Utc>,
    ) -> Result<Vec<LogEntry>, Error> {
        if user.trim().is_empty() {
            return Err(Error::Missing {
                occurrence: id,
                what: "user",
            });
        }
        let occ = self.open.get_mut(&id).ok_or(Error::UnknownOccurrence(id))?;
        let mut out = Vec::new();
        if occ.state == AckState::New {
            occ.state = AckState::Read;
            occ.read_by = Some((user.to_string(), time));
            let entry = self.entry_for(id, Action::Read, time, None, Some(user), None);
            self.record(entry, &mut out)?;
        }
        Ok(out)
    }

    /// Acknowledge with a user and a comment. A cleared occurrence is closed by it. A group
    /// occurrence is refused while any of its active children is unacknowledged.
    pub fn acknowledge(
        &mut self,
        id: u64,
        user: &str,
        comment: &str,
        time: DateTime<Utc>,
    ) -> Result<Vec<LogEntry>, Error> {
        let occ = self.open.get(&id).ok_or(Error::UnknownOccurrence(id))?;
        if user.trim().is_empty() {
            return Err(Error::Missing {
                occurrence: id,
                what: "user",
            });
        }
        if comment.trim().is_empty() {
            return Err(Error::Missing {
                occurrence: id,
                what: "comment",
            });
        }
        if occ.state == AckState::Acknowledged {
            return Err(Error::AlreadyAcknowledged(id));
        }
        if occ.kind == AlarmKind::Group {
            let waiting: Vec<String> = self
                .causing_children(id)
                .into_iter()
                .filter(|c| c.state != AckState::Acknowledged)
                .map(|c| {
                    if c.target.is_empty() {
                        format!("#{} {:?}", c.id, c.alarm)
                    } else {
                        format!("#{} {:?} on {:?}", c.id, c.alarm, c.target)
                    }
                })
                .collect();
            if !waiting.is_empty() {
                return Err(Error::ChildrenNotAcknowledged {
                    occurrence: id,
                    alarm: occ.alarm.clone(),
                    children: waiting.join(", "),
                });
            }
        }
        let mut out = Vec::new();
        let Some(occ) = self.open.get_mut(&id) else {
            return Err(Error::UnknownOccurrence(id));
        };
        occ.state = AckState::Acknowledged;
        occ.acknowledgement = Some(Acknowledgement {
            user: user.to_string(),
            comment: comment.to_string(),
            time,
        });
        let cleared = occ.status() == Status::Cleared;
        let entry = self.entry_for(
            id,
            Action::Acknowledged,
            time,
            None,
            Some(user),
            Some(comment),
        );
        self.record(entry, &mut out)?;
        if cleared {
            self.close(id, time, &mut out)?;
        }
        Ok(out)
    }

    /// The active occurrences of a group occurrence's direct children (drill-down).
    pub fn causing_children(&self, id: u64) -> Vec<&Occurrence> {
        let Some(occ) = self.open.get(&id) else {
            return Vec::new();
        };
        let Some(children) = self.children.get(&occ.alarm) else {
            return Vec::new();
        };
        self.open
            .values()
            .filter(|o| o.alarm_active && children.contains(&o.alarm))
            .collect()
    }

    /// Record a message (a system event); messages need no acknowledgement.
    pub fn message(&mut self, time: DateTime<Utc>, event: &SystemEvent) -> Result<LogEntry, Error> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = LogEntry {
            seq,
            time,
            action: Action::Message,
            event_type: event.event_type,
            origin: event.origin,
            kind: AlarmKind::System,
            occurrence: None,
            alarm: Some(event.code.clone()),
            target: None,
            priority: None,
            status: None,
            state: None,
            user: None,
            comment: None,
            text: event.text.clone(),
            value: None,
        };
        let mut out = Vec::new();
        self.record(entry.clone(), &mut out)?;
        Ok(entry)
    }

    /// Rebuild a book from an event log file written by [`crate::JsonLinesSink`]: the open
    /// occurrences, their states, the in-memory log (up to `log_capacity`) and the counters.
    pub fn replay_file(
        rules: &RuleSet,
        path: impl AsRef<Path>,
        log_capacity: usize,
    ) -> Result<Book, Error> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| Error::Io {
            file: path.to_path_buf(),
            message: format!("cannot read: {e}"),
        })?;
        Book::replay(rules, path, std::io::BufReader::new(file), log_capacity)
    }

    /// [`Book::replay_file`] from any reader; `file` names it in errors.
    pub fn replay(
        rules: &RuleSet,
        file: &Path,
        reader: impl BufRead,
        log_capacity: usize,
    ) -> Result<Book, Error> {
        let mut book = Book::new(rules, log_capacity);
        for (n, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| Error::Io {
                file: file.to_path_buf(),
                message: format!("cannot read: {e}"),
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let entry = log_entry(file, n + 1, &line)?;
            book.restore(entry);
        }
        // Group counts from the open occurrences.
        let mut counts: HashMap<String, usize> = HashMap::new();
        for o in book.open.values().filter(|o| o.alarm_active) {
            if let Some(p) = book.meta.get(&o.alarm).and_then(|m| m.parent.clone()) {
                *counts.entry(p).or_insert(0) += 1;
            }
        }
        book.active_children = counts;
        Ok(book)
    }

    fn restore(&mut self, e: LogEntry) {
        self.next_seq = self.next_seq.max(e.seq + 1);
        if let Some(id) = e.occurrence {
            self.next_id = self.next_id.max(id + 1);
            let key = (
                e.alarm.clone().unwrap_or_default(),
                e.target.clone().unwrap_or_default(),
            );
            match e.action {
                Action::Raised | Action::PreAlarm | Action::Cleared | Action::PreAlarmCleared => {
                    let occ = self.open.entry(id).or_insert_with(|| Occurrence {
                        id,
                        alarm: key.0.clone(),
                        target: key.1.clone(),
                        kind: e.kind,
                        origin: e.origin,
                        priority: Priority::Warning,
                        text: e.text.clone(),
                        opened_at: e.time,
                        raised_at: None,
                        cleared_at: None,
                        alarm_active: false,
                        pre_alarm_active: false,
                        state: AckState::New,
                        read_by: None,
                        acknowledgement: None,
                        value: None,
                    });
                    match e.action {
                        Action::Raised => {
                            occ.alarm_active = true;
                            occ.raised_at.get_or_insert(e.time);
                        }
                        Action::PreAlarm => occ.pre_alarm_active = true,
                        Action::Cleared => occ.alarm_active = false,
                        _ => occ.pre_alarm_active = false,
                    }
                    if let Some(p) = e.priority {
                        occ.priority = p;
                    }
                    if e.value.is_some() {
                        occ.value = e.value;
                    }
                    if occ.status() == Status::Cleared {
                        occ.cleared_at = Some(e.time);
                        self.current.remove(&key);
                    } else {
                        self.current.insert(key, id);
                    }
                }
                Action::Read => {
                    if let Some(o) = self.open.get_mut(&id) {
                        o.state = AckState::Read;
                        o.read_by = Some((e.user.clone().unwrap_or_default(), e.time));
                    }
                }
                Action::Acknowledged => {
                    if let Some(o) = self.open.get_mut(&id) {
                        o.state = AckState::Acknowledged;
                        o.acknowledgement = Some(Acknowledgement {
                            user: e.user.clone().unwrap_or_default(),
                            comment: e.comment.clone().unwrap_or_default(),
                            time: e.time,
                        });
                    }
                }
                Action::Closed => {
                    self.open.remove(&id);
                    if self.current.get(&key) == Some(&id) {
                        self.current.remove(&key);
                    }
                }
                Action::Message => {}
            }
        }
        self.log.push(e);
    }

    /// Put the engine's detectors of the open, still active occurrences back to active, so
    /// conditions that still hold after a restart are not raised twice.
    pub fn restore_engine(&self, engine: &mut Engine) {
        for o in self
            .open
            .values()
            .filter(|o| o.status() != Status::Cleared && o.kind != AlarmKind::Group)
        {
            if let Some(i) = engine.find_instance(&o.alarm, &o.target) {
                engine.restore_active(i, o.alarm_active, o.pre_alarm_active);
            }
        }
    }
}

/// One event-log line as a [`LogEntry`]; a failure is an [`Error::InvalidFile`] at the JSON
/// line (`line_no`), the column in characters, and the field path (`(line)` for none).
fn log_entry(file: &Path, line_no: usize, line: &str) -> Result<LogEntry, Error> {
    let invalid = |column_bytes: usize, field: String, e: &serde_json::Error| {
        // serde_json counts bytes read on the line; the fault is the last one read.
        let src = crate::toml_file::Source::new(file, line);
        let (_, column) = src.position(column_bytes.saturating_sub(1));
        let message = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        Error::InvalidFile {
            file: file.to_path_buf(),
            line: line_no,
            column,
            field: if field.is_empty() || field == "." {
                "(line)".to_string()
            } else {
                field
            },
            message: message
                .strip_suffix(&suffix)
                .unwrap_or(&message)
                .to_string(),
        }
    };
    let mut de = serde_json::Deserializer::from_str(line);
    let entry: LogEntry = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| invalid(e.inner().column(), e.path().to_string(), e.inner()))?;
    de.end()
        .map_err(|e| invalid(e.column(), String::new(), &e))?;
    Ok(entry)
}

fn occ_active(open: &BTreeMap<u64, Occurrence>, id: u64) -> bool {
    open.get(&id).is_some_and(|o| o.alarm_active)
}
