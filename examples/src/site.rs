//! The site file: one TOML description of a site that `meter-server` simulates and the
//! monitor polls (format v1, decided in issue 13).
//!
//! A site has Modbus endpoints (`[[bus]]`: Modbus/TCP, RTU over TCP, Modbus/TCP Security or
//! an RTU line), catalogue Modbus devices on them (`[[device]]`), M-Bus over TCP endpoints
//! (`[[mbus_bus]]`) with heat meters (`[[meter]]`), and Danfoss ECL Comfort controllers
//! (`[[ecl]]`, on a Modbus bus, each running an application key and optionally measured by
//! one heat meter). `[simulation]` is read by `meter-server` only; `[catalogue]` names extra
//! catalogue files, relative to the site file.
//!
//! The monitor reads (and every program checks) its own sections: `[poll]` (`live`, `record`
//! durations), `[store]` (`path`), `[alarms]` (`rules` file loaded with
//! [`alarms::RuleSet::load`], catalogue `templates`, `offline` alarms), `[[notify]]` (a
//! recipient and its [`alarms::transport::OutboxConfig`]), `[opcua]` (`listen`, `pki`,
//! `allow_anonymous`, `allow_none`, `[[opcua.user]]`), `[output]` (`dir`), `[tariffs]`
//! (`file`, loaded with [`reports::tariff::Tariffs::load`]), `[[report]]` (scheduled reports:
//! [`ReportEntry`]), `[[publication]]` (copies of report CSVs into folders keeping the last
//! files, optionally sent to a folder, FTP/FTPS, SFTP or SCP destination on a schedule:
//! [`Publication`], [`PublicationDestination`]) and `[building]` (`[[building.device]]`: zones, usage, panel,
//! source, circuit of each device, [`reports::building::DeviceInfo`]); paths are relative
//! to the site file.
//!
//! ```toml
//! [tariffs]
//! file = "tariffs.toml"
//!
//! [[report]]
//! name = "daily-energy"               # its folder: [output] dir/daily-energy/ (last 7 runs)
//! kind = "energy-consumption"         # standard | detailed | energy-consumption
//! period = "day"                      # day | week | month | quarter | year: the previous one
//! at = "00:15"                        # local time it runs (default 00:15)
//!
//! [[publication]]
//! name = "export"
//! reports = ["daily-energy"]
//! folder = "published"                # [output] dir/published/, the last `keep` files
//! keep = 7
//! schedule = { kind = "weekly", weekday = "mon", at = "06:30" }  # optional (default: after
//!                                     # its reports are written); daily, monthly, legrand, now
//!
//! [publication.destination]           # optional: the folder's files are sent there
//! type = "ftp"                        # folder | ftp | sftp | scp (reports::publish configs)
//! host = "ftp.example.com"
//! user = "emkit"
//! password = "..."
//! dir = "/incoming"                   # FTPS (explicit TLS) unless tls = "none"
//!
//! [building]
//! [[building.device]]
//! name = "main"
//! zones = ["ground floor"]
//! usage = "lighting"
//! ```
//!
//! ```toml
//! [site]
//! name = "Demo plant"
//! time_zone = "Europe/Copenhagen"
//!
//! [[bus]]
//! name = "lan"
//! kind = "tcp"                        # tcp | rtu-over-tcp | tls | rtu
//! address = "127.0.0.1:15020"
//!
//! [[device]]
//! name = "main"
//! product = "ECR380D"
//! bus = "lan"
//! unit = 1
//! area = "Substation 1"
//! ```
//!
//! Loading checks everything a program would otherwise find out later, and every error is
//! [`SiteError::InvalidFile`], printed `FILE:LINE:COLUMN: FIELD: MESSAGE` like every crate's
//! data-file error:
//! - the TOML and its types, with unknown keys refused (the key is named);
//! - names: device, meter and ECL names are unique together (they are the `device` part of
//!   point names), bus names are unique among `[[bus]]` and `[[mbus_bus]]`;
//! - references: a device or ECL names a `[[bus]]`, a meter an `[[mbus_bus]]`, a device a
//!   product of the catalogue (built-in plus `[catalogue] files`), an ECL a key of the
//!   `ecl-appkeys` catalogue that runs on an ECL Comfort 310, its `heat_meter` an existing
//!   meter that no other ECL claims;
//! - addresses: unit ids unique on a bus (1..=247 on RTU framings, 1..=255 on TCP), M-Bus
//!   primary addresses (0..=250) and secondary ids unique on an M-Bus bus, endpoint addresses
//!   `HOST:PORT`;
//! - the time zone is an IANA name.
//!
//! A cross-reference error points at the line of the offending key inside its entry.
//!
//! ```
//! use examples::site::Site;
//!
//! let site = Site::demo().unwrap();
//! assert_eq!(site.site.name, "Demo plant");
//! assert!(site.devices.iter().any(|d| d.product == "ECR380D"));
//! let bad = Site::from_str("s.toml", "[site]\nname = \"x\"\ntime_zone = \"Mars/Base\"\n");
//! assert_eq!(
//!     bad.unwrap_err().to_string(),
//!     "s.toml:3:13: site.time_zone: expected an IANA time zone name such as \"Europe/Copenhagen\", found \"Mars/Base\""
//! );
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use modbus_devices::Catalogue;
use modbus_devices::device::{
    Bus as ModbusBus, BusKind as ModbusBusKind, DeviceAddress, DeviceInstance, Installation,
    Parity, RtuSettings, TcpSettings, TlsSettings,
};
use serde::Deserialize;
use toml::Spanned;

use crate::toml_file::{Located, Source};

/// The name of the built-in demo site in errors and output.
pub const DEMO_FILE: &str = "<builtin>/demo-site.toml";

/// The built-in demo site's text (`examples/data/demo-site.toml`).
pub const DEMO_TEXT: &str = include_str!("../data/demo-site.toml");

/// Errors of loading a site file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SiteError {
    /// The file (or a value in it) is not a valid site.
    #[error("{}:{line}:{column}: {field}: {message}", file.display())]
    InvalidFile {
        /// The site file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The field path as written (`device[2].product`), or `(file)`.
        field: String,
        /// What was expected and what was found.
        message: String,
    },
    /// The site file cannot be read.
    #[error("cannot read site file {}: {message}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The OS error.
        message: String,
    },
    /// A catalogue file named by `[catalogue] files` is invalid (its own located error).
    #[error(transparent)]
    Catalogue(#[from] modbus_devices::CatalogueError),
    /// The `[alarms] rules` file is invalid (the alarms crate's own located error).
    #[error(transparent)]
    Alarms(#[from] alarms::Error),
    /// The `[tariffs] file` is invalid (the reports crate's own located error).
    #[error(transparent)]
    Tariffs(#[from] reports::Error),
}

impl From<Located> for SiteError {
    fn from(l: Located) -> Self {
        SiteError::InvalidFile {
            file: l.file,
            line: l.line,
            column: l.column,
            field: l.field,
            message: l.message,
        }
    }
}

/// `[site]`: the site's name and time zone.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteInfo {
    /// The site's name (the root of the OPC UA tree and of reports).
    pub name: String,
    /// IANA time zone name (local time only where people think in it).
    pub time_zone: String,
}

/// The kind of a Modbus endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BusKind {
    /// Modbus/TCP.
    Tcp,
    /// RTU framing over TCP (a serial gateway's transparent mode).
    RtuOverTcp,
    /// Modbus/TCP Security (TLS).
    Tls,
    /// Modbus RTU on a serial line.
    Rtu,
}

impl BusKind {
    /// The word of the site file (`rtu-over-tcp`).
    pub fn word(self) -> &'static str {
        match self {
            BusKind::Tcp => "tcp",
            BusKind::RtuOverTcp => "rtu-over-tcp",
            BusKind::Tls => "tls",
            BusKind::Rtu => "rtu",
        }
    }

    /// Whether unit ids are RTU slave addresses (1..=247).
    pub fn is_serial_line(self) -> bool {
        matches!(self, BusKind::Rtu | BusKind::RtuOverTcp)
    }
}

/// `[[bus]]`: a Modbus endpoint the monitor polls and `meter-server` serves.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bus {
    /// Unique name.
    pub name: String,
    /// Kind.
    pub kind: BusKind,
    /// `HOST:PORT` (TCP kinds): the monitor connects here, `meter-server` listens here
    /// (port 0: any free port, reported by the simulation).
    #[serde(default)]
    pub address: Option<String>,
    /// Serial device (`rtu`).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Baud rate (`rtu`, default 19 200).
    #[serde(default)]
    pub baud: Option<u32>,
    /// Parity (`rtu`: none | even | odd, default even).
    #[serde(default)]
    pub parity: Option<Parity>,
    /// `tls`: the server's certificate chain (PEM, relative to the site file);
    /// `meter-server` generates a self-signed one in memory when absent.
    #[serde(default)]
    pub certificate: Option<PathBuf>,
    /// `tls`: the server's private key (PEM), with `certificate`.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// `tls`: the CA that signs the server's certificate (the monitor checks it); without
    /// it the monitor accepts a self-signed server certificate.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// `tls`: when given, `meter-server` requires client certificates signed by this CA.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// `tls`: the monitor's client certificate (PEM), with `client_key`.
    #[serde(default)]
    pub client_certificate: Option<PathBuf>,
    /// `tls`: the monitor's client key (PEM).
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// 1-based line of the entry in the site file (not read from the file).
    #[serde(skip)]
    pub line: usize,
}

impl Bus {
    /// Host and port of a TCP kind (`None` for `rtu` or a malformed address, which loading
    /// refuses).
    pub fn host_port(&self) -> Option<(String, u16)> {
        split_host_port(self.address.as_deref()?)
    }
}

/// `[[device]]`: a catalogue Modbus product on a bus.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Device name: points are `NAME/SERVICE`.
    pub name: String,
    /// Catalogue reference.
    pub product: String,
    /// The `[[bus]]` it sits on.
    pub bus: String,
    /// Unit id.
    pub unit: u8,
    /// Area (OPC UA and report grouping).
    #[serde(default)]
    pub area: Option<String>,
    /// 1-based line of the entry (not read from the file).
    #[serde(skip)]
    pub line: usize,
}

/// `[[mbus_bus]]`: M-Bus over TCP (a transparent gateway).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MbusBus {
    /// Unique name (among every bus).
    pub name: String,
    /// `HOST:PORT`.
    pub address: String,
    /// 1-based line of the entry (not read from the file).
    #[serde(skip)]
    pub line: usize,
}

impl MbusBus {
    /// Host and port (loading checks that the address has both).
    pub fn host_port(&self) -> Option<(String, u16)> {
        split_host_port(&self.address)
    }
}

/// The medium of an M-Bus meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeterMedium {
    /// A heat meter (medium 0x04).
    Heat,
}

/// `[[meter]]`: an M-Bus meter.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meter {
    /// Device name: points are `NAME/QUANTITY`.
    pub name: String,
    /// The `[[mbus_bus]]` it sits on.
    pub bus: String,
    /// Primary address 0..=250.
    pub primary: u8,
    /// Identification number, 8 decimal digits.
    pub secondary: String,
    /// Manufacturer, three letters (default `KAM`).
    #[serde(default = "default_manufacturer")]
    pub manufacturer: String,
    /// Medium.
    pub medium: MeterMedium,
    /// Area.
    #[serde(default)]
    pub area: Option<String>,
    /// 1-based line of the entry (not read from the file).
    #[serde(skip)]
    pub line: usize,
}

fn default_manufacturer() -> String {
    "KAM".to_string()
}

/// `[[ecl]]`: a Danfoss ECL Comfort controller on a Modbus bus.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ecl {
    /// Device name.
    pub name: String,
    /// The `[[bus]]` it sits on.
    pub bus: String,
    /// Unit id.
    pub unit: u8,
    /// Application key with sub-type (`A266.1`): `meter-server` runs it, the monitor
    /// detects the key and compares.
    pub key: String,
    /// The `[[meter]]` measuring this controller's heating circuit (simulation).
    #[serde(default)]
    pub heat_meter: Option<String>,
    /// Area.
    #[serde(default)]
    pub area: Option<String>,
    /// 1-based line of the entry (not read from the file).
    #[serde(skip)]
    pub line: usize,
}

impl Ecl {
    /// The parsed application key (loading checks it).
    pub fn key_id(&self) -> Option<ecl_appkeys::KeyId> {
        self.key.parse().ok()
    }
}

/// The daily outdoor temperature of the simulation: `mean - amplitude * cos(2 pi (h - 4) / 24)`
/// with `h` the UTC hour, coldest at 04:00 UTC and warmest at 16:00 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outdoor {
    /// Daily mean, degC.
    pub mean: f64,
    /// Half the daily swing, K.
    pub amplitude: f64,
}

impl Default for Outdoor {
    fn default() -> Self {
        Outdoor {
            mean: 2.0,
            amplitude: 6.0,
        }
    }
}

impl Outdoor {
    /// The outdoor temperature at `t`.
    ///
    /// ```
    /// use examples::site::Outdoor;
    /// let o = Outdoor { mean: 2.0, amplitude: 6.0 };
    /// let at = |h: u32| o.at(chrono::DateTime::parse_from_rfc3339(&format!("2026-01-05T{h:02}:00:00Z")).unwrap().to_utc());
    /// assert!((at(4) - -4.0).abs() < 1e-9);
    /// assert!((at(16) - 8.0).abs() < 1e-9);
    /// ```
    pub fn at(&self, t: chrono::DateTime<chrono::Utc>) -> f64 {
        use chrono::Timelike;
        let hours = f64::from(t.num_seconds_from_midnight()) / 3600.0;
        self.mean - self.amplitude * (std::f64::consts::TAU * (hours - 4.0) / 24.0).cos()
    }
}

/// `[simulation]`: read by `meter-server` only.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simulation {
    /// Outdoor temperature driving the ECL models.
    #[serde(default)]
    pub outdoor: Outdoor,
    /// `HOST:PORT` of the line-based fault-control port.
    #[serde(default)]
    pub control: Option<String>,
}

/// `[catalogue]`: extra catalogue files.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueFiles {
    /// Catalogue TOML files, relative to the site file.
    #[serde(default)]
    pub files: Vec<PathBuf>,
}

fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::time::Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "expected a duration such as \"10s\" or \"15min\", found {text:?} ({e})"
        ))
    })
}

/// `[poll]` (monitor): how often devices are read and how often a value is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Poll {
    /// The live cycle: every device is read this often (default 10 s; at least 1 s).
    #[serde(deserialize_with = "duration")]
    pub live: std::time::Duration,
    /// The recording interval of the points whose catalogue service does not give one (M-Bus
    /// meters, ECL parameters; a catalogue service is recorded at its own
    /// `recording_interval_min`): a value is stored once per interval, at the first live
    /// cycle of each interval aligned to the wall clock (UTC; default 15 min, a whole number
    /// of seconds, at least `live`).
    #[serde(deserialize_with = "duration")]
    pub record: std::time::Duration,
}

impl Default for Poll {
    fn default() -> Self {
        Poll {
            live: std::time::Duration::from_secs(10),
            record: std::time::Duration::from_secs(15 * 60),
        }
    }
}

/// `[store]` (monitor): the embedded SQLite store.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// The database file, relative to the site file (default `data/emkit.sqlite`).
    pub path: PathBuf,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            path: PathBuf::from("data/emkit.sqlite"),
        }
    }
}

/// `[alarms]` (monitor): which alarm rules run.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlarmSettings {
    /// An `alarms` rule set file (rules, recipients, digest), relative to the site file,
    /// loaded with [`alarms::RuleSet::load`].
    pub rules: Option<PathBuf>,
    /// The catalogue products' proposed alarms, for every device (default on).
    pub templates: bool,
    /// An offline alarm per device (Modbus device, ECL, M-Bus meter) that has not answered
    /// for this long (default 60 s; `offline = false` is not a duration: leave the section
    /// out or set `offline_alarms = false` to turn them off).
    #[serde(deserialize_with = "duration")]
    pub offline: std::time::Duration,
    /// Whether the offline alarms run (default on).
    pub offline_alarms: bool,
    /// The offline alarms' priority (default critical: notified at once).
    pub offline_priority: alarms::Priority,
    /// Who is notified of the catalogue and offline alarms: `[[notify]]` names or recipients
    /// of the rules file (default: every `[[notify]]` name).
    pub recipients: Option<Vec<String>>,
}

impl Default for AlarmSettings {
    fn default() -> Self {
        AlarmSettings {
            rules: None,
            templates: true,
            offline: std::time::Duration::from_secs(60),
            offline_alarms: true,
            offline_priority: alarms::Priority::Critical,
            recipients: None,
        }
    }
}

/// `[[notify]]` (monitor): one recipient of alarm notifications and the transport that
/// delivers to it, with its retry policy (the keys of [`alarms::transport::OutboxConfig`]:
/// `type = "console" | "json-lines" | "smtp" | "webhook"`, the transport's own keys, and an
/// optional `retry` table). Paths (`path`, `ca_file`) are relative to the site file.
///
/// The monitor makes each entry a recipient of the alarm rules (unless the rules file
/// already has a `[[recipient]]` of that name: the rules file must declare the recipients its
/// own rules name, the `[[notify]]` entry of the same name delivers to them).
///
/// ```toml
/// [[notify]]
/// name = "ops"                      # the recipient name rules refer to
/// type = "json-lines"
/// path = "data/notifications.jsonl"
/// retry = { initial = "10s", max = "10min" }
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Notify {
    /// The recipient's name (unique; the name rules' `recipients` use).
    pub name: String,
    /// The recipient's address shown in notifications (an e-mail address, a URL; optional).
    #[serde(default)]
    pub address: String,
    /// Immediate notifications of critical occurrences (default on).
    #[serde(default = "yes")]
    pub immediate: bool,
    /// The daily digest of the other occurrences (default on).
    #[serde(default = "yes")]
    pub digest: bool,
    /// The transport and its retry policy.
    #[serde(flatten)]
    pub outbox: alarms::transport::OutboxConfig,
    /// 1-based line of the entry (not read from the file).
    #[serde(skip)]
    pub line: usize,
}

fn yes() -> bool {
    true
}

/// `[opcua]` (monitor): the OPC UA server. Without the section the monitor serves no OPC UA.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpcUaSettings {
    /// `HOST:PORT` the server binds and advertises (never a wildcard; default
    /// `127.0.0.1:4840`).
    #[serde(default = "default_opcua_listen")]
    pub listen: String,
    /// The PKI folder (own certificate, trusted client certificates), relative to the site
    /// file (default `pki`).
    #[serde(default = "default_pki")]
    pub pki: PathBuf,
    /// Accept anonymous (read-only) sessions (default off).
    #[serde(default)]
    pub allow_anonymous: bool,
    /// Also offer the None security endpoint (default off).
    #[serde(default)]
    pub allow_none: bool,
    /// Username/password users (`[[opcua.user]]`: `name`, `password`, `role = "read_only" |
    /// "operator"`).
    #[serde(default)]
    pub user: Vec<opcua_bridge::server::User>,
}

fn default_opcua_listen() -> String {
    "127.0.0.1:4840".to_string()
}

fn default_pki() -> PathBuf {
    PathBuf::from("pki")
}

impl OpcUaSettings {
    /// Host and port of `listen` (loading checks it).
    pub fn host_port(&self) -> Option<(String, u16)> {
        split_host_port(&self.listen)
    }
}

/// `[output]` (monitor): where reports and exports are written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputSettings {
    /// The folder, relative to the site file (default `output`).
    pub dir: PathBuf,
}

impl Default for OutputSettings {
    fn default() -> Self {
        OutputSettings {
            dir: PathBuf::from("output"),
        }
    }
}

/// `[tariffs]` (monitor): the energy tariffs, an `reports::tariff` file loaded with
/// [`reports::tariff::Tariffs::load`] (its errors are that crate's own located errors).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TariffSettings {
    /// The tariff file, relative to the site file.
    pub file: PathBuf,
}

/// How often a `[[report]]` runs, and over what: the previous complete period in the site's
/// time zone (a day report runs every day, a week report every Monday, a month report on
/// the 1st, a quarter report on the first day of a quarter, a year report on 1 January).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportPeriod {
    /// Yesterday.
    Day,
    /// Last week (Monday to Sunday).
    Week,
    /// Last month.
    Month,
    /// Last quarter.
    Quarter,
    /// Last year.
    Year,
}

impl ReportPeriod {
    /// The `reports` period this covers when the report runs.
    pub fn period(self) -> reports::report::Period {
        use reports::report::Period;
        match self {
            ReportPeriod::Day => Period::Yesterday,
            ReportPeriod::Week => Period::LastWeek,
            ReportPeriod::Month => Period::LastMonth,
            ReportPeriod::Quarter => Period::LastQuarter,
            ReportPeriod::Year => Period::LastYear,
        }
    }
}

fn report_kind<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<reports::report::ReportKind, D::Error> {
    let text = String::deserialize(d)?;
    crate::gateway::report::ReportRequest::parse(&text, "yesterday")
        .map(|r| r.kind)
        .map_err(serde::de::Error::custom)
}

fn local_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<chrono::NaiveTime, D::Error> {
    let text = String::deserialize(d)?;
    chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| {
        serde::de::Error::custom(format!(
            "expected a local time of day HH:MM such as \"00:15\", found {text:?}"
        ))
    })
}

fn default_at() -> chrono::NaiveTime {
    chrono::NaiveTime::from_hms_opt(0, 15, 0).unwrap_or_default()
}

/// `[[report]]` (monitor): a report the monitor runs on its schedule
/// ([`crate::gateway::schedule`]) and writes (CSV, and a chart PNG unless `chart = false`)
/// into `[output] dir/NAME/`, which keeps the last 7 runs.
///
/// ```toml
/// [[report]]
/// name = "daily-energy"            # unique; the folder under [output] dir
/// kind = "energy-consumption"      # standard | detailed | energy-consumption
/// period = "day"                   # day | week | month | quarter | year (previous one)
/// at = "00:15"                     # local time of day it runs (default 00:15)
/// devices = ["main", "hm1"]        # optional: only these devices, meters, ECLs
/// chart = true                     # default true
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportEntry {
    /// The report's name (unique; its folder under `[output] dir`, `%name` of publications).
    pub name: String,
    /// The report kind (the kinds of [`crate::gateway::report::ReportRequest::parse`]).
    #[serde(deserialize_with = "report_kind")]
    pub kind: reports::report::ReportKind,
    /// The schedule and the period covered.
    pub period: ReportPeriod,
    /// The local time of day it runs (default 00:15).
    #[serde(default = "default_at", deserialize_with = "local_time")]
    pub at: chrono::NaiveTime,
    /// Only these devices, meters and ECLs (default: all of the site's).
    #[serde(default)]
    pub devices: Vec<String>,
    /// Write a chart PNG beside the CSV (default on).
    #[serde(default = "yes")]
    pub chart: bool,
    /// 1-based line of the entry (not read from the file).
    #[serde(skip)]
    pub line: usize,
}

fn seven() -> usize {
    7
}

fn default_publication_file() -> String {
    "%name_%date.csv".to_string()
}

/// `[[publication]]` (monitor): each time one of `reports` is written, its CSV is copied
/// into `[output] dir/FOLDER/` under the name `file` (a [`reports::export::render_file_name`]
/// template: `%name` = the report's name, `%date`, `%day`, `%dow`, `%hour` = the run's local
/// time), and the folder keeps the last `keep` files (the 7-file archive,
/// [`reports::export::Archive`]).
///
/// With a `destination`, the folder's files (the archive, up to `keep`) are also sent there
/// ([`crate::gateway::publish`]): after its reports were written (no `schedule`), or on its
/// `schedule` ([`reports::publish::schedule::Schedule`], in the site's time zone;
/// `kind = "now"`: only on demand, `monitor publish --now NAME`). Each run goes through
/// [`reports::publish::Publisher`] with `retry`; a run that still fails leaves the files
/// waiting and is tried again at a later cycle, after the same backoff. Every attempt is a
/// JSON line in `log` (default `[output] dir/publications.jsonl`).
///
/// ```toml
/// [[publication]]
/// name = "to-accounting"
/// reports = ["daily-energy"]
/// folder = "published"             # under [output] dir; a plain relative path
/// file = "%name_%date.csv"         # default
/// keep = 7                         # default
/// schedule = { kind = "daily", at = "06:30" }   # optional; weekly, monthly, legrand, now
/// log = "publications.jsonl"       # optional; default [output] dir/publications.jsonl
/// retry = { attempts = 3, first_delay_ms = 10000, max_delay_ms = 300000 }  # default
///
/// [publication.destination]        # optional: folder | ftp | sftp | scp
/// type = "sftp"                    # the keys of reports::publish::ssh::SshConfig
/// host = "files.example.net"
/// user = "emkit"
/// auth = { key_file = { path = "keys/id_ed25519" } }
/// known_hosts = "keys/known_hosts"
/// dir = "upload/site-1"
/// ```
///
/// The other destinations: `type = "folder"` with `path`; `type = "ftp"` with the keys of
/// [`reports::publish::FtpConfig`] (`tls = "explicit"` by default: FTPS); `type = "scp"` with
/// `archive` (the zip's name, a [`reports::publish::template::Template`], default
/// `%name_%date.zip`) and an `ssh` table of [`reports::publish::ssh::SshConfig`] keys. Paths
/// (`path`, `ca_file`, `known_hosts`, `auth.key_file.path`, `log`) are relative to the site
/// file. A wrong `type` is reported at its line (`publication[N].destination.type`); an error
/// inside the embedded configuration (an unknown key, a missing `host`) at the
/// destination's header line as `publication[N].destination`, with the `reports` crate's
/// message naming the key. A `schedule` needs a destination.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    /// The publication's name (unique).
    pub name: String,
    /// `[[report]]` names whose CSV is published.
    pub reports: Vec<String>,
    /// The folder under `[output] dir`.
    pub folder: PathBuf,
    /// The file name template (default `%name_%date.csv`).
    #[serde(default = "default_publication_file")]
    pub file: String,
    /// Files kept in the folder (default 7).
    #[serde(default = "seven")]
    pub keep: usize,
    /// When the folder is sent to the destination (`None`: after its reports are written).
    #[serde(default)]
    pub schedule: Option<reports::publish::schedule::Schedule>,
    /// Where the folder's files are sent (`None`: they stay in the folder).
    #[serde(default)]
    pub destination: Option<PublicationDestination>,
    /// The attempt log (default `[output] dir/publications.jsonl`), relative to the site file.
    #[serde(default)]
    pub log: Option<PathBuf>,
    /// Retries within one run (the Publisher's), also the backoff between failed runs.
    #[serde(default)]
    pub retry: reports::publish::RetryPolicy,
    /// 1-based line of the entry (not read from the file).
    #[serde(skip)]
    pub line: usize,
}

/// `[publication.destination]`: where a publication's files go, by `type`; each embeds the
/// `reports::publish` configuration of that destination.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PublicationDestination {
    /// A local or mounted folder ([`reports::publish::Folder`]).
    Folder(FolderDestination),
    /// An FTP or FTPS server ([`reports::publish::Ftp`]).
    Ftp(reports::publish::FtpConfig),
    /// SFTP folder sync ([`reports::publish::ssh::Sftp`]).
    Sftp(reports::publish::ssh::SshConfig),
    /// SCP, one zip per run ([`reports::publish::ssh::Scp`]).
    Scp(ScpDestination),
}

impl PublicationDestination {
    /// `folder`, `ftp`, `sftp` or `scp`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Folder(_) => "folder",
            Self::Ftp(_) => "ftp",
            Self::Sftp(_) => "sftp",
            Self::Scp(_) => "scp",
        }
    }
}

/// `type = "folder"`: the folder files are copied into (relative to the site file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderDestination {
    /// The folder (created when missing).
    #[serde(deserialize_with = "non_empty_path")]
    pub path: PathBuf,
}

fn non_empty_path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Err(serde::de::Error::custom("expected a folder, found \"\""));
    }
    Ok(PathBuf::from(text))
}

fn default_zip() -> reports::publish::template::Template {
    reports::publish::template::Template::parse("%name_%date.zip")
        .unwrap_or_else(|_| unreachable!("a valid template"))
}

/// `type = "scp"`: the zip's name and the SSH server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScpDestination {
    /// The zip's name, expanded at each run (`%name` = the publication's name; default
    /// `%name_%date.zip`).
    #[serde(default = "default_zip")]
    pub archive: reports::publish::template::Template,
    /// The server.
    pub ssh: reports::publish::ssh::SshConfig,
}

/// `[building]` (monitor): where each device sits in the building (zones, usage, panel,
/// source, circuit), `[[building.device]]` entries of [`reports::building::DeviceInfo`],
/// checked with [`reports::building::BuildingModel::new`]; each name must be a device,
/// meter or ECL of the site.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildingSettings {
    /// The devices' places.
    #[serde(default)]
    pub device: Vec<reports::building::DeviceInfo>,
}

/// The file as serde reads it (entries with their spans).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteFile {
    site: Spanned<SiteInfo>,
    #[serde(default)]
    bus: Vec<Spanned<Bus>>,
    #[serde(default)]
    device: Vec<Spanned<Device>>,
    #[serde(default)]
    mbus_bus: Vec<Spanned<MbusBus>>,
    #[serde(default)]
    meter: Vec<Spanned<Meter>>,
    #[serde(default)]
    ecl: Vec<Spanned<Ecl>>,
    #[serde(default)]
    simulation: Option<Spanned<Simulation>>,
    #[serde(default)]
    catalogue: Option<Spanned<CatalogueFiles>>,
    #[serde(default)]
    poll: Option<Spanned<Poll>>,
    #[serde(default)]
    store: Option<Spanned<StoreSettings>>,
    #[serde(default)]
    alarms: Option<Spanned<AlarmSettings>>,
    #[serde(default)]
    notify: Vec<Spanned<Notify>>,
    #[serde(default)]
    opcua: Option<Spanned<OpcUaSettings>>,
    #[serde(default)]
    output: Option<Spanned<OutputSettings>>,
    #[serde(default)]
    tariffs: Option<Spanned<TariffSettings>>,
    #[serde(default)]
    report: Vec<Spanned<ReportEntry>>,
    #[serde(default)]
    publication: Vec<Spanned<Publication>>,
    #[serde(default)]
    building: Option<Spanned<BuildingSettings>>,
}

/// A loaded, checked site.
#[derive(Debug, Clone)]
pub struct Site {
    /// The file it was read from ([`DEMO_FILE`] for the demo).
    pub file: PathBuf,
    /// `[site]`.
    pub site: SiteInfo,
    /// `[[bus]]` entries, in file order.
    pub buses: Vec<Bus>,
    /// `[[device]]` entries.
    pub devices: Vec<Device>,
    /// `[[mbus_bus]]` entries.
    pub mbus_buses: Vec<MbusBus>,
    /// `[[meter]]` entries.
    pub meters: Vec<Meter>,
    /// `[[ecl]]` entries.
    pub ecls: Vec<Ecl>,
    /// `[simulation]` (defaults when absent).
    pub simulation: Simulation,
    /// `[catalogue]`.
    pub catalogue_files: CatalogueFiles,
    /// `[poll]` (defaults when absent).
    pub poll: Poll,
    /// `[store]` (defaults when absent).
    pub store: StoreSettings,
    /// `[alarms]` (defaults when absent).
    pub alarms: AlarmSettings,
    /// `[[notify]]` entries.
    pub notify: Vec<Notify>,
    /// `[opcua]` (`None`: no OPC UA server).
    pub opcua: Option<OpcUaSettings>,
    /// `[output]` (defaults when absent).
    pub output: OutputSettings,
    /// `[tariffs]`.
    pub tariff_settings: Option<TariffSettings>,
    /// `[[report]]` entries.
    pub reports: Vec<ReportEntry>,
    /// `[[publication]]` entries.
    pub publications: Vec<Publication>,
    /// `[building]`: the building model (`None` without the section).
    pub building: Option<reports::building::BuildingModel>,
    tariffs: Option<reports::tariff::Tariffs>,
    rules: alarms::RuleSet,
    time_zone: chrono_tz::Tz,
    catalogue: Catalogue,
}

impl Site {
    /// Read and check the site file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Site, SiteError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| SiteError::Read {
            file: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_str(path, &text)
    }

    /// Check the site in `text`, named `file` in errors; catalogue files are relative to
    /// `file`'s directory.
    #[allow(
        clippy::should_implement_trait,
        reason = "the file name is a second argument"
    )]
    pub fn from_str(file: impl AsRef<Path>, text: &str) -> Result<Site, SiteError> {
        let file = file.as_ref();
        let src = Source::new(file, text);
        let parsed: SiteFile = src.parse()?;
        let check = Checker { src };
        check.site(parsed)
    }

    /// The built-in demo site ([`DEMO_TEXT`]), loaded through the same path as a file.
    pub fn demo() -> Result<Site, SiteError> {
        Self::from_str(DEMO_FILE, DEMO_TEXT)
    }

    /// The `[alarms] rules` file's rule set (empty without one).
    pub fn rules(&self) -> &alarms::RuleSet {
        &self.rules
    }

    /// The store's database file (`[store] path`, resolved).
    pub fn store_path(&self) -> PathBuf {
        self.resolve(&self.store.path)
    }

    /// The output folder (`[output] dir`, resolved).
    pub fn output_dir(&self) -> PathBuf {
        self.resolve(&self.output.dir)
    }

    /// The `[tariffs] file`'s tariffs (`None` without the section).
    pub fn tariffs(&self) -> Option<&reports::tariff::Tariffs> {
        self.tariffs.as_ref()
    }

    /// The outbox configuration of `[[notify]]` entry `i`, its paths (`path`, `ca_file`)
    /// resolved against the site file.
    pub fn notify_config(&self, i: usize) -> Option<alarms::transport::OutboxConfig> {
        use alarms::transport::TransportConfig;
        let mut c = self.notify.get(i)?.outbox.clone();
        match &mut c.transport {
            TransportConfig::JsonLines(j) => j.path = self.resolve(&j.path),
            TransportConfig::Smtp(s) => s.ca_file = s.ca_file.as_deref().map(|p| self.resolve(p)),
            TransportConfig::Webhook(w) => {
                w.ca_file = w.ca_file.as_deref().map(|p| self.resolve(p));
            }
            _ => {}
        }
        Some(c)
    }

    /// The OPC UA server configuration of `[opcua]` (PKI folder resolved), `None` without
    /// the section.
    pub fn opcua_config(&self) -> Option<opcua_bridge::server::ServerConfig> {
        let o = self.opcua.as_ref()?;
        let (host, port) = o.host_port()?;
        let mut c = opcua_bridge::server::ServerConfig::new(host, port, self.resolve(&o.pki));
        c.application_name = format!("emkit monitor: {}", self.site.name);
        c.allow_anonymous = o.allow_anonymous;
        c.allow_none = o.allow_none;
        c.users.clone_from(&o.user);
        Some(c)
    }

    /// The site's time zone.
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.time_zone
    }

    /// The Modbus catalogue: built-in products plus the `[catalogue] files`.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The directory site-relative paths start from.
    pub fn base_dir(&self) -> PathBuf {
        base_dir(&self.file)
    }

    /// A site-relative path made usable (absolute paths are kept).
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.base_dir().join(path)
    }

    /// The same site with every TCP port (Modbus, M-Bus, control) set to 0, so that
    /// `meter-server` binds free ports (tests running in parallel); the simulation reports
    /// the bound ones ([`crate::simulation::SimulatedSite::site`]).
    pub fn with_ephemeral_ports(mut self) -> Site {
        let zero = |a: &str| split_host_port(a).map(|(h, _)| join_host_port(&h, 0));
        for b in &mut self.buses {
            if let Some(a) = b.address.as_deref().and_then(zero) {
                b.address = Some(a);
            }
        }
        for b in &mut self.mbus_buses {
            if let Some(a) = zero(&b.address) {
                b.address = a;
            }
        }
        if let Some(a) = self.simulation.control.as_deref().and_then(zero) {
            self.simulation.control = Some(a);
        }
        self
    }

    /// The bus (Modbus or M-Bus) named `name` takes `address` (`HOST:PORT`).
    pub fn set_address(&mut self, bus: &str, address: &str) -> bool {
        if let Some(b) = self.buses.iter_mut().find(|b| b.name == bus) {
            b.address = Some(address.to_string());
            return true;
        }
        if let Some(b) = self.mbus_buses.iter_mut().find(|b| b.name == bus) {
            b.address = address.to_string();
            return true;
        }
        false
    }

    /// The `[[device]]` entries as a `modbus-devices` installation (every `[[bus]]`, the
    /// catalogue devices; ECL controllers are left to detection). TLS buses check the
    /// server against `ca`, or accept a self-signed certificate without it.
    pub fn installation(&self) -> Result<Installation, SiteError> {
        let mut inst = Installation::default();
        for b in &self.buses {
            let tcp = || -> TcpSettings {
                let (host, port) = b.host_port().unwrap_or_default();
                TcpSettings::new(host, port)
            };
            let kind = match b.kind {
                BusKind::Tcp => ModbusBusKind::Tcp(tcp()),
                BusKind::RtuOverTcp => ModbusBusKind::RtuOverTcp(tcp()),
                BusKind::Tls => ModbusBusKind::Tls(TlsSettings {
                    tcp: tcp(),
                    ca_cert: b.ca.as_deref().map(|p| self.resolve(p)),
                    client_cert: b.client_certificate.as_deref().map(|p| self.resolve(p)),
                    client_key: b.client_key.as_deref().map(|p| self.resolve(p)),
                    server_name: None,
                    check_dates: true,
                    accept_self_signed: b.ca.is_none(),
                }),
                BusKind::Rtu => {
                    let mut s = RtuSettings::new(b.path.clone().unwrap_or_default());
                    s.baud = b.baud.unwrap_or(s.baud);
                    s.parity = b.parity.unwrap_or(s.parity);
                    ModbusBusKind::Rtu(s)
                }
            };
            inst.add_bus(ModbusBus {
                name: b.name.clone(),
                kind,
            })
            .map_err(|e| self.entry_error(b.line, "bus", &e.to_string()))?;
        }
        for d in &self.devices {
            inst.add_device(DeviceInstance::new(
                &d.name,
                &d.product,
                &d.bus,
                DeviceAddress::Unit(d.unit),
            ))
            .map_err(|e| self.entry_error(d.line, "device", &e.to_string()))?;
        }
        Ok(inst)
    }

    fn entry_error(&self, line: usize, field: &str, message: &str) -> SiteError {
        SiteError::InvalidFile {
            file: self.file.clone(),
            line,
            column: 1,
            field: field.to_string(),
            message: message.to_string(),
        }
    }

    /// Every device name (devices, meters, ECLs) with what it is, in file order.
    pub fn names(&self) -> Vec<(&str, &'static str)> {
        let d = self.devices.iter().map(|d| (d.name.as_str(), "device"));
        let m = self.meters.iter().map(|m| (m.name.as_str(), "meter"));
        let e = self.ecls.iter().map(|e| (e.name.as_str(), "ecl"));
        d.chain(m).chain(e).collect()
    }
}

fn base_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !file.starts_with("<builtin>") => p.to_path_buf(),
        _ => PathBuf::new(),
    }
}

/// `HOST:PORT` split at the last colon (`[::1]:502` keeps its brackets off).
fn split_host_port(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| (host.to_string(), port))
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The monitor's sections, checked.
struct Monitor {
    poll: Poll,
    store: StoreSettings,
    alarms: AlarmSettings,
    notify: Vec<Notify>,
    opcua: Option<OpcUaSettings>,
    output: OutputSettings,
    tariff_settings: Option<TariffSettings>,
    reports: Vec<ReportEntry>,
    publications: Vec<Publication>,
    building: Option<reports::building::BuildingModel>,
    tariffs: Option<reports::tariff::Tariffs>,
    rules: alarms::RuleSet,
}

/// The cross-reference checks, with the source for positions.
struct Checker<'a> {
    src: Source<'a>,
}

impl Checker<'_> {
    /// An error at `key` inside the entry spanning `span` (the key's line when it is written
    /// there as `key = ...`, else the entry's start).
    fn at(&self, span: &Range<usize>, key: &str, field: String, message: String) -> SiteError {
        // A table's span covers its header only: its keys follow until the next header.
        let text = self.src.text;
        let start = span.start.min(text.len());
        let end = text.len();
        let mut offset = start;
        let mut found = None;
        for (n, line) in text[start..end].split_inclusive('\n').enumerate() {
            let trimmed = line.trim_start();
            if n > 0 && trimmed.starts_with('[') {
                break;
            }
            if let Some(rest) = trimmed.strip_prefix(key)
                && rest.trim_start().starts_with('=')
            {
                let rest_at = offset + (line.len() - trimmed.len()) + key.len();
                let eq = rest.find('=').map_or(0, |i| i + 1);
                let value = rest[eq..].len() - rest[eq..].trim_start().len();
                found = Some(rest_at + eq + value);
                break;
            }
            offset += line.len();
        }
        self.src
            .at(found.unwrap_or(start)..end, field, message)
            .into()
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one check per rule of the format, in order"
    )]
    fn site(&self, f: SiteFile) -> Result<Site, SiteError> {
        let file = self.src.file.to_path_buf();
        let site_span = f.site.span();
        let time_zone: chrono_tz::Tz = f.site.get_ref().time_zone.parse().map_err(|_| {
            self.at(
                &site_span,
                "time_zone",
                "site.time_zone".into(),
                format!(
                    "expected an IANA time zone name such as \"Europe/Copenhagen\", found {:?}",
                    f.site.get_ref().time_zone
                ),
            )
        })?;

        // catalogue: built-in plus the site's files
        let catalogue_files = f
            .catalogue
            .as_ref()
            .map(|c| c.get_ref().clone())
            .unwrap_or_default();
        let mut catalogue = Catalogue::builtin()?;
        for (i, path) in catalogue_files.files.iter().enumerate() {
            let full = base_dir(&file).join(path);
            if !full.exists() {
                let span = f.catalogue.as_ref().map_or(0..0, Spanned::span);
                return Err(self.at(
                    &span,
                    "files",
                    format!("catalogue.files[{i}]"),
                    format!(
                        "expected a catalogue file, found no file at {}",
                        full.display()
                    ),
                ));
            }
            catalogue.load_file(&full)?;
        }

        // bus names, unique among both kinds
        let mut bus_names: BTreeSet<String> = BTreeSet::new();
        let mut buses = Vec::new();
        for (i, b) in f.bus.iter().enumerate() {
            let span = b.span();
            let bus = b.get_ref();
            if !bus_names.insert(bus.name.clone()) {
                return Err(self.dup(&span, "name", format!("bus[{i}].name"), "bus", &bus.name));
            }
            self.check_bus(&span, i, bus)?;
            let mut bus = bus.clone();
            bus.line = self.src.position(span.start).0;
            buses.push(bus);
        }
        let mut mbus_buses = Vec::new();
        for (i, b) in f.mbus_bus.iter().enumerate() {
            let span = b.span();
            let bus = b.get_ref();
            if !bus_names.insert(bus.name.clone()) {
                return Err(self.dup(
                    &span,
                    "name",
                    format!("mbus_bus[{i}].name"),
                    "bus",
                    &bus.name,
                ));
            }
            if split_host_port(&bus.address).is_none() {
                return Err(self.at(
                    &span,
                    "address",
                    format!("mbus_bus[{i}].address"),
                    format!("expected HOST:PORT, found {:?}", bus.address),
                ));
            }
            let mut bus = bus.clone();
            bus.line = self.src.position(span.start).0;
            mbus_buses.push(bus);
        }

        // device names, unique among devices, meters and ECLs
        let mut names: BTreeSet<String> = BTreeSet::new();
        let mut units: BTreeSet<(String, u8)> = BTreeSet::new();
        let mut devices = Vec::new();
        for (i, d) in f.device.iter().enumerate() {
            let span = d.span();
            let dev = d.get_ref();
            let at =
                |key: &str, msg: String| self.at(&span, key, format!("device[{i}].{key}"), msg);
            if !names.insert(dev.name.clone()) {
                return Err(self.dup(
                    &span,
                    "name",
                    format!("device[{i}].name"),
                    "device",
                    &dev.name,
                ));
            }
            if catalogue.get(&dev.product).is_none() {
                return Err(at(
                    "product",
                    format!(
                        "expected a product reference of the catalogue (`cargo run --example catalogue -- list`), found {:?}",
                        dev.product
                    ),
                ));
            }
            let kind = self.modbus_bus(&buses, &dev.bus, || at("bus", String::new()))?;
            self.check_unit(kind, dev.unit, &dev.bus, &mut units)
                .map_err(|m| at("unit", m))?;
            let mut dev = dev.clone();
            dev.line = self.src.position(span.start).0;
            devices.push(dev);
        }

        let mut meters = Vec::new();
        let mut primaries: BTreeSet<(String, u8)> = BTreeSet::new();
        let mut secondaries: BTreeSet<(String, String)> = BTreeSet::new();
        for (i, m) in f.meter.iter().enumerate() {
            let span = m.span();
            let meter = m.get_ref();
            let at = |key: &str, msg: String| self.at(&span, key, format!("meter[{i}].{key}"), msg);
            if !names.insert(meter.name.clone()) {
                return Err(self.dup(
                    &span,
                    "name",
                    format!("meter[{i}].name"),
                    "device",
                    &meter.name,
                ));
            }
            if !mbus_buses.iter().any(|b| b.name == meter.bus) {
                return Err(at(
                    "bus",
                    format!(
                        "expected the name of an [[mbus_bus]] ({}), found {:?}",
                        list(mbus_buses.iter().map(|b| b.name.as_str())),
                        meter.bus
                    ),
                ));
            }
            if meter.primary > 250 {
                return Err(at(
                    "primary",
                    format!(
                        "expected a primary address 0..=250, found {}",
                        meter.primary
                    ),
                ));
            }
            if !primaries.insert((meter.bus.clone(), meter.primary)) {
                return Err(at(
                    "primary",
                    format!(
                        "expected a primary address unique on M-Bus bus {:?}, found {} a second time",
                        meter.bus, meter.primary
                    ),
                ));
            }
            if meter.secondary.len() != 8 || !meter.secondary.bytes().all(|b| b.is_ascii_digit()) {
                return Err(at(
                    "secondary",
                    format!(
                        "expected an identification number of 8 decimal digits, found {:?}",
                        meter.secondary
                    ),
                ));
            }
            if !secondaries.insert((meter.bus.clone(), meter.secondary.clone())) {
                return Err(at(
                    "secondary",
                    format!(
                        "expected an identification number unique on M-Bus bus {:?}, found {} a second time",
                        meter.bus, meter.secondary
                    ),
                ));
            }
            if mbus_meters::Manufacturer::from_letters(&meter.manufacturer).is_err() {
                return Err(at(
                    "manufacturer",
                    format!(
                        "expected three letters A-Z (a FLAG code such as \"KAM\"), found {:?}",
                        meter.manufacturer
                    ),
                ));
            }
            let mut meter = meter.clone();
            meter.line = self.src.position(span.start).0;
            meters.push(meter);
        }

        let ecl_catalogue = ecl_appkeys::Catalogue::builtin().map_err(|e| {
            self.src
                .at(0..0, "(file)", format!("the built-in ECL catalogue: {e}"))
        })?;
        let mut ecls = Vec::new();
        let mut measured: BTreeMap<String, String> = BTreeMap::new();
        for (i, e) in f.ecl.iter().enumerate() {
            let span = e.span();
            let ecl = e.get_ref();
            let at = |key: &str, msg: String| self.at(&span, key, format!("ecl[{i}].{key}"), msg);
            if !names.insert(ecl.name.clone()) {
                return Err(self.dup(&span, "name", format!("ecl[{i}].name"), "device", &ecl.name));
            }
            let kind = self.modbus_bus(&buses, &ecl.bus, || at("bus", String::new()))?;
            self.check_unit(kind, ecl.unit, &ecl.bus, &mut units)
                .map_err(|m| at("unit", m))?;
            let key: ecl_appkeys::KeyId = ecl.key.parse().map_err(|err| {
                at(
                    "key",
                    format!("expected an application key with sub-type such as \"A266.1\", found {:?} ({err})", ecl.key),
                )
            })?;
            ecl_appkeys::Controller::new(&ecl_catalogue, key, Some("ecl310")).map_err(|err| {
                at(
                    "key",
                    format!("expected a key the ECL catalogue can run on an ECL Comfort 310, found {:?}: {err}", ecl.key),
                )
            })?;
            if let Some(hm) = &ecl.heat_meter {
                if !meters.iter().any(|m| &m.name == hm) {
                    return Err(at(
                        "heat_meter",
                        format!(
                            "expected the name of a [[meter]] ({}), found {hm:?}",
                            list(meters.iter().map(|m| m.name.as_str()))
                        ),
                    ));
                }
                if let Some(other) = measured.insert(hm.clone(), ecl.name.clone()) {
                    return Err(at(
                        "heat_meter",
                        format!(
                            "expected a meter no other ECL claims, found {hm:?}, already measuring {other:?}"
                        ),
                    ));
                }
            }
            let mut ecl = ecl.clone();
            ecl.line = self.src.position(span.start).0;
            ecls.push(ecl);
        }

        let simulation = f
            .simulation
            .as_ref()
            .map(|s| (s.span(), s.get_ref().clone()));
        if let Some((span, sim)) = &simulation
            && let Some(c) = &sim.control
            && split_host_port(c).is_none()
        {
            return Err(self.at(
                span,
                "control",
                "simulation.control".into(),
                format!("expected HOST:PORT, found {c:?}"),
            ));
        }

        let m = self.monitor(&f, &file)?;

        Ok(Site {
            file,
            site: f.site.into_inner(),
            buses,
            devices,
            mbus_buses,
            meters,
            ecls,
            simulation: simulation.map(|(_, s)| s).unwrap_or_default(),
            catalogue_files,
            poll: m.poll,
            store: m.store,
            alarms: m.alarms,
            notify: m.notify,
            opcua: m.opcua,
            output: m.output,
            tariff_settings: m.tariff_settings,
            reports: m.reports,
            publications: m.publications,
            building: m.building,
            tariffs: m.tariffs,
            rules: m.rules,
            time_zone,
            catalogue,
        })
    }

    /// The monitor's sections: `[poll]`, `[store]`, `[alarms]` (and its rules file),
    /// `[[notify]]`, `[opcua]`, `[output]`.
    #[allow(
        clippy::too_many_lines,
        reason = "one check per rule of the format, in order"
    )]
    fn monitor(&self, f: &SiteFile, file: &Path) -> Result<Monitor, SiteError> {
        let (poll, poll_span) = f
            .poll
            .as_ref()
            .map_or((Poll::default(), 0..0), |p| (p.get_ref().clone(), p.span()));
        if poll.live < std::time::Duration::from_secs(1) {
            return Err(self.at(
                &poll_span,
                "live",
                "poll.live".into(),
                format!(
                    "expected a live period of at least 1s, found {}",
                    humantime::format_duration(poll.live)
                ),
            ));
        }
        if poll.record < poll.live || poll.record.subsec_nanos() != 0 {
            return Err(self.at(
                &poll_span,
                "record",
                "poll.record".into(),
                format!(
                    "expected a recording interval of whole seconds, at least the live period ({}), found {}",
                    humantime::format_duration(poll.live),
                    humantime::format_duration(poll.record)
                ),
            ));
        }
        let store = f
            .store
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_default();
        let output = f
            .output
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_default();

        let mut notify = Vec::new();
        let mut notify_names = BTreeSet::new();
        for (i, n) in f.notify.iter().enumerate() {
            let span = n.span();
            let entry = n.get_ref();
            if !notify_names.insert(entry.name.clone()) {
                return Err(self.dup(
                    &span,
                    "name",
                    format!("notify[{i}].name"),
                    "notify",
                    &entry.name,
                ));
            }
            let mut entry = entry.clone();
            entry.line = self.src.position(span.start).0;
            notify.push(entry);
        }

        let (alarms, alarms_span) = f.alarms.as_ref().map_or_else(
            || (AlarmSettings::default(), 0..0),
            |a| (a.get_ref().clone(), a.span()),
        );
        if alarms.offline_alarms && alarms.offline < std::time::Duration::from_secs(1) {
            return Err(self.at(
                &alarms_span,
                "offline",
                "alarms.offline".into(),
                format!(
                    "expected an offline delay of at least 1s, found {}",
                    humantime::format_duration(alarms.offline)
                ),
            ));
        }
        let rules = match &alarms.rules {
            None => alarms::RuleSet::new(),
            Some(path) => {
                let full = base_dir(file).join(path);
                if !full.exists() {
                    return Err(self.at(
                        &alarms_span,
                        "rules",
                        "alarms.rules".into(),
                        format!(
                            "expected an alarm rules file, found no file at {}",
                            full.display()
                        ),
                    ));
                }
                alarms::RuleSet::load(&full)?
            }
        };
        if let Some(recipients) = &alarms.recipients {
            for (i, r) in recipients.iter().enumerate() {
                let known =
                    notify_names.contains(r) || rules.recipients().iter().any(|x| &x.name == r);
                if !known {
                    return Err(self.at(
                        &alarms_span,
                        "recipients",
                        format!("alarms.recipients[{i}]"),
                        format!(
                            "expected a [[notify]] name or a recipient of the rules file ({}), found {r:?}",
                            list(
                                notify_names.iter().map(String::as_str).chain(
                                    rules.recipients().iter().map(|x| x.name.as_str())
                                )
                            )
                        ),
                    ));
                }
            }
        }

        let opcua = f.opcua.as_ref().map(|o| (o.span(), o.get_ref().clone()));
        if let Some((span, o)) = &opcua {
            match o.host_port() {
                Some((host, _)) if host != "0.0.0.0" && host != "::" => {}
                _ => {
                    return Err(self.at(
                        span,
                        "listen",
                        "opcua.listen".into(),
                        format!(
                            "expected HOST:PORT with a host clients can reach (not a wildcard), found {:?}",
                            o.listen
                        ),
                    ));
                }
            }
            let mut users = BTreeSet::new();
            for (i, u) in o.user.iter().enumerate() {
                if !users.insert(u.name.clone()) {
                    return Err(self.at(
                        span,
                        "name",
                        format!("opcua.user[{i}].name"),
                        format!(
                            "expected a unique user name, found {:?} a second time",
                            u.name
                        ),
                    ));
                }
            }
        }

        let (tariff_settings, tariffs) = match &f.tariffs {
            None => (None, None),
            Some(t) => {
                let full = base_dir(file).join(&t.get_ref().file);
                if !full.exists() {
                    return Err(self.at(
                        &t.span(),
                        "file",
                        "tariffs.file".into(),
                        format!(
                            "expected a tariff file, found no file at {}",
                            full.display()
                        ),
                    ));
                }
                let tariffs = reports::tariff::Tariffs::load(&full)?;
                (Some(t.get_ref().clone()), Some(tariffs))
            }
        };

        let site_names: BTreeSet<&str> = f
            .device
            .iter()
            .map(|d| d.get_ref().name.as_str())
            .chain(f.meter.iter().map(|m| m.get_ref().name.as_str()))
            .chain(f.ecl.iter().map(|e| e.get_ref().name.as_str()))
            .collect();
        let mut reports = Vec::new();
        for (i, r) in f.report.iter().enumerate() {
            let span = r.span();
            let mut entry = r.get_ref().clone();
            if reports.iter().any(|x: &ReportEntry| x.name == entry.name) {
                return Err(self.dup(
                    &span,
                    "name",
                    format!("report[{i}].name"),
                    "report",
                    &entry.name,
                ));
            }
            if !plain_name(&entry.name) {
                return Err(self.at(
                    &span,
                    "name",
                    format!("report[{i}].name"),
                    format!(
                        "expected a plain name (letters, digits, '-', '_'; it names a folder), found {:?}",
                        entry.name
                    ),
                ));
            }
            for (j, d) in entry.devices.iter().enumerate() {
                if !site_names.contains(d.as_str()) {
                    return Err(self.at(
                        &span,
                        "devices",
                        format!("report[{i}].devices[{j}]"),
                        format!(
                            "expected a device, meter or ECL of the site ({}), found {d:?}",
                            list(site_names.iter().copied())
                        ),
                    ));
                }
            }
            entry.line = self.src.position(span.start).0;
            reports.push(entry);
        }

        let mut publications = Vec::new();
        for (i, p) in f.publication.iter().enumerate() {
            let span = p.span();
            let mut entry = p.get_ref().clone();
            if publications
                .iter()
                .any(|x: &Publication| x.name == entry.name)
            {
                return Err(self.dup(
                    &span,
                    "name",
                    format!("publication[{i}].name"),
                    "publication",
                    &entry.name,
                ));
            }
            for (j, r) in entry.reports.iter().enumerate() {
                if !reports.iter().any(|x| &x.name == r) {
                    return Err(self.at(
                        &span,
                        "reports",
                        format!("publication[{i}].reports[{j}]"),
                        format!(
                            "expected a [[report]] name ({}), found {r:?}",
                            list(reports.iter().map(|x| x.name.as_str()))
                        ),
                    ));
                }
            }
            let plain_folder = !entry.folder.as_os_str().is_empty()
                && entry
                    .folder
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !plain_folder {
                return Err(self.at(
                    &span,
                    "folder",
                    format!("publication[{i}].folder"),
                    format!(
                        "expected a relative folder inside [output] dir (no \"..\", not absolute), found {:?}",
                        entry.folder.display().to_string()
                    ),
                ));
            }
            if entry.file.is_empty()
                || entry.file.contains(['/', '\\'])
                || entry.file.starts_with('.')
            {
                return Err(self.at(
                    &span,
                    "file",
                    format!("publication[{i}].file"),
                    format!(
                        "expected a file name template such as \"%name_%date.csv\", found {:?}",
                        entry.file
                    ),
                ));
            }
            if entry.keep == 0 {
                return Err(self.at(
                    &span,
                    "keep",
                    format!("publication[{i}].keep"),
                    "expected at least 1 file kept, found 0".into(),
                ));
            }
            if entry.schedule.is_some() && entry.destination.is_none() {
                return Err(self.at(
                    &span,
                    "schedule",
                    format!("publication[{i}].schedule"),
                    "a schedule says when files are sent to the destination; found no \
                     [publication.destination]"
                        .into(),
                ));
            }
            if let Some(PublicationDestination::Scp(scp)) = &entry.destination {
                let name = scp
                    .archive
                    .expand(chrono::Utc::now(), chrono_tz::UTC, &entry.name);
                if let Err(e) = reports::publish::check_remote_name(&name) {
                    let message = match e {
                        reports::publish::PublishError::Config { message, .. } => message,
                        other => other.to_string(),
                    };
                    return Err(self.at(
                        &span,
                        "archive",
                        format!("publication[{i}].destination.archive"),
                        message,
                    ));
                }
            }
            if entry.retry.attempts == 0 {
                return Err(self.at(
                    &span,
                    "retry",
                    format!("publication[{i}].retry.attempts"),
                    "expected at least 1 attempt per run, found 0".into(),
                ));
            }
            entry.line = self.src.position(span.start).0;
            publications.push(entry);
        }

        let building = match &f.building {
            None => None,
            Some(b) => {
                let span = b.span();
                for (i, d) in b.get_ref().device.iter().enumerate() {
                    if !site_names.contains(d.name.as_str()) {
                        return Err(self.at(
                            &span,
                            "name",
                            format!("building.device[{i}].name"),
                            format!(
                                "expected a device, meter or ECL of the site ({}), found {:?}",
                                list(site_names.iter().copied()),
                                d.name
                            ),
                        ));
                    }
                }
                let model = reports::building::BuildingModel::new(b.get_ref().device.clone())
                    .map_err(|e| {
                        self.at(&span, "device", "building.device".into(), e.to_string())
                    })?;
                Some(model)
            }
        };

        Ok(Monitor {
            poll,
            store,
            alarms,
            notify,
            opcua: opcua.map(|(_, o)| o),
            output,
            tariff_settings,
            reports,
            publications,
            building,
            tariffs,
            rules,
        })
    }

    fn dup(
        &self,
        span: &Range<usize>,
        key: &str,
        field: String,
        what: &str,
        name: &str,
    ) -> SiteError {
        self.at(
            span,
            key,
            field,
            format!("expected a unique {what} name, found {name:?} a second time"),
        )
    }

    fn check_bus(&self, span: &Range<usize>, i: usize, bus: &Bus) -> Result<(), SiteError> {
        let at = |key: &str, msg: String| self.at(span, key, format!("bus[{i}].{key}"), msg);
        match bus.kind {
            BusKind::Rtu => {
                if bus.path.is_none() {
                    return Err(at(
                        "kind",
                        "an rtu bus needs `path` (the serial device); found none".into(),
                    ));
                }
            }
            _ => match &bus.address {
                Some(a) if split_host_port(a).is_some() => {}
                Some(a) => return Err(at("address", format!("expected HOST:PORT, found {a:?}"))),
                None => {
                    return Err(at(
                        "kind",
                        format!(
                            "a {} bus needs `address` (HOST:PORT); found none",
                            bus.kind.word()
                        ),
                    ));
                }
            },
        }
        if bus.certificate.is_some() != bus.key.is_some() {
            return Err(at(
                if bus.certificate.is_some() {
                    "certificate"
                } else {
                    "key"
                },
                "a certificate and its key go together; found only one of them".into(),
            ));
        }
        if bus.client_certificate.is_some() != bus.client_key.is_some() {
            return Err(at(
                if bus.client_certificate.is_some() {
                    "client_certificate"
                } else {
                    "client_key"
                },
                "a client certificate and its key go together; found only one of them".into(),
            ));
        }
        let tls_only = [
            ("certificate", bus.certificate.is_some()),
            ("ca", bus.ca.is_some()),
            ("client_ca", bus.client_ca.is_some()),
            ("client_certificate", bus.client_certificate.is_some()),
        ];
        if bus.kind != BusKind::Tls
            && let Some((key, _)) = tls_only.iter().find(|(_, set)| *set)
        {
            return Err(at(
                key,
                format!(
                    "`{key}` belongs to a tls bus; this bus is {}",
                    bus.kind.word()
                ),
            ));
        }
        if bus.kind != BusKind::Rtu
            && let Some(key) = [
                ("path", bus.path.is_some()),
                ("baud", bus.baud.is_some()),
                ("parity", bus.parity.is_some()),
            ]
            .iter()
            .find(|(_, set)| *set)
            .map(|(k, _)| *k)
        {
            return Err(at(
                key,
                format!(
                    "`{key}` belongs to an rtu bus; this bus is {}",
                    bus.kind.word()
                ),
            ));
        }
        Ok(())
    }

    /// The kind of the `[[bus]]` named `name`, or the error `missing` completed with the
    /// known names.
    fn modbus_bus(
        &self,
        buses: &[Bus],
        name: &str,
        missing: impl Fn() -> SiteError,
    ) -> Result<BusKind, SiteError> {
        match buses.iter().find(|b| b.name == name) {
            Some(b) => Ok(b.kind),
            None => {
                let mut e = missing();
                if let SiteError::InvalidFile { message, .. } = &mut e {
                    *message = format!(
                        "expected the name of a [[bus]] ({}), found {name:?}",
                        list(buses.iter().map(|b| b.name.as_str()))
                    );
                }
                Err(e)
            }
        }
    }

    fn check_unit(
        &self,
        kind: BusKind,
        unit: u8,
        bus: &str,
        units: &mut BTreeSet<(String, u8)>,
    ) -> Result<(), String> {
        let max = if kind.is_serial_line() { 247 } else { 255 };
        if unit == 0 || unit > max {
            return Err(format!(
                "expected a unit id 1..={max} on a {} bus, found {unit}",
                kind.word()
            ));
        }
        if !units.insert((bus.to_string(), unit)) {
            return Err(format!(
                "expected a unit id unique on bus {bus:?}, found {unit} a second time"
            ));
        }
        Ok(())
    }
}

/// A name usable as a folder: ASCII letters, digits, `-` and `_`.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    if v.is_empty() {
        "none is defined".to_string()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const GOOD: &str = r#"[site]
name = "T"
time_zone = "Europe/Copenhagen"

[[bus]]
name = "lan"
kind = "tcp"
address = "127.0.0.1:15020"

[[device]]
name = "main"
product = "ECR380D"
bus = "lan"
unit = 1

[[mbus_bus]]
name = "mbus"
address = "127.0.0.1:15030"

[[meter]]
name = "hm1"
bus = "mbus"
primary = 1
secondary = "12345678"
medium = "heat"

[[ecl]]
name = "ecl1"
bus = "lan"
unit = 5
key = "A266.1"
heat_meter = "hm1"
"#;

    fn err(text: &str) -> (usize, usize, String, String) {
        match Site::from_str("t.toml", text).unwrap_err() {
            SiteError::InvalidFile {
                line,
                column,
                field,
                message,
                ..
            } => (line, column, field, message),
            e => panic!("{e}"),
        }
    }

    #[test]
    fn the_demo_site_loads_and_makes_an_installation() {
        let site = Site::demo().unwrap();
        assert_eq!(site.file, Path::new(DEMO_FILE));
        assert_eq!(site.time_zone(), chrono_tz::Europe::Copenhagen);
        let kinds: BTreeSet<&str> = site.buses.iter().map(|b| b.kind.word()).collect();
        assert!(
            kinds.is_superset(&["tcp", "rtu-over-tcp", "tls"].into()),
            "{kinds:?}"
        );
        assert_eq!(site.ecls.len(), 2);
        assert!(site.ecls.iter().all(|e| e.heat_meter.is_some()));
        let inst = site.installation().unwrap();
        assert_eq!(inst.devices.len(), site.devices.len());
        // lines point at the entries
        let text_line =
            |needle: &str| DEMO_TEXT.lines().position(|l| l.contains(needle)).unwrap() + 1;
        assert_eq!(site.devices[0].line, text_line("[[device]]"));
    }

    #[test]
    fn a_good_file_loads() {
        let site = Site::from_str("t.toml", GOOD).unwrap();
        assert_eq!(
            site.names(),
            vec![("main", "device"), ("hm1", "meter"), ("ecl1", "ecl")]
        );
        assert_eq!(site.meters[0].manufacturer, "KAM");
        assert_eq!(site.simulation.outdoor, Outdoor::default());
        let e = site.clone().with_ephemeral_ports();
        assert_eq!(e.buses[0].address.as_deref(), Some("127.0.0.1:0"));
        assert_eq!(e.mbus_buses[0].address, "127.0.0.1:0");
    }

    #[test]
    fn an_unknown_key_is_named_at_its_line() {
        let text = GOOD.replace("unit = 1\n", "unit = 1\ncolour = \"red\"\n");
        let (line, _, field, message) = err(&text);
        assert_eq!(line, 15);
        assert_eq!(field, "device[0].colour");
        assert!(message.contains("unknown field `colour`"), "{message}");
    }

    #[test]
    fn an_unknown_product_names_the_product_line() {
        let (line, column, field, message) = err(&GOOD.replace("\"ECR380D\"", "\"NO-SUCH\""));
        assert_eq!(
            (line, column, field.as_str()),
            (12, 11, "device[0].product")
        );
        assert!(message.contains("found \"NO-SUCH\""), "{message}");
    }

    #[test]
    fn a_duplicate_unit_on_one_bus_is_refused() {
        let (line, _, field, message) = err(&GOOD.replace("unit = 5", "unit = 1"));
        assert_eq!((line, field.as_str()), (30, "ecl[0].unit"));
        assert!(message.contains("unique on bus \"lan\""), "{message}");
    }

    #[test]
    fn a_missing_bus_is_named_with_the_known_ones() {
        let (line, _, field, message) =
            err(&GOOD.replace("bus = \"lan\"\nunit = 1", "bus = \"wan\"\nunit = 1"));
        assert_eq!((line, field.as_str()), (13, "device[0].bus"));
        assert_eq!(
            message,
            "expected the name of a [[bus]] (lan), found \"wan\""
        );
        let (line, _, field, _) = err(&GOOD.replace("bus = \"mbus\"", "bus = \"lan\""));
        assert_eq!((line, field.as_str()), (22, "meter[0].bus"));
    }

    #[test]
    fn a_bad_time_zone_is_named() {
        let (line, column, field, _) = err(&GOOD.replace("Europe/Copenhagen", "Europe/Atlantis"));
        assert_eq!((line, column, field.as_str()), (3, 13, "site.time_zone"));
    }

    #[test]
    fn other_cross_references() {
        let (_, _, field, _) = err(&GOOD.replace("name = \"hm1\"", "name = \"main\""));
        assert_eq!(field, "meter[0].name");
        let (_, _, field, _) = err(&GOOD.replace("heat_meter = \"hm1\"", "heat_meter = \"hm9\""));
        assert_eq!(field, "ecl[0].heat_meter");
        let (_, _, field, _) = err(&GOOD.replace("A266.1", "A999.1"));
        assert_eq!(field, "ecl[0].key");
        let (_, _, field, _) = err(&GOOD.replace("12345678", "1234567X"));
        assert_eq!(field, "meter[0].secondary");
        let (_, _, field, _) = err(&GOOD.replace("127.0.0.1:15020", "localhost"));
        assert_eq!(field, "bus[0].address");
        let (_, _, field, message) = err(&GOOD.replace("kind = \"tcp\"", "kind = \"rtu\""));
        assert_eq!(field, "bus[0].kind");
        assert!(message.contains("path"), "{message}");
        let (line, _, field, _) = err(&GOOD.replace("kind = \"tcp\"", "kind = \"udp\""));
        assert_eq!((line, field.as_str()), (7, "bus[0].kind"));
    }

    #[test]
    fn catalogue_files_are_relative_to_the_site_file() {
        let product = r#"
[[product]]
references = ["SITE-TEST"]
vendor = "Test"
model = "SITE-TEST"
defaults = { function_code = 3 }

[[product.service]]
id = "v_l1_n"
name = "Voltage L1-N"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0x0000, type = "u16", scale = 0.01 }
"#;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("cat")).unwrap();
        std::fs::write(dir.path().join("cat/extra.toml"), product).unwrap();
        let text = format!(
            "{}\n[catalogue]\nfiles = [\"cat/extra.toml\"]\n",
            GOOD.replace("\"ECR380D\"", "\"SITE-TEST\"")
        );
        std::fs::write(dir.path().join("site.toml"), &text).unwrap();
        let site = Site::load(dir.path().join("site.toml")).unwrap();
        assert!(site.catalogue().get("SITE-TEST").is_some());
        assert_eq!(site.devices[0].product, "SITE-TEST");
        // the same text elsewhere does not find the file
        let e = Site::from_str("/elsewhere/site.toml", &text).unwrap_err();
        assert!(e.to_string().starts_with("/elsewhere/site.toml:"), "{e}");
    }

    #[test]
    fn missing_files_and_catalogue_files_are_errors() {
        assert!(matches!(
            Site::load("/no/such/site.toml"),
            Err(SiteError::Read { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let text = format!("{GOOD}\n[catalogue]\nfiles = [\"extra.toml\"]\n");
        std::fs::write(dir.path().join("site.toml"), &text).unwrap();
        let e = Site::load(dir.path().join("site.toml")).unwrap_err();
        assert!(e.to_string().contains("catalogue.files[0]"), "{e}");
    }

    #[test]
    fn monitor_sections_default_when_absent() {
        let site = Site::from_str("s.toml", GOOD).unwrap();
        assert_eq!(site.poll.live, std::time::Duration::from_secs(10));
        assert_eq!(site.poll.record, std::time::Duration::from_secs(900));
        assert_eq!(site.store_path(), PathBuf::from("data/emkit.sqlite"));
        assert!(site.alarms.templates && site.alarms.offline_alarms);
        assert!(site.notify.is_empty() && site.opcua.is_none());
        assert!(site.rules().rules().is_empty());
    }

    #[test]
    fn the_demo_site_has_monitor_sections() {
        let site = Site::demo().unwrap();
        assert_eq!(site.alarms.offline, std::time::Duration::from_secs(30));
        assert_eq!(site.notify.len(), 2);
        let c = site.opcua_config().unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 4840));
        assert_eq!(c.users.len(), 1);
        assert_eq!(c.users[0].role, opcua_bridge::server::Role::Operator);
        let events = site.notify.iter().position(|n| n.name == "events").unwrap();
        assert_eq!(
            site.notify[events].line,
            DEMO_TEXT
                .lines()
                .position(|l| l.contains("name = \"events\""))
                .unwrap()
        );
        let outbox = site.notify_config(events).unwrap().build().unwrap();
        assert_eq!(outbox.transport().name(), "json-lines");
    }

    #[test]
    fn monitor_sections_are_checked_with_their_lines() {
        let b = GOOD.lines().count();
        let e = err(&format!(
            "{GOOD}\n[poll]\nlive = \"10s\"\nrecord = \"5s\"\n"
        ));
        assert_eq!((e.0, e.2.as_str()), (b + 4, "poll.record"), "{e:?}");
        let e = err(&format!("{GOOD}\n[poll]\nlive = \"soon\"\n"));
        assert_eq!((e.0, e.2.as_str()), (b + 3, "poll.live"), "{e:?}");
        assert!(e.3.contains("\"soon\""), "{e:?}");
        let e = err(&format!("{GOOD}\n[poll]\nlive = \"200ms\"\n"));
        assert!(e.3.contains("at least 1s"), "{e:?}");
        let e = err(&format!("{GOOD}\n[store]\nfile = \"x\"\n"));
        assert_eq!((e.0, e.2.as_str()), (b + 3, "store.file"), "{e:?}");
        let e = err(&format!(
            "{GOOD}\n[[notify]]\nname = \"a\"\ntype = \"console\"\n\n[[notify]]\nname = \"a\"\ntype = \"console\"\n"
        ));
        assert_eq!((e.0, e.2.as_str()), (b + 7, "notify[1].name"), "{e:?}");
        let e = err(&format!(
            "{GOOD}\n[[notify]]\nname = \"a\"\ntype = \"pager\"\n"
        ));
        assert!(e.3.contains("pager"), "{e:?}");
        let e = err(&format!(
            "{GOOD}\n[[notify]]\nname = \"a\"\ntype = \"json-lines\"\npath = \"n.jsonl\"\ncolour = 1\n"
        ));
        assert!(e.3.contains("colour"), "{e:?}");
        let e = err(&format!(
            "{GOOD}\n[[notify]]\nname = \"a\"\ntype = \"console\"\n\n[alarms]\nrecipients = [\"a\", \"b\"]\n"
        ));
        assert_eq!(
            (e.0, e.2.as_str()),
            (b + 7, "alarms.recipients[1]"),
            "{e:?}"
        );
        let e = err(&format!(
            "{GOOD}\n[alarms]\noffline_priority = \"urgent\"\n"
        ));
        assert_eq!(e.2, "alarms.offline_priority", "{e:?}");
        let e = err(&format!("{GOOD}\n[opcua]\nlisten = \"0.0.0.0:4840\"\n"));
        assert_eq!((e.0, e.2.as_str()), (b + 3, "opcua.listen"), "{e:?}");
        let e = err(&format!(
            "{GOOD}\n[opcua]\n[[opcua.user]]\nname = \"u\"\npassword = \"p\"\nrole = \"admin\"\n"
        ));
        assert_eq!(e.2, "opcua.user[0].role", "{e:?}");
    }

    #[test]
    fn the_rules_file_is_loaded_relative_to_the_site_file() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site.toml");
        std::fs::write(
            &site,
            format!("{GOOD}\n[alarms]\nrules = \"rules/alarms.toml\"\nrecipients = [\"ops\"]\n"),
        )
        .unwrap();
        let e = Site::load(&site).unwrap_err();
        let line = format!(":{}:", GOOD.lines().count() + 3);
        assert!(
            e.to_string().contains(&line) && e.to_string().contains("alarms.rules"),
            "{e}"
        );
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        std::fs::write(
            dir.path().join("rules/alarms.toml"),
            "[[recipient]]\nname = \"ops\"\n\n[[rule]]\nid = \"v-high\"\npoints = [\"main/u_l1\"]\nkind = \"high\"\nthreshold = 250.0\npriority = \"major\"\n",
        )
        .unwrap();
        let loaded = Site::load(&site).unwrap();
        assert_eq!(loaded.rules().rules().len(), 1);
        std::fs::write(dir.path().join("rules/alarms.toml"), "[[rule]]\nid = 3\n").unwrap();
        let e = Site::load(&site).unwrap_err();
        assert!(matches!(e, SiteError::Alarms(_)), "{e}");
        assert!(e.to_string().contains("alarms.toml:2"), "{e}");
    }

    #[test]
    fn notify_paths_are_relative_to_the_site_file() {
        let text = format!(
            "{GOOD}\n[[notify]]\nname = \"e\"\ntype = \"json-lines\"\npath = \"out/n.jsonl\"\n"
        );
        let site = Site::from_str("/srv/site/site.toml", &text).unwrap();
        match site.notify_config(0).unwrap().transport {
            alarms::transport::TransportConfig::JsonLines(j) => {
                assert_eq!(j.path, PathBuf::from("/srv/site/out/n.jsonl"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn report_publication_tariff_and_building_sections_load() {
        let dir = tempfile::tempdir().unwrap();
        let day = format!("[{}]", vec!["\"flat\""; 24].join(","));
        let tariffs = format!(
            "currency = \"EUR\"\ntimezone = \"Europe/Copenhagen\"\n[[source]]\nname = \"electricity\"\nunit = \"kWh\"\ntariffs = [ {{ name = \"flat\", price = 0.25 }} ]\nweekday = {day}\nsaturday = {day}\nsunday = {day}\n"
        );
        std::fs::write(dir.path().join("tariffs.toml"), tariffs).unwrap();
        let text = format!(
            "{GOOD}\n[tariffs]\nfile = \"tariffs.toml\"\n\n[[report]]\nname = \"daily\"\nkind = \"energy-consumption\"\nperiod = \"day\"\n\n[[report]]\nname = \"weekly\"\nkind = \"standard\"\nperiod = \"week\"\nat = \"06:30\"\ndevices = [\"main\", \"hm1\"]\nchart = false\n\n[[publication]]\nname = \"pub\"\nreports = [\"daily\", \"weekly\"]\nfolder = \"out/a\"\n\n[building]\n[[building.device]]\nname = \"main\"\nzones = [\"ground\"]\nusage = \"lighting\"\n"
        );
        let path = dir.path().join("site.toml");
        std::fs::write(&path, text).unwrap();
        let site = Site::load(&path).unwrap();
        assert_eq!(site.tariffs().unwrap().sources.len(), 1);
        let b = GOOD.lines().count();
        assert_eq!(site.reports.len(), 2);
        let (d, w) = (&site.reports[0], &site.reports[1]);
        assert_eq!(d.line, b + 5);
        assert_eq!(
            (d.kind, d.period, d.at, d.chart),
            (
                reports::report::ReportKind::EnergyConsumption,
                ReportPeriod::Day,
                chrono::NaiveTime::from_hms_opt(0, 15, 0).unwrap(),
                true
            )
        );
        assert_eq!(
            (w.kind, w.period, w.at, w.chart, w.devices.len()),
            (
                reports::report::ReportKind::Standard,
                ReportPeriod::Week,
                chrono::NaiveTime::from_hms_opt(6, 30, 0).unwrap(),
                false,
                2
            )
        );
        let p = &site.publications[0];
        assert_eq!((p.keep, p.file.as_str()), (7, "%name_%date.csv"));
        assert_eq!(p.folder, PathBuf::from("out/a"));
        let building = site.building.as_ref().unwrap();
        assert_eq!(building.devices()[0].usage.as_deref(), Some("lighting"));
        // the demo site has one daily report and its publication
        let demo = Site::demo().unwrap();
        assert_eq!(demo.reports[0].name, "daily-energy");
        assert_eq!(
            demo.publications[0].reports,
            vec!["daily-energy".to_string()]
        );
    }

    #[test]
    fn publication_destinations_schedules_and_their_errors() {
        let b = GOOD.lines().count();
        let head = "\n[[report]]\nname = \"daily\"\nkind = \"standard\"\nperiod = \"day\"\n\n[[publication]]\nname = \"p\"\nreports = [\"daily\"]\nfolder = \"x\"\n";
        // b+1 [[report]] .. b+5 period, b+7 [[publication]], b+8 name, b+9 reports, b+10 folder
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("site.toml");
        let text = format!(
            "{GOOD}{head}schedule = {{ kind = \"weekly\", weekday = \"mon\", at = \"06:30\" }}\n\
             retry = {{ attempts = 2, first_delay_ms = 100 }}\n\
             [publication.destination]\ntype = \"scp\"\narchive = \"%name_%date.zip\"\n\
             ssh = {{ host = \"h\", user = \"u\", auth = {{ password = \"pw\" }}, known_hosts = \"kh\" }}\n"
        );
        let site = Site::from_str(&file, &text).unwrap();
        let p = &site.publications[0];
        assert_eq!(p.retry.attempts, 2);
        assert!(matches!(
            p.schedule,
            Some(reports::publish::schedule::Schedule::Weekly { .. })
        ));
        match &p.destination {
            Some(PublicationDestination::Scp(s)) => {
                assert_eq!(s.ssh.port, 22);
                assert_eq!(s.archive.as_str(), "%name_%date.zip");
            }
            other => panic!("{other:?}"),
        }
        let ftp = format!(
            "{GOOD}{head}[publication.destination]\ntype = \"ftp\"\nhost = \"h\"\nuser = \"u\"\npassword = \"p\"\n"
        );
        let site = Site::from_str("s.toml", &ftp).unwrap();
        match &site.publications[0].destination {
            Some(PublicationDestination::Ftp(c)) => {
                assert_eq!(c.tls, reports::publish::FtpTls::Explicit);
            }
            other => panic!("{other:?}"),
        }

        // a schedule without a destination
        let e = err(&format!(
            "{GOOD}{head}schedule = {{ kind = \"daily\", at = \"06:30\" }}\n"
        ));
        assert_eq!(
            (e.0, e.2.as_str()),
            (b + 11, "publication[0].schedule"),
            "{e:?}"
        );
        // a bad schedule: the reports crate's message
        let e = err(&format!(
            "{GOOD}{head}schedule = {{ kind = \"daily\", at = \"25:00\" }}\n"
        ));
        assert_eq!(
            (e.0, e.2.as_str()),
            (b + 11, "publication[0].schedule"),
            "{e:?}"
        );
        assert!(e.3.contains("25:00"), "{e:?}");
        // unknown destination type, unknown key inside the embedded configuration
        let e = err(&format!(
            "{GOOD}{head}[publication.destination]\ntype = \"mail\"\n"
        ));
        assert_eq!(
            (e.0, e.2.as_str()),
            (b + 12, "publication[0].destination.type"),
            "{e:?}"
        );
        assert!(e.3.contains("mail") && e.3.contains("sftp"), "{e:?}");
        let e = err(&format!(
            "{GOOD}{head}[publication.destination]\ntype = \"sftp\"\nhost = \"h\"\nuser = \"u\"\nauth = {{ password = \"p\" }}\nknown_hosts = \"k\"\nhots = 1\n"
        ));
        // inside the embedded configuration: the destination's header line, the key named
        assert_eq!(
            (e.0, e.2.as_str()),
            (b + 11, "publication[0].destination"),
            "{e:?}"
        );
        assert!(e.3.contains("unknown field `hots`"), "{e:?}");
        let e = err(&format!(
            "{GOOD}{head}[publication.destination]\ntype = \"folder\"\npath = \"\"\n"
        ));
        assert_eq!(
            (e.0, e.2.as_str()),
            (b + 11, "publication[0].destination"),
            "{e:?}"
        );
        assert!(e.3.contains("expected a folder"), "{e:?}");
        let e = err(&format!(
            "{GOOD}{head}[publication.destination]\ntype = \"scp\"\narchive = \"../%name.zip\"\n\
             ssh = {{ host = \"h\", user = \"u\", auth = {{ password = \"pw\" }}, known_hosts = \"kh\" }}\n"
        ));
        assert_eq!(e.2, "publication[0].destination.archive", "{e:?}");
        assert!(e.3.contains("../p.zip"), "{e:?}");
        let e = err(&format!("{GOOD}{head}retry = {{ attempts = 0 }}\n"));
        assert_eq!(
            (e.0, e.2.as_str()),
            (b + 11, "publication[0].retry.attempts"),
            "{e:?}"
        );
        let e = err(&format!("{GOOD}{head}sechdule = 1\n"));
        assert_eq!(
            (e.0, e.2.as_str()),
            (b + 11, "publication[0].sechdule"),
            "{e:?}"
        );
    }

    #[test]
    fn report_sections_are_checked_with_their_lines() {
        let b = GOOD.lines().count();
        let report = "\n[[report]]\nname = \"daily\"\nkind = \"standard\"\nperiod = \"day\"\n";
        let e = err(&format!(
            "{GOOD}\n[[report]]\nname = \"daily\"\nkind = \"cost\"\nperiod = \"day\"\n"
        ));
        assert_eq!((e.0, e.2.as_str()), (b + 4, "report[0].kind"), "{e:?}");
        assert!(e.3.contains("\"cost\""), "{e:?}");
        let e = err(&format!(
            "{GOOD}\n[[report]]\nname = \"daily\"\nkind = \"standard\"\nperiod = \"fortnight\"\n"
        ));
        assert_eq!((e.0, e.2.as_str()), (b + 5, "report[0].period"), "{e:?}");
        let e = err(&format!("{GOOD}{report}at = \"25:00\"\n"));
        assert_eq!((e.0, e.2.as_str()), (b + 6, "report[0].at"), "{e:?}");
        assert!(e.3.contains("HH:MM"), "{e:?}");
        let e = err(&format!("{GOOD}{report}colour = 1\n"));
        assert_eq!((e.0, e.2.as_str()), (b + 6, "report[0].colour"), "{e:?}");
        let e = err(&format!("{GOOD}{report}devices = [\"main\", \"nope\"]\n"));
        assert_eq!(
            (e.0, e.2.as_str()),
            (b + 6, "report[0].devices[1]"),
            "{e:?}"
        );
        let e = err(&format!("{GOOD}{report}{report}"));
        assert_eq!((e.0, e.2.as_str()), (b + 8, "report[1].name"), "{e:?}");
        let e = err(&format!(
            "{GOOD}\n[[report]]\nname = \"a/b\"\nkind = \"standard\"\nperiod = \"day\"\n"
        ));
        assert_eq!((e.0, e.2.as_str()), (b + 3, "report[0].name"), "{e:?}");
        let publication = "\n[[publication]]\nname = \"p\"\n";
        let e = err(&format!(
            "{GOOD}{report}{publication}reports = [\"weekly\"]\nfolder = \"x\"\n"
        ));
        assert_eq!(
            (e.0, e.2.as_str()),
            (b + 9, "publication[0].reports[0]"),
            "{e:?}"
        );
        let e = err(&format!(
            "{GOOD}{report}{publication}reports = [\"daily\"]\nfolder = \"../x\"\n"
        ));
        assert_eq!(
            (e.0, e.2.as_str()),
            (b + 10, "publication[0].folder"),
            "{e:?}"
        );
        let e = err(&format!(
            "{GOOD}{report}{publication}reports = [\"daily\"]\nfolder = \"x\"\nkeep = 0\n"
        ));
        assert_eq!(
            (e.0, e.2.as_str()),
            (b + 11, "publication[0].keep"),
            "{e:?}"
        );
        let e = err(&format!(
            "{GOOD}{report}{publication}reports = [\"daily\"]\nfolder = \"x\"\nfile = \"a/b.csv\"\n"
        ));
        assert_eq!(
            (e.0, e.2.as_str()),
            (b + 11, "publication[0].file"),
            "{e:?}"
        );
        let e = err(&format!("{GOOD}\n[tariffs]\nfile = \"missing.toml\"\n"));
        assert_eq!((e.0, e.2.as_str()), (b + 3, "tariffs.file"), "{e:?}");
        let e = err(&format!(
            "{GOOD}\n[building]\n[[building.device]]\nname = \"ghost\"\n"
        ));
        assert_eq!(e.2, "building.device[0].name", "{e:?}");
        let e = err(&format!(
            "{GOOD}\n[building]\n[[building.device]]\nname = \"main\"\nfloor = 2\n"
        ));
        assert!(e.3.contains("floor"), "{e:?}");
    }
}
