//! The Modbus gateway (feature `io`): Modbus/TCP and Modbus/TCP Security clients reach
//! devices on downstream buses (an RTU serial line, RTU over TCP, a downstream Modbus/TCP
//! device) chosen by unit id.
//!
//! - **Routing** is data: a [`RoutingTable`] of unit ranges to buses (numbered from 0 in
//!   configuration order), with optional unit-id remapping. A unit no route holds gets
//!   exception 0x0A.
//! - **Buses** are the poller's [`Bus`] settings and connections (reconnect back-off, stale
//!   byte draining on RTU framings, the response timeout of the settings as the per-request
//!   timeout). One transaction at a time per bus; the requests of all clients wait in a fair
//!   queue (round-robin per client), so a client sending many requests cannot starve the
//!   others.
//! - **Gateway exceptions**: 0x0A (gateway path unavailable) when no route holds the unit or
//!   the bus is down (connection refused, serial port missing); 0x0B (gateway target device
//!   failed to respond) when the device gave no usable answer within the timeout, or the
//!   request waited longer than [`GatewayConfig::request_timeout_ms`]. Device exceptions
//!   are passed through.
//! - **Broadcasts** (unit 0): writes are forwarded without waiting for an answer (to the bus
//!   a route for unit 0 names, or to every bus when no route holds unit 0) and answered at
//!   once with the write's echo; reads to unit 0 get exception 0x01.
//! - **Read cache** ([`CacheConfig`]): answers to reads are kept for a maximum age per register
//!   range, so several clients polling the same block cost one bus transaction within that
//!   age; a write invalidates the cached reads whose registers it touches.
//! - **Access control** ([`AccessPolicy`]): read-only clients, by TLS role (the Modbus/TCP
//!   Security role extension, see [`crate::poll::tls`]) or by source address, get exception
//!   0x01 on every write. Every forwarded write is logged (tracing, level info) with the
//!   client, the unit and the values.
//! - **Statistics** ([`GatewayStats`]) per client and per bus: requests, answers, exceptions
//!   by code, cache hits, queue time, transactions and line utilisation.
//! - **Sharing the lines with the monitor's own poller**: the poller reaches the gateway's
//!   buses as one more Modbus/TCP (or TLS) client (a [`crate::poll::Poller`] bus of kind
//!   `Tcp` or `Tls` at the gateway's address), so its requests wait in the same fair queue
//!   as everyone else's and one substation gateway both records and serves.
//!
//! ```
//! use modbus_devices::device::{Bus, BusKind, TcpSettings};
//! use modbus_devices::gateway::{Gateway, GatewayConfig, RoutingTable};
//! use modbus_devices::sim::{SimClock, Simulator};
//! use modbus_devices::Catalogue;
//! use tokio_modbus::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A meter behind an RTU-over-TCP serial server (here: the simulator).
//! let sim = Simulator::new(SimClock::real());
//! sim.add_device(2, Catalogue::builtin()?.require("ECR380D")?.clone())?;
//! let (rtu, _sim) = sim.serve_rtu_over_tcp("127.0.0.1:0").await?;
//!
//! let line = TcpSettings::new("127.0.0.1", rtu.port());
//! let config = GatewayConfig::new(vec![Bus { name: "line".into(), kind: BusKind::RtuOverTcp(line) }]);
//! let gateway = Gateway::start(config)?; // every unit to bus 0
//! let (addr, _server) = gateway.serve_tcp("127.0.0.1:0").await?;
//!
//! let mut client = tokio_modbus::client::tcp::connect_slave(addr, Slave(2)).await?;
//! let hz = client.read_holding_registers(0xB006, 1).await??[0]; // 0.01 Hz
//! assert!((4_990..=5_010).contains(&hz), "{hz}");
//! assert_eq!(gateway.stats().buses[0].counters.answers, 1);
//! # Ok(()) }
//! ```

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinHandle;

use crate::device::Bus;
use crate::poll::BusStats;
use crate::poll::PollError;
use crate::poll::tls::READ_ONLY_ROLE;
use crate::poll::transport::{Endpoint, Link};

mod cache;
mod line;
mod route;
mod server;
mod stats;

pub use cache::{CacheConfig, CacheRule};
pub use route::{Route, RoutingTable};
pub use stats::{ClientStats, GatewayCounters, GatewayStats, LineStats};

/// Default for [`GatewayConfig::request_timeout_ms`].
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 5_000;

/// What can go wrong setting up a gateway.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The configuration is inconsistent: which field, and what was wrong.
    #[error("gateway configuration: {field}: {message}")]
    Config {
        /// The field path, e.g. `routes[2].bus`.
        field: String,
        /// What was expected and what was found.
        message: String,
    },
    /// A bus's settings are refused (bad settings, unreadable TLS material).
    #[error("bus {bus}: {source}")]
    Bus {
        /// The bus name.
        bus: String,
        /// Why.
        #[source]
        source: PollError,
    },
    /// The listening address cannot be bound.
    #[error("cannot listen on {address}: {message}")]
    Bind {
        /// The address asked for.
        address: String,
        /// The system's reason.
        message: String,
    },
}

/// Which clients may only read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPolicy {
    /// TLS roles (Modbus/TCP Security role extension) that may only read.
    #[serde(default = "default_read_only_roles")]
    pub read_only_roles: Vec<String>,
    /// Source addresses of plain or TLS clients that may only read: an address
    /// (`192.0.2.7`, `::1`) or a network (`10.0.0.0/8`).
    #[serde(default)]
    pub read_only_sources: Vec<String>,
}

fn default_read_only_roles() -> Vec<String> {
    vec![READ_ONLY_ROLE.to_string()]
}

impl Default for AccessPolicy {
    fn default() -> Self {
        Self {
            read_only_roles: default_read_only_roles(),
            read_only_sources: Vec::new(),
        }
    }
}

/// `addr` or `addr/prefix`.
fn parse_source(text: &str) -> Option<(IpAddr, u8)> {
    let (ip, prefix) = match text.split_once('/') {
        Some((ip, p)) => (ip.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
        None => (text.parse::<IpAddr>().ok()?, None),
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    (prefix <= max).then_some((ip, prefix))
}

fn in_network(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let ip = match (ip, net) {
        (IpAddr::V6(v6), IpAddr::V4(_)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        _ => ip,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

impl AccessPolicy {
    /// Whether a client at `ip` with TLS `role` may only read.
    ///
    /// ```
    /// use modbus_devices::gateway::AccessPolicy;
    /// let p = AccessPolicy { read_only_sources: vec!["10.0.0.0/8".into()], ..Default::default() };
    /// assert!(p.is_read_only("10.1.2.3".parse()?, None));
    /// assert!(!p.is_read_only("192.0.2.1".parse()?, Some("operator")));
    /// assert!(p.is_read_only("192.0.2.1".parse()?, Some("read-only")));
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn is_read_only(&self, ip: IpAddr, role: Option<&str>) -> bool {
        role.is_some_and(|r| self.read_only_roles.iter().any(|x| x == r))
            || self
                .read_only_sources
                .iter()
                .filter_map(|s| parse_source(s))
                .any(|(net, prefix)| in_network(ip, net, prefix))
    }

    fn validate(&self) -> Result<(), GatewayError> {
        for (i, s) in self.read_only_sources.iter().enumerate() {
            if parse_source(s).is_none() {
                return Err(GatewayError::Config {
                    field: format!("access.read_only_sources[{i}]"),
                    message: format!("expected an IP address or ADDRESS/PREFIX, found {s:?}"),
                });
            }
        }
        Ok(())
    }
}

/// A gateway's configuration, as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Downstream buses, numbered from 0 in this order.
    pub buses: Vec<Bus>,
    /// Unit ranges to buses; empty: every unit goes to bus 0.
    #[serde(default)]
    pub routes: RoutingTable,
    /// The read cache (off by default).
    #[serde(default)]
    pub cache: CacheConfig,
    /// Read-only clients.
    #[serde(default)]
    pub access: AccessPolicy,
    /// Longest a request may wait in its bus queue, in ms; past it the client gets 0x0B.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
}

fn default_request_timeout_ms() -> u64 {
    DEFAULT_REQUEST_TIMEOUT_MS
}

impl GatewayConfig {
    /// Buses with the defaults: every unit to bus 0, no cache, the `read-only` TLS role
    /// refused writes.
    pub fn new(buses: Vec<Bus>) -> Self {
        Self {
            buses,
            routes: RoutingTable::default(),
            cache: CacheConfig::default(),
            access: AccessPolicy::default(),
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
        }
    }
}

/// State shared by the gateway, its servers and their connections.
pub(crate) struct Inner {
    routes: RoutingTable,
    lines: Vec<Arc<line::Line>>,
    access: AccessPolicy,
    request_timeout: Duration,
    /// The longest single try of any bus (the margin a waiting client adds).
    longest_try: Duration,
    clients: Mutex<Vec<Arc<server::Client>>>,
    next_client: AtomicU64,
}

/// A running gateway: one task per downstream bus. Serve clients with
/// [`Gateway::serve_tcp`] and [`Gateway::serve_tls`]; dropping the gateway stops the bus
/// tasks (clients then get 0x0A).
pub struct Gateway {
    inner: Arc<Inner>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("buses", &self.inner.lines.len())
            .finish_non_exhaustive()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Gateway {
    /// Check the configuration and start one task per bus (connections open on the first
    /// request). Must be called inside a tokio runtime.
    pub fn start(config: GatewayConfig) -> Result<Self, GatewayError> {
        if config.buses.is_empty() {
            return Err(GatewayError::Config {
                field: "buses".into(),
                message: "expected at least one bus, found none".into(),
            });
        }
        let routes = if config.routes.routes.is_empty() {
            RoutingTable::all_to(0)
        } else {
            config.routes
        };
        routes.validate(config.buses.len())?;
        config.access.validate()?;
        let mut lines = Vec::new();
        let mut tasks = Vec::new();
        let mut longest_try = Duration::ZERO;
        for bus in &config.buses {
            let endpoint = Endpoint::from_kind(&bus.kind).map_err(|source| GatewayError::Bus {
                bus: bus.name.clone(),
                source,
            })?;
            longest_try = longest_try.max(endpoint.timeout());
            let bus_stats = BusStats {
                bus: bus.name.clone(),
                kind: endpoint.kind_name().into(),
                endpoint: endpoint.describe(),
                connected: false,
                connects: 0,
                connect_failures: 0,
                counters: Default::default(),
                last_error: None,
            };
            let line = Arc::new(line::Line::new(
                bus.name.clone(),
                endpoint.kind_name(),
                config.cache.clone(),
            ));
            let link = Link::new(endpoint, Arc::new(std::sync::Mutex::new(bus_stats)));
            tasks.push(tokio::spawn(line::run(Arc::clone(&line), link)));
            lines.push(line);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                routes,
                lines,
                access: config.access,
                request_timeout: Duration::from_millis(config.request_timeout_ms),
                longest_try: longest_try + Duration::from_secs(1),
                clients: Mutex::default(),
                next_client: AtomicU64::new(0),
            }),
            tasks,
        })
    }

    async fn bind<A: ToSocketAddrs + std::fmt::Display>(
        addr: A,
    ) -> Result<(TcpListener, SocketAddr), GatewayError> {
        let address = addr.to_string();
        let err = |e: std::io::Error| GatewayError::Bind {
            address: address.clone(),
            message: e.to_string(),
        };
        let listener = TcpListener::bind(addr).await.map_err(err)?;
        let local = listener.local_addr().map_err(err)?;
        Ok((listener, local))
    }

    /// Serve Modbus/TCP clients at `addr` (port 0 picks a free port). Returns the bound
    /// address and the handle that stops this listener (also when dropped).
    pub async fn serve_tcp<A: ToSocketAddrs + std::fmt::Display>(
        &self,
        addr: A,
    ) -> Result<(SocketAddr, ServerHandle), GatewayError> {
        let (listener, local) = Self::bind(addr).await?;
        let task = tokio::spawn(server::run_tcp(listener, Arc::clone(&self.inner)));
        tracing::info!(%local, "gateway serving Modbus/TCP");
        Ok((local, ServerHandle { task }))
    }

    /// Serve Modbus/TCP Security clients at `addr` with the rustls server configuration
    /// `config` (see [`crate::poll::tls::ServerTlsConfig`]; with client certificates
    /// required, the role in each client's certificate decides whether it may write).
    pub async fn serve_tls<A: ToSocketAddrs + std::fmt::Display>(
        &self,
        addr: A,
        config: Arc<rustls::ServerConfig>,
    ) -> Result<(SocketAddr, ServerHandle), GatewayError> {
        let (listener, local) = Self::bind(addr).await?;
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let task = tokio::spawn(server::run_tls(listener, Arc::clone(&self.inner), acceptor));
        tracing::info!(%local, "gateway serving Modbus/TCP Security (TLS)");
        Ok((local, ServerHandle { task }))
    }

    /// A snapshot of the statistics.
    pub fn stats(&self) -> GatewayStats {
        let clients = self
            .inner
            .clients
            .lock()
            .map(|c| {
                c.iter()
                    .filter_map(|c| c.stats.lock().ok().map(|s| s.clone()))
                    .collect()
            })
            .unwrap_or_default();
        GatewayStats {
            clients,
            buses: self.inner.lines.iter().map(|l| l.stats()).collect(),
        }
    }

    /// Requests waiting now, per bus.
    pub fn queued(&self) -> Vec<usize> {
        self.inner.lines.iter().map(|l| l.queued()).collect()
    }
}

/// A running listener of a [`Gateway`]; stops it (and its connections) when dropped or on
/// [`ServerHandle::stop`].
#[derive(Debug)]
pub struct ServerHandle {
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// Stop listening and close the connections.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::BusKind;

    #[test]
    fn configuration_is_data() {
        let text = r#"
            request_timeout_ms = 3000

            [[buses]]
            name = "line"
            kind = "rtu"
            path = "/dev/ttyUSB0"
            baud = 9600

            [[buses]]
            name = "sub"
            kind = "rtu_over_tcp"
            host = "192.0.2.10"
            port = 502

            [routes]
            routes = [{ first = 1, last = 9, bus = 0 }, { first = 10, last = 19, bus = 1, remap_to = 1 }]

            [cache]
            default_max_age_ms = 500
            rules = [{ function = 3, first = 0x5000, last = 0x50FF, max_age_ms = 0 }]

            [access]
            read_only_sources = ["10.0.0.0/8"]
        "#;
        let config: GatewayConfig = toml::from_str(text).unwrap();
        assert_eq!(config.buses.len(), 2);
        assert!(matches!(&config.buses[0].kind, BusKind::Rtu(s) if s.baud == 9600));
        assert_eq!(config.routes.resolve(12), Some((1, 3)));
        assert_eq!(config.cache.max_age(3, 0x5000, 1), Duration::ZERO);
        assert_eq!(config.access.read_only_roles, [READ_ONLY_ROLE]);
        assert!(config.access.validate().is_ok());
        let back: GatewayConfig = toml::from_str(&toml::to_string(&config).unwrap()).unwrap();
        assert_eq!(back, config);

        let bad = AccessPolicy {
            read_only_sources: vec!["10.0.0.0/40".into()],
            ..AccessPolicy::default()
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("access.read_only_sources[0]"), "{err}");
    }

    #[test]
    fn source_networks_match_v4_and_v6() {
        let p = AccessPolicy {
            read_only_sources: vec!["192.0.2.0/24".into(), "2001:db8::/32".into(), "::1".into()],
            read_only_roles: vec![],
        };
        let ro = |ip: &str| p.is_read_only(ip.parse().unwrap(), Some(READ_ONLY_ROLE));
        assert!(ro("192.0.2.200"));
        assert!(!ro("192.0.3.1"), "no roles are read-only in this policy");
        assert!(ro("::ffff:192.0.2.1"), "an IPv4-mapped address");
        assert!(ro("2001:db8:1::5"));
        assert!(ro("::1"));
        assert!(!ro("::2"));
    }
}
