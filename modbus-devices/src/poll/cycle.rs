//! The poll cycle: which services each poll of a device reads (the cyclic ones, plus the
//! identification and configuration refreshes when they are due), and the periodic loop
//! that delivers one [`Cycle`] per period.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::read::DevicePlan;
use super::{DeviceEntry, DeviceState, PollError, Poller};
use crate::catalogue::{Product, Refresh};
use crate::device::{BusKind, DeviceInstance};
use crate::plan::{Plan, PlanDevice, PlanError};
use crate::value::Reading;

/// How often the poller re-reads the configuration services of a device by default: hourly.
pub const DEFAULT_CONFIG_REFRESH: Duration = Duration::from_secs(3600);

/// The readings of one poll cycle of [`Poller::run`], delivered together.
#[derive(Debug, Clone, PartialEq)]
pub struct Cycle {
    /// 1 for the first cycle of the run, then +1 per cycle (a gap would be a lost cycle).
    pub number: u64,
    /// When the cycle started (the tick), UTC.
    pub started: DateTime<Utc>,
    /// When its last answer was decoded, UTC.
    pub finished: DateTime<Utc>,
    /// Every reading of the cycle, in configuration order (devices), then catalogue order
    /// (services of a device).
    pub readings: Vec<Reading>,
}

/// The read plans of one device, one per combination of due refreshes, built once.
#[derive(Debug, Clone)]
pub(crate) struct RefreshPlans {
    /// Indexed by `identification as usize | (configuration as usize) << 1`.
    plans: [DevicePlan; 4],
}

impl RefreshPlans {
    /// The classes a poll reads, for the index of [`RefreshPlans::plans`].
    fn classes(index: usize) -> Vec<Refresh> {
        let mut c = vec![Refresh::Cyclic];
        if index & 1 != 0 {
            c.push(Refresh::Identification);
        }
        if index & 2 != 0 {
            c.push(Refresh::Configuration);
        }
        c
    }

    /// The plans of `instance`. A device with an explicit service list reads that list in
    /// every poll, so its four plans are one.
    pub(crate) fn new(
        instance: &DeviceInstance,
        bus: &BusKind,
        product: &Product,
    ) -> Result<Self, PlanError> {
        let build = |index: usize| {
            DevicePlan::new(PlanDevice::for_instance(
                instance,
                bus,
                product,
                &Self::classes(index),
            ))
        };
        let cyclic = build(0)?;
        let plans = if instance.services.is_some() {
            [cyclic.clone(), cyclic.clone(), cyclic.clone(), cyclic]
        } else {
            [cyclic, build(1)?, build(2)?, build(3)?]
        };
        Ok(Self { plans })
    }

    /// The plan of a poll reading the cyclic services and the due refreshes, merged into
    /// one set of requests.
    pub(crate) fn get(&self, identification: bool, configuration: bool) -> &DevicePlan {
        &self.plans[usize::from(identification) | usize::from(configuration) << 1]
    }
}

/// What a device's next poll must read besides its cyclic services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Due {
    pub(crate) identification: bool,
    pub(crate) configuration: bool,
}

/// Refresh bookkeeping of one device (inside its runtime lock).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefreshState {
    /// The identification services are to be read (at first contact, after "not
    /// communicating", after the device was re-enabled).
    pub(crate) identification_due: bool,
    /// When the configuration services were last read with an answer.
    pub(crate) configuration_read: Option<Instant>,
}

impl Default for RefreshState {
    fn default() -> Self {
        Self {
            identification_due: true,
            configuration_read: None,
        }
    }
}

impl RefreshState {
    /// What is due now, for a device in `state`. Nothing is added to the polls of a device
    /// that does not answer: its refreshes wait until it is back.
    pub(crate) fn due(&self, state: DeviceState, config_refresh: Duration) -> Due {
        let reachable = state != DeviceState::NotCommunicating;
        Due {
            identification: reachable && self.identification_due,
            configuration: reachable
                && self
                    .configuration_read
                    .is_none_or(|t| t.elapsed() >= config_refresh),
        }
    }

    /// Record a poll that read `due`: answered or not.
    pub(crate) fn polled(&mut self, due: Due, answered: bool) {
        if answered {
            if due.identification {
                self.identification_due = false;
            }
            if due.configuration {
                self.configuration_read = Some(Instant::now());
            }
        } else {
            self.identification_due = true;
        }
    }
}

impl Poller {
    /// Re-read the configuration services every `every` instead of hourly
    /// ([`DEFAULT_CONFIG_REFRESH`]); `Duration::ZERO` reads them in every cycle.
    ///
    /// ```
    /// use modbus_devices::Catalogue;
    /// use modbus_devices::device::Installation;
    /// use modbus_devices::poll::Poller;
    /// use std::time::Duration;
    ///
    /// let catalogue = Catalogue::builtin().unwrap();
    /// let poller = Poller::new(&Installation::default(), &catalogue)
    ///     .unwrap()
    ///     .with_config_refresh(Duration::from_secs(600));
    /// assert_eq!(poller.config_refresh(), Duration::from_secs(600));
    /// ```
    pub fn with_config_refresh(mut self, every: Duration) -> Self {
        self.config_refresh = every;
        self
    }

    /// The configuration refresh period.
    pub fn config_refresh(&self) -> Duration {
        self.config_refresh
    }

    /// The plan of the poller's regular cycle (the cyclic services of every enabled
    /// device, or its explicit service list), built by the same path as the requests the
    /// poller sends ([`PlanDevice::for_instance`]): its requests, wire time and bounds.
    ///
    /// ```
    /// use modbus_devices::Catalogue;
    /// use modbus_devices::device::{Bus, BusKind, DeviceAddress, DeviceInstance, Installation, RtuSettings};
    /// use modbus_devices::poll::Poller;
    ///
    /// let catalogue = Catalogue::builtin().unwrap();
    /// let mut site = Installation::default();
    /// site.add_bus(Bus { name: "rs485".into(), kind: BusKind::Rtu(RtuSettings::new("/dev/ttyUSB0")) }).unwrap();
    /// site.add_device(DeviceInstance::new("main", "ECR380D", "rs485", DeviceAddress::Unit(1))).unwrap();
    /// let poller = Poller::new(&site, &catalogue).unwrap();
    /// let plan = poller.plan().unwrap();
    /// assert_eq!(plan.request_count(), poller.requests_per_cycle("main").unwrap());
    /// assert!(plan.devices()[0].services().all(|s| s.id != "vendor"));
    /// ```
    pub fn plan(&self) -> Result<Plan<'_>, PlanError> {
        Plan::build(
            self.devices
                .iter()
                .filter(|d| self.enabled(d))
                .map(|d| d.plan_device(&[Refresh::Cyclic])),
        )
    }

    /// Number of requests of a regular cycle of the device (its cyclic services, or its
    /// explicit service list), when every request is answered.
    pub fn requests_per_cycle(&self, device: &str) -> Result<usize, PollError> {
        Ok(self.entry(device)?.plans.get(false, false).blocks.len())
    }

    /// What the next poll of `d` reads besides its cyclic services.
    pub(super) fn due(&self, d: &DeviceEntry) -> Due {
        d.runtime().map_or(
            Due {
                identification: false,
                configuration: false,
            },
            |rt| rt.refresh.due(rt.stats.state, self.config_refresh),
        )
    }

    /// Poll every `period` (the first poll at once) and send each cycle's readings to
    /// `tx` as one [`Cycle`], until the receiver is dropped.
    ///
    /// Missed ticks use [`MissedTickBehavior::Delay`]: when a cycle (slow or faulted
    /// devices, timeouts and retries) or a slow receiver takes longer than `period`, the
    /// next cycle starts as soon as it can and the following ones `period` after it. So
    /// two cycles never start less than `period` apart: no catch-up burst (tokio's
    /// default, `Burst`, fires the missed ticks back to back) and no early tick (`Skip`
    /// fires the late tick at once and then keeps the original grid, so the next start can
    /// follow it by less than `period`). A consumer that keeps one value per point per
    /// second (the store) therefore never sees two cycles in one second with a period of
    /// one second or more. A `period` below 1 ms is taken as 1 ms.
    pub async fn run(&self, period: Duration, tx: mpsc::Sender<Cycle>) {
        let period = period.max(Duration::from_millis(1));
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut number = 0u64;
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = tx.closed() => break,
            }
            number += 1;
            let started = Utc::now();
            let readings = self.poll_once().await;
            let cycle = Cycle {
                number,
                started,
                finished: Utc::now(),
                readings,
            };
            if tx.send(cycle).await.is_err() {
                break;
            }
        }
        self.shutdown().await;
    }

    /// [`Poller::run`] on a new task.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use modbus_devices::device::{Bus, BusKind, DeviceAddress, DeviceInstance, Installation, TcpSettings};
    /// use modbus_devices::poll::Poller;
    /// use modbus_devices::sim::{SimClock, Simulator};
    /// use modbus_devices::Catalogue;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let catalogue = Catalogue::builtin()?;
    /// let sim = Simulator::new(SimClock::real());
    /// sim.add_device(1, catalogue.require("ECR380D")?.clone())?;
    /// let (addr, _server) = sim.serve_tcp("127.0.0.1:0").await?;
    /// let mut site = Installation::default();
    /// site.add_bus(Bus { name: "lan".into(), kind: BusKind::Tcp(TcpSettings::new("127.0.0.1", addr.port())) })?;
    /// site.add_device(DeviceInstance::new("main", "ECR380D", "lan", DeviceAddress::Unit(1)))?;
    ///
    /// let poller = Arc::new(Poller::new(&site, &catalogue)?);
    /// let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    /// let task = poller.clone().spawn(Duration::from_millis(100), tx);
    /// let first = rx.recv().await.unwrap();
    /// let second = rx.recv().await.unwrap();
    /// assert_eq!((first.number, second.number), (1, 2));
    /// // The first poll also reads the identification and configuration services.
    /// assert!(first.readings.iter().any(|r| r.service == "vendor"));
    /// assert!(!second.readings.iter().any(|r| r.service == "vendor"));
    /// assert!(second.readings.iter().any(|r| r.service == "v_l1_n"));
    /// drop(rx); // ends the run
    /// task.await?;
    /// # Ok(()) }
    /// ```
    pub fn spawn(
        self: Arc<Self>,
        period: Duration,
        tx: mpsc::Sender<Cycle>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move { self.run(period, tx).await })
    }
}

impl DeviceEntry {
    /// The device as the poller plans it, reading `classes` (see
    /// [`PlanDevice::for_instance`]).
    pub(super) fn plan_device(&self, classes: &[Refresh]) -> PlanDevice<'_> {
        PlanDevice::for_instance(&self.instance, &self.bus_kind, &self.product, classes)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn refreshes_wait_for_an_answer_and_come_back_after_silence() {
        let hour = DEFAULT_CONFIG_REFRESH;
        let mut r = RefreshState::default();
        let first = r.due(DeviceState::Unknown, hour);
        assert_eq!(
            first,
            Due {
                identification: true,
                configuration: true
            }
        );
        // Not answered: everything stays due.
        r.polled(first, false);
        assert_eq!(r.due(DeviceState::Unknown, hour), first);
        // Not communicating: nothing is added to its polls.
        assert_eq!(
            r.due(DeviceState::NotCommunicating, hour),
            Due {
                identification: false,
                configuration: false
            }
        );
        r.polled(first, true);
        let regular = r.due(DeviceState::Communicating, hour);
        assert_eq!(
            regular,
            Due {
                identification: false,
                configuration: false
            }
        );
        // Silent again: the identification is read once it answers again.
        r.polled(regular, false);
        assert!(r.due(DeviceState::Communicating, hour).identification);
        assert!(!r.due(DeviceState::Communicating, hour).configuration);
        // A zero refresh reads the configuration every time.
        assert!(
            r.due(DeviceState::Communicating, Duration::ZERO)
                .configuration
        );
    }
}
