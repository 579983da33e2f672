//! The HTTP webhook transport (cargo feature `webhook`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ureq::http::{HeaderName, HeaderValue, Uri};

use crate::Error;
use crate::error::DeliveryStage;
use crate::notify::{Notification, Transport};
use crate::transport::{NotificationJson, config_error, delivery, duration_text};

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// Configuration of [`Webhook`] (`type = "webhook"`).
///
/// ```toml
/// type = "webhook"
/// url = "https://hooks.example.com/alarms"
/// timeout = "10s"                                   # the whole request; default 10 s
/// ca_file = "/etc/emkit/site-ca.pem"                # optional: trust only these roots (PEM)
/// headers = { Authorization = "Bearer 0123abcd" }   # optional extra headers
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to POST (`http://` or `https://`; HTTPS is verified against the Mozilla roots).
    pub url: String,
    /// The limit on the whole request (connect, send, answer); default 10 s.
    #[serde(default = "default_timeout", with = "duration_text")]
    pub timeout: Duration,
    /// Extra request headers (for example `Authorization`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Root certificates (PEM) to trust for HTTPS *instead of* the Mozilla roots (for a
    /// receiver with a certificate from the site's own CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl WebhookConfig {
    /// A configuration for `url` with the default timeout and no extra headers.
    pub fn new(url: &str) -> WebhookConfig {
        WebhookConfig {
            url: url.to_string(),
            timeout: default_timeout(),
            headers: BTreeMap::new(),
            ca_file: None,
        }
    }
}

/// POSTs each notification as JSON ([`NotificationJson`], `Content-Type:
/// application/json`) to one URL.
///
/// A 2xx answer is a delivery; anything else fails with [`Error::Delivery`]: no answer
/// (refused, unreachable, timed out, TLS) and answers other than the ones below are
/// temporary (retried by an [`crate::Outbox`]); `400`, `413`, `415` and `422` (the receiver
/// refuses this payload) are permanent. Redirects are not followed (a 3xx is a failure).
/// Proxies come from the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`).
///
/// ```
/// use alarms::transport::{Webhook, WebhookConfig};
/// let hook = Webhook::new(&WebhookConfig::new("http://127.0.0.1:9/alarms"))?;
/// assert_eq!(hook.url(), "http://127.0.0.1:9/alarms");
/// assert!(Webhook::new(&WebhookConfig::new("127.0.0.1:9/alarms")).is_err());
/// # Ok::<(), alarms::Error>(())
/// ```
#[derive(Debug)]
pub struct Webhook {
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    agent: ureq::Agent,
}

impl Webhook {
    /// A webhook for the configuration; `Error::TransportConfig` when the URL is not an
    /// `http`/`https` URL or a header is not a valid HTTP header.
    pub fn new(c: &WebhookConfig) -> Result<Webhook, Error> {
        let uri: Uri = c.url.parse().map_err(|e| {
            config_error(
                "webhook",
                "url",
                format!(
                    "expected an http:// or https:// URL, found {:?} ({e})",
                    c.url
                ),
            )
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(config_error(
                "webhook",
                "url",
                format!(
                    "expected an http:// or https:// URL with a host, found {:?}",
                    c.url
                ),
            ));
        }
        if c.timeout.is_zero() {
            return Err(config_error(
                "webhook",
                "timeout",
                "expected a timeout above 0s, found 0s",
            ));
        }
        let mut headers = Vec::new();
        for (k, v) in &c.headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                config_error(
                    "webhook",
                    &format!("headers.{k}"),
                    format!("expected an HTTP header name, found {k:?}"),
                )
            })?;
            let value = HeaderValue::from_str(v).map_err(|_| {
                config_error(
                    "webhook",
                    &format!("headers.{k}"),
                    "expected a header value of visible ASCII characters",
                )
            })?;
            headers.push((name, value));
        }
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(path) = &c.ca_file {
            tls = tls.root_certs(root_certs(path)?);
        }
        let agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .timeout_global(Some(c.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("emkit-alarms/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Webhook {
            url: c.url.clone(),
            headers,
            agent,
        })
    }

    /// The URL posted to.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The certificates of a PEM file, as the only roots to trust.
fn root_certs(path: &std::path::Path) -> Result<ureq::tls::RootCerts, Error> {
    let fail = |m: String| config_error("webhook", "ca_file", format!("{}: {m}", path.display()));
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(fail(format!("expected PEM certificates ({e})"))),
        }
    }
    if certs.is_empty() {
        return Err(fail("expected PEM certificates, found none".into()));
    }
    Ok(ureq::tls::RootCerts::new_with_certs(&certs))
}

/// Whether the receiver refused this payload for good (retrying the same body cannot help).
fn permanent_status(status: u16) -> bool {
    matches!(status, 400 | 413 | 415 | 422)
}

impl Transport for Webhook {
    fn name(&self) -> &str {
        "webhook"
    }

    fn send(&mut self, n: &Notification) -> Result<(), Error> {
        let body = NotificationJson::new(n).to_line();
        let mut req = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json");
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let mut resp = req.send(body.as_bytes()).map_err(|e| {
            let text = e.to_string();
            let lower = text.to_lowercase();
            // Handshake failures come back as I/O errors; their text says what they are.
            let tls = matches!(
                e,
                ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::TlsRequired
            ) || ["certificate", "tls", "handshake"]
                .iter()
                .any(|w| lower.contains(w));
            let stage = if tls {
                DeliveryStage::Tls
            } else {
                DeliveryStage::Connect
            };
            delivery("webhook", &self.url, stage, text, false)
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let answer = resp
            .body_mut()
            .with_config()
            .limit(1024)
            .read_to_string()
            .unwrap_or_default();
        let answer = answer.trim();
        let message = if answer.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {answer}")
        };
        Err(delivery(
            "webhook",
            &self.url,
            DeliveryStage::Refused,
            message,
            permanent_status(status.as_u16()),
        ))
    }
}
