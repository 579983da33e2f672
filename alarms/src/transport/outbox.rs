//! Delivery with retries: a bounded queue in front of one transport.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::notify::{Notification, Transport};
use crate::transport::duration_text;

/// What an [`Outbox`] does when a notification arrives and its queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Overflow {
    /// Drop the oldest queued notification to make room (default: the newest news wins).
    #[default]
    DropOldest,
    /// Drop the arriving notification (the queue keeps the oldest).
    DropNewest,
}

/// How an [`Outbox`] retries: the first retry `initial` after a failure, each next one
/// `factor` times later, at most `max` apart, for as long as it takes; at most `capacity`
/// notifications waiting.
///
/// As configuration (every key optional):
///
/// ```toml
/// initial = "10s"
/// max = "10m"
/// factor = 2
/// capacity = 1000
/// overflow = "drop-oldest"   # or "drop-newest"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// The wait after the first failure (default 10 s).
    #[serde(with = "duration_text")]
    pub initial: Duration,
    /// The longest wait between attempts (default 10 min).
    #[serde(with = "duration_text")]
    pub max: Duration,
    /// How much longer each wait is than the previous one (default 2; at least 1).
    pub factor: u32,
    /// The most notifications waiting (default 1000; at least 1).
    pub capacity: usize,
    /// What gives way when the queue is full.
    pub overflow: Overflow,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(600),
            factor: 2,
            capacity: 1000,
            overflow: Overflow::DropOldest,
        }
    }
}

impl RetryPolicy {
    /// The wait after `failures` consecutive failures (1 for the first): `initial ×
    /// factor^(failures-1)`, capped at `max`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = alarms::RetryPolicy::default();
    /// assert_eq!(p.backoff(1), Duration::from_secs(10));
    /// assert_eq!(p.backoff(3), Duration::from_secs(40));
    /// assert_eq!(p.backoff(1000), Duration::from_secs(600));
    /// ```
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = self.factor.max(1);
        let mut d = self.initial;
        for _ in 1..failures {
            if d >= self.max {
                break;
            }
            d = d.saturating_mul(factor);
        }
        d.min(self.max)
    }
}

/// What one [`Outbox::tick`] (or [`Outbox::enqueue`]) did. Nothing is lost silently: a
/// notification leaves the queue only by being delivered (counted in `delivered`), given
/// up because the receiver refused it for good (`abandoned`, with the error), or pushed out
/// of a full queue (`dropped`).
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use = "the report says what was abandoned or dropped"]
pub struct DeliveryReport {
    /// How many were delivered.
    pub delivered: usize,
    /// The temporary failure that stopped this round, if any (the notification stays
    /// queued and is tried again at `retry_at`).
    pub failure: Option<Error>,
    /// When the next attempt is due, if one is waiting.
    pub retry_at: Option<DateTime<Utc>>,
    /// Refused for good by the receiver ([`Error::is_permanent`]): not retried.
    pub abandoned: Vec<(Notification, Error)>,
    /// Pushed out of the full queue (by the [`Overflow`] policy): never sent.
    pub dropped: Vec<Notification>,
    /// How many are still waiting.
    pub pending: usize,
}

impl DeliveryReport {
    /// Whether anything was lost (abandoned or dropped).
    pub fn lost(&self) -> usize {
        self.abandoned.len() + self.dropped.len()
    }
}

/// A bounded queue in front of one [`Transport`]: notifications are sent in order, and one
/// that fails for a temporary reason (receiver down, timeout) stays at the head of the
/// queue and is tried again with exponential backoff ([`RetryPolicy`]); the ones behind it
/// wait, so order is kept and a receiver that is down is not hammered.
///
/// It keeps no clock and never sleeps: the caller's `now` (the same `now` it gives
/// [`crate::Router::tick`]) drives attempts. Call [`Outbox::tick`] regularly; nothing is
/// tried before its time.
///
/// The queue is in memory: a program that stops loses what is waiting (it is reported by
/// [`Outbox::pending`] and in each [`DeliveryReport`]).
///
/// ```
/// use alarms::{Outbox, RetryPolicy, Transport};
/// use alarms::transport::Console;
/// use chrono::{Duration, TimeZone, Utc};
///
/// let rules = alarms::RuleSet::from_toml("r.toml", r#"
/// [[recipient]]
/// name = "ops"
/// address = "ops@example.com"
/// [[rule]]
/// id = "pressure-low"
/// points = ["sub/pressure"]
/// kind = "low"
/// threshold = 1.5
/// priority = "critical"
/// recipients = ["ops"]
/// "#)?;
/// let mut router = alarms::Router::new(&rules)?;
/// let mut outbox = Outbox::new(Console::new(Vec::new()), RetryPolicy::default());
/// let now = Utc.with_ymd_and_hms(2024, 6, 3, 12, 0, 0).unwrap();
/// // ... router.observe(&entry) for each new log entry, then:
/// let report = outbox.deliver(router.tick(now), now);
/// assert_eq!((report.delivered, report.pending, report.lost()), (0, 0, 0));
/// # Ok::<(), alarms::Error>(())
/// ```
#[derive(Debug)]
pub struct Outbox<T> {
    transport: T,
    policy: RetryPolicy,
    queue: VecDeque<Notification>,
    failures: u32,
    next_attempt: Option<DateTime<Utc>>,
    delivered_total: u64,
    abandoned_total: u64,
    dropped_total: u64,
}

impl<T: Transport> Outbox<T> {
    /// An empty outbox for `transport`.
    pub fn new(transport: T, policy: RetryPolicy) -> Outbox<T> {
        Outbox {
            transport,
            policy,
            queue: VecDeque::new(),
            failures: 0,
            next_attempt: None,
            delivered_total: 0,
            abandoned_total: 0,
            dropped_total: 0,
        }
    }

    /// Queue notifications (without sending). Those that do not fit are in the report's
    /// `dropped` (and logged at error level).
    pub fn enqueue(
        &mut self,
        notifications: impl IntoIterator<Item = Notification>,
    ) -> DeliveryReport {
        let mut report = DeliveryReport::default();
        let capacity = self.policy.capacity.max(1);
        for n in notifications {
            if self.queue.len() >= capacity {
                let gone = match self.policy.overflow {
                    Overflow::DropOldest => {
                        let old = self.queue.pop_front();
                        self.queue.push_back(n);
                        old
                    }
                    Overflow::DropNewest => Some(n),
                };
                if let Some(gone) = gone {
                    tracing::error!(
                        transport = self.transport.name(),
                        recipient = gone.recipient(),
                        capacity,
                        "notification queue full: a notification is dropped"
                    );
                    self.dropped_total += 1;
                    report.dropped.push(gone);
                }
            } else {
                self.queue.push_back(n);
            }
        }
        report.pending = self.queue.len();
        report.retry_at = self.next_attempt.filter(|_| !self.queue.is_empty());
        report
    }

    /// Send what is due at `now`, in order, until the queue is empty or a temporary failure
    /// stops the round (then the next attempt is set by the backoff).
    pub fn tick(&mut self, now: DateTime<Utc>) -> DeliveryReport {
        let mut report = DeliveryReport::default();
        self.round(now, &mut report);
        report
    }

    /// [`Outbox::enqueue`] then [`Outbox::tick`], in one report.
    pub fn deliver(
        &mut self,
        notifications: impl IntoIterator<Item = Notification>,
        now: DateTime<Utc>,
    ) -> DeliveryReport {
        let mut report = self.enqueue(notifications);
        self.round(now, &mut report);
        report
    }

    fn round(&mut self, now: DateTime<Utc>, report: &mut DeliveryReport) {
        if self.next_attempt.is_none_or(|t| t <= now) {
            while let Some(n) = self.queue.front() {
                match self.transport.send(n) {
                    Ok(()) => {
                        self.failures = 0;
                        self.next_attempt = None;
                        self.delivered_total += 1;
                        report.delivered += 1;
                        self.queue.pop_front();
                    }
                    Err(e) if e.is_permanent() => {
                        tracing::error!(
                            transport = self.transport.name(),
                            recipient = n.recipient(),
                            error = %e,
                            "notification refused for good: not retried"
                        );
                        self.abandoned_total += 1;
                        if let Some(n) = self.queue.pop_front() {
                            report.abandoned.push((n, e));
                        }
                    }
                    Err(e) => {
                        self.failures = self.failures.saturating_add(1);
                        let wait = chrono::Duration::from_std(self.policy.backoff(self.failures))
                            .unwrap_or(chrono::Duration::MAX);
                        let at = now
                            .checked_add_signed(wait)
                            .unwrap_or(DateTime::<Utc>::MAX_UTC);
                        tracing::warn!(
                            transport = self.transport.name(),
                            recipient = n.recipient(),
                            failures = self.failures,
                            retry_at = %at,
                            pending = self.queue.len(),
                            error = %e,
                            "notification not delivered: will retry"
                        );
                        self.next_attempt = Some(at);
                        report.failure = Some(e);
                        break;
                    }
                }
            }
        }
        report.pending = self.queue.len();
        report.retry_at = self.next_attempt.filter(|_| !self.queue.is_empty());
    }

    /// How many are waiting.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// The waiting notifications, oldest first.
    pub fn queued(&self) -> impl Iterator<Item = &Notification> {
        self.queue.iter()
    }

    /// When the next attempt is due (after a failure), if something is waiting.
    pub fn next_attempt(&self) -> Option<DateTime<Utc>> {
        self.next_attempt.filter(|_| !self.queue.is_empty())
    }

    /// Totals since the outbox was made: (delivered, abandoned, dropped).
    pub fn totals(&self) -> (u64, u64, u64) {
        (
            self.delivered_total,
            self.abandoned_total,
            self.dropped_total,
        )
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutably.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The transport and what is still waiting.
    pub fn into_parts(self) -> (T, Vec<Notification>) {
        (self.transport, self.queue.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DeliveryStage;
    use crate::log::EventType;
    use crate::notify::DigestItem;
    use chrono::TimeZone;

    /// Fails its first `fail` sends (temporarily, or for good when `permanent`), records
    /// the rest, and counts attempts.
    struct Flaky {
        fail: usize,
        permanent_for: Option<&'static str>,
        attempts: usize,
        sent: Vec<Notification>,
    }

    impl Flaky {
        fn failing(fail: usize) -> Flaky {
            Flaky {
                fail,
                permanent_for: None,
                attempts: 0,
                sent: Vec::new(),
            }
        }
    }

    impl Transport for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }

        fn send(&mut self, n: &Notification) -> Result<(), Error> {
            self.attempts += 1;
            if self.permanent_for == Some(n.recipient()) {
                return Err(crate::transport::delivery(
                    "flaky",
                    "peer",
                    DeliveryStage::Refused,
                    "550 no such mailbox",
                    true,
                ));
            }
            if self.fail > 0 {
                self.fail -= 1;
                return Err(crate::transport::delivery(
                    "flaky",
                    "peer",
                    DeliveryStage::Connect,
                    "connection refused",
                    false,
                ));
            }
            self.sent.push(n.clone());
            Ok(())
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 3, 12, 0, 0).unwrap()
    }

    fn secs(s: i64) -> DateTime<Utc> {
        t0() + chrono::Duration::seconds(s)
    }

    fn n(recipient: &str, i: u64) -> Notification {
        Notification::Immediate {
            recipient: recipient.into(),
            address: format!("{recipient}@example.com"),
            time_zone: chrono_tz::UTC,
            item: DigestItem {
                time: t0(),
                due: t0(),
                occurrence: Some(i),
                alarm: Some("a".into()),
                target: Some("p/q".into()),
                priority: Some(crate::Priority::Critical),
                event_type: EventType::Alarm,
                text: "t".into(),
                value: None,
                unit: None,
            },
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(5),
            ..RetryPolicy::default()
        };
        let waits: Vec<u64> = (1..=5).map(|f| p.backoff(f).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        let flat = RetryPolicy { factor: 0, ..p };
        assert_eq!(flat.backoff(4), Duration::from_secs(1));
    }

    #[test]
    fn a_transport_failing_n_times_delivers_everything_once_in_order_after_backoff() {
        let policy = RetryPolicy {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        let mut outbox = Outbox::new(Flaky::failing(4), policy);
        let r = outbox.deliver([n("ops", 1), n("ops", 2)], secs(0));
        assert_eq!((r.delivered, r.pending), (0, 2));
        assert!(r.failure.is_some_and(|e| !e.is_permanent()));
        assert_eq!(r.retry_at, Some(secs(10)));
        // Ticks before the retry time try nothing.
        let r = outbox.tick(secs(9));
        assert_eq!((r.delivered, r.pending, r.failure), (0, 2, None));
        assert_eq!(outbox.transport().attempts, 1);
        // Failures 2, 3, 4: waits 20, 40, 60 (capped).
        let r = outbox.tick(secs(10));
        assert_eq!(r.retry_at, Some(secs(30)));
        let r = outbox.tick(secs(30));
        assert_eq!(r.retry_at, Some(secs(70)));
        let r = outbox.tick(secs(70));
        assert_eq!(r.retry_at, Some(secs(130)));
        // New notifications queue behind the head meanwhile.
        let r = outbox.deliver([n("ops", 3)], secs(100));
        assert_eq!(
            (r.delivered, r.pending, r.retry_at),
            (0, 3, Some(secs(130)))
        );
        let r = outbox.tick(secs(130));
        assert_eq!(
            (r.delivered, r.pending, r.retry_at, r.lost()),
            (3, 0, None, 0)
        );
        assert!(r.failure.is_none());
        let order: Vec<u64> = outbox
            .transport()
            .sent
            .iter()
            .map(|n| n.items()[0].occurrence.unwrap())
            .collect();
        assert_eq!(order, [1, 2, 3]);
        assert_eq!(outbox.transport().attempts, 4 + 3);
        assert_eq!(outbox.totals(), (3, 0, 0));
        // After a success the backoff starts again from `initial`.
        outbox.transport_mut().fail = 1;
        let r = outbox.deliver([n("ops", 4)], secs(200));
        assert_eq!(r.retry_at, Some(secs(210)));
    }

    #[test]
    fn a_permanent_refusal_is_reported_and_does_not_block_the_queue() {
        let mut flaky = Flaky::failing(0);
        flaky.permanent_for = Some("nobody");
        let mut outbox = Outbox::new(flaky, RetryPolicy::default());
        let r = outbox.deliver([n("ops", 1), n("nobody", 2), n("ops", 3)], secs(0));
        assert_eq!((r.delivered, r.pending, r.lost()), (2, 0, 1));
        assert_eq!(r.abandoned[0].0, n("nobody", 2));
        assert!(r.abandoned[0].1.is_permanent());
        assert_eq!(
            r.abandoned[0].1.to_string(),
            "transport flaky: refused by peer: 550 no such mailbox"
        );
        assert_eq!(outbox.totals(), (2, 1, 0));
    }

    #[test]
    fn overflow_drops_by_policy_and_reports_it() {
        for (overflow, kept, dropped) in [
            (Overflow::DropOldest, [3, 4], [1, 2]),
            (Overflow::DropNewest, [1, 2], [3, 4]),
        ] {
            let policy = RetryPolicy {
                capacity: 2,
                overflow,
                ..RetryPolicy::default()
            };
            let mut outbox = Outbox::new(Flaky::failing(1), policy);
            let r = outbox.deliver([n("ops", 1)], secs(0));
            assert_eq!(r.pending, 1);
            let r = outbox.enqueue((2..=4).map(|i| n("ops", i)));
            let occ = |v: &mut dyn Iterator<Item = &Notification>| -> Vec<u64> {
                v.map(|n| n.items()[0].occurrence.unwrap()).collect()
            };
            assert_eq!(occ(&mut r.dropped.iter()), dropped, "{overflow:?}");
            assert_eq!(r.pending, 2);
            assert_eq!(r.retry_at, Some(secs(10)));
            assert_eq!(occ(&mut outbox.queued()), kept, "{overflow:?}");
            assert_eq!(outbox.totals().2, 2);
            let r = outbox.tick(secs(10));
            assert_eq!((r.delivered, r.pending), (2, 0));
        }
    }

    #[test]
    fn retry_policy_reads_from_toml_with_defaults() {
        let p: RetryPolicy = toml::from_str("initial = \"5s\"\ncapacity = 10").unwrap();
        assert_eq!(
            p,
            RetryPolicy {
                initial: Duration::from_secs(5),
                capacity: 10,
                ..RetryPolicy::default()
            }
        );
        assert!(toml::from_str::<RetryPolicy>("initial = \"soon\"").is_err());
        assert!(toml::from_str::<RetryPolicy>("retries = 3").is_err());
    }
}
