//! The human texts of a notification: e-mail subject and body, the console line.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::log::EventType;
use crate::notify::{DigestItem, Notification};

/// `t` in `tz`, as `2024-06-03 14:05:00 +02:00 (Europe/Copenhagen)`.
pub(crate) fn local_time(t: DateTime<Utc>, tz: Tz) -> String {
    format!(
        "{} ({})",
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %:z"),
        tz.name()
    )
}

/// `t` in `tz` without the zone name, for lists.
fn short_local_time(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %:z")
        .to_string()
}

/// Control characters (new lines included) as spaces: for one-line texts.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `1.2 bar`, `93` (no unit), or `no value`.
fn value_text(item: &DigestItem) -> String {
    match (item.value, item.unit.as_deref()) {
        (Some(v), Some(u)) if !u.is_empty() => format!("{v} {u}"),
        (Some(v), _) => v.to_string(),
        (None, _) => "no value".to_string(),
    }
}

/// `critical`, or the event type for items without a priority (messages).
fn priority_text(item: &DigestItem) -> &'static str {
    match (item.priority, item.event_type) {
        (Some(p), _) => p.as_str(),
        (None, EventType::Alarm) => "alarm",
        (None, EventType::Error) => "error",
        (None, EventType::Warning) => "warning",
        (None, EventType::Information) => "information",
    }
}

/// `critical pressure-low on sub/pressure = 1.2 bar`.
fn headline(item: &DigestItem) -> String {
    let mut s = format!(
        "{} {}",
        priority_text(item),
        item.alarm.as_deref().unwrap_or("message")
    );
    if let Some(point) = &item.target {
        let _ = write!(s, " on {point}");
        if item.value.is_some() {
            let _ = write!(s, " = {}", value_text(item));
        }
    }
    one_line(&s)
}

/// The e-mail subject: priority, alarm and point for an immediate notification, e.g.
/// `[critical] pressure-low on sub/pressure`; the number of events and the highest priority
/// for a digest, e.g. `[digest] 3 events for ops, highest priority major`.
///
/// ```
/// use alarms::{DigestItem, EventType, Notification, Priority};
/// let n = Notification::Immediate {
///     recipient: "ops".into(),
///     address: "ops@example.com".into(),
///     time_zone: chrono_tz::Europe::Copenhagen,
///     item: DigestItem {
///         time: chrono::DateTime::UNIX_EPOCH,
///         due: chrono::DateTime::UNIX_EPOCH,
///         occurrence: Some(1),
///         alarm: Some("pressure-low".into()),
///         target: Some("sub/pressure".into()),
///         priority: Some(Priority::Critical),
///         event_type: EventType::Alarm,
///         text: "Pressure low".into(),
///         value: Some(1.2),
///         unit: Some("bar".into()),
///     },
/// };
/// assert_eq!(alarms::transport::subject(&n), "[critical] pressure-low on sub/pressure");
/// ```
pub fn subject(n: &Notification) -> String {
    let s = match n {
        Notification::Immediate { item, .. } => {
            let mut s = format!(
                "[{}] {}",
                priority_text(item),
                item.alarm.as_deref().unwrap_or("message")
            );
            if let Some(point) = &item.target {
                let _ = write!(s, " on {point}");
            }
            s
        }
        Notification::Digest {
            recipient, items, ..
        } => {
            let highest = items.iter().filter_map(|i| i.priority).min();
            let mut s = format!(
                "[digest] {} event{} for {recipient}",
                items.len(),
                if items.len() == 1 { "" } else { "s" }
            );
            if let Some(p) = highest {
                let _ = write!(s, ", highest priority {p}");
            }
            s
        }
    };
    one_line(&s)
}

/// The e-mail body (plain text): for an immediate notification the rule text, then alarm,
/// priority, point, value with unit, the time it was raised in the recipient's time zone
/// and the occurrence; for a digest one entry per item.
pub fn body(n: &Notification) -> String {
    let tz = n.time_zone();
    let mut s = String::new();
    match n {
        Notification::Immediate { item, .. } => {
            let _ = writeln!(s, "{}", item.text);
            let _ = writeln!(s);
            let row = |s: &mut String, k: &str, v: &str| {
                let _ = writeln!(s, "{k:<11} {v}");
            };
            row(&mut s, "Alarm:", item.alarm.as_deref().unwrap_or("-"));
            row(&mut s, "Priority:", priority_text(item));
            row(&mut s, "Point:", item.target.as_deref().unwrap_or("-"));
            row(&mut s, "Value:", &value_text(item));
            row(&mut s, "Time:", &local_time(item.time, tz));
            if item.due != item.time {
                row(&mut s, "Notified:", &local_time(item.due, tz));
            }
            if let Some(o) = item.occurrence {
                row(&mut s, "Occurrence:", &o.to_string());
            }
        }
        Notification::Digest {
            recipient,
            at,
            items,
            ..
        } => {
            let _ = writeln!(
                s,
                "Digest for {recipient}, {}: {} event{}.",
                local_time(*at, tz),
                items.len(),
                if items.len() == 1 { "" } else { "s" }
            );
            let _ = writeln!(s, "Times are in {}.", tz.name());
            for item in items {
                let _ = writeln!(s);
                let _ = writeln!(s, "{}  {}", short_local_time(item.time, tz), headline(item));
                let _ = writeln!(s, "    {}", item.text);
            }
        }
    }
    s
}

/// One line (no line break in it): the due time in the recipient's time zone, the recipient
/// and what happened, e.g. `2024-06-03 14:05:00 +02:00 (Europe/Copenhagen) ops
/// <ops@example.com>: critical pressure-low on sub/pressure = 1.2 bar: Pressure low (raised
/// 2024-06-03 14:00:00 +02:00)`.
pub fn console_line(n: &Notification) -> String {
    let tz = n.time_zone();
    let mut s = format!(
        "{} {} <{}>: ",
        local_time(n.at(), tz),
        n.recipient(),
        n.address()
    );
    match n {
        Notification::Immediate { item, .. } => {
            let _ = write!(
                s,
                "{}: {} (raised {})",
                headline(item),
                item.text,
                short_local_time(item.time, tz)
            );
        }
        Notification::Digest { items, .. } => {
            let _ = write!(
                s,
                "digest of {} event{}",
                items.len(),
                if items.len() == 1 { "" } else { "s" }
            );
            for (i, item) in items.iter().enumerate() {
                let sep = if i == 0 { ": " } else { "; " };
                let _ = write!(s, "{sep}{}: {}", headline(item), item.text);
            }
        }
    }
    one_line(&s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Priority;
    use chrono::TimeZone;

    fn item(p: Priority, value: Option<f64>, unit: Option<&str>) -> DigestItem {
        let t = Utc.with_ymd_and_hms(2024, 6, 3, 12, 0, 0).unwrap();
        DigestItem {
            time: t,
            due: t + chrono::Duration::minutes(5),
            occurrence: Some(7),
            alarm: Some("pressure-low".into()),
            target: Some("sub/pressure".into()),
            priority: Some(p),
            event_type: EventType::Alarm,
            text: "Pressure low\nin the substation".into(),
            value,
            unit: unit.map(str::to_string),
        }
    }

    #[test]
    fn immediate_texts_show_priority_point_value_unit_and_local_time() {
        let n = Notification::Immediate {
            recipient: "ops".into(),
            address: "ops@example.com".into(),
            time_zone: chrono_tz::Europe::Copenhagen,
            item: item(Priority::Critical, Some(1.25), Some("bar")),
        };
        assert_eq!(subject(&n), "[critical] pressure-low on sub/pressure");
        let b = body(&n);
        assert!(b.starts_with("Pressure low\nin the substation\n\n"), "{b}");
        assert!(b.contains("Value:      1.25 bar\n"), "{b}");
        assert!(
            b.contains("Time:       2024-06-03 14:00:00 +02:00 (Europe/Copenhagen)\n"),
            "{b}"
        );
        assert!(b.contains("Notified:   2024-06-03 14:05:00 +02:00"), "{b}");
        assert!(b.contains("Occurrence: 7\n"), "{b}");
        assert_eq!(
            console_line(&n),
            "2024-06-03 14:05:00 +02:00 (Europe/Copenhagen) ops <ops@example.com>: critical \
             pressure-low on sub/pressure = 1.25 bar: Pressure low in the substation (raised \
             2024-06-03 14:00:00 +02:00)"
        );
    }

    #[test]
    fn digest_texts_count_items_and_name_the_highest_priority() {
        let at = Utc.with_ymd_and_hms(2024, 12, 4, 6, 0, 0).unwrap();
        let n = Notification::Digest {
            recipient: "ops".into(),
            address: "ops@example.com".into(),
            time_zone: chrono_tz::Europe::Copenhagen,
            at,
            items: vec![
                item(Priority::Warning, None, None),
                item(Priority::Major, Some(93.0), Some("degC")),
            ],
        };
        assert_eq!(
            subject(&n),
            "[digest] 2 events for ops, highest priority major"
        );
        let b = body(&n);
        assert!(
            b.starts_with(
                "Digest for ops, 2024-12-04 07:00:00 +01:00 (Europe/Copenhagen): 2 events.\n"
            ),
            "{b}"
        );
        assert!(
            b.contains(
                "2024-06-03 14:00:00 +02:00  major pressure-low on sub/pressure = 93 degC\n"
            ),
            "{b}"
        );
        let line = console_line(&n);
        assert!(!line.contains('\n'));
        assert!(
            line.contains("digest of 2 events: warning pressure-low on sub/pressure: "),
            "{line}"
        );
    }
}
