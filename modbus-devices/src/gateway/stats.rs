//! Statistics per client and per downstream bus.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::poll::Latency;

/// Counters of a client or a bus.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GatewayCounters {
    /// Requests received (client) or taken from the queue (bus).
    pub requests: u64,
    /// Normal answers given.
    pub answers: u64,
    /// Exception answers given, by exception code (the gateway's own 0x01, 0x0A, 0x0B and
    /// the devices' exceptions passed through).
    pub exceptions: BTreeMap<u8, u64>,
    /// Reads answered from the cache.
    pub cache_hits: u64,
    /// Broadcast writes forwarded (no answer awaited).
    pub broadcasts: u64,
    /// Time requests waited in the bus queue before their transaction started.
    pub queue_time: Latency,
}

impl GatewayCounters {
    pub(crate) fn exception(&mut self, code: u8) {
        *self.exceptions.entry(code).or_insert(0) += 1;
    }

    /// Exception answers with `code`.
    pub fn exceptions_with(&self, code: u8) -> u64 {
        self.exceptions.get(&code).copied().unwrap_or(0)
    }
}

/// Statistics of one client connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientStats {
    /// The client's address (`ip:port`).
    pub client: String,
    /// The TLS role of its certificate, if any.
    pub role: Option<String>,
    /// Whether its writes are refused.
    pub read_only: bool,
    /// Its counters.
    #[serde(flatten)]
    pub counters: GatewayCounters,
}

/// Statistics of one downstream bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineStats {
    /// Bus name.
    pub bus: String,
    /// `rtu`, `rtu_over_tcp`, `tcp` or `tls`.
    pub kind: String,
    /// Transactions run on the line (broadcasts included).
    pub transactions: u64,
    /// Time the line was busy with transactions, ms.
    pub busy_ms: f64,
    /// Time since the gateway started, ms.
    pub elapsed_ms: f64,
    /// Busy time over elapsed time (0 to 1).
    pub utilisation: f64,
    /// Its counters.
    #[serde(flatten)]
    pub counters: GatewayCounters,
}

/// A snapshot of the gateway's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayStats {
    /// Per client connection, in order of connection: the open ones and the most recent
    /// closed ones (at most 1024 entries; the oldest closed connections are forgotten first).
    pub clients: Vec<ClientStats>,
    /// Per bus, in configuration order.
    pub buses: Vec<LineStats>,
}

impl GatewayStats {
    /// A bus's statistics by name.
    pub fn bus(&self, name: &str) -> Option<&LineStats> {
        self.buses.iter().find(|b| b.bus == name)
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
