//! The site's alarms: the rule set (the rules file, the catalogue products' proposed alarms,
//! one offline alarm per device), the occurrences book, and notifications routed to one
//! outbox per `[[notify]]` entry, delivered by a thread of their own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use alarms::Transport;
use alarms::{
    Book, Condition, LogEntry, Notification, Outbox, PointInfo, Recipient, Router, Rule, RuleSet,
};
use chrono::{DateTime, Utc};

use super::GatewayError;
use crate::site::Site;

/// The id of the offline rule (one occurrence per device: target `DEVICE/...`).
pub const OFFLINE_RULE: &str = "offline";

/// The site's rule set: the rules file, plus (when enabled) the catalogue alarm templates of
/// every device and one offline rule watching every device; the `[[notify]]` entries become
/// recipients (unless the rules file has them), and the composed rules notify
/// `[alarms] recipients` (default: every `[[notify]]` name). Without a `[digest]` time zone
/// in the rules file (UTC, the default) the digest and the notification times are in the
/// site's time zone.
///
/// # Errors
/// A template the alarms crate refuses, or a rule id that is twice in the set.
pub fn rule_set(site: &Site, points: &[PointInfo]) -> Result<RuleSet, GatewayError> {
    let mut rules = site.rules().clone();
    if rules.digest().time_zone == chrono_tz::UTC {
        let mut digest = rules.digest().clone();
        digest.time_zone = site.time_zone();
        rules.set_digest(digest)?;
    }
    for n in &site.notify {
        if rules.recipients().iter().all(|r| r.name != n.name) {
            let mut r = Recipient::new(&n.name, &n.address);
            r.immediate = n.immediate;
            r.digest = n.digest;
            rules.add_recipient(r)?;
        }
    }
    let recipients: Vec<String> = site
        .alarms
        .recipients
        .clone()
        .unwrap_or_else(|| site.notify.iter().map(|n| n.name.clone()).collect());
    if site.alarms.templates {
        for d in &site.devices {
            let Some(product) = site.catalogue().get(&d.product) else {
                continue;
            };
            for mut rule in crate::alarm_templates::rules_for_device(product, &d.name)? {
                rule.recipients.clone_from(&recipients);
                rules.add(rule)?;
            }
        }
    }
    if site.alarms.offline_alarms {
        // one watched point per device is enough: the offline rule watches devices
        let mut seen = std::collections::BTreeSet::new();
        let firsts: Vec<&str> = points
            .iter()
            .filter(|p| seen.insert(p.device().to_string()))
            .map(|p| p.name.as_str())
            .collect();
        if !firsts.is_empty() {
            let mut rule = Rule::new(
                OFFLINE_RULE,
                Condition::Offline {
                    timeout: site.alarms.offline,
                },
                site.alarms.offline_priority,
                &firsts,
            );
            rule.text = "device not answering".to_string();
            rule.recipients = recipients;
            rules.add(rule)?;
        }
    }
    Ok(rules)
}

/// The per-outbox delivery state shared with the delivery thread.
#[derive(Debug, Default)]
struct Counters {
    /// Delivered since the last [`Notifier::route`] took the count.
    delivered: AtomicUsize,
    /// Waiting for a retry, over every outbox (after the thread's last round).
    pending: AtomicUsize,
    /// Delivered since the start.
    total: AtomicUsize,
}

/// What the cycle sends to the delivery thread.
enum Message {
    /// The router's notifications of one cycle.
    Deliver(Vec<Notification>),
    /// Try what waits until it is delivered or `until` passes, then end.
    Stop { until: std::time::Instant },
}

/// The delivery thread's end of the outboxes.
struct Delivery {
    outboxes: Vec<(String, Outbox<Box<dyn Transport + Send>>)>,
    counters: Arc<Counters>,
}

impl Delivery {
    /// One round: queue `batch`, send what is due at `now`; returns the earliest retry.
    fn round(&mut self, batch: &[Notification], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut retry: Option<DateTime<Utc>> = None;
        let mut pending = 0;
        for (name, outbox) in &mut self.outboxes {
            let mine = batch.iter().filter(|n| n.recipient() == name).cloned();
            let report = outbox.deliver(mine, now);
            self.counters
                .delivered
                .fetch_add(report.delivered, Ordering::Relaxed);
            self.counters
                .total
                .fetch_add(report.delivered, Ordering::Relaxed);
            if let Some(e) = &report.failure {
                tracing::warn!(recipient = %name, pending = report.pending, "notification delivery failed: {e}");
            }
            if report.lost() > 0 {
                tracing::error!(recipient = %name, lost = report.lost(), "notifications lost (refused for good or pushed out of a full queue)");
            }
            pending += report.pending;
            if let Some(at) = report.retry_at {
                retry = Some(retry.map_or(at, |r| r.min(at)));
            }
        }
        self.counters.pending.store(pending, Ordering::Relaxed);
        retry
    }

    /// The thread: deliver each batch as it comes, retry what waits at its time, and at
    /// [`Message::Stop`] (or when the cycle's end is dropped) try what waits until the
    /// deadline.
    fn run(mut self, rx: &mpsc::Receiver<Message>, done: tokio::sync::oneshot::Sender<usize>) {
        let mut retry: Option<DateTime<Utc>> = None;
        let until = loop {
            let message = match retry {
                None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                Some(at) => {
                    let wait = (at - Utc::now()).to_std().unwrap_or_default();
                    rx.recv_timeout(wait.max(Duration::from_millis(10)))
                }
            };
            match message {
                Ok(Message::Deliver(batch)) => retry = self.round(&batch, Utc::now()),
                Ok(Message::Stop { until }) => break until,
                Err(mpsc::RecvTimeoutError::Timeout) => retry = self.round(&[], Utc::now()),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break std::time::Instant::now() + Duration::from_secs(2);
                }
            }
        };
        // the flush: what is queued, at its retry time, until the deadline
        while let Some(at) = retry {
            let wait = (at - Utc::now()).to_std().unwrap_or_default();
            let now = std::time::Instant::now();
            if now + wait >= until {
                break;
            }
            std::thread::sleep(wait);
            retry = self.round(&[], Utc::now());
        }
        let pending = self.counters.pending.load(Ordering::Relaxed);
        if pending > 0 {
            tracing::error!(
                pending,
                "notifications still waiting at shutdown are not delivered"
            );
        }
        let _ = done.send(pending);
    }
}

/// Occurrences and routing, in the cycle; delivery, off it: the router's notifications go
/// over a channel to a delivery thread that owns one [`Outbox`] per `[[notify]]` entry
/// (transports block: SMTP, HTTP), so a slow or absent receiver never delays a cycle. What
/// a receiver that is down did not take waits in its outbox and is retried with backoff.
pub struct Notifier {
    /// The occurrences.
    pub book: Book,
    router: Router,
    names: Vec<String>,
    tx: Option<mpsc::Sender<Message>>,
    done: Option<tokio::sync::oneshot::Receiver<usize>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("outboxes", &self.names)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier for `rules`, with one outbox per `[[notify]]` entry of `site` (on the
    /// delivery thread it starts); `units` are the points' unit symbols shown in
    /// notifications.
    ///
    /// # Errors
    /// A recipient's time zone the router refuses, a transport that cannot be built, a
    /// thread that cannot be started.
    pub fn new<'a>(
        site: &Site,
        rules: &RuleSet,
        units: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Notifier, GatewayError> {
        let mut router = Router::new(rules)?;
        for (point, unit) in units {
            router.set_unit(point, unit);
        }
        let mut outboxes = Vec::new();
        for (i, n) in site.notify.iter().enumerate() {
            if let Some(c) = site.notify_config(i) {
                outboxes.push((n.name.clone(), c.build()?));
            }
        }
        let names = outboxes.iter().map(|(n, _)| n.clone()).collect();
        let counters = Arc::new(Counters::default());
        let delivery = Delivery {
            outboxes,
            counters: Arc::clone(&counters),
        };
        let (tx, rx) = mpsc::channel();
        let (done_tx, done) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("emkit-notify".into())
            .spawn(move || delivery.run(&rx, done_tx))
            .map_err(|e| GatewayError::Notify(e.to_string()))?;
        Ok(Notifier {
            book: Book::new(rules, 10_000),
            router,
            names,
            tx: Some(tx),
            done: Some(done),
            counters,
        })
    }

    /// Route new log entries and hand what is due at `now` to the delivery thread (it
    /// never waits for a transport). Returns how many notifications the thread delivered
    /// since the previous call.
    pub fn route(&mut self, entries: &[LogEntry], now: DateTime<Utc>) -> usize {
        for e in entries {
            self.router.observe(e);
        }
        let due = self.router.tick(now);
        for n in &due {
            if self.names.iter().all(|name| name != n.recipient()) {
                tracing::warn!(
                    recipient = n.recipient(),
                    "a notification for a recipient without a [[notify]] entry is not delivered"
                );
            }
        }
        if !due.is_empty()
            && let Some(tx) = &self.tx
            && tx.send(Message::Deliver(due)).is_err()
        {
            tracing::error!("the notification delivery thread has stopped: notifications lost");
        }
        self.counters.delivered.swap(0, Ordering::Relaxed)
    }

    /// Notifications waiting for a retry, over every outbox (as of the delivery thread's
    /// last round).
    pub fn pending(&self) -> usize {
        self.counters.pending.load(Ordering::Relaxed)
    }

    /// Notifications delivered since the start.
    pub fn delivered(&self) -> usize {
        self.counters.total.load(Ordering::Relaxed)
    }

    /// The stop of delivery: the thread tries what waits until `wait` has passed (each at
    /// its retry time), then ends. Await the returned future for how many were left
    /// undelivered (it resolves by `wait` and a second at most, even when a transport
    /// hangs; `None` then). Notifications routed after this are not delivered.
    pub fn stop(&mut self, wait: Duration) -> impl std::future::Future<Output = Option<usize>> {
        let until = std::time::Instant::now() + wait;
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Message::Stop { until });
        }
        let done = self.done.take();
        async move {
            let done = done?;
            tokio::time::timeout(wait + Duration::from_secs(1), done)
                .await
                .ok()
                .and_then(Result::ok)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_demo_rules_have_templates_offline_and_the_sites_time_zone() {
        let site = Site::demo().unwrap();
        let points: Vec<PointInfo> = super::super::tree::devices(&site, &[])
            .iter()
            .flat_map(|(_, d)| {
                d.points
                    .iter()
                    .map(|p| PointInfo::named(&format!("{}/{}", d.name, p.service)))
            })
            .collect();
        let rules = rule_set(&site, &points).unwrap();
        assert_eq!(rules.digest().time_zone, chrono_tz::Europe::Copenhagen);
        let offline = rules.get(OFFLINE_RULE).unwrap();
        assert_eq!(offline.priority, alarms::Priority::Critical);
        assert_eq!(offline.recipients, ["console", "events"]);
        match &offline.applies_to {
            alarms::AppliesTo::Points(p) => {
                // one point per device: 6 Modbus devices and 2 heat meters (no ECL here)
                assert_eq!(p.len(), 8, "{p:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(rules.get("main/overvoltage_l1").is_some());
        let names: Vec<&str> = rules.recipients().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["console", "events"]);
        // the notifier builds one outbox per [[notify]]
        let n = Notifier::new(&site, &rules, [("main/v_l1_n", "V")]).unwrap();
        assert_eq!(n.names, ["console", "events"]);
    }
}
