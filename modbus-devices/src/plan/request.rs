//! The request builder: what each device must read ([`PlanDevice`]), turned into the
//! values wanted as address intervals, grouped per function code, cut into requests by
//! the optimal planner ([`super::optimal`]) and located (which request, which offset).

use std::time::Duration;

use crate::catalogue::{Product, Refresh};
use crate::device::{BusKind, DeviceInstance};
use crate::register::{Access, FunctionCode};

use super::optimal::{max_read, plan_runs, readable, request_cost};
use super::{CostModel, DEFAULT_BAUD, DevicePlan, Item, Loc, PlanError, Request, Slot, Want};

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
    /// definition of what changes and what is static: [`Service::refresh`](crate::catalogue::Service::refresh)).
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
    /// [`Plan::for_installation`](super::Plan::for_installation) and the poller both build their devices here.
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

/// Where each planned value is: the selected services (in selection order), the signature
/// reads (in the product's order) and the scale registers.
type Located = (
    Vec<(usize, Loc)>,
    Vec<(usize, Loc)>,
    Vec<(FunctionCode, u16, Loc)>,
);

impl<'a> DevicePlan<'a> {
    /// Plan one device: select its services, list the values wanted as address intervals,
    /// cut each function code's group into the cheapest requests and locate every value.
    pub(super) fn build(d: PlanDevice<'a>) -> Result<Self, PlanError> {
        let product = d.product;
        let selected = select_services(&d)?;
        let wants = wanted_intervals(&d, &selected)?;
        let requests = cut_requests(&d, &wants);
        let (services, signature, scales) = locate(product, &selected, &requests);
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

/// The indices of the services to read, de-duplicated, in selection order: the explicit
/// list, or every service that is not write-only.
fn select_services(d: &PlanDevice<'_>) -> Result<Vec<usize>, PlanError> {
    let product = d.product;
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
    Ok(selected)
}

/// Every value the device must read as an address interval (the selected services, each
/// scale register once, the signature when asked), each checked readable on its own,
/// sorted by (function code, first address, last address, item).
fn wanted_intervals(d: &PlanDevice<'_>, selected: &[usize]) -> Result<Vec<Want>, PlanError> {
    let product = d.product;
    let limits = &product.limits;
    let mut wants = Vec::with_capacity(selected.len() + 4);
    let mut add =
        |fc: FunctionCode, def_count: u16, address: u16, item: Item, what: &dyn Fn() -> String| {
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
    for &i in selected {
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
    Ok(wants)
}

/// The requests: each function code's group of `wants` (sorted) cut by the optimal
/// planner into runs, each run read by one request spanning its hull.
fn cut_requests<'a>(d: &PlanDevice<'a>, wants: &[Want]) -> Vec<Request<'a>> {
    let product = d.product;
    let limits = &product.limits;
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
    requests
}

/// Where each value landed: the selected services in selection order, the signature
/// reads in the product's order, the scale registers.
fn locate(product: &Product, selected: &[usize], requests: &[Request<'_>]) -> Located {
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
    (services, signature, scales)
}
