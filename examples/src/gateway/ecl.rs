//! ECL Comfort controllers: the application key is detected at start
//! ([`ecl_appkeys::ops::detect_on`]: identity, key, firmware rules), compared with the key
//! the site file names, and the detected key's parameter map becomes the controller's
//! product (`ecl:NAME`), polled with the other devices of its bus (one connection per bus:
//! an ECL drops a second TCP client).
//!
//! When a controller that stopped answering answers again (or answers for the first time
//! after detection failed at start), [`EclWatch`] detects it again from the cycle's own
//! readings of its identity and key registers ([`ecl_appkeys::detect()`], no second
//! connection): a key that changed while it was away is logged, kept in its [`EclStatus`],
//! and its parameter map replaces the polled one ([`EclWatch::observe`] returns it).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ecl_appkeys::firmware::Verdict;
use ecl_appkeys::ops::{Compatibility, DetectReport};
use modbus_devices::device::Installation;
use modbus_devices::{Product, Quality, Reading, Value};

use crate::site::Ecl;

/// What detection found for one controller, kept as its status.
#[derive(Debug, Clone, PartialEq)]
pub struct EclStatus {
    /// The device name.
    pub name: String,
    /// The key the site file names (`A266.1`).
    pub expected: String,
    /// The detected key (`None`: detection failed or the key could not be read).
    pub detected: Option<String>,
    /// The key whose parameter map is polled: the detected one, else the site file's.
    pub polled: String,
    /// The controller software version, when detected.
    pub software: Option<String>,
    /// The firmware rules that do not say "ok": `rule: verdict (detail)`.
    pub firmware: Vec<String>,
    /// Why detection failed, when it did.
    pub error: Option<String>,
    /// How many times detection ran (at start, then each time the controller answered
    /// again after not answering).
    pub detections: u32,
    /// When detection last ran.
    pub detected_at: Option<DateTime<Utc>>,
    /// The key polled before the last detection, when that detection found another one
    /// (the application was changed while the controller was away).
    pub previous: Option<String>,
}

impl EclStatus {
    /// Whether the detected key is the site file's and no firmware rule refuses it.
    pub fn ok(&self) -> bool {
        self.detected.as_deref() == Some(self.expected.as_str())
            && self.error.is_none()
            && self.firmware.iter().all(|f| !f.contains("unsupported"))
    }

    fn from_report(ecl: &Ecl, report: &DetectReport) -> EclStatus {
        let firmware = firmware_lines(&report.compatibility);
        EclStatus {
            name: ecl.name.clone(),
            expected: ecl.key.clone(),
            detected: report.key.clone(),
            polled: report.key.clone().unwrap_or_else(|| ecl.key.clone()),
            software: Some(report.software.clone()),
            firmware,
            error: None,
            detections: 1,
            detected_at: Some(Utc::now()),
            previous: None,
        }
    }
}

/// The firmware verdicts that are not "ok", as kept in [`EclStatus::firmware`].
fn firmware_lines(compatibility: &[Compatibility]) -> Vec<String> {
    compatibility
        .iter()
        .filter(|c| c.verdict != Verdict::Ok)
        .map(|c| {
            let verdict = match c.verdict {
                Verdict::WillUpdate => "will_update",
                _ => "unsupported",
            };
            format!("{:?}: {verdict} ({})", c.rule, c.detail)
        })
        .collect()
}

/// The parameter map of `key` as the product `ecl:NAME`.
fn product_for(
    catalogue: &ecl_appkeys::Catalogue,
    name: &str,
    key: &str,
) -> Result<Product, String> {
    key.parse::<ecl_appkeys::KeyId>()
        .map_err(|e| e.to_string())
        .and_then(|key| {
            ecl_appkeys::Controller::new(catalogue, key, Some("ecl310"))
                .and_then(|c| c.product(&format!("ecl:{name}")))
                .map_err(|e| e.to_string())
        })
}

/// Detection from one cycle's readings of a controller polled with its parameter map
/// (identity services `build`, `code_number`, `hardware`, `software`, `serial`,
/// `production`; key services `key_prefix`, `key_type`, `key_subtype`, `key_version`): the
/// same report as [`ecl_appkeys::ops::detect_on`] without the sensors, read over the
/// poller's own connection.
///
/// # Errors
/// An identity register that was not read (text).
pub fn detect_from_readings(
    catalogue: &ecl_appkeys::Catalogue,
    device: &str,
    readings: &[Reading],
) -> Result<DetectReport, String> {
    let number = |id: &str| {
        readings
            .iter()
            .find(|r| r.device == device && r.service == id && r.quality == Quality::Good)
            .and_then(|r| r.value.as_ref().and_then(Value::as_f64))
    };
    let word = |id: &str| {
        number(id)
            .filter(|v| (0.0..=f64::from(u16::MAX)).contains(v))
            .map(|v| v as u16)
    };
    let serial = number("serial")
        .filter(|v| (0.0..=f64::from(u32::MAX)).contains(v))
        .map_or(0, |v| v as u32);
    let identity = ecl_appkeys::system::RawIdentity::from_fn(|p| {
        let id = match p.get() {
            8 => "build",
            19 => "code_number",
            34 => "hardware",
            35 => "software",
            36 => return Some((serial >> 16) as u16),
            37 => return Some((serial & 0xffff) as u16),
            2099 => "production",
            _ => return None,
        };
        word(id)
    })
    .map_err(|e| e.to_string())?;
    let key = match (
        word("key_prefix"),
        word("key_type"),
        word("key_subtype"),
        word("key_version"),
    ) {
        (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
        _ => None,
    };
    let found = ecl_appkeys::detect(catalogue, &identity, key);
    let compatibility = ecl_appkeys::firmware::check(&found.versions())
        .into_iter()
        .map(|c| Compatibility {
            rule: c.rule,
            verdict: c.verdict,
            detail: c.detail,
        })
        .collect();
    Ok(DetectReport {
        key: found.key_id().map(|k| k.to_string()),
        key_version: found.key_version.map(|v| v.to_string()),
        software: identity.decode().software.to_string(),
        compatibility,
        sensors: Vec::new(),
    })
}

/// Watches the controllers' answers cycle after cycle and detects a controller again when
/// it answers after not answering.
#[derive(Debug)]
pub struct EclWatch {
    catalogue: Option<ecl_appkeys::Catalogue>,
    /// Whether each controller answered in the last cycle it was read.
    online: HashMap<String, bool>,
    /// Controllers back after not answering, waiting for a cycle that reads their identity
    /// (the poller reads it in the first poll after a device is back), with the number of
    /// answering cycles without it so far.
    pending: HashMap<String, u32>,
}

/// Answering cycles without the identity read before a detection is given up.
const IDENTITY_WAIT_CYCLES: u32 = 5;

impl EclWatch {
    /// A watch over `statuses` (those from [`detect_all`]): a controller whose detection
    /// failed counts as not answering, so its first answer detects it.
    pub fn new(statuses: &[EclStatus]) -> EclWatch {
        let catalogue = ecl_appkeys::Catalogue::builtin()
            .inspect_err(|e| tracing::error!("the built-in ECL catalogue: {e}"))
            .ok();
        EclWatch {
            catalogue,
            online: statuses
                .iter()
                .map(|s| (s.name.clone(), s.detected.is_some()))
                .collect(),
            pending: HashMap::new(),
        }
    }

    /// Look at one cycle's readings: a controller whose readings all failed is marked as
    /// not answering; one that answers again is detected again from the first of its
    /// cycles that read its identity (the poller reads it in its first poll after the
    /// controller is back), its status updated (and logged). Returns the controllers whose detected key differs
    /// from the polled one, with the new key's parameter map (`ecl:NAME`) to poll instead;
    /// their status's `polled` is the new key only once the caller says so
    /// ([`EclWatch::swapped`]).
    pub fn observe(
        &mut self,
        statuses: &mut [EclStatus],
        readings: &[Reading],
        now: DateTime<Utc>,
    ) -> Vec<(String, Product)> {
        let mut swaps = Vec::new();
        for status in statuses.iter_mut() {
            let mut mine = readings
                .iter()
                .filter(|r| r.device == status.name)
                .peekable();
            if mine.peek().is_none() {
                continue;
            }
            let answered = mine.any(|r| r.quality != Quality::NoAnswer);
            let was = self.online.insert(status.name.clone(), answered);
            if !answered {
                if was != Some(false) {
                    tracing::warn!(ecl = %status.name, "ECL not answering: it is detected again when it answers");
                }
                continue;
            }
            if was == Some(false) {
                self.pending.insert(status.name.clone(), 0);
            }
            let Some(waited) = self.pending.get_mut(&status.name) else {
                continue;
            };
            let Some(catalogue) = &self.catalogue else {
                continue;
            };
            let report = match detect_from_readings(catalogue, &status.name, readings) {
                Ok(report) => report,
                Err(e) => {
                    *waited += 1;
                    if *waited >= IDENTITY_WAIT_CYCLES {
                        tracing::warn!(ecl = %status.name, "ECL answers again but its identity was not read in {waited} cycles: not detected again ({e})");
                        status.error = Some(format!("answers again, identity not read: {e}"));
                        self.pending.remove(&status.name);
                    }
                    continue;
                }
            };
            self.pending.remove(&status.name);
            status.detections = status.detections.saturating_add(1);
            status.detected_at = Some(now);
            status.error = None;
            status.detected.clone_from(&report.key);
            status.software = Some(report.software.clone());
            status.firmware = firmware_lines(&report.compatibility);
            for f in &status.firmware {
                tracing::warn!(ecl = %status.name, "ECL firmware: {f}");
            }
            match &report.key {
                None => {
                    tracing::warn!(ecl = %status.name, polled = %status.polled, "ECL answers again, its key could not be read: still polling {}", status.polled)
                }
                Some(k) if *k == status.polled => {
                    tracing::info!(ecl = %status.name, key = %k, "ECL answers again, same application key");
                }
                Some(k) => {
                    tracing::warn!(
                        ecl = %status.name,
                        was = %status.polled,
                        now = %k,
                        expected = %status.expected,
                        "ECL answers again with another application key"
                    );
                    match product_for(catalogue, &status.name, k) {
                        Ok(p) => swaps.push((status.name.clone(), p)),
                        Err(e) => {
                            tracing::error!(ecl = %status.name, key = %k, "no parameter map for the new key, still polling {}: {e}", status.polled);
                            status.error = Some(e);
                        }
                    }
                }
            }
        }
        swaps
    }

    /// Record that `name` is now polled with the parameter map of its detected key.
    pub fn swapped(statuses: &mut [EclStatus], name: &str) {
        if let Some(s) = statuses.iter_mut().find(|s| s.name == name)
            && let Some(k) = s.detected.clone()
            && k != s.polled
        {
            s.previous = Some(std::mem::replace(&mut s.polled, k));
        }
    }
}

/// Detect every ECL of the site (one at a time, each with its own short-lived connection:
/// call this before the main poller connects), log the findings, and return the statuses
/// with the products to poll (`ecl:NAME`, the polled key's parameter map).
pub async fn detect_all(
    ecls: &[Ecl],
    installation: &Installation,
) -> (Vec<EclStatus>, Vec<(String, Product)>) {
    let mut statuses = Vec::new();
    let mut products = Vec::new();
    let catalogue = match ecl_appkeys::Catalogue::builtin() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("the built-in ECL catalogue: {e}");
            return (statuses, products);
        }
    };
    for ecl in ecls {
        let Some(bus) = installation.buses.iter().find(|b| b.name == ecl.bus) else {
            continue;
        };
        let mut status =
            match ecl_appkeys::ops::detect_on(&catalogue, bus.kind.clone(), ecl.unit).await {
                Ok(report) => EclStatus::from_report(ecl, &report),
                Err(e) => EclStatus {
                    name: ecl.name.clone(),
                    expected: ecl.key.clone(),
                    detected: None,
                    polled: ecl.key.clone(),
                    software: None,
                    firmware: Vec::new(),
                    error: Some(e.to_string()),
                    detections: 1,
                    detected_at: Some(Utc::now()),
                    previous: None,
                },
            };
        if let Some(e) = &status.error {
            tracing::warn!(ecl = %ecl.name, "ECL detection failed, polling the site file's key {}: {e}", ecl.key);
        } else if status.detected.as_deref() != Some(ecl.key.as_str()) {
            tracing::warn!(
                ecl = %ecl.name,
                expected = %ecl.key,
                detected = status.detected.as_deref().unwrap_or("none"),
                "ECL application key differs from the site file"
            );
        } else {
            tracing::info!(ecl = %ecl.name, key = %ecl.key, software = status.software.as_deref().unwrap_or(""), "ECL detected");
        }
        for f in &status.firmware {
            tracing::warn!(ecl = %ecl.name, "ECL firmware: {f}");
        }
        match product_for(&catalogue, &ecl.name, &status.polled) {
            Ok(p) => products.push((ecl.name.clone(), p)),
            Err(e) => {
                tracing::error!(ecl = %ecl.name, key = %status.polled, "no parameter map for the ECL: {e}");
                status.error.get_or_insert(e);
            }
        }
        statuses.push(status);
    }
    (statuses, products)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// One cycle's readings of `ecl1` running `key` (`(type, subtype)` of an `A` key), or
    /// not answering.
    fn readings(key: Option<(u16, u16)>) -> Vec<Reading> {
        let at = Utc::now();
        let words: [(&str, f64); 10] = [
            ("build", 2600.0),
            ("code_number", 3040.0),
            ("hardware", f64::from(0x4102u16)),
            ("software", f64::from(0x0138u16)),
            ("serial", 65538.0),
            ("production", f64::from(0x1203u16)),
            ("key_prefix", f64::from(b'A')),
            ("key_type", f64::from(key.map_or(0, |k| k.0))),
            ("key_subtype", f64::from(key.map_or(0, |k| k.1))),
            ("key_version", f64::from(0x0108u16)),
        ];
        words
            .iter()
            .map(|(id, v)| Reading {
                device: "ecl1".into(),
                service: (*id).into(),
                value: key.map(|_| Value::Number(*v)),
                unit: modbus_devices::Unit::None,
                timestamp: at,
                quality: if key.is_some() {
                    Quality::Good
                } else {
                    Quality::NoAnswer
                },
            })
            .collect()
    }

    fn status() -> EclStatus {
        EclStatus {
            name: "ecl1".into(),
            expected: "A266.1".into(),
            detected: Some("A266.1".into()),
            polled: "A266.1".into(),
            software: Some("1.56".into()),
            firmware: Vec::new(),
            error: None,
            detections: 1,
            detected_at: None,
            previous: None,
        }
    }

    #[test]
    fn detection_from_the_polled_identity_and_key_registers() {
        let catalogue = ecl_appkeys::Catalogue::builtin().unwrap();
        let r = detect_from_readings(&catalogue, "ecl1", &readings(Some((266, 1)))).unwrap();
        assert_eq!(r.key.as_deref(), Some("A266.1"));
        assert_eq!(r.software, "1.56");
        assert_eq!(r.key_version.as_deref(), Some("1.08"));
        // nothing read: the identity is missing
        let e = detect_from_readings(&catalogue, "ecl1", &readings(None)).unwrap_err();
        assert!(e.contains('8') || e.contains("PNU"), "{e}");
    }

    #[test]
    fn a_controller_that_answers_again_is_detected_again_and_a_new_key_swaps_its_map() {
        let mut statuses = vec![status()];
        let mut watch = EclWatch::new(&statuses);
        let t = |s: i64| chrono::DateTime::from_timestamp(1_764_000_000 + s, 0).unwrap();
        // answering as at start: nothing to do
        assert!(
            watch
                .observe(&mut statuses, &readings(Some((266, 1))), t(0))
                .is_empty()
        );
        assert_eq!(statuses[0].detections, 1);
        // away, then back with the same key: detected again, nothing swapped
        assert!(
            watch
                .observe(&mut statuses, &readings(None), t(10))
                .is_empty()
        );
        assert_eq!(statuses[0].detections, 1);
        // back, but this cycle read only cyclic values: detection waits for the identity
        let cyclic: Vec<Reading> = readings(Some((266, 1)))
            .into_iter()
            .filter(|r| r.service == "key_type")
            .collect();
        assert!(watch.observe(&mut statuses, &cyclic, t(15)).is_empty());
        assert_eq!(statuses[0].detections, 1);
        assert!(
            watch
                .observe(&mut statuses, &readings(Some((266, 1))), t(20))
                .is_empty()
        );
        assert_eq!(statuses[0].detections, 2);
        assert_eq!(statuses[0].detected_at, Some(t(20)));
        assert!(statuses[0].ok());
        // another cycle online: no detection
        assert!(
            watch
                .observe(&mut statuses, &readings(Some((266, 1))), t(30))
                .is_empty()
        );
        assert_eq!(statuses[0].detections, 2);
        // away, back with another application: its parameter map is returned to poll
        assert!(
            watch
                .observe(&mut statuses, &readings(None), t(40))
                .is_empty()
        );
        let swaps = watch.observe(&mut statuses, &readings(Some((237, 1))), t(50));
        assert_eq!(swaps.len(), 1);
        assert_eq!(swaps[0].0, "ecl1");
        assert_eq!(swaps[0].1.references, ["ecl:ecl1"]);
        let s = &statuses[0];
        assert_eq!(s.detections, 3);
        assert_eq!(s.detected.as_deref(), Some("A237.1"));
        assert_eq!(s.polled, "A266.1", "polled until the caller swaps");
        assert!(!s.ok(), "the site file says A266.1");
        EclWatch::swapped(&mut statuses, "ecl1");
        assert_eq!(statuses[0].polled, "A237.1");
        assert_eq!(statuses[0].previous.as_deref(), Some("A266.1"));
    }

    #[test]
    fn a_controller_whose_detection_failed_at_start_is_detected_at_its_first_answer() {
        let mut s = status();
        s.detected = None;
        s.error = Some("no answer".into());
        let mut statuses = vec![s];
        let mut watch = EclWatch::new(&statuses);
        let now = Utc::now();
        assert!(
            watch
                .observe(&mut statuses, &readings(Some((266, 1))), now)
                .is_empty()
        );
        assert_eq!(statuses[0].detections, 2);
        assert_eq!(statuses[0].detected.as_deref(), Some("A266.1"));
        assert_eq!(statuses[0].error, None);
    }
}
