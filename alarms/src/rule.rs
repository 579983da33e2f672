//! The rule model: what an alarm watches, how it decides, who hears about it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::point::Selection;
use crate::schedule::Schedule;

/// How urgent an occurrence is. Critical ones notify at once and drive the relay output;
/// the others go into the daily digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Wake someone up.
    Critical,
    /// Important, next working day.
    Major,
    /// Minor.
    Minor,
    /// A warning (also the priority of pre-alarms).
    Warning,
}

impl Priority {
    /// The lowercase name used in files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::Major => "major",
            Priority::Minor => "minor",
            Priority::Warning => "warning",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = String;
    /// ```
    /// assert_eq!("major".parse::<alarms::Priority>(), Ok(alarms::Priority::Major));
    /// assert!("urgent".parse::<alarms::Priority>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "critical" => Priority::Critical,
            "major" => Priority::Major,
            "minor" => Priority::Minor,
            "warning" => Priority::Warning,
            _ => {
                return Err(format!(
                    "expected one of critical, major, minor, warning, found {s:?}"
                ));
            }
        })
    }
}

/// Which way a rate-of-change rule looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Rising faster than the limit.
    Up,
    /// Falling faster than the limit.
    Down,
    /// Either.
    Both,
}

/// What decides the alarm, with its thresholds.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Active above `threshold`, inactive below `threshold - hysteresis`.
    High {
        /// trigger threshold
        threshold: f64,
        /// pre-alarm (warning) threshold, below `threshold`
        pre_alarm: Option<f64>,
    },
    /// Active below `threshold`, inactive above `threshold + hysteresis`.
    Low {
        /// trigger threshold
        threshold: f64,
        /// pre-alarm (warning) threshold, above `threshold`
        pre_alarm: Option<f64>,
    },
    /// Active below `low` or above `high`.
    Band {
        /// low trigger threshold
        low: f64,
        /// high trigger threshold
        high: f64,
        /// low pre-alarm threshold, above `low`
        low_pre_alarm: Option<f64>,
        /// high pre-alarm threshold, below `high`
        high_pre_alarm: Option<f64>,
    },
    /// Active while the value is `raise_on` (true is any non-zero value).
    Binary {
        /// the value that raises
        raise_on: bool,
    },
    /// Active when a device has not communicated successfully for `timeout`.
    Offline {
        /// how long without a good sample
        timeout: Duration,
    },
    /// An alarm bit or code read from the device: active while non-zero, raised and cleared
    /// by the device (no hysteresis).
    Controller,
    /// Active while the value moves faster than `limit` per `per`.
    Rate {
        /// the limit, in value units per `per`
        limit: f64,
        /// the unit of time of `limit`
        per: Duration,
        /// which way counts
        direction: Direction,
        /// pre-alarm rate limit, below `limit`
        pre_alarm: Option<f64>,
    },
    /// A hierarchical alarm: active while any of its children is active.
    Group,
}

/// The kind of an alarm without its parameters, as the event log filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlarmKind {
    /// high threshold
    High,
    /// low threshold
    Low,
    /// band
    Band,
    /// binary
    Binary,
    /// offline
    Offline,
    /// controller alarm
    Controller,
    /// rate of change
    Rate,
    /// hierarchical
    Group,
    /// a system event (not a rule)
    System,
}

impl AlarmKind {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::High => "high",
            AlarmKind::Low => "low",
            AlarmKind::Band => "band",
            AlarmKind::Binary => "binary",
            AlarmKind::Offline => "offline",
            AlarmKind::Controller => "controller",
            AlarmKind::Rate => "rate",
            AlarmKind::Group => "group",
            AlarmKind::System => "system",
        }
    }
}

impl Condition {
    /// The kind's name.
    pub fn alarm_kind(&self) -> AlarmKind {
        match self {
            Condition::High { .. } => AlarmKind::High,
            Condition::Low { .. } => AlarmKind::Low,
            Condition::Band { .. } => AlarmKind::Band,
            Condition::Binary { .. } => AlarmKind::Binary,
            Condition::Offline { .. } => AlarmKind::Offline,
            Condition::Controller => AlarmKind::Controller,
            Condition::Rate { .. } => AlarmKind::Rate,
            Condition::Group => AlarmKind::Group,
        }
    }
}

/// What a rule applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum AppliesTo {
    /// Explicit point names (`device/service`). Offline rules watch these points' devices.
    Points(Vec<String>),
    /// Points of the caller's point list matching the selection.
    Select(Selection),
    /// Nothing directly (group alarms).
    Children,
}

/// One alarm rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique id, e.g. `"supply-high"`.
    pub id: String,
    /// Short text shown to operators.
    pub text: String,
    /// Longer description.
    pub description: String,
    /// Priority of its occurrences.
    pub priority: Priority,
    /// Disabled rules are kept but never evaluated.
    pub enabled: bool,
    /// Points or devices it applies to.
    pub applies_to: AppliesTo,
    /// Recipient names (defined in the rule set); empty: nobody is notified.
    pub recipients: Vec<String>,
    /// Outside the schedule the rule does not raise.
    pub schedule: Option<Schedule>,
    /// The decision and its thresholds.
    pub kind: Condition,
    /// Hysteresis in value units (0 for none).
    pub hysteresis: f64,
    /// Activation delay: a crossing raises only once it has lasted at least this long.
    pub delay: Duration,
    /// Notification delay: notify only if the occurrence is still active after this long.
    pub notification_delay: Duration,
    /// Clearing delay: the value must stay normal this long before the alarm clears.
    pub clear_delay: Duration,
}

impl Rule {
    /// A rule with defaults (text = id, enabled, no delays, no hysteresis) on explicit points.
    ///
    /// ```
    /// use alarms::{Condition, Priority, Rule};
    /// let mut r = Rule::new("supply-high", Condition::High { threshold: 90.0, pre_alarm: Some(85.0) }, Priority::Major, &["sub-1/flow_temperature"]);
    /// r.hysteresis = 2.0;
    /// r.delay = std::time::Duration::from_secs(300);
    /// assert!(r.validate().is_ok());
    /// ```
    pub fn new(id: &str, kind: Condition, priority: Priority, points: &[&str]) -> Rule {
        let applies_to = if matches!(kind, Condition::Group) {
            AppliesTo::Children
        } else {
            AppliesTo::Points(points.iter().map(|p| p.to_string()).collect())
        };
        Rule {
            id: id.to_string(),
            text: id.to_string(),
            description: String::new(),
            priority,
            enabled: true,
            applies_to,
            recipients: Vec::new(),
            schedule: None,
            kind,
            hysteresis: 0.0,
            delay: Duration::ZERO,
            notification_delay: Duration::ZERO,
            clear_delay: Duration::ZERO,
        }
    }

    /// Check the rule's consistency; errors name the rule and the field.
    pub fn validate(&self) -> Result<(), Error> {
        if self.id.trim().is_empty() {
            return Err(self.invalid("id", "expected a non-empty id, found an empty string"));
        }
        self.check_times()?;
        self.check_applies_to()?;
        match &self.kind {
            Condition::High {
                threshold,
                pre_alarm,
            } => self.check_threshold(*threshold, *pre_alarm, "high"),
            Condition::Low {
                threshold,
                pre_alarm,
            } => self.check_threshold(*threshold, *pre_alarm, "low"),
            Condition::Band {
                low,
                high,
                low_pre_alarm,
                high_pre_alarm,
            } => self.check_band(*low, *high, *low_pre_alarm, *high_pre_alarm),
            Condition::Binary { .. } => self.no_hysteresis("binary"),
            Condition::Controller => self.no_hysteresis("controller"),
            Condition::Offline { timeout } => self.check_offline(*timeout),
            Condition::Rate {
                limit,
                per,
                pre_alarm,
                ..
            } => self.check_rate(*limit, *per, *pre_alarm),
            Condition::Group => self.check_group(),
        }
    }

    /// The error of `field` of this rule.
    fn invalid(&self, field: &str, message: impl Into<String>) -> Error {
        Error::rule(&self.id, field, message)
    }

    fn finite(&self, field: &str, v: f64) -> Result<(), Error> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(self.invalid(field, format!("expected a finite number, found {v}")))
        }
    }

    /// Hysteresis and delays.
    fn check_times(&self) -> Result<(), Error> {
        if !(self.hysteresis >= 0.0 && self.hysteresis.is_finite()) {
            return Err(self.invalid(
                "hysteresis",
                format!("expected a hysteresis >= 0, found {}", self.hysteresis),
            ));
        }
        for d in [self.delay, self.notification_delay, self.clear_delay] {
            crate::time::duration_micros(d).map_err(|e| self.invalid("delay", e.to_string()))?;
        }
        Ok(())
    }

    /// Points, a selection, or children (group alarms).
    fn check_applies_to(&self) -> Result<(), Error> {
        match &self.applies_to {
            AppliesTo::Points(p) if p.is_empty() => {
                Err(self.invalid("points", "expected at least one point, found none"))
            }
            AppliesTo::Points(p) => match p.iter().find(|p| p.trim().is_empty()) {
                Some(bad) => Err(self.invalid(
                    "points",
                    format!("expected point names \"device/service\", found {bad:?}"),
                )),
                None => Ok(()),
            },
            AppliesTo::Select(s) if s.is_empty() => Err(self.invalid(
                "select",
                "expected at least one of device, service, location, tag, found none",
            )),
            AppliesTo::Children if !matches!(self.kind, Condition::Group) => {
                Err(self.invalid("points", "expected points or a selection, found neither"))
            }
            AppliesTo::Select(_) | AppliesTo::Children => Ok(()),
        }
    }

    fn no_hysteresis(&self, what: &str) -> Result<(), Error> {
        if self.hysteresis != 0.0 {
            return Err(self.invalid(
                "hysteresis",
                format!(
                    "{what} alarms take no hysteresis, found {}",
                    self.hysteresis
                ),
            ));
        }
        Ok(())
    }

    /// High (`which` = "high": the pre-alarm below) or low (the pre-alarm above).
    fn check_threshold(
        &self,
        threshold: f64,
        pre_alarm: Option<f64>,
        which: &str,
    ) -> Result<(), Error> {
        self.finite("threshold", threshold)?;
        let Some(p) = pre_alarm else {
            return Ok(());
        };
        self.finite("pre_alarm", p)?;
        let (wrong_side, side) = if which == "high" {
            (p >= threshold, "below")
        } else {
            (p <= threshold, "above")
        };
        if wrong_side {
            return Err(self.invalid(
                "pre_alarm",
                format!("expected a pre-alarm {side} the {which} threshold {threshold}, found {p}"),
            ));
        }
        Ok(())
    }

    fn check_band(
        &self,
        low: f64,
        high: f64,
        low_pre_alarm: Option<f64>,
        high_pre_alarm: Option<f64>,
    ) -> Result<(), Error> {
        self.finite("low", low)?;
        self.finite("high", high)?;
        if low >= high {
            return Err(self.invalid(
                "low",
                format!("expected low below high ({high}), found low = {low}"),
            ));
        }
        let h = self.hysteresis;
        if low + h >= high - h {
            return Err(self.invalid(
                "hysteresis",
                format!(
                    "expected low + hysteresis below high - hysteresis so the alarm can clear, found {low} + {h} >= {high} - {h}"
                ),
            ));
        }
        if let Some(p) = low_pre_alarm {
            self.finite("low_pre_alarm", p)?;
            if p <= low {
                return Err(self.invalid(
                    "low_pre_alarm",
                    format!("expected a pre-alarm above the low threshold {low}, found {p}"),
                ));
            }
        }
        if let Some(p) = high_pre_alarm {
            self.finite("high_pre_alarm", p)?;
            if p >= high {
                return Err(self.invalid(
                    "high_pre_alarm",
                    format!("expected a pre-alarm below the high threshold {high}, found {p}"),
                ));
            }
        }
        if let (Some(lp), Some(hp)) = (low_pre_alarm, high_pre_alarm)
            && lp + h >= hp - h
        {
            return Err(self.invalid(
                "low_pre_alarm",
                format!(
                    "expected low_pre_alarm + hysteresis below high_pre_alarm - hysteresis, found {lp} + {h} >= {hp} - {h}"
                ),
            ));
        }
        Ok(())
    }

    fn check_offline(&self, timeout: Duration) -> Result<(), Error> {
        self.no_hysteresis("offline")?;
        if timeout.is_zero() {
            return Err(self.invalid("timeout", "expected a timeout above 0s, found 0s"));
        }
        crate::time::duration_micros(timeout)
            .map_err(|e| self.invalid("timeout", e.to_string()))?;
        if !self.clear_delay.is_zero() {
            return Err(self.invalid(
                "clear_delay",
                "offline alarms clear on the next good sample, found a clear_delay",
            ));
        }
        Ok(())
    }

    fn check_rate(&self, limit: f64, per: Duration, pre_alarm: Option<f64>) -> Result<(), Error> {
        self.finite("threshold", limit)?;
        if limit <= 0.0 {
            return Err(self.invalid(
                "threshold",
                format!("expected a rate limit above 0, found {limit}"),
            ));
        }
        if per.is_zero() {
            return Err(self.invalid("per", "expected a unit of time above 0s, found 0s"));
        }
        if let Some(p) = pre_alarm {
            self.finite("pre_alarm", p)?;
            if p <= 0.0 || p >= limit {
                return Err(self.invalid(
                    "pre_alarm",
                    format!("expected a pre-alarm rate between 0 and {limit}, found {p}"),
                ));
            }
        }
        Ok(())
    }

    fn check_group(&self) -> Result<(), Error> {
        self.no_hysteresis("group")?;
        if !matches!(self.applies_to, AppliesTo::Children) {
            return Err(self.invalid(
                "points",
                "group alarms apply to their children, not to points",
            ));
        }
        if !self.delay.is_zero() || !self.clear_delay.is_zero() {
            return Err(self.invalid(
                "delay",
                "group alarms follow their children and take no delay",
            ));
        }
        if self.schedule.is_some() {
            return Err(self.invalid(
                "schedule",
                "group alarms follow their children and take no schedule",
            ));
        }
        Ok(())
    }
}

/// Someone who receives notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// Name referenced by rules' `recipients`.
    pub name: String,
    /// Where the transport sends (an e-mail address, a URL); opaque to this crate.
    #[serde(default)]
    pub address: String,
    /// Opt-in: immediate notifications of critical occurrences.
    #[serde(default = "yes")]
    pub immediate: bool,
    /// Opt-in: the daily digest of major, minor and warning occurrences.
    #[serde(default = "yes")]
    pub digest: bool,
    /// Opt-in: messages (system events) in the daily digest.
    #[serde(default = "yes")]
    pub messages: bool,
    /// Time zone of this recipient's digest (default: the rule set's digest time zone).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Local hour of this recipient's digest (default: the rule set's digest hour).
    #[serde(default)]
    pub digest_hour: Option<u8>,
}

fn yes() -> bool {
    true
}

impl Recipient {
    /// A recipient opted in to everything, with the default digest time.
    ///
    /// ```
    /// let r = alarms::Recipient::new("ops", "ops@example.invalid");
    /// assert!(r.immediate && r.digest && r.messages);
    /// ```
    pub fn new(name: &str, address: &str) -> Recipient {
        Recipient {
            name: name.into(),
            address: address.into(),
            immediate: true,
            digest: true,
            messages: true,
            time_zone: None,
            digest_hour: None,
        }
    }
}

/// When the daily digest goes out.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestConfig {
    /// Local hour (0..=23).
    pub hour: u8,
    /// IANA time zone.
    pub time_zone: chrono_tz::Tz,
}

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig {
            hour: 7,
            time_zone: chrono_tz::UTC,
        }
    }
}
