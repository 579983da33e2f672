//! Notification routing: critical at once with the relay, daily digests per recipient at a
//! local hour (across midnight and daylight-saving changes), opt-ins, notification delays.
//! Needs the `testing` feature (the `TestTransport` double).
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use alarms::testing::TestTransport;
use alarms::{
    AlarmEvent, Book, LogEntry, Notification, Router, RuleSet, SystemTexts, TransitionKind,
    Transport,
};
use chrono::{DateTime, Duration, TimeZone, Utc};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn setup(digest_hour: u8) -> RuleSet {
    RuleSet::from_toml(
        "r.toml",
        &format!(
            r#"
[digest]
hour = {digest_hour}
time_zone = "Europe/Copenhagen"

[[recipient]]
name = "ops"
address = "ops@example.invalid"
[[recipient]]
name = "quiet"
address = "quiet@example.invalid"
immediate = false
messages = false
[[recipient]]
name = "nodigest"
digest = false
[[recipient]]
name = "utc-person"
time_zone = "UTC"
digest_hour = 6

[[rule]]
id = "pressure-low"
points = ["sub/pressure"]
kind = "low"
threshold = 1.5
priority = "critical"
notification_delay = "5m"
recipients = ["ops", "quiet", "nodigest"]

[[rule]]
id = "temp-high"
points = ["sub/temp"]
kind = "high"
threshold = 90.0
priority = "major"
notification_delay = "10m"
recipients = ["ops", "quiet", "nodigest", "utc-person"]
"#
        ),
    )
    .unwrap()
}

struct Rig {
    book: Book,
    router: Router,
    sent: Vec<Notification>,
}

impl Rig {
    fn new(rules: &RuleSet) -> Rig {
        Rig {
            book: Book::new(rules, 1000),
            router: Router::new(rules).unwrap(),
            sent: Vec::new(),
        }
    }

    fn feed(&mut self, entries: Vec<LogEntry>) {
        for e in &entries {
            self.router.observe(e);
        }
    }

    fn event(&mut self, t: DateTime<Utc>, alarm: &str, target: &str, kind: TransitionKind) {
        let entries = self
            .book
            .apply(&AlarmEvent {
                time: t,
                alarm: alarm.into(),
                target: target.into(),
                kind,
                value: None,
            })
            .unwrap();
        self.feed(entries);
    }

    fn tick(&mut self, t: DateTime<Utc>) {
        let n = self.router.tick(t);
        self.sent.extend(n);
    }
}

fn summary(n: &[Notification]) -> Vec<(String, &'static str, DateTime<Utc>, Vec<String>)> {
    n.iter()
        .map(|n| match n {
            Notification::Immediate {
                recipient, item, ..
            } => (
                recipient.clone(),
                "immediate",
                item.due,
                vec![item.alarm.clone().unwrap_or_default()],
            ),
            Notification::Digest {
                recipient,
                at,
                items,
                ..
            } => (
                recipient.clone(),
                "digest",
                *at,
                items
                    .iter()
                    .map(|i| i.alarm.clone().unwrap_or_default())
                    .collect(),
            ),
        })
        .collect()
}

#[test]
fn critical_notifies_at_once_after_the_delay_and_drives_the_relay() {
    let rules = setup(7);
    let mut rig = Rig::new(&rules);
    let t = utc(2024, 6, 3, 12, 0, 0);
    rig.event(t, "pressure-low", "sub/pressure", TransitionKind::Raised);
    rig.tick(t + Duration::minutes(4));
    assert!(rig.sent.is_empty());
    assert!(
        !rig.router.relay(),
        "the relay waits for the notification delay too"
    );
    rig.tick(t + Duration::minutes(5));
    assert_eq!(
        summary(&rig.sent),
        [
            (
                "ops".to_string(),
                "immediate",
                t + Duration::minutes(5),
                vec!["pressure-low".to_string()]
            ),
            (
                "nodigest".to_string(),
                "immediate",
                t + Duration::minutes(5),
                vec!["pressure-low".to_string()]
            )
        ]
    );
    assert!(rig.router.relay());
    // Acknowledging switches the relay off.
    let id = rig.book.current("pressure-low", "sub/pressure").unwrap().id;
    let entries = rig
        .book
        .acknowledge(id, "ann", "on it", t + Duration::minutes(6))
        .unwrap();
    rig.feed(entries);
    assert!(!rig.router.relay());
    // A new critical occurrence; clearing switches it off as well.
    rig.event(
        t + Duration::minutes(10),
        "pressure-low",
        "sub/pressure",
        TransitionKind::Cleared,
    );
    rig.event(
        t + Duration::minutes(20),
        "pressure-low",
        "sub/pressure",
        TransitionKind::Raised,
    );
    rig.tick(t + Duration::minutes(30));
    assert!(rig.router.relay());
    rig.event(
        t + Duration::minutes(31),
        "pressure-low",
        "sub/pressure",
        TransitionKind::Cleared,
    );
    assert!(!rig.router.relay());
    // Critical occurrences are not in the digest.
    rig.tick(utc(2024, 6, 5, 0, 0, 0));
    assert!(
        summary(&rig.sent).iter().all(|s| s.1 == "immediate"),
        "{:?}",
        summary(&rig.sent)
    );
}

#[test]
fn nothing_is_sent_for_an_occurrence_cleared_within_its_notification_delay() {
    let rules = setup(7);
    let mut rig = Rig::new(&rules);
    let t = utc(2024, 6, 3, 12, 0, 0);
    rig.event(t, "pressure-low", "sub/pressure", TransitionKind::Raised);
    rig.event(
        t + Duration::minutes(5),
        "pressure-low",
        "sub/pressure",
        TransitionKind::Cleared,
    );
    rig.event(
        t + Duration::minutes(6),
        "temp-high",
        "sub/temp",
        TransitionKind::Raised,
    );
    rig.event(
        t + Duration::minutes(9),
        "temp-high",
        "sub/temp",
        TransitionKind::Cleared,
    );
    rig.tick(utc(2024, 6, 10, 0, 0, 0));
    assert!(rig.sent.is_empty(), "{:?}", summary(&rig.sent));
    assert!(!rig.router.relay());
    // Cleared one second after its delay: sent (here, in the next morning's digest).
    rig.event(
        utc(2024, 6, 10, 12, 0, 0),
        "temp-high",
        "sub/temp",
        TransitionKind::Raised,
    );
    rig.event(
        utc(2024, 6, 10, 12, 10, 1),
        "temp-high",
        "sub/temp",
        TransitionKind::Cleared,
    );
    rig.tick(utc(2024, 6, 11, 12, 0, 0));
    let s = summary(&rig.sent);
    assert_eq!(s.len(), 3, "{s:?}");
    assert!(s.iter().all(|x| x.1 == "digest" && x.3 == ["temp-high"]));
}

#[test]
fn one_daily_digest_per_recipient_at_the_local_hour_with_opt_ins() {
    let rules = setup(7);
    let texts = SystemTexts::builtin().unwrap();
    let mut rig = Rig::new(&rules);
    let t = utc(2024, 6, 3, 12, 0, 0); // 14:00 in Copenhagen
    rig.event(t, "temp-high", "sub/temp", TransitionKind::Raised);
    let m = rig
        .book
        .message(
            t + Duration::hours(1),
            &texts.event("user_login", &["ann"]).unwrap(),
        )
        .unwrap();
    rig.router.observe(&m);
    // Tick every 10 minutes for two days: the result is the same as ticking once.
    let mut busy = Rig::new(&rules);
    busy.event(t, "temp-high", "sub/temp", TransitionKind::Raised);
    busy.router.observe(&m);
    let mut now = t;
    while now < utc(2024, 6, 5, 12, 0, 0) {
        busy.tick(now);
        now += Duration::minutes(10);
    }
    rig.tick(utc(2024, 6, 5, 12, 0, 0));
    assert_eq!(rig.sent, busy.sent);
    // 07:00 CEST = 05:00 UTC on the 4th; utc-person at 06:00 UTC.
    let at7 = utc(2024, 6, 4, 5, 0, 0);
    assert_eq!(
        summary(&rig.sent),
        [
            (
                "ops".to_string(),
                "digest",
                at7,
                vec!["temp-high".to_string(), "user_login".to_string()]
            ),
            (
                "quiet".to_string(),
                "digest",
                at7,
                vec!["temp-high".to_string()]
            ),
            (
                "nodigest".to_string(),
                "digest",
                at7,
                vec!["user_login".to_string()]
            ),
            (
                "utc-person".to_string(),
                "digest",
                utc(2024, 6, 4, 6, 0, 0),
                vec!["temp-high".to_string(), "user_login".to_string()]
            ),
        ]
    );
    // Nothing new: no digest on the 5th.
    assert_eq!(
        rig.router.next_digest("ops"),
        Some(utc(2024, 6, 6, 5, 0, 0))
    );
}

#[test]
fn digest_timing_across_midnight() {
    // Digest at local midnight (Copenhagen, CEST = UTC+2 in June).
    let rules = setup(0);
    let mut rig = Rig::new(&rules);
    let midnight = utc(2024, 6, 3, 22, 0, 0); // 2024-06-04 00:00 local
    // Raised 23:40 local, due 23:50: in the midnight digest.
    rig.event(
        midnight - Duration::minutes(20),
        "temp-high",
        "sub/temp-a",
        TransitionKind::Raised,
    );
    // Raised 23:50 local, due exactly at midnight: still in it.
    rig.event(
        midnight - Duration::minutes(10),
        "temp-high",
        "sub/temp-b",
        TransitionKind::Raised,
    );
    // Raised 23:50:01, due 00:00:01: the next night's digest.
    rig.event(
        midnight - Duration::minutes(10) + Duration::seconds(1),
        "temp-high",
        "sub/temp-c",
        TransitionKind::Raised,
    );
    rig.tick(midnight);
    let first = summary(&rig.sent);
    let ops: Vec<_> = first.iter().filter(|s| s.0 == "ops").collect();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].2, midnight);
    assert_eq!(ops[0].3.len(), 2);
    rig.sent.clear();
    rig.tick(midnight + Duration::days(1));
    let second = summary(&rig.sent);
    let ops: Vec<_> = second.iter().filter(|s| s.0 == "ops").collect();
    assert_eq!(ops.len(), 1);
    assert_eq!(
        (ops[0].2, ops[0].3.len()),
        (midnight + Duration::days(1), 1)
    );
}

#[test]
fn digest_timing_across_daylight_saving_changes() {
    // 02:00 local: skipped on 2024-03-31, repeated on 2024-10-27 in Copenhagen.
    let rules = setup(2);
    let mut rig = Rig::new(&rules);
    let mut digests = Vec::new();
    for (raised, tick_until) in [
        (utc(2024, 3, 29, 12, 0, 0), utc(2024, 4, 2, 12, 0, 0)),
        (utc(2024, 10, 25, 12, 0, 0), utc(2024, 10, 29, 12, 0, 0)),
    ] {
        // One occurrence per day so every digest has something.
        for day in 0..4 {
            rig.event(
                raised + Duration::days(day),
                "temp-high",
                "sub/temp",
                TransitionKind::Raised,
            );
            rig.event(
                raised + Duration::days(day) + Duration::hours(1),
                "temp-high",
                "sub/temp",
                TransitionKind::Cleared,
            );
        }
        rig.tick(tick_until);
        digests.extend(
            summary(&rig.sent)
                .into_iter()
                .filter(|s| s.0 == "ops")
                .map(|s| s.2),
        );
        rig.sent.clear();
    }
    assert_eq!(
        digests,
        [
            utc(2024, 3, 30, 1, 0, 0), // 02:00 CET
            utc(2024, 3, 31, 1, 0, 0), // 02:00 does not exist: 03:00 CEST, when the clock jumps
            utc(2024, 4, 1, 0, 0, 0),  // 02:00 CEST
            utc(2024, 4, 2, 0, 0, 0),
            utc(2024, 10, 26, 0, 0, 0), // 02:00 CEST
            utc(2024, 10, 27, 0, 0, 0), // the first 02:00 (CEST); not again at 01:00 UTC
            utc(2024, 10, 28, 1, 0, 0), // 02:00 CET
            utc(2024, 10, 29, 1, 0, 0),
        ]
    );
}

#[test]
fn transports_deliver_and_report_failures() {
    let rules = setup(7);
    let mut rig = Rig::new(&rules);
    let t = utc(2024, 6, 3, 12, 0, 0);
    rig.event(t, "pressure-low", "sub/pressure", TransitionKind::Raised);
    let n = rig.router.tick(t + Duration::hours(1));
    let mut ok = TestTransport::default();
    assert_eq!(Router::deliver(&mut ok, &n), Ok(2));
    assert_eq!(ok.sent, n);
    let mut broken = TestTransport {
        fail_with: Some("smtp refused".into()),
        ..Default::default()
    };
    let (sent, e) = Router::deliver(&mut broken, &n).unwrap_err();
    assert_eq!(sent, 0);
    assert_eq!(
        e.to_string(),
        format!("transport {}: smtp refused", broken.name())
    );
}
