//! Device instances, buses and their settings: the installation a poller reads.
//!
//! Defaults follow the Hager energy server (its serial-line settings): RTU at 19 200 Bd,
//! 8 data bits, even parity, 1 stop bit (2 stop bits when parity is none), 0.25 s response
//! timeout and a configurable number of retries *after* the first try; Modbus/TCP with a
//! timeout of 0.25 to 10 s. RTU addresses run 1..=247 and are unique per bus; TCP devices
//! have a unit id 0..=255; Legrand EMS CX3 modules use remote addressing written
//! `"device-interface"` (e.g. `"2-1"`); pulse inputs are a concentrator address plus an
//! input position (written `"3:2"`).
//!
//! ```
//! use modbus_devices::device::{Installation, Bus, BusKind, RtuSettings, DeviceInstance, DeviceAddress};
//!
//! let mut site = Installation::default();
//! site.add_bus(Bus { name: "rs485-1".into(), kind: BusKind::Rtu(RtuSettings::new("/dev/ttyUSB0")) }).unwrap();
//! let first = site.first_free_address("rs485-1").unwrap();
//! assert_eq!(first, 1);
//! site.add_device(DeviceInstance::new("main", "ECR380D", "rs485-1", DeviceAddress::Unit(first))).unwrap();
//! // Three identical meters at the next consecutive free addresses:
//! let names = site.add_many(&DeviceInstance::new("floor", "ECR180D", "rs485-1", DeviceAddress::Unit(0)), 3).unwrap();
//! assert_eq!(names, ["floor-2", "floor-3", "floor-4"]);
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::DeviceError;

/// Highest RTU slave address.
pub const MAX_RTU_ADDRESS: u8 = 247;

/// Serial parity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parity {
    /// No parity (then 2 stop bits by default).
    None,
    /// Even parity (the default).
    #[default]
    Even,
    /// Odd parity.
    Odd,
}

/// Settings of an RTU line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtuSettings {
    /// Serial device path.
    pub path: PathBuf,
    /// Baud rate (default 19 200).
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// Data bits (default 8).
    #[serde(default = "default_data_bits")]
    pub data_bits: u8,
    /// Parity (default even).
    #[serde(default)]
    pub parity: Parity,
    /// Stop bits; when absent: 1 with parity, 2 without.
    #[serde(default)]
    pub stop_bits: Option<u8>,
    /// Response timeout in milliseconds (default 250).
    #[serde(default = "default_rtu_timeout")]
    pub response_timeout_ms: u64,
    /// Retries after the first try (default 2).
    #[serde(default = "default_retries")]
    pub retries: u8,
}

fn default_baud() -> u32 {
    19_200
}
fn default_data_bits() -> u8 {
    8
}
fn default_rtu_timeout() -> u64 {
    250
}
fn default_retries() -> u8 {
    2
}
fn default_tcp_timeout() -> u64 {
    1_000
}

impl RtuSettings {
    /// Settings with the defaults for a serial port.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            baud: default_baud(),
            data_bits: default_data_bits(),
            parity: Parity::Even,
            stop_bits: None,
            response_timeout_ms: default_rtu_timeout(),
            retries: default_retries(),
        }
    }

    /// The stop bits in effect: the configured ones, or 1 with parity and 2 without.
    pub fn effective_stop_bits(&self) -> u8 {
        self.stop_bits
            .unwrap_or(if self.parity == Parity::None { 2 } else { 1 })
    }

    /// The response timeout.
    pub fn response_timeout(&self) -> Duration {
        Duration::from_millis(self.response_timeout_ms)
    }

    /// Check the settings.
    pub fn validate(&self) -> Result<(), DeviceError> {
        const BAUDS: [u32; 8] = [1200, 2400, 4800, 9600, 19_200, 38_400, 57_600, 115_200];
        if !BAUDS.contains(&self.baud) {
            return Err(invalid(
                "baud",
                format!("must be one of {BAUDS:?}, found {}", self.baud),
            ));
        }
        if !(7..=8).contains(&self.data_bits) {
            return Err(invalid(
                "data_bits",
                format!("must be 7 or 8, found {}", self.data_bits),
            ));
        }
        if let Some(s) = self.stop_bits
            && !(1..=2).contains(&s)
        {
            return Err(invalid("stop_bits", format!("must be 1 or 2, found {s}")));
        }
        if !(10..=10_000).contains(&self.response_timeout_ms) {
            return Err(invalid(
                "response_timeout_ms",
                format!("must be 10..=10000, found {}", self.response_timeout_ms),
            ));
        }
        if self.retries > 10 {
            return Err(invalid(
                "retries",
                format!("must be 0..=10, found {}", self.retries),
            ));
        }
        Ok(())
    }
}

/// Settings of a Modbus/TCP connection (plain, RTU framing over TCP, or TLS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpSettings {
    /// Host name or IP address.
    pub host: String,
    /// Port 1..=65535 (502 for Modbus/TCP, 802 for Modbus/TCP Security).
    pub port: u16,
    /// Response timeout in milliseconds, 250..=10000 (default 1000).
    #[serde(default = "default_tcp_timeout")]
    pub timeout_ms: u64,
    /// Retries after the first try (default 2).
    #[serde(default = "default_retries")]
    pub retries: u8,
}

impl TcpSettings {
    /// Settings with the default timeout and retries.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            timeout_ms: default_tcp_timeout(),
            retries: default_retries(),
        }
    }

    /// The response timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Check the settings.
    pub fn validate(&self) -> Result<(), DeviceError> {
        if self.host.trim().is_empty() {
            return Err(invalid("host", "must not be empty".into()));
        }
        if self.port == 0 {
            return Err(invalid("port", "must be 1..=65535, found 0".into()));
        }
        if !(250..=10_000).contains(&self.timeout_ms) {
            return Err(invalid(
                "timeout_ms",
                format!(
                    "must be 250..=10000 (0.25 to 10 s), found {}",
                    self.timeout_ms
                ),
            ));
        }
        if self.retries > 10 {
            return Err(invalid(
                "retries",
                format!("must be 0..=10, found {}", self.retries),
            ));
        }
        Ok(())
    }
}

/// TLS settings of a Modbus/TCP Security connection (PEM files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// The TCP part (port 802 by default for Modbus/TCP Security).
    pub tcp: TcpSettings,
    /// CA certificate(s) that sign the server's certificate.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// Client certificate chain presented to the server.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// Private key of the client certificate.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// Server name to check the certificate against (default: `tcp.host`).
    #[serde(default)]
    pub server_name: Option<String>,
    /// Refuse certificates outside their validity dates (default true).
    #[serde(default = "yes")]
    pub check_dates: bool,
    /// Accept a self-signed server certificate that no CA signs (default false).
    #[serde(default)]
    pub accept_self_signed: bool,
}

fn yes() -> bool {
    true
}

/// What a bus is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BusKind {
    /// Modbus RTU on a serial line.
    Rtu(RtuSettings),
    /// Modbus/TCP.
    Tcp(TcpSettings),
    /// RTU framing over TCP (serial gateways).
    RtuOverTcp(TcpSettings),
    /// Modbus/TCP Security (TLS).
    Tls(TlsSettings),
}

impl BusKind {
    /// Whether devices on the bus use RTU slave addresses 1..=247 (serial lines and gateways).
    pub fn is_serial_line(&self) -> bool {
        matches!(self, BusKind::Rtu(_) | BusKind::RtuOverTcp(_))
    }

    /// Check the settings.
    pub fn validate(&self) -> Result<(), DeviceError> {
        match self {
            BusKind::Rtu(s) => s.validate(),
            BusKind::Tcp(t) | BusKind::RtuOverTcp(t) => t.validate(),
            BusKind::Tls(t) => {
                t.tcp.validate()?;
                if t.client_cert.is_some() != t.client_key.is_some() {
                    return Err(invalid(
                        "client_key",
                        "a client certificate and its key go together".into(),
                    ));
                }
                Ok(())
            }
        }
    }
}

/// A named bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bus {
    /// Unique name.
    pub name: String,
    /// Kind and settings.
    #[serde(flatten)]
    pub kind: BusKind,
}

/// How a device is addressed on its bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceAddress {
    /// RTU slave address (1..=247) or TCP unit id (0..=255). Written `"5"`.
    Unit(u8),
    /// Legrand EMS CX3 remote addressing: interface address and module. Written `"2-1"`.
    Remote {
        /// Modbus address of the interface.
        device: u8,
        /// Module behind the interface.
        interface: u8,
    },
    /// A pulse input of a concentrator. Written `"3:2"` (concentrator 3, input 2).
    Pulse {
        /// Modbus address of the concentrator.
        concentrator: u8,
        /// Input position, from 1.
        input: u8,
    },
}

impl DeviceAddress {
    /// The Modbus unit id that goes on the wire.
    pub fn unit_id(&self) -> u8 {
        match *self {
            DeviceAddress::Unit(u) => u,
            DeviceAddress::Remote { device, .. } => device,
            DeviceAddress::Pulse { concentrator, .. } => concentrator,
        }
    }
}

impl fmt::Display for DeviceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceAddress::Unit(u) => write!(f, "{u}"),
            DeviceAddress::Remote { device, interface } => write!(f, "{device}-{interface}"),
            DeviceAddress::Pulse {
                concentrator,
                input,
            } => write!(f, "{concentrator}:{input}"),
        }
    }
}

impl FromStr for DeviceAddress {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, DeviceError> {
        let num = |t: &str| {
            t.trim().parse::<u8>().map_err(|_| {
                invalid(
                    "address",
                    format!("expected a number 0..=255 in {s:?}, found {t:?}"),
                )
            })
        };
        if let Some((a, b)) = s.split_once('-') {
            Ok(DeviceAddress::Remote {
                device: num(a)?,
                interface: num(b)?,
            })
        } else if let Some((a, b)) = s.split_once(':') {
            let input = num(b)?;
            if input == 0 {
                return Err(invalid(
                    "address",
                    format!("pulse input positions start at 1, found {s:?}"),
                ));
            }
            Ok(DeviceAddress::Pulse {
                concentrator: num(a)?,
                input,
            })
        } else {
            Ok(DeviceAddress::Unit(num(s)?))
        }
    }
}

impl TryFrom<String> for DeviceAddress {
    type Error = DeviceError;
    fn try_from(s: String) -> Result<Self, DeviceError> {
        s.parse()
    }
}

impl From<DeviceAddress> for String {
    fn from(a: DeviceAddress) -> String {
        a.to_string()
    }
}

/// A configured device: a product at an address on a bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceInstance {
    /// Unique name within the installation; points are `name/service`.
    pub name: String,
    /// Product reference in the catalogue.
    pub product: String,
    /// Bus name.
    pub bus: String,
    /// Address on the bus.
    pub address: DeviceAddress,
    /// Disabled devices are kept but not polled.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Services to read; all of the product's when absent.
    #[serde(default)]
    pub services: Option<Vec<String>>,
}

impl DeviceInstance {
    /// An enabled device reading all services.
    pub fn new(
        name: impl Into<String>,
        product: impl Into<String>,
        bus: impl Into<String>,
        address: DeviceAddress,
    ) -> Self {
        Self {
            name: name.into(),
            product: product.into(),
            bus: bus.into(),
            address,
            enabled: true,
            services: None,
        }
    }
}

/// Buses and devices, with the addressing rules enforced on every change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Installation {
    /// Buses.
    #[serde(default, rename = "bus")]
    pub buses: Vec<Bus>,
    /// Devices.
    #[serde(default, rename = "device")]
    pub devices: Vec<DeviceInstance>,
}

impl Installation {
    /// Add a bus after checking its settings and name.
    pub fn add_bus(&mut self, bus: Bus) -> Result<(), DeviceError> {
        bus.kind.validate()?;
        if self.buses.iter().any(|b| b.name == bus.name) {
            return Err(invalid(
                "bus",
                format!("a bus named {:?} already exists", bus.name),
            ));
        }
        if let BusKind::Tcp(t) | BusKind::RtuOverTcp(t) | BusKind::Tls(TlsSettings { tcp: t, .. }) =
            &bus.kind
        {
            // TCP connections are keyed by host and port.
            if let Some(other) = self
                .buses
                .iter()
                .find(|b| b.kind.endpoint() == Some((t.host.as_str(), t.port)))
            {
                return Err(invalid(
                    "bus",
                    format!("{}:{} is already bus {:?}", t.host, t.port, other.name),
                ));
            }
        }
        self.buses.push(bus);
        Ok(())
    }

    /// A bus by name.
    pub fn bus(&self, name: &str) -> Result<&Bus, DeviceError> {
        self.buses
            .iter()
            .find(|b| b.name == name)
            .ok_or_else(|| DeviceError::UnknownBus(name.to_string()))
    }

    /// Check a device against the addressing rules without adding it.
    pub fn check_device(&self, d: &DeviceInstance) -> Result<(), DeviceError> {
        if d.name.trim().is_empty() || d.name.contains('/') {
            return Err(invalid(
                "name",
                format!("must be non-empty and without '/', found {:?}", d.name),
            ));
        }
        if self.devices.iter().any(|x| x.name == d.name) {
            return Err(DeviceError::DuplicateName(d.name.clone()));
        }
        let bus = self.bus(&d.bus)?;
        let unit = d.address.unit_id();
        if bus.kind.is_serial_line() && !(1..=MAX_RTU_ADDRESS).contains(&unit) {
            return Err(invalid(
                "address",
                format!("RTU addresses are 1..=247, found {unit}"),
            ));
        }
        if let Some(other) = self
            .devices
            .iter()
            .find(|x| x.bus == d.bus && conflicts(&x.address, &d.address))
        {
            return Err(DeviceError::AddressInUse {
                bus: d.bus.clone(),
                address: d.address.to_string(),
                device: other.name.clone(),
            });
        }
        Ok(())
    }

    /// Add a device after checking name, bus and address; optionally check the product
    /// exists with `catalogue`.
    pub fn add_device(&mut self, d: DeviceInstance) -> Result<(), DeviceError> {
        self.check_device(&d)?;
        self.devices.push(d);
        Ok(())
    }

    /// The lowest unit address (1..=247) not used on the bus: what a user is proposed.
    pub fn first_free_address(&self, bus: &str) -> Result<u8, DeviceError> {
        self.bus(bus)?;
        let used = self.used_units(bus);
        (1..=MAX_RTU_ADDRESS)
            .find(|a| !used.contains(a))
            .ok_or_else(|| DeviceError::NoAddressAvailable {
                bus: bus.to_string(),
                wanted: 1,
                message: "all addresses 1..=247 are used".into(),
            })
    }

    /// Create `n` identical devices at the first run of `n` consecutive free addresses on
    /// the template's bus, named `{template.name}-{address}`. All or nothing.
    pub fn add_many(
        &mut self,
        template: &DeviceInstance,
        n: usize,
    ) -> Result<Vec<String>, DeviceError> {
        self.bus(&template.bus)?;
        if n == 0 || n > usize::from(MAX_RTU_ADDRESS) {
            return Err(invalid("count", format!("must be 1..=247, found {n}")));
        }
        let used = self.used_units(&template.bus);
        let start = (1..=MAX_RTU_ADDRESS as usize + 1 - n)
            .find(|&s| (s..s + n).all(|a| !used.contains(&(a as u8))))
            .ok_or_else(|| DeviceError::NoAddressAvailable {
                bus: template.bus.clone(),
                wanted: n,
                message: format!(
                    "no run of {n} consecutive free addresses in 1..=247 ({} used)",
                    used.len()
                ),
            })?;
        let new: Vec<DeviceInstance> = (start..start + n)
            .map(|a| DeviceInstance {
                name: format!("{}-{a}", template.name),
                address: DeviceAddress::Unit(a as u8),
                ..template.clone()
            })
            .collect();
        let mut trial = self.clone();
        for d in &new {
            trial.add_device(d.clone())?;
        }
        *self = trial;
        Ok(new.into_iter().map(|d| d.name).collect())
    }

    /// Remove a device by name.
    pub fn remove_device(&mut self, name: &str) -> Option<DeviceInstance> {
        let i = self.devices.iter().position(|d| d.name == name)?;
        Some(self.devices.remove(i))
    }

    /// `(device name, product reference)` of every device, for
    /// [`crate::Catalogue::remove`].
    pub fn product_uses(&self) -> impl Iterator<Item = (&str, &str)> {
        self.devices
            .iter()
            .map(|d| (d.name.as_str(), d.product.as_str()))
    }

    fn used_units(&self, bus: &str) -> BTreeSet<u8> {
        self.devices
            .iter()
            .filter(|d| d.bus == bus)
            .map(|d| d.address.unit_id())
            .collect()
    }
}

impl BusKind {
    fn endpoint(&self) -> Option<(&str, u16)> {
        match self {
            BusKind::Tcp(t) | BusKind::RtuOverTcp(t) | BusKind::Tls(TlsSettings { tcp: t, .. }) => {
                Some((t.host.as_str(), t.port))
            }
            BusKind::Rtu(_) => None,
        }
    }
}

/// Two addresses on one bus conflict when they would answer the same requests: the same
/// unit, except that distinct pulse inputs of one concentrator and distinct modules of one
/// remote interface coexist.
fn conflicts(a: &DeviceAddress, b: &DeviceAddress) -> bool {
    use DeviceAddress::*;
    match (a, b) {
        (Pulse { .. }, Pulse { .. }) | (Remote { .. }, Remote { .. }) => a == b,
        (Pulse { .. }, _) | (_, Pulse { .. }) => false,
        _ => a.unit_id() == b.unit_id(),
    }
}

fn invalid(field: &'static str, message: String) -> DeviceError {
    DeviceError::Invalid { field, message }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn site() -> Installation {
        let mut s = Installation::default();
        s.add_bus(Bus {
            name: "rtu".into(),
            kind: BusKind::Rtu(RtuSettings::new("/dev/null")),
        })
        .unwrap();
        s.add_bus(Bus {
            name: "tcp".into(),
            kind: BusKind::Tcp(TcpSettings::new("10.0.0.5", 502)),
        })
        .unwrap();
        s
    }

    #[test]
    fn defaults_follow_hager() {
        let r = RtuSettings::new("/dev/ttyS0");
        assert_eq!(
            (r.baud, r.data_bits, r.parity, r.effective_stop_bits()),
            (19_200, 8, Parity::Even, 1)
        );
        assert_eq!(r.response_timeout(), Duration::from_millis(250));
        let none = RtuSettings {
            parity: Parity::None,
            ..r
        };
        assert_eq!(none.effective_stop_bits(), 2);
    }

    #[test]
    fn rtu_addresses_are_checked_and_unique() {
        let mut s = site();
        assert!(matches!(
            s.add_device(DeviceInstance::new("a", "X", "rtu", DeviceAddress::Unit(0))),
            Err(DeviceError::Invalid {
                field: "address",
                ..
            })
        ));
        assert!(matches!(
            s.add_device(DeviceInstance::new(
                "a",
                "X",
                "rtu",
                DeviceAddress::Unit(248)
            )),
            Err(DeviceError::Invalid { .. })
        ));
        s.add_device(DeviceInstance::new("a", "X", "rtu", DeviceAddress::Unit(1)))
            .unwrap();
        assert!(matches!(
            s.add_device(DeviceInstance::new("b", "X", "rtu", DeviceAddress::Unit(1))),
            Err(DeviceError::AddressInUse { .. })
        ));
        assert!(matches!(
            s.add_device(DeviceInstance::new("a", "X", "rtu", DeviceAddress::Unit(2))),
            Err(DeviceError::DuplicateName(_))
        ));
        // TCP unit ids may be 0 and 255.
        s.add_device(DeviceInstance::new(
            "t0",
            "X",
            "tcp",
            DeviceAddress::Unit(0),
        ))
        .unwrap();
        s.add_device(DeviceInstance::new(
            "t255",
            "X",
            "tcp",
            DeviceAddress::Unit(255),
        ))
        .unwrap();
        assert_eq!(s.first_free_address("rtu").unwrap(), 2);
        assert!(matches!(
            s.first_free_address("nope"),
            Err(DeviceError::UnknownBus(_))
        ));
    }

    #[test]
    fn multi_create_takes_consecutive_free_addresses_or_refuses() {
        let mut s = site();
        for a in [1u8, 2, 4] {
            s.add_device(DeviceInstance::new(
                format!("d{a}"),
                "X",
                "rtu",
                DeviceAddress::Unit(a),
            ))
            .unwrap();
        }
        let names = s
            .add_many(
                &DeviceInstance::new("m", "X", "rtu", DeviceAddress::Unit(0)),
                3,
            )
            .unwrap();
        assert_eq!(names, ["m-5", "m-6", "m-7"]);
        let mut full = site();
        full.add_many(
            &DeviceInstance::new("m", "X", "rtu", DeviceAddress::Unit(0)),
            240,
        )
        .unwrap();
        let before = full.devices.len();
        let err = full
            .add_many(
                &DeviceInstance::new("n", "X", "rtu", DeviceAddress::Unit(0)),
                8,
            )
            .unwrap_err();
        assert!(err.to_string().contains("no address is available"), "{err}");
        assert_eq!(full.devices.len(), before, "all or nothing");
    }

    #[test]
    fn remote_and_pulse_addresses() {
        assert_eq!(
            "2-1".parse::<DeviceAddress>().unwrap(),
            DeviceAddress::Remote {
                device: 2,
                interface: 1
            }
        );
        assert_eq!(
            "3:2".parse::<DeviceAddress>().unwrap(),
            DeviceAddress::Pulse {
                concentrator: 3,
                input: 2
            }
        );
        assert!("3:0".parse::<DeviceAddress>().is_err());
        assert!("x-1".parse::<DeviceAddress>().is_err());
        let mut s = site();
        s.add_device(DeviceInstance::new(
            "p1",
            "X",
            "rtu",
            "3:1".parse().unwrap(),
        ))
        .unwrap();
        s.add_device(DeviceInstance::new(
            "p2",
            "X",
            "rtu",
            "3:2".parse().unwrap(),
        ))
        .unwrap();
        assert!(
            s.add_device(DeviceInstance::new(
                "p3",
                "X",
                "rtu",
                "3:2".parse().unwrap()
            ))
            .is_err()
        );
        s.add_device(DeviceInstance::new(
            "cx1",
            "X",
            "rtu",
            "2-1".parse().unwrap(),
        ))
        .unwrap();
        s.add_device(DeviceInstance::new(
            "cx2",
            "X",
            "rtu",
            "2-2".parse().unwrap(),
        ))
        .unwrap();
        assert!(
            s.add_device(DeviceInstance::new(
                "plain2",
                "X",
                "rtu",
                DeviceAddress::Unit(2)
            ))
            .is_err()
        );
    }

    #[test]
    fn settings_are_validated() {
        assert!(
            TcpSettings {
                timeout_ms: 100,
                ..TcpSettings::new("h", 502)
            }
            .validate()
            .is_err()
        );
        assert!(
            TcpSettings {
                timeout_ms: 10_001,
                ..TcpSettings::new("h", 502)
            }
            .validate()
            .is_err()
        );
        assert!(TcpSettings::new("h", 0).validate().is_err());
        assert!(
            RtuSettings {
                baud: 1234,
                ..RtuSettings::new("p")
            }
            .validate()
            .is_err()
        );
        let mut s = site();
        assert!(
            s.add_bus(Bus {
                name: "dup".into(),
                kind: BusKind::Tcp(TcpSettings::new("10.0.0.5", 502))
            })
            .is_err()
        );
    }

    #[test]
    fn installation_round_trips_through_toml() {
        let text = r#"
            [[bus]]
            name = "line1"
            kind = "rtu"
            path = "/dev/ttyUSB0"
            parity = "none"

            [[device]]
            name = "main"
            product = "ECR380D"
            bus = "line1"
            address = "12"
        "#;
        let inst: Installation = toml::from_str(text).unwrap();
        assert_eq!(inst.devices[0].address, DeviceAddress::Unit(12));
        let BusKind::Rtu(r) = &inst.buses[0].kind else {
            panic!("rtu expected")
        };
        assert_eq!(r.effective_stop_bits(), 2);
        let back: Installation = toml::from_str(&toml::to_string(&inst).unwrap()).unwrap();
        assert_eq!(back, inst);
    }
}
