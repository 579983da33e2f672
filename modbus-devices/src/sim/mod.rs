//! The device simulator: serves any catalogue product's register map, with physically
//! coherent, time-driven values, over Modbus/TCP, Modbus RTU (serial port or
//! pseudo-terminal) and RTU framing over TCP. Many devices sit behind one server, routed
//! by unit id; faults can be injected per unit while it runs.
//!
//! ```
//! use modbus_devices::Catalogue;
//! use modbus_devices::sim::{SimClock, Simulator};
//! use tokio_modbus::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let catalogue = Catalogue::builtin()?;
//! let ecr = catalogue.require("ECR380D")?;
//! let sim = Simulator::new(SimClock::real());
//! sim.add_device(1, ecr.clone())?;
//! let (addr, handle) = sim.serve_tcp("127.0.0.1:0").await?;
//!
//! // Any Modbus client can read it; here tokio-modbus reads V(L1-N).
//! let mut client = tokio_modbus::client::tcp::connect_slave(addr, Slave(1)).await?;
//! let v = ecr.service("v_l1_n").unwrap();
//! let words = client
//!     .read_holding_registers(v.register.address, v.register.count())
//!     .await??;
//! let volts = v.register.decode(&words)?.and_then(|x| x.as_f64()).unwrap();
//! assert!((220.0..240.0).contains(&volts), "{volts}");
//! handle.stop().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Routing by unit id
//! Each device is added under a unit id (1..=255). On **RTU** framings a request for a unit
//! id no device has gets **no answer**, as on a real bus; unit 0 is the broadcast address:
//! writes are applied to every device and nothing is answered. On **Modbus/TCP** the
//! simulator acts as a gateway: a request for an unknown unit id is answered with exception
//! **0x0B** ("gateway target device failed to respond"), so a client learns at once that the
//! id is wrong instead of waiting for a timeout. (tokio-modbus's own RTU server answers
//! every unit id, which is why the RTU servers here do their own framing.)
//!
//! # Addresses
//! Registers are served at the addresses of the product's services, signature reads and
//! parameters (0-based protocol addresses, as everywhere in this crate).
//! - A read touching a range of `limits.forbidden` answers exception **02** (illegal data
//!   address), and so does a read of an address outside every documented block of its table
//!   when the product gives blocks (`limits.blocks`), unless the address belongs to a
//!   documented register (a parameter outside the blocks stays readable). Without blocks,
//!   every address that is not forbidden can be read.
//! - A read of more registers than `limits.max_registers_per_read` (or 125; 2000 bits)
//!   answers exception **03** (illegal data value).
//! - An undocumented register inside a block reads **0xFFFF** when the product's map uses
//!   all-ones "not available" sentinels (Hager, ABB: what those meters return for their
//!   "not used" registers) and **0** otherwise. Undocumented coils and inputs read 0.
//! - Signature reads return what the signature expects (e.g. "Hager" at 0x1000 and the
//!   product code at 0x1010); they take precedence over services at the same address.
//!
//! # Writes
//! FC5, FC6, FC15, FC16 (and FC23) may only write parameters. A write to an address that is
//! not a writable parameter answers **02**; a write that covers only part of a parameter,
//! or whose value decodes outside the parameter's write range, answers **03** and changes
//! nothing. Accepted read-write parameters are stored and read back; write-only parameters
//! (commands such as Hager's "set tariff") read back as 0. A parameter whose id or name
//! contains "reset" resets the partial energy counters when written non-zero; a "tariff"
//! parameter selects the active tariff. A parameter that is one bit of a holding register
//! takes its bit from the written word and serves it back in that bit (over whatever a
//! status word at the same address holds), so several bit parameters of one register each
//! keep their own bit across read-modify-write cycles. A parameter scaled by another
//! register (`scale_register`) is decoded with that register's content, which the simulator
//! chooses so that both ends of the parameter's write range fit its type. Unsupported
//! function codes answer **01**.
//!
//! # Device identification
//! FC43 / MEI type 14 (Read Device Identification) is answered, on Modbus/TCP and RTU, by
//! devices whose product has a `product_code` in the catalogue (the Hager ECR/ECA meters of
//! the built-in catalogue): basic objects 0x00 vendor, 0x01 product code, 0x02 the simulated
//! firmware version `"1.0.0"`, conformity level 0x81, stream access (codes 01..03, with
//! "more follows" when the objects do not fit one response) and individual access (code 04;
//! exception **02** for another object). Products without a product code answer **01**.
//! See the catalogue format's `product_code` section.
//!
//! # Values
//! The physics model drives each service from what its catalogue data says it is: its
//! `measurand`, `phase`, `direction`, `tariff`, `harmonic` order and `partial` flag (see the
//! catalogue format's "What a service is"); a service with a `simulated` value serves that
//! constant (status words, configuration registers such as Hager's network type: 4 on the
//! ECR380D, 1 on the ECR180T's three single-phase meters), and a parameter starts at its
//! `simulated` value, or at the unit id when its measurand is `unit_id`. Every built-in
//! service has this data. Only a service of a user file without it is guessed from its
//! category, unit and the keywords of its id, quantity and name (`l1`..`l3`, `l1_l2`, `n`,
//! `import` / `export`, `reactive`, `apparent`, `partial`, `t1`..`t8`, `h3`...), and a
//! parameter without it from its id and name (an address starts at the unit id, a baud
//! rate at 19200, anything else at the bottom of its write range). Values:
//! phase-to-neutral voltages near 230 V with small noise (phase-to-phase near 400 V, from
//! the phasors), 50 Hz +- 0.05 Hz, currents from a daily load profile per device,
//! `S = V*I`, `P = S*PF`, `Q = sqrt(S^2 - P^2)` per phase and totals as sums, power factor
//! 0.85..0.99, voltage THD 1..4 %, current THD 5..30 %, odd-dominated harmonics,
//! temperatures near 30 degC. Energy counters integrate power over the clock (import from
//! positive power; the simulated loads only consume, so export counters stay constant), are
//! truncated to the register resolution like a meter display, never decrease, and wrap at
//! the type's range. Partial counters run with the totals until reset; per-tariff counters
//! follow the active tariff (tariff 1 06:00-22:00 UTC, tariff 2 at night, unless set). A
//! product whose services name no second or third phase (`phase = "L2"`, `"L3"` or a pair)
//! is simulated single-phase. Values
//! are a pure function of the device (product reference and unit id) and the time of the
//! [`SimClock`], so a manual clock gives reproducible readings.
//!
//! # Live registers
//! A device whose registers follow a model of its own (a heating controller's setpoints
//! computed from its parameters and the outdoor temperature) gets a [`LiveRegisters`] hook
//! with [`Simulator::set_live_registers`]: at each read it computes holding registers over
//! the physics model's values, from the time and the stored parameters, and it sees every
//! request the device receives (to count or inspect them). The product's address rules
//! still decide which reads are answered.
//!
//! # Faults
//! [`Fault`]: no answer, a given exception code, a corrupted CRC (RTU framings; no answer on
//! Modbus/TCP, which has no CRC), a delay before the answer, or writes acknowledged but not
//! applied (a write-protected device). Set per unit id with
//! [`Simulator::set_fault`] (or through a [`SimulatorHandle`]) and effective from the next
//! request.

mod clock;
mod device;
mod fault;
mod live;
mod model;
pub(crate) mod rtu;
pub(crate) mod server;
mod tls;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinHandle;
pub use tokio_serial::{DataBits, Parity, StopBits};

pub use clock::SimClock;
pub use fault::Fault;
pub use live::{LiveRegisters, RequestSeen};

use crate::catalogue::Product;
use crate::value::Value;
use device::SimDevice;
use server::{Control, Shared, lock};

/// Errors of setting up and serving the simulator.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// Unit id 0 is the broadcast address and cannot hold a device.
    #[error("unit id must be 1..=255 (0 is the broadcast address), found {0}")]
    InvalidUnit(u8),
    /// A device already sits at this unit id.
    #[error("unit id {unit} is already simulating product {existing:?}")]
    DuplicateUnit {
        /// The unit id.
        unit: u8,
        /// The reference of the product already there.
        existing: String,
    },
    /// The server could not listen on the address.
    #[error("cannot listen on {address}: {message}")]
    Bind {
        /// The address asked for.
        address: String,
        /// The OS error.
        message: String,
    },
    /// The serial port could not be opened.
    #[error("cannot open serial port {path}: {message}")]
    Serial {
        /// The port's path.
        path: String,
        /// The error.
        message: String,
    },
}

/// Serial line settings of [`Simulator::serve_rtu`]; the default is the reference bus
/// setting, 19 200 Bd, 8 data bits, even parity, 1 stop bit.
///
/// ```
/// use modbus_devices::sim::{Parity, SerialSettings, StopBits};
/// use std::time::Duration;
///
/// let s = SerialSettings::default();
/// assert_eq!((s.baud_rate, s.parity, s.stop_bits), (19_200, Parity::Even, StopBits::One));
/// let slow = SerialSettings { baud_rate: 9_600, ..s };
/// assert_eq!(slow.silence(), Duration::from_micros(4_010)); // 3.5 characters of 11 bits
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SerialSettings {
    /// Bits per second.
    pub baud_rate: u32,
    /// Data bits (8 for RTU).
    pub data_bits: DataBits,
    /// Parity.
    pub parity: Parity,
    /// Stop bits (2 when parity is none, by the Modbus serial-line rule).
    pub stop_bits: StopBits,
}

impl Default for SerialSettings {
    fn default() -> Self {
        Self {
            baud_rate: 19_200,
            data_bits: DataBits::Eight,
            parity: Parity::Even,
            stop_bits: StopBits::One,
        }
    }
}

impl SerialSettings {
    /// The RTU inter-frame silence (3.5 characters of 11 bits; 1.75 ms above 19 200 Bd),
    /// with a 2 ms floor for operating-system latency.
    pub fn silence(&self) -> Duration {
        let micros = if self.baud_rate > 19_200 || self.baud_rate == 0 {
            1_750
        } else {
            38_500_000 / u64::from(self.baud_rate)
        };
        Duration::from_micros(micros.max(2_000))
    }
}

/// A set of simulated devices, each a catalogue product behind a unit id, sharing one
/// [`SimClock`]. Clones share the same devices; servers started from it serve them all,
/// including devices added later.
///
/// ```
/// use modbus_devices::Catalogue;
/// use modbus_devices::sim::{Fault, SimClock, Simulator};
///
/// let catalogue = Catalogue::builtin().unwrap();
/// let sim = Simulator::new(SimClock::real());
/// sim.add_device(1, catalogue.require("ECR380D").unwrap().clone()).unwrap();
/// assert!(sim.add_device(1, catalogue.require("ECR380D").unwrap().clone()).is_err());
/// sim.set_fault(1, Fault::NoAnswer);
/// assert_eq!(sim.fault(1), Fault::NoAnswer);
/// assert_eq!(sim.units(), vec![(1, "ECR380D".to_string())]);
/// ```
#[derive(Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("clock", &self.shared.clock)
            .field("units", &self.units())
            .finish()
    }
}

impl Simulator {
    /// An empty simulator on `clock`.
    pub fn new(clock: SimClock) -> Self {
        Self {
            shared: Arc::new(Shared {
                clock,
                devices: RwLock::new(BTreeMap::new()),
                control: Mutex::new(Control::default()),
            }),
        }
    }

    /// The simulator's clock (a clone shares the time).
    pub fn clock(&self) -> &SimClock {
        &self.shared.clock
    }

    /// Simulate `product` at `unit` (1..=255), starting now on the simulator's clock.
    pub fn add_device(&self, unit: u8, product: Product) -> Result<(), SimError> {
        if unit == 0 {
            return Err(SimError::InvalidUnit(unit));
        }
        let mut devices = self
            .shared
            .devices
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(existing) = devices.get(&unit) {
            return Err(SimError::DuplicateUnit {
                unit,
                existing: lock(existing).product.reference().to_string(),
            });
        }
        let device = SimDevice::new(unit, product, &self.shared.clock.now());
        devices.insert(unit, Arc::new(Mutex::new(device)));
        Ok(())
    }

    /// [`Simulator::add_device`], builder style.
    pub fn with_device(self, unit: u8, product: Product) -> Result<Self, SimError> {
        self.add_device(unit, product)?;
        Ok(self)
    }

    /// Stop simulating the device at `unit`; returns its product.
    pub fn remove_device(&self, unit: u8) -> Option<Product> {
        let removed = self
            .shared
            .devices
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&unit);
        removed.map(|d| lock(&d).product.clone())
    }

    /// The simulated units and their products' main references, by unit id.
    pub fn units(&self) -> Vec<(u8, String)> {
        self.shared
            .devices
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(u, d)| (*u, lock(d).product.reference().to_string()))
            .collect()
    }

    /// Inject a fault at `unit` (effective from its next request); [`Fault::None`] clears it.
    pub fn set_fault(&self, unit: u8, fault: Fault) {
        let mut c = lock(&self.shared.control);
        if fault == Fault::None {
            c.faults.remove(&unit);
        } else {
            c.faults.insert(unit, fault);
        }
    }

    /// Clear the fault at `unit`.
    pub fn clear_fault(&self, unit: u8) {
        self.set_fault(unit, Fault::None);
    }

    /// The fault currently injected at `unit`.
    pub fn fault(&self, unit: u8) -> Fault {
        lock(&self.shared.control)
            .faults
            .get(&unit)
            .copied()
            .unwrap_or_default()
    }

    /// Serve some holding registers of the device at `unit` from `live`, computed at each
    /// read (over the model's values and the stored parameters), and show it every request
    /// the device receives. Replaces an earlier hook; `false` when no device is at `unit`.
    pub fn set_live_registers(&self, unit: u8, live: Arc<dyn LiveRegisters>) -> bool {
        match self.shared.device(unit) {
            Some(device) => {
                lock(&device).live = Some(live);
                true
            }
            None => false,
        }
    }

    /// How many requests addressed to `unit` reached the simulator (answered or not).
    pub fn request_count(&self, unit: u8) -> u64 {
        lock(&self.shared.control)
            .requests
            .get(&unit)
            .copied()
            .unwrap_or(0)
    }

    /// Every service of the device at `unit`, decoded from the registers the simulator
    /// serves for it at the clock's current time: exactly what a master reading it at this
    /// instant gets. `None` for an unknown unit.
    ///
    /// ```
    /// use modbus_devices::Catalogue;
    /// use modbus_devices::sim::{SimClock, Simulator};
    ///
    /// let sim = Simulator::new(SimClock::manual(chrono::Utc::now()));
    /// sim.add_device(3, Catalogue::builtin().unwrap().require("ECR380D").unwrap().clone()).unwrap();
    /// let values = sim.served_values(3).unwrap();
    /// let (_, v) = values.iter().find(|(id, _)| id == "v_l1_n").unwrap();
    /// let volts = v.as_ref().and_then(|v| v.as_f64()).unwrap();
    /// assert!((220.0..240.0).contains(&volts));
    /// assert!(sim.served_values(4).is_none());
    /// ```
    pub fn served_values(&self, unit: u8) -> Option<Vec<(String, Option<Value>)>> {
        let device = self.shared.device(unit)?;
        let now = self.shared.clock.now();
        let values = lock(&device).served_values(&now);
        Some(values)
    }

    async fn bind<A>(addr: A) -> Result<(TcpListener, SocketAddr), SimError>
    where
        A: ToSocketAddrs + std::fmt::Display,
    {
        let address = addr.to_string();
        let err = |e: std::io::Error| SimError::Bind {
            address: address.clone(),
            message: e.to_string(),
        };
        let listener = TcpListener::bind(addr).await.map_err(err)?;
        let local = listener.local_addr().map_err(err)?;
        Ok((listener, local))
    }

    /// Serve every device on Modbus/TCP at `addr` (port 0 picks a free port). Returns the
    /// bound address and the handle that stops the server (also when dropped).
    pub async fn serve_tcp<A>(&self, addr: A) -> Result<(SocketAddr, SimulatorHandle), SimError>
    where
        A: ToSocketAddrs + std::fmt::Display,
    {
        let (listener, local) = Self::bind(addr).await?;
        let task = tokio::spawn(server::run_tcp(listener, Arc::clone(&self.shared)));
        tracing::info!(%local, "simulator serving Modbus/TCP");
        Ok((local, self.handle(task, format!("Modbus/TCP {local}"))))
    }

    /// Serve every device with RTU framing over TCP (a serial gateway's "RTU over TCP"
    /// mode) at `addr`. Returns the bound address and the handle.
    ///
    /// ```
    /// use modbus_devices::Catalogue;
    /// use modbus_devices::sim::{SimClock, Simulator};
    /// use tokio_modbus::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sim = Simulator::new(SimClock::real());
    /// sim.add_device(2, Catalogue::builtin()?.require("ECR380D")?.clone())?;
    /// let (addr, _handle) = sim.serve_rtu_over_tcp("127.0.0.1:0").await?;
    /// let stream = tokio::net::TcpStream::connect(addr).await?;
    /// let mut client = tokio_modbus::client::rtu::attach_slave(stream, Slave(2));
    /// let frequency = client.read_holding_registers(0xB006, 1).await??[0];
    /// assert!((4_990..=5_010).contains(&frequency), "{frequency}"); // 0.01 Hz
    /// # Ok(())
    /// # }
    /// ```
    pub async fn serve_rtu_over_tcp<A>(
        &self,
        addr: A,
    ) -> Result<(SocketAddr, SimulatorHandle), SimError>
    where
        A: ToSocketAddrs + std::fmt::Display,
    {
        let (listener, local) = Self::bind(addr).await?;
        let task = tokio::spawn(server::run_rtu_over_tcp(listener, Arc::clone(&self.shared)));
        tracing::info!(%local, "simulator serving RTU over TCP");
        Ok((local, self.handle(task, format!("RTU over TCP {local}"))))
    }

    /// Serve every device as Modbus RTU slaves on the serial port (or pseudo-terminal) at
    /// `path`. One transaction at a time, as on a bus. Read errors (a pseudo-terminal whose
    /// other end is closed) are waited out: the server keeps the line until stopped.
    ///
    /// ```no_run
    /// use modbus_devices::Catalogue;
    /// use modbus_devices::sim::{SerialSettings, SimClock, Simulator};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // e.g. one end of `socat pty,raw,echo=0,link=/tmp/sim pty,raw,echo=0,link=/tmp/master`
    /// let sim = Simulator::new(SimClock::real());
    /// sim.add_device(1, Catalogue::builtin()?.require("ECR380D")?.clone())?;
    /// let handle = sim.serve_rtu("/tmp/sim", &SerialSettings::default()).await?;
    /// # handle.stop().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn serve_rtu(
        &self,
        path: impl AsRef<Path>,
        settings: &SerialSettings,
    ) -> Result<SimulatorHandle, SimError> {
        let path = path.as_ref().to_string_lossy().to_string();
        let builder = tokio_serial::new(path.clone(), settings.baud_rate)
            .data_bits(settings.data_bits)
            .parity(settings.parity)
            .stop_bits(settings.stop_bits);
        let port = tokio_serial::SerialStream::open(&builder).map_err(|e| SimError::Serial {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let task = tokio::spawn(server::serve_rtu_stream(
            port,
            Arc::clone(&self.shared),
            settings.silence(),
            true,
        ));
        tracing::info!(%path, baud = settings.baud_rate, "simulator serving Modbus RTU");
        Ok(self.handle(task, format!("Modbus RTU {path}")))
    }

    fn handle(&self, task: JoinHandle<()>, what: String) -> SimulatorHandle {
        SimulatorHandle {
            simulator: self.clone(),
            task,
            what,
        }
    }
}

/// A running server of a [`Simulator`]. Stops the server when dropped or on
/// [`SimulatorHandle::stop`]; gives access to the simulator for fault injection.
///
/// ```
/// use modbus_devices::Catalogue;
/// use modbus_devices::sim::{Fault, SimClock, Simulator};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sim = Simulator::new(SimClock::real());
/// sim.add_device(1, Catalogue::builtin()?.require("ECR380D")?.clone())?;
/// let (addr, handle) = sim.serve_tcp("127.0.0.1:0").await?;
/// assert_eq!(handle.description(), format!("Modbus/TCP {addr}"));
/// handle.set_fault(1, Fault::NoAnswer);
/// assert_eq!(handle.simulator().fault(1), Fault::NoAnswer);
/// handle.stop().await;
/// assert!(tokio::net::TcpStream::connect(addr).await.is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct SimulatorHandle {
    simulator: Simulator,
    task: JoinHandle<()>,
    what: String,
}

impl SimulatorHandle {
    /// The simulator this server serves.
    pub fn simulator(&self) -> &Simulator {
        &self.simulator
    }

    /// What it serves on, e.g. `Modbus/TCP 127.0.0.1:1502`.
    pub fn description(&self) -> &str {
        &self.what
    }

    /// Inject a fault at `unit` (see [`Simulator::set_fault`]).
    pub fn set_fault(&self, unit: u8, fault: Fault) {
        self.simulator.set_fault(unit, fault);
    }

    /// Clear the fault at `unit`.
    pub fn clear_fault(&self, unit: u8) {
        self.simulator.clear_fault(unit);
    }

    /// Whether the server task still runs.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Stop the server (closing its listener and connections) and wait until it is gone.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}
