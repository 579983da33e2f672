//! The async poller: reads the enabled devices of an [`Installation`] over Modbus TCP,
//! Modbus RTU on a serial line, RTU framing over TCP (serial gateways) and Modbus/TCP
//! Security (TLS), and turns the answers into [`Reading`]s.
//!
//! # Transactions
//! Each bus has one connection (a serial port, or one TCP connection to its host and port)
//! and carries one transaction at a time: the devices of a bus are polled one after the
//! other, different buses in parallel. Every request gets the bus's response timeout and
//! is retried `retries` times after the first try (settings in [`RtuSettings`] and
//! [`TcpSettings`]); an exception answer is final and not retried. A connection that
//! breaks is reopened at the next try; a connection attempt that fails is not repeated
//! before a back-off delay (0.5 s, doubling up to 30 s, reset by a successful connection).
//! Over TCP a connection is also reopened after a timeout, so a late answer is never taken
//! for the answer to the next request; on a serial line stale bytes are discarded before
//! each request. Every connection (serial ports included) is reopened after an answer that
//! cannot be decoded (a bad CRC, an answer that does not match the request): the framed
//! decoder of tokio-modbus does not resume after a decoding error.
//!
//! # Device state
//! - [`DeviceState::Unknown`] until the device is first polled;
//! - [`DeviceState::NotCommunicating`] after a poll of the device in which no request got an
//!   answer: every request ended, after its retries, in a timeout, a CRC error or a
//!   transport / connection error. When a request of a poll gets no answer at all, the
//!   remaining requests of that device are skipped for that poll (their services read
//!   [`Quality::NoAnswer`]), so a silent device costs one request's tries per cycle, not all of them;
//! - [`DeviceState::Communicating`] again at the first answer (a response or an exception
//!   answer: the device is there even if it refuses a register);
//! - [`DeviceState::Disabled`] for disabled devices, which are not polled.
//!
//! # What a poll reads
//! A device with an explicit service list ([`DeviceInstance::services`]) reads that list
//! in every poll. By default (no list) each service is read according to its
//! [`Refresh`](crate::catalogue::Refresh) class, derived from its catalogue category:
//! - the services that change (measurements, energies, states, alarms:
//!   [`Refresh::Cyclic`](crate::catalogue::Refresh::Cyclic)) in every poll;
//! - the identification services (vendor, product code, versions, serial number) in the
//!   first poll that reaches the device, again in the first poll after it was
//!   [`DeviceState::NotCommunicating`] (it may have been replaced) or re-enabled;
//! - the configuration read back from the device in the first poll, then every
//!   [`Poller::with_config_refresh`] period (hourly by default, [`DEFAULT_CONFIG_REFRESH`])
//!   and in the poll after a [`Poller::write_parameter`].
//!
//! A due refresh is merged into the poll's requests (the plans of the four combinations
//! are built once, in [`Poller::new`]); it waits while the device does not answer, and is
//! done once a poll that carried it got an answer. [`Poller::plan`] is the plan of the
//! regular cycle, [`Poller::requests_per_cycle`] its number of requests per device.
//!
//! # Periodic polling
//! [`Poller::run`] / [`Poller::spawn`] poll every period and send each cycle's readings
//! together as one [`Cycle`] (with its start time); cycles never start less than one period
//! apart (see [`Poller::run`]).
//!
//! # Readings
//! Each reading carries a [`Quality`]: a service read and decoded is
//! [`Quality::Good`] (the only quality with a value); a value the device reports as "not
//! available" (a sentinel, NaN) is [`Quality::NotAvailable`]; a service whose request got
//! no usable answer (timeout, transport or connection failure, CRC error, an answer that
//! does not match the request, or skipped after such a failure in the same poll) is
//! [`Quality::NoAnswer`]; one whose request was answered with an exception, or whose words
//! do not decode, is [`Quality::Invalid`].
//!
//! # Example
//! Poll a simulated Hager ECR380D over Modbus/TCP on loopback, identify it, write a
//! parameter, and look at its state and statistics:
//! ```
//! use modbus_devices::device::{Bus, BusKind, DeviceAddress, DeviceInstance, Installation, TcpSettings};
//! use modbus_devices::poll::{DeviceState, Poller};
//! use modbus_devices::sim::{SimClock, Simulator};
//! use modbus_devices::{Catalogue, Quality, Value};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let catalogue = Catalogue::builtin()?;
//! let sim = Simulator::new(SimClock::real());
//! sim.add_device(1, catalogue.require("ECR380D")?.clone())?;
//! let (addr, _server) = sim.serve_tcp("127.0.0.1:0").await?;
//!
//! let mut site = Installation::default();
//! let tcp = TcpSettings::new("127.0.0.1", addr.port());
//! site.add_bus(Bus { name: "lan".into(), kind: BusKind::Tcp(tcp) })?;
//! site.add_device(DeviceInstance::new("main", "ECR380D", "lan", DeviceAddress::Unit(1)))?;
//! let poller = Poller::new(&site, &catalogue)?;
//!
//! let readings = poller.poll_once().await;
//! let v = readings.iter().find(|r| r.point() == "main/v_l1_n").unwrap();
//! assert_eq!(v.quality, Quality::Good);
//! assert!((220.0..240.0).contains(&v.value.as_ref().and_then(Value::as_f64).unwrap()));
//! assert_eq!(poller.state("main"), Some(DeviceState::Communicating));
//!
//! assert_eq!(poller.identify("main").await?.status(), "match");
//! // Checked against the parameter's range before anything is sent:
//! assert!(poller.write_parameter("main", "modbus_address", &Value::Number(300.0)).await.is_err());
//! poller.write_parameter("main", "modbus_address", &Value::Number(12.0)).await?;
//!
//! let stats = poller.stats();
//! let main = stats.device("main").unwrap();
//! assert_eq!(main.counters.timeouts, 0);
//! assert_eq!(main.counters.requests, main.counters.responses);
//! println!("{}", serde_json::to_string(&stats)?);
//! # Ok(()) }
//! ```

mod cycle;
mod error;
mod identify;
mod read;
mod stats;
pub mod tls;
pub(crate) mod transport;
mod write;

use std::sync::{Arc, Mutex as StdMutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio_modbus::{Request, Response};

pub use cycle::{Cycle, DEFAULT_CONFIG_REFRESH};
pub use error::{ModbusException, PollError};
pub use identify::Identification;
pub use stats::{BusStats, Counters, DeviceStats, Latency, PollStats};
pub use transport::{BACKOFF_MAX, BACKOFF_MIN};

use crate::catalogue::{Catalogue, Product};
use crate::device::{BusKind, DeviceInstance, Installation};
#[cfg(doc)]
use crate::device::{RtuSettings, TcpSettings};
use crate::value::{Quality, Reading, Value};
use cycle::{RefreshPlans, RefreshState};
use read::Block;
use stats::Outcome;
use transport::{Endpoint, Failure, Link, describe_request};

/// Whether a device answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Not polled yet.
    Unknown,
    /// The last poll got at least one answer.
    Communicating,
    /// The last poll got no answer at all (after retries).
    NotCommunicating,
    /// Disabled: not polled.
    Disabled,
}

impl std::fmt::Display for DeviceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeviceState::Unknown => "unknown",
            DeviceState::Communicating => "communicating",
            DeviceState::NotCommunicating => "not communicating",
            DeviceState::Disabled => "disabled",
        })
    }
}

struct BusHandle {
    name: String,
    link: Mutex<Link>,
    stats: Arc<StdMutex<BusStats>>,
}

struct DeviceRuntime {
    enabled: bool,
    stats: DeviceStats,
    refresh: RefreshState,
}

struct DeviceEntry {
    instance: DeviceInstance,
    bus: usize,
    bus_kind: BusKind,
    /// Shared by the devices of the same product on the same bus (as are the plans): a
    /// site of thousands of devices keeps one copy per product and bus.
    product: Arc<Product>,
    plans: Arc<RefreshPlans>,
    runtime: StdMutex<DeviceRuntime>,
}

impl DeviceEntry {
    fn unit(&self) -> u8 {
        self.instance.address.unit_id()
    }

    fn runtime(&self) -> Option<MutexGuard<'_, DeviceRuntime>> {
        self.runtime.lock().ok()
    }

    fn describe(&self, bus: &str) -> String {
        format!(
            "{:?} ({} at unit {} on bus {bus:?})",
            self.instance.name,
            self.product.reference(),
            self.unit()
        )
    }
}

fn lock<T>(m: &StdMutex<T>) -> Option<MutexGuard<'_, T>> {
    m.lock().ok()
}

/// Polls the devices of an installation. See the [module documentation](self) for the
/// transaction, state and reading rules.
pub struct Poller {
    buses: Vec<BusHandle>,
    devices: Vec<DeviceEntry>,
    catalogue: Arc<Catalogue>,
    config_refresh: Duration,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field(
                "buses",
                &self.buses.iter().map(|b| &b.name).collect::<Vec<_>>(),
            )
            .field(
                "devices",
                &self
                    .devices
                    .iter()
                    .map(|d| &d.instance.name)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Poller {
    /// A poller for every device of `installation`, with their products from `catalogue`.
    /// The read plan of each device is built here, once; TLS files are read here. Nothing
    /// is connected until the first poll.
    ///
    /// Fails when a device names a product, bus or service that does not exist, or when
    /// bus settings or TLS files are invalid.
    pub fn new(installation: &Installation, catalogue: &Catalogue) -> Result<Self, PollError> {
        let mut buses = Vec::with_capacity(installation.buses.len());
        for (i, b) in installation.buses.iter().enumerate() {
            if let BusKind::Rtu(r) = &b.kind {
                let twin = installation.buses[..i]
                    .iter()
                    .find(|o| matches!(&o.kind, BusKind::Rtu(x) if x.path == r.path));
                if let Some(o) = twin {
                    return Err(crate::error::DeviceError::Invalid {
                        field: "path",
                        message: format!(
                            "serial port {} is used by buses {:?} and {:?}; one line is one bus",
                            r.path.display(),
                            o.name,
                            b.name
                        ),
                    }
                    .into());
                }
            }
            let endpoint = Endpoint::from_kind(&b.kind)?;
            let stats = Arc::new(StdMutex::new(BusStats {
                bus: b.name.clone(),
                kind: endpoint.kind_name().to_string(),
                endpoint: endpoint.describe(),
                connected: false,
                connects: 0,
                connect_failures: 0,
                counters: Counters::default(),
                last_error: None,
            }));
            buses.push(BusHandle {
                name: b.name.clone(),
                link: Mutex::new(Link::new(endpoint, stats.clone())),
                stats,
            });
        }
        let mut devices = Vec::with_capacity(installation.devices.len());
        // The plans depend on the product, the bus kind and an explicit service list only.
        type PlanKey<'k> = (usize, &'k str, Option<&'k [String]>);
        let mut shared: std::collections::HashMap<PlanKey<'_>, (Arc<Product>, Arc<RefreshPlans>)> =
            std::collections::HashMap::new();
        for d in &installation.devices {
            let bus = installation
                .buses
                .iter()
                .position(|b| b.name == d.bus)
                .ok_or_else(|| crate::error::DeviceError::UnknownBus(d.bus.clone()))?;
            let bus_kind = installation.buses[bus].kind.clone();
            let key = (bus, d.product.as_str(), d.services.as_deref());
            let (product, plans) = match shared.get(&key) {
                Some(found) => found.clone(),
                None => {
                    let product = Arc::new(catalogue.require(&d.product)?.clone());
                    let plans = Arc::new(RefreshPlans::new(d, &bus_kind, &product)?);
                    shared.insert(key, (product.clone(), plans.clone()));
                    (product, plans)
                }
            };
            let state = if d.enabled {
                DeviceState::Unknown
            } else {
                DeviceState::Disabled
            };
            let stats = DeviceStats {
                device: d.name.clone(),
                bus: d.bus.clone(),
                state,
                counters: Counters::default(),
                polls: 0,
                failed_polls: 0,
                last_answer: None,
                last_error: None,
            };
            devices.push(DeviceEntry {
                instance: d.clone(),
                bus,
                bus_kind,
                product,
                plans,
                runtime: StdMutex::new(DeviceRuntime {
                    enabled: d.enabled,
                    stats,
                    refresh: RefreshState::default(),
                }),
            });
        }
        Ok(Self {
            buses,
            devices,
            catalogue: Arc::new(catalogue.clone()),
            config_refresh: DEFAULT_CONFIG_REFRESH,
        })
    }

    fn entry(&self, name: &str) -> Result<&DeviceEntry, PollError> {
        self.devices
            .iter()
            .find(|d| d.instance.name == name)
            .ok_or_else(|| PollError::UnknownDevice(name.to_string()))
    }

    fn enabled(&self, d: &DeviceEntry) -> bool {
        d.runtime().is_some_and(|r| r.enabled)
    }

    /// Number of requests of the device's first poll (when every request is answered):
    /// its cyclic services with the identification and configuration refreshes, merged.
    /// Regular cycles make [`Poller::requests_per_cycle`]; with an explicit service list
    /// both are the same.
    pub fn requests_per_poll(&self, device: &str) -> Result<usize, PollError> {
        Ok(self.entry(device)?.plans.get(true, true).blocks.len())
    }

    /// Poll every enabled device once: buses in parallel, the devices of a bus one after
    /// the other. Readings come in configuration order.
    pub async fn poll_once(&self) -> Vec<Reading> {
        let per_bus = self.buses.iter().enumerate().map(|(bi, bus)| async move {
            let mut out = Vec::new();
            let mut link = bus.link.lock().await;
            for (di, d) in self.devices.iter().enumerate().filter(|(_, d)| d.bus == bi) {
                if self.enabled(d) {
                    out.push((di, self.poll_entry(&mut link, bus, d).await));
                }
            }
            out
        });
        let mut all: Vec<(usize, Vec<Reading>)> = futures::future::join_all(per_bus)
            .await
            .into_iter()
            .flatten()
            .collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().flat_map(|(_, r)| r).collect()
    }

    /// Poll one device now (even between cycles), waiting for its bus to be free.
    pub async fn poll_device(&self, device: &str) -> Result<Vec<Reading>, PollError> {
        let d = self.entry(device)?;
        if !self.enabled(d) {
            return Err(PollError::Disabled(device.to_string()));
        }
        let bus = &self.buses[d.bus];
        let mut link = bus.link.lock().await;
        Ok(self.poll_entry(&mut link, bus, d).await)
    }

    async fn poll_entry(&self, link: &mut Link, bus: &BusHandle, d: &DeviceEntry) -> Vec<Reading> {
        let due = self.due(d);
        let plan = d.plans.get(due.identification, due.configuration);
        let mut answers = Vec::with_capacity(plan.blocks.len());
        let mut answered = false;
        let mut silent: Option<PollError> = None;
        for block in &plan.blocks {
            if silent.is_some() {
                answers.push(Err(Quality::NoAnswer));
                continue;
            }
            match self.read_block_at(link, bus, d, block).await {
                Ok(answer) => {
                    answered = true;
                    answers.push(Ok(answer));
                }
                Err(e) => {
                    answers.push(Err(read::failed_quality(&e)));
                    if e.is_no_answer() {
                        silent = Some(e);
                    } else {
                        answered = true;
                    }
                }
            }
        }
        let readings = plan.decode(&d.instance.name, &answers, Utc::now);
        if let Some(mut rt) = d.runtime()
            && !plan.blocks.is_empty()
        {
            rt.refresh.polled(due, answered);
            rt.stats.polls += 1;
            if answered {
                rt.stats.state = DeviceState::Communicating;
            } else {
                rt.stats.failed_polls += 1;
                if rt.stats.state != DeviceState::NotCommunicating {
                    tracing::warn!(device = %d.instance.name, error = ?silent.as_ref().map(ToString::to_string), "device not communicating");
                }
                rt.stats.state = DeviceState::NotCommunicating;
            }
        }
        readings
    }

    async fn read_block(
        &self,
        link: &mut Link,
        bus: &BusHandle,
        d: &DeviceEntry,
        block: &Block,
    ) -> Result<Vec<u16>, PollError> {
        Ok(self.read_block_at(link, bus, d, block).await?.0)
    }

    /// [`Poller::read_block`] with the time the answer arrived.
    async fn read_block_at(
        &self,
        link: &mut Link,
        bus: &BusHandle,
        d: &DeviceEntry,
        block: &Block,
    ) -> Result<(Vec<u16>, DateTime<Utc>), PollError> {
        let request = block.request();
        // The request's description is built only for an error (not on the hot path).
        let what = || describe_request(&block.request());
        let (response, at) = self.transact_at(link, bus, d, request).await?;
        let words: Vec<u16> = match response {
            Response::ReadHoldingRegisters(w) | Response::ReadInputRegisters(w) => w,
            Response::ReadCoils(bits) | Response::ReadDiscreteInputs(bits) => {
                bits.into_iter().map(u16::from).collect()
            }
            other => {
                return Err(PollError::Protocol {
                    device: d.instance.name.clone(),
                    request: what(),
                    message: format!("expected a read answer, found {other:?}"),
                });
            }
        };
        let want = usize::from(block.count);
        if words.len() < want || (!block.function_code.is_bit_table() && words.len() != want) {
            return Err(PollError::Protocol {
                device: d.instance.name.clone(),
                request: what(),
                message: format!("expected {want} values, found {}", words.len()),
            });
        }
        let mut words = words;
        words.truncate(want);
        Ok((words, at))
    }

    /// One request with its retries, counted in the device's and the bus's statistics.
    async fn transact(
        &self,
        link: &mut Link,
        bus: &BusHandle,
        d: &DeviceEntry,
        request: Request<'static>,
    ) -> Result<Response, PollError> {
        Ok(self.transact_at(link, bus, d, request).await?.0)
    }

    /// [`Poller::transact`] with the time the answer arrived (the device's last answer).
    async fn transact_at(
        &self,
        link: &mut Link,
        bus: &BusHandle,
        d: &DeviceEntry,
        request: Request<'static>,
    ) -> Result<(Response, DateTime<Utc>), PollError> {
        let tries = 1 + u32::from(link.endpoint.retries());
        let timeout_ms = link.endpoint.timeout().as_millis() as u64;
        // The device name and the request's description are built only for an error.
        let what = || describe_request(&request);
        let device = || d.instance.name.clone();
        let mut last = Failure::Timeout;
        for _ in 0..tries {
            let (result, elapsed) = link.try_once(d.unit(), request.clone()).await;
            let outcome = match &result {
                Ok(_) => Some(Outcome::Response),
                Err(f) => f.outcome(),
            };
            // One clock reading per answer: the device's last answer and the answer's time.
            let answered_at =
                matches!(outcome, Some(Outcome::Response | Outcome::Exception)).then(Utc::now);
            if let Some(o) = outcome {
                if let Some(mut s) = lock(&bus.stats) {
                    s.counters.record(o, elapsed);
                }
                if let Some(mut rt) = d.runtime() {
                    rt.stats.counters.record(o, elapsed);
                    if answered_at.is_some() {
                        rt.stats.last_answer = answered_at;
                    }
                }
            }
            let err = match result {
                Ok(r) => return Ok((r, answered_at.unwrap_or_else(Utc::now))),
                Err(Failure::Exception(exception)) => PollError::Exception {
                    device: device(),
                    request: what(),
                    exception,
                },
                Err(Failure::NotConnected(message)) => PollError::Connect {
                    bus: bus.name.clone(),
                    endpoint: link.endpoint.describe(),
                    message,
                },
                Err(f) => {
                    last = f;
                    continue;
                }
            };
            self.note_error(d, &err);
            return Err(err);
        }
        let (device, request) = (device(), what());
        let err = match last {
            Failure::Crc => PollError::Crc {
                device,
                request,
                tries,
            },
            Failure::Transport(message) => PollError::Transport {
                device,
                request,
                message,
            },
            Failure::Protocol(message) => PollError::Protocol {
                device,
                request,
                message,
            },
            _ => PollError::Timeout {
                device,
                request,
                timeout_ms,
                tries,
            },
        };
        self.note_error(d, &err);
        Err(err)
    }

    fn note_error(&self, d: &DeviceEntry, err: &PollError) {
        tracing::debug!(device = %d.instance.name, error = %err, "request failed");
        if let Some(mut rt) = d.runtime() {
            rt.stats.last_error = Some(err.to_string());
        }
    }

    /// Write a parameter of a device: the value is checked against the parameter's access and
    /// range before anything goes on the wire, then written with FC5 (a coil), FC6 (one
    /// register) or FC16 (several registers); a bit inside a holding register by
    /// read-modify-write with a re-read check, a value scaled by another register with the
    /// scale read first. No retry after an exception answer.
    pub async fn write_parameter(
        &self,
        device: &str,
        parameter: &str,
        value: &Value,
    ) -> Result<(), PollError> {
        let d = self.entry(device)?;
        if !self.enabled(d) {
            return Err(PollError::Disabled(device.to_string()));
        }
        let p = d
            .product
            .parameter(parameter)
            .ok_or_else(|| PollError::UnknownId {
                device: device.to_string(),
                product: d.product.reference().to_string(),
                what: "parameter",
                id: parameter.to_string(),
            })?;
        let bus = &self.buses[d.bus];
        let mut link = bus.link.lock().await;
        self.write_on_link(&mut link, bus, d, p, value).await?;
        // The next poll reads the configuration back.
        if let Some(mut rt) = d.runtime() {
            rt.refresh.configuration_read = None;
        }
        Ok(())
    }

    /// The state of a device.
    pub fn state(&self, device: &str) -> Option<DeviceState> {
        let d = self.entry(device).ok()?;
        d.runtime().map(|r| r.stats.state)
    }

    /// `(device, state)` of every device, in configuration order.
    pub fn states(&self) -> Vec<(String, DeviceState)> {
        self.devices
            .iter()
            .filter_map(|d| {
                d.runtime()
                    .map(|r| (d.instance.name.clone(), r.stats.state))
            })
            .collect()
    }

    /// Enable or disable a device. A disabled device is not polled and its state is
    /// [`DeviceState::Disabled`]; enabling it makes it [`DeviceState::Unknown`] until polled.
    pub fn set_enabled(&self, device: &str, enabled: bool) -> Result<(), PollError> {
        let d = self.entry(device)?;
        if let Some(mut rt) = d.runtime()
            && rt.enabled != enabled
        {
            rt.enabled = enabled;
            rt.refresh.identification_due = true;
            rt.stats.state = if enabled {
                DeviceState::Unknown
            } else {
                DeviceState::Disabled
            };
        }
        Ok(())
    }

    /// A snapshot of the statistics of every bus and device (serde-serialisable: the data
    /// of a bus analyser view).
    pub fn stats(&self) -> PollStats {
        PollStats {
            buses: self
                .buses
                .iter()
                .filter_map(|b| lock(&b.stats).map(|s| s.clone()))
                .collect(),
            devices: self
                .devices
                .iter()
                .filter_map(|d| d.runtime().map(|r| r.stats.clone()))
                .collect(),
        }
    }

    /// The product of a device.
    pub fn product(&self, device: &str) -> Result<&Product, PollError> {
        Ok(self.entry(device)?.product.as_ref())
    }

    /// Close every connection.
    pub async fn shutdown(&self) {
        for b in &self.buses {
            b.link.lock().await.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::device::{Bus, BusKind, DeviceAddress, DeviceInstance, TcpSettings};

    #[test]
    fn devices_of_one_product_on_one_bus_share_their_plans() {
        let catalogue = Catalogue::builtin().unwrap();
        let mut site = Installation::default();
        for (name, port) in [("lan", 1502), ("lan2", 1503)] {
            site.add_bus(Bus {
                name: name.into(),
                kind: BusKind::Tcp(TcpSettings::new("127.0.0.1", port)),
            })
            .unwrap();
        }
        let mut add =
            |name: &str, product: &str, bus: &str, unit: u8, services: Option<&[&str]>| {
                let mut d = DeviceInstance::new(name, product, bus, DeviceAddress::Unit(unit));
                d.services = services.map(|s| s.iter().map(|x| (*x).to_string()).collect());
                site.add_device(d).unwrap();
            };
        add("a", "ECR380D", "lan", 1, None);
        add("b", "ECR380D", "lan", 2, None);
        add("c", "ECR180D", "lan", 3, None);
        add("d", "ECR380D", "lan2", 1, None);
        add("e", "ECR380D", "lan", 4, Some(&["v_l1_n"]));
        let poller = Poller::new(&site, &catalogue).unwrap();
        let entry = |n: &str| poller.entry(n).unwrap();
        assert!(Arc::ptr_eq(&entry("a").plans, &entry("b").plans));
        assert!(Arc::ptr_eq(&entry("a").product, &entry("b").product));
        for other in ["c", "d", "e"] {
            assert!(
                !Arc::ptr_eq(&entry("a").plans, &entry(other).plans),
                "{other}"
            );
        }
        // the explicit service list is the one device's
        assert_eq!(poller.requests_per_cycle("e").unwrap(), 1);
        assert!(poller.requests_per_cycle("a").unwrap() > 1);
        assert_eq!(poller.product("d").unwrap().reference(), "ECR380D");
    }
}
