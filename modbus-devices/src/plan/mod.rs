//! Read planning: the requests of one poll cycle.
//!
//! The planner takes the enabled devices, each with its [`Product`] and the services it
//! must read ([`PlanDevice`]), and returns a [`Plan`]: per device, the read [`Request`]s
//! (function code, start address, count) and, for each request, which values it serves at
//! which offset of the response. Registers are merged per device and function code into
//! as few and as short requests as the product's [`RequestLimits`](crate::catalogue::RequestLimits) allow:
//!
//! * at most `max_registers_per_read` registers per read (and never more than the
//!   protocol's 125 registers or 2000 bits);
//! * at most `max_gap` unused registers read through between two wanted values (a run of
//!   registers that no selected value uses, strictly inside a request);
//! * when the product documents blocks for a table, every request lies inside one block;
//! * a request never touches a forbidden range.
//!
//! Validity is checked by [`RequestLimits::allows`](crate::catalogue::RequestLimits::allows) plus the gap rule.
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

mod decode;
mod optimal;
mod request;
pub mod wire;

use std::time::Duration;

use crate::Catalogue;
use crate::catalogue::{Product, Refresh, Service, SignatureCheck};
use crate::device::Installation;
use crate::error::{CatalogueError, DeviceError};
use crate::register::FunctionCode;

pub use decode::{DecodedService, DecodedSignature, ServiceSlot};
pub use request::PlanDevice;

use wire::RtuLine;

/// The protocol's largest read of registers (FC3, FC4).
pub const MAX_READ_REGISTERS: u16 = 125;

/// The protocol's largest read of bits (FC1, FC2).
pub const MAX_READ_BITS: u16 = 2000;

/// The default RTU baud rate: 19 200 Bd, the Hager energy server's (see [`crate::device`]).
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
}
