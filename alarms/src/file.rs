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

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::Error;
use crate::point::Selection;
use crate::rule::{AppliesTo, Condition, DigestConfig, Direction, Priority, Recipient, Rule};
use crate::ruleset::RuleSet;
use crate::schedule::{Schedule, Window};

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

/// Positions in the source text.
pub(crate) struct Source<'a> {
    pub(crate) file: &'a Path,
    pub(crate) text: &'a str,
}

impl Source<'_> {
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let mut end = offset.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &self.text[..end];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rfind('\n')
            .map_or(before.len(), |i| before.len() - i - 1)
            + 1;
        (line, column)
    }

    pub(crate) fn err(&self, offset: usize, field: String, message: String) -> Error {
        let (line, column) = self.position(offset);
        Error::Format {
            file: self.file.to_path_buf(),
            line,
            column,
            field,
            message,
        }
    }

    /// The end of the body of the array-of-tables element whose header is at `span`
    /// (`[[table]]`): the next header that is not a sub-table `[table.…]`, or the end.
    fn body_end(&self, span: &std::ops::Range<usize>, table: &str) -> usize {
        let from = span.end.min(self.text.len());
        let mut at = from;
        for line in self.text[from..].split_inclusive('\n') {
            let t = line.trim_start();
            if at > from && t.starts_with('[') && !t.starts_with(&format!("[{table}.")) {
                return at;
            }
            at += line.len();
        }
        self.text.len()
    }

    /// The offset of `key =` inside the table `table` whose header is at `span` (start of a
    /// line), or the header's start.
    fn key_offset(&self, span: &std::ops::Range<usize>, key: &str) -> usize {
        let table = self
            .text
            .get(span.clone())
            .unwrap_or("")
            .trim_matches(|c| c == '[' || c == ']' || c == ' ');
        let end = if table.is_empty() {
            span.end.min(self.text.len())
        } else {
            self.body_end(span, table)
        };
        let start = span.start.min(end);
        let Some(body) = self.text.get(start..end) else {
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
}

fn toml_error(src: &Source<'_>, e: &toml::de::Error, field: String) -> Error {
    let offset = e.span().map_or(0, |s| s.start);
    let field = if field.is_empty() || field == "." {
        "(file)".to_string()
    } else {
        field
    };
    src.err(offset, field, e.message().trim().to_string())
}

/// Deserialize TOML with positioned, field-named errors.
pub(crate) fn deserialize<T: serde::de::DeserializeOwned>(src: &Source<'_>) -> Result<T, Error> {
    let de = toml::Deserializer::parse(src.text).map_err(|e| toml_error(src, &e, String::new()))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e
            .path()
            .to_string()
            .split('.')
            .filter(|s| !s.starts_with("$__serde_spanned"))
            .collect::<Vec<_>>()
            .join(".");
        toml_error(src, e.inner(), field)
    })
}

pub(crate) fn parse(file: &Path, text: &str) -> Result<RuleSet, Error> {
    let src = Source { file, text };
    let spec: FileSpec = deserialize(&src)?;
    let mut set = RuleSet::new();
    if let Some(d) = &spec.digest {
        let span = d.span();
        let d = d.get_ref();
        let mut cfg = DigestConfig::default();
        if let Some(h) = d.hour {
            if h > 23 {
                return Err(src.err(
                    src.key_offset(&span, "hour"),
                    "digest.hour".into(),
                    format!("expected an hour 0..=23, found {h}"),
                ));
            }
            cfg.hour = h;
        }
        if let Some(tz) = &d.time_zone {
            cfg.time_zone = crate::schedule::parse_tz(tz).map_err(|m| {
                src.err(
                    src.key_offset(&span, "time_zone"),
                    "digest.time_zone".into(),
                    m,
                )
            })?;
        }
        set.set_digest(cfg)?;
    }
    for (i, r) in spec.recipient.iter().enumerate() {
        let span = r.span();
        set.add_recipient(r.get_ref().clone())
            .map_err(|e| match e {
                Error::InvalidRule { field, message, .. } => src.err(
                    src.key_offset(&span, &field),
                    format!("recipient[{i}].{field}"),
                    message,
                ),
                other => other,
            })?;
    }
    let mut groups: Vec<(usize, std::ops::Range<usize>, String, Vec<String>)> = Vec::new();
    for (i, r) in spec.rule.iter().enumerate() {
        let span = r.span();
        let spec = r.get_ref();
        let positioned = |field: &str, message: String| {
            // The leaf key (`schedule.windows[0]` -> `windows`), else the first segment.
            let leaf = field
                .rsplit('.')
                .next()
                .unwrap_or(field)
                .split('[')
                .next()
                .unwrap_or(field);
            let first = field.split(['.', '[']).next().unwrap_or(field);
            let offset = match src.key_offset(&span, leaf) {
                o if o == span.start => src.key_offset(&span, first),
                o => o,
            };
            src.err(
                offset,
                format!("rule[{i}].{field}"),
                format!("rule {:?}: {message}", spec.id),
            )
        };
        let rule = convert(spec).map_err(|(f, m)| positioned(&f, m))?;
        set.add(rule).map_err(|e| match e {
            Error::InvalidRule { field, message, .. } => positioned(&field, message),
            Error::DuplicateAlarm(id) => {
                positioned("id", format!("expected a unique id, found {id:?} again"))
            }
            other => other,
        })?;
        if let Some(children) = &spec.children {
            groups.push((i, span, spec.id.clone(), children.clone()));
        }
    }
    for (i, span, parent, children) in groups {
        for child in children {
            set.add_child(&parent, &child).map_err(|e| {
                src.err(
                    src.key_offset(&span, "children"),
                    format!("rule[{i}].children"),
                    format!("rule {parent:?}: {e}"),
                )
            })?;
        }
    }
    Ok(set)
}

type FieldError = (String, String);

fn duration(field: &str, v: &Option<String>) -> Result<Duration, FieldError> {
    match v {
        None => Ok(Duration::ZERO),
        Some(s) => crate::time::parse_duration(s).map_err(|m| (field.to_string(), m)),
    }
}

fn convert(s: &RuleSpec) -> Result<Rule, FieldError> {
    let fe = |field: &str, m: String| (field.to_string(), m);
    let priority: Priority = s.priority.parse().map_err(|m| fe("priority", m))?;
    let kind_name = s.kind.as_str();
    // Which optional fields each kind takes.
    let allowed: &[&str] = match kind_name {
        "high" | "low" => &["threshold", "pre_alarm", "hysteresis"],
        "band" => &[
            "low",
            "high",
            "low_pre_alarm",
            "high_pre_alarm",
            "hysteresis",
        ],
        "binary" => &["raise_on"],
        "offline" => &["timeout"],
        "controller" => &[],
        "rate" => &["threshold", "pre_alarm", "hysteresis", "per", "direction"],
        "group" => &["children"],
        other => {
            return Err(fe(
                "kind",
                format!(
                    "expected one of high, low, band, binary, offline, rate, controller, group, found {other:?}"
                ),
            ));
        }
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
    if let Some((field, _)) = given.iter().find(|(f, g)| *g && !allowed.contains(f)) {
        return Err(fe(
            field,
            format!("{kind_name} alarms take no {field}, found one"),
        ));
    }
    let need = |field: &str, v: Option<f64>| {
        v.ok_or_else(|| {
            fe(
                field,
                format!("{kind_name} alarms need {field}, found none"),
            )
        })
    };
    let kind = match kind_name {
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
            let timeout = duration("timeout", &s.timeout)?;
            if s.timeout.is_none() {
                return Err(fe(
                    "timeout",
                    "offline alarms need a timeout such as \"15m\", found none".into(),
                ));
            }
            Condition::Offline { timeout }
        }
        "controller" => Condition::Controller,
        "rate" => {
            if s.per.is_none() {
                return Err(fe(
                    "per",
                    "rate alarms need per, the unit of time of the limit (e.g. \"1m\"), found none"
                        .into(),
                ));
            }
            Condition::Rate {
                limit: need("threshold", s.threshold)?,
                per: duration("per", &s.per)?,
                direction: s.direction.unwrap_or(Direction::Both),
                pre_alarm: s.pre_alarm,
            }
        }
        _ => Condition::Group,
    };
    let applies_to = match (&s.points, &s.select, &kind) {
        (None, None, Condition::Group) => AppliesTo::Children,
        (Some(_), _, Condition::Group) | (_, Some(_), Condition::Group) => {
            return Err(fe(
                "points",
                "group alarms apply to their children, not to points".into(),
            ));
        }
        (Some(_), Some(_), _) => {
            return Err(fe("select", "expected points or select, found both".into()));
        }
        (Some(p), None, _) => AppliesTo::Points(p.clone()),
        (None, Some(sel), _) => AppliesTo::Select(sel.clone()),
        (None, None, _) => {
            return Err(fe(
                "points",
                "expected points or select, found neither".into(),
            ));
        }
    };
    let schedule = match &s.schedule {
        None => None,
        Some(sc) => {
            let mut windows = Vec::with_capacity(sc.windows.len());
            for (w, spec) in sc.windows.iter().enumerate() {
                let days: Vec<&str> = spec.days.iter().map(String::as_str).collect();
                windows.push(
                    Window::new(&days, &spec.from, &spec.to)
                        .map_err(|m| fe(&format!("schedule.windows[{w}]"), m))?,
                );
            }
            let mut holidays = Vec::with_capacity(sc.holidays.len());
            for (h, d) in sc.holidays.iter().enumerate() {
                holidays.push(
                    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                        fe(
                            &format!("schedule.holidays[{h}]"),
                            format!("expected a date \"YYYY-MM-DD\", found {d:?}"),
                        )
                    })?,
                );
            }
            crate::schedule::parse_tz(&sc.time_zone).map_err(|m| fe("schedule.time_zone", m))?;
            Some(
                Schedule::new(&sc.time_zone, windows, holidays)
                    .map_err(|m| fe("schedule.windows", m))?,
            )
        }
    };
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
        delay: duration("delay", &s.delay)?,
        notification_delay: duration("notification_delay", &s.notification_delay)?,
        clear_delay: duration("clear_delay", &s.clear_delay)?,
    })
}
