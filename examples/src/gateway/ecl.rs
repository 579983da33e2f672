//! ECL Comfort controllers: the application key is detected at start
//! ([`ecl_appkeys::ops::detect_on`]: identity, key, firmware rules), compared with the key
//! the site file names, and the detected key's parameter map becomes the controller's
//! product (`ecl:NAME`), polled with the other devices of its bus (one connection per bus:
//! an ECL drops a second TCP client).

use ecl_appkeys::firmware::Verdict;
use ecl_appkeys::ops::DetectReport;
use modbus_devices::Product;
use modbus_devices::device::Installation;

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
}

impl EclStatus {
    /// Whether the detected key is the site file's and no firmware rule refuses it.
    pub fn ok(&self) -> bool {
        self.detected.as_deref() == Some(self.expected.as_str())
            && self.error.is_none()
            && self.firmware.iter().all(|f| !f.contains("unsupported"))
    }

    fn from_report(ecl: &Ecl, report: &DetectReport) -> EclStatus {
        let firmware = report
            .compatibility
            .iter()
            .filter(|c| c.verdict != Verdict::Ok)
            .map(|c| {
                let verdict = match c.verdict {
                    Verdict::WillUpdate => "will_update",
                    _ => "unsupported",
                };
                format!("{:?}: {verdict} ({})", c.rule, c.detail)
            })
            .collect();
        EclStatus {
            name: ecl.name.clone(),
            expected: ecl.key.clone(),
            detected: report.key.clone(),
            polled: report.key.clone().unwrap_or_else(|| ecl.key.clone()),
            software: Some(report.software.clone()),
            firmware,
            error: None,
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
        let product = status
            .polled
            .parse::<ecl_appkeys::KeyId>()
            .map_err(|e| e.to_string())
            .and_then(|key| {
                ecl_appkeys::Controller::new(&catalogue, key, Some("ecl310"))
                    .and_then(|c| c.product(&format!("ecl:{}", ecl.name)))
                    .map_err(|e| e.to_string())
            });
        match product {
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
