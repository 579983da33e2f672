//! Read planning: the requests of one poll cycle.
//!
//! The planner takes the enabled devices, each with its [`Product`] and the services it
//! must read ([`PlanDevice`]), and returns a [`Plan`]: per device, the read [`Request`]s
//! (function code, start address, count) and, for each request, which values it serves at
//! which offset of the response. Registers are merged per device and function code into
//! as few and as short requests as the product's [`RequestLimits`] allow:
//!
//! * at most `max_registers_per_read` registers per read (and never more than the
//!   protocol's 125 registers or 2000 bits);
//! * at most `max_gap` unused registers read through between two wanted values (a run of
//!   registers that no selected value uses, strictly inside a request);
//! * when the product documents blocks for a table, every request lies inside one block;
//! * a request never touches a forbidden range.
//!
//! Validity is checked by [`RequestLimits::allows`] plus the gap rule.
//!
//! # Algorithm and why it is optimal
//!
//! Requests of different devices or function codes are independent, so each (device,
//! function code) group is planned on its own. Inside a group the *items* (selected
//! services, signature reads, scale registers) are sorted by (first address, last
//! address). A request is charged with its cost under the device's [`CostModel`]: by
//! default the RTU wire time of the transaction (see [`wire`]) plus the device's latency,
//! which grows with the request's length and has a positive fixed part per request.
//! A dynamic programme over that order finds the cheapest partition of the items into
//! **contiguous runs**, each read by one request spanning the run's hull (first address of
//! its first item to the largest last address):
//! `best[j] = min over i < j of best[i] + cost(hull(items i..j))`, where a hull must be a
//! valid request. A hull only grows as `j` grows and validity is monotone (a longer
//! request breaks the same limits), so the inner loop stops at the first invalid hull:
//! the work is O(items × items-per-request) per group.
//!
//! Optimality over *all* plans, not only run partitions: take any optimal plan and shrink
//! every request to the hull of the items it contains (still valid: `allows` holds for
//! sub-ranges, and gaps strictly inside only shrink). No request's hull contains another's,
//! or the inner one could be dropped, saving its positive fixed cost. So the requests,
//! sorted by start, also have increasing ends. Assign each item to the *last* request (in
//! that order) containing it. If items a < b < c went to requests Ri, Rj, Ri with j ≠ i:
//! for j > i, Rj starts at or before b and so before c, and ends after Ri which contains
//! c, so c would have gone to the later Rj; for j < i, b starts inside Ri (after a), is
//! not in Ri, so ends after Ri — but Rj contains b and ends before Ri. Both contradict, so
//! every request serves a contiguous run, whose hull costs no more than the request. The
//! DP's minimum is therefore the global minimum. Ties are broken by fewer requests.
//! (The property tests check this against a brute force over every partition.)
//!
//! # The three figures
//!
//! [`Plan::wire_time`] is the planned cycle's RTU wire time. Two references frame it:
//!
//! * [`Plan::per_service`]: one request per item (each service, signature read and
//!   scale register read alone) — what a naive poller does.
//! * [`Plan::lower_bound`]: a bound no valid plan can beat. For each device and function
//!   code, the product's *maximal blocks* are the ranges a single request could span if
//!   there were no size limit: its documented blocks for that table (overlapping blocks
//!   joined), or the whole table when it documents none, minus the forbidden ranges. For
//!   each maximal block holding `w` wanted registers (bits), the bound counts
//!   `⌈w / max_registers_per_read⌉` requests (the fewest that can carry them, since no
//!   request crosses a block) carrying exactly the `w` wanted registers and nothing of the
//!   gaps. With one block that fits in one read, this is "one request per block".
//!
//! ```
//! use modbus_devices::Catalogue;
//! use modbus_devices::plan::{Plan, PlanDevice};
//! use std::path::Path;
//!
//! let mut catalogue = Catalogue::new();
//! catalogue.load_str(Path::new("demo.toml"), r#"
//!     [[product]]
//!     references = ["DEMO"]
//!     vendor = "Demo"
//!     model = "Meter"
//!     defaults = { function_code = 3 }
//!     limits = { max_registers_per_read = 64, max_gap = 4, forbidden = [{ from = 10, to = 19 }] }
//!
//!     [[product.service]]
//!     id = "v"
//!     name = "Voltage"
//!     quantity = "voltage"
//!     unit = "V"
//!     category = "voltage"
//!     register = { address = 0, type = "u16", scale = 0.1 }
//!
//!     [[product.service]]
//!     id = "i"
//!     name = "Current"
//!     quantity = "current"
//!     unit = "A"
//!     category = "current"
//!     register = { address = 3, type = "u32", scale = 0.001 }
//!
//!     [[product.service]]
//!     id = "e"
//!     name = "Energy"
//!     quantity = "active_energy_import"
//!     unit = "kWh"
//!     category = "energy"
//!     register = { address = 20, type = "u32" }
//! "#).unwrap();
//! let product = catalogue.get("DEMO").unwrap();
//!
//! let plan = Plan::build([PlanDevice::new("meter-1", 1, product)]).unwrap();
//! let requests: Vec<_> = plan.requests().map(|(_, r)| (r.address, r.count)).collect();
//! // 0..=4 read through the 2-register gap; 20..=21 alone (10..=19 is forbidden).
//! assert_eq!(requests, [(0, 5), (20, 2)]);
//!
//! // Decode the responses of the cycle.
//! let responses = vec![vec![Some(vec![2315u16, 0, 0, 0, 12_500]), Some(vec![0, 42])]];
//! let values = plan.decode(&responses);
//! let v: Vec<_> = values[0].iter().map(|d| (d.service.id.as_str(), d.value().cloned())).collect();
//! assert_eq!(v[0], ("v", Some(modbus_devices::Value::Number(231.5))));
//! assert_eq!(v[2], ("e", Some(modbus_devices::Value::Number(42.0))));
//!
//! // Figures at 19 200 Bd.
//! assert!(plan.lower_bound(19_200) <= plan.wire_time(19_200));
//! assert!(plan.wire_time(19_200) < plan.per_service(19_200));
//! ```

pub mod wire;

use std::time::Duration;

use crate::Catalogue;
use crate::catalogue::{Product, Refresh, RequestLimits, Service, SignatureCheck};
use crate::device::{BusKind, DeviceInstance, Installation};
use crate::error::{CatalogueError, CodecError, DeviceError};
use crate::register::{Access, FunctionCode, RegisterDef};
use crate::value::{Quality, Value};

use wire::{RtuLine, WireTally};

/// The protocol's largest read of registers (FC3, FC4).
pub const MAX_READ_REGISTERS: u16 = 125;

/// The protocol's largest read of bits (FC1, FC2).
pub const MAX_READ_BITS: u16 = 2000;

/// The default RTU baud rate (products.md: 19 200 Bd).
pub const DEFAULT_BAUD: u32 = 19_200;

/// What the planner minimises for a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CostModel {
    /// The RTU wire time of the cycle at this baud rate, plus the device's latency per
    /// request (see [`wire`]): reading through a gap pays off while the gap is shorter
    /// than a request's fixed cost.
    Rtu {
        /// Line speed in bit/s.
        baud: u32,
    },
    /// The number of requests, then the number of registers read: for Modbus/TCP, where a
    /// round trip costs far more than the bytes.
    FewestRequests,
}

impl Default for CostModel {
    fn default() -> Self {
        Self::Rtu { baud: DEFAULT_BAUD }
    }
}

/// One device to plan: who it is, its product and what to read.
#[derive(Debug, Clone)]
pub struct PlanDevice<'a> {
    /// Device instance name (points are `name/service`).
    pub name: String,
    /// Bus name (informational: requests of different buses are independent).
    pub bus: String,
    /// Modbus unit id (RTU slave address or TCP unit id).
    pub unit: u8,
    /// The product.
    pub product: &'a Product,
    /// Service ids to read; `None` reads every readable service (access `read` or
    /// `read_write`; write-only command registers are skipped).
    pub services: Option<Vec<String>>,
    /// Also read the product's signature (identification) registers.
    pub signature: bool,
    /// What to minimise.
    pub cost: CostModel,
    /// Per-transaction turnaround (slave response time plus master turnaround) added to the
    /// wire time; zero by default, so the model stays pure wire time.
    pub latency: Duration,
}

impl<'a> PlanDevice<'a> {
    /// A device reading all services of `product`, no signature, RTU cost at 19 200 Bd, no
    /// latency, on an unnamed bus.
    ///
    /// ```
    /// use modbus_devices::Catalogue;
    /// use modbus_devices::plan::{PlanDevice, CostModel};
    /// use std::time::Duration;
    ///
    /// let catalogue = Catalogue::builtin().unwrap();
    /// let d = PlanDevice::new("main", 1, catalogue.get("ECR380D").unwrap())
    ///     .on_bus("rs485-1")
    ///     .with_services(["v_l1_n"])
    ///     .with_signature()
    ///     .with_cost(CostModel::Rtu { baud: 9600 })
    ///     .with_latency(Duration::from_millis(5));
    /// assert_eq!(d.services.as_deref(), Some(&["v_l1_n".to_string()][..]));
    /// ```
    pub fn new(name: impl Into<String>, unit: u8, product: &'a Product) -> Self {
        Self {
            name: name.into(),
            bus: String::new(),
            unit,
            product,
            services: None,
            signature: false,
            cost: CostModel::default(),
            latency: Duration::ZERO,
        }
    }

    /// Set the bus name.
    pub fn on_bus(mut self, bus: impl Into<String>) -> Self {
        self.bus = bus.into();
        self
    }

    /// Read only these services.
    pub fn with_services<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.services = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// Read the readable services whose [`Refresh`] class is one of `classes` (the one
    /// definition of what changes and what is static: [`Service::refresh`]).
    ///
    /// ```
    /// use modbus_devices::Catalogue;
    /// use modbus_devices::catalogue::Refresh;
    /// use modbus_devices::plan::PlanDevice;
    ///
    /// let catalogue = Catalogue::builtin().unwrap();
    /// let ecr = catalogue.get("ECR380D").unwrap();
    /// let d = PlanDevice::new("main", 1, ecr).with_refresh(&[Refresh::Identification]);
    /// assert!(d.services.unwrap().iter().any(|id| id == "vendor"));
    /// ```
    pub fn with_refresh(mut self, classes: &[Refresh]) -> Self {
        self.services = Some(
            self.product
                .services_refreshed(classes)
                .map(|s| s.id.clone())
                .collect(),
        );
        self
    }

    /// Read the services that change ([`Refresh::Cyclic`]: measurements, energies, states,
    /// alarms), not the identification ones (vendor, product code, versions, serial number)
    /// nor the configuration read back. Those are static: the poller reads them when it
    /// reaches a device and on a slow refresh, not in every cycle. This is the selection
    /// of the poller's regular cycle for a device without an explicit service list.
    ///
    /// ```
    /// use modbus_devices::Catalogue;
    /// use modbus_devices::plan::PlanDevice;
    ///
    /// let catalogue = Catalogue::builtin().unwrap();
    /// let ecr = catalogue.get("ECR380D").unwrap();
    /// let d = PlanDevice::new("main", 1, ecr).with_cyclic_services();
    /// let ids = d.services.unwrap();
    /// assert!(ids.iter().any(|id| id == "v_l1_n"));
    /// assert!(!ids.iter().any(|id| id == "vendor"));
    /// ```
    pub fn with_cyclic_services(self) -> Self {
        self.with_refresh(&[Refresh::Cyclic])
    }

    /// The device as the poller plans it: named after the instance, on its bus, with the
    /// cost model of the bus (the RTU wire time at the line's baud rate; at
    /// [`DEFAULT_BAUD`] for a serial line behind a TCP gateway, whose speed is unknown;
    /// the fewest requests over Modbus/TCP and TLS), reading the instance's explicit
    /// service list when it has one, otherwise the services of the refresh `classes`
    /// (the regular cycle is `&[Refresh::Cyclic]`).
    ///
    /// [`Plan::for_installation`] and the poller both build their devices here.
    ///
    /// ```
    /// use modbus_devices::Catalogue;
    /// use modbus_devices::catalogue::Refresh;
    /// use modbus_devices::device::{BusKind, DeviceAddress, DeviceInstance, RtuSettings};
    /// use modbus_devices::plan::{CostModel, PlanDevice};
    ///
    /// let catalogue = Catalogue::builtin().unwrap();
    /// let ecr = catalogue.get("ECR380D").unwrap();
    /// let bus = BusKind::Rtu(RtuSettings::new("/dev/ttyUSB0"));
    /// let mut main = DeviceInstance::new("main", "ECR380D", "rs485", DeviceAddress::Unit(1));
    /// let d = PlanDevice::for_instance(&main, &bus, ecr, &[Refresh::Cyclic]);
    /// assert_eq!(d.cost, CostModel::Rtu { baud: 19_200 });
    /// assert!(!d.services.unwrap().iter().any(|id| id == "vendor"));
    /// main.services = Some(vec!["vendor".into()]);
    /// let d = PlanDevice::for_instance(&main, &bus, ecr, &[Refresh::Cyclic]);
    /// assert_eq!(d.services.unwrap(), ["vendor"]);
    /// ```
    pub fn for_instance(
        instance: &DeviceInstance,
        bus: &BusKind,
        product: &'a Product,
        classes: &[Refresh],
    ) -> Self {
        let cost = match bus {
            BusKind::Rtu(s) => CostModel::Rtu { baud: s.baud },
            // A serial line behind a gateway: its speed is unknown, take the default.
            BusKind::RtuOverTcp(_) => CostModel::Rtu { baud: DEFAULT_BAUD },
            BusKind::Tcp(_) | BusKind::Tls(_) => CostModel::FewestRequests,
        };
        let d = Self::new(instance.name.clone(), instance.address.unit_id(), product)
            .on_bus(instance.bus.clone())
            .with_cost(cost);
        match &instance.services {
            Some(ids) => d.with_services(ids.iter().cloned()),
            None => d.with_refresh(classes),
        }
    }

    /// Also read the signature.
    pub fn with_signature(mut self) -> Self {
        self.signature = true;
        self
    }

    /// Set the cost model.
    pub fn with_cost(mut self, cost: CostModel) -> Self {
        self.cost = cost;
        self
    }

    /// Set the per-transaction latency.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }
}

/// Errors of planning.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// A selected service id that the product does not have.
    #[error("device {device:?}: product {reference:?} has no service {service:?}")]
    UnknownService {
        /// device name
        device: String,
        /// product reference
        reference: String,
        /// the unknown id
        service: String,
    },
    /// A value that no request allowed by the product's limits can read.
    #[error(
        "device {device:?}: {what} at {function_code} {address:#06x}..={last:#06x} cannot be read within the product's limits (expected at most {max} per read, inside one documented block, outside the forbidden ranges, below address 0x10000)"
    )]
    Unreadable {
        /// device name
        device: String,
        /// what it is (`service v_l1_n`, `signature[0]`, `scale register 0x0010`)
        what: String,
        /// table
        function_code: FunctionCode,
        /// first address
        address: u32,
        /// last address (inclusive)
        last: u32,
        /// largest read the product allows in that table
        max: u16,
    },
    /// A device's product is not in the catalogue.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    /// A device's bus is not configured.
    #[error(transparent)]
    Device(#[from] DeviceError),
}

/// What a slot of a request holds. Indices are into the product's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Item {
    /// `product.services[i]`.
    Service(usize),
    /// `product.signature[i]`.
    Signature(usize),
    /// The scale register (one S16, in the request's table) at this address, needed by a
    /// service with a [`crate::register::ScaleRegister`].
    ScaleRegister(u16),
}

/// One value inside a request's response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// What it is.
    pub item: Item,
    /// Offset of its first word (bit) in the response.
    pub offset: u16,
    /// Number of words (bits).
    pub count: u16,
}

/// One read request of a device.
#[derive(Clone)]
pub struct Request<'a> {
    /// Function code (1..=4).
    pub function_code: FunctionCode,
    /// First 0-based address.
    pub address: u16,
    /// Number of registers (bits on FC1/FC2).
    pub count: u16,
    product: &'a Product,
    slots: Vec<Slot>,
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("function_code", &self.function_code)
            .field("address", &self.address)
            .field("count", &self.count)
            .field("slots", &self.slots)
            .finish()
    }
}

impl std::fmt::Debug for DevicePlan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevicePlan")
            .field("name", &self.name)
            .field("bus", &self.bus)
            .field("unit", &self.unit)
            .field("product", &self.product.reference())
            .field("cost", &self.cost)
            .field("latency", &self.latency)
            .field("requests", &self.requests)
            .finish()
    }
}

/// A service served by a request, at an offset of its response.
#[derive(Debug, Clone, Copy)]
pub struct ServiceSlot<'a> {
    /// The service.
    pub service: &'a Service,
    /// Offset of its first word (bit) in the response.
    pub offset: u16,
}

impl<'a> ServiceSlot<'a> {
    /// The service id.
    pub fn id(&self) -> &'a str {
        &self.service.id
    }

    /// Its register definition.
    pub fn register(&self) -> &'a RegisterDef {
        &self.service.register
    }

    /// Its words (bits) within a response, or [`CodecError::WrongLength`] when the
    /// response is too short.
    pub fn words<'w>(&self, response: &'w [u16]) -> Result<&'w [u16], CodecError> {
        let def = self.register();
        slice(response, self.offset, def.count(), def.address)
    }

    /// Decode it from the request's response (services with a scale register need
    /// [`Request::decode`] or [`DevicePlan::decode`], which find that register).
    pub fn decode(&self, response: &[u16]) -> Result<Option<Value>, CodecError> {
        self.register().decode(self.words(response)?)
    }
}

fn slice(words: &[u16], offset: u16, count: u16, address: u16) -> Result<&[u16], CodecError> {
    let from = usize::from(offset);
    let to = from + usize::from(count);
    words.get(from..to).ok_or(CodecError::WrongLength {
        address,
        expected: usize::from(count),
        found: words.len().saturating_sub(from).min(usize::from(count)),
    })
}

impl<'a> Request<'a> {
    /// Last address read (inclusive).
    pub fn last_address(&self) -> u32 {
        u32::from(self.address) + u32::from(self.count).saturating_sub(1)
    }

    /// Every value the request serves, in address order.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The services it serves, with their offsets.
    pub fn services(&self) -> impl Iterator<Item = ServiceSlot<'a>> + '_ {
        let product = self.product;
        self.slots.iter().filter_map(move |s| match s.item {
            Item::Service(i) => product.services.get(i).map(|service| ServiceSlot {
                service,
                offset: s.offset,
            }),
            _ => None,
        })
    }

    /// The signature reads it serves, with their offsets.
    pub fn signature_checks(&self) -> impl Iterator<Item = (&'a SignatureCheck, u16)> + '_ {
        let product = self.product;
        self.slots.iter().filter_map(move |s| match s.item {
            Item::Signature(i) => product.signature.get(i).map(|c| (c, s.offset)),
            _ => None,
        })
    }

    /// Decode every service this request serves from its response words (bits as 0/1 on
    /// FC1/FC2). A scale register read by this same request is applied; one read by
    /// another request is not visible here (use [`DevicePlan::decode`]).
    pub fn decode(
        &self,
        response: &[u16],
    ) -> Vec<(&'a Service, Result<Option<Value>, CodecError>)> {
        self.services()
            .map(|slot| {
                let def = slot.register();
                let scale = def.scale_register.and_then(|sr| {
                    let fc = sr.function_code.unwrap_or(def.function_code);
                    if fc != self.function_code {
                        return None;
                    }
                    self.slots
                        .iter()
                        .find(|s| s.item == Item::ScaleRegister(sr.address))
                        .and_then(|s| response.get(usize::from(s.offset)))
                        .map(|w| *w as i16)
                });
                let result = slot
                    .words(response)
                    .and_then(|w| def.decode_scaled(w, scale));
                (slot.service, result)
            })
            .collect()
    }

    /// RTU wire time of this request at `baud` (no latency).
    pub fn wire_time(&self, baud: u32) -> Duration {
        RtuLine::new(baud).read_transaction(self.function_code, u32::from(self.count))
    }
}

/// Where a value is: request index and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Loc {
    request: usize,
    offset: u16,
}

/// A value the plan must read, as an address interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Want {
    fc: FunctionCode,
    start: u32,
    end: u32,
    item: Item,
}

/// The decoded value of one service after a poll cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedService<'a> {
    /// The service.
    pub service: &'a Service,
    /// `None` when the request carrying it (or its scale register) got no response;
    /// otherwise the codec's result: `Ok(None)` is "not available" on the device.
    pub result: Option<Result<Option<Value>, CodecError>>,
}

impl DecodedService<'_> {
    /// The value, when it was read, decoded and available.
    pub fn value(&self) -> Option<&Value> {
        match &self.result {
            Some(Ok(Some(v))) => Some(v),
            _ => None,
        }
    }

    /// Good when the device answered and the value decoded, including a "not available"
    /// sentinel (then [`DecodedService::value`] is `None`); bad when not read or not
    /// decodable. This is the rule of [`Quality`].
    pub fn quality(&self) -> Quality {
        match &self.result {
            Some(Ok(_)) => Quality::Good,
            _ => Quality::Bad,
        }
    }
}

/// The decoded value of one signature read.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedSignature<'a> {
    /// The check.
    pub check: &'a SignatureCheck,
    /// As in [`DecodedService::result`].
    pub result: Option<Result<Option<Value>, CodecError>>,
}

impl DecodedSignature<'_> {
    /// Whether the value read satisfies the check.
    pub fn matches(&self) -> bool {
        match &self.result {
            Some(Ok(v)) => self.check.expect.matches(v.as_ref()),
            _ => false,
        }
    }
}

/// The requests of one device.
#[derive(Clone)]
pub struct DevicePlan<'a> {
    name: String,
    bus: String,
    unit: u8,
    product: &'a Product,
    cost: CostModel,
    latency: Duration,
    requests: Vec<Request<'a>>,
    services: Vec<(usize, Loc)>,
    signature: Vec<(usize, Loc)>,
    scales: Vec<(FunctionCode, u16, Loc)>,
    wants: Vec<Want>,
}

impl<'a> DevicePlan<'a> {
    /// Device name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bus name.
    pub fn bus(&self) -> &str {
        &self.bus
    }

    /// Unit id.
    pub fn unit(&self) -> u8 {
        self.unit
    }

    /// The product.
    pub fn product(&self) -> &'a Product {
        self.product
    }

    /// The cost model it was planned with.
    pub fn cost_model(&self) -> CostModel {
        self.cost
    }

    /// Per-transaction latency.
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// The requests, by function code then address.
    pub fn requests(&self) -> &[Request<'a>] {
        &self.requests
    }

    /// The selected services, in selection order.
    pub fn services(&self) -> impl Iterator<Item = &'a Service> + '_ {
        let product = self.product;
        self.services
            .iter()
            .filter_map(move |(i, _)| product.services.get(*i))
    }

    /// Decode the selected services (in selection order) from the responses of the
    /// device's requests: `responses[i]` is the words (bits as 0/1) answered to
    /// `requests()[i]`, or `None` when that request failed. Missing entries count as
    /// failed. Never panics, whatever the lengths.
    pub fn decode<W: AsRef<[u16]>>(&self, responses: &[Option<W>]) -> Vec<DecodedService<'a>> {
        let response = |r: usize| -> Option<&[u16]> {
            responses.get(r).and_then(Option::as_ref).map(AsRef::as_ref)
        };
        self.services
            .iter()
            .filter_map(|(i, loc)| {
                let service = self.product.services.get(*i)?;
                let def = &service.register;
                let result = (|| {
                    let words = response(loc.request)?;
                    let scale = match def.scale_register {
                        None => None,
                        Some(sr) => {
                            let fc = sr.function_code.unwrap_or(def.function_code);
                            let at = self
                                .scales
                                .iter()
                                .find(|(f, a, _)| *f == fc && *a == sr.address)
                                .map(|(_, _, l)| *l)?;
                            match response(at.request)?.get(usize::from(at.offset)) {
                                Some(raw) => Some(*raw as i16),
                                None => {
                                    return Some(Err(CodecError::WrongLength {
                                        address: sr.address,
                                        expected: 1,
                                        found: 0,
                                    }));
                                }
                            }
                        }
                    };
                    Some(
                        slice(words, loc.offset, def.count(), def.address)
                            .and_then(|w| def.decode_scaled(w, scale)),
                    )
                })();
                Some(DecodedService { service, result })
            })
            .collect()
    }

    /// Decode the signature reads (when planned with a signature), in the product's order.
    pub fn decode_signature<W: AsRef<[u16]>>(
        &self,
        responses: &[Option<W>],
    ) -> Vec<DecodedSignature<'a>> {
        self.signature
            .iter()
            .filter_map(|(i, loc)| {
                let check = self.product.signature.get(*i)?;
                let def = &check.register;
                let result = responses
                    .get(loc.request)
                    .and_then(Option::as_ref)
                    .map(|w| {
                        slice(w.as_ref(), loc.offset, def.count(), def.address)
                            .and_then(|w| def.decode(w))
                    });
                Some(DecodedSignature { check, result })
            })
            .collect()
    }

    fn planned_tally(&self) -> WireTally {
        let mut t = WireTally::default();
        for r in &self.requests {
            t.add_read(r.function_code, u32::from(r.count));
        }
        t.add_latency(self.latency, self.requests.len());
        t
    }

    fn per_service_tally(&self) -> WireTally {
        let mut t = WireTally::default();
        for w in &self.wants {
            t.add_read(w.fc, w.end - w.start + 1);
        }
        t.add_latency(self.latency, self.wants.len());
        t
    }

    fn lower_bound_tally(&self) -> WireTally {
        let mut t = WireTally::default();
        let limits = &self.product.limits;
        let mut k = 0;
        while k < self.wants.len() {
            let fc = self.wants[k].fc;
            let group_end = k + self.wants[k..].iter().take_while(|w| w.fc == fc).count();
            let union = union_of(&self.wants[k..group_end]);
            let cap = u32::from(max_read(limits, fc)).max(1);
            for (a, b) in maximal_blocks(limits, fc) {
                let w: u32 = union
                    .iter()
                    .map(|&(x, y)| {
                        let lo = x.max(a);
                        let hi = y.min(b);
                        if lo <= hi { hi - lo + 1 } else { 0 }
                    })
                    .sum();
                if w > 0 {
                    let requests = w.div_ceil(cap);
                    t.add_reads(fc, requests, w);
                    t.add_latency(self.latency, requests as usize);
                }
            }
            k = group_end;
        }
        t
    }

    /// Planned wire time of this device's requests at `baud`, with its latency.
    pub fn wire_time(&self, baud: u32) -> Duration {
        self.planned_tally().time(&RtuLine::new(baud))
    }

    /// Lower bound of this device's wire time (see the module documentation).
    pub fn lower_bound(&self, baud: u32) -> Duration {
        self.lower_bound_tally().time(&RtuLine::new(baud))
    }

    /// Wire time of one request per item (see the module documentation).
    pub fn per_service(&self, baud: u32) -> Duration {
        self.per_service_tally().time(&RtuLine::new(baud))
    }

    fn build(d: PlanDevice<'a>) -> Result<Self, PlanError> {
        let product = d.product;
        let limits = &product.limits;
        // The selection, de-duplicated, in order.
        let mut chosen = vec![false; product.services.len()];
        let mut selected = Vec::new();
        match &d.services {
            None => {
                for (i, s) in product.services.iter().enumerate() {
                    if s.register.access != Access::Write {
                        chosen[i] = true;
                        selected.push(i);
                    }
                }
            }
            Some(ids) => {
                for id in ids {
                    let i = product
                        .services
                        .iter()
                        .position(|s| &s.id == id)
                        .ok_or_else(|| PlanError::UnknownService {
                            device: d.name.clone(),
                            reference: product.reference().to_string(),
                            service: id.clone(),
                        })?;
                    if !chosen[i] {
                        chosen[i] = true;
                        selected.push(i);
                    }
                }
            }
        }

        let mut wants = Vec::with_capacity(selected.len() + 4);
        let mut add = |fc: FunctionCode,
                       def_count: u16,
                       address: u16,
                       item: Item,
                       what: &dyn Fn() -> String| {
            let start = u32::from(address);
            let end = start + u32::from(def_count.max(1)) - 1;
            if !readable(limits, fc, start, end) {
                return Err(PlanError::Unreadable {
                    device: d.name.clone(),
                    what: what(),
                    function_code: fc,
                    address: start,
                    last: end,
                    max: max_read(limits, fc),
                });
            }
            wants.push(Want {
                fc,
                start,
                end,
                item,
            });
            Ok(())
        };
        let mut scale_keys: Vec<(FunctionCode, u16)> = Vec::new();
        for &i in &selected {
            let s = &product.services[i];
            let r = &s.register;
            add(
                r.function_code,
                r.count(),
                r.address,
                Item::Service(i),
                &|| format!("service {}", s.id),
            )?;
            if let Some(sr) = r.scale_register {
                let fc = sr.function_code.unwrap_or(r.function_code);
                if !scale_keys.contains(&(fc, sr.address)) {
                    scale_keys.push((fc, sr.address));
                    add(fc, 1, sr.address, Item::ScaleRegister(sr.address), &|| {
                        format!("scale register {:#06x} of service {}", sr.address, s.id)
                    })?;
                }
            }
        }
        if d.signature {
            for (k, c) in product.signature.iter().enumerate() {
                let r = &c.register;
                add(
                    r.function_code,
                    r.count(),
                    r.address,
                    Item::Signature(k),
                    &|| format!("signature[{k}]"),
                )?;
            }
        }
        wants.sort_by_key(|w| (w.fc, w.start, w.end, w.item));

        let latency_ns = d.latency.as_nanos();
        let mut requests: Vec<Request<'a>> = Vec::new();
        let mut k = 0;
        while k < wants.len() {
            let fc = wants[k].fc;
            let group_end = k + wants[k..].iter().take_while(|w| w.fc == fc).count();
            let group = &wants[k..group_end];
            let cost = request_cost(d.cost, latency_ns, fc);
            for (i, j, end) in plan_runs(limits, fc, group, &cost) {
                let start = group[i].start;
                requests.push(Request {
                    function_code: fc,
                    // readable() guarantees every address fits u16.
                    address: start as u16,
                    count: (end - start + 1) as u16,
                    product,
                    slots: group[i..=j]
                        .iter()
                        .map(|w| Slot {
                            item: w.item,
                            offset: (w.start - start) as u16,
                            count: (w.end - w.start + 1) as u16,
                        })
                        .collect(),
                });
            }
            k = group_end;
        }

        let mut service_loc: Vec<Option<Loc>> = vec![None; product.services.len()];
        let mut signature = Vec::new();
        let mut scales = Vec::new();
        for (r, req) in requests.iter().enumerate() {
            for s in &req.slots {
                let loc = Loc {
                    request: r,
                    offset: s.offset,
                };
                match s.item {
                    Item::Service(i) => service_loc[i] = Some(loc),
                    Item::Signature(i) => signature.push((i, loc)),
                    Item::ScaleRegister(a) => scales.push((req.function_code, a, loc)),
                }
            }
        }
        signature.sort_by_key(|(i, _)| *i);
        let services = selected
            .iter()
            .filter_map(|&i| service_loc[i].map(|l| (i, l)))
            .collect();
        Ok(Self {
            name: d.name,
            bus: d.bus,
            unit: d.unit,
            product,
            cost: d.cost,
            latency: d.latency,
            requests,
            services,
            signature,
            scales,
            wants,
        })
    }
}

/// Largest read the product allows in a table.
fn max_read(limits: &RequestLimits, fc: FunctionCode) -> u16 {
    if fc.is_bit_table() {
        MAX_READ_BITS
    } else {
        limits.max_registers_per_read.min(MAX_READ_REGISTERS)
    }
}

/// Whether one request may read `[start, end]`.
fn readable(limits: &RequestLimits, fc: FunctionCode, start: u32, end: u32) -> bool {
    start <= end
        && end <= u32::from(u16::MAX)
        && end - start < u32::from(max_read(limits, fc))
        && limits.allows(fc, start, end)
}

/// The largest `end` for which [`readable`]`(limits, fc, start, end)` holds, if any.
fn max_end(limits: &RequestLimits, fc: FunctionCode, start: u32) -> Option<u32> {
    let mut cap = (start + u32::from(max_read(limits, fc))).checked_sub(1)?;
    cap = cap.min(u32::from(u16::MAX));
    for f in limits.forbidden.iter().filter(|f| f.function_code == fc) {
        let (from, to) = (u32::from(f.from), u32::from(f.to));
        if from <= start && start <= to {
            return None;
        }
        if from > start {
            cap = cap.min(from - 1);
        }
    }
    if limits.blocks.iter().any(|b| b.function_code == fc) {
        let block_end = limits
            .blocks
            .iter()
            .filter(|b| {
                b.function_code == fc && u32::from(b.from) <= start && start <= u32::from(b.to)
            })
            .map(|b| u32::from(b.to))
            .max()?;
        cap = cap.min(block_end);
    }
    (cap >= start).then_some(cap)
}

/// Sorted, merged union of the wants' intervals (adjacent intervals joined).
fn union_of(wants: &[Want]) -> Vec<(u32, u32)> {
    let mut sorted: Vec<(u32, u32)> = wants.iter().map(|w| (w.start, w.end)).collect();
    sorted.sort_unstable();
    let mut union: Vec<(u32, u32)> = Vec::with_capacity(sorted.len());
    for (s, e) in sorted {
        match union.last_mut() {
            Some(last) if s <= last.1 + 1 => last.1 = last.1.max(e),
            _ => union.push((s, e)),
        }
    }
    union
}

/// The maximal ranges one request could span ignoring the size limit: the documented
/// blocks of the table (overlapping ones joined) or the whole table, minus forbidden ranges.
fn maximal_blocks(limits: &RequestLimits, fc: FunctionCode) -> Vec<(u32, u32)> {
    let mut base: Vec<(u32, u32)> = limits
        .blocks
        .iter()
        .filter(|b| b.function_code == fc && b.from <= b.to)
        .map(|b| (u32::from(b.from), u32::from(b.to)))
        .collect();
    if base.is_empty() {
        base.push((0, u32::from(u16::MAX)));
    }
    base.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(base.len());
    for (s, e) in base {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    for f in limits.forbidden.iter().filter(|f| f.function_code == fc) {
        let (fs, fe) = (u32::from(f.from), u32::from(f.to));
        merged = merged
            .into_iter()
            .flat_map(|(s, e)| {
                let mut parts = Vec::with_capacity(2);
                if fe < s || fs > e {
                    parts.push((s, e));
                } else {
                    if fs > s {
                        parts.push((s, fs - 1));
                    }
                    if fe < e {
                        parts.push((fe + 1, e));
                    }
                }
                parts
            })
            .collect();
    }
    merged
}

/// Cost of one request of `count` registers (bits): (primary, tie-break), compared
/// lexicographically and summed.
type Cost = (u128, u128);

fn request_cost(model: CostModel, latency_ns: u128, fc: FunctionCode) -> impl Fn(u32) -> Cost {
    // RTU: the wire time times the baud rate, exact in integers (see `RtuLine`):
    // (13 bytes + data) * 11e9 + 2 * t3.5 + baud * latency.
    let (per_request, per_byte, rtu) = match model {
        CostModel::Rtu { baud } => {
            let line = RtuLine::new(baud);
            let fixed = RtuLine::chars_scaled(u64::from(
                wire::READ_REQUEST_BYTES + wire::READ_RESPONSE_OVERHEAD_BYTES,
            )) + 2 * line.silence_scaled()
                + u128::from(line.baud()) * latency_ns;
            (fixed, RtuLine::chars_scaled(1), true)
        }
        CostModel::FewestRequests => (1, 0, false),
    };
    move |count: u32| {
        if rtu {
            let data = u128::from(wire::response_data_bytes(fc, count));
            (per_request + data * per_byte, 1)
        } else {
            (per_request, u128::from(count))
        }
    }
}

/// The DP over one (device, function code) group, sorted by (start, end). Returns the runs
/// `(first, last, hull end)` of the cheapest partition. Every single item must be readable.
fn plan_runs(
    limits: &RequestLimits,
    fc: FunctionCode,
    group: &[Want],
    cost: &dyn Fn(u32) -> Cost,
) -> Vec<(usize, usize, u32)> {
    let n = group.len();
    if n == 0 {
        return Vec::new();
    }
    let union = union_of(group);
    let in_union = |x: u32| union.partition_point(|u| u.1 < x);
    // gaps[k]: unused registers between union[k] and union[k + 1].
    let gaps: Vec<u32> = union.windows(2).map(|w| w[1].0 - w[0].1 - 1).collect();
    let uidx_end: Vec<usize> = group.iter().map(|w| in_union(w.end)).collect();
    let max_gap = u32::from(limits.max_gap);

    // The furthest end a request starting at each item may reach (`allows` is monotone in
    // the end address), so the inner loop compares numbers instead of scanning the limits.
    let reach_limit: Vec<Option<u32>> =
        group.iter().map(|w| max_end(limits, fc, w.start)).collect();

    let mut best: Vec<Option<Cost>> = vec![None; n + 1];
    let mut from = vec![0usize; n + 1];
    let mut hull_end = vec![0u32; n + 1];
    best[0] = Some((0, 0));
    for i in 0..n {
        let Some(base) = best[i] else { continue };
        let start = group[i].start;
        let mut end = group[i].end;
        let mut checked = in_union(start);
        let mut reach = uidx_end[i];
        for j in i..n {
            end = end.max(group[j].end);
            reach = reach.max(uidx_end[j]);
            let mut gaps_ok = true;
            while checked < reach {
                if gaps[checked] > max_gap {
                    gaps_ok = false;
                    break;
                }
                checked += 1;
            }
            if !gaps_ok || reach_limit[i].is_none_or(|m| end > m) {
                break;
            }
            debug_assert!(readable(limits, fc, start, end));
            let c = cost(end - start + 1);
            let total = (base.0 + c.0, base.1 + c.1);
            if best[j + 1].is_none_or(|b| total < b) {
                best[j + 1] = Some(total);
                from[j + 1] = i;
                hull_end[j + 1] = end;
            }
        }
    }
    let mut runs = Vec::new();
    let mut j = n;
    while j > 0 {
        let i = from[j];
        runs.push((i, j - 1, hull_end[j]));
        j = i;
    }
    runs.reverse();
    runs
}

/// The requests of one poll cycle, per device.
#[derive(Debug, Clone, Default)]
pub struct Plan<'a> {
    devices: Vec<DevicePlan<'a>>,
}

impl<'a> Plan<'a> {
    /// Plan the given devices (see the module documentation for the algorithm).
    ///
    /// ```
    /// use modbus_devices::Catalogue;
    /// use modbus_devices::plan::{Plan, PlanDevice};
    ///
    /// let catalogue = Catalogue::builtin().unwrap();
    /// let ecr = catalogue.get("ECR380D").unwrap();
    /// let plan = Plan::build((1..=3).map(|u| PlanDevice::new(format!("m{u}"), u, ecr))).unwrap();
    /// assert_eq!(plan.devices().len(), 3);
    /// for (device, request) in plan.requests() {
    ///     assert!(ecr.limits.allows(request.function_code, request.address.into(), request.last_address()));
    ///     assert!(request.services().count() > 0, "{}", device.name());
    /// }
    /// ```
    pub fn build(devices: impl IntoIterator<Item = PlanDevice<'a>>) -> Result<Self, PlanError> {
        Ok(Self {
            devices: devices
                .into_iter()
                .map(DevicePlan::build)
                .collect::<Result<_, _>>()?,
        })
    }

    /// The plan of the poller's regular cycle for the enabled devices of an installation:
    /// each device as [`PlanDevice::for_instance`] builds it for [`Refresh::Cyclic`] (its
    /// explicit service list, or the services that change), devices on an RTU bus planned
    /// for its baud rate, on a serial gateway for [`DEFAULT_BAUD`], the others
    /// ([`CostModel::FewestRequests`]) for the fewest requests.
    ///
    /// ```
    /// use modbus_devices::Catalogue;
    /// use modbus_devices::device::{Installation, Bus, BusKind, RtuSettings, DeviceInstance, DeviceAddress};
    /// use modbus_devices::plan::{Plan, CostModel};
    ///
    /// let catalogue = Catalogue::builtin().unwrap();
    /// let mut site = Installation::default();
    /// site.add_bus(Bus { name: "rs485".into(), kind: BusKind::Rtu(RtuSettings::new("/dev/ttyUSB0")) }).unwrap();
    /// site.add_device(DeviceInstance::new("main", "ECR380D", "rs485", DeviceAddress::Unit(1))).unwrap();
    /// let mut off = DeviceInstance::new("spare", "ECR380D", "rs485", DeviceAddress::Unit(2));
    /// off.enabled = false;
    /// site.add_device(off).unwrap();
    /// let plan = Plan::for_installation(&site, &catalogue).unwrap();
    /// assert_eq!(plan.devices().len(), 1);
    /// assert_eq!(plan.devices()[0].cost_model(), CostModel::Rtu { baud: 19_200 });
    /// assert!(plan.devices()[0].services().all(|s| s.id != "vendor"));
    /// ```
    pub fn for_installation(
        installation: &Installation,
        catalogue: &'a Catalogue,
    ) -> Result<Self, PlanError> {
        let mut devices = Vec::new();
        for d in installation.devices.iter().filter(|d| d.enabled) {
            let product = catalogue.require(&d.product)?;
            let bus = installation.bus(&d.bus)?;
            devices.push(PlanDevice::for_instance(
                d,
                &bus.kind,
                product,
                &[Refresh::Cyclic],
            ));
        }
        Self::build(devices)
    }

    /// The devices' plans, in input order.
    pub fn devices(&self) -> &[DevicePlan<'a>] {
        &self.devices
    }

    /// Every request with its device.
    pub fn requests(&self) -> impl Iterator<Item = (&DevicePlan<'a>, &Request<'a>)> + '_ {
        self.devices
            .iter()
            .flat_map(|d| d.requests.iter().map(move |r| (d, r)))
    }

    /// Number of requests in the cycle.
    pub fn request_count(&self) -> usize {
        self.devices.iter().map(|d| d.requests.len()).sum()
    }

    fn tally(&self, f: impl Fn(&DevicePlan<'a>) -> WireTally) -> WireTally {
        self.devices
            .iter()
            .map(f)
            .fold(WireTally::default(), |a, b| a + b)
    }

    /// Wire time of the planned cycle if every device sat on one RTU line at `baud`
    /// (including each device's latency per request).
    pub fn wire_time(&self, baud: u32) -> Duration {
        self.tally(DevicePlan::planned_tally)
            .time(&RtuLine::new(baud))
    }

    /// The lower bound: per device and maximal block, the fewest requests that can carry
    /// the wanted registers, carrying nothing else (see the module documentation).
    pub fn lower_bound(&self, baud: u32) -> Duration {
        self.tally(DevicePlan::lower_bound_tally)
            .time(&RtuLine::new(baud))
    }

    /// The baseline of one request per service (and per signature read, scale register).
    pub fn per_service(&self, baud: u32) -> Duration {
        self.tally(DevicePlan::per_service_tally)
            .time(&RtuLine::new(baud))
    }

    /// Decode every device's services: `responses[d][r]` answers request `r` of device
    /// `d` (see [`DevicePlan::decode`]). Devices without responses decode as not read.
    pub fn decode<W: AsRef<[u16]>>(
        &self,
        responses: &[Vec<Option<W>>],
    ) -> Vec<Vec<DecodedService<'a>>> {
        self.devices
            .iter()
            .enumerate()
            .map(|(k, d)| d.decode(responses.get(k).map_or(&[][..], Vec::as_slice)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::catalogue::AddressRange;

    fn range(fc: FunctionCode, from: u16, to: u16) -> AddressRange {
        AddressRange {
            function_code: fc,
            from,
            to,
        }
    }

    #[test]
    fn maximal_blocks_join_and_cut() {
        let h = FunctionCode::Holding;
        let limits = RequestLimits {
            max_registers_per_read: 10,
            max_gap: 0,
            blocks: vec![range(h, 0, 10), range(h, 5, 20), range(h, 30, 40)],
            forbidden: vec![
                range(h, 8, 9),
                range(h, 40, 50),
                range(FunctionCode::Input, 0, 100),
            ],
        };
        assert_eq!(maximal_blocks(&limits, h), vec![(0, 7), (10, 20), (30, 39)]);
        assert_eq!(
            maximal_blocks(&limits, FunctionCode::Input),
            vec![(101, 65535)]
        );
        assert_eq!(
            maximal_blocks(&limits, FunctionCode::Coils),
            vec![(0, 65535)]
        );
    }

    #[test]
    fn max_end_agrees_with_allows() {
        let h = FunctionCode::Holding;
        let limits = RequestLimits {
            max_registers_per_read: 20,
            max_gap: 0,
            blocks: vec![range(h, 0, 10), range(h, 5, 40), range(h, 60, 70)],
            forbidden: vec![range(h, 30, 31), range(h, 65, 65)],
        };
        for fc in [h, FunctionCode::Input, FunctionCode::Coils] {
            for start in 0..100u32 {
                let by_scan = (start..start + 2100)
                    .take_while(|&e| readable(&limits, fc, start, e))
                    .last();
                assert_eq!(max_end(&limits, fc, start), by_scan, "{fc} {start}");
            }
        }
        assert_eq!(max_end(&limits, FunctionCode::Input, 65_530), Some(65_535));
        let zero = RequestLimits {
            max_registers_per_read: 0,
            ..RequestLimits::default()
        };
        assert_eq!(max_end(&zero, h, 0), None);
    }

    #[test]
    fn readable_checks_protocol_and_product_limits() {
        let l = RequestLimits::default();
        assert!(readable(&l, FunctionCode::Holding, 0, 124));
        assert!(!readable(&l, FunctionCode::Holding, 0, 125));
        assert!(readable(&l, FunctionCode::Coils, 0, 1999));
        assert!(!readable(&l, FunctionCode::Coils, 0, 2000));
        assert!(!readable(&l, FunctionCode::Holding, 65535, 65536));
        let mut l = l;
        l.max_registers_per_read = 200; // hand-built products cannot exceed the protocol
        assert!(!readable(&l, FunctionCode::Input, 0, 125));
    }
}
