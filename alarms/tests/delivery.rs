//! Notifications really delivered: to a local SMTP server (Python `aiosmtpd`, feature
//! `smtp`), to a local HTTP receiver (feature `webhook`), to the console and a JSON-lines
//! file; and a receiver that is down delays delivery through an `Outbox` without losing or
//! duplicating anything.
//!
//! The SMTP tests need `python3` with `aiosmtpd` (PyPI); without it they are skipped with a
//! printed reason, unless `EMKIT_REQUIRE_PEERS=1`, which makes a missing peer a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use alarms::transport::{Console, JsonLinesFile, NotificationJson, NotificationKind};
use alarms::{
    AlarmEvent, Book, Notification, Outbox, RetryPolicy, Router, RuleSet, TransitionKind, Transport,
};
use chrono::{DateTime, Duration, TimeZone, Utc};

/// The site: Copenhagen time, one recipient, a critical and a major rule.
fn rules(address: &str) -> RuleSet {
    RuleSet::from_toml(
        "site.toml",
        &format!(
            r#"
[digest]
hour = 7
time_zone = "Europe/Copenhagen"

[[recipient]]
name = "ops"
address = "{address}"

[[rule]]
id = "pressure-low"
text = "Pressure low in substation 1"
points = ["sub-1/pressure"]
kind = "low"
threshold = 1.5
priority = "critical"
notification_delay = "2m"
recipients = ["ops"]

[[rule]]
id = "supply-high"
text = "Supply temperature high"
points = ["sub-1/flow_temperature"]
kind = "high"
threshold = 90.0
priority = "major"
recipients = ["ops"]
"#
        ),
    )
    .unwrap()
}

/// 2024-01-15 08:00:00 UTC = 09:00 in Copenhagen (CET, +01:00).
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 15, 8, 0, 0).unwrap()
}

/// A book and a router for the site, told the points' units.
fn site(address: &str) -> (Book, Router) {
    let rules = rules(address);
    let mut router = Router::new(&rules).unwrap();
    router.set_unit("sub-1/pressure", "bar");
    router.set_unit("sub-1/flow_temperature", "degC");
    (Book::new(&rules, 100), router)
}

fn raise(book: &mut Book, router: &mut Router, t: DateTime<Utc>, alarm: &str, point: &str, v: f64) {
    let entries = book
        .apply(&AlarmEvent {
            time: t,
            alarm: alarm.into(),
            target: point.into(),
            kind: TransitionKind::Raised,
            value: Some(v),
        })
        .unwrap();
    for e in &entries {
        router.observe(e);
    }
}

/// The critical notification: pressure 1.2 bar raised at t0, sent at t0 + 2 min.
fn immediate(address: &str) -> Notification {
    let (mut book, mut router) = site(address);
    raise(
        &mut book,
        &mut router,
        t0(),
        "pressure-low",
        "sub-1/pressure",
        1.2,
    );
    let mut n = router.tick(t0() + Duration::minutes(5));
    assert_eq!(n.len(), 1, "{n:?}");
    n.remove(0)
}

/// The next morning's digest (07:00 Copenhagen = 06:00 UTC) with the major alarm.
fn digest(address: &str) -> Notification {
    let (mut book, mut router) = site(address);
    raise(
        &mut book,
        &mut router,
        t0(),
        "supply-high",
        "sub-1/flow_temperature",
        93.5,
    );
    let mut n = router.tick(Utc.with_ymd_and_hms(2024, 1, 16, 6, 0, 0).unwrap());
    assert_eq!(n.len(), 1, "{n:?}");
    n.remove(0)
}

fn check_immediate_json(j: &NotificationJson, address: &str) {
    assert_eq!(j.schema, "emkit.alarms.notification/1");
    assert_eq!(j.kind, NotificationKind::Immediate);
    assert_eq!((j.recipient.as_str(), j.address.as_str()), ("ops", address));
    assert_eq!(j.time_zone, "Europe/Copenhagen");
    assert_eq!(j.at, t0() + Duration::minutes(2));
    assert_eq!(j.at_local, "2024-01-15T09:02:00+01:00");
    assert_eq!(j.subject, "[critical] pressure-low on sub-1/pressure");
    assert_eq!(j.items.len(), 1);
    let i = &j.items[0];
    assert_eq!(i.time, t0());
    assert_eq!(i.time_local, "2024-01-15T09:00:00+01:00");
    assert_eq!(i.alarm.as_deref(), Some("pressure-low"));
    assert_eq!(i.point.as_deref(), Some("sub-1/pressure"));
    assert_eq!(i.priority, Some(alarms::Priority::Critical));
    assert_eq!(i.text, "Pressure low in substation 1");
    assert_eq!(i.value, Some(1.2));
    assert_eq!(i.unit.as_deref(), Some("bar"));
}

#[test]
fn console_writes_one_line_per_notification() {
    let mut console = Console::new(Vec::new());
    console.send(&immediate("ops@example.com")).unwrap();
    console.send(&digest("ops@example.com")).unwrap();
    let out = String::from_utf8(console.into_inner()).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        lines[0],
        "2024-01-15 09:02:00 +01:00 (Europe/Copenhagen) ops <ops@example.com>: critical \
         pressure-low on sub-1/pressure = 1.2 bar: Pressure low in substation 1 (raised \
         2024-01-15 09:00:00 +01:00)"
    );
    assert_eq!(
        lines[1],
        "2024-01-16 07:00:00 +01:00 (Europe/Copenhagen) ops <ops@example.com>: digest of 1 \
         event: major supply-high on sub-1/flow_temperature = 93.5 degC: Supply temperature high"
    );
}

#[test]
fn json_lines_file_appends_one_parseable_object_per_notification() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log/notifications.jsonl");
    let mut file = JsonLinesFile::new(path.clone());
    file.send(&immediate("ops@example.com")).unwrap();
    // A second transport on the same file appends (as after a restart).
    JsonLinesFile::new(path.clone())
        .send(&digest("ops@example.com"))
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with('\n'));
    let objs: Vec<NotificationJson> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objs.len(), 2);
    check_immediate_json(&objs[0], "ops@example.com");
    assert_eq!(objs[1].kind, NotificationKind::Digest);
    assert_eq!(objs[1].at_local, "2024-01-16T07:00:00+01:00");
    assert_eq!(objs[1].items[0].unit.as_deref(), Some("degC"));
    assert_eq!(objs[1].items[0].value, Some(93.5));

    // A file that cannot be written is a temporary failure naming the transport and file.
    let blocked = dir.path().join("not-a-dir");
    std::fs::write(&blocked, "").unwrap();
    let e = JsonLinesFile::new(blocked.join("x.jsonl"))
        .send(&immediate("ops@example.com"))
        .unwrap_err();
    assert!(!e.is_permanent());
    let msg = e.to_string();
    assert!(
        msg.starts_with("transport json-lines: writing to "),
        "{msg}"
    );
    assert!(msg.contains("not-a-dir"), "{msg}");
}

#[test]
fn json_lines_file_that_cannot_be_written_gets_the_notification_after_the_retry() {
    let dir = tempfile::tempdir().unwrap();
    // The directory's place is taken by a file: creating the directory fails.
    let blocked = dir.path().join("events");
    std::fs::write(&blocked, "").unwrap();
    let path = blocked.join("notifications.jsonl");
    let mut outbox = Outbox::new(JsonLinesFile::new(path.clone()), RetryPolicy::default());
    let n = immediate("ops@example.com");
    let r = outbox.deliver([n.clone()], t0());
    assert_eq!((r.delivered, r.pending, r.lost()), (0, 1, 0));
    assert!(r.failure.is_some_and(|e| !e.is_permanent()));
    std::fs::remove_file(&blocked).unwrap();
    let r = outbox.tick(t0() + Duration::seconds(5));
    assert_eq!(r.delivered, 0, "not before the retry time");
    let r = outbox.tick(t0() + Duration::seconds(10));
    assert_eq!((r.delivered, r.pending, r.lost()), (1, 0, 0));
    let _ = outbox.tick(t0() + Duration::seconds(60));
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert_eq!(
        serde_json::from_str::<NotificationJson>(text.trim_end()).unwrap(),
        NotificationJson::new(&n)
    );
}

/// A test CA and a certificate for 127.0.0.1 signed by it: (ca.pem, cert.pem, key.pem).
#[cfg(any(feature = "smtp", feature = "webhook"))]
fn certificates(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "emkit alarms test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &*ca)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// Whether a peer may be skipped: prints the reason, or fails under `EMKIT_REQUIRE_PEERS=1`.
#[cfg(any(feature = "smtp", feature = "webhook"))]
fn peer_available(name: &str, probe: &mut std::process::Command) -> bool {
    use std::process::Stdio;
    let ok = probe
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let required = std::env::var("EMKIT_REQUIRE_PEERS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "peer {name} is not available and EMKIT_REQUIRE_PEERS=1"
        );
        eprintln!("SKIPPED: peer {name} is not available (install it to run this interop test)");
    }
    ok
}

#[cfg(feature = "smtp")]
mod smtp {
    use super::*;
    use alarms::DeliveryStage;
    use alarms::transport::{Smtp, SmtpAuth, SmtpConfig, SmtpMechanism, SmtpTls};
    use serde_json::Value;
    use std::io::{BufRead, BufReader};
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};

    fn aiosmtpd() -> bool {
        // The rule CI installs: aiosmtpd >=1.4,<2 (the server script uses the 1.4 API).
        peer_available(
            "python3 with aiosmtpd>=1.4,<2 (PyPI)",
            Command::new("python3").args([
                "-c",
                "import sys, aiosmtpd.controller; \
                 v = [int(x) for x in aiosmtpd.__version__.split('.')[:2]]; \
                 sys.exit(0 if v[0] == 1 and v[1] >= 4 else 1)",
            ]),
        )
    }

    /// `tests/smtp_server.py` on a free loopback port, writing what it receives to a
    /// temporary directory; killed on drop.
    struct Server {
        child: Child,
        port: u16,
        out: tempfile::TempDir,
    }

    impl Server {
        fn start(args: &[&str]) -> Server {
            let out = tempfile::tempdir().unwrap();
            let mut child = Command::new("python3")
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_server.py"))
                .arg("--out")
                .arg(out.path())
                .args(args)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let port = line
                .trim()
                .strip_prefix("PORT ")
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| {
                    let _ = child.kill();
                    panic!("smtp_server.py did not start: {line:?}")
                });
            Server { child, port, out }
        }

        fn messages(&self) -> Vec<Value> {
            let mut files: Vec<PathBuf> = std::fs::read_dir(self.out.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            files
                .iter()
                .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
                .collect()
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn config(port: u16, tls: SmtpTls) -> SmtpConfig {
        SmtpConfig {
            port: Some(port),
            tls,
            timeout: std::time::Duration::from_secs(10),
            hello_name: Some("emkit-test".into()),
            ..SmtpConfig::new("127.0.0.1", "Alarms <alarms@site.example>")
        }
    }

    fn auth(mechanism: SmtpMechanism, password: &str) -> Option<SmtpAuth> {
        Some(SmtpAuth {
            user: "alarms".into(),
            password: password.into(),
            mechanism: Some(mechanism),
        })
    }

    /// The time raised, as the mail must show it.
    const LOCAL_TIME: &str = "2024-01-15 09:00:00 +01:00 (Europe/Copenhagen)";

    fn check_message(m: &Value) {
        assert_eq!(m["mail_from"], "alarms@site.example");
        assert_eq!(m["rcpt_tos"], serde_json::json!(["ops@site.example"]));
        assert_eq!(m["to"], "ops@site.example");
        assert_eq!(m["from"], "Alarms <alarms@site.example>");
        assert_eq!(m["subject"], "[critical] pressure-low on sub-1/pressure");
        assert_eq!(m["content_type"], "text/plain");
        let body = m["body"].as_str().unwrap();
        assert!(body.starts_with("Pressure low in substation 1\n"), "{body}");
        for line in [
            "Alarm:      pressure-low".to_string(),
            "Priority:   critical".to_string(),
            "Point:      sub-1/pressure".to_string(),
            "Value:      1.2 bar".to_string(),
            format!("Time:       {LOCAL_TIME}"),
            "Notified:   2024-01-15 09:02:00 +01:00 (Europe/Copenhagen)".to_string(),
        ] {
            assert!(body.lines().any(|l| l == line), "{line:?} not in\n{body}");
        }
    }

    #[test]
    fn smtp_delivers_subject_priority_point_value_unit_and_local_time_with_auth_plain() {
        if !aiosmtpd() {
            return;
        }
        let server = Server::start(&["--user", "alarms", "--password", "s3cret"]);
        let mut c = config(server.port, SmtpTls::None);
        c.auth = auth(SmtpMechanism::Plain, "s3cret");
        let mut smtp = Smtp::new(&c).unwrap();
        smtp.send(&immediate("ops@site.example")).unwrap();
        smtp.send(&digest("ops@site.example")).unwrap();
        let got = server.messages();
        assert_eq!(got.len(), 2, "{got:?}");
        check_message(&got[0]);
        assert_eq!(got[0]["tls"], false);
        assert_eq!(got[0]["auth_mechanism"], "PLAIN");
        assert_eq!(got[0]["auth_user"], "alarms");
        assert_eq!(
            got[1]["subject"],
            "[digest] 1 event for ops, highest priority major"
        );
        let body = got[1]["body"].as_str().unwrap();
        assert!(
            body.contains(
                "2024-01-15 09:00:00 +01:00  major supply-high on sub-1/flow_temperature = 93.5 degC\n"
            ),
            "{body}"
        );
    }

    #[test]
    fn smtp_starttls_required_with_auth_login_and_a_configured_ca() {
        if !aiosmtpd() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = certificates(dir.path());
        let server = Server::start(&[
            "--user",
            "alarms",
            "--password",
            "s3cret",
            "--tls",
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
        ]);
        let mut c = config(server.port, SmtpTls::Required);
        c.auth = auth(SmtpMechanism::Login, "s3cret");
        c.ca_file = Some(ca);
        Smtp::new(&c)
            .unwrap()
            .send(&immediate("ops@site.example"))
            .unwrap();
        let got = server.messages();
        assert_eq!(got.len(), 1, "{got:?}");
        check_message(&got[0]);
        assert_eq!(got[0]["tls"], true);
        assert_eq!(got[0]["auth_mechanism"], "LOGIN");

        // Opportunistic also upgrades when offered.
        c.tls = SmtpTls::Opportunistic;
        c.auth = auth(SmtpMechanism::Plain, "s3cret");
        Smtp::new(&c)
            .unwrap()
            .send(&immediate("ops@site.example"))
            .unwrap();
        let got = server.messages();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (&got[1]["tls"], &got[1]["auth_mechanism"]),
            (&true.into(), &"PLAIN".into())
        );

        // Without the CA the certificate is not trusted: a temporary TLS failure, nothing sent.
        c.ca_file = None;
        c.tls = SmtpTls::Required;
        let e = Smtp::new(&c)
            .unwrap()
            .send(&immediate("ops@site.example"))
            .unwrap_err();
        assert!(
            matches!(
                e,
                alarms::Error::Delivery {
                    stage: DeliveryStage::Tls,
                    permanent: false,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().starts_with(&format!(
            "transport smtp: negotiating TLS with 127.0.0.1:{}: ",
            server.port
        )));
        assert_eq!(server.messages().len(), 2);
    }

    #[test]
    fn smtp_tls_from_the_first_byte() {
        if !aiosmtpd() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = certificates(dir.path());
        let server = Server::start(&["--smtps", cert.to_str().unwrap(), key.to_str().unwrap()]);
        let mut c = config(server.port, SmtpTls::Wrapper);
        c.ca_file = Some(ca);
        Smtp::new(&c)
            .unwrap()
            .send(&immediate("ops@site.example"))
            .unwrap();
        let got = server.messages();
        assert_eq!(got.len(), 1, "{got:?}");
        check_message(&got[0]);
        assert_eq!(got[0]["tls"], true);
        // Plain text to a TLS port fails (temporarily: no banner within the timeout),
        // nothing is received.
        let mut plain = config(server.port, SmtpTls::None);
        plain.timeout = std::time::Duration::from_millis(500);
        let e = Smtp::new(&plain)
            .unwrap()
            .send(&immediate("ops@site.example"));
        assert!(e.is_err_and(|e| !e.is_permanent()));
        assert_eq!(server.messages().len(), 1);
    }

    #[test]
    fn smtp_starttls_required_refuses_a_server_without_it() {
        if !aiosmtpd() {
            return;
        }
        let server = Server::start(&[]);
        let e = Smtp::new(&config(server.port, SmtpTls::Required))
            .unwrap()
            .send(&immediate("ops@site.example"))
            .unwrap_err();
        assert!(
            matches!(
                e,
                alarms::Error::Delivery {
                    stage: DeliveryStage::Tls,
                    permanent: false,
                    ..
                }
            ),
            "{e}"
        );
        assert!(server.messages().is_empty());
        // Opportunistic falls back to plain text.
        Smtp::new(&config(server.port, SmtpTls::Opportunistic))
            .unwrap()
            .send(&immediate("ops@site.example"))
            .unwrap();
        assert_eq!(server.messages().len(), 1);
        assert_eq!(server.messages()[0]["tls"], false);
    }

    #[test]
    fn smtp_wrong_password_is_a_temporary_authentication_failure() {
        if !aiosmtpd() {
            return;
        }
        let server = Server::start(&["--user", "alarms", "--password", "s3cret"]);
        let mut c = config(server.port, SmtpTls::None);
        c.auth = auth(SmtpMechanism::Plain, "wrong");
        let e = Smtp::new(&c)
            .unwrap()
            .send(&immediate("ops@site.example"))
            .unwrap_err();
        assert!(
            matches!(
                e,
                alarms::Error::Delivery {
                    stage: DeliveryStage::Authenticate,
                    permanent: false,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("535"), "{e}");
        assert!(server.messages().is_empty());
    }

    #[test]
    fn smtp_recipient_that_is_not_an_address_is_refused_for_good() {
        // No server needed: the message cannot be composed.
        let mut smtp = Smtp::new(&config(9, SmtpTls::None)).unwrap();
        let e = smtp.send(&immediate("not an address")).unwrap_err();
        assert!(e.is_permanent(), "{e}");
        assert!(
            e.to_string().starts_with(
                "transport smtp: composing the message for 127.0.0.1:9: recipient \"ops\""
            ),
            "{e}"
        );
    }

    #[test]
    fn smtp_server_down_then_up_delivers_once_after_the_retry() {
        if !aiosmtpd() {
            return;
        }
        // A free loopback port nobody listens on yet.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut outbox = Outbox::new(
            Smtp::new(&config(port, SmtpTls::None)).unwrap(),
            RetryPolicy::default(),
        );
        let n = immediate("ops@site.example");
        let r = outbox.deliver([n.clone()], t0());
        assert_eq!((r.delivered, r.pending, r.lost()), (0, 1, 0));
        let e = r.failure.unwrap();
        assert!(
            matches!(
                e,
                alarms::Error::Delivery {
                    stage: DeliveryStage::Connect,
                    permanent: false,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(r.retry_at, Some(t0() + Duration::seconds(10)));

        // The server comes up on that port.
        let server = Server::start(&["--port", &port.to_string()]);
        assert_eq!(server.port, port);
        let r = outbox.tick(t0() + Duration::seconds(9));
        assert_eq!((r.delivered, r.pending), (0, 1), "not before its time");
        let r = outbox.tick(t0() + Duration::seconds(10));
        assert_eq!(
            (r.delivered, r.pending, r.lost()),
            (1, 0, 0),
            "{:?}",
            r.failure
        );
        let _ = outbox.tick(t0() + Duration::seconds(60));
        let got = server.messages();
        assert_eq!(got.len(), 1, "delivered exactly once");
        check_message(&got[0]);
    }
}

#[cfg(feature = "webhook")]
mod webhook {
    use super::*;
    use alarms::DeliveryStage;
    use alarms::transport::{Webhook, WebhookConfig};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    #[derive(Debug, Clone)]
    struct Request {
        method: String,
        path: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Request {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// A tiny HTTP/1.1 receiver on a loopback listener: records each request and answers
    /// the i-th with `statuses[i]` (204 after the list), then closes the connection.
    fn receive(listener: TcpListener, statuses: Vec<u16>) -> Arc<Mutex<Vec<Request>>> {
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&got);
        std::thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let status = statuses.get(i).copied().unwrap_or(204);
                answer(stream, status, &seen);
            }
        });
        got
    }

    /// Reads one request, records it, then answers (so a sender that has its answer finds
    /// the request recorded).
    fn answer(mut stream: TcpStream, status: u16, seen: &Mutex<Vec<Request>>) -> Option<()> {
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .ok()?;
        let mut reader = BufReader::new(stream.try_clone().ok()?);
        let mut first = String::new();
        reader.read_line(&mut first).ok()?;
        let mut parts = first.split_whitespace();
        let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).ok()?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':')?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).ok()?;
        seen.lock().unwrap().push(Request {
            method,
            path,
            headers,
            body,
        });
        let text = if status == 204 {
            ""
        } else {
            "receiver says no"
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
            text.len()
        );
        Some(())
    }

    fn listener() -> (TcpListener, u16) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        (l, port)
    }

    fn parse(r: &Request) -> NotificationJson {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn webhook_posts_the_documented_json_with_its_headers() {
        let (l, port) = listener();
        let got = receive(l, vec![200, 202]);
        let mut c = WebhookConfig::new(&format!("http://127.0.0.1:{port}/hooks/alarms"));
        c.headers
            .insert("Authorization".into(), "Bearer t0ken".into());
        let mut hook = Webhook::new(&c).unwrap();
        hook.send(&immediate("https://chat.example/ops")).unwrap();
        hook.send(&digest("https://chat.example/ops")).unwrap();
        let got = got.lock().unwrap().clone();
        assert_eq!(got.len(), 2);
        let r = &got[0];
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/hooks/alarms")
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("authorization"), Some("Bearer t0ken"));
        check_immediate_json(&parse(r), "https://chat.example/ops");
        // The documented shape, field by field (null fields included).
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "address",
                "at",
                "at_local",
                "items",
                "kind",
                "recipient",
                "schema",
                "subject",
                "time_zone"
            ]
        );
        let item_keys: Vec<&str> = v["items"][0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            item_keys,
            [
                "alarm",
                "due",
                "event_type",
                "occurrence",
                "point",
                "priority",
                "text",
                "time",
                "time_local",
                "unit",
                "value"
            ]
        );
        assert_eq!(v["at"], "2024-01-15T08:02:00Z");
        let d = parse(&got[1]);
        assert_eq!(d.kind, NotificationKind::Digest);
        assert_eq!(d.items[0].value, Some(93.5));
    }

    #[test]
    fn webhook_non_2xx_is_a_failure_temporary_or_permanent() {
        let (l, port) = listener();
        let _got = receive(l, vec![500, 422, 302]);
        let mut hook =
            Webhook::new(&WebhookConfig::new(&format!("http://127.0.0.1:{port}/x"))).unwrap();
        let n = immediate("ops");
        let e = hook.send(&n).unwrap_err();
        assert!(!e.is_permanent());
        assert_eq!(
            e.to_string(),
            format!(
                "transport webhook: refused by http://127.0.0.1:{port}/x: HTTP 500 Internal \
                 Server Error: receiver says no"
            )
        );
        let e = hook.send(&n).unwrap_err();
        assert!(e.is_permanent(), "{e}");
        assert!(e.to_string().contains("HTTP 422"), "{e}");
        let e = hook.send(&n).unwrap_err();
        assert!(!e.is_permanent(), "{e}");
        assert!(
            e.to_string().contains("HTTP 302"),
            "a redirect is not followed: {e}"
        );
    }

    #[test]
    fn webhook_times_out_on_a_receiver_that_never_answers() {
        let (l, port) = listener();
        // Accept and hold connections without answering.
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in l.incoming() {
                held.push(s);
            }
        });
        let mut c = WebhookConfig::new(&format!("http://127.0.0.1:{port}/x"));
        c.timeout = std::time::Duration::from_millis(300);
        let start = std::time::Instant::now();
        let e = Webhook::new(&c)
            .unwrap()
            .send(&immediate("ops"))
            .unwrap_err();
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        assert!(
            matches!(
                e,
                alarms::Error::Delivery {
                    stage: DeliveryStage::Connect,
                    permanent: false,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("timeout"), "{e}");
    }

    #[test]
    fn webhook_receiver_down_then_up_gets_each_notification_once_in_order() {
        // A free port with nobody listening: connections are refused.
        let port = listener().1;
        let hook =
            Webhook::new(&WebhookConfig::new(&format!("http://127.0.0.1:{port}/in"))).unwrap();
        let mut outbox = Outbox::new(hook, RetryPolicy::default());
        let first = immediate("ops");
        let r = outbox.deliver([first.clone()], t0());
        assert_eq!((r.delivered, r.pending, r.lost()), (0, 1, 0));
        let e = r.failure.unwrap();
        assert!(
            matches!(
                e,
                alarms::Error::Delivery {
                    stage: DeliveryStage::Connect,
                    permanent: false,
                    ..
                }
            ),
            "{e}"
        );
        // Still down at the first retry: the wait doubles.
        let r = outbox.tick(t0() + Duration::seconds(10));
        assert_eq!(
            (r.delivered, r.retry_at),
            (0, Some(t0() + Duration::seconds(30)))
        );
        // A second notification queues behind the first.
        let second = digest("ops");
        let r = outbox.deliver([second.clone()], t0() + Duration::seconds(20));
        assert_eq!((r.delivered, r.pending), (0, 2));

        // The receiver comes up on that port.
        let got = receive(TcpListener::bind(("127.0.0.1", port)).unwrap(), vec![]);
        let r = outbox.tick(t0() + Duration::seconds(29));
        assert_eq!(r.delivered, 0, "not before the retry time");
        assert!(got.lock().unwrap().is_empty());
        let r = outbox.tick(t0() + Duration::seconds(30));
        assert_eq!(
            (r.delivered, r.pending, r.lost()),
            (2, 0, 0),
            "{:?}",
            r.failure
        );
        let _ = outbox.tick(t0() + Duration::seconds(90));
        let got = got.lock().unwrap().clone();
        assert_eq!(got.len(), 2, "each once");
        assert_eq!(parse(&got[0]), NotificationJson::new(&first));
        assert_eq!(parse(&got[1]), NotificationJson::new(&second));
        assert_eq!(outbox.totals(), (2, 0, 0));
    }

    #[test]
    fn webhook_over_https_to_a_receiver_with_the_sites_own_ca() {
        use std::process::{Command, Stdio};
        if !peer_available("python3", Command::new("python3").arg("-V")) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (ca, cert, key) = certificates(dir.path());
        let out = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/https_receiver.py"
            ))
            .args([&cert, &key, &out.path().to_path_buf()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().strip_prefix("PORT ").unwrap().parse().unwrap();
        let url = format!("https://127.0.0.1:{port}/hooks/alarms");
        let n = immediate("ops");

        // Not trusted with the Mozilla roots: a temporary TLS failure.
        let e = Webhook::new(&WebhookConfig::new(&url))
            .unwrap()
            .send(&n)
            .unwrap_err();
        let tls_failure = matches!(
            e,
            alarms::Error::Delivery {
                stage: DeliveryStage::Tls,
                permanent: false,
                ..
            }
        );
        // Trusted with the site's CA: delivered.
        let mut c = WebhookConfig::new(&url);
        c.ca_file = Some(ca);
        let sent = Webhook::new(&c).unwrap().send(&n);
        let files: Vec<_> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        let _ = child.kill();
        let _ = child.wait();
        assert!(tls_failure, "{e}");
        sent.unwrap();
        assert_eq!(files.len(), 1);
        let got: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
        assert_eq!(got["path"], "/hooks/alarms");
        assert_eq!(got["content_type"], "application/json");
        let j: NotificationJson = serde_json::from_str(got["body"].as_str().unwrap()).unwrap();
        check_immediate_json(&j, "ops");

        // A CA file without certificates is a configuration error.
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        c.ca_file = Some(empty);
        let e = Webhook::new(&c).unwrap_err();
        assert!(
            e.to_string().starts_with("transport webhook: ca_file: ")
                && e.to_string()
                    .ends_with("expected PEM certificates, found none"),
            "{e}"
        );
    }

    #[test]
    fn webhook_config_reads_from_toml_and_refuses_bad_values() {
        let c: alarms::transport::TransportConfig = toml::from_str(
            "type = \"webhook\"\nurl = \"https://hooks.example.com/a\"\ntimeout = \"3s\"\n\
             headers = { Authorization = \"Bearer x\" }",
        )
        .unwrap();
        assert_eq!(c.build().unwrap().name(), "webhook");
        let e = Webhook::new(&WebhookConfig::new("ftp://example.com/")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("transport webhook: url: expected an http:// or https:// URL"),
            "{e}"
        );
        let mut c = WebhookConfig::new("http://example.com/");
        c.headers.insert("Bad Header".into(), "x".into());
        let e = Webhook::new(&c).unwrap_err();
        assert_eq!(
            e.to_string(),
            "transport webhook: headers.Bad Header: expected an HTTP header name, found \"Bad Header\""
        );
    }
}
