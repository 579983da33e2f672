//! Modbus address scan: which unit ids of one bus answer, and which catalogue product each
//! one is (feature `io`).
//!
//! [`scan_bus`] probes a range of unit ids on one bus ([`Bus`]: Modbus/TCP, RTU over TCP,
//! TLS or a serial line), one unit after the other on one connection, with a short
//! per-unit timeout ([`ScanOptions::timeout`], no retries by default), and classifies each
//! unit ([`UnitStatus`]):
//! - [`UnitStatus::NoAnswer`]: nothing came back in time (or a gateway answered exception
//!   0x0A / 0x0B: no device behind it at that unit id);
//! - [`UnitStatus::Answers`]: the unit answered (data or exceptions), but no catalogue
//!   product's signature matches;
//! - [`UnitStatus::Identified`]: a catalogue product's signature matches (every check of
//!   [`Product::signature`]), or the unit reported a catalogue product code through "Read
//!   Device Identification" (FC43 / MEI type 14, for products with a
//!   [`Product::product_code`]).
//!
//! # What is sent to each unit
//! The signature reads of the catalogue's products, in catalogue order, each distinct read
//! once (an answer is reused by every product that checks the same registers). When the
//! first read gets no answer at all, the unit is [`UnitStatus::NoAnswer`] and nothing more is
//! sent to it: a silent unit costs one timeout. A unit that answered is then asked for its
//! device identification (FC43, basic objects) when [`ScanOptions::device_id`] is set and the
//! catalogue has products with a product code, unless a signature without a product code
//! already identified it. A product whose signature holds only plausibility checks
//! ([`Expect::Within`]) is reported with
//! [`IdentifiedBy::Plausibility`]: it proves the registers answer sensibly, not which product
//! it is (the other products that pass are listed in `alternatives`).
//!
//! Odd answers (wrong lengths, undecodable words, unknown exception codes) never panic: they
//! count as answers that match no signature. Transport problems that make the scan
//! meaningless (the bus cannot be opened or reached) end it with a [`ScanError`].
//!
//! Progress is reported through a callback after every unit ([`Progress`]), so a caller
//! can draw a progress bar.
//!
//! # Example
//! Three simulated products at units 1, 2 and 5 of a Modbus/TCP simulator on loopback:
//! ```
//! use std::time::Duration;
//! use modbus_devices::device::{Bus, BusKind, TcpSettings};
//! use modbus_devices::scan::{ScanOptions, UnitStatus, scan_bus};
//! use modbus_devices::sim::{SimClock, Simulator};
//! use modbus_devices::Catalogue;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let catalogue = Catalogue::builtin()?;
//! let sim = Simulator::new(SimClock::real());
//! sim.add_device(1, catalogue.require("ECR380D")?.clone())?;
//! sim.add_device(2, catalogue.require("ECA180D")?.clone())?;
//! sim.add_device(5, catalogue.require("SDM630")?.clone())?;
//! let (addr, _server) = sim.serve_tcp("127.0.0.1:0").await?;
//!
//! let bus = Bus { name: "lan".into(), kind: BusKind::Tcp(TcpSettings::new("127.0.0.1", addr.port())) };
//! let options = ScanOptions { units: 1..=6, timeout: Duration::from_millis(100), ..ScanOptions::default() };
//! let mut steps = Vec::new();
//! let scan = scan_bus(&bus, &catalogue, &options, |p| steps.push((p.done, p.total))).await?;
//!
//! assert_eq!(steps.last(), Some(&(6, 6)));
//! assert_eq!(scan.found().map(|u| u.unit).collect::<Vec<_>>(), [1, 2, 5]);
//! assert_eq!(scan.unit(1).and_then(|u| u.product()), Some("ECR380D"));
//! assert_eq!(scan.unit(2).and_then(|u| u.product()), Some("ECA180D"));
//! // The Eastron signature is a plausibility read: SDM630 and SDM120 both pass.
//! assert!(matches!(scan.unit(5).map(|u| &u.status), Some(UnitStatus::Identified { .. })));
//! assert!(matches!(scan.unit(3).map(|u| &u.status), Some(UnitStatus::NoAnswer { .. })));
//! println!("{}", serde_json::to_string_pretty(&scan)?);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_modbus::prelude::ReadCode;
use tokio_modbus::{Request, Response};

use crate::catalogue::{Catalogue, Expect, Product, SignatureCheck};
use crate::device::{Bus, TlsSettings};
use crate::poll::transport::{Endpoint, Failure, Link, describe_request};
use crate::poll::{BusStats, Counters, ModbusException, PollError};
use crate::register::FunctionCode;

/// Shortest per-unit timeout accepted.
pub const SCAN_TIMEOUT_MIN: Duration = Duration::from_millis(20);
/// Longest per-unit timeout accepted.
pub const SCAN_TIMEOUT_MAX: Duration = Duration::from_secs(10);

/// How to scan a bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    /// Unit ids to probe (1..=255; 0 is broadcast and never answers). Default 1..=247.
    pub units: RangeInclusive<u8>,
    /// Response timeout of one try ([`SCAN_TIMEOUT_MIN`]..=[`SCAN_TIMEOUT_MAX`], default
    /// 250 ms); replaces the bus's own timeout during the scan.
    pub timeout: Duration,
    /// Retries after the first try of each request (default 0).
    pub retries: u8,
    /// Ask answering units for their device identification (FC43 / MEI 14) when the
    /// catalogue has products with a product code (default `true`).
    pub device_id: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            units: 1..=247,
            timeout: Duration::from_millis(250),
            retries: 0,
            device_id: true,
        }
    }
}

impl ScanOptions {
    /// Check the options: a non-empty unit range without 0, a timeout within bounds.
    pub fn validate(&self) -> Result<(), ScanError> {
        if self.units.is_empty() || *self.units.start() == 0 {
            return Err(ScanError::InvalidOptions {
                field: "units",
                message: format!(
                    "must be a non-empty range within 1..=255, found {}..={}",
                    self.units.start(),
                    self.units.end()
                ),
            });
        }
        if !(SCAN_TIMEOUT_MIN..=SCAN_TIMEOUT_MAX).contains(&self.timeout) {
            return Err(ScanError::InvalidOptions {
                field: "timeout",
                message: format!(
                    "must be within {} ms..={} ms, found {} ms",
                    SCAN_TIMEOUT_MIN.as_millis(),
                    SCAN_TIMEOUT_MAX.as_millis(),
                    self.timeout.as_millis()
                ),
            });
        }
        Ok(())
    }
}

/// Errors that end a scan.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// An option is out of range.
    #[error("scan option {field}: {message}")]
    InvalidOptions {
        /// The option.
        field: &'static str,
        /// What was expected and found.
        message: String,
    },
    /// The bus settings are invalid (or its TLS files cannot be read).
    #[error("bus {bus:?}: {source}")]
    Bus {
        /// The bus.
        bus: String,
        /// Why.
        #[source]
        source: PollError,
    },
    /// The bus could not be reached (connection refused, serial port missing, TLS
    /// handshake failed) when unit `unit` was to be probed.
    #[error("bus {bus:?} ({endpoint}): cannot connect at unit {unit}: {message}")]
    Connect {
        /// The bus.
        bus: String,
        /// Where it was reached (`host:port` or the serial port).
        endpoint: String,
        /// The unit about to be probed.
        unit: u8,
        /// The connection error.
        message: String,
    },
}

/// Progress of a scan, reported after each unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Units probed so far.
    pub done: usize,
    /// Units to probe.
    pub total: usize,
    /// The unit just probed.
    pub unit: u8,
    /// Units that answered so far.
    pub found: usize,
}

/// How a product was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifiedBy {
    /// Its signature's identifying reads matched.
    Signature,
    /// Its signature matched and the device identification (FC43) reported its product code.
    SignatureAndDeviceId,
    /// Only the device identification (FC43) reported its product code.
    DeviceId,
    /// Only plausibility reads passed (the product is likely, not certain).
    Plausibility,
}

/// What "Read Device Identification" (FC43 / MEI 14, basic objects) returned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceId {
    /// Object 0x00, VendorName.
    pub vendor: Option<String>,
    /// Object 0x01, ProductCode.
    pub product_code: Option<String>,
    /// Object 0x02, MajorMinorRevision.
    pub revision: Option<String>,
}

/// What one unit did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum UnitStatus {
    /// No answer (or a gateway exception 0x0A / 0x0B: nothing behind the gateway there).
    NoAnswer {
        /// What happened.
        detail: String,
    },
    /// The unit answered, but no catalogue product matches.
    Answers {
        /// What it answered.
        detail: String,
    },
    /// A catalogue product.
    Identified {
        /// Its main reference.
        product: String,
        /// Maker.
        vendor: String,
        /// Model name.
        model: String,
        /// How it was recognised.
        by: IdentifiedBy,
        /// Other products that pass the same checks.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        alternatives: Vec<String>,
    },
}

/// The result of one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitScan {
    /// The unit id.
    pub unit: u8,
    /// Its classification.
    #[serde(flatten)]
    pub status: UnitStatus,
    /// Its device identification, when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<DeviceId>,
    /// Requests sent to it.
    pub requests: u32,
}

impl UnitScan {
    /// Whether it answered anything.
    pub fn answered(&self) -> bool {
        !matches!(self.status, UnitStatus::NoAnswer { .. })
    }

    /// The identified product's reference.
    pub fn product(&self) -> Option<&str> {
        match &self.status {
            UnitStatus::Identified { product, .. } => Some(product),
            _ => None,
        }
    }
}

/// The result of scanning one bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusScan {
    /// The bus name.
    pub bus: String,
    /// `tcp`, `rtu_over_tcp`, `tls` or `rtu`.
    pub kind: String,
    /// `host:port` or the serial port.
    pub endpoint: String,
    /// Every probed unit, in order.
    pub units: Vec<UnitScan>,
}

impl BusScan {
    /// The units that answered.
    pub fn found(&self) -> impl Iterator<Item = &UnitScan> {
        self.units.iter().filter(|u| u.answered())
    }

    /// One unit's result.
    pub fn unit(&self, unit: u8) -> Option<&UnitScan> {
        self.units.iter().find(|u| u.unit == unit)
    }
}

/// The answer to one read, as the scan sees it.
#[derive(Debug, Clone)]
enum Answer {
    Words(Vec<u16>),
    /// An exception, or an answer that cannot be used (wrong length, wrong response).
    Refused(String),
    /// Nothing (timeout, CRC, transport, gateway exception 0x0A / 0x0B).
    Nothing(String),
}

type Key = (FunctionCode, u16, u16);

fn is_gateway(e: ModbusException) -> bool {
    matches!(
        e,
        ModbusException::GatewayPathUnavailable | ModbusException::GatewayTargetFailedToRespond
    )
}

fn identifying(c: &SignatureCheck) -> bool {
    !matches!(c.expect, Expect::Within { .. })
}

fn set_timing(endpoint: &mut Endpoint, timeout: Duration, retries: u8) {
    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    match endpoint {
        Endpoint::Rtu(s) => {
            s.response_timeout_ms = ms;
            s.retries = retries;
        }
        Endpoint::Tcp(t)
        | Endpoint::RtuOverTcp(t)
        | Endpoint::Tls {
            settings: TlsSettings { tcp: t, .. },
            ..
        } => {
            t.timeout_ms = ms;
            t.retries = retries;
        }
    }
}

struct Prober<'a> {
    link: Link,
    bus: &'a Bus,
    tries: u32,
    requests: u32,
}

impl Prober<'_> {
    /// One request with the scan's tries. `Err` only when the bus cannot be reached.
    async fn call(
        &mut self,
        unit: u8,
        request: Request<'static>,
    ) -> Result<Result<Response, Answer>, ScanError> {
        let mut last = String::new();
        for _ in 0..self.tries {
            self.requests += 1;
            let (result, _) = self.link.try_once(unit, request.clone()).await;
            match result {
                Ok(r) => return Ok(Ok(r)),
                Err(Failure::Exception(e)) if is_gateway(e) => {
                    return Ok(Err(Answer::Nothing(format!("gateway answered {e}"))));
                }
                Err(Failure::Exception(e)) => {
                    return Ok(Err(Answer::Refused(format!(
                        "{}: {e}",
                        describe_request(&request)
                    ))));
                }
                Err(Failure::NotConnected(message)) => {
                    return Err(ScanError::Connect {
                        bus: self.bus.name.clone(),
                        endpoint: self.link.endpoint.describe(),
                        unit,
                        message,
                    });
                }
                Err(Failure::Timeout) => {
                    last = format!(
                        "no answer within {} ms",
                        self.link.endpoint.timeout().as_millis()
                    );
                }
                Err(Failure::Crc) => last = "CRC error".into(),
                Err(Failure::Transport(m)) => last = format!("transport error: {m}"),
                // An answer that does not parse is still an answer: something is there.
                Err(Failure::Protocol(m)) => {
                    return Ok(Err(Answer::Refused(format!(
                        "{}: unusable answer: {m}",
                        describe_request(&request)
                    ))));
                }
            }
        }
        Ok(Err(Answer::Nothing(last)))
    }

    async fn read(&mut self, unit: u8, key: Key) -> Result<Answer, ScanError> {
        let (fc, address, count) = key;
        let request = match fc {
            FunctionCode::Coils => Request::ReadCoils(address, count),
            FunctionCode::DiscreteInputs => Request::ReadDiscreteInputs(address, count),
            FunctionCode::Holding => Request::ReadHoldingRegisters(address, count),
            FunctionCode::Input => Request::ReadInputRegisters(address, count),
        };
        let what = describe_request(&request);
        Ok(match self.call(unit, request).await? {
            Err(a) => a,
            Ok(Response::ReadHoldingRegisters(w) | Response::ReadInputRegisters(w)) => {
                if w.len() == usize::from(count) {
                    Answer::Words(w)
                } else {
                    Answer::Refused(format!(
                        "{what}: expected {count} registers, found {}",
                        w.len()
                    ))
                }
            }
            Ok(Response::ReadCoils(bits) | Response::ReadDiscreteInputs(bits)) => {
                if bits.len() >= usize::from(count) {
                    Answer::Words(
                        bits.into_iter()
                            .take(usize::from(count))
                            .map(u16::from)
                            .collect(),
                    )
                } else {
                    Answer::Refused(format!(
                        "{what}: expected {count} bits, found {}",
                        bits.len()
                    ))
                }
            }
            Ok(other) => Answer::Refused(format!("{what}: unexpected answer {other:?}")),
        })
    }

    async fn device_id(&mut self, unit: u8) -> Result<Option<DeviceId>, ScanError> {
        let request = Request::ReadDeviceIdentification(ReadCode::Basic, 0);
        Ok(match self.call(unit, request).await? {
            Ok(Response::ReadDeviceIdentification(r)) => {
                let mut id = DeviceId::default();
                for o in r.device_id_objects {
                    let text = String::from_utf8_lossy(&o.value).trim().to_string();
                    match o.id {
                        0 => id.vendor = Some(text),
                        1 => id.product_code = Some(text),
                        2 => id.revision = Some(text),
                        _ => {}
                    }
                }
                Some(id)
            }
            _ => None,
        })
    }
}

/// Probe `options.units` on `bus` and classify each unit against `catalogue`'s signatures
/// (see the [module documentation](self)); `progress` is called after every unit.
///
/// Fails when the options or bus settings are invalid ([`ScanError::InvalidOptions`],
/// [`ScanError::Bus`]) or the bus cannot be reached ([`ScanError::Connect`]); a unit that
/// does not answer, or answers oddly, is a result, not an error.
pub async fn scan_bus(
    bus: &Bus,
    catalogue: &Catalogue,
    options: &ScanOptions,
    mut progress: impl FnMut(Progress),
) -> Result<BusScan, ScanError> {
    options.validate()?;
    let bus_error = |source: PollError| ScanError::Bus {
        bus: bus.name.clone(),
        source,
    };
    let mut endpoint = Endpoint::from_kind(&bus.kind).map_err(bus_error)?;
    set_timing(&mut endpoint, options.timeout, options.retries);
    let stats = Arc::new(StdMutex::new(BusStats {
        bus: bus.name.clone(),
        kind: endpoint.kind_name().to_string(),
        endpoint: endpoint.describe(),
        connected: false,
        connects: 0,
        connect_failures: 0,
        counters: Counters::default(),
        last_error: None,
    }));
    let mut result = BusScan {
        bus: bus.name.clone(),
        kind: endpoint.kind_name().to_string(),
        endpoint: endpoint.describe(),
        units: Vec::new(),
    };
    let mut prober = Prober {
        link: Link::new(endpoint, stats),
        bus,
        tries: 1 + u32::from(options.retries),
        requests: 0,
    };
    let total = options.units.clone().count();
    let ask_device_id = options.device_id
        && catalogue
            .products()
            .iter()
            .any(|p| p.product_code.is_some());
    let mut found = 0;
    let outcome = async {
        for (i, unit) in options.units.clone().enumerate() {
            prober.requests = 0;
            let scanned = probe_unit(&mut prober, catalogue, unit, ask_device_id).await?;
            if scanned.answered() {
                found += 1;
            }
            tracing::debug!(bus = %bus.name, unit, status = ?scanned.status, "unit scanned");
            result.units.push(scanned);
            progress(Progress {
                done: i + 1,
                total,
                unit,
                found,
            });
        }
        Ok::<(), ScanError>(())
    }
    .await;
    prober.link.shutdown().await;
    outcome.map(|()| result)
}

async fn probe_unit(
    prober: &mut Prober<'_>,
    catalogue: &Catalogue,
    unit: u8,
    ask_device_id: bool,
) -> Result<UnitScan, ScanError> {
    let mut cache: BTreeMap<Key, Answer> = BTreeMap::new();
    let mut answered = false;
    let mut first_refusal: Option<String> = None;
    let mut matches: Vec<&Product> = Vec::new();
    'products: for p in catalogue.products() {
        if p.signature.is_empty() {
            continue;
        }
        for c in &p.signature {
            let def = &c.register;
            let key = (def.function_code, def.address, def.count());
            let answer = match cache.get(&key) {
                Some(a) => a.clone(),
                None => {
                    let a = prober.read(unit, key).await?;
                    cache.insert(key, a.clone());
                    a
                }
            };
            match answer {
                Answer::Nothing(why) if !answered => {
                    return Ok(UnitScan {
                        unit,
                        status: UnitStatus::NoAnswer { detail: why },
                        device_id: None,
                        requests: prober.requests,
                    });
                }
                Answer::Nothing(_) => continue 'products,
                Answer::Refused(why) => {
                    answered = true;
                    first_refusal.get_or_insert(why);
                    continue 'products;
                }
                Answer::Words(words) => {
                    answered = true;
                    let ok = match def.decode(&words) {
                        Ok(v) => c.expect.matches(v.as_ref()),
                        Err(_) => false,
                    };
                    if !ok {
                        continue 'products;
                    }
                }
            }
        }
        matches.push(p);
    }
    if cache.is_empty() {
        // No product has a signature: one plain read tells whether the unit is there.
        match prober.read(unit, (FunctionCode::Holding, 0, 1)).await? {
            Answer::Nothing(why) => {
                return Ok(UnitScan {
                    unit,
                    status: UnitStatus::NoAnswer { detail: why },
                    device_id: None,
                    requests: prober.requests,
                });
            }
            Answer::Refused(why) => {
                answered = true;
                first_refusal = Some(why);
            }
            Answer::Words(_) => answered = true,
        }
    }
    // Identifying matches first; plausibility-only ones after.
    let (exact, plausible): (Vec<&Product>, Vec<&Product>) = matches
        .into_iter()
        .partition(|p| p.signature.iter().any(identifying));
    let signature_choice = exact.first().copied();
    let need_device_id = ask_device_id && signature_choice.is_none_or(|p| p.product_code.is_some());
    let device_id = if need_device_id {
        prober.device_id(unit).await?
    } else {
        None
    };
    if device_id.is_some() {
        answered = true;
    }
    let status = classify(
        catalogue,
        &exact,
        &plausible,
        device_id.as_ref(),
        answered,
        first_refusal,
    );
    Ok(UnitScan {
        unit,
        status,
        device_id,
        requests: prober.requests,
    })
}

/// The status of a unit from its signature matches and its device identification.
fn classify(
    catalogue: &Catalogue,
    exact: &[&Product],
    plausible: &[&Product],
    device_id: Option<&DeviceId>,
    answered: bool,
    first_refusal: Option<String>,
) -> UnitStatus {
    let signature_choice = exact.first().copied();
    let by_code: Option<&Product> =
        device_id
            .and_then(|d| d.product_code.as_deref())
            .and_then(|code| {
                catalogue
                    .products()
                    .iter()
                    .find(|p| p.product_code.as_deref() == Some(code))
            });
    let identified =
        |p: &Product, by: IdentifiedBy, alternatives: Vec<String>| UnitStatus::Identified {
            product: p.reference().to_string(),
            vendor: p.vendor.clone(),
            model: p.model.clone(),
            by,
            alternatives,
        };
    let others = |list: &[&Product], chosen: &Product| -> Vec<String> {
        list.iter()
            .filter(|p| p.reference() != chosen.reference())
            .map(|p| p.reference().to_string())
            .collect()
    };
    match (signature_choice, by_code) {
        (Some(p), Some(q)) if p.reference() == q.reference() => {
            identified(p, IdentifiedBy::SignatureAndDeviceId, others(exact, p))
        }
        (Some(p), _) => identified(p, IdentifiedBy::Signature, others(exact, p)),
        (None, Some(q)) => identified(q, IdentifiedBy::DeviceId, Vec::new()),
        (None, None) => match plausible.first() {
            Some(p) => identified(p, IdentifiedBy::Plausibility, others(plausible, p)),
            None if answered => UnitStatus::Answers {
                detail: match (device_id, first_refusal) {
                    (
                        Some(DeviceId {
                            product_code: Some(code),
                            ..
                        }),
                        _,
                    ) => format!("reports product code {code:?}, which no catalogue product has"),
                    (_, Some(why)) => {
                        format!("no catalogue signature matches (first refusal: {why})")
                    }
                    (_, None) => "no catalogue signature matches".to_string(),
                },
            },
            None => UnitStatus::NoAnswer {
                detail: "no answer".into(),
            },
        },
    }
}
