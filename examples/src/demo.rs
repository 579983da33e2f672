//! The demo (`cargo run --release --example demo`): the built-in demo site simulated on
//! loopback ([`crate::simulation::SimulatedSite`]) and monitored in the same process
//! ([`crate::gateway::Monitor`]), with a compact live view, a fault injected after a while
//! (one device stops answering, so its offline alarm is raised, then cleared after
//! recovery), a first report (CSV and chart PNG) and a summary of where everything is.
//!
//! Everything the demo writes goes into one output folder ([`DemoOptions::out`]): the store
//! (`emkit.sqlite`), the notifications (`notifications.jsonl`), the reports and charts, and
//! the OPC UA server's PKI (`pki/`).
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use examples::demo::{Demo, DemoOptions};
//!
//! let options = DemoOptions { out: "demo-output".into(), ..DemoOptions::default() };
//! let mut demo = Demo::start(options).await?;
//! for line in demo.header() {
//!     println!("{line}");
//! }
//! demo.run(tokio::time::sleep(Duration::from_secs(60)), |view| {
//!     for line in view {
//!         println!("{line}");
//!     }
//! })
//! .await;
//! for line in demo.finish().await?.lines() {
//!     println!("{line}");
//! }
//! # Ok(()) }
//! ```
//!
//! The live view is [`render`], a pure function of a [`Layout`] (which points of the site
//! are shown) and a [`Snapshot`] (the last cycle's readings, the open alarms, recent events).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use modbus_devices::{Quality, Reading};

use crate::gateway::report::{ReportError, ReportRequest, WrittenReport, run_report};
use crate::gateway::{CycleStatus, GatewayError, Monitor, MonitorOptions};
use crate::simulation::{DeviceFault, SimOptions, SimulatedSite, SimulationError};
use crate::site::{Site, SiteError};

/// The report the demo writes: a standard report over today (site time zone) of the heat
/// meters, one row per meter: the energy and volume they counted, their mean power, flow and
/// temperatures; its chart shows each meter's energy as a bar (a line chart of hourly values
/// would have one point after a minute).
pub const REPORT_KIND: &str = "standard";
/// The period of the demo's report.
pub const REPORT_PERIOD: &str = "today";

/// The site as the demo's report sees it: the heat meters only (the report covers every
/// device of the site it is given).
pub fn report_site(site: &Site) -> Site {
    let mut s = site.clone();
    s.devices.clear();
    s.ecls.clear();
    s
}

/// Errors of the demo.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The built-in demo site.
    #[error(transparent)]
    Site(#[from] SiteError),
    /// The simulated site.
    #[error("simulated site: {0}")]
    Simulation(#[from] SimulationError),
    /// The monitor.
    #[error("monitor: {0}")]
    Gateway(#[from] GatewayError),
    /// The report.
    #[error("report: {0}")]
    Report(#[from] ReportError),
    /// An option is out of range.
    #[error("{option}: {message}")]
    Option {
        /// The option.
        option: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The output folder cannot be created.
    #[error("cannot create {}: {message}", path.display())]
    Dir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        message: String,
    },
}

/// What the demo does and where it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// The output folder (created; default `demo-output`).
    pub out: PathBuf,
    /// The live period (default 2 s; at least 1 s). Values are also recorded this often
    /// (rounded up to whole seconds), so that a short demo has a report.
    pub live: Duration,
    /// How long a device must stay silent before its offline alarm (default 10 s; the demo
    /// site file says 30 s).
    pub offline: Duration,
    /// The device (Modbus device, ECL or M-Bus meter name) that stops answering.
    pub fault_device: String,
    /// When it stops answering, after the live cycles began (default 20 s).
    pub fault_after: Duration,
    /// For how long (default 20 s: longer than the offline delay).
    pub fault_for: Duration,
    /// The OPC UA port: `None` the site's (4840) when free, else a free one; `Some(0)` a
    /// free one; `Some(p)` that one.
    pub opcua_port: Option<u16>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            out: PathBuf::from("demo-output"),
            live: Duration::from_secs(2),
            offline: Duration::from_secs(10),
            fault_device: "lighting".to_string(),
            fault_after: Duration::from_secs(20),
            fault_for: Duration::from_secs(20),
            opcua_port: None,
        }
    }
}

/// The demo site as the monitor sees it: the built-in site's buses at the simulation's
/// bound addresses, the live period and recording interval of the options (the recording
/// interval is the live period rounded up to whole seconds), the offline delay of the
/// options, and every file in `options.out`: store `emkit.sqlite`, notifications
/// `notifications.jsonl` (the console notifications are left out: the live view shows the
/// alarms), OPC UA PKI `pki/`, reports in the folder itself. The site's scheduled reports
/// and publications are left out (the demo writes its own report).
///
/// # Errors
/// [`DemoError::Option`] for a live period under 1 s; the demo site's errors.
pub fn monitored_site(sim: &SimulatedSite, options: &DemoOptions) -> Result<Site, DemoError> {
    if options.live < Duration::from_secs(1) {
        return Err(DemoError::Option {
            option: "--live",
            message: format!("at least 1 s, found {:?}", options.live),
        });
    }
    let mut site = Site::demo()?;
    let buses: Vec<String> = site
        .buses
        .iter()
        .map(|b| b.name.clone())
        .chain(site.mbus_buses.iter().map(|b| b.name.clone()))
        .collect();
    for bus in buses {
        if let Some(address) = sim.address(&bus) {
            site.set_address(&bus, &address.to_string());
        }
    }
    site.poll.live = options.live;
    site.poll.record = Duration::from_secs(options.live.as_secs_f64().ceil() as u64);
    site.alarms.offline = options.offline;
    let out = &options.out;
    site.store.path = out.join("emkit.sqlite");
    site.output.dir = out.clone();
    site.notify.retain(|n| {
        !matches!(
            n.outbox.transport,
            alarms::transport::TransportConfig::Console(_)
        )
    });
    for n in &mut site.notify {
        if let alarms::transport::TransportConfig::JsonLines(j) = &mut n.outbox.transport {
            j.path = out.join("notifications.jsonl");
        }
    }
    if let Some(o) = &mut site.opcua {
        o.pki = out.join("pki");
    }
    // the demo writes its own report over today; the site's daily schedule would report
    // yesterday, which a fresh store does not have
    site.reports.clear();
    site.publications.clear();
    Ok(site)
}

/// The OPC UA port to use and how it was chosen (`None` in [`DemoOptions::opcua_port`]: the
/// site's port when it can be bound now, else a free one).
pub fn opcua_port(site: &Site, requested: Option<u16>) -> (u16, &'static str) {
    match requested {
        Some(0) => (0, "a free port"),
        Some(p) => (p, "the port asked for"),
        None => match site.opcua.as_ref().and_then(|o| o.host_port()) {
            Some((host, port)) if std::net::TcpListener::bind((host.as_str(), port)).is_ok() => {
                (port, "the demo site's port")
            }
            Some((_, port)) if port != 0 => (0, "a free port: the demo site's port is taken"),
            _ => (0, "a free port"),
        },
    }
}

/// One value shown in the live view: a label and the point (`device/service`) it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The label (`outdoor`, `power`).
    pub label: String,
    /// The point.
    pub point: String,
}

/// One row of the live view: a device and its shown values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The device, meter or ECL name.
    pub device: String,
    /// What it is (`ECL A266.1`, `heat meter`, `ECR380D`).
    pub what: String,
    /// Its values.
    pub values: Vec<Shown>,
}

/// Which points of a site the live view shows, and which devices' communication state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    /// ECLs (outdoor, flow temperature and setpoint), heat meters (power, energy), then
    /// electrical meters (power, energy).
    pub rows: Vec<Row>,
    /// Every device, meter and ECL of the site, in site order.
    pub devices: Vec<String>,
}

/// The ECL values shown, from the key's sub-type in the ECL catalogue: the outdoor and the
/// heating flow sensors (`sN`, by their meaning) and the first space-heating circuit's
/// desired flow (`cN_desired_flow`); a value the catalogue does not locate is left out.
pub fn ecl_values(
    catalogue: Option<&ecl_appkeys::Catalogue>,
    ecl: &crate::site::Ecl,
) -> Vec<Shown> {
    let sub = catalogue
        .zip(ecl.key_id())
        .and_then(|(c, id)| c.lookup(&id))
        .map(|(_, s)| s);
    let Some(sub) = sub else {
        return Vec::new();
    };
    let shown = |label: &str, service: String| Shown {
        label: label.to_string(),
        point: format!("{}/{service}", ecl.name),
    };
    let sensor = |words: &str| {
        sub.sensors
            .iter()
            .find(|s| s.meaning.contains(words))
            .map(|s| format!("s{}", s.input))
    };
    let mut values = Vec::new();
    if let Some(s) = sensor("outdoor") {
        values.push(shown("outdoor", s));
    }
    if let Some(s) = sensor("heating flow") {
        values.push(shown("flow", s));
    }
    if let Some(c) = sub
        .circuits
        .iter()
        .find(|c| c.role == ecl_appkeys::Role::SpaceHeating)
    {
        values.push(shown("setpoint", format!("c{}_desired_flow", c.number)));
    }
    values
}

/// Electrical meters' power (first service found).
const POWER: [&str; 3] = ["p_total", "p_total_signed", "p_l1"];
/// Electrical meters' energy (first service found).
const ENERGY: [&str; 3] = ["ea_import", "ea_import_total", "ea_total"];

impl Layout {
    /// The demo's choice for a site: every ECL, every M-Bus meter, and the first
    /// `electrical` Modbus devices whose product has a power and an energy service.
    pub fn for_site(site: &Site, electrical: usize) -> Layout {
        let mut rows = Vec::new();
        let ecl_catalogue = match ecl_appkeys::Catalogue::builtin() {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("ECL catalogue: {e}");
                None
            }
        };
        for e in &site.ecls {
            rows.push(Row {
                device: e.name.clone(),
                what: format!("ECL {}", e.key),
                values: ecl_values(ecl_catalogue.as_ref(), e),
            });
        }
        for m in &site.meters {
            rows.push(Row {
                device: m.name.clone(),
                what: "heat meter".to_string(),
                values: [("power", "power"), ("energy", "energy")]
                    .iter()
                    .map(|(label, service)| Shown {
                        label: (*label).to_string(),
                        point: format!("{}/{service}", m.name),
                    })
                    .collect(),
            });
        }
        let mut n = 0;
        for d in &site.devices {
            if n == electrical {
                break;
            }
            let Some(product) = site.catalogue().get(&d.product) else {
                continue;
            };
            let has = |id: &&str| product.service(id).is_some();
            let power = POWER.iter().copied().find(has);
            if let (Some(p), Some(e)) = (power, ENERGY.iter().copied().find(has)) {
                rows.push(Row {
                    device: d.name.clone(),
                    what: d.product.clone(),
                    values: vec![
                        Shown {
                            label: "power".to_string(),
                            point: format!("{}/{p}", d.name),
                        },
                        Shown {
                            label: "energy".to_string(),
                            point: format!("{}/{e}", d.name),
                        },
                    ],
                });
                n += 1;
            }
        }
        let devices = site
            .devices
            .iter()
            .map(|d| d.name.clone())
            .chain(site.ecls.iter().map(|e| e.name.clone()))
            .chain(site.meters.iter().map(|m| m.name.clone()))
            .collect();
        Layout { rows, devices }
    }
}

/// An open alarm occurrence as the view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmLine {
    /// `critical`, `major`, ...
    pub priority: String,
    /// The alarm (rule id).
    pub alarm: String,
    /// The point or device.
    pub target: String,
    /// `active` or `cleared`, and the operator state.
    pub state: String,
}

/// Everything one frame of the live view shows.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Time since the live cycles began.
    pub elapsed: Duration,
    /// The last cycle, if any ran.
    pub cycle: Option<CycleStatus>,
    /// The last cycle's readings.
    pub readings: Vec<Reading>,
    /// The open alarm occurrences.
    pub alarms: Vec<AlarmLine>,
    /// Recent events (oldest first), each `+SECONDS  text`.
    pub events: Vec<String>,
}

/// A device's communication state from its readings of the last cycle: `ok` when any
/// reading got an answer, `no answer` when none did, `-` without readings.
pub fn communication(readings: &[Reading], device: &str) -> &'static str {
    let mut any = false;
    for r in readings.iter().filter(|r| r.device == device) {
        if r.quality != Quality::NoAnswer {
            return "ok";
        }
        any = true;
    }
    if any { "no answer" } else { "-" }
}

/// A value with its unit, in a readable unit (W as kW, Wh as kWh with 10 Wh steps, degC as
/// °C), or why there is none.
pub fn format_value(reading: Option<&Reading>) -> String {
    let Some(r) = reading else {
        return "-".to_string();
    };
    match (
        r.quality,
        r.value.as_ref().and_then(modbus_devices::Value::as_f64),
    ) {
        (Quality::Good, Some(v)) => {
            // kilo for power and energy; counters in Wh keep their 10 Wh steps visible
            let (v, unit, digits) = match r.unit.symbol() {
                "W" => (v / 1000.0, "kW", 1),
                "Wh" => (v / 1000.0, "kWh", 2),
                "degC" => (v, "°C", 1),
                s => (v, s, 1),
            };
            if unit.is_empty() {
                format!("{v:.digits$}")
            } else {
                format!("{v:.digits$} {unit}")
            }
        }
        (Quality::Good, None) => r.value.as_ref().map_or("-".into(), ToString::to_string),
        (Quality::NoAnswer, _) => "no answer".to_string(),
        (Quality::NotAvailable, _) => "n/a".to_string(),
        (Quality::Invalid, _) => "invalid".to_string(),
    }
}

/// The live view: a status line, one line per shown device (its communication state and
/// values with units), the communication state of every device, the open alarms and the
/// recent events. Pure: the same layout and snapshot give the same lines.
///
/// ```
/// use examples::demo::{Layout, Snapshot, render};
/// use examples::site::Site;
/// use modbus_devices::{Quality, Reading, Unit, Value};
///
/// let layout = Layout::for_site(&Site::demo()?, 2);
/// let power = Reading {
///     device: "hm1".into(),
///     service: "power".into(),
///     value: Some(Value::Number(16_400.0)),
///     unit: Unit::W,
///     timestamp: chrono::Utc::now(),
///     quality: Quality::Good,
/// };
/// let view = render(&layout, &Snapshot { readings: vec![power], ..Snapshot::default() });
/// assert!(view.iter().any(|l| l.contains("hm1 (heat meter)") && l.contains("power 16.4 kW")));
/// assert!(view.iter().any(|l| l.contains("hm1 ok, hm2 -")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn render(layout: &Layout, snap: &Snapshot) -> Vec<String> {
    let by_point: HashMap<String, &Reading> =
        snap.readings.iter().map(|r| (r.point(), r)).collect();
    let mut lines = Vec::new();
    let secs = snap.elapsed.as_secs();
    lines.push(match &snap.cycle {
        Some(c) => format!(
            "[+{secs:>3} s] cycle {}: {}/{} readings good, {} stored, {} open alarms ({} ms)",
            c.number,
            c.good,
            c.readings,
            c.stored,
            c.alarms,
            c.took.as_millis()
        ),
        None => format!("[+{secs:>3} s] waiting for the first cycle"),
    });
    let width = layout
        .rows
        .iter()
        .map(|r| r.device.len() + r.what.len() + 3)
        .max()
        .unwrap_or(0);
    for row in &layout.rows {
        let name = format!("{} ({})", row.device, row.what);
        let values: Vec<String> = row
            .values
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s.label,
                    format_value(by_point.get(&s.point).copied())
                )
            })
            .collect();
        lines.push(format!(
            "  {name:<width$}  {:<9}  {}",
            communication(&snap.readings, &row.device),
            values.join(", ")
        ));
    }
    let comm: Vec<String> = layout
        .devices
        .iter()
        .map(|d| format!("{d} {}", communication(&snap.readings, d)))
        .collect();
    // wrapped to fit 80 columns
    let mut line = String::from("  communication:");
    for (i, c) in comm.iter().enumerate() {
        let sep = if i + 1 < comm.len() { "," } else { "" };
        if line.len() + 1 + c.len() + sep.len() > VIEW_WIDTH && !line.ends_with(':') {
            lines.push(std::mem::replace(&mut line, " ".repeat(16)));
        }
        line.push(' ');
        line.push_str(c);
        line.push_str(sep);
    }
    lines.push(line);
    if snap.alarms.is_empty() {
        lines.push("  alarms: none open".to_string());
    } else {
        lines.push(format!("  alarms ({} open):", snap.alarms.len()));
        for a in &snap.alarms {
            lines.push(format!(
                "    {:<8} {} {} ({})",
                a.priority.to_uppercase(),
                a.alarm,
                a.target,
                a.state
            ));
        }
    }
    if !snap.events.is_empty() {
        lines.push("  events:".to_string());
        for e in &snap.events {
            lines.push(format!("    {e}"));
        }
    }
    lines
}

impl Layout {
    /// Leaves out the shown values a device that answered in `readings` did not read (an
    /// ECL application that does not serve a setpoint, a product without a service): call it
    /// with the first cycle's readings. Values of devices that did not answer stay.
    pub fn keep_read(&mut self, readings: &[Reading]) {
        let read: std::collections::HashSet<String> = readings.iter().map(Reading::point).collect();
        for row in &mut self.rows {
            if communication(readings, &row.device) == "ok" {
                row.values.retain(|v| read.contains(&v.point));
            }
        }
    }
}

/// The open occurrences of a book as view lines.
pub fn alarm_lines(book: &alarms::Book) -> Vec<AlarmLine> {
    book.open()
        .map(|o| AlarmLine {
            priority: o.priority.to_string(),
            alarm: o.alarm.clone(),
            target: o.target.clone(),
            state: format!(
                "{}, {}",
                match o.status() {
                    alarms::Status::Active => "active",
                    alarms::Status::PreAlarm => "pre-alarm",
                    alarms::Status::Cleared => "cleared",
                },
                match o.state {
                    alarms::AckState::New => "unacknowledged",
                    alarms::AckState::Read => "read",
                    alarms::AckState::Acknowledged => "acknowledged",
                }
            ),
        })
        .collect()
}

/// Where the demo wrote things and how long it took to get there.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// The output folder.
    pub out: PathBuf,
    /// The store file.
    pub store: PathBuf,
    /// The notifications file.
    pub notifications: Option<PathBuf>,
    /// The OPC UA endpoint served while the demo ran.
    pub opcua: Option<String>,
    /// The OPC UA PKI folder.
    pub pki: Option<PathBuf>,
    /// The first report (written once values were recorded).
    pub first_report: Option<WrittenReport>,
    /// The report written at the end, over the whole run.
    pub final_report: Option<WrittenReport>,
    /// Why the final report is missing, when it is.
    pub report_error: Option<String>,
    /// Cycles run.
    pub cycles: u64,
    /// Time from [`Demo::start`] (simulation, ECL detection, OPC UA server) to the first
    /// good values.
    pub first_values: Option<Duration>,
    /// Time from [`Demo::start`] to the first report.
    pub first_report_after: Option<Duration>,
}

impl Summary {
    /// The closing lines: where everything is.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "demo: stopped after {} cycles; everything is in {}",
            self.cycles,
            self.out.display()
        )];
        let secs = |d: Option<Duration>| {
            d.map_or("-".to_string(), |d| format!("{:.1} s", d.as_secs_f64()))
        };
        lines.push(format!(
            "  from the start: first values after {}, first report after {}",
            secs(self.first_values),
            secs(self.first_report_after)
        ));
        lines.push(format!("  store:         {}", self.store.display()));
        if let Some(n) = &self.notifications {
            let none = if n.exists() {
                ""
            } else {
                " (nothing notified)"
            };
            lines.push(format!("  notifications: {}{none}", n.display()));
        }
        for (what, r) in [
            ("first report", &self.first_report),
            ("final report", &self.final_report),
        ] {
            if let Some(r) = r {
                lines.push(format!("  {what:<13}  {}", r.csv.display()));
                lines.push(format!("  {:<13}  {}", "chart", r.chart.display()));
            }
        }
        if let Some(e) = &self.report_error {
            lines.push(format!("  no final report: {e}"));
        }
        if let Some(o) = &self.opcua {
            lines.push(format!("  OPC UA:        {o} (served while the demo ran)"));
        }
        if let Some(p) = &self.pki {
            lines.push(format!("  OPC UA PKI:    {}", p.display()));
        }
        lines
    }
}

/// The running demo: the simulated site and its monitor.
pub struct Demo {
    options: DemoOptions,
    site: Site,
    sim: SimulatedSite,
    monitor: Monitor,
    layout: Layout,
    /// When [`Demo::start`] began (the measurements of the summary).
    started: Instant,
    /// When the live cycles began (the fault's timeline, the view's clock).
    live_from: Instant,
    opcua_choice: &'static str,
    events: Vec<String>,
    alarm_state: BTreeMap<u64, (String, bool)>,
    last: Option<CycleStatus>,
    summary: Summary,
    recorded_cycles: u64,
    fault: FaultState,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FaultState {
    Waiting,
    Injected,
    Lifted,
}

/// The width the communication line is wrapped to.
const VIEW_WIDTH: usize = 78;

/// Events kept in the view.
const EVENTS_SHOWN: usize = 8;

impl Demo {
    /// Creates the output folder, starts the simulated demo site on free loopback ports and
    /// the monitor against it.
    ///
    /// # Errors
    /// See [`DemoError`].
    pub async fn start(options: DemoOptions) -> Result<Demo, DemoError> {
        let started = Instant::now();
        std::fs::create_dir_all(&options.out).map_err(|e| DemoError::Dir {
            path: options.out.clone(),
            message: e.to_string(),
        })?;
        let demo = Site::demo()?.with_ephemeral_ports();
        if !demo.devices.iter().any(|d| d.name == options.fault_device)
            && !demo.meters.iter().any(|m| m.name == options.fault_device)
            && !demo.ecls.iter().any(|e| e.name == options.fault_device)
        {
            return Err(DemoError::Option {
                option: "--fault-device",
                message: format!("no device, meter or ECL {:?}", options.fault_device),
            });
        }
        let sim = SimulatedSite::start(&demo, SimOptions::default()).await?;
        let site = monitored_site(&sim, &options)?;
        let (port, opcua_choice) = opcua_port(&site, options.opcua_port);
        let monitor = Monitor::start(
            &site,
            MonitorOptions {
                opcua_port: Some(port),
                // every point at the demo's interval, not the catalogue's 15 min
                record: Some(site.poll.record),
                ..MonitorOptions::default()
            },
        )
        .await?;
        let layout = Layout::for_site(&site, 2);
        let summary = Summary {
            out: options.out.clone(),
            store: site.store_path(),
            notifications: site.notify.iter().find_map(|n| match &n.outbox.transport {
                alarms::transport::TransportConfig::JsonLines(j) => Some(j.path.clone()),
                _ => None,
            }),
            opcua: monitor.opcua_endpoint().map(str::to_string),
            pki: site.opcua.as_ref().map(|o| o.pki.clone()),
            ..Summary::default()
        };
        Ok(Demo {
            options,
            site,
            sim,
            monitor,
            layout,
            started,
            live_from: Instant::now(),
            opcua_choice,
            events: Vec::new(),
            alarm_state: BTreeMap::new(),
            last: None,
            summary,
            recorded_cycles: 0,
            fault: FaultState::Waiting,
        })
    }

    /// The lines shown once at the start: what runs where.
    pub fn header(&self) -> Vec<String> {
        let o = &self.options;
        let mut lines = vec![format!(
            "emkit demo: {:?} simulated on loopback and monitored in this process",
            self.site.site.name
        )];
        for e in self.sim.endpoints() {
            lines.push(format!("  simulated {e}"));
        }
        lines.push(format!(
            "  OPC UA server: {} ({})",
            self.monitor.opcua_endpoint().unwrap_or("off"),
            self.opcua_choice
        ));
        lines.push(format!("  output folder: {}", o.out.display()));
        lines.push(format!(
            "  live every {}, recorded every {}, offline alarm after {}",
            secs(o.live),
            secs(self.site.poll.record),
            secs(o.offline)
        ));
        lines.push(format!(
            "  fault: {} stops answering at +{} for {}",
            o.fault_device,
            secs(o.fault_after),
            secs(o.fault_for)
        ));
        lines
    }

    /// The site the monitor runs (the demo site on the simulation's ports).
    pub fn site(&self) -> &Site {
        &self.site
    }

    fn event(&mut self, text: impl std::fmt::Display) {
        let line = format!("+{:>3} s  {text}", self.live_from.elapsed().as_secs());
        tracing::info!("{line}");
        self.events.push(line);
        if self.events.len() > EVENTS_SHOWN {
            self.events.remove(0);
        }
    }

    /// The fault's next change, if any is left.
    fn next_fault_change(&self) -> Option<Instant> {
        match self.fault {
            FaultState::Waiting => Some(self.live_from + self.options.fault_after),
            FaultState::Injected => {
                Some(self.live_from + self.options.fault_after + self.options.fault_for)
            }
            FaultState::Lifted => None,
        }
    }

    fn fault_step(&mut self) {
        let device = self.options.fault_device.clone();
        let (fault, next, text) = match self.fault {
            FaultState::Waiting => (
                DeviceFault::Silent,
                FaultState::Injected,
                format!(
                    "fault injected: {device} stops answering (for {})",
                    secs(self.options.fault_for)
                ),
            ),
            FaultState::Injected => (
                DeviceFault::None,
                FaultState::Lifted,
                format!("fault lifted: {device} answers again"),
            ),
            FaultState::Lifted => return,
        };
        match self.sim.set_fault(&device, fault) {
            Ok(()) => self.event(text),
            Err(e) => self.event(format!("fault not set on {device}: {e}")),
        }
        self.fault = next;
    }

    /// Raised and cleared alarms since the last cycle, as events.
    fn alarm_events(&mut self) {
        let mut now: BTreeMap<u64, (String, bool)> = BTreeMap::new();
        for o in self.monitor.book().open() {
            let name = format!("{} {} {}", o.priority, o.alarm, o.target);
            now.insert(o.id, (name, o.status() != alarms::Status::Cleared));
        }
        let mut events = Vec::new();
        for (id, (name, active)) in &now {
            let before = self.alarm_state.get(id).map(|(_, a)| *a);
            match (before, *active) {
                (None | Some(false), true) => events.push(format!("alarm raised: {name}")),
                (None | Some(true), false) => events.push(format!("alarm cleared: {name}")),
                _ => {}
            }
        }
        for (id, (name, active)) in &self.alarm_state {
            if *active && !now.contains_key(id) {
                events.push(format!("alarm cleared: {name}"));
            }
        }
        self.alarm_state = now;
        for e in events {
            self.event(e);
        }
    }

    /// The current frame of the live view.
    pub fn view(&self) -> Vec<String> {
        render(
            &self.layout,
            &Snapshot {
                elapsed: self.live_from.elapsed(),
                cycle: self.last.clone(),
                readings: self.monitor.last_readings().to_vec(),
                alarms: alarm_lines(self.monitor.book()),
                events: self.events.clone(),
            },
        )
    }

    /// Runs live cycles every live period until `stop` completes (the view's clock and the
    /// fault's timeline start here), injecting and lifting the fault on time and writing the first report once values were recorded twice (so that
    /// counters have a difference); after each cycle `view` gets the frame ([`Demo::view`]).
    pub async fn run(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
        mut view: impl FnMut(&[String]),
    ) {
        self.live_from = Instant::now();
        let mut ticks = tokio::time::interval(self.options.live);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            let fault_at = self.next_fault_change();
            let fault_sleep = async {
                match fault_at {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                // in this order: a fault due while cycles run late still comes on time
                biased;
                () = &mut stop => break,
                () = fault_sleep => {
                    self.fault_step();
                    continue;
                }
                _ = ticks.tick() => {}
            }
            match self.monitor.cycle().await {
                Ok(s) => {
                    if s.good > 0 && self.summary.first_values.is_none() {
                        self.summary.first_values = Some(self.started.elapsed());
                    }
                    if s.stored > 0 {
                        self.recorded_cycles += 1;
                    }
                    self.summary.cycles = s.number;
                    if self.last.is_none() {
                        self.layout.keep_read(self.monitor.last_readings());
                    }
                    self.last = Some(s);
                }
                Err(e) => self.event(format!("cycle failed: {e}")),
            }
            self.alarm_events();
            if self.summary.first_report.is_none() && self.recorded_cycles >= 2 {
                match write_report(&self.site) {
                    Ok(r) => {
                        self.summary.first_report_after = Some(self.started.elapsed());
                        self.event(format!("first report written: {}", r.csv.display()));
                        self.summary.first_report = Some(r);
                    }
                    Err(e) => self.event(format!("report not written: {e}")),
                }
            }
            view(&self.view());
        }
    }

    /// Stops: lifts a fault still on, shuts the monitor down (the store is flushed), stops
    /// the simulation and writes the final report over the whole run.
    ///
    /// # Errors
    /// The monitor's shutdown errors. A report that cannot be written is said in the
    /// summary ([`Summary::report_error`]).
    pub async fn finish(mut self) -> Result<Summary, DemoError> {
        if self.fault == FaultState::Injected {
            self.fault_step();
        }
        let mut summary = std::mem::take(&mut self.summary);
        self.monitor.shutdown().await?;
        self.sim.stop().await;
        match write_report(&self.site) {
            Ok(r) => summary.final_report = Some(r),
            Err(e) => summary.report_error = Some(e.to_string()),
        }
        Ok(summary)
    }
}

/// The demo's report ([`REPORT_KIND`] over [`REPORT_PERIOD`] of [`report_site`]) into the
/// output folder, off the runtime's other tasks.
fn write_report(site: &Site) -> Result<WrittenReport, ReportError> {
    let request = ReportRequest::parse(REPORT_KIND, REPORT_PERIOD)?;
    let site = report_site(site);
    let run = || run_report(&site, &request, None, Utc::now());
    if tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
    {
        tokio::task::block_in_place(run)
    } else {
        run()
    }
}

/// `2 s`, `1.5 s`.
fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use modbus_devices::{Unit, Value};

    fn reading(point: &str, value: Option<f64>, unit: Unit, quality: Quality) -> Reading {
        let (device, service) = point.split_once('/').unwrap();
        Reading {
            device: device.into(),
            service: service.into(),
            value: value.map(Value::Number),
            unit,
            timestamp: chrono::DateTime::from_timestamp(1_764_000_000, 0).unwrap(),
            quality,
        }
    }

    fn good(point: &str, v: f64, unit: Unit) -> Reading {
        reading(point, Some(v), unit, Quality::Good)
    }

    #[test]
    fn values_are_shown_in_readable_units_or_say_why_not() {
        let f = |r: Reading| format_value(Some(&r));
        assert_eq!(f(good("hm1/power", 16_350.0, Unit::W)), "16.4 kW");
        assert_eq!(
            f(good("hm1/energy", 21_000_370.0, Unit::Wh)),
            "21000.37 kWh"
        );
        assert_eq!(f(good("main/ea_import", 5480.0, Unit::KWh)), "5480.0 kWh");
        assert_eq!(f(good("ecl1/s1", -3.25, Unit::DegC)), "-3.2 °C");
        assert_eq!(f(good("x/count", 7.0, Unit::None)), "7.0");
        let no = |q| f(reading("x/y", None, Unit::W, q));
        assert_eq!(no(Quality::NoAnswer), "no answer");
        assert_eq!(no(Quality::NotAvailable), "n/a");
        assert_eq!(no(Quality::Invalid), "invalid");
        assert_eq!(format_value(None), "-");
    }

    #[test]
    fn a_device_communicates_when_any_reading_got_an_answer() {
        let readings = vec![
            reading("a/x", None, Unit::W, Quality::NoAnswer),
            reading("a/y", None, Unit::W, Quality::NotAvailable),
            reading("b/x", None, Unit::W, Quality::NoAnswer),
            reading("b/y", None, Unit::W, Quality::NoAnswer),
        ];
        assert_eq!(communication(&readings, "a"), "ok");
        assert_eq!(communication(&readings, "b"), "no answer");
        assert_eq!(communication(&readings, "c"), "-");
    }

    fn layout() -> Layout {
        let site = Site::demo().unwrap();
        Layout::for_site(&site, 2)
    }

    #[test]
    fn the_demo_layout_shows_ecls_heat_meters_and_two_electrical_meters() {
        let l = layout();
        let rows: Vec<(&str, Vec<&str>)> = l
            .rows
            .iter()
            .map(|r| {
                (
                    r.device.as_str(),
                    r.values.iter().map(|v| v.point.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                ("ecl1", vec!["ecl1/s1", "ecl1/s3", "ecl1/c1_desired_flow"]),
                ("ecl2", vec!["ecl2/s1", "ecl2/s3", "ecl2/c1_desired_flow"]),
                ("hm1", vec!["hm1/power", "hm1/energy"]),
                ("hm2", vec!["hm2/power", "hm2/energy"]),
                ("main", vec!["main/p_total", "main/ea_import"]),
                ("lighting", vec!["lighting/p_total", "lighting/ea_import"]),
            ]
        );
        assert_eq!(
            l.devices,
            [
                "main", "lighting", "hvac", "kitchen", "workshop", "pv", "ecl1", "ecl2", "hm1",
                "hm2"
            ]
        );
    }

    #[test]
    fn values_a_device_does_not_serve_are_left_out_after_the_first_cycle() {
        let mut l = layout();
        // ecl2 answers without a setpoint; ecl1 does not answer: its values stay
        let readings = vec![
            good("ecl2/s1", 5.0, Unit::DegC),
            good("ecl2/s3", 45.0, Unit::DegC),
            reading("ecl1/s1", None, Unit::DegC, Quality::NoAnswer),
        ];
        l.keep_read(&readings);
        let points = |d: &str| -> Vec<String> {
            l.rows
                .iter()
                .find(|r| r.device == d)
                .unwrap()
                .values
                .iter()
                .map(|v| v.point.clone())
                .collect()
        };
        assert_eq!(points("ecl2"), ["ecl2/s1", "ecl2/s3"]);
        assert_eq!(points("ecl1").len(), 3);
    }

    #[test]
    fn the_view_shows_values_with_units_communication_alarms_and_events() {
        let l = layout();
        let status = CycleStatus {
            number: 7,
            started: chrono::DateTime::from_timestamp(1_764_000_000, 0).unwrap(),
            readings: 635,
            good: 536,
            recorded: 536,
            stored: 536,
            store_refused: 0,
            alarm_rejected: 0,
            opcua_rejected: 0,
            alarms: 1,
            notified: 1,
            took: Duration::from_millis(3012),
            reports: Vec::new(),
        };
        let snap = Snapshot {
            elapsed: Duration::from_secs(14),
            cycle: Some(status),
            readings: vec![
                good("ecl1/s1", 2.5, Unit::DegC),
                good("ecl1/s3", 48.04, Unit::DegC),
                good("hm1/power", 16_400.0, Unit::W),
                good("hm1/energy", 21_000_010.0, Unit::Wh),
                reading("lighting/p_total", None, Unit::W, Quality::NoAnswer),
                reading("lighting/ea_import", None, Unit::KWh, Quality::NoAnswer),
            ],
            alarms: vec![AlarmLine {
                priority: "critical".into(),
                alarm: "offline".into(),
                target: "lighting".into(),
                state: "active, unacknowledged".into(),
            }],
            events: vec!["+  5 s  fault injected: lighting stops answering".into()],
        };
        let lines = render(&l, &snap);
        let text = lines.join("\n");
        assert_eq!(
            lines[0],
            "[+ 14 s] cycle 7: 536/635 readings good, 536 stored, 1 open alarms (3012 ms)"
        );
        let line = |start: &str| {
            lines
                .iter()
                .find(|l| l.trim_start().starts_with(start))
                .unwrap_or_else(|| panic!("no {start} line in\n{text}"))
                .clone()
        };
        assert!(
            line("ecl1").ends_with("ok         outdoor 2.5 °C, flow 48.0 °C, setpoint -"),
            "{text}"
        );
        assert!(
            line("hm1").ends_with("ok         power 16.4 kW, energy 21000.01 kWh"),
            "{text}"
        );
        assert!(
            line("lighting").ends_with("no answer  power no answer, energy no answer"),
            "{text}"
        );
        assert!(line("main").contains(" -  "), "{text}");
        assert!(
            line("communication:").contains("lighting no answer, hvac -, kitchen -"),
            "{text}"
        );
        assert_eq!(line("alarms"), "  alarms (1 open):");
        assert_eq!(
            line("CRITICAL"),
            "    CRITICAL offline lighting (active, unacknowledged)"
        );
        assert_eq!(
            lines.last().unwrap(),
            "    +  5 s  fault injected: lighting stops answering"
        );
        // the same input gives the same frame
        assert_eq!(render(&l, &snap), lines);
    }

    #[test]
    fn before_the_first_cycle_the_view_says_so() {
        let lines = render(&layout(), &Snapshot::default());
        assert_eq!(lines[0], "[+  0 s] waiting for the first cycle");
        assert!(lines.iter().any(|l| l == "  alarms: none open"));
        assert!(!lines.iter().any(|l| l.contains("events:")));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_monitored_site_uses_the_simulation_ports_and_writes_into_the_output_folder() {
        let dir = tempfile::tempdir().unwrap();
        let demo = Site::demo().unwrap().with_ephemeral_ports();
        let sim = SimulatedSite::start(&demo, SimOptions::default())
            .await
            .unwrap();
        let options = DemoOptions {
            out: dir.path().join("out"),
            live: Duration::from_millis(1500),
            ..DemoOptions::default()
        };
        let site = monitored_site(&sim, &options).unwrap();
        for b in &site.buses {
            assert_eq!(
                b.address.as_deref(),
                Some(sim.address(&b.name).unwrap().to_string().as_str())
            );
        }
        for b in &site.mbus_buses {
            assert_eq!(b.address, sim.address(&b.name).unwrap().to_string());
        }
        assert_eq!(site.poll.live, Duration::from_millis(1500));
        assert_eq!(site.poll.record, Duration::from_secs(2));
        assert_eq!(site.alarms.offline, Duration::from_secs(10));
        let out = dir.path().join("out");
        assert_eq!(site.store_path(), out.join("emkit.sqlite"));
        assert_eq!(site.output_dir(), out);
        assert_eq!(site.notify.len(), 1, "console left out");
        match site.notify_config(0).map(|c| c.transport) {
            Some(alarms::transport::TransportConfig::JsonLines(j)) => {
                assert_eq!(j.path, out.join("notifications.jsonl"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(site.opcua_config().unwrap().pki_dir, out.join("pki"));
        assert!(site.reports.is_empty() && site.publications.is_empty());

        let short = DemoOptions {
            live: Duration::from_millis(500),
            ..options
        };
        assert!(matches!(
            monitored_site(&sim, &short),
            Err(DemoError::Option {
                option: "--live",
                ..
            })
        ));
        sim.stop().await;
    }

    #[test]
    fn the_opcua_port_is_the_sites_when_free_else_a_free_one() {
        let site = Site::demo().unwrap();
        assert_eq!(opcua_port(&site, Some(0)), (0, "a free port"));
        assert_eq!(opcua_port(&site, Some(4999)).0, 4999);
        // hold a port and make it the site's: the demo falls back to a free one
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let mut taken = site.clone();
        taken.opcua.as_mut().unwrap().listen = format!("127.0.0.1:{port}");
        assert_eq!(opcua_port(&taken, None).0, 0);
        drop(held);
        assert_eq!(opcua_port(&taken, None), (port, "the demo site's port"));
    }
}
