//! The JSON form of a notification: what the webhook posts and the JSON-lines file holds.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::log::EventType;
use crate::notify::{DigestItem, Notification};
use crate::rule::Priority;

/// Immediate or digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationKind {
    /// A critical occurrence, at once.
    Immediate,
    /// The daily digest.
    Digest,
}

/// A [`Notification`] as JSON: the body of a webhook POST and one line of the JSON-lines
/// file. The shape is stable: fields are only ever added (a consumer should ignore unknown
/// fields), and a change that is not an addition changes [`NotificationJson::SCHEMA`].
///
/// Every field is always present (`null` when there is no value). An immediate
/// notification has exactly one item.
///
/// ```json
/// {
///   "schema": "emkit.alarms.notification/1",
///   "kind": "immediate",
///   "recipient": "ops",
///   "address": "ops@example.com",
///   "time_zone": "Europe/Copenhagen",
///   "at": "2024-06-03T12:05:00Z",
///   "at_local": "2024-06-03T14:05:00+02:00",
///   "subject": "[critical] pressure-low on sub/pressure",
///   "items": [{
///     "time": "2024-06-03T12:00:00Z",
///     "time_local": "2024-06-03T14:00:00+02:00",
///     "due": "2024-06-03T12:05:00Z",
///     "occurrence": 7,
///     "alarm": "pressure-low",
///     "point": "sub/pressure",
///     "priority": "critical",
///     "event_type": "alarm",
///     "text": "Pressure low",
///     "value": 1.2,
///     "unit": "bar"
///   }]
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationJson {
    /// [`NotificationJson::SCHEMA`].
    pub schema: String,
    /// Immediate or digest.
    pub kind: NotificationKind,
    /// The recipient's name.
    pub recipient: String,
    /// The recipient's address.
    pub address: String,
    /// The recipient's IANA time zone, in which the `*_local` fields are.
    pub time_zone: String,
    /// When it was due (UTC, RFC 3339).
    pub at: DateTime<Utc>,
    /// `at` in the recipient's time zone (RFC 3339 with the offset).
    pub at_local: String,
    /// The e-mail subject ([`crate::transport::subject`]).
    pub subject: String,
    /// What it reports, in due order.
    pub items: Vec<ItemJson>,
}

/// One occurrence or message of a [`NotificationJson`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemJson {
    /// When it was raised or recorded (UTC).
    pub time: DateTime<Utc>,
    /// `time` in the recipient's time zone (RFC 3339 with the offset).
    pub time_local: String,
    /// When it became due (raised + notification delay, UTC).
    pub due: DateTime<Utc>,
    /// The occurrence number, for alarms.
    pub occurrence: Option<u64>,
    /// The alarm (rule id) or the system event code.
    pub alarm: Option<String>,
    /// The point (`device/service`) or device.
    pub point: Option<String>,
    /// The priority (alarms).
    pub priority: Option<Priority>,
    /// `alarm`, `error`, `warning` or `information`.
    pub event_type: EventType,
    /// The rule's text, or the message.
    pub text: String,
    /// The point's value, when there is one.
    pub value: Option<f64>,
    /// The value's unit symbol, when known.
    pub unit: Option<String>,
}

fn rfc3339_local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

impl ItemJson {
    fn new(i: &DigestItem, tz: Tz) -> ItemJson {
        ItemJson {
            time: i.time,
            time_local: rfc3339_local(i.time, tz),
            due: i.due,
            occurrence: i.occurrence,
            alarm: i.alarm.clone(),
            point: i.target.clone(),
            priority: i.priority,
            event_type: i.event_type,
            text: i.text.clone(),
            value: i.value,
            unit: i.unit.clone(),
        }
    }
}

impl NotificationJson {
    /// The schema name and version in every object.
    pub const SCHEMA: &'static str = "emkit.alarms.notification/1";

    /// The JSON form of `n`.
    ///
    /// ```
    /// use alarms::transport::{NotificationJson, NotificationKind};
    /// let n = alarms::Notification::Digest {
    ///     recipient: "ops".into(),
    ///     address: "https://hooks.example.com/alarms".into(),
    ///     time_zone: chrono_tz::Europe::Copenhagen,
    ///     at: "2024-06-04T05:00:00Z".parse().unwrap(),
    ///     items: Vec::new(),
    /// };
    /// let j = NotificationJson::new(&n);
    /// assert_eq!(j.kind, NotificationKind::Digest);
    /// assert_eq!(j.at_local, "2024-06-04T07:00:00+02:00");
    /// let text = serde_json::to_string(&j).unwrap();
    /// assert!(text.starts_with(r#"{"schema":"emkit.alarms.notification/1","kind":"digest""#));
    /// ```
    pub fn new(n: &Notification) -> NotificationJson {
        let tz = n.time_zone();
        NotificationJson {
            schema: Self::SCHEMA.to_string(),
            kind: match n {
                Notification::Immediate { .. } => NotificationKind::Immediate,
                Notification::Digest { .. } => NotificationKind::Digest,
            },
            recipient: n.recipient().to_string(),
            address: n.address().to_string(),
            time_zone: tz.name().to_string(),
            at: n.at(),
            at_local: rfc3339_local(n.at(), tz),
            subject: crate::transport::subject(n),
            items: n.items().iter().map(|i| ItemJson::new(i, tz)).collect(),
        }
    }

    /// The JSON text, on one line. `serde_json` cannot fail on this type (string keys, no
    /// non-finite floats: those become `null`).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            // Unreachable with this type; say so in the output rather than panic.
            format!(r#"{{"schema":"{}","error":"{e}"}}"#, Self::SCHEMA)
        })
    }
}
