//! The commissioning scan (`monitor scan`): every Modbus bus and M-Bus bus of a site (or one
//! bus given by its address) is scanned, and what answers is compared with the site file.
//!
//! - Modbus buses: [`modbus_devices::scan::scan_bus`] probes the unit ids and names the
//!   catalogue product of each answering unit (signatures, FC43 device identification).
//! - M-Bus buses: [`mbus_meters::master::Master::scan_primary`] over the primary addresses
//!   (one address at a time, so progress can be shown), each answering address read once for
//!   its secondary address (identification number, manufacturer, medium), then the wildcard
//!   secondary search ([`Master::search_secondary_with_progress`], progress after every
//!   probe).
//!
//! The [`ScanReport`] lists what was found (bus, unit / primary / secondary address, product)
//! and how it compares with the site file: [`EntryStatus::Ok`] (expected and found as
//! described), [`EntryStatus::Mismatch`] (expected, but something else answers there, or a
//! meter answers only one of its two addresses), [`EntryStatus::Missing`] (expected, not
//! found), [`EntryStatus::NotInFile`] (found, not in the file) and [`EntryStatus::Found`]
//! (a scan without a site file). It prints as a table ([`ScanReport::table`]) and as JSON
//! (serde). A bus that cannot be reached is reported in [`BusReport::error`]; its expected
//! devices are then missing, and the other buses are still scanned.
//!
//! Progress goes to a callback ([`Progress`]); [`ProgressDisplay`] draws it: an `indicatif`
//! bar per bus phase when stderr is a terminal, plain lines otherwise.
//!
//! ECL controllers are Modbus units of the site, but not catalogue products: an ECL unit that
//! answers is reported as found (its application key is detected by the monitor's `run`, not
//! by the scan).
//!
//! # Example
//! The demo site, simulated on free loopback ports, scanned with a narrow unit range:
//! ```
//! use std::time::Duration;
//! use examples::scan::{scan_site, EntryStatus, ScanOptions};
//! use examples::simulation::{SimOptions, SimulatedSite};
//! use examples::site::Site;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = SimulatedSite::start(&Site::demo()?.with_ephemeral_ports(), SimOptions::default()).await?;
//! let options = ScanOptions {
//!     units: 1..=12,
//!     timeout: Duration::from_millis(100),
//!     primary: 0..=3,
//!     ..ScanOptions::default()
//! };
//! let report = scan_site(sim.site(), &options, |_| {}).await?;
//! assert!(report.entries.iter().all(|e| e.status == EntryStatus::Ok));
//! println!("{}", report.table());
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::ops::RangeInclusive;
use std::time::Duration;

use mbus_meters::master::{Master, MasterConfig};
use mbus_meters::timing::BusTiming;
use mbus_meters::{Address, SecondaryAddress};
use modbus_devices::Catalogue;
use modbus_devices::device::Bus as ModbusBus;
use modbus_devices::scan::{self as mscan, BusScan, UnitStatus};
use serde::Serialize;

use crate::site::{Site, SiteError};

/// How to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Only this bus (a `[[bus]]` or `[[mbus_bus]]` name); `None`: every bus.
    pub bus: Option<String>,
    /// Modbus unit ids to probe (default 1..=247).
    pub units: RangeInclusive<u8>,
    /// Per-unit response timeout on Modbus buses (default 250 ms).
    pub timeout: Duration,
    /// M-Bus primary addresses to probe (default 0..=250).
    pub primary: RangeInclusive<u8>,
    /// Run the M-Bus wildcard secondary search (default `true`).
    pub secondary: bool,
    /// M-Bus master settings (default: 9600 Bd timing, the usual speed of M-Bus to TCP
    /// gateways' transparent mode, no retries).
    pub mbus: MasterConfig,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            bus: None,
            units: 1..=247,
            timeout: Duration::from_millis(250),
            primary: 0..=250,
            secondary: true,
            mbus: MasterConfig {
                timing: BusTiming {
                    baud: 9600,
                    extra: Duration::ZERO,
                },
                retries: 0,
                ..MasterConfig::default()
            },
        }
    }
}

/// Errors before a scan starts (a scan's findings and bus failures are in the report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// `--bus NAME` names no bus of the site.
    #[error("{file}: no bus {name:?} (buses: {known})")]
    UnknownBus {
        /// The site file.
        file: String,
        /// The name given.
        name: String,
        /// The bus names of the site.
        known: String,
    },
    /// A single bus address could not be understood.
    #[error("bus address {address:?}: {message}")]
    InvalidAddress {
        /// The address given.
        address: String,
        /// What was expected.
        message: String,
    },
    /// The site's buses could not be turned into Modbus bus settings.
    #[error(transparent)]
    Site(#[from] SiteError),
}

/// What a scan reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The bus.
    pub bus: String,
    /// `modbus units`, `m-bus primary` or `m-bus secondary`.
    pub phase: &'static str,
    /// Steps done.
    pub done: usize,
    /// Steps in this phase (0 for the secondary search, whose length is not known).
    pub total: usize,
    /// Devices found so far in this phase.
    pub found: usize,
}

/// How an entry compares with the site file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Expected and found as described.
    Ok,
    /// Expected, and something answers, but not as described.
    Mismatch,
    /// Expected, not found.
    Missing,
    /// Found, not in the site file.
    NotInFile,
    /// Found (no site file to compare with).
    Found,
}

impl EntryStatus {
    /// The word used in the table.
    pub fn word(self) -> &'static str {
        match self {
            EntryStatus::Ok => "ok",
            EntryStatus::Mismatch => "mismatch",
            EntryStatus::Missing => "missing",
            EntryStatus::NotInFile => "not in file",
            EntryStatus::Found => "found",
        }
    }
}

/// One device, found or expected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The bus name.
    pub bus: String,
    /// `modbus` or `m-bus`.
    pub protocol: &'static str,
    /// Modbus unit id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<u8>,
    /// M-Bus primary address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<u8>,
    /// M-Bus secondary address (8-digit identification number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary: Option<String>,
    /// The site file's name for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the site file expects (a catalogue product, `ECL A266.1`, `M-Bus KAM heat`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What was found (a catalogue product, `answers`, `KAM heat`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
    /// The comparison.
    pub status: EntryStatus,
    /// Details (how it was identified, why it differs).
    pub detail: String,
}

/// One scanned bus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BusReport {
    /// The bus name.
    pub name: String,
    /// `tcp`, `rtu_over_tcp`, `tls`, `rtu` or `m-bus`.
    pub kind: String,
    /// Where it was reached.
    pub endpoint: String,
    /// Addresses probed.
    pub probed: usize,
    /// Devices that answered.
    pub found: usize,
    /// Why the scan of this bus failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The result of a scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    /// The site name (`None` for a single bus address).
    pub site: Option<String>,
    /// The scanned buses.
    pub buses: Vec<BusReport>,
    /// Found and expected devices, by bus then address.
    pub entries: Vec<Entry>,
}

impl ScanReport {
    /// The entries with this status.
    pub fn with_status(&self, status: EntryStatus) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.status == status)
    }

    /// An entry by its site name.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.name.as_deref() == Some(name))
    }

    /// A plain-text table: one line per bus, then one line per entry.
    pub fn table(&self) -> String {
        let mut out = String::new();
        if let Some(site) = &self.site {
            out.push_str(&format!("site {site:?}\n"));
        }
        for b in &self.buses {
            out.push_str(&format!(
                "bus {} ({} {}): {} probed, {} found{}\n",
                b.name,
                b.kind,
                b.endpoint,
                b.probed,
                b.found,
                b.error
                    .as_ref()
                    .map(|e| format!(", FAILED: {e}"))
                    .unwrap_or_default()
            ));
        }
        let rows: Vec<[String; 7]> = self
            .entries
            .iter()
            .map(|e| {
                let address = match (e.unit, e.primary, &e.secondary) {
                    (Some(u), _, _) => format!("unit {u}"),
                    (None, Some(p), Some(s)) => format!("primary {p} / {s}"),
                    (None, Some(p), None) => format!("primary {p}"),
                    (None, None, Some(s)) => format!("secondary {s}"),
                    (None, None, None) => String::new(),
                };
                [
                    e.bus.clone(),
                    address,
                    e.name.clone().unwrap_or_default(),
                    e.expected.clone().unwrap_or_default(),
                    e.found.clone().unwrap_or_default(),
                    e.status.word().to_string(),
                    e.detail.clone(),
                ]
            })
            .collect();
        let header = [
            "bus", "address", "name", "expected", "found", "status", "detail",
        ];
        let mut widths = header.map(str::len);
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[&str]| {
            let mut l = String::new();
            for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    l.push_str(c);
                } else {
                    l.push_str(&format!("{c:<w$}  "));
                }
            }
            l.trim_end().to_string() + "\n"
        };
        out.push_str(&line(&header));
        for r in &rows {
            let cells: Vec<&str> = r.iter().map(String::as_str).collect();
            out.push_str(&line(&cells));
        }
        out
    }
}

/// Draws scan progress on stderr: an `indicatif` bar per bus phase when stderr is a
/// terminal (a spinner for the secondary search, whose length is not known), otherwise a
/// plain line at the start of a phase, every 10 % (every 10 probes of the secondary search)
/// and at its end.
#[derive(Debug)]
pub struct ProgressDisplay {
    terminal: bool,
    bar: Option<(String, &'static str, indicatif::ProgressBar)>,
    last_tenth: usize,
}

impl Default for ProgressDisplay {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressDisplay {
    /// Bars when stderr is a terminal, plain lines when it is not.
    pub fn new() -> Self {
        Self::with_terminal(std::io::stderr().is_terminal())
    }

    /// Bars (`true`) or plain lines (`false`).
    pub fn with_terminal(terminal: bool) -> Self {
        Self {
            terminal,
            bar: None,
            last_tenth: usize::MAX,
        }
    }

    /// The plain line for a progress step, when one is due (`None` between the 10 % marks).
    pub fn plain_line(&mut self, p: &Progress) -> Option<String> {
        // The secondary search has no known length: a line every 10 probes.
        let tenth = (p.done * 10).checked_div(p.total).unwrap_or(p.done / 10);
        let start = p.done <= 1;
        let end = p.total > 0 && p.done == p.total;
        if !(start || end || tenth != self.last_tenth) {
            return None;
        }
        self.last_tenth = tenth;
        Some(if p.total == 0 {
            format!(
                "scan {}: {} ({} probes, {} found)",
                p.bus, p.phase, p.done, p.found
            )
        } else {
            format!(
                "scan {}: {} {}/{} ({} found)",
                p.bus, p.phase, p.done, p.total, p.found
            )
        })
    }

    /// Show one progress step.
    pub fn show(&mut self, p: &Progress) {
        if !self.terminal {
            if let Some(line) = self.plain_line(p) {
                eprintln!("{line}");
            }
            return;
        }
        let same = self
            .bar
            .as_ref()
            .is_some_and(|(bus, phase, _)| *bus == p.bus && *phase == p.phase);
        if !same {
            if let Some((_, _, b)) = self.bar.take() {
                b.finish();
            }
            let bar = if p.total == 0 {
                indicatif::ProgressBar::new_spinner()
            } else {
                let b = indicatif::ProgressBar::new(p.total as u64);
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{prefix} {bar:30} {pos}/{len} {msg} ({eta})",
                ) {
                    b.set_style(style);
                }
                b
            };
            bar.set_prefix(format!("{} {}", p.bus, p.phase));
            self.bar = Some((p.bus.clone(), p.phase, bar));
        }
        if let Some((_, _, b)) = &self.bar {
            b.set_position(p.done as u64);
            b.set_message(format!("{} found", p.found));
            if p.total > 0 && p.done == p.total {
                b.finish();
            }
        }
    }

    /// End the current bar.
    pub fn finish(&mut self) {
        if let Some((_, _, b)) = self.bar.take() {
            b.finish();
        }
    }
}

/// One M-Bus meter found.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MbusFound {
    primary: Option<u8>,
    secondary: Option<String>,
    manufacturer: String,
    medium: String,
}

impl MbusFound {
    fn describe(&self) -> String {
        format!("{} {}", self.manufacturer, self.medium)
    }
}

/// Scan a site's buses (all, or `options.bus`) and compare with the file. Bus failures are
/// in the report; `Err` only for an unknown `options.bus`.
pub async fn scan_site(
    site: &Site,
    options: &ScanOptions,
    mut progress: impl FnMut(&Progress),
) -> Result<ScanReport, ScanError> {
    let installation = site.installation()?;
    if let Some(name) = &options.bus {
        let known: Vec<&str> = site
            .buses
            .iter()
            .map(|b| b.name.as_str())
            .chain(site.mbus_buses.iter().map(|b| b.name.as_str()))
            .collect();
        if !known.contains(&name.as_str()) {
            return Err(ScanError::UnknownBus {
                file: site.file.display().to_string(),
                name: name.clone(),
                known: known.join(", "),
            });
        }
    }
    let wanted = |name: &str| options.bus.as_deref().is_none_or(|b| b == name);
    let mut report = ScanReport {
        site: Some(site.site.name.clone()),
        buses: Vec::new(),
        entries: Vec::new(),
    };
    for bus in installation.buses.iter().filter(|b| wanted(&b.name)) {
        let (bus_report, scan) = modbus_scan(bus, site.catalogue(), options, &mut progress).await;
        compare_modbus(
            site,
            &bus.name,
            scan.as_ref(),
            bus_report.error.as_deref(),
            &mut report.entries,
        );
        report.buses.push(bus_report);
    }
    for bus in site.mbus_buses.iter().filter(|b| wanted(&b.name)) {
        let (bus_report, found) = mbus_scan(&bus.name, &bus.address, options, &mut progress).await;
        compare_mbus(
            site,
            &bus.name,
            &found,
            bus_report.error.as_deref(),
            &mut report.entries,
        );
        report.buses.push(bus_report);
    }
    Ok(report)
}

/// Scan one bus given by its address, without a site file: `tcp:HOST:PORT`,
/// `rtu-over-tcp:HOST:PORT`, `tls:HOST:PORT` (a self-signed server certificate accepted) or
/// `mbus:HOST:PORT` (M-Bus over TCP). Modbus products are identified with `catalogue`.
pub async fn scan_address(
    address: &str,
    catalogue: &Catalogue,
    options: &ScanOptions,
    mut progress: impl FnMut(&Progress),
) -> Result<ScanReport, ScanError> {
    use modbus_devices::device::{BusKind, TcpSettings, TlsSettings};
    let bad = |message: &str| ScanError::InvalidAddress {
        address: address.to_string(),
        message: message.to_string(),
    };
    let (kind, rest) = address
        .split_once(':')
        .ok_or_else(|| bad("expected KIND:HOST:PORT with KIND tcp, rtu-over-tcp, tls or mbus"))?;
    let (host, port) = rest
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .filter(|(h, p)| !h.is_empty() && *p > 0)
        .ok_or_else(|| bad("expected HOST:PORT after the kind, with a port 1..=65535"))?;
    let mut report = ScanReport {
        site: None,
        buses: Vec::new(),
        entries: Vec::new(),
    };
    let tcp = TcpSettings::new(host.clone(), port);
    let kind = match kind {
        "tcp" => BusKind::Tcp(tcp),
        "rtu-over-tcp" => BusKind::RtuOverTcp(tcp),
        "tls" => BusKind::Tls(TlsSettings {
            tcp,
            ca_cert: None,
            client_cert: None,
            client_key: None,
            server_name: None,
            check_dates: true,
            accept_self_signed: true,
        }),
        "mbus" => {
            let (bus_report, found) =
                mbus_scan(address, &format!("{host}:{port}"), options, &mut progress).await;
            for f in found {
                report.entries.push(mbus_entry(
                    address,
                    &f,
                    None,
                    EntryStatus::Found,
                    String::new(),
                ));
            }
            report.buses.push(bus_report);
            return Ok(report);
        }
        other => {
            return Err(bad(&format!(
                "unknown kind {other:?}, expected tcp, rtu-over-tcp, tls or mbus"
            )));
        }
    };
    let bus = ModbusBus {
        name: address.to_string(),
        kind,
    };
    let (bus_report, scan) = modbus_scan(&bus, catalogue, options, &mut progress).await;
    if let Some(scan) = &scan {
        for u in scan.found() {
            let (found, detail) = describe_unit(&u.status);
            report.entries.push(Entry {
                bus: bus.name.clone(),
                protocol: "modbus",
                unit: Some(u.unit),
                primary: None,
                secondary: None,
                name: None,
                expected: None,
                found: Some(found),
                status: EntryStatus::Found,
                detail,
            });
        }
    }
    report.buses.push(bus_report);
    Ok(report)
}

async fn modbus_scan(
    bus: &ModbusBus,
    catalogue: &Catalogue,
    options: &ScanOptions,
    progress: &mut impl FnMut(&Progress),
) -> (BusReport, Option<BusScan>) {
    let o = mscan::ScanOptions {
        units: options.units.clone(),
        timeout: options.timeout,
        ..mscan::ScanOptions::default()
    };
    let result = mscan::scan_bus(bus, catalogue, &o, |p| {
        progress(&Progress {
            bus: bus.name.clone(),
            phase: "modbus units",
            done: p.done,
            total: p.total,
            found: p.found,
        });
    })
    .await;
    match result {
        Ok(scan) => (
            BusReport {
                name: bus.name.clone(),
                kind: scan.kind.clone(),
                endpoint: scan.endpoint.clone(),
                probed: scan.units.len(),
                found: scan.found().count(),
                error: None,
            },
            Some(scan),
        ),
        Err(e) => (
            BusReport {
                name: bus.name.clone(),
                kind: bus_kind_name(&bus.kind).to_string(),
                endpoint: String::new(),
                probed: 0,
                found: 0,
                error: Some(e.to_string()),
            },
            None,
        ),
    }
}

fn bus_kind_name(kind: &modbus_devices::device::BusKind) -> &'static str {
    use modbus_devices::device::BusKind;
    match kind {
        BusKind::Tcp(_) => "tcp",
        BusKind::RtuOverTcp(_) => "rtu_over_tcp",
        BusKind::Tls(_) => "tls",
        BusKind::Rtu(_) => "rtu",
    }
}

/// (what was found, how) of an answering unit.
fn describe_unit(status: &UnitStatus) -> (String, String) {
    match status {
        UnitStatus::Identified {
            product,
            vendor,
            model,
            by,
            alternatives,
        } => {
            let by = match by {
                mscan::IdentifiedBy::Signature => "signature",
                mscan::IdentifiedBy::SignatureAndDeviceId => "signature and device id",
                mscan::IdentifiedBy::DeviceId => "device id",
                mscan::IdentifiedBy::Plausibility => "plausibility reads only",
            };
            let alt = if alternatives.is_empty() {
                String::new()
            } else {
                format!("; also fits {}", alternatives.join(", "))
            };
            (product.clone(), format!("{vendor} {model}, by {by}{alt}"))
        }
        UnitStatus::Answers { detail } => ("answers".into(), detail.clone()),
        UnitStatus::NoAnswer { detail } => (String::new(), detail.clone()),
    }
}

fn compare_modbus(
    site: &Site,
    bus: &str,
    scan: Option<&BusScan>,
    error: Option<&str>,
    entries: &mut Vec<Entry>,
) {
    // (unit, name, expected product, is a catalogue product)
    let mut expected: Vec<(u8, &str, String, bool)> = site
        .devices
        .iter()
        .filter(|d| d.bus == bus)
        .map(|d| (d.unit, d.name.as_str(), d.product.clone(), true))
        .chain(
            site.ecls
                .iter()
                .filter(|e| e.bus == bus)
                .map(|e| (e.unit, e.name.as_str(), format!("ECL {}", e.key), false)),
        )
        .collect();
    expected.sort_by_key(|e| e.0);
    let mut units: BTreeSet<u8> = expected.iter().map(|e| e.0).collect();
    if let Some(scan) = scan {
        units.extend(scan.found().map(|u| u.unit));
    }
    for unit in units {
        let exp = expected.iter().find(|e| e.0 == unit);
        let got = scan.and_then(|s| s.unit(unit)).filter(|u| u.answered());
        let (found, how) = got.map(|u| describe_unit(&u.status)).unzip();
        let (status, detail) = match (exp, got) {
            (Some(_), None) => (
                EntryStatus::Missing,
                match (error, scan.and_then(|s| s.unit(unit))) {
                    (Some(e), _) => format!("bus not scanned: {e}"),
                    (None, Some(u)) => describe_unit(&u.status).1,
                    (None, None) => "outside the scanned unit range".into(),
                },
            ),
            (Some((_, _, product, true)), Some(u)) => match u.product() {
                Some(p) if p == product => (EntryStatus::Ok, how.unwrap_or_default()),
                Some(p) => (
                    EntryStatus::Mismatch,
                    format!("expected {product}, found {p}"),
                ),
                None => (
                    EntryStatus::Mismatch,
                    format!("expected {product}, not identified: {}", how.unwrap_or_default()),
                ),
            },
            (Some((_, _, _, false)), Some(_)) => (
                EntryStatus::Ok,
                "answers (ECL controllers are not catalogue products: the key is detected by `run`)"
                    .into(),
            ),
            (None, Some(_)) => (EntryStatus::NotInFile, how.unwrap_or_default()),
            (None, None) => continue,
        };
        entries.push(Entry {
            bus: bus.to_string(),
            protocol: "modbus",
            unit: Some(unit),
            primary: None,
            secondary: None,
            name: exp.map(|e| e.1.to_string()),
            expected: exp.map(|e| e.2.clone()),
            found,
            status,
            detail,
        });
    }
}

async fn mbus_scan(
    name: &str,
    address: &str,
    options: &ScanOptions,
    progress: &mut impl FnMut(&Progress),
) -> (BusReport, Vec<MbusFound>) {
    let mut report = BusReport {
        name: name.to_string(),
        kind: "m-bus".into(),
        endpoint: address.to_string(),
        probed: 0,
        found: 0,
        error: None,
    };
    let mut found: Vec<MbusFound> = Vec::new();
    let result = async {
        let mut master = Master::connect_tcp(address, options.mbus).await?;
        let total = options.primary.clone().filter(|a| *a <= 250).count();
        for (i, a) in options.primary.clone().filter(|a| *a <= 250).enumerate() {
            report.probed += 1;
            let scan = master.scan_primary(a..=a).await?;
            if scan.found.contains(&a) {
                found.push(read_primary(&mut master, a).await);
            } else if scan.collisions.contains(&a) {
                found.push(MbusFound {
                    primary: Some(a),
                    secondary: None,
                    manufacturer: "collision".into(),
                    medium: "(several meters share this address)".into(),
                });
            }
            progress(&Progress {
                bus: name.to_string(),
                phase: "m-bus primary",
                done: i + 1,
                total,
                found: found.len(),
            });
        }
        if options.secondary {
            progress(&Progress {
                bus: name.to_string(),
                phase: "m-bus secondary",
                done: 0,
                total: 0,
                found: 0,
            });
            let search = master
                .search_secondary_with_progress(SecondaryAddress::wildcard(), |s| {
                    progress(&Progress {
                        bus: name.to_string(),
                        phase: "m-bus secondary",
                        done: s.probes as usize,
                        total: 0,
                        found: s.found.len(),
                    });
                })
                .await?;
            report.probed += search.probes as usize;
            for s in &search.found {
                let id = s.id.to_string();
                if let Some(f) = found
                    .iter_mut()
                    .find(|f| f.secondary.as_deref() == Some(&id))
                {
                    // Known by its primary address already: now also by its secondary one.
                    f.manufacturer = s.manufacturer.to_string();
                    continue;
                }
                found.push(MbusFound {
                    primary: None,
                    secondary: Some(id),
                    manufacturer: s.manufacturer.to_string(),
                    medium: s.medium.to_string(),
                });
            }
        }
        Ok::<_, mbus_meters::MasterError>(())
    }
    .await;
    match result {
        Ok(_) => report.found = found.len(),
        Err(e) => {
            report.found = found.len();
            report.error = Some(e.to_string());
        }
    }
    (report, found)
}

/// Read an answering primary address once for its secondary address.
async fn read_primary<S>(master: &mut Master<S>, a: u8) -> MbusFound
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let header = match master.read(Address(a)).await {
        Ok(frames) => frames.into_iter().find_map(|f| f.header),
        Err(_) => None,
    };
    MbusFound {
        primary: Some(a),
        secondary: header.as_ref().and_then(|h| h.id.clone()),
        manufacturer: header
            .as_ref()
            .and_then(|h| h.manufacturer.clone())
            .unwrap_or_else(|| "?".into()),
        medium: header
            .as_ref()
            .and_then(|h| h.medium_name.clone())
            .unwrap_or_else(|| "?".into()),
    }
}

fn mbus_entry(
    bus: &str,
    f: &MbusFound,
    meter: Option<&crate::site::Meter>,
    status: EntryStatus,
    detail: String,
) -> Entry {
    Entry {
        bus: bus.to_string(),
        protocol: "m-bus",
        unit: None,
        primary: f.primary,
        secondary: f.secondary.clone(),
        name: meter.map(|m| m.name.clone()),
        expected: meter.map(expected_meter),
        found: Some(f.describe()),
        status,
        detail,
    }
}

fn expected_meter(m: &crate::site::Meter) -> String {
    let medium = match m.medium {
        crate::site::MeterMedium::Heat => "heat",
    };
    format!("{} {medium}", m.manufacturer)
}

fn compare_mbus(
    site: &Site,
    bus: &str,
    found: &[MbusFound],
    error: Option<&str>,
    entries: &mut Vec<Entry>,
) {
    let mut used = vec![false; found.len()];
    for m in site.meters.iter().filter(|m| m.bus == bus) {
        let by_secondary = found
            .iter()
            .position(|f| f.secondary.as_deref() == Some(m.secondary.as_str()));
        let by_primary = found.iter().position(|f| f.primary == Some(m.primary));
        for i in [by_secondary, by_primary].into_iter().flatten() {
            if let Some(u) = used.get_mut(i) {
                *u = true;
            }
        }
        let entry = match (by_primary, by_secondary) {
            (Some(p), Some(s)) if p == s => {
                let f = &found[p];
                let (status, detail) = if f.manufacturer == m.manufacturer {
                    (
                        EntryStatus::Ok,
                        "found by primary and secondary address".into(),
                    )
                } else {
                    (
                        EntryStatus::Mismatch,
                        format!(
                            "expected manufacturer {}, found {}",
                            m.manufacturer, f.manufacturer
                        ),
                    )
                };
                mbus_entry(bus, f, Some(m), status, detail)
            }
            (Some(p), Some(s)) => {
                let detail = format!(
                    "primary {} answers as {}; secondary {} is another meter",
                    m.primary,
                    found[p].secondary.as_deref().unwrap_or("?"),
                    m.secondary
                );
                mbus_entry(bus, &found[s], Some(m), EntryStatus::Mismatch, detail)
            }
            (Some(p), None) => {
                let detail = format!(
                    "primary {} answers with secondary {}, expected {}",
                    m.primary,
                    found[p].secondary.as_deref().unwrap_or("?"),
                    m.secondary
                );
                mbus_entry(bus, &found[p], Some(m), EntryStatus::Mismatch, detail)
            }
            (None, Some(s)) => {
                let detail = format!(
                    "found by secondary address only; primary {} does not answer",
                    m.primary
                );
                mbus_entry(bus, &found[s], Some(m), EntryStatus::Mismatch, detail)
            }
            (None, None) => Entry {
                bus: bus.to_string(),
                protocol: "m-bus",
                unit: None,
                primary: Some(m.primary),
                secondary: Some(m.secondary.clone()),
                name: Some(m.name.clone()),
                expected: Some(expected_meter(m)),
                found: None,
                status: EntryStatus::Missing,
                detail: match error {
                    Some(e) => format!("bus not scanned: {e}"),
                    None => "no answer at its primary or secondary address".into(),
                },
            },
        };
        entries.push(entry);
    }
    for (f, used) in found.iter().zip(used) {
        if !used {
            entries.push(mbus_entry(
                bus,
                f,
                None,
                EntryStatus::NotInFile,
                String::new(),
            ));
        }
    }
}
