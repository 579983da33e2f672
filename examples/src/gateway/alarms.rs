//! The site's alarms: the rule set (the rules file, the catalogue products' proposed alarms,
//! one offline alarm per device), the occurrences book, and notifications routed to one
//! outbox per `[[notify]]` entry.

use alarms::Transport;
use alarms::{Book, Condition, LogEntry, Outbox, PointInfo, Recipient, Router, Rule, RuleSet};
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

/// Occurrences, routing and delivery: what happens to the engine's transitions.
pub struct Notifier {
    /// The occurrences.
    pub book: Book,
    router: Router,
    outboxes: Vec<(String, Outbox<Box<dyn Transport + Send>>)>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("outboxes", &self.outboxes.len())
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier for `rules`, with one outbox per `[[notify]]` entry of `site`; `units`
    /// are the points' unit symbols shown in notifications.
    ///
    /// # Errors
    /// A recipient's time zone the router refuses, a transport that cannot be built.
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
        Ok(Notifier {
            book: Book::new(rules, 10_000),
            router,
            outboxes,
        })
    }

    /// Route new log entries and deliver what is due at `now` (retrying what waits).
    /// Returns how many notifications were delivered.
    pub fn route(&mut self, entries: &[LogEntry], now: DateTime<Utc>) -> usize {
        for e in entries {
            self.router.observe(e);
        }
        let due = self.router.tick(now);
        for n in &due {
            if self.outboxes.iter().all(|(name, _)| name != n.recipient()) {
                tracing::warn!(
                    recipient = n.recipient(),
                    "a notification for a recipient without a [[notify]] entry is not delivered"
                );
            }
        }
        let mut delivered = 0;
        for (name, outbox) in &mut self.outboxes {
            let mine = due.iter().filter(|n| n.recipient() == name).cloned();
            let report = outbox.deliver(mine, now);
            delivered += report.delivered;
            if let Some(e) = &report.failure {
                tracing::warn!(recipient = %name, pending = report.pending, "notification delivery failed: {e}");
            }
        }
        delivered
    }

    /// Notifications still waiting for a retry, over every outbox.
    pub fn pending(&self) -> usize {
        self.outboxes.iter().map(|(_, o)| o.pending()).sum()
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
        assert_eq!(n.outboxes.len(), 2);
    }
}
