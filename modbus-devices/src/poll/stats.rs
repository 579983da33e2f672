//! Statistics per device and per bus: the data of a bus analyser view.
//!
//! Every frame sent counts as a request (retries included). Each request ends in exactly one
//! of: a response (a normal answer or an exception answer; exceptions are counted again in
//! `exceptions`), a timeout, a CRC error (bytes arrived but the RTU checksum was wrong), a
//! transport error (the connection broke) or a protocol error (an answer that did not match
//! the request). Latency is measured from sending the request to decoding its answer, over
//! responses only.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DeviceState;

/// Latency of answered requests, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Answers measured.
    pub samples: u64,
    /// Shortest, ms.
    pub min_ms: Option<f64>,
    /// Mean, ms.
    pub mean_ms: Option<f64>,
    /// Longest, ms.
    pub max_ms: Option<f64>,
}

impl Latency {
    /// Add one measurement.
    pub fn record(&mut self, d: Duration) {
        let ms = d.as_secs_f64() * 1000.0;
        self.samples += 1;
        self.min_ms = Some(self.min_ms.map_or(ms, |m| m.min(ms)));
        self.max_ms = Some(self.max_ms.map_or(ms, |m| m.max(ms)));
        let mean = self.mean_ms.unwrap_or(0.0);
        self.mean_ms = Some(mean + (ms - mean) / self.samples as f64);
    }
}

/// What happened to one request (one try).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Response,
    Exception,
    Timeout,
    Crc,
    Transport,
    Protocol,
}

/// Request counters, the same for a device and a bus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Frames sent (retries included).
    pub requests: u64,
    /// Answers received (normal and exception answers).
    pub responses: u64,
    /// Requests without an answer within the timeout.
    pub timeouts: u64,
    /// Answers with a bad RTU checksum.
    pub crc_errors: u64,
    /// Exception answers (also counted in `responses`).
    pub exceptions: u64,
    /// Requests that failed because the connection broke.
    pub transport_errors: u64,
    /// Answers that did not match the request.
    pub protocol_errors: u64,
    /// Latency of the answers.
    pub latency: Latency,
}

impl Counters {
    pub(crate) fn record(&mut self, outcome: Outcome, elapsed: Duration) {
        self.requests += 1;
        match outcome {
            Outcome::Response => {
                self.responses += 1;
                self.latency.record(elapsed);
            }
            Outcome::Exception => {
                self.responses += 1;
                self.exceptions += 1;
                self.latency.record(elapsed);
            }
            Outcome::Timeout => self.timeouts += 1,
            Outcome::Crc => self.crc_errors += 1,
            Outcome::Transport => self.transport_errors += 1,
            Outcome::Protocol => self.protocol_errors += 1,
        }
    }
}

/// Statistics of one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceStats {
    /// Device name.
    pub device: String,
    /// Bus name.
    pub bus: String,
    /// Communication state.
    pub state: DeviceState,
    /// Request counters.
    #[serde(flatten)]
    pub counters: Counters,
    /// Polls of the device (one per cycle).
    pub polls: u64,
    /// Polls in which no request was answered.
    pub failed_polls: u64,
    /// Last time a request was answered.
    pub last_answer: Option<DateTime<Utc>>,
    /// The last error, as a one-line message.
    pub last_error: Option<String>,
}

/// Statistics of one bus (all devices on it, plus its connection).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusStats {
    /// Bus name.
    pub bus: String,
    /// `tcp`, `rtu`, `rtu_over_tcp` or `tls`.
    pub kind: String,
    /// `host:port` or the serial port.
    pub endpoint: String,
    /// Whether a connection is open now.
    pub connected: bool,
    /// Connections opened.
    pub connects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Request counters over all its devices.
    #[serde(flatten)]
    pub counters: Counters,
    /// The last connection or transport error.
    pub last_error: Option<String>,
}

/// A snapshot of all statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollStats {
    /// Per bus, in configuration order.
    pub buses: Vec<BusStats>,
    /// Per device, in configuration order.
    pub devices: Vec<DeviceStats>,
}

impl PollStats {
    /// A device's statistics by name.
    pub fn device(&self, name: &str) -> Option<&DeviceStats> {
        self.devices.iter().find(|d| d.device == name)
    }

    /// A bus's statistics by name.
    pub fn bus(&self, name: &str) -> Option<&BusStats> {
        self.buses.iter().find(|b| b.bus == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_min_mean_max() {
        let mut l = Latency::default();
        for ms in [10u64, 20, 60] {
            l.record(Duration::from_millis(ms));
        }
        assert_eq!(l.samples, 3);
        assert_eq!(l.min_ms, Some(10.0));
        assert_eq!(l.max_ms, Some(60.0));
        assert!((l.mean_ms.unwrap_or(0.0) - 30.0).abs() < 1e-9);
    }

    #[test]
    fn counters_classify_outcomes() {
        let mut c = Counters::default();
        let d = Duration::from_millis(1);
        for o in [
            Outcome::Response,
            Outcome::Exception,
            Outcome::Timeout,
            Outcome::Crc,
            Outcome::Transport,
            Outcome::Protocol,
        ] {
            c.record(o, d);
        }
        assert_eq!(
            (
                c.requests,
                c.responses,
                c.exceptions,
                c.timeouts,
                c.crc_errors,
                c.transport_errors,
                c.protocol_errors
            ),
            (6, 2, 1, 1, 1, 1, 1)
        );
        assert_eq!(c.latency.samples, 2);
    }
}
