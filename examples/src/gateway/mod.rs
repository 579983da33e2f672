//! The monitor's composition, written once: a [`Monitor`] built from a [`Site`] polls the
//! site's Modbus devices and M-Bus meters every live period, stores each point at its
//! recording interval in the embedded SQLite store, evaluates the alarms (the rules file,
//! the catalogue products' proposed alarms, offline alarms), delivers notifications through
//! one outbox per `[[notify]]` entry and serves values and alarms over OPC UA.
//!
//! Times are UTC inside; the site's time zone only reaches notifications (through the
//! recipients' time zone).
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use examples::gateway::{Monitor, MonitorOptions};
//! use examples::site::Site;
//!
//! let site = Site::demo()?;
//! let mut monitor = Monitor::start(&site, MonitorOptions::default()).await?;
//! let status = monitor.cycle().await?;
//! println!("{}", status.line());
//! monitor.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! ECL controllers are detected at start ([`ecl`]): the detected application key's
//! parameter map is polled like a device's product, a key that differs from the site file's
//! or a firmware rule that does not say "ok" is logged and kept ([`Monitor::ecl_status`]).
//!
//! OPC UA HistoryRead (raw) reads the store ([`history`]).
//!
//! One report run (CSV and chart into the output folder's archive) is [`report`]; the
//! site's `[[report]]` entries run on their schedule ([`schedule`]) after a cycle, on a
//! blocking thread, and the cycle after they finish says so ([`CycleStatus::reports`]).
//!
//! An ECL that answers again after not answering is detected again ([`ecl::EclWatch`]); a
//! changed key swaps its parameter map in the poller. Notifications are delivered on a
//! thread of their own ([`alarms::Notifier`]): a slow or absent receiver never delays a
//! cycle. Each point is recorded at its own interval ([`record::Recorder::for_site`]).

pub mod alarms;
pub mod ecl;
pub mod history;
pub mod mbus;
pub mod publish;
pub mod record;
pub mod report;
pub mod schedule;
pub mod tree;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ::alarms::{AckState, Engine, Occurrence, PointInfo, Priority, Status};
use chrono::Utc;
use modbus_devices::device::{DeviceAddress, DeviceInstance};
use modbus_devices::poll::{Cycle, Poller};
use opcua_bridge::server::{
    AcknowledgeRefusal, AcknowledgeRequest, AlarmAcknowledgement, AlarmOccurrence, AlarmPriority,
    Bridge, Handlers,
};
use reports::{SqliteStore, StoreOptions};

use crate::pipeline::{AlarmFeed, StoreFeed};
use crate::site::Site;

/// Errors of the monitor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The site does not make an installation.
    #[error(transparent)]
    Site(#[from] crate::site::SiteError),
    /// The poller refuses the installation.
    #[error("poller: {0}")]
    Poll(#[from] modbus_devices::poll::PollError),
    /// The store.
    #[error("store: {0}")]
    Store(#[from] reports::Error),
    /// The alarm rules, the router or a transport.
    #[error("alarms: {0}")]
    Alarms(#[from] ::alarms::Error),
    /// The OPC UA tree.
    #[error("OPC UA tree: {0}")]
    Tree(#[from] opcua_bridge::ModelError),
    /// The OPC UA server.
    #[error("OPC UA server: {0}")]
    Server(#[from] opcua_bridge::server::ServerError),
    /// An ECL controller's parameter map cannot join the poller.
    #[error("ECL {device}: {message}")]
    Ecl {
        /// The device name.
        device: String,
        /// What went wrong.
        message: String,
    },
    /// The notification delivery thread could not be started.
    #[error("notification delivery: {0}")]
    Notify(String),
    /// The store's write-ahead log could not be folded into the database at shutdown.
    #[error("store flush: {0}")]
    Flush(String),
    /// A directory could not be created.
    #[error("cannot create {}: {message}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        message: String,
    },
}

/// How long [`Monitor::shutdown`] keeps trying notifications that wait for a retry.
pub const SHUTDOWN_DELIVERY: Duration = Duration::from_secs(5);

/// What [`Monitor::start`] may change from the site file (tests, the demo).
#[derive(Debug, Clone, Default)]
pub struct MonitorOptions {
    /// The live period instead of `[poll] live`.
    pub live: Option<Duration>,
    /// The store file instead of `[store] path`.
    pub store: Option<PathBuf>,
    /// The OPC UA port instead of `[opcua] listen`'s (0: a free one).
    pub opcua_port: Option<u16>,
    /// The OPC UA PKI folder instead of `[opcua] pki`.
    pub opcua_pki: Option<PathBuf>,
    /// One recording interval for every point instead of the catalogue services' own and
    /// `[poll] record` (tests, demos: minutes are too long to watch).
    pub record: Option<Duration>,
}

/// One live cycle's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleStatus {
    /// Cycle number (1 first).
    pub number: u64,
    /// When it started.
    pub started: chrono::DateTime<Utc>,
    /// Readings taken (good or not).
    pub readings: usize,
    /// Readings with a good quality.
    pub good: usize,
    /// Good readings the recorder selected for the store (the first of each point's
    /// recording interval).
    pub recorded: u64,
    /// Samples written to the store.
    pub stored: u64,
    /// Samples the store did not take as new (late, replacing or duplicating a stored one:
    /// its `WriteReport`); 0 in a healthy run.
    pub store_refused: u64,
    /// Alarm samples the engine rejected (stale, out of order, unknown point: its
    /// `ProcessReport`); 0 in a healthy run.
    pub alarm_rejected: u64,
    /// Point values the OPC UA tree did not take (a point that is not in it, such as a new
    /// ECL key's parameter until a restart); 0 in a healthy run without OPC UA changes.
    pub opcua_rejected: u64,
    /// Open alarm occurrences (active or not yet acknowledged).
    pub alarms: usize,
    /// Notifications delivered since the previous cycle (delivery runs on a thread of its
    /// own, [`alarms::Notifier`]).
    pub notified: usize,
    /// How long the cycle took.
    pub took: Duration,
    /// Scheduled reports that finished since the last cycle, one line each
    /// ([`report::ScheduledRun::line`]).
    pub reports: Vec<String>,
}

impl CycleStatus {
    /// One plain line (logs, non-terminal output).
    pub fn line(&self) -> String {
        let mut line = format!(
            "cycle {} at {}: {}/{} good, {} stored, {} open alarms, {} notified, {} ms",
            self.number,
            self.started.format("%Y-%m-%dT%H:%M:%SZ"),
            self.good,
            self.readings,
            self.stored,
            self.alarms,
            self.notified,
            self.took.as_millis()
        );
        // Nothing is passed over silently: say so when the store or the engine refused any.
        if self.store_refused > 0 {
            line.push_str(&format!(", {} refused by the store", self.store_refused));
        }
        if self.alarm_rejected > 0 {
            line.push_str(&format!(", {} rejected by alarms", self.alarm_rejected));
        }
        if self.opcua_rejected > 0 {
            line.push_str(&format!(", {} not in the OPC UA tree", self.opcua_rejected));
        }
        for r in &self.reports {
            line.push_str(&format!("; {r}"));
        }
        line
    }
}

/// The monitor of one site.
pub struct Monitor {
    site: Site,
    live: Duration,
    poller: Poller,
    store: SqliteStore,
    store_feed: StoreFeed,
    recorder: record::Recorder,
    alarm_feed: AlarmFeed,
    notifier: alarms::Notifier,
    bridge: Option<Bridge>,
    published: std::collections::HashMap<u64, (bool, AckState)>,
    acks: tokio::sync::mpsc::UnboundedReceiver<(u64, String, String)>,
    ecl_status: Vec<ecl::EclStatus>,
    ecl_watch: ecl::EclWatch,
    ecl_products: Vec<(String, modbus_devices::Product)>,
    number: u64,
    last: Vec<modbus_devices::Reading>,
    reports: report::Background,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("site", &self.site.site.name)
            .field("live", &self.live)
            .field("cycles", &self.number)
            .finish_non_exhaustive()
    }
}

fn priority(p: Priority) -> AlarmPriority {
    match p {
        Priority::Critical => AlarmPriority::Critical,
        Priority::Major => AlarmPriority::Major,
        Priority::Minor => AlarmPriority::Minor,
        _ => AlarmPriority::Warning,
    }
}

/// The OPC UA form of an occurrence: active while not cleared, acknowledged once
/// acknowledged.
pub fn occurrence(o: &Occurrence, time: chrono::DateTime<Utc>) -> AlarmOccurrence {
    AlarmOccurrence {
        id: o.id,
        alarm: o.alarm.clone(),
        target: o.target.clone(),
        priority: priority(o.priority),
        text: o.text.clone(),
        time,
        opened_at: o.opened_at,
        raised_at: o.raised_at,
        cleared_at: o.cleared_at,
        active: o.status() != Status::Cleared,
        acknowledged: o.state == AckState::Acknowledged,
        acknowledgement: o.acknowledgement.as_ref().map(|a| AlarmAcknowledgement {
            user: a.user.clone(),
            comment: a.comment.clone(),
            time: a.time,
        }),
        value: None,
    }
}

/// The poller of the site's devices and its ECL controllers (detected first, each added
/// as a device of its parameter map's product).
async fn poller_with_ecls(
    site: &Site,
) -> Result<
    (
        Poller,
        Vec<ecl::EclStatus>,
        Vec<(String, modbus_devices::Product)>,
    ),
    GatewayError,
> {
    let installation = site.installation()?;
    let (ecl_status, ecl_products) = ecl::detect_all(&site.ecls, &installation).await;
    Ok((poller_for(site, &ecl_products)?, ecl_status, ecl_products))
}

/// The poller of the site's devices and its ECL controllers polled with `ecl_products`.
fn poller_for(
    site: &Site,
    ecl_products: &[(String, modbus_devices::Product)],
) -> Result<Poller, GatewayError> {
    let mut installation = site.installation()?;
    let mut catalogue = site.catalogue().clone();
    for (name, product) in ecl_products {
        let fail = |message: String| GatewayError::Ecl {
            device: name.clone(),
            message,
        };
        let Some(e) = site.ecls.iter().find(|e| e.name == *name) else {
            continue;
        };
        catalogue
            .add(product.clone())
            .map_err(|err| fail(err.to_string()))?;
        installation
            .add_device(DeviceInstance::new(
                name,
                format!("ecl:{name}"),
                &e.bus,
                DeviceAddress::Unit(e.unit),
            ))
            .map_err(|err| fail(err.to_string()))?;
    }
    Ok(Poller::new(&installation, &catalogue)?)
}

impl Monitor {
    /// Open the store, build the poller, the alarm rules and the notification outboxes, and
    /// start the OPC UA server (when the site has `[opcua]`).
    ///
    /// # Errors
    /// See [`GatewayError`].
    pub async fn start(site: &Site, options: MonitorOptions) -> Result<Monitor, GatewayError> {
        let live = options.live.unwrap_or(site.poll.live);
        let recorder = record::Recorder::for_site(site, options.record);
        let (poller, ecl_status, ecl_products) = poller_with_ecls(site).await?;
        let store_path = options.store.unwrap_or_else(|| site.store_path());
        if let Some(dir) = store_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| GatewayError::Dir {
                path: dir.to_path_buf(),
                message: e.to_string(),
            })?;
        }
        let store = SqliteStore::open(&store_path, StoreOptions::default())?;

        let devices = tree::devices(site, &ecl_products);
        let mut points = Vec::new();
        let mut units = Vec::new();
        for (_, d) in &devices {
            for p in &d.points {
                let name = format!("{}/{}", d.name, p.service);
                units.push((name.clone(), p.unit.to_string()));
                points.push(PointInfo::named(&name));
            }
        }
        let rules = alarms::rule_set(site, &points)?;
        let engine = Engine::new(&rules, &points)?;
        let notifier = alarms::Notifier::new(
            site,
            &rules,
            units.iter().map(|(p, u)| (p.as_str(), u.as_str())),
        )?;

        let (acks_tx, acks) = tokio::sync::mpsc::unbounded_channel();
        let bridge = match site.opcua_config() {
            None => None,
            Some(mut config) => {
                if let Some(port) = options.opcua_port {
                    config.port = port;
                }
                if let Some(pki) = options.opcua_pki {
                    config.pki_dir = pki;
                }
                let acks = acks_tx.clone();
                let ack = move |a: &AcknowledgeRequest| -> Result<(), AcknowledgeRefusal> {
                    acks.send((a.occurrence, a.user.clone(), a.comment.clone()))
                        .map_err(|_| {
                            AcknowledgeRefusal::InvalidState("the monitor is stopping".into())
                        })
                };
                let history = history::StoreHistory::open(&store_path)?;
                let handlers = Handlers::default()
                    .with_acknowledge(Arc::new(ack))
                    .with_history(Arc::new(history));
                let tree = opcua_bridge::PointTree::new(tree::tree(site, &ecl_products))?;
                Some(Bridge::start_with(config, tree, handlers).await?)
            }
        };
        tracing::info!(
            site = %site.site.name,
            store = %store_path.display(),
            live_s = live.as_secs_f64(),
            record_s = site.poll.record.as_secs(),
            rules = rules.rules().len(),
            opcua = bridge.as_ref().map_or("off", |b| b.endpoint_url()),
            "monitor started"
        );
        Ok(Monitor {
            site: site.clone(),
            live,
            poller,
            store,
            store_feed: StoreFeed::new(),
            recorder,
            alarm_feed: AlarmFeed::new(engine),
            notifier,
            bridge,
            published: std::collections::HashMap::new(),
            acks,
            ecl_watch: ecl::EclWatch::new(&ecl_status),
            ecl_status,
            ecl_products,
            number: 0,
            last: Vec::new(),
            reports: report::Background::new(site),
        })
    }

    /// What ECL detection found, one status per `[[ecl]]`: at start, then again each time a
    /// controller answers after not answering ([`ecl::EclWatch`]).
    pub fn ecl_status(&self) -> &[ecl::EclStatus] {
        &self.ecl_status
    }

    /// The last cycle's readings (Modbus devices, ECLs, M-Bus meters; good or not), empty
    /// before the first cycle.
    pub fn last_readings(&self) -> &[modbus_devices::Reading] {
        &self.last
    }

    /// The live period.
    pub fn live(&self) -> Duration {
        self.live
    }

    /// The OPC UA endpoint (`opc.tcp://HOST:PORT/`), when serving.
    pub fn opcua_endpoint(&self) -> Option<&str> {
        self.bridge.as_ref().map(Bridge::endpoint_url)
    }

    /// The alarm occurrences and their log.
    pub fn book(&self) -> &::alarms::Book {
        &self.notifier.book
    }

    /// Notifications waiting for a retry.
    pub fn pending_notifications(&self) -> usize {
        self.notifier.pending()
    }

    /// The cycle's transitions and the OPC UA acknowledgements into the book: the new log
    /// entries, the number of open occurrences, and the occurrences whose OPC UA state
    /// changed (closed ones last, inactive and acknowledged).
    fn book_step(
        &mut self,
        transitions: &[::alarms::Transition],
        now: chrono::DateTime<Utc>,
    ) -> Result<(Vec<::alarms::LogEntry>, usize, Vec<AlarmOccurrence>), GatewayError> {
        let book = &mut self.notifier.book;
        let mut entries = book.apply_transitions(self.alarm_feed.engine(), transitions)?;
        // acknowledgements from OPC UA clients since the last cycle
        while let Ok((id, user, comment)) = self.acks.try_recv() {
            match book.acknowledge(id, &user, &comment, now) {
                Ok(more) => entries.extend(more),
                Err(e) => {
                    tracing::warn!(occurrence = id, %user, "acknowledgement refused: {e}")
                }
            }
        }
        let mut changed = Vec::new();
        let mut open = 0;
        for o in book.open() {
            open += 1;
            let key = (o.status() != Status::Cleared, o.state);
            if self.published.insert(o.id, key) != Some(key) {
                changed.push(occurrence(o, now));
            }
        }
        // occurrences closed since the last cycle: publish their last state
        let gone: Vec<u64> = self
            .published
            .keys()
            .filter(|id| book.occurrence(**id).is_none())
            .copied()
            .collect();
        for id in gone {
            self.published.remove(&id);
        }
        let mut closed = std::collections::BTreeSet::new();
        for e in &entries {
            if let Some(id) = e.occurrence
                && book.occurrence(id).is_none()
                && closed.insert(id)
                && let (Some(alarm), Some(target)) = (&e.alarm, &e.target)
            {
                let mut o = AlarmOccurrence::raised(
                    id,
                    alarm.clone(),
                    target.clone(),
                    priority(e.priority.unwrap_or(Priority::Warning)),
                    e.text.clone(),
                    e.time,
                );
                o.active = false;
                o.acknowledged = true;
                o.cleared_at = Some(e.time);
                changed.push(o);
            }
        }
        Ok((entries, open, changed))
    }

    /// ECL controllers that answer again are detected again; one whose key changed is
    /// polled with the new key's parameter map from the next cycle (a new poller: the
    /// site's connections are opened again). Its new points are not in the OPC UA tree
    /// and the alarm engine, which were built at start.
    async fn ecl_detect_again(
        &mut self,
        readings: &[modbus_devices::Reading],
        now: chrono::DateTime<Utc>,
    ) {
        let swaps = self.ecl_watch.observe(&mut self.ecl_status, readings, now);
        if swaps.is_empty() {
            return;
        }
        let mut products = self.ecl_products.clone();
        for (name, product) in &swaps {
            products.retain(|(n, _)| n != name);
            products.push((name.clone(), product.clone()));
        }
        match poller_for(&self.site, &products) {
            Ok(poller) => {
                let old = std::mem::replace(&mut self.poller, poller);
                old.shutdown().await;
                self.ecl_products = products;
                for (name, _) in &swaps {
                    ecl::EclWatch::swapped(&mut self.ecl_status, name);
                    tracing::warn!(ecl = %name, "ECL now polled with its new application key's parameter map");
                }
            }
            Err(e) => tracing::error!("ECL parameter map not swapped: {e}"),
        }
    }

    /// One live cycle: read everything once, store what is due, evaluate alarms, notify,
    /// update the OPC UA server.
    ///
    /// # Errors
    /// The store's or the alarm book's errors (the cycle's readings are not stored then).
    pub async fn cycle(&mut self) -> Result<CycleStatus, GatewayError> {
        let clock = std::time::Instant::now();
        self.number += 1;
        let started = Utc::now();
        let (mut readings, meters) =
            tokio::join!(self.poller.poll_once(), mbus::read_all(&self.site));
        self.ecl_detect_again(&readings, started).await;
        readings.extend(meters);
        let cycle = Cycle {
            number: self.number,
            started,
            finished: Utc::now(),
            readings,
        };

        let due = self.recorder.select(&cycle);
        if self.store_feed.unknown_channels(&due) > 0 {
            // A new site's first cycle creates a channel per point: in one transaction, not
            // one each (committed also after an error: the channels created stay valid).
            let sql = |s: &SqliteStore, q: &str| s.connection().execute_batch(q);
            sql(&self.store, "BEGIN IMMEDIATE").map_err(reports::Error::from)?;
            let created = self.store_feed.ensure_channels(&mut self.store, &due);
            sql(&self.store, "COMMIT").map_err(reports::Error::from)?;
            created?;
        }
        let (written, _) = self.store_feed.write(&mut self.store, &due)?;

        let mut transitions = Vec::new();
        let (alarm_report, _) = self.alarm_feed.process(&cycle, &mut transitions);
        self.alarm_feed.tick(Utc::now(), &mut transitions);
        let now = Utc::now();
        let (entries, open, changed) = self.book_step(&transitions, now)?;
        // delivery runs on the notifier's thread: a slow receiver never delays the cycle
        let notified = self.notifier.route(&entries, now);

        let mut opcua_rejected = 0;
        if let Some(bridge) = &self.bridge {
            let report = bridge.update(crate::opcua_feed::updates(&cycle));
            if !report.rejected.is_empty() {
                opcua_rejected = u64::try_from(report.rejected.len()).unwrap_or(u64::MAX);
                tracing::debug!(rejected = opcua_rejected, "points not in the OPC UA tree");
            }
            for o in changed {
                if let Err(e) = bridge.publish_alarm(o) {
                    tracing::warn!("alarm event not published: {e}");
                }
            }
        }

        let good = cycle
            .readings
            .iter()
            .filter(|r| r.quality == modbus_devices::Quality::Good)
            .count();
        let readings = cycle.readings.len();
        self.last = cycle.readings;
        // scheduled reports: the finished ones, then the due ones start off the cycle
        let reports = self.reports.step(&self.site, Utc::now()).await;
        Ok(CycleStatus {
            number: self.number,
            started,
            readings,
            good,
            recorded: u64::try_from(due.readings.len()).unwrap_or(u64::MAX),
            stored: written.stored,
            store_refused: written.late + written.replaced + written.duplicates,
            alarm_rejected: alarm_report.rejected(),
            opcua_rejected,
            alarms: open,
            notified,
            took: clock.elapsed(),
            reports: reports.iter().map(report::ScheduledRun::line).collect(),
        })
    }

    /// Run live cycles every [`Monitor::live`] until `stop` completes; each cycle's status
    /// goes to `status` (a cycle that fails is logged and the next one runs).
    pub async fn run(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
        mut status: impl FnMut(&CycleStatus),
    ) {
        let mut ticks = tokio::time::interval(self.live);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                _ = ticks.tick() => {
                    match self.cycle().await {
                        Ok(s) => status(&s),
                        Err(e) => tracing::error!("cycle failed: {e}"),
                    }
                }
            }
        }
    }

    /// Stop: notifications waiting for a retry are tried for [`SHUTDOWN_DELIVERY`] at most,
    /// the OPC UA server and the poller's connections end, the store's write-ahead
    /// log is folded into the database file (every cycle was already committed when it was
    /// written: a SIGKILL loses at most the cycle being written) and the store is closed.
    ///
    /// # Errors
    /// [`GatewayError::Flush`] when the checkpoint fails (the data stays in the log, which
    /// the next start reads).
    pub async fn shutdown(mut self) -> Result<(), GatewayError> {
        for r in self.reports.finish(&self.site).await {
            tracing::info!("{}", r.line());
        }
        // notifications still waiting: tried until delivered or the time is up
        match self.notifier.stop(SHUTDOWN_DELIVERY).await {
            Some(0) => {}
            Some(left) => tracing::error!(left, "notifications not delivered at shutdown"),
            None => tracing::error!("notification delivery did not end in time"),
        }
        if let Some(bridge) = self.bridge {
            bridge.shutdown().await;
        }
        self.poller.shutdown().await;
        self.store
            .connection()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| GatewayError::Flush(e.to_string()))?;
        drop(self.store);
        tracing::info!(cycles = self.number, "monitor stopped");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ::alarms::{AlarmEvent, Condition, Rule, RuleSet, TransitionKind};
    use chrono::TimeZone;

    #[test]
    fn occurrences_map_to_opcua_alarms() {
        let mut rules = RuleSet::new();
        rules
            .add(Rule::new(
                "offline",
                Condition::Controller,
                Priority::Critical,
                &["pv/x"],
            ))
            .unwrap();
        let mut book = ::alarms::Book::new(&rules, 100);
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let ev = |kind, time| AlarmEvent {
            time,
            alarm: "offline".into(),
            target: "pv/x".into(),
            kind,
            value: Some(1.0),
        };
        book.apply(&ev(TransitionKind::Raised, t)).unwrap();
        let id = book.open().next().unwrap().id;
        let o = occurrence(book.occurrence(id).unwrap(), t);
        assert!(o.active && !o.acknowledged);
        assert_eq!(o.priority, AlarmPriority::Critical);
        assert_eq!((o.alarm.as_str(), o.target.as_str()), ("offline", "pv/x"));
        let later = t + chrono::Duration::seconds(5);
        book.acknowledge(id, "ann", "seen", later).unwrap();
        let o = occurrence(book.occurrence(id).unwrap(), later);
        assert!(o.active && o.acknowledged);
        assert_eq!(o.acknowledgement.unwrap().user, "ann");
        let cleared = later + chrono::Duration::seconds(5);
        book.apply(&ev(TransitionKind::Cleared, cleared)).unwrap();
        // cleared and acknowledged: the occurrence is closed
        assert!(book.occurrence(id).is_none());
        assert_eq!(book.open().count(), 0);
    }

    #[test]
    fn the_cycle_line_names_what_the_store_and_the_engine_refused() {
        let mut status = CycleStatus {
            number: 3,
            started: chrono::DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default(),
            readings: 10,
            good: 9,
            recorded: 9,
            stored: 9,
            store_refused: 0,
            alarm_rejected: 0,
            opcua_rejected: 0,
            alarms: 1,
            notified: 0,
            took: Duration::from_millis(120),
            reports: Vec::new(),
        };
        let line = status.line();
        assert!(
            line.ends_with("9/10 good, 9 stored, 1 open alarms, 0 notified, 120 ms"),
            "{line}"
        );
        status.store_refused = 2;
        status.alarm_rejected = 1;
        let line = status.line();
        assert!(
            line.ends_with("120 ms, 2 refused by the store, 1 rejected by alarms"),
            "{line}"
        );
        status.opcua_rejected = 4;
        let line = status.line();
        assert!(
            line.ends_with("1 rejected by alarms, 4 not in the OPC UA tree"),
            "{line}"
        );
    }
}
