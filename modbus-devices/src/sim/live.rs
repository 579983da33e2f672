//! A hook for devices whose registers follow a model of their own (a controller's
//! setpoints, computed from its parameters): the caller computes some holding registers at
//! each read and sees every request the device receives.

use chrono::{DateTime, Utc};
use tokio_modbus::Request;

/// What a request asked of a device, as a [`LiveRegisters`] hook sees it (before the
/// device checks and answers it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestSeen {
    /// The function code (3 read holding registers, 6 write one register, ...).
    pub function: u8,
    /// The first 0-based address (the read address of FC23).
    pub address: u16,
    /// How many registers or bits it reads or writes (1 for FC5 / FC6; 0 for requests
    /// without an address).
    pub count: u16,
}

impl RequestSeen {
    pub(crate) fn of(request: &Request<'_>) -> Self {
        let (function, address, count) = match request {
            Request::ReadCoils(a, n) => (1, *a, *n),
            Request::ReadDiscreteInputs(a, n) => (2, *a, *n),
            Request::ReadHoldingRegisters(a, n) => (3, *a, *n),
            Request::ReadInputRegisters(a, n) => (4, *a, *n),
            Request::WriteSingleCoil(a, _) => (5, *a, 1),
            Request::WriteSingleRegister(a, _) => (6, *a, 1),
            Request::WriteMultipleCoils(a, b) => (15, *a, b.len() as u16),
            Request::WriteMultipleRegisters(a, w) => (16, *a, w.len() as u16),
            Request::ReadWriteMultipleRegisters(a, n, _, _) => (23, *a, *n),
            Request::ReadDeviceIdentification(..) => (43, 0, 0),
            _ => (0, 0, 0),
        };
        Self {
            function,
            address,
            count,
        }
    }
}

/// Holding registers a caller computes at each read of one simulated device, over what the
/// physics model and the stored parameters hold (see
/// [`Simulator::set_live_registers`](super::Simulator::set_live_registers)).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use modbus_devices::Catalogue;
/// use modbus_devices::sim::{LiveRegisters, RequestSeen, SimClock, Simulator};
///
/// /// Serves the minute of the clock at address 0x1000 and counts requests.
/// #[derive(Debug, Default)]
/// struct Minute(Mutex<Vec<RequestSeen>>);
///
/// impl LiveRegisters for Minute {
///     fn holding(
///         &self,
///         now: chrono::DateTime<chrono::Utc>,
///         _parameter: &dyn Fn(u16) -> Option<u16>,
///     ) -> Vec<(u16, u16)> {
///         use chrono::Timelike;
///         vec![(0x1000, now.minute() as u16)]
///     }
///     fn request(&self, seen: RequestSeen) {
///         self.0.lock().unwrap().push(seen);
///     }
/// }
///
/// let sim = Simulator::new(SimClock::real());
/// sim.add_device(1, Catalogue::builtin().unwrap().require("ECR380D").unwrap().clone()).unwrap();
/// let live = Arc::new(Minute::default());
/// assert!(sim.set_live_registers(1, live.clone()));
/// assert!(!sim.set_live_registers(2, live), "no device at unit 2");
/// ```
pub trait LiveRegisters: Send + Sync + std::fmt::Debug {
    /// The holding registers (0-based address, word) to serve at `now`, over the model's
    /// values; `parameter(address)` gives the stored word of a one-register parameter.
    /// Only addresses the read may reach are served: the product's address rules
    /// (blocks, forbidden ranges) still decide which reads are answered.
    fn holding(
        &self,
        now: DateTime<Utc>,
        parameter: &dyn Fn(u16) -> Option<u16>,
    ) -> Vec<(u16, u16)>;

    /// Called with every request the device receives, before it is checked and answered
    /// (also requests that end in an exception). Does nothing by default.
    fn request(&self, seen: RequestSeen) {
        let _ = seen;
    }
}
