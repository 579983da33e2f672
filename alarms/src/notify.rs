//! Notification routing: who hears about what, and when.
//!
//! The router turns log entries into [`Notification`]s; it does not send mail. Rules:
//! - A critical occurrence notifies its rule's recipients (those opted in to `immediate`)
//!   once its notification delay has passed, and switches the relay output on until it
//!   clears or is acknowledged.
//! - Major, minor and warning occurrences (and pre-alarms, which are warnings) go into one
//!   daily digest per recipient (opted in to `digest`), sent at the recipient's local digest
//!   hour; messages go into the digest of every recipient opted in to `messages`.
//! - Nothing is sent for an occurrence cleared within its notification delay (cleared at or
//!   before raise time + delay). An item is due at raise time + delay and goes into the first
//!   digest at or after that instant; empty digests are not sent.
//! - Digest hours are local wall-clock hours: on the spring-forward day an hour inside the
//!   gap is sent when the clock jumps; on the fall-back day the hour is sent once (the first).
//!
//! Feed entries with [`Router::observe`] in time order and call [`Router::tick`] after the
//! entries up to that time; the result does not depend on how often `tick` is called.
//!
//! Delivery is the [`Transport`]'s (the implementations are in [`crate::transport`]); an
//! [`crate::Outbox`] in front of a transport retries failed deliveries with backoff, driven by
//! the same `now` as the router, so a receiver that is down delays notifications without
//! losing them.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::Error;
use crate::log::{Action, EventType, LogEntry};
use crate::rule::{Priority, Recipient};
use crate::ruleset::RuleSet;
use crate::schedule::first_instant_at_or_after;
use crate::tz::parse_tz;

/// One line of a digest.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestItem {
    /// When it was raised (or the message recorded).
    pub time: DateTime<Utc>,
    /// When it became due (time + notification delay).
    pub due: DateTime<Utc>,
    /// The occurrence, for alarms.
    pub occurrence: Option<u64>,
    /// The alarm (rule id) or message code.
    pub alarm: Option<String>,
    /// The point or device.
    pub target: Option<String>,
    /// Priority (alarms).
    pub priority: Option<Priority>,
    /// Alarm, warning, error or information.
    pub event_type: EventType,
    /// Text (the rule's text for alarms).
    pub text: String,
    /// The point's value when the event was recorded, when there is one.
    pub value: Option<f64>,
    /// The point's unit symbol, when the router was told it ([`Router::set_unit`]).
    pub unit: Option<String>,
}

/// What the router asks a transport to deliver.
#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    /// A critical occurrence, at once (after its notification delay).
    Immediate {
        /// recipient name
        recipient: String,
        /// recipient address
        address: String,
        /// the recipient's time zone (its own, or the rule set's digest time zone), for
        /// showing times
        time_zone: Tz,
        /// the occurrence
        item: DigestItem,
    },
    /// The daily digest.
    Digest {
        /// recipient name
        recipient: String,
        /// recipient address
        address: String,
        /// the recipient's time zone (its own, or the rule set's digest time zone), for
        /// showing times
        time_zone: Tz,
        /// when it is due (the local digest hour)
        at: DateTime<Utc>,
        /// what happened since the previous digest, in due order
        items: Vec<DigestItem>,
    },
}

impl Notification {
    /// The recipient's name.
    pub fn recipient(&self) -> &str {
        match self {
            Notification::Immediate { recipient, .. } | Notification::Digest { recipient, .. } => {
                recipient
            }
        }
    }

    /// The recipient's address (an e-mail address, a URL; opaque to this crate).
    pub fn address(&self) -> &str {
        match self {
            Notification::Immediate { address, .. } | Notification::Digest { address, .. } => {
                address
            }
        }
    }

    /// The recipient's time zone, for showing times.
    pub fn time_zone(&self) -> Tz {
        match self {
            Notification::Immediate { time_zone, .. } | Notification::Digest { time_zone, .. } => {
                *time_zone
            }
        }
    }

    /// When it is due: the item's due time, or the digest instant.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Notification::Immediate { item, .. } => item.due,
            Notification::Digest { at, .. } => *at,
        }
    }

    /// What it reports: the one occurrence, or the digest's items.
    pub fn items(&self) -> &[DigestItem] {
        match self {
            Notification::Immediate { item, .. } => std::slice::from_ref(item),
            Notification::Digest { items, .. } => items,
        }
    }
}

/// Delivers notifications: the implementations (console, JSON-lines file, SMTP, webhook)
/// are in [`crate::transport`].
///
/// `send` delivers one notification or fails; it does not retry (an [`crate::Outbox`] does).
/// A failure that retrying cannot cure (the receiver refuses this message) should be
/// [`Error::Delivery`] with `permanent: true`, so the outbox reports it and moves on instead
/// of retrying it forever.
pub trait Transport {
    /// A short name for errors.
    fn name(&self) -> &str;
    /// Deliver one notification.
    fn send(&mut self, n: &Notification) -> Result<(), Error>;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn send(&mut self, n: &Notification) -> Result<(), Error> {
        (**self).send(n)
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn send(&mut self, n: &Notification) -> Result<(), Error> {
        (**self).send(n)
    }
}

#[derive(Debug, Clone)]
struct Desk {
    who: Recipient,
    tz: Tz,
    hour: u8,
    next_digest: Option<DateTime<Utc>>,
    queue: Vec<DigestItem>,
}

#[derive(Debug, Clone)]
struct Pending {
    item: DigestItem,
    occurrence: u64,
    raised: bool,
    critical: bool,
    recipients: Vec<usize>,
}

/// Routes log entries to recipients.
#[derive(Debug, Clone)]
pub struct Router {
    desks: Vec<Desk>,
    rules: HashMap<String, (Vec<usize>, Duration)>,
    pending: Vec<Pending>,
    scheduled: HashSet<(u64, bool)>,
    active_critical: HashSet<u64>,
    relay: BTreeSet<u64>,
    units: HashMap<String, String>,
}

impl Router {
    /// A router for the rule set's recipients, digest time and rules.
    ///
    /// ```
    /// let rules = alarms::RuleSet::from_toml("r.toml", r#"
    /// [digest]
    /// hour = 7
    /// time_zone = "Europe/Copenhagen"
    /// [[recipient]]
    /// name = "ops"
    /// address = "ops@example.invalid"
    /// [[rule]]
    /// id = "pressure-low"
    /// points = ["sub/pressure"]
    /// kind = "low"
    /// threshold = 1.5
    /// priority = "critical"
    /// recipients = ["ops"]
    /// "#)?;
    /// let router = alarms::Router::new(&rules)?;
    /// assert!(!router.relay());
    /// # Ok::<(), alarms::Error>(())
    /// ```
    pub fn new(rules: &RuleSet) -> Result<Router, Error> {
        let d = rules.digest();
        let mut desks = Vec::new();
        for r in rules.recipients() {
            let tz = match &r.time_zone {
                Some(name) => parse_tz(name).map_err(|m| Error::InvalidRule {
                    rule: format!("recipient {}", r.name),
                    field: "time_zone".into(),
                    message: m,
                })?,
                None => d.time_zone,
            };
            desks.push(Desk {
                who: r.clone(),
                tz,
                hour: r.digest_hour.unwrap_or(d.hour),
                next_digest: None,
                queue: Vec::new(),
            });
        }
        let mut map = HashMap::new();
        for rule in rules.rules() {
            let idx: Vec<usize> = rule
                .recipients
                .iter()
                .filter_map(|name| desks.iter().position(|d| &d.who.name == name))
                .collect();
            let delay = Duration::from_std(rule.notification_delay).map_err(|_| {
                Error::rule(
                    &rule.id,
                    "notification_delay",
                    format!(
                        "expected a delay below 292 years, found {:?}",
                        rule.notification_delay
                    ),
                )
            })?;
            map.insert(rule.id.clone(), (idx, delay));
        }
        Ok(Router {
            desks,
            rules: map,
            pending: Vec::new(),
            scheduled: HashSet::new(),
            active_critical: HashSet::new(),
            relay: BTreeSet::new(),
            units: HashMap::new(),
        })
    }

    /// Tell the router a point's unit symbol (e.g. `"bar"`, `"°C"`), shown with the value in
    /// the notifications about it; entries observed afterwards carry it.
    ///
    /// ```
    /// # let rules = alarms::RuleSet::from_toml("r.toml", "")?;
    /// let mut router = alarms::Router::new(&rules)?;
    /// router.set_unit("sub/pressure", "bar");
    /// # Ok::<(), alarms::Error>(())
    /// ```
    pub fn set_unit(&mut self, point: &str, unit: &str) {
        self.units.insert(point.to_string(), unit.to_string());
    }

    /// Whether the relay output is on: a critical occurrence past its notification delay,
    /// still active and not acknowledged.
    pub fn relay(&self) -> bool {
        !self.relay.is_empty()
    }

    /// The next digest instant of a recipient, once the router has seen a time.
    pub fn next_digest(&self, recipient: &str) -> Option<DateTime<Utc>> {
        self.desks
            .iter()
            .find(|d| d.who.name == recipient)
            .and_then(|d| d.next_digest)
    }

    fn start(&mut self, t: DateTime<Utc>) {
        for d in &mut self.desks {
            if d.next_digest.is_none() {
                d.next_digest = next_local_hour(d.tz, d.hour, t);
            }
        }
    }

    /// Take in one log entry (in time order).
    pub fn observe(&mut self, e: &LogEntry) {
        self.start(e.time);
        let item = |due: DateTime<Utc>| DigestItem {
            time: e.time,
            due,
            occurrence: e.occurrence,
            alarm: e.alarm.clone(),
            target: e.target.clone(),
            priority: e.priority,
            event_type: e.event_type,
            text: e.text.clone(),
            value: e.value,
            unit: e.target.as_ref().and_then(|t| self.units.get(t)).cloned(),
        };
        match (e.action, e.occurrence) {
            (Action::Message, _) => {
                for d in self.desks.iter_mut().filter(|d| d.who.messages) {
                    d.queue.push(item(e.time));
                }
            }
            (Action::Raised | Action::PreAlarm, Some(occ)) => {
                let raised = e.action == Action::Raised;
                if !self.scheduled.insert((occ, raised)) {
                    return;
                }
                let priority = if raised {
                    e.priority.unwrap_or(Priority::Warning)
                } else {
                    Priority::Warning
                };
                let critical = priority == Priority::Critical;
                if critical {
                    self.active_critical.insert(occ);
                }
                let (recipients, delay) = e
                    .alarm
                    .as_ref()
                    .and_then(|a| self.rules.get(a))
                    .cloned()
                    .unwrap_or((Vec::new(), Duration::zero()));
                let mut it = item(e.time + delay);
                it.priority = Some(priority);
                self.pending.push(Pending {
                    item: it,
                    occurrence: occ,
                    raised,
                    critical,
                    recipients,
                });
            }
            (Action::Cleared | Action::PreAlarmCleared, Some(occ)) => {
                let raised = e.action == Action::Cleared;
                self.pending.retain(|p| {
                    !(p.occurrence == occ && p.raised == raised && e.time <= p.item.due)
                });
                if raised {
                    self.active_critical.remove(&occ);
                    self.relay.remove(&occ);
                }
            }
            (Action::Acknowledged, Some(occ)) => {
                self.active_critical.remove(&occ);
                self.relay.remove(&occ);
            }
            (Action::Closed, Some(occ)) => {
                self.scheduled.remove(&(occ, true));
                self.scheduled.remove(&(occ, false));
            }
            _ => {}
        }
    }

    /// Advance to `now`: immediate notifications that became due and the digests whose hour
    /// has come (non-empty ones), in time order.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<Notification> {
        self.start(now);
        let mut out: Vec<(DateTime<Utc>, Notification)> = Vec::new();
        self.pending.sort_by_key(|p| p.item.due);
        let split = self.pending.partition_point(|p| p.item.due <= now);
        let due: Vec<Pending> = self.pending.drain(..split).collect();
        for p in due {
            if p.critical {
                if self.active_critical.contains(&p.occurrence) {
                    self.relay.insert(p.occurrence);
                }
                for &r in &p.recipients {
                    let d = &self.desks[r];
                    if d.who.immediate {
                        out.push((
                            p.item.due,
                            Notification::Immediate {
                                recipient: d.who.name.clone(),
                                address: d.who.address.clone(),
                                time_zone: d.tz,
                                item: p.item.clone(),
                            },
                        ));
                    }
                }
            } else {
                for &r in &p.recipients {
                    if self.desks[r].who.digest {
                        self.desks[r].queue.push(p.item.clone());
                    }
                }
            }
        }
        for d in &mut self.desks {
            while let Some(at) = d.next_digest.filter(|at| *at <= now) {
                d.queue.sort_by_key(|i| i.due);
                let n = d.queue.partition_point(|i| i.due <= at);
                let items: Vec<DigestItem> = d.queue.drain(..n).collect();
                if !items.is_empty() {
                    out.push((
                        at,
                        Notification::Digest {
                            recipient: d.who.name.clone(),
                            address: d.who.address.clone(),
                            time_zone: d.tz,
                            at,
                            items,
                        },
                    ));
                }
                d.next_digest = next_local_hour(d.tz, d.hour, at);
            }
        }
        out.sort_by_key(|(t, _)| *t);
        out.into_iter().map(|(_, n)| n).collect()
    }

    /// Send notifications through a transport; stops at the first failure and returns how
    /// many were sent before it with the error. It does not retry: the rest is the caller's;
    /// an [`crate::Outbox`] keeps and retries them instead.
    pub fn deliver(
        transport: &mut dyn Transport,
        notifications: &[Notification],
    ) -> Result<usize, (usize, Error)> {
        for (i, n) in notifications.iter().enumerate() {
            transport.send(n).map_err(|e| (i, e))?;
        }
        Ok(notifications.len())
    }
}

/// The first instant strictly after `t` at local `hour:00` in `tz`.
pub(crate) fn next_local_hour(tz: Tz, hour: u8, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let start = t.with_timezone(&tz).date_naive().pred_opt()?;
    (0..4)
        .filter_map(|i| start.checked_add_signed(Duration::days(i)))
        .find_map(|date| {
            first_instant_at_or_after(tz, date, u32::from(hour) * 3600).filter(|c| *c > t)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn next_local_hour_handles_gaps_and_repeats() {
        let cph: Tz = "Europe/Copenhagen".parse().unwrap();
        // Spring forward 2024-03-31: 02:00 local does not exist, the clock jumps to 03:00 at 01:00 UTC.
        let t = Utc.with_ymd_and_hms(2024, 3, 30, 12, 0, 0).unwrap();
        assert_eq!(
            next_local_hour(cph, 2, t),
            Some(Utc.with_ymd_and_hms(2024, 3, 31, 1, 0, 0).unwrap())
        );
        // Fall back 2024-10-27: 02:00 local happens twice (00:00 and 01:00 UTC); once, the first.
        let t = Utc.with_ymd_and_hms(2024, 10, 26, 12, 0, 0).unwrap();
        let first = next_local_hour(cph, 2, t).unwrap();
        assert_eq!(first, Utc.with_ymd_and_hms(2024, 10, 27, 0, 0, 0).unwrap());
        assert_eq!(
            next_local_hour(cph, 2, first),
            Some(Utc.with_ymd_and_hms(2024, 10, 28, 1, 0, 0).unwrap())
        );
        // Midnight.
        let t = Utc.with_ymd_and_hms(2024, 6, 1, 21, 59, 0).unwrap();
        assert_eq!(
            next_local_hour(cph, 0, t),
            Some(Utc.with_ymd_and_hms(2024, 6, 1, 22, 0, 0).unwrap())
        );
        assert_eq!(
            next_local_hour(cph, 0, Utc.with_ymd_and_hms(2024, 6, 1, 22, 0, 0).unwrap()),
            Some(Utc.with_ymd_and_hms(2024, 6, 2, 22, 0, 0).unwrap())
        );
    }
}
