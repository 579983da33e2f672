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
            time_zone,
            catalogue,
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
}
