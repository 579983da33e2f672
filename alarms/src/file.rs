//! The rules file (TOML): format, loading and positioned errors.
//!
//! ```toml
//! [digest]                      # optional: when the daily digest goes out
//! hour = 7
//! time_zone = "Europe/Copenhagen"
//!
//! [[recipient]]                 # optional
//! name = "ops"
//! address = "ops@example.invalid"
//! immediate = true              # critical occurrences at once
//! digest = true                 # major/minor/warning in the daily digest
//! messages = true               # system messages in the daily digest
//!
//! [[rule]]
//! id = "supply-high"
//! text = "Supply temperature high"        # default: the id
//! description = "..."                     # optional
//! points = ["substation-1/flow_temperature"]   # or [rule.select] device/service/location/tag
//! kind = "high"          # high | low | band | binary | offline | rate | controller | group
//! threshold = 90.0       # high, low, rate (the limit)
//! pre_alarm = 85.0       # optional: high, low, rate
//! hysteresis = 2.0       # default 0
//! delay = "5m"           # activation delay (humantime), default 0s
//! clear_delay = "1m"     # optional
//! notification_delay = "10m"  # optional
//! priority = "major"     # critical | major | minor | warning
//! enabled = true
//! recipients = ["ops"]
//! # band: low, high, low_pre_alarm, high_pre_alarm; binary: raise_on = true|false;
//! # offline: timeout = "15m"; rate: per = "1m", direction = "up"|"down"|"both";
//! # group: children = ["a", "b"]
//! [rule.schedule]
//! time_zone = "Europe/Copenhagen"
//! windows = [{ days = ["weekdays"], from = "07:00", to = "17:00" }]
//! holidays = ["2024-12-24"]
//! ```

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::Error;
use crate::point::Selection;
use crate::rule::{AppliesTo, Condition, DigestConfig, Direction, Priority, Recipient, Rule};
use crate::ruleset::RuleSet;
use crate::schedule::{Schedule, Window};
use crate::toml_file::Source;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    digest: Option<Spanned<DigestSpec>>,
    #[serde(default)]
    recipient: Vec<Spanned<Recipient>>,
    #[serde(default)]
    rule: Vec<Spanned<RuleSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DigestSpec {
    #[serde(default)]
    hour: Option<u8>,
    #[serde(default)]
    time_zone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    description: Option<String>,
    kind: String,
    priority: String,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    points: Option<Vec<String>>,
    #[serde(default)]
    select: Option<Selection>,
    #[serde(default)]
    threshold: Option<f64>,
    #[serde(default)]
    pre_alarm: Option<f64>,
    #[serde(default)]
    low: Option<f64>,
    #[serde(default)]
    high: Option<f64>,
    #[serde(default)]
    low_pre_alarm: Option<f64>,
    #[serde(default)]
    high_pre_alarm: Option<f64>,
    #[serde(default)]
    hysteresis: Option<f64>,
    #[serde(default)]
    delay: Option<String>,
    #[serde(default)]
    clear_delay: Option<String>,
    #[serde(default)]
    notification_delay: Option<String>,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    per: Option<String>,
    #[serde(default)]
    direction: Option<Direction>,
    #[serde(default)]
    raise_on: Option<bool>,
    #[serde(default)]
    recipients: Option<Vec<String>>,
    #[serde(default)]
    children: Option<Vec<String>>,
    #[serde(default)]
    schedule: Option<ScheduleSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleSpec {
    time_zone: String,
    windows: Vec<WindowSpec>,
    #[serde(default)]
    holidays: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowSpec {
    #[serde(default)]
    days: Vec<String>,
    from: String,
    to: String,
}

/// The offset of `key` in the table whose header (`[table]` or `[[table]]`) is at `span`:
/// the key's line in the table's body, or the header's start when the key is not written
/// there (a default, or written inline).
fn key_offset(src: &Source<'_>, span: &Range<usize>, key: &str) -> usize {
    let text = src.text;
    let table = text
        .get(span.clone())
        .unwrap_or("")
        .trim_matches(|c| c == '[' || c == ']' || c == ' ');
    let end = if table.is_empty() {
        span.end.min(text.len())
    } else {
        body_end(text, span, table)
    };
    let start = span.start.min(end);
    let Some(body) = text.get(start..end) else {
        return span.start;
    };
    let mut at = 0usize;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key)
            && (rest.trim_start().starts_with('=')
                || rest.starts_with('.')
                || rest.starts_with(']'))
        {
            return start + at + (line.len() - trimmed.len());
        }
        at += line.len();
    }
    span.start
}

/// The end of the body of the table whose header is at `span`: the next header that is not
/// a sub-table `[table.…]`, or the end of the text.
fn body_end(text: &str, span: &Range<usize>, table: &str) -> usize {
    let from = span.end.min(text.len());
    let sub_table = format!("[{table}.");
    let mut at = from;
    for line in text[from..].split_inclusive('\n') {
        let t = line.trim_start();
        if at > from && t.starts_with('[') && !t.starts_with(&sub_table) {
            return at;
        }
        at += line.len();
    }
    text.len()
}

/// The error at `key` of the table whose header is at `span`.
fn at_key(
    src: &Source<'_>,
    span: &Range<usize>,
    key: &str,
    field: String,
    message: String,
) -> Error {
    let offset = key_offset(src, span, key);
    src.at(offset..offset, field, message).into()
}

/// A field that failed to resolve, relative to its table: (field path, message).
type FieldError = (String, String);

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    (field.to_string(), message.into())
}

/// The shared context of one `[[rule]]`'s resolve steps: where it is, for errors that name
/// the file, line, column and field path.
struct RuleAt<'a> {
    src: &'a Source<'a>,
    /// Its `[[rule]]` header.
    span: Range<usize>,
    /// Its index in the file.
    index: usize,
    /// Its id.
    id: &'a str,
}

impl RuleAt<'_> {
    /// `rule[i].field` at the field's key (the leaf key, `schedule.windows[0]` -> `windows`,
    /// else the first segment, else the header).
    fn err(&self, field: &str, message: impl std::fmt::Display) -> Error {
        let leaf = field
            .rsplit('.')
            .next()
            .unwrap_or(field)
            .split('[')
            .next()
            .unwrap_or(field);
        let first = field.split(['.', '[']).next().unwrap_or(field);
        let offset = match key_offset(self.src, &self.span, leaf) {
            o if o == self.span.start => key_offset(self.src, &self.span, first),
            o => o,
        };
        self.src
            .at(
                offset..offset,
                format!("rule[{}].{field}", self.index),
                format!("rule {:?}: {message}", self.id),
            )
            .into()
    }

    /// Errors of [`RuleSet`] checks on this rule, positioned at their field.
    fn set_err(&self, e: Error) -> Error {
        match e {
            Error::InvalidRule { field, message, .. } => self.err(&field, message),
            Error::DuplicateAlarm(id) => {
                self.err("id", format!("expected a unique id, found {id:?} again"))
            }
            other => other,
        }
    }
}

pub(crate) fn parse(file: &Path, text: &str) -> Result<RuleSet, Error> {
    let src = Source::new(file, text);
    let spec: FileSpec = src.parse()?;
    let mut set = RuleSet::new();
    if let Some(d) = &spec.digest {
        set.set_digest(resolve_digest(&src, d)?)?;
    }
    for (i, r) in spec.recipient.iter().enumerate() {
        set.add_recipient(r.get_ref().clone())
            .map_err(|e| match e {
                Error::InvalidRule { field, message, .. } => at_key(
                    &src,
                    &r.span(),
                    &field,
                    format!("recipient[{i}].{field}"),
                    message,
                ),
                other => other,
            })?;
    }
    for (index, r) in spec.rule.iter().enumerate() {
        let spec = r.get_ref();
        let at = RuleAt {
            src: &src,
            span: r.span(),
            index,
            id: &spec.id,
        };
        let rule = convert(spec).map_err(|(field, m)| at.err(&field, m))?;
        set.add(rule).map_err(|e| at.set_err(e))?;
    }
    // Children once every rule is known.
    for (index, r) in spec.rule.iter().enumerate() {
        let spec = r.get_ref();
        let at = RuleAt {
            src: &src,
            span: r.span(),
            index,
            id: &spec.id,
        };
        for child in spec.children.iter().flatten() {
            set.add_child(&spec.id, child)
                .map_err(|e| at.err("children", e))?;
        }
    }
    Ok(set)
}

/// The `[digest]` table.
fn resolve_digest(src: &Source<'_>, d: &Spanned<DigestSpec>) -> Result<DigestConfig, Error> {
    let span = d.span();
    let d = d.get_ref();
    let mut cfg = DigestConfig::default();
    if let Some(h) = d.hour {
        if h > 23 {
            return Err(at_key(
                src,
                &span,
                "hour",
                "digest.hour".into(),
                format!("expected an hour 0..=23, found {h}"),
            ));
        }
        cfg.hour = h;
    }
    if let Some(tz) = &d.time_zone {
        cfg.time_zone = crate::tz::parse_tz(tz)
            .map_err(|m| at_key(src, &span, "time_zone", "digest.time_zone".into(), m))?;
    }
    Ok(cfg)
}

fn duration(field: &str, v: Option<&String>) -> Result<Duration, FieldError> {
    match v {
        None => Ok(Duration::ZERO),
        Some(s) => crate::time::parse_duration(s).map_err(|m| field_error(field, m)),
    }
}

/// One `[[rule]]`: each part resolved by its own step.
fn convert(s: &RuleSpec) -> Result<Rule, FieldError> {
    let priority: Priority = s.priority.parse().map_err(|m| field_error("priority", m))?;
    check_fields(s)?;
    let kind = resolve_condition(s)?;
    let applies_to = resolve_applies_to(s, &kind)?;
    let schedule = s.schedule.as_ref().map(resolve_schedule).transpose()?;
    Ok(Rule {
        id: s.id.clone(),
        text: s.text.clone().unwrap_or_else(|| s.id.clone()),
        description: s.description.clone().unwrap_or_default(),
        priority,
        enabled: s.enabled.unwrap_or(true),
        applies_to,
        recipients: s.recipients.clone().unwrap_or_default(),
        schedule,
        kind,
        hysteresis: s.hysteresis.unwrap_or(0.0),
        delay: duration("delay", s.delay.as_ref())?,
        notification_delay: duration("notification_delay", s.notification_delay.as_ref())?,
        clear_delay: duration("clear_delay", s.clear_delay.as_ref())?,
    })
}

/// The kind names, and the optional fields each takes.
const KINDS: [(&str, &[&str]); 8] = [
    ("high", &["threshold", "pre_alarm", "hysteresis"]),
    ("low", &["threshold", "pre_alarm", "hysteresis"]),
    (
        "band",
        &[
            "low",
            "high",
            "low_pre_alarm",
            "high_pre_alarm",
            "hysteresis",
        ],
    ),
    ("binary", &["raise_on"]),
    ("offline", &["timeout"]),
    ("controller", &[]),
    (
        "rate",
        &["threshold", "pre_alarm", "hysteresis", "per", "direction"],
    ),
    ("group", &["children"]),
];

/// The kind is known and only the fields it takes are given.
fn check_fields(s: &RuleSpec) -> Result<(), FieldError> {
    let kind = s.kind.as_str();
    let Some((_, allowed)) = KINDS.iter().find(|(name, _)| *name == kind) else {
        return Err(field_error(
            "kind",
            format!(
                "expected one of high, low, band, binary, offline, rate, controller, group, found {kind:?}"
            ),
        ));
    };
    let given: [(&str, bool); 12] = [
        ("threshold", s.threshold.is_some()),
        ("pre_alarm", s.pre_alarm.is_some()),
        ("low", s.low.is_some()),
        ("high", s.high.is_some()),
        ("low_pre_alarm", s.low_pre_alarm.is_some()),
        ("high_pre_alarm", s.high_pre_alarm.is_some()),
        ("hysteresis", s.hysteresis.is_some()),
        ("raise_on", s.raise_on.is_some()),
        ("timeout", s.timeout.is_some()),
        ("per", s.per.is_some()),
        ("direction", s.direction.is_some()),
        ("children", s.children.is_some()),
    ];
    match given.iter().find(|(f, g)| *g && !allowed.contains(f)) {
        Some((field, _)) => Err(field_error(
            field,
            format!("{kind} alarms take no {field}, found one"),
        )),
        None => Ok(()),
    }
}

/// The condition and its thresholds (the kind's fields already checked).
fn resolve_condition(s: &RuleSpec) -> Result<Condition, FieldError> {
    let kind = s.kind.as_str();
    let need = |field: &str, v: Option<f64>| {
        v.ok_or_else(|| field_error(field, format!("{kind} alarms need {field}, found none")))
    };
    Ok(match kind {
        "high" => Condition::High {
            threshold: need("threshold", s.threshold)?,
            pre_alarm: s.pre_alarm,
        },
        "low" => Condition::Low {
            threshold: need("threshold", s.threshold)?,
            pre_alarm: s.pre_alarm,
        },
        "band" => Condition::Band {
            low: need("low", s.low)?,
            high: need("high", s.high)?,
            low_pre_alarm: s.low_pre_alarm,
            high_pre_alarm: s.high_pre_alarm,
        },
        "binary" => Condition::Binary {
            raise_on: s.raise_on.unwrap_or(true),
        },
        "offline" => {
            let Some(timeout) = &s.timeout else {
                return Err(field_error(
                    "timeout",
                    "offline alarms need a timeout such as \"15m\", found none",
                ));
            };
            Condition::Offline {
                timeout: duration("timeout", Some(timeout))?,
            }
        }
        "controller" => Condition::Controller,
        "rate" => {
            let Some(per) = &s.per else {
                return Err(field_error(
                    "per",
                    "rate alarms need per, the unit of time of the limit (e.g. \"1m\"), found none",
                ));
            };
            Condition::Rate {
                limit: need("threshold", s.threshold)?,
                per: duration("per", Some(per))?,
                direction: s.direction.unwrap_or(Direction::Both),
                pre_alarm: s.pre_alarm,
            }
        }
        _ => Condition::Group,
    })
}

/// `points` or `select` (neither for group alarms).
fn resolve_applies_to(s: &RuleSpec, kind: &Condition) -> Result<AppliesTo, FieldError> {
    match (&s.points, &s.select, kind) {
        (None, None, Condition::Group) => Ok(AppliesTo::Children),
        (Some(_), _, Condition::Group) | (_, Some(_), Condition::Group) => Err(field_error(
            "points",
            "group alarms apply to their children, not to points",
        )),
        (Some(_), Some(_), _) => Err(field_error(
            "select",
            "expected points or select, found both",
        )),
        (Some(p), None, _) => Ok(AppliesTo::Points(p.clone())),
        (None, Some(sel), _) => Ok(AppliesTo::Select(sel.clone())),
        (None, None, _) => Err(field_error(
            "points",
            "expected points or select, found neither",
        )),
    }
}

/// `[rule.schedule]`: windows, holidays and the time zone.
fn resolve_schedule(sc: &ScheduleSpec) -> Result<Schedule, FieldError> {
    let mut windows = Vec::with_capacity(sc.windows.len());
    for (w, spec) in sc.windows.iter().enumerate() {
        let days: Vec<&str> = spec.days.iter().map(String::as_str).collect();
        windows.push(
            Window::new(&days, &spec.from, &spec.to)
                .map_err(|m| field_error(&format!("schedule.windows[{w}]"), m))?,
        );
    }
    let mut holidays = Vec::with_capacity(sc.holidays.len());
    for (h, d) in sc.holidays.iter().enumerate() {
        holidays.push(
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                field_error(
                    &format!("schedule.holidays[{h}]"),
                    format!("expected a date \"YYYY-MM-DD\", found {d:?}"),
                )
            })?,
        );
    }
    crate::tz::parse_tz(&sc.time_zone).map_err(|m| field_error("schedule.time_zone", m))?;
    Schedule::new(&sc.time_zone, windows, holidays).map_err(|m| field_error("schedule.windows", m))
}
