//! Transports that really deliver [`Notification`](crate::Notification)s, their configuration, and the message
//! texts they share.
//!
//! | transport | cargo feature | what it does |
//! |---|---|---|
//! | [`Console`] | (always) | one line per notification on stdout, stderr or any writer |
//! | [`JsonLinesFile`] | (always) | appends one JSON object per line ([`NotificationJson`]) to a file, flushed after each |
//! | `Smtp` | `smtp` | e-mail with `lettre`: STARTTLS required, opportunistic or none (or TLS from the first byte), AUTH PLAIN or LOGIN |
//! | `Webhook` | `webhook` | an HTTP(S) POST of the [`NotificationJson`] with `ureq`, with a timeout; anything but a 2xx answer is a failure |
//!
//! A transport delivers one notification or fails with [`Error::Delivery`] (naming the
//! transport, the peer, the stage and whether retrying can help); it never retries by
//! itself. Put it behind an [`crate::Outbox`] to retry with backoff.
//!
//! [`TransportConfig`] is the serde form of one transport, for a program's TOML file; its
//! [`TransportConfig::build`] gives a boxed transport ([`OutboxConfig`] adds a `retry` table
//! and builds an [`Outbox`] around it):
//!
//! ```
//! use alarms::transport::TransportConfig;
//!
//! let config: TransportConfig = toml::from_str(r#"
//! type = "json-lines"
//! path = "events/notifications.jsonl"
//! "#).map_err(|e| e.to_string())?;
//! let transport = config.build().map_err(|e| e.to_string())?;
//! assert_eq!(transport.name(), "json-lines");
//! # Ok::<(), String>(())
//! ```
//!
//! ## Times
//!
//! Times are shown in the recipient's time zone ([`Notification::time_zone`](crate::Notification::time_zone): the
//! recipient's own `time_zone`, else the rule set's `[digest] time_zone`, the site's), as
//! `2024-06-03 14:05:00 +02:00 (Europe/Copenhagen)`; the JSON carries both the UTC instant and
//! the local time with its offset.

mod console;
mod json;
mod jsonl;
mod outbox;
#[cfg(feature = "smtp")]
mod smtp;
mod text;
#[cfg(feature = "webhook")]
mod webhook;

use serde::{Deserialize, Serialize};

pub use console::{Console, ConsoleConfig, ConsoleStream};
pub use json::{ItemJson, NotificationJson, NotificationKind};
pub use jsonl::{JsonLinesConfig, JsonLinesFile};
pub use outbox::{DeliveryReport, Outbox, Overflow, RetryPolicy};
#[cfg(feature = "smtp")]
pub use smtp::{Smtp, SmtpAuth, SmtpConfig, SmtpMechanism, SmtpTls};
pub use text::{body, console_line, subject};
#[cfg(feature = "webhook")]
pub use webhook::{Webhook, WebhookConfig};

use crate::Error;
use crate::notify::Transport;

/// One transport, as written in a configuration file: `type` names it, the other keys are
/// its own configuration (see each config type).
///
/// ```toml
/// type = "smtp"          # console | json-lines | smtp (feature smtp) | webhook (feature webhook)
/// host = "mail.example.com"
/// port = 587
/// tls = "required"
/// from = "Alarms <alarms@example.com>"
/// ```
///
/// A type whose cargo feature is off is refused as an unknown variant by serde.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TransportConfig {
    /// [`Console`].
    Console(ConsoleConfig),
    /// [`JsonLinesFile`].
    JsonLines(JsonLinesConfig),
    /// `Smtp`.
    #[cfg(feature = "smtp")]
    Smtp(SmtpConfig),
    /// `Webhook`.
    #[cfg(feature = "webhook")]
    Webhook(WebhookConfig),
}

impl TransportConfig {
    /// The transport this configures; `Error::TransportConfig` when a value is unusable (an
    /// address that does not parse, a URL without a scheme, an unreadable CA file).
    pub fn build(&self) -> Result<Box<dyn Transport + Send>, Error> {
        Ok(match self {
            TransportConfig::Console(c) => Box::new(Console::from_config(c)),
            TransportConfig::JsonLines(c) => Box::new(JsonLinesFile::new(c.path.clone())),
            #[cfg(feature = "smtp")]
            TransportConfig::Smtp(c) => Box::new(Smtp::new(c)?),
            #[cfg(feature = "webhook")]
            TransportConfig::Webhook(c) => Box::new(Webhook::new(c)?),
        })
    }
}

/// A transport and its retry policy, as written in a configuration file: the transport's
/// keys, and an optional `retry` table ([`RetryPolicy`]).
///
/// ```
/// use alarms::transport::OutboxConfig;
///
/// let config: OutboxConfig = toml::from_str(r#"
/// type = "console"
/// stream = "stderr"
/// retry = { initial = "30s", capacity = 100 }
/// "#).map_err(|e| e.to_string())?;
/// assert_eq!(config.retry.capacity, 100);
/// let outbox = config.build().map_err(|e| e.to_string())?;
/// assert_eq!(outbox.transport().name(), "console");
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxConfig {
    /// The transport.
    #[serde(flatten)]
    pub transport: TransportConfig,
    /// How it retries (defaults: [`RetryPolicy::default`]).
    #[serde(default)]
    pub retry: RetryPolicy,
}

impl OutboxConfig {
    /// An empty outbox in front of the configured transport.
    pub fn build(&self) -> Result<Outbox<Box<dyn Transport + Send>>, Error> {
        Ok(Outbox::new(self.transport.build()?, self.retry.clone()))
    }
}

/// A [`Error::Delivery`].
pub(crate) fn delivery(
    transport: &str,
    peer: &str,
    stage: crate::DeliveryStage,
    message: impl Into<String>,
    permanent: bool,
) -> Error {
    Error::Delivery {
        transport: transport.to_string(),
        peer: peer.to_string(),
        stage,
        message: message.into(),
        permanent,
    }
}

/// A [`Error::TransportConfig`].
#[cfg(any(feature = "smtp", feature = "webhook"))]
pub(crate) fn config_error(transport: &str, field: &str, message: impl Into<String>) -> Error {
    Error::TransportConfig {
        transport: transport.to_string(),
        field: field.to_string(),
        message: message.into(),
    }
}

/// Serde for durations written as humantime strings (`"10s"`, `"5m"`).
pub(crate) mod duration_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        crate::time::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_parse_by_type_and_refuse_unknown_keys() {
        let c: TransportConfig = toml::from_str("type = \"console\"\nstream = \"stderr\"").unwrap();
        assert_eq!(
            c,
            TransportConfig::Console(ConsoleConfig {
                stream: ConsoleStream::Stderr
            })
        );
        let e = toml::from_str::<TransportConfig>("type = \"console\"\ncolour = true")
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
        let e = toml::from_str::<TransportConfig>("type = \"pigeon\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pigeon"), "{e}");
        let c: TransportConfig =
            toml::from_str("type = \"json-lines\"\npath = \"a.jsonl\"").unwrap();
        assert_eq!(c.build().unwrap().name(), "json-lines");
    }

    #[test]
    fn outbox_configs_take_a_retry_table_and_still_refuse_unknown_keys() {
        let c: OutboxConfig =
            toml::from_str("type = \"json-lines\"\npath = \"a.jsonl\"\n[retry]\nmax = \"1m\"")
                .unwrap();
        assert_eq!(
            c.transport,
            TransportConfig::JsonLines(JsonLinesConfig {
                path: "a.jsonl".into()
            })
        );
        assert_eq!(c.retry.max, std::time::Duration::from_secs(60));
        assert_eq!(c.retry.initial, RetryPolicy::default().initial);
        let c: OutboxConfig = toml::from_str("type = \"console\"").unwrap();
        assert_eq!(c.retry, RetryPolicy::default());
        let e = toml::from_str::<OutboxConfig>("type = \"console\"\ncolour = true")
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
        let e = toml::from_str::<OutboxConfig>("type = \"console\"\n[retry]\ntries = 3")
            .unwrap_err()
            .to_string();
        assert!(e.contains("tries"), "{e}");
    }
}
