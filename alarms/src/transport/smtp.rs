//! The SMTP e-mail transport (cargo feature `smtp`), with `lettre`.

use std::path::PathBuf;
use std::time::Duration;

use lettre::Transport as _;
use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::transport::smtp::SmtpTransport;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::error::DeliveryStage;
use crate::notify::{Notification, Transport};
use crate::transport::{body, config_error, delivery, duration_text, subject};

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// STARTTLS, and fail when the server does not offer it (default; port 587).
    #[default]
    Required,
    /// STARTTLS when the server offers it, else plain text (open to a downgrade by anyone
    /// on the path; for servers that cannot do better).
    Opportunistic,
    /// Plain text only (a trusted local relay; port 25).
    None,
    /// TLS from the first byte, "SMTPS" (port 465).
    Wrapper,
}

impl SmtpTls {
    fn default_port(self) -> u16 {
        match self {
            SmtpTls::Required | SmtpTls::Opportunistic => 587,
            SmtpTls::None => 25,
            SmtpTls::Wrapper => 465,
        }
    }
}

/// An SMTP AUTH mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpMechanism {
    /// AUTH PLAIN.
    Plain,
    /// AUTH LOGIN.
    Login,
}

/// SMTP authentication (`[auth]` of an SMTP transport).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpAuth {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// `plain` or `login`; when absent, whichever the server offers (PLAIN first).
    #[serde(default)]
    pub mechanism: Option<SmtpMechanism>,
}

impl std::fmt::Debug for SmtpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpAuth")
            .field("user", &self.user)
            .field("password", &"(hidden)")
            .field("mechanism", &self.mechanism)
            .finish()
    }
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

/// Configuration of [`Smtp`] (`type = "smtp"`).
///
/// ```toml
/// type = "smtp"
/// host = "mail.example.com"
/// port = 587                       # default: 587 (required, opportunistic), 25 (none), 465 (wrapper)
/// tls = "required"                 # required (default) | opportunistic | none | wrapper
/// ca_file = "/etc/emkit/site-ca.pem"   # optional extra root certificate(s), PEM
/// from = "Alarms <alarms@example.com>"
/// to = ["ops@example.com"]         # optional; default: each recipient's own address
/// timeout = "30s"                  # each network operation; default 30 s
/// auth = { user = "alarms", password = "secret", mechanism = "plain" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The server's host name (also the name its certificate must carry) or IP address.
    pub host: String,
    /// The port (default by `tls`).
    #[serde(default)]
    pub port: Option<u16>,
    /// How the connection is secured.
    #[serde(default)]
    pub tls: SmtpTls,
    /// Extra trusted root certificates (PEM), besides the Mozilla roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The sender, `alarms@example.com` or `Alarms <alarms@example.com>`.
    pub from: String,
    /// Fixed addressees; when empty, each notification goes to its recipient's address.
    #[serde(default)]
    pub to: Vec<String>,
    /// The limit on each network operation (default 30 s).
    #[serde(default = "default_timeout", with = "duration_text")]
    pub timeout: Duration,
    /// The name sent in EHLO (default: this machine's host name).
    #[serde(default)]
    pub hello_name: Option<String>,
    /// Authentication, when the server needs it.
    #[serde(default)]
    pub auth: Option<SmtpAuth>,
}

impl SmtpConfig {
    /// A configuration for `host` (STARTTLS required, its default port) sending from `from`,
    /// without authentication.
    pub fn new(host: &str, from: &str) -> SmtpConfig {
        SmtpConfig {
            host: host.to_string(),
            port: None,
            tls: SmtpTls::default(),
            ca_file: None,
            from: from.to_string(),
            to: Vec::new(),
            timeout: default_timeout(),
            hello_name: None,
            auth: None,
        }
    }
}

/// Sends each notification as a plain-text e-mail ([`crate::transport::subject`],
/// [`crate::transport::body`]) over SMTP, one connection per notification.
///
/// Failures are [`Error::Delivery`]: connection, TLS and authentication failures and 4xx
/// replies are temporary (an [`crate::Outbox`] retries them); a 5xx reply to the message
/// (sender, addressee or content refused) is permanent, and so is an addressee that is not
/// an e-mail address. A 5xx reply to AUTH (`530`–`539`) counts as temporary: it is the
/// configuration that is wrong, not the message, and no notification should be given up
/// for it.
///
/// ```
/// use alarms::transport::{Smtp, SmtpConfig};
/// let mail = Smtp::new(&SmtpConfig::new("mail.example.com", "Alarms <alarms@example.com>"))?;
/// assert_eq!(mail.peer(), "mail.example.com:587");
/// assert!(Smtp::new(&SmtpConfig::new("mail.example.com", "not an address")).is_err());
/// # Ok::<(), alarms::Error>(())
/// ```
pub struct Smtp {
    transport: SmtpTransport,
    from: Mailbox,
    to: Vec<Mailbox>,
    peer: String,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("peer", &self.peer)
            .field("from", &self.from)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

fn mailbox(field: &str, text: &str) -> Result<Mailbox, Error> {
    text.parse().map_err(|e| {
        config_error(
            "smtp",
            field,
            format!("expected an e-mail address such as \"Alarms <alarms@example.com>\", found {text:?} ({e})"),
        )
    })
}

impl Smtp {
    /// The transport for the configuration; `Error::TransportConfig` when an address does
    /// not parse, the CA file cannot be read or holds no certificate, or the timeout is 0.
    pub fn new(c: &SmtpConfig) -> Result<Smtp, Error> {
        let from = mailbox("from", &c.from)?;
        let to =
            c.to.iter()
                .enumerate()
                .map(|(i, t)| mailbox(&format!("to[{i}]"), t))
                .collect::<Result<Vec<_>, _>>()?;
        if c.timeout.is_zero() {
            return Err(config_error(
                "smtp",
                "timeout",
                "expected a timeout above 0s, found 0s",
            ));
        }
        let port = c.port.unwrap_or(c.tls.default_port());
        let tls = if c.tls == SmtpTls::None {
            Tls::None
        } else {
            let mut params = TlsParameters::builder(c.host.clone());
            if let Some(path) = &c.ca_file {
                let pem = std::fs::read(path).map_err(|e| {
                    config_error("smtp", "ca_file", format!("{}: {e}", path.display()))
                })?;
                let cert = Certificate::from_pem(&pem).map_err(|e| {
                    config_error(
                        "smtp",
                        "ca_file",
                        format!("{}: expected PEM certificates ({e})", path.display()),
                    )
                })?;
                params = params.add_root_certificate(cert);
            }
            let params = params.build_rustls().map_err(|e| {
                config_error(
                    "smtp",
                    "tls",
                    format!("cannot set up TLS for {}: {e}", c.host),
                )
            })?;
            match c.tls {
                SmtpTls::Opportunistic => Tls::Opportunistic(params),
                SmtpTls::Wrapper => Tls::Wrapper(params),
                SmtpTls::Required | SmtpTls::None => Tls::Required(params),
            }
        };
        let mut builder = SmtpTransport::builder_dangerous(c.host.clone())
            .port(port)
            .tls(tls)
            .timeout(Some(c.timeout));
        if let Some(name) = &c.hello_name {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        if let Some(a) = &c.auth {
            builder = builder
                .credentials(Credentials::new(a.user.clone(), a.password.clone()))
                .authentication(match a.mechanism {
                    Some(SmtpMechanism::Plain) => vec![Mechanism::Plain],
                    Some(SmtpMechanism::Login) => vec![Mechanism::Login],
                    None => vec![Mechanism::Plain, Mechanism::Login],
                });
        }
        Ok(Smtp {
            transport: builder.build(),
            from,
            to,
            peer: format!("{}:{port}", c.host),
        })
    }

    /// `host:port`.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    fn message(&self, n: &Notification) -> Result<Message, Error> {
        let compose = |m: String| delivery("smtp", &self.peer, DeliveryStage::Compose, m, true);
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(subject(n));
        if self.to.is_empty() {
            let to: Mailbox = n.address().parse().map_err(|e| {
                compose(format!(
                    "recipient {:?}: expected an e-mail address, found {:?} ({e})",
                    n.recipient(),
                    n.address()
                ))
            })?;
            b = b.to(to);
        } else {
            for to in &self.to {
                b = b.to(to.clone());
            }
        }
        b.header(ContentType::TEXT_PLAIN)
            .body(body(n))
            .map_err(|e| compose(e.to_string()))
    }
}

/// The whole chain of an error's sources, `a: b: c` (each once).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

impl Transport for Smtp {
    fn name(&self) -> &str {
        "smtp"
    }

    fn send(&mut self, n: &Notification) -> Result<(), Error> {
        let message = self.message(n)?;
        self.transport.send(&message).map(|_| ()).map_err(|e| {
            let code = e.status().map(u16::from);
            let text = chain(&e);
            let lower = text.to_lowercase();
            let tls = e.is_tls()
                || ["starttls", "tls", "certificate", "handshake"]
                    .iter()
                    .any(|w| lower.contains(w));
            let (stage, permanent) = match code {
                Some(530..=539) => (DeliveryStage::Authenticate, false),
                Some(_) => (DeliveryStage::Refused, e.is_permanent()),
                None if tls => (DeliveryStage::Tls, false),
                None if lower.contains("authentication") => (DeliveryStage::Authenticate, false),
                None => (DeliveryStage::Connect, false),
            };
            delivery("smtp", &self.peer, stage, text, permanent)
        })
    }
}
